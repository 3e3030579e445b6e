"""Exceptions and Actions pages through AppTest, on a copy of the demo with a stored plan:
the inbox shows the stored run most severe first, signed-in users see what their role allows,
an approver approves drafted actions from the inbox, and the audit trail shows it."""

from __future__ import annotations

import json

import polars as pl
import pytest

from control_tower import exceptions
from control_tower.actions import Actor
from control_tower.store import Store
from tests.conftest import TESTER, copy_of
from ui.format import plain

from ._support import page, run, store_query, table

APPROVER = Actor("zhao.approver", "approver")
PLANNER = Actor("li.planner", "planner")


@pytest.fixture
def db(planned_demo_path, tmp_path, monkeypatch, fresh_caches):
    path = copy_of(planned_demo_path, tmp_path)
    monkeypatch.setenv("CONTROL_TOWER_DB", str(path))
    monkeypatch.delenv("CONTROL_TOWER_CONFIG", raising=False)
    return path


def _as(at, actor: Actor | None):
    if actor is not None:
        at.session_state["actor"] = actor
    return at


def test_without_a_run_the_inbox_says_how_to_get_one_and_the_button_runs_the_rules(db):
    anonymous = run(page("exceptions"))
    assert any("No exception run yet" in i.value for i in anonymous.info)
    assert anonymous.button(key="exc_run").disabled  # a run is recorded under a name
    at = run(_as(page("exceptions"), PLANNER))
    at.button(key="exc_run").click()
    run(at)
    assert store_query(db, "SELECT created_by FROM exception_runs").item() == PLANNER.name
    stored = store_query(db, "SELECT count(*) FROM exception_run_items").item()
    assert stored > 0
    shown = table(at, "exc_inbox")
    assert len(shown) == stored
    assert list(shown["severity"]) == sorted(shown["severity"], reverse=True)
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Exceptions"] == f"{stored:,}"


def test_filters_and_grouping(db):
    with Store(db) as store:
        exceptions.run_exceptions(store, created_by=TESTER)
    at = run(page("exceptions"))
    at.multiselect(key="exc_rules").set_value(["late_inbound"])
    at.radio(key="exc_group").set_value("location")
    run(at)
    shown = table(at, "exc_inbox")
    assert set(shown["rule"]) == {"late_inbound"}
    groups = table(at, "exc_groups")
    assert groups["exceptions"].sum() == len(shown)


def test_what_each_role_may_do_from_the_inbox(db):
    with Store(db) as store:
        exceptions.run_exceptions(store, created_by=TESTER)
    anonymous = run(page("exceptions"))
    assert not [b for b in anonymous.button if b.key == "exc_bulk_go"]
    assert any("Sign in" in c.value for c in anonymous.caption)
    planner = run(_as(page("exceptions"), PLANNER))
    assert not [b for b in planner.button if b.key == "exc_bulk_go"]
    assert planner.text_input(key="exc_ack_reason")  # a planner may acknowledge
    approver = run(_as(page("exceptions"), APPROVER))
    assert approver.button(key="exc_bulk_go")


def test_an_approver_approves_drafted_actions_from_the_inbox_and_the_trail_shows_it(db):
    """A drafted action its source can cover, approved in bulk from the inbox: the store has
    it approved by the approver, and the Actions page's audit trail shows it."""
    with Store(db) as store:
        exceptions.run_exceptions(store, created_by=TESTER)
    at = run(_as(page("exceptions"), APPROVER))
    offered = [int(str(o).split(":")[0]) for o in at.multiselect(key="exc_bulk").options]
    coverable = store_query(  # orders, and transfers whose source holds the units
        db,
        "SELECT action_id FROM actions a WHERE status = 'proposed' AND (kind = 'purchase_order' "
        "OR (SELECT sum(quantity) FROM ledger l WHERE l.sku = a.sku "
        "AND l.location = a.from_location) >= a.quantity)",
    )["action_id"].to_list()
    chosen = next(i for i in offered if i in coverable)
    at.multiselect(key="exc_bulk").set_value([chosen])
    run(at)
    at.button(key="exc_bulk_go").click()
    run(at)
    assert table(at, "exc_bulk_results")["outcome"].tolist() == ["approved"]
    trail = store_query(
        db,
        "SELECT actor, to_status FROM action_events WHERE action_id = ? ORDER BY event_id",
        [chosen],
    )
    assert trail.row(-1) == (APPROVER.name, "approved")
    audit = run(_as(page("actions"), APPROVER))
    shown = table(audit, "act_audit")
    assert (APPROVER.name, "approved") in set(zip(shown["actor"], shown["to_status"], strict=True))


def test_the_actions_page_lists_actions_with_their_trail_and_exports_it(db):
    at = run(page("actions"))
    assert at.title[0].value == "Actions and audit"
    actions = table(at, "act_table")
    proposed = store_query(
        db, "SELECT count(*) FROM actions WHERE status IN ('proposed', 'approved', 'posted')"
    ).item()
    assert len(actions) == min(proposed, 5000)
    trail = table(at, "act_trail")
    assert trail["to_status"].tolist()[0] == "proposed"
    assert at.get("download_button")


def test_the_reports_page_previews_filters_and_offers_the_three_downloads(db):
    at = run(page("reports"))
    assert any("No exception run yet" in i.value for i in at.info)
    with Store(db) as store:
        exceptions.run_exceptions(store, created_by=TESTER)
        stored = store.scalar("SELECT count(*) FROM exception_run_items")
    at = run(page("reports"))
    assert len(table(at, "rep_preview")) == min(stored, 500)
    at.multiselect(key="rep_rules").set_value(["late_inbound"])
    run(at)
    assert set(table(at, "rep_preview")["Rule"]) == {"late_inbound"}
    assert len(at.get("download_button")) == 3


def test_an_expedite_is_approved_in_the_inbox_and_its_committed_date_recorded_on_the_actions_page(
    db,
):
    """The run drafts expedites for the demo's late POs; the inbox's detail of a late line
    offers its expedite; on the Actions page a planner records the supplier's committed date,
    which moves the PO line's expected date, and closing it waits for the goods."""
    with Store(db) as store:
        exceptions.run_exceptions(store, created_by=TESTER)
    drafted = store_query(
        db,
        "SELECT action_id, target, sku, arrival_date FROM actions WHERE kind = 'expedite' "
        "ORDER BY action_id LIMIT 1",
    ).row(0, named=True)
    late = store_query(
        db,
        "SELECT count(*) FROM exception_run_items WHERE rule = 'late_inbound' "
        "AND action_ids IS NOT NULL",
    ).item()
    assert late > 0
    action_id = drafted["action_id"]
    at = run(_as(page("exceptions"), APPROVER))
    at.multiselect(key="exc_bulk").set_value(
        [o for o in at.multiselect(key="exc_bulk").options if str(o).startswith(f"{action_id}:")]
    )
    run(at)
    at.button(key="exc_bulk_go").click()
    run(at)
    assert table(at, "exc_bulk_results")["outcome"].tolist() == ["approved"]
    acts = run(_as(page("actions"), PLANNER))
    acts.text_input(key="act_number").set_value(str(action_id))
    run(acts)
    assert any(f"expedite {plain(drafted['target'])}" in m.value for m in acts.markdown)
    post = acts.button(key="act_post")
    assert post.label == "Record the committed date"
    post.click()
    run(acts)
    assert not acts.exception and not acts.error
    expected = store_query(
        db,
        "SELECT expected_date FROM purchase_orders WHERE po_number = ? AND sku = ?",
        [drafted["target"], drafted["sku"]],
    ).item()
    assert expected == drafted["arrival_date"]
    assert (
        store_query(db, "SELECT status FROM actions WHERE action_id = ?", [action_id]).item()
        == "posted"
    )
    close = acts.button(key="act_receive")
    assert close.label == "Close (the goods arrived)"
    close.click()
    run(acts)
    assert [e.value for e in acts.error] == ["Action refused"]
    assert any("to arrive" in t.value for t in acts.text)


def test_the_inbox_groups_the_decisions_left_to_people_and_approves_a_group_at_once(db):
    """After a run with the approval policy, the inbox lists what waits for people in groups
    (by exception, destination or supplier), most money at risk first; an approver approves
    the first group with one click, and each of its actions is then approved by them."""
    with Store(db) as store:
        done = exceptions.run_exceptions(store, created_by=PLANNER.name, auto_approve=True)
        waiting = exceptions.decisions(store, "destination")
    assert done.auto is not None and done.auto.left_to_people == waiting.height > 0
    at = run(_as(page("exceptions"), APPROVER))
    at.radio(key="exc_decide_by").set_value("destination")
    run(at)
    first = waiting.filter(waiting["group"] == waiting["group"][0])
    shown = table(at, "exc_decide_destination_0")
    assert shown["action_id"].tolist() == first["action_id"].to_list()
    # every decision left to people carries money at risk and says why it waits
    assert (waiting["serves_at_risk"] > 0).all()
    assert waiting["kept"].is_not_null().all()
    assert shown["kept"].tolist() == first["kept"].to_list()
    assert any(f"**{waiting.height:,}** proposals wait" in c.value for c in at.caption)
    at.button(key="exc_decide_all_destination_0").click()
    run(at)
    outcomes = table(at, "exc_decide_results_destination_0")
    assert outcomes["action"].tolist() == first["action_id"].to_list()
    pairs = zip(outcomes["action"], outcomes["outcome"], strict=True)
    approved = [int(a) for a, o in pairs if o == "approved"]
    assert approved  # a refusal says why, row by row; the others are approved
    assert _approvers(db, approved) == [APPROVER.name]
    viewer = run(_as(page("exceptions"), Actor("sun.viewer", "viewer")))
    assert not [b for b in viewer.button if str(b.key).startswith("exc_decide_all")]


def test_an_approver_approves_every_drafted_action_the_filtered_inbox_shows_at_once(db):
    """Filtered to one location, "approve all shown" approves every proposed action of the
    exceptions shown, no more: each is approved by the approver or refused with its reason,
    and the proposals of other locations' exceptions stay proposed."""
    with Store(db) as store:
        run_id = exceptions.run_exceptions(store, created_by=TESTER).run_id
    items = store_query(
        db,
        "SELECT location, action_ids FROM exception_run_items WHERE run_id = ? "
        "AND action_ids IS NOT NULL",
        [run_id],
    )
    # the location whose exceptions have the fewest drafted actions: a short list to approve
    counts = items.group_by("location").len().sort("len", "location")
    location = counts["location"][0]
    mine = sorted(
        {
            i
            for t in items.filter(pl.col("location") == location)["action_ids"]
            for i in json.loads(t)
        }
    )
    at = run(_as(page("exceptions"), APPROVER))
    at.multiselect(key="exc_locs").set_value([location])
    run(at)
    shown = store_query(
        db,
        "SELECT action_id FROM actions WHERE status = 'proposed' AND action_id IN "
        "(SELECT unnest(?)) ORDER BY action_id",
        [mine],
    )["action_id"].to_list()
    assert shown
    at.button(key="exc_bulk_all").click()
    run(at)
    outcomes = table(at, "exc_bulk_results")
    assert sorted(int(a) for a in outcomes["action"]) == shown
    approved = [
        int(a)
        for a, o in zip(outcomes["action"], outcomes["outcome"], strict=True)
        if o == "approved"
    ]
    assert approved
    assert _approvers(db, approved) == [APPROVER.name]
    others = store_query(
        db,
        "SELECT count(*) AS n FROM actions WHERE status = 'approved' AND proposed_by = ? "
        "AND action_id NOT IN (SELECT unnest(?))",
        [TESTER, shown],
    )["n"][0]
    assert others == 0


def _approvers(db, ids: list[int]) -> list[str]:
    """Who approved the actions ``ids``, per the audit trail."""
    return store_query(
        db,
        "SELECT DISTINCT actor FROM action_events WHERE to_status = 'approved' "
        "AND action_id IN (SELECT unnest(?))",
        [ids],
    )["actor"].to_list()
