"""One series, start to finish: classify, clean, backtest the candidates, choose, forecast,
attach quantiles. A pure function of its inputs, so the same code runs in this process, in a
process pool or on a Dask worker.

Choice rule: among the candidates whose backtest bias is within ``max_bias``, the lowest
RMSSE wins. When every candidate is more biased than that, the least biased one is used and
the reason says so. When Prophet raises (in the backtest or the final fit), the series falls
back to the best baseline and the failure is recorded.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import date, timedelta

import numpy as np
import pandas as pd

from control_tower.forecast import baselines, metrics
from control_tower.forecast.classify import DemandClass, classify
from control_tower.forecast.prophet_model import ProphetConfig, prophet_forecast
from control_tower.forecast.quantiles import Bands, ErrorModel, bands, error_model

PROPHET = "prophet"
NEW_ITEM = "new_item"
MIN_TRAIN_DAYS = 56  # the shortest training history a backtest origin gets
OUTLIER_MADS = 10.0


@dataclass(frozen=True)
class SeriesInput:
    sku: str
    location: str
    start: date  # the date of values[0]; values run to the as-of date
    values: np.ndarray
    country: str = "CN"
    price: float = 1.0  # sales value per unit, for the M5 weights

    @property
    def weight(self) -> float:
        """Sales value of the last 28 days (the M5 weight of the series)."""
        return float(self.price * np.sum(self.values[-metrics.WEIGHT_DAYS :]))


@dataclass(frozen=True)
class Spec:
    """Everything a worker needs besides the series (small and picklable)."""

    horizon: int
    window: int = 28
    prophet_origins: int = 1
    baseline_origins: int = 6
    max_bias: float = 0.15
    min_history_days: int = 84
    new_item_days: int = 28
    prophet_classes: tuple[str, ...] = ("smooth", "erratic")
    prophet: ProphetConfig | None = None  # None: baselines only
    holidays: dict[str, pd.DataFrame] = field(default_factory=dict)  # by country
    prophet_fn: Callable[..., np.ndarray] = prophet_forecast  # injectable for tests


@dataclass(frozen=True)
class CandidateScore:
    method: str
    rmsse: float
    wape: float
    bias: float
    eligible: bool


@dataclass(frozen=True)
class SeriesResult:
    sku: str
    location: str
    demand_class: str
    method: str
    reason: str
    rmsse: float | None
    wape: float | None
    bias: float | None
    adi: float
    cv2: float
    history_days: int
    weight: float
    errors: ErrorModel
    candidates: tuple[CandidateScore, ...]
    mean: np.ndarray
    bands: Bands
    failure: str | None
    seconds: float


def cap_outliers(y: np.ndarray) -> np.ndarray:
    """Training copy with single extreme days (a bulk order, a keying error) capped at the
    median non-zero day plus ten MADs, and never below three times the 95th percentile, so
    festival peaks stay."""
    nonzero = y[y > 0]
    if len(nonzero) < 8:
        return y
    median = np.median(nonzero)
    mad = np.median(np.abs(nonzero - median))
    cap = max(median + OUTLIER_MADS * max(mad, 1.0), 3.0 * np.quantile(nonzero, 0.95))
    return np.minimum(y, cap)


def _forecast_with(
    method: str, series: SeriesInput, y: np.ndarray, horizon: int, origin: int, spec: Spec
) -> np.ndarray:
    if method == PROPHET:
        holidays = spec.holidays.get(series.country)
        return spec.prophet_fn(series.start, y, horizon, origin, spec.prophet, holidays)
    return baselines.BASELINES[method](y, horizon, origin)


def _origins(n: int, count: int, window: int) -> list[int]:
    """Backtest origins (last training index), latest first, each with a full test window
    and at least MIN_TRAIN_DAYS of training data."""
    return [
        n - 1 - j * window for j in range(1, count + 1) if n - 1 - j * window >= MIN_TRAIN_DAYS - 1
    ]


def forecast_series(series: SeriesInput, spec: Spec) -> SeriesResult:
    started = time.perf_counter()
    y = np.asarray(series.values, dtype=float)
    first_demand = np.flatnonzero(y > 0)
    if len(first_demand):  # a launch: the days before the first demand say nothing
        y = y[first_demand[0] :]
        series = replace(series, start=series.start + timedelta(days=int(first_demand[0])))
    n = len(y)
    demand_class, adi, cv2 = classify(
        y, min_history_days=spec.min_history_days, new_item_days=spec.new_item_days
    )
    train = cap_outliers(y)
    failure: str | None = None

    def result(method, reason, mean, model, chosen=None, candidates=()):
        return SeriesResult(
            sku=series.sku,
            location=series.location,
            demand_class=str(demand_class),
            method=method,
            reason=reason,
            rmsse=chosen.rmsse if chosen else None,
            wape=chosen.wape if chosen else None,
            bias=chosen.bias if chosen else None,
            adi=adi,
            cv2=cv2,
            history_days=n,
            weight=series.weight,
            errors=model,
            candidates=tuple(candidates),
            mean=mean,
            bands=bands(mean, model),
            failure=failure,
            seconds=time.perf_counter() - started,
        )

    if demand_class is DemandClass.NEW:
        since = y[np.flatnonzero(y > 0)[0] :]
        level = float(since.mean())
        model = ErrorModel(float(max(since.var(), level)), 0.0, level)
        mean = np.full(spec.horizon, level)
        return result(
            NEW_ITEM, f"first demand {len(since)} days ago: its average since then", mean, model
        )

    origins = []
    candidates = list(baselines.BASELINES)
    use_prophet = (
        spec.prophet is not None
        and str(demand_class) in spec.prophet_classes
        and demand_class is not DemandClass.TOO_SHORT
    )
    if demand_class is not DemandClass.TOO_SHORT:
        origins = _origins(
            n, spec.prophet_origins if use_prophet else spec.baseline_origins, spec.window
        )
    if not origins:
        method = "weekday_average" if n >= 14 else "moving_average"
        mean = baselines.BASELINES[method](train, spec.horizon)
        level = float(train.mean()) if n else 0.0
        model = ErrorModel(float(max(train.var(), level)) if n else 0.0, 0.0, level)
        return result(method, f"{n} days of history: too short to backtest", mean, model)
    if use_prophet:
        candidates.append(PROPHET)

    scale = metrics.rmsse_scale(train[: origins[-1] + 1])
    scores: list[CandidateScore] = []
    windows: dict[str, tuple[list[np.ndarray], list[np.ndarray]]] = {}
    for method in candidates:
        errors, forecasts = [], []
        try:
            for origin in origins:
                f = _forecast_with(method, series, train, spec.window, origin, spec)
                actual = y[origin + 1 : origin + 1 + spec.window]
                errors.append(actual - f)
                forecasts.append(f)
        except Exception as exc:  # noqa: BLE001 - a failing model must not fail the run
            failure = f"{method} failed in the backtest: {type(exc).__name__}: {exc}"[:500]
            continue
        actual = np.concatenate([f + e for f, e in zip(forecasts, errors, strict=True)])
        predicted = np.concatenate(forecasts)
        bias = metrics.bias(actual, predicted)
        scores.append(
            CandidateScore(
                method,
                metrics.rmsse(actual, predicted, scale),
                metrics.wape(actual, predicted),
                bias,
                bool(np.isfinite(bias) and abs(bias) <= spec.max_bias),
            )
        )
        windows[method] = (errors, forecasts)

    eligible = sorted((s for s in scores if s.eligible), key=lambda s: (s.rmsse, s.method))
    if eligible:
        ranked = eligible
        reason = (
            f"lowest RMSSE of {len(eligible)} methods within ±{spec.max_bias:.0%} bias "
            f"over {len(origins)} backtest window(s) of {spec.window} days"
        )
    else:
        ranked = sorted(
            scores, key=lambda s: (abs(s.bias) if np.isfinite(s.bias) else np.inf, s.rmsse)
        )
        reason = f"no method within ±{spec.max_bias:.0%} bias: the least biased"
    for chosen in ranked:
        try:
            mean = _forecast_with(chosen.method, series, train, spec.horizon, n - 1, spec)
        except Exception as exc:  # noqa: BLE001
            failure = f"{chosen.method} failed on the full history: {type(exc).__name__}: {exc}"[
                :500
            ]
            reason = f"{chosen.method} failed; next best"
            continue
        model = error_model(*windows[chosen.method])
        if failure and PROPHET in failure:
            reason = f"Prophet failed, fell back: {reason}"
        return result(chosen.method, reason, mean, model, chosen, scores)
    raise RuntimeError(f"no method could forecast {series.sku} at {series.location}")


def forecast_batch(batch: list[SeriesInput], spec: Spec) -> list[SeriesResult]:
    """The unit of work sent to a worker."""
    return [forecast_series(series, spec) for series in batch]
