"""Baselines: each fast (vectorised, one-pass) forecast against a plain loop written here
from the textbook definition, on random intermittent series at several origins; and the
backtest path at origin t uses only y[: t + 1]."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from control_tower.forecast import baselines

ALPHA = 0.1  # the module's smoothing constants, as documented
H = 10


# -- reference loops: one day at a time, as the papers state them ----------------------------


def croston_loop(y, origin, alpha=ALPHA):
    """Croston (1972): smooth the demand size and the interval between demands on demand
    days only; forecast size / interval. The first demand initialises both (its interval
    counts from the start of the series)."""
    size = interval = None
    since_last = 0
    for t in range(origin + 1):
        since_last += 1
        if y[t] > 0:
            if size is None:
                size, interval = y[t], since_last
            else:
                size += alpha * (y[t] - size)
                interval += alpha * (since_last - interval)
            since_last = 0
    return 0.0 if size is None else size / interval


def sba_loop(y, origin, alpha=ALPHA):
    """Syntetos & Boylan (2005): Croston times (1 - alpha / 2)."""
    return croston_loop(y, origin, alpha) * (1 - alpha / 2)


def tsb_loop(y, origin, alpha=ALPHA, beta=ALPHA):
    """Teunter, Syntetos & Babai (2011): the probability of a demand is smoothed every day,
    the size on demand days; forecast probability x size. The probability starts at the
    share of demand days up to the first demand, the size at the first demand."""
    first = next((t for t in range(origin + 1) if y[t] > 0), None)
    if first is None:
        return 0.0
    probability = 1.0 / (first + 1)
    size = None
    for t in range(origin + 1):
        occurred = 1.0 if y[t] > 0 else 0.0
        probability += alpha * (occurred - probability)
        if y[t] > 0:
            size = y[t] if size is None else size + beta * (y[t] - size)
    return probability * size


def moving_average_loop(y, origin, window=28):
    days = [y[t] for t in range(max(0, origin + 1 - window), origin + 1)]
    return sum(days) / len(days)


def seasonal_naive_loop(y, origin, horizon):
    """The value of the same weekday in the last week (the mean when under a week)."""
    n = origin + 1
    if n < 7:
        return [sum(y[:n]) / n] * horizon
    return [y[origin + 1 + j - 7 * (1 + j // 7)] for j in range(horizon)]


def weekday_average_loop(y, origin, horizon):
    """Mean of the same weekday over the last whole weeks, eight at most (the mean of the
    history when under two weeks)."""
    n = origin + 1
    if n < 14:
        days = y[max(0, n - 56) : n]
        return [sum(days) / len(days)] * horizon
    weeks = min(n, 56) // 7
    out = []
    for j in range(horizon):
        day = origin + 1 + j
        same_weekday = [y[t] for t in range(n - 7 * weeks, n) if (day - t) % 7 == 0]
        out.append(sum(same_weekday) / len(same_weekday))
    return out


def moving_average_weekday_loop(y, origin, horizon):
    """The 28-day mean times a weekday factor: the mean of the days of that weekday (day
    index mod 7) over the last whole weeks, 26 at most, over the mean of the seven; flat
    under two weeks or without demand."""
    n = origin + 1
    level = moving_average_loop(y, origin)
    days = min(n, 7 * 26) // 7 * 7
    profile = [1.0] * 7
    if days >= 14:
        means = []
        for c in range(7):
            same = [y[t] for t in range(n - days, n) if t % 7 == c]
            means.append(sum(same) / len(same))
        overall = sum(means) / 7
        if overall > 0:
            profile = [m / overall for m in means]
    return [level * profile[(n + j) % 7] for j in range(horizon)]


FLAT = {
    "croston": croston_loop,
    "sba": sba_loop,
    "tsb": tsb_loop,
    "moving_average": moving_average_loop,
}


# -- random intermittent series and origins ---------------------------------------------------

demand_day = st.tuples(st.booleans(), st.booleans(), st.integers(1, 60)).map(
    lambda t: t[2] if (t[0] and t[1]) else 0  # a demand on about a quarter of the days
)
series = st.lists(demand_day, min_size=1, max_size=160).map(lambda v: np.array(v, dtype=float))
long_series = st.lists(demand_day, min_size=150, max_size=260).map(
    lambda v: np.array(v, dtype=float)
)


@st.composite
def series_and_origins(draw, of=series):
    y = draw(of)
    origins = draw(st.lists(st.integers(0, len(y) - 1), min_size=1, max_size=5))
    return y, origins


@pytest.mark.parametrize("method", sorted(FLAT))
@settings(max_examples=120, deadline=None)
@given(case=series_and_origins())
def test_flat_baselines_match_a_plain_loop(method, case):
    y, origins = case
    for origin in origins:
        fast = baselines.BASELINES[method](y, H, origin)
        expected = FLAT[method](list(y), origin)
        np.testing.assert_allclose(fast, np.full(H, expected), rtol=1e-9, atol=1e-12)


@settings(max_examples=120, deadline=None)
@given(case=series_and_origins(), horizon=st.integers(1, 30))
def test_seasonal_naive_matches_a_plain_loop(case, horizon):
    y, origins = case
    for origin in origins:
        np.testing.assert_allclose(
            baselines.seasonal_naive(y, horizon, origin),
            seasonal_naive_loop(list(y), origin, horizon),
            rtol=1e-12,
        )


@settings(max_examples=120, deadline=None)
@given(case=series_and_origins(), horizon=st.integers(1, 30))
def test_weekday_average_matches_a_plain_loop(case, horizon):
    y, origins = case
    for origin in origins:
        np.testing.assert_allclose(
            baselines.weekday_average(y, horizon, origin),
            weekday_average_loop(list(y), origin, horizon),
            rtol=1e-12,
        )


@pytest.mark.skipif(
    "moving_average_weekday" not in baselines.BASELINES, reason="not in this version"
)
@settings(max_examples=120, deadline=None)
@given(
    case=st.one_of(series_and_origins(), series_and_origins(of=long_series)),  # over 26 weeks too
    horizon=st.integers(1, 30),
)
def test_moving_average_weekday_matches_a_plain_loop(case, horizon):
    y, origins = case
    for origin in origins:
        np.testing.assert_allclose(
            baselines.BASELINES["moving_average_weekday"](y, horizon, origin),
            moving_average_weekday_loop(list(y), origin, horizon),
            rtol=1e-9,
            atol=1e-12,
        )


@pytest.mark.parametrize("method", sorted(FLAT))
@settings(max_examples=80, deadline=None)
@given(y=series)
def test_the_backtest_path_is_causal(method, y):
    """The path value after day t is what the method says from y[: t + 1] alone."""
    path = baselines.BASELINES[method].path(y)
    assert len(path) == len(y)
    for t in range(len(y)):
        assert path[t] == pytest.approx(baselines.BASELINES[method].path(y[: t + 1])[-1])


@pytest.mark.parametrize("method", sorted(baselines.BASELINES))
@settings(max_examples=80, deadline=None)
@given(case=series_and_origins(), later=st.lists(st.integers(0, 500), min_size=1))
def test_changing_later_days_never_changes_the_forecast(method, case, later):
    y, origins = case
    for origin in origins:
        changed = y.copy()
        tail = changed[origin + 1 :]
        tail[:] = np.resize(np.array(later, dtype=float), len(tail))
        longer = np.concatenate([y[: origin + 1], np.array(later, dtype=float)])
        forecast = baselines.BASELINES[method](y, H, origin)
        assert np.array_equal(baselines.BASELINES[method](changed, H, origin), forecast)
        assert np.array_equal(baselines.BASELINES[method](longer, H, origin), forecast)


@pytest.mark.parametrize("method", sorted(baselines.BASELINES))
@settings(max_examples=60, deadline=None)
@given(y=series, horizon=st.integers(1, 60))
def test_forecasts_are_non_negative_and_of_the_horizon(method, y, horizon):
    f = baselines.BASELINES[method](y, horizon)
    assert f.shape == (horizon,)
    assert np.all(f >= 0) and np.all(np.isfinite(f))


def test_default_origin_is_the_last_day():
    y = np.arange(1.0, 60.0)
    for method, fn in baselines.BASELINES.items():
        assert np.array_equal(fn(y, 7), fn(y, 7, len(y) - 1)), method


def test_worked_examples():
    y = np.array([0, 0, 6, 0, 0, 0, 3.0])
    # Croston: first demand 6 after an interval of 3; then 3 after 4 days:
    # size 6 + 0.1 (3 - 6) = 5.7, interval 3 + 0.1 (4 - 3) = 3.1
    assert baselines.croston(y, 1)[0] == pytest.approx(5.7 / 3.1)
    assert baselines.sba(y, 1)[0] == pytest.approx(5.7 / 3.1 * 0.95)
    week = np.array([1, 2, 3, 4, 5, 6, 7.0] * 3)
    assert list(baselines.seasonal_naive(week, 9)) == [1, 2, 3, 4, 5, 6, 7, 1, 2]
    closed_sundays = np.array([5, 5, 5, 5, 5, 5, 0.0] * 8)
    assert list(baselines.weekday_average(closed_sundays, 7)) == [5, 5, 5, 5, 5, 5, 0]
    assert baselines.moving_average(np.arange(100.0), 1)[0] == pytest.approx(
        np.mean(range(72, 100))
    )
