"""Helpers for the page tests.

The pages run in-process under ``streamlit.testing.v1.AppTest`` against a small demo
database; ``CONTROL_TOWER_DB`` points them at it, exactly as it would a real server.
"""

from __future__ import annotations

from pathlib import Path

from streamlit.testing.v1 import AppTest

from control_tower.store import Store

ROOT = Path(__file__).resolve().parents[2]

TIMEOUT = 60  # seconds; the first run imports plotly and friends


def page(name: str) -> AppTest:
    """An AppTest of one page file (``"overview"``) or of ``"app"``; not yet run."""
    path = ROOT / ("app.py" if name == "app" else f"pages/{name}.py")
    return AppTest.from_file(str(path), default_timeout=TIMEOUT)


def run(at: AppTest) -> AppTest:
    """Run and insist the page raised nothing."""
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def store_query(path: Path, sql: str, params: list | None = None):
    """Read the test database directly (independent of the services under test)."""
    with Store(path) as store:
        return store.query(sql, params)


def table(at: AppTest, key: str):
    """The frame of the table a page showed under ``key`` (a selectable ``st.dataframe``'s own
    key, or the key of the container ``ui.widgets.keyed_table`` wraps it in)."""
    try:
        return at.dataframe(key).value
    except KeyError:
        return at.container(key).dataframe[0].value
