"""Supplier performance from what actually happened (issue 7, part 1): per supplier, over
purchase-order lines ordered in a window, the on-time rate (first receipt by the expected
date plus a grace), the lead time's mean and spread (order date to first receipt), and the
order fill rate (units received of units ordered, over the lines already due), next to the
lead time and on-time rate the master data states.

A line's expected date is the one on the line now: an expedite's committed date replaces the
original promise (the schema keeps no earlier date), so a line delivered by its committed
date counts as on time.
"""

from __future__ import annotations

from datetime import date, timedelta

import polars as pl

from control_tower import position
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
    if days < 1 or grace_days < 0:
        raise ValueError("days must be at least 1 and grace_days at least 0")
    day = position.resolve_as_of(store, as_of)
    return store.query(
        PERFORMANCE_SQL,
        {
            "start": day - timedelta(days=days),
            "as_of": day,
            "cutoff": position.midnight(day + timedelta(days=1)),
            "grace": grace_days,
        },
    )
