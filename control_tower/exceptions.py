"""The exception engine: what is going wrong in the network, ranked by the money at risk.

Rules (thresholds in ``[exceptions]`` and ``[position]``), each over the store as of a day:

- ``stockout``: stock projected day by day (available, plus inbound on its expected day, a
  late line tomorrow, less the forecast's daily mean, or recent demand without a forecast) runs
  out within ``lookahead_days`` before the next replenishment arrives: the next inbound, else
  an order placed today (the source's lead time; a stock-out after that is the normal
  reorder's business). Units short until then, valued at the price.
- ``below_safety_stock``: available under the policy's safety stock (and no stock-out
  projected): the units missing, at cost.
- ``excess``: available above the policy's max level and above ``excess_cover_days`` of
  cover: the value tied up above the max level.
- ``dead_stock``: owned stock with no outbound movement for ``dead_stock_days``, with its age
  bucket and an end-of-life suggestion (move it where it sells, else freeze and mark down).
- ``late_inbound``: an open purchase order line or transfer past its expected day.
- ``demand_anomaly``: actual demand in the last ``anomaly_days`` above the p99 of the latest
  forecast made before that day.
- ``data_quality``: a source whose data ends ``stale_days`` before the store's, on hand below
  zero where it may not be, a purchase order expected before it was ordered, a count that
  disagrees with the ledger at the time of the count.

Severity = value at risk x urgency, urgency = u / (u + days until it bites), u =
``urgency_days`` (1 today, 0.5 a week out by default; excess and dead stock use fixed,
lower urgencies). The same exception across runs is one item (key: rule, SKU, location,
reference) with a first and last seen; acknowledging or snoozing it takes a reason and is
audited. Each exception lists the drafted actions of the latest plan that address it.
"""

from __future__ import annotations

import json
import logging
import math
import time
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

import numpy as np
import polars as pl

from control_tower import actions, position, supplier_rules, vmi
from control_tower.config import DemandSensing, Settings
from control_tower.errors import ControlTowerError, NotFoundError
from control_tower.kpis import aging_bucket_labels
from control_tower.policies import policies, policy_table
from control_tower.sensing import plan_forecast
from control_tower.store import Store, registered

log = logging.getLogger(__name__)

RULES = (
    "stockout",
    "below_safety_stock",
    "excess",
    "dead_stock",
    "late_inbound",
    "demand_anomaly",
    "data_quality",
    "supplier_low_water",
    "vmi_level",
    "settlement_difference",
)
STOCKING = ("central_dc", "regional_dc", "store")
ITEM_SCHEMA = {
    "exception_key": pl.Utf8,
    "rule": pl.Utf8,
    "sku": pl.Utf8,
    "location": pl.Utf8,
    "reference": pl.Utf8,
    "severity": pl.Float64,
    "value_at_risk": pl.Float64,
    "urgency": pl.Float64,
    "due_date": pl.Date,
    "units": pl.Float64,
    "title": pl.Utf8,
    "detail": pl.Utf8,
    "suggestion": pl.Utf8,
    "facts": pl.Utf8,
    "action_ids": pl.Utf8,
}


class ExceptionInputError(ControlTowerError, ValueError):
    """An acknowledgement, snooze or count that cannot be taken, with the reason."""


@dataclass
class ExceptionRun:
    run_id: int | None
    as_of: date
    items: pl.DataFrame
    seconds: float
    plan_run: int | None
    forecast_run: int | None
    # per (sku, location) running short: (available, arrivals, demand, lead days), what the
    # remedies' effect is projected from
    projections: dict = field(default_factory=dict, repr=False)
    max_levels: dict = field(default_factory=dict, repr=False)  # (sku, location) -> units
    auto: actions.AutoApprovalResult | None = None  # what the approval policy did after it

    @property
    def raised(self) -> int:
        return self.items.height


def _urgency(days: np.ndarray | pl.Expr, u: float):
    if isinstance(days, pl.Expr):
        return u / (u + days.clip(lower_bound=0))
    return u / (u + np.maximum(days, 0))


def _key(rule: str, sku: str | None, location: str | None, reference: str | None) -> str:
    return "|".join([rule, sku or "", location or "", reference or ""])


def _frame(rows: list[dict]) -> pl.DataFrame:
    """Items from rule rows (facts as dicts), in ITEM_SCHEMA."""
    if not rows:
        return pl.DataFrame(schema=ITEM_SCHEMA)
    for row in rows:
        row["exception_key"] = _key(
            row["rule"], row.get("sku"), row.get("location"), row.get("reference")
        )
        row["facts"] = json.dumps(row["facts"], default=str, ensure_ascii=False)
        row["severity"] = float(row["value_at_risk"]) * float(row["urgency"])
        row.setdefault("action_ids", None)
        row.setdefault("suggestion", None)
        row.setdefault("reference", None)
    return pl.DataFrame(rows, schema=ITEM_SCHEMA)


# -- the rules ----------------------------------------------------------------------------------
def _prices(store: Store) -> dict[str, float]:
    return {
        sku: float(price if price is not None else cost)
        for sku, price, cost in store.rows("SELECT sku, price, unit_cost FROM products")
    }


@dataclass(frozen=True)
class Flows:
    """Day-by-day inputs of the stock projection for n series over the horizon."""

    demand: np.ndarray  # (n, horizon): forecast mean by day, else recent daily demand
    arrivals: np.ndarray  # (n, horizon): inbound due that day (late lines: tomorrow)
    late_units: np.ndarray  # (n,): late inbound assumed to arrive tomorrow
    forecasted: np.ndarray  # (n,) bool: the demand is a forecast's
    forecast_run: int | None  # the latest forecast run used


def _flows(
    store: Store,
    stock: pl.DataFrame,
    as_of: date,
    horizon: int,
    forecast_run: int | None,
    inbound: pl.DataFrame,
    sensing: DemandSensing,
) -> Flows:
    """The projection's demand and arrivals for each row ``i`` of ``stock`` (sku, location,
    avg_daily_demand): day t (index t - 1) is as_of + t."""
    keys = stock.select("i", "sku", "location")
    n = stock.height
    rate = stock["avg_daily_demand"].fill_null(0.0).to_numpy()
    demand = np.repeat(rate[:, None], horizon, axis=1)
    skus = sorted(set(stock["sku"]))
    forecast = plan_forecast(  # the plan's reading: the latest run made by as_of, sensed
        store,
        sensing,
        as_of=as_of,
        horizon=horizon,
        run_id=forecast_run,
        skus=None if n > 50 else skus,
    )
    used_run = int(forecast["run_id"].max()) if forecast.height else None
    forecasted = np.zeros(n, dtype=bool)
    if forecast.height:
        f = forecast.join(keys, on=["sku", "location"]).with_columns(
            t=(pl.col("date") - pl.lit(as_of)).dt.total_days() - 1
        )
        rows_i, days_t = f["i"].to_numpy(), f["t"].to_numpy()
        demand[rows_i, days_t] = f["mean"].to_numpy()
        forecasted[rows_i] = True
    arrivals = np.zeros((n, horizon))
    late_units = np.zeros(n)
    due = (
        inbound.select("sku", "location", "expected_date", "remaining")
        .join(keys, on=["sku", "location"])
        .with_columns(t=(pl.col("expected_date") - pl.lit(as_of)).dt.total_days())
    )
    late = due.filter(pl.col("t") <= 0)
    np.add.at(late_units, late["i"].to_numpy(), late["remaining"].to_numpy())
    due = due.with_columns(t=pl.col("t").clip(lower_bound=1)).filter(pl.col("t") <= horizon)
    np.add.at(arrivals, (due["i"].to_numpy(), due["t"].to_numpy() - 1), due["remaining"].to_numpy())
    return Flows(demand, arrivals, late_units, forecasted, used_run)


@dataclass(frozen=True)
class Projection:
    """One SKU x location's stock projected day by day, as the stock-out rule sees it:
    available stock, plus inbound on its day (late lines tomorrow) and any ``extra`` units
    (a what-if), less the forecast's mean (else recent demand). Shortfalls accumulate."""

    sku: str
    location: str
    as_of: date
    available: float
    days: pl.DataFrame  # date, demand, arrivals, extra, stock (end of day)
    demand_source: str  # "forecast run N" | "recent demand"
    late_units: float  # late inbound assumed to arrive tomorrow
    price: float
    stockout_date: date | None  # the first day stock ends below zero
    next_arrival: date | None  # the first arrival after the stock-out
    units_short: float  # short by the day before that arrival, or before an order placed
    # today could arrive (the source's lead time; 0 when the stock-out comes after that)
    lead_time_days: float | None = None

    @property
    def sales_at_risk(self) -> float:
        return self.units_short * self.price


def shortfall_window(
    arrivals: np.ndarray, s_day: int, lead_days: float | None
) -> tuple[int | None, int]:
    """The stock-out rule's window for a stock-out on day index ``s_day``: (index of the
    first arrival after it or None, the window's end, exclusive). The window runs to the
    later of that arrival and the day an order placed today could arrive (``lead_days``;
    the horizon when None): what only supply already on its way, or faster than an order,
    can change. Arrivals before the lead time's end never shorten it, so a remedy is never
    credited with a shorter window."""
    horizon = len(arrivals)
    lead_end = horizon if lead_days is None else min(int(np.ceil(lead_days)), horizon)
    later = np.nonzero(arrivals[s_day + 1 :] > 0)[0]
    next_index = s_day + 1 + int(later[0]) if later.size else None
    return next_index, max(lead_end, next_index or 0)


def lost_sales(available: float, arrivals: np.ndarray, demand: np.ndarray, end: int) -> float:
    """Units of demand that cannot be served in days ``[0, end)``: stock never goes below
    zero, what cannot be served is lost (as the simulator serves demand)."""
    stock, lost = float(available), 0.0
    for t in range(end):
        stock += arrivals[t]
        served = min(stock, demand[t])
        lost += demand[t] - served
        stock -= served
    return lost


def shortfall(
    available: float,
    arrivals: np.ndarray,
    demand: np.ndarray,
    as_of: date,
    lead_days: float | None = None,
) -> tuple[np.ndarray, date | None, date | None, float]:
    """The stock-out rule's arithmetic. Stock at the end of each day from ``available``,
    ``arrivals`` and ``demand`` (day t at index t - 1; negative: units short so far); the
    first day it ends below zero; the first arrival after that; and the units short
    (:func:`lost_sales`) over :func:`shortfall_window`: to the later of that arrival and the
    day an order placed today could arrive (``lead_days``; the horizon when None). With
    nothing on the way, a stock-out from that day on is the normal reorder's business: its
    date is returned with 0 units short. Adding supply, or bringing it forward, never
    raises the units short."""
    stock_end = available + np.cumsum(arrivals - demand)
    out = np.nonzero(stock_end < -1e-9)[0]
    if not out.size or available < 0:
        return stock_end, None, None, 0.0
    s_day = int(out[0])
    stockout = as_of + timedelta(days=s_day + 1)
    next_index, end = shortfall_window(arrivals, s_day, lead_days)
    next_arrival = None if next_index is None else as_of + timedelta(days=next_index + 1)
    if next_index is None and s_day >= end:
        return stock_end, stockout, None, 0.0
    return stock_end, stockout, next_arrival, lost_sales(available, arrivals, demand, end)


def what_if_shortfall(
    available: float,
    arrivals: np.ndarray,
    extra: np.ndarray,
    demand: np.ndarray,
    as_of: date,
    lead_days: float | None = None,
) -> tuple[np.ndarray, date | None, date | None, float]:
    """:func:`shortfall` with ``extra`` units arriving (a what-if, an action's effect), the
    units short counted over the window of things as they stand, so a change is never
    credited with a shorter window: the units short with it are those without it less
    :func:`short_avoided`'s figure."""
    changed = arrivals + extra
    stock_end, out, next_arrival, _short = shortfall(available, changed, demand, as_of, lead_days)
    _s, base_out, _n, base_short = shortfall(available, arrivals, demand, as_of, lead_days)
    if base_out is None or base_short <= 0:
        # nothing short as things stand: the change's own window
        return stock_end, out, next_arrival, _short
    _i, end = shortfall_window(arrivals, (base_out - as_of).days - 1, lead_days)
    short = lost_sales(available, changed, demand, end)
    return stock_end, out, next_arrival, short


def project(
    store: Store,
    sku: str,
    location: str,
    *,
    as_of: date | None = None,
    extra: list[tuple[date, float]] = (),
    settings: Settings | None = None,
) -> Projection:
    """Project one SKU at one location over ``lookahead_days``; ``extra`` adds (day, units)
    to what arrives (negative: leaves). Raises NotFoundError for an unknown SKU or location."""
    settings = settings or Settings()
    horizon = settings.exceptions.lookahead_days
    as_of = position.resolve_as_of(store, as_of)
    if not store.rows("SELECT 1 FROM products WHERE sku = ?", [sku]):
        raise NotFoundError(f"no product with SKU {sku!r}")
    if not store.rows("SELECT 1 FROM locations WHERE code = ?", [location]):
        raise NotFoundError(f"no location {location!r}")
    pos = position.stock_position(
        store, as_of=as_of, skus=[sku], locations=[location], settings=settings.position
    )
    if pos.height == 0:
        pos = pl.DataFrame(
            {"sku": [sku], "location": [location], "available": [0], "avg_daily_demand": [0.0]}
        )
    stock = pos.select("sku", "location", "available", "avg_daily_demand").with_row_index("i")
    inbound = position.inbound(store, sku=sku, location=location, as_of=as_of).filter(
        pl.col("to_location") == location
    )
    flows = _flows(store, stock, as_of, horizon, None, inbound, settings.forecast.sensing)
    added = np.zeros(horizon)
    for day, units in extra:
        t = min(max((day - as_of).days, 1), horizon + 1)
        if t <= horizon:
            added[t - 1] += units
    available = float(stock["available"][0] or 0)
    found = [
        p.inputs.lead_time_days
        for p in policies(
            store,
            settings.policies,
            settings.position,
            as_of=as_of,
            skus=[sku],
            suppliers=settings.suppliers,
        )
        if p.inputs.location == location
    ]
    lead = found[0] if found else None  # no policy (not a stocking location): the horizon
    stock_end, stockout, next_arrival, short = what_if_shortfall(
        available, flows.arrivals[0], added, flows.demand[0], as_of, lead
    )
    dates = [as_of + timedelta(days=t) for t in range(1, horizon + 1)]
    price = _prices(store).get(sku, 0.0)
    return Projection(
        sku=sku,
        location=location,
        as_of=as_of,
        available=available,
        days=pl.DataFrame(
            {
                "date": dates,
                "demand": flows.demand[0],
                "arrivals": flows.arrivals[0],
                "extra": added,
                "stock": stock_end,
            }
        ),
        demand_source=(
            f"forecast run {flows.forecast_run}" if flows.forecasted[0] else "recent demand"
        ),
        late_units=float(flows.late_units[0]),
        price=price,
        stockout_date=stockout,
        next_arrival=next_arrival,
        units_short=short,
        lead_time_days=lead,
    )


def project_many(
    store: Store,
    pairs: list[tuple[str, str]],
    *,
    as_of: date | None = None,
    extras: dict[tuple[str, str], list[tuple[date, float]]] | None = None,
    demand_factor: float = 1.0,
    demand_days: int | None = None,
    settings: Settings | None = None,
) -> dict[tuple[str, str], Projection]:
    """:func:`project` for many SKU x locations at once (the position, inbound, forecast and
    lead times read once): per pair, the same Projection ``project`` gives, with that pair's
    ``extras`` (day, units) added, and its demand times ``demand_factor`` over the first
    ``demand_days`` days (all of the horizon when None)."""
    settings = settings or Settings()
    if not (0.0 <= demand_factor <= 100.0):
        raise ValueError(f"a demand factor is from 0 to 100, not {demand_factor}")
    extras = extras or {}
    horizon = settings.exceptions.lookahead_days
    as_of = position.resolve_as_of(store, as_of)
    pairs = list(dict.fromkeys(pairs))
    if not pairs:
        return {}
    skus = sorted({s for s, _ in pairs})
    locations = sorted({loc for _, loc in pairs})
    known = {
        r[0] for r in store.rows("SELECT sku FROM products WHERE sku IN (SELECT unnest(?))", [skus])
    }
    places = {
        r[0]
        for r in store.rows(
            "SELECT code FROM locations WHERE code IN (SELECT unnest(?))", [locations]
        )
    }
    for sku, loc in pairs:
        if sku not in known:
            raise NotFoundError(f"no product with SKU {sku!r}")
        if loc not in places:
            raise NotFoundError(f"no location {loc!r}")
    pos = position.stock_position(
        store, as_of=as_of, skus=skus, locations=locations, settings=settings.position
    ).select("sku", "location", "available", "avg_daily_demand")
    stock = (
        pl.DataFrame(pairs, schema=["sku", "location"], orient="row")
        .join(pos, on=["sku", "location"], how="left")
        .with_columns(pl.col("available").fill_null(0), pl.col("avg_daily_demand").fill_null(0.0))
        .with_row_index("i")
    )
    inbound = position.inbound(store, as_of=as_of).filter(pl.col("sku").is_in(skus))
    inbound = inbound.filter(pl.col("location") == pl.col("to_location"))
    flows = _flows(store, stock, as_of, horizon, None, inbound, settings.forecast.sensing)
    lead = {
        (p.inputs.sku, p.inputs.location): p.inputs.lead_time_days
        for p in policies(
            store,
            settings.policies,
            settings.position,
            as_of=as_of,
            skus=skus,
            suppliers=settings.suppliers,
        )
    }
    prices = _prices(store)
    dates = [as_of + timedelta(days=t) for t in range(1, horizon + 1)]
    out = {}
    for row in stock.iter_rows(named=True):
        i, key = row["i"], (row["sku"], row["location"])
        added = np.zeros(horizon)
        for day, units in extras.get(key, []):
            t = min(max((day - as_of).days, 1), horizon + 1)
            if t <= horizon:
                added[t - 1] += units
        available = float(row["available"] or 0)
        demand = flows.demand[i]
        if demand_factor != 1.0:
            demand = demand.copy()
            demand[: horizon if demand_days is None else demand_days] *= demand_factor
        stock_end, stockout, next_arrival, short = what_if_shortfall(
            available, flows.arrivals[i], added, demand, as_of, lead.get(key)
        )
        out[key] = Projection(
            sku=key[0],
            location=key[1],
            as_of=as_of,
            available=available,
            days=pl.DataFrame(
                {
                    "date": dates,
                    "demand": demand,
                    "arrivals": flows.arrivals[i],
                    "extra": added,
                    "stock": stock_end,
                }
            ),
            demand_source=(
                f"forecast run {flows.forecast_run}" if flows.forecasted[i] else "recent demand"
            ),
            late_units=float(flows.late_units[i]),
            price=prices.get(key[0], 0.0),
            stockout_date=stockout,
            next_arrival=next_arrival,
            units_short=short,
            lead_time_days=lead.get(key),
        )
    return out


def _stock_rules(
    store: Store,
    settings: Settings,
    as_of: date,
    pos: pl.DataFrame,
    pol: pl.DataFrame,
    prices: dict[str, float],
    forecast_run: int | None,
    inbound: pl.DataFrame,
) -> tuple[list[dict], int | None, dict]:
    """Projected stock-outs, then below safety stock and excess against the policies; and
    per stock-out its projection's inputs (for the remedies' effect)."""
    opt = settings.exceptions
    horizon = opt.lookahead_days
    u = opt.urgency_days
    rows: list[dict] = []
    stock = pos.filter(pl.col("location_kind").is_in(STOCKING)).join(
        pol.select("sku", "location", "safety_stock", "max_level", "lead_time_days", "source"),
        on=["sku", "location"],
        how="left",
    )
    projections: dict[tuple[str, str], tuple] = {}
    if stock.height == 0:
        return rows, None, projections
    stock = stock.with_row_index("i")
    flows = _flows(store, stock, as_of, horizon, forecast_run, inbound, settings.forecast.sensing)
    demand, arrivals, forecasted = flows.demand, flows.arrivals, flows.forecasted
    late_units, used_run = flows.late_units, flows.forecast_run
    available = stock["available"].to_numpy().astype(float)
    projected = available[:, None] + np.cumsum(arrivals - demand, axis=1)  # end of day t+1
    out = projected < -1e-9
    runs_out = out.any(axis=1) & (available >= 0)
    lead = stock["lead_time_days"].fill_null(float(horizon)).to_numpy()
    short_by_pair: set[int] = set()
    for i in np.nonzero(runs_out)[0]:
        _stock, due, next_day, units = shortfall(
            available[i], arrivals[i], demand[i], as_of, float(lead[i])
        )
        if due is None or units <= 0:
            continue
        s_day = (due - as_of).days - 1  # index of the stock-out day
        _next, end = shortfall_window(arrivals[i], s_day, float(lead[i]))
        window_end = as_of + timedelta(days=end)  # the window's last day
        until = (
            f"by {window_end}, the day before the next delivery"
            if next_day and next_day == window_end + timedelta(days=1)
            else f"by {window_end}, before a replenishment ordered today could arrive"
            + (f" (counting the delivery of {next_day})" if next_day else "")
        )
        r = stock.row(int(i), named=True)  # a few hundred rows: the ones running out
        price = prices.get(r["sku"], r["unit_cost"] or 0.0)
        short_by_pair.add(int(i))
        projections[(r["sku"], r["location"])] = (
            available[i],
            arrivals[i],
            demand[i],
            float(lead[i]),
        )
        rows.append(
            {
                "rule": "stockout",
                "sku": r["sku"],
                "location": r["location"],
                "value_at_risk": units * price,
                "urgency": float(_urgency(np.array(s_day + 1), u)),
                "due_date": due,
                "units": units,
                "title": f"{r['sku']} runs out at {r['location']} on {due}",
                "detail": (
                    f"{r['sku']} ({r['name']}) at {r['location']}: {r['available']:,} available, "
                    f"{'forecast' if forecasted[i] else 'recent demand'} "
                    f"{demand[i, : s_day + 1].mean():.1f} a day; stock runs out on {due} and "
                    f"{units:,.0f} units go short {until}"
                    f"; {units:,.0f} x {price:,.2f} = {units * price:,.0f} of sales at risk."
                ),
                "facts": {
                    "available": r["available"],
                    "in_transit": r["in_transit_in"],
                    "on_order": r["on_order"],
                    "daily_demand": round(float(demand[i, : s_day + 1].mean()), 3),
                    "demand_source": "forecast" if forecasted[i] else "recent demand",
                    "stockout_date": due,
                    "next_arrival": next_day,
                    "short_until": window_end,
                    "late_units_assumed_tomorrow": float(late_units[i]),
                    "units_short": units,
                    "price": price,
                },
            }
        )
    daily_expr = pl.col("avg_daily_demand").fill_null(0.0)
    flag_at = pl.max_horizontal(
        pl.col("max_level").fill_null(0.0), daily_expr * settings.position.excess_cover_days
    )
    below = (pl.col("available") < pl.col("safety_stock") - 1e-9) & ~pl.col("i").is_in(
        list(short_by_pair)
    )
    above = (
        (pl.col("max_level") > 0)
        & (pl.col("available") > flag_at + 1e-9)
        & (pl.col("status") != "dead")
    )
    candidates = stock.filter(pl.col("safety_stock").is_not_null() & (below | above))
    for r in candidates.iter_rows(named=True):
        i = r["i"]
        safety, top = r["safety_stock"], r["max_level"]
        unit_cost = r["unit_cost"] or 0.0
        daily = r["avg_daily_demand"] or 0.0
        if i not in short_by_pair and r["available"] < safety - 1e-9:
            gap = float(safety - r["available"])
            cover = r["available"] / daily if daily > 0 and r["available"] > 0 else 0.0
            due = as_of + timedelta(days=int(cover))
            rows.append(
                {
                    "rule": "below_safety_stock",
                    "sku": r["sku"],
                    "location": r["location"],
                    "value_at_risk": gap * unit_cost,
                    "urgency": float(_urgency(np.array(cover), u)),
                    "due_date": due,
                    "units": gap,
                    "title": f"{r['sku']} below safety stock at {r['location']}",
                    "detail": (
                        f"{r['available']:,} available against a safety stock of {safety:,.0f} "
                        f"({r['source'] or 'no source'}): {gap:,.0f} units short of the buffer, "
                        f"{gap * unit_cost:,.0f} at cost; {cover:.1f} days of cover."
                    ),
                    "facts": {
                        "available": r["available"],
                        "safety_stock": round(float(safety), 2),
                        "days_of_cover": round(cover, 2),
                        "unit_cost": unit_cost,
                    },
                }
            )
        flag_at = max(top or 0.0, daily * settings.position.excess_cover_days)
        if (
            top is not None
            and top > 0
            and r["available"] > flag_at + 1e-9
            and r["status"] != "dead"
        ):
            extra = float(r["available"] - top)
            rows.append(
                {
                    "rule": "excess",
                    "sku": r["sku"],
                    "location": r["location"],
                    "value_at_risk": extra * unit_cost,
                    "urgency": opt.excess_urgency,
                    "due_date": None,
                    "units": extra,
                    "title": f"{r['sku']} in excess at {r['location']}",
                    "detail": (
                        f"{r['available']:,} available against a max level of {top:,.0f} (flagged "
                        f"above {settings.position.excess_cover_days:g} days of cover): "
                        f"{extra:,.0f} units above it tie up {extra * unit_cost:,.0f}"
                        + (
                            f"; {r['days_of_cover']:.0f} days of cover."
                            if r["days_of_cover"] is not None
                            else "; no demand."
                        )
                    ),
                    "suggestion": "move the excess to a location short of it, or pause orders",
                    "facts": {
                        "available": r["available"],
                        "max_level": round(float(top), 2),
                        "days_of_cover": r["days_of_cover"],
                        "unit_cost": unit_cost,
                    },
                }
            )
    return rows, used_run, projections


def _dead_stock(settings: Settings, as_of: date, pos: pl.DataFrame) -> list[dict]:
    buckets = aging_bucket_labels(settings.position.aging_buckets_days)
    selling = (
        pos.filter(pl.col("location_kind").is_in(STOCKING) & (pl.col("avg_daily_demand") > 0))
        .sort("avg_daily_demand", descending=True)
        .group_by("sku", maintain_order=True)
        .agg(pl.col("location"), pl.col("avg_daily_demand"))
    )
    where = {s: (locs, rates) for s, locs, rates in selling.iter_rows()}
    rows = []
    dead = pos.filter((pl.col("status") == "dead") & (pl.col("owned_on_hand") > 0))
    for r in dead.iter_rows(named=True):
        label = next(
            (
                lab
                for lab, low, high in buckets
                if r["age_days"] >= low and (high is None or r["age_days"] <= high)
            ),
            buckets[-1][0],
        )
        value = r["stock_value"] or 0.0
        locs, rates = where.get(r["sku"], ([], []))
        other = [(loc, rate) for loc, rate in zip(locs, rates, strict=True) if loc != r["location"]]
        if other:
            suggestion = f"move it to {other[0][0]}, where it sells {other[0][1]:.1f} a day"
        else:
            suggestion = "freeze it (stop ordering), then mark it down or convert it"
        rows.append(
            {
                "rule": "dead_stock",
                "sku": r["sku"],
                "location": r["location"],
                "value_at_risk": value,
                "urgency": settings.exceptions.dead_urgency,
                "due_date": None,
                "units": float(r["owned_on_hand"]),
                "title": f"{r['sku']} dead at {r['location']} ({label})",
                "detail": (
                    f"{r['owned_on_hand']:,} units ({value:,.0f}) with no outbound movement for "
                    f"{r['days_without_outbound']} days"
                    + (f" (last {r['last_outbound_date']})" if r["last_outbound_date"] else "")
                    + f"; aged {r['age_days']} days."
                ),
                "suggestion": suggestion,
                "facts": {
                    "on_hand": r["owned_on_hand"],
                    "stock_value": value,
                    "days_without_outbound": r["days_without_outbound"],
                    "last_outbound_date": r["last_outbound_date"],
                    "age_days": r["age_days"],
                    "age_bucket": label,
                    "sells_at": other[:3],
                },
            }
        )
    return rows


def _late_inbound(settings: Settings, inbound: pl.DataFrame) -> list[dict]:
    grace = settings.exceptions.late_grace_days
    late = inbound.filter(pl.col("days_late") > grace)
    rows = []
    for r in late.iter_rows(named=True):
        who = r["supplier"] or r["from_location"]
        what = "purchase order" if r["kind"] == "purchase_order" else "transfer"
        rows.append(
            {
                "rule": "late_inbound",
                "sku": r["sku"],
                "location": r["to_location"],
                "reference": r["reference"],
                "value_at_risk": float(r["value"] or 0.0),
                "urgency": 1.0,
                "due_date": r["expected_date"],
                "units": float(r["remaining"]),
                "title": f"{what} {r['reference']} late {r['days_late']} days",
                "detail": (
                    f"{what} {r['reference']} from {who}: {r['remaining']:,} of {r['quantity']:,} "
                    f"units of {r['sku']} to {r['to_location']} were due on "
                    f"{r['expected_date']}, {r['days_late']} days ago ({r['value']:,.0f} at cost)."
                ),
                "suggestion": f"chase {who} for a new date, or cover from another source",
                "facts": {
                    "kind": r["kind"],
                    "from": who,
                    "remaining": r["remaining"],
                    "expected_date": r["expected_date"],
                    "days_late": r["days_late"],
                },
            }
        )
    return rows


ANOMALY_SQL = """
WITH recent AS (
    SELECT sku, location, date, quantity FROM demand_history
    WHERE date > $first AND date <= $as_of
), matched AS (
    SELECT r.sku, r.location, r.date, r.quantity, f.p99, f.mean, f.run_id,
           row_number() OVER (PARTITION BY r.sku, r.location, r.date ORDER BY f.run_id DESC) AS n
    FROM recent r
    JOIN forecasts f ON f.sku = r.sku AND f.location = r.location AND f.date = r.date
    JOIN forecast_runs fr ON fr.run_id = f.run_id AND fr.as_of < r.date
)
SELECT sku, location, date, quantity, p99, mean, run_id FROM matched
WHERE n = 1 AND quantity > p99
ORDER BY sku, location, date
"""


def _anomalies(
    store: Store, settings: Settings, as_of: date, prices: dict[str, float]
) -> list[dict]:
    opt = settings.exceptions
    found = store.query(
        ANOMALY_SQL, {"first": as_of - timedelta(days=opt.anomaly_days), "as_of": as_of}
    )
    rows = []
    for (sku, loc), g in found.group_by(["sku", "location"], maintain_order=True):
        above = float((g["quantity"] - g["p99"]).sum())
        last = g["date"].max()
        price = prices.get(sku, 0.0)
        days = [
            {"date": d, "actual": q, "p99": p, "mean": round(m, 2), "forecast_run": run}
            for d, q, p, m, run in g.select("date", "quantity", "p99", "mean", "run_id").iter_rows()
        ]
        rows.append(
            {
                "rule": "demand_anomaly",
                "sku": sku,
                "location": loc,
                "value_at_risk": above * price,
                "urgency": float(_urgency(np.array((as_of - last).days), opt.urgency_days)),
                "due_date": last,
                "units": above,
                "title": f"{sku} demand beyond the forecast at {loc}",
                "detail": (
                    f"on {g.height} of the last {opt.anomaly_days} days demand for {sku} at "
                    f"{loc} exceeded the forecast's p99, by {above:,.0f} units in all (last on "
                    f"{last}: {days[-1]['actual']:,} against a p99 of {days[-1]['p99']:,.0f})."
                ),
                "suggestion": "check the cause (promotion, data error); re-forecast if it lasts",
                "facts": {"days": days, "units_above_p99": above, "price": price},
            }
        )
    return rows


def _data_quality(store: Store, settings: Settings, as_of: date, pos: pl.DataFrame) -> list[dict]:
    opt = settings.exceptions
    rows = []
    ends = dict(
        store.rows(
            "SELECT 'ledger', max(ts)::DATE FROM ledger "
            "UNION ALL SELECT 'demand', max(date) FROM demand_history"
        )
    )
    for source, end in ends.items():
        if end is None or (as_of - end).days <= opt.stale_days:
            continue
        rows.append(
            {
                "rule": "data_quality",
                "reference": f"stale:{source}",
                "value_at_risk": 0.0,
                "urgency": 1.0,
                "due_date": end,
                "units": None,
                "title": f"{source} data is stale",
                "detail": (
                    f"the {source} data ends on {end}, {(as_of - end).days} days before the "
                    f"store's as-of {as_of}: figures built on it are out of date."
                ),
                "suggestion": f"re-import the {source} feed",
                "facts": {"source": source, "data_to": end, "as_of": as_of},
            }
        )
    allowed = {code for code, ok in store.rows("SELECT code, allow_negative FROM locations") if ok}
    negative = pos.filter(
        ~pl.col("location").is_in(list(allowed))
        & ((pl.col("owned_on_hand") < 0) | (pl.col("consigned") < 0))
    )
    for r in negative.iter_rows(named=True):
        for owner, balance in (("company", r["owned_on_hand"]), ("supplier", r["consigned"])):
            if balance >= 0:
                continue
            cost = r["unit_cost"] or 0.0
            rows.append(
                {
                    "rule": "data_quality",
                    "sku": r["sku"],
                    "location": r["location"],
                    "reference": f"negative:{owner}",
                    "value_at_risk": -balance * cost,
                    "urgency": 1.0,
                    "due_date": as_of,
                    "units": float(-balance),
                    "title": f"{r['sku']} on hand below zero at {r['location']}",
                    "detail": (
                        f"the ledger gives {balance:,} on hand ({owner}-owned) where stock "
                        "cannot go negative."
                    ),
                    "suggestion": "find the missing receipt or count the location",
                    "facts": {"balance": balance, "owner": owner},
                }
            )
    backwards = store.query(
        "SELECT po_number, sku, location, order_date, expected_date FROM purchase_orders "
        "WHERE expected_date < order_date AND status = 'open'"
    )
    for po, sku, loc, ordered, expected in backwards.iter_rows():
        rows.append(
            {
                "rule": "data_quality",
                "sku": sku,
                "location": loc,
                "reference": f"po-dates:{po}",
                "value_at_risk": 0.0,
                "urgency": 1.0,
                "due_date": expected,
                "units": None,
                "title": f"PO {po} expected before it was ordered",
                "detail": f"PO {po} ({sku}) was ordered on {ordered} but is expected on {expected}.",
                "suggestion": "correct the PO's dates with the supplier",
                "facts": {"order_date": ordered, "expected_date": expected},
            }
        )
    counts = store.query(
        """
        WITH last AS (
            SELECT sku, location, counted_at, quantity, counted_by,
                   row_number() OVER (PARTITION BY sku, location ORDER BY counted_at DESC, count_id DESC) AS n
            FROM stock_counts WHERE counted_at < $next
        )
        SELECT c.sku, c.location, c.counted_at, c.quantity, c.counted_by,
               coalesce((SELECT sum(l.quantity)::BIGINT FROM ledger l
                         WHERE l.sku = c.sku AND l.location = c.location AND l.ts <= c.counted_at), 0)
                   AS ledger,
               (SELECT unit_cost::DOUBLE FROM products p WHERE p.sku = c.sku) AS unit_cost
        FROM last c WHERE n = 1
        """,
        {"next": position.midnight(as_of + timedelta(days=1))},
    )
    for sku, loc, at, counted, who, booked, cost in counts.iter_rows():
        diff = float(counted - booked)
        if abs(diff) <= max(1.0, opt.count_tolerance * max(counted, booked)):
            continue
        rows.append(
            {
                "rule": "data_quality",
                "sku": sku,
                "location": loc,
                "reference": "count",
                "value_at_risk": abs(diff) * (cost or 0.0),
                "urgency": 1.0,
                "due_date": at.date(),
                "units": abs(diff),
                "title": f"{sku} count disagrees with the ledger at {loc}",
                "detail": (
                    f"{who} counted {counted:,} on {at:%Y-%m-%d %H:%M}; the ledger held {booked:,} "
                    f"then ({diff:+,.0f}, {abs(diff) * (cost or 0.0):,.0f} at cost)."
                ),
                "suggestion": "post the count difference as an adjustment, or recount",
                "facts": {"counted": counted, "ledger": booked, "counted_at": at, "by": who},
            }
        )
    return rows


def _link_actions(store: Store, items: pl.DataFrame) -> tuple[pl.DataFrame, int | None]:
    """Each item's live actions (proposed or approved; a new plan supersedes the proposals
    of the one before): what delivers to (or expedites into) a short location, what moves
    stock out of one in excess (the plan's rebalancing transfers), the expedite chasing a
    late line. Returns the items and the latest plan run among those actions."""
    actions = store.query(
        "SELECT action_id, plan_run, kind, coalesce(targets, [target]) AS targets, sku, "
        "from_location, to_location, supplier "
        "FROM actions WHERE status IN ('proposed', 'approved')"
    )
    plan_run = (
        int(actions["plan_run"].max())
        if actions.height and actions["plan_run"].max() is not None
        else None
    )
    if actions.height == 0 or items.height == 0:
        return items, plan_run
    inbound = (
        actions.filter(pl.col("kind") != "request_allocation")
        .group_by("sku", "to_location")
        .agg(pl.col("action_id").sort().alias("to_ids"))
    )
    allocations = (
        actions.filter(pl.col("kind") == "request_allocation")
        .group_by("sku", "supplier")
        .agg(pl.col("action_id").sort().alias("allocation_ids"))
    )
    outbound = (
        actions.filter((pl.col("kind") == "transfer") & pl.col("from_location").is_not_null())
        .group_by("sku", "from_location")
        .agg(pl.col("action_id").sort().alias("from_ids"))
    )
    chasing = (
        actions.filter(pl.col("kind") == "expedite")
        .explode("targets")
        .rename({"targets": "target"})
        .group_by("sku", "target")
        .agg(pl.col("action_id").sort().alias("expedite_ids"))
    )
    linked = (
        items.join(
            inbound, left_on=["sku", "location"], right_on=["sku", "to_location"], how="left"
        )
        .join(outbound, left_on=["sku", "location"], right_on=["sku", "from_location"], how="left")
        .join(chasing, left_on=["sku", "reference"], right_on=["sku", "target"], how="left")
        .join(allocations, left_on=["sku", "reference"], right_on=["sku", "supplier"], how="left")
    )
    incoming = pl.col("rule").is_in(
        ["stockout", "below_safety_stock", "demand_anomaly", "vmi_level"]
    )
    outgoing = pl.col("rule").is_in(["excess", "dead_stock"])
    ids = (
        pl.when(incoming)
        .then(pl.col("to_ids"))
        .when(outgoing)
        .then(pl.col("from_ids"))
        .when(pl.col("rule") == "late_inbound")
        .then(pl.col("expedite_ids"))
        .when(pl.col("rule") == "supplier_low_water")
        .then(pl.col("allocation_ids"))
        .otherwise(None)
    )
    listed = pl.concat_str([pl.lit("["), ids.cast(pl.List(pl.Utf8)).list.join(","), pl.lit("]")])
    linked = linked.with_columns(
        action_ids=pl.when(ids.list.len() > 0).then(listed).otherwise(None)
    )
    return linked.select(list(ITEM_SCHEMA)), plan_run


SHORT_RULES = ("stockout", "below_safety_stock")

REMEDY_SQL = """
SELECT a.action_id, a.kind, a.sku, a.from_location, a.to_location, a.supplier, a.quantity,
       a.arrival_date, a.target, a.targets, l.cost / a.quantity AS cost_per_unit,
       coalesce(p.expected_date, t.expected_date) AS target_expected
FROM actions a
LEFT JOIN plan_lines l ON l.run_id = a.plan_run AND l.line_no = a.plan_line
LEFT JOIN purchase_orders p ON p.po_number = a.target AND p.sku = a.sku
LEFT JOIN transfers t ON t.transfer_id = a.target
WHERE a.action_id IN (SELECT unnest($ids))
"""

PLANNED_SQL = """
SELECT sku, to_location, coalesce(from_location, supplier) AS source, quantity, ship_date,
       arrival_date, release_now, reason
FROM plan_lines
WHERE run_id = (SELECT max(run_id) FROM plan_runs WHERE base_run IS NULL AND what_if = '{}')
  AND kind IN ('transfer', 'order')
ORDER BY ship_date, line_no
"""


def remedy_moves(action: dict, as_of: date) -> list[tuple[date, float]]:
    """What approving a remedy changes in its destination's projection, as (day, units):
    a transfer or order adds its units on its arrival day; an expedite moves its line's units
    from the line's expected date to the date asked for (a late line is already projected
    tomorrow: nothing moves)."""
    if action["kind"] != "expedite":
        return [(action["arrival_date"], float(action["quantity"]))]
    expected = action.get("target_expected")
    if expected is None or expected <= as_of or action["arrival_date"] >= expected:
        return []
    return [
        (action["arrival_date"], float(action["quantity"])),
        (expected, -float(action["quantity"])),
    ]


def short_avoided(
    projection: tuple, moves: list[tuple[date, float]], as_of: date
) -> tuple[float, float, date | None]:
    """(units short avoided, units short, stock-out date) of one stock-out if ``moves``
    ((day, units) added to what arrives) were made: the units lost over the stock-out's own
    window (:func:`shortfall_window`, as things stand) with and without them."""
    available, arrivals, demand, lead = projection
    _stock, out, _next, short = shortfall(available, arrivals, demand, as_of, lead)
    if out is None or short <= 0:
        return 0.0, 0.0, out
    horizon = len(arrivals)
    _i, end = shortfall_window(arrivals, (out - as_of).days - 1, lead)
    extra = np.zeros(horizon)
    for day, units in moves:
        t = min(max((day - as_of).days, 1), horizon + 1)
        if t <= horizon:
            extra[t - 1] += units
    short_with = lost_sales(available, arrivals + extra, demand, end)
    return max(short - short_with, 0.0), short, out


def _remedy_effect(projection: tuple | None, action: dict, as_of: date) -> str:
    """What approving a remedy does to a stock-out, in figures: whether it arrives before
    the stock-out, and the units short it avoids of those projected."""
    if projection is None:
        return ""
    moves = remedy_moves(action, as_of)
    avoided, short, out = short_avoided(projection, moves, as_of)
    if out is None or short <= 0:
        return ""
    if not moves:
        chased = actions.chases(action)
        return (
            f"; {chased} {'is' if len(actions.expedite_targets(action)) == 1 else 'are'} late: "
            "the projection already counts it tomorrow"
        )
    late = (action["arrival_date"] - out).days
    when = (
        f"arrives {late} day{'s' if late != 1 else ''} after the stock-out"
        if late > 0
        else "arrives before the stock-out"
    )
    if avoided < 0.5:
        _i, end = shortfall_window(projection[1], (out - as_of).days - 1, projection[3])
        return (
            f"; {when} but avoids none of the {short:,.0f} units short by "
            f"{as_of + timedelta(days=end)}: its units sell out before a delivery that could "
            "follow them"
        )
    return f"; {when}: {avoided:,.0f} of {short:,.0f} units short avoided"


def remedies(
    store: Store, items: pl.DataFrame, as_of: date, projections: dict | None = None
) -> pl.DataFrame:
    """Each stock-out and below-safety-stock item's linked actions ranked as remedies: for a
    stock-out, what avoids the most units short first (:func:`short_avoided`); then the
    earliest arrival (so a neighbour's stock or an expedite that comes sooner leads), then
    the cheaper per unit; and its suggestion in figures: the action to approve first and,
    for a stock-out, whether it arrives before it and how many of the units short it avoids.
    An item without a live action says why: the plan's line for it is held (and why), or
    planned for later, or there is none, or no plan has been run."""
    projections = projections or {}
    short = items.filter(pl.col("rule").is_in(SHORT_RULES))
    if short.height == 0:
        return items
    ids = sorted({i for text in short["action_ids"].drop_nulls() for i in json.loads(text)})
    found = store.query(REMEDY_SQL, {"ids": ids or [-1]})
    by_id = {r["action_id"]: r for r in found.iter_rows(named=True)}
    planned: dict[tuple[str, str], list[dict]] = {}
    for r in store.query(PLANNED_SQL).iter_rows(named=True):
        planned.setdefault((r["sku"], r["to_location"]), []).append(r)
    has_plan = bool(store.scalar("SELECT count(*) FROM plan_runs"))
    ranked, suggestions = [], []
    for row in short.iter_rows(named=True):
        key = (row["sku"], row["location"])
        linked = [by_id[i] for i in json.loads(row["action_ids"] or "[]") if i in by_id]
        projection = projections.get(key) if row["rule"] == "stockout" else None
        avoids = {
            a["action_id"]: (
                short_avoided(projection, remedy_moves(a, as_of), as_of)[0] if projection else 0.0
            )
            for a in linked
        }
        linked.sort(  # what avoids most units short first, then the sooner, then the cheaper
            key=lambda a: (
                -round(avoids[a["action_id"]]),
                a["arrival_date"],
                a["cost_per_unit"] if a["cost_per_unit"] is not None else math.inf,
                a["action_id"],
            )
        )
        ranked.append(
            json.dumps([a["action_id"] for a in linked], separators=(",", ":")) if linked else None
        )
        if linked:
            first = linked[0]
            if first["kind"] == "expedite":
                what = (
                    f"expedite {actions.chases(first)} ({first['quantity']:,} units asked for by "
                    f"{first['arrival_date']})"
                )
            else:
                source = first["from_location"] or first["supplier"]
                what = (
                    f"{first['kind'].replace('_', ' ')} of {first['quantity']:,} from {source}, "
                    f"arriving {first['arrival_date']}"
                )
            effect = (
                _remedy_effect(projections.get(key), first, as_of)
                if row["rule"] == "stockout"
                else ""
            )
            more = f" ({len(linked) - 1} more linked)" if len(linked) > 1 else ""
            suggestions.append(f"approve action {first['action_id']} first: {what}{effect}{more}")
            continue
        lines = planned.get(key, [])
        held = next((p for p in lines if "not released: " in p["reason"]), None)
        later = next((p for p in lines if not p["release_now"]), None)
        if held is not None:
            why = held["reason"].split("not released: ", 1)[1]
            suggestions.append(
                f"no action to approve: the plan's {held['quantity']:,} from {held['source']} "
                f"is held back ({why}); expedite inbound or find stock elsewhere"
            )
        elif later is not None:
            suggestions.append(
                f"no action to approve yet: the plan sends {later['quantity']:,} from "
                f"{later['source']} on {later['ship_date']}, arriving {later['arrival_date']} "
                "(planned, proposed when due)"
            )
        elif has_plan:
            suggestions.append(
                "no action to approve: the latest plan sends nothing here (no source with "
                "spare stock or a lane fast enough to pay for it); check the sources"
            )
        else:
            suggestions.append("no action to approve: run a plan to draft transfers and orders")
    keyed = short.select("exception_key").with_columns(
        ranked_ids=pl.Series(ranked, dtype=pl.String),
        remedy=pl.Series(suggestions, dtype=pl.String),
    )
    return (
        items.join(keyed, on="exception_key", how="left")
        .with_columns(
            action_ids=pl.coalesce("ranked_ids", "action_ids"),
            suggestion=pl.coalesce("remedy", "suggestion"),
        )
        .select(list(ITEM_SCHEMA))
    )


# -- the verbs -------------------------------------------------------------------------------------
def detect(
    store: Store,
    settings: Settings | None = None,
    *,
    as_of: date | None = None,
    forecast_run: int | None = None,
) -> ExceptionRun:
    """Every rule over the store as of ``as_of`` (default: the data's today), ranked by
    severity; nothing is written."""
    settings = settings or Settings()
    started = time.perf_counter()
    as_of = position.resolve_as_of(store, as_of)
    pos = position.full_position(store, as_of=as_of, settings=settings.position)
    pol = policy_table(
        policies(
            store,
            settings.policies,
            settings.position,
            as_of=as_of,
            forecast_run=forecast_run,
            suppliers=settings.suppliers,
        )
    )
    prices = _prices(store)
    inbound = position.inbound(store, as_of=as_of)
    stock_rows, used_run, projections = _stock_rules(
        store, settings, as_of, pos, pol, prices, forecast_run, inbound
    )
    rows = (
        stock_rows
        + _dead_stock(settings, as_of, pos)
        + _late_inbound(settings, inbound)
        + _anomalies(store, settings, as_of, prices)
        + _data_quality(store, settings, as_of, pos)
        + supplier_rules.supplier_rows(store, settings, as_of, prices)
    )
    items, plan_run = _link_actions(store, _frame(rows))
    items = remedies(store, items, as_of, projections).sort(
        ["severity", "exception_key"], descending=[True, False]
    )
    seconds = time.perf_counter() - started
    log.info("exceptions as of %s: %d raised in %.2f s", as_of, items.height, seconds)
    max_levels = {  # a VMI site's max is the level agreed with its supplier
        (sku, loc): float(level)
        for sku, loc, level in vmi.levels(store, as_of=as_of)
        .select("sku", "location", "max_qty")
        .iter_rows()
    }
    max_levels.update(
        ((sku, loc), float(level))
        for sku, loc, level in pol.select("sku", "location", "max_level").iter_rows()
        if level is not None
    )
    return ExceptionRun(None, as_of, items, seconds, plan_run, used_run, projections, max_levels)


def run_exceptions(
    store: Store,
    settings: Settings | None = None,
    *,
    as_of: date | None = None,
    forecast_run: int | None = None,
    created_by: str,
    auto_approve: bool = False,
) -> ExceptionRun:
    """Detect and store a run in one transaction: the run, its items, and each exception's
    first and last seen (an exception not raised again is closed; its acknowledgement and
    snooze stay). Then, with ``auto_approve`` (the daily cycle, the CLI and the dashboard
    ask for it), the approval policy (:func:`control_tower.actions.auto_approve`) decides
    the routine proposals, knowing which exceptions each one serves."""
    settings = settings or Settings()
    result = detect(store, settings, as_of=as_of, forecast_run=forecast_run)
    now = datetime.now()
    with store.transaction() as cur:
        if settings.actions.draft_expedites:
            result.items = remedies(
                store,
                _draft_expedites(store, cur, result.items, result.as_of, settings, created_by),
                result.as_of,
                result.projections,
            ).sort(["severity", "exception_key"], descending=[True, False])
        if settings.actions.draft_supplier_actions and supplier_rules.draft_in(
            cur, result.items, result.as_of, created_by
        ):
            # the store's cursor is this transaction's: the links see what was just drafted
            result.items = remedies(
                store, _link_actions(store, result.items)[0], result.as_of, result.projections
            ).sort(["severity", "exception_key"], descending=[True, False])
        run_id = cur.execute(
            "INSERT INTO exception_runs (created_by, as_of, plan_run, forecast_run, settings, "
            "raised, seconds) VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING run_id",
            [
                created_by,
                result.as_of,
                result.plan_run,
                result.forecast_run,
                settings.exceptions.model_dump_json(),
                result.raised,
                result.seconds,
            ],
        ).fetchall()[0][0]
        items = result.items.with_columns(run_id=pl.lit(run_id, pl.Int64))
        with registered(cur, "new_items", items):
            cur.execute(
                "INSERT INTO exception_run_items SELECT run_id, exception_key, rule, sku, "
                "location, reference, severity, value_at_risk, urgency, due_date, units, title, "
                "detail, suggestion, facts, action_ids FROM new_items"
            )
            cur.execute(
                "UPDATE exceptions SET open = exception_key IN (SELECT exception_key FROM new_items)"
            )
            cur.execute(
                "UPDATE exceptions SET last_seen_run = ?, last_seen_at = ? "
                "WHERE exception_key IN (SELECT exception_key FROM new_items)",
                [run_id, now],
            )
            cur.execute(
                "INSERT INTO exceptions (exception_key, rule, sku, location, reference, "
                "first_seen_run, first_seen_at, last_seen_run, last_seen_at, open) "
                "SELECT exception_key, rule, sku, location, reference, ?, ?, ?, ?, TRUE "
                "FROM new_items WHERE exception_key NOT IN (SELECT exception_key FROM exceptions)",
                [run_id, now, run_id, now],
            )
    result.run_id = run_id
    if auto_approve:
        result.auto = actions.auto_approve(
            store, settings, severities=linked_severity(result.items), max_levels=result.max_levels
        )
    return result


def linked_severity(items: pl.DataFrame) -> dict[int, float]:
    """Per action the highest severity of the stock-outs and below-safety-stock exceptions
    that link to it: the sales or buffer at risk it serves (a late line's or an excess's
    value is money tied up, not at risk of loss)."""
    out: dict[int, float] = {}
    short = items.filter(pl.col("rule").is_in(SHORT_RULES))
    for text, severity in short.select("action_ids", "severity").drop_nulls().iter_rows():
        for action_id in json.loads(text):
            out[action_id] = max(out.get(action_id, 0.0), float(severity))
    return out


def _draft_expedites(
    store: Store,
    cur,
    items: pl.DataFrame,
    as_of: date,
    settings: Settings,
    proposed_by: str,
) -> pl.DataFrame:
    """Inside the run's transaction, under ``proposed_by`` (who ran the rules): an expedite
    drafted for each late line without one, asking for delivery ``expedite_days`` ahead, or
    the day before the destination runs out when sooner; and, for each stock-out that comes
    before the next delivery, an expedite of that delivery (a PO line or transfer not yet
    late), asking for it the day before the stock-out (tomorrow at the earliest): the
    fastest remedy when no stock can get there sooner. The items link to what was
    drafted."""
    late = items.filter(pl.col("rule") == "late_inbound")  # the draft skips those with one
    runs_out = {
        (sku, loc): due
        for sku, loc, due in items.filter(pl.col("rule") == "stockout")
        .select("sku", "location", "due_date")
        .iter_rows()
    }
    wanted = as_of + timedelta(days=settings.actions.expedite_days)
    lines = []
    for row in late.iter_rows(named=True):
        facts = json.loads(row["facts"])
        expected = date.fromisoformat(facts["expected_date"])
        asked, why = wanted, ""
        out = runs_out.get((row["sku"], row["location"]))
        if out is not None and out - timedelta(days=1) < wanted:
            asked = max(out - timedelta(days=1), as_of + timedelta(days=1))
            why = f", before {row['location']} runs out on {out}"
        lines.append(
            {
                "kind": facts["kind"],
                "reference": row["reference"],
                "sku": row["sku"],
                "source": facts["from"],
                "to_location": row["location"],
                "units_left": int(facts["remaining"]),
                "expected_date": expected,
                "requested": asked,
                "explanation": (
                    f"{row['reference']} from {facts['from']}: {int(facts['remaining']):,} units "
                    f"of {row['sku']} for {row['location']} were due on {expected} "
                    f"({facts['days_late']} days late); ask for delivery by {asked}{why}."
                ),
            }
        )
    lines += _pull_ins(store, items, as_of)
    frame = pl.DataFrame(lines, schema=actions.EXPEDITE_LINES)
    live = cur.execute(
        "SELECT count(*) FROM actions WHERE kind = 'expedite' AND status = 'proposed'"
    ).fetchall()[0][0]
    drafted = len(
        actions.draft_expedites_in(
            cur, frame, proposed_by, as_of, stale_after_days=settings.actions.stale_after_days
        )
    )
    still = cur.execute(
        "SELECT count(*) FROM actions WHERE kind = 'expedite' AND status = 'proposed'"
    ).fetchall()[0][0]
    if not drafted and still == live:  # nothing drafted, nothing superseded: links stand
        return items
    log.info("exception run drafted %d expedites", drafted)
    # the store's cursor is this transaction's, so the links see what was just drafted
    return _link_actions(store, items)[0]


def _pull_ins(store: Store, items: pl.DataFrame, as_of: date) -> list[dict]:
    """Expedite lines (:data:`actions.EXPEDITE_LINES`) pulling in the next delivery of each
    stock-out that comes before it."""
    outs = items.filter(pl.col("rule") == "stockout")
    if outs.height == 0:
        return []
    wanted: dict[tuple[str, str, date], tuple[date, float]] = {}
    for row in outs.iter_rows(named=True):
        nxt = json.loads(row["facts"]).get("next_arrival")
        if nxt:
            wanted[(row["sku"], row["location"], date.fromisoformat(nxt))] = (
                row["due_date"],
                row["units"],
            )
    if not wanted:
        return []
    due = position.inbound(store, as_of=as_of).filter(pl.col("expected_date") > as_of)
    lines = []
    for r in due.iter_rows(named=True):
        hit = wanted.get((r["sku"], r["to_location"], r["expected_date"]))
        if hit is None:
            continue
        out, short = hit
        asked = max(out - timedelta(days=1), as_of + timedelta(days=1))
        source = r["supplier"] or r["from_location"]
        lines.append(
            {
                "kind": r["kind"],
                "reference": r["reference"],
                "sku": r["sku"],
                "source": source,
                "to_location": r["to_location"],
                "units_left": int(r["remaining"]),
                "expected_date": r["expected_date"],
                "requested": asked,
                "explanation": (
                    f"{r['reference']} from {source}: {int(r['remaining']):,} units of "
                    f"{r['sku']} for {r['to_location']} are due on {r['expected_date']}, after "
                    f"{r['to_location']} runs out on {out} ({short:,.0f} units short until "
                    f"then); ask for delivery by {asked}."
                ),
            }
        )
    return lines


def latest_run(store: Store) -> dict | None:
    frame = store.query("SELECT * FROM exception_runs ORDER BY run_id DESC LIMIT 1")
    return frame.row(0, named=True) if frame.height else None


def list_exceptions(
    store: Store,
    run_id: int | None = None,
    *,
    rules: list[str] | None = None,
    locations: list[str] | None = None,
    min_severity: float = 0.0,
    include_snoozed: bool = False,
    include_acknowledged: bool = True,
) -> pl.DataFrame:
    """A run's exceptions (default the latest), most severe first, with their first and last
    seen, acknowledgement and snooze. Snoozed ones (until after the run's as-of) are left out
    unless asked for."""
    if run_id is None:
        last = latest_run(store)
        if last is None:
            return pl.DataFrame(schema=ITEM_SCHEMA)
        run_id = last["run_id"]
    run = store.query("SELECT as_of FROM exception_runs WHERE run_id = ?", [run_id])
    if run.height == 0:
        raise NotFoundError(f"no exception run {run_id}")
    unknown = sorted(set(rules or []) - set(RULES))
    if unknown:
        raise NotFoundError(f"unknown rule {', '.join(unknown)}; rules are {', '.join(RULES)}")
    frame = store.query(
        """
        SELECT i.*, e.first_seen_run, e.first_seen_at, e.last_seen_run, e.last_seen_at,
               e.acknowledged_by, e.acknowledged_at, e.ack_reason, e.snoozed_until,
               e.snoozed_by, e.snooze_reason
        FROM exception_run_items i JOIN exceptions e USING (exception_key)
        WHERE i.run_id = $run AND i.severity >= $min
          AND ($all_rules OR i.rule IN (SELECT unnest($rules)))
          AND ($all_locations OR i.location IN (SELECT unnest($locations)))
          AND ($snoozed OR e.snoozed_until IS NULL OR e.snoozed_until <= $as_of)
          AND ($acknowledged OR e.acknowledged_at IS NULL)
        ORDER BY i.severity DESC, i.exception_key
        """,
        {
            "run": run_id,
            "min": min_severity,
            "all_rules": not rules,
            "rules": rules or [""],
            "all_locations": not locations,
            "locations": locations or [""],
            "snoozed": include_snoozed,
            "acknowledged": include_acknowledged,
            "as_of": run["as_of"][0],
        },
    )
    return frame


def _check_reason(reason: str) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise ExceptionInputError("a reason is required")
    if len(reason) > 2000:
        raise ExceptionInputError("the reason is longer than 2,000 characters")
    return reason


def _record(
    store: Store, key: str, actor: str, kind: str, reason: str, until: date | None = None
) -> None:
    """An acknowledgement or snooze on the exception and in its audit trail, together."""
    reason = _check_reason(reason)
    sets = {
        "acknowledge": "acknowledged_by = $actor, acknowledged_at = $now, ack_reason = $reason",
        "snooze": "snoozed_by = $actor, snoozed_until = $until, snooze_reason = $reason",
    }[kind]
    now = datetime.now()
    params = {"key": key, "actor": actor, "reason": reason}
    params.update({"now": now} if kind == "acknowledge" else {"until": until})
    with store.transaction() as cur:
        if not cur.execute("SELECT 1 FROM exceptions WHERE exception_key = ?", [key]).fetchall():
            raise NotFoundError(f"no exception {key!r}")
        cur.execute(f"UPDATE exceptions SET {sets} WHERE exception_key = $key", params)  # noqa: S608
        cur.execute(
            "INSERT INTO exception_events (exception_key, occurred_at, actor, kind, reason, until) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            [key, now, actor, kind, reason, until],
        )


def acknowledge(store: Store, key: str, actor: str, reason: str) -> None:
    """Mark an exception seen and handled for now, with a reason (audited)."""
    _record(store, key, actor, "acknowledge", reason)


def snooze(store: Store, key: str, actor: str, reason: str, until: date) -> None:
    """Hide an exception from the inbox until ``until`` (after the latest run's as-of), with a
    reason (audited)."""
    last = latest_run(store)
    if last is not None and until <= last["as_of"]:
        raise ExceptionInputError(f"snooze until a day after {last['as_of']}, not {until}")
    _record(store, key, actor, "snooze", reason, until)


def exception_history(store: Store, key: str) -> pl.DataFrame:
    """Every acknowledgement and snooze of an exception, oldest first."""
    return store.query(
        "SELECT occurred_at, actor, kind, reason, until FROM exception_events "
        "WHERE exception_key = ? ORDER BY event_id",
        [key],
    )


def record_count(
    store: Store, sku: str, location: str, quantity: int, counted_at: datetime, counted_by: str
) -> int:
    """Record a physical count (compared with the ledger by the data-quality rule)."""
    if quantity < 0:
        raise ExceptionInputError(f"a count cannot be negative ({quantity})")
    with store.transaction() as cur:
        if not cur.execute("SELECT 1 FROM products WHERE sku = ?", [sku]).fetchall():
            raise NotFoundError(f"unknown SKU {sku!r}")
        if not cur.execute("SELECT 1 FROM locations WHERE code = ?", [location]).fetchall():
            raise NotFoundError(f"unknown location {location!r}")
        return cur.execute(
            "INSERT INTO stock_counts (sku, location, counted_at, quantity, counted_by) "
            "VALUES (?, ?, ?, ?, ?) RETURNING count_id",
            [sku, location, counted_at, int(quantity), counted_by],
        ).fetchall()[0][0]


DECISION_GROUPS = ("exception", "destination", "supplier")

WAITING_SQL = """
SELECT a.action_id, a.kind, a.sku, coalesce(a.from_location, a.supplier) AS source,
       a.to_location, a.supplier, a.quantity, a.arrival_date, a.target,
       (a.quantity * coalesce(p.unit_cost, 0))::DOUBLE AS value, a.kept_for_people,
       a.kept_at_risk
FROM actions a LEFT JOIN products p USING (sku)
WHERE a.status = 'proposed'
ORDER BY a.action_id
"""


def decisions(store: Store, by: str = "exception") -> pl.DataFrame:
    """The proposals waiting for people (what the approval policy left), in groups a manager
    decides together: ``by`` the exception each serves first (its most severe linked
    exception; actions serving none form one group), its destination, or its supplier (or
    shipping location). Each action carries the money at risk it serves (the highest value
    at risk of the latest run's exceptions linked to it) and its value at cost; one serving
    no exception carries the money the policy's limit that kept it guards (the value above
    the limit, the units above the max level at cost), or, never seen by the policy, its
    value. Groups come most money at risk first. Columns: group, at_risk (the group's),
    action_id, kind, sku, source, to_location, quantity, arrival_date, value, serves (the
    exception's title), serves_at_risk (the action's money at risk), kept (why the policy
    left it to people)."""
    if by not in DECISION_GROUPS:
        raise ExceptionInputError(
            f"decisions are grouped by {', '.join(DECISION_GROUPS)}, not {by!r}"
        )
    waiting = store.query(WAITING_SQL)
    items = list_exceptions(store, include_snoozed=True)
    serves: dict[int, tuple[float, str, float]] = {}  # action -> (severity, title, at risk)
    for text, severity, title, at_risk in items.select(
        "action_ids", "severity", "title", "value_at_risk"
    ).iter_rows():
        for action_id in json.loads(text) if text else []:
            if action_id not in serves or severity > serves[action_id][0]:
                serves[action_id] = (float(severity), title, float(at_risk))
    ids = waiting["action_id"].to_list()
    waiting = waiting.with_columns(
        serves=pl.Series([serves.get(i, (0, None, 0))[1] for i in ids], dtype=pl.String),
        serves_at_risk=pl.Series(
            [serves.get(i, (0, None, None))[2] for i in ids], dtype=pl.Float64
        ),
    ).with_columns(
        serves_at_risk=pl.coalesce("serves_at_risk", "kept_at_risk", "value"),
        kept=pl.col("kept_for_people"),
    )
    key = {
        "exception": pl.col("serves").fill_null(
            pl.lit("serving no exception: ")
            + pl.col("kept_for_people").str.split(":").list.first().fill_null("not checked")
        ),
        "destination": pl.col("to_location"),
        "supplier": pl.coalesce("supplier", "source"),
    }[by]
    grouped = waiting.with_columns(group=key)
    totals = grouped.group_by("group").agg(
        at_risk=(
            pl.col("serves_at_risk").max() if by == "exception" else pl.col("serves_at_risk").sum()
        )
    )
    return (
        grouped.join(totals, on="group")
        .sort(["at_risk", "group", "action_id"], descending=[True, False, False])
        .select(
            "group",
            "at_risk",
            "action_id",
            "kind",
            "sku",
            "source",
            "to_location",
            "quantity",
            "arrival_date",
            "value",
            "serves",
            "serves_at_risk",
            "kept",
        )
    )
