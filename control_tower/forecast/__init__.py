"""Demand forecasting: Prophet per SKU x location with backtested baselines and quantiles.

Public verbs: :func:`forecast` (run and store), :func:`backtest` (held-out accuracy), and the
readers of stored runs. Prophet is imported only in :mod:`.prophet_model`, inside the fit.
"""

from control_tower.forecast.backtest import BacktestReport, backtest
from control_tower.forecast.classify import DemandClass, classify
from control_tower.forecast.reads import (
    aggregate_forecast,
    demand_history_series,
    export_forecasts,
    leaderboard,
    load_forecasts,
    series_summary,
)
from control_tower.forecast.service import (
    ForecastRun,
    forecast,
    get_run,
    latest_run,
    list_runs,
    load_series,
    resolve_run,
)

__all__ = [
    "BacktestReport",
    "DemandClass",
    "ForecastRun",
    "aggregate_forecast",
    "backtest",
    "classify",
    "demand_history_series",
    "export_forecasts",
    "forecast",
    "get_run",
    "latest_run",
    "leaderboard",
    "list_runs",
    "load_forecasts",
    "load_series",
    "resolve_run",
    "series_summary",
]
