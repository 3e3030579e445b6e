"""Supplier stock as a source: a pool of units the supplier holds for us, taken no earlier than
its available date and never beyond what it holds, arriving after its site's lane; the order
to make, with its full lead time, beyond it. Hand-built instances with the optimum worked out,
then a store where a supplier reports stock through the collaboration service."""

from __future__ import annotations

from datetime import timedelta

import polars as pl
import pytest

from control_tower import collab
from control_tower.actions import Actor
from control_tower.config import (
    ActionSettings,
    OptimizerSettings,
    PolicySettings,
    Settings,
    SupplierSettings,
)
from control_tower.ingest import ingest_frames
from control_tower.optimize import (
    NetworkState,
    SolveStatus,
    StockPool,
    SupplyOption,
    WhatIf,
    build_instance,
    load_plan_lines,
    plan,
    plan_instance,
    save_plan,
)
from control_tower.optimize.solve import balance_errors
from tests.conftest import TESTER, tiny_network_frames
from tests.optimize.instances import make_instance
from tests.test_position import (
    AS_OF,
    add_demand,
    add_purchase_orders,
    at,
    daily_demand,
    day,
    mv,
    post,
)


# -- hand-built ----------------------------------------------------------------------------------
def stock_instance(mode: str, quantity: int, first_day: int = 1, last_day: int | None = None):
    """One DC, 10 units of demand a day for 21 days, 30 on hand (days 0-2). To make takes 14
    days; the supplier holds ``quantity`` units that leave from ``first_day`` and take 2."""
    return make_instance(
        locations=("DC",),
        kinds=("central_dc",),
        horizon=21,
        demand={(0, 0): 10},
        on_hand={(0, 0): 30},
        supply=[
            SupplyOption(0, "SUP", 0, 14, 0.0, 8.0),
            SupplyOption(0, "SUP", 0, 2, 0.0, 8.0, pool=0),
        ],
        pools=[StockPool(0, "SUP", quantity, first_day, last_day, "stock reported")],
        mode=mode,
    )


def _taken(result) -> tuple[int, list[int]]:
    """Units ordered from the pool, and the days they were placed."""
    solution, supply = result.solution, result.instance.supply
    pooled = [
        (d, q)
        for o, d, q in zip(
            solution.order_option, solution.order_day, solution.order_qty, strict=True
        )
        if supply[o].pool >= 0
    ]
    return sum(q for _, q in pooled), [int(d) for d, _ in pooled]


@pytest.mark.parametrize("mode", ["coupled", "decomposed"])
def test_the_plan_takes_the_stock_it_needs_before_the_order_to_make_arrives(mode):
    """Days 3-13 need 110 units before the order to make (placed day 0) arrives on day 14:
    the 60 units held all come, none before day 1 + 2; the rest of the gap is short."""
    result = plan_instance(stock_instance(mode, 60))
    assert result.status == SolveStatus.OPTIMAL
    assert balance_errors(result.instance, result.solution) == []
    units, days = _taken(result)
    assert units == 60 and min(days) >= 1
    assert result.kpis["short_units"] == 110 - 60
    lines = [line for line in result.lines if line.source_kind == "supplier stock"]
    assert sum(line.quantity for line in lines) == 60
    for line in lines:
        assert line.kind == "order" and line.supplier == "SUP"
        assert (line.arrival_date - line.ship_date).days == 2
        assert line.arrival_date >= result.instance.day(3)
        assert line.reason.startswith("from supplier stock: SUP stock reported, 60 units")


@pytest.mark.parametrize("mode", ["coupled", "decomposed"])
def test_more_stock_than_needed_is_left_with_the_supplier(mode):
    """With 500 held, the gap of days 3 onwards is filled from stock; the order to make, 14
    days out, is not needed for the first 20 days (day 20 is served from either)."""
    result = plan_instance(stock_instance(mode, 500))
    units, _ = _taken(result)
    assert result.kpis["short_units"] == 0
    assert 170 <= units <= 180  # days 3 to 19 or 20
    assert balance_errors(result.instance, result.solution) == []


def test_a_capacity_week_is_taken_only_within_its_week():
    """Capacity of 40 units leaving on days 7-13 only: it arrives from day 9, at most 40."""
    result = plan_instance(stock_instance("coupled", 40, first_day=7, last_day=13))
    units, days = _taken(result)
    assert units == 40 and all(7 <= d <= 13 for d in days)
    assert balance_errors(result.instance, result.solution) == []


def test_an_order_beyond_the_pool_is_a_balance_error():
    result = plan_instance(stock_instance("coupled", 60))
    result.solution.order_qty[result.solution.order_option == 1] += 5
    assert any("which holds 60" in e for e in balance_errors(result.instance, result.solution))


# -- from the store ------------------------------------------------------------------------------
SETTINGS = Settings(
    optimizer=OptimizerSettings(horizon_days=28),
    policies=PolicySettings(order_cost=20.0),
    suppliers=SupplierSettings(lead_times="stated"),
)
PLANNER = Actor("li", "planner")


@pytest.fixture
def short_dc(store):
    """The tiny network with SUP1's own site one day from SH-CDC; A-100 takes SUP1 20 days to
    make (MOQ 100, packs of 12). SH-CDC holds 50 and sells 10 a day: it runs out on day 5."""
    frames = tiny_network_frames()
    frames["locations"] = pl.concat(
        [
            frames["locations"],
            pl.DataFrame(
                {
                    "code": ["SUP1-SITE"],
                    "name": ["杭州饮料工厂"],
                    "kind": ["supplier"],
                    "region": ["East"],
                    "country": ["CN"],
                    "lat": [30.27],
                    "lon": [120.15],
                }
            ),
        ]
    )
    frames["suppliers"] = frames["suppliers"].with_columns(location=pl.lit("SUP1-SITE"))
    frames["supplier_products"] = frames["supplier_products"].with_columns(
        lead_time_mean_days=pl.Series([20.0, 10.0])
    )
    frames["lanes"] = pl.concat(
        [
            frames["lanes"],
            pl.DataFrame(
                {
                    "from_location": ["SUP1-SITE"],
                    "to_location": ["SH-CDC"],
                    "transit_days": [1],
                    "cost_per_unit": [0.1],
                    "fixed_cost": [0.0],
                }
            ),
        ],
        how="diagonal_relaxed",
    )
    ingest_frames(store, frames, source="fixture")
    post(store, mv("R-0", -1, "A-100", "SH-CDC", "receipt", 50))
    add_demand(store, daily_demand("A-100", "SH-CDC", 10, 91))
    return store


def report(store, quantity: int, available: int, **capacity: int) -> None:
    """SUP1 reports, as of AS_OF, ``quantity`` units of A-100 ready on day ``available``."""
    row = {
        "sku": "A-100",
        "available_quantity": str(quantity),
        "available_date": str(day(available)),
    }
    row |= {k: str(v) for k, v in capacity.items()}
    collab.record_stock(store, PLANNER, "SUP1", pl.DataFrame([row]), as_of=at(0, 9))


def test_without_a_report_the_plan_orders_to_make_with_the_long_lead_time(short_dc):
    result = plan(short_dc, SETTINGS)
    assert result.status in (SolveStatus.OPTIMAL, SolveStatus.FEASIBLE)
    assert result.instance.pools == []
    orders = [line for line in result.lines if line.kind == "order"]
    assert orders and {line.source_kind for line in orders} == {"supplier"}
    assert all((line.arrival_date - line.ship_date).days == 20 for line in orders)
    assert result.kpis["short_units"] > 0  # nothing arrives before day 20


def test_reported_stock_is_ordered_no_earlier_than_it_is_ready_and_never_beyond_it(short_dc):
    report(short_dc, 80, available=3)
    result = plan(short_dc, SETTINGS)
    assert result.status in (SolveStatus.OPTIMAL, SolveStatus.FEASIBLE)
    assert balance_errors(result.instance, result.solution) == []
    [pool] = result.instance.pools
    assert (pool.supplier, pool.quantity, pool.first_day) == ("SUP1", 80, 2)  # leaves day(3)
    assert "supplier stock: 1 pool of reported stock or weekly capacity (80 units)" in " ".join(
        result.notes
    )
    from_stock = [line for line in result.lines if line.source_kind == "supplier stock"]
    assert from_stock, "the short DC takes the supplier's stock"
    assert sum(line.quantity for line in from_stock) <= 80
    for line in from_stock:
        assert (line.kind, line.supplier, line.to_location) == ("order", "SUP1", "SH-CDC")
        assert line.ship_date >= day(3)
        assert line.arrival_date >= day(3) + timedelta(days=1)  # available date + transit
        assert (line.arrival_date - line.ship_date).days == 1
    # the call-off leaves on day 3, after the default release window: a week's window
    # releases it as a proposed order
    weekly = SETTINGS.model_copy(update={"actions": ActionSettings(release_days=7)})
    run_id = save_plan(short_dc, plan(short_dc, weekly), created_by=TESTER)
    lines = load_plan_lines(short_dc, run_id)
    assert "supplier stock" in set(lines["source_kind"])
    actions = short_dc.query(
        "SELECT a.kind, a.supplier, a.quantity, a.explanation FROM actions a "
        "JOIN plan_lines l ON l.run_id = a.plan_run AND l.line_no = a.plan_line "
        "WHERE a.plan_run = ? AND l.source_kind = 'supplier stock'",
        [run_id],
    )
    assert set(actions["kind"]) == {"purchase_order"} and set(actions["supplier"]) == {"SUP1"}
    assert all("supplier stock" in text for text in actions["explanation"])


def test_the_stock_shortens_the_shortage(short_dc):
    before = plan(short_dc, SETTINGS).kpis["short_units"]
    report(short_dc, 80, available=3)
    after = plan(short_dc, SETTINGS).kpis["short_units"]
    assert after <= before - 70  # most of the 80 units serve demand that would go short


def test_orders_since_the_report_draw_on_it_and_capacity_weeks_are_pools(short_dc):
    report(short_dc, 80, available=1, capacity_week_2=40)
    add_purchase_orders(short_dc, [("PO-NEW", "A-100", "SH-CDC", 30, AS_OF, day(20), "open")])
    instance = build_instance(short_dc, SETTINGS)
    stock, week = instance.pools
    assert (stock.quantity, stock.first_day, stock.label) == (50, 0, f"stock reported {AS_OF}")
    monday = AS_OF - timedelta(days=AS_OF.weekday()) + timedelta(days=7)
    assert week.quantity == 40 and week.label == f"capacity in the week of {monday}"
    assert (week.first_day, week.last_day) == (
        (monday - AS_OF).days - 1,
        (monday - AS_OF).days + 5,
    )
    pooled = [o for o in instance.supply if o.pool >= 0]
    assert {(o.lead_time_days, o.moq, o.pack_size, o.freight_per_unit) for o in pooled} == {
        (1, 0, 1, 0.1)
    }
    ordinary = [o for o in instance.supply if o.pool < 0]
    assert [(o.lead_time_days, o.moq, o.pack_size) for o in ordinary] == [(20, 100, 12)]


def test_capacity_without_stock_is_still_a_source(short_dc):
    """No stock, 30 units of capacity this week (2024-02-26 to 03-03): plan days 0 and 1."""
    report(short_dc, 0, available=0, capacity_week_1=30)
    [week] = build_instance(short_dc, SETTINGS).pools
    assert (week.quantity, week.first_day, week.last_day) == (30, 0, 1)
    result = plan(short_dc, SETTINGS)
    from_week = [line for line in result.lines if line.source_kind == "supplier stock"]
    assert sum(line.quantity for line in from_week) <= 30
    assert all(line.ship_date <= day(2) for line in from_week)


def test_no_lookahead_and_no_supplier_stock_in_the_simulators_world(short_dc):
    report(short_dc, 80, available=1)
    assert build_instance(short_dc, SETTINGS, as_of=day(-1)).pools == []  # reported later
    state = NetworkState(on_hand={("A-100", "SH-CDC"): 50}, arrivals=[])
    assert build_instance(short_dc, SETTINGS, state=state).pools == []
    delayed = build_instance(short_dc, SETTINGS, what_if=WhatIf(supplier_delay_days={"SUP1": 2}))
    assert [o.lead_time_days for o in delayed.supply if o.pool >= 0] == [3]
    assert [o.lead_time_days for o in delayed.supply if o.pool < 0] == [22]


def test_a_stale_report_is_not_planned_on(short_dc):
    report(short_dc, 80, available=1)
    stale = SETTINGS.model_copy(deep=True)
    stale.suppliers.stock_report_stale_days = 7
    # eight days after the report: left out; seven: still planned on
    assert build_instance(short_dc, stale, as_of=day(8)).pools == []
    assert build_instance(short_dc, stale, as_of=day(7)).pools != []


def test_plans_can_be_told_not_to_use_supplier_stock(short_dc):
    report(short_dc, 80, available=1)
    off = SETTINGS.model_copy(deep=True)
    off.suppliers.plan_on_stock = False
    assert build_instance(short_dc, off).pools == []
    assert build_instance(short_dc, SETTINGS).pools != []
