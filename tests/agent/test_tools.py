"""The agent's tools over a copy of the demo: each one's facts are the store's figures, bad
arguments are refused with what was wrong, and the only writing tool drafts a proposed
action for a signed-in planner, nothing more."""

from __future__ import annotations

import polars as pl
import pytest

from agents.tools import TOOLS, ToolContext, ToolError, run_tool
from control_tower import actions, exceptions, position
from control_tower.actions import Actor
from control_tower.errors import NotFoundError
from control_tower.store import Store
from tests.conftest import copy_of

PLANNER = Actor("li.planner", "planner")


@pytest.fixture(scope="module")
def store(demo_db_path, tmp_path_factory):
    path = copy_of(demo_db_path, tmp_path_factory.mktemp("tools"), exception_run=True)
    with Store(path) as s:
        yield s


@pytest.fixture
def ctx(store):
    return ToolContext(store, actor=PLANNER)


def _a_short_pair(store) -> dict:
    items = exceptions.list_exceptions(store, rules=["stockout"])
    return items.row(0, named=True)


def test_position_facts_are_the_position_services_numbers(ctx, store):
    sku = store.scalar("SELECT sku FROM products ORDER BY sku LIMIT 1")
    result = run_tool(ctx, "get_position", {"sku": sku})
    frame = position.sku_network(store, sku)
    for row in result.data:
        truth = frame.filter(frame["location"] == row["location"]).row(0, named=True)
        assert row["available"] == truth["available"]
        assert f"{sku} at {row['location']}: {truth['available']:,} available" in result.text()
    total = sum(r["available"] for r in result.data)
    assert result.facts[0].startswith(f"{sku}: {total:,} available in all")


def test_exceptions_filtered_by_rule_and_location_with_their_drafted_actions(ctx, store):
    item = _a_short_pair(store)
    result = run_tool(
        ctx, "list_exceptions", {"rule": "stockout", "location": item["location"], "top": 50}
    )
    assert {r["location"] for r in result.data["rows"]} == {item["location"]}
    assert {r["title"] for r in result.data["rows"]} >= {item["title"]}
    count = exceptions.list_exceptions(store, rules=["stockout"], locations=[item["location"]])
    assert result.data["total"] == count.height
    plural = "" if count.height == 1 else "s"
    assert result.facts[0].startswith(
        f"{count.height:,} stockout exception{plural} at {item['location']}"
    )


def test_what_if_and_sources_agree_with_the_projection(ctx, store):
    item = _a_short_pair(store)
    sku, location = item["sku"], item["location"]
    base = exceptions.project(store, sku, location)
    result = run_tool(ctx, "simulate_what_if", {"sku": sku, "location": location, "units": 0})
    without = next(r for r in result.data if r["case"] == "as things stand")
    assert without["stockout_date"] == str(base.stockout_date)
    assert without["units_short"] == pytest.approx(base.units_short)
    enough = int(base.units_short) + 1000
    saved = run_tool(ctx, "simulate_what_if", {"sku": sku, "location": location, "units": enough})
    with_it = next(r for r in saved.data if r["case"] == "with it")
    assert with_it["units_short"] < base.units_short
    sources = run_tool(ctx, "compare_sources", {"sku": sku, "location": location})
    assert sources.data, "a short location has at least one way to be supplied"
    dates = [(not o["covers"], o["arrival_date"]) for o in sources.data]
    assert dates == sorted(dates)


def test_search_finds_products_by_code_english_and_chinese(ctx, store):
    sku, name = store.rows("SELECT sku, name FROM products ORDER BY sku LIMIT 1")[0]
    assert run_tool(ctx, "search_products", {"query": sku}).data[0]["sku"] == sku
    english = name.split()[0] + " " + name.split()[1]
    assert sku in [r["sku"] for r in run_tool(ctx, "search_products", {"query": english}).data]
    chinese = next(w for w in name.split() if any("\u4e00" <= ch <= "\u9fff" for ch in w))
    found = run_tool(ctx, "search_products", {"query": chinese, "limit": 20}).data
    assert sku in [r["sku"] for r in found]


def test_forecast_policy_suppliers_and_actions_answer_from_the_store(ctx, store):
    item = _a_short_pair(store)
    forecast = run_tool(ctx, "get_forecast", {"sku": item["sku"], "location": item["location"]})
    assert len(forecast.data["daily"]) == 14
    total = sum(d["demand"] for d in forecast.data["daily"])
    assert forecast.data["total"] == pytest.approx(total)
    assert f"{total:,.0f} units expected" in forecast.facts[0]
    # over every location that holds it: the sum of each location's own forecast
    network = run_tool(ctx, "get_forecast", {"sku": item["sku"]})
    parts = {p["location"]: p["demand"] for p in network.data["parts"]}
    kind = store.scalar("SELECT kind FROM locations WHERE code = ?", [item["location"]])
    if kind in ("regional_dc", "store"):
        assert parts[item["location"]] == pytest.approx(total)
    else:  # a central DC's outflow is the regional DCs' demand: not counted twice
        assert item["location"] not in parts
    assert network.data["total"] == pytest.approx(sum(parts.values()))
    suppliers = run_tool(ctx, "compare_suppliers", {})
    assert len(suppliers.data) == store.scalar(
        "SELECT count(DISTINCT supplier) FROM supplier_products"
    )
    drafted = run_tool(ctx, "drafted_actions", {"top": 5})
    live = actions.list_actions(store, statuses=["proposed", "approved"])
    assert drafted.facts[0].startswith(f"{live.height:,} live drafted actions")


def test_bad_arguments_are_refused_with_what_was_wrong(ctx):
    with pytest.raises(ToolError, match="sku: String should match pattern"):
        run_tool(ctx, "get_position", {"sku": "'; DROP TABLE ledger; --"})
    with pytest.raises(ToolError, match="unknown rule 'approve_all'"):
        run_tool(ctx, "list_exceptions", {"rule": "approve_all"})
    with pytest.raises(ToolError, match="Extra inputs are not permitted"):
        run_tool(ctx, "get_position", {"sku": "X-1", "sql": "select 1"})
    with pytest.raises(ToolError, match="no tool 'approve'"):
        run_tool(ctx, "approve", {"action_id": 1})
    with pytest.raises(NotFoundError, match="no product with SKU 'NOPE-1'"):
        run_tool(ctx, "get_position", {"sku": "NOPE-1"})


def test_only_drafting_writes_and_it_only_proposes(store):
    assert [t.name for t in TOOLS.values() if t.writes] == ["draft_transfer"]
    assert not {"approve", "post", "reject", "delete", "sql"} & set(TOOLS)
    sku, source, to = store.rows(
        "SELECT l.sku, l.location, lanes.to_location FROM (SELECT sku, location, "
        "sum(quantity) q FROM ledger GROUP BY ALL HAVING q > 10) l JOIN lanes ON "
        "lanes.from_location = l.location JOIN locations k ON k.code = lanes.to_location "
        "WHERE k.kind = 'regional_dc' ORDER BY l.sku LIMIT 1"
    )[0]
    args = {"sku": sku, "from_location": source, "to_location": to, "quantity": 5}
    with pytest.raises(ToolError, match="sign in as a planner"):
        run_tool(ToolContext(store), "draft_transfer", args | {"reason": "cover"})
    viewer = ToolContext(store, actor=Actor("sun.viewer", "viewer"))
    with pytest.raises(actions.PermissionDenied):
        run_tool(viewer, "draft_transfer", args | {"reason": "cover"})
    made = run_tool(ToolContext(store, actor=PLANNER), "draft_transfer", args | {"reason": "cover"})
    action = actions.get_action(store, made.data[0]["action_id"])
    assert (action["status"], action["proposed_by"], action["quantity"]) == (
        "proposed",
        PLANNER.name,
        5,
    )
    assert "drafted with the agent" in action["explanation"]


def test_a_what_if_refuses_an_expedite_or_an_action_already_carried_out(ctx, store):
    from agents.tools import ToolError

    expedite = store.scalar("SELECT min(action_id) FROM actions WHERE kind = 'expedite'")
    with pytest.raises(ToolError, match="is an expedite: it brings inbound forward"):
        run_tool(ctx, "simulate_what_if", {"action_id": expedite})
    store.cursor().execute("UPDATE actions SET status = 'rejected' WHERE action_id = ?", [expedite])
    with pytest.raises(ToolError, match="is an expedite"):
        run_tool(ctx, "simulate_what_if", {"action_id": expedite})


def test_what_if_a_supplier_is_late_or_the_service_level_changes(ctx, store):
    from control_tower import position, scenarios

    lines = position.inbound(store).filter(pl.col("kind") == "purchase_order")
    supplier = lines.group_by("supplier").len().sort("len", descending=True)["supplier"][0]
    late = run_tool(ctx, "supplier_delay_what_if", {"supplier": supplier, "days": 14})
    frame = scenarios.supplier_delay(store, supplier, 14)
    hit = frame.filter(pl.col("extra_units_short") > 0)
    assert (late.data["hit"], late.data["lines"]) == (hit.height, int(frame["lines"].sum()))
    assert late.data["extra_units_short"] == pytest.approx(hit["extra_units_short"].sum())
    assert late.data["shown"] == len(late.data["rows"]) <= 10
    level = run_tool(ctx, "service_level_what_if", {"service_level": 0.995})
    change = scenarios.service_level_change(store, 0.995)
    assert level.data["difference"] == pytest.approx(change["difference"].sum())
    with pytest.raises(ToolError, match="service_level"):
        run_tool(ctx, "service_level_what_if", {"service_level": 1.5})


def test_a_categorys_forecast_sums_its_skus_where_customers_buy(ctx, store):
    category = store.scalar("SELECT category FROM products ORDER BY sku LIMIT 1")
    whole = run_tool(ctx, "get_forecast", {"category": category, "days": 7})
    skus = store.rows("SELECT sku FROM products WHERE category = ?", [category])
    parts = {p["location"] for p in whole.data["parts"]}
    kinds = dict(store.rows("SELECT code, kind FROM locations"))
    assert parts and {kinds[p] for p in parts} <= {"regional_dc", "store"}
    assert 0 < whole.data["skus"] <= len(skus)
    assert whole.data["total"] == pytest.approx(sum(p["demand"] for p in whole.data["parts"]))
    with pytest.raises(ToolError, match="a SKU, a category or a location"):
        run_tool(ctx, "get_forecast", {"days": 7})
    # a place's forecast: every SKU it stocks, its total the sum of the category's and the rest
    place = run_tool(ctx, "get_forecast", {"location": "RDC-CD", "days": 7})
    mine = run_tool(ctx, "get_forecast", {"category": category, "location": "RDC-CD", "days": 7})
    assert place.data["locations"] == 1 and place.data["skus"] > mine.data["skus"]
    assert place.data["total"] > mine.data["total"] > 0


def test_a_suggested_transfers_cost_is_its_explanations_total(planned_demo_path, tmp_path):
    """One figure for a proposal's cost: the suggestion states the explanation card's total
    (transport, the lane's fixed cost shared, handling); a line not yet released states what
    it adds to the plan."""
    from control_tower import explain

    with Store(copy_of(planned_demo_path, tmp_path)) as planned:
        result = run_tool(ToolContext(planned), "suggested_transfers", {"top": 50})
        rows = result.data["rows"]
        proposals = [r for r in rows if r["action_id"]]
        assert proposals and len(rows) > len(proposals)
        for r in proposals:
            record = explain.explanation_of(planned, r["action_id"])
            assert r["total_cost"] == record.total_cost
            assert record.total_cost == pytest.approx(sum(p.amount for p in record.costs))
            assert any(f"costs {r['total_cost']:,.2f}" in fact for fact in result.facts)
        assert all(r["total_cost"] is None for r in rows if not r["action_id"])
