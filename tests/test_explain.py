"""Explanations of drafted actions: figures that add up.

On a copy of the demo with a stored plan, every proposal's record is recomputed plainly: its
cost parts sum to its total, units x unit price is the value stated, a departure's fixed cost
is shared over the plan's own load, and the parts are the plan line's cost; the safety stock
shown is its formula's result (rounded up, as stated) and the figure in the plan's reason;
the projections without and with the action are what ``exceptions.project`` gives; the stored
text is the record's lines. On the tiny network, a worked example with hand-computed figures.
"""

from __future__ import annotations

import json
import math
import re
from statistics import NormalDist

import pytest
from hypothesis import given
from hypothesis import strategies as st

from control_tower import exceptions
from control_tower.config import PolicySettings, Settings
from control_tower.explain import (
    TOP_ALTERNATIVES,
    CostPart,
    Explanation,
    Outlook,
    SafetyStock,
    build_explanations,
    explain_actions,
    explanation_of,
    money,
    per_unit,
    whole,
)
from control_tower.optimize.readout import Need, whole_safety_stock
from control_tower.policies import explain_policy, set_override
from control_tower.store import Store
from tests.conftest import copy_of
from tests.test_position import AS_OF, add_demand, day, mv, post


@pytest.fixture(scope="module")
def planned(planned_demo_path, tmp_path_factory):
    with Store(copy_of(planned_demo_path, tmp_path_factory.mktemp("explain"))) as store:
        yield store


@pytest.fixture(scope="module")
def explained(planned) -> list[tuple[dict, Explanation]]:
    """Every explained proposal of the plan: its action and line, and its record."""
    rows = planned.query(
        "SELECT a.action_id, a.kind, a.sku, a.to_location, a.quantity, a.arrival_date, "
        "a.explanation, a.explanation_record, a.plan_run, l.reason, l.cost, l.unit_price, "
        "l.ship_date, l.from_location, l.supplier, l.alternatives FROM actions a "
        "JOIN plan_lines l ON l.run_id = a.plan_run AND l.line_no = a.plan_line "
        "WHERE a.explanation_record IS NOT NULL ORDER BY a.action_id"
    ).to_dicts()
    assert {r["kind"] for r in rows} == {"transfer", "purchase_order"}
    return [(r, Explanation.from_json(r["explanation_record"])) for r in rows]


def _shown(text: str) -> float:
    return float(text.replace(",", ""))


def test_saving_a_plan_explains_every_proposal_with_its_record(planned):
    missing = planned.scalar(
        "SELECT count(*) FROM actions WHERE status = 'proposed' AND plan_run IS NOT NULL "
        "AND (explanation IS NULL OR explanation_record IS NULL)"
    )
    assert missing == 0
    assert planned.scalar("SELECT count(*) FROM actions WHERE explanation LIKE 'Why: %'") > 0


def test_the_stored_text_is_the_records_lines_with_numbers_formatted(explained):
    for row, record in explained:
        text = row["explanation"]
        assert text == record.text()
        assert record == Explanation.from_json(record.to_json())
        labels = [line.split(":")[0] for line in text.splitlines()]
        assert labels[:4] == ["Why", "If nothing is done", "With it", "Cost"]
        assert all(line.endswith(".") for line in text.splitlines())
        assert not re.search(r"\bNone\b|\bnull\b|\bnan\b|\d\.\d{5,}|-0\b", text), text
        undated = re.sub(r"\d{4}-\d{2}-\d{2}", "", text)
        assert not re.search(r"\d{5,}", undated), text  # thousands separated


def test_cost_parts_add_up_and_are_the_plan_lines_own(planned, explained):
    """Parts to the cent sum to the total; units x the unit price shown is the amount; a
    departure's fixed cost is shared over every line of the plan on it (recomputed here);
    without the share (and, for an order, the purchase value less the price above the
    cheapest supplier, which the plan counts) the total is the plan line's cost."""
    policy = Settings().policies
    cheapest = dict(
        planned.rows(
            "SELECT sp.sku, min(coalesce(sp.price, p.unit_cost))::DOUBLE FROM supplier_products "
            "sp JOIN products p USING (sku) GROUP BY sp.sku"
        )
    )
    for row, record in explained:
        amounts = [p.amount for p in record.costs]
        assert round(sum(amounts), 2) == record.total_cost
        assert all(a == round(a, 2) for a in amounts)
        parts = {p.item: p for p in record.costs}
        q = row["quantity"]
        for p in record.costs:
            if p.per_unit is not None:
                assert p.units == q
                assert round(p.units * _shown(per_unit(p.per_unit)), 2) == p.amount
            if p.load is not None:
                load = planned.scalar(
                    "SELECT sum(quantity) FROM plan_lines WHERE run_id = $run AND "
                    "coalesce(from_location, supplier) = $source AND to_location = $to "
                    "AND ship_date = $day",
                    {
                        "run": row["plan_run"],
                        "source": row["from_location"] or row["supplier"],
                        "to": row["to_location"],
                        "day": row["ship_date"],
                    },
                )
                assert p.load == load >= q
                assert p.amount == round(p.trucks * p.fixed_cost * q / load, 2)
            assert p.phrase() in row["explanation"]
        assert f"Cost: {money(record.total_cost)} (" in row["explanation"]
        share = sum(p.amount for p in record.costs if p.load is not None)
        if row["kind"] == "transfer":
            assert set(parts) <= {"transport", "lane_fixed", "handling"}
            assert parts["transport"].per_unit == row["unit_price"]
            assert parts["handling"].amount == policy.transfer_line_cost
            plan_counts = record.total_cost - share
        else:
            assert set(parts) <= {"purchase", "freight", "delivery_fixed", "order"}
            assert parts["purchase"].per_unit == row["unit_price"]
            assert parts["order"].amount == policy.order_cost
            premium = row["unit_price"] - cheapest[row["sku"]]
            plan_counts = record.total_cost - share - parts["purchase"].amount + q * premium
        assert plan_counts == pytest.approx(row["cost"], abs=0.02)


def test_why_is_the_plans_reason_and_its_safety_stock_the_formulas_result(planned, explained):
    """The record's need is the sentence of the plan line's reason (so its figures are the
    plan's); the safety stock is the policy's formula over the lead time plus the days to the
    next decision, its result as shown, rounded up to the units the plan holds; beside it the
    policy over the lead time alone, as the Policies page shows it."""
    checked = 0
    for row, record in explained:
        assert record.need.sentence() in row["reason"]
        safety = record.safety
        if safety is None:
            assert record.need.safety_stock == 0
            continue
        assert record.need.safety_stock == safety.units == whole_safety_stock(safety.result)
        lead = safety.lead_time_days + safety.cycle_days
        if safety.overridden:  # the planner's figure, as set
            assert f"override: safety_stock = {safety.result:g} " in safety.formula
        else:
            assert safety.formula.endswith(f"= {safety.result:.1f}")
            plain = safety.z * math.sqrt(
                lead * safety.daily_demand_sd**2
                + safety.daily_demand**2 * safety.lead_time_sd_days**2
            )
            assert plain == pytest.approx(safety.result)
            assert f"sqrt({lead:g} * " in safety.formula
        rounded = abs(safety.result - safety.units) > 1e-9
        assert (", rounded up to " in row["explanation"]) == rounded
        if rounded and not safety.overridden:  # the figure before the rounding rounds to it
            figure = re.search(
                r"([\d.]+)\)?, rounded up to ([\d,]+)\b", row["explanation"].splitlines()[-1]
            )
            assert whole_safety_stock(float(figure[1])) == safety.units == _shown(figure[2])
        page = explain_policy(planned, record.sku, record.destination)
        assert safety.lead_time_only == pytest.approx(page.safety_stock)
        assert safety.lead_time_days == page.inputs.lead_time_days
        checked += 1
    assert checked > 0


def test_projections_without_and_with_the_action_are_the_stock_out_rules(planned, explained):
    """What ``exceptions.project`` gives for the same SKU x location, without the action and
    with its units on its arrival day."""

    def same(outlook: Outlook, p: exceptions.Projection) -> None:
        assert outlook.stockout_date == p.stockout_date
        assert outlook.next_arrival == p.next_arrival
        assert outlook.units_short == p.units_short
        assert outlook.lowest_stock == round(float(p.days["stock"].min()))
        assert outlook.price == p.price
        assert outlook.sales_at_risk == pytest.approx(p.sales_at_risk)

    without_of: dict[tuple[str, str], exceptions.Projection] = {}
    for row, record in explained:
        key = (record.sku, record.destination)
        if key not in without_of:
            without_of[key] = exceptions.project(planned, *key)
        same(record.without, without_of[key])
        with_it = exceptions.project(planned, *key, extra=[(row["arrival_date"], row["quantity"])])
        same(record.with_it or record.without, with_it)


def test_the_alternatives_table_is_every_source_the_plan_compared(explained):
    """The chosen source, then the best others the plan compared (how many more); a
    verdict's cost difference is the difference of the costs a unit as shown."""
    for row, record in explained:
        stored = json.loads(row["alternatives"])
        chosen = [a["source"] for a in stored if a["chosen"]]
        ranked = chosen + [a["source"] for a in stored if not a["chosen"]]
        shown = [a.source for a in record.alternatives]
        assert shown == ranked[: len(shown)] and len(shown) <= len(chosen) + TOP_ALTERNATIVES
        assert len(shown) + record.more_alternatives == len(stored)
        assert [a.source for a in record.alternatives if a.chosen] == chosen
        table = record.alternative_rows()
        assert [r["verdict"] for r in table] == [a.verdict for a in record.alternatives]
        best = next((a for a in record.alternatives if a.chosen), None)
        for a in record.alternatives:  # a cost difference is the one of the costs shown
            more = re.fullmatch(r"costs (\d+\.\d\d) more per unit", a.verdict)
            if more and best is not None:
                gap = _shown(money(a.cost_per_unit)) - _shown(money(best.cost_per_unit))
                assert _shown(more[1]) == round(gap, 2)
        for a in record.alternatives[:3]:
            if not a.chosen:
                assert (
                    f"{a.source} ({a.kind}, {money(a.cost_per_unit)} a unit" in (row["explanation"])
                )


def test_explaining_again_rewrites_only_what_is_asked(planned):
    one = planned.scalar("SELECT min(action_id) FROM actions WHERE plan_run IS NOT NULL")
    planned.cursor().execute("UPDATE actions SET explanation = 'x' WHERE action_id = ?", [one])
    assert explain_actions(planned) == 0  # every proposal has one already
    assert explain_actions(planned, [one]) == 1
    assert planned.scalar("SELECT explanation FROM actions WHERE action_id = ?", [one]) != "x"
    assert explanation_of(planned, one).action_id == one


def test_a_record_this_version_cannot_read_falls_back_to_the_text(planned):
    one = planned.scalar("SELECT max(action_id) FROM actions WHERE explanation_record IS NOT NULL")
    planned.cursor().execute(
        "UPDATE actions SET explanation_record = '{\"figures\": 1}' WHERE action_id = ?", [one]
    )
    assert explanation_of(planned, one) is None
    explain_actions(planned, [one])
    assert explanation_of(planned, one).action_id == one


@given(
    st.decimals(min_value=0, max_value=100_000, places=4, allow_nan=False),
    st.integers(min_value=1, max_value=1_000_000),
)
def test_a_unit_price_is_shown_to_the_last_decimal_it_has(price, quantity):
    """Units x the price as shown is the amount to the cent, for any price of up to four
    decimals (lane costs and supplier prices are stored so)."""
    shown = per_unit(float(price))
    assert re.fullmatch(r"\d{1,3}(,\d{3})*\.\d{2,4}", shown)
    assert _shown(shown) == float(price)
    assert money(round(quantity * float(price), 2)) == money(quantity * _shown(shown))


def test_a_safety_stock_is_shown_to_the_decimals_its_rounding_needs():
    """17.04 shows as 17.0 in the formula: the rounding up to 18 says 17.04."""
    base = {"location": "X", "formula": "SS = ... = 17.0", "lead_time_days": 2.0}
    base |= {"cycle_days": 1, "cycle": "departure", "z": 1.0, "daily_demand": 1.0}
    base |= {"daily_demand_sd": 1.0, "lead_time_sd_days": 0.0, "lead_time_only": 1.0}
    assert SafetyStock(units=18, result=17.04, **base).rounding() == " (17.04), rounded up to 18"
    assert SafetyStock(units=18, result=17.4, **base).rounding() == ", rounded up to 18"
    assert SafetyStock(units=17, result=17.0, **base).rounding() == ""
    assert (
        SafetyStock(units=18, result=17.0004, **base).rounding() == " (17.0004), rounded up to 18"
    )


def test_a_departure_of_several_trucks_shares_all_of_them():
    part = CostPart("lane_fixed", "share of the lane's fixed cost", 216.0, 144, None, 300.0, 2, 400)
    assert (
        part.phrase()
        == "share of the lane's fixed cost 2 trucks x 300.00 x 144 / 400 units = 216.00"
    )


def test_whole_units_never_show_minus_zero():
    assert whole(-0.4) == "0" and whole(1234.5) == "1,234" and whole(-12.6) == "-13"
    assert money(-0.0) == money(-0.001) == "0.00" and money(1234.5) == "1,234.50"


# -- a worked example on the tiny network --------------------------------------------------------
WORKED = """\
Why: CD-RDC faces 70 units of demand in the 7 days from 2024-03-03; projected stock the day before: 20, safety stock: 8.
If nothing is done: CD-RDC runs out on 2024-03-05, 10 units short by 2024-03-05 (40.00 of sales at risk).
With it: runs out on 2024-03-19, after an order placed today could arrive.
Cost: 106.40 (transport 144 x 0.20 = 28.80; share of the lane's fixed cost 80.00 x 144 / 200 units = 57.60; handling 20.00).
Alternatives (cost a unit as the plan compared them): SH-CDC (central DC, 1.10 a unit, arrives 2024-03-06): arrives 2024-03-06, 3 days later.
Safety stock at CD-RDC: 8 units, the policy over the lead time plus the days to the next departure (4 + 1 days): SS = z * sqrt(LT * sigma_d^2 + d^2 * sigma_LT^2) = 1.645 * sqrt(5 * 2.000^2 + 10.000^2 * 0^2) = 7.4, rounded up to 8 (over the lead time alone: 6.6)."""  # noqa: E501


WORKED_SETTINGS = Settings(
    policies=PolicySettings(history_days=28, service_levels={}, default_service_level=0.95)
)
WORKED_NEED = Need("CD-RDC", day(2), 7, 70, 0, 20, 8)


def _worked_plan(store: Store) -> int:
    """The worked example's data and plan (see the test below); returns the drafted action."""
    from control_tower import actions

    post(store, mv("R-A-CD", 0, "A-100", "CD-RDC", "receipt", 30, hour=6))
    post(store, mv("R-A-CQ", -30, "A-100", "CQ-RDC", "receipt", 400))
    add_demand(store, [("A-100", "CD-RDC", day(-i), 12 if i % 2 == 0 else 8) for i in range(28)])
    alternatives = [
        {"source": "CQ-RDC", "source_kind": "neighbour", "cost_per_unit": 0.6,
         "arrival_date": str(day(2)), "spare_stock": 300, "chosen": True, "verdict": "chosen"},
        {"source": "SH-CDC", "source_kind": "central DC", "cost_per_unit": 1.1,
         "arrival_date": str(day(5)), "spare_stock": 500, "chosen": False,
         "verdict": "arrives 2024-03-06, 3 days later"},
    ]  # fmt: skip
    stock = [20] + [154 - 10 * t for t in range(13)]  # end of plan days 0..13
    with store.transaction() as cur:
        (run,) = cur.execute(
            "INSERT INTO plan_runs (created_by, as_of, horizon, review_days, what_if, settings, "
            "status, method, message, build_s, solve_s, sku_count, location_count, costs, kpis, "
            "notes) VALUES ('optimizer', ?, 14, 7, '{}', '{\"transfer_every_days\": 1}', "
            "'optimal', 'by hand', '', 0, 0, 2, 3, '{}', '{}', '[]') RETURNING run_id",
            [AS_OF],
        ).fetchone()
        cur.executemany(
            "INSERT INTO plan_lines VALUES (?, ?, 'transfer', 'neighbour', ?, 'CQ-RDC', "
            "'CD-RDC', NULL, ?, ?, ?, ?, 0.2, 0, ?, ?, ?)",
            [
                [run, 1, "A-100", 144, day(1), day(2), True, 144 * 0.2 + 20,
                 WORKED_NEED.sentence(), json.dumps(alternatives)],
                [run, 2, "B-200", 56, day(1), day(2), False, 56 * 0.2 + 20, "", "[]"],
            ],
        )  # fmt: skip
        cur.executemany(
            "INSERT INTO plan_projection VALUES (?, 'A-100', 'CD-RDC', ?, 10, 10, ?)",
            [[run, day(1 + t), units] for t, units in enumerate(stock)],
        )
        assert actions.propose_plan_lines(cur, run, AS_OF, "optimizer", None) == 1
    return store.scalar("SELECT action_id FROM actions")


def test_a_worked_transfer_from_a_neighbour(network):
    """CD-RDC holds 30 of A-100 (4.00) and has sold 8 and 12 on alternate days (10 a day,
    sd 2); the central DC is 4 days away. A plan (as of 2024-03-01, 14 days, a week's review)
    sends 144 from the neighbour CQ-RDC on 2024-03-02, arriving the next day; 56 of B-200 ride
    the same departure, so the lane's fixed 80.00 is shared 144 / 200.

    - Why: days 2024-03-03..09 hold 7 x 10 = 70 of demand; 30 - 10 = 20 left the day before.
    - Without it: stock 30 - 10 t ends below zero on day 4 (2024-03-05); nothing is on the
      way, so it is short until an order placed today could arrive (the 4-day lane): 10
      units, 10 x 4.00 = 40.00 of sales at risk. With it: 30 + 144 = 174 lasts until day 18 (2024-03-19),
      after an order could arrive.
    - Cost: 144 x 0.20 = 28.80, 80.00 x 144 / 200 = 57.60, handling 20.00: 106.40.
    - Safety stock: z(0.95) = 1.645 over 4 + 1 days: 1.645 x sqrt(5 x 2^2) = 7.36, rounded up
      to 8; over the 4 days alone 1.645 x sqrt(4 x 2^2) = 6.58."""
    action_id = _worked_plan(network)
    assert explain_actions(network, settings=WORKED_SETTINGS) == 1
    assert network.scalar("SELECT explanation FROM actions") == WORKED
    record = explanation_of(network, action_id)
    assert record.need == WORKED_NEED
    assert record.without == Outlook(day(4), 10, None, 30 - 280, 4.0, 40.0, day(4))
    assert record.with_it == Outlook(day(18), 0, None, 174 - 280, 4.0, 0.0)
    assert [(p.item, p.amount) for p in record.costs] == [
        ("transport", 28.8),
        ("lane_fixed", 57.6),
        ("handling", 20.0),
    ]
    assert record.total_cost == 106.4
    z = NormalDist().inv_cdf(0.95)
    assert record.safety.result == pytest.approx(z * math.sqrt(5 * 4))
    assert record.safety.lead_time_only == pytest.approx(z * math.sqrt(4 * 4))
    assert build_explanations(network, [action_id], WORKED_SETTINGS) == [record]


def test_a_safety_stock_a_planner_set_is_shown_as_set_and_rounded_up(network):
    """The same plan with CD-RDC's safety stock set to 12.5 by a planner: 13 units held."""
    action_id = _worked_plan(network)
    set_override(network, "A-100", "CD-RDC", "safety_stock", 12.5, reason="promo", changed_by="li")
    explain_actions(network, settings=WORKED_SETTINGS)
    record = explanation_of(network, action_id)
    assert record.safety.overridden and record.safety.units == record.need.safety_stock == 13
    line = network.scalar("SELECT explanation FROM actions").splitlines()[-1]
    assert line.startswith(
        "Safety stock at CD-RDC: 13 units, as a planner set it (override: safety_stock = 12.5 "
        "(by li at "
    )
    assert line.endswith(": promo)), rounded up to 13.")
