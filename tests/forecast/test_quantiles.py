"""Quantiles from backtest errors: whole units, never negative, ordered, and calibrated on
synthetic demand whose distribution is known."""

from __future__ import annotations

from datetime import date

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import nbinom, poisson

from control_tower.forecast.holidays import holiday_frame
from control_tower.forecast.pipeline import SeriesInput, Spec, forecast_series
from control_tower.forecast.prophet_model import PROPHET_GRID
from control_tower.forecast.quantiles import (
    LEVELS,
    ErrorModel,
    bands,
    count_quantiles,
    cumulative_variance,
    daily_variance,
    error_model,
)

H = 28


def test_error_model_worked_example():
    # two windows of two days: errors +1, +1 and -1, -1. sigma2 = 1; the window means are
    # +-1 (mean square 1) of which sigma2 / window = 0.5 is daily noise: level_var 0.5
    model = error_model([np.array([1.0, 1.0]), np.array([-1.0, -1.0])], [np.full(2, 2.0)] * 2)
    assert model == ErrorModel(sigma2=1.0, level_var=0.5, reference_mean=2.0)
    assert error_model([], []) == ErrorModel(0.0, 0.0, 0.0)


def test_daily_variance_scales_with_the_forecast_and_is_at_least_poisson():
    model = ErrorModel(sigma2=40.0, level_var=0.0, reference_mean=10.0)
    np.testing.assert_allclose(daily_variance(np.array([10.0, 20.0]), model), [40.0, 80.0])
    np.testing.assert_allclose(daily_variance(np.array([100.0]), model), [160.0])  # capped x4
    assert daily_variance(np.array([50.0]), ErrorModel(1.0, 0.0, 50.0))[0] == 50.0  # >= mean


def test_cumulative_variance_runs_from_independent_to_fully_persistent_errors():
    v = np.array([4.0, 9.0, 16.0])
    np.testing.assert_allclose(cumulative_variance(v, ErrorModel(5.0, 0.0, 1.0)), [4, 13, 29])
    np.testing.assert_allclose(cumulative_variance(v, ErrorModel(5.0, 5.0, 1.0)), [4, 25, 81])
    half = cumulative_variance(v, ErrorModel(5.0, 2.5, 1.0))
    assert np.all(np.cumsum(v) <= half) and np.all(half <= np.cumsum(np.sqrt(v)) ** 2)


def test_count_quantiles_are_poisson_at_equal_mean_and_variance():
    mean = np.array([0.5, 3.0, 20.0])
    expected = np.array([[poisson.ppf(q, m) for q in LEVELS] for m in mean])
    np.testing.assert_array_equal(count_quantiles(mean, mean), expected)


def test_count_quantiles_are_negative_binomial_with_that_mean_and_variance():
    mean, var = 10.0, 30.0
    reference = nbinom(mean**2 / (var - mean), mean / var)
    assert reference.mean() == pytest.approx(mean) and reference.var() == pytest.approx(var)
    got = count_quantiles(np.array([mean]), np.array([var]))[0]
    np.testing.assert_array_equal(got, [reference.ppf(q) for q in LEVELS])


error_models = st.builds(
    ErrorModel,
    sigma2=st.one_of(st.just(0.0), st.floats(1e-3, 1e4)),
    level_var=st.floats(0, 1),
    reference_mean=st.one_of(st.just(0.0), st.floats(1e-3, 1e3)),
).map(lambda m: ErrorModel(m.sigma2, m.level_var * m.sigma2, m.reference_mean))
means = st.lists(st.floats(0, 1e3), min_size=1, max_size=60).map(np.array)


@settings(max_examples=200, deadline=None)
@given(mean=means, model=error_models)
def test_bands_are_whole_non_negative_and_ordered(mean, model):
    b = bands(mean, model)
    for q in (b.quantiles, b.cum_quantiles):
        assert q.shape == (len(mean), len(LEVELS))
        assert np.all(q >= 0)
        assert np.all(q == np.round(q))
        assert np.all(np.diff(q, axis=1) >= 0)  # p50 <= p90 <= p95 <= p99
    assert np.all(b.sd >= 0) and np.all(np.diff(b.cum_mean) >= -1e-9)
    assert np.all(np.diff(b.cum_sd) >= -1e-9)


@settings(max_examples=100, deadline=None)
@given(level=st.floats(0.5, 500), model=error_models)
def test_cumulative_quantiles_grow_with_time_for_a_steady_forecast(level, model):
    b = bands(np.full(H, level), model)
    assert np.all(np.diff(b.cum_quantiles, axis=0) >= 0)


def test_cumulative_quantiles_never_fall_when_a_day_forecasts_zero():
    # a weekday-average forecast of a site closed at weekends looks like this
    model = ErrorModel(sigma2=50.0, level_var=0.0, reference_mean=5.0)
    b = bands(np.array([5.0, 0, 0, 0, 0, 0, 0]), model)
    assert np.all(np.diff(b.cum_quantiles, axis=0) >= 0), b.cum_quantiles[:, 0]


def test_cumulative_quantiles_of_a_closed_weekend_series_never_fall():
    rng = np.random.default_rng(0)
    open_days = (np.arange(400) % 7) < 5
    y = np.where(open_days, rng.negative_binomial(1, 1 / 9, 400), 0).astype(float)
    result = forecast_series(SeriesInput("S", "L", date(2025, 1, 6), y), Spec(horizon=H))
    assert np.all(np.diff(result.bands.cum_quantiles, axis=0) >= 0)


# -- calibration on demand of known distribution -------------------------------------------

DRAWS = {
    "poisson_20": lambda rng, size: rng.poisson(20, size),
    "negative_binomial_mean_10_var_30": lambda rng, size: rng.negative_binomial(5, 1 / 3, size),
}
HISTORIES = 100  # independent histories, each forecast once
FRESH = 200  # fresh 28-day futures per history


def coverage(draw, spec: Spec, histories: int = HISTORIES) -> dict[str, float]:
    """Share of fresh future days (and 28-day totals) at or below each forecast quantile,
    over many independent histories of the same process."""
    hits: dict[str, list[float]] = {"p50": [], "p90": [], "p95": [], "cum_p50": [], "cum_p90": []}
    for i in range(histories):
        rng = np.random.default_rng(1000 + i)
        y = draw(rng, 730).astype(float)
        r = forecast_series(SeriesInput("S", "L", date(2024, 1, 1), y), spec)
        future = draw(rng, (FRESH, H))
        for j, name in enumerate(("p50", "p90", "p95")):
            hits[name].append(np.mean(future <= r.bands.quantiles[:, j]))
        total = future.sum(axis=1)
        hits["cum_p50"].append(np.mean(total <= r.bands.cum_quantiles[-1, 0]))
        hits["cum_p90"].append(np.mean(total <= r.bands.cum_quantiles[-1, 1]))
        assert np.all(np.diff(r.bands.cum_quantiles, axis=0) >= 0)  # a steady forecast
    return {k: float(np.mean(v)) for k, v in hits.items()}


@pytest.fixture(scope="module", params=sorted(DRAWS))
def baseline_coverage(request):
    return request.param, coverage(DRAWS[request.param], Spec(horizon=H))


def test_daily_quantiles_are_calibrated(baseline_coverage):
    name, cover = baseline_coverage
    # a count's p50 holds at least half the mass: P(X <= median) is 0.56 for Poisson(20)
    assert 0.45 <= cover["p50"] <= 0.62, (name, cover)
    assert 0.86 <= cover["p90"] <= 0.95, (name, cover)
    assert 0.92 <= cover["p95"] <= 0.98, (name, cover)


def test_cumulative_p90_is_calibrated(baseline_coverage):
    name, cover = baseline_coverage
    assert 0.86 <= cover["cum_p90"] <= 0.95, (name, cover)


@pytest.mark.slow
def test_cumulative_p90_is_calibrated_where_prophet_is_a_candidate():
    spec = Spec(
        horizon=H, prophet=PROPHET_GRID[0], holidays={"CN": holiday_frame("CN", 2024, 2026)}
    )
    cover = coverage(DRAWS["poisson_20"], spec, histories=30)
    assert 0.86 <= cover["p90"] <= 0.95, cover
    assert 0.86 <= cover["cum_p90"] <= 0.95, cover
