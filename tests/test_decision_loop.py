"""The decision loop's guarantees in real DuckDB files: only the plan's lines due now become
proposals, and only those that can be carried out when due; approval checks the units the
source holds on the ship date (inbound due by then counts, a late line does not) and says
what is missing; a posting is booked in data time and never moves the data's today."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from control_tower import actions, kpis
from control_tower.actions import ActionRefused, Actor
from control_tower.ledger import on_hand
from control_tower.store import Store, data_now
from tests.test_position import AS_OF, add_purchase_orders, day, mv, post

PLANNER = Actor("li.planner", "planner")
APPROVER = Actor("zhao.approver", "approver")


def draft(store: Store, quantity: int, ship: int = 1) -> int:
    """A transfer of A-100 from SH-CDC to CD-RDC leaving ``ship`` days after AS_OF."""
    return actions.propose_transfer(
        store,
        "A-100",
        "SH-CDC",
        "CD-RDC",
        quantity,
        PLANNER,
        reason="CD-RDC runs short",
        ship_date=day(ship),
    )["action_id"]


def test_posting_a_transfer_that_ships_tomorrow_keeps_the_datas_today(network):
    post(network, mv("R-CDC", 0, "A-100", "SH-CDC", "receipt", 500))
    before = kpis.network_kpis(network)
    action_id = draft(network, 100, ship=1)
    actions.approve(network, action_id, APPROVER)
    posted = actions.post(network, action_id, PLANNER)
    assert network.as_of() == AS_OF  # the data's today did not move to the ship date
    assert on_hand(network, "A-100", "SH-CDC") == 400
    ship_date, expected = network.rows(
        "SELECT ship_date, expected_date FROM transfers WHERE transfer_id = ?",
        [actions.reference(action_id)],
    )[0]
    assert ship_date == AS_OF  # booked now, in data time
    assert expected == posted["arrival_date"]  # arriving as planned, not earlier
    leg = network.scalar(
        "SELECT ts FROM ledger WHERE reference = ? AND movement_type = 'transfer_out'",
        [actions.reference(action_id)],
    )
    assert leg == data_now(AS_OF)
    after = kpis.network_kpis(network)
    assert after["fill_rate"] == before["fill_rate"]  # no KPI shifted to another day
    assert after["stockout_days"] == before["stockout_days"]
    closed = actions.receive(network, action_id, PLANNER)
    assert closed["status"] == "closed" and network.as_of() == AS_OF


def test_a_posting_or_receipt_dated_after_the_datas_today_is_refused_and_writes_nothing(network):
    post(network, mv("R-CDC", 0, "A-100", "SH-CDC", "receipt", 500))
    action_id = draft(network, 100)
    actions.approve(network, action_id, APPROVER)
    tomorrow = datetime.combine(day(1), datetime.min.time())
    rows = network.scalar("SELECT count(*) FROM ledger")
    with pytest.raises(ActionRefused, match="after the data's today"):
        actions.post(network, action_id, PLANNER, when=tomorrow)
    assert actions.get_action(network, action_id)["status"] == "approved"
    assert network.scalar("SELECT count(*) FROM ledger") == rows
    actions.post(network, action_id, PLANNER)
    with pytest.raises(ActionRefused, match="after the data's today"):
        actions.receive(network, action_id, PLANNER, when=tomorrow)
    assert actions.get_action(network, action_id)["status"] == "posted"
    assert network.as_of() == AS_OF


def test_approval_counts_inbound_due_by_the_ship_date_but_never_a_late_line(network):
    """SH-CDC holds 50; PO-ON (200) is due tomorrow, PO-LATE (300) was due yesterday. A
    transfer of 200 leaving in two days can be approved (50 + 200); one of 300 cannot: the
    late line is no promise, and the refusal adds up what is there."""
    post(network, mv("R-CDC", 0, "A-100", "SH-CDC", "receipt", 50))
    add_purchase_orders(
        network,
        [
            ("PO-ON", "A-100", "SH-CDC", 200, day(-10), day(1), "open"),
            ("PO-LATE", "A-100", "SH-CDC", 300, day(-20), day(-1), "open"),
        ],
    )
    fits = draft(network, 200, ship=2)
    too_many = draft(network, 300, ship=2)
    actions.approve(network, fits, APPROVER)
    with pytest.raises(ActionRefused) as refused:
        actions.approve(network, too_many, APPROVER)
    text = refused.value.detail
    assert "SH-CDC holds 50 of A-100" in text
    assert "200 due in by" in text and "PO-ON 200" in text and "PO-LATE" not in text
    assert "200 already promised to approved transfers" in text
    assert "50 can leave" in text and "needs 300" in text
    # the approved one relies on PO-ON: it can be posted once that is received, not before
    with pytest.raises(ActionRefused, match="PO-ON") as early:
        actions.post(network, fits, PLANNER)
    assert "holds 50 of A-100 now" in early.value.detail
    assert actions.get_action(network, fits)["status"] == "approved"


def lines(*rows: tuple) -> pl.DataFrame:
    """Plan lines: (line_no, kind, from_location, quantity, ship offset)."""
    return pl.DataFrame(
        [
            {
                "line_no": n,
                "kind": kind,
                "sku": "A-100",
                "from_location": source,
                "to_location": "CD-RDC",
                "quantity": quantity,
                "ship_date": day(offset),
                "reason": "CD-RDC faces demand",
            }
            for n, kind, source, quantity, offset in rows
        ]
    )


def test_only_lines_due_in_the_window_that_can_be_carried_out_are_released(network):
    """SH-CDC holds 500 and 200 more are due on day 2 (PO-ON). Window: days 1 and 2.
    Line 1 (300, day 1) fits; line 2 (300, day 2) relies on PO-ON (500 - 300 + 200 = 400);
    line 3 (300, day 2) finds 100 left and is held, saying why; line 4 leaves on day 5 and
    stays planned; line 5, an order, is due on day 1 and released."""
    post(network, mv("R-CDC", 0, "A-100", "SH-CDC", "receipt", 500))
    add_purchase_orders(network, [("PO-ON", "A-100", "SH-CDC", 200, day(-10), day(2), "open")])
    out = actions.release_lines(
        network,
        lines(
            (1, "transfer", "SH-CDC", 300, 1),
            (2, "transfer", "SH-CDC", 300, 2),
            (3, "transfer", "SH-CDC", 300, 2),
            (4, "transfer", "SH-CDC", 300, 5),
            (5, "order", None, 1000, 1),
        ),
        AS_OF,
        release_days=2,
    ).sort("line_no")
    assert out["release_now"].to_list() == [True, True, False, False, True]
    reason = dict(zip(out["line_no"], out["reason"], strict=True))
    assert reason[1] == "CD-RDC faces demand"
    assert reason[2].endswith("relies on inbound to SH-CDC: PO-ON (200 due " + str(day(2)) + ")")
    assert "not released: SH-CDC holds 500 of A-100; 200 due in by" in reason[3]
    assert "100 can leave on" in reason[3] and "the plan's earlier lines take 600" in reason[3]
    assert reason[4] == "CD-RDC faces demand"


def test_a_new_plan_supersedes_only_undecided_proposals_under_its_author(network):
    from control_tower.config import ActionSettings, Settings
    from control_tower.optimize import plan, save_plan
    from tests.test_exceptions import add_demand, daily_demand, stock

    stock(network, "A-100", "SH-CDC", 500, offset=0)
    stock(network, "A-100", "CD-RDC", 10, offset=0)
    add_demand(network, daily_demand("A-100", "CD-RDC", 10, 91))
    weekly = Settings(actions=ActionSettings(release_days=7))
    first = save_plan(network, plan(network, weekly, as_of=AS_OF), created_by="li.planner")
    drafted = network.query(
        "SELECT action_id, proposed_by FROM actions WHERE plan_run = ?", [first]
    )
    assert drafted.height >= 1 and set(drafted["proposed_by"]) == {"li.planner"}
    kept = int(drafted["action_id"][0])
    actions.approve(network, kept, APPROVER)
    second = save_plan(network, plan(network, weekly, as_of=AS_OF), created_by="wang.planner")
    assert actions.get_action(network, kept)["status"] == "approved"  # decided: untouched
    superseded = network.query(
        "SELECT e.actor FROM action_events e JOIN actions a USING (action_id) "
        "WHERE a.plan_run = ? AND e.to_status = 'superseded'",
        [first],
    )
    assert set(superseded["actor"]) <= {"wang.planner"}
    assert superseded.height == drafted.height - 1
    ship_dates = network.query("SELECT ship_date FROM actions WHERE plan_run = ?", [second])
    assert all(d <= AS_OF + timedelta(days=7) for d in ship_dates["ship_date"])


def test_a_stockout_suggests_its_fastest_remedy_first_with_the_units_it_avoids(network):
    """CD-RDC holds 30 of A-100 and sells 10 a day: it runs out on day 4. Two transfers are
    drafted: 100 from SH-CDC (4-day lane, arriving day 5) and 100 from the neighbour CQ-RDC
    (1-day lane, arriving day 2). The neighbour's comes first, and the suggestion states
    what it avoids, as the what-if projection computes it."""
    from control_tower import exceptions as exc
    from tests.test_exceptions import add_demand, daily_demand, stock

    stock(network, "A-100", "SH-CDC", 500, offset=0)
    stock(network, "A-100", "CQ-RDC", 200, offset=0)
    stock(network, "A-100", "CD-RDC", 30, offset=0)
    add_demand(network, daily_demand("A-100", "CD-RDC", 10, 28))
    central = draft(network, 100)
    neighbour = actions.propose_transfer(
        network, "A-100", "CQ-RDC", "CD-RDC", 100, PLANNER, reason="faster", ship_date=day(1)
    )
    [item] = (
        exc.detect(network, as_of=AS_OF)
        .items.filter((pl.col("rule") == "stockout") & (pl.col("location") == "CD-RDC"))
        .to_dicts()
    )
    assert json.loads(item["action_ids"]) == [neighbour["action_id"], central]
    with_it = exc.project(network, "A-100", "CD-RDC", as_of=AS_OF, extra=[(day(2), 100)])
    avoided = item["units"] - with_it.units_short
    assert avoided > 0
    assert item["suggestion"] == (
        f"approve action {neighbour['action_id']} first: transfer of 100 from CQ-RDC, "
        f"arriving {day(2)}; arrives before the stock-out: {avoided:,.0f} of "
        f"{item['units']:,.0f} units short avoided (1 more linked)"
    )


def test_a_stockout_without_an_action_says_why(network):
    from control_tower import exceptions as exc
    from tests.test_exceptions import add_demand, daily_demand, stock

    stock(network, "A-100", "CD-RDC", 30, offset=0)
    add_demand(network, daily_demand("A-100", "CD-RDC", 10, 28))
    [item] = (
        exc.detect(network, as_of=AS_OF)
        .items.filter((pl.col("rule") == "stockout") & (pl.col("location") == "CD-RDC"))
        .to_dicts()
    )
    assert item["action_ids"] is None
    assert item["suggestion"] == "no action to approve: run a plan to draft transfers and orders"


def test_routine_proposals_are_approved_by_policy_and_the_rest_left_to_people(network):
    """SH-CDC holds 500 of A-100 (unit cost 2.00 in the tiny network). Within the limits
    (value 2,000 here, the max level, linked severity 1,000): #1, 100 units, no exception.
    Left to people: #2, 1,500 units (value over the limit), #3, 100 units serving an
    exception of severity 5,000, #4, 100 units over the max level of 80 at CQ-RDC."""
    from control_tower.config import ActionSettings, AutoApproval, Settings

    post(network, mv("R-CDC", 0, "A-100", "SH-CDC", "receipt", 2000))
    routine = draft(network, 100)
    big = draft(network, 1500)
    risky = draft(network, 100)
    over_max = actions.propose_transfer(
        network, "A-100", "SH-CDC", "CQ-RDC", 100, PLANNER, reason="stock", ship_date=day(1)
    )["action_id"]
    unit_cost = network.scalar("SELECT unit_cost FROM products WHERE sku = 'A-100'")
    policy = AutoApproval(max_value=float(unit_cost) * 1000, max_linked_severity=1000)
    cfg = Settings(actions=ActionSettings(auto_approve=policy))
    levels = {("A-100", "CD-RDC"): 2000.0, ("A-100", "CQ-RDC"): 80.0}
    result = actions.auto_approve(network, cfg, severities={risky: 5000.0}, max_levels=levels)
    assert result.approved == [routine]
    assert result.kept_by == {"value": 1, "linked severity": 1, "max level": 1}
    assert result.left_to_people == 3
    trail = actions.action_history(network, routine).row(-1, named=True)
    assert (trail["actor"], trail["to_status"]) == ("policy:routine", "approved")
    assert "within policy routine" in trail["reason"]
    assert "100 units within 1 x the max level 2,000 at CD-RDC" in trail["reason"]
    for left in (big, risky, over_max):
        assert actions.get_action(network, left)["status"] == "proposed"
    # each left to people says why, and the money the limit that kept it guards
    kept = dict(
        network.rows(
            "SELECT action_id, [kept_for_people, kept_at_risk::VARCHAR] FROM actions "
            "WHERE action_id IN (?, ?, ?)",
            [big, risky, over_max],
        )
    )
    value = 1500 * float(unit_cost)
    assert kept[big] == [
        f"value: {value:,.2f} at cost, above the policy's {float(unit_cost) * 1000:,.0f}",
        str(round(value - float(unit_cost) * 1000, 2)),
    ]
    assert kept[risky][0] == (
        "linked severity: serves an exception of severity 5,000, above the policy's 1,000"
    )
    assert float(kept[risky][1]) == 5000.0
    assert kept[over_max][0] == "max level: 100 units to CQ-RDC, 20 above 1 x its max level of 80"
    assert float(kept[over_max][1]) == pytest.approx(20 * float(unit_cost))
    assert (
        network.scalar("SELECT kept_for_people FROM actions WHERE action_id = ?", [routine]) is None
    )
    # switched off: nothing is approved by rule
    off = Settings(actions=ActionSettings(auto_approve=AutoApproval(enabled=False)))
    assert actions.auto_approve(network, off, severities={}, max_levels=levels).approved == []


def test_the_policy_never_approves_more_than_the_source_can_give(network):
    """SH-CDC holds 150: of two routine transfers of 100, the first (by ship date) is
    approved by rule and the second waits for a person, as a person's approval would
    refuse it."""
    from control_tower.config import Settings

    post(network, mv("R-CDC", 0, "A-100", "SH-CDC", "receipt", 150))
    first = draft(network, 100, ship=1)
    second = draft(network, 100, ship=2)
    levels = {("A-100", "CD-RDC"): 1000.0}
    result = actions.auto_approve(network, Settings(), severities={}, max_levels=levels)
    assert result.approved == [first] and result.kept_by == {"source stock": 1}
    with pytest.raises(ActionRefused, match="50 can leave"):
        actions.approve(network, second, APPROVER)


def test_units_short_are_the_sales_lost_until_an_order_placed_today_could_arrive():
    """30 in stock, 10 a day, 15 arriving on day 5, an order placed today arrives on day
    11 (lead time 10). Day 4 runs out (10 lost); day 5 the 15 arrive and serve 10; day 6
    serves the 5 left and loses 5; days 7 to 10 lose 40: 55 units short by day 10, not
    only the 10 before the small delivery."""
    from control_tower.exceptions import shortfall

    demand = np.full(28, 10.0)
    arrivals = np.zeros(28)
    arrivals[4] = 15  # day 5
    _stock, out, next_arrival, short = shortfall(30.0, arrivals, demand, AS_OF, 10.0)
    assert (out, next_arrival, short) == (day(4), day(5), 55.0)


@given(
    available=st.integers(0, 200),
    demand=st.lists(st.integers(0, 40), min_size=28, max_size=28),
    arrivals=st.lists(st.integers(0, 150), min_size=28, max_size=28),
    lead=st.integers(1, 28),
    units=st.integers(1, 300),
    day_from=st.integers(1, 28),
    day_to=st.integers(1, 28),
)
@settings(max_examples=300, deadline=None)
def test_more_or_earlier_supply_never_raises_the_units_short(
    available, demand, arrivals, lead, units, day_from, day_to
):
    """The remedies' arithmetic: adding units on any day, or moving a delivery earlier,
    never raises the units short over the stock-out's window."""
    from control_tower.exceptions import short_avoided

    projection = (float(available), np.array(arrivals, float), np.array(demand, float), lead)
    added, short, _out = short_avoided(projection, [(day(day_to), units)], AS_OF)
    assert 0 <= added <= short + 1e-9
    early, late = sorted((day_from, day_to))
    delivered = np.array(arrivals, float)
    delivered[late - 1] += units  # a delivery of ``units`` on day ``late``, brought forward
    with_delivery = (float(available), delivered, np.array(demand, float), lead)
    moved, _s, _o = short_avoided(with_delivery, [(day(early), units), (day(late), -units)], AS_OF)
    assert moved >= -1e-9
