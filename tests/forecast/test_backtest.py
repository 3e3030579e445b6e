"""The backtest harness on a small demo store: held-out accuracy per method, origins a
horizon apart ending at the as-of date, and no peeking past an origin."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import polars as pl
import pytest

from control_tower.config import ForecastSettings
from control_tower.errors import ControlTowerError, NotFoundError
from control_tower.forecast import backtest
from control_tower.forecast.baselines import BASELINES
from control_tower.forecast.pipeline import BLENDED
from control_tower.forecast.prophet_model import PROPHET_GRID
from control_tower.ingest import ingest_frame
from control_tower.store import Store
from tests.forecast.conftest import BASELINES_ONLY, copy_db

H = 14


def two_skus(store) -> list[str]:
    """The biggest SKU (smooth: Prophet is tried) and the smallest (sparse)."""
    skus = store.query(
        "SELECT sku FROM demand_history GROUP BY sku ORDER BY sum(quantity) DESC, sku"
    )["sku"].to_list()
    return [skus[0], skus[-1]]


@pytest.fixture(scope="module")
def report(small_demo_db, tmp_path_factory):
    with Store(copy_db(small_demo_db, tmp_path_factory.mktemp("backtest"))) as store:
        skus = two_skus(store)
        as_of = store.scalar("SELECT max(date) FROM demand_history")
        result = backtest(
            store,
            ForecastSettings(workers=1, tuning_sample=1),
            horizon=H,
            origins=2,
            skus=skus,
            show_bar=False,
        )
        windows = store.query(
            "SELECT sku, location, date, quantity FROM demand_history WHERE sku IN (?, ?)", skus
        )
    return result, as_of, windows


def test_the_report_compares_the_pipeline_with_prophet_and_the_baselines(report):
    result, _as_of, _ = report
    table = {r["method"]: r for r in result.table.iter_rows(named=True)}
    assert {"pipeline", "prophet_default", "seasonal_naive", "baseline_blend"} <= set(table)
    assert set(BASELINES) <= set(table)
    for row in table.values():
        assert np.isfinite(row["weighted_rmsse"]) and row["weighted_rmsse"] >= 0
        assert row["series"] == result.series
    assert table["seasonal_naive"]["better_than_naive"] == pytest.approx(0.0)
    for row in table.values():
        expected = 1 - row["weighted_rmsse"] / table["seasonal_naive"]["weighted_rmsse"]
        assert row["better_than_naive"] == pytest.approx(expected)
    assert result.tuned in {c.name for c in PROPHET_GRID}
    assert set(result.by_class["demand_class"]) <= {"smooth", "erratic", "intermittent", "lumpy"}
    assert result.by_class["series"].sum() >= result.series


def test_origins_are_a_horizon_apart_and_the_last_window_ends_at_as_of(report):
    result, as_of, _ = report
    assert len(result.origins) == 2
    assert result.origins[1] - result.origins[0] == timedelta(days=H)
    assert result.origins[-1] + timedelta(days=H) == as_of


def test_scores_are_measured_against_what_happened(report):
    result, _as_of, demand = report
    scores = result.scores
    methods = result.table.height
    assert scores.height == result.series * len(result.origins) * methods
    for row in scores.filter(pl.col("method") == "seasonal_naive").iter_rows(named=True):
        origin = result.origins[row["origin"]]
        window = demand.filter(
            (pl.col("sku") == row["sku"])
            & (pl.col("location") == row["location"])
            & (pl.col("date") > origin)
            & (pl.col("date") <= origin + timedelta(days=H))
        )
        assert row["actual_sum"] == pytest.approx(window["quantity"].sum())
    assert (scores["forecast_sum"] >= 0).all()
    pipeline = scores.filter(pl.col("method") == "pipeline")
    assert (pipeline["chosen"] != "").all()


def test_the_baseline_blend_is_the_mean_of_its_three_baselines(report):
    result, _as_of, _ = report
    keys = ["sku", "location", "origin"]
    sums = result.scores.pivot(on="method", index=keys, values="forecast_sum")
    expected = sum(sums[m] for m in BLENDED) / len(BLENDED)
    np.testing.assert_allclose(sums["baseline_blend"], expected)


def test_the_pipeline_is_backtested_with_the_lifts_as_of_each_origin(demo_store):
    """The last window holds Double 11: with the category lifts (estimated as of each
    origin) the pipeline forecasts it higher than without; single methods do not change."""
    kwargs = {"horizon": H, "origins": 2, "skus": two_skus(demo_store), "show_bar": False}
    with_lifts = backtest(demo_store, BASELINES_ONLY, **kwargs).scores
    without = backtest(
        demo_store, BASELINES_ONLY.model_copy(update={"group_lifts": False}), **kwargs
    ).scores
    keys = ["sku", "location", "origin", "method"]
    a, b = with_lifts.sort(keys), without.sort(keys)
    single = pl.col("method") != "pipeline"
    np.testing.assert_allclose(a.filter(single)["forecast_sum"], b.filter(single)["forecast_sum"])
    last = (pl.col("method") == "pipeline") & (pl.col("origin") == 1)
    assert a.filter(last)["forecast_sum"].sum() > 1.05 * b.filter(last)["forecast_sum"].sum()


def test_a_series_that_starts_between_the_origins_is_backtested_where_it_can_be(demo_store):
    """First demand 20 days before as-of: no history at the earlier origins, the last one
    scores it (the lifts' calendars must not trip over a series that starts after them)."""
    as_of = demo_store.scalar("SELECT max(date) FROM demand_history")
    sku, location = demo_store.rows(
        "SELECT p.sku, l.code FROM products p, locations l WHERE l.kind <> 'supplier' "
        "AND (p.sku, l.code) NOT IN (SELECT sku, location FROM demand_history) LIMIT 1"
    )[0]
    days = [as_of - timedelta(days=d) for d in range(20)]
    ingest_frame(
        demo_store,
        "demand",
        pl.DataFrame(
            {"sku": sku, "location": location, "date": days, "quantity": 5},
            schema={"sku": pl.String, "location": pl.String, "date": pl.Date, "quantity": pl.Int64},
        ),
    )
    report = backtest(demo_store, BASELINES_ONLY, horizon=H, origins=3, skus=[sku], show_bar=False)
    late = report.scores.filter(pl.col("location") == location)
    assert set(late["origin"]) == {2} and (late["actual_sum"] > 0).all()


def test_a_backtest_never_sees_past_its_origin(demo_store):
    """Change the demand of the last window: the forecasts at both origins stay the same;
    only what they are compared with (the last window's actuals) changes."""
    skus = two_skus(demo_store)
    settings = BASELINES_ONLY
    kwargs = {"horizon": H, "origins": 2, "skus": skus, "show_bar": False}
    before = backtest(demo_store, settings, **kwargs)
    last_origin = before.origins[-1]
    changed = demo_store.query(
        "SELECT sku, location, date, quantity * 3 + 7 AS quantity FROM demand_history "
        "WHERE sku IN (?, ?) AND date > ?",
        [*skus, last_origin],
    )
    ingest_frame(demo_store, "demand", changed)
    after = backtest(demo_store, settings, **kwargs)
    assert after.origins == before.origins
    keys = ["sku", "location", "origin", "method"]
    a, b = before.scores.sort(keys), after.scores.sort(keys)
    assert a.select(keys).equals(b.select(keys))
    np.testing.assert_allclose(a["forecast_sum"], b["forecast_sum"])
    last = pl.col("origin") == 1
    assert (b.filter(last)["actual_sum"] >= a.filter(last)["actual_sum"]).all()
    assert (b.filter(last)["actual_sum"] > a.filter(last)["actual_sum"]).any()
    assert b.filter(~last)["actual_sum"].equals(a.filter(~last)["actual_sum"])


@pytest.mark.parametrize(
    ("kwargs", "named"),
    [({"skus": ["NO-SUCH-SKU"]}, "NO-SUCH-SKU"), ({"locations": ["NO-SUCH-DC"]}, "NO-SUCH-DC")],
)
def test_unknown_skus_and_locations_are_named(demo_store, kwargs, named):
    known = two_skus(demo_store)
    if "skus" in kwargs:
        kwargs = {"skus": [*known, *kwargs["skus"]]}
    with pytest.raises(NotFoundError) as refused:
        backtest(demo_store, BASELINES_ONLY, horizon=H, origins=1, show_bar=False, **kwargs)
    assert named in refused.value.detail


@pytest.mark.parametrize(
    "kwargs",
    [
        {"origins": 0},
        {"origins": 25},
        {"horizon": 6},
        {"horizon": 366},
        {"methods": ["pipeline", "magic"]},
    ],
)
def test_bad_backtests_are_refused(demo_store, kwargs):
    with pytest.raises(ControlTowerError):
        backtest(demo_store, BASELINES_ONLY, show_bar=False, **kwargs)
