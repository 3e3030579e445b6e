"""Choose Prophet's settings by backtest, once per run (or reuse the last choice).

Per-series tuning overfits a couple of years of daily data and costs a dozen fits per series,
so the grid is scored on a sample of the series Prophet is meant for: the highest-value half
and a seeded random half, two backtest windows each. The setting with the lowest weighted
RMSSE whose pooled bias is within the limit wins.
"""

from __future__ import annotations

from concurrent.futures import Executor, as_completed
from dataclasses import replace

import numpy as np
from tqdm import tqdm

from control_tower.forecast import metrics
from control_tower.forecast.classify import classify
from control_tower.forecast.pipeline import (
    SeriesInput,
    Spec,
    _adjust,
    _origins,
    cap_outliers,
    from_first_demand,
    prophet_path,
)
from control_tower.forecast.prophet_model import PROPHET_GRID, ProphetConfig
from control_tower.forecast.runner import Progress

TUNING_ORIGINS = 2
MIN_SAMPLE = 4


def score_configs(
    series: SeriesInput, spec: Spec, configs: tuple[ProphetConfig, ...]
) -> list[tuple[str, float, float, float, float]]:
    """(config name, rmsse, sum forecast, sum actual, weight) per config; a config that fails
    on this series is left out."""
    series = from_first_demand(series)
    y = series.values
    adjusted = _adjust(series, 0)
    origins = _origins(len(y), TUNING_ORIGINS, spec.window)
    if not origins:
        return []
    scale = metrics.rmsse_scale(cap_outliers(y)[: origins[-1] + 1])
    out = []
    for config in configs:
        try:
            forecasts = [
                prophet_path(series, adjusted, spec, config, o, spec.window) for o in origins
            ]
        except Exception:  # noqa: BLE001 - a config that cannot fit this series scores nothing
            continue
        actual = np.concatenate([y[o + 1 : o + 1 + spec.window] for o in origins])
        predicted = np.concatenate(forecasts)
        out.append(
            (
                config.name,
                metrics.rmsse(actual, predicted, scale),
                float(predicted.sum()),
                float(actual.sum()),
                series.weight,
            )
        )
    return out


def sample_for_tuning(series: list[SeriesInput], spec: Spec, size: int) -> list[SeriesInput]:
    eligible = [
        s
        for s in series
        if s.try_prophet
        and str(
            classify(
                from_first_demand(s).values,
                min_history_days=spec.min_history_days,
                new_item_days=spec.new_item_days,
            )[0]
        )
        in spec.prophet_classes
    ]
    size = min(size, max(MIN_SAMPLE, len(eligible) // 4))  # a small run tunes on a few
    if len(eligible) <= size:
        return eligible
    by_value = sorted(eligible, key=lambda s: -s.weight)
    top = by_value[: size // 2]
    rest = by_value[size // 2 :]
    rng = np.random.default_rng(0)
    picked = rng.choice(len(rest), size=size - len(top), replace=False)
    return top + [rest[i] for i in sorted(picked)]


def tune_prophet(
    executor: Executor,
    series: list[SeriesInput],
    spec: Spec,
    sample_size: int,
    grid: tuple[ProphetConfig, ...] = PROPHET_GRID,
    *,
    progress: Progress | None = None,
    show_bar: bool = False,
) -> tuple[ProphetConfig, list[dict]]:
    """The grid's best config on a sample, and the table of scores behind the choice.
    ``progress`` hears (series scored, sample size, "tuning") as each sample series finishes."""
    sample = sample_for_tuning(series, spec, sample_size) if sample_size > 0 else []
    if not sample:
        return grid[0], []
    spec = replace(spec, prophet=None)
    futures = [executor.submit(score_configs, s, spec, grid) for s in sample]
    scores: dict[str, list[tuple[float, float, float, float]]] = {c.name: [] for c in grid}
    with tqdm(total=len(sample), desc="tuning", unit="series", disable=not show_bar) as bar:
        for done, _ in enumerate(as_completed(futures), start=1):
            bar.update(1)
            if progress:
                progress(done, len(sample), "tuning")
    for future in futures:  # in sample order, so the pooled scores do not depend on timing
        try:
            rows = future.result()
        except Exception:  # noqa: BLE001 - a sample series that fails is skipped
            continue
        for name, rmsse, predicted, actual, weight in rows:
            scores[name].append((rmsse, predicted, actual, weight))
    table = []
    for config in grid:
        rows = scores[config.name]
        if not rows:
            continue
        arr = np.array(rows)
        bias = (
            (arr[:, 1].sum() - arr[:, 2].sum()) / arr[:, 2].sum() if arr[:, 2].sum() > 0 else np.inf
        )
        table.append(
            {
                "config": config.name,
                "weighted_rmsse": metrics.weighted_mean(arr[:, 0], arr[:, 3]),
                "bias": float(bias),
                "series": len(rows),
            }
        )
    if not table:
        return grid[0], []
    ok = [t for t in table if abs(t["bias"]) <= spec.max_bias] or sorted(
        table, key=lambda t: abs(t["bias"])
    )[:1]
    best = min(ok, key=lambda t: t["weighted_rmsse"])
    return next(c for c in grid if c.name == best["config"]), table
