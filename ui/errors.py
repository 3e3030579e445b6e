"""How the dashboard shows an error: ``st.error(title)`` plus the detail, never a traceback.

Every error a user can cause is a :class:`~control_tower.errors.ControlTowerError`; pages wrap
their body in :func:`reported` so such an error ends the page with a readable message.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import polars as pl
import streamlit as st

from control_tower.errors import ControlTowerError, ImportValidationError, RowProblem
from ui.widgets import keyed_table

PROBLEM_COLUMNS = ("file", "row", "column", "value", "reason")


def show_error(exc: ControlTowerError) -> None:
    """``st.error`` with the error's title, then its detail (problems as a table)."""
    st.error(exc.title, icon=":material/error:")
    if isinstance(exc, ImportValidationError):
        show_problems(exc.problems, exc.total)
    elif exc.detail:
        st.text(exc.detail)


@contextmanager
def reported() -> Iterator[None]:
    """Run a block; a ControlTowerError inside it is shown with :func:`show_error` and
    stops the block (the rest of the page still renders)."""
    try:
        yield
    except ControlTowerError as exc:
        show_error(exc)


def problems_frame(problems: Sequence[RowProblem]) -> pl.DataFrame:
    """One row per problem, in the order the validator found them."""
    schema = {name: pl.Int64 if name == "row" else pl.String for name in PROBLEM_COLUMNS}
    rows = [tuple(getattr(p, name) for name in PROBLEM_COLUMNS) for p in problems]
    return pl.DataFrame(rows, schema=schema, orient="row")


def show_problems(
    problems: Sequence[RowProblem], total: int | None = None, *, key: str = "problems"
) -> None:
    """The problems table, and how many more problems were found than are listed."""
    total = len(problems) if total is None else total
    keyed_table(
        problems_frame(problems),
        key=key,
        column_config={"row": st.column_config.NumberColumn("row", format="%d")},
    )
    more = total - len(problems)
    if more > 0:
        st.caption(f"… and {more:,} more problem(s) not listed ({total:,} in all).")
