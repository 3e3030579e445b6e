"""One series start to finish: the bias limit of the choice rule, Prophet failures falling back
to a baseline, and the special series (new, short, empty, outliers).

Prophet is replaced by stand-ins of known accuracy and bias (tests/forecast/stubs.py), so a
case is constructed exactly; the real Prophet runs in test_prophet_model.py and the store tests.
"""

from __future__ import annotations

from datetime import date
from functools import partial

import numpy as np
import pytest

from control_tower.forecast.baselines import BASELINES
from control_tower.forecast.pipeline import (
    BASELINE_BLEND,
    BASELINE_METHODS,
    BLENDED,
    SeriesInput,
    Spec,
    _dm_statistic,
    cap_outliers,
    forecast_series,
)
from control_tower.forecast.prophet_model import PROPHET_GRID
from tests.forecast import stubs
from tests.forecast.data import FAILING_START

H = 14


def noisy_smooth(seed: int = 0, n: int = 400) -> np.ndarray:
    """Negative binomial demand, mean 30, variance 400: noisy enough that an oracle that is
    20-25% too high still has a lower RMSSE than every baseline."""
    r = 30**2 / (400 - 30)
    return np.random.default_rng(seed).negative_binomial(r, r / (r + 30), n).astype(float)


def steady_but_jumpy(n: int = 400) -> np.ndarray:
    """A five-day cycle 5, 55, 10, 50, 30 (mean 30, CV² 0.46: smooth): every 28-day window
    holds about the same total, so a moving average is nearly unbiased in any backtest
    window, yet its daily error is large."""
    return np.resize(np.array([5.0, 55, 10, 50, 30]), n)


def run(y, prophet_fn=None, start=date(2024, 1, 1), **spec):
    spec = {"horizon": H, "prophet": PROPHET_GRID[0], **spec}
    if prophet_fn is not None:
        spec["prophet_fn"] = prophet_fn
    return forecast_series(SeriesInput("S", "L", start, np.asarray(y, dtype=float)), Spec(**spec))


def by_method(result):
    return {c.method: c for c in result.candidates}


# -- the choice rule ----------------------------------------------------------------------------


def test_a_method_beyond_the_bias_limit_is_not_chosen_when_another_is_within():
    result = run(steady_but_jumpy(), partial(stubs.oracle_prophet, factor=1.25))
    scores = by_method(result)
    assert scores["prophet"].bias == pytest.approx(0.25)
    assert scores["prophet"].rmsse < min(scores[m].rmsse for m in BASELINES)  # the best fit
    assert not scores["prophet"].eligible
    within = [s for s in result.candidates if abs(s.bias) <= 0.15]
    assert any(s.method in BASELINES for s in within)  # the case is real
    assert result.method != "prophet"
    assert by_method(result)[result.method].eligible
    assert abs(result.bias) <= 0.15


def test_the_same_method_within_the_limit_is_chosen():
    result = run(steady_but_jumpy(), partial(stubs.oracle_prophet, factor=1.05))
    assert by_method(result)["prophet"].eligible
    assert by_method(result)["prophet"].bias == pytest.approx(0.05)
    assert result.method in ("prophet", "prophet_ma")  # Prophet alone, or the default blend
    assert by_method(result)[result.method].eligible


def test_the_bias_limit_is_a_setting():
    y = steady_but_jumpy()
    strict = run(y, partial(stubs.oracle_prophet, factor=1.25))
    lenient = run(y, partial(stubs.oracle_prophet, factor=1.25), max_bias=0.3)
    assert not by_method(strict)["prophet"].eligible
    assert by_method(lenient)["prophet"].eligible


def test_when_every_method_is_too_biased_the_least_biased_is_used():
    rng = np.random.default_rng(1)
    y = np.concatenate([rng.poisson(10, 300), rng.poisson(40, 28)])  # demand quadruples
    result = run(y, partial(stubs.oracle_prophet, factor=2.0), baseline_origins=1)
    assert all(abs(c.bias) > 0.15 for c in result.candidates)
    least = min(result.candidates, key=lambda c: abs(c.bias))
    assert result.method == least.method


def test_the_result_reports_the_chosen_methods_backtest():
    result = run(noisy_smooth(3), partial(stubs.oracle_prophet, factor=1.1))
    chosen = by_method(result)[result.method]
    assert (result.rmsse, result.wape, result.bias) == (chosen.rmsse, chosen.wape, chosen.bias)
    assert chosen.eligible
    assert result.mean.shape == (H,) and np.all(result.mean >= 0)
    assert result.bands.quantiles.shape == (H, 4)


def test_series_without_prophet_default_to_the_blend_of_three_baselines():
    """Intermittent demand (0-3 units on a third of the days): nothing to cap, no evidence
    against the default, so the forecast is the mean of the three blended baselines."""
    rng = np.random.default_rng(6)
    y = (rng.uniform(size=400) < 0.3) * rng.integers(1, 4, size=400).astype(float)
    result = run(y)
    assert result.demand_class == "intermittent"
    assert result.method == BASELINE_BLEND and "default" in result.reason
    expected = sum(BASELINES[m](y, H) for m in BLENDED) / len(BLENDED)
    np.testing.assert_allclose(result.mean, expected)
    blend = by_method(result)[BASELINE_BLEND]
    assert (result.rmsse, result.bias) == (blend.rmsse, blend.bias)


def test_the_evidence_for_leaving_the_default_is_counted_in_windows_not_days():
    """Within a backtest window the errors share an origin. Six windows where the challenger
    is better in four and worse in two are weak evidence, though 168 days of them would look
    overwhelming one by one; six windows all clearly better are strong evidence; one window
    is none."""
    challenger = [np.full(28, 3.0)] * 6

    def incumbent(gaps):  # squared-error gap per window, the same every day of the window
        return [np.full(28, np.sqrt(9.0 + g)) for g in gaps]

    mixed = incumbent([12, -2, 12, -2, 3, 1])
    d = np.concatenate([a**2 - b**2 for a, b in zip(mixed, challenger, strict=True)])
    daily_t = d.mean() / (d.std(ddof=1) / np.sqrt(len(d)))
    assert daily_t > 8  # what a day-by-day test would claim
    assert 0 < _dm_statistic(mixed, challenger) < 2
    assert _dm_statistic(incumbent([10, 12, 9, 11, 10, 12]), challenger) > 10
    assert _dm_statistic(incumbent([-5, -6, -4, -5, -6, -4]), challenger) < -10
    assert _dm_statistic(incumbent([50]), challenger[:1]) == 0.0


# -- Prophet failures ---------------------------------------------------------------------------


def test_prophet_failing_in_the_backtest_falls_back_to_a_baseline():
    y = noisy_smooth(4)
    result = run(y, stubs.failing_prophet, start=FAILING_START)
    assert result.method in BASELINE_METHODS
    assert set(by_method(result)) == set(BASELINE_METHODS)  # nothing Prophet-based stood
    assert stubs.FAILURE_TEXT in result.failure and "prophet" in result.failure.lower()
    healthy = run(y, stubs.failing_prophet, start=date(2024, 1, 1))  # another series: fine
    assert healthy.failure is None and "prophet" in by_method(healthy)


# -- special series -----------------------------------------------------------------------------


def test_a_new_item_is_forecast_at_its_average_since_the_first_demand():
    y = np.concatenate([np.zeros(100), [4, 6, 0, 8, 2, 4, 4, 6, 2, 4]])
    result = run(y)
    assert (result.demand_class, result.method) == ("new", "new_item")
    np.testing.assert_allclose(result.mean, np.full(H, 4.0))
    assert result.history_days == 10  # the days before the launch do not count


def test_a_series_without_any_demand_forecasts_zero():
    result = run(np.zeros(200))
    np.testing.assert_array_equal(result.mean, np.zeros(H))
    np.testing.assert_array_equal(result.bands.quantiles, np.zeros((H, 4)))
    np.testing.assert_array_equal(result.bands.cum_quantiles, np.zeros((H, 4)))


def test_a_single_extreme_day_is_capped_but_a_festival_peak_stays():
    rng = np.random.default_rng(2)
    y = rng.poisson(10, 300).astype(float)
    spike = y.copy()
    spike[250] = 5000  # a keying error
    capped = cap_outliers(spike)
    assert capped[250] < 200 and np.array_equal(np.delete(capped, 250), np.delete(y, 250))
    peak = y.copy()
    peak[250] = 3 * np.quantile(y[y > 0], 0.95)  # as big as a real festival peak
    assert cap_outliers(peak)[250] == peak[250]
