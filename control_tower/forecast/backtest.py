"""Held-out accuracy: the pipeline against single methods over several origins.

For each origin (the last ``horizon`` days, then the ``horizon`` days before, ...), every
series is forecast from its history up to the origin and compared with what happened. The
pipeline chooses per series exactly as a production run would (its own inner backtests use
only data before the origin); Prophet's settings are tuned once, on history before the
earliest origin, and festival lifts per category as of each origin. Single methods are scored
as published (no lifts; ``baseline_blend`` the equal mean of its three baselines). Reported per
method: weighted RMSSE (M5, bottom level: SKU x location),
WAPE and bias, and RMSSE relative to seasonal naive, the reference.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from concurrent.futures import as_completed
from dataclasses import dataclass, replace
from datetime import date, timedelta

import numpy as np
import polars as pl
from tqdm import tqdm

from control_tower.config import ForecastSettings
from control_tower.errors import ControlTowerError, NotFoundError
from control_tower.forecast import baselines, metrics
from control_tower.forecast.classify import classify
from control_tower.forecast.pipeline import (
    BASELINE_BLEND,
    BLENDED,
    SeriesInput,
    Spec,
    forecast_series,
    from_first_demand,
)
from control_tower.forecast.prophet_model import DEFAULT_PROPHET
from control_tower.forecast.runner import Progress, open_executor
from control_tower.forecast.service import (
    attach_calendars,
    build_spec,
    check_known,
    estimate_group_lifts,
    load_series,
    mark_prophet_series,
    resolve_as_of,
)
from control_tower.forecast.tuning import tune_prophet
from control_tower.store import Store

log = logging.getLogger(__name__)

PIPELINE = "pipeline"
PROPHET_DEFAULT = "prophet_default"
REFERENCE = "seasonal_naive"


@dataclass(frozen=True)
class SeriesScore:
    sku: str
    location: str
    origin: int
    demand_class: str
    method: str
    chosen: str  # the pipeline's choice at this origin (for per-method breakdowns)
    rmsse: float
    forecast_sum: float
    actual_sum: float
    abs_error: float
    weight: float
    seconds: float


@dataclass(frozen=True)
class BacktestReport:
    horizon: int
    origins: list[date]
    series: int
    table: pl.DataFrame  # one row per method
    by_class: pl.DataFrame  # the pipeline per demand class
    scores: pl.DataFrame  # one row per series x origin x method
    tuned: str
    seconds: float


def evaluate_series(
    series: SeriesInput,
    spec: Spec,
    origins: Sequence[int],
    methods: Sequence[str],
    prophet_flags: Sequence[bool] | None = None,
    calendars: Sequence[np.ndarray | None] | None = None,
) -> list[SeriesScore]:
    """Score each method on each origin (index of the last training day) of one series.
    ``calendars``: the series' group calendar as of each origin, for the pipeline."""
    y = np.asarray(series.values, dtype=float)
    h = spec.horizon
    out: list[SeriesScore] = []
    for k, origin in enumerate(origins):
        if origin < 0 or origin + h > len(y) - 1:
            continue
        history = replace(
            series,
            values=y[: origin + 1],
            try_prophet=bool(prophet_flags[k]) if prophet_flags else True,
            calendar=calendars[k] if calendars else None,
        )
        actual = y[origin + 1 : origin + 1 + h]
        train = history.values
        scale = metrics.rmsse_scale(train)
        weight = history.weight
        cls = str(
            classify(
                from_first_demand(history).values,
                min_history_days=spec.min_history_days,
                new_item_days=spec.new_item_days,
            )[0]
        )
        chosen = ""
        for method in methods:
            started = time.perf_counter()
            if method == PIPELINE:
                result = forecast_series(history, spec)
                predicted, chosen = result.mean[:h], result.method
            elif method == PROPHET_DEFAULT:
                try:
                    predicted = spec.prophet_fn(series.start, y, h, origin, DEFAULT_PROPHET, None)
                except Exception:  # noqa: BLE001 - a default fit that fails scores as zeros
                    predicted = np.zeros(h)
            elif method == BASELINE_BLEND:
                parts = [baselines.BASELINES[m](y, h, origin) for m in BLENDED]
                predicted = sum(parts) / len(parts)
            else:
                predicted = baselines.BASELINES[method](y, h, origin)
            out.append(
                SeriesScore(
                    series.sku,
                    series.location,
                    k,
                    cls,
                    method,
                    chosen,
                    metrics.rmsse(actual, predicted, scale),
                    float(predicted.sum()),
                    float(actual.sum()),
                    float(np.abs(actual - predicted).sum()),
                    weight,
                    time.perf_counter() - started,
                )
            )
    return out


def _evaluate_batch(batch, spec, origins_by_series, methods, flags_by_series, calendars):
    return [
        s
        for series, origins, flags, cal in zip(
            batch, origins_by_series, flags_by_series, calendars, strict=True
        )
        for s in evaluate_series(series, spec, origins, methods, flags, cal)
    ]


def _calendars(
    store: Store,
    series_plans: list[tuple[SeriesInput, list[int]]],
    origin_dates: list[date],
    horizon: int,
    settings: ForecastSettings,
) -> list[list[np.ndarray | None]]:
    """Per series and origin: its group calendar with lifts estimated as of that origin (as a
    run on that date would have them; nothing after it is read)."""
    out: list[list[np.ndarray | None]] = [[None] * len(origin_dates) for _ in series_plans]
    if not settings.group_lifts:
        return out
    for k, day in enumerate(origin_dates):
        lifts = estimate_group_lifts(store, as_of=day, country=settings.country)
        attached = attach_calendars(
            store, [s for s, _ in series_plans], lifts, day + timedelta(days=horizon)
        )
        for i, s in enumerate(attached):
            out[i][k] = s.calendar
    return out


def _prophet_flags(
    series_plans: list[tuple[SeriesInput, list[int]]], origins: int, value_share: float
) -> list[list[bool]]:
    """Per series and origin: is it among the series Prophet is tried on, judged on the
    history up to that origin (as a run at that date would)."""
    flags = [[True] * origins for _ in series_plans]
    for k in range(origins):
        present = [(i, s, p[k]) for i, (s, p) in enumerate(series_plans) if p[k] >= 0]
        marked = mark_prophet_series(
            [replace(s, values=s.values[: idx + 1]) for _, s, idx in present], value_share
        )
        for (i, _, _), m in zip(present, marked, strict=True):
            flags[i][k] = m.try_prophet
    return flags


def summarise(scores: pl.DataFrame, group: str = "method") -> pl.DataFrame:
    """Weighted RMSSE (weights normalised within each origin, then averaged over origins),
    WAPE and bias per group."""
    per_origin = scores.with_columns(
        (pl.col("weight") / pl.col("weight").sum().over(group, "origin")).fill_nan(0).alias("w")
    )
    table = per_origin.group_by(group).agg(
        ((pl.col("rmsse") * pl.col("w")).sum() / pl.col("origin").n_unique()).alias(
            "weighted_rmsse"
        ),
        pl.col("rmsse").mean().alias("mean_rmsse"),
        (pl.col("abs_error").sum() / pl.col("actual_sum").sum()).alias("wape"),
        (
            (pl.col("forecast_sum").sum() - pl.col("actual_sum").sum()) / pl.col("actual_sum").sum()
        ).alias("bias"),
        pl.struct("sku", "location").n_unique().alias("series"),
        pl.col("seconds").sum().alias("seconds"),
    )
    return table.sort("weighted_rmsse")


def backtest(
    store: Store,
    settings: ForecastSettings | None = None,
    *,
    horizon: int = 28,
    origins: int = 3,
    as_of: date | None = None,
    skus: Sequence[str] | None = None,
    locations: Sequence[str] | None = None,
    methods: Sequence[str] | None = None,
    workers: int | None = None,
    progress: Progress | None = None,
    show_bar: bool = True,
    prophet_fn=None,
) -> BacktestReport:
    settings = settings or ForecastSettings()
    if not 1 <= origins <= 24:
        raise ControlTowerError(f"origins must be 1..24, not {origins}", title="Bad backtest")
    if not 7 <= horizon <= 365:
        raise ControlTowerError(f"horizon must be 7..365 days, not {horizon}", title="Bad backtest")
    known = [PIPELINE, PROPHET_DEFAULT, *baselines.BASELINES, BASELINE_BLEND]
    methods = list(methods or known)
    unknown = set(methods) - set(known)
    if unknown:
        raise ControlTowerError(f"unknown methods {sorted(unknown)}", title="Bad backtest")
    if skus:
        check_known(store, "products", "sku", skus, "SKU")
    if locations:
        check_known(store, "locations", "code", locations, "location")
    as_of = resolve_as_of(store, as_of)
    origin_dates = [as_of - timedelta(days=horizon * k) for k in range(origins, 0, -1)]
    series = load_series(
        store, as_of=as_of, skus=skus, locations=locations, country=settings.country
    )
    # a series is scored at an origin when it had history by then
    plans = []
    for s in series:
        idx = [(d - s.start).days for d in origin_dates]
        plans.append([i if i >= 0 else -1 for i in idx])
    series_plans = [(s, p) for s, p in zip(series, plans, strict=True) if any(i >= 0 for i in p)]
    if not series_plans:
        raise NotFoundError(
            "no series has history before the first backtest origin", title="Nothing to backtest"
        )
    started = time.perf_counter()
    countries = {s.country for s, _ in series_plans}
    first_year = min(s.start for s, _ in series_plans).year
    spec = build_spec(settings, horizon, None, countries, first_year, as_of.year + 1, prophet_fn)
    workers = workers or settings.workers
    calendars = (
        _calendars(store, series_plans, origin_dates, horizon, settings)
        if PIPELINE in methods
        else [[None] * origins for _ in series_plans]
    )
    with open_executor(workers, settings.dask_scheduler) as (executor, _info):
        tuned_name = "-"
        if PIPELINE in methods:
            earliest = [
                replace(s, values=s.values[: p[0] + 1], calendar=c[0])
                for (s, p), c in zip(series_plans, calendars, strict=True)
                if p[0] >= 0
            ]
            prophet, _ = tune_prophet(executor, earliest, spec, settings.tuning_sample)
            spec = replace(spec, prophet=prophet)
            tuned_name = prophet.name
        size = max(1, settings.batch_size // 2)
        flags = _prophet_flags(series_plans, origins, settings.prophet_value_share)
        batches = [slice(i, i + size) for i in range(0, len(series_plans), size)]
        futures = {
            executor.submit(
                _evaluate_batch,
                [s for s, _ in series_plans[b]],
                spec,
                [p for _, p in series_plans[b]],
                methods,
                flags[b],
                calendars[b],
            ): len(series_plans[b])
            for b in batches
        }
        rows: list[SeriesScore] = []
        done = 0
        with tqdm(
            total=len(series_plans), desc="backtest", unit="series", disable=not show_bar
        ) as bar:
            for future in as_completed(futures):
                rows.extend(future.result())
                done += futures[future]
                bar.update(futures[future])
                if progress:
                    progress(done, len(series_plans), "backtest")
    scores = pl.DataFrame([r.__dict__ for r in rows])
    table = summarise(scores)
    reference = table.filter(pl.col("method") == REFERENCE)["weighted_rmsse"]
    if len(reference) and reference[0] > 0:
        table = table.with_columns(
            (1 - pl.col("weighted_rmsse") / reference[0]).alias("better_than_naive")
        )
    by_class = (
        summarise(scores.filter(pl.col("method") == PIPELINE), "demand_class")
        if PIPELINE in methods
        else pl.DataFrame()
    )
    return BacktestReport(
        horizon,
        origin_dates,
        len(series_plans),
        table,
        by_class,
        scores,
        tuned_name,
        time.perf_counter() - started,
    )
