"""Baseline forecasters for daily demand.

Each baseline computes, in one causal pass over the series, the forecast it would have made
after every day (its *path*), so a rolling-origin backtest reads any origin without refitting.
``forecast(y, horizon, origin)`` returns the mean forecast for the ``horizon`` days after index
``origin`` (inclusive end of the training data), using ``y[: origin + 1]`` only.

Sources: Croston (1972), Syntetos & Boylan (2005) for SBA, Teunter, Syntetos & Babai (2011)
for TSB; seasonal naive and moving averages as in Hyndman & Athanasopoulos, FPP3 ch. 5.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

SEASON = 7
MA_WINDOW = 28
WEEKDAY_WEEKS = 8
CROSTON_ALPHA = 0.1
TSB_ALPHA = 0.1  # demand probability, updated every day
TSB_BETA = 0.1  # demand size, updated on demand days


def _smooth(x: np.ndarray, alpha: float, initial: float) -> np.ndarray:
    """Simple exponential smoothing: s_t = s_{t-1} + alpha (x_t - s_{t-1}), s_{-1} = initial."""
    if len(x) == 0:
        return np.empty(0)
    # imported here: scipy.signal takes about 2 s to import, and every reader of the store
    # (the CLI's ask, the dashboard) imports this module without forecasting
    from scipy.signal import lfilter

    out, _ = lfilter([alpha], [1.0, alpha - 1.0], x, zi=[(1.0 - alpha) * initial])
    return out


def _occurrence_path(
    y: np.ndarray, size_alpha: float, interval_alpha: float | None
) -> tuple[np.ndarray, np.ndarray]:
    """Smoothed demand size (and interval) after each day, carried between demand days.
    Before the first demand both are NaN."""
    n = len(y)
    idx = np.flatnonzero(y > 0)
    size = np.full(n, np.nan)
    interval = np.full(n, np.nan)
    if len(idx) == 0:
        return size, interval
    sizes = _smooth(y[idx], size_alpha, y[idx[0]])
    gaps = np.diff(np.concatenate(([-1], idx))).astype(float)
    gaps[0] = idx[0] + 1.0 if idx[0] > 0 else 1.0
    intervals = _smooth(gaps, interval_alpha or size_alpha, gaps[0])
    # carry the last update forward to every following day
    last = np.maximum.accumulate(np.where(y > 0, np.arange(n), -1))
    seen = last >= 0
    position = np.searchsorted(idx, last[seen])
    size[seen] = sizes[position]
    interval[seen] = intervals[position]
    return size, interval


def croston_path(y: np.ndarray, alpha: float = CROSTON_ALPHA) -> np.ndarray:
    size, interval = _occurrence_path(y, alpha, alpha)
    return np.nan_to_num(size / interval)


def sba_path(y: np.ndarray, alpha: float = CROSTON_ALPHA) -> np.ndarray:
    """Syntetos-Boylan approximation: Croston's estimate times (1 - alpha / 2)."""
    return croston_path(y, alpha) * (1.0 - alpha / 2.0)


def tsb_path(y: np.ndarray, alpha: float = TSB_ALPHA, beta: float = TSB_BETA) -> np.ndarray:
    """Teunter-Syntetos-Babai: probability of demand smoothed every day (so an item that
    stops selling decays towards zero), size smoothed on demand days."""
    occurred = (y > 0).astype(float)
    first = np.flatnonzero(occurred)
    initial = occurred[: first[0] + 1].mean() if len(first) else 0.0
    probability = _smooth(occurred, alpha, initial)
    size, _ = _occurrence_path(y, beta, None)
    return np.nan_to_num(probability * size)


def moving_average_path(y: np.ndarray, window: int = MA_WINDOW) -> np.ndarray:
    csum = np.concatenate(([0.0], np.cumsum(y, dtype=float)))
    ends = np.arange(1, len(y) + 1)
    starts = np.maximum(ends - window, 0)
    return (csum[ends] - csum[starts]) / (ends - starts)


def _flat(path_fn: Callable[[np.ndarray], np.ndarray]) -> Callable[..., np.ndarray]:
    def forecast(y: np.ndarray, horizon: int, origin: int | None = None) -> np.ndarray:
        origin = len(y) - 1 if origin is None else origin
        level = path_fn(y[: origin + 1])[-1] if origin >= 0 else 0.0
        return np.full(horizon, max(float(level), 0.0))

    forecast.path = path_fn  # type: ignore[attr-defined]
    return forecast


def seasonal_naive(y: np.ndarray, horizon: int, origin: int | None = None) -> np.ndarray:
    """The last week repeated (the reference method of the backtests)."""
    origin = len(y) - 1 if origin is None else origin
    history = y[: origin + 1]
    if len(history) < SEASON:
        return np.full(horizon, history.mean() if len(history) else 0.0)
    last_week = history[-SEASON:]
    return np.resize(last_week, horizon).astype(float)


def weekday_average(y: np.ndarray, horizon: int, origin: int | None = None) -> np.ndarray:
    """Mean of the same weekday over the last eight weeks: keeps closed days closed."""
    origin = len(y) - 1 if origin is None else origin
    history = y[: origin + 1][-SEASON * WEEKDAY_WEEKS :]
    if len(history) < 2 * SEASON:
        return np.full(horizon, history.mean() if len(history) else 0.0)
    k = len(history) // SEASON * SEASON
    weekly = history[-k:].reshape(-1, SEASON).mean(axis=0)
    return np.resize(weekly, horizon).astype(float)


PROFILE_WEEKS = 26


def weekday_profile(history: np.ndarray, weeks: int = PROFILE_WEEKS) -> np.ndarray:
    """Multipliers (mean 1) by position modulo 7 from the last ``weeks`` whole weeks of
    ``history``: entry ``c`` belongs to the days whose index ``i`` has ``i % 7 == c``.
    Flat when there are fewer than two weeks or no demand."""
    k = min(len(history), SEASON * weeks) // SEASON * SEASON
    if k < 2 * SEASON:
        return np.ones(SEASON)
    segment = history[-k:]
    first = len(history) - k
    profile = np.empty(SEASON)
    for c in range(SEASON):
        profile[(first + c) % SEASON] = segment[c::SEASON].mean()
    mean = profile.mean()
    return profile / mean if mean > 0 else np.ones(SEASON)


def moving_average_weekday(y: np.ndarray, horizon: int, origin: int | None = None) -> np.ndarray:
    """The 28-day moving average shaped by the weekday profile of the last 26 weeks: the
    level of a moving average, the week of a seasonal method, little of either's noise."""
    origin = len(y) - 1 if origin is None else origin
    history = y[: origin + 1]
    level = moving_average_path(history)[-1] if len(history) else 0.0
    profile = weekday_profile(history)
    days = np.arange(origin + 1, origin + 1 + horizon)
    return level * profile[days % SEASON]


croston = _flat(croston_path)
sba = _flat(sba_path)
tsb = _flat(tsb_path)
moving_average = _flat(moving_average_path)


def forecasts_at(method: str, y: np.ndarray, horizon: int, origins: list[int]) -> list[np.ndarray]:
    """The method's forecast at each origin. A flat method's path is computed once and read
    at every origin (the path is causal, so this equals a fit on each prefix)."""
    fn = BASELINES[method]
    path_fn = getattr(fn, "path", None)
    if path_fn is None:
        return [fn(y, horizon, o) for o in origins]
    path = path_fn(y[: max(origins) + 1]) if origins else np.empty(0)
    return [np.full(horizon, max(float(path[o]), 0.0)) for o in origins]


BASELINES: dict[str, Callable[..., np.ndarray]] = {
    "seasonal_naive": seasonal_naive,
    "weekday_average": weekday_average,
    "moving_average": moving_average,
    "moving_average_weekday": moving_average_weekday,
    "croston": croston,
    "sba": sba,
    "tsb": tsb,
}
