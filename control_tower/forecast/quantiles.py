"""Quantiles of demand from backtest errors.

Model: the error of a forecast over a window is a persistent level error (the forecast is off
by about the same amount every day, variance ``level_var`` per day) plus independent daily
noise. With ``V_t`` the error variance of day ``t``:

    daily variance      V_t
    cumulative variance sum_t V_t (1 - s) + s (sum_t sqrt V_t)^2,   s = level_var / sigma2

``V_t`` is the backtest mean squared error ``sigma2`` scaled with the forecast (demand that is
twice as high varies about twice as much, as for Poisson counts), and never below the mean
(a count is at least as variable as Poisson). Quantiles are those of the negative binomial
with that mean and variance (Poisson when the variance equals the mean), so they are whole
units, never negative, and skewed as slow-moving demand is.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

LEVELS = (0.5, 0.9, 0.95, 0.99)
MEAN_FLOOR = 1e-3


@dataclass(frozen=True)
class ErrorModel:
    sigma2: float  # mean squared daily error in the backtest
    level_var: float  # variance of the window-mean error (the persistent part)
    reference_mean: float  # mean forecast in the backtest the errors belong to


def error_model(errors: list[np.ndarray], forecasts: list[np.ndarray]) -> ErrorModel:
    """Estimate the error model from backtest windows (actual - forecast, one array per
    origin) and the forecasts made there."""
    if not errors:
        return ErrorModel(0.0, 0.0, 0.0)
    stacked = np.concatenate(errors)
    sigma2 = float(np.mean(stacked**2))
    window = np.mean([len(e) for e in errors])
    mean_error_sq = float(np.mean([np.mean(e) ** 2 for e in errors]))
    # at least the error of a level estimated from one window of data (sigma2 / window):
    # a handful of windows cannot show the persistent part reliably, and without it the
    # cumulative quantiles of a level forecast cover too little
    level_var = min(max(mean_error_sq - sigma2 / window, sigma2 / window), sigma2)
    return ErrorModel(sigma2, level_var, float(np.mean(np.concatenate(forecasts))))


def daily_variance(mean: np.ndarray, model: ErrorModel) -> np.ndarray:
    if model.reference_mean > 0:  # a day forecast at zero (a closed day) adds no variance
        scale = np.where(mean > 0, np.clip(mean / model.reference_mean, 0.25, 4.0), 0.0)
    else:
        scale = np.ones_like(mean)
    return np.maximum(model.sigma2 * scale, mean)


def cumulative_variance(variance: np.ndarray, model: ErrorModel) -> np.ndarray:
    share = model.level_var / model.sigma2 if model.sigma2 > 0 else 0.0
    return np.cumsum(variance) * (1.0 - share) + share * np.cumsum(np.sqrt(variance)) ** 2


def count_quantiles(
    mean: np.ndarray, variance: np.ndarray, levels: tuple[float, ...] = LEVELS
) -> np.ndarray:
    """(len(mean), len(levels)) quantiles of a count with this mean and variance."""
    # imported here: scipy.stats takes about a second to import, and every reader of the
    # store imports this package without forecasting
    from scipy.stats import nbinom, poisson

    mu = np.maximum(np.asarray(mean, dtype=float), MEAN_FLOOR)
    var = np.maximum(np.asarray(variance, dtype=float), mu)
    out = np.empty((len(mu), len(levels)))
    over = var > mu * (1 + 1e-9)
    for j, q in enumerate(levels):
        col = np.empty(len(mu))
        if over.any():
            r = mu[over] ** 2 / (var[over] - mu[over])
            col[over] = nbinom.ppf(q, r, r / (r + mu[over]))
        if (~over).any():
            col[~over] = poisson.ppf(q, mu[~over])
        out[:, j] = col
    return np.maximum.accumulate(out, axis=1)  # ordered even at the float edge


@dataclass(frozen=True)
class Bands:
    sd: np.ndarray
    quantiles: np.ndarray  # (h, len(LEVELS))
    cum_mean: np.ndarray
    cum_sd: np.ndarray
    cum_quantiles: np.ndarray


def bands(mean: np.ndarray, model: ErrorModel) -> Bands:
    variance = daily_variance(mean, model)
    cum_var = cumulative_variance(variance, model)
    cum_mean = np.cumsum(mean)
    return Bands(
        sd=np.sqrt(variance),
        quantiles=count_quantiles(mean, variance),
        cum_mean=cum_mean,
        cum_sd=np.sqrt(cum_var),
        cum_quantiles=np.maximum.accumulate(count_quantiles(cum_mean, cum_var), axis=0),
    )
