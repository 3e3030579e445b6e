"""Conversations as managers hold them, end to end on a copy of the planned demo: a plural
follow-up over the list before ("这几个 SKU 的 EOQ"), the status of the plan line just
shown, one region against the whole network, a supplier's record over the span asked, stock
pulled out of a place, the largest orders at cost, transfers into a region and what they
cost together, and why excess stays where it is. Every figure checked against the core."""

from __future__ import annotations

import pytest

from agents import understand
from agents.agent import ask
from agents.tools import ToolContext, run_tool
from control_tower import actions, insights
from control_tower.config import Settings
from control_tower.store import Store
from tests.conftest import copy_of


@pytest.fixture(scope="module")
def planned(planned_demo_path, tmp_path_factory):
    path = copy_of(planned_demo_path, tmp_path_factory.mktemp("talk"), exception_run=True)
    with Store(path) as s:
        yield s


def tool(store: Store, name: str, **args):
    return run_tool(ToolContext(store, Settings(), None), name, args)


def test_these_skus_after_a_list_asks_each_listed_product(planned):
    orders = tool(planned, "suggested_orders", top=50).data["rows"]
    by_supplier: dict[str, list[str]] = {}
    for row in orders:
        by_supplier.setdefault(row["supplier"], []).append(row["sku"])
    supplier = max(by_supplier, key=lambda s: len(set(by_supplier[s])))
    assert len(set(by_supplier[supplier])) >= 2  # a list of several products to point at
    listed = ask(planned, f"which orders does the plan suggest for {supplier}?", session="eoq")
    assert listed.intent == "order_suggest"
    shown = listed.calls[0].args
    assert shown["supplier"] == supplier
    rows = tool(planned, "suggested_orders", **shown).data["rows"]
    skus = list(dict.fromkeys(r["sku"] for r in rows))[: understand.PLURAL_ROWS]
    each = ask(planned, "这几个 SKU 的 EOQ 分别多少", session="eoq")
    assert each.intent == "policy" and each.plan.metric == "eoq" and each.lang == "zh"
    assert each.plan.products == tuple(skus)
    asked = [c.args["sku"] for c in each.calls if c.tool == "explain_policy"]
    assert asked == skus
    # a row per product, each product's EOQ as the core computes it
    for sku, call in zip(skus, [c for c in each.calls if c.tool == "explain_policy"], strict=True):
        truth = tool(planned, "explain_policy", **call.args).data["eoq"]
        assert f"{truth:,.0f}" in each.text
        assert sku in each.text
    assert each.grounded


def test_has_that_transfer_been_approved_is_the_status_of_the_line_shown(planned):
    lines = tool(planned, "suggested_transfers", top=50).data["rows"]
    line = next(x for x in lines if x.get("action_id") is None)  # a plan line, not proposed
    sku, src, dst = line["sku"], line["from_location"], line["to_location"]
    shown = ask(planned, f"what transfer do you suggest for {sku} into {dst}?", session="st")
    assert shown.intent == "transfer_suggest"
    status = ask(planned, "has that transfer been approved yet?", session="st")
    assert status.intent == "action_status"
    calls = [c for c in status.calls if c.tool == "action_status"]
    assert {c.args["status"] for c in calls} == {"proposed", "approved", "posted", "rejected"}
    args = calls[0].args
    assert (args["sku"], args["from_location"], args["to_location"]) == (sku, src, dst)
    frame = actions.list_actions(planned, statuses=["proposed", "approved", "posted", "rejected"])
    frame = frame.filter(
        (frame["sku"] == sku) & (frame["from_location"] == src) & (frame["to_location"] == dst)
    )
    lead = status.text.split("\n")[0]
    if frame.height == 0:
        assert lead.startswith("No action") and "proposed" in lead
    else:
        assert lead.startswith("Actions") and status.table["total"] == frame.height
        shown = {int(row[0]) for row in status.table["rows"]}
        assert shown <= set(frame["action_id"].to_list())
    assert status.grounded


def test_one_region_against_the_network_average(planned):
    regions = [r for (r,) in planned.rows("SELECT DISTINCT region FROM locations ORDER BY 1")]
    region = next(
        r
        for r in regions
        if insights.kpi(planned, "fill_rate", "this_month", scope=insights.Scope(region=r))["value"]
        is not None
    )
    answer = ask(
        planned, f"How does {region} stack up against the network average on fill rate this month?"
    )
    assert answer.intent == "compare" and answer.plan.filters.get("against") == "network"
    kpis = [c for c in answer.calls if c.tool == "kpi"]
    assert len(kpis) == 2 and kpis[0].args.get("region") and not kpis[1].args.get("region")
    mine = insights.kpi(planned, "fill_rate", "this_month", scope=insights.Scope(region=region))
    whole = insights.kpi(planned, "fill_rate", "this_month")
    lead = answer.text.split("\n")[0]
    assert f"{mine['value']:.1%}" in lead and f"{whole['value']:.1%}" in lead
    word = "behind" if mine["value"] < whole["value"] else "ahead of"
    if mine["value"] != whole["value"]:
        assert word in lead
    assert answer.grounded


def test_a_suppliers_record_over_the_span_asked(planned):
    supplier = planned.scalar("SELECT code FROM suppliers ORDER BY code LIMIT 1")
    answer = ask(planned, f"{supplier} 最近三个月的准时交货率是多少")
    assert answer.intent == "supplier_performance"
    call = next(c for c in answer.calls if c.tool == "supplier_performance")
    assert call.args["days"] == 90 and call.args["supplier"] == supplier
    frame, info = insights.measure_by(planned, "lead_time", "supplier", window_days=90)
    assert info["window_days"] == 90
    row = frame.filter(frame["key"] == supplier).row(0, named=True)
    if row["on_time_rate"] is not None:
        assert f"{row['on_time_rate']:.1%}" in answer.text
    assert "90" in answer.text.split("\n")[0]


def test_stock_pulled_out_of_a_place_is_fewer_units_there(planned):
    sku, loc = planned.rows(
        "SELECT l.sku, l.location FROM ledger l JOIN locations c ON c.code = l.location "
        "WHERE c.kind = 'regional_dc' GROUP BY ALL HAVING sum(l.quantity) > 100 "
        "ORDER BY sum(l.quantity) DESC LIMIT 1"
    )[0]
    answer = ask(planned, f"what if we pull 100 units of {sku} out of {loc}, does it run out?")
    assert answer.intent == "what_if"
    call = next(c for c in answer.calls if c.tool == "simulate_what_if")
    assert call.args["units"] == -100 and call.args["location"] == loc
    assert "100 fewer units" in answer.text and answer.grounded


def test_the_largest_suggested_orders_at_cost_first(planned):
    answer = ask(planned, "which purchase orders does the plan suggest? top three by value")
    assert answer.intent == "order_suggest"
    call = next(c for c in answer.calls if c.tool == "suggested_orders")
    assert call.args["sort"] == "value" and call.args["top"] == 3
    every = tool(planned, "suggested_orders", top=50).data["rows"]
    values = sorted(
        (round(r["quantity"] * r["unit_price"], 2) for r in every if r["unit_price"] is not None),
        reverse=True,
    )
    assert f"{values[0]:,.2f}" in answer.text.split("\n")[0] and answer.grounded
    shown = [float(row[3].replace(",", "")) for row in answer.table["rows"]]
    assert shown == values[:3]  # the three largest, largest first


def test_transfers_into_a_region_and_what_they_cost_together(planned):
    lines = tool(planned, "suggested_transfers", top=50).data["rows"]
    region_of = dict(planned.rows("SELECT code, region FROM locations"))
    counts: dict[str, int] = {}
    for x in lines:
        counts[region_of[x["to_location"]]] = counts.get(region_of[x["to_location"]], 0) + 1
    region = max(counts, key=counts.get)
    into = {c for c, r in region_of.items() if r == region}
    english = region.split(" ")[0] + " " + region.split(" ")[1]  # "North China 华北"
    shown = ask(planned, f"what transfers does the plan suggest into {english}?", session="rg")
    assert shown.intent == "transfer_suggest"
    call = next(c for c in shown.calls if c.tool == "suggested_transfers")
    assert insights.region(planned, call.args["region"]) == region
    listed = tool(planned, "suggested_transfers", **call.args).data
    each = sum(tool(planned, "suggested_transfers", to_location=c).data["total"] for c in into)
    assert listed["total"] == each
    assert all(r["to_location"] in into for r in listed["rows"])
    if listed["total"] >= 2:
        cost = ask(planned, "what would those moves cost all in?", session="rg")
        assert cost.intent == "transfer_cost"
        again = next(c for c in cost.calls if c.tool == "suggested_transfers")
        assert again.args["region"] == call.args["region"]  # the list as asked, not the whole
        assert cost.grounded


def test_why_excess_stays_where_it_is(planned):
    rows = tool(planned, "excess_dead", kind="both", top=10).data["rows"]
    if not rows:
        pytest.skip("the demo holds no excess or dead stock")
    loc = rows[0]["location"]
    listed = ask(planned, f"how much excess and dead stock is sitting at {loc}?", session="ex")
    assert listed.intent == "excess_dead"
    why = ask(planned, "why isn't the plan moving any of it out?", session="ex")
    assert why.intent == "plan_why"
    tools_used = {c.tool for c in why.calls}
    assert {"excess_dead", "suggested_transfers"} <= tools_used
    assert "only where another place is projected to run short" in why.text
    assert why.grounded


def test_a_stage_number_before_a_shelf_is_no_typo(planned):
    assert understand._norm("奶粉3段货架空了") == "奶粉3段货架空了"
    assert understand._norm("奶粉段货了") == "奶粉断货了"


def test_two_questions_in_one_turn_are_both_answered(planned):
    from control_tower import exceptions

    row = exceptions.list_exceptions(planned, rules=["stockout"]).row(0, named=True)
    sku, loc = row["sku"], row["location"]
    answer = ask(planned, f"{sku} 在 {loc} 现在还有多少库存？顺便看下下周会不会断", session="two")
    assert answer.plan.intent == "stock_level" and answer.context.intent == "stockout_item"
    tools_used = [c.tool for c in answer.calls]
    assert "get_position" in tools_used and "simulate_what_if" in tools_used
    projected = exceptions.project(planned, sku, loc)
    first, second = answer.text.split("\n\n")[:2]
    available = tool(planned, "get_position", sku=sku, location=loc).data[0]["available"]
    assert f"{available:,.0f}" in first
    assert str(projected.stockout_date) in answer.text and "断货" in second
    assert answer.grounded and answer.run_id is not None
    # the next turn builds on the second question
    after = ask(planned, "那要补多少", session="two")
    assert after.plan.follow_up and after.plan.products == (sku,)


def test_what_a_supplier_still_has_to_deliver(planned):
    from control_tower import position

    lines = position.inbound(planned)
    supplier = lines.filter(lines["supplier"].is_not_null())["supplier"].mode()[0]
    answer = ask(planned, f"what POs from {supplier} are still open, not delivered yet?")
    assert answer.intent == "late_inbound" and answer.plan.filters.get("open") is True
    call = next(c for c in answer.calls if c.tool == "late_inbound")
    assert call.args["open"] is True and call.args["supplier"] == supplier
    theirs = lines.filter(lines["supplier"] == supplier)
    late = theirs.filter(theirs["days_late"] > Settings().exceptions.late_grace_days)
    lead = answer.text.split("\n")[0]
    assert lead.startswith(f"{theirs.height:,} inbound lines")
    assert f"{late.height:,} of them late" in lead and answer.grounded


def test_why_a_product_runs_out_where_the_plan_sends_nothing(planned):
    from control_tower import exceptions

    frame = exceptions.list_exceptions(planned, rules=["stockout"])
    planned_into = {
        (x["sku"], x["to_location"])
        for x in tool(planned, "suggested_transfers", top=50).data["rows"]
    }
    row = next(
        r for r in frame.iter_rows(named=True) if (r["sku"], r["location"]) not in planned_into
    )
    sku, loc = row["sku"], row["location"]
    answer = ask(planned, f"why does {sku} run out at {loc}? didn't the plan order it in time?")
    assert answer.intent == "plan_why"
    projected = exceptions.project(planned, sku, loc)
    lead = answer.text.split("\n")[0]
    assert str(projected.stockout_date) in lead and sku in lead
    assert {"simulate_what_if", "get_position", "suggested_orders"} <= {
        c.tool for c in answer.calls
    }
    assert answer.grounded


def test_a_turn_goes_back_past_the_turn_before(planned):
    skus = [s for (s,) in planned.rows("SELECT sku FROM products ORDER BY sku LIMIT 2")]
    loc = planned.scalar("SELECT code FROM locations WHERE kind = 'regional_dc' ORDER BY code")
    first = ask(planned, f"forecast for {skus[0]} at {loc} next 2 weeks", session="back")
    assert first.intent == "forecast" and first.plan.products == (skus[0],)
    second = ask(planned, f"and how much {skus[1]} do we hold there?", session="back")
    assert second.plan.products == (skus[1],)
    back = ask(
        planned, "going back to the item from the start, what's its safety stock?", session="back"
    )
    assert back.intent == "policy" and back.plan.products == (skus[0],)
    call = next(c for c in back.calls if c.tool == "explain_policy")
    assert (call.args["sku"], call.args["location"]) == (skus[0], loc)
    truth = tool(planned, "explain_policy", sku=skus[0], location=loc).data["safety_stock"]
    assert f"{truth:,.0f}" in back.text.split("\n")[0]


def test_a_network_figure_asked_after_a_list_is_the_networks(planned):
    answer = ask(
        planned,
        "which stock-outs are coming up in the next two weeks? also what is the fill rate this month",
    )
    assert answer.plan.intent == "stockouts_upcoming" and answer.context.intent == "kpi"
    call = next(c for c in answer.calls if c.tool == "kpi")
    assert not call.args.get("sku")  # not the list's first product
    truth = insights.kpi(planned, "fill_rate", "this_month")["value"]
    assert f"{truth:.1%}" in answer.text
    first, second = answer.parts
    assert answer.text == first["text"].rstrip() + "\n\n" + second["text"]
    assert "fill rate" in second["text"] and first["table"] is not None
