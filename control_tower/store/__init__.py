"""The store: the only code that opens the DuckDB file.

Invariants:
- the schema is brought to the program's version by numbered migrations at open, each in its
  own transaction; a file from a newer program is refused with a clear message;
- every write goes through :meth:`Store.transaction`, which commits all or nothing;
- each thread reads and writes through its own cursor of one shared connection, so the
  Streamlit server (one thread per session) and the CLI share one code path.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import date, datetime, time
from importlib import resources
from pathlib import Path
from typing import Any

import duckdb
import polars as pl

from control_tower.errors import SchemaVersionError, StoreError

log = logging.getLogger(__name__)

MIGRATIONS_PACKAGE = "control_tower.store.migrations"


def _migrations() -> list[tuple[int, str, str]]:
    """(version, name, sql) for every migration file shipped with the package, in order."""
    found = []
    for entry in resources.files(MIGRATIONS_PACKAGE).iterdir():
        name = entry.name
        if name.endswith(".sql") and name[:3].isdigit():
            found.append((int(name[:3]), name, entry.read_text(encoding="utf-8")))
    found.sort()
    versions = [v for v, _, _ in found]
    if versions != list(range(1, len(versions) + 1)):
        raise StoreError(f"migrations are not numbered 1..n: {versions}")
    return found


SCHEMA_VERSION = len(_migrations())


DEFAULT_MEMORY_LIMIT = "4GB"


class Store:
    """One DuckDB database (a file, or ``:memory:``) at the current schema version.

    ``memory_limit`` caps DuckDB's own memory (it spills large sorts to a temporary folder
    beyond it); DuckDB's default of 80% of RAM would let a bulk import starve the machine.
    """

    def __init__(
        self,
        path: str | Path,
        *,
        read_only: bool = False,
        memory_limit: str | None = None,
    ) -> None:
        self.path = str(path)
        self.read_only = read_only
        if self.path != ":memory:" and not read_only:
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        limit = (
            memory_limit or os.environ.get("CONTROL_TOWER_DUCKDB_MEMORY") or DEFAULT_MEMORY_LIMIT
        )
        try:
            self._conn = duckdb.connect(
                self.path, read_only=read_only, config={"memory_limit": limit}
            )
        except duckdb.Error as exc:
            raise StoreError(f"cannot open {self.path}: {exc}") from exc
        self._local = threading.local()
        self._write_lock = threading.RLock()
        self.version = 0
        self._migrate()

    # -- connection ------------------------------------------------------------------------
    def cursor(self) -> duckdb.DuckDBPyConnection:
        """This thread's cursor (DuckDB connections are not shared between threads)."""
        cur = getattr(self._local, "cursor", None)
        if cur is None:
            cur = self._conn.cursor()
            self._local.cursor = cur
        return cur

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- reads -----------------------------------------------------------------------------
    def query(self, sql: str, params: Sequence[Any] | dict[str, Any] | None = None) -> pl.DataFrame:
        """Run a parameterised read and return a polars frame."""
        relation = self.cursor().sql(sql, params=params or None)
        if relation is None:  # a statement that returns no relation
            return pl.DataFrame()
        return relation.pl()

    def rows(self, sql: str, params: Sequence[Any] | dict[str, Any] | None = None) -> list[tuple]:
        return self.cursor().execute(sql, params or []).fetchall()

    def scalar(self, sql: str, params: Sequence[Any] | dict[str, Any] | None = None) -> Any:
        rows = self.cursor().execute(sql, params or []).fetchall()
        return rows[0][0] if rows else None

    # -- writes ----------------------------------------------------------------------------
    @contextmanager
    def transaction(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """All-or-nothing write. Writers in this process are serialised; DuckDB's own
        optimistic concurrency control still catches a conflicting writer."""
        if self.read_only:
            raise StoreError(f"{self.path} is open read-only")
        with self._write_lock:
            cur = self.cursor()
            cur.execute("BEGIN TRANSACTION")
            try:
                yield cur
            except duckdb.Error as exc:
                cur.execute("ROLLBACK")
                first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
                raise StoreError(f"the database refused the write: {first}") from exc
            except BaseException:
                cur.execute("ROLLBACK")
                raise
            else:
                cur.execute("COMMIT")
                self.version += 1

    # -- schema ----------------------------------------------------------------------------
    def schema_version(self) -> int:
        exists = self.scalar(
            "SELECT count(*) FROM information_schema.tables WHERE table_name = 'schema_version'"
        )
        if not exists:
            return 0
        return int(self.scalar("SELECT coalesce(max(version), 0) FROM schema_version") or 0)

    def _migrate(self) -> None:
        current = self.schema_version()
        if current > SCHEMA_VERSION:
            raise SchemaVersionError(
                f"{self.path} is at schema version {current}, but this program knows only up to "
                f"version {SCHEMA_VERSION}. Upgrade Control Tower (pip install -U control-tower) "
                "or open a copy made by this version."
            )
        pending = [m for m in _migrations() if m[0] > current]
        if pending and self.read_only:
            raise StoreError(
                f"{self.path} needs migrations {[m[1] for m in pending]} but is read-only"
            )
        for version, name, sql in pending:
            log.info("applying migration %s to %s", name, self.path)
            with self.transaction() as cur:
                if version == 1:
                    cur.execute(
                        "CREATE TABLE schema_version (version INTEGER PRIMARY KEY, name VARCHAR, "
                        "applied_at TIMESTAMP DEFAULT current_timestamp)"
                    )
                cur.execute(sql)
                cur.execute(
                    "INSERT INTO schema_version (version, name) VALUES (?, ?)", [version, name]
                )

    # -- business time ---------------------------------------------------------------------
    def as_of(self) -> date | None:
        """The data's 'today' (:func:`data_today`). Positions and KPIs default to it, so a
        demo made two years ago still reads as now."""
        return data_today(self.cursor())

    def created_on(self) -> date:
        """The day the store was created (its first migration), recorded once: what an
        empty store reads as of, instead of the calendar."""
        return self.scalar("SELECT CAST(min(applied_at) AS DATE) FROM schema_version")


DATA_TODAY_SQL = (
    "SELECT max(d) FROM (SELECT max(CAST(ts AS DATE)) AS d FROM ledger "
    "UNION ALL SELECT max(date) FROM demand_history)"
)


def data_today(cur: duckdb.DuckDBPyConnection) -> date | None:
    """The data's today: the latest day with a stock movement or a demand record, i.e. of
    events that have happened; None for a store without either. The one definition, read
    through any cursor (inside a caller's transaction too). Nothing the program writes by
    itself is dated after it (see :func:`data_now`), so only new data moves it."""
    return cur.execute(DATA_TODAY_SQL).fetchall()[0][0]


def data_now(today: date) -> datetime:
    """The instant at which something done now is recorded in data time: the last second
    of the data's today. A posting or report made now is later than every event of the data
    and never after its today, whatever the wall clock's time of day."""
    return datetime.combine(today, time(23, 59, 59))


@contextmanager
def registered(cur: duckdb.DuckDBPyConnection, name: str, frame: pl.DataFrame) -> Iterator[None]:
    """Expose a frame to SQL as ``name`` for the duration of the block. When the statement
    failed, the transaction is aborted and DuckDB refuses even the unregister: the rollback
    drops the view anyway, and the real error is the one that propagates."""
    cur.register(name, frame.to_arrow())
    try:
        yield
    finally:
        try:
            cur.unregister(name)
        except duckdb.Error:
            pass
