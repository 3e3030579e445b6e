"""Accuracy measures.

RMSSE and its weighting follow the M5 competition (Makridakis, Spiliotis & Assimakopoulos,
"The M5 accuracy competition", IJF 2022): the squared error is scaled by the in-sample mean
squared one-day change, counted from the first non-zero demand, and series are weighted by
their sales value over the last 28 days of the training data. Bias is (sum of forecast - sum
of actual) / sum of actual; WAPE is sum |error| / sum actual.
"""

from __future__ import annotations

import numpy as np

WEIGHT_DAYS = 28


def rmsse_scale(train: np.ndarray) -> float:
    """Mean squared one-day change of the training data from its first non-zero day; 1.0 when
    that is zero (a constant or empty history), so the score stays defined."""
    nonzero = np.flatnonzero(train > 0)
    active = train[nonzero[0] :] if len(nonzero) else train
    if len(active) < 2:
        return 1.0
    scale = float(np.mean(np.diff(active.astype(float)) ** 2))
    return scale if scale > 0 else 1.0


def rmsse(actual: np.ndarray, forecast: np.ndarray, scale: float) -> float:
    return float(np.sqrt(np.mean((actual - forecast) ** 2) / scale))


def wape(actual: np.ndarray, forecast: np.ndarray) -> float:
    total = float(np.sum(actual))
    error = float(np.sum(np.abs(actual - forecast)))
    if total == 0:
        return 0.0 if error == 0 else float("inf")
    return error / total


def bias(actual: np.ndarray, forecast: np.ndarray) -> float:
    total = float(np.sum(actual))
    diff = float(np.sum(forecast) - total)
    if total == 0:
        return 0.0 if diff == 0 else float("inf")
    return diff / total


def weighted_mean(scores: np.ndarray, weights: np.ndarray) -> float:
    """Weighted mean of per-series scores; a plain mean when every weight is zero."""
    scores = np.asarray(scores, dtype=float)
    weights = np.asarray(weights, dtype=float)
    if weights.sum() <= 0:
        return float(np.mean(scores)) if len(scores) else float("nan")
    return float(np.sum(scores * weights) / weights.sum())
