"""Readers of a stored run: per series, the leaderboard, aggregates and the CSV export all
agree with the stored tables."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import polars as pl
import pytest

from control_tower.errors import ControlTowerError, NotFoundError
from control_tower.forecast import (
    aggregate_forecast,
    demand_history_series,
    export_forecasts,
    leaderboard,
    load_forecasts,
    series_summary,
)
from tests.forecast.data import AS_OF, CATEGORY, crafted_series

EXPORT_COLUMNS = ["sku", "location", "date", "mean", "p50", "p90", "p95", "p99", "method"]


def stored_series(store, run_id) -> pl.DataFrame:
    return store.query("SELECT * FROM forecast_series WHERE run_id = ?", [run_id])


def test_load_forecasts_filters_by_sku_and_location(crafted_run):
    store, run = crafted_run
    everything = load_forecasts(store, run.run_id)
    assert everything.height == run.series_count * run.horizon
    methods = {
        (r["sku"], r["location"]): r["method"]
        for r in stored_series(store, run.run_id).iter_rows(named=True)
    }
    for (sku, location), group in everything.group_by("sku", "location"):
        assert set(group["method"]) == {methods[(sku, location)]}
    smooth = load_forecasts(store, run.run_id, sku="SMOOTH")
    assert set(smooth["location"]) == {"CD-RDC", "SH-CDC"} and smooth.height == 2 * run.horizon
    one = load_forecasts(store, run.run_id, sku="SMOOTH", location="SH-CDC")
    assert one.height == run.horizon
    at_cq = load_forecasts(store, run.run_id, location="CQ-RDC")
    assert set(at_cq["sku"]) == {"LUMPY", "SEASONAL"}
    assert load_forecasts(store, run.run_id + 100).is_empty()


def test_series_summary_has_one_row_per_series_with_the_product_name(crafted_run):
    store, run = crafted_run
    summary = series_summary(store, run.run_id)
    assert summary.height == run.series_count
    assert summary["weight"].to_list() == sorted(summary["weight"], reverse=True)
    assert summary.filter(pl.col("sku") == "SMOOTH")["name"][0].startswith("Smooth")
    stored = stored_series(store, run.run_id).sort("sku", "location")
    mine = summary.sort("sku", "location")
    for column in ("method", "demand_class", "rmsse", "bias", "failure", "reused"):
        assert mine[column].equals(stored[column]), column


def test_leaderboard_by_method_agrees_with_the_candidates(crafted_run):
    store, run = crafted_run
    board = leaderboard(store, run.run_id, by="method")
    rows = store.query(
        "SELECT c.method, c.rmsse, c.chosen, s.weight FROM forecast_candidates c "
        "JOIN forecast_series s USING (run_id, sku, location) WHERE c.run_id = ?",
        [run.run_id],
    )
    assert set(board["method"]) == set(rows["method"])
    for row in board.iter_rows(named=True):
        mine = rows.filter(pl.col("method") == row["method"])
        assert row["series"] == mine.height
        assert row["chosen"] == mine["chosen"].sum()
        expected = (mine["rmsse"] * mine["weight"]).sum() / mine["weight"].sum()
        assert row["weighted_rmsse"] == pytest.approx(expected)
        assert row["median_rmsse"] == pytest.approx(mine["rmsse"].median())
    backtested = stored_series(store, run.run_id).filter(pl.col("rmsse").is_not_null())
    assert board["chosen"].sum() == backtested.height  # one chosen per backtested series


def test_leaderboard_by_demand_class_agrees_with_the_series(crafted_run):
    store, run = crafted_run
    board = leaderboard(store, run.run_id, by="demand_class")
    series = stored_series(store, run.run_id)
    assert board["series"].sum() == run.series_count
    for row in board.iter_rows(named=True):
        mine = series.filter(pl.col("demand_class") == row["demand_class"])
        assert row["series"] == mine.height
        assert row["failures"] == mine["failure"].is_not_null().sum()
        counts = mine["method"].value_counts()
        assert (
            row["most_chosen"] in counts.filter(pl.col("count") == counts["count"].max())["method"]
        )
        scored = mine.filter(pl.col("rmsse").is_not_null())
        if scored.is_empty():
            assert row["weighted_rmsse"] is None
        else:
            expected = (scored["rmsse"] * scored["weight"]).sum() / scored["weight"].sum()
            assert row["weighted_rmsse"] == pytest.approx(expected)
    with pytest.raises(ControlTowerError):
        leaderboard(store, run.run_id, by="sku")


@pytest.mark.parametrize(
    ("level", "key", "series"),
    [
        ("network", None, None),
        ("region", "East", [("SMOOTH", "SH-CDC")]),
        ("category", "spares", [("INTERMITTENT", "CD-RDC"), ("LUMPY", "CQ-RDC")]),
    ],
)
def test_aggregate_forecast_adds_up_the_series(crafted_run, level, key, series):
    store, run = crafted_run
    agg = aggregate_forecast(store, run.run_id, level=level, key=key)
    rows = load_forecasts(store, run.run_id)
    if series is not None:
        rows = rows.filter(
            pl.struct("sku", "location").is_in([{"sku": s, "location": loc} for s, loc in series])
        )
    by_day = (
        rows.group_by("date")
        .agg(
            pl.col("mean").sum(), (pl.col("sd") ** 2).sum().sqrt().alias("sd"), pl.len().alias("n")
        )
        .sort("date")
    )
    assert agg["date"].to_list() == by_day["date"].to_list()
    assert agg.height == run.horizon
    np.testing.assert_allclose(agg["mean"], by_day["mean"], rtol=1e-9)
    np.testing.assert_allclose(agg["sd"], by_day["sd"], rtol=1e-9)
    assert agg["series"].to_list() == by_day["n"].to_list()
    assert agg["mean"].sum() == pytest.approx(rows["mean"].sum())
    assert agg["mean"].le(agg["p90"]).all()
    assert agg["p90"].le(agg["p95"]).all() and agg["p95"].le(agg["p99"]).all()


def test_aggregate_forecast_refuses_an_unknown_level(crafted_run):
    store, run = crafted_run
    with pytest.raises(ControlTowerError):
        aggregate_forecast(store, run.run_id, level="planet", key="x")


def test_export_writes_every_row_of_the_run(crafted_run, tmp_path):
    store, run = crafted_run
    target = tmp_path / "out" / "forecast.csv"
    written = export_forecasts(store, "latest", target)
    frame = pl.read_csv(target, try_parse_dates=True)
    assert frame.columns == EXPORT_COLUMNS
    assert written == frame.height == run.series_count * run.horizon
    assert not list(target.parent.glob("*.part"))
    stored = load_forecasts(store, run.run_id)
    np.testing.assert_allclose(frame["mean"], stored["mean"], atol=1e-4)
    assert frame["method"].to_list() == stored["method"].to_list()
    assert frame["date"].min() == AS_OF + timedelta(days=1)
    assert export_forecasts(store, run.run_id, tmp_path / "again.csv") == written
    with pytest.raises(NotFoundError):
        export_forecasts(store, run.run_id + 100, tmp_path / "none.csv")
    assert not (tmp_path / "none.csv").exists()


def test_demand_history_series_fills_missing_days_with_zero(crafted_run):
    store, _run = crafted_run
    start, values = crafted_series()[("LUMPY", "CQ-RDC")]  # imported without its zero days
    first = AS_OF - timedelta(days=59)
    frame = demand_history_series(store, start=first, end=AS_OF, sku="LUMPY", location="CQ-RDC")
    assert frame.height == 60
    assert frame["quantity"].to_list() == values[-60:].tolist()
    spares = demand_history_series(store, start=first, end=AS_OF, level="category", key="spares")
    expected = sum(
        v[-60:] for (sku, _), (_, v) in crafted_series().items() if CATEGORY[sku] == "spares"
    )
    assert spares["quantity"].to_list() == expected.tolist()
