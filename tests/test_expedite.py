"""Expedite actions: the exception run drafts one per late PO line or transfer (one for all
the late lines of a SKU from one source to one location), linked to the late items and to
the stock-out it would prevent; approval re-checks that something is still
to arrive; posting records the committed date on the PO line or transfer (so the next run no
longer calls it late); it closes once the goods have arrived. A rejected or posted expedite is
not drafted again while the line's date stands."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from control_tower import actions
from control_tower import exceptions as exc
from control_tower.actions import ActionRefused, Actor
from control_tower.config import Settings
from control_tower.errors import NotFoundError
from tests.conftest import TESTER
from tests.test_exceptions import stock
from tests.test_position import (
    AS_OF,
    add_demand,
    add_purchase_orders,
    daily_demand,
    day,
    mv,
    post,
    ship,
)

PLANNER = Actor("li.planner", "planner")
APPROVER = Actor("zhao.approver", "approver")


def late_po(store, expected_offset: int = -3, quantity: int = 120) -> None:
    """PO-LATE: 120 of A-100 to SH-CDC, due three days ago; SH-CDC sells 10 a day and holds
    40, so it runs out on day 4 (the data's today is AS_OF)."""
    stock(store, "A-100", "SH-CDC", 40 + 10 * 28, offset=-28)
    add_demand(store, daily_demand("A-100", "SH-CDC", 10, 28))
    post(
        store,
        *[mv(f"S-{i}", -i, "A-100", "SH-CDC", "sale", 10) for i in range(28)],
    )
    add_purchase_orders(
        store,
        [("PO-LATE", "A-100", "SH-CDC", quantity, day(-20), day(expected_offset), "open")],
    )


def expedites(store) -> list[dict]:
    frame = store.query("SELECT * FROM actions WHERE kind = 'expedite' ORDER BY action_id")
    return frame.to_dicts()


def late_item(run) -> dict:
    return next(r for r in run.items.to_dicts() if r["rule"] == "late_inbound")


def test_a_run_drafts_one_expedite_per_late_line_linked_to_the_late_item_and_the_stockout(
    network,
):
    late_po(network)
    run = exc.run_exceptions(network, as_of=AS_OF, created_by=PLANNER.name)
    (drafted,) = expedites(network)
    assert drafted["status"] == "proposed"
    assert (drafted["target"], drafted["sku"], drafted["supplier"]) == ("PO-LATE", "A-100", "SUP1")
    assert (drafted["to_location"], drafted["from_location"]) == ("SH-CDC", None)
    # proposed under who ran the rules (a person, or the scheduler), never a generic name
    assert drafted["quantity"] == 120 and drafted["proposed_by"] == PLANNER.name
    assert drafted["as_of"] == AS_OF and drafted["ship_date"] == AS_OF
    # the projection assumes the late line arrives tomorrow, so no stock-out: asked for by
    # the data's today + expedite_days
    assert drafted["arrival_date"] == AS_OF + timedelta(days=Settings().actions.expedite_days)
    assert "PO-LATE from SUP1: 120 units of A-100 for SH-CDC were due on" in drafted["explanation"]
    assert json.loads(late_item(run)["action_ids"]) == [drafted["action_id"]]
    stored = network.scalar(
        "SELECT action_ids FROM exception_run_items WHERE run_id = ? AND rule = 'late_inbound'",
        [run.run_id],
    )
    assert json.loads(stored) == [drafted["action_id"]]
    history = actions.action_history(network, drafted["action_id"])
    assert history.height == 1 and history["actor"][0] == PLANNER.name
    # the next run links the same expedite and drafts no other
    again = exc.run_exceptions(network, as_of=AS_OF, created_by=TESTER)
    assert len(expedites(network)) == 1
    assert json.loads(late_item(again)["action_ids"]) == [drafted["action_id"]]


def test_an_expedite_asks_for_the_day_before_the_destination_runs_out_when_sooner(network):
    """CD-RDC holds 1, sells 10 a day, and its transfer of 15 from SH-CDC (in transit since
    day -6) was due on day -4: even with the late transfer assumed tomorrow, stock runs out
    on day 2, so the expedite asks for day 1; a transfer expedite names its shipping site.
    The next delivery, PO-1 due on day 9, comes after the stock-out: it is pulled in by an
    expedite of its own, asking for the same day."""
    stock(network, "A-100", "SH-CDC", 500, offset=-30)
    ship(network, "T-LATE", -6, "A-100", "SH-CDC", "CD-RDC", 15)
    stock(network, "A-100", "CD-RDC", 1, offset=0)
    add_demand(network, daily_demand("A-100", "CD-RDC", 10, 28))
    add_purchase_orders(network, [("PO-1", "A-100", "CD-RDC", 100, day(-2), day(9), "open")])
    run = exc.run_exceptions(network, as_of=AS_OF, created_by=TESTER)
    stockout = next(r for r in run.items.to_dicts() if r["rule"] == "stockout")
    by_target = {d["target"]: d for d in expedites(network)}
    assert sorted(by_target) == ["PO-1", "T-LATE"]
    drafted, pulled = by_target["T-LATE"], by_target["PO-1"]
    assert (pulled["target"], pulled["supplier"], pulled["quantity"]) == ("PO-1", "SUP1", 100)
    assert pulled["arrival_date"] == max(stockout["due_date"] - timedelta(days=1), day(1))
    assert (
        f"are due on {day(9)}, after CD-RDC runs out on {stockout['due_date']}"
        in pulled["explanation"]
    )
    assert pulled["action_id"] in json.loads(stockout["action_ids"])
    assert (drafted["target"], drafted["from_location"], drafted["supplier"]) == (
        "T-LATE",
        "SH-CDC",
        None,
    )
    assert drafted["quantity"] == 15
    assert drafted["arrival_date"] == max(stockout["due_date"] - timedelta(days=1), day(1))
    assert drafted["arrival_date"] < AS_OF + timedelta(days=Settings().actions.expedite_days)
    assert f"before CD-RDC runs out on {stockout['due_date']}" in drafted["explanation"]
    # the stock-out at CD-RDC links the expedite too
    assert drafted["action_id"] in json.loads(stockout["action_ids"])


def test_approve_post_with_the_committed_date_and_close_once_received(network):
    late_po(network)
    exc.run_exceptions(network, as_of=AS_OF, created_by=TESTER)
    (drafted,) = expedites(network)
    action_id = drafted["action_id"]
    actions.approve(network, action_id, APPROVER)
    with pytest.raises(ActionRefused, match="before the data's today"):
        actions.post(network, action_id, PLANNER, committed_date=day(-1))
    posted = actions.post(network, action_id, PLANNER, committed_date=day(3))
    assert (posted["status"], posted["arrival_date"]) == ("posted", day(3))
    assert network.scalar(
        "SELECT expected_date FROM purchase_orders WHERE po_number = 'PO-LATE'"
    ) == day(3)
    trail = actions.action_history(network, action_id)
    assert f"SUP1 committed to {day(3)} for PO-LATE (expected {day(-3)} before)" in set(
        trail["reason"]
    )
    # the next run: the line is no longer late, and no new expedite is drafted
    run = exc.run_exceptions(network, as_of=AS_OF, created_by=TESTER)
    assert "late_inbound" not in set(run.items["rule"])
    assert len(expedites(network)) == 1
    # closing needs the goods: refused while 120 are due, closed after the receipt
    with pytest.raises(ActionRefused, match="still has 120 of A-100 to arrive"):
        actions.receive(network, action_id, PLANNER)
    post(network, mv("RCV-1", 1, "A-100", "SH-CDC", "receipt", 120, reference="PO-LATE"))
    assert actions.receive(network, action_id, PLANNER)["status"] == "closed"


def test_approval_is_refused_when_nothing_is_left_to_arrive(network):
    late_po(network)
    exc.run_exceptions(network, as_of=AS_OF, created_by=TESTER)
    (drafted,) = expedites(network)
    post(network, mv("RCV-1", 0, "A-100", "SH-CDC", "receipt", 120, reference="PO-LATE"))
    with pytest.raises(ActionRefused, match="nothing of A-100 left to arrive: nothing to expedite"):
        actions.approve(network, drafted["action_id"], APPROVER)
    assert actions.get_action(network, drafted["action_id"])["status"] == "proposed"


def test_a_rejected_expedite_is_not_drafted_again_until_the_line_gets_a_new_date(network):
    late_po(network)
    exc.run_exceptions(network, as_of=AS_OF, created_by=TESTER)
    (drafted,) = expedites(network)
    actions.reject(network, drafted["action_id"], APPROVER, "supplier already shipping")
    exc.run_exceptions(network, as_of=AS_OF, created_by=TESTER)
    assert [e["status"] for e in expedites(network)] == ["rejected"]
    # the supplier gives a new date, which passes too: the line is late again, so a new
    # expedite is drafted
    network.cursor().execute(
        "UPDATE purchase_orders SET expected_date = ? WHERE po_number = 'PO-LATE'", [day(2)]
    )
    exc.run_exceptions(network, as_of=day(5), created_by=TESTER)
    assert [e["status"] for e in expedites(network)] == ["rejected", "proposed"]


def test_no_expedites_when_turned_off(network):
    late_po(network)
    off = Settings.model_validate({"actions": {"draft_expedites": False}})
    run = exc.run_exceptions(network, off, as_of=AS_OF, created_by=TESTER)
    assert expedites(network) == [] and late_item(run)["action_ids"] is None


def test_an_expedite_drafted_by_hand_is_checked(network):
    late_po(network)
    with pytest.raises(NotFoundError, match="no open purchase order line or transfer 'PO-NONE'"):
        actions.propose_expedite(network, "PO-NONE", "A-100", PLANNER, reason="chase it")
    with pytest.raises(ActionRefused, match="after the data's today"):
        actions.propose_expedite(
            network, "PO-LATE", "A-100", PLANNER, reason="chase it", requested=AS_OF
        )
    with pytest.raises(ActionRefused, match="a reason"):
        actions.propose_expedite(network, "PO-LATE", "A-100", PLANNER, reason=" ")
    viewer = Actor("sun.viewer", "viewer")
    with pytest.raises(actions.PermissionDenied):
        actions.propose_expedite(network, "PO-LATE", "A-100", viewer, reason="chase it")
    made = actions.propose_expedite(
        network, "PO-LATE", "A-100", PLANNER, reason="chase it", requested=day(2)
    )
    assert (made["kind"], made["target"], made["arrival_date"]) == ("expedite", "PO-LATE", day(2))
    with pytest.raises(ActionRefused, match="already has an expedite"):
        actions.propose_expedite(network, "PO-LATE", "A-100", PLANNER, reason="again")
    # the engine links the hand-drafted one instead of drafting another
    run = exc.run_exceptions(network, as_of=AS_OF, created_by=TESTER)
    assert json.loads(late_item(run)["action_ids"]) == [made["action_id"]]
    assert len(expedites(network)) == 1
    # the proposer cannot approve it (separation of duties); another approver can
    with pytest.raises(actions.PermissionDenied):
        actions.approve(network, made["action_id"], Actor("li.planner", "admin"))
    assert actions.approve(network, made["action_id"], APPROVER)["status"] == "approved"


def test_a_stale_proposed_expedite_is_superseded_and_drafted_afresh(network):
    late_po(network)
    exc.run_exceptions(network, as_of=AS_OF, created_by=TESTER)
    (old,) = expedites(network)
    # two days on (beyond stale_after_days), the old proposal can no longer be approved
    post(network, mv("S-later", 2, "A-100", "SH-CDC", "sale", 1))
    with pytest.raises(ActionRefused, match="re-plan before approving"):
        actions.approve(network, old["action_id"], APPROVER)
    run = exc.run_exceptions(network, as_of=day(2), created_by=TESTER)
    first, fresh = expedites(network)
    assert (first["status"], fresh["status"]) == ("superseded", "proposed")
    assert fresh["as_of"] == day(2) and fresh["target"] == "PO-LATE"
    assert json.loads(late_item(run)["action_ids"]) == [fresh["action_id"]]
    trail = actions.action_history(network, old["action_id"])
    assert trail["to_status"].to_list() == ["proposed", "superseded"]
    assert actions.approve(network, fresh["action_id"], APPROVER)["status"] == "approved"


def test_after_a_rejection_a_person_may_still_ask_for_an_expedite(network):
    late_po(network)
    exc.run_exceptions(network, as_of=AS_OF, created_by=TESTER)
    (drafted,) = expedites(network)
    actions.reject(network, drafted["action_id"], APPROVER, "supplier says it ships today")
    again = actions.propose_expedite(
        network, "PO-LATE", "A-100", PLANNER, reason="it did not ship", requested=day(2)
    )
    assert again["status"] == "proposed" and again["action_id"] != drafted["action_id"]
    exc.run_exceptions(
        network, as_of=AS_OF, created_by=TESTER
    )  # the engine links it, drafts no third
    assert [e["status"] for e in expedites(network)] == ["rejected", "proposed"]


def test_the_late_lines_of_one_sku_from_one_supplier_make_one_expedite_that_chases_them_all(
    network,
):
    """PO-LATE (120, due 3 days ago), PO-LATE-2 (30, due 5 days ago) and PO-LATE-3 (50, due 1
    day ago) of A-100 from SUP1 to SH-CDC: one call to SUP1 for all three, 200 units, the
    earliest due first; each late item links it. Posting commits the date on all three;
    closing waits for all three to arrive."""
    late_po(network)
    add_purchase_orders(
        network,
        [
            ("PO-LATE-2", "A-100", "SH-CDC", 30, day(-20), day(-5), "open"),
            ("PO-LATE-3", "A-100", "SH-CDC", 50, day(-20), day(-1), "open"),
        ],
    )
    run = exc.run_exceptions(network, as_of=AS_OF, created_by=PLANNER.name)
    (drafted,) = expedites(network)
    assert drafted["targets"] == ["PO-LATE-2", "PO-LATE", "PO-LATE-3"]
    assert drafted["target"] == "PO-LATE-2" and drafted["quantity"] == 200
    assert drafted["explanation"].startswith(
        "3 late lines of A-100 from SUP1 for SH-CDC, 200 units in all"
    )
    assert actions.describe(drafted).startswith("expedite PO-LATE-2 and 2 more lines: 200 A-100")
    late = run.items.filter(run.items["rule"] == "late_inbound")
    assert late.height == 3
    assert {json.dumps(json.loads(t)) for t in late["action_ids"]} == {
        json.dumps([drafted["action_id"]])
    }
    # the next run drafts no other while it is in progress
    exc.run_exceptions(network, as_of=AS_OF, created_by=TESTER)
    assert len(expedites(network)) == 1
    action_id = drafted["action_id"]
    actions.approve(network, action_id, APPROVER)
    actions.post(network, action_id, PLANNER, committed_date=day(2))
    dates = network.rows(
        "SELECT po_number, expected_date FROM purchase_orders WHERE po_number LIKE 'PO-LATE%' "
        "ORDER BY po_number"
    )
    assert dates == [("PO-LATE", day(2)), ("PO-LATE-2", day(2)), ("PO-LATE-3", day(2))]
    trail = set(actions.action_history(network, action_id)["reason"])
    assert (
        f"SUP1 committed to {day(2)} for PO-LATE-2 (expected {day(-5)} before) and PO-LATE "
        f"(expected {day(-3)} before) and PO-LATE-3 (expected {day(-1)} before)"
    ) in trail
    post(network, mv("RCV-1", 1, "A-100", "SH-CDC", "receipt", 120, reference="PO-LATE"))
    with pytest.raises(ActionRefused, match="PO-LATE-2 still has 30 of A-100 to arrive"):
        actions.receive(network, action_id, PLANNER)
    post(network, mv("RCV-2", 1, "A-100", "SH-CDC", "receipt", 30, reference="PO-LATE-2"))
    post(network, mv("RCV-3", 1, "A-100", "SH-CDC", "receipt", 50, reference="PO-LATE-3"))
    assert actions.receive(network, action_id, PLANNER)["status"] == "closed"
