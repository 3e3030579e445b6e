"""Supplier performance from what actually happened (issue 7, part 1): per supplier, over
purchase-order lines ordered in a window, the on-time rate (first receipt by the expected
date plus a grace), the lead time's mean and spread (order date to first receipt), and the
order fill rate (units received of units ordered, over the lines already due), next to the
lead time and on-time rate the master data states.

A line's expected date is the one on the line now: an expedite's committed date replaces the
original promise (the schema keeps no earlier date), so a line delivered by its committed
date counts as on time.

**Measured lead times** (:func:`lead_times`, what policies and the optimizer plan with): per
supplier and SKU, from the lines of that SKU received in the window when there are at least
``lead_time_min_lines`` of them; otherwise, when the supplier's lines of all SKUs are that
many, the stated figure scaled by the supplier's own record (mean: measured over stated;
spread: the measured spread around the scaled stated means over the root mean square of the
stated spreads); otherwise the stated figure. A line still on its way is not counted (its
lead time is not known yet), which leans a short window towards the faster lines.
"""

from __future__ import annotations

from datetime import date, timedelta

import polars as pl

from control_tower import position
from control_tower.config import SupplierSettings
from control_tower.store import Store

PERFORMANCE_SQL = """
WITH lines AS (
    SELECT p.supplier, p.po_number, p.sku, p.quantity, p.order_date, p.expected_date,
           min(l.ts)::DATE AS first_receipt,
           coalesce(sum(l.quantity), 0) AS received
    FROM purchase_orders p
    LEFT JOIN ledger l ON l.reference = p.po_number AND l.sku = p.sku
         AND l.movement_type = 'receipt' AND l.ts < $cutoff
    WHERE p.order_date > $start AND p.order_date <= $as_of AND p.status <> 'cancelled'
    GROUP BY ALL
), stated AS (
    SELECT supplier, avg(lead_time_mean_days) AS stated_lead_time_days
    FROM supplier_products GROUP BY supplier
)
SELECT l.supplier, s.name,
       count(*) AS lines,
       count(l.first_receipt) AS received_lines,
       avg(CASE WHEN l.first_receipt IS NOT NULL
                THEN (l.first_receipt <= l.expected_date + $grace)::INTEGER END) AS on_time_rate,
       avg(l.first_receipt - l.order_date) AS lead_time_mean_days,
       stddev_samp(l.first_receipt - l.order_date) AS lead_time_sd_days,
       sum(least(l.received, l.quantity)) FILTER (WHERE l.expected_date <= $as_of)
         / nullif(sum(l.quantity) FILTER (WHERE l.expected_date <= $as_of), 0) AS fill_rate,
       st.stated_lead_time_days,
       s.on_time_rate AS stated_on_time_rate
FROM lines l
LEFT JOIN suppliers s ON s.code = l.supplier
LEFT JOIN stated st ON st.supplier = l.supplier
GROUP BY ALL
ORDER BY l.supplier
"""


def _window(store: Store, as_of: date | None, days: int, grace_days: int) -> dict:
    """The parameters of a window of PO lines: ordered after ``start`` up to ``as_of``,
    received before the end of ``as_of``, on time within ``grace`` days."""
    if days < 1 or grace_days < 0:
        raise ValueError("days must be at least 1 and grace_days at least 0")
    day = position.resolve_as_of(store, as_of)
    return {
        "start": day - timedelta(days=days),
        "as_of": day,
        "cutoff": position.midnight(day + timedelta(days=1)),
        "grace": grace_days,
    }


def supplier_performance(
    store: Store,
    *,
    as_of: date | None = None,
    days: int = 365,
    grace_days: int = 0,
) -> pl.DataFrame:
    """One row per supplier with a PO line ordered in the ``days`` up to ``as_of``: lines,
    received_lines, on_time_rate, lead_time_mean_days, lead_time_sd_days, fill_rate (of the
    lines due by ``as_of``), stated_lead_time_days, stated_on_time_rate. Receipts after
    ``as_of`` are not seen."""
    return store.query(PERFORMANCE_SQL, _window(store, as_of, days, grace_days))


# every inbound line into a location in the window: PO lines ordered in it (first receipt
# against the expected date) and transfers shipped in it (received date against theirs)
INBOUND_SQL = """
WITH po AS (
    SELECT p.location, p.expected_date, min(l.ts)::DATE AS received
    FROM purchase_orders p
    LEFT JOIN ledger l ON l.reference = p.po_number AND l.sku = p.sku
         AND l.movement_type = 'receipt' AND l.ts < $cutoff
    WHERE p.order_date > $start AND p.order_date <= $as_of AND p.status <> 'cancelled'
    GROUP BY p.location, p.po_number, p.sku, p.expected_date
), moved AS (
    SELECT to_location AS location, expected_date,
           CASE WHEN received_date <= $as_of THEN received_date END AS received
    FROM transfers
    WHERE ship_date > $start AND ship_date <= $as_of
), lines AS (
    SELECT location, expected_date, received, 'purchase_order' AS kind FROM po
    UNION ALL
    SELECT location, expected_date, received, 'transfer' AS kind FROM moved
)
SELECT location,
       count(*) AS lines,
       count(received) AS received_lines,
       count(*) FILTER (WHERE kind = 'purchase_order') AS po_lines,
       count(*) FILTER (WHERE kind = 'transfer') AS transfer_lines,
       avg(CASE WHEN received IS NOT NULL
                THEN (received <= expected_date + $grace)::INTEGER END) AS on_time_rate
FROM lines
GROUP BY location
ORDER BY location
"""


def inbound_on_time(
    store: Store,
    *,
    as_of: date | None = None,
    days: int = 365,
    grace_days: int = 0,
) -> pl.DataFrame:
    """Per receiving location, the on-time rate of what came in: PO lines ordered and
    transfers shipped in the ``days`` up to ``as_of``, on time when first received by the
    expected date plus ``grace_days`` (the suppliers' rule; a regional DC's inbound is its
    transfers). Columns: location, lines, received_lines, po_lines, transfer_lines,
    on_time_rate."""
    return store.query(INBOUND_SQL, _window(store, as_of, days, grace_days))


# -- measured lead times -------------------------------------------------------------------------
LEAD_TIMES_SQL = """
WITH received AS (
    SELECT p.supplier, p.sku, p.po_number,
           min(l.ts)::DATE - p.order_date AS actual
    FROM purchase_orders p
    JOIN ledger l ON l.reference = p.po_number AND l.sku = p.sku
         AND l.movement_type = 'receipt' AND l.ts < $cutoff
    WHERE p.order_date > $start AND p.order_date <= $as_of AND p.status <> 'cancelled'
    GROUP BY p.supplier, p.sku, p.po_number, p.order_date
), lines AS (
    SELECT r.supplier, r.sku, r.actual::DOUBLE AS actual,
           sp.lead_time_mean_days AS stated, sp.lead_time_std_days AS stated_sd
    FROM received r
    JOIN supplier_products sp ON sp.supplier = r.supplier AND sp.sku = r.sku
), by_sku AS (
    SELECT supplier, sku, count(*) AS lines, avg(actual) AS mean,
           coalesce(stddev_samp(actual), 0) AS sd
    FROM lines GROUP BY ALL
), ratio AS (
    SELECT supplier, count(*) AS lines, sum(actual) / nullif(sum(stated), 0) AS mean_ratio,
           sqrt(avg(stated_sd * stated_sd)) AS stated_spread
    FROM lines GROUP BY ALL
), by_supplier AS (
    SELECT r.supplier, r.lines, r.mean_ratio,
           -- the spread around each line's scaled stated mean: the SKU mix is not spread
           coalesce(sqrt(sum((l.actual - r.mean_ratio * l.stated) ** 2)
                         / nullif(count(*) - 1, 0)), 0) AS spread,
           r.stated_spread
    FROM ratio r JOIN lines l USING (supplier)
    GROUP BY ALL
)
SELECT sp.supplier, sp.sku,
       sp.lead_time_mean_days AS stated_mean_days, sp.lead_time_std_days AS stated_sd_days,
       coalesce(k.lines, 0) AS lines, coalesce(s.lines, 0) AS supplier_lines,
       k.mean AS sku_mean, k.sd AS sku_sd, s.mean_ratio, s.spread, s.stated_spread
FROM supplier_products sp
LEFT JOIN by_sku k ON k.supplier = sp.supplier AND k.sku = sp.sku
LEFT JOIN by_supplier s ON s.supplier = sp.supplier
WHERE $all_skus OR sp.sku IN (SELECT unnest($skus))
ORDER BY sp.supplier, sp.sku
"""

STATED_SQL = """
SELECT supplier, sku, lead_time_mean_days AS stated_mean_days,
       lead_time_std_days AS stated_sd_days
FROM supplier_products
WHERE $all_skus OR sku IN (SELECT unnest($skus))
ORDER BY supplier, sku
"""

LEAD_TIME_SCHEMA = {
    "supplier": pl.String,
    "sku": pl.String,
    "stated_mean_days": pl.Float64,
    "stated_sd_days": pl.Float64,
    "lines": pl.Int64,
    "supplier_lines": pl.Int64,
    "lead_time_mean_days": pl.Float64,
    "lead_time_sd_days": pl.Float64,
    "lead_time_source": pl.String,
}


def lead_times(
    store: Store,
    settings: SupplierSettings | None = None,
    *,
    as_of: date | None = None,
    skus: list[str] | None = None,
) -> pl.DataFrame:
    """The lead time to plan with per supplier and SKU of ``supplier_products`` (optionally of
    some SKUs), as of ``as_of``: supplier, sku, stated_mean_days, stated_sd_days, lines (this
    SKU's received lines in the window), supplier_lines, lead_time_mean_days,
    lead_time_sd_days and lead_time_source: ``"measured: N lines"``, ``"measured for the
    supplier: N lines"`` or ``"stated"`` (see the module docstring; ``settings.lead_times =
    "stated"``: always stated). Only PO lines ordered in the ``performance_days`` up to
    ``as_of`` and receipts up to the end of that day count: nothing later is seen."""
    settings = settings or SupplierSettings()
    day = position.resolve_as_of(store, as_of)
    scope = {"all_skus": not skus, "skus": list(skus or [])}
    if settings.lead_times == "stated":
        frame = store.query(STATED_SQL, scope)
        return frame.select(
            "supplier",
            "sku",
            "stated_mean_days",
            "stated_sd_days",
            pl.lit(0, pl.Int64).alias("lines"),
            pl.lit(0, pl.Int64).alias("supplier_lines"),
            pl.col("stated_mean_days").alias("lead_time_mean_days"),
            pl.col("stated_sd_days").alias("lead_time_sd_days"),
            pl.lit("stated").alias("lead_time_source"),
        ).cast(LEAD_TIME_SCHEMA)
    frame = store.query(
        LEAD_TIMES_SQL,
        {
            "start": day - timedelta(days=settings.performance_days),
            "as_of": day,
            "cutoff": position.midnight(day + timedelta(days=1)),
            **scope,
        },
    )
    enough = settings.lead_time_min_lines
    own = pl.col("lines") >= enough
    scaled = (pl.col("supplier_lines") >= enough) & pl.col("mean_ratio").is_not_null()
    # the supplier's spread ratio; with no stated spread, its measured spread as it is
    spread = (
        pl.when(pl.col("stated_spread") > 0)
        .then(pl.col("stated_sd_days") * pl.col("spread") / pl.col("stated_spread"))
        .otherwise(pl.col("spread"))
    )
    return frame.select(
        "supplier",
        "sku",
        "stated_mean_days",
        "stated_sd_days",
        "lines",
        "supplier_lines",
        pl.when(own)
        .then(pl.col("sku_mean"))
        .when(scaled)
        .then(pl.col("stated_mean_days") * pl.col("mean_ratio"))
        .otherwise(pl.col("stated_mean_days"))
        .round(2)
        .alias("lead_time_mean_days"),
        pl.when(own)
        .then(pl.col("sku_sd"))
        .when(scaled)
        .then(spread)
        .otherwise(pl.col("stated_sd_days"))
        .round(2)
        .alias("lead_time_sd_days"),
        pl.when(own)
        .then(pl.format("measured: {} lines", pl.col("lines")))
        .when(scaled)
        .then(pl.format("measured for the supplier: {} lines", pl.col("supplier_lines")))
        .otherwise(pl.lit("stated"))
        .alias("lead_time_source"),
    ).cast(LEAD_TIME_SCHEMA)
