"""Service calls the pages share, cached per (database path, store version).

``Store.version`` is bumped by every committed write, and the dashboard process is the only
writer while it runs (it holds DuckDB's file lock, so the CLI cannot write meanwhile): an
import or a demo build shows at once. The time-to-live only bounds the memory kept.
(``control_tower.position`` also memoises per store and version; this cache spares the
pages' reruns the recomputation of KPIs and the copying of frames.)
The store itself is passed as ``_store`` and so is not hashed.
"""

from __future__ import annotations

from datetime import date

import polars as pl
import streamlit as st

from control_tower import forecast as fc
from control_tower import kpis, policies, position
from control_tower.forecast.holidays import holidays_between
from control_tower.ingest import freshness as ingest_freshness
from control_tower.store import Store

TTL = "10m"


def _key(store: Store) -> tuple:
    """What a cached figure depends on: which database, which open store, which write."""
    return (store.path, id(store), store.version)


@st.cache_data(show_spinner=False, ttl=TTL, max_entries=8)
def _overview(_store: Store, key: tuple) -> kpis.OverviewData:
    return kpis.overview_data(_store)


def overview(store: Store) -> kpis.OverviewData:
    """:func:`control_tower.kpis.overview_data` at the data's as-of day."""
    return _overview(store, _key(store))


@st.cache_data(show_spinner=False, ttl=TTL, max_entries=8)
def _positions(_store: Store, key: tuple) -> pl.DataFrame:
    return position.stock_position(_store)


def positions(store: Store) -> pl.DataFrame:
    """Every SKU x location position (:func:`control_tower.position.stock_position`)."""
    return _positions(store, _key(store))


@st.cache_data(show_spinner=False, ttl=TTL, max_entries=64)
def _sku_detail(
    _store: Store, key: tuple, sku: str
) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    return (
        position.sku_network(_store, sku),
        position.inbound(_store, sku=sku),
        position.ledger_history(_store, sku),
    )


def sku_detail(store: Store, sku: str) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """(network position, open inbound, ledger history) of one SKU."""
    return _sku_detail(store, _key(store), sku)


@st.cache_data(show_spinner=False, ttl=TTL, max_entries=8)
def _freshness(_store: Store, key: tuple) -> pl.DataFrame:
    return ingest_freshness(_store)


def freshness(store: Store) -> pl.DataFrame:
    """Last import, rows and data date range of each source."""
    return _freshness(store, _key(store))


# -- forecasts ------------------------------------------------------------------------------
# A stored run never changes, but the key still carries the store version: a new run (or a
# new database at the same path) must show at once in the list of runs.


@st.cache_data(show_spinner=False, ttl=TTL, max_entries=8)
def _forecast_runs(_store: Store, key: tuple) -> pl.DataFrame:
    runs = fc.list_runs(_store)
    settings = [fc.get_run(_store, run_id).settings for run_id in runs.get_column("run_id")]
    return runs.with_columns(
        pl.Series(
            "prophet_setting",
            [(s.get("prophet") or {}).get("name") for s in settings],
            dtype=pl.String,
        )
    )


def forecast_runs(store: Store) -> pl.DataFrame:
    """The stored forecast runs, newest first (:func:`control_tower.forecast.list_runs`), with
    the Prophet setting each one used (``prophet_setting``)."""
    return _forecast_runs(store, _key(store))


@st.cache_data(show_spinner=False, ttl=TTL, max_entries=16)
def _forecast_run(_store: Store, key: tuple, run_id: int) -> fc.ForecastRun:
    return fc.get_run(_store, run_id)


def forecast_run(store: Store, run_id: int) -> fc.ForecastRun:
    """One stored run (:func:`control_tower.forecast.get_run`)."""
    return _forecast_run(store, _key(store), run_id)


@st.cache_data(show_spinner=False, ttl=TTL, max_entries=16)
def _series_summary(_store: Store, key: tuple, run_id: int) -> pl.DataFrame:
    return fc.series_summary(_store, run_id)


def series_summary(store: Store, run_id: int) -> pl.DataFrame:
    """One row per series of a run (:func:`control_tower.forecast.series_summary`)."""
    return _series_summary(store, _key(store), run_id)


@st.cache_data(show_spinner=False, ttl=TTL, max_entries=16)
def _leaderboard(_store: Store, key: tuple, run_id: int, by: str) -> pl.DataFrame:
    return fc.leaderboard(_store, run_id, by=by)


def leaderboard(store: Store, run_id: int, by: str) -> pl.DataFrame:
    """Backtest accuracy per method or per demand class (:func:`control_tower.forecast.leaderboard`)."""
    return _leaderboard(store, _key(store), run_id, by)


@st.cache_data(show_spinner=False, ttl=TTL, max_entries=64)
def _series_forecast(_store: Store, key: tuple, run_id: int, sku: str, location: str):
    return fc.load_forecasts(_store, run_id, sku=sku, location=location)


def series_forecast(store: Store, run_id: int, sku: str, location: str) -> pl.DataFrame:
    """A run's daily forecast of one SKU x location (:func:`control_tower.forecast.load_forecasts`)."""
    return _series_forecast(store, _key(store), run_id, sku, location)


@st.cache_data(show_spinner=False, ttl=TTL, max_entries=64)
def _aggregate_forecast(
    _store: Store, key: tuple, run_id: int, level: str, group: str | None
) -> pl.DataFrame:
    return fc.aggregate_forecast(_store, run_id, level=level, key=group)


def aggregate_forecast(store: Store, run_id: int, level: str, group: str | None) -> pl.DataFrame:
    """A run's forecast summed over a region, a category or the network
    (:func:`control_tower.forecast.aggregate_forecast`)."""
    return _aggregate_forecast(store, _key(store), run_id, level, group)


@st.cache_data(show_spinner=False, ttl=TTL, max_entries=64)
def _demand_history(
    _store: Store,
    key: tuple,
    start: date,
    end: date,
    sku: str | None,
    location: str | None,
    level: str | None,
    group: str | None,
    run_id: int | None,
) -> pl.DataFrame:
    return fc.demand_history_series(
        _store,
        start=start,
        end=end,
        sku=sku,
        location=location,
        level=level,
        key=group,
        run_id=run_id,
    )


def demand_history(
    store: Store,
    start: date,
    end: date,
    *,
    sku: str | None = None,
    location: str | None = None,
    level: str | None = None,
    group: str | None = None,
    run_id: int | None = None,
) -> pl.DataFrame:
    """Daily demand (date, quantity) of one SKU x location or summed over a group, only over
    the series of run ``run_id`` when given (:func:`control_tower.forecast.demand_history_series`)."""
    return _demand_history(store, _key(store), start, end, sku, location, level, group, run_id)


@st.cache_data(show_spinner=False, ttl=TTL, max_entries=32)
def holidays(country: str, start: date, end: date) -> pl.DataFrame:
    """Holiday and festival days (date, holiday) of ``country`` between two dates
    (:func:`control_tower.forecast.holidays.holidays_between`)."""
    frame = holidays_between(country, start, end)
    return pl.DataFrame(
        {
            "date": [ts.date() for ts in frame["ds"]],
            "holiday": [str(name) for name in frame["holiday"]],
        },
        schema={"date": pl.Date, "holiday": pl.String},
    )


@st.cache_data(show_spinner=False, ttl=TTL, max_entries=8)
def _policy_table(
    _store: Store, key: tuple, settings_json: str, suppliers_json: str
) -> pl.DataFrame:
    from control_tower.config import PolicySettings, SupplierSettings

    settings = PolicySettings.model_validate_json(settings_json)
    suppliers = SupplierSettings.model_validate_json(suppliers_json)
    return policies.policy_table(policies.policies(_store, settings, suppliers=suppliers))


def policy_table(store: Store, settings, suppliers=None) -> pl.DataFrame:
    """Every policy with the given policy settings and supplier settings (measured or stated
    lead times; default: the defaults)."""
    from control_tower.config import SupplierSettings

    chosen = suppliers if suppliers is not None else SupplierSettings()
    return _policy_table(store, _key(store), settings.model_dump_json(), chosen.model_dump_json())
