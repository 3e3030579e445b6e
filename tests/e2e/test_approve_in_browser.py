"""A real server and a real browser (Playwright driving Debian's headless Chromium): sign in
as the demo approver, approve the top drafted transfer in the Exceptions inbox, post it on the
Actions page, and find the approval, the posting and the transfer's outbound leg in the audit
trail and the ledger.

Run with ``pytest -m e2e``; they fail where ``/usr/bin/chromium`` is missing (the README's
test command installs it: tests/e2e/install-chromium).
"""

from __future__ import annotations

import os
import sys

import pytest

from control_tower.store import Store
from tests.e2e.conftest import click_until
from tests.e2e.test_deep_link import CHROMIUM, ROOT, free_port, started, stop, wait_for

pytestmark = pytest.mark.e2e

APPROVER = "demo.approver"


def test_an_approver_approves_the_top_transfer_and_the_ledger_and_trail_change(planned, tmp_path):
    from playwright.sync_api import expect, sync_playwright

    path, action_id = planned
    expect.set_options(timeout=60_000)  # a loaded CI machine reruns the app slowly
    port = free_port()
    env = dict(os.environ, CONTROL_TOWER_DB=str(path), CONTROL_TOWER_DEMO_USERS="1")
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
            page.goto(f"http://127.0.0.1:{port}/exceptions")
            expect(page.get_by_role("heading", name="Exceptions")).to_be_visible()
            # interact only once the first run has drawn the inbox and the app is idle
            expect(page.locator(".st-key-exc_inbox")).to_be_visible()
            expect(page.get_by_test_id("stStatusWidget")).to_have_count(0)
            sidebar = page.get_by_test_id("stSidebar")
            sidebar.locator("summary", has_text="Sign in").click()
            click_until(
                sidebar.get_by_role("button", name=f"{APPROVER} (approver)"),
                sidebar.get_by_text(f"Signed in as {APPROVER}"),
            )
            page.get_by_text("Only with a drafted action").click()
            expect(page.get_by_text(f"Action {action_id}:")).to_be_visible()
            page.locator(f".st-key-exc_approve_{action_id} button").click()
            expect(page.get_by_text(f"Action {action_id} approved.")).to_be_visible()

            sidebar.get_by_role("link", name="Actions and audit").click()  # same session
            expect(page.get_by_role("heading", name="Actions and audit")).to_be_visible()
            page.get_by_label("Action number").fill(str(action_id))
            page.get_by_label("Action number").press("Enter")
            expect(
                page.get_by_role("heading", name=f"Action {action_id}: approved")
            ).to_be_visible()
            page.get_by_role(
                "button", name="Post (dispatch the transfer / open the PO line)"
            ).click()
            # the success message itself (the trail's cells say "posted as ACT-..." too)
            done = f"Action {action_id}: posted as ACT-{action_id}."
            expect(page.get_by_text(done, exact=True)).to_be_visible()
            browser.close()
    finally:
        stop(server)
    with Store(path) as store:
        trail = store.rows(
            "SELECT actor, to_status FROM action_events WHERE action_id = ? ORDER BY event_id",
            [action_id],
        )
        leg = store.rows(
            "SELECT movement_type, quantity FROM ledger WHERE reference = ?", [f"ACT-{action_id}"]
        )
        quantity = store.scalar("SELECT quantity FROM actions WHERE action_id = ?", [action_id])
    assert trail == [("optimizer", "proposed"), (APPROVER, "approved"), (APPROVER, "posted")]
    assert leg == [("transfer_out", -quantity)]
