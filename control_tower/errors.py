"""The error hierarchy. Every error a user can cause carries a short, user-facing ``title``
and a ``detail`` that says exactly what was wrong; pages show ``st.error(title)`` plus the
detail, the CLI prints both, and nobody sees a raw traceback for a mistake in their input."""

from __future__ import annotations

from dataclasses import dataclass


class ControlTowerError(Exception):
    """Base of every error the product reports to a user."""

    title = "Control Tower error"

    def __init__(self, detail: str, *, title: str | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        if title is not None:
            self.title = title

    def __str__(self) -> str:
        return f"{self.title}: {self.detail}"


class ConfigError(ControlTowerError):
    title = "Configuration error"


class StoreError(ControlTowerError):
    title = "Database error"


class SchemaVersionError(StoreError):
    title = "Database written by a newer version"


class NotFoundError(ControlTowerError):
    title = "Not found"


class LedgerError(ControlTowerError):
    title = "Movement refused"


class NegativeStockError(LedgerError):
    title = "Not enough stock"


class DuplicateEventError(LedgerError):
    title = "Event id already used"
    event_ids: tuple[str, ...] = ()


@dataclass(frozen=True)
class RowProblem:
    """One bad cell (or row) of an imported file. ``row`` is the 1-based data row number as a
    spreadsheet user counts it: the header is row 1, so the first data row is row 2."""

    file: str
    row: int | None
    column: str | None
    value: str | None
    reason: str

    def __str__(self) -> str:
        where = self.file
        if self.row is not None:
            where += f", row {self.row}"
        if self.column is not None:
            where += f", column {self.column!r}"
        if self.value is not None:
            shown = self.value if len(self.value) <= 60 else self.value[:57] + "..."
            where += f", value {shown!r}"
        return f"{where}: {self.reason}"


class ImportValidationError(ControlTowerError):
    """A file had problems; nothing from it was written. ``problems`` holds up to the reporting
    limit; ``total`` counts every problem found."""

    title = "Import refused: nothing was written"

    def __init__(self, problems: list[RowProblem], total: int | None = None) -> None:
        self.problems = problems
        self.total = total if total is not None else len(problems)
        lines = [str(p) for p in problems]
        more = self.total - len(problems)
        if more > 0:
            lines.append(f"... and {more} more problem(s) not shown")
        super().__init__("\n".join(lines))
