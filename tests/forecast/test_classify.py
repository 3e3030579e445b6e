"""Demand classes (Syntetos, Boylan & Croston 2005: ADI 1.32, CV² 0.49) and where each class
is routed: which candidates it gets, Prophet included or not."""

from __future__ import annotations

from datetime import date

import numpy as np
import pytest

from control_tower.forecast.baselines import BASELINES
from control_tower.forecast.classify import ADI_CUTOFF, CV2_CUTOFF, DemandClass, adi_cv2, classify
from control_tower.forecast.holidays import holiday_frame
from control_tower.forecast.pipeline import (
    BASELINE_BLEND,
    BASELINE_METHODS,
    SeriesInput,
    Spec,
    forecast_series,
)
from control_tower.forecast.prophet_model import PROPHET_GRID
from tests.forecast.data import EXPECTED_CLASS, crafted_series, draw

PROPHET_METHODS = {"prophet", "prophet_ma"}  # Prophet alone, or averaged with a baseline
WITHOUT_PROPHET = set(BASELINE_METHODS)  # the baselines and their blend


def with_sizes(sizes: list[float], days: int) -> np.ndarray:
    """``days`` days, demand on the first len(sizes) of them."""
    y = np.zeros(days)
    y[: len(sizes)] = sizes
    return y


def two_sizes(cv: float, count: int = 100) -> list[float]:
    """Sizes 10 ± 10·cv alternating: mean 10, population CV exactly ``cv``."""
    return [10 + 10 * cv, 10 - 10 * cv] * (count // 2)


def test_adi_and_cv2_of_a_worked_example():
    # 6 days, demand on 3 of them: ADI 2; sizes 2, 4, 6: mean 4, variance 8/3, CV² 1/6
    adi, cv2 = adi_cv2(np.array([2.0, 0, 4, 0, 6, 0]))
    assert adi == pytest.approx(2.0)
    assert cv2 == pytest.approx((8 / 3) / 16)


def test_adi_without_demand_is_infinite_and_cv2_of_a_single_size_is_zero():
    assert adi_cv2(np.zeros(10)) == (float("inf"), 0.0)
    assert adi_cv2(np.array([0, 0, 5.0, 0])) == (4.0, 0.0)


@pytest.mark.parametrize(
    ("days", "cv", "expected"),
    [
        (100, 0.6, DemandClass.SMOOTH),  # ADI 1.00, CV² 0.36
        (100, 0.8, DemandClass.ERRATIC),  # ADI 1.00, CV² 0.64
        (131, 0.6, DemandClass.SMOOTH),  # ADI 1.31: just below the cut-off
        (132, 0.6, DemandClass.INTERMITTENT),  # ADI 1.32 exactly: on the cut-off's far side
        (132, 0.8, DemandClass.LUMPY),
        (300, 0.1, DemandClass.INTERMITTENT),  # ADI 3.00
        (300, 0.9, DemandClass.LUMPY),  # CV² 0.81
        (100, 0.69, DemandClass.SMOOTH),  # CV² 0.4761 < 0.49
        (100, 0.71, DemandClass.ERRATIC),  # CV² 0.5041 >= 0.49
    ],
)
def test_syntetos_boylan_matrix(days, cv, expected):
    y = with_sizes(two_sizes(cv), days)  # 100 demand days from day 0: not new
    cls, adi, cv2 = classify(y, min_history_days=84, new_item_days=28)
    assert adi == pytest.approx(days / 100)
    assert cv2 == pytest.approx(cv**2)
    assert cls is expected
    assert (adi < ADI_CUTOFF) == (cls in (DemandClass.SMOOTH, DemandClass.ERRATIC))
    assert (cv2 < CV2_CUTOFF) == (cls in (DemandClass.SMOOTH, DemandClass.INTERMITTENT))


def test_new_and_too_short_come_before_the_matrix():
    recent = np.zeros(400)
    recent[-27:] = 5  # first demand 27 days before the end
    assert classify(recent)[0] is DemandClass.NEW
    recent[-28] = 5  # 28 days: no longer new
    assert classify(recent)[0] is not DemandClass.NEW
    assert classify(np.full(83, 5.0))[0] is DemandClass.TOO_SHORT
    assert classify(np.full(84, 5.0))[0] is DemandClass.SMOOTH
    assert classify(np.full(83, 5.0), min_history_days=60)[0] is DemandClass.SMOOTH
    assert classify(np.zeros(200))[0] is DemandClass.INTERMITTENT  # no demand at all


def test_class_is_judged_on_the_last_year_only():
    rng = np.random.default_rng(0)
    y = np.concatenate([(rng.random(400) < 0.2) * 10.0, rng.poisson(20, 365).astype(float)])
    assert classify(y)[0] is DemandClass.SMOOTH
    assert classify(y[:400])[0] is DemandClass.INTERMITTENT


@pytest.mark.parametrize(("key", "expected"), sorted(EXPECTED_CLASS.items()))
def test_the_crafted_series_fall_in_their_class(key, expected):
    _start, values = crafted_series()[key]
    assert str(classify(values.astype(float))[0]) == expected


# -- routing ---------------------------------------------------------------------------------


def recording_prophet(calls: list):
    def prophet_fn(start, y, horizon, origin, config, holidays):
        calls.append(origin)
        return np.full(horizon, float(np.mean(y[max(0, origin - 27) : origin + 1])))

    return prophet_fn


def route(kind: str, days: int, **spec) -> tuple[object, list]:
    calls: list = []
    y = draw(kind, np.random.default_rng(11), days).astype(float)
    spec = Spec(horizon=14, prophet=PROPHET_GRID[0], prophet_fn=recording_prophet(calls), **spec)
    return forecast_series(SeriesInput("S", "L", date(2024, 1, 1), y), spec), calls


@pytest.mark.parametrize(("kind", "expected"), [("smooth", "smooth"), ("erratic", "erratic")])
def test_smooth_and_erratic_series_try_prophet_among_the_baselines(kind, expected):
    result, calls = route(kind, 400)
    assert result.demand_class == expected
    methods = {c.method for c in result.candidates}
    assert {*BASELINES, BASELINE_BLEND, "prophet"} <= methods
    assert all(m.startswith("prophet") for m in methods - WITHOUT_PROPHET)  # Prophet-based
    assert calls  # Prophet was fitted for the backtest


@pytest.mark.parametrize(
    ("kind", "expected"), [("intermittent", "intermittent"), ("lumpy", "lumpy")]
)
def test_intermittent_and_lumpy_series_never_get_prophet(kind, expected):
    result, calls = route(kind, 400)
    assert result.demand_class == expected
    assert {c.method for c in result.candidates} == WITHOUT_PROPHET
    assert result.method in WITHOUT_PROPHET
    assert calls == []  # not even fitted
    # six backtest windows for baseline-only series (one for series where Prophet is tried)
    assert result.failure is None


def test_prophet_classes_are_a_setting():
    result, calls = route("intermittent", 400, prophet_classes=("intermittent",))
    assert "prophet" in {c.method for c in result.candidates}
    assert calls


def test_too_short_and_new_series_get_a_plain_baseline_without_a_backtest():
    short, calls = route("short", 60)
    assert short.demand_class == "too_short"
    assert short.method == "weekday_average"
    assert short.candidates == () and short.rmsse is None and short.bias is None
    # under two weeks (possible when 'new' means under a week): a moving average
    very_short, _ = route("short", 10, new_item_days=7)
    assert very_short.method == "moving_average"
    new, more_calls = route("new", 20)
    assert new.demand_class == "new"
    assert new.method == "new_item"
    assert new.candidates == ()
    assert calls == more_calls == []


def test_a_smooth_series_with_a_strong_weekly_and_yearly_pattern_gets_prophet():
    """Real Prophet against the baselines on two years of weekly x yearly demand, as of late
    September, when the yearly profile falls fast: seasonal naive keeps the week but lags the
    season; Prophet has both."""
    start = date(2024, 10, 1)
    y = draw("seasonal", np.random.default_rng(8), 730, start).astype(float)
    spec = Spec(
        horizon=28, prophet=PROPHET_GRID[0], holidays={"CN": holiday_frame("CN", 2024, 2026)}
    )
    result = forecast_series(SeriesInput("SEASONAL", "L", start, y), spec)
    assert result.demand_class == "smooth"
    assert result.method in ("prophet", "prophet_ma")  # Prophet alone or averaged
    scores = {c.method: c for c in result.candidates}
    assert scores[result.method].eligible
    assert scores[result.method].rmsse < min(scores[m].rmsse for m in BASELINES)
