"""Small rendering helpers shared by the pages."""

from __future__ import annotations

from typing import Any

import polars as pl
import streamlit as st


def keyed_table(frame: Any, *, key: str, **options: Any) -> Any:
    """``st.dataframe`` (index hidden) inside a container keyed ``key``, so a test or a
    style can find this table by name (a read-only dataframe carries no key of its own)."""
    options.setdefault("hide_index", True)
    options.setdefault("placeholder", "—")
    schema = getattr(frame, "schema", None)
    if schema is not None:  # a polars frame: its dates shown as dates, not midnights
        config = dict(options.get("column_config") or {})
        for name, dtype in schema.items():
            if name not in config and dtype == pl.Date:
                config[name] = st.column_config.DateColumn(name)
        options["column_config"] = config
    with st.container(key=key):
        return st.dataframe(frame, **options)


def keep_choice(key: str, options: list) -> None:
    """Keep the choice held under ``key`` while it is still among ``options``; otherwise choose
    the first option. Set explicitly (not just dropped) so the browser shows the new choice too:
    a keyed selectbox whose options changed would otherwise keep showing the old one."""
    if options and st.session_state.get(key) not in options:
        st.session_state[key] = options[0]
