"""Prophet on one daily series. Prophet is imported here and nowhere else.

The mean forecast only: quantiles come from backtest errors (``quantiles.py``), so the
model's own uncertainty sampling (most of the cost of ``predict``) is switched off.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from datetime import date

import numpy as np
import pandas as pd

from control_tower.forecast.holidays import holiday_indicators

YEARLY_MIN_DAYS = 400  # a yearly cycle is fitted only with more than a year of history
WEEKLY_MIN_DAYS = 21


@dataclass(frozen=True)
class ProphetConfig:
    """The settings the tuning backtest chooses among (and Prophet's defaults as a reference)."""

    name: str
    seasonality_mode: str = "additive"
    changepoint_prior_scale: float = 0.05
    seasonality_prior_scale: float = 10.0
    holidays_prior_scale: float = 10.0
    holidays: bool = True
    yearly_fourier_order: int = 10
    default: bool = False  # True: Prophet exactly as shipped (auto seasonalities, no holidays)

    def as_dict(self) -> dict:
        return asdict(self)


DEFAULT_PROPHET = ProphetConfig(name="prophet_default", holidays=False, default=True)
PROPHET_GRID: tuple[ProphetConfig, ...] = (
    ProphetConfig(name="additive"),
    ProphetConfig(name="multiplicative", seasonality_mode="multiplicative"),
    ProphetConfig(
        name="additive_stiff",
        changepoint_prior_scale=0.01,
        seasonality_prior_scale=1.0,
        holidays_prior_scale=1.0,
        yearly_fourier_order=4,
    ),
    ProphetConfig(
        name="multiplicative_stiff",
        seasonality_mode="multiplicative",
        changepoint_prior_scale=0.01,
        seasonality_prior_scale=1.0,
        holidays_prior_scale=1.0,
        yearly_fourier_order=4,
    ),
)


def quiet() -> None:
    """Silence Prophet's and cmdstanpy's per-fit chatter (called in every worker).
    cmdstanpy sets its logger up on first use, so it is set up here first, then quietened."""
    from cmdstanpy.utils.logging import get_logger

    get_logger()
    for name in ("prophet", "prophet.plot"):
        logging.getLogger(name).setLevel(logging.ERROR)
    # When L-BFGS stops abnormally cmdstanpy logs "Chain [1] error: code '1' Operation not
    # permitted" (errno 1's text for exit code 1) and Prophet retries with Newton; a fit that
    # fails for good raises, and the pipeline records that failure on the series.
    logging.getLogger("cmdstanpy").setLevel(logging.CRITICAL)


def _stan_arrays(init: dict, data: dict) -> tuple[dict, dict]:
    """Prophet's data for Stan, with the arrays left as numpy arrays.

    Prophet's own ``prepare_data`` turns every array into nested Python lists, which the JSON
    writer (stanio) then walks value by value: about 18 ms per fit for a 700 x 60 regressor
    matrix. Given arrays, stanio converts each in one ``tolist`` call and writes the same file,
    so the fit is unchanged (a test compares the two)."""
    keys = ("T", "S", "K", "tau", "trend_indicator", "sigmas")
    arrays = ("y", "t", "cap", "t_change", "s_a", "s_m")
    stan_data = {k: data[k] for k in keys} | {k: np.asarray(data[k]) for k in arrays}
    stan_data["X"] = np.asarray(data["X"])
    stan_init = {
        "k": init["k"],
        "m": init["m"],
        "delta": np.asarray(init["delta"]),
        "beta": np.asarray(init["beta"]),
        "sigma_obs": init["sigma_obs"],
    }
    return stan_init, stan_data


def build_model(config: ProphetConfig, history_days: int, *, fast_io: bool = True):
    """A Prophet model for ``config``; ``fast_io`` hands Stan its data as arrays (see
    :func:`_stan_arrays`), off only to check that it changes nothing."""
    from prophet import Prophet

    quiet()  # after the import: importing prophet resets its logger
    if config.default:
        return Prophet()
    model = Prophet(
        growth="linear",
        seasonality_mode=config.seasonality_mode,
        changepoint_prior_scale=config.changepoint_prior_scale,
        seasonality_prior_scale=config.seasonality_prior_scale,
        holidays_prior_scale=config.holidays_prior_scale,
        yearly_seasonality=(
            config.yearly_fourier_order if history_days >= YEARLY_MIN_DAYS else False
        ),
        weekly_seasonality=history_days >= WEEKLY_MIN_DAYS,
        daily_seasonality=False,
        uncertainty_samples=0,
    )
    if fast_io and hasattr(model.stan_backend, "prepare_data"):
        model.stan_backend.prepare_data = _stan_arrays
    return model


FIT_TIMEOUT_S = 60.0  # one series fits in well under a second; Stan's optimizer can spin


def prophet_forecast(
    start: date,
    y: np.ndarray,
    horizon: int,
    origin: int,
    config: ProphetConfig,
    holidays: pd.DataFrame | None,
    *,
    fast_io: bool = True,
    timeout_s: float = FIT_TIMEOUT_S,
) -> np.ndarray:
    """Fit on ``y[: origin + 1]`` (day 0 is ``start``) and return the mean forecast for the
    ``horizon`` days after the origin, never below zero. Holidays enter as 0/1 regressors,
    one per holiday or festival phase, with the holidays prior scale. A fit that takes
    longer than ``timeout_s`` is stopped with ``TimeoutError`` (Stan's L-BFGS was seen to spin
    for over 40 minutes on one series of a demo); the pipeline then keeps the baselines."""
    train = y[: origin + 1]
    ds = pd.date_range(pd.Timestamp(start), periods=len(train) + horizon, freq="D")
    model = build_model(config, len(train), fast_io=fast_io)
    frame = pd.DataFrame({"ds": ds})
    if config.holidays and holidays is not None and len(holidays):
        indicators = holiday_indicators(holidays, ds)
        seen = indicators.iloc[: len(train)].sum() > 0  # only phases the history has seen
        indicators = indicators.loc[:, seen[seen].index]
        for column in indicators.columns:
            model.add_regressor(
                column,
                prior_scale=config.holidays_prior_scale,
                standardize=False,
                mode=config.seasonality_mode,
            )
        frame = pd.concat([frame, indicators], axis=1)
    history = frame.iloc[: len(train)].assign(y=train.astype(float))
    model.fit(history, timeout=timeout_s)
    predicted = model.predict(frame.iloc[len(train) :])["yhat"].to_numpy()
    if not np.all(np.isfinite(predicted)):
        raise ValueError("Prophet returned a non-finite forecast")
    return np.clip(predicted, 0.0, None)
