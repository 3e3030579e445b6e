"""A real server and a real browser (Playwright driving Debian's headless Chromium): sign in
as the demo approver, approve the first action the top exception of the inbox suggests, post
it on the Actions page, find the approval and the posting in the audit trail, the transfer's
outbound leg in the ledger (or the order's line), and see the next exception run resolve the
exception or cut its shortage by the units the action avoids, as its suggestion said.

Run with ``pytest -m e2e``; they fail where ``/usr/bin/chromium`` is missing (the README's
test command installs it: tests/e2e/install-chromium).
"""

from __future__ import annotations

import re

import polars as pl
import pytest

from control_tower import exceptions
from control_tower.config import Settings
from control_tower.store import Store
from tests.conftest import TESTER
from tests.e2e.conftest import click_until, demo_dashboard

pytestmark = pytest.mark.e2e

APPROVER = "demo.approver"


def test_an_approver_approves_the_top_suggestion_and_the_next_run_shows_the_problem_go(
    planned, tmp_path
):
    from playwright.sync_api import expect

    path, action_id, top = planned
    with demo_dashboard(path) as page:
        page.goto(f"{page.base_url}/exceptions")
        expect(page.get_by_role("heading", name="Exceptions", level=1)).to_be_visible()
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
        kind, quantity = store.rows(
            "SELECT kind, quantity FROM actions WHERE action_id = ?", [action_id]
        )[0]
        leg = store.rows(
            "SELECT movement_type, quantity FROM ledger WHERE reference = ?", [f"ACT-{action_id}"]
        )
        line = store.rows(
            "SELECT quantity, status FROM purchase_orders WHERE po_number = ?",
            [f"ACT-{action_id}"],
        )
        again = exceptions.run_exceptions(store, Settings(), created_by=TESTER)
    assert trail == [(TESTER, "proposed"), (APPROVER, "approved"), (APPROVER, "posted")]
    if kind == "transfer":
        assert leg == [("transfer_out", -quantity)]
    else:
        assert leg == [] and line == [(quantity, "open")]
    # the next run: the exception is gone, or its shortage is cut by what was promised
    after = again.items.filter(pl.col("exception_key") == top["exception_key"])
    if top["rule"] == "stockout":
        avoided = re.search(r"([\d,]+) of ([\d,]+) units short avoided", top["suggestion"])
        assert avoided, top["suggestion"]
        promised = float(avoided.group(1).replace(",", ""))
        left = after["units"][0] if after.height else 0.0
        assert left == pytest.approx(top["units"] - promised, abs=1.0)
    elif after.height:
        assert after["units"][0] < top["units"]
