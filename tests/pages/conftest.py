"""Fixtures of the page tests: the shared demo database, an empty one, and fresh Streamlit
caches for every test."""

from __future__ import annotations

from pathlib import Path

import pytest
import streamlit as st


@pytest.fixture(scope="session")
def demo_db(demo_db_path: Path) -> Path:
    """The suite's shared small demo database."""
    return demo_db_path


@pytest.fixture
def fresh_caches() -> None:
    """Each test opens its own store and computes its own figures."""
    st.cache_data.clear()
    st.cache_resource.clear()


@pytest.fixture
def on_demo(demo_db: Path, monkeypatch: pytest.MonkeyPatch, fresh_caches: None) -> Path:
    monkeypatch.setenv("CONTROL_TOWER_DB", str(demo_db))
    monkeypatch.delenv("CONTROL_TOWER_CONFIG", raising=False)
    return demo_db


@pytest.fixture
def on_empty(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fresh_caches: None) -> Path:
    path = tmp_path / "empty.duckdb"
    monkeypatch.setenv("CONTROL_TOWER_DB", str(path))
    monkeypatch.delenv("CONTROL_TOWER_CONFIG", raising=False)
    return path
