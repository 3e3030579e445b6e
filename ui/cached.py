"""Service calls the pages share, cached per (database path, store version).

``Store.version`` is bumped by every committed write, and the dashboard process is the only
writer while it runs (it holds DuckDB's file lock, so the CLI cannot write meanwhile): an
import or a demo build shows at once. The time-to-live only bounds the memory kept.
(``control_tower.position`` also memoises per store and version; this cache spares the
pages' reruns the recomputation of KPIs and the copying of frames.)
The store itself is passed as ``_store`` and so is not hashed.
"""

from __future__ import annotations

import polars as pl
import streamlit as st

from control_tower import kpis, position
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
