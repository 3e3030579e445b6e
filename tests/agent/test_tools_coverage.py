"""The agent's coverage tools over a copy of the planned demo: KPIs, rankings and
comparisons, transfers and orders, VMI and money, filters and action status. Each tool's
figures are the core's (recomputed here from the services or the store), every list says
how many rows there are in all, and bad arguments are refused with what was wrong."""

from __future__ import annotations

from datetime import date

import pytest

from agents.tools import TOOLS, ToolContext, ToolError, run_tool
from control_tower import actions, exceptions, explain, kpis, position, vmi
from control_tower.actions import Actor
from control_tower.config import Settings
from control_tower.store import Store
from tests.conftest import copy_of
from tests.test_insights import served_over

PLANNER = Actor("li.planner", "planner")
NEW_TOOLS = (
    "kpi",
    "rank",
    "compare",
    "suggested_transfers",
    "transfer_cost",
    "plan_why",
    "suggested_orders",
    "consigned_stock",
    "supplier_owed",
    "settlement",
    "late_inbound",
    "excess_dead",
    "supplier_performance",
    "action_status",
)


@pytest.fixture(scope="module")
def planned(planned_demo_path, tmp_path_factory):
    path = copy_of(planned_demo_path, tmp_path_factory.mktemp("coverage"), exception_run=True)
    with Store(path) as s:
        yield s


@pytest.fixture
def ctx(planned):
    return ToolContext(planned, actor=PLANNER)


def _transfer_action(store: Store) -> dict:
    frame = actions.list_actions(store, statuses=["proposed"])
    frame = frame.filter(frame["kind"] == "transfer").sort("action_id")
    return frame.row(0, named=True)


def test_every_coverage_tool_is_registered_read_only():
    for name in NEW_TOOLS:
        assert name in TOOLS and not TOOLS[name].writes, name
        assert TOOLS[name].description, name


def test_this_months_fill_rate_against_the_same_days_of_last_month(ctx, planned):
    result = run_tool(ctx, "kpi", {"metric": "fill_rate", "period": "this_month"})
    p = result.data["period"]
    demand, served = served_over(
        planned, *map(date.fromisoformat, (p["current"]["start"], p["current"]["end"]))
    )
    assert result.data["value"] == pytest.approx(served / demand)
    assert result.data["scope"] == "network"
    assert "month to date" in p["definition"]
    assert f"{served / demand * 100:.1f}%" in result.facts[0]


def test_a_ranking_tops_with_the_cores_figure_and_says_how_many_more(ctx, planned):
    result = run_tool(ctx, "rank", {"measure": "stockouts", "by": "location", "top_n": 1})
    top = result.data["rows"][0]
    items = exceptions.list_exceptions(planned, rules=["stockout"], locations=[top["key"]])
    assert top["value"] == items.height
    assert result.data["total"] > result.data["shown"] == 1
    value = run_tool(ctx, "rank", {"measure": "stock_value", "by": "region", "order": "highest"})
    truth = kpis.stock_value_by(planned, "region")
    assert value.data["rows"][0]["value"] == pytest.approx(truth["stock_value"][0])
    best = run_tool(ctx, "rank", {"measure": "on_time_rate", "by": "supplier", "order": "best"})
    rates = [r["value"] for r in best.data["rows"] if r["value"] is not None]
    assert rates == sorted(rates, reverse=True)


def test_a_comparison_reads_the_rankings_figures(ctx):
    ranking = run_tool(ctx, "rank", {"measure": "fill_rate", "by": "location", "top_n": 50})
    rows = {r["key"]: r["value"] for r in ranking.data["rows"]}
    a, b = sorted(rows)[:2]
    result = run_tool(ctx, "compare", {"measure": "fill_rate", "entities": [a, b]})
    assert [r["value"] for r in result.data["rows"]] == [rows[a], rows[b]]
    better = a if rows[a] >= rows[b] else b
    assert result.data["better_entity"] in (better, None)


def test_suggested_transfers_carry_the_plans_lines_and_action_numbers(ctx, planned):
    action = _transfer_action(planned)
    result = run_tool(ctx, "suggested_transfers", {"to_location": action["to_location"]})
    assert action["action_id"] in [r["action_id"] for r in result.data["rows"]] or (
        result.data["total"] > result.data["shown"]
    )
    lines = planned.scalar(
        "SELECT count(*) FROM plan_lines WHERE kind = 'transfer' AND to_location = ?",
        [action["to_location"]],
    )
    assert result.data["total"] == lines
    for r in result.data["rows"]:
        assert r["to_location"] == action["to_location"]
        if r["action_id"]:
            assert actions.get_action(planned, r["action_id"])["quantity"] == r["quantity"]


def test_a_moves_cost_is_transport_a_trucks_fixed_cost_and_handling(ctx, planned):
    action = _transfer_action(planned)
    origin, destination = action["from_location"], action["to_location"]
    per_unit, fixed = planned.rows(
        "SELECT cost_per_unit::DOUBLE, fixed_cost::DOUBLE FROM lanes "
        "WHERE from_location = ? AND to_location = ?",
        [origin, destination],
    )[0]
    result = run_tool(
        ctx,
        "transfer_cost",
        {"from_location": origin, "to_location": destination, "quantity": 300},
    )
    handling = Settings().policies.transfer_line_cost
    assert result.data["cost"]["total"] == pytest.approx(300 * per_unit + fixed + handling)
    planned_qty = run_tool(
        ctx,
        "transfer_cost",
        {"from_location": origin, "to_location": destination, "sku": action["sku"]},
    )
    assert planned_qty.data["quantity"] == action["quantity"]
    assert planned_qty.data["quantity_basis"] == "the plan's quantity"


def test_why_the_plan_sends_it_is_the_actions_explanation(ctx, planned):
    action = _transfer_action(planned)
    result = run_tool(
        ctx,
        "plan_why",
        {
            "sku": action["sku"],
            "from_location": action["from_location"],
            "to_location": action["to_location"],
        },
    )
    row = result.data["rows"][0]
    assert row["action_id"] == action["action_id"]
    record = explain.explanation_of(planned, action["action_id"])
    assert [line["text"] for line in row["lines"]] == [t for _, t in record.lines()]
    assert row["total_cost"] == pytest.approx(record.total_cost)
    by_number = run_tool(ctx, "plan_why", {"action_id": action["action_id"]})
    assert by_number.data["rows"][0]["why"] == record.why()


def test_suggested_orders_show_the_suppliers_terms(ctx, planned):
    sku, supplier = planned.rows(
        "SELECT sku, supplier FROM plan_lines WHERE kind = 'order' ORDER BY line_no LIMIT 1"
    )[0]
    result = run_tool(ctx, "suggested_orders", {"sku": sku})
    assert result.data["total"] >= 1
    row = next(r for r in result.data["rows"] if r["supplier"] == supplier)
    moq = planned.scalar(
        "SELECT moq FROM supplier_products WHERE sku = ? AND supplier = ?", [sku, supplier]
    )
    assert row["moq"] == moq


def test_consigned_stock_and_what_we_owe_recompute_from_the_ledger_and_payables(ctx, planned):
    site = planned.scalar("SELECT code FROM locations WHERE kind = 'vmi' LIMIT 1")
    result = run_tool(ctx, "consigned_stock", {"location": site})
    held = vmi.ownership(planned).filter(vmi.ownership(planned)["location"] == site)
    assert result.data["units"] == held["consigned"].sum()
    supplier = planned.scalar("SELECT code FROM suppliers WHERE vmi LIMIT 1")
    owed = run_tool(ctx, "supplier_owed", {"supplier": supplier})
    lines = vmi.payables(planned, PLANNER, supplier, unsettled_only=True)
    assert owed.data["owed"] == pytest.approx(lines["amount"].sum())
    assert owed.data["lines_total"] == lines.height
    assert sum(r["amount"] for r in owed.data["by_product"]["rows"]) == pytest.approx(
        lines["amount"].sum()
    )
    with pytest.raises(ToolError, match="sign in"):
        run_tool(ToolContext(planned), "supplier_owed", {"supplier": supplier})


def test_last_months_settlement_is_the_statement_of_that_month(ctx, planned):
    supplier = planned.scalar("SELECT code FROM suppliers WHERE vmi LIMIT 1")
    result = run_tool(ctx, "settlement", {"supplier": supplier, "period": "last_month"})
    first, last = vmi.month_period(planned.as_of())
    for s in result.data["statements"]:
        assert (s["period_start"], s["period_end"]) == (str(first), str(last))
    latest = run_tool(ctx, "settlement", {})
    assert latest.data["total"] == planned.scalar(
        "SELECT count(DISTINCT supplier) FROM settlement_statements"
    )


def test_late_inbound_filtered_by_supplier_counts_its_lines(ctx, planned):
    late = position.inbound(planned).filter(position.inbound(planned)["days_late"] > 0)
    supplier = late.filter(late["supplier"].is_not_null())["supplier"][0]
    result = run_tool(ctx, "late_inbound", {"supplier": supplier, "top": 1})
    mine = late.filter(late["supplier"] == supplier)
    assert result.data["total"] == mine.height
    assert result.data["value"] == pytest.approx(mine["value"].sum())
    assert result.data["shown"] == 1
    none = run_tool(ctx, "late_inbound", {"supplier": supplier, "kind": "transfer"})
    assert none.data["total"] == 0 and none.data["rows"] == []


def test_dead_stock_by_region_and_suppliers_best_and_worst(ctx, planned):
    result = run_tool(ctx, "excess_dead", {"kind": "dead", "measure": "units"})
    dead = kpis.dead_stock(planned)
    assert result.data["value"] == pytest.approx(dead["stock_value"].sum())
    units = [r["units"] for r in result.data["rows"]]
    assert units == sorted(units, reverse=True)
    perf = run_tool(ctx, "supplier_performance", {"measure": "on_time_rate"})
    rates = {r["key"]: r["on_time_rate"] for r in perf.data["rows"] if r["on_time_rate"]}
    assert perf.data["worst"] == min(rates, key=rates.get)
    assert perf.data["best"] == max(rates, key=rates.get)


def test_an_actions_status_says_who_approved_it_and_when(ctx, planned):
    waiting = run_tool(ctx, "action_status", {})
    assert waiting.data["total"] == actions.list_actions(planned, statuses=["proposed"]).height
    action = _transfer_action(planned)
    actions.approve(planned, action["action_id"], Actor("wang.approver", "approver"))
    result = run_tool(ctx, "action_status", {"action_id": action["action_id"]})
    assert result.data["status"] == "approved"
    assert result.data["approved_by"] == "wang.approver"
    assert "approved by wang.approver" in result.text()


def test_bad_arguments_are_refused_with_what_was_wrong(ctx):
    with pytest.raises(ToolError, match="top_n: Input should be less than or equal to 50"):
        run_tool(ctx, "rank", {"measure": "stockouts", "top_n": 51})
    with pytest.raises(ToolError, match="metric: Input should be"):
        run_tool(ctx, "kpi", {"metric": "happiness"})
    with pytest.raises(ToolError, match="no product with SKU 'NOPE-1'"):
        run_tool(ctx, "suggested_transfers", {"sku": "NOPE-1"})
    with pytest.raises(ToolError, match="no location 'XX-1'"):
        run_tool(ctx, "late_inbound", {"location": "XX-1"})
    with pytest.raises(ToolError, match="no supplier 'SUP-NONE'"):
        run_tool(ctx, "supplier_owed", {"supplier": "SUP-NONE"})
    with pytest.raises(ToolError, match="narrow to one of"):
        run_tool(ctx, "kpi", {"metric": "fill_rate", "location": "RDC-BJ", "category": "Snacks"})
    with pytest.raises(ToolError, match="on-time rate is kept for a supplier, a location"):
        run_tool(ctx, "kpi", {"metric": "on_time_rate", "category": "Snacks"})
    with pytest.raises(ToolError, match="compare entities of one kind"):
        run_tool(ctx, "compare", {"measure": "stock_value", "entities": ["RDC-BJ", "SUP-JNB"]})
    # a move with no lane is answered as such, with where stock can come from instead
    none = run_tool(ctx, "transfer_cost", {"from_location": "RDC-BJ", "to_location": "VMI-KS"})
    into = ctx.store.rows("SELECT from_location FROM lanes WHERE to_location = 'VMI-KS'")
    assert none.data["lane"] is None and sorted(none.data["lanes_into"]) == sorted(
        r[0] for r in into
    )
    assert none.facts[0].startswith("No lane from RDC-BJ to VMI-KS; lanes into VMI-KS come from")


def test_stock_outs_waiting_for_a_late_line_are_those_a_late_line_feeds(ctx, planned):
    items = exceptions.list_exceptions(planned)
    late = {
        (r["sku"], r["location"])
        for r in items.filter(items["rule"] == "late_inbound").iter_rows(named=True)
    }
    stockouts = items.filter(items["rule"] == "stockout")
    expected = sum((r["sku"], r["location"]) in late for r in stockouts.iter_rows(named=True))
    result = run_tool(ctx, "list_exceptions", {"rule": "stockout", "with_late_inbound": True})
    assert result.data["total"] == expected
    assert all((r["sku"], r["location"]) in late for r in result.data["rows"])
    assert "waiting for a late inbound line" in result.facts[0]


def test_consigned_lines_outside_their_levels_are_those_the_vmi_levels_flag(ctx, planned):
    levels = vmi.levels(planned)
    below = levels.filter(levels["status"] == "below min")
    result = run_tool(ctx, "consigned_stock", {"levels": "below min", "top": 50})
    assert result.data["total"] == below.height
    assert {r["status"] for r in result.data["rows"]} <= {"below min"}
    either = run_tool(ctx, "consigned_stock", {"levels": "outside", "top": 50})
    assert (
        either.data["total"]
        == levels.filter(levels["status"].is_in(["below min", "above max"])).height
    )


def test_waiting_actions_narrow_to_a_supplier_a_product_and_a_place(ctx, planned):
    waiting = actions.list_actions(planned, statuses=["proposed"])
    order = waiting.filter(waiting["kind"] == "purchase_order").row(0, named=True)
    mine = run_tool(ctx, "action_status", {"supplier": order["supplier"]})
    assert mine.data["total"] == waiting.filter(waiting["supplier"] == order["supplier"]).height
    move = _transfer_action(planned)
    there = run_tool(ctx, "action_status", {"location": move["to_location"], "sku": move["sku"]})
    ids = [r["action_id"] for r in there.data["rows"]]
    assert move["action_id"] in ids
    with pytest.raises(ToolError, match="no supplier 'SUP-NONE'"):
        run_tool(ctx, "action_status", {"supplier": "SUP-NONE"})


def test_a_suppliers_delay_at_one_destination_and_earliest_first(ctx, planned):
    supplier = planned.scalar(
        "SELECT supplier FROM purchase_orders WHERE status = 'open' GROUP BY 1 ORDER BY count(*) "
        "DESC LIMIT 1"
    )
    everywhere = run_tool(ctx, "supplier_delay_what_if", {"supplier": supplier, "days": 14})
    place = everywhere.data["rows"][0]["location"]
    there = run_tool(
        ctx,
        "supplier_delay_what_if",
        {"supplier": supplier, "days": 14, "location": place, "first": "date", "top": 50},
    )
    assert {r["location"] for r in there.data["rows"]} == {place}
    dates = [r["stockout_date_delayed"] for r in there.data["rows"]]
    known = [d for d in dates if d is not None]
    assert known == sorted(known)
    assert there.data["hit"] <= everywhere.data["hit"]


def test_the_transfers_shown_are_costed_together_each_measure_apart(ctx):
    result = run_tool(ctx, "suggested_transfers", {"top": 20})
    rows = result.data["rows"]
    cards = [r["total_cost"] for r in rows if r["total_cost"] is not None]
    lines = [r["cost"] for r in rows if r["total_cost"] is None and r.get("cost") is not None]
    assert result.data["costed"] == len(cards) and result.data["planned"] == len(lines)
    if cards:
        assert result.data["shown_cost"] == pytest.approx(sum(cards))
    if lines:
        assert result.data["planned_cost"] == pytest.approx(sum(lines))
    assert cards or lines  # the demo's plan suggests transfers
