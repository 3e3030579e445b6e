"""The demo's supplier collaboration, recorded through the same services a supplier and a
planner use: every supplier's stock reports (one supplier's report is stale, a few SKUs are
below their low-water mark), VMI levels at the VMI site from its recent consumption (a day to ten days of it), and the
VMI supplier's settlement statement for every full month, reconciled with its count; in the
last one its count differs on two SKUs.
"""

from __future__ import annotations

import logging
import math
from datetime import date, datetime, time, timedelta

import numpy as np
import polars as pl

from control_tower import collab, vmi
from control_tower.actions import Actor
from control_tower.store import Store

log = logging.getLogger(__name__)

SEEDER = Actor("demo.seed", "planner")
STALE_SUPPLIER = "SUP-YZC"  # its only report is ten days old: the data-quality rule flags it


def _daily_demand(store: Store, end: date) -> dict[str, float]:
    return dict(
        store.rows(
            "SELECT sku, sum(quantity) / 28.0 FROM demand_history WHERE date > ? AND date <= ? "
            "GROUP BY sku",
            [end - timedelta(days=28), end],
        )
    )


def seed_collaboration(store: Store, *, seed: int = 7) -> None:
    end = store.as_of()
    if end is None or store.scalar("SELECT count(*) FROM supplier_stock_reports"):
        return  # recorded once: a demo built again over itself replays nothing
    rng = np.random.default_rng(seed + 77)
    daily = _daily_demand(store, end)
    items = store.query("SELECT supplier, sku FROM supplier_products ORDER BY supplier, sku")
    for supplier, rows in items.group_by("supplier", maintain_order=True):
        code = str(supplier[0])
        skus = rows["sku"].to_list()
        rate = np.array([max(daily.get(s, 0.0), 0.2) for s in skus])
        stamps = (
            [datetime.combine(end - timedelta(days=10), time(9, 0))]
            if code == STALE_SUPPLIER
            else [
                datetime.combine(end - timedelta(days=7), time(8, 30)),
                datetime.combine(end, time(7, 30)),
            ]
        )
        for stamp in stamps:
            days = np.where(
                rng.random(len(skus)) < 0.1,
                rng.uniform(2, 10, len(skus)),
                rng.uniform(20, 60, len(skus)),
            )
            weeks = {
                f"capacity_week_{w}": [
                    str(int(v)) for v in np.rint(rate * 7 * rng.uniform(0.6, 1.6, len(skus)))
                ]
                for w in range(1, collab.CAPACITY_WEEKS + 1)
            }
            frame = pl.DataFrame(
                {
                    "sku": skus,
                    "available_quantity": [str(int(v)) for v in np.rint(rate * days)],
                    "available_date": [
                        (stamp.date() + timedelta(days=int(d))).isoformat()
                        for d in rng.integers(0, 3, len(skus))
                    ],
                    **weeks,
                }
            )
            collab.record_stock(
                store, SEEDER, code, frame, as_of=stamp, source=f"{code.lower()}-stock.xlsx"
            )
    _seed_vmi(store, end, rng)
    log.info("demo: supplier reports, VMI levels and settlements recorded")


def _seed_vmi(store: Store, end: date, rng: np.random.Generator) -> None:
    sites = store.rows("SELECT code FROM locations WHERE kind = 'vmi' ORDER BY code")
    consumed = store.query(
        "SELECT supplier, sku, location, sum(quantity) / 28.0 AS rate FROM payables "
        "WHERE consumed_at >= ? GROUP BY ALL ORDER BY supplier, sku",
        [datetime.combine(end - timedelta(days=27), time())],
    )
    for supplier, sku, location, rate in consumed.iter_rows():
        if (location,) not in sites:
            continue
        low = math.ceil(rate)
        high = max(math.ceil(rate * 10), low + 1)
        vmi.set_level(
            store,
            SEEDER,
            supplier,
            sku,
            location,
            low,
            high,
            "agreed in the VMI contract: a day of consumption to ten days (the plant is across "
            "the yard)",
        )
    # every full month settled and reconciled; the last one with two SKUs counted differently
    last_start, _last_end = vmi.month_period(end)
    for supplier, first_use in store.rows(
        "SELECT supplier, min(consumed_at)::DATE FROM payables GROUP BY supplier ORDER BY supplier"
    ):
        months = []
        start = first_use.replace(day=1)
        while start <= last_start:
            stop = (start + timedelta(days=32)).replace(day=1) - timedelta(days=1)
            months.append((start, stop))
            start = stop + timedelta(days=1)
        for start, stop in months:
            statement = vmi.issue_statement(store, SEEDER, supplier, start, stop)
            lines = vmi.reconciliation(store, statement_id=statement).select("sku", "quantity")
            reported = lines["quantity"].to_numpy().copy()
            if start == last_start and len(reported) >= 2:
                pick = rng.choice(len(reported), size=2, replace=False)
                reported[pick[0]] += 3
                reported[pick[1]] = max(reported[pick[1]] - 5, 0)
            counted = pl.DataFrame(
                {"sku": lines["sku"], "quantity": [str(int(q)) for q in reported]}
            )
            vmi.record_consumption(
                store,
                Actor("demo.supplier", "supplier", supplier) if supplier == "SUP-JNB" else SEEDER,
                supplier,
                start,
                stop,
                counted,
                source=f"{supplier.lower()}-consumption-{start:%Y-%m}.xlsx",
            )
