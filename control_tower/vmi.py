"""VMI consignment: stock at our locations owned by a supplier until we consume it (寄售).

The loop: demand -> call-off order (a purchase order line to the VMI supplier, delivered into
the VMI site) -> the supplier's shipment (:func:`control_tower.collab.record_shipment`) ->
receipt into the VMI site, owned by the supplier -> consumption: ownership passes to us in the
same transaction, with a payable line (:mod:`control_tower.ledger`) -> the stock we own and
what we owe update from the ledger -> a settlement statement per supplier and period
(:func:`issue_statement`: quantity x the price at consumption), reconciled against the
consumption the supplier reports (:func:`record_consumption`); a difference is an exception.

VMI levels are the agreed min and max of a supplier's consigned stock of a SKU at a site; the
supplier keeps its stock between them and may change them, like our planners, with a reason;
every change is a ``vmi_level_events`` row.
"""

from __future__ import annotations

import logging
from datetime import date, datetime, timedelta

import polars as pl

from control_tower import position
from control_tower.actions import Actor
from control_tower.collab import CollabError, scope, validated_file
from control_tower.errors import NotFoundError
from control_tower.store import Store, registered

log = logging.getLogger(__name__)

MAX_REASON = 500


# -- VMI levels -----------------------------------------------------------------------------------
LEVELS_SQL = """
WITH consigned AS (
    SELECT sku, location, owner AS supplier, sum(quantity) AS consigned
    FROM ledger WHERE owner <> 'company' AND ts < $cutoff
    GROUP BY ALL
), received AS (
    SELECT reference AS po_number, sku, sum(quantity) AS received
    FROM ledger WHERE movement_type = 'receipt' AND ts < $cutoff
      AND reference IN (SELECT po_number FROM purchase_orders WHERE status = 'open')
    GROUP BY ALL
), on_order AS (
    SELECT p.sku, p.location, p.supplier,
           sum(greatest(p.quantity - coalesce(r.received, 0), 0)) AS on_order
    FROM purchase_orders p LEFT JOIN received r USING (po_number, sku)
    WHERE p.status = 'open' AND p.order_date <= $as_of
    GROUP BY ALL
)
SELECT v.supplier, v.sku, p.name, v.location, loc.name AS location_name,
       v.min_qty, v.max_qty,
       coalesce(c.consigned, 0)::BIGINT AS consigned,
       coalesce(o.on_order, 0)::BIGINT AS on_order,
       CASE WHEN coalesce(c.consigned, 0) < v.min_qty THEN 'below min'
            WHEN coalesce(c.consigned, 0) > v.max_qty THEN 'above max'
            ELSE 'within' END AS status,
       v.updated_at, v.updated_by
FROM vmi_levels v
LEFT JOIN consigned c USING (sku, location, supplier)
LEFT JOIN on_order o USING (sku, location, supplier)
LEFT JOIN products p ON p.sku = v.sku
LEFT JOIN locations loc ON loc.code = v.location
WHERE $all OR v.supplier = $supplier
ORDER BY v.supplier, v.location, v.sku
"""


def levels(store: Store, *, supplier: str | None = None, as_of: date | None = None) -> pl.DataFrame:
    """Every VMI level with the supplier's consigned stock there now and its open call-offs:
    supplier, sku, name, location, location_name, min_qty, max_qty, consigned, on_order,
    status ('below min', 'within', 'above max'), updated_at, updated_by."""
    day = position.resolve_as_of(store, as_of)
    return store.query(
        LEVELS_SQL,
        {
            "cutoff": position.midnight(day + timedelta(days=1)),
            "as_of": day,
            "all": supplier is None,
            "supplier": supplier or "",
        },
    )


def own_levels(store: Store, actor: Actor | None, supplier: str) -> pl.DataFrame:
    """:func:`levels` of one supplier, for someone allowed to see it."""
    scope(actor, supplier)
    return levels(store, supplier=supplier)


def set_level(
    store: Store,
    actor: Actor | None,
    supplier: str,
    sku: str,
    location: str,
    min_qty: int,
    max_qty: int,
    reason: str,
) -> None:
    """Agree or change the min and max of ``supplier``'s consigned stock of ``sku`` at
    ``location`` (a VMI site); a reason is required and the change is audited. A supplier
    user changes only its own levels, and cannot take over another supplier's."""
    scope(actor, supplier, write=True)
    assert actor is not None
    text = (reason or "").strip()
    if not text:
        raise CollabError("a reason is required to change VMI levels")
    if len(text) > MAX_REASON:
        raise CollabError(f"the reason is longer than {MAX_REASON} characters")
    for label, value in (("min", min_qty), ("max", max_qty)):
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise CollabError(f"the {label} level must be a whole number of units, not {value!r}")
    if max_qty <= 0 or max_qty < min_qty:
        raise CollabError(f"the max ({max_qty:,}) must be above zero and at least the min")
    with store.transaction() as cur:
        kind = cur.execute("SELECT kind FROM locations WHERE code = ?", [location]).fetchall()
        if not kind:
            raise NotFoundError(f"no location {location!r}", title="Unknown location")
        if kind[0][0] != "vmi":
            raise CollabError(f"{location} is a {kind[0][0]} site; VMI levels are for VMI sites")
        supplies = cur.execute(
            "SELECT s.vmi FROM supplier_products sp JOIN suppliers s ON s.code = sp.supplier "
            "WHERE sp.supplier = ? AND sp.sku = ?",
            [supplier, sku],
        ).fetchall()
        if not supplies:
            raise NotFoundError(
                f"{supplier} does not supply {sku!r} to us", title="Unknown supplier item"
            )
        if not supplies[0][0]:
            raise CollabError(f"{supplier} is not a VMI supplier: it holds no consigned stock")
        before = cur.execute(
            "SELECT supplier, min_qty, max_qty FROM vmi_levels WHERE sku = ? AND location = ?",
            [sku, location],
        ).fetchall()
        if before and before[0][0] != supplier:
            raise CollabError(
                f"{sku} at {location} is consigned by another supplier; a planner changes that"
                if actor.role == "supplier"
                else f"{sku} at {location} is consigned by {before[0][0]}, not {supplier}"
            )
        if not before and actor.role == "supplier":
            raise CollabError(
                f"no VMI levels are agreed for {sku} at {location}: a planner agrees them first"
            )
        others = (
            []
            if before
            else cur.execute(
                "SELECT owner FROM ledger WHERE sku = ? AND location = ? AND owner NOT IN "
                "('company', ?) GROUP BY owner HAVING sum(quantity) > 0",
                [sku, location, supplier],
            ).fetchall()
        )
        if others:  # new levels (an agreement stands once made: its holder keeps adjusting it)
            raise CollabError(
                f"another supplier holds consigned stock of {sku} at {location}"
                if actor.role == "supplier"
                else f"{', '.join(o[0] for o in others)} holds consigned stock of {sku} at "
                f"{location}: its levels stand until that stock is used"
            )
        now = datetime.now()
        cur.execute(
            "INSERT INTO vmi_levels (sku, location, supplier, min_qty, max_qty, updated_at, "
            "updated_by) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (sku, location) DO UPDATE "
            "SET min_qty = excluded.min_qty, max_qty = excluded.max_qty, "
            "updated_at = excluded.updated_at, updated_by = excluded.updated_by",
            [sku, location, supplier, min_qty, max_qty, now, actor.name],
        ).fetchall()
        cur.execute(
            "INSERT INTO vmi_level_events (sku, location, supplier, occurred_at, actor, "
            "min_before, max_before, min_after, max_after, reason) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                sku,
                location,
                supplier,
                now,
                actor.name,
                before[0][1] if before else None,
                before[0][2] if before else None,
                min_qty,
                max_qty,
                text,
            ],
        ).fetchall()
    log.info("%s set VMI levels of %s at %s to %d..%d", actor.name, sku, location, min_qty, max_qty)


def level_history(store: Store, actor: Actor | None, supplier: str) -> pl.DataFrame:
    """Every change of ``supplier``'s VMI levels, newest first."""
    scope(actor, supplier)
    return store.query(
        "SELECT occurred_at, actor, sku, location, min_before, max_before, min_after, "
        "max_after, reason FROM vmi_level_events WHERE supplier = ? ORDER BY event_id DESC",
        [supplier],
    )


# -- ownership -------------------------------------------------------------------------------------
OWNERSHIP_SQL = """
SELECT sku, location,
       sum(quantity)::BIGINT AS physical,
       coalesce(sum(quantity) FILTER (WHERE owner = 'company'), 0)::BIGINT AS owned,
       coalesce(sum(quantity) FILTER (WHERE owner <> 'company'), 0)::BIGINT AS consigned
FROM ledger
WHERE ts < $cutoff AND ($all OR sku = $sku)
GROUP BY ALL
HAVING sum(quantity) <> 0 OR sum(abs(quantity)) FILTER (WHERE owner <> 'company') > 0
ORDER BY sku, location
"""


def ownership(store: Store, *, as_of: date | None = None, sku: str | None = None) -> pl.DataFrame:
    """Per SKU and location the physical stock and how much of it we own and how much
    suppliers still own (consigned), from the ledger as of the end of ``as_of``."""
    day = position.resolve_as_of(store, as_of)
    return store.query(
        OWNERSHIP_SQL,
        {
            "cutoff": position.midnight(day + timedelta(days=1)),
            "all": sku is None,
            "sku": sku or "",
        },
    )


# -- payables and settlement ------------------------------------------------------------------------
def payables(
    store: Store,
    actor: Actor | None,
    supplier: str,
    *,
    start: date | None = None,
    end: date | None = None,
    unsettled_only: bool = False,
) -> pl.DataFrame:
    """``supplier``'s payable lines consumed between ``start`` and ``end`` (inclusive), newest
    first: event_id, sku, location, consumed_at, quantity, unit_price, amount, price_source,
    statement_id."""
    scope(actor, supplier)
    return store.query(
        "SELECT event_id, sku, location, consumed_at, quantity, unit_price::DOUBLE AS unit_price, "
        "amount::DOUBLE AS amount, price_source, statement_id FROM payables "
        "WHERE supplier = $supplier AND ($start IS NULL OR consumed_at >= $start) "
        "AND ($end IS NULL OR consumed_at < $end) AND (NOT $open OR statement_id IS NULL) "
        "ORDER BY consumed_at DESC, event_id",
        {
            "supplier": supplier,
            "start": position.midnight(start) if start else None,
            "end": position.midnight(end + timedelta(days=1)) if end else None,
            "open": unsettled_only,
        },
    )


def month_period(day: date) -> tuple[date, date]:
    """The calendar month before the one ``day`` falls in: (first day, last day)."""
    first_this = day.replace(day=1)
    last = first_this - timedelta(days=1)
    return last.replace(day=1), last


def issue_statement(
    store: Store, actor: Actor, supplier: str, period_start: date, period_end: date
) -> int:
    """Gather ``supplier``'s payable lines consumed in the period and not yet on a statement
    into a settlement statement (per SKU: quantity and amount, quantity x the price at
    consumption); staff only. Returns the statement id."""
    if actor.role not in ("planner", "approver", "admin"):
        raise CollabError(f"{actor.name} is a {actor.role}; statements are issued by staff")
    if period_end < period_start:
        raise CollabError(f"the period ends ({period_end}) before it starts ({period_start})")
    today = position.resolve_as_of(store, None)
    if period_end > today:
        raise CollabError(
            f"the period runs to {period_end}, after the data's today {today}: settle a period "
            "that is over"
        )
    with store.transaction() as cur:
        if not cur.execute("SELECT 1 FROM suppliers WHERE code = ?", [supplier]).fetchall():
            raise NotFoundError(f"no supplier {supplier!r}", title="Unknown supplier")
        window = [
            supplier,
            position.midnight(period_start),
            position.midnight(period_end + timedelta(days=1)),
        ]
        lines = cur.execute(
            "SELECT sku, sum(quantity)::BIGINT, sum(amount) FROM payables WHERE supplier = ? "
            "AND consumed_at >= ? AND consumed_at < ? AND statement_id IS NULL GROUP BY sku "
            "ORDER BY sku",
            window,
        ).fetchall()
        if not lines:
            raise CollabError(
                f"{supplier} has no consumption to settle from {period_start} to {period_end} "
                "(none, or all of it is on a statement already)"
            )
        quantity = sum(int(r[1]) for r in lines)
        amount = sum(r[2] for r in lines)
        statement_id = cur.execute(
            "INSERT INTO settlement_statements (supplier, period_start, period_end, issued_at, "
            "issued_by, lines, quantity, amount) VALUES (?, ?, ?, ?, ?, ?, ?, ?) "
            "RETURNING statement_id",
            [
                supplier,
                period_start,
                period_end,
                datetime.now(),
                actor.name,
                len(lines),
                quantity,
                amount,
            ],
        ).fetchall()[0][0]
        frame = pl.DataFrame(
            {
                "sku": [r[0] for r in lines],
                "quantity": [int(r[1]) for r in lines],
                "amount": [float(r[2]) for r in lines],
            }
        )
        with registered(cur, "statement_lines", frame):
            cur.execute(
                "INSERT INTO settlement_lines SELECT ?, sku, quantity, amount FROM statement_lines",
                [statement_id],
            ).fetchall()
        cur.execute(
            "UPDATE payables SET statement_id = ? WHERE supplier = ? AND consumed_at >= ? "
            "AND consumed_at < ? AND statement_id IS NULL",
            [statement_id, *window],
        ).fetchall()
    log.info(
        "%s issued statement %s for %s: %d line(s)", actor.name, statement_id, supplier, len(lines)
    )
    return int(statement_id)


RECONCILE_SQL = """
WITH periods AS (  -- the periods of the statements asked for
    SELECT DISTINCT supplier, period_start, period_end FROM settlement_statements
    WHERE ($all OR supplier = $supplier) AND ($statement IS NULL OR statement_id = $statement)
), settled AS (  -- every statement of those periods (a late one settles stragglers)
    SELECT s.statement_id, s.supplier, s.period_start, s.period_end
    FROM settlement_statements s JOIN periods USING (supplier, period_start, period_end)
), heads AS (
    SELECT supplier, period_start, period_end, max(statement_id) AS statement_id,
           list(statement_id ORDER BY statement_id) AS statement_ids
    FROM settled GROUP BY ALL
), rep AS (  -- the supplier's last consumption report for exactly that period (report ids
            -- grow as reports are recorded; the wall clock's recorded_at decides nothing)
    SELECT p.supplier, p.period_start, p.period_end, r.report_id
    FROM periods p JOIN supplier_consumption_reports r USING (supplier, period_start, period_end)
    QUALIFY row_number() OVER (PARTITION BY p.supplier, p.period_start, p.period_end
                               ORDER BY r.report_id DESC) = 1
), ours AS (
    SELECT t.supplier, t.period_start, t.period_end, l.sku,
           sum(l.quantity) AS quantity, sum(l.amount) AS amount
    FROM settled t JOIN settlement_lines l USING (statement_id)
    GROUP BY ALL
), theirs AS (
    SELECT rep.supplier, rep.period_start, rep.period_end, c.sku, c.quantity AS reported
    FROM rep JOIN supplier_consumption c USING (report_id)
), lines AS (
    SELECT supplier, period_start, period_end, sku,
           coalesce(o.quantity, 0)::BIGINT AS quantity,
           coalesce(o.amount, 0)::DOUBLE AS amount,
           t.reported
    FROM ours o FULL JOIN theirs t USING (supplier, period_start, period_end, sku)
)
SELECT h.statement_id, h.statement_ids, l.supplier, l.period_start, l.period_end, l.sku, p.name,
       l.quantity, l.amount,
       CASE WHEN l.quantity > 0 THEN l.amount / l.quantity END AS unit_price,
       rep.report_id,
       CASE WHEN rep.report_id IS NOT NULL THEN coalesce(l.reported, 0) END AS reported,
       CASE WHEN rep.report_id IS NOT NULL THEN coalesce(l.reported, 0) - l.quantity END
           AS difference
FROM lines l
JOIN heads h USING (supplier, period_start, period_end)
LEFT JOIN rep USING (supplier, period_start, period_end)
LEFT JOIN products p ON p.sku = l.sku
ORDER BY h.statement_id DESC, l.sku
"""


def reconciliation(
    store: Store,
    *,
    supplier: str | None = None,
    statement_id: int | None = None,
    tolerance: int = 0,
) -> pl.DataFrame:
    """Per settled period and SKU: what we settle (quantity, amount, unit_price: over every
    statement of the period, ``statement_ids``, a late one settling stragglers;
    ``statement_id`` the latest) against what the supplier reported consumed for the same
    period (its latest report; null when it has not reported), the difference (theirs -
    ours) and a status: 'agrees', 'differs' (beyond ``tolerance`` units) or 'not reported'.
    A SKU only one side has shows 0 on the other. ``statement_id`` picks that statement's
    period."""
    frame = store.query(
        RECONCILE_SQL,
        {"all": supplier is None, "supplier": supplier or "", "statement": statement_id},
    )
    return frame.with_columns(
        pl.when(pl.col("report_id").is_null())
        .then(pl.lit("not reported"))
        .when(pl.col("difference").abs() > tolerance)
        .then(pl.lit("differs"))
        .otherwise(pl.lit("agrees"))
        .alias("status")
    )


def _period_summary(rec: pl.DataFrame) -> pl.DataFrame:
    """Per supplier and period: whether the supplier reported, the SKUs that differ and the
    units in dispute (every statement of a period shows its period's)."""
    return rec.group_by("supplier", "period_start", "period_end").agg(
        pl.col("report_id").is_not_null().any().alias("reported"),
        (pl.col("status") == "differs").sum().alias("differing_lines"),
        pl.col("difference").abs().sum().alias("difference_units"),
    )


def statement_lines(
    store: Store, actor: Actor | None, supplier: str, statement_id: int, *, tolerance: int = 0
) -> pl.DataFrame:
    """One statement's reconciliation, for someone allowed to see the supplier's data (a
    statement of another supplier is not found)."""
    scope(actor, supplier)
    frame = reconciliation(store, supplier=supplier, statement_id=statement_id, tolerance=tolerance)
    if frame.height == 0 and not store.rows(
        "SELECT 1 FROM settlement_statements WHERE statement_id = ? AND supplier = ?",
        [statement_id, supplier],
    ):
        raise NotFoundError(
            f"{supplier} has no statement {statement_id}", title="Unknown statement"
        )
    return frame


def statements(
    store: Store, actor: Actor | None, supplier: str, *, tolerance: int = 0
) -> pl.DataFrame:
    """``supplier``'s statements, newest first: statement_id, period_start, period_end,
    issued_at, issued_by, lines, quantity, amount, reported (whether the supplier reported
    consumption for the period), differing_lines, difference_units."""
    scope(actor, supplier)
    return all_statements(store, supplier=supplier, tolerance=tolerance).drop("supplier")


def _consumption_spec():
    from control_tower.ingest.schemas import QTY_MAX, ColumnSpec, EntitySpec

    return EntitySpec(
        "supplier_consumption",
        "supplier_consumption",
        "The consumption a supplier counts for a settlement period, per SKU.",
        (
            ColumnSpec("sku", "str", True, "our SKU code", references=("products", "sku")),
            ColumnSpec("quantity", "int", True, "units consumed", minimum=0, maximum=QTY_MAX),
        ),
        key=("sku",),
    )


def record_consumption(
    store: Store,
    actor: Actor | None,
    supplier: str,
    period_start: date,
    period_end: date,
    frame: pl.DataFrame,
    *,
    source: str = "inline",
) -> int:
    """Record the consumption ``supplier`` counts for a period (columns sku, quantity), all or
    nothing; a later report for the same period replaces the earlier one in reconciliation.
    Returns the report id."""
    scope(actor, supplier, write=True)
    assert actor is not None
    if period_end < period_start:
        raise CollabError(f"the period ends ({period_end}) before it starts ({period_start})")
    today = position.resolve_as_of(store, None)
    if period_start > today:
        raise CollabError(f"the period starts after the data's today {today}")
    source = (source or "").strip()[:200] or "inline"
    checked = validated_file(store, supplier, frame, _consumption_spec(), source, today)
    typed = checked.select("sku", pl.col("quantity").cast(pl.Int64))
    with store.transaction() as cur:
        report_id = cur.execute(
            "INSERT INTO supplier_consumption_reports (supplier, period_start, period_end, "
            "recorded_at, recorded_by, source) VALUES (?, ?, ?, ?, ?, ?) RETURNING report_id",
            [supplier, period_start, period_end, datetime.now(), actor.name, source],
        ).fetchall()[0][0]
        with registered(cur, "reported_consumption", typed):
            cur.execute(
                "INSERT INTO supplier_consumption SELECT ?, sku, quantity FROM reported_consumption",
                [report_id],
            ).fetchall()
    log.info("%s recorded consumption report %s for %s", actor.name, report_id, supplier)
    return int(report_id)


def upload_consumption(
    store: Store,
    actor: Actor | None,
    supplier: str,
    period_start: date,
    period_end: date,
    data: bytes,
    filename: str,
) -> int:
    """:func:`record_consumption` from an uploaded CSV or Excel file."""
    scope(actor, supplier, write=True)
    from control_tower.ingest.reader import read_bytes

    table = read_bytes(data, filename)
    return record_consumption(
        store, actor, supplier, period_start, period_end, table.frame, source=table.name
    )


def all_statements(
    store: Store, *, supplier: str | None = None, tolerance: int = 0
) -> pl.DataFrame:
    """Every supplier's statements (or one supplier's), newest first, with their
    reconciliation summary (see :func:`statements`); staff reading."""
    heads = store.query(
        "SELECT statement_id, supplier, period_start, period_end, issued_at, issued_by, lines, "
        "quantity, amount::DOUBLE AS amount FROM settlement_statements "
        "WHERE $all OR supplier = $supplier ORDER BY period_start DESC, statement_id DESC",
        {"all": supplier is None, "supplier": supplier or ""},
    )
    summary = _period_summary(reconciliation(store, supplier=supplier, tolerance=tolerance))
    return heads.join(
        summary, on=["supplier", "period_start", "period_end"], how="left"
    ).with_columns(
        pl.col("reported").fill_null(False),
        pl.col("differing_lines").fill_null(0),
        pl.col("difference_units").fill_null(0),
    )


def consigned_summary(store: Store, *, as_of: date | None = None) -> pl.DataFrame:
    """Per supplier holding consigned stock: SKUs, units and their value at unit cost (not in
    our inventory value until consumed), and what we owe it for consumption not yet on a
    statement."""
    day = position.resolve_as_of(store, as_of)
    return store.query(
        """
        WITH held AS (
            SELECT l.owner AS supplier, l.sku, sum(l.quantity) AS units
            FROM ledger l WHERE l.owner <> 'company' AND l.ts < $cutoff
            GROUP BY ALL HAVING sum(l.quantity) <> 0
        ), owed AS (
            SELECT supplier, sum(amount)::DOUBLE AS unsettled_amount
            FROM payables WHERE statement_id IS NULL GROUP BY supplier
        )
        , stock AS (
            SELECT h.supplier, count(*) AS skus, sum(h.units)::BIGINT AS consigned_units,
                   sum(h.units * p.unit_cost)::DOUBLE AS consigned_value
            FROM held h LEFT JOIN products p USING (sku) GROUP BY h.supplier
        )
        SELECT supplier, coalesce(s.skus, 0) AS skus,
               coalesce(s.consigned_units, 0) AS consigned_units,
               coalesce(s.consigned_value, 0) AS consigned_value,
               coalesce(o.unsettled_amount, 0) AS unsettled_amount
        FROM stock s FULL JOIN owed o USING (supplier)
        ORDER BY supplier
        """,
        {"cutoff": position.midnight(day + timedelta(days=1))},
    )
