"""Prophet on one series (real fits on small series)."""

from __future__ import annotations

from datetime import date

import numpy as np
import pytest

from control_tower.forecast.holidays import holiday_frame
from control_tower.forecast.prophet_model import DEFAULT_PROPHET, PROPHET_GRID, prophet_forecast
from tests.forecast.data import draw

START = date(2025, 1, 1)


def test_a_fit_uses_only_the_history_up_to_the_origin():
    y = draw("seasonal", np.random.default_rng(3), 200, START).astype(float)
    origin = 150
    holidays = holiday_frame("CN", 2025, 2025)
    first = prophet_forecast(START, y, 14, origin, PROPHET_GRID[1], holidays)
    changed = y.copy()
    changed[origin + 1 :] = 10_000  # the future, wildly different
    again = prophet_forecast(START, changed, 14, origin, PROPHET_GRID[1], holidays)
    np.testing.assert_array_equal(first, again)  # also: the same input, the same fit
    assert first.shape == (14,) and np.all(first >= 0) and np.all(np.isfinite(first))


def test_forecasts_are_never_negative_and_prophets_defaults_run():
    falling = np.linspace(50, 1, 120) + np.random.default_rng(0).poisson(1, 120)
    f = prophet_forecast(START, falling, 60, len(falling) - 1, PROPHET_GRID[0], None)
    assert np.all(f >= 0) and f.min() == 0  # the trend would go below zero: clipped
    d = prophet_forecast(START, falling, 7, len(falling) - 1, DEFAULT_PROPHET, None)
    assert d.shape == (7,) and np.all(d >= 0)


def test_handing_stan_arrays_changes_nothing_in_the_fit():
    """fast_io skips Prophet's list conversion; the data Stan reads, so the fit, is the same."""
    y = draw("seasonal", np.random.default_rng(5), 420, START).astype(float)
    holidays = holiday_frame("CN", 2025, 2026)
    for config in (PROPHET_GRID[0], PROPHET_GRID[3]):
        fast = prophet_forecast(START, y, 28, len(y) - 29, config, holidays)
        slow = prophet_forecast(START, y, 28, len(y) - 29, config, holidays, fast_io=False)
        np.testing.assert_array_equal(fast, slow)


def test_a_fit_that_runs_past_its_time_limit_is_stopped():
    """Stan's optimizer once spun for 40 minutes on one series: a fit is stopped at its time
    limit with TimeoutError (the pipeline catches it and keeps the baselines)."""
    y = draw("seasonal", np.random.default_rng(7), 400, START).astype(float)
    with pytest.raises(TimeoutError):
        prophet_forecast(START, y, 14, len(y) - 1, PROPHET_GRID[0], None, timeout_s=1e-3)
