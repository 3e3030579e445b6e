"""Stand-ins for ``prophet_forecast`` that a forecast run can be given (``prophet_fn``).

They are module-level functions so that they pickle: a spawned pool worker re-imports this
module to run them. Each has Prophet's signature ``(start, y, horizon, origin, config,
holidays)``; ``y`` may run past ``origin`` (the backtest hands over the whole series).
The series the failing stubs pick on is the one whose first demand is ``FAILING_START``.
"""

from __future__ import annotations

import multiprocessing
import os

import numpy as np

from control_tower.forecast.prophet_model import prophet_forecast
from tests.forecast.data import FAILING_START

FAILURE_TEXT = "synthetic Prophet failure"
IN_MAIN_PROCESS = "raised in the main process"


def failing_prophet(start, y, horizon, origin, config, holidays):
    """Raises for the series that starts on FAILING_START; the real Prophet for the others."""
    if start == FAILING_START:
        raise RuntimeError(FAILURE_TEXT)
    return prophet_forecast(start, y, horizon, origin, config, holidays)


def dying_prophet(start, y, horizon, origin, config, holidays):
    """Kills the pool worker that fits the FAILING_START series (a segfault, the OOM killer);
    in the main process it raises instead (this process must live)."""
    if start == FAILING_START:
        if multiprocessing.parent_process() is not None:
            os._exit(3)
        raise RuntimeError(f"{FAILURE_TEXT}, {IN_MAIN_PROCESS}")
    return prophet_forecast(start, y, horizon, origin, config, holidays)


def _known_future(y, horizon, origin) -> np.ndarray:
    """The actual demand after ``origin`` as far as ``y`` has it, then the mean of the four
    weeks up to ``origin`` for the days beyond the data."""
    y = np.asarray(y, dtype=float)
    known = y[origin + 1 : origin + 1 + horizon]
    level = float(np.mean(y[max(0, origin - 27) : origin + 1]))
    return np.concatenate([known, np.full(horizon - len(known), level)])


def oracle_prophet(start, y, horizon, origin, config, holidays, *, factor):
    """Knows the future: over days the series has (a backtest window) it returns the actual
    demand times ``factor``, so its backtest bias is exactly factor - 1 and its error small;
    beyond the data, the last four weeks' mean times ``factor``.
    Use with functools.partial(oracle_prophet, factor=...)."""
    return _known_future(y, horizon, origin) * factor


def config_dependent_oracle(start, y, horizon, origin, config, holidays):
    """For tuning tests: 'additive' is the actual demand +20% (small error, biased),
    'multiplicative' the actual demand with a large zero-sum wiggle (unbiased, larger error),
    'additive_stiff' the actual +60%, and 'multiplicative_stiff' cannot fit at all."""
    future = _known_future(y, horizon, origin)
    if config.name == "additive":
        return future * 1.2
    if config.name == "multiplicative":
        wiggle = np.resize([1.0, -1.0], horizon) * 0.45 * future.mean()
        return np.clip(future + wiggle - wiggle.mean(), 0, None)
    if config.name == "additive_stiff":
        return future * 1.6
    raise RuntimeError(FAILURE_TEXT)
