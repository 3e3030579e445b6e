"""Prophet's settings chosen by backtest on a sample: the best within the bias limit."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pytest

from control_tower.forecast.pipeline import SeriesInput, Spec
from control_tower.forecast.prophet_model import PROPHET_GRID
from control_tower.forecast.runner import InlineExecutor
from control_tower.forecast.tuning import sample_for_tuning, tune_prophet
from tests.forecast import stubs
from tests.forecast.data import draw


def noisy(i: int) -> SeriesInput:
    rng = np.random.default_rng(i)
    r = 30**2 / (400 - 30)
    y = rng.negative_binomial(r, r / (r + 30), 300).astype(float)
    y[0] = max(y[0], 1)
    return SeriesInput(f"S{i}", "L", date(2025, 1, 1) + timedelta(days=i), y, price=1.0 + i)


def test_the_sample_holds_only_prophet_classes_and_the_highest_value_half():
    rng = np.random.default_rng(0)
    smooth = [
        SeriesInput(
            f"S{i}", "L", date(2025, 1, 1), draw("smooth", rng, 200).astype(float), price=i + 1.0
        )
        for i in range(10)
    ]
    sparse = [
        SeriesInput(
            f"I{i}",
            "L",
            date(2025, 1, 1),
            draw("intermittent", rng, 200).astype(float),
            price=100.0,
        )
        for i in range(3)
    ]
    spec = Spec(horizon=7)
    sample = sample_for_tuning(smooth + sparse, spec, 4)
    assert 1 <= len(sample) <= 4
    assert all(s.sku.startswith("S") for s in sample)  # never an intermittent series
    best = max(smooth, key=lambda s: s.weight)
    assert best.sku in {s.sku for s in sample}  # the highest-value series is always in
    assert [s.sku for s in sample_for_tuning(smooth + sparse, spec, 4)] == [s.sku for s in sample]
    assert sample_for_tuning(sparse, spec, 4) == []


def test_the_lowest_rmsse_within_the_bias_limit_wins():
    spec = Spec(horizon=14, prophet_fn=stubs.config_dependent_oracle)
    chosen, table = tune_prophet(InlineExecutor(), [noisy(i) for i in range(4)], spec, 4)
    rows = {t["config"]: t for t in table}
    assert set(rows) == {"additive", "multiplicative", "additive_stiff"}  # one cannot fit
    assert rows["additive"]["bias"] == pytest.approx(0.2)
    assert rows["additive"]["weighted_rmsse"] < rows["multiplicative"]["weighted_rmsse"]
    assert abs(rows["multiplicative"]["bias"]) <= 0.15
    assert chosen.name == "multiplicative"
    assert all(t["series"] == 4 for t in table)


def test_no_sample_means_the_grids_first_setting():
    assert tune_prophet(InlineExecutor(), [noisy(0)], Spec(horizon=7), 0) == (PROPHET_GRID[0], [])
    sparse = SeriesInput("I", "L", date(2025, 1, 1), draw("lumpy", np.random.default_rng(1), 200))
    assert tune_prophet(InlineExecutor(), [sparse], Spec(horizon=7), 4) == (PROPHET_GRID[0], [])
