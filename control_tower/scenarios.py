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
- :func:`demand_change`: demand times a factor over the next days, for the stocking SKU x
  locations of a category, some SKUs, places or a region; each projected as things stand and
  with the change, so the answer is where stock runs out first and how much more goes short.
"""

from __future__ import annotations

import math
from dataclasses import replace
from datetime import date, timedelta

import polars as pl

from control_tower import exceptions, position
from control_tower.config import Settings
from control_tower.errors import ControlTowerError, NotFoundError
from control_tower.optimize import get_plan_run
from control_tower.optimize.readout import trucks
from control_tower.policies import compute_policy, policies
from control_tower.store import Store

MAX_DELAY_DAYS = 60


class ScenarioError(ControlTowerError, ValueError):
    title = "Scenario not possible"


def _against(now: exceptions.Projection, then: exceptions.Projection, name: str) -> dict:
    """A projection as things stand against one with a change (``name``: what the columns of
    the changed one end with): stock-out dates, units short, sales at risk and what the change
    adds."""
    return {
        "stockout_date_now": now.stockout_date,
        f"stockout_date_{name}": then.stockout_date,
        "units_short_now": float(now.units_short),
        f"units_short_{name}": float(then.units_short),
        "sales_at_risk_now": float(now.sales_at_risk),
        f"sales_at_risk_{name}": float(then.sales_at_risk),
        "extra_units_short": float(then.units_short - now.units_short),
        "extra_sales_at_risk": float(then.sales_at_risk - now.sales_at_risk),
    }


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
                **_against(now, later, "delayed"),
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


MAX_DEMAND_FACTOR = 5.0  # demand at most five times what is expected (+400%)
MIN_DEMAND_FACTOR = 0.1  # and at least a tenth of it (-90%)


def demand_change(
    store: Store,
    factor: float,
    *,
    days: int | None = None,
    skus: list[str] | None = None,
    category: str | None = None,
    locations: list[str] | None = None,
    region: str | None = None,
    settings: Settings | None = None,
    as_of: date | None = None,
) -> pl.DataFrame:
    """Per stocking SKU x location with demand in the scope, the projection as things stand
    and with demand ``factor`` times the expected over the first ``days`` days (the whole
    horizon when None). Columns: sku, location, stockout_date_now, stockout_date_changed,
    units_short_now, units_short_changed, sales_at_risk_now, sales_at_risk_changed,
    extra_units_short, extra_sales_at_risk, in_window (runs out by the change's last day
    with it), earlier (and where it did not, or sooner); those that run out first come
    first."""
    settings = settings or Settings()
    horizon = settings.exceptions.lookahead_days
    if math.isnan(factor) or not MIN_DEMAND_FACTOR <= factor <= MAX_DEMAND_FACTOR:
        raise ScenarioError(
            f"a demand change is from {MIN_DEMAND_FACTOR:g} to {MAX_DEMAND_FACTOR:g} times "
            f"what is expected, not {factor:g}"
        )
    days = horizon if days is None else days
    if not 1 <= days <= horizon:
        raise ScenarioError(f"a demand change lasts 1 to {horizon} days, not {days}")
    as_of = position.resolve_as_of(store, as_of)
    pos = position.stock_position(
        store,
        as_of=as_of,
        skus=skus,
        locations=locations,
        category=category,
        settings=settings.position,
    )
    pos = pos.filter(
        pl.col("location_kind").is_in(exceptions.STOCKING) & (pl.col("avg_daily_demand") > 0)
    )
    if region:
        pos = pos.filter(pl.col("region") == region)
    schema = {
        "sku": pl.String,
        "location": pl.String,
        "stockout_date_now": pl.Date,
        "stockout_date_changed": pl.Date,
        "units_short_now": pl.Float64,
        "units_short_changed": pl.Float64,
        "sales_at_risk_now": pl.Float64,
        "sales_at_risk_changed": pl.Float64,
        "extra_units_short": pl.Float64,
        "extra_sales_at_risk": pl.Float64,
        "in_window": pl.Boolean,
        "earlier": pl.Boolean,
    }
    pairs = list(pos.select("sku", "location").iter_rows())
    if not pairs:
        return pl.DataFrame(schema=schema)
    now_all = exceptions.project_many(store, pairs, as_of=as_of, settings=settings)
    changed_all = exceptions.project_many(
        store, pairs, as_of=as_of, demand_factor=factor, demand_days=days, settings=settings
    )
    end = as_of + timedelta(days=days)
    rows = []
    for key in pairs:
        now, changed = now_all[key], changed_all[key]
        out = changed.stockout_date
        in_window = out is not None and out <= end
        earlier = in_window and (now.stockout_date is None or out < now.stockout_date)
        rows.append(
            {
                "sku": key[0],
                "location": key[1],
                **_against(now, changed, "changed"),
                "in_window": in_window,
                "earlier": earlier,
            }
        )
    return pl.DataFrame(rows, schema=schema).sort(
        ["stockout_date_changed", "extra_sales_at_risk", "sku", "location"],
        descending=[False, True, False, False],
        nulls_last=True,
    )


MAX_CLOSURE_DAYS = 28
MAX_LANE_FACTOR = 10.0

CLOSURE_SCHEMA = {
    "sku": pl.String,
    "location": pl.String,
    "unserved_units": pl.Float64,
    "unserved_sales": pl.Float64,
    "inbound_delayed": pl.Float64,
    "stockout_date_now": pl.Date,
    "stockout_date_closed": pl.Date,
    "units_short_now": pl.Float64,
    "units_short_closed": pl.Float64,
    "lost_sales": pl.Float64,
}


def location_closure(
    store: Store,
    location: str,
    days: int,
    *,
    settings: Settings | None = None,
    as_of: date | None = None,
) -> pl.DataFrame:
    """A location closed from tomorrow for ``days`` days: it serves, receives and ships
    nothing. Per SKU it holds, sells or expects: the demand it cannot serve meanwhile (the
    projection's demand of those days, units and at price), the inbound due meanwhile (moved
    to the day it reopens), and the stock-out after it reopens against as things stand (the
    projection of :func:`control_tower.exceptions.project` with the closed days' demand and
    arrivals moved out). ``lost_sales`` = unserved sales + the change in sales at risk after
    reopening. Worst first. Transfers it would ship meanwhile: :func:`held_departures`."""
    settings = settings or Settings()
    if not 1 <= days <= MAX_CLOSURE_DAYS:
        raise ScenarioError(f"a closure is 1 to {MAX_CLOSURE_DAYS} days, not {days}")
    kind = store.rows("SELECT kind FROM locations WHERE code = ?", [location])
    if not kind:
        raise NotFoundError(f"no location {location!r}")
    as_of = position.resolve_as_of(store, as_of)
    held = position.stock_position(
        store, as_of=as_of, locations=[location], settings=settings.position
    )
    due = position.inbound(store, as_of=as_of).filter(pl.col("to_location") == location)
    pairs = sorted(
        {(s, location) for s in held["sku"].to_list()} | {(s, location) for s in due["sku"]}
    )
    if not pairs:
        return pl.DataFrame(schema=CLOSURE_SCHEMA)
    tomorrow = as_of + timedelta(days=1)
    reopens = tomorrow + timedelta(days=days)
    now_all = exceptions.project_many(store, pairs, as_of=as_of, settings=settings)
    moved: dict[tuple[str, str], list[tuple[date, float]]] = {}
    closed: dict[tuple[str, str], tuple[float, float]] = {}
    for key, now in now_all.items():
        window = now.days.filter((pl.col("date") >= tomorrow) & (pl.col("date") < reopens))
        demand = window.select("date", "demand").rows()
        arriving = [(d, float(a)) for d, a in window.select("date", "arrivals").rows() if a > 0]
        moved[key] = (
            [(d, float(q)) for d, q in demand if q > 0]  # not served: the stock stays
            + [(d, -a) for d, a in arriving]
            + [(reopens, a) for d, a in arriving]
        )
        closed[key] = (sum(float(q) for _, q in demand), sum(a for _, a in arriving))
    later_all = exceptions.project_many(store, pairs, as_of=as_of, extras=moved, settings=settings)
    rows = []
    for key, now in now_all.items():
        later = later_all[key]
        unserved, delayed = closed[key]
        if unserved <= 0 and delayed <= 0 and later.units_short <= now.units_short:
            continue
        rows.append(
            {
                "sku": key[0],
                "location": location,
                "unserved_units": unserved,
                "unserved_sales": unserved * now.price,
                "inbound_delayed": delayed,
                "stockout_date_now": now.stockout_date,
                "stockout_date_closed": later.stockout_date,
                "units_short_now": float(now.units_short),
                "units_short_closed": float(later.units_short),
                "lost_sales": unserved * now.price + later.sales_at_risk - now.sales_at_risk,
            }
        )
    return pl.DataFrame(rows, schema=CLOSURE_SCHEMA).sort(
        ["lost_sales", "sku"], descending=[True, False]
    )


def held_departures(store: Store, location: str, days: int, *, as_of: date | None = None):
    """Transfers decided or proposed to leave ``location`` from tomorrow within ``days`` days
    (not yet posted): what a closure holds back. Columns: action_id, status, sku,
    to_location, quantity, ship_date."""
    as_of = position.resolve_as_of(store, as_of)
    return store.query(
        "SELECT action_id, status, sku, to_location, quantity, ship_date FROM actions "
        "WHERE kind = 'transfer' AND from_location = $loc AND status IN ('proposed', 'approved') "
        "AND ship_date <= $last ORDER BY ship_date, action_id",
        {"loc": location, "last": as_of + timedelta(days=days)},
    )


def lane_cost_change(store: Store, origin: str, destination: str, factor: float) -> dict:
    """A lane's costs (per unit and fixed) multiplied by ``factor`` (0 to 10), against the
    latest base plan: its lines on the lane (units, transport and fixed cost as the plan
    priced them, and at the new rates), and every other way into the destination with its
    cost per unit, marked where it becomes cheaper a unit than the changed lane. Read-only:
    a re-plan with the change is ``control-tower plan --lane-cost FROM>TO=FACTOR``."""
    if not (0 <= factor <= MAX_LANE_FACTOR) or math.isnan(factor):
        raise ScenarioError(f"a cost factor is from 0 to {MAX_LANE_FACTOR:g}, not {factor:g}")
    lane = store.rows(
        "SELECT transit_days, cost_per_unit, coalesce(fixed_cost, 0), capacity FROM lanes "
        "WHERE from_location = ? AND to_location = ?",
        [origin, destination],
    )
    if not lane:
        raise NotFoundError(f"no lane {origin}>{destination}", title="Unknown lane")
    transit, per_unit, fixed = int(lane[0][0]), float(lane[0][1] or 0.0), float(lane[0][2])
    capacity = float(lane[0][3]) if lane[0][3] else math.inf
    try:
        run = get_plan_run(store)["run_id"]  # the latest base plan
    except NotFoundError:
        run = None
    departures = store.query(
        "SELECT ship_date, count(*) AS lines, sum(quantity)::BIGINT AS units FROM plan_lines "
        "WHERE run_id = $run AND kind = 'transfer' AND from_location = $o AND to_location = $d "
        "GROUP BY ship_date ORDER BY ship_date",
        {"run": run, "o": origin, "d": destination},
    )
    units = int(departures["units"].sum()) if departures.height else 0
    truckloads = sum(trucks(u, capacity) for u in departures["units"].to_list())
    transport = units * per_unit
    fixed_total = truckloads * fixed  # the lane's fixed cost once a truck a departure
    others = store.query(
        "SELECT from_location AS origin, transit_days, cost_per_unit::DOUBLE AS cost_per_unit, "
        "coalesce(fixed_cost, 0)::DOUBLE AS fixed_cost FROM lanes "
        "WHERE to_location = $d AND from_location <> $o ORDER BY cost_per_unit, from_location",
        {"d": destination, "o": origin},
    ).with_columns(cheaper=pl.col("cost_per_unit") < per_unit * factor)
    return {
        "origin": origin,
        "destination": destination,
        "factor": factor,
        "transit_days": transit,
        "cost_per_unit": per_unit,
        "cost_per_unit_new": per_unit * factor,
        "fixed_cost": fixed,
        "fixed_cost_new": fixed * factor,
        "plan_run": run,
        "lines": int(departures["lines"].sum()) if departures.height else 0,
        "units": units,
        "departures": departures.height,
        "trucks": truckloads,
        "first_ship": departures["ship_date"].min(),
        "last_ship": departures["ship_date"].max(),
        "transport": transport,
        "fixed": fixed_total,
        "cost_now": transport + fixed_total,
        "cost_new": (transport + fixed_total) * factor,
        "alternatives": others.to_dicts(),
    }
