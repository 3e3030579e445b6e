"""What-if scenarios on a copy of the demo: the batched projection equals the one-at-a-time
projection the exception rules use, a supplier's deliveries coming late never make a
destination better off and are counted from the same projection, and a service level
recomputes the policies' safety stock (the same level changes nothing)."""

from __future__ import annotations

from datetime import timedelta

import polars as pl
import pytest

from control_tower import exceptions, position, scenarios
from control_tower.config import Settings
from control_tower.errors import NotFoundError
from control_tower.policies import policies
from control_tower.store import Store
from tests.conftest import copy_of


@pytest.fixture(scope="module")
def store(demo_db_path, tmp_path_factory):
    path = copy_of(demo_db_path, tmp_path_factory.mktemp("scenarios"))
    with Store(path) as s:
        yield s


def _open_lines(store) -> pl.DataFrame:
    return position.inbound(store).filter(pl.col("kind") == "purchase_order")


def test_the_batched_projection_is_the_projection(store):
    lines = _open_lines(store)
    pairs = list(dict.fromkeys(zip(lines["sku"], lines["to_location"], strict=True)))[:8]
    assert pairs
    as_of = position.resolve_as_of(store, None)
    extras = {pairs[0]: [(as_of + timedelta(days=3), 500.0)]}
    many = exceptions.project_many(store, pairs, extras=extras)
    for key in pairs:
        one = exceptions.project(store, *key, extra=extras.get(key, []))
        got = many[key]
        assert (got.stockout_date, got.next_arrival) == (one.stockout_date, one.next_arrival)
        assert got.units_short == pytest.approx(one.units_short)
        assert got.days["stock"].to_list() == pytest.approx(one.days["stock"].to_list())
    with pytest.raises(Exception, match="no product"):
        exceptions.project_many(store, [("NOPE-1", pairs[0][1])])


def test_a_suppliers_deliveries_coming_late(store):
    lines = _open_lines(store)
    supplier = lines.group_by("supplier").len().sort("len", descending=True)["supplier"][0]
    frame = scenarios.supplier_delay(store, supplier, 14)
    assert (
        frame.height
        == lines.filter(pl.col("supplier") == supplier).select("sku", "to_location").unique().height
    )
    # moving supply later never helps, and the figures are the projection's
    assert (frame["extra_units_short"] >= -1e-6).all()
    row = frame.row(0, named=True)
    now = exceptions.project(store, row["sku"], row["location"])
    assert row["units_short_now"] == pytest.approx(now.units_short)
    shorter = scenarios.supplier_delay(store, supplier, 1)
    assert shorter["extra_units_short"].sum() <= frame["extra_units_short"].sum() + 1e-6
    with pytest.raises(scenarios.ScenarioError, match="1 to 60 days"):
        scenarios.supplier_delay(store, supplier, 0)
    with pytest.raises(Exception, match="no supplier"):
        scenarios.supplier_delay(store, "SUP-NONE", 7)


def test_another_service_level_recomputes_the_safety_stock(store):
    found = policies(store, Settings().policies)
    sku = found[0].inputs.sku
    same = {(p.inputs.sku, p.inputs.location): p.safety_stock for p in found if p.inputs.sku == sku}
    higher = scenarios.service_level_change(store, 0.995, skus=[sku])
    assert higher.height == len(same)
    for r in higher.iter_rows(named=True):
        assert r["safety_stock_now"] == pytest.approx(same[(r["sku"], r["location"])])
        if r["service_level_now"] < 0.995:
            assert r["difference"] >= 0
    level = higher["service_level_now"][0]
    unchanged = scenarios.service_level_change(store, level, skus=[sku])
    first = unchanged.filter(pl.col("service_level_now") == level)
    assert first["difference"].abs().max() == pytest.approx(0.0)
    with pytest.raises(scenarios.ScenarioError, match="50% to under 100%"):
        scenarios.service_level_change(store, 1.0)


def test_a_closed_location_serves_nothing_and_receives_when_it_reopens(store):
    as_of = position.resolve_as_of(store, None)
    loc = (
        position.inbound(store)
        .filter(pl.col("to_location").str.starts_with("RDC"))
        .group_by("to_location")
        .len()
        .sort("len", descending=True)["to_location"][0]
    )
    days = 5
    frame = scenarios.location_closure(store, loc, days)
    assert frame.height > 0 and set(frame["location"]) == {loc}
    reopens = as_of + timedelta(days=1 + days)
    for r in frame.head(5).iter_rows(named=True):
        now = exceptions.project(store, r["sku"], loc)
        closed = now.days.filter(pl.col("date") < reopens)
        # unserved: the projection's own demand of the closed days, at its price
        assert r["unserved_units"] == pytest.approx(float(closed["demand"].sum()))
        assert r["unserved_sales"] == pytest.approx(r["unserved_units"] * now.price)
        assert r["inbound_delayed"] == pytest.approx(float(closed["arrivals"].sum()))
        assert r["units_short_now"] == pytest.approx(now.units_short)
        assert r["lost_sales"] == pytest.approx(
            r["unserved_sales"] + (r["units_short_closed"] - now.units_short) * now.price
        )
    assert frame["lost_sales"].is_sorted(descending=True)
    with pytest.raises(scenarios.ScenarioError, match="1 to 28 days"):
        scenarios.location_closure(store, loc, 0)
    with pytest.raises(NotFoundError, match="no location"):
        scenarios.location_closure(store, "NOWHERE", 3)


def test_a_lane_cost_change_prices_the_plans_lines_on_it(planned_demo_path, tmp_path):
    with Store(copy_of(planned_demo_path, tmp_path)) as planned:
        run = planned.scalar("SELECT max(run_id) FROM plan_runs")
        origin, dest, units = planned.rows(
            "SELECT from_location, to_location, sum(quantity) FROM plan_lines "
            "WHERE run_id = ? AND kind = 'transfer' GROUP BY ALL ORDER BY 3 DESC LIMIT 1",
            [run],
        )[0]
        per_unit, fixed = planned.rows(
            "SELECT cost_per_unit::DOUBLE, coalesce(fixed_cost, 0)::DOUBLE FROM lanes "
            "WHERE from_location = ? AND to_location = ?",
            [origin, dest],
        )[0]
        d = scenarios.lane_cost_change(planned, origin, dest, 2.0)
        assert (d["plan_run"], d["units"]) == (run, units)
        assert d["transport"] == pytest.approx(units * per_unit)
        assert d["fixed"] == pytest.approx(d["trucks"] * fixed) and d["trucks"] >= d["departures"]
        assert d["cost_now"] == pytest.approx(d["transport"] + d["fixed"])
        assert d["cost_new"] == pytest.approx(2 * d["cost_now"])
        assert all(a["cheaper"] == (a["cost_per_unit"] < 2 * per_unit) for a in d["alternatives"])
        assert origin not in {a["origin"] for a in d["alternatives"]}
        with pytest.raises(NotFoundError, match="no lane"):
            scenarios.lane_cost_change(planned, dest, dest, 2.0)
        with pytest.raises(scenarios.ScenarioError, match="factor"):
            scenarios.lane_cost_change(planned, origin, dest, 11)


def test_a_demand_change_scales_the_projection_and_never_helps_when_it_rises(store):
    category = store.scalar("SELECT min(category) FROM products")
    same = scenarios.demand_change(store, 1.0, days=14, category=category)
    assert same.height > 0 and not same["earlier"].any()
    assert same["extra_units_short"].abs().max() == pytest.approx(0.0)
    up = scenarios.demand_change(store, 1.5, days=14, category=category)
    assert (
        up.select("sku", "location")
        .sort(["sku", "location"])
        .equals(same.select("sku", "location").sort(["sku", "location"]))
    )
    assert (up["extra_units_short"] >= -1e-6).all()
    assert up.filter(pl.col("earlier")).height > 0
    # every row is the projection with its demand scaled over the first 14 days only
    row = up.filter(pl.col("earlier")).row(0, named=True)
    plain = exceptions.project(store, row["sku"], row["location"])
    scaled = exceptions.project_many(
        store, [(row["sku"], row["location"])], demand_factor=1.5, demand_days=14
    )[(row["sku"], row["location"])]
    demand = plain.days["demand"].to_numpy()
    assert scaled.days["demand"].to_numpy()[:14] == pytest.approx(1.5 * demand[:14])
    assert scaled.days["demand"].to_numpy()[14:] == pytest.approx(demand[14:])
    assert row["stockout_date_changed"] == scaled.stockout_date
    assert row["stockout_date_now"] == plain.stockout_date
    # first out first
    dates = up["stockout_date_changed"].drop_nulls().to_list()
    assert dates == sorted(dates)
    down = scenarios.demand_change(store, 0.5, days=14, category=category)
    assert (down["extra_units_short"] <= 1e-6).all() and not down["earlier"].any()
    for factor in (0.05, 6.0, float("nan")):
        with pytest.raises(scenarios.ScenarioError, match="demand change"):
            scenarios.demand_change(store, factor, category=category)
    with pytest.raises(scenarios.ScenarioError, match="lasts"):
        scenarios.demand_change(store, 1.2, days=400, category=category)
