"""The one place the dashboard builds long-lived objects.

The store is opened once per database path and shared by every session of this server
process (DuckDB allows one writing process; the dashboard owns the file). The path comes from
:func:`control_tower.config.load_settings`, so ``CONTROL_TOWER_DB`` overrides the TOML file.
"""

from __future__ import annotations

from datetime import date

import streamlit as st

from control_tower.config import Settings, load_settings
from control_tower.ingest import ENTITIES
from control_tower.ingest.schemas import SPECS
from control_tower.store import Store


def get_settings() -> Settings:
    """Settings as they are now (TOML + environment); cheap, read on every run."""
    return load_settings()


@st.cache_resource(show_spinner="Opening the database…")
def _open_store(path: str) -> Store:
    return Store(path)


def get_store() -> Store:
    """The store for the configured database path, opened once per path."""
    return _open_store(get_settings().db_path)


def data_as_of(store: Store) -> date | None:
    """The data's 'today' (latest ledger or demand day); None when the store has no data."""
    return store.as_of()


def has_data(store: Store) -> bool:
    """True once the store holds any stock movement or demand."""
    return data_as_of(store) is not None


def store_with_data() -> Store:
    """The store, or, when it holds no data yet, a note on where to get some and the end of
    the page's run."""
    store = get_store()
    if not has_data(store):
        st.info(
            "**No data yet.** Import files on the *Data* page, or build the demo from the "
            "*Overview* page."
        )
        st.stop()
    return store


def is_empty(store: Store) -> bool:
    """True when the store holds nothing at all: no movements and no master data either
    (locations, products, suppliers, ...). Only then may the demo be built into it, since the
    demo upserts its own master data over whatever is there."""
    return not any(
        store.scalar(f"SELECT EXISTS (SELECT 1 FROM {SPECS[entity].table})")  # noqa: S608
        for entity in ENTITIES
    )


@st.cache_resource(show_spinner="Starting the language model…")
def _backend(agent_settings_json: str):
    """The agent's chat model, built once per configuration and process; (backend, None) or
    (None, why it is unavailable)."""
    from agents import llm
    from control_tower.config import AgentSettings
    from control_tower.errors import ControlTowerError

    try:
        return llm.chat_backend(AgentSettings.model_validate_json(agent_settings_json)), None
    except ControlTowerError as exc:
        return None, exc.detail


def get_backend():
    """The configured chat model (the embedded one by default) and, when it cannot be used,
    why: the agent then answers with the fact sheet."""
    return _backend(get_settings().agent.model_dump_json())
