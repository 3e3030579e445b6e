"""The app's navigation: it opens on the Overview and reaches every page."""

from __future__ import annotations

import pytest

from ui.format import plain

from ._support import page, run

PAGES = [
    "pages/overview.py",
    "pages/inventory.py",
    "pages/forecasts.py",
    "pages/policies.py",
    "pages/plan.py",
    "pages/exceptions.py",
    "pages/actions.py",
    "pages/reports.py",
    "pages/data.py",
]


def test_app_opens_on_the_overview(on_demo):
    at = run(page("app"))
    assert at.title[0].value == "Overview"
    assert len(at.metric) >= 4
    assert any("Data as of" in c.value for c in at.sidebar.caption)


@pytest.mark.parametrize("target", PAGES)
def test_app_reaches_every_page(on_demo, target):
    at = run(page("app"))
    at.switch_page(target)
    run(at)
    # each page's title begins with its file's name ("Actions and audit" for actions.py)
    assert at.title[0].value.lower().startswith(target.split("/")[1].removesuffix(".py"))
    assert not at.error


def test_app_on_an_empty_database_says_so(on_empty):
    at = run(page("app"))
    assert any("No data loaded yet" in c.value for c in at.sidebar.caption)
    assert at.button(key="build_demo")


def test_demo_users_sign_in_only_when_enabled(on_demo, monkeypatch):
    at = run(page("app"))
    assert not [b for b in at.sidebar.button if b.key.startswith("auth_demo_")]
    monkeypatch.setenv("CONTROL_TOWER_DEMO_USERS", "1")
    at = run(page("app"))
    at.sidebar.button(key="auth_demo_approver").click()
    run(at)
    assert any(
        f"Signed in as **{plain('demo.approver')}**, approver (demo user)" in c.value
        for c in at.sidebar.caption
    )
    at.sidebar.button(key="auth_sign_out").click()
    run(at)
    assert not any("Signed in as" in c.value for c in at.sidebar.caption)
