"""Small rendering helpers shared by the pages."""

from __future__ import annotations

from typing import Any

import streamlit as st


def keyed_table(frame: Any, *, key: str, **options: Any) -> Any:
    """``st.dataframe`` (index hidden) inside a container keyed ``key``, so a test or a
    style can find this table by name (a read-only dataframe carries no key of its own)."""
    options.setdefault("hide_index", True)
    options.setdefault("placeholder", "—")
    with st.container(key=key):
        return st.dataframe(frame, **options)
