"""Accuracy measures (M5: RMSSE with the in-sample one-day-change scale from the first
demand; WAPE; bias), checked on worked examples."""

from __future__ import annotations

import math

import numpy as np
import pytest

from control_tower.forecast import metrics


def test_rmsse_scale_counts_from_the_first_demand():
    # active part [2, 4, 4]: changes 2, 0 -> mean square 2 (the leading zeros do not count)
    assert metrics.rmsse_scale(np.array([0, 0, 2, 4, 4.0])) == pytest.approx(2.0)
    assert metrics.rmsse_scale(np.array([1, 3, 0, 3.0])) == pytest.approx((4 + 9 + 9) / 3)


@pytest.mark.parametrize(
    "train", [np.array([]), np.array([7.0]), np.zeros(5), np.full(5, 3.0), np.array([0, 0, 4.0])]
)
def test_rmsse_scale_stays_defined(train):
    assert metrics.rmsse_scale(train) == 1.0


def test_rmsse_worked_example():
    # squared errors 1, 0, 1 -> mean 2/3, over a scale of 2 -> 1/3
    assert metrics.rmsse(np.array([1, 2, 3.0]), np.array([2, 2, 2.0]), 2.0) == pytest.approx(
        math.sqrt(1 / 3)
    )
    assert metrics.rmsse(np.array([5, 5.0]), np.array([5, 5.0]), 3.0) == 0.0


def test_wape_and_bias_worked_examples():
    actual = np.array([10, 0, 10.0])
    forecast = np.array([5, 5, 14.0])
    assert metrics.wape(actual, forecast) == pytest.approx((5 + 5 + 4) / 20)
    assert metrics.bias(actual, forecast) == pytest.approx((24 - 20) / 20)
    assert metrics.bias(np.array([10, 10.0]), np.array([8, 8.0])) == pytest.approx(-0.2)


def test_wape_and_bias_without_actual_demand():
    zero = np.zeros(3)
    assert metrics.wape(zero, zero) == 0.0
    assert metrics.bias(zero, zero) == 0.0
    assert metrics.wape(zero, np.ones(3)) == math.inf
    assert metrics.bias(zero, np.ones(3)) == math.inf


def test_weighted_mean():
    assert metrics.weighted_mean(np.array([1, 3.0]), np.array([1, 3.0])) == pytest.approx(2.5)
    assert metrics.weighted_mean(np.array([1, 3.0]), np.zeros(2)) == pytest.approx(2.0)
    assert math.isnan(metrics.weighted_mean(np.array([]), np.array([])))
