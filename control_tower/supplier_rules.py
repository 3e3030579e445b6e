"""The exception rules about suppliers, run with the others by :mod:`control_tower.exceptions`:

- ``supplier_low_water``: a supplier's reported stock of a SKU is below its low-water
  threshold: units from ``[suppliers] low_water`` ('SUP-X/SKU', else 'SUP-X'), else
  ``low_water_days`` of our network's expected demand; the run drafts a request for
  allocation to the supplier;
- ``vmi_level``: a supplier's consigned stock at a VMI site is below the agreed min (the run
  drafts a call-off: a purchase order line to the supplier, delivered into the site, for what
  brings it up to the max beyond what is already on order, in whole packs) or above the max;
- ``settlement_difference``: the consumption a supplier reported for a settled period differs
  from our statement by more than ``settlement_tolerance`` units on a SKU;
- ``data_quality``: a supplier's stock report older than ``stock_report_stale_days``.
"""

from __future__ import annotations

import math
from datetime import date, datetime, timedelta

import duckdb
import polars as pl

from control_tower import actions, collab, vmi
from control_tower.config import Settings
from control_tower.store import Store, registered

NETWORK_DEMAND_SQL = """
SELECT sku, sum(quantity) / $days AS daily
FROM demand_history
WHERE date > $as_of - $days AND date <= $as_of
GROUP BY sku
"""


def _urgency(days: float, u: float) -> float:
    return u / (u + max(days, 0.0))


def threshold(settings: Settings, supplier: str, sku: str, daily: float) -> float:
    """The low-water threshold of a supplier's stock of a SKU, in units."""
    table = settings.suppliers.low_water
    if f"{supplier}/{sku}" in table:
        return float(table[f"{supplier}/{sku}"])
    if supplier in table:
        return float(table[supplier])
    return math.ceil(settings.suppliers.low_water_days * daily)


def supplier_rows(
    store: Store, settings: Settings, as_of: date, prices: dict[str, float]
) -> list[dict]:
    """Every supplier rule's rows (see the module doc)."""
    return (
        _low_water(store, settings, as_of, prices)
        + _vmi_levels(store, settings, as_of, prices)
        + _settlement(store, settings, prices)
    )


def _low_water(
    store: Store, settings: Settings, as_of: date, prices: dict[str, float]
) -> list[dict]:
    stock = collab.stock_with_marks(store, settings, as_of=as_of)
    if stock.height == 0:
        return []
    u = settings.exceptions.urgency_days
    stale = settings.suppliers.stock_report_stale_days
    rows: list[dict] = []
    reported: dict[str, datetime] = {}
    for r in stock.iter_rows(named=True):
        supplier, sku = r["supplier"], r["sku"]
        reported[supplier] = max(reported.get(supplier, r["reported_at"]), r["reported_at"])
        daily, level, held = r["daily_demand"], r["low_water_mark"], int(r["available_qty"])
        if not r["low_water"]:
            continue
        short = level - held
        cover = held / daily if daily > 0 else math.inf
        needed_by = as_of + timedelta(days=int(min(cover, 365))) if daily > 0 else as_of
        rows.append(
            {
                "rule": "supplier_low_water",
                "sku": sku,
                "location": r["site"],
                "reference": supplier,
                "value_at_risk": short * prices.get(sku, 0.0),
                "urgency": _urgency(cover if math.isfinite(cover) else 365.0, u),
                "due_date": needed_by,
                "units": float(short),
                "title": f"{supplier} low on {sku}: {held:,} left",
                "detail": (
                    f"{supplier} reports {held:,} units of {sku} for us (as of "
                    f"{r['reported_at']:%Y-%m-%d}), below its low-water mark of {level:,.0f}"
                    + (
                        f" ({settings.suppliers.low_water_days:g} days of our network's "
                        f"{daily:,.1f} a day)"
                        if f"{supplier}/{sku}" not in settings.suppliers.low_water
                        and supplier not in settings.suppliers.low_water
                        else " (set in [suppliers] low_water)"
                    )
                    + "."
                ),
                "suggestion": f"request an allocation of {level:,.0f} units from {supplier}",
                "facts": {
                    "supplier": supplier,
                    "available": held,
                    "threshold": level,
                    "daily_demand": round(daily, 3),
                    "reported_at": r["reported_at"],
                    "report_id": r["report_id"],
                },
            }
        )
    for supplier, when in reported.items():
        age = (as_of - when.date()).days
        if age > stale:
            rows.append(
                {
                    "rule": "data_quality",
                    "sku": None,
                    "location": None,
                    "reference": f"supplier-report:{supplier}",
                    "value_at_risk": 0.0,
                    "urgency": 0.5,
                    "due_date": None,
                    "units": None,
                    "title": f"{supplier}'s stock report is {age} days old",
                    "detail": (
                        f"{supplier} last reported its stock as of {when:%Y-%m-%d}, {age} days "
                        f"ago; plans use it for at most what it said then."
                    ),
                    "suggestion": f"ask {supplier} to upload its stock in the supplier portal",
                    "facts": {"supplier": supplier, "reported_at": when, "age_days": age},
                }
            )
    return rows


def _vmi_levels(
    store: Store, settings: Settings, as_of: date, prices: dict[str, float]
) -> list[dict]:
    frame = vmi.levels(store, as_of=as_of).filter(pl.col("status") != "within")
    rows = []
    holding = settings.policies.holding_rate
    for r in frame.iter_rows(named=True):
        below = r["status"] == "below min"
        gap = r["min_qty"] - r["consigned"] if below else r["consigned"] - r["max_qty"]
        price = prices.get(r["sku"], 0.0)
        rows.append(
            {
                "rule": "vmi_level",
                "sku": r["sku"],
                "location": r["location"],
                "reference": r["supplier"],
                "value_at_risk": gap * price if below else gap * price * holding,
                "urgency": 1.0 if below else 0.2,
                "due_date": as_of,
                "units": float(gap),
                "title": (
                    f"{r['supplier']}'s stock of {r['sku']} at {r['location']} "
                    + (f"{gap:,} below min" if below else f"{gap:,} above max")
                ),
                "detail": (
                    f"{r['supplier']} holds {r['consigned']:,} units of {r['sku']} at "
                    f"{r['location']} on consignment, agreed between {r['min_qty']:,} and "
                    f"{r['max_qty']:,}; {r['on_order']:,} more are on open call-offs."
                ),
                "suggestion": (
                    f"call off {max(r['max_qty'] - r['consigned'] - r['on_order'], 0):,} "
                    f"units from {r['supplier']}"
                    if below
                    else f"ask {r['supplier']} to hold back deliveries to {r['location']}"
                ),
                "facts": {
                    "supplier": r["supplier"],
                    "consigned": r["consigned"],
                    "on_order": r["on_order"],
                    "min": r["min_qty"],
                    "max": r["max_qty"],
                    "status": r["status"],
                },
            }
        )
    return rows


def _settlement(store: Store, settings: Settings, prices: dict[str, float]) -> list[dict]:
    rec = vmi.reconciliation(store, tolerance=settings.suppliers.settlement_tolerance).filter(
        pl.col("status") == "differs"
    )
    rows = []
    for r in rec.iter_rows(named=True):
        price = r["unit_price"] if r["unit_price"] is not None else prices.get(r["sku"], 0.0)
        diff = int(r["difference"])
        rows.append(
            {
                "rule": "settlement_difference",
                "sku": r["sku"],
                "location": None,
                "reference": f"ST-{r['statement_id']}",
                "value_at_risk": abs(diff) * float(price or 0.0),
                "urgency": 0.5,
                "due_date": r["period_end"],
                "units": float(abs(diff)),
                "title": (
                    f"statement ST-{r['statement_id']}: {r['supplier']} counts {diff:+,} "
                    f"units of {r['sku']}"
                ),
                "detail": (
                    f"For {r['period_start']} to {r['period_end']} our ledger gives "
                    f"{r['quantity']:,} units of {r['sku']} consumed ({r['amount']:,.2f}), "
                    f"{r['supplier']} reports {r['reported']:,}."
                ),
                "suggestion": "check the consumption postings and the supplier's count together",
                "facts": {
                    "supplier": r["supplier"],
                    "statement_id": r["statement_id"],
                    "ours": r["quantity"],
                    "theirs": r["reported"],
                    "difference": diff,
                },
            }
        )
    return rows


# -- drafting --------------------------------------------------------------------------------------
LIVE_SQL = """
SELECT kind, sku, supplier, to_location FROM actions
WHERE kind IN ('request_allocation', 'purchase_order')
  AND status IN ('proposed', 'approved', 'posted')
"""


def draft_in(
    cur: duckdb.DuckDBPyConnection, items: pl.DataFrame, as_of: date, proposed_by: str
) -> int:
    """Inside the exception run's transaction: a request for allocation per low-water item
    and a call-off per VMI site below its min, unless one is live already (proposed,
    approved, or sent and not yet answered or received), proposed under ``proposed_by`` (who
    ran the rules). Returns how many were drafted."""
    import json

    live = cur.execute(LIVE_SQL).fetchall()
    asked = {(sku, supplier) for kind, sku, supplier, _ in live if kind == "request_allocation"}
    ordered = {(sku, to) for kind, sku, _, to in live if kind == "purchase_order"}
    # where each supplier delivers (its quickest lane, else the central DC), and its terms
    delivers_to = dict(
        cur.execute(
            "SELECT s.code, coalesce((SELECT to_location FROM lanes WHERE from_location = "
            "s.location ORDER BY transit_days LIMIT 1), (SELECT code FROM locations WHERE kind = "
            "'central_dc' ORDER BY code LIMIT 1)) FROM suppliers s"
        ).fetchall()
    )
    terms = {
        (supplier, sku): (float(lead), max(int(pack or 1), 1), int(moq or 0))
        for supplier, sku, lead, pack, moq in cur.execute(
            "SELECT supplier, sku, lead_time_mean_days, pack_size, moq FROM supplier_products"
        ).fetchall()
    }
    rows = []
    for item in items.filter(pl.col("rule") == "supplier_low_water").iter_rows(named=True):
        facts = json.loads(item["facts"])
        supplier = facts["supplier"]
        if (item["sku"], supplier) in asked:
            continue
        to = delivers_to.get(supplier)
        if to is None:
            continue
        level = int(math.ceil(facts["threshold"]))
        rows.append(
            (
                "request_allocation",
                item["sku"],
                to,
                supplier,
                level,
                as_of,
                item["due_date"] or as_of,
                f"{supplier} reports {facts['available']:,} units of {item['sku']} for us, below "
                f"the low-water mark of {level:,}: ask it to allocate {level:,} units to us, "
                f"ready by {item['due_date'] or as_of}.",
            )
        )
    for item in items.filter(pl.col("rule") == "vmi_level").iter_rows(named=True):
        facts = json.loads(item["facts"])
        if facts["status"] != "below min" or (item["sku"], item["location"]) in ordered:
            continue
        supplier = facts["supplier"]
        if (supplier, item["sku"]) not in terms:
            continue
        lead, pack, moq = terms[(supplier, item["sku"])]
        want = facts["max"] - facts["consigned"] - facts["on_order"]
        if want <= 0:
            continue
        # whole packs, not past the max unless even one pack is more than the room left
        qty = max((want // pack) * pack, pack, moq)
        arrive = as_of + timedelta(days=max(math.ceil(lead), 1))
        rows.append(
            (
                "purchase_order",
                item["sku"],
                item["location"],
                supplier,
                qty,
                as_of,
                arrive,
                f"Call-off: {supplier} holds {facts['consigned']:,} of {item['sku']} at "
                f"{item['location']} on consignment, below the agreed min of {facts['min']:,}, "
                f"with {facts['on_order']:,} on order; call off {qty:,} to bring it to the "
                f"max of {facts['max']:,} (packs of {pack:,}), due {arrive}. It stays "
                f"{supplier}'s until we use it.",
            )
        )
    if not rows:
        return 0
    frame = pl.DataFrame(
        rows,
        schema={
            "kind": pl.String,
            "sku": pl.String,
            "to_location": pl.String,
            "supplier": pl.String,
            "quantity": pl.Int64,
            "ship_date": pl.Date,
            "arrival_date": pl.Date,
            "explanation": pl.String,
        },
        orient="row",
    )
    now = datetime.now()
    with registered(cur, "supplier_drafts", frame):
        made = cur.execute(
            "INSERT INTO actions (created_at, kind, status, as_of, sku, to_location, supplier, "
            "quantity, ship_date, arrival_date, proposed_by, explanation) "
            "SELECT ?, kind, 'proposed', ?, sku, to_location, supplier, quantity, ship_date, "
            "arrival_date, ?, explanation FROM supplier_drafts ORDER BY kind, sku "
            "RETURNING action_id, quantity, explanation",
            [now, as_of, proposed_by],
        ).fetchall()
    actions.record_proposed(cur, proposed_by, made)
    return len(made)
