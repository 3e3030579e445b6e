"""One series, start to finish: classify, clean, backtest the candidates, choose, forecast,
attach quantiles. A pure function of its inputs, so the same code runs in this process, in a
process pool or on a Dask worker.

Candidates. Every class gets the baselines (``baselines.BASELINES``), backtested over
``baseline_origins`` windows of ``window`` days. Smooth and erratic series (``prophet_classes``)
also get Prophet and ``prophet_ma``: two thirds Prophet, one third the weekday-shaped 28-day
moving average (combining forecasts is the most reliable gain in the M competitions). Prophet
is fitted once, on the history up to ``window`` days ago, and forecasts the window (its
backtest) and the horizon after it; ``prophet_refit`` fits again on the full history for the
horizon (twice the cost). ``level_correction`` scales the horizon by that share of the window's
actual / forecast ratio (an intercept correction, bounded to 0.5..2); measured on 300 demo
series over three origins, a share of 0 did best (weighted RMSSE 1.036 against 1.047 at 0.5),
and the moving average in the blend brings the recent level in anyway.
All candidates of a series are compared on the same window(s).

Festivals and holidays. A series may come with its group's calendar (``SeriesInput.calendar``:
the festival and holiday lifts of its product category, pooled over every series of that
category, see ``group_calendar``). Every candidate then works on the demand with the calendar
divided out and multiplies it back into its forecast; Prophet is then fitted without holiday
regressors (``prophet_path``). Without a calendar, the baselines see the demand as recorded and
Prophet fits the country's holidays itself.

Baselines alone. Series where Prophet is not tried default to ``baseline_blend``, the equal
mean of the weekday-shaped moving average, TSB and the weekday average: measured on store-level
data (six origins, April to August) and on the demo (three origins), the blend beat the
weekday-shaped moving average alone on lumpy and intermittent demand at every origin (1-10%
weighted RMSSE) and lost nowhere by more than 1%.

Choice rule. Each class has a default: ``prophet_ma`` where Prophet is tried, else
``baseline_blend``. Another candidate replaces it only when its backtest errors are clearly
smaller: the Diebold-Mariano statistic on squared errors, with the backtest window as the unit
(the days of a window share an origin, so a day-by-day test overstates the evidence several
times), above ``evidence_z`` (3: measured against 2, 0.7% better weighted RMSSE on the demo
and 0.5% on store-level data, at the bench origins). Series where Prophet is tried have one
window, so they keep ``prophet_ma`` unless the bias rule excludes it. Measured on store-level
data, choosing the lowest backtest RMSSE per series chases noise in a 28-day window and loses
2-5% weighted RMSSE against keeping the default. A candidate whose backtest bias exceeds
``max_bias`` is not chosen when that bias is distinguishable from noise (total error beyond
``evidence_z`` standard errors); an erratic series' 28-day bias of 20% often is not, and
refusing a method for it picked worse ones. When every candidate is excluded, the
least biased is used and the reason says so. When Prophet raises, the series falls back to the
baselines and the failure is recorded.
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
PROPHET_MA = "prophet_ma"
NEW_ITEM = "new_item"
PROPHET_WEIGHT = 2.0 / 3.0  # Prophet's share in prophet_ma, the rest the moving average
CORRECTION_BOUNDS = (0.5, 2.0)
BASELINE_BLEND = "baseline_blend"
BLENDED = ("moving_average_weekday", "tsb", "weekday_average")  # equal shares in baseline_blend
CLASS_DEFAULT = BASELINE_BLEND  # the default where Prophet is not tried
BASELINE_METHODS = (*baselines.BASELINES, BASELINE_BLEND)  # every method without Prophet
EXCESS_SHARE_MAX = 0.25  # capped units come back as at most this share of the level
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
    try_prophet: bool = True  # False: a series outside the top of sales value (see service)
    # festival and holiday multipliers of its group, one per day from ``start`` through the
    # horizon (see group_calendar); None: Prophet fits holidays itself, the baselines none
    calendar: np.ndarray | None = None

    @property
    def weight(self) -> float:
        """Sales value of the last 28 days (the M5 weight of the series)."""
        return float(self.price * np.sum(self.values[-metrics.WEIGHT_DAYS :]))


@dataclass(frozen=True)
class Spec:
    """Everything a worker needs besides the series (small and picklable)."""

    horizon: int
    window: int = 28
    baseline_origins: int = 6
    max_bias: float = 0.15
    min_history_days: int = 84
    new_item_days: int = 28
    prophet_classes: tuple[str, ...] = ("smooth", "erratic")
    prophet: ProphetConfig | None = None  # None: baselines only
    prophet_refit: bool = False
    level_correction: float = 0.0  # share of the window's actual / forecast ratio applied
    evidence_z: float = 3.0
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
    festival peaks stay. Capping keeps them from bending the model's shape; the units they
    carried come back as a flat daily amount (see :func:`excess_rate`), or every forecast
    would fall short by them."""
    nonzero = y[y > 0]
    if len(nonzero) < 8:
        return y
    median = np.median(nonzero)
    mad = np.median(np.abs(nonzero - median))
    cap = max(median + OUTLIER_MADS * max(mad, 1.0), 3.0 * np.quantile(nonzero, 0.95))
    return np.minimum(y, cap)


def _origins(n: int, count: int, window: int) -> list[int]:
    """Backtest origins (last training index), latest first, each with a full test window
    and at least MIN_TRAIN_DAYS of training data."""
    return [
        n - 1 - j * window for j in range(1, count + 1) if n - 1 - j * window >= MIN_TRAIN_DAYS - 1
    ]


@dataclass
class _Candidate:
    method: str
    errors: list[np.ndarray]
    forecasts: list[np.ndarray]
    final: Callable[[], np.ndarray]


EXCESS_WINDOW = 365


def excess_rate(y: np.ndarray, train: np.ndarray, origin: int) -> float:
    """Units per day that capping removed from the last year up to ``origin``, at most a
    quarter of the capped level."""
    first = max(0, origin + 1 - EXCESS_WINDOW)
    days = origin + 1 - first
    excess = float(np.sum(y[first : origin + 1] - train[first : origin + 1]) / days)
    level = float(np.sum(train[first : origin + 1]) / days)
    return min(excess, EXCESS_SHARE_MAX * level)  # one keying error is not a year of demand


@dataclass(frozen=True)
class _Adjusted:
    """The series as the baselines see it: calendar effects divided out, outliers capped."""

    actual: np.ndarray  # the demand as recorded
    y: np.ndarray  # actual / calendar
    train: np.ndarray  # y with outliers capped
    calendar: np.ndarray  # multipliers from the first day through the horizon

    def scaled(self, forecast: np.ndarray, first: int) -> np.ndarray:
        """A forecast in calendar-free units for the days from index ``first``, with the
        calendar multiplied back in."""
        return forecast * self.calendar[first : first + len(forecast)]


def _adjust(series: SeriesInput, horizon: int) -> _Adjusted:
    y = series.values
    n = len(y)
    calendar = np.ones(n + horizon)
    if series.calendar is not None:
        given = np.asarray(series.calendar, dtype=float)[: n + horizon]
        calendar[: len(given)] = np.where(given > 0, given, 1.0)
    adjusted = y / calendar[:n]
    return _Adjusted(y, adjusted, cap_outliers(adjusted), calendar)


def prophet_path(
    series: SeriesInput, a: _Adjusted, spec: Spec, config: ProphetConfig, origin: int, days: int
) -> np.ndarray:
    """Prophet's forecast of the ``days`` days after ``origin``. A series with its group's
    calendar is fitted with the calendar divided out and no holiday regressors, and the
    calendar multiplied back (one pooled lift per phase instead of a coefficient per phase
    and series: measured on the 100-120 highest-value smooth and erratic series, 3-6% lower
    RMSSE than Prophet's own holiday regressors, on store-level data and on the demo);
    without one, on the series with its country's holidays as regressors."""
    if series.calendar is not None:
        plain = replace(config, holidays=False)
        path = spec.prophet_fn(series.start, a.train, days, origin, plain, None)
        return a.scaled(path + excess_rate(a.y, a.train, origin), origin + 1)
    holidays = spec.holidays.get(series.country)
    path = spec.prophet_fn(series.start, a.train, days, origin, config, holidays)
    return path + excess_rate(a.y, a.train, origin)


def _baseline_candidate(method: str, a: _Adjusted, origins, spec) -> _Candidate:
    fn = baselines.BASELINES[method]
    forecasts = [
        a.scaled(f + excess_rate(a.y, a.train, o), o + 1)
        for f, o in zip(
            baselines.forecasts_at(method, a.train, spec.window, origins), origins, strict=True
        )
    ]
    errors = [
        a.actual[o + 1 : o + 1 + spec.window] - f for o, f in zip(origins, forecasts, strict=True)
    ]
    last = len(a.y) - 1
    return _Candidate(
        method,
        errors,
        forecasts,
        lambda: a.scaled(fn(a.train, spec.horizon) + excess_rate(a.y, a.train, last), last + 1),
    )


def _blend_candidate(parts: list[_Candidate]) -> _Candidate:
    """The equal-weight mean of ``parts`` (same origins), backtest and final forecast."""
    k = len(parts)
    forecasts = [sum(fs) / k for fs in zip(*(p.forecasts for p in parts), strict=True)]
    errors = [sum(es) / k for es in zip(*(p.errors for p in parts), strict=True)]
    return _Candidate(BASELINE_BLEND, errors, forecasts, lambda: sum(p.final() for p in parts) / k)


def _prophet_candidates(
    series: SeriesInput, a: _Adjusted, origin: int, spec: Spec, ma: _Candidate
) -> list[_Candidate]:
    """Prophet and prophet_ma from one fit at ``origin`` (see the module docstring)."""
    path = prophet_path(series, a, spec, spec.prophet, origin, spec.window + spec.horizon)
    backtest, ahead = path[: spec.window], path[spec.window :]
    actual = a.actual[origin + 1 : origin + 1 + spec.window]
    ratio = actual.sum() / backtest.sum() if backtest.sum() > 0 else 1.0
    ratio = float(np.clip(ratio, *CORRECTION_BOUNDS))
    corrected = ahead * (1.0 + spec.level_correction * (ratio - 1.0))

    def final_prophet() -> np.ndarray:
        if spec.prophet_refit:
            return prophet_path(series, a, spec, spec.prophet, len(a.y) - 1, spec.horizon)
        return corrected

    prophet = _Candidate(PROPHET, [actual - backtest], [backtest], final_prophet)
    w = PROPHET_WEIGHT
    blend = w * backtest + (1.0 - w) * ma.forecasts[0]
    combined = _Candidate(
        PROPHET_MA, [actual - blend], [blend], lambda: w * final_prophet() + (1.0 - w) * ma.final()
    )
    return [prophet, combined]


def _score(candidate: _Candidate, scale: float, spec: Spec) -> CandidateScore:
    errors = np.concatenate(candidate.errors)
    predicted = np.concatenate(candidate.forecasts)
    actual = predicted + errors
    bias = metrics.bias(actual, predicted)
    # is the mean error distinguishable from noise? (a t-test on the daily errors)
    spread = float(np.sqrt(np.sum((errors - errors.mean()) ** 2)))
    significant = abs(float(errors.sum())) > spec.evidence_z * spread
    return CandidateScore(
        candidate.method,
        metrics.rmsse(actual, predicted, scale),
        metrics.wape(actual, predicted),
        bias,
        bool(np.isfinite(bias) and (abs(bias) <= spec.max_bias or not significant)),
    )


def _dm_statistic(incumbent: list[np.ndarray], challenger: list[np.ndarray]) -> float:
    """Diebold-Mariano statistic on squared errors (Diebold & Mariano 1995), positive when the
    challenger's errors are smaller; above ~2 the difference is unlikely to be noise.

    The days of one backtest window share an origin, so their errors are correlated (a level
    missed on day 1 is missed on day 28) and a daily t statistic overstates the evidence
    several times. The unit here is the window: the mean loss difference of each window, with
    the spread between windows. One window gives no spread, so no evidence."""
    d = np.array([np.mean(a**2 - b**2) for a, b in zip(incumbent, challenger, strict=True)])
    if len(d) < 2:
        return 0.0
    sd = float(np.std(d, ddof=1))
    if sd == 0:
        return 0.0 if float(np.mean(d)) == 0 else float(np.sign(np.mean(d)) * np.inf)
    return float(np.mean(d) / (sd / np.sqrt(len(d))))


def _rank(
    scores: list[CandidateScore], candidates: dict[str, _Candidate], spec: Spec, windows: int
) -> tuple[list[CandidateScore], str]:
    """Candidates in the order they are tried, and why the first one."""
    eligible = sorted((s for s in scores if s.eligible), key=lambda s: (s.rmsse, s.method))
    span = f"{windows} backtest window(s) of {spec.window} days"
    limit = f"±{spec.max_bias:.0%}"
    if not eligible:
        ranked = sorted(
            scores, key=lambda s: (abs(s.bias) if np.isfinite(s.bias) else np.inf, s.rmsse)
        )
        return ranked, f"every method more biased than {limit} over {span}: the least biased"
    default = PROPHET_MA if PROPHET_MA in candidates else CLASS_DEFAULT
    incumbent = next((s for s in eligible if s.method == default), None)
    if incumbent is None:
        return eligible, (
            f"{default} was biased beyond {limit} over {span}: the lowest RMSSE of the "
            f"{len(eligible)} methods within it"
        )
    best = eligible[0]
    if best is not incumbent:
        t = _dm_statistic(candidates[default].errors, candidates[best.method].errors)
        if t > spec.evidence_z:
            rest = [s for s in eligible if s is not best]
            return [best, *rest], (
                f"{best.method} beat {default} clearly over {span} "
                f"(RMSSE {best.rmsse:.2f} against {incumbent.rmsse:.2f}, Diebold-Mariano {t:.1f})"
            )
    rest = [s for s in eligible if s is not incumbent]
    scope = "smooth and erratic demand" if default == PROPHET_MA else "this demand class"
    why = "the best" if best is incumbent else f"no method clearly better (best: {best.method})"
    return [
        incumbent,
        *rest,
    ], f"{default}, the default for {scope}: {why} over {span}"


def from_first_demand(series: SeriesInput) -> SeriesInput:
    """The series from its first day with demand (a launch: the days before say nothing)."""
    y = np.asarray(series.values, dtype=float)
    first_demand = np.flatnonzero(y > 0)
    if not len(first_demand) or first_demand[0] == 0:
        return replace(series, values=y)
    skip = int(first_demand[0])
    calendar = None if series.calendar is None else series.calendar[skip:]
    return replace(
        series, values=y[skip:], start=series.start + timedelta(days=skip), calendar=calendar
    )


def forecast_series(series: SeriesInput, spec: Spec) -> SeriesResult:
    started = time.perf_counter()
    series = from_first_demand(series)
    y = series.values
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
            mean=np.asarray(mean, dtype=float),
            bands=bands(np.asarray(mean, dtype=float), model),
            failure=failure,
            seconds=time.perf_counter() - started,
        )

    adjusted = _adjust(series, spec.horizon)
    if demand_class is DemandClass.NEW:
        level = float(adjusted.y.mean())
        model = ErrorModel(float(max(y.var(), level)), 0.0, level)
        return result(
            NEW_ITEM,
            f"first demand {n} days ago: its average since then",
            adjusted.scaled(np.full(spec.horizon, level), n),
            model,
        )

    use_prophet = (
        spec.prophet is not None
        and str(demand_class) in spec.prophet_classes
        and demand_class is not DemandClass.TOO_SHORT
        and series.try_prophet
    )
    origins: list[int] = []
    if demand_class is not DemandClass.TOO_SHORT:
        origins = _origins(n, 1 if use_prophet else spec.baseline_origins, spec.window)
    if not origins:
        method = "weekday_average" if n >= 14 else "moving_average"
        # too little history to cap
        mean = adjusted.scaled(baselines.BASELINES[method](adjusted.y, spec.horizon), n)
        level = float(y.mean()) if n else 0.0
        model = ErrorModel(float(max(y.var(), level)) if n else 0.0, 0.0, level)
        return result(method, f"{n} days of history: too short to backtest", mean, model)

    candidates = {m: _baseline_candidate(m, adjusted, origins, spec) for m in baselines.BASELINES}
    candidates[BASELINE_BLEND] = _blend_candidate([candidates[m] for m in BLENDED])
    if use_prophet:
        try:
            for c in _prophet_candidates(
                series, adjusted, origins[0], spec, candidates["moving_average_weekday"]
            ):
                candidates[c.method] = c
        except Exception as exc:  # noqa: BLE001 - a failing model must not fail the run
            failure = f"Prophet failed in the backtest: {type(exc).__name__}: {exc}"[:500]

    scale = metrics.rmsse_scale(train[: origins[-1] + 1])
    scores = [_score(c, scale, spec) for c in candidates.values()]
    ranked, reason = _rank(scores, candidates, spec, len(origins))
    if str(demand_class) in spec.prophet_classes and not series.try_prophet:
        reason = f"low sales value, Prophet not tried; {reason}"
    for chosen in ranked:
        try:
            mean = candidates[chosen.method].final()
        except Exception as exc:  # noqa: BLE001
            failure = f"{chosen.method} failed on the full history: {type(exc).__name__}: {exc}"[
                :500
            ]
            reason = f"{chosen.method} failed; the next best"
            continue
        if failure:
            reason = f"Prophet failed, fell back to the baselines: {reason}"
        if np.any(adjusted.calendar != 1.0):
            reason = f"{reason}; festival and holiday lifts of its category applied"
        c = candidates[chosen.method]
        return result(
            chosen.method, reason, mean, error_model(c.errors, c.forecasts), chosen, scores
        )
    raise RuntimeError(f"no method could forecast {series.sku} at {series.location}")


def forecast_batch(batch: list[SeriesInput], spec: Spec) -> list[SeriesResult]:
    """The unit of work sent to a worker."""
    return [forecast_series(series, spec) for series in batch]
