"""What-if scenarios over the same projection and policies the exception rules and the plan
use, read-only:

- :func:`supplier_delay`: every open delivery of a supplier (PO lines not yet received)
  arrives ``days`` later than expected (a late line: ``days`` after tomorrow, where the
  projection puts it); each SKU x destination it feeds is projected as things stand and with
  the delay (:func:`control_tower.exceptions.project` with the arrivals moved), so the
  answer is the stock-outs the delay causes or deepens, in units short and sales at risk.
- :func:`service_level_change`: the policies (:func:`control_tower.policies.policies`)
  recomputed at another service level: the safety stock each SKU x location would need, and
  the difference in units and in value at cost.
"""

from __future__ import annotations

import math
from dataclasses import replace
from datetime import date, timedelta

import polars as pl

from control_tower import exceptions, position
from control_tower.config import Settings
from control_tower.errors import ControlTowerError, NotFoundError
from control_tower.policies import compute_policy, policies
from control_tower.store import Store

MAX_DELAY_DAYS = 60


class ScenarioError(ControlTowerError, ValueError):
    title = "Scenario not possible"


def supplier_delay(
    store: Store,
    supplier: str,
    days: int,
    *,
    settings: Settings | None = None,
    as_of: date | None = None,
) -> pl.DataFrame:
    """Per SKU x destination a supplier's open deliveries feed: the projection as things
    stand and with every delivery ``days`` later (see the module docstring). Columns: sku,
    location, lines, units (delayed), stockout_date_now, stockout_date_delayed,
    units_short_now, units_short_delayed, sales_at_risk_now, sales_at_risk_delayed, and the
    extra units short and sales at risk the delay causes; worst first."""
    settings = settings or Settings()
    if not 1 <= days <= MAX_DELAY_DAYS:
        raise ScenarioError(f"a delay is 1 to {MAX_DELAY_DAYS} days, not {days}")
    if not store.rows("SELECT 1 FROM suppliers WHERE code = ?", [supplier]):
        raise NotFoundError(f"no supplier {supplier!r}")
    as_of = position.resolve_as_of(store, as_of)
    lines = position.inbound(store, as_of=as_of).filter(
        (pl.col("kind") == "purchase_order") & (pl.col("supplier") == supplier)
    )
    schema = {
        "sku": pl.String,
        "location": pl.String,
        "lines": pl.Int64,
        "units": pl.Int64,
        "stockout_date_now": pl.Date,
        "stockout_date_delayed": pl.Date,
        "units_short_now": pl.Float64,
        "units_short_delayed": pl.Float64,
        "sales_at_risk_now": pl.Float64,
        "sales_at_risk_delayed": pl.Float64,
        "extra_units_short": pl.Float64,
        "extra_sales_at_risk": pl.Float64,
    }
    if lines.is_empty():
        return pl.DataFrame(schema=schema)
    tomorrow = as_of + timedelta(days=1)
    groups = {
        (sku, location): group
        for (sku, location), group in lines.group_by(["sku", "to_location"], maintain_order=True)
    }
    moved: dict[tuple[str, str], list[tuple[date, float]]] = {}
    for key, group in groups.items():
        for due, units in group.select("expected_date", "remaining").iter_rows():
            arrives = max(due or tomorrow, tomorrow)
            moved.setdefault(key, []).extend(
                [(arrives, -float(units)), (arrives + timedelta(days=days), float(units))]
            )
    pairs = list(groups)
    now_all = exceptions.project_many(store, pairs, as_of=as_of, settings=settings)
    later_all = exceptions.project_many(store, pairs, as_of=as_of, extras=moved, settings=settings)
    rows = []
    for key, group in groups.items():
        now, later = now_all[key], later_all[key]
        rows.append(
            {
                "sku": key[0],
                "location": key[1],
                "lines": group.height,
                "units": int(group["remaining"].sum()),
                "stockout_date_now": now.stockout_date,
                "stockout_date_delayed": later.stockout_date,
                "units_short_now": float(now.units_short),
                "units_short_delayed": float(later.units_short),
                "sales_at_risk_now": float(now.sales_at_risk),
                "sales_at_risk_delayed": float(later.sales_at_risk),
                "extra_units_short": float(later.units_short - now.units_short),
                "extra_sales_at_risk": float(later.sales_at_risk - now.sales_at_risk),
            }
        )
    return pl.DataFrame(rows, schema=schema).sort(
        ["extra_sales_at_risk", "sku", "location"], descending=[True, False, False]
    )


def service_level_change(
    store: Store,
    service_level: float,
    *,
    skus: list[str] | None = None,
    location: str | None = None,
    settings: Settings | None = None,
) -> pl.DataFrame:
    """Per SKU x location the safety stock at its policy's service level and at
    ``service_level`` (0.5 to 0.9999), the difference in units and at cost (overrides of the
    safety stock itself stay as set, so their difference is 0)."""
    settings = settings or Settings()
    if not (0.5 <= service_level < 1.0) or math.isnan(service_level):
        raise ScenarioError(f"a service level is from 50% to under 100%, not {service_level:.2%}")
    found = policies(
        store,
        settings.policies,
        settings.position,
        skus=skus,
        suppliers=settings.suppliers,
    )
    rows = []
    for p in found:
        if location and p.inputs.location != location:
            continue
        changed = compute_policy(
            replace(p.inputs, service_level=service_level),
            tuple(o for o in p.overrides if o.field != "service_level"),
        )
        rows.append(
            {
                "sku": p.inputs.sku,
                "location": p.inputs.location,
                "service_level_now": p.inputs.service_level,
                "safety_stock_now": p.safety_stock,
                "safety_stock_new": changed.safety_stock,
                "difference": changed.safety_stock - p.safety_stock,
                "difference_value": (changed.safety_stock - p.safety_stock) * p.inputs.unit_cost,
            }
        )
    schema = {
        "sku": pl.String,
        "location": pl.String,
        "service_level_now": pl.Float64,
        "safety_stock_now": pl.Float64,
        "safety_stock_new": pl.Float64,
        "difference": pl.Float64,
        "difference_value": pl.Float64,
    }
    return pl.DataFrame(rows, schema=schema).sort("difference_value", descending=True)
