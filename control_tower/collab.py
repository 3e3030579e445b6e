"""Supplier collaboration: what suppliers report holding for us, their capacity, shipments
against our orders, and answers to our requests for allocation.

A supplier user (role ``supplier``) speaks for one supplier and reaches only that supplier's
data: every function here that a supplier can call takes the :class:`Actor` and checks it
(:func:`scope`), whatever the page in front of it shows. Staff (planner, approver, admin) may
read and record for any supplier, a viewer may read.

A stock report is one upload or one inline edit, kept with its as-of time (when the figures
were true, in data time: the end of the data day they were counted on, by default the data's
today; see :func:`end_of_day`), when and by whom it was recorded (the wall clock, for the audit
only); the current figure of a SKU is the latest report naming it, as of a day (the latest
as-of, then the latest report id). Writing a report is all or nothing, like every import.
"""

from __future__ import annotations

import logging
import math
from datetime import date, datetime, timedelta

import polars as pl

from control_tower import position
from control_tower.actions import Actor, PermissionDenied
from control_tower.errors import ControlTowerError, NotFoundError
from control_tower.store import Store, data_now

log = logging.getLogger(__name__)

CAPACITY_WEEKS = 4
STAFF = frozenset({"planner", "approver", "admin"})


class SupplierAccessError(PermissionDenied):
    title = "Not allowed"


class CollabError(ControlTowerError, ValueError):
    title = "Refused"


# -- who may see and change what ----------------------------------------------------------------
def scope(actor: Actor | None, supplier: str, *, write: bool = False) -> str:
    """``supplier`` when ``actor`` may read it (``write``: change it), else refuse. A supplier
    user reaches its own supplier only; the refusal does not say whether the other exists."""
    if actor is None:
        raise SupplierAccessError("sign in to see or change a supplier's data")
    if actor.role == "supplier":
        if supplier != actor.supplier:
            raise SupplierAccessError(
                f"{actor.name} speaks for {actor.supplier} and cannot see or change another "
                "supplier's data"
            )
        return supplier
    if write and actor.role not in STAFF:
        raise SupplierAccessError(
            f"{actor.name} is a {actor.role}; recording supplier data needs a planner, approver, "
            "admin, or the supplier itself"
        )
    return supplier


def _known_supplier(store: Store, supplier: str) -> None:
    if not store.rows("SELECT 1 FROM suppliers WHERE code = ?", [supplier]):
        raise NotFoundError(f"no supplier {supplier!r}", title="Unknown supplier")


# -- reading what suppliers hold ----------------------------------------------------------------
CURRENT_SQL = """
WITH reports AS (
    SELECT report_id, as_of, recorded_at, recorded_by, source FROM supplier_stock_reports
    WHERE as_of < $cutoff AND ($all OR supplier = $supplier)
), latest AS (
    SELECT s.supplier, s.sku, s.available_qty, s.available_date, s.note, s.report_id,
           r.as_of AS reported_at, r.recorded_by, r.source
    FROM supplier_stock s JOIN reports r USING (report_id)
    QUALIFY row_number() OVER (PARTITION BY s.supplier, s.sku
                               ORDER BY r.as_of DESC, s.report_id DESC) = 1
)
SELECT l.supplier, sup.name AS supplier_name, sup.location AS site, l.sku, p.name,
       l.available_qty, l.available_date, l.reported_at, l.recorded_by, l.source, l.note,
       l.report_id,
       ($as_of - CAST(l.reported_at AS DATE)) AS age_days
FROM latest l
LEFT JOIN suppliers sup ON sup.code = l.supplier
LEFT JOIN products p ON p.sku = l.sku
ORDER BY l.supplier, l.sku
"""

CAPACITY_SQL = """
SELECT c.report_id, c.supplier, c.sku, c.week_start, c.capacity
FROM supplier_capacity c
WHERE c.report_id IN (SELECT unnest($reports)) AND c.week_start + 7 > $as_of
ORDER BY c.supplier, c.sku, c.week_start
"""


def supplier_stock(
    store: Store, *, as_of: date | None = None, supplier: str | None = None
) -> pl.DataFrame:
    """What suppliers last reported holding for us, as of ``as_of`` (default the data's
    today; reports dated later are not seen): one row per supplier and SKU with supplier,
    supplier_name, site, sku, name, available_qty, available_date, reported_at, recorded_by,
    source, note, report_id, age_days, and capacity (a list of the coming weeks' units from
    the same report, week 1 first) and capacity_total. Staff reading; a supplier user reads
    through :func:`own_stock`."""
    day = position.resolve_as_of(store, as_of)
    frame = store.query(
        CURRENT_SQL,
        {
            "cutoff": position.midnight(day + timedelta(days=1)),
            "as_of": day,
            "all": supplier is None,
            "supplier": supplier or "",
        },
    )
    caps = store.query(
        CAPACITY_SQL, {"reports": frame["report_id"].unique().to_list(), "as_of": day}
    )
    if caps.height:
        weekly = caps.group_by("report_id", "supplier", "sku", maintain_order=True).agg(
            pl.col("capacity").alias("capacity"), pl.col("capacity").sum().alias("capacity_total")
        )
        frame = frame.join(weekly, on=["report_id", "supplier", "sku"], how="left")
    else:
        frame = frame.with_columns(
            pl.lit(None, dtype=pl.List(pl.Int64)).alias("capacity"),
            pl.lit(None, dtype=pl.Int64).alias("capacity_total"),
        )
    return frame.with_columns(pl.col("capacity_total").fill_null(0))


def supplier_capacity(
    store: Store, *, as_of: date | None = None, supplier: str | None = None
) -> pl.DataFrame:
    """The capacity of each SKU's current report, one row per week from the week of
    ``as_of``: supplier, sku, week_start, capacity."""
    day = position.resolve_as_of(store, as_of)
    current = supplier_stock(store, as_of=day, supplier=supplier)
    caps = store.query(
        CAPACITY_SQL, {"reports": current["report_id"].unique().to_list(), "as_of": day}
    )
    return caps.join(
        current.select("report_id", "supplier", "sku"), on=["report_id", "supplier", "sku"]
    ).drop("report_id")


def monday(day: date) -> date:
    return day - timedelta(days=day.weekday())


def end_of_day(day: date) -> datetime:
    """The as-of of a report made through the portal on data day ``day``, whatever the wall
    clock says: :func:`control_tower.store.data_now` (its last second). In data time a report
    made now is made once the data's today is complete: every reader of that day sees it
    (positions are as of the end of a day), no reader of an earlier day does, it is never
    older than what the day already holds, and the reports of one day share it, so the
    newest wins by report id."""
    return data_now(day)


# -- recording what suppliers hold ----------------------------------------------------------
def _stock_spec():
    from control_tower.ingest.schemas import QTY_MAX, ColumnSpec, EntitySpec

    weeks = tuple(
        ColumnSpec(
            f"capacity_week_{w}",
            "int",
            False,
            f"units it can make available to us in week {w} (week 1: the as-of day's week)",
            minimum=0,
            maximum=QTY_MAX,
        )
        for w in range(1, CAPACITY_WEEKS + 1)
    )
    return EntitySpec(
        "supplier_stock",
        "supplier_stock",
        "A supplier's stock report: per SKU the units it holds for us, from which day they can "
        "ship, and what it can make available in the coming weeks.",
        (
            ColumnSpec("sku", "str", True, "our SKU code", references=("products", "sku")),
            ColumnSpec(
                "available_quantity", "int", True, "units held for us", minimum=0, maximum=QTY_MAX
            ),
            ColumnSpec(
                "available_date", "date", False, "first day they can ship (default: the as-of day)"
            ),
            *weeks,
            ColumnSpec("note", "str", False, "free text"),
        ),
        key=("sku",),
    )


STOCK_COLUMNS = (
    "sku",
    "available_quantity",
    "available_date",
    *(f"capacity_week_{w}" for w in range(1, CAPACITY_WEEKS + 1)),
    "note",
)


def supplier_items(store: Store, actor: Actor | None, supplier: str) -> pl.DataFrame:
    """The SKUs ``supplier`` supplies us (its ``supplier_products``): sku, name, category,
    lead_time_mean_days, moq, pack_size, price."""
    scope(actor, supplier)
    return store.query(
        "SELECT sp.sku, p.name, p.category, sp.lead_time_mean_days, sp.moq, sp.pack_size, "
        "sp.price::DOUBLE AS price FROM supplier_products sp JOIN products p USING (sku) "
        "WHERE sp.supplier = ? ORDER BY sp.sku",
        [supplier],
    )


def validated_file(
    store: Store, supplier: str, frame: pl.DataFrame, spec, source: str, today: date
) -> pl.DataFrame:
    """``frame`` (a supplier's file or edited table, cells as text) checked against ``spec``
    and typed, with every column of the spec; or an :class:`ImportValidationError` naming
    every bad cell (nothing is written by a caller that gets one). A column the spec does not
    have is refused; a SKU the supplier does not supply us is refused like an unknown one."""
    from control_tower.errors import ImportValidationError, RowProblem
    from control_tower.ingest.reader import ROW_COLUMN
    from control_tower.ingest.validate import problem_list, validate

    items = store.query("SELECT sku FROM supplier_products WHERE supplier = ?", [supplier])["sku"]

    def known(entity: str, key: str) -> pl.Series:
        assert (entity, key) == ("products", "sku")
        return items

    columns = [c.name for c in spec.columns]
    raw = frame.drop(ROW_COLUMN) if ROW_COLUMN in frame.columns else frame
    unexpected = sorted(set(raw.columns) - set(columns))
    if unexpected:
        raise ImportValidationError(
            [
                RowProblem(
                    source,
                    None,
                    ", ".join(unexpected),
                    None,
                    "unexpected column(s); the columns are " + ", ".join(columns),
                )
            ]
        )
    if frame.height == 0:
        raise ImportValidationError([RowProblem(source, None, None, None, "no rows to record")])
    checked = validate(frame, spec, first_row=2, known=known, today=today)
    if not checked.ok:
        problems = problem_list(checked.problems, source, 50)
        raise ImportValidationError(problems, total=checked.problems.height)
    typed = checked.typed
    assert typed is not None
    return typed.with_columns([pl.lit(None).alias(c) for c in columns if c not in typed.columns])


def record_stock(
    store: Store,
    actor: Actor | None,
    supplier: str,
    frame: pl.DataFrame,
    *,
    as_of: date | datetime | None = None,
    source: str = "inline edit",
) -> int:
    """Record one stock report for ``supplier`` from ``frame`` (the columns of
    :data:`STOCK_COLUMNS`, ``sku`` and ``available_quantity`` required), all or nothing;
    returns the report id. ``as_of`` is when the figures were true: a time, or a day (its
    end, :func:`end_of_day`), by default the data's today; it may not be after the data's
    today nor before the supplier's latest report (one as of the same time is newer)."""
    scope(actor, supplier, write=True)
    assert actor is not None
    _known_supplier(store, supplier)
    today = position.resolve_as_of(store, None)
    if as_of is None:
        stamp = end_of_day(today)
    elif isinstance(as_of, datetime):
        stamp = as_of
    else:
        stamp = end_of_day(as_of)
    if stamp.date() > today:
        raise CollabError(f"a report cannot be as of {stamp:%Y-%m-%d}, after the data's {today}")
    source = (source or "").strip()[:200] or "inline edit"
    typed = validated_file(store, supplier, frame, _stock_spec(), source, today)
    start = monday(stamp.date())
    stock = typed.select(
        pl.lit(supplier).alias("supplier"),
        "sku",
        pl.col("available_quantity").cast(pl.Int64).alias("available_qty"),
        pl.col("available_date").cast(pl.Date).fill_null(stamp.date()).alias("available_date"),
        pl.col("note").cast(pl.String).str.slice(0, 500).alias("note"),
    )
    weeks = [
        typed.select(
            pl.lit(supplier).alias("supplier"),
            "sku",
            pl.lit(start + timedelta(days=7 * (w - 1))).alias("week_start"),
            pl.col(f"capacity_week_{w}").cast(pl.Int64).alias("capacity"),
        )
        for w in range(1, CAPACITY_WEEKS + 1)
    ]
    capacity = pl.concat(weeks).filter(pl.col("capacity").is_not_null())
    from control_tower.store import registered

    with store.transaction() as cur:
        latest = cur.execute(
            "SELECT max(as_of) FROM supplier_stock_reports WHERE supplier = ?", [supplier]
        ).fetchall()[0][0]
        if latest is not None and stamp < latest:
            raise CollabError(
                f"{supplier} already reported as of {latest:%Y-%m-%d %H:%M}; a report as of "
                f"{stamp:%Y-%m-%d %H:%M} would be older than it"
            )
        report_id = cur.execute(
            "INSERT INTO supplier_stock_reports (supplier, as_of, recorded_at, recorded_by, "
            "source, lines) VALUES (?, ?, ?, ?, ?, ?) RETURNING report_id",
            [supplier, stamp, datetime.now(), actor.name, source, stock.height],
        ).fetchall()[0][0]
        with registered(cur, "new_stock", stock):
            cur.execute(
                "INSERT INTO supplier_stock SELECT ?, supplier, sku, available_qty, "
                "available_date, note FROM new_stock",
                [report_id],
            ).fetchall()
        if capacity.height:
            with registered(cur, "new_capacity", capacity):
                cur.execute(
                    "INSERT INTO supplier_capacity SELECT ?, supplier, sku, week_start, capacity "
                    "FROM new_capacity",
                    [report_id],
                ).fetchall()
    log.info(
        "%s recorded stock report %s for %s: %d line(s)",
        actor.name,
        report_id,
        supplier,
        stock.height,
    )
    return int(report_id)


def upload_stock(
    store: Store,
    actor: Actor | None,
    supplier: str,
    data: bytes,
    filename: str,
    *,
    as_of: date | datetime | None = None,
) -> int:
    """Record a stock report from an uploaded CSV or Excel file (see :func:`record_stock`)."""
    scope(actor, supplier, write=True)
    from control_tower.ingest.reader import read_bytes

    table = read_bytes(data, filename)
    return record_stock(store, actor, supplier, table.frame, as_of=as_of, source=table.name)


def stock_reports(store: Store, actor: Actor | None, supplier: str) -> pl.DataFrame:
    """Every stock report of ``supplier``, newest first: report_id, as_of, recorded_at,
    recorded_by, source, lines."""
    scope(actor, supplier)
    return store.query(
        "SELECT report_id, as_of, recorded_at, recorded_by, source, lines "
        "FROM supplier_stock_reports WHERE supplier = ? ORDER BY as_of DESC, report_id DESC",
        [supplier],
    )


def own_stock(
    store: Store, actor: Actor | None, supplier: str, *, as_of: date | None = None
) -> pl.DataFrame:
    """:func:`supplier_stock` of one supplier, for someone allowed to see it; every SKU it
    supplies us has a row (no report yet: nulls)."""
    scope(actor, supplier)
    current = supplier_stock(store, as_of=as_of, supplier=supplier)
    items = supplier_items(store, actor, supplier).select("sku", "name")
    return items.join(current.drop("name"), on="sku", how="left").with_columns(
        pl.lit(supplier).alias("supplier")
    )


# -- orders, shipments and requests for allocation ------------------------------------------------
OPEN_ORDERS_SQL = """
WITH received AS (
    SELECT reference AS po_number, sku, sum(quantity) AS received
    FROM ledger WHERE movement_type = 'receipt'
      AND reference IN (SELECT po_number FROM purchase_orders WHERE supplier = $supplier)
    GROUP BY ALL
), shipped AS (
    SELECT po_number, sku, sum(quantity) AS shipped, max(shipped_on) AS last_shipped,
           arg_max(expected_date, shipment_id) AS shipment_eta
    FROM supplier_shipments WHERE supplier = $supplier GROUP BY ALL
)
SELECT p.po_number, p.sku, pr.name, p.location, loc.kind = 'vmi' AS call_off, p.quantity,
       coalesce(r.received, 0)::BIGINT AS received,
       coalesce(s.shipped, 0)::BIGINT AS shipped,
       greatest(p.quantity - greatest(coalesce(r.received, 0), coalesce(s.shipped, 0)), 0)::BIGINT
           AS to_ship,
       p.order_date, p.expected_date, s.last_shipped, s.shipment_eta
FROM purchase_orders p
LEFT JOIN received r USING (po_number, sku)
LEFT JOIN shipped s USING (po_number, sku)
LEFT JOIN products pr ON pr.sku = p.sku
LEFT JOIN locations loc ON loc.code = p.location
WHERE p.supplier = $supplier AND p.status = 'open' AND coalesce(r.received, 0) < p.quantity
ORDER BY p.expected_date, p.po_number, p.sku
"""


def open_orders(store: Store, actor: Actor | None, supplier: str) -> pl.DataFrame:
    """``supplier``'s open purchase order lines (call-offs into a VMI site flagged), with what
    it shipped and what we received: po_number, sku, name, location, call_off, quantity,
    received, shipped, to_ship, order_date, expected_date (promised), last_shipped,
    shipment_eta (the latest shipment's expected date)."""
    scope(actor, supplier)
    return store.query(OPEN_ORDERS_SQL, {"supplier": supplier})


def record_shipment(
    store: Store,
    actor: Actor | None,
    supplier: str,
    po_number: str,
    sku: str,
    quantity: int,
    *,
    shipped_on: date,
    expected_date: date,
) -> int:
    """Record that ``supplier`` shipped ``quantity`` of an open PO line of its own, with
    the date it expects the goods with us. The line keeps the date promised when it was
    ordered (on-time rate and late inbound are measured against the promise; a new promise
    is an expedite's); the shipment's date shows next to it. Returns the shipment id."""
    scope(actor, supplier, write=True)
    assert actor is not None
    if not isinstance(quantity, int) or isinstance(quantity, bool) or quantity <= 0:
        raise CollabError(f"a shipment is a positive whole number of units, not {quantity!r}")
    if expected_date < shipped_on:
        raise CollabError(f"it cannot arrive ({expected_date}) before it ships ({shipped_on})")
    today = position.resolve_as_of(store, None)
    if shipped_on > today:
        raise CollabError(f"it cannot have shipped on {shipped_on}, after the data's {today}")
    with store.transaction() as cur:
        line = cur.execute(
            f"SELECT to_ship FROM ({OPEN_ORDERS_SQL}) WHERE po_number = $po AND sku = $sku",  # noqa: S608
            {"supplier": supplier, "po": po_number, "sku": sku},
        ).fetchall()
        if not line:
            raise NotFoundError(
                f"{supplier} has no open order line {po_number!r} of {sku!r}",
                title="Unknown order line",
            )
        to_ship = int(line[0][0])
        if quantity > to_ship:
            raise CollabError(
                f"{po_number} has {to_ship:,} of {sku} left to ship; {quantity:,} is more"
            )
        shipment_id = cur.execute(
            "INSERT INTO supplier_shipments (supplier, po_number, sku, quantity, shipped_on, "
            "expected_date, recorded_at, recorded_by) VALUES (?, ?, ?, ?, ?, ?, ?, ?) "
            "RETURNING shipment_id",
            [
                supplier,
                po_number,
                sku,
                quantity,
                shipped_on,
                expected_date,
                datetime.now(),
                actor.name,
            ],
        ).fetchall()[0][0]
    log.info("%s recorded shipment %s of %s %s", actor.name, shipment_id, po_number, sku)
    return int(shipment_id)


def shipments(store: Store, actor: Actor | None, supplier: str) -> pl.DataFrame:
    scope(actor, supplier)
    return store.query(
        "SELECT shipment_id, po_number, sku, quantity, shipped_on, expected_date, recorded_at, "
        "recorded_by FROM supplier_shipments WHERE supplier = ? ORDER BY shipment_id DESC",
        [supplier],
    )


def allocation_requests(
    store: Store, actor: Actor | None, supplier: str, *, answered: bool = False
) -> pl.DataFrame:
    """Requests for allocation sent to ``supplier`` (approved and posted; with ``answered``
    also those it answered): action_id, sku, name, quantity, arrival_date (needed by),
    explanation, status."""
    scope(actor, supplier)
    return store.query(
        "SELECT a.action_id, a.sku, p.name, a.quantity, a.arrival_date AS needed_by, "
        "a.explanation, a.status FROM actions a LEFT JOIN products p USING (sku) "
        "WHERE a.kind = 'request_allocation' AND a.supplier = $supplier "
        "AND (a.status = 'posted' OR ($answered AND a.status = 'closed')) "
        "ORDER BY a.action_id DESC",
        {"supplier": supplier, "answered": answered},
    )


def answer_allocation(
    store: Store,
    actor: Actor | None,
    supplier: str,
    action_id: int,
    quantity: int,
    available_date: date,
    note: str = "",
) -> int | None:
    """``supplier`` answers a request for allocation sent to it: it allocates ``quantity``
    (0 when it cannot), ready from ``available_date``, and the request closes with the
    answer in its trail. An allocation beyond what the supplier last reported holding for us
    is also a stock report line of that SKU, as of the end of the data's today (returned: its
    report id); one within it, or a refusal, changes no figure (a report's date is when its
    figures were true). One transaction."""
    scope(actor, supplier, write=True)
    assert actor is not None
    if not isinstance(quantity, int) or isinstance(quantity, bool) or quantity < 0:
        raise CollabError(f"an allocation is a whole number of units, not {quantity!r}")
    today = position.resolve_as_of(store, None)
    if available_date < today:
        raise CollabError(f"ready from {available_date} is before the data's today {today}")
    text = (note or "").strip()[:500]
    from control_tower.actions import _event, _load, _set_status

    with store.transaction() as cur:
        try:
            action = _load(cur, action_id)
        except NotFoundError:
            action = None
        if (
            action is None
            or action["kind"] != "request_allocation"
            or action["supplier"] != supplier
        ):
            raise NotFoundError(
                f"{supplier} has no request for allocation {action_id}", title="Unknown request"
            )
        if action["status"] != "posted":
            raise CollabError(
                f"request {action_id} is {action['status']}, not waiting for an answer"
            )
        stamp = end_of_day(today)
        latest = cur.execute(
            "SELECT max(as_of) FROM supplier_stock_reports WHERE supplier = ?", [supplier]
        ).fetchall()[0][0]
        if latest is not None and stamp < latest:
            stamp = latest
        # the SKU's current report line: an allocation beyond it is the new figure (a report
        # of its own, as of the end of the data's today); one within it, or a refusal,
        # changes no figure
        current = cur.execute(
            "SELECT s.available_qty FROM supplier_stock s "
            "JOIN supplier_stock_reports r USING (report_id) WHERE s.supplier = ? AND s.sku = ? "
            "ORDER BY r.as_of DESC, s.report_id DESC LIMIT 1",
            [supplier, action["sku"]],
        ).fetchall()
        held = int(current[0][0]) if current else 0
        report_id = None
        if quantity > held:
            report_id = cur.execute(
                "INSERT INTO supplier_stock_reports (supplier, as_of, recorded_at, recorded_by, "
                "source, lines) VALUES (?, ?, ?, ?, ?, 1) RETURNING report_id",
                [
                    supplier,
                    stamp,
                    datetime.now(),
                    actor.name,
                    f"allocation for request {action_id}",
                ],
            ).fetchall()[0][0]
            cur.execute(
                "INSERT INTO supplier_stock VALUES (?, ?, ?, ?, ?, ?)",
                [report_id, supplier, action["sku"], quantity, available_date, text or None],
            ).fetchall()
        _set_status(cur, action_id, "closed")
        _event(
            cur,
            action_id,
            actor,
            "posted",
            "closed",
            f"{supplier} allocated {quantity:,} of {action['quantity']:,}, ready from "
            f"{available_date}" + (f": {text}" if text else ""),
            action["quantity"],
            quantity,
        )
    log.info("%s answered allocation request %s: %d", actor.name, action_id, quantity)
    return None if report_id is None else int(report_id)


def suppliers_for(store: Store, actor: Actor | None) -> pl.DataFrame:
    """The suppliers ``actor`` may open in the portal: a supplier user its own, staff and
    viewers every one (code, name, vmi)."""
    if actor is None:
        raise SupplierAccessError("sign in to open the supplier portal")
    if actor.role == "supplier":
        return store.query("SELECT code, name, vmi FROM suppliers WHERE code = ?", [actor.supplier])
    return store.query("SELECT code, name, vmi FROM suppliers ORDER BY code")


def stock_template(store: Store, actor: Actor | None, supplier: str) -> bytes:
    """A CSV to fill in: the supplier's SKUs with the columns of a stock report, the current
    figures filled in."""
    current = own_stock(store, actor, supplier)
    rows = current.select(
        "sku",
        pl.col("available_qty").alias("available_quantity"),
        pl.col("available_date").cast(pl.String),
        *(
            pl.col("capacity").list.get(w - 1, null_on_oob=True).alias(f"capacity_week_{w}")
            for w in range(1, CAPACITY_WEEKS + 1)
        ),
        "note",
    )
    return rows.write_csv().encode("utf-8")


def scorecard(store: Store, settings, *, as_of: date | None = None) -> pl.DataFrame:
    """One row per supplier: performance from actual receipts (on-time rate, lead time mean
    and spread against the stated, fill rate; :func:`control_tower.suppliers.supplier_performance`),
    its stock report (SKUs reported, how many are below their low-water mark, the report's
    age) and what we owe it for consigned stock consumed and not yet settled."""
    from control_tower import suppliers

    day = position.resolve_as_of(store, as_of)
    cfg = settings.suppliers
    perf = suppliers.supplier_performance(
        store, as_of=day, days=cfg.performance_days, grace_days=cfg.on_time_grace_days
    )
    heads = store.query("SELECT code AS supplier, name AS supplier_name, vmi FROM suppliers")
    stock = stock_with_marks(store, settings, as_of=day).rename({"low_water": "low"})
    stock_summary = (
        stock.group_by("supplier")
        .agg(
            pl.len().alias("skus_reported"),
            pl.col("low").sum().alias("skus_low_water"),
            pl.col("available_qty").sum().alias("units_reported"),
            pl.col("reported_at").max().alias("last_report"),
        )
        .with_columns(
            (pl.lit(day) - pl.col("last_report").dt.date()).dt.total_days().alias("report_age_days")
        )
    )
    owed = store.query(
        "SELECT supplier, sum(amount)::DOUBLE AS unsettled_amount, sum(quantity)::BIGINT AS "
        "unsettled_units FROM payables WHERE statement_id IS NULL GROUP BY supplier"
    )
    return (
        heads.join(perf.drop("name"), on="supplier", how="left")
        .join(stock_summary, on="supplier", how="left")
        .join(owed, on="supplier", how="left")
        .with_columns(
            pl.col("skus_reported").fill_null(0),
            pl.col("skus_low_water").fill_null(0),
            pl.col("unsettled_amount").fill_null(0.0),
            pl.col("unsettled_units").fill_null(0),
        )
        .sort("supplier")
    )


def stock_of_sku(store: Store, sku: str, *, as_of: date | None = None) -> pl.DataFrame:
    """What each supplier of ``sku`` last reported holding for us (the network view's row
    beyond our own locations): supplier, supplier_name, site, available_qty, available_date,
    capacity_total, reported_at, age_days."""
    return (
        supplier_stock(store, as_of=as_of)
        .filter(pl.col("sku") == sku)
        .select(
            "supplier",
            "supplier_name",
            "site",
            "available_qty",
            "available_date",
            "capacity_total",
            "reported_at",
            "age_days",
        )
    )


def stock_with_marks(store: Store, settings, *, as_of: date | None = None) -> pl.DataFrame:
    """:func:`supplier_stock` with our network's expected daily demand of each SKU, its
    low-water mark (units) and whether the reported stock is below it (what the rule in
    :mod:`control_tower.supplier_rules` raises)."""
    from control_tower import supplier_rules

    day = position.resolve_as_of(store, as_of)
    stock = supplier_stock(store, as_of=day)
    demand = dict(
        store.rows(
            supplier_rules.NETWORK_DEMAND_SQL,
            {"as_of": day, "days": settings.position.demand_window_days},
        )
    )
    daily = [float(demand.get(sku) or 0.0) for sku in stock["sku"].to_list()]
    marks = [
        math.ceil(supplier_rules.threshold(settings, sup, sku, d))
        for (sup, sku), d in zip(stock.select("supplier", "sku").iter_rows(), daily, strict=True)
    ]
    return stock.with_columns(
        pl.Series("daily_demand", daily, dtype=pl.Float64),
        pl.Series("low_water_mark", marks, dtype=pl.Int64),
    ).with_columns((pl.col("available_qty") < pl.col("low_water_mark")).alias("low_water"))
