"""The stock ledger: append-only movements, the only source of on-hand.

Invariants kept by every function here:
- on hand at (sku, location, owner) is ``SUM(quantity)`` of the ledger; nothing else stores it;
- an event id is written at most once: replaying an identical event is a no-op, reusing an id
  for a different movement is refused;
- a posting is one transaction: all of its movements are written, or none;
- after a posting, the running on-hand of every (sku, location, owner) it touched never drops
  below zero at a location that does not allow negative stock (movements of one instant are
  ordered inbound first);
- a transfer is two legs with the same reference (its transfer id): ``transfer_out`` at the
  source and ``transfer_in`` at the destination; what is dispatched and not yet received is in
  transit;
- consigned stock (owned by a supplier) becomes ours when it is consumed: a sale, issue or
  transfer out of supplier-owned stock, or of anything at a VMI site, is posted as ours after
  a ``consignment_consume`` pair in the same transaction (the supplier's units out, ours in,
  event ids ``<event id>:own`` and ``<event id>:ours``), and every consumption of a supplier's
  stock writes its payable line (``payables``, priced at the supplier's price, else the unit
  cost) with it; owned plus consigned stays equal to the physical stock at every step.
"""

from __future__ import annotations

import bisect
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum

import duckdb
import polars as pl

from control_tower.errors import (
    DuplicateEventError,
    LedgerError,
    NegativeStockError,
    NotFoundError,
)
from control_tower.store import Store, registered

log = logging.getLogger(__name__)

COMPANY = "company"


class MovementType(StrEnum):
    RECEIPT = "receipt"
    SALE = "sale"
    ISSUE = "issue"
    TRANSFER_OUT = "transfer_out"
    TRANSFER_IN = "transfer_in"
    ADJUSTMENT = "adjustment"
    CONSIGNMENT_CONSUME = "consignment_consume"


_LEG_TYPES = frozenset({"transfer_out", "transfer_in"})
INBOUND_TYPES = frozenset({MovementType.RECEIPT, MovementType.TRANSFER_IN})
OUTBOUND_TYPES = frozenset(
    {
        MovementType.SALE,
        MovementType.ISSUE,
        MovementType.TRANSFER_OUT,
        MovementType.CONSIGNMENT_CONSUME,
    }
)


@dataclass(frozen=True)
class Movement:
    """One ledger posting. ``quantity`` is the signed change of on-hand."""

    event_id: str
    ts: datetime
    sku: str
    location: str
    movement_type: MovementType
    quantity: int
    owner: str = COMPANY
    reference: str | None = None
    note: str | None = None

    def __post_init__(self) -> None:
        if not self.event_id:
            raise LedgerError("a movement needs an event id")
        if not isinstance(self.quantity, int) or isinstance(self.quantity, bool):
            raise LedgerError(
                f"{self.event_id}: quantity must be a whole number, got {self.quantity!r}"
            )
        kind = MovementType(self.movement_type)
        if self.quantity == 0:
            raise LedgerError(f"{self.event_id}: quantity must not be zero")
        if kind in INBOUND_TYPES and self.quantity < 0:
            raise LedgerError(f"{self.event_id}: a {kind} must add stock (positive quantity)")
        if kind == MovementType.CONSIGNMENT_CONSUME:
            if (self.quantity > 0) != (self.owner == COMPANY):
                raise LedgerError(
                    f"{self.event_id}: a consignment_consume takes units from a supplier's "
                    "stock (negative, owner the supplier) or adds them to ours (positive, "
                    "owner company)"
                )
        elif kind in OUTBOUND_TYPES and self.quantity > 0:
            raise LedgerError(f"{self.event_id}: a {kind} must remove stock (negative quantity)")


@dataclass(frozen=True)
class PostResult:
    written: int
    skipped: int


LEDGER_COLUMNS: dict[str, pl.DataType] = {
    "event_id": pl.String(),
    "ts": pl.Datetime("us"),
    "sku": pl.String(),
    "location": pl.String(),
    "movement_type": pl.String(),
    "quantity": pl.Int64(),
    "owner": pl.String(),
    "reference": pl.String(),
    "note": pl.String(),
}

_CONFLICTS_SQL = """
SELECT n.event_id
FROM new_movements n JOIN ledger l USING (event_id)
WHERE l.ts <> n.ts OR l.sku <> n.sku OR l.location <> n.location
   OR l.movement_type <> n.movement_type OR l.quantity <> n.quantity OR l.owner <> n.owner
   OR coalesce(l.reference, '') <> coalesce(n.reference, '')
ORDER BY n.event_id
LIMIT ?
"""

_INSERT_SQL = """
INSERT INTO ledger (event_id, ts, sku, location, movement_type, quantity, owner, reference, note)
SELECT n.event_id, n.ts, n.sku, n.location, n.movement_type, n.quantity, n.owner, n.reference, n.note
FROM new_movements n
WHERE NOT EXISTS (SELECT 1 FROM ledger l WHERE l.event_id = n.event_id)
"""

# Running balance of every touched (sku, location, owner), inbound first within one instant,
# with and without the rows this transaction wrote (their recorded_at is the transaction's
# start, current_timestamp). A point is refused only where the new rows take the balance below
# zero or deeper below it: an old negative balance, left from a time the location allowed it,
# does not lock the SKU there for ever.
_NEGATIVE_SQL = """
WITH touched AS (SELECT DISTINCT sku, location, owner FROM touched_keys),
running AS (
    SELECT l.event_id, l.sku, l.location, l.owner, l.ts,
           sum(l.quantity) OVER w AS balance,
           sum(CASE WHEN l.recorded_at = current_timestamp THEN 0 ELSE l.quantity END) OVER w
               AS balance_before
    FROM ledger l JOIN touched t USING (sku, location, owner)
    WINDOW w AS (PARTITION BY l.sku, l.location, l.owner
                 ORDER BY l.ts, l.quantity DESC, l.event_id
                 ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)
)
SELECT r.event_id, r.sku, r.location, r.owner, r.ts, r.balance
FROM running r JOIN locations loc ON loc.code = r.location
WHERE NOT loc.allow_negative AND r.balance < 0 AND r.balance < r.balance_before
QUALIFY row_number() OVER (PARTITION BY r.sku, r.location, r.owner ORDER BY r.ts, r.event_id) = 1
ORDER BY r.ts, r.sku, r.location
LIMIT ?
"""


@dataclass(frozen=True)
class NegativeBalance:
    event_id: str
    sku: str
    location: str
    owner: str
    ts: datetime
    balance: int

    def describe(self) -> str:
        whose = "" if self.owner == COMPANY else f" (stock owned by {self.owner})"
        return (
            f"on hand of {self.sku} at {self.location}{whose} would fall to {self.balance} on "
            f"{self.ts:%Y-%m-%d %H:%M}, and {self.location} does not allow negative stock"
        )


def find_negative_balances(
    cur: duckdb.DuckDBPyConnection, touched: pl.DataFrame, *, limit: int = 50
) -> list[NegativeBalance]:
    """The first instant each touched (sku, location, owner) goes below zero where its
    location does not allow it."""
    if touched.height == 0:
        return []
    with registered(cur, "touched_keys", touched.select("sku", "location", "owner").unique()):
        return [NegativeBalance(*row) for row in cur.execute(_NEGATIVE_SQL, [limit]).fetchall()]


_TRANSFER_CHECK_SQL = """
WITH refs AS (SELECT DISTINCT transfer_id FROM checked_transfers),
legs AS (
    SELECT l.reference AS transfer_id, l.sku, l.location, l.movement_type, l.quantity
    FROM ledger l JOIN refs r ON l.reference = r.transfer_id
    WHERE l.movement_type IN ('transfer_out', 'transfer_in')
)
SELECT g.transfer_id, t.transfer_id IS NULL AS unknown, t.status, t.quantity,
       bool_or(g.sku <> t.sku) AS wrong_sku,
       bool_or(g.movement_type = 'transfer_out' AND g.location <> t.from_location) AS wrong_source,
       bool_or(g.movement_type = 'transfer_in' AND g.location <> t.to_location) AS wrong_destination,
       coalesce(-sum(g.quantity) FILTER (WHERE g.movement_type = 'transfer_out'), 0) AS shipped,
       coalesce(sum(g.quantity) FILTER (WHERE g.movement_type = 'transfer_in'), 0) AS received
FROM legs g LEFT JOIN transfers t USING (transfer_id)
GROUP BY g.transfer_id, t.transfer_id, t.status, t.quantity
ORDER BY g.transfer_id
"""


def find_transfer_problems(
    cur: duckdb.DuckDBPyConnection, transfer_ids: pl.Series, *, limit: int = 50
) -> list[tuple[str, str]]:
    """(transfer id, reason) for each checked transfer whose ledger legs disagree with its
    header: a leg of another SKU or at another location, more received than shipped, more
    shipped than the transfer holds, legs of a transfer that does not exist, or legs posted
    for a transfer now marked planned or cancelled (which would make stock vanish)."""
    ids = pl.DataFrame({"transfer_id": transfer_ids.cast(pl.String)}).drop_nulls().unique()
    if ids.height == 0:
        return []
    problems: list[tuple[str, str]] = []
    with registered(cur, "checked_transfers", ids):
        rows = cur.execute(_TRANSFER_CHECK_SQL).fetchall()
    for tid, unknown, status, quantity, sku, source, dest, shipped, received in rows:
        if unknown:
            problems.append((tid, "ledger legs reference a transfer that does not exist"))
            continue
        if sku:
            problems.append((tid, "a leg of this transfer is for another SKU"))
        if source:
            problems.append((tid, "a transfer_out leg is not at the transfer's from_location"))
        if dest:
            problems.append((tid, "a transfer_in leg is not at the transfer's to_location"))
        if received > shipped:
            problems.append((tid, f"{received} received but only {shipped} shipped"))
        if shipped > quantity:
            problems.append((tid, f"{shipped} shipped but the transfer is for {quantity}"))
        if status in ("planned", "cancelled") and shipped:
            problems.append(
                (
                    tid,
                    f"marked {status}, but {shipped} unit(s) were already shipped "
                    "(receive it, or post the return, instead)",
                )
            )
        if len(problems) >= limit:
            break
    return problems[:limit]


CONSUMING_TYPES = ("sale", "issue", "transfer_out")

# Who holds what at the VMI sites a posting consumes from, and who consigns each SKU there by
# default (the supplier of its VMI levels, else the SKU's only VMI supplier).
_HOLDINGS_SQL = """
SELECT l.sku, l.location, l.owner, l.ts, l.quantity, l.event_id
FROM ledger l JOIN (SELECT DISTINCT sku, location FROM ownership_keys) k USING (sku, location)
ORDER BY l.sku, l.location, l.owner, l.ts, l.quantity DESC, l.event_id
"""


class _Timeline:
    """The stored running balance of each owner at some SKU x sites, to ask what an owner can
    give at an instant without its balance going below zero then or later (a late-arriving
    sale must not take stock that arrived after it, nor stock later movements need)."""

    def __init__(self, rows: list[tuple]) -> None:
        self._places: dict[tuple, list[tuple]] = {}
        self._before: dict[tuple, list[int]] = {}  # balance before each row
        self._floor: dict[tuple, list[int]] = {}  # lowest balance from each row on
        self._owners: dict[tuple[str, str], set[str]] = {}
        for sku, location, owner, ts, quantity, event_id in rows:
            k = (sku, location, owner)
            self._owners.setdefault((sku, location), set()).add(owner)
            self._places.setdefault(k, []).append((ts, -int(quantity), event_id))
            self._before.setdefault(k, []).append(int(quantity))
        for k, deltas in self._before.items():
            running, before, after = 0, [], []
            for delta in deltas:
                before.append(running)
                running += delta
                after.append(running)
            floor = after[:]
            for i in range(len(floor) - 2, -1, -1):
                floor[i] = min(floor[i], floor[i + 1])
            self._before[k] = before + [running]
            self._floor[k] = floor

    def owners(self, key: tuple[str, str]) -> set[str]:
        return set(self._owners.get(key, ()))

    def spare(self, key: tuple[str, str], owner: str, place: tuple) -> int:
        k = (*key, owner)
        places = self._places.get(k)
        if not places:
            return 0
        i = bisect.bisect_left(places, place)
        now = self._before[k][i]
        return min(now, self._floor[k][i]) if i < len(places) else now


_CONSIGNOR_SQL = """
WITH keys AS (SELECT DISTINCT sku, location FROM ownership_keys),
vmi_suppliers AS (
    SELECT sp.sku, min(sp.supplier) AS supplier, count(*) AS n
    FROM supplier_products sp JOIN suppliers s ON s.code = sp.supplier
    WHERE s.vmi GROUP BY sp.sku
)
SELECT k.sku, k.location, coalesce(v.supplier, CASE WHEN vs.n = 1 THEN vs.supplier END)
FROM keys k
LEFT JOIN vmi_levels v USING (sku, location)
LEFT JOIN vmi_suppliers vs USING (sku)
"""
# What a replayed consumption passed when it was first posted: its ownership rows.
_STORED_SQL = """
SELECT l.event_id, l.owner, l.reference, l.quantity FROM ledger l
WHERE l.event_id IN (SELECT event_id FROM ownership_ids)
   OR (l.movement_type = 'consignment_consume'
       AND l.reference IN (SELECT event_id FROM ownership_ids))
"""

# The ownership rows (a consumption's consignment_consume pairs) this call just wrote.
_PASSED_SQL = """
SELECT count(*) FROM ledger l JOIN new_movements n USING (event_id)
WHERE l.recorded_at = current_timestamp AND n.movement_type = 'consignment_consume'
  AND n.reference IN (SELECT event_id FROM new_movements)
  AND starts_with(n.event_id, n.reference || ':o')
"""

_PAYABLES_SQL = """
INSERT INTO payables (event_id, supplier, sku, location, consumed_at, quantity, unit_price,
                      amount, price_source)
SELECT n.event_id, n.owner, n.sku, n.location, n.ts, -n.quantity,
       coalesce(sp.price, p.unit_cost, 0), -n.quantity * coalesce(sp.price, p.unit_cost, 0),
       CASE WHEN sp.price IS NULL THEN 'unit cost' ELSE 'supplier price' END
FROM new_movements n
LEFT JOIN supplier_products sp ON sp.supplier = n.owner AND sp.sku = n.sku
LEFT JOIN products p ON p.sku = n.sku
WHERE n.movement_type = 'consignment_consume' AND n.quantity < 0 AND n.owner <> 'company'
  AND NOT EXISTS (SELECT 1 FROM payables y WHERE y.event_id = n.event_id)
"""


def pass_ownership(cur: duckdb.DuckDBPyConnection, frame: pl.DataFrame) -> pl.DataFrame:
    """``frame`` with every consumption of consigned stock made ours first, at the same
    instant, by a ``consignment_consume`` pair per supplier (``<event id>:own:<supplier>``,
    its units out; ``<event id>:ours:<supplier>``, ours in); the consumption itself is then
    posted as ours. A sale, issue or transfer out whose owner is a supplier passes all of it
    from that supplier. One at a VMI site with no owner named takes the stock we own there
    first, then the suppliers' consigned stock (the most held first), each as much as it can
    give at that instant without its balance going below zero then or later (as stored, and
    as the batch moves it), and what none holds falls on the site's default consignor (its VMI levels'
    supplier, else the SKU's only VMI supplier), so an overdraft is refused as that
    supplier's. A replayed consumption keeps what it passed when first posted. A
    transfer's inbound leg is always ours. Every other column of a consumption is copied to
    its pair."""
    frame = frame.with_columns(
        pl.when(pl.col("movement_type") == "transfer_in")
        .then(pl.lit(COMPANY))
        .otherwise(pl.col("owner"))
        .alias("owner")
    )
    consuming = pl.col("movement_type").is_in(CONSUMING_TYPES) & (pl.col("quantity") < 0)
    if frame.filter(consuming).height == 0:
        return frame
    vmi_sites = [
        r[0] for r in cur.execute("SELECT code FROM locations WHERE kind = 'vmi'").fetchall()
    ]
    candidate = consuming & ((pl.col("owner") != COMPANY) | pl.col("location").is_in(vmi_sites))
    indexed = frame.with_row_index("__ownership_row")
    picked = indexed.filter(candidate)
    if picked.height == 0:
        return frame
    # every row of the batch at the SKU x sites consumed from: which were posted before
    around = indexed.join(
        picked.select("sku", "location").unique(), on=["sku", "location"], how="semi"
    )
    ids = around.select("event_id").unique()
    with registered(cur, "ownership_ids", ids):
        stored_rows = cur.execute(_STORED_SQL).fetchall()
    stored_ids = {row[0] for row in stored_rows}
    stored_owner = {event_id: owner for event_id, owner, _ref, _q in stored_rows}
    stored_pairs: dict[str, list[tuple[str, str, int]]] = {}
    for event_id, owner, ref, quantity in stored_rows:
        if ref is not None and event_id.startswith(f"{ref}:own"):
            stored_pairs.setdefault(ref, []).append((event_id, owner, -int(quantity)))
    pair_rows: list[dict] = []
    owner_of_row: dict[int, str] = {}
    fresh = picked.filter(~pl.col("event_id").is_in(list(stored_ids)))
    # replays: the pairs first posted, again (the insert skips them as exact replays)
    for row in picked.filter(pl.col("event_id").is_in(list(stored_ids))).iter_rows(named=True):
        owner_of_row[row["__ownership_row"]] = stored_owner[row["event_id"]]
        for own_id, supplier, taken in stored_pairs.get(row["event_id"], []):
            ref = row["event_id"]
            ours_id = f"{ref}:ours{own_id[len(ref) + len(':own') :]}"
            pair_rows += _pair(row, supplier, taken, own_id, ours_id)
    if fresh.height:
        keys = fresh.select("sku", "location").unique()
        with registered(cur, "ownership_keys", keys):
            timeline = _Timeline(cur.execute(_HOLDINGS_SQL).fetchall())
            default = {(k, loc): c for k, loc, c in cur.execute(_CONSIGNOR_SQL).fetchall()}
        # the batch's own movements at those keys, in the ledger's order within an instant
        touching = around.join(keys, on=["sku", "location"], how="semi").sort(
            ["ts", "quantity", "event_id"], descending=[False, True, False]
        )
        fresh_rows = set(fresh["__ownership_row"].to_list())
        moved: dict[tuple[str, str], dict[str, int]] = {}  # what this batch did so far
        for row in touching.iter_rows(named=True):
            key = (row["sku"], row["location"])
            book = moved.setdefault(key, {})
            if row["__ownership_row"] not in fresh_rows:
                if row["event_id"] not in stored_ids:  # a new non-consuming movement
                    book[row["owner"]] = book.get(row["owner"], 0) + int(row["quantity"])
                continue
            need = -int(row["quantity"])
            place = (row["ts"], -int(row["quantity"]), row["event_id"])

            def spare(owner: str, key=key, book=book, place=place) -> int:
                # what the owner can give at this instant without going below zero later
                return timeline.spare(key, owner, place) + book.get(owner, 0)

            takes: list[tuple[str, int]] = []
            if row["owner"] != COMPANY:  # the posting names whose stock it consumes
                takes.append((row["owner"], need))
            else:
                mine = min(need, max(spare(COMPANY), 0))
                need -= mine
                book[COMPANY] = book.get(COMPANY, 0) - mine
                holders = timeline.owners(key) | {o for o in book if o != COMPANY}
                for supplier, units in sorted(
                    ((o, spare(o)) for o in holders if o != COMPANY),
                    key=lambda item: (-item[1], item[0]),
                ):
                    if need <= 0 or units <= 0:
                        break
                    take = min(need, units)
                    takes.append((supplier, take))
                    need -= take
                if need > 0:
                    fallback = default.get(key)
                    if fallback is None:  # nobody consigns it here: our overdraft
                        book[COMPANY] = book.get(COMPANY, 0) - need
                    else:
                        takes.append((fallback, need))
            merged: dict[str, int] = {}
            for supplier, take in takes:
                merged[supplier] = merged.get(supplier, 0) + take
            for supplier, take in merged.items():
                book[supplier] = book.get(supplier, 0) - take
                pair_rows += _pair(
                    row,
                    supplier,
                    take,
                    f"{row['event_id']}:own:{supplier}",
                    f"{row['event_id']}:ours:{supplier}",
                )
            owner_of_row[row["__ownership_row"]] = COMPANY
    rows = list(owner_of_row.items())
    owners = pl.DataFrame(
        {"__ownership_row": [r for r, _ in rows], "_owner": [o for _, o in rows]},
        schema={"__ownership_row": pl.UInt32, "_owner": pl.String},
    )
    mine = (
        indexed.join(owners, on="__ownership_row", how="left")
        .with_columns(pl.coalesce("_owner", "owner").alias("owner"))
        .drop("__ownership_row", "_owner")
    )
    if not pair_rows:
        return mine
    pairs = pl.DataFrame(pair_rows, schema=mine.schema, orient="row")
    return pl.concat([mine, pairs])


def _pair(row: dict, supplier: str, units: int, own_id: str, ours_id: str) -> list[dict]:
    """The two ``consignment_consume`` rows passing ``units`` of ``row``'s SKU from
    ``supplier`` to us, at the row's instant (its other columns copied)."""
    base = {k: v for k, v in row.items() if k != "__ownership_row"}
    note = f"ownership passes to us on {row['movement_type']} 寄售消耗"
    common = base | {
        "movement_type": "consignment_consume",
        "reference": row["event_id"],
        "note": note,
    }
    return [
        common | {"event_id": own_id, "quantity": -units, "owner": supplier},
        common | {"event_id": ours_id, "quantity": units, "owner": COMPANY},
    ]


def append_movements(
    cur: duckdb.DuckDBPyConnection,
    movements: pl.DataFrame,
    *,
    problem_limit: int = 50,
    check_negative: bool = True,
    ownership_passed: bool = False,
) -> tuple[int, int, list[NegativeBalance]]:
    """Append movements inside the caller's transaction.

    ``movements`` has the :data:`LEDGER_COLUMNS` with signed quantities. Returns (written,
    skipped as exact replays; both counting the movements given, not the ownership rows a
    consumption of consigned stock adds, negative balances found; empty when ``check_negative`` is off,
    for a caller that checks once after several appends). Raises :class:`DuplicateEventError`
    when an event id is already used by a different movement. The caller rolls back on any
    error or on a non-empty negative list. Consumption of consigned stock is expanded by
    :func:`pass_ownership` unless the caller did so already (``ownership_passed``), to check
    the balances the expansion touches itself."""
    frame = movements.select(
        [pl.col(name).cast(dtype) for name, dtype in LEDGER_COLUMNS.items()]
    ).with_columns(pl.col("owner").fill_null(COMPANY))
    if frame.height == 0:
        return 0, 0, []
    if not ownership_passed:
        frame = pass_ownership(cur, frame)
    dupes = frame.filter(pl.col("event_id").is_duplicated())
    if dupes.height:
        raise DuplicateEventError(
            f"event id {dupes['event_id'][0]!r} appears more than once in one posting"
        )
    with registered(cur, "new_movements", frame):
        conflicts = [r[0] for r in cur.execute(_CONFLICTS_SQL, [problem_limit]).fetchall()]
        if conflicts:
            error = DuplicateEventError(
                "event id(s) already posted with different content: "
                + ", ".join(repr(c) for c in conflicts)
            )
            error.event_ids = tuple(conflicts)
            raise error
        before = cur.execute("SELECT count(*) FROM ledger").fetchall()[0][0]
        cur.execute(_INSERT_SQL).fetchall()
        written = cur.execute("SELECT count(*) FROM ledger").fetchall()[0][0] - before
        passed = 0  # ownership rows written: not counted as the posting's own movements
        if written:
            cur.execute(_PAYABLES_SQL).fetchall()
            passed = cur.execute(_PASSED_SQL).fetchall()[0][0]
    negatives = (
        find_negative_balances(cur, frame, limit=problem_limit)
        if written and check_negative
        else []
    )
    pairs = frame.filter(
        (pl.col("movement_type") == "consignment_consume")
        & pl.col("reference").is_in(frame["event_id"].implode())
        & pl.col("event_id").str.starts_with(pl.col("reference") + ":o")
    ).height
    return written - passed, frame.height - pairs - (written - passed), negatives


def _movements_frame(movements: Sequence[Movement]) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "event_id": [m.event_id for m in movements],
            "ts": [m.ts for m in movements],
            "sku": [m.sku for m in movements],
            "location": [m.location for m in movements],
            "movement_type": [str(MovementType(m.movement_type)) for m in movements],
            "quantity": [m.quantity for m in movements],
            "owner": [m.owner for m in movements],
            "reference": [m.reference for m in movements],
            "note": [m.note for m in movements],
        },
        schema=LEDGER_COLUMNS,
    )


def _check_references(cur: duckdb.DuckDBPyConnection, skus: set[str], locations: set[str]) -> None:
    for table, key, wanted, label in (
        ("products", "sku", skus, "SKU"),
        ("locations", "code", locations, "location"),
    ):
        # table and key come from the literal tuple above, never from input.
        known = {
            r[0]
            for r in cur.execute(
                f"SELECT {key} FROM {table} WHERE {key} IN (SELECT unnest(?))",  # noqa: S608
                [sorted(wanted)],
            ).fetchall()
        }
        missing = sorted(wanted - known)
        if missing:
            raise NotFoundError(f"unknown {label}(s): {', '.join(map(repr, missing))}")


def post_in(cur: duckdb.DuckDBPyConnection, movements: Sequence[Movement]) -> PostResult:
    """:func:`post` inside the caller's transaction."""
    _check_references(cur, {m.sku for m in movements}, {m.location for m in movements})
    written, skipped, negatives = append_movements(cur, _movements_frame(movements))
    if negatives:
        raise NegativeStockError("; ".join(n.describe() for n in negatives))
    legs = [m.reference for m in movements if m.movement_type in _LEG_TYPES]
    if any(r is None for r in legs):
        raise LedgerError("a transfer leg needs its transfer id as reference")
    if legs:
        problems = find_transfer_problems(cur, pl.Series(legs, dtype=pl.String))
        if problems:
            raise LedgerError("; ".join(f"transfer {t}: {why}" for t, why in problems))
    return PostResult(written, skipped)


def post(store: Store, movements: Sequence[Movement]) -> PostResult:
    """Post movements in one transaction (all or none); identical replays are skipped."""
    if not movements:
        return PostResult(0, 0)
    with store.transaction() as cur:
        result = post_in(cur, movements)
    log.info("posted %d movement(s), %d replay(s) skipped", result.written, result.skipped)
    return result


def on_hand(store: Store, sku: str, location: str, *, owner: str | None = None) -> int:
    """The ledger sum at (sku, location), for one owner or all owners."""
    if owner is None:
        sql = "SELECT coalesce(sum(quantity), 0) FROM ledger WHERE sku = ? AND location = ?"
        params: list = [sku, location]
    else:
        sql = (
            "SELECT coalesce(sum(quantity), 0) FROM ledger "
            "WHERE sku = ? AND location = ? AND owner = ?"
        )
        params = [sku, location, owner]
    return int(store.scalar(sql, params))


# -- transfers ------------------------------------------------------------------------------


def _as_datetime(value: date | datetime) -> datetime:
    if isinstance(value, datetime):
        return value
    return datetime(value.year, value.month, value.day)


def _transfer_header(cur: duckdb.DuckDBPyConnection, transfer_id: str) -> tuple | None:
    rows = cur.execute(
        "SELECT sku, from_location, to_location, quantity, status FROM transfers "
        "WHERE transfer_id = ?",
        [transfer_id],
    ).fetchall()
    return rows[0] if rows else None


def _create_transfer(
    cur: duckdb.DuckDBPyConnection,
    transfer_id: str,
    sku: str,
    from_location: str,
    to_location: str,
    quantity: int,
    *,
    ship_date: date,
    expected_date: date,
    received_date: date | None,
) -> None:
    """Check and write a new transfer header (status in_transit, or received when it has a
    received date), inside the caller's transaction."""
    if quantity <= 0:
        raise LedgerError(f"transfer {transfer_id}: quantity must be positive, got {quantity}")
    if from_location == to_location:
        raise LedgerError(
            f"transfer {transfer_id}: source and destination are both {from_location}"
        )
    if _transfer_header(cur, transfer_id) is not None:
        raise DuplicateEventError(f"transfer {transfer_id} already exists")
    _check_references(cur, {sku}, {from_location, to_location})
    cur.execute(
        "INSERT INTO transfers (transfer_id, sku, from_location, to_location, quantity, "
        "ship_date, expected_date, received_date, status) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            transfer_id,
            sku,
            from_location,
            to_location,
            quantity,
            ship_date,
            expected_date,
            received_date,
            "received" if received_date else "in_transit",
        ],
    ).fetchall()


def _leg(
    transfer_id: str,
    suffix: str,
    at: datetime,
    sku: str,
    location: str,
    kind: MovementType,
    quantity: int,
    owner: str,
) -> Movement:
    return Movement(
        f"TR:{transfer_id}:{suffix}", at, sku, location, kind, quantity, owner, transfer_id
    )


def dispatch_transfer(
    store: Store,
    transfer_id: str,
    sku: str,
    from_location: str,
    to_location: str,
    quantity: int,
    *,
    ship_date: date | datetime,
    expected_date: date,
    owner: str = COMPANY,
) -> PostResult:
    """Create a transfer and post its outbound leg in one transaction; the stock is then in
    transit until :func:`receive_transfer`."""
    with store.transaction() as cur:
        return dispatch_in(
            cur,
            transfer_id,
            sku,
            from_location,
            to_location,
            quantity,
            ship_date=ship_date,
            expected_date=expected_date,
            owner=owner,
        )


def dispatch_in(
    cur: duckdb.DuckDBPyConnection,
    transfer_id: str,
    sku: str,
    from_location: str,
    to_location: str,
    quantity: int,
    *,
    ship_date: date | datetime,
    expected_date: date,
    owner: str = COMPANY,
) -> PostResult:
    """:func:`dispatch_transfer` inside the caller's transaction."""
    shipped = _as_datetime(ship_date)
    _create_transfer(
        cur,
        transfer_id,
        sku,
        from_location,
        to_location,
        quantity,
        ship_date=shipped.date(),
        expected_date=expected_date,
        received_date=None,
    )
    return post_in(
        cur,
        [
            _leg(
                transfer_id,
                "out",
                shipped,
                sku,
                from_location,
                MovementType.TRANSFER_OUT,
                -quantity,
                owner,
            )
        ],
    )


def receive_transfer(
    store: Store,
    transfer_id: str,
    *,
    received: date | datetime,
    quantity: int | None = None,
    owner: str = COMPANY,
) -> PostResult:
    """Post the inbound leg of a dispatched transfer (by default all that is in transit) and
    mark it received when nothing remains in transit."""
    with store.transaction() as cur:
        return receive_in(cur, transfer_id, received=received, quantity=quantity, owner=owner)


def receive_in(
    cur: duckdb.DuckDBPyConnection,
    transfer_id: str,
    *,
    received: date | datetime,
    quantity: int | None = None,
    owner: str = COMPANY,
) -> PostResult:
    """:func:`receive_transfer` inside the caller's transaction."""
    when = _as_datetime(received)
    header = _transfer_header(cur, transfer_id)
    if header is None:
        raise NotFoundError(f"transfer {transfer_id} does not exist")
    sku, _source, destination, _qty, status = header
    if status not in ("in_transit",):
        raise LedgerError(f"transfer {transfer_id} is {status}, not in transit")
    shipped, received_so_far, legs = cur.execute(
        "SELECT coalesce(-sum(quantity) FILTER (movement_type = 'transfer_out'), 0), "
        "coalesce(sum(quantity) FILTER (movement_type = 'transfer_in'), 0), "
        "count(*) FILTER (movement_type = 'transfer_in') "
        "FROM ledger WHERE reference = ? AND sku = ?",
        [transfer_id, sku],
    ).fetchall()[0]
    remaining = int(shipped) - int(received_so_far)
    take = remaining if quantity is None else quantity
    if take <= 0 or take > remaining:
        raise LedgerError(
            f"transfer {transfer_id}: cannot receive {take}; {remaining} unit(s) in transit"
        )
    suffix = "in" if legs == 0 else f"in{legs + 1}"
    result = post_in(
        cur,
        [
            _leg(
                transfer_id,
                suffix,
                when,
                sku,
                destination,
                MovementType.TRANSFER_IN,
                take,
                owner,
            )
        ],
    )
    if take == remaining:
        cur.execute(
            "UPDATE transfers SET status = 'received', received_date = ? WHERE transfer_id = ?",
            [when.date(), transfer_id],
        ).fetchall()
    return result


def move_stock(
    store: Store,
    transfer_id: str,
    sku: str,
    from_location: str,
    to_location: str,
    quantity: int,
    *,
    when: date | datetime,
    owner: str = COMPANY,
) -> PostResult:
    """An immediate transfer: both legs and the header in one transaction."""
    at = _as_datetime(when)
    with store.transaction() as cur:
        _create_transfer(
            cur,
            transfer_id,
            sku,
            from_location,
            to_location,
            quantity,
            ship_date=at.date(),
            expected_date=at.date(),
            received_date=at.date(),
        )
        return post_in(
            cur,
            [
                _leg(
                    transfer_id,
                    "out",
                    at,
                    sku,
                    from_location,
                    MovementType.TRANSFER_OUT,
                    -quantity,
                    owner,
                ),
                _leg(
                    transfer_id,
                    "in",
                    at,
                    sku,
                    to_location,
                    MovementType.TRANSFER_IN,
                    quantity,
                    owner,
                ),
            ],
        )
