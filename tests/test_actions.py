"""Actions through their states in real DuckDB files: roles, separation of duties, stale and
short-stock refusals, the ledger postings, concurrent approvals, and a Hypothesis state
machine over random sequences of verbs by random people."""

from __future__ import annotations

import threading
from datetime import date, datetime

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from control_tower import actions
from control_tower.actions import ActionRefused, Actor, PermissionDenied
from control_tower.config import Settings
from control_tower.errors import NotFoundError
from control_tower.ledger import on_hand
from control_tower.store import Store
from tests.conftest import tiny_network_frames
from tests.test_position import AS_OF, add_purchase_orders, mv, post

PLANNER = Actor("li.planner", "planner")
PLANNER2 = Actor("wang.planner", "planner")
APPROVER = Actor("zhao.approver", "approver")
ADMIN = Actor("chen.admin", "admin")
VIEWER = Actor("sun.viewer", "viewer")


def stocked(store: Store, units: int = 500) -> Store:
    post(store, mv("R-CDC", 0, "A-100", "SH-CDC", "receipt", units))
    return store


def draft(store: Store, quantity: int = 100, actor: Actor = PLANNER) -> int:
    return actions.propose_transfer(
        store, "A-100", "SH-CDC", "CD-RDC", quantity, actor, reason="CD-RDC runs short"
    )["action_id"]


def test_a_transfer_from_proposal_to_closed_posts_both_legs_and_audits_each_step(network):
    stocked(network)
    action_id = draft(network, 100)
    action = actions.get_action(network, action_id)
    assert (action["status"], action["quantity"]) == ("proposed", 100)
    assert action["arrival_date"] == AS_OF + (action["ship_date"] - AS_OF) + (
        action["arrival_date"] - action["ship_date"]
    )
    actions.edit_quantity(network, action_id, 120, PLANNER2, "CQ-RDC needs some too")
    actions.approve(network, action_id, APPROVER, "ok")
    posted = actions.post(network, action_id, PLANNER)
    assert posted["status"] == "posted"
    assert on_hand(network, "A-100", "SH-CDC") == 380  # the outbound leg is in the ledger
    assert (
        network.scalar("SELECT status FROM transfers WHERE transfer_id = 'ACT-1'") == "in_transit"
    )
    closed = actions.receive(network, action_id, PLANNER)
    assert closed["status"] == "closed"
    assert on_hand(network, "A-100", "CD-RDC") == 120
    trail = actions.action_history(network, action_id)
    assert trail["to_status"].to_list() == ["proposed", "proposed", "approved", "posted", "closed"]
    assert trail["actor"].to_list() == [
        PLANNER.name,
        PLANNER2.name,
        APPROVER.name,
        PLANNER.name,
        PLANNER.name,
    ]
    edit = trail.row(1, named=True)
    assert (edit["quantity_before"], edit["quantity_after"]) == (100, 120)
    assert edit["reason"] == "CQ-RDC needs some too"


def test_roles_are_enforced_in_the_service(network):
    stocked(network)
    action_id = draft(network)
    with pytest.raises(PermissionDenied, match="planner"):
        actions.approve(network, action_id, PLANNER)
    with pytest.raises(PermissionDenied):
        actions.reject(network, action_id, VIEWER, "no")
    with pytest.raises(PermissionDenied):
        actions.edit_quantity(network, action_id, 5, APPROVER, "smaller")
    with pytest.raises(PermissionDenied):
        actions.propose_transfer(network, "A-100", "SH-CDC", "CD-RDC", 5, VIEWER, reason="x")
    with pytest.raises(ValueError, match="unknown role"):
        Actor("x", "superuser")
    assert actions.get_action(network, action_id)["status"] == "proposed"


def test_whoever_proposed_or_edited_an_action_cannot_approve_it(network):
    stocked(network)
    mine = draft(network, actor=ADMIN)
    with pytest.raises(PermissionDenied, match="separation of duties"):
        actions.approve(network, mine, ADMIN)
    edited = draft(network)
    actions.edit_quantity(network, edited, 90, ADMIN, "round down")
    with pytest.raises(PermissionDenied, match="separation of duties"):
        actions.approve(network, edited, ADMIN)
    relaxed = Settings()
    relaxed.actions.separation_of_duties = False
    assert actions.approve(network, mine, ADMIN, settings=relaxed)["status"] == "approved"


def test_a_rejection_needs_a_reason_and_decided_actions_cannot_be_decided_again(network):
    stocked(network)
    action_id = draft(network)
    with pytest.raises(ActionRefused, match="reason"):
        actions.reject(network, action_id, APPROVER, "   ")
    actions.reject(network, action_id, APPROVER, "CD-RDC is being closed")
    with pytest.raises(ActionRefused, match="already rejected by zhao.approver"):
        actions.approve(network, action_id, ADMIN)
    with pytest.raises(ActionRefused, match="already rejected"):
        actions.edit_quantity(network, action_id, 10, PLANNER, "late change")
    with pytest.raises(NotFoundError):
        actions.approve(network, 999, APPROVER)


def test_a_stale_action_is_refused(network):
    stocked(network)
    action_id = draft(network)
    post(network, mv("S-LATER", 3, "A-100", "SH-CDC", "sale", 1))  # the data moves 3 days on
    with pytest.raises(ActionRefused, match="re-plan"):
        actions.approve(network, action_id, APPROVER)
    assert actions.get_action(network, action_id)["status"] == "proposed"


def test_approval_refuses_a_transfer_the_source_cannot_cover(network):
    stocked(network, 150)
    first, second = draft(network, 100), draft(network, 100)
    actions.approve(network, first, APPROVER)
    with pytest.raises(ActionRefused, match="100 already promised"):
        actions.approve(network, second, APPROVER)
    too_big = draft(network, 1000)
    with pytest.raises(ActionRefused, match="holds 150"):
        actions.approve(network, too_big, APPROVER)
    results = dict(actions.approve_many(network, [second, too_big, 12345], APPROVER))
    assert all(outcome != "approved" for outcome in results.values())
    assert "no action 12345" in results[12345]


def test_many_threads_approving_one_action_post_one_decision(network):
    stocked(network)
    action_id = draft(network)
    approvers = [Actor(f"approver-{i}", "approver") for i in range(8)]
    outcomes: list[str] = []
    lock = threading.Lock()
    start = threading.Barrier(len(approvers))

    def attempt(who: Actor) -> None:
        start.wait()
        try:
            actions.approve(network, action_id, who)
            result = "approved"
        except ActionRefused as exc:
            result = exc.detail
        with lock:
            outcomes.append(result)

    threads = [threading.Thread(target=attempt, args=(a,)) for a in approvers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert outcomes.count("approved") == 1
    assert all("already approved by approver-" in o for o in outcomes if o != "approved")
    trail = actions.action_history(network, action_id)
    assert trail["to_status"].to_list() == ["proposed", "approved"]


def test_a_purchase_order_action_opens_a_po_line_and_its_receipt_closes_it(network):
    cur = network.cursor()
    action_id = cur.execute(
        "INSERT INTO actions (kind, status, as_of, sku, to_location, supplier, quantity, "
        "ship_date, arrival_date, proposed_by) VALUES ('purchase_order', 'proposed', ?, "
        "'A-100', 'SH-CDC', 'SUP1', 240, ?, ?, 'optimizer') RETURNING action_id",
        [AS_OF, AS_OF, date(2024, 3, 8)],
    ).fetchone()[0]
    actions.approve(network, action_id, APPROVER)
    actions.post(network, action_id, APPROVER)
    po = network.query("SELECT * FROM purchase_orders WHERE po_number = ?", [f"ACT-{action_id}"])
    assert po.row(0, named=True)["quantity"] == 240 and po["status"][0] == "open"
    partly = actions.receive(network, action_id, PLANNER, quantity=100)
    assert partly["status"] == "posted"
    with pytest.raises(ActionRefused, match="140 still due"):
        actions.receive(network, action_id, PLANNER, quantity=500)
    assert actions.receive(network, action_id, PLANNER)["status"] == "closed"
    assert on_hand(network, "A-100", "SH-CDC") == 240
    assert (
        network.scalar(
            "SELECT status FROM purchase_orders WHERE po_number = ?", [f"ACT-{action_id}"]
        )
        == "closed"
    )


def test_a_hand_drafted_transfer_needs_a_lane_a_known_sku_and_a_positive_quantity(network):
    with pytest.raises(ActionRefused, match="no lane"):
        actions.propose_transfer(network, "A-100", "CD-RDC", "SH-CDC", 5, PLANNER, reason="x")
    with pytest.raises(NotFoundError):
        actions.propose_transfer(network, "Z-9", "SH-CDC", "CD-RDC", 5, PLANNER, reason="x")
    with pytest.raises(ActionRefused, match="above zero"):
        actions.propose_transfer(network, "A-100", "SH-CDC", "CD-RDC", -5, PLANNER, reason="x")
    assert network.scalar("SELECT count(*) FROM actions") == 0


# -- the state machine ---------------------------------------------------------------------------
PEOPLE = [PLANNER, PLANNER2, APPROVER, Actor("qian.approver", "approver"), ADMIN, VIEWER]
NEXT = {
    None: {"proposed"},
    "proposed": {"proposed", "approved", "rejected", "superseded"},
    "approved": {"posted"},
    "posted": {"closed"},
}


class ActionMachine(RuleBasedStateMachine):
    """Random verbs by random people on a few actions: whatever happens, every action is in a
    known state, its trail is a legal path to that state, the ledger holds exactly the posted
    transfers' legs, and nothing already written disappears."""

    def __init__(self) -> None:
        super().__init__()
        import tempfile
        from pathlib import Path

        from control_tower.ingest import ingest_frames

        self.tmp = tempfile.TemporaryDirectory()
        self.store = Store(Path(self.tmp.name) / "m.duckdb")
        ingest_frames(self.store, tiny_network_frames(), source="fixture")
        stocked(self.store, 400)
        add_purchase_orders(  # a late line to expedite
            self.store,
            [("PO-X", "A-100", "CD-RDC", 50, date(2024, 2, 1), date(2024, 2, 20), "open")],
        )
        self.ids: list[int] = []
        self.events = 0

    def teardown(self) -> None:
        self.store.close()
        self.tmp.cleanup()

    def _try(self, verb, *args) -> None:
        try:
            verb(self.store, *args)
        except (ActionRefused, NotFoundError):
            pass

    @rule(quantity=st.integers(1, 300))
    def propose(self, quantity: int) -> None:
        if len(self.ids) < 4:
            self.ids.append(draft(self.store, quantity, PLANNER))

    @rule(who=st.sampled_from(PEOPLE))
    def expedite(self, who: Actor) -> None:
        if len(self.ids) < 4:
            try:
                made = actions.propose_expedite(
                    self.store, "PO-X", "A-100", who, reason="late", requested=date(2024, 3, 4)
                )
                self.ids.append(made["action_id"])
            except ActionRefused:  # a viewer or approver, or one is in progress already
                pass

    @rule(i=st.integers(0, 3), who=st.sampled_from(PEOPLE), quantity=st.integers(-5, 300))
    def edit(self, i: int, who: Actor, quantity: int) -> None:
        if i < len(self.ids):
            self._try(actions.edit_quantity, self.ids[i], quantity, who, "change")

    @rule(i=st.integers(0, 3), who=st.sampled_from(PEOPLE))
    def approve(self, i: int, who: Actor) -> None:
        if i < len(self.ids):
            self._try(actions.approve, self.ids[i], who)

    @rule(i=st.integers(0, 3), who=st.sampled_from(PEOPLE), reason=st.sampled_from(["", "no"]))
    def reject(self, i: int, who: Actor, reason: str) -> None:
        if i < len(self.ids):
            self._try(actions.reject, self.ids[i], who, reason)

    @rule(i=st.integers(0, 3), who=st.sampled_from(PEOPLE))
    def post_it(self, i: int, who: Actor) -> None:
        if i < len(self.ids):
            self._try(actions.post, self.ids[i], who, datetime(2024, 3, 2, 9))

    @rule(i=st.integers(0, 3), who=st.sampled_from(PEOPLE))
    def receive(self, i: int, who: Actor) -> None:
        if i < len(self.ids):
            self._try(actions.receive, self.ids[i], who)

    @invariant()
    def trails_are_legal_and_the_ledger_matches(self) -> None:
        if not self.ids:
            return
        events = self.store.scalar("SELECT count(*) FROM action_events")
        assert events >= self.events
        self.events = events
        for action_id in self.ids:
            action = actions.get_action(self.store, action_id)
            trail = actions.action_history(self.store, action_id)
            state = None
            for before, after in trail.select("from_status", "to_status").iter_rows():
                assert before == state and after in NEXT[state]
                state = after
            assert state == action["status"]
            out = self.store.scalar(
                "SELECT coalesce(-sum(quantity), 0) FROM ledger WHERE reference = ? "
                "AND movement_type = 'transfer_out'",
                [f"ACT-{action_id}"],
            )
            moved = action["kind"] == "transfer" and action["status"] in ("posted", "closed")
            assert out == (action["quantity"] if moved else 0)
            if action["kind"] == "expedite":  # posting it moved the PO line's date
                due = self.store.scalar(
                    "SELECT expected_date FROM purchase_orders WHERE po_number = 'PO-X'"
                )
                posted = action["status"] in ("posted", "closed")
                assert (due == action["arrival_date"]) == posted
        assert on_hand(self.store, "A-100", "SH-CDC") >= 0


TestActionMachine = ActionMachine.TestCase
TestActionMachine.settings = settings(
    max_examples=20,
    stateful_step_count=12,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
