"""Reading stored forecast runs: per series, aggregated, the accuracy leaderboard, export."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import polars as pl

from control_tower.errors import ControlTowerError, NotFoundError
from control_tower.forecast.service import QUANTILE_COLUMNS, resolve_run
from control_tower.store import Store

EXPORT_COLUMNS = ("sku", "location", "date", "mean", *QUANTILE_COLUMNS, "method")
AGGREGATE_LEVELS = {"network": None, "region": "l.region", "category": "p.category"}
LEADERBOARD_GROUPS = {"method": "c.method", "demand_class": "s.demand_class"}


def load_forecasts(
    store: Store, run_id: int, *, sku: str | None = None, location: str | None = None
) -> pl.DataFrame:
    """Daily forecast rows of a run (optionally one SKU and/or location) with the method."""
    return store.query(
        "SELECT f.sku, f.location, f.date, f.mean, f.sd, f.p50, f.p90, f.p95, f.p99, f.cum_mean, "
        "f.cum_sd, f.cum_p50, f.cum_p90, f.cum_p95, f.cum_p99, s.method "
        "FROM forecasts f JOIN forecast_series s USING (run_id, sku, location) "
        "WHERE f.run_id = $run AND ($sku IS NULL OR f.sku = $sku) "
        "AND ($location IS NULL OR f.location = $location) ORDER BY f.sku, f.location, f.date",
        {"run": run_id, "sku": sku, "location": location},
    )


def series_summary(store: Store, run_id: int) -> pl.DataFrame:
    """One row per series of a run: class, method and why, backtest scores, failure."""
    return store.query(
        "SELECT s.sku, p.name, s.location, l.country, s.demand_class, s.method, s.reason, "
        "s.rmsse, s.wape, s.bias, s.adi, s.cv2, s.history_days, s.weight, s.failure, s.reused "
        "FROM forecast_series s LEFT JOIN products p USING (sku) "
        "LEFT JOIN locations l ON l.code = s.location WHERE s.run_id = $run "
        "ORDER BY s.weight DESC, s.sku, s.location",
        {"run": run_id},
    )


def leaderboard(store: Store, run_id: int, by: str = "method") -> pl.DataFrame:
    """Backtest accuracy of a run's candidates per method (every method tried, over the
    series it was tried on) or per demand class (the chosen methods): weighted RMSSE,
    WAPE, bias, series, and how often the method was chosen."""
    if by not in LEADERBOARD_GROUPS:
        raise ControlTowerError(f"leaderboard by {by!r}: use one of {sorted(LEADERBOARD_GROUPS)}")
    if by == "method":
        return store.query(
            "SELECT c.method, count(*) AS series, count(*) FILTER (WHERE c.chosen) AS chosen, "
            "sum(c.rmsse * s.weight) / nullif(sum(s.weight) FILTER (WHERE c.rmsse IS NOT NULL), 0) "
            "AS weighted_rmsse, "
            "median(c.rmsse) AS median_rmsse, median(c.wape) AS median_wape, "
            "median(c.bias) AS median_bias "
            "FROM forecast_candidates c JOIN forecast_series s USING (run_id, sku, location) "
            "WHERE c.run_id = $run GROUP BY c.method ORDER BY weighted_rmsse NULLS LAST",
            {"run": run_id},
        )
    return store.query(
        "SELECT s.demand_class, count(*) AS series, "
        "sum(s.rmsse * s.weight) / nullif(sum(s.weight) FILTER (WHERE s.rmsse IS NOT NULL), 0) "
        "AS weighted_rmsse, median(s.rmsse) AS median_rmsse, median(s.wape) AS median_wape, "
        "median(s.bias) AS median_bias, mode(s.method) AS most_chosen, "
        "count(s.failure) AS failures "
        "FROM forecast_series s WHERE s.run_id = $run GROUP BY s.demand_class "
        "ORDER BY series DESC",
        {"run": run_id},
    )


def aggregate_forecast(
    store: Store, run_id: int, *, level: str = "network", key: str | None = None
) -> pl.DataFrame:
    """Daily forecast summed over a region, a category or the network. Means add up;
    the band assumes independent series (variances add), a normal approximation:
    p90 = mean + 1.2816 sd, p95 = mean + 1.6449 sd, p99 = mean + 2.3263 sd."""
    if level not in AGGREGATE_LEVELS:
        raise ControlTowerError(f"aggregate by {level!r}: use one of {sorted(AGGREGATE_LEVELS)}")
    column = AGGREGATE_LEVELS[level]
    if column is not None and key is None:
        raise ControlTowerError(f"aggregate by {level}: say which {level}", title="Which one?")
    where = "" if column is None else f" AND {column} = $key"
    frame = store.query(
        "SELECT f.date, sum(f.mean) AS mean, sqrt(sum(f.sd * f.sd)) AS sd, count(*) AS series "  # noqa: S608
        "FROM forecasts f LEFT JOIN locations l ON l.code = f.location "
        "LEFT JOIN products p ON p.sku = f.sku "
        f"WHERE f.run_id = $run{where} GROUP BY f.date ORDER BY f.date",  # allow-listed column
        {"run": run_id} | ({"key": key} if column else {}),
    )
    return frame.with_columns(
        (pl.col("mean") + 1.2816 * pl.col("sd")).alias("p90"),
        (pl.col("mean") + 1.6449 * pl.col("sd")).alias("p95"),
        (pl.col("mean") + 2.3263 * pl.col("sd")).alias("p99"),
    )


def demand_history_series(
    store: Store,
    *,
    start: date,
    end: date,
    sku: str | None = None,
    location: str | None = None,
    level: str | None = None,
    key: str | None = None,
    run_id: int | None = None,
) -> pl.DataFrame:
    """Daily demand (date, quantity) for one SKU x location, or summed over a region /
    category / the network, between two dates; days without a record are zero. With
    ``run_id``, only the series that run forecast count (the history that matches the
    aggregate forecast of a run limited to some SKUs or locations)."""
    if level is not None and level not in AGGREGATE_LEVELS:
        raise ControlTowerError(f"aggregate by {level!r}: use one of {sorted(AGGREGATE_LEVELS)}")
    column = AGGREGATE_LEVELS.get(level) if level else None
    if column is not None and key is None:
        raise ControlTowerError(f"history by {level}: say which {level}", title="Which one?")
    where = f" AND {column} = $key" if column else ""
    return store.query(
        "WITH days AS (SELECT CAST(unnest(generate_series($start::DATE, $end::DATE, "  # noqa: S608
        "INTERVAL 1 DAY)) AS DATE) AS date), "
        "d AS (SELECT d.date, sum(d.quantity)::DOUBLE AS quantity FROM demand_history d "
        "LEFT JOIN locations l ON l.code = d.location LEFT JOIN products p ON p.sku = d.sku "
        "WHERE d.date BETWEEN $start AND $end AND ($sku IS NULL OR d.sku = $sku) "
        f"AND ($location IS NULL OR d.location = $location){where} "
        "AND ($run IS NULL OR (d.sku, d.location) IN "
        "(SELECT (sku, location) FROM forecast_series WHERE run_id = $run)) GROUP BY d.date) "
        "SELECT days.date, coalesce(d.quantity, 0) AS quantity FROM days LEFT JOIN d USING (date) "
        "ORDER BY days.date",
        {"start": start, "end": end, "sku": sku, "location": location, "run": run_id}
        | ({"key": key} if column else {}),
    )


def export_forecasts(store: Store, run: int | str | None, path: str | Path) -> int:
    """Write a run's forecasts to CSV (columns: EXPORT_COLUMNS). Returns the row count. The
    file is written to a temporary name and renamed, so a failed export leaves nothing."""
    found = resolve_run(store, run)
    frame = load_forecasts(store, found.run_id).select(EXPORT_COLUMNS)
    if frame.is_empty():
        raise NotFoundError(f"run {found.run_id} has no forecasts", title="Empty run")
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.with_name(target.name + ".part")
    frame.with_columns(pl.col(c).round(4) for c in ("mean", *QUANTILE_COLUMNS)).write_csv(
        temporary, quote_style="non_numeric"
    )
    temporary.replace(target)
    return frame.height
