"""Demand sensing: a plan made after its forecast run corrects the run by the demand seen
since, only when that demand is clearly off the run, fading with a half-life; the plan and
the stock-out rule read the same sensed figures."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import polars as pl
import pytest

from control_tower import exceptions
from control_tower.config import DemandSensing, ForecastSettings, OptimizerSettings, Settings
from control_tower.forecast import forecast
from control_tower.ingest import ingest_frames
from control_tower.optimize import build_instance
from control_tower.sensing import plan_forecast, sensed_ratios
from control_tower.store import Store
from tests.conftest import tiny_network_frames

D0 = date(2026, 1, 1)
RUN_AS_OF = D0 + timedelta(days=89)  # 90 days of history
PLAN_AS_OF = RUN_AS_OF + timedelta(days=3)


def _demand(sku: str, location: str, first: date, quantities: list[int]) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "sku": [sku] * len(quantities),
            "location": [location] * len(quantities),
            "date": [first + timedelta(days=i) for i in range(len(quantities))],
            "quantity": quantities,
        }
    )


@pytest.fixture
def sensed_store(tmp_path) -> Store:
    """A-100 at CD-RDC and B-200 at CQ-RDC sell 9 and 11 on alternate days (10 a day) for 90
    days; a forecast run is made as of the 90th; then A-100 sells 30 a day for 3 days (a
    promotion nobody announced) while B-200 goes on selling 9 and 11."""
    frames = tiny_network_frames()
    steady = [9, 11] * 45
    frames["ledger"] = pl.DataFrame(
        {
            "event_id": ["R1", "R2"],
            "ts": [D0, D0],
            "sku": ["A-100", "B-200"],
            "location": ["CD-RDC", "CQ-RDC"],
            "movement_type": ["receipt", "receipt"],
            "quantity": [5000, 5000],
        }
    )
    frames["demand"] = pl.concat(
        [_demand("A-100", "CD-RDC", D0, steady), _demand("B-200", "CQ-RDC", D0, steady)]
    )
    store = Store(tmp_path / "sensing.duckdb")
    ingest_frames(store, {k: v.cast({c: pl.String for c in v.columns}) for k, v in frames.items()})
    forecast(
        store,
        ForecastSettings(workers=1, tuning_sample=0, prophet_classes=[]),
        as_of=RUN_AS_OF,
        horizon=42,
        show_bar=False,
    )
    after = RUN_AS_OF + timedelta(days=1)
    later = pl.concat(
        [
            _demand("A-100", "CD-RDC", after, [30, 30, 30]),
            _demand("B-200", "CQ-RDC", after, [9, 11, 9]),
        ]
    )
    ingest_frames(store, {"demand": later.cast({c: pl.String for c in later.columns})})
    yield store
    store.close()


def _series(frame: pl.DataFrame, sku: str, location: str) -> pl.DataFrame:
    return frame.filter((pl.col("sku") == sku) & (pl.col("location") == location)).sort("date")


def test_a_clear_surge_since_the_run_scales_the_days_ahead_fading_by_the_half_life(sensed_store):
    sensing = DemandSensing()
    ratios = sensed_ratios(sensed_store, sensing, as_of=PLAN_AS_OF)
    assert ratios["sku"].to_list() == ["A-100"]  # B-200's days are within its spread
    row = ratios.row(0, named=True)
    assert row["days"] == 3 and row["seen"] == 90
    assert row["ratio"] == pytest.approx(min(90 / row["expected"], sensing.max_factor))
    assert row["ratio"] > 2

    frame = plan_forecast(sensed_store, sensing, as_of=PLAN_AS_OF, horizon=28)
    a = _series(frame, "A-100", "CD-RDC")
    assert a["date"][0] == PLAN_AS_OF + timedelta(days=1) and a.height == 28
    ahead = np.arange(1, 29)
    factor = 1 + (row["ratio"] - 1) * 0.5 ** ((ahead - 1) / sensing.half_life_days)
    np.testing.assert_allclose(a["mean"].to_numpy(), a["forecast_mean"].to_numpy() * factor)
    b = _series(frame, "B-200", "CQ-RDC")
    assert b["mean"].to_list() == b["forecast_mean"].to_list()


def test_nothing_is_sensed_when_off_or_when_the_run_is_as_of_the_plan(sensed_store):
    off = plan_forecast(sensed_store, DemandSensing(enabled=False), as_of=PLAN_AS_OF, horizon=14)
    assert off["mean"].to_list() == off["forecast_mean"].to_list()
    fresh = plan_forecast(sensed_store, DemandSensing(), as_of=RUN_AS_OF, horizon=14)
    assert fresh["mean"].to_list() == fresh["forecast_mean"].to_list()
    assert sensed_ratios(sensed_store, DemandSensing(), as_of=RUN_AS_OF).is_empty()


def test_a_drop_since_the_run_lowers_the_days_ahead_within_the_bound(sensed_store):
    with sensed_store.transaction() as cur:
        cur.execute(
            "UPDATE demand_history SET quantity = 0 WHERE sku = 'A-100' AND date > ?", [RUN_AS_OF]
        )
    sensing = DemandSensing(max_factor=2.0)
    ratios = sensed_ratios(sensed_store, sensing, as_of=PLAN_AS_OF)
    assert ratios.filter(pl.col("sku") == "A-100")["ratio"].to_list() == [0.5]  # 0 seen, clipped


def test_the_plan_and_the_stock_out_rule_read_the_same_sensed_demand(sensed_store):
    settings = Settings(optimizer=OptimizerSettings(horizon_days=28))
    inst = build_instance(sensed_store, settings, as_of=PLAN_AS_OF)
    i, j = inst.skus.index("A-100"), inst.locations.index("CD-RDC")
    projection = exceptions.project(
        sensed_store, "A-100", "CD-RDC", as_of=PLAN_AS_OF, settings=settings
    )
    rule = projection.days["demand"].to_numpy()
    n = min(len(rule), inst.horizon)
    np.testing.assert_allclose(inst.demand[i, j, :n], rule[:n])
    sensed = plan_forecast(sensed_store, settings.forecast.sensing, as_of=PLAN_AS_OF, horizon=n)
    np.testing.assert_allclose(rule[:n], _series(sensed, "A-100", "CD-RDC")["mean"].to_numpy())
    assert rule[0] > 2 * _series(sensed, "A-100", "CD-RDC")["forecast_mean"][0]
