"""Explanations of drafted actions, built from facts only: why the plan drafted it, what
happens if nothing is done (the destination's stock projected without it and with it, as the
stock-out rule projects it), what it costs, the alternatives and why each lost, and the
destination's safety-stock arithmetic. Stored with the action; the inbox, the Actions page,
the reports and the agent show it.

One pass explains many actions: the projection's demand and arrivals are read once for every
destination (``exceptions._flows``), so a plan's thousands of proposals are explained in
about a second.
"""

from __future__ import annotations

import json
import logging
from datetime import date

import numpy as np
import polars as pl

from control_tower import exceptions, position
from control_tower.config import Settings
from control_tower.policies import policies
from control_tower.store import Store, registered

log = logging.getLogger(__name__)


def _outcome(stockout: date | None, short: float, arrival: date | None, price: float, low: float):
    if stockout is None:
        return f"no stock-out in the next weeks (lowest stock {low:,.0f})"
    if short <= 0:
        return f"runs out on {stockout}, after an order placed today could arrive"
    until = (
        f"until the delivery on {arrival}"
        if arrival
        else "until an order placed today could arrive"
    )
    return (
        f"runs out on {stockout}, {short:,.0f} units short {until} "
        f"({short * price:,.0f} of sales at risk)"
    )


def _alternatives(text: str | None) -> str:
    if not text:
        return ""
    others = [a for a in json.loads(text) if not a.get("chosen")]
    if not others:
        return "No other source could deliver it."
    parts = [
        f"{a['source']} ({a.get('source_kind', '')}, {a['cost_per_unit']:,.2f} a unit, "
        f"arriving {a['arrival_date']}): {a['verdict']}"
        for a in others[:3]
    ]
    return "Alternatives: " + "; ".join(parts) + "."


def explain_actions(
    store: Store,
    action_ids: list[int] | None = None,
    settings: Settings | None = None,
) -> int:
    """Write the explanation of each proposed transfer or order from a plan that has none
    (or of ``action_ids``); returns how many were written."""
    settings = settings or Settings()
    drafted = store.query(
        "SELECT a.action_id, a.kind, a.sku, a.from_location, a.to_location, a.supplier, "
        "a.quantity, a.arrival_date, l.reason, l.cost, l.unit_price, l.alternatives "
        "FROM actions a JOIN plan_lines l ON l.run_id = a.plan_run AND l.line_no = a.plan_line "
        "WHERE a.kind IN ('transfer', 'purchase_order') AND "
        "($all AND a.status = 'proposed' AND a.explanation IS NULL "
        " OR a.action_id IN (SELECT unnest($ids)))",
        {"all": action_ids is None, "ids": action_ids or [-1]},
    )
    if drafted.height == 0:
        return 0
    as_of = position.resolve_as_of(store, None)
    horizon = settings.exceptions.lookahead_days
    pairs = drafted.select("sku", location="to_location").unique().sort("sku", "location")
    pos = position.full_position(store, as_of=as_of, settings=settings.position)
    stock = (
        pairs.join(
            pos.select("sku", "location", "available", "avg_daily_demand"),
            on=["sku", "location"],
            how="left",
        )
        .with_columns(pl.col("available").fill_null(0), pl.col("avg_daily_demand").fill_null(0.0))
        .with_row_index("i")
    )
    flows = exceptions._flows(  # the stock-out rule's own demand and arrivals
        store, stock, as_of, horizon, None, position.inbound(store, as_of=as_of)
    )
    index = {(r[1], r[2]): r[0] for r in stock.select("i", "sku", "location").iter_rows()}
    available = stock["available"].to_numpy().astype(float)
    prices = exceptions._prices(store)
    found = policies(
        store,
        settings.policies,
        settings.position,
        as_of=as_of,
        skus=sorted(set(pairs["sku"])),
        suppliers=settings.suppliers,
    )
    safety = {(p.inputs.sku, p.inputs.location): p for p in found}
    texts = []
    # per destination, not per action: its projection as things stand and its formula
    as_things_stand: dict[int, tuple] = {}
    formula: dict[int, str] = {}
    for a in drafted.iter_rows(named=True):
        i = index[(a["sku"], a["to_location"])]
        price = prices.get(a["sku"], 0.0)
        arrivals, demand = flows.arrivals[i], flows.demand[i]
        policy = safety.get((a["sku"], a["to_location"]))
        lead = policy.inputs.lead_time_days if policy is not None else None
        if i not in as_things_stand:
            as_things_stand[i] = exceptions.shortfall(available[i], arrivals, demand, as_of, lead)
        without = as_things_stand[i]
        extra = np.zeros(horizon)
        t = (a["arrival_date"] - as_of).days
        if 1 <= t <= horizon:
            extra[t - 1] = a["quantity"]
        with_it = exceptions.shortfall(available[i], arrivals + extra, demand, as_of, lead)
        where = f"{a['sku']} at {a['to_location']}"
        source = a["from_location"] or a["supplier"]
        what = "transport" if a["kind"] == "transfer" else "purchase"
        parts = [
            f"Why: {a['reason']}.",
            f"If nothing is done, {where} "
            + _outcome(without[1], without[3], without[2], price, float(without[0].min()))
            + "; with it, "
            + (
                _outcome(with_it[1], with_it[3], with_it[2], price, float(with_it[0].min()))
                if t <= horizon
                else f"no change within {horizon} days (it arrives {a['arrival_date']})"
            )
            + ".",
            f"Cost: {a['cost']:,.2f} ({a['quantity']:,} from {source} at "
            f"{a['unit_price']:,.2f} a unit {what}).",
            _alternatives(a["alternatives"]),
        ]
        if policy is not None:
            if i not in formula:
                formula[i] = policy.formulas()["safety_stock"]
            parts.append(f"Safety stock at {a['to_location']}: {formula[i]}.")
        texts.append(" ".join(p for p in parts if p))
    frame = pl.DataFrame({"action_id": drafted["action_id"], "explanation": texts})
    with store.transaction() as cur, registered(cur, "explained", frame):
        cur.execute(
            "UPDATE actions SET explanation = e.explanation FROM explained e "
            "WHERE actions.action_id = e.action_id"
        )
    log.info("explained %d drafted actions as of %s", frame.height, as_of)
    return frame.height


__all__ = ["explain_actions"]
