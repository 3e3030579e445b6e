"""The plan's reading of the forecast: per series the latest run made by the as-of date,
corrected by the demand seen since that run was made (demand sensing).

A forecast run is made as of a day; plans and projections made later read it as it was. When
the days since then sold clearly more, or less, than the run expected (an unannounced
promotion, a lost customer), the days ahead are scaled by the ratio seen, fading with a
half-life, so a plan made between two forecasts does not wait for the next one to react.

For one series, over the last ``window_days`` days after the run's as-of and up to the
plan's (``n`` of them; none when the run is as of the plan's day):

    seen = sum of actual demand,  expected = sum of the run's mean,  sd = sqrt(sum of its sd^2)

and only when ``|seen - expected| > z * sd`` (clear beyond the forecast's own spread):

    ratio = clip(seen / expected, 1 / max_factor, max_factor)
    mean on day t ahead (t = 1, 2, ...) = mean * (1 + (ratio - 1) * 0.5 ** ((t - 1) / half_life))

This is the one definition behind the plan's demand (:mod:`control_tower.optimize`) and the
stock-out rule's projection (:mod:`control_tower.exceptions`), so both see the same figures.
"""

from __future__ import annotations

from datetime import date, timedelta

import polars as pl

from control_tower.config import DemandSensing
from control_tower.store import Store

# per series the latest run made by the as-of date (or the run asked for)
CHOSEN = """chosen AS (
    SELECT sku, location, max(run_id) AS run_id
    FROM forecast_series
    WHERE run_id IN (SELECT run_id FROM forecast_runs
                     WHERE as_of <= $as_of AND ($run_id IS NULL OR run_id = $run_id))
      AND ($all_skus OR sku IN (SELECT unnest($skus)))
    GROUP BY ALL
)"""

PLAN_FORECAST_SQL = f"""
WITH {CHOSEN}
SELECT f.run_id, f.sku, f.location, f.date, f.mean
FROM forecasts f JOIN chosen USING (run_id, sku, location)
WHERE f.date > $as_of AND f.date <= $last
"""  # noqa: S608

SEEN_SQL = f"""
WITH {CHOSEN}, days AS (
    SELECT f.run_id, f.sku, f.location, f.date, f.mean, f.sd
    FROM forecasts f JOIN chosen USING (run_id, sku, location)
    JOIN forecast_runs r USING (run_id)
    WHERE f.date > r.as_of AND f.date <= $as_of AND f.date > $first
), sold AS (
    SELECT sku, location, date, sum(quantity)::DOUBLE AS quantity
    FROM demand_history
    WHERE date > $first AND date <= $as_of AND ($all_skus OR sku IN (SELECT unnest($skus)))
    GROUP BY ALL
)
SELECT d.sku, d.location, count(*) AS days,
       sum(greatest(d.mean, 0))::DOUBLE AS expected,
       sqrt(sum(coalesce(d.sd, 0) * coalesce(d.sd, 0)))::DOUBLE AS sd,
       coalesce(sum(h.quantity), 0)::DOUBLE AS seen
FROM days d LEFT JOIN sold h USING (sku, location, date)
GROUP BY ALL
"""  # noqa: S608


def sensed_ratios(
    store: Store,
    sensing: DemandSensing,
    *,
    as_of: date,
    run_id: int | None = None,
    skus: list[str] | None = None,
) -> pl.DataFrame:
    """Per series whose demand since its run was made is clearly off the run: sku, location,
    days, expected, sd, seen and the ratio applied (empty when sensing is off or every run
    is as of ``as_of``)."""
    empty = pl.DataFrame(
        schema={
            "sku": pl.String,
            "location": pl.String,
            "days": pl.Int64,
            "expected": pl.Float64,
            "sd": pl.Float64,
            "seen": pl.Float64,
            "ratio": pl.Float64,
        }
    )
    if not sensing.enabled:
        return empty
    frame = store.query(
        SEEN_SQL,
        {
            "as_of": as_of,
            "first": as_of - timedelta(days=sensing.window_days),
            "run_id": run_id,
            "all_skus": skus is None,
            "skus": skus or [""],
        },
    )
    if frame.height == 0:
        return empty
    gap = (frame["seen"] - frame["expected"]).abs()
    clear = (gap > sensing.z * frame["sd"]) & (frame["expected"] > 0)
    frame = frame.filter(clear)
    return frame.with_columns(
        days=pl.col("days").cast(pl.Int64),
        ratio=(pl.col("seen") / pl.col("expected")).clip(
            1.0 / sensing.max_factor, sensing.max_factor
        ),
    ).select(empty.columns)


def plan_forecast(
    store: Store,
    sensing: DemandSensing,
    *,
    as_of: date,
    horizon: int,
    run_id: int | None = None,
    skus: list[str] | None = None,
) -> pl.DataFrame:
    """Per series the latest run made by ``as_of`` (or ``run_id``), its days after ``as_of``
    up to ``horizon``: run_id, sku, location, date, mean (sensed), forecast_mean (the run's)."""
    frame = store.query(
        PLAN_FORECAST_SQL,
        {
            "as_of": as_of,
            "run_id": run_id,
            "last": as_of + timedelta(days=horizon),
            "all_skus": skus is None,
            "skus": skus or [""],
        },
    ).with_columns(forecast_mean=pl.col("mean"))
    if frame.height == 0:
        return frame
    ratios = sensed_ratios(store, sensing, as_of=as_of, run_id=run_id, skus=skus)
    if ratios.height == 0:
        return frame
    ahead = (pl.col("date") - pl.lit(as_of)).dt.total_days() - 1
    fade = pl.lit(0.5).pow(ahead.cast(pl.Float64) / sensing.half_life_days)
    return (
        frame.join(ratios.select("sku", "location", "ratio"), on=["sku", "location"], how="left")
        .with_columns(
            mean=pl.when(pl.col("ratio").is_null())
            .then(pl.col("mean"))
            .otherwise(pl.col("mean") * (1.0 + (pl.col("ratio") - 1.0) * fade))
        )
        .drop("ratio")
    )
