"""Stock position per SKU x location, derived from the store on every call.

Invariants (every figure derives from the store; nothing here keeps a second copy):

- ``on_hand`` = ``SUM(ledger.quantity)`` of the (sku, location) over all owners, counting only
  movements before ``as_of + 1 day``; ``consigned`` is the part owned by a supplier (owner other
  than ``'company'``); ``reserved`` is 0 for now; ``available = on_hand - reserved``.
- in transit of one transfer = ``-(its transfer_out legs at the source) - (its transfer_in legs
  at the destination)``, the legs being ledger rows whose reference is the transfer id, floored
  at 0; it counts as ``in_transit_out`` at the source and ``in_transit_in`` at the destination.
  Only dispatched transfers count (status ``in_transit`` or ``received``; ``planned`` and
  ``cancelled`` ones never are in transit), and one whose ``received_date`` lies before
  ``as_of`` is complete. Legs are looked for from the earliest ship date of those transfers on
  (a leg is posted at or after its ship date), so old ledger row groups are skipped.
- on order of one purchase order line open at the end of ``as_of`` (see below) =
  ``quantity - receipts`` up to the cut-off with reference = the PO number for that sku and
  location, floored at 0. The same lines are the purchase orders of :func:`inbound`.

  *Which lines were open on a past day.* The schema keeps only a line's current ``status``
  (``open`` / ``closed`` / ``cancelled``), no date it was closed or cancelled. A line ordered on
  or before ``as_of`` counts when it is ``open`` now, or ``closed`` now but has a receipt of its
  own (same PO number, sku and location) dated after ``as_of``: it was still open on that day
  (a line is assumed not to be received after it was closed), and it counts with
  ``quantity - receipts before the cut-off``. A line that was open on ``as_of`` but has since
  been closed without any later receipt (closed short, or by hand) or cancelled is not counted,
  as nothing in the data says when that happened: for a past ``as_of``, on order can be
  understated by such lines (never overstated, under that assumption). For ``as_of`` = the
  data's today the current statuses are exact.
- ``avg_daily_demand`` = demand over the ``demand_window_days`` days ending ``as_of`` divided by
  the window, from ``demand_history``. A location that records no customer demand in the window
  (a DC feeding others) uses its outbound movements (sales, issues, transfers out, consumption)
  instead; ``demand_source`` says which (``'demand'`` or ``'outbound'``).
- ``days_of_cover`` = ``max(available, 0) / avg_daily_demand``; null without demand.
- ``status``: ``no_stock`` (available <= 0), else ``dead`` (no outbound for ``dead_stock_days``,
  counted from the first movement when there never was one), else ``short`` (cover below
  ``short_cover_days``), else ``excess`` (cover above ``excess_cover_days``, or stock with no
  demand), else ``ok``.
- ABC per location by consumption value: demand over the last 52 weeks x unit cost; an item
  is A while the items ranked above it at that location hold less than the first
  ``abc_thresholds`` share of the value, B below the second, else C. XYZ by the coefficient of
  variation (population std / mean) of weekly demand over the last 13 full weeks (fewer when
  the data is younger; weeks without demand count as 0): X up to the first ``xyz_thresholds``,
  Y up to the second, else Z; no demand in those weeks is Z with a null ``cv``. At a location
  without customer demand (a DC feeding others) the SKU's network demand (summed over all
  locations) is the demand that counts; when no location has any demand in the 52 weeks, each
  location's outbound movements are used instead.

The ledger is aggregated once per call in DuckDB (see :data:`POSITION_SQL`); results are cached
per (store object, store.version, as_of, settings), so a page and the KPI services that need the
same position share one computation. :func:`clear_cache` empties it.
"""

from __future__ import annotations

import logging
import re
import threading
import weakref
from collections import OrderedDict
from collections.abc import Sequence
from datetime import date, datetime, time, timedelta
from typing import Any

import polars as pl

from control_tower.config import PositionSettings
from control_tower.errors import NotFoundError
from control_tower.store import Store

log = logging.getLogger(__name__)

COMPANY = "company"
ABC_WEEKS = 52  # consumption value for ABC: the last 52 weeks
XYZ_WEEKS = 13  # variability for XYZ: weekly demand of the last 13 full weeks (a quarter)
YEAR_DAYS = 7 * ABC_WEEKS

STATUSES = ("no_stock", "dead", "short", "excess", "ok")

# -- SQL ------------------------------------------------------------------------------------
# Purchase order lines open at the end of $as_of (two CTEs, shared by the statements below).
# The schema keeps a line's current status only, no close date: a line ordered by then counts
# when it is open now, or closed now but with a receipt of its own (same PO number, sku and
# location) dated after the day, which shows it was still open on it. See the module docstring.
PO_LINES_SQL = """
po_received_later AS (  -- receipts after the day (none when as_of is the data's today)
    SELECT DISTINCT reference AS po_number, sku, location
    FROM ledger
    WHERE movement_type = 'receipt' AND ts >= $cutoff AND reference IS NOT NULL
),
po_lines AS (
    SELECT p.po_number, p.sku, p.supplier, p.location, p.quantity, p.order_date,
           p.expected_date
    FROM purchase_orders p
    WHERE p.order_date <= $as_of
      AND (p.status = 'open'
           OR (p.status = 'closed' AND EXISTS (
               SELECT 1 FROM po_received_later r
               WHERE r.po_number = p.po_number AND r.sku = p.sku
                 AND r.location = p.location)))
)"""

# Transfers dispatched and not yet received as of the cut-off, and what each still has in
# transit: its outbound legs at the source less its inbound legs at the destination (the one
# definition of in transit, shared by the position and the inbound list). $sku narrows it to
# one SKU (None: all).
TRANSIT_SQL = """
live_transfers AS (
    SELECT transfer_id, sku, from_location, to_location, ship_date, expected_date
    FROM transfers
    WHERE status IN ('in_transit', 'received')
      AND (received_date IS NULL OR received_date >= $as_of)
      AND ($sku IS NULL OR sku = $sku)
),
transit AS (  -- per transfer: dispatched and not yet received
    SELECT t.transfer_id, t.sku, t.from_location, t.to_location, t.ship_date, t.expected_date,
           greatest(
               -coalesce(sum(l.quantity) FILTER (WHERE l.movement_type = 'transfer_out'
                                                   AND l.location = t.from_location), 0)
               - coalesce(sum(l.quantity) FILTER (WHERE l.movement_type = 'transfer_in'
                                                   AND l.location = t.to_location), 0),
               0) AS in_transit
    FROM live_transfers t
    JOIN ledger l ON l.reference = t.transfer_id AND l.sku = t.sku
    WHERE l.ts >= $transit_from AND l.ts < $cutoff
      AND l.movement_type IN ('transfer_out', 'transfer_in')
    GROUP BY ALL
),
"""


# Parameters: $as_of (DATE), $cutoff (TIMESTAMP, as_of + 1 day), $window_start (TIMESTAMP, first
# day of the demand window), $window_days, $year_start (DATE, first day of the 52 weeks for ABC),
# $xyz_start (DATE, first day of the full weeks used for XYZ), $xyz_weeks, $transit_from and
# $po_from (TIMESTAMP, the earliest ship date of a live transfer / order date of an open PO line:
# no leg or receipt of theirs can be older, so older row groups are skipped),
# $outbound_locations (locations without customer demand in the window), thresholds.
POSITION_SQL = (
    "WITH"  # noqa: S608 (constants only: the shared PO lines CTEs, no input)
    + PO_LINES_SQL
    + """,
led AS (  -- the ledger up to the cut-off, aggregated once: per (sku, location, movement type)
    -- Sales, the bulk of the rows, are grouped apart on (sku, location) alone, which DuckDB
    -- hashes faster; a first movement is never a sale (stock comes first), so it is not kept.
    SELECT sku, location, 'sale' AS movement_type,
           sum(quantity) AS qty, max(ts) AS last_ts, NULL AS first_ts
    FROM ledger
    WHERE ts < $cutoff AND movement_type = 'sale'
    GROUP BY sku, location
    UNION ALL
    SELECT sku, location, movement_type,
           sum(quantity) AS qty, max(ts) AS last_ts, min(ts) AS first_ts
    FROM ledger
    WHERE ts < $cutoff AND movement_type <> 'sale'
    GROUP BY ALL
),
consigned AS (  -- supplier-owned stock (a narrow filtered pass: only VMI rows survive)
    SELECT sku, location, sum(quantity) AS consigned
    FROM ledger
    WHERE ts < $cutoff AND owner <> 'company'
    GROUP BY ALL
),
stock AS (
    SELECT sku, location,
           sum(qty) AS on_hand,
           CAST(max(last_ts) FILTER (WHERE movement_type IN
               ('sale', 'issue', 'transfer_out', 'consignment_consume')) AS DATE)
               AS last_outbound_date,
           CAST(max(last_ts) FILTER (WHERE movement_type IN ('receipt', 'transfer_in')) AS DATE)
               AS last_inbound_date,
           CAST(min(first_ts) AS DATE) AS first_movement_date
    FROM led
    GROUP BY sku, location
),
outbound_window AS (  -- the demand signal of locations without customer demand
    SELECT sku, location, -sum(quantity) AS outbound_window
    FROM ledger
    WHERE ts >= $window_start AND ts < $cutoff
      AND movement_type IN ('sale', 'issue', 'transfer_out', 'consignment_consume')
    GROUP BY ALL
),
"""
    + TRANSIT_SQL
    + """transit_in AS (
    SELECT sku, to_location AS location, sum(in_transit) AS in_transit_in
    FROM transit WHERE in_transit > 0 GROUP BY ALL
),
transit_out AS (
    SELECT sku, from_location AS location, sum(in_transit) AS in_transit_out
    FROM transit WHERE in_transit > 0 GROUP BY ALL
),
open_po AS (
    SELECT po_number, sku, location, quantity FROM po_lines
),
po_received AS (  -- receipts up to the cut-off
    SELECT reference AS po_number, sku, location, sum(quantity) AS received
    FROM ledger
    WHERE movement_type = 'receipt' AND ts >= $po_from AND ts < $cutoff
      AND reference IN (SELECT po_number FROM open_po)
    GROUP BY ALL
),
on_order AS (
    SELECT p.sku, p.location,
           sum(greatest(p.quantity - coalesce(r.received, 0), 0)) AS on_order
    FROM open_po p
    LEFT JOIN po_received r USING (po_number, sku, location)
    GROUP BY ALL
),
demand_window AS (  -- customer demand in the window
    SELECT sku, location, sum(quantity) AS demand_window
    FROM demand_history
    WHERE date >= CAST($window_start AS DATE) AND date <= $as_of
    GROUP BY ALL
),
year_demand AS (  -- 52 weeks of demand: the consumption behind ABC
    SELECT sku, location, sum(quantity) AS year_qty
    FROM demand_history
    WHERE date >= $year_start AND date <= $as_of
    GROUP BY ALL
),
weekly_cells AS (  -- weekly demand of the last XYZ weeks: its variability is behind XYZ
    SELECT sku, location, ($as_of - date) // 7 AS week, sum(quantity) AS week_qty
    FROM demand_history
    WHERE date >= $xyz_start AND date <= $as_of
    GROUP BY ALL
),
weekly_demand AS (
    SELECT y.sku, y.location, y.year_qty, w.xyz_qty, w.xyz_qty_sq
    FROM year_demand y
    LEFT JOIN (
        SELECT sku, location, sum(week_qty) AS xyz_qty, sum(week_qty * week_qty) AS xyz_qty_sq
        FROM weekly_cells
        GROUP BY ALL
    ) w USING (sku, location)
),
network_demand AS (  -- the SKU's demand over all locations: what a DC feeding them serves
    SELECT y.sku, y.year_qty, w.xyz_qty, w.xyz_qty_sq
    FROM (SELECT sku, sum(year_qty) AS year_qty FROM year_demand GROUP BY sku) y
    LEFT JOIN (
        SELECT sku, sum(week_qty) AS xyz_qty, sum(week_qty * week_qty) AS xyz_qty_sq
        FROM (SELECT sku, week, sum(week_qty) AS week_qty FROM weekly_cells GROUP BY ALL)
        GROUP BY sku
    ) w USING (sku)
),
weekly_outbound AS (  -- only when no location has demand: classes from the ledger's outbound
    SELECT sku, location, sum(week_qty) AS year_qty,
           sum(week_qty) FILTER (WHERE week < $xyz_weeks) AS xyz_qty,
           sum(week_qty * week_qty) FILTER (WHERE week < $xyz_weeks) AS xyz_qty_sq
    FROM (
        SELECT sku, location, ($as_of - CAST(ts AS DATE)) // 7 AS week,
               -sum(quantity) AS week_qty
        FROM ledger
        WHERE $outbound_classes
          AND ts >= CAST($year_start AS TIMESTAMP) AND ts < $cutoff
          AND movement_type IN ('sale', 'issue', 'transfer_out', 'consignment_consume')
        GROUP BY ALL
    )
    GROUP BY ALL
),
keys AS (
    SELECT sku, location FROM stock
    UNION SELECT sku, location FROM demand_window
    UNION SELECT sku, location FROM year_demand
    UNION SELECT sku, location FROM on_order
    UNION SELECT sku, location FROM transit_in
    UNION SELECT sku, location FROM transit_out
),
base AS (
    SELECT k.sku, p.name, p.category, k.location,
           loc.name AS location_name, loc.kind AS location_kind, loc.region,
           CAST(coalesce(s.on_hand, 0) AS BIGINT) AS on_hand,
           CAST(coalesce(c.consigned, 0) AS BIGINT) AS consigned,
           CAST(0 AS BIGINT) AS reserved,
           CAST(coalesce(ti.in_transit_in, 0) AS BIGINT) AS in_transit_in,
           CAST(coalesce(tout.in_transit_out, 0) AS BIGINT) AS in_transit_out,
           CAST(coalesce(oo.on_order, 0) AS BIGINT) AS on_order,
           NOT list_contains($outbound_locations, k.location) AS has_demand_signal,
           CAST(coalesce(dw.demand_window, 0) AS BIGINT) AS demand_window_units,
           CAST(coalesce(ow.outbound_window, 0) AS BIGINT) AS outbound_window_units,
           CAST(coalesce(CASE WHEN $outbound_classes THEN wo.year_qty
                              WHEN list_contains($outbound_locations, k.location) THEN nd.year_qty
                              ELSE wd.year_qty END, 0) AS DOUBLE) AS signal_year_qty,
           CAST(coalesce(CASE WHEN $outbound_classes THEN wo.xyz_qty
                              WHEN list_contains($outbound_locations, k.location) THEN nd.xyz_qty
                              ELSE wd.xyz_qty END, 0) AS DOUBLE) AS signal_xyz_qty,
           CAST(coalesce(CASE WHEN $outbound_classes THEN wo.xyz_qty_sq
                              WHEN list_contains($outbound_locations, k.location)
                                  THEN nd.xyz_qty_sq
                              ELSE wd.xyz_qty_sq END, 0) AS DOUBLE) AS signal_xyz_qty_sq,
           CAST(p.unit_cost AS DOUBLE) AS unit_cost,
           s.last_outbound_date, s.last_inbound_date, s.first_movement_date
    FROM keys k
    LEFT JOIN products p ON p.sku = k.sku
    LEFT JOIN locations loc ON loc.code = k.location
    LEFT JOIN stock s ON s.sku = k.sku AND s.location = k.location
    LEFT JOIN consigned c ON c.sku = k.sku AND c.location = k.location
    LEFT JOIN transit_in ti ON ti.sku = k.sku AND ti.location = k.location
    LEFT JOIN transit_out tout ON tout.sku = k.sku AND tout.location = k.location
    LEFT JOIN on_order oo ON oo.sku = k.sku AND oo.location = k.location
    LEFT JOIN demand_window dw ON dw.sku = k.sku AND dw.location = k.location
    LEFT JOIN outbound_window ow ON ow.sku = k.sku AND ow.location = k.location
    LEFT JOIN weekly_demand wd ON wd.sku = k.sku AND wd.location = k.location
    LEFT JOIN network_demand nd ON nd.sku = k.sku
    LEFT JOIN weekly_outbound wo ON wo.sku = k.sku AND wo.location = k.location
),
measured AS (
    SELECT *,
           on_hand - reserved AS available,
           CASE WHEN has_demand_signal THEN demand_window_units
                ELSE outbound_window_units END / $window_days AS avg_daily_demand,
           CASE WHEN has_demand_signal THEN 'demand' ELSE 'outbound' END AS demand_source,
           (on_hand - consigned) * coalesce(unit_cost, 0) AS stock_value,
           signal_year_qty * coalesce(unit_cost, 0) AS annual_value,
           CASE WHEN signal_xyz_qty > 0 THEN
               sqrt(greatest(signal_xyz_qty_sq / $xyz_weeks
                             - pow(signal_xyz_qty / $xyz_weeks, 2), 0))
               / (signal_xyz_qty / $xyz_weeks)
           END AS cv,
           date_diff('day', last_outbound_date, $as_of) AS days_since_outbound,
           date_diff('day', coalesce(last_outbound_date, first_movement_date), $as_of)
               AS days_without_outbound,
           date_diff('day', coalesce(greatest(last_inbound_date, last_outbound_date),
                                     first_movement_date), $as_of) AS age_days
    FROM base
),
classified AS (
    SELECT *,
           CASE WHEN avg_daily_demand > 0
                THEN greatest(available, 0) / avg_daily_demand END AS days_of_cover,
           coalesce(sum(annual_value) OVER (
               PARTITION BY location ORDER BY annual_value DESC, sku
               ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0)
               / nullif(sum(annual_value) OVER (PARTITION BY location), 0) AS value_share_before
    FROM measured
)
SELECT sku, name, category, location, location_name, location_kind, region,
       on_hand, consigned, reserved, available, in_transit_in AS in_transit, in_transit_in,
       in_transit_out, on_order,
       avg_daily_demand, days_of_cover, unit_cost, stock_value,
       last_outbound_date, days_since_outbound,
       CASE WHEN annual_value <= 0 OR value_share_before IS NULL THEN 'C'
            WHEN value_share_before < $abc_a THEN 'A'
            WHEN value_share_before < $abc_b THEN 'B'
            ELSE 'C' END AS abc,
       CASE WHEN cv IS NULL THEN 'Z'
            WHEN cv <= $xyz_x THEN 'X'
            WHEN cv <= $xyz_y THEN 'Y'
            ELSE 'Z' END AS xyz,
       CASE WHEN available <= 0 THEN 'no_stock'
            WHEN days_without_outbound >= $dead_days THEN 'dead'
            WHEN days_of_cover < $short_days THEN 'short'
            WHEN days_of_cover IS NULL OR days_of_cover > $excess_days THEN 'excess'
            ELSE 'ok' END AS status,
       demand_source, demand_window_units, outbound_window_units,
       on_hand - consigned AS owned_on_hand,
       signal_year_qty AS annual_quantity, annual_value, cv,
       last_inbound_date, first_movement_date, days_without_outbound, age_days
FROM classified
ORDER BY sku, location
"""
)

# The data's first day (XYZ counts only weeks after it), and how far back the legs of live
# transfers and the receipts of open purchase order lines can lie.
BOUNDS_SQL = (
    "WITH"  # noqa: S608 (constants only: the shared PO lines CTEs, no input)
    + PO_LINES_SQL
    + """
SELECT
    least((SELECT min(date) FROM demand_history WHERE date <= $as_of),
          (SELECT CAST(min(ts) AS DATE) FROM ledger WHERE ts < $cutoff)) AS history_start,
    (SELECT min(coalesce(ship_date, DATE '1900-01-01')) FROM transfers
     WHERE status IN ('in_transit', 'received')
       AND (received_date IS NULL OR received_date >= $as_of)) AS transit_from,
    (SELECT min(order_date) FROM po_lines) AS po_from,
    (SELECT coalesce(list(code ORDER BY code), []) FROM locations WHERE code NOT IN (
        SELECT DISTINCT location FROM demand_history
        WHERE date >= $window_first AND date <= $as_of)) AS outbound_locations,
    NOT EXISTS (SELECT 1 FROM demand_history
                WHERE date >= $year_first AND date <= $as_of) AS outbound_classes
"""
)

INBOUND_SQL = (
    "WITH"  # noqa: S608 (constants only: the shared PO lines CTEs, no input)
    + PO_LINES_SQL
    + """,
"""
    + TRANSIT_SQL
    + """open_po AS (
    SELECT * FROM po_lines WHERE $sku IS NULL OR sku = $sku
),
po_received AS (
    SELECT reference AS po_number, sku, location, sum(quantity) AS received
    FROM ledger
    WHERE movement_type = 'receipt' AND ts >= $po_from AND ts < $cutoff
      AND reference IN (SELECT po_number FROM open_po)
    GROUP BY ALL
),
lines AS (
    SELECT 'purchase_order' AS kind, p.po_number AS reference, p.sku,
           coalesce(sup.location, p.supplier) AS from_location, p.location AS to_location,
           p.supplier,
           CAST(p.quantity AS BIGINT) AS quantity,
           CAST(greatest(p.quantity - coalesce(r.received, 0), 0) AS BIGINT) AS remaining,
           p.order_date AS dispatched_date, p.expected_date
    FROM open_po p
    LEFT JOIN po_received r USING (po_number, sku, location)
    LEFT JOIN suppliers sup ON sup.code = p.supplier
    UNION ALL
    SELECT 'transfer', t.transfer_id, t.sku, t.from_location, t.to_location, NULL,
           CAST(tr.quantity AS BIGINT), CAST(t.in_transit AS BIGINT), t.ship_date, t.expected_date
    FROM transit t JOIN transfers tr USING (transfer_id)
)
SELECT l.kind, l.reference, l.sku, p.name, l.from_location, l.to_location,
       l.to_location AS location, loc.name AS location_name, l.supplier,
       l.quantity, l.remaining, l.remaining * CAST(p.unit_cost AS DOUBLE) AS value,
       l.dispatched_date, l.expected_date,
       CAST(greatest(date_diff('day', l.expected_date, $as_of), 0) AS BIGINT) AS days_late
FROM lines l
LEFT JOIN products p ON p.sku = l.sku
LEFT JOIN locations loc ON loc.code = l.to_location
WHERE l.remaining > 0
  AND ($sku IS NULL OR l.sku = $sku)
  AND ($location IS NULL OR l.to_location = $location OR l.from_location = $location)
ORDER BY l.expected_date, l.kind, l.reference, l.sku
"""
)

# Daily movements of one SKU with the running on hand per location (opening balance included).
LEDGER_DAILY_SQL = """
WITH daily AS (
    SELECT location, CAST(ts AS DATE) AS date,
           sum(quantity) FILTER (WHERE quantity > 0) AS inbound,
           -sum(quantity) FILTER (WHERE quantity < 0) AS outbound,
           sum(quantity) AS net
    FROM ledger
    WHERE sku = $sku AND ($location IS NULL OR location = $location) AND ts < $end_cutoff
    GROUP BY ALL
),
running AS (
    SELECT location, date,
           CAST(coalesce(inbound, 0) AS BIGINT) AS inbound,
           CAST(coalesce(outbound, 0) AS BIGINT) AS outbound,
           CAST(net AS BIGINT) AS net,
           CAST(sum(net) OVER (PARTITION BY location ORDER BY date
                               ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS BIGINT)
               AS on_hand
    FROM daily
)
SELECT r.date, r.location, loc.name AS location_name, r.inbound, r.outbound, r.net, r.on_hand
FROM running r LEFT JOIN locations loc ON loc.code = r.location
WHERE $start IS NULL OR r.date >= $start
ORDER BY r.location, r.date
"""

LEDGER_RAW_SQL = """
WITH running AS (
    SELECT event_id, ts, location, movement_type, quantity, owner, reference, note,
           sum(quantity) OVER (PARTITION BY location ORDER BY ts, quantity DESC, event_id
                               ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS on_hand
    FROM ledger
    WHERE sku = $sku AND ($location IS NULL OR location = $location) AND ts < $end_cutoff
)
SELECT event_id, ts, CAST(ts AS DATE) AS date, location, movement_type,
       CAST(quantity AS BIGINT) AS quantity, owner, reference, note,
       CAST(on_hand AS BIGINT) AS on_hand
FROM running
WHERE $start IS NULL OR ts >= CAST($start AS TIMESTAMP)
ORDER BY location, ts, quantity DESC, event_id
"""

SKU_EXISTS_SQL = "SELECT count(*) FROM products WHERE sku = $sku"

PRODUCT_SQL = """
SELECT sku, name, category, CAST(unit_cost AS DOUBLE) AS unit_cost FROM products WHERE sku = $sku
"""

NETWORK_LOCATIONS_SQL = """
SELECT code AS location, name AS location_name, kind AS location_kind, region
FROM locations WHERE kind <> 'supplier' ORDER BY code
"""

_PARAM = re.compile(r"\$([a-z_]+)")


def _bind(sql: str, params: dict[str, Any]) -> dict[str, Any]:
    """The subset of ``params`` a statement uses (DuckDB refuses unused named parameters)."""
    return {name: params[name] for name in set(_PARAM.findall(sql))}


def _query(store: Store, sql: str, params: dict[str, Any]) -> pl.DataFrame:
    return store.query(sql, _bind(sql, params))


def midnight(day: date) -> datetime:
    """The start of ``day`` as a timestamp (``midnight(as_of + 1 day)`` is the cut-off)."""
    return datetime.combine(day, time())


def settings_key(settings: PositionSettings) -> str:
    """The settings as a cache key part (shared with :mod:`control_tower.kpis`)."""
    return settings.model_dump_json()


def resolve_as_of(store: Store, as_of: date | datetime | None) -> date:
    """``as_of`` as a date; by default the data's today (:meth:`Store.as_of`). A store with
    neither a stock movement nor a demand record yet reads as of the day it was created
    (:meth:`Store.created_on`), a fact it keeps: its views are empty whatever the day, and
    nothing depends on when the question is put."""
    if as_of is None:
        as_of = store.as_of() or store.created_on()
    if isinstance(as_of, datetime):
        as_of = as_of.date()
    return as_of


def resolve_settings(settings: PositionSettings | None) -> PositionSettings:
    return settings if settings is not None else PositionSettings()


# -- cache ----------------------------------------------------------------------------------
_CACHE_SIZE = 8
_cache: weakref.WeakKeyDictionary[Store, OrderedDict[tuple, Any]] = weakref.WeakKeyDictionary()
_cache_lock = threading.Lock()


def cached(store: Store, key: tuple, compute: Any) -> Any:
    """``compute()`` memoised per store object and ``(store.version, *key)``; a committed write
    bumps the version, so a stale entry is never returned. Shared with :mod:`control_tower.kpis`."""
    full_key = (store.path, store.version, *key)
    with _cache_lock:
        entries = _cache.get(store)
        if entries is not None and full_key in entries:
            entries.move_to_end(full_key)
            return entries[full_key]
    value = compute()
    with _cache_lock:
        entries = _cache.setdefault(store, OrderedDict())
        entries[full_key] = value
        while len(entries) > _CACHE_SIZE:
            entries.popitem(last=False)
    return value


def clear_cache(store: Store | None = None) -> None:
    """Forget cached positions and KPIs (of one store, or all)."""
    with _cache_lock:
        if store is None:
            _cache.clear()
        else:
            _cache.pop(store, None)


# -- stock position -------------------------------------------------------------------------
def _bounds(store: Store, as_of: date, window_first: date | None = None) -> dict[str, Any]:
    """The data's first day, the $transit_from / $po_from scan bounds and the locations without
    customer demand in the window starting ``window_first``."""
    params = {
        "as_of": as_of,
        "cutoff": midnight(as_of + timedelta(days=1)),
        "window_first": window_first or as_of,
        "year_first": as_of - timedelta(days=YEAR_DAYS - 1),
    }
    history_start, transit_from, po_from, outbound_locations, outbound_classes = store.rows(
        BOUNDS_SQL, _bind(BOUNDS_SQL, params)
    )[0]
    return {
        "history_start": history_start,
        "transit_from": midnight(transit_from or as_of),
        "po_from": midnight(po_from or as_of),
        "outbound_locations": list(outbound_locations or []),
        "outbound_classes": bool(outbound_classes),
    }


def _position_params(store: Store, as_of: date, settings: PositionSettings) -> dict[str, Any]:
    cutoff = midnight(as_of + timedelta(days=1))
    window_start = as_of - timedelta(days=settings.demand_window_days - 1)
    bounds = _bounds(store, as_of, window_start)
    history_start = bounds.pop("history_start")
    history_days = (as_of - history_start).days + 1 if history_start else 0
    xyz_weeks = max(1, min(XYZ_WEEKS, history_days // 7))
    abc_a, abc_b = settings.abc_thresholds
    xyz_x, xyz_y = settings.xyz_thresholds
    return {
        "as_of": as_of,
        "cutoff": cutoff,
        "sku": None,  # TRANSIT_SQL's optional one-SKU filter: the position covers all
        "window_start": midnight(window_start),
        "window_days": float(settings.demand_window_days),
        "year_start": as_of - timedelta(days=YEAR_DAYS - 1),
        "xyz_start": as_of - timedelta(days=7 * xyz_weeks - 1),
        "xyz_weeks": xyz_weeks,
        **bounds,
        "abc_a": abc_a,
        "abc_b": abc_b,
        "xyz_x": xyz_x,
        "xyz_y": xyz_y,
        "dead_days": settings.dead_stock_days,
        "short_days": settings.short_cover_days,
        "excess_days": settings.excess_cover_days,
    }


def full_position(
    store: Store, *, as_of: date | None = None, settings: PositionSettings | None = None
) -> pl.DataFrame:
    """Every (sku, location) position with all working columns, cached (see module doc)."""
    day = resolve_as_of(store, as_of)
    settings = resolve_settings(settings)

    def compute() -> pl.DataFrame:
        params = _position_params(store, day, settings)
        frame = _query(store, POSITION_SQL, params)
        log.debug("stock position as of %s: %d rows", day, frame.height)
        return frame

    return cached(store, ("position", day, settings_key(settings)), compute)


def stock_position(
    store: Store,
    *,
    as_of: date | None = None,
    skus: Sequence[str] | None = None,
    locations: Sequence[str] | None = None,
    category: str | None = None,
    settings: PositionSettings | None = None,
) -> pl.DataFrame:
    """One row per (sku, location) with any movement, demand (in the last 52 weeks), open PO or
    transfer in transit, as of the end of ``as_of`` (default: the data's today).

    Columns: sku, name, category, location, location_name, location_kind, region, on_hand,
    consigned, reserved, available, in_transit (= in_transit_in: on its way here),
    in_transit_in, in_transit_out, on_order, avg_daily_demand,
    days_of_cover, unit_cost, stock_value, last_outbound_date, days_since_outbound, abc, xyz,
    status, then working columns (demand_source, demand_window_units, outbound_window_units,
    owned_on_hand, annual_quantity, annual_value, cv, last_inbound_date, first_movement_date,
    days_without_outbound, age_days). Service figures (demand served, stock-out days) live in
    :mod:`control_tower.kpis`.
    For a past ``as_of``, ``on_order`` uses each PO line's current status (the schema has no
    close date): a line open then but closed since without a receipt after ``as_of``, or
    cancelled since, is missed; a closed line received after ``as_of`` does count (it was open).
    Definitions: see the module docstring. Filters never change a row's figures (ABC ranks
    within the whole location)."""
    frame = full_position(store, as_of=as_of, settings=settings)
    if skus is not None:
        frame = frame.filter(pl.col("sku").is_in(list(skus)))
    if locations is not None:
        frame = frame.filter(pl.col("location").is_in(list(locations)))
    if category is not None:
        frame = frame.filter(pl.col("category") == category)
    return frame.clone()


def sku_network(
    store: Store,
    sku: str,
    *,
    as_of: date | None = None,
    settings: PositionSettings | None = None,
) -> pl.DataFrame:
    """One SKU at every non-supplier location (zeros where it has nothing), plus any supplier
    or VMI location where it has a position; the columns of :func:`stock_position`.
    Raises :class:`NotFoundError` for an unknown SKU."""
    if not store.scalar(SKU_EXISTS_SQL, {"sku": sku}):
        raise NotFoundError(f"no product with SKU {sku!r}")
    rows = stock_position(store, as_of=as_of, skus=[sku], settings=settings)
    network = store.query(NETWORK_LOCATIONS_SQL)
    missing = network.join(rows.select("location"), on="location", how="anti")
    if missing.height == 0:
        return rows
    product = store.query(PRODUCT_SQL, {"sku": sku})
    zero_ints = [
        "on_hand",
        "consigned",
        "reserved",
        "available",
        "in_transit_in",
        "in_transit_out",
        "on_order",
        "demand_window_units",
        "outbound_window_units",
        "owned_on_hand",
    ]
    filler = missing.join(product, how="cross").with_columns(
        *[pl.lit(0, dtype=pl.Int64).alias(c) for c in zero_ints],
        pl.lit(0.0).alias("avg_daily_demand"),
        pl.lit(0.0).alias("stock_value"),
        pl.lit(0.0).alias("annual_quantity"),
        pl.lit(0.0).alias("annual_value"),
        pl.lit("C").alias("abc"),
        pl.lit("Z").alias("xyz"),
        pl.lit("no_stock").alias("status"),
    )
    filler = filler.select(
        [
            filler[c].cast(dtype) if c in filler.columns else pl.lit(None, dtype=dtype).alias(c)
            for c, dtype in rows.schema.items()
        ]
    )
    return pl.concat([rows, filler]).sort("location")


def inbound(
    store: Store,
    *,
    sku: str | None = None,
    location: str | None = None,
    as_of: date | None = None,
) -> pl.DataFrame:
    """Open inbound as of ``as_of``: purchase order lines open then (status open, or closed
    with a receipt after ``as_of``; see the module docstring for what a past ``as_of`` cannot
    see) with something left to receive, and transfers with stock in transit.

    Columns: kind ('purchase_order' | 'transfer'), reference (PO number or transfer id), sku,
    name, from_location (for a PO the supplier's site, else its code), to_location, location
    (= to_location),
    location_name, supplier, quantity (ordered/shipped), remaining, value (remaining x unit
    cost), dispatched_date (order or ship date), expected_date, days_late (days past expected,
    0 when not late). ``location`` filters on either end of a transfer."""
    day = resolve_as_of(store, as_of)
    params = {
        "as_of": day,
        "cutoff": midnight(day + timedelta(days=1)),
        "sku": sku,
        "location": location,
        **_bounds(store, day),
    }
    return _query(store, INBOUND_SQL, params)


def ledger_history(
    store: Store,
    sku: str,
    location: str | None = None,
    *,
    start: date | None = None,
    end: date | None = None,
    raw: bool = False,
) -> pl.DataFrame:
    """Movements of one SKU with the running on hand per location (all owners), for the chart.

    Default (``raw=False``): one row per (location, day with movements) in ``[start, end]``:
    date, location, location_name, inbound, outbound (a magnitude), net, on_hand at the end of
    that day; the running balance includes everything before ``start``. ``raw=True``: the ledger
    rows themselves (event_id, ts, date, location, movement_type, quantity, owner, reference,
    note) with on_hand after each. ``end`` defaults to the data's today.
    Raises :class:`NotFoundError` for an unknown SKU."""
    if not store.scalar(SKU_EXISTS_SQL, {"sku": sku}):
        raise NotFoundError(f"no product with SKU {sku!r}")
    day = resolve_as_of(store, end)
    params = {
        "sku": sku,
        "location": location,
        "start": start,
        "end_cutoff": midnight(day + timedelta(days=1)),
    }
    return _query(store, LEDGER_RAW_SQL if raw else LEDGER_DAILY_SQL, params)
