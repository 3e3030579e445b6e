"""The read-only insights over a copy of the demo: every figure recomputes from the store
(plain SQL over the ledger and demand history in the test) or equals the owning service's
figure; periods follow the data's today; bad questions are refused with the reason."""

from __future__ import annotations

from datetime import date, timedelta

import polars as pl
import pytest

from control_tower import exceptions, insights, kpis, position, suppliers, vmi
from control_tower.config import Settings
from control_tower.errors import NotFoundError
from control_tower.store import Store
from tests.conftest import copy_of


@pytest.fixture(scope="module")
def demo(demo_db_path, tmp_path_factory):
    path = copy_of(demo_db_path, tmp_path_factory.mktemp("insights"), exception_run=True)
    with Store(path) as s:
        yield s


# An independent reimplementation of the fill rate: demand served per SKU x location x day.
SERVED_SQL = """
WITH sold AS (
    SELECT sku, location, CAST(ts AS DATE) AS day, -sum(quantity) AS sold FROM ledger
    WHERE movement_type = 'sale' GROUP BY ALL
)
SELECT sum(d.quantity) AS demand,
       sum(CASE WHEN coalesce(s.sold, 0) < d.quantity THEN greatest(coalesce(s.sold, 0), 0)
                ELSE d.quantity END) AS served
FROM demand_history d
LEFT JOIN sold s ON s.sku = d.sku AND s.location = d.location AND s.day = d.date
WHERE d.date BETWEEN ? AND ? AND (? IS NULL OR d.location = ?)
"""


def served_over(store: Store, start: date, end: date, location: str | None = None):
    demand, served = store.rows(SERVED_SQL, [start, end, location, location])[0]
    return int(demand or 0), int(served or 0)


# -- periods --------------------------------------------------------------------------------
def test_this_month_is_month_to_date_against_the_same_days_of_the_month_before(demo):
    today = demo.as_of()
    p = insights.period(demo, "this_month")
    assert p.today == today
    assert (p.current.start, p.current.end) == (today.replace(day=1), today)
    before = today.replace(day=1) - timedelta(days=1)
    assert p.previous.start == before.replace(day=1)
    assert p.previous.end == before.replace(day=min(today.day, before.day))
    assert "month to date" in p.definition


def test_a_month_end_compares_with_the_shorter_month_before_clamped():
    p = insights.period(None, "this_month", today=date(2024, 3, 31))
    assert (p.previous.start, p.previous.end) == (date(2024, 2, 1), date(2024, 2, 29))
    last = insights.period(None, "last_month", today=date(2024, 3, 31))
    assert (last.current.start, last.current.end) == (date(2024, 2, 1), date(2024, 2, 29))
    assert (last.previous.start, last.previous.end) == (date(2024, 1, 1), date(2024, 1, 31))
    week = insights.period(None, "this_week", today=date(2024, 3, 7))  # a Thursday
    assert (week.current.start, week.previous.start) == (date(2024, 3, 4), date(2024, 2, 26))
    assert week.previous.end == date(2024, 2, 29)


# -- KPIs -----------------------------------------------------------------------------------
def test_this_months_fill_rate_is_served_over_demand_from_the_ledger(demo):
    found = insights.kpi(demo, "fill_rate", "this_month")
    p = insights.period(demo, "this_month")
    demand, served = served_over(demo, p.current.start, p.current.end)
    assert found["value"] == pytest.approx(served / demand)
    assert (found["parts"]["demand"], found["parts"]["served"]) == (demand, served)
    demand0, served0 = served_over(demo, p.previous.start, p.previous.end)
    assert found["previous"] == pytest.approx(served0 / demand0)


def test_a_location_fill_rate_and_the_network_one_add_up(demo):
    p = insights.period(demo, "last_30_days")
    frame = insights.service(demo, p.current)
    location = frame.group_by("location").agg(pl.col("demand").sum()).sort("demand")["location"][-1]
    found = insights.kpi(demo, "fill_rate", "last_30_days", scope=insights.Scope(location))
    demand, served = served_over(demo, p.current.start, p.current.end, location)
    assert found["value"] == pytest.approx(served / demand)
    tiles = kpis.network_kpis(demo, period_days=30)
    assert frame["served"].sum() / frame["demand"].sum() == pytest.approx(tiles["fill_rate"].value)


def test_network_kpis_are_the_overview_tiles_at_each_window(demo):
    tiles = kpis.network_kpis(demo, period_days=30)
    for metric in ("turnover", "inventory_value", "health_index", "dead_stock_value"):
        found = insights.kpi(demo, metric, "current")
        assert found["value"] == pytest.approx(tiles[metric].value), metric
        assert found["previous"] == pytest.approx(tiles[metric].previous), metric
    last = insights.kpi(demo, "inventory_value", "last_month")
    end = insights.period(demo, "last_month").current.end
    at_end = kpis.network_kpis(demo, as_of=end, period_days=1)["inventory_value"].value
    assert last["value"] == pytest.approx(at_end)


def test_turnover_by_location_sums_to_the_network_turnover(demo):
    window = insights.period(demo, "current").current
    parts = insights.turnover_parts(demo, window)
    network = insights.turnover(parts["cogs"].sum(), parts["avg_value"].sum(), window.days)
    assert network == pytest.approx(kpis.network_kpis(demo, period_days=30)["turnover"].value)
    region = demo.scalar("SELECT region FROM locations WHERE kind = 'regional_dc' LIMIT 1")
    scoped = insights.kpi(demo, "turnover", "current", scope=insights.Scope(region=region))
    codes = insights.locations(demo).filter(pl.col("region") == region)["code"].to_list()
    mine = parts.filter(pl.col("location").is_in(codes))
    assert scoped["value"] == pytest.approx(
        insights.turnover(mine["cogs"].sum(), mine["avg_value"].sum(), window.days)
    )


def test_inventory_value_of_a_region_is_its_locations_stock_value(demo):
    region = demo.scalar("SELECT region FROM locations WHERE kind = 'regional_dc' LIMIT 1")
    found = insights.kpi(demo, "inventory_value", "current", scope=insights.Scope(region=region))
    pos = position.stock_position(demo)
    assert found["value"] == pytest.approx(
        pos.filter(pl.col("region") == region)["stock_value"].sum()
    )


def test_on_time_rate_pools_the_suppliers_received_lines(demo):
    found = insights.kpi(demo, "on_time_rate", "last_month")
    window = insights.period(demo, "last_month").current
    perf = suppliers.supplier_performance(demo, as_of=window.end, days=window.days)
    got = perf.filter(pl.col("on_time_rate").is_not_null())
    expected = (got["on_time_rate"] * got["received_lines"]).sum() / got["received_lines"].sum()
    assert found["value"] == pytest.approx(expected)
    one = got["supplier"][0]
    mine = insights.kpi(demo, "on_time_rate", "last_month", scope=insights.Scope(supplier=one))
    assert mine["value"] == pytest.approx(got["on_time_rate"][0])


# An independent count of a place's inbound on time: PO lines (first receipt) and transfers.
INBOUND_SQL = """
WITH po AS (
    SELECT p.location, p.expected_date,
           (SELECT min(l.ts)::DATE FROM ledger l WHERE l.reference = p.po_number
              AND l.sku = p.sku AND l.movement_type = 'receipt' AND l.ts < ?::DATE + 1) AS got
    FROM purchase_orders p
    WHERE p.order_date > ? AND p.order_date <= ? AND p.status <> 'cancelled'
), t AS (
    SELECT to_location AS location, expected_date,
           CASE WHEN received_date <= ? THEN received_date END AS got
    FROM transfers WHERE ship_date > ? AND ship_date <= ?
)
SELECT location, count(got) AS received, count(*) FILTER (WHERE got <= expected_date + ?) AS on_time
FROM (SELECT * FROM po UNION ALL SELECT * FROM t) GROUP BY location
"""


def test_a_places_on_time_rate_counts_its_inbound_lines_and_transfers(demo):
    settings = Settings()
    grace = settings.suppliers.on_time_grace_days
    window = insights.period(demo, "last_month").current
    start = window.end - timedelta(days=window.days)
    rows = demo.rows(INBOUND_SQL, [window.end, start, window.end] * 2 + [grace])
    truth = {loc: (received, on_time) for loc, received, on_time in rows}
    frame, info = insights.measure_by(demo, "on_time_rate", "location", period_name="last_month")
    assert info["definition"].startswith("inbound PO lines and transfers")
    for r in frame.filter(pl.col("received_lines") > 0).iter_rows(named=True):
        received, on_time = truth[r["key"]]
        assert r["received_lines"] == received
        assert r["value"] == pytest.approx(on_time / received)
    # a region pools its places' received lines; the KPI of one place is its row
    regions, _ = insights.measure_by(demo, "on_time_rate", "region", period_name="last_month")
    places = insights.locations(demo).select(pl.col("code").alias("key"), "region")
    pooled = frame.join(places, on="key").filter(pl.col("received_lines") > 0)
    for r in regions.filter(pl.col("received_lines") > 0).iter_rows(named=True):
        mine = pooled.filter(pl.col("region") == r["key"])
        on = (mine["value"] * mine["received_lines"]).sum()
        assert r["value"] == pytest.approx(on / mine["received_lines"].sum())
    busiest = frame.sort("received_lines", descending=True).row(0, named=True)
    one = insights.kpi(
        demo, "on_time_rate", "last_month", scope=insights.Scope(location=busiest["key"])
    )
    assert one["value"] == pytest.approx(busiest["value"])
    assert one["parts"]["received_lines"] == busiest["received_lines"]


def test_forecast_bias_compares_the_forecasts_made_before_each_day(demo_db_path, tmp_path):
    path = copy_of(demo_db_path, tmp_path)
    with Store(path) as s:
        today = s.as_of()
        made = today - timedelta(days=40)
        cur = s.cursor()
        cur.execute(
            "INSERT INTO forecast_runs (run_id, as_of, horizon, settings, settings_hash, "
            "executor, workers, duration_s, series_count, failures, reused) "
            "VALUES (1, ?, 60, '{}', 'x', 'inline', 1, 0, 0, 0, 0)",
            [made],
        )
        # every day forecast at 1.25 x what happened: a bias of +25%
        cur.execute(
            "INSERT INTO forecasts SELECT 1, sku, location, date, 1.25 * quantity, 1, "
            "quantity, quantity, quantity, quantity, 0, 0, 0, 0, 0, 0 FROM demand_history "
            "WHERE date > ?",
            [made],
        )
        found = insights.kpi(s, "forecast_bias", "last_30_days")
        assert found["value"] == pytest.approx(0.25)
        assert found["previous"] is not None  # the days after the run's as-of are covered
        frame, info = insights.measure_by(s, "forecast_bias", "location", period_name="current")
        assert frame["value"].to_list() == pytest.approx([0.25] * frame.height)


def test_without_forecasts_bias_is_not_invented(demo):
    found = insights.kpi(demo, "forecast_bias", "last_30_days")
    assert found["value"] is None and found["parts"]["days_covered"] == 0


# -- rankings -------------------------------------------------------------------------------
def test_the_location_with_most_stockouts_has_that_many_in_the_exception_run(demo):
    frame, info = insights.measure_by(demo, "stockouts", "location")
    top = insights.ranked(frame, info["better"], "worst").row(0, named=True)
    items = exceptions.list_exceptions(demo, rules=["stockout"], locations=[top["key"]])
    assert top["value"] == items.height > 0
    assert set(frame["kind"]) <= set(exceptions.STOCKING)
    units = insights.measure_by(demo, "units_short", "location")[0]
    assert units.filter(pl.col("key") == top["key"])["value"][0] == pytest.approx(
        items["units"].sum()
    )


def test_stock_value_by_category_is_the_kpi_services_figure(demo):
    frame, info = insights.measure_by(demo, "stock_value", "category")
    top = insights.ranked(frame, info["better"], "highest").row(0, named=True)
    truth = kpis.stock_value_by(demo, "category")
    assert top["key"] == truth["category"][0]
    assert top["value"] == pytest.approx(truth["stock_value"][0])


def test_late_lines_by_supplier_and_dead_stock_by_location_recompute(demo):
    late, _ = insights.measure_by(demo, "late_lines", "supplier")
    lines = position.inbound(demo).filter(pl.col("days_late") > 0)
    for r in late.iter_rows(named=True):
        assert r["value"] == lines.filter(pl.col("supplier") == r["key"]).height
    dead, _ = insights.measure_by(demo, "dead_stock_value", "location")
    truth = kpis.dead_stock(demo)
    for r in dead.iter_rows(named=True):
        assert r["value"] == pytest.approx(
            truth.filter(pl.col("location") == r["key"])["stock_value"].sum()
        )


def test_best_and_worst_follow_the_measures_direction():
    frame = pl.DataFrame({"key": ["a", "b", "c"], "value": [0.9, None, 0.5]})
    assert insights.ranked(frame, "higher", "best")["key"].to_list() == ["a", "c", "b"]
    assert insights.ranked(frame, "higher", "worst")["key"].to_list() == ["c", "a", "b"]
    assert insights.ranked(frame, "lower", "best")["key"].to_list() == ["c", "a", "b"]
    bias = pl.DataFrame({"key": ["a", "b"], "value": [-0.3, 0.1]})
    assert insights.ranked(bias, "closer to 0", "worst")["key"].to_list() == ["a", "b"]


# -- moving stock ---------------------------------------------------------------------------
def test_a_move_costs_transport_a_fixed_cost_a_truck_and_handling():
    lane = {"transit_days": 2, "cost_per_unit": 2.0, "fixed_cost": 1000.0, "capacity": 500.0}
    settings = Settings()
    one = insights.move_cost(lane, 400, settings)
    assert one["trucks"] == 1
    assert one["total"] == pytest.approx(400 * 2.0 + 1000.0 + settings.policies.transfer_line_cost)
    two = insights.move_cost(lane, 501, settings)
    assert two["trucks"] == 2
    assert two["total"] == pytest.approx(501 * 2.0 + 2000.0 + settings.policies.transfer_line_cost)
    assert sum(p["amount"] for p in two["parts"]) == pytest.approx(two["total"])


def test_a_regions_health_index_is_its_locations_indices_weighted(demo):
    by_location = kpis.health_by_location(demo).filter(pl.col("health_weight") > 0)
    by_region, _ = insights.measure_by(demo, "health_index", "region")
    for region in by_location["region"].unique().to_list():
        places = by_location.filter(pl.col("region") == region)
        expected = (places["health_index"] * places["health_weight"]).sum() / places[
            "health_weight"
        ].sum()
        found = by_region.filter(pl.col("key") == region)["value"].item()
        assert found == pytest.approx(expected)
        kpi = insights.kpi(demo, "health_index", "current", scope=insights.Scope(region=region))
        assert kpi["value"] == pytest.approx(expected)


def test_consigned_units_per_supplier_are_the_vmi_summarys(demo):
    held = insights.consigned(demo).group_by("supplier").agg(pl.col("consigned").sum())
    summary = vmi.consigned_summary(demo)
    for r in held.iter_rows(named=True):
        row = summary.filter(pl.col("supplier") == r["supplier"])
        assert row["consigned_units"][0] == r["consigned"]


# -- refusals and empty stores --------------------------------------------------------------
def test_questions_the_core_cannot_answer_are_refused_with_the_reason(demo):
    with pytest.raises(insights.InsightError, match="unknown metric"):
        insights.kpi(demo, "happiness", "current")
    with pytest.raises(insights.InsightError, match="on_time_rate is kept by supplier"):
        insights.measure_by(demo, "on_time_rate", "category")
    with pytest.raises(insights.InsightError, match="counts everything it receives"):
        insights.measure_by(
            demo, "on_time_rate", "location", scope=insights.Scope(category="anything")
        )
    with pytest.raises(insights.InsightError, match="say which SKU"):
        insights.measure_by(demo, "on_hand", "location")
    with pytest.raises(NotFoundError, match="no region 'Atlantis'"):
        insights.region(demo, "Atlantis")
    assert insights.region(demo, "华北") == "North China 华北"


def test_a_store_without_movements_ranks_zeros_and_has_no_rates(network):
    frame, _ = insights.measure_by(network, "stockouts", "location")
    assert frame.height == 3 and frame["value"].to_list() == [0.0, 0.0, 0.0]
    assert insights.kpi(network, "fill_rate", "this_month")["value"] is None
    late, _ = insights.measure_by(network, "late_lines", "supplier")
    assert late["value"].sum() == 0


def test_a_places_days_of_cover_is_its_available_stock_over_its_demand(demo):
    frame, info = insights.measure_by(demo, "days_of_cover", "location")
    pos = position.stock_position(demo)
    assert "every SKU there" in info["definition"]
    for r in frame.filter(pl.col("value").is_not_null()).iter_rows(named=True):
        mine = pos.filter(pl.col("location") == r["key"])
        expected = mine["available"].sum() / mine["avg_daily_demand"].sum()
        assert r["value"] == pytest.approx(expected)
    # one SKU: its own days of cover at each place
    sku = pos.filter(pl.col("avg_daily_demand") > 0)["sku"][0]
    one, _ = insights.measure_by(demo, "days_of_cover", "location", sku=sku)
    row = one.filter(pl.col("value").is_not_null()).row(0, named=True)
    truth = pos.filter((pl.col("sku") == sku) & (pl.col("location") == row["key"]))
    assert row["value"] == pytest.approx(truth["days_of_cover"][0])
