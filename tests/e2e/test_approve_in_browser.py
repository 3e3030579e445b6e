"""A real server and a real browser (Playwright driving Debian's headless Chromium): sign in
as the demo approver, approve the top drafted transfer in the Exceptions inbox, post it on the
Actions page, and find the approval, the posting and the transfer's outbound leg in the audit
trail and the ledger.

Run with ``pytest -m e2e``; they fail where ``/usr/bin/chromium`` is missing (the README's
test command installs it: tests/e2e/install-chromium).
"""

from __future__ import annotations

import pytest

from control_tower.store import Store
from tests.e2e.conftest import click_until, demo_dashboard

pytestmark = pytest.mark.e2e

APPROVER = "demo.approver"


def test_an_approver_approves_the_top_transfer_and_the_ledger_and_trail_change(planned, tmp_path):
    from playwright.sync_api import expect

    path, action_id = planned
    with demo_dashboard(path) as page:
        page.goto(f"{page.base_url}/exceptions")
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
        expect(page.get_by_role("heading", name=f"Action {action_id}: approved")).to_be_visible()
        page.get_by_role("button", name="Post (dispatch the transfer / open the PO line)").click()
        # the success message itself (the trail's cells say "posted as ACT-..." too)
        done = f"Action {action_id}: posted as ACT-{action_id}."
        expect(page.get_by_text(done, exact=True)).to_be_visible()
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
