"""Import: files and frames into the store, validated first, written all or nothing.

Invariants:
- a file with any bad row writes nothing; the error lists every problem (up to the reporting
  limit) with file, row, column, value and reason, and counts the rest;
- master data, purchase orders, transfer headers and demand are upserted by their key;
- ledger events are appended; an event already posted with the same content is skipped
  (imports are idempotent), one posted with different content is refused;
- importing an in_transit or received transfer posts its ledger legs (``TR:{id}:out`` at the
  ship date, ``TR:{id}:in`` at the received date), so in transit always derives from the ledger;
- after the writes of one import, no touched (sku, location, owner) has a negative running
  on-hand where its location does not allow it; otherwise the whole import is rolled back.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import duckdb
import polars as pl

from control_tower.errors import (
    DuplicateEventError,
    ImportValidationError,
    RowProblem,
    StoreError,
)
from control_tower.ingest.reader import Table, read_bytes, read_path, read_table
from control_tower.ingest.schemas import (
    ENTITIES,
    SPECS,
    ColumnSpec,
    EntitySpec,
    as_json_schema,
    entity_columns,
    spec_for,
)
from control_tower.ingest.validate import ROW, Validated, problem_list, readable, validate
from control_tower.ledger import (
    COMPANY,
    OUTBOUND_TYPES,
    append_movements,
    find_negative_balances,
    find_transfer_problems,
    pass_ownership,
)
from control_tower.store import Store, registered

__all__ = [
    "ENTITIES",
    "ColumnSpec",
    "ImportResult",
    "ValidationReport",
    "as_json_schema",
    "entity_columns",
    "freshness",
    "ingest_bytes",
    "ingest_file",
    "ingest_frame",
    "ingest_frames",
    "latest_day_begun",
    "preview",
    "preview_tables",
    "read_table",
]

log = logging.getLogger(__name__)

DEFAULT_PROBLEM_LIMIT = 50


@dataclass(frozen=True)
class ImportResult:
    entity: str
    source: str
    rows_read: int
    rows_written: int
    rows_skipped: int


@dataclass(frozen=True)
class ValidationReport:
    """What an import would do, without writing: the problems, or the typed rows."""

    entity: str
    ok: bool
    problems: list[RowProblem]
    total_problems: int
    rows: int
    typed: pl.DataFrame | None


# -- reference resolution ---------------------------------------------------------------------


class _Known:
    """Keys that exist: in the store, plus those arriving in the same import."""

    def __init__(self, store: Store, batch: Mapping[str, pl.DataFrame]) -> None:
        self._store = store
        self._batch = batch
        self._cache: dict[tuple[str, str], pl.Series] = {}

    def __call__(self, entity: str, key: str) -> pl.Series:
        if (entity, key) not in self._cache:
            spec = SPECS[entity]  # entity and key come from the specs, never from input
            if key not in spec.key:
                raise AssertionError(f"{entity}.{key} is not a key")
            stored = self._store.query(f"SELECT DISTINCT {key} AS k FROM {spec.table}")["k"]  # noqa: S608
            parts = [stored.cast(pl.String)]
            if entity in self._batch:
                parts.append(self._batch[entity][key].cast(pl.String))
            self._cache[(entity, key)] = pl.concat(parts).drop_nulls().unique()
        return self._cache[(entity, key)]


def latest_day_begun() -> date:
    """The latest calendar day that has begun somewhere (the UTC date plus one: no zone is
    more than 14 hours ahead of UTC): an import's events may not be dated after it. Not the
    data's today, which an import moves forward (a new day's sales are after it), nor the
    server's own date, which would refuse a sale made early in the morning in a zone ahead of
    the server's at some times of day."""
    return datetime.now(UTC).date() + timedelta(days=1)


def _check(
    store: Store,
    entity: str,
    frame: pl.DataFrame,
    first_row: int,
    batch: Mapping[str, pl.DataFrame],
) -> Validated:
    return validate(
        frame,
        spec_for(entity),
        first_row=first_row,
        known=_Known(store, batch),
        today=latest_day_begun(),
    )


def preview(
    store: Store,
    entity: str,
    frame: pl.DataFrame,
    *,
    source: str = "upload",
    first_row: int = 2,
    limit: int = DEFAULT_PROBLEM_LIMIT,
) -> ValidationReport:
    """Validate rows as an import would, writing nothing (the Data page's preview).
    Ledger balances are checked only by the import itself, inside its transaction."""
    checked = _check(store, entity, frame, first_row, {})
    return ValidationReport(
        entity,
        checked.ok,
        problem_list(checked.problems, source, limit),
        checked.problems.height,
        checked.rows,
        checked.typed,
    )


# -- writers ------------------------------------------------------------------------------------


def _upsert(
    cur: duckdb.DuckDBPyConnection, spec: EntitySpec, typed: pl.DataFrame, present: set[str]
) -> int:
    columns = [c.name for c in spec.columns]
    table = spec.table
    # Identifiers below come from the entity specs, never from the file.
    update = [c for c in columns if c in present and c not in spec.key]
    with registered(cur, "incoming", typed.select(columns)):
        collist = ", ".join(columns)
        if not spec.indexed:
            # No key index (a large fact table): replace the rows with the same key.
            if set(columns) - present:
                raise AssertionError(f"{table}: an unindexed table is replaced whole-row")
            match = " AND ".join(f"{table}.{k} = incoming.{k}" for k in spec.key)
            cur.execute(f"DELETE FROM {table} USING incoming WHERE {match}").fetchall()  # noqa: S608
            insert = f"INSERT INTO {table} ({collist}) SELECT {collist} FROM incoming"  # noqa: S608
            cur.execute(insert).fetchall()
        elif update:
            sets = ", ".join(f"{c} = excluded.{c}" for c in update)
            conflict = f"ON CONFLICT ({', '.join(spec.key)}) DO UPDATE SET {sets}"
            cur.execute(
                f"INSERT INTO {table} ({collist}) SELECT {collist} FROM incoming {conflict}"  # noqa: S608
            ).fetchall()
        else:
            cur.execute(
                f"INSERT INTO {table} ({collist}) SELECT {collist} FROM incoming "  # noqa: S608
                "ON CONFLICT DO NOTHING"
            ).fetchall()
    return typed.height


def _ledger_frame(typed: pl.DataFrame) -> pl.DataFrame:
    """File rows (positive magnitudes) as signed ledger movements."""
    outbound = pl.col("movement_type").is_in([str(t) for t in OUTBOUND_TYPES])
    return typed.select(
        ROW,
        "event_id",
        "ts",
        "sku",
        "location",
        "movement_type",
        pl.when(outbound).then(-pl.col("quantity")).otherwise(pl.col("quantity")).alias("quantity"),
        pl.col("owner").fill_null(COMPANY),
        "reference",
        "note",
    )


def _transfer_legs(typed: pl.DataFrame) -> pl.DataFrame:
    """The ledger legs implied by shipped and received transfers."""
    shipped = typed.filter(pl.col("status").is_in(["in_transit", "received"]))
    out = shipped.select(
        pl.col(ROW),
        pl.format("TR:{}:out", pl.col("transfer_id")).alias("event_id"),
        pl.col("ship_date").cast(pl.Datetime("us")).alias("ts"),
        "sku",
        pl.col("from_location").alias("location"),
        pl.lit("transfer_out").alias("movement_type"),
        (-pl.col("quantity")).alias("quantity"),
        pl.lit(COMPANY).alias("owner"),
        pl.col("transfer_id").alias("reference"),
        pl.lit(None, pl.String).alias("note"),
    )
    received = typed.filter(pl.col("status") == "received")
    inbound = received.select(
        pl.col(ROW),
        pl.format("TR:{}:in", pl.col("transfer_id")).alias("event_id"),
        pl.col("received_date").cast(pl.Datetime("us")).alias("ts"),
        "sku",
        pl.col("to_location").alias("location"),
        pl.lit("transfer_in").alias("movement_type"),
        pl.col("quantity"),
        pl.lit(COMPANY).alias("owner"),
        pl.col("transfer_id").alias("reference"),
        pl.lit(None, pl.String).alias("note"),
    )
    return pl.concat([out, inbound])


@dataclass
class _Pending:
    entity: str
    source: str
    typed: pl.DataFrame
    present: set[str]
    first_row: int


def _date_range(spec: EntitySpec, typed: pl.DataFrame) -> tuple:
    if spec.date_column is None or typed.height == 0:
        return None, None
    col = typed[spec.date_column].drop_nulls()
    if col.len() == 0:
        return None, None
    lo, hi = col.min(), col.max()
    if isinstance(lo, datetime):
        lo, hi = lo.date(), hi.date()
    return lo, hi


def _write_all(store: Store, pending: list[_Pending], limit: int) -> dict[str, ImportResult]:
    results: dict[str, ImportResult] = {}
    movements: list[tuple[_Pending, pl.DataFrame]] = []
    with store.transaction() as cur:
        for item in pending:
            spec = SPECS[item.entity]
            written = skipped = 0
            try:
                if item.entity == "ledger":
                    frame = pass_ownership(cur, _ledger_frame(item.typed))
                    written, skipped, _ = append_movements(
                        cur, frame, check_negative=False, ownership_passed=True
                    )
                    movements.append((item, frame))
                else:
                    written = _upsert(cur, spec, item.typed, item.present)
                    if item.entity == "transfers":
                        legs = pass_ownership(cur, _transfer_legs(item.typed))
                        append_movements(cur, legs, check_negative=False, ownership_passed=True)
                        movements.append((item, legs))
            except DuplicateEventError as exc:
                if not exc.event_ids:
                    raise ImportValidationError(
                        [RowProblem(item.source, None, "event_id", None, exc.detail)]
                    ) from None
                rows = _rows_for_events(item, list(exc.event_ids))
                raise ImportValidationError(
                    [
                        RowProblem(
                            item.source,
                            row,
                            "event_id",
                            event,
                            "event id already posted with different content",
                        )
                        for event, row in rows[:limit]
                    ],
                    total=len(exc.event_ids),
                ) from None
            except duckdb.Error as exc:  # anything validation did not foresee
                first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
                raise ImportValidationError(
                    [RowProblem(item.source, None, None, None, f"the database refused it: {first}")]
                ) from None
            lo, hi = _date_range(spec, item.typed)
            cur.execute(
                "INSERT INTO import_runs (entity, source, rows_read, rows_written, rows_skipped, "
                "data_from, data_to) VALUES (?, ?, ?, ?, ?, ?, ?)",
                [item.entity, item.source, item.typed.height, written, skipped, lo, hi],
            ).fetchall()
            results[item.entity] = ImportResult(
                item.entity, item.source, item.typed.height, written, skipped
            )
        if movements:
            touched = pl.concat(
                [m.select("sku", "location", "owner").unique() for _, m in movements]
            ).unique()
            negatives = find_negative_balances(cur, touched, limit=limit)
            if negatives:
                raise ImportValidationError(
                    _negative_problems(movements, negatives), total=len(negatives)
                )
        transfer_ids = [
            item.typed["transfer_id"] for item in pending if item.entity == "transfers"
        ] + [
            m.filter(pl.col("movement_type").is_in(["transfer_out", "transfer_in"]))["reference"]
            for item, m in movements
            if item.entity == "ledger"
        ]
        if transfer_ids:
            bad = find_transfer_problems(cur, pl.concat(transfer_ids), limit=limit)
            if bad:
                raise ImportValidationError(_transfer_problems(pending, bad), total=len(bad))
    return results


def _rows_for_events(item: _Pending, event_ids: list[str]) -> list[tuple[str, int | None]]:
    if item.entity == "ledger":
        ids = item.typed.select("event_id", ROW)
    else:
        ids = _transfer_legs(item.typed).select("event_id", ROW)
    lookup = dict(ids.filter(pl.col("event_id").is_in(event_ids)).iter_rows())
    return [(e, lookup.get(e)) for e in event_ids]


def _transfer_problems(pending: list[_Pending], bad: list[tuple[str, str]]) -> list[RowProblem]:
    """Point each inconsistent transfer at its row in the import: the transfers file's row,
    else the first ledger leg that references it."""
    problems = []
    for tid, reason in bad:
        where: tuple[str, int | None, str] = ("(database)", None, "transfer_id")
        for item in pending:
            if item.entity == "transfers":
                hit = item.typed.filter(pl.col("transfer_id") == tid)
            elif item.entity == "ledger":
                hit = item.typed.filter(pl.col("reference") == tid)
            else:
                continue
            if hit.height:
                column = "transfer_id" if item.entity == "transfers" else "reference"
                where = (item.source, hit[ROW].min(), column)
                break
        problems.append(RowProblem(where[0], where[1], where[2], tid, reason))
    return problems


def _negative_problems(movements, negatives) -> list[RowProblem]:
    """Point each negative balance at the imported row that caused it: the row itself, or
    else the first imported row for that (sku, location, owner), which made an earlier
    stored movement go negative."""
    problems = []
    for neg in negatives:
        source, row, reason = "(database)", None, neg.describe()
        for item, frame in movements:
            hit = frame.filter(pl.col("event_id") == neg.event_id)
            if hit.height:
                source, row = item.source, hit[ROW][0]
                break
        else:
            for item, frame in movements:
                same = frame.filter(
                    (pl.col("sku") == neg.sku)
                    & (pl.col("location") == neg.location)
                    & (pl.col("owner") == neg.owner)
                ).sort(ROW)
                if same.height:
                    source, row = item.source, same[ROW][0]
                    reason += f" (stored event {neg.event_id!r} comes after this one)"
                    break
        problems.append(RowProblem(source, row, "quantity", None, reason))
    return problems


def _validate_all(
    store: Store, frames: Mapping[str, tuple[pl.DataFrame, str, int]]
) -> list[tuple[str, str, int, pl.DataFrame, Validated]]:
    """Validate entities in dependency order, each against the store plus the files before it.
    A file with problems still lends its keys to the files after it, so those report only
    their own problems."""
    unknown = [e for e in frames if e not in SPECS]
    if unknown:
        spec_for(unknown[0])  # raises the clear "unknown entity" error
    accepted: dict[str, pl.DataFrame] = {}
    checked_all = []
    for entity in ENTITIES:
        if entity not in frames:
            continue
        frame, source, first_row = frames[entity]
        checked = _check(store, entity, frame, first_row, accepted)
        if checked.ok:
            accepted[entity] = checked.typed
        else:
            keys = [
                k for k in SPECS[entity].key if k in frame.columns and readable(frame.schema[k])
            ]
            if len(keys) == len(SPECS[entity].key):
                accepted[entity] = frame.select(pl.col(k).cast(pl.String) for k in keys)
        checked_all.append((entity, source, first_row, frame, checked))
    return checked_all


def _prepare(
    store: Store, frames: Mapping[str, tuple[pl.DataFrame, str, int]], limit: int
) -> list[_Pending]:
    pending: list[_Pending] = []
    problems: list[RowProblem] = []
    total = 0
    for entity, source, first_row, frame, checked in _validate_all(store, frames):
        if not checked.ok:
            total += checked.problems.height
            problems.extend(problem_list(checked.problems, source, max(0, limit - len(problems))))
            continue
        pending.append(_Pending(entity, source, checked.typed, set(frame.columns), first_row))
    if problems or total:
        raise ImportValidationError(problems, total=total)
    return pending


def preview_tables(
    store: Store, tables: Mapping[str, Table], *, limit: int = DEFAULT_PROBLEM_LIMIT
) -> dict[str, ValidationReport]:
    """Validate several files as :func:`ingest_tables` would, writing nothing: references
    between the files resolve. Ledger balances are checked only by the import itself."""
    checked_all = _validate_all(
        store, {e: (t.frame, t.name, t.first_row) for e, t in tables.items()}
    )
    return {
        entity: ValidationReport(
            entity,
            checked.ok,
            problem_list(checked.problems, source, limit),
            checked.problems.height,
            checked.rows,
            checked.typed,
        )
        for entity, source, _first, _frame, checked in checked_all
    }


# -- public verbs -------------------------------------------------------------------------------


def ingest_frames(
    store: Store,
    frames: Mapping[str, pl.DataFrame],
    *,
    source: str = "frame",
    first_row: int = 1,
    limit: int = DEFAULT_PROBLEM_LIMIT,
) -> dict[str, ImportResult]:
    """Import several entities at once, in one transaction; references between them resolve."""
    return _ingest_prepared(
        store, {e: (f, f"{source}:{e}", first_row) for e, f in frames.items()}, limit
    )


def _ingest_prepared(
    store: Store, frames: Mapping[str, tuple[pl.DataFrame, str, int]], limit: int
) -> dict[str, ImportResult]:
    results = _write_all(store, _prepare(store, frames, limit), limit)
    for r in results.values():
        log.info(
            "imported %s from %s: %d read, %d written, %d skipped",
            r.entity,
            r.source,
            r.rows_read,
            r.rows_written,
            r.rows_skipped,
        )
    return results


def ingest_frame(
    store: Store,
    entity: str,
    frame: pl.DataFrame,
    *,
    source: str = "frame",
    first_row: int = 1,
    limit: int = DEFAULT_PROBLEM_LIMIT,
) -> ImportResult:
    return _ingest_prepared(store, {entity: (frame, source, first_row)}, limit)[entity]


def _ingest_table(store: Store, entity: str, table: Table, limit: int) -> ImportResult:
    spec_for(entity)
    return ingest_frame(
        store, entity, table.frame, source=table.name, first_row=table.first_row, limit=limit
    )


def ingest_bytes(
    store: Store, entity: str, data: bytes, filename: str, *, limit: int = DEFAULT_PROBLEM_LIMIT
) -> ImportResult:
    """Import an uploaded file's contents (format from the file name's extension)."""
    spec_for(entity)
    return _ingest_table(store, entity, read_bytes(data, filename), limit)


def ingest_file(
    store: Store, entity: str, path: str | Path, *, limit: int = DEFAULT_PROBLEM_LIMIT
) -> ImportResult:
    spec_for(entity)
    return _ingest_table(store, entity, read_path(path), limit)


def folder_files(folder: str | Path) -> dict[str, Path]:
    """The entity files in a folder: ``{entity}.csv``, ``.parquet`` or ``.xlsx``, one each."""
    root = Path(folder)
    if not root.is_dir():
        raise ImportValidationError([RowProblem(str(root), None, None, None, "no such folder")])
    found: dict[str, Path] = {}
    for entity in ENTITIES:
        matches = sorted(
            p
            for p in root.iterdir()
            if p.stem.lower() == entity and p.suffix.lower() in (".csv", ".parquet", ".xlsx")
        )
        if len(matches) > 1:
            raise ImportValidationError(
                [
                    RowProblem(
                        str(root),
                        None,
                        None,
                        None,
                        f"more than one file for {entity}: {', '.join(p.name for p in matches)}",
                    )
                ]
            )
        if matches:
            found[entity] = matches[0]
    if not found:
        raise ImportValidationError(
            [
                RowProblem(
                    str(root),
                    None,
                    None,
                    None,
                    "no entity files found; name them after the entity, e.g. locations.csv, ledger.parquet",
                )
            ]
        )
    return found


def ingest_tables(
    store: Store, tables: Mapping[str, Table], *, limit: int = DEFAULT_PROBLEM_LIMIT
) -> dict[str, ImportResult]:
    """Import several read files (entity -> table) in one transaction, so files that depend
    on each other (a ledger whose sales need the stock a transfer brought) load together."""
    for entity in tables:
        spec_for(entity)
    return _ingest_prepared(
        store, {e: (t.frame, t.name, t.first_row) for e, t in tables.items()}, limit
    )


def ingest_folder(
    store: Store, folder: str | Path, *, limit: int = DEFAULT_PROBLEM_LIMIT
) -> dict[str, ImportResult]:
    """Import every entity file of a folder (``{entity}.csv|parquet|xlsx``) in one transaction."""
    tables = {entity: read_path(path) for entity, path in folder_files(folder).items()}
    return ingest_tables(store, tables, limit=limit)


def read_upload(data: bytes, filename: str) -> Table:
    """Parse an upload for preview (row numbers as in the file)."""
    return read_bytes(data, filename)


def freshness(store: Store) -> pl.DataFrame:
    """Per entity: the last import, where it came from, and the date range of its data."""
    try:
        runs = store.query(
            """
            WITH last AS (
                SELECT entity, source, imported_at, rows_read, rows_written, rows_skipped,
                       row_number() OVER (PARTITION BY entity ORDER BY imported_at DESC, id DESC) AS n
                FROM import_runs)
            SELECT entity, imported_at AS last_import, source, rows_read, rows_written, rows_skipped
            FROM last WHERE n = 1
            """
        )
        counts = {
            e: store.scalar(f"SELECT count(*) FROM {SPECS[e].table}")  # noqa: S608
            for e in ENTITIES
        }
        ranges = store.query(
            """
            SELECT 'ledger' AS entity, min(ts)::DATE AS data_from, max(ts)::DATE AS data_to FROM ledger
            UNION ALL SELECT 'demand', min(date), max(date) FROM demand_history
            UNION ALL SELECT 'purchase_orders', min(order_date), max(order_date) FROM purchase_orders
            UNION ALL SELECT 'transfers', min(ship_date), max(ship_date) FROM transfers
            """
        )
    except duckdb.Error as exc:
        raise StoreError(str(exc)) from exc
    base = pl.DataFrame(
        {"entity": list(ENTITIES), "rows_in_store": [int(counts[e]) for e in ENTITIES]}
    )
    return base.join(runs, on="entity", how="left").join(ranges, on="entity", how="left")
