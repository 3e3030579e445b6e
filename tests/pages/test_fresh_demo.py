"""A demo database as ``control-tower demo`` builds it: the Plan, Exceptions, Forecasts and
Actions pages show its first cycle and decisions the first time they open, nobody signed in."""

from __future__ import annotations

import pytest

from control_tower.cli import main
from tests.conftest import DEMO_SIZE
from ui.format import plain

from ._support import page, run, store_query, table

SIZE = [f"--{k}={v}" for k, v in DEMO_SIZE.items()]
PLANNER = plain("demo.planner")  # as the pages write names from the data


@pytest.fixture(scope="module")
def fresh_demo_path(tmp_path_factory):
    path = tmp_path_factory.mktemp("fresh_pages") / "demo.duckdb"
    assert main(["demo", "--db", str(path), "--quiet", *SIZE]) == 0
    return path


@pytest.fixture
def fresh_demo(fresh_demo_path, monkeypatch, fresh_caches):
    monkeypatch.setenv("CONTROL_TOWER_DB", str(fresh_demo_path))
    monkeypatch.delenv("CONTROL_TOWER_CONFIG", raising=False)
    return fresh_demo_path


def test_the_plan_page_shows_the_demos_plan(fresh_demo):
    at = run(page("plan"))
    assert not [i for i in at.info if "No plan yet" in i.value]
    assert not [w for w in at.warning if "Planned without a forecast" in w.value]
    assert any(f"run by {PLANNER}" in c.value for c in at.caption)
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Transfers"] != "0" or metrics["Supplier orders"] != "0"
    at.toggle(key="plan_now_only").set_value(False)
    run(at)
    lines = store_query(fresh_demo, "SELECT count(*) AS n FROM plan_lines")["n"][0]
    assert len(table(at, "plan_lines")) == lines > 0


def test_the_exceptions_page_shows_the_inbox_with_drafted_and_decided_actions(fresh_demo):
    at = run(page("exceptions"))
    assert not [i for i in at.info if "No exception run yet" in i.value]
    assert any(f"by {PLANNER}" in c.value and "plan run 1" in c.value for c in at.caption)
    shown = table(at, "exc_inbox")
    stored = store_query(fresh_demo, "SELECT count(*) AS n FROM exception_run_items")["n"][0]
    assert len(shown) == stored > 0
    assert (shown["drafted"] > 0).any()


def test_the_forecasts_page_says_how_the_demos_forecast_was_made(fresh_demo):
    at = run(page("forecasts"))
    assert not [i for i in at.info if "No forecast run yet" in i.value]
    assert any("How this run was made" in i.value and "baselines only" in i.value for i in at.info)
    assert any(f"run by **{PLANNER}**" in c.value for c in at.caption)


def test_the_actions_page_shows_the_demo_users_decisions(fresh_demo):
    at = run(page("actions"))
    trail = table(at, "act_audit")
    decided = set(zip(trail["actor"], trail["to_status"], strict=True))
    assert {("demo.approver", "approved"), ("demo.approver", "rejected")} <= decided
    assert {("demo.planner", "posted"), ("demo.planner", "closed")} <= decided
