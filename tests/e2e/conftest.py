"""The browser tests need Debian's Chromium: the README's test command installs it first
(tests/e2e/install-chromium), so a missing browser fails these tests instead of skipping them.
``planned`` is the demo with drafted actions that the approval tests decide in the browser."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import polars as pl
import pytest

from control_tower import exceptions
from control_tower.config import Settings
from control_tower.store import Store
from tests.conftest import TESTER, copy_of

if TYPE_CHECKING:
    from playwright.sync_api import Page

CHROMIUM = Path("/usr/bin/chromium")


@pytest.fixture(autouse=True)
def chromium_installed() -> Path:
    if not CHROMIUM.exists():
        pytest.fail(
            f"{CHROMIUM} is missing: run tests/e2e/install-chromium (Debian's chromium), "
            "or leave the browser tests out with -m 'not slow and not e2e'",
            pytrace=False,
        )
    return CHROMIUM


@pytest.fixture
def planned(planned_demo_path, tmp_path):
    """The demo with a plan's drafted actions and an exception run; the inbox's top
    exception with a drafted action, and the first action it suggests (a transfer or an
    order, which can be approved and carried out now)."""
    path = copy_of(planned_demo_path, tmp_path)
    settings = Settings()
    with Store(path) as store:
        # the plan's transfers and orders only: an expedite drafted for a late PO could top
        # the inbox, and it changes no ledger
        settings.actions.draft_expedites = False
        settings.actions.draft_supplier_actions = False
        exceptions.run_exceptions(store, settings, created_by=TESTER)
        inbox = exceptions.list_exceptions(store).filter(pl.col("action_ids").is_not_null())
        top = inbox.row(0, named=True)
        action_id = json.loads(top["action_ids"])[0]
        kind, sku, source, qty = store.rows(
            "SELECT kind, sku, from_location, quantity FROM actions WHERE action_id = ?",
            [action_id],
        )[0]
        held = store.scalar(
            "SELECT sum(quantity) FROM ledger WHERE sku = ? AND location = ?", [sku, source]
        )
    assert kind == "purchase_order" or (kind == "transfer" and held >= qty), (
        "the demo's top suggested action must be one that can be carried out now"
    )
    return path, action_id, top


def click_until(button, shown, attempts: int = 3, timeout_ms: int = 20_000) -> None:
    """Click ``button`` until ``shown`` is visible. Streamlit drops a click that lands while
    the app is still rerunning (seen about once in ten runs on a loaded machine); a person
    would click again, and so does the test, at most ``attempts`` times."""
    from playwright.sync_api import expect

    for attempt in range(attempts):
        button.click()
        try:
            expect(shown).to_be_visible(timeout=timeout_ms)
            return
        except AssertionError:
            if attempt == attempts - 1:
                raise


@contextmanager
def demo_dashboard(db: Path) -> Iterator[Page]:
    """The dashboard served on ``db`` with the demo users on, and a headless Chromium page
    (60 s timeouts: a loaded CI machine reruns the app slowly); the base URL is
    ``page.base_url``. Both are stopped on the way out."""
    from playwright.sync_api import expect, sync_playwright

    from tests.e2e.test_deep_link import ROOT, free_port, started, stop, wait_for

    expect.set_options(timeout=60_000)
    port = free_port()
    env = dict(os.environ, CONTROL_TOWER_DB=str(db), CONTROL_TOWER_DEMO_USERS="1")
    server = started(
        [sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port)]
        + ["--server.headless", "true", "--browser.gatherUsageStats", "false"],
        cwd=ROOT,
        env=env,
    )
    try:
        wait_for(f"http://127.0.0.1:{port}/_stcore/health")
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
            page = browser.new_page(viewport={"width": 1400, "height": 1600})
            page.set_default_timeout(60_000)
            page.base_url = f"http://127.0.0.1:{port}"
            yield page
            browser.close()
    finally:
        stop(server)
