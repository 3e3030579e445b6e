"""The agent's tools: typed (pydantic arguments), read-only over the core services except
``draft_transfer``, which only creates a proposed action. No tool approves, posts, deletes,
reads files, reaches the network or runs free-form SQL.

Every tool returns a :class:`ToolResult`: the facts in plain words (the fact sheet the answer
is phrased from and checked against), the rows behind them, and where they came from. Text
from the data (product, location and supplier names) is marked as data by the caller that
shows it to a model (:func:`agents.safety.quoted`), never followed.
"""

from __future__ import annotations

import difflib
import json
import logging
import math
import re
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import date, timedelta
from typing import Any, Literal

import polars as pl
from pydantic import BaseModel, Field, ValidationError, field_validator

from control_tower import (
    actions,
    exceptions,
    explain,
    insights,
    kpis,
    optimize,
    policies,
    position,
    scenarios,
    vmi,
)
from control_tower.actions import Actor
from control_tower.config import Settings
from control_tower.errors import ControlTowerError, NotFoundError
from control_tower.store import Store

log = logging.getLogger(__name__)

STOCKING = exceptions.STOCKING  # the kinds of location that hold stock for sale
CODE = r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,39}$"  # a SKU or location code, as the store keeps them


class ToolError(ControlTowerError):
    """A tool call that cannot be answered (bad arguments, unknown SKU, not allowed)."""

    title = "Tool call refused"


@dataclass
class ToolContext:
    """What a turn's tools work on: the store, settings and the signed-in person (drafting
    needs a planner or admin)."""

    store: Store
    settings: Settings = field(default_factory=Settings)
    actor: Actor | None = None


@dataclass(frozen=True)
class ToolResult:
    tool: str
    args: dict
    facts: tuple[str, ...]  # one fact a line, with its numbers
    data: Any  # the rows behind the facts (JSON-able)
    sources: tuple[str, ...]  # what the facts were read from
    seconds: float = 0.0

    def text(self) -> str:
        return "\n".join(self.facts)


def _num(value: float | None, digits: int = 0) -> str:
    """A number as the facts write it: thousands separators, ``digits`` decimals."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "n/a"
    return f"{value:,.{digits}f}"


def _day(value: date | None) -> str:
    return value.isoformat() if value else "none"


def _jsonable(rows: list[dict]) -> list[dict]:
    return json.loads(json.dumps(rows, default=str))


# -- arguments ------------------------------------------------------------------------------------
class _Args(BaseModel):
    model_config = {"extra": "forbid", "str_strip_whitespace": True}


class SkuArgs(_Args):
    sku: str = Field(..., pattern=CODE, description="the SKU code, e.g. BEV-0001")


class PositionArgs(SkuArgs):
    location: str | None = Field(None, pattern=CODE, description="a location code, or all")


class ExceptionArgs(_Args):
    rule: str | None = Field(
        None,
        description="stockout, below_safety_stock, excess, dead_stock, late_inbound, "
        "demand_anomaly or data_quality",
    )
    location: str | None = Field(None, pattern=CODE)
    sku: str | None = Field(None, pattern=CODE)
    reference: str | None = Field(None, pattern=CODE, description="a PO number or transfer id")
    skus: list[str] | None = Field(
        None,
        max_length=500,
        description="several SKUs (the products a name matches, or a supplier supplies)",
    )
    locations: list[str] | None = Field(
        None, max_length=50, description="several locations (e.g. a region's)"
    )
    category: str | None = Field(None, max_length=80, description="a product category")
    within_days: int | None = Field(None, ge=0, le=365, description="due within N days")
    with_late_inbound: bool = Field(
        False,
        description="only SKU x locations that also wait for a late inbound line (the "
        "stock-outs late deliveries leave)",
    )
    top: int = Field(10, ge=1, le=50)

    @field_validator("skus", "locations")
    @classmethod
    def _codes(cls, value: list[str] | None) -> list[str] | None:
        for code in value or []:
            if not re.fullmatch(CODE, code):
                raise ValueError(f"{code!r} is not a code")
        return value

    @field_validator("rule")
    @classmethod
    def _known_rule(cls, value: str | None) -> str | None:
        if value is not None and value not in exceptions.RULES:
            raise ValueError(f"unknown rule {value!r}; rules are {', '.join(exceptions.RULES)}")
        return value


class ForecastArgs(_Args):
    sku: str | None = Field(None, pattern=CODE, description="the SKU code, e.g. BEV-0001")
    category: str | None = Field(
        None, max_length=80, description="a product category: its SKUs summed (no sku given)"
    )
    location: str | None = Field(
        None, pattern=CODE, description="a location code; none: every location of the SKU"
    )
    locations: list[str] | None = Field(
        None, max_length=50, description="several locations (e.g. a region's), summed"
    )
    days: int = Field(14, ge=1, le=28)

    @field_validator("locations")
    @classmethod
    def _codes(cls, value: list[str] | None) -> list[str] | None:
        for code in value or []:
            if not re.fullmatch(CODE, code):
                raise ValueError(f"{code!r} is not a location code")
        return value


class PolicyArgs(SkuArgs):
    location: str = Field(..., pattern=CODE)


class SourcesArgs(SkuArgs):
    location: str = Field(..., pattern=CODE, description="where the units are needed")
    quantity: int | None = Field(None, gt=0, le=10_000_000)


class WhatIfArgs(_Args):
    sku: str | None = Field(None, pattern=CODE)
    location: str | None = Field(None, pattern=CODE)
    units: int = Field(0, ge=-10_000_000, le=10_000_000, description="extra units (+ in, - out)")
    arrival_date: date | None = None
    action_id: int | None = Field(None, ge=1, description="a drafted action: with and without it")


class SearchArgs(_Args):
    query: str = Field(..., min_length=1, max_length=120)
    limit: int = Field(5, ge=1, le=20)


class SuppliersArgs(_Args):
    category: str | None = Field(None, max_length=80)
    sku: str | None = Field(None, pattern=CODE)


class ActionsArgs(_Args):
    location: str | None = Field(None, pattern=CODE, description="either end")
    sku: str | None = Field(None, pattern=CODE)
    kind: str | None = Field(None, pattern="^(transfer|purchase_order|expedite)$")
    top: int = Field(10, ge=1, le=50)


class DraftArgs(SkuArgs):
    from_location: str = Field(..., pattern=CODE)
    to_location: str = Field(..., pattern=CODE)
    quantity: int = Field(..., gt=0, le=10_000_000)
    reason: str = Field(..., min_length=3, max_length=300)


# -- helpers ---------------------------------------------------------------------------------------
def _known_sku(store: Store, sku: str) -> dict:
    return insights.product(store, sku)


def _known_location(store: Store, code: str) -> dict:
    return insights.location(store, code)


def _as_of(ctx: ToolContext) -> date:
    return position.resolve_as_of(ctx.store, None)


# -- the tools -------------------------------------------------------------------------------------
def get_position(ctx: ToolContext, args: PositionArgs) -> ToolResult:
    """Stock of one SKU at one location or across the network: available, on hand, in
    transit, on order, daily demand, days of cover, value."""
    product = _known_sku(ctx.store, args.sku)
    if args.location:
        _known_location(ctx.store, args.location)
    as_of = _as_of(ctx)
    frame = position.sku_network(ctx.store, args.sku, as_of=as_of, settings=ctx.settings.position)
    frame = frame.filter(pl.col("location_kind").is_in(STOCKING))
    if args.location:
        frame = frame.filter(pl.col("location") == args.location)
    else:
        frame = frame.filter(
            (pl.col("on_hand") != 0)
            | (pl.col("avg_daily_demand") > 0)
            | (pl.col("in_transit") > 0)
            | (pl.col("on_order") > 0)
        )
    frame = frame.sort("available", descending=True)
    facts = []
    for r in frame.iter_rows(named=True):
        cover = r["days_of_cover"]
        facts.append(
            f"{args.sku} at {r['location']}: {_num(r['available'])} available, "
            f"{_num(r['on_hand'])} on hand, {_num(r['in_transit'])} in transit, "
            f"{_num(r['on_order'])} on order; sells {_num(r['avg_daily_demand'], 1)} a day; "
            f"{_num(cover, 1) if cover is not None else 'no'} days of cover; stock value "
            f"{_num(r['stock_value'])}."
        )
    if not facts:
        facts.append(f"{args.sku} has no stock, demand or inbound at the locations asked.")
    total = frame["available"].sum() if frame.height else 0
    facts.insert(0, f"{args.sku}: {_num(total)} available in all, as of {as_of}.")
    keep = [
        "location",
        "available",
        "on_hand",
        "in_transit",
        "on_order",
        "avg_daily_demand",
        "days_of_cover",
        "stock_value",
        "status",
    ]
    return _result(
        "get_position",
        args,
        facts,
        frame.select(keep).to_dicts(),
        [f"stock position as of {as_of} (ledger)", f"product {product['sku']}"],
    )


def list_exceptions(ctx: ToolContext, args: ExceptionArgs) -> ToolResult:
    """The latest exception run's exceptions, most severe first, filtered by rule, location,
    SKU, category or how soon they bite; with their drafted actions."""
    store = ctx.store
    for code in filter(None, [args.location]):
        _known_location(store, code)
    if args.sku:
        _known_sku(store, args.sku)
    run = exceptions.latest_run(store)
    if run is None:
        found = exceptions.detect(store, ctx.settings)
        items, source, as_of = (
            found.items,
            f"exception rules run now as of {found.as_of}",
            found.as_of,
        )
    else:
        items = exceptions.list_exceptions(store, include_snoozed=False)
        source, as_of = f"exception run {run['run_id']} as of {run['as_of']}", run["as_of"]
    if args.with_late_inbound:
        late = items.filter(pl.col("rule") == "late_inbound").select("sku", "location").unique()
        items = items.join(late, on=["sku", "location"], how="semi")
    if args.rule:
        items = items.filter(pl.col("rule") == args.rule)
    if args.location:
        items = items.filter(pl.col("location") == args.location)
    if args.sku:
        items = items.filter(pl.col("sku") == args.sku)
    if args.skus:
        items = items.filter(pl.col("sku").is_in(args.skus))
    if args.locations:
        for code in args.locations:
            _known_location(store, code)
        items = items.filter(pl.col("location").is_in(args.locations))
    if args.reference:
        items = items.filter(pl.col("reference") == args.reference)
    if args.category:
        wanted = _category(store, args.category)
        skus = insights.products(store).filter(pl.col("category") == wanted)["sku"].to_list()
        items = items.filter(pl.col("sku").is_in(skus))
    if args.within_days is not None:
        last = as_of + timedelta(days=args.within_days)
        items = items.filter(pl.col("due_date").is_not_null() & (pl.col("due_date") <= last))
    total = items.height
    value = float(items["value_at_risk"].sum()) if total else 0.0
    items = items.sort("severity", descending=True).head(args.top)
    what = f"{args.rule.replace('_', ' ')} " if args.rule else ""
    scope = [
        (
            f"for {args.sku}"
            if args.sku
            else f"for {len(args.skus)} SKUs"
            if args.skus and len(args.skus) > 5
            else f"for {', '.join(args.skus)}"
            if args.skus
            else ""
        ),
        f"at {', '.join(args.locations)}" if args.locations else "",
        f"on {args.reference}" if args.reference else "",
        f"at {args.location}" if args.location else "",
        f"in {args.category}" if args.category else "",
        f"due within {args.within_days} days" if args.within_days is not None else "",
        "waiting for a late inbound line" if args.with_late_inbound else "",
    ]
    facts = [
        f"{total:,} {what}exception{'' if total == 1 else 's'} {' '.join(filter(None, scope))}".rstrip()
        + f" ({source}), value at risk {_num(value)} in all"
        + (f"; the {items.height} most severe:" if total else ".")
    ]
    rows = []
    for rank, r in enumerate(items.iter_rows(named=True), start=1):
        ids = json.loads(r["action_ids"]) if r["action_ids"] else []
        facts.append(
            f"{rank}. {r['title']}: {r['detail']} Severity {_num(r['severity'])}, value at risk "
            f"{_num(r['value_at_risk'])}"
            + (f"; drafted actions {', '.join(f'#{i}' for i in ids)}." if ids else ".")
        )
        rows.append({k: r[k] for k in ("rule", "sku", "location", "due_date", "units", "title")})
        rows[-1] |= {"value_at_risk": r["value_at_risk"], "action_ids": ids}
    data = {"total": total, "value_at_risk": value, "as_of": str(as_of), "rows": _jsonable(rows)}
    return _result("list_exceptions", args, facts, data, [source])


def _category(store: Store, text: str) -> str:
    return insights.category(store, text)


def get_forecast(ctx: ToolContext, args: ForecastArgs) -> ToolResult:
    """Expected demand of one SKU (or every SKU of a category, or everything a location sells)
    over the next days (the latest
    forecast made by the data's today, else recent demand), next to its recent daily demand:
    at one location, or summed over several (a region's) or over every regional DC and store
    that stocks it (customers' demand; the central DC's outflow would count it twice), with
    each location's part."""
    store = ctx.store
    if args.sku:
        _known_sku(store, args.sku)
        skus, what = [args.sku], args.sku
    elif args.category:
        what = _category(store, args.category)
        skus = insights.products(store).filter(pl.col("category") == what)["sku"].to_list()
    elif args.location or args.locations:  # "未来7天广州的需求预测": everything sold there
        skus, what = None, "all products"
    else:
        raise ToolError("a forecast needs a SKU, a category or a location")
    held = position.stock_position(store, skus=skus, settings=ctx.settings.position)
    held = held.filter(pl.col("location_kind") != "supplier")
    if args.location:
        places = [args.location]
    elif args.locations:
        places = list(args.locations)
    else:  # where customers buy: a central DC's outflow is the regional DCs' demand again
        selling = held.filter(pl.col("location_kind").is_in(["regional_dc", "store"]))
        places = sorted(selling["location"].unique().to_list())
    for code in places:
        _known_location(store, code)
    pairs = [
        (r["sku"], r["location"])
        for r in held.select("sku", "location").iter_rows(named=True)
        if r["location"] in places
    ]
    if args.sku and args.location and not pairs:
        pairs = [(args.sku, args.location)]
    projections = exceptions.project_many(store, pairs, settings=ctx.settings)
    by_place: dict[str, float] = {}
    daily: list[dict] = []
    first = last = None
    sources: set[str] = set()
    for (_sku, code), proj in sorted(projections.items()):
        days = proj.days.head(args.days)
        if days.is_empty():
            continue
        first, last = days["date"][0], days["date"][-1]
        sources.add(proj.demand_source)
        by_place[code] = by_place.get(code, 0.0) + float(days["demand"].sum())
        if len(projections) == 1:
            daily = _jsonable(days.select("date", "demand").to_dicts())
    if not by_place:
        raise ToolError(
            f"no forecast or demand for {what} at {', '.join(places) or 'any location'}"
        )
    total = sum(by_place.values())
    rate = float(
        held.filter(pl.col("location").is_in(list(by_place)))["avg_daily_demand"].sum() or 0
    )
    where = next(iter(by_place)) if len(by_place) == 1 else f"{len(by_place)} locations"
    n_days = (last - first).days + 1 if first and last else args.days
    facts = [
        f"{what} at {where}: {_num(total)} units expected from {first} to {last} "
        f"({n_days} days), {_num(total / n_days, 1)} a day, from the {', '.join(sorted(sources))}.",
        f"Recent demand: {_num(rate, 1)} a day (last "
        f"{ctx.settings.position.demand_window_days} days).",
    ]
    if not args.sku:
        facts.append(f"{what}: {len({k[0] for k in projections}):,} SKUs forecast.")
    if len(by_place) > 1:
        facts += [f"{code}: {_num(units)} units." for code, units in by_place.items()]
    data = {
        "sku": args.sku,
        "category": what if args.category and not args.sku else None,
        "skus": len({k[0] for k in projections}),
        "total": total,
        "per_day": total / n_days,
        "first": str(first),
        "last": str(last),
        "days": n_days,
        "locations": len(by_place),
        "recent_per_day": rate,
        "parts": [{"location": code, "demand": units} for code, units in by_place.items()],
        "daily": daily,
    }
    return _result("get_forecast", args, facts, data, sorted(sources) + ["demand history"])


def explain_policy(ctx: ToolContext, args: PolicyArgs) -> ToolResult:
    """The replenishment policy of one SKU x location with its arithmetic: service level,
    lead time, demand, safety stock, reorder point, order quantity, max level."""
    _known_sku(ctx.store, args.sku)
    _known_location(ctx.store, args.location)
    policy = policies.explain_policy(
        ctx.store,
        args.sku,
        args.location,
        ctx.settings.policies,
        position_settings=ctx.settings.position,
        suppliers=ctx.settings.suppliers,
    )
    i = policy.inputs
    facts = [
        f"{args.sku} at {args.location}: class {i.abc}{i.xyz}, service level "
        f"{_num(i.service_level * 100, 1)}%, source {i.source}, lead time "
        f"{_num(i.lead_time_days, 1)} days (spread {_num(i.lead_time_sd_days, 1)}), demand "
        f"{_num(i.daily_demand, 2)} a day (spread {_num(i.daily_demand_sd, 2)}, from "
        f"{i.demand_source}).",
        f"{args.sku} at {args.location}: safety stock {_num(policy.safety_stock, 1)}, reorder point "
        f"{_num(policy.reorder_point, 1)}, order quantity {_num(policy.eoq, 1)}, max level "
        f"{_num(policy.max_level, 1)}.",
    ]
    facts += [f"{name}: {text}" for name, text in policy.formulas().items()]
    data = {
        "safety_stock": policy.safety_stock,
        "reorder_point": policy.reorder_point,
        "eoq": policy.eoq,
        "max_level": policy.max_level,
        "service_level": i.service_level,
        "lead_time_days": i.lead_time_days,
        "daily_demand": i.daily_demand,
    }
    return _result("explain_policy", args, facts, data, ["policies (computed now)"])


def compare_sources(ctx: ToolContext, args: SourcesArgs) -> ToolResult:
    """Where the units could come from: each location with a lane here and spare stock
    (available above its safety stock), and each supplier of the SKU; with cost and arrival
    date, cheapest in time first."""
    store = ctx.store
    product = _known_sku(store, args.sku)
    _known_location(store, args.location)
    as_of = _as_of(ctx)
    proj = exceptions.project(store, args.sku, args.location, settings=ctx.settings)
    quantity = args.quantity or max(int(math.ceil(proj.units_short)), 1)
    net = position.sku_network(store, args.sku, as_of=as_of, settings=ctx.settings.position)
    safety = {
        p.inputs.location: p.safety_stock
        for p in policies.policies(
            store,
            ctx.settings.policies,
            ctx.settings.position,
            skus=[args.sku],
            suppliers=ctx.settings.suppliers,
        )
    }
    lanes = store.query(
        "SELECT l.from_location, l.transit_days, l.cost_per_unit::DOUBLE AS unit_cost, "
        "l.fixed_cost::DOUBLE AS fixed_cost, k.kind FROM lanes l "
        "JOIN locations k ON k.code = l.from_location WHERE l.to_location = ?",
        [args.location],
    )
    available = dict(zip(net["location"], net["available"], strict=True))
    options = []
    for r in lanes.iter_rows(named=True):
        if r["kind"] not in STOCKING:
            continue
        spare = max(
            int(available.get(r["from_location"], 0) - safety.get(r["from_location"], 0)), 0
        )
        arrive = as_of + timedelta(days=1 + int(r["transit_days"]))
        cost = quantity * r["unit_cost"] + r["fixed_cost"]
        kind = "central DC" if r["kind"] == "central_dc" else "neighbour"
        options.append(
            {
                "source": r["from_location"],
                "kind": kind,
                "spare": spare,
                "arrival_date": arrive,
                "cost": cost,
                "unit_cost": r["unit_cost"],
                "covers": spare >= quantity,
            }
        )
    suppliers = store.query(
        "SELECT sp.supplier, sp.lead_time_mean_days AS lead, sp.moq, sp.pack_size, "
        "coalesce(sp.price, p.unit_cost)::DOUBLE AS price, s.location AS site FROM "
        "supplier_products sp JOIN suppliers s ON s.code = sp.supplier "
        "JOIN products p ON p.sku = sp.sku WHERE sp.sku = ?",
        [args.sku],
    )
    central = store.rows(
        "SELECT l.from_location, l.transit_days FROM lanes l JOIN locations k ON "
        "k.code = l.from_location WHERE l.to_location = ? AND k.kind = 'central_dc'",
        [args.location],
    )
    for r in suppliers.iter_rows(named=True):
        lead = int(math.ceil(r["lead"]))
        direct = store.rows(
            "SELECT transit_days FROM lanes WHERE from_location = ? AND to_location = ?",
            [r["site"], args.location],
        )
        via = ""
        if not direct and central and central[0][0] != args.location:
            lead += int(central[0][1])
            via = f" via {central[0][0]}"
        ordered = max(quantity, int(r["moq"] or 1))
        ordered = int(math.ceil(ordered / r["pack_size"]) * r["pack_size"])
        options.append(
            {
                "source": r["supplier"],
                "kind": "supplier" + via,
                "spare": None,
                "arrival_date": as_of + timedelta(days=lead),
                "cost": ordered * r["price"],
                "unit_cost": r["price"],
                "covers": True,
                "order_quantity": ordered,
            }
        )
    options.sort(key=lambda o: (not o["covers"], o["arrival_date"], o["cost"]))
    facts = [
        f"{quantity:,} units of {args.sku} needed at {args.location}"
        + (
            f"; it runs out on {proj.stockout_date}, {_num(proj.units_short)} short"
            if proj.stockout_date
            else "; no stock-out projected"
        )
        + f" (as of {as_of})."
    ]
    for o in options:
        in_time = (
            " before the stock-out"
            if proj.stockout_date and o["arrival_date"] <= proj.stockout_date
            else ""
        )
        if o["spare"] is not None:
            facts.append(
                f"{o['kind']} {o['source']}: {o['spare']:,} spare, arrives {o['arrival_date']}"
                f"{in_time}, transport {_num(o['cost'], 2)} for {quantity:,} units"
                + ("" if o["covers"] else " (not enough spare)")
                + "."
            )
        else:
            facts.append(
                f"{o['kind']} {o['source']}: order {o['order_quantity']:,} (MOQ and packs), "
                f"arrives {o['arrival_date']}{in_time}, cost {_num(o['cost'], 2)} at "
                f"{_num(o['unit_cost'], 2)} a unit."
            )
    if len(facts) == 1:
        facts.append(f"No lane or supplier delivers {args.sku} to {args.location}.")
    return _result(
        "compare_sources",
        args,
        facts,
        _jsonable(options),
        [f"stock position as of {as_of}", "lanes", "supplier terms", f"product {product['sku']}"],
    )


def simulate_what_if(ctx: ToolContext, args: WhatIfArgs) -> ToolResult:
    """Project stock with and without extra units (or a drafted action): when it runs out,
    how many go short, the sales at risk; for a transfer, its source too."""
    store = ctx.store
    if args.action_id is not None:
        action = actions.get_action(store, args.action_id)
        if action["kind"] == "expedite":
            raise ToolError(
                f"action #{args.action_id} is an expedite: it brings inbound forward, adds no "
                "units; the projection already counts a late line as arriving tomorrow"
            )
        if action["status"] not in ("proposed", "approved"):
            raise ToolError(
                f"action #{args.action_id} is {action['status']}: only a proposed or approved "
                "action can be weighed (a posted one is already in the stock and inbound)"
            )
        changes = [(action["to_location"], [(action["arrival_date"], action["quantity"])])]
        if action["kind"] == "transfer" and action["from_location"]:
            changes.append((action["from_location"], [(action["ship_date"], -action["quantity"])]))
        sku, label = action["sku"], f"action #{args.action_id} ({actions.describe(action)})"
    else:
        if not (args.sku and args.location):
            raise ToolError("a what-if needs an action id, or a SKU and a location")
        _known_sku(store, args.sku)
        _known_location(store, args.location)
        when = args.arrival_date or _as_of(ctx) + timedelta(days=1)
        changes = [(args.location, [(when, args.units)] if args.units else [])]
        way = "fewer" if args.units < 0 else "more"
        sku, label = args.sku, f"{abs(args.units):,} {way} units on {when} ({args.units:+,})"
    facts = [f"What if: {label}."] if any(extra for _loc, extra in changes) else []
    rows = []
    for location, extra in changes:
        without = exceptions.project(store, sku, location, settings=ctx.settings)
        cases = [("as things stand", without)]
        if extra:
            with_it = exceptions.project(store, sku, location, extra=extra, settings=ctx.settings)
            cases = [("without it", without), ("with it", with_it)]
        for name, p in cases:
            facts.append(f"{sku} at {location} {name}: " + _outcome(p))
            rows.append(
                {
                    "location": location,
                    "case": name,
                    "stockout_date": p.stockout_date,
                    "units_short": p.units_short,
                    "sales_at_risk": p.sales_at_risk,
                    "lowest_stock": float(p.days["stock"].min()),
                }
            )
    return _result(
        "simulate_what_if",
        args,
        facts,
        _jsonable(rows),
        [f"stock projection as of {without.as_of} ({without.demand_source})"],
    )


def _outcome(p: exceptions.Projection) -> str:
    if p.stockout_date is None:
        return f"no stock-out in {p.days.height} days (lowest stock {_num(p.days['stock'].min())})."
    if p.units_short <= 0:
        return f"runs out on {p.stockout_date}, after an order placed today could arrive."
    until = (
        f"until the delivery on {p.next_arrival}"
        if p.next_arrival
        else f"until an order placed today could arrive ({p.lead_time_days:g} days)"
        if p.lead_time_days is not None
        else f"within {p.days.height} days"
    )
    return (
        f"runs out on {p.stockout_date}, {_num(p.units_short)} units short {until}, "
        f"{_num(p.sales_at_risk)} of sales at risk."
    )


CJK = re.compile(r"[\u3400-\u9fff]")


def _score(query: str, sku: str, name: str) -> float:
    q = query.casefold()
    if q == sku.casefold():
        return 1.0
    if q in sku.casefold():
        return 0.95
    text = name.casefold()
    if q in text:
        return 0.9
    words = [w for w in re.split(r"[\s,/]+", q) if w]
    latin = [w for w in words if not CJK.search(w)]
    hits = sum(w in text for w in latin)
    han = set(CJK.findall(q))
    han_share = len(han & set(CJK.findall(text))) / len(han) if han else 0.0
    word_share = hits / len(latin) if latin else 0.0
    fuzzy = difflib.SequenceMatcher(None, q, text).ratio()
    return max(0.85 * max(word_share, han_share), 0.8 * fuzzy)


def search_products(ctx: ToolContext, args: SearchArgs) -> ToolResult:
    """Products by SKU or name, fuzzy, in English or Chinese: the best matches."""
    products = (
        insights.products(ctx.store).select("sku", "name", "category", "unit_cost", "price").rows()
    )
    scored = sorted(
        (
            (round(_score(args.query, sku, name), 3), sku, name, cat, cost, price)
            for sku, name, cat, cost, price in products
        ),
        key=lambda r: (-r[0], r[1]),
    )
    found = [r for r in scored if r[0] >= 0.5][: args.limit]
    facts = [f"{len(found)} products match {args.query!r}."]
    rows = []
    for score, sku, name, cat, cost, price in found:
        facts.append(
            f"{sku}: {name} ({cat}), unit cost {_num(cost, 2)}"
            + (f", price {_num(price, 2)}" if price is not None else "")
            + f"; match {score:.2f}."
        )
        rows.append({"sku": sku, "name": name, "category": cat, "score": score})
    return _result("search_products", args, facts, rows, ["product master"])


def compare_suppliers(ctx: ToolContext, args: SuppliersArgs) -> ToolResult:
    """Suppliers' lead times (mean and spread over the SKUs they supply), MOQ and on-time
    rate; for one SKU or a category, or all."""
    store = ctx.store
    category = None
    if args.sku:
        _known_sku(store, args.sku)
    elif args.category:
        category = _category(store, args.category)
    frame = store.query(
        "SELECT sp.supplier, s.name, count(*) AS skus, avg(sp.lead_time_mean_days) AS lead, "
        "avg(sp.lead_time_std_days) AS spread, min(sp.lead_time_mean_days) AS fastest, "
        "max(sp.lead_time_mean_days) AS slowest, s.on_time_rate FROM supplier_products sp "
        "JOIN suppliers s ON s.code = sp.supplier JOIN products p ON p.sku = sp.sku "
        "WHERE ($sku IS NULL OR sp.sku = $sku) AND ($category IS NULL OR p.category = $category) "
        "GROUP BY ALL ORDER BY lead",
        {"sku": args.sku, "category": category},
    )
    facts = [f"{frame.height} suppliers" + (f" of {args.sku}" if args.sku else "") + ":"]
    for r in frame.iter_rows(named=True):
        facts.append(
            f"{r['supplier']}: {r['skus']} SKUs, lead time {_num(r['lead'], 1)} days on average "
            f"(spread {_num(r['spread'], 1)}, from {_num(r['fastest'], 1)} to "
            f"{_num(r['slowest'], 1)})"
            + (
                f", on time {_num(r['on_time_rate'] * 100, 0)}%"
                if r["on_time_rate"] is not None
                else ""
            )
            + "."
        )
    return _result(
        "compare_suppliers", args, facts, _jsonable(frame.to_dicts()), ["supplier terms"]
    )


def drafted_actions(ctx: ToolContext, args: ActionsArgs) -> ToolResult:
    """The live drafted actions (proposed or approved): the plan's transfers and orders and
    the expedites, into or out of a location, with the plan's reason for each."""
    store = ctx.store
    if args.location:
        _known_location(store, args.location)
    frame = actions.list_actions(
        store, statuses=["proposed", "approved"], sku=args.sku, location=args.location
    )
    if args.kind:
        frame = frame.filter(pl.col("kind") == args.kind)
    total = frame.height
    frame = frame.sort("quantity", descending=True).head(args.top)
    reasons = {}
    if frame.height:
        found = store.query(
            "SELECT a.action_id, l.reason, l.cost FROM actions a JOIN plan_lines l ON "
            "l.run_id = a.plan_run AND l.line_no = a.plan_line "
            "WHERE a.action_id IN (SELECT unnest(?))",
            [frame["action_id"].to_list()],
        )
        reasons = {i: (reason, cost) for i, reason, cost in found.iter_rows()}
    facts = [f"{total:,} live drafted actions match; the {frame.height} largest:"]
    for r in frame.iter_rows(named=True):
        reason, cost = reasons.get(r["action_id"], (r["explanation"], None))
        facts.append(
            f"#{r['action_id']} ({r['status']}): {actions.describe(r)}"
            + (f"; cost {_num(cost, 2)}" if cost is not None else "")
            + (f"; why: {reason}" if reason else "")
        )
    keep = ["action_id", "kind", "status", "sku", "from_location", "to_location", "supplier"]
    keep += ["quantity", "ship_date", "arrival_date", "target", "targets"]
    return _result(
        "drafted_actions", args, facts, _jsonable(frame.select(keep).to_dicts()), ["actions"]
    )


class ActionArgs(_Args):
    action_id: int = Field(..., ge=1)


def explain_action(ctx: ToolContext, args: ActionArgs) -> ToolResult:
    """One action: what it does, its status, its explanation (why, what if nothing is done,
    cost, alternatives, safety stock) and its history."""
    action = actions.get_action(ctx.store, args.action_id)
    facts = [f"Action #{args.action_id} ({action['status']}): {actions.describe(action)}."]
    if action["explanation"]:
        facts += [
            f"#{args.action_id}: {part.strip()}"
            for part in re.split(r"(?<=\.)\s+(?=[A-Z])", action["explanation"])
            if part.strip()
        ]
    trail = actions.action_history(ctx.store, args.action_id)
    for r in trail.iter_rows(named=True):
        facts.append(
            f"#{args.action_id} {r['from_status'] or 'new'} -> {r['to_status']} by {r['actor']} "
            f"at {r['occurred_at']:%Y-%m-%d %H:%M}" + (f": {r['reason']}" if r["reason"] else "")
        )
    return _result("explain_action", args, facts, _jsonable([action]), ["actions", "action events"])


def draft_transfer(ctx: ToolContext, args: DraftArgs) -> ToolResult:
    """Draft a transfer as a proposed action for an approver (never approves it)."""
    if ctx.actor is None:
        raise ToolError("sign in as a planner to draft a transfer")
    made = actions.propose_transfer(
        ctx.store,
        args.sku,
        args.from_location,
        args.to_location,
        args.quantity,
        ctx.actor,
        reason=f"{args.reason} (drafted with the agent)",
    )
    facts = [
        f"Drafted action #{made['action_id']}: {actions.describe(made)}; proposed by "
        f"{made['proposed_by']}, waiting for an approver."
    ]
    return _result("draft_transfer", args, facts, _jsonable([made]), ["actions"])


# -- coverage: KPIs, rankings, transfers and orders, VMI and money, filters --------------------
# Every figure below comes from a core service (control_tower.insights and the services it
# names); the tools only validate, pick the rows asked for and phrase them. Each list says
# how many rows there are in all ("total") beside the rows shown.
Metric = Literal[
    "fill_rate",
    "turnover",
    "inventory_value",
    "health_index",
    "on_time_rate",
    "forecast_bias",
    "stockout_days",
    "days_of_inventory",
    "dead_stock_value",
]
PeriodName = Literal["this_week", "this_month", "last_month", "last_30_days", "current"]
Measure = Literal[
    "stockouts",
    "units_short",
    "sales_at_risk",
    "below_safety",
    "excess_value",
    "excess_units",
    "dead_stock_value",
    "dead_stock_units",
    "stock_value",
    "stock_units",
    "fill_rate",
    "stockout_days",
    "turnover",
    "forecast_bias",
    "health_index",
    "late_lines",
    "late_value",
    "on_time_rate",
    "lead_time",
    "lead_time_spread",
    "on_hand",
    "days_of_cover",
]
Group = Literal["location", "region", "category", "supplier", "product"]
Order = Literal["best", "worst", "highest", "lowest"]
LocationKind = Literal["central_dc", "regional_dc", "store", "vmi"]
SHARES = ("fill_rate", "on_time_rate", "forecast_bias")  # shown as percentages


class ScopeArgs(_Args):
    location: str | None = Field(None, pattern=CODE, description="a location code")
    region: str | None = Field(None, max_length=80, description="a region, e.g. North China")
    category: str | None = Field(None, max_length=80, description="a product category")
    supplier: str | None = Field(None, pattern=CODE, description="a supplier code")


class KpiArgs(ScopeArgs):
    metric: Metric
    period: PeriodName = "current"
    sku: str | None = Field(
        None, pattern=CODE, description="one product (fill rate, stock-out days, forecast bias)"
    )


class RankArgs(ScopeArgs):
    measure: Measure
    by: Group = "location"
    top_n: int = Field(10, ge=1, le=50)
    order: Order = Field("worst", description="best/worst by the measure's direction")
    period: PeriodName = "current"
    sku: str | None = Field(None, pattern=CODE, description="one product (needed for on_hand)")
    within_days: int | None = Field(None, ge=0, le=182, description="stock-outs due within")
    location_kind: LocationKind | None = None


class CompareArgs(_Args):
    measure: Measure
    entities: list[str] = Field(..., min_length=2, max_length=5, description="codes or names")
    by: Group | None = Field(None, description="what the entities are (found when left out)")
    period: PeriodName = "current"
    sku: str | None = Field(None, pattern=CODE)
    within_days: int | None = Field(None, ge=0, le=182)


class TransfersArgs(_Args):
    sku: str | None = Field(None, pattern=CODE)
    to_location: str | None = Field(None, pattern=CODE, description="destination")
    from_location: str | None = Field(None, pattern=CODE, description="source")
    category: str | None = Field(None, max_length=80, description="only this category's SKUs")
    region: str | None = Field(None, max_length=80, description="only those into this region")
    top: int = Field(10, ge=1, le=50)


class TransferCostArgs(_Args):
    from_location: str = Field(..., pattern=CODE)
    to_location: str = Field(..., pattern=CODE)
    sku: str | None = Field(None, pattern=CODE)
    quantity: int | None = Field(None, gt=0, le=10_000_000)


class PlanWhyArgs(_Args):
    sku: str | None = Field(None, pattern=CODE)
    from_location: str | None = Field(
        None, pattern=CODE, description="the source: a location or supplier code"
    )
    to_location: str | None = Field(None, pattern=CODE)
    action_id: int | None = Field(None, ge=1)
    top: int = Field(5, ge=1, le=20)


class OrdersArgs(_Args):
    sku: str | None = Field(None, pattern=CODE)
    supplier: str | None = Field(None, pattern=CODE)
    location: str | None = Field(None, pattern=CODE, description="where it is delivered")
    category: str | None = Field(None, max_length=80, description="a product category")
    top: int = Field(10, ge=1, le=50)
    sort: Literal["date", "value"] = Field("date", description="earliest, or largest at cost")


class ConsignedArgs(_Args):
    location: str | None = Field(None, pattern=CODE, description="the VMI site")
    supplier: str | None = Field(None, pattern=CODE)
    sku: str | None = Field(None, pattern=CODE)
    levels: Literal["below min", "above max", "outside"] | None = Field(
        None, description="only the lines below their agreed min, above their max, or either"
    )
    top: int = Field(20, ge=1, le=50)


class OwedArgs(_Args):
    supplier: str = Field(..., pattern=CODE)
    period: Literal["unsettled", "this_week", "this_month", "last_month", "last_30_days"] = (
        "unsettled"
    )
    sku: str | None = Field(None, pattern=CODE)
    top: int = Field(10, ge=1, le=50)


class SettlementArgs(_Args):
    supplier: str | None = Field(None, pattern=CODE)
    period: Literal["latest", "last_month", "all"] = "latest"
    top: int = Field(10, ge=1, le=50)


class LateArgs(_Args):
    supplier: str | None = Field(None, pattern=CODE)
    location: str | None = Field(None, pattern=CODE, description="either end")
    region: str | None = Field(None, max_length=80, description="coming into this region")
    sku: str | None = Field(None, pattern=CODE)
    category: str | None = Field(None, max_length=80)
    kind: Literal["purchase_order", "transfer"] | None = None
    open: bool = Field(False, description="every open line, late or not, due soonest first")
    top: int = Field(10, ge=1, le=50)


class ExcessDeadArgs(_Args):
    kind: Literal["excess", "dead", "both"] = "both"
    location: str | None = Field(None, pattern=CODE)
    region: str | None = Field(None, max_length=80)
    category: str | None = Field(None, max_length=80)
    measure: Literal["value", "units"] = "value"
    min_value: float | None = Field(None, ge=0, description="only rows worth at least this")
    min_days_without_outbound: int | None = Field(
        None, ge=1, le=3650, description="stock not moved for N days (instead of the dead rule)"
    )
    top: int = Field(10, ge=1, le=50)


class SupplierPerfArgs(_Args):
    supplier: str | None = Field(None, pattern=CODE)
    measure: Literal["on_time_rate", "lead_time", "lead_time_spread"] = "on_time_rate"
    order: Literal["best", "worst"] = "worst"
    days: int | None = Field(
        None, ge=7, le=730, description="over PO lines ordered in the last this many days"
    )


class ActionStatusArgs(_Args):
    action_id: int | None = Field(None, ge=1, description="one action; else a list by status")
    status: Literal["proposed", "approved", "rejected", "posted", "closed", "superseded"] = (
        "proposed"
    )
    kind: Literal["transfer", "purchase_order", "expedite", "request_allocation"] | None = None
    supplier: str | None = Field(None, pattern=CODE, description="only this supplier's")
    sku: str | None = Field(None, pattern=CODE, description="only this product's")
    location: str | None = Field(None, pattern=CODE, description="from or to this location")
    from_location: str | None = Field(None, pattern=CODE, description="only those from here")
    to_location: str | None = Field(None, pattern=CODE, description="only those to here")
    top: int = Field(10, ge=1, le=50)


def _refuse(error: NotFoundError) -> ToolError:
    return ToolError(str(error))


def _checked(
    store: Store,
    *,
    sku: str | None = None,
    locations: tuple[str | None, ...] = (),
    supplier: str | None = None,
    category: str | None = None,
    region: str | None = None,
) -> tuple[str | None, str | None]:
    """Check the entities a call names (ToolError with what is unknown); the category and
    region as the store spells them."""
    try:
        if sku:
            insights.product(store, sku)
        for code in filter(None, locations):
            insights.location(store, code)
        if supplier:
            insights.supplier(store, supplier)
        return (
            insights.category(store, category) if category else None,
            insights.region(store, region) if region else None,
        )
    except NotFoundError as exc:
        raise _refuse(exc) from exc


def _scope(store: Store, args: ScopeArgs, *, place_and_products: bool = False) -> insights.Scope:
    """The scope the arguments name: one of location, region, category or supplier (a figure
    kept per scope), or with ``place_and_products`` one place (location or region) and one set
    of products (category or supplier) together, as a ranking's rows can be narrowed."""
    named = [k for k in ("location", "region", "category", "supplier") if getattr(args, k)]
    places = [k for k in named if k in ("location", "region")]
    goods = [k for k in named if k in ("category", "supplier")]
    if place_and_products and len(places) <= 1 and len(goods) <= 1:
        pass
    elif len(named) > 1:
        raise ToolError(f"narrow to one of location, region, category or supplier, not {named}")
    sku = getattr(args, "sku", None)
    category, region = _checked(
        store,
        sku=sku,
        locations=(args.location,),
        supplier=args.supplier,
        category=args.category,
        region=args.region,
    )
    return insights.Scope(args.location, region, category, args.supplier, sku)


def _figure(measure: str, value: float | None) -> str:
    if value is None:
        return "n/a"
    if measure in SHARES:
        return f"{value * 100:.1f}%"
    if measure in ("health_index", "turnover", "lead_time", "lead_time_spread", "days_of_cover"):
        return _num(value, 1)
    if measure == "days_of_inventory":
        return _num(value, 1) + " days"
    return _num(value, 2 if measure.endswith("value") or measure == "sales_at_risk" else 0)


def _insight(call: Callable[[], Any]) -> Any:
    """Run a core read, turning 'cannot answer that' into a refusal with the reason."""
    try:
        return call()
    except insights.InsightError as exc:
        raise ToolError(str(exc)) from exc


def kpi(ctx: ToolContext, args: KpiArgs) -> ToolResult:
    """A KPI (fill rate, turnover, days of inventory, inventory value, health index, dead
    stock value, stock-out days, supplier on-time rate, forecast bias) over a period (this
    week, this month to date, last month, the last 30 days, now) against the period before of
    the same length, for the network or a location, region, category or supplier (and for
    one product, anywhere or there: fill rate, stock-out days, forecast bias)."""
    scope = _scope(ctx.store, args)
    found = _insight(
        lambda: insights.kpi(
            ctx.store, args.metric, args.period, scope=scope, settings=ctx.settings
        )
    )
    p = found["period"]
    where = f" at {scope.value}" if scope.value else " (network)"
    if scope.sku and scope.name != "product":
        where = f" of {scope.sku}{where}"
    label = args.metric.replace("_", " ")
    now, before = p["current"], p["previous"]
    facts = [
        f"{label}{where}, {args.period.replace('_', ' ')} ({now['start']} to {now['end']}): "
        f"{_figure(args.metric, found['value'])}; previous period ({before['start']} to "
        f"{before['end']}): {_figure(args.metric, found['previous'])}.",
        f"Period: {p['definition']}; the data's today is {p['today']}.",
    ]
    parts = found["parts"]
    if "units" in parts:
        facts.append(f"{label}{where}: {_num(parts['units'])} units in stock.")
    if "received_lines" in parts:
        facts.append(
            f"{label}{where}: {_num(parts['received_lines'])} received of {_num(parts['lines'])} "
            "inbound lines ("
            + (parts.get("definition") or "suppliers' PO lines received by their expected date")
            + ")."
        )
    if "served" in parts:
        facts.append(
            f"{label}{where}: {_num(parts['served'])} of {_num(parts['demand'])} units of "
            "demand served from stock."
        )
    if found.get("backtest_bias") is not None:
        facts.append(
            f"No forecast made before those days covers them; the latest forecast run "
            f"({found['backtest_run']}) has a backtest bias of "
            f"{found['backtest_bias'] * 100:+.1f}%."
        )
    return _result(
        "kpi", args, facts, _jsonable([found])[0], ["core KPIs (control_tower.insights)"]
    )


def _rank_table(ctx: ToolContext, args: RankArgs | CompareArgs, by: str, scope) -> tuple:
    frame, info = _insight(
        lambda: insights.measure_by(
            ctx.store,
            args.measure,
            by,
            sku=args.sku,
            scope=scope,
            within_days=args.within_days,
            period_name=args.period,
            settings=ctx.settings,
        )
    )
    return frame, info


def rank(ctx: ToolContext, args: RankArgs) -> ToolResult:
    """Locations, regions, categories, suppliers or products ranked on a measure (upcoming
    stock-outs, units short, sales at risk, below safety stock, excess or dead stock value,
    stock value, fill rate, turnover, forecast bias, health index, late lines, on-time rate,
    lead time, on hand of one SKU): the top N best or worst, with how many there are."""
    scope = _scope(ctx.store, args, place_and_products=True)
    _checked(ctx.store, sku=args.sku)
    frame, info = _rank_table(ctx, args, args.by, scope)
    if args.location_kind and "kind" in frame.columns:
        frame = frame.filter(pl.col("kind") == args.location_kind)
    frame = insights.ranked(frame, info["better"], args.order)
    total = frame.height
    shown = frame.head(args.top_n)
    what = args.measure.replace("_", " ")
    facts = [
        f"{total} {args.by}s ranked on {what} ({args.order} first"
        + (f", {args.location_kind.replace('_', ' ')}s only" if args.location_kind else "")
        + (f", SKU {args.sku}" if args.sku else "")
        + (f", within {args.within_days} days" if args.within_days is not None else "")
        + f"); the top {shown.height}:"
    ]
    for i, r in enumerate(shown.iter_rows(named=True), start=1):
        facts.append(f"{i}. {r['key']}: {_figure(args.measure, r['value'])}")
    if "period" in info:
        p = info["period"]
        facts.append(f"Over {p['current']['start']} to {p['current']['end']} ({p['name']}).")
    facts.append(f"{what}: {info.get('definition', '')} ({info.get('source', '')}).")
    data = {**info, "order": args.order, "total": total, "shown": shown.height}
    data["rows"] = shown.to_dicts()
    return _result("rank", args, facts, _jsonable([data])[0], [info.get("source", "core")])


def _entity_group(store: Store, text: str) -> tuple[str, str]:
    """(group, key) of a named entity: a location or supplier code, a SKU, a region or a
    category."""
    for group, check in (
        ("location", insights.location),
        ("supplier", insights.supplier),
        ("product", insights.product),
    ):
        try:
            check(store, text)
            return group, text
        except NotFoundError:
            pass
    for group, match in (("region", insights.region), ("category", insights.category)):
        try:
            return group, match(store, text)
        except NotFoundError:
            pass
    raise ToolError(f"{text!r} is no location, supplier, SKU, region or category")


def compare(ctx: ToolContext, args: CompareArgs) -> ToolResult:
    """Two (or a few) named locations, suppliers, regions, categories or products side by
    side on one measure (the rank tool's figures), with which is better and by how much."""
    store = ctx.store
    _checked(store, sku=args.sku)
    found = [_entity_group(store, e) for e in args.entities]
    groups = {g for g, _ in found}
    by = args.by or (groups.pop() if len(groups) == 1 else None)
    if by is None or any(g != by for g, _ in found):
        raise ToolError(f"compare entities of one kind; got {sorted({g for g, _ in found})}")
    frame, info = _rank_table(ctx, args, by, insights.Scope())
    keys = [k for _, k in found]
    rows = []
    for key in keys:
        hit = frame.filter(pl.col("key") == key)
        rows.append(hit.row(0, named=True) if hit.height else {"key": key, "value": None})
    valued = [r for r in rows if r["value"] is not None]
    ordered = (
        insights.ranked(
            pl.DataFrame(valued).select("key", "value") if valued else pl.DataFrame(),
            info["better"],
            "best",
        )
        if valued
        else None
    )
    # a leader needs two figures: a side with none is not beaten, it is unknown
    leader = ordered["key"][0] if ordered is not None and len(valued) >= 2 else None
    what = args.measure.replace("_", " ")
    facts = [
        f"{what}: "
        + "; ".join(f"{r['key']} {_figure(args.measure, r['value'])}" for r in rows)
        + (f" ({args.sku})" if args.sku else "")
        + "."
    ]
    if leader is not None and len(valued) == 2:
        a, b = valued
        gap = abs(a["value"] - b["value"])
        if gap < 1e-9:
            facts.append(f"{a['key']} and {b['key']} are level on {what}.")
            leader = None
        else:
            shown_gap = (
                f"{gap * 100:.1f} percentage points"
                if args.measure in SHARES
                else _figure(args.measure, gap)
            )
            facts.append(
                f"Better on {what} ({info['better']} is better): {leader}, by {shown_gap}."
            )
    if "period" in info:
        p = info["period"]
        facts.append(f"Over {p['current']['start']} to {p['current']['end']} ({p['name']}).")
    data = {**info, "rows": rows, "better_entity": leader}
    return _result("compare", args, facts, _jsonable([data])[0], [info.get("source", "core")])


# -- transfers and orders ---------------------------------------------------------------------
def _plan_rows(store: Store, kind: str) -> tuple[pl.DataFrame, dict | None]:
    """The latest base plan's lines of one kind ('transfer' | 'order') with the action
    drafted from each (action_id, status; null when the line stays planned), and the run."""
    try:
        run = optimize.get_plan_run(store)
    except NotFoundError:
        return pl.DataFrame(), None
    lines = optimize.load_plan_lines(store, run["run_id"]).filter(pl.col("kind") == kind)
    drafted = (
        actions.list_actions(store)
        .filter(pl.col("plan_run") == run["run_id"])
        .select(pl.col("plan_line").alias("line_no"), "action_id", pl.col("status"))
    )
    lines = lines.join(drafted, on="line_no", how="left")
    return lines, run


def _live_actions(store: Store, kind: str, run_id: int | None) -> pl.DataFrame:
    """Live (proposed or approved) actions of a kind not drafted from the latest plan."""
    frame = actions.list_actions(store, statuses=["proposed", "approved"]).filter(
        pl.col("kind") == kind
    )
    if run_id is not None:
        frame = frame.filter(pl.col("plan_run").is_null() | (pl.col("plan_run") != run_id))
    return frame


LINE_KEYS = (
    "action_id",
    "status",
    "sku",
    "from_location",
    "to_location",
    "supplier",
    "quantity",
    "ship_date",
    "arrival_date",
    "unit_price",
    "cost",
    "value",
    "release_now",
    "source_kind",
    "reason",
)


def _line_rows(lines: pl.DataFrame, others: pl.DataFrame, run: dict | None) -> list[dict]:
    rows = []
    for r in lines.iter_rows(named=True):
        rows.append({k: r.get(k) for k in LINE_KEYS} | {"origin": f"plan run {run['run_id']}"})
        if rows[-1]["status"] is None:
            rows[-1]["status"] = "planned"
    for r in others.iter_rows(named=True):
        rows.append(
            {k: r.get(k) for k in LINE_KEYS}
            | {
                "origin": f"plan run {r['plan_run']}" if r["plan_run"] else "drafted by a person",
                "reason": r["explanation"],
            }
        )
    return sorted(rows, key=lambda r: (r["ship_date"], -r["quantity"], r["sku"]))


def suggested_transfers(ctx: ToolContext, args: TransfersArgs) -> ToolResult:
    """The transfers suggested for a SKU and/or into or out of a location: the latest plan's
    transfer lines (with the action number of those released as proposals) and any other
    live transfer proposals, with dates, quantities and transport cost a unit; and the
    lateral opportunities (one location short while another holds excess)."""
    store = ctx.store
    category, region = _checked(
        store,
        sku=args.sku,
        locations=(args.to_location, args.from_location),
        category=args.category,
        region=args.region,
    )
    in_category = (
        insights.products(store).filter(pl.col("category") == category)["sku"].to_list()
        if category
        else None
    )
    into = (
        insights.locations(store).filter(pl.col("region") == region)["code"].to_list()
        if region
        else None
    )
    lines, run = _plan_rows(store, "transfer")
    run_id = run["run_id"] if run else None
    others = _live_actions(store, "transfer", run_id)

    def narrow(frame: pl.DataFrame) -> pl.DataFrame:
        if frame.height == 0:
            return frame
        if args.sku:
            frame = frame.filter(pl.col("sku") == args.sku)
        if in_category is not None:
            frame = frame.filter(pl.col("sku").is_in(in_category))
        if args.to_location:
            frame = frame.filter(pl.col("to_location") == args.to_location)
        if args.from_location:
            frame = frame.filter(pl.col("from_location") == args.from_location)
        if into is not None:
            frame = frame.filter(pl.col("to_location").is_in(into))
        return frame

    rows = _line_rows(narrow(lines), narrow(others), run)
    shown = rows[: args.top]
    for r in shown:  # a proposal's cost is its explanation's total (the card's figure)
        record = explain.explanation_of(store, r["action_id"]) if r["action_id"] else None
        r["total_cost"] = record.total_cost if record is not None else None
    costed = [r["total_cost"] for r in shown if r["total_cost"] is not None]
    # the plan's lines not yet proposals: what each adds to the plan's transport cost
    planned = [r["cost"] for r in shown if r["total_cost"] is None and r.get("cost") is not None]
    chances = kpis.imbalances(store, top=1000, settings=ctx.settings.position)
    if args.sku:
        chances = chances.filter(pl.col("sku") == args.sku)
    if in_category is not None:
        chances = chances.filter(pl.col("sku").is_in(in_category))
    if args.to_location:
        chances = chances.filter(pl.col("short_location") == args.to_location)
    if args.from_location:
        chances = chances.filter(pl.col("excess_location") == args.from_location)
    if into is not None:
        chances = chances.filter(pl.col("short_location").is_in(into))
    scope = " ".join(
        filter(
            None,
            [
                f"of {args.sku}" if args.sku else "",
                f"in {category}" if category else "",
                f"from {args.from_location}" if args.from_location else "",
                f"into {args.to_location}" if args.to_location else "",
                f"into {region}" if region else "",
            ],
        )
    )
    plan_text = f"plan run {run_id} as of {run['as_of']}" if run else "no plan run yet"
    facts = [f"{len(rows)} suggested transfers {scope} ({plan_text}); {len(shown)} shown:"]
    if costed:  # "这些加起来运费一共多少": the proposals shown, their cards' totals summed
        facts.append(
            f"The {len(costed)} proposals shown cost {_num(sum(costed), 2)} together "
            "(each its card's total)."
        )
    if planned:
        facts.append(
            f"The {len(planned)} planned lines shown add {_num(sum(planned), 2)} together to the "
            "plan's cost."
        )
    for r in shown:
        number = f"#{r['action_id']} ({r['status']})" if r["action_id"] else r["status"]
        facts.append(
            f"{number}: {_num(r['quantity'])} {r['sku']} from {r['from_location']} to "
            f"{r['to_location']}, leaving {r['ship_date']}, arriving {r['arrival_date']}"
            + (
                f", transport {_num(r['unit_price'], 3)} a unit, adds {_num(r['cost'], 2)} to "
                "the plan's cost"
                if r["unit_price"] is not None
                else ""
            )
            + (f", costs {_num(r['total_cost'], 2)}" if r["total_cost"] is not None else "")
            + "."
        )
    if chances.height:
        facts.append(
            f"{chances.height} lateral opportunities (short at one location, excess at another)"
            + (
                f"; largest: {_num(chances['movable_units'][0])} {chances['sku'][0]} from "
                f"{chances['excess_location'][0]} to {chances['short_location'][0]}."
            )
        )
    data = {
        "plan_run": run_id,
        "plan_as_of": run["as_of"] if run else None,
        "total": len(rows),
        "shown": len(shown),
        "rows": shown,
        "costed": len(costed),
        "shown_cost": sum(costed) if costed else None,
        "planned": len(planned),
        "planned_cost": sum(planned) if planned else None,
        "opportunities": {"total": chances.height, "rows": chances.head(args.top).to_dicts()},
    }
    return _result(
        "suggested_transfers",
        args,
        facts,
        _jsonable([data])[0],
        [plan_text, "actions", "imbalances"],
    )


def transfer_cost(ctx: ToolContext, args: TransferCostArgs) -> ToolResult:
    """What moving stock from one location to another costs: the lane's transit days, cost a
    unit and fixed cost a truck, and for a quantity (given, or the plan's for the SKU) the
    total as an action's explanation counts it (transport + fixed cost a truck + handling);
    with the plan's own lines on that lane."""
    store = ctx.store
    _checked(store, sku=args.sku, locations=(args.from_location, args.to_location))
    found = insights.lane(store, args.from_location, args.to_location)
    if found is None:  # no such lane: say where stock can come from instead
        into = insights.lanes(store, destination=args.to_location)
        sources = into["from_location"].to_list()
        facts = [
            f"No lane from {args.from_location} to {args.to_location}; lanes into "
            f"{args.to_location} come from {', '.join(sources) or 'no location'}."
        ]
        data = {"lane": None, "lanes_into": sources, "planned": {"total": 0, "rows": []}}
        return _result("transfer_cost", args, facts, data, ["lanes"])
    lines, run = _plan_rows(store, "transfer")
    planned = []
    if lines.height:
        on_lane = lines.filter(
            (pl.col("from_location") == args.from_location)
            & (pl.col("to_location") == args.to_location)
        )
        if args.sku:
            on_lane = on_lane.filter(pl.col("sku") == args.sku)
        planned = _line_rows(on_lane, pl.DataFrame(), run)
    quantity = args.quantity
    basis = "as asked"
    if quantity is None and args.sku and planned:
        quantity, basis = int(planned[0]["quantity"]), "the plan's quantity"
    today = position.resolve_as_of(store, None)
    arrival = today + timedelta(days=1 + int(found["transit_days"]))
    cost = insights.move_cost(found, quantity, ctx.settings) if quantity else None
    facts = [
        f"Lane {args.from_location} -> {args.to_location}: {found['transit_days']} days in transit, "
        f"{_num(found['cost_per_unit'], 3)} a unit, fixed cost {_num(found['fixed_cost'], 2)} a "
        "truck"
        + (f" of {_num(found['capacity'])} units" if found["capacity"] else "")
        + f"; shipped tomorrow it arrives {arrival}."
    ]
    if cost:
        parts = "; ".join(
            f"{p['label']} {p['working']} = {_num(p['amount'], 2)}".replace("  ", " ")
            for p in cost["parts"]
        )
        facts.append(
            f"Moving {_num(quantity)} units{' of ' + args.sku if args.sku else ''} ({basis}) costs "
            f"{_num(cost['total'], 2)} ({parts}), {_num(cost['per_unit_all_in'], 2)} a unit all in."
        )
    for r in planned[:5]:
        facts.append(
            f"Planned: {_num(r['quantity'])} {r['sku']} leaving {r['ship_date']}"
            + (f" (action #{r['action_id']})" if r["action_id"] else "")
            + f", its cost in the plan {_num(r['cost'], 2)}."
        )
    data = {
        "lane": found,
        "arrival_if_shipped_tomorrow": arrival,
        "quantity": quantity,
        "quantity_basis": basis if quantity else None,
        "cost": cost,
        "planned": {"total": len(planned), "rows": planned[:10]},
    }
    return _result("transfer_cost", args, facts, _jsonable([data])[0], ["lanes", "plan lines"])


def _why_rows(ctx: ToolContext, action_rows: list[dict], plan_rows: list[dict]) -> list[dict]:
    out = []
    for a in action_rows:
        record = explain.explanation_of(ctx.store, a["action_id"])
        row = {k: a.get(k) for k in LINE_KEYS if k in a} | {
            "kind": a["kind"],
            "status": a["status"],
            "describe": actions.describe(a),
        }
        if record is not None:
            row |= {
                "why": record.why(),
                "lines": [{"label": lab, "text": text} for lab, text in record.lines()],
                "total_cost": record.total_cost,
                "cost_parts": record.cost_rows(),
                "alternatives": record.alternative_rows(),
                "if_nothing_done": record.if_nothing_done(),
                "with_it": record.with_action(),
                # the same figures as fields, for an answer in another language
                "need": _jsonable([asdict(record.need)])[0],
                "without": _jsonable([asdict(record.without)])[0],
                "with_outlook": (
                    _jsonable([asdict(record.with_it)])[0] if record.with_it else None
                ),
                "projection_days": record.projection_days,
            }
        else:
            row |= {"why": a.get("explanation"), "lines": [], "alternatives": []}
        out.append(row)
    for r in plan_rows:
        alternatives = json.loads(r["alternatives"]) if r.get("alternatives") else []
        out.append(
            {k: r.get(k) for k in LINE_KEYS}
            | {
                "kind": r["kind"],
                "status": "planned",
                "why": r["reason"],
                "lines": [],
                "total_cost": r["cost"],
                "alternatives": alternatives,
            }
        )
    return out


def plan_why(ctx: ToolContext, args: PlanWhyArgs) -> ToolResult:
    """Why the plan suggests a transfer or an order (by action number, or by SKU, source and
    destination): the need it serves, what happens without it, its cost in parts and the
    other sources the plan compared, from the action's explanation (the plan line's reason
    for a line not yet released)."""
    store = ctx.store
    if args.action_id is None and not args.sku:
        raise ToolError("say which action (its number) or which SKU the plan moves")
    _checked(store, sku=args.sku, locations=(args.to_location,))
    source = args.from_location
    if source:
        try:
            insights.location(store, source)
        except NotFoundError:
            _checked(store, supplier=source)
    if args.action_id is not None:
        action_rows = [actions.get_action(store, args.action_id)]
        plan_rows: list[dict] = []
    else:
        frame = actions.list_actions(store, sku=args.sku).filter(
            pl.col("kind").is_in(["transfer", "purchase_order"])
        )
        if args.to_location:
            frame = frame.filter(pl.col("to_location") == args.to_location)
        if source:
            frame = frame.filter(
                (pl.col("from_location") == source) | (pl.col("supplier") == source)
            )
        live = frame.filter(pl.col("status").is_in(["proposed", "approved"]))
        frame = live if live.height else frame
        action_rows = frame.head(args.top).to_dicts()
        plan_rows = []
        for kind in ("transfer", "order"):
            lines, _run = _plan_rows(store, kind)
            if lines.height == 0:
                continue
            lines = lines.filter((pl.col("sku") == args.sku) & pl.col("action_id").is_null())
            if args.to_location:
                lines = lines.filter(pl.col("to_location") == args.to_location)
            if source:
                lines = lines.filter(
                    (pl.col("from_location") == source) | (pl.col("supplier") == source)
                )
            plan_rows += lines.to_dicts()
        total = frame.height + len(plan_rows)
    rows = _why_rows(ctx, action_rows, plan_rows[: max(args.top - len(action_rows), 0)])
    total = len(rows) if args.action_id is not None else total
    facts = []
    if not rows:
        facts.append(
            "No action or plan line matches"
            + (f" {args.sku}" if args.sku else "")
            + (f" from {source}" if source else "")
            + (f" to {args.to_location}" if args.to_location else "")
            + "."
        )
    for r in rows:
        head = f"#{r['action_id']} ({r['status']})" if r.get("action_id") else "planned line"
        facts.append(
            f"{head}: {r.get('describe') or (_num(r['quantity']) + ' ' + r['sku'] + ' to ' + r['to_location'])}."
        )
        for line in r["lines"] or ([{"label": "Why", "text": r["why"]}] if r["why"] else []):
            facts.append(f"{head} {line['label']}: {line['text']}")
    data = {"total": total, "shown": len(rows), "rows": rows}
    return _result("plan_why", args, facts, _jsonable([data])[0], ["actions", "plan lines"])


def suggested_orders(ctx: ToolContext, args: OrdersArgs) -> ToolResult:
    """The purchase orders suggested for a SKU, a supplier, a delivery location or a
    category, or all of them (earliest first): the latest plan's order lines (with the
    action number of those released as proposals) and other live order proposals, with
    quantities, dates, price, and the supplier's MOQ, pack size and lead time."""
    store = ctx.store
    _checked(store, sku=args.sku, supplier=args.supplier, locations=(args.location,))
    in_category = None
    if args.category:
        what = _category(store, args.category)
        in_category = insights.products(store).filter(pl.col("category") == what)["sku"].to_list()
    lines, run = _plan_rows(store, "order")
    run_id = run["run_id"] if run else None
    others = _live_actions(store, "purchase_order", run_id)

    def narrow(frame: pl.DataFrame) -> pl.DataFrame:
        if frame.height == 0:
            return frame
        for column, value in (
            ("sku", args.sku),
            ("supplier", args.supplier),
            ("to_location", args.location),
        ):
            if value:
                frame = frame.filter(pl.col(column) == value)
        if in_category is not None:
            frame = frame.filter(pl.col("sku").is_in(in_category))
        return frame

    rows = _line_rows(narrow(lines), narrow(others), run)
    terms = insights.supplier_terms(store, supplier=args.supplier, sku=args.sku)
    by_pair = {(t["supplier"], t["sku"]): t for t in terms.iter_rows(named=True)}
    for r in rows:
        t = by_pair.get((r["supplier"], r["sku"]), {})
        r |= {
            "moq": t.get("moq"),
            "pack_size": t.get("pack_size"),
            "lead_time_days": t.get("lead_time_mean_days"),
            "meets_moq": (r["quantity"] >= t["moq"]) if t.get("moq") else None,
            "value": (
                round(r["quantity"] * r["unit_price"], 2) if r["unit_price"] is not None else None
            ),
        }
    if args.sort == "value":  # the largest orders at cost first
        rows.sort(key=lambda r: -(r["value"] or 0))
    shown = rows[: args.top]
    plan_text = f"plan run {run_id} as of {run['as_of']}" if run else "no plan run yet"
    scope = " ".join(
        filter(
            None,
            [
                f"of {args.sku}" if args.sku else "",
                f"to {args.supplier}" if args.supplier else "",
                f"into {args.location}" if args.location else "",
                f"in {args.category}" if args.category else "",
            ],
        )
    )
    order = "largest at cost first" if args.sort == "value" else "earliest first"
    facts = [f"{len(rows)} suggested orders {scope} ({plan_text}); {len(shown)} shown, {order}:"]
    for r in shown:
        number = f"#{r['action_id']} ({r['status']})" if r["action_id"] else r["status"]
        facts.append(
            f"{number}: order {_num(r['quantity'])} {r['sku']} from {r['supplier']} for "
            f"{r['to_location']}, ordered {r['ship_date']}, arriving {r['arrival_date']}"
            + (f", {_num(r['unit_price'], 2)} a unit" if r["unit_price"] is not None else "")
            + (f", {_num(r['value'], 2)} at cost" if r["value"] is not None else "")
            + (f"; MOQ {_num(r['moq'])}" if r["moq"] else "")
            + (f", packs of {_num(r['pack_size'])}" if r["pack_size"] else "")
            + "."
        )
    data = {"plan_run": run_id, "total": len(rows), "shown": len(shown), "rows": shown}
    data["terms"] = terms.to_dicts()
    return _result(
        "suggested_orders",
        args,
        facts,
        _jsonable([data])[0],
        [plan_text, "actions", "supplier terms"],
    )


# -- VMI and money ----------------------------------------------------------------------------
def consigned_stock(ctx: ToolContext, args: ConsignedArgs) -> ToolResult:
    """Stock at our sites still owned by a supplier (consigned, 寄售): units and value at
    cost per supplier, SKU and site, against the agreed VMI min and max; what we own of the
    same SKUs there; the supplier totals; and the next call-offs due in."""
    store = ctx.store
    _checked(store, sku=args.sku, supplier=args.supplier, locations=(args.location,))
    held = insights.consigned(store)
    costs = insights.products(store).select("sku", "name", "unit_cost")
    pos = position.stock_position(store, settings=ctx.settings.position).select(
        "sku", "location", "on_hand", "owned_on_hand"
    )
    levels = vmi.levels(store).select("supplier", "sku", "location", "min_qty", "max_qty", "status")
    # every consigned line and every agreed level: a level with nothing consigned left is
    # below its min, the line most in need of a call-off
    rows = (
        held.join(levels, on=["supplier", "sku", "location"], how="full", coalesce=True)
        .with_columns(pl.col("consigned").fill_null(0))
        .join(costs, on="sku", how="left")
        .join(pos, on=["sku", "location"], how="left")
        .with_columns(
            (pl.col("consigned") * pl.col("unit_cost").fill_null(0.0)).alias("value"),
            pl.col("owned_on_hand").fill_null(0).alias("owned"),
        )
    )
    if args.location:
        rows = rows.filter(pl.col("location") == args.location)
    if args.supplier:
        rows = rows.filter(pl.col("supplier") == args.supplier)
    if args.sku:
        rows = rows.filter(pl.col("sku") == args.sku)
    if args.levels:
        wanted = ["below min", "above max"] if args.levels == "outside" else [args.levels]
        rows = rows.filter(pl.col("status").is_in(wanted))
        # the farthest outside its band first: units under the min, or over the max
        gap = (
            pl.when(pl.col("status") == "below min")
            .then(pl.col("min_qty") - pl.col("consigned"))
            .otherwise(pl.col("consigned") - pl.col("max_qty"))
        )
        rows = rows.with_columns(gap.cast(pl.Float64).alias("gap")).sort("gap", descending=True)
    else:
        rows = rows.sort("value", descending=True)
    summary = vmi.consigned_summary(store)
    if args.supplier:
        summary = summary.filter(pl.col("supplier") == args.supplier)
    sites = rows["location"].unique().to_list() if rows.height else []
    calloffs = (
        position.inbound(store)
        .filter(pl.col("to_location").is_in(sites) & (pl.col("kind") == "purchase_order"))
        .sort("expected_date")
    )
    if args.supplier:
        calloffs = calloffs.filter(pl.col("supplier") == args.supplier)
    if args.sku:
        calloffs = calloffs.filter(pl.col("sku") == args.sku)
    total_units, total_value = int(rows["consigned"].sum()), float(rows["value"].sum())
    outside = rows.filter(pl.col("status").is_in(["below min", "above max"]))
    scope = " ".join(
        filter(
            None,
            [
                args.sku or "",
                f"at {args.location}" if args.location else "",
                f"of {args.supplier}" if args.supplier else "",
                f"({args.levels})" if args.levels else "",
            ],
        )
    )
    facts = [
        f"Consigned stock {scope}".rstrip()
        + f": {_num(total_units)} units worth {_num(total_value, 2)} at cost, owned by the "
        f"supplier until consumed ({rows.height} SKU x site lines).",
    ]
    for r in rows.head(args.top).iter_rows(named=True):
        facts.append(
            f"{r['sku']} at {r['location']}: {_num(r['consigned'])} consigned ({r['supplier']}, "
            f"{_num(r['value'], 2)}), {_num(r['owned'])} ours"
            + (
                f"; agreed {_num(r['min_qty'])} to {_num(r['max_qty'])}: {r['status']}"
                if r["min_qty"] is not None
                else ""
            )
            + "."
        )
    facts.append(f"{outside.height} lines outside the agreed min/max.")
    if calloffs.height:
        c = calloffs.row(0, named=True)
        facts.append(
            f"{calloffs.height} call-offs open; the next: {c['reference']}, {_num(c['remaining'])} "
            f"{c['sku']} from {c['supplier']} due {c['expected_date']}."
        )
    data = {
        "total": rows.height,
        "shown": min(rows.height, args.top),
        "units": total_units,
        "value": total_value,
        "rows": rows.head(args.top).to_dicts(),
        "outside_levels": outside.height,
        "by_supplier": summary.to_dicts(),
        "calloffs": {"total": calloffs.height, "rows": calloffs.head(args.top).to_dicts()},
    }
    return _result(
        "consigned_stock", args, facts, _jsonable([data])[0], ["ledger (owners)", "VMI levels"]
    )


def supplier_owed(ctx: ToolContext, args: OwedArgs) -> ToolResult:
    """What we owe a supplier for consigned stock we consumed (先用后结): the payable lines
    not yet on a settlement statement (or those consumed in a period), in all and by
    product."""
    store = ctx.store
    _checked(store, sku=args.sku, supplier=args.supplier)
    if ctx.actor is None:
        raise ToolError("sign in to see what we owe a supplier (payables are not public)")
    start = end = None
    if args.period != "unsettled":
        when = insights.period(store, args.period).current
        start, end = when.start, when.end
    lines = vmi.payables(
        store,
        ctx.actor,
        args.supplier,
        start=start,
        end=end,
        unsettled_only=args.period == "unsettled",
    )
    if args.sku:
        lines = lines.filter(pl.col("sku") == args.sku)
    owed = float(lines["amount"].sum()) if lines.height else 0.0
    by_product = (
        lines.group_by("sku")
        .agg(pl.col("quantity").sum(), pl.col("amount").sum(), pl.len().alias("lines"))
        .sort("amount", descending=True)
    )
    what = "not yet on a statement" if args.period == "unsettled" else f"consumed {start} to {end}"
    facts = [
        f"We owe {args.supplier} {_num(owed, 2)} for {_num(lines['quantity'].sum() if lines.height else 0)} "
        f"units of consigned stock consumed ({what}; {lines.height} payable lines)."
    ]
    for r in by_product.head(args.top).iter_rows(named=True):
        facts.append(f"{r['sku']}: {_num(r['quantity'])} units, {_num(r['amount'], 2)}.")
    data = {
        "supplier": args.supplier,
        "basis": what,
        "owed": owed,
        "lines_total": lines.height,
        "by_product": {"total": by_product.height, "rows": by_product.head(args.top).to_dicts()},
        "lines": lines.head(args.top).to_dicts(),
    }
    return _result("supplier_owed", args, facts, _jsonable([data])[0], ["payables"])


def settlement(ctx: ToolContext, args: SettlementArgs) -> ToolResult:
    """Settlement statements (结算) per supplier and period: issued, amount, whether the
    supplier reported its count and the lines that differ beyond the tolerance, with the
    differences in units and money."""
    store = ctx.store
    _checked(store, supplier=args.supplier)
    tolerance = ctx.settings.suppliers.settlement_tolerance
    heads = vmi.all_statements(store, supplier=args.supplier, tolerance=tolerance)
    if args.period == "last_month":
        first, last = vmi.month_period(position.resolve_as_of(store, None))
        heads = heads.filter((pl.col("period_start") == first) & (pl.col("period_end") == last))
    elif args.period == "latest":
        heads = heads.sort("period_start", "statement_id", descending=True).unique(
            "supplier", keep="first", maintain_order=True
        )
    total = heads.height
    shown = heads.head(args.top)
    lines = pl.DataFrame()
    if shown.height:
        parts = [
            vmi.reconciliation(store, statement_id=i, tolerance=tolerance)
            for i in shown["statement_id"].to_list()
        ]
        lines = pl.concat(parts, how="diagonal_relaxed") if parts else lines
    differs = (
        lines.filter(pl.col("status") == "differs").with_columns(
            (pl.col("difference").abs() * pl.col("unit_price").fill_null(0.0)).alias(
                "difference_value"
            )
        )
        if lines.height
        else lines
    )
    facts = [
        f"{total} statements ({args.period.replace('_', ' ')})"
        + (f" of {args.supplier}" if args.supplier else "")
        + ":"
    ]
    if total == 0:
        facts[0] = (
            f"No settlement statement ({args.period.replace('_', ' ')})"
            + (f" of {args.supplier}" if args.supplier else "")
            + "."
        )
    for r in shown.iter_rows(named=True):
        mine = (
            differs.filter(pl.col("statement_id") == r["statement_id"])
            if differs.height
            else differs
        )
        value = float(mine["difference_value"].sum()) if mine.height else 0.0
        facts.append(
            f"ST-{r['statement_id']} {r['supplier']} {r['period_start']} to {r['period_end']}: "
            f"{_num(r['quantity'])} units, {_num(r['amount'], 2)}; "
            + (
                f"supplier reported; {r['differing_lines']} lines differ beyond {tolerance} "
                f"units ({_num(r['difference_units'])} units, {_num(value, 2)})."
                if r["reported"]
                else "the supplier has not reported its count yet."
            )
        )
    data = {
        "tolerance_units": tolerance,
        "total": total,
        "shown": shown.height,
        "statements": shown.to_dicts(),
        "differences": differs.to_dicts() if differs.height else [],
    }
    return _result("settlement", args, facts, _jsonable([data])[0], ["settlement statements"])


# -- filters ----------------------------------------------------------------------------------
def late_inbound(ctx: ToolContext, args: LateArgs) -> ToolResult:
    """Late inbound (purchase order lines and transfers past their expected date), filtered
    by supplier, location (either end), SKU, category or kind: how many, units and value,
    latest first."""
    store = ctx.store
    category, region = _checked(
        store,
        sku=args.sku,
        supplier=args.supplier,
        locations=(args.location,),
        category=args.category,
        region=args.region,
    )
    late = insights.open_inbound(store) if args.open else insights.late_inbound(store, ctx.settings)
    if region:
        into = insights.locations(store).filter(pl.col("region") == region)["code"].to_list()
        late = late.filter(pl.col("to_location").is_in(into))
    if args.supplier:
        late = late.filter(pl.col("supplier") == args.supplier)
    if args.location:
        late = late.filter(
            (pl.col("to_location") == args.location) | (pl.col("from_location") == args.location)
        )
    if args.sku:
        late = late.filter(pl.col("sku") == args.sku)
    if category:
        skus = insights.products(store).filter(pl.col("category") == category)["sku"]
        late = late.filter(pl.col("sku").is_in(skus.to_list()))
    if args.kind:
        late = late.filter(pl.col("kind") == args.kind)
    total = late.height
    units = int(late["remaining"].sum()) if total else 0
    value = float(late["value"].sum()) if total else 0.0
    scope = " ".join(
        filter(
            None,
            [
                f"from {args.supplier}" if args.supplier else "",
                f"at {args.location}" if args.location else "",
                f"into {region}" if region else "",
                f"of {args.sku}" if args.sku else "",
                f"in {category}" if category else "",
            ],
        )
    )
    what = {"purchase_order": "PO lines", "transfer": "transfers", None: "inbound lines"}[args.kind]
    grace = ctx.settings.exceptions.late_grace_days
    overdue = int((late["days_late"] > grace).sum()) if total else 0
    facts = [
        f"{total} {'open' if args.open else 'late'} {what} {scope}".rstrip()
        + f": {_num(units)} units, {_num(value, 2)} at cost"
        + (f", {overdue} of them late" if args.open else "")
        + (
            f"; the {min(total, args.top)} {'due soonest' if args.open else 'latest'}:"
            if total
            else "."
        )
    ]
    shown = late.head(args.top)
    for r in shown.iter_rows(named=True):
        facts.append(
            f"{r['reference']} ({r['kind'].replace('_', ' ')}) {_num(r['remaining'])} {r['sku']} "
            f"from {r['supplier'] or r['from_location']} to {r['to_location']}, due "
            f"{r['expected_date']}, {r['days_late']} days late, {_num(r['value'], 2)}."
        )
    keep = ["kind", "reference", "sku", "name", "from_location", "to_location", "supplier"]
    keep += ["quantity", "remaining", "value", "dispatched_date", "expected_date", "days_late"]
    data = {"total": total, "shown": shown.height, "units": units, "value": value}
    data |= {"open": args.open, "late": overdue}
    data["rows"] = shown.select(keep).to_dicts()
    return _result("late_inbound", args, facts, _jsonable([data])[0], ["open inbound"])


def excess_dead(ctx: ToolContext, args: ExcessDeadArgs) -> ToolResult:
    """Excess stock (above the policy's max level, from the latest exception run) and dead
    stock (no outbound movement for the dead-stock days, or for N days when asked), filtered
    by location, region or category, sorted by value or units, with the totals."""
    store = ctx.store
    category, region = _checked(
        store, locations=(args.location,), category=args.category, region=args.region
    )
    scope = insights.Scope(args.location, region, category)
    parts = []
    if args.kind in ("excess", "both"):
        items, source, _as_of = insights.current_exceptions(store, ctx.settings)
        excess = items.filter(pl.col("rule") == "excess").select(
            pl.lit("excess").alias("kind"),
            "sku",
            "location",
            pl.col("units").alias("units"),
            pl.col("value_at_risk").alias("value"),
            pl.lit(None, dtype=pl.Int64).alias("days_without_outbound"),
            pl.col("detail"),
        )
        parts.append(excess)
    if args.kind in ("dead", "both"):
        if args.min_days_without_outbound is not None:
            pos = position.stock_position(store, settings=ctx.settings.position).filter(
                (pl.col("owned_on_hand") > 0)
                & (pl.col("days_without_outbound") >= args.min_days_without_outbound)
            )
            label = f"no outbound for {args.min_days_without_outbound}+ days"
        else:
            pos = kpis.dead_stock(store, settings=ctx.settings.position).with_columns(
                (pl.col("on_hand") - pl.col("consigned")).alias("owned_on_hand")
            )
            label = "dead"
        parts.append(
            pos.select(
                pl.lit(label).alias("kind"),
                "sku",
                "location",
                pl.col("owned_on_hand").cast(pl.Float64).alias("units"),
                pl.col("stock_value").alias("value"),
                pl.col("days_without_outbound").cast(pl.Int64),
                pl.lit(None, dtype=pl.String).alias("detail"),
            )
        )
    rows = scope.rows(pl.concat(parts, how="vertical_relaxed"), store)
    if args.min_value is not None:
        rows = rows.filter(pl.col("value") >= args.min_value)
    rows = rows.join(
        insights.products(store).select("sku", "name", "category"), on="sku", how="left"
    ).sort(args.measure, descending=True)
    totals = (
        rows.group_by("kind")
        .agg(pl.len().alias("lines"), pl.col("units").sum(), pl.col("value").sum())
        .sort("kind")
    )
    where = " ".join(
        filter(
            None,
            [
                f"at {args.location}" if args.location else "",
                f"in {region}" if region else "",
                f"in {category}" if category else "",
            ],
        )
    )
    facts = []
    for t in totals.iter_rows(named=True):
        facts.append(
            f"{t['kind']} stock {where}".replace("  ", " ").rstrip()
            + f": {t['lines']} SKU x locations, {_num(t['units'])} units, {_num(t['value'], 2)} at cost."
        )
    if not facts:
        facts.append(
            f"No {args.kind if args.kind != 'both' else 'excess or dead'} stock {where}.".replace(
                "  ", " "
            )
        )
    shown = rows.head(args.top)
    for r in shown.iter_rows(named=True):
        facts.append(
            f"{r['kind']}: {r['sku']} at {r['location']}, {_num(r['units'])} units, "
            f"{_num(r['value'], 2)}"
            + (
                f", no outbound for {r['days_without_outbound']} days"
                if r["days_without_outbound"] is not None
                else ""
            )
            + "."
        )
    data = {
        "total": rows.height,
        "shown": shown.height,
        "totals": totals.to_dicts(),
        "units": float(rows["units"].sum()) if rows.height else 0.0,
        "value": float(rows["value"].sum()) if rows.height else 0.0,
        "rows": shown.drop("detail").to_dicts(),
    }
    return _result(
        "excess_dead", args, facts, _jsonable([data])[0], ["exception run", "stock position"]
    )


def supplier_performance(ctx: ToolContext, args: SupplierPerfArgs) -> ToolResult:
    """Suppliers' delivery record from receipts: on-time rate, lead time (mean and spread)
    against what they state, over the performance window; ranked best or worst."""
    store = ctx.store
    _checked(store, supplier=args.supplier)
    # the performance window (settings.suppliers.performance_days), every figure per supplier
    frame, info = insights.measure_by(
        store, "lead_time", "supplier", settings=ctx.settings, window_days=args.days
    )
    column = {
        "on_time_rate": "on_time_rate",
        "lead_time": "lead_time_mean_days",
        "lead_time_spread": "lead_time_sd_days",
    }[args.measure]
    better = insights.MEASURES[args.measure][1]
    frame = insights.ranked(frame.with_columns(pl.col(column).alias("value")), better, args.order)
    total = frame.height
    valued = frame.filter(pl.col("value").is_not_null())
    best = insights.ranked(valued, better, "best")["key"].to_list()
    if args.supplier:
        frame = frame.filter(pl.col("key") == args.supplier)
    facts = [
        f"{total} suppliers' delivery record over PO lines ordered in the last "
        f"{info['window_days']} days, {args.order} on {args.measure.replace('_', ' ')} first:"
    ]
    for r in frame.iter_rows(named=True):
        facts.append(
            f"{r['key']}: on time {_figure('on_time_rate', r['on_time_rate'])} of "
            f"{r['received_lines']} received lines (stated "
            f"{_figure('on_time_rate', r['stated_on_time_rate'])}); lead time "
            f"{_num(r['lead_time_mean_days'], 1)} days, spread {_num(r['lead_time_sd_days'], 1)} "
            f"(stated {_num(r['stated_lead_time_days'], 1)})."
        )
    if best:
        facts.append(f"Best on {args.measure.replace('_', ' ')}: {best[0]}; worst: {best[-1]}.")
    data = {**info, "measure": args.measure, "better": better, "order": args.order}
    data |= {"total": total, "rows": frame.to_dicts()}
    data |= {"best": best[0] if best else None, "worst": best[-1] if best else None}
    return _result("supplier_performance", args, facts, _jsonable([data])[0], [info["source"]])


def action_status(ctx: ToolContext, args: ActionStatusArgs) -> ToolResult:
    """One action's status (kind, what it does, who proposed, approved, rejected or posted it
    and when, its audit trail); or, without a number, the actions in a status (those waiting
    for approval by default), how many and the first few."""
    store = ctx.store
    if args.action_id is None:
        frame = actions.list_actions(store, statuses=[args.status])
        if args.kind:
            frame = frame.filter(pl.col("kind") == args.kind)
        ends = (args.location, args.from_location, args.to_location)
        _checked(store, sku=args.sku, supplier=args.supplier, locations=ends)
        if args.supplier:
            frame = frame.filter(pl.col("supplier") == args.supplier)
        if args.sku:
            frame = frame.filter(pl.col("sku") == args.sku)
        if args.location:
            frame = frame.filter(
                (pl.col("from_location") == args.location)
                | (pl.col("to_location") == args.location)
            )
        if args.from_location:
            frame = frame.filter(pl.col("from_location") == args.from_location)
        if args.to_location:
            frame = frame.filter(pl.col("to_location") == args.to_location)
        frame = frame.sort("action_id")
        shown = frame.head(args.top)
        narrowed = ", ".join(
            f"{k} {v}" for k, v in (("kind", args.kind), ("supplier", args.supplier),
                                    ("sku", args.sku), ("location", args.location),
                                    ("from", args.from_location), ("to", args.to_location)) if v
        )  # fmt: skip
        facts = [
            f"{frame.height} actions {args.status}" + (f" ({narrowed})" if narrowed else "") + ":"
        ]
        for r in shown.iter_rows(named=True):
            facts.append(
                f"#{r['action_id']}: {actions.describe(r)}; proposed by {r['proposed_by']}."
            )
        keep = ["action_id", "kind", "status", "sku", "from_location", "to_location", "supplier"]
        keep += ["quantity", "ship_date", "arrival_date", "proposed_by", "created_at"]
        rows = [
            {**{k: r[k] for k in keep}, "describe": actions.describe(r)}
            for r in shown.iter_rows(named=True)
        ]
        data = {"total": frame.height, "shown": shown.height, "rows": rows}
        return _result("action_status", args, facts, _jsonable([data])[0], ["actions"])
    action = actions.get_action(store, args.action_id)
    trail = actions.action_history(store, args.action_id)
    events = trail.select(
        "occurred_at",
        "actor",
        "from_status",
        "to_status",
        "reason",
        "quantity_before",
        "quantity_after",
    ).to_dicts()

    def last(status: str) -> dict | None:
        hits = [e for e in events if e["to_status"] == status]
        return hits[-1] if hits else None

    approved, rejected, posted = last("approved"), last("rejected"), last("posted")
    facts = [
        f"Action #{args.action_id} is {action['status']}: {actions.describe(action)}; proposed by "
        f"{action['proposed_by']} on the data of {action['as_of']}."
    ]
    for name, event in (("approved", approved), ("rejected", rejected), ("posted", posted)):
        if event:
            facts.append(
                f"#{args.action_id} {name} by {event['actor']} at "
                f"{event['occurred_at']:%Y-%m-%d %H:%M}"
                + (f": {event['reason']}" if event["reason"] else "")
                + "."
            )
    if action["status"] == "proposed":
        facts.append(
            f"#{args.action_id} waits for an approver (a planner proposes, an approver decides)."
        )
    keep = ["action_id", "kind", "status", "sku", "from_location", "to_location", "supplier"]
    keep += ["quantity", "ship_date", "arrival_date", "proposed_by", "created_at", "as_of"]
    data = {
        **{k: action[k] for k in keep},
        "describe": actions.describe(action),
        "approved_by": approved["actor"] if approved else None,
        "approved_at": approved["occurred_at"] if approved else None,
        "rejected_by": rejected["actor"] if rejected else None,
        "posted_by": posted["actor"] if posted else None,
        "posted_at": posted["occurred_at"] if posted else None,
        "events": events,
    }
    return _result("action_status", args, facts, _jsonable([data])[0], ["actions", "action events"])


class ClosureArgs(_Args):
    location: str = Field(..., pattern=CODE, description="the location code, e.g. RDC-XA")
    days: int = Field(7, ge=1, le=scenarios.MAX_CLOSURE_DAYS, description="days closed")
    top: int = Field(10, ge=1, le=50)


def location_closure_what_if(ctx: ToolContext, args: ClosureArgs) -> ToolResult:
    """What if a location closed from tomorrow for some days (serving, receiving and shipping
    nothing): the demand it cannot serve, at price; the inbound delayed to its reopening; the
    stock-outs after it; the transfers it would have shipped meanwhile. Worst SKUs first."""
    _known_location(ctx.store, args.location)
    frame = scenarios.location_closure(ctx.store, args.location, args.days, settings=ctx.settings)
    held = scenarios.held_departures(ctx.store, args.location, args.days)
    total = {
        k: float(frame[k].sum()) if frame.height else 0.0
        for k in ("unserved_units", "unserved_sales", "inbound_delayed", "lost_sales")
    }
    worse = frame.filter(pl.col("units_short_closed") > pl.col("units_short_now"))
    facts = [
        f"{args.location} closed {args.days} days: {_num(total['unserved_units'])} units of "
        f"demand not served ({_num(total['unserved_sales'])} at price) over {frame.height:,} "
        f"SKUs, {_num(total['inbound_delayed'])} inbound units delayed to its reopening, "
        f"{worse.height:,} SKUs shorter after it; lost sales {_num(total['lost_sales'])}; "
        f"{held.height:,} transfers from it held ({_num(float(held['quantity'].sum()))} units)."
    ]
    for r in frame.head(args.top).iter_rows(named=True):
        facts.append(
            f"{r['sku']}: {_num(r['unserved_units'])} units not served "
            f"({_num(r['unserved_sales'])}), {_num(r['inbound_delayed'])} inbound delayed, "
            f"lost sales {_num(r['lost_sales'])}."
        )
    data = {
        "location": args.location,
        "days": args.days,
        "series": frame.height,
        "shown": min(frame.height, args.top),
        "shorter_after": worse.height,
        **total,
        "held_transfers": held.height,
        "held_units": int(held["quantity"].sum()) if held.height else 0,
        "held": _jsonable(held.head(args.top).to_dicts()),
        "rows": _jsonable(frame.head(args.top).to_dicts()),
    }
    return _result("location_closure_what_if", args, facts, data, ["stock projection", "actions"])


class LaneCostArgs(_Args):
    from_location: str = Field(..., pattern=CODE, description="where the lane starts")
    to_location: str = Field(..., pattern=CODE, description="where it ends")
    factor: float = Field(
        ..., ge=0, le=scenarios.MAX_LANE_FACTOR, description="2 = the lane's costs double"
    )


def lane_cost_what_if(ctx: ToolContext, args: LaneCostArgs) -> ToolResult:
    """What if a lane's costs (per unit and fixed) were multiplied by a factor: what the
    latest plan sends on it and what that costs now and then, and the other lanes into the
    destination that would be cheaper a unit."""
    _known_location(ctx.store, args.from_location)
    _known_location(ctx.store, args.to_location)
    d = scenarios.lane_cost_change(ctx.store, args.from_location, args.to_location, args.factor)
    cheaper = [a for a in d["alternatives"] if a["cheaper"]]
    facts = [
        f"Lane {d['origin']}>{d['destination']} x{d['factor']:g}: "
        f"{d['cost_per_unit']:.3f} -> {d['cost_per_unit_new']:.3f} a unit, fixed "
        f"{_num(d['fixed_cost'])} -> {_num(d['fixed_cost_new'])} a truck. The plan (run "
        f"{d['plan_run']}) sends {_num(d['units'])} units in {d['lines']:,} lines over "
        f"{d['departures']:,} departures: {_num(d['cost_now'], 2)} now, "
        f"{_num(d['cost_new'], 2)} at the new rates "
        f"({_num(abs(d['cost_new'] - d['cost_now']), 2)} "
        f"{'more' if d['cost_new'] >= d['cost_now'] else 'less'})."
    ]
    for a in d["alternatives"]:
        facts.append(
            f"{a['origin']}>{d['destination']}: {a['cost_per_unit']:.3f} a unit, "
            f"{a['transit_days']} days in transit"
            f"{' (cheaper a unit than the changed lane)' if a['cheaper'] else ''}."
        )
    data = {**_jsonable(d), "cheaper": len(cheaper)}
    return _result("lane_cost_what_if", args, facts, data, ["plan", "lanes"])


# -- registry --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Tool:
    name: str
    args: type[_Args]
    run: Callable[[ToolContext, Any], ToolResult]
    writes: bool = False

    @property
    def description(self) -> str:
        return " ".join((self.run.__doc__ or "").split())


class DelayArgs(_Args):
    supplier: str = Field(..., pattern=CODE, description="the supplier code, e.g. SUP-MNF")
    days: int = Field(7, ge=1, le=scenarios.MAX_DELAY_DAYS, description="days later")
    location: str | None = Field(None, pattern=CODE, description="only this destination")
    first: Literal["impact", "date"] = Field(
        "impact", description="list the most sales at risk first, or the earliest stock-out"
    )
    top: int = Field(10, ge=1, le=50)


def supplier_delay_what_if(ctx: ToolContext, args: DelayArgs) -> ToolResult:
    """What if every open delivery of a supplier came some days late: the stock-outs it
    causes or deepens at the destinations, units short and sales at risk, worst first."""
    frame = scenarios.supplier_delay(ctx.store, args.supplier, args.days, settings=ctx.settings)
    not_there = None  # a destination it delivers nothing to: the delay where it lands instead
    if args.location:
        _known_location(ctx.store, args.location)
        there = frame.filter(pl.col("location") == args.location)
        if there.height:
            frame = there
        else:
            not_there = args.location
    hit = frame.filter(pl.col("extra_units_short") > 0)
    if args.first == "date":
        hit = hit.sort("stockout_date_delayed", nulls_last=True, maintain_order=True)
    total_units = float(hit["extra_units_short"].sum()) if hit.height else 0.0
    total_value = float(hit["extra_sales_at_risk"].sum()) if hit.height else 0.0
    facts = [
        (f"{args.supplier} has no open PO lines to {not_there}. " if not_there else "")
        + f"{args.supplier}'s {int(frame['lines'].sum()) if frame.height else 0:,} open PO lines "
        + (f"to {args.location} " if args.location and not not_there else "")
        + f"({frame.height:,} SKU x destinations) {args.days} days later: {hit.height:,} run out "
        f"or go shorter, {_num(total_units)} more units short, {_num(total_value)} more sales "
        "at risk."
    ]
    for r in hit.head(args.top).iter_rows(named=True):
        facts.append(
            f"{r['sku']} at {r['location']}: {_num(r['units_short_now'])} short now, "
            f"{_num(r['units_short_delayed'])} delayed (runs out "
            f"{_day(r['stockout_date_delayed'])}), {_num(r['extra_sales_at_risk'])} more at risk."
        )
    data = {
        "supplier": args.supplier,
        "days": args.days,
        "no_lines_to": not_there,
        "lines": int(frame["lines"].sum()) if frame.height else 0,
        "series": frame.height,
        "hit": hit.height,
        "shown": min(hit.height, args.top),
        "extra_units_short": total_units,
        "extra_sales_at_risk": total_value,
        "rows": _jsonable(hit.head(args.top).to_dicts()),
    }
    return _result("supplier_delay_what_if", args, facts, data, ["stock projection"])


class DemandChangeArgs(_Args):
    factor: float = Field(
        ...,
        ge=scenarios.MIN_DEMAND_FACTOR,
        le=scenarios.MAX_DEMAND_FACTOR,
        description="demand times this, e.g. 1.2 for +20%",
    )
    days: int | None = Field(
        None, ge=1, le=366, description="days the change lasts from tomorrow (all: the projection)"
    )
    sku: str | None = Field(None, pattern=CODE)
    category: str | None = Field(None, max_length=80, description="a product category")
    location: str | None = Field(None, pattern=CODE)
    region: str | None = Field(None, max_length=80)
    top: int = Field(10, ge=1, le=50)


def demand_change_what_if(ctx: ToolContext, args: DemandChangeArgs) -> ToolResult:
    """What if demand were some factor of the forecast over the next days, for a SKU, a
    category, a location or a region (or all): where stock runs out first with the change,
    how many SKU x locations run out sooner or newly, and the units short and sales at risk
    it adds."""
    store = ctx.store
    category, region = _checked(
        store, sku=args.sku, locations=(args.location,), category=args.category, region=args.region
    )
    horizon = ctx.settings.exceptions.lookahead_days
    days = horizon if args.days is None else min(args.days, horizon)
    frame = scenarios.demand_change(
        store,
        args.factor,
        days=days,
        skus=[args.sku] if args.sku else None,
        category=category,
        locations=[args.location] if args.location else None,
        region=region,
        settings=ctx.settings,
    )
    out = frame.filter(pl.col("in_window"))
    end = _as_of(ctx) + timedelta(days=days)
    earlier = out.filter(pl.col("earlier"))
    extra_units = float(frame["extra_units_short"].sum()) if frame.height else 0.0
    extra_value = float(frame["extra_sales_at_risk"].sum()) if frame.height else 0.0
    scope = " ".join(
        filter(None, [args.sku, category, args.location, region and f"region {region}"])
    )
    change = f"{args.factor - 1:+.0%}"
    facts = [
        f"Demand {change} over the next {days} days"
        + (f" ({scope})" if scope else " (the whole network)")
        + f": {frame.height:,} SKU x locations projected, {out.height:,} run out by {end} "
        f"({earlier.height:,} of them sooner than, or where not, as things stand); "
        f"{_num(extra_units)} more units short, {_num(extra_value)} more sales at risk."
    ]
    for r in out.head(args.top).iter_rows(named=True):
        facts.append(
            f"{r['sku']} at {r['location']}: runs out {_day(r['stockout_date_changed'])} "
            f"(as things stand {_day(r['stockout_date_now'])}), "
            f"{_num(r['units_short_changed'])} units short, {_num(r['extra_sales_at_risk'])} "
            "more at risk."
        )
    data = {
        "factor": args.factor,
        "days": days,
        "asked_days": args.days or days,
        "scope": {
            "sku": args.sku,
            "category": category,
            "location": args.location,
            "region": region,
        },  # fmt: skip
        "series": frame.height,
        "run_out": out.height,
        "earlier": earlier.height,
        "by": str(end),
        "extra_units_short": extra_units,
        "extra_sales_at_risk": extra_value,
        "shown": min(out.height, args.top),
        "rows": _jsonable(out.head(args.top).to_dicts()),
    }
    return _result("demand_change_what_if", args, facts, data, ["stock projection", "forecast"])


class ServiceLevelArgs(_Args):
    service_level: float = Field(..., ge=0.5, lt=1.0, description="e.g. 0.99 for 99%")
    sku: str | None = Field(None, pattern=CODE)
    location: str | None = Field(None, pattern=CODE)
    top: int = Field(10, ge=1, le=50)


def service_level_what_if(ctx: ToolContext, args: ServiceLevelArgs) -> ToolResult:
    """What if the service level were another: the safety stock each SKU x location would
    need and the difference in units and at cost, in all and the largest first."""
    if args.sku:
        _known_sku(ctx.store, args.sku)
    if args.location:
        _known_location(ctx.store, args.location)
    frame = scenarios.service_level_change(
        ctx.store,
        args.service_level,
        skus=[args.sku] if args.sku else None,
        location=args.location,
        settings=ctx.settings,
    )
    units = float(frame["difference"].sum()) if frame.height else 0.0
    value = float(frame["difference_value"].sum()) if frame.height else 0.0
    now = float(frame["safety_stock_now"].sum()) if frame.height else 0.0
    facts = [
        f"At a {args.service_level:.1%} service level, safety stock over {frame.height:,} SKU x "
        f"locations changes by {_num(units)} units ({_num(value)} at cost) from {_num(now)} units."
    ]
    for r in frame.head(args.top).iter_rows(named=True):
        facts.append(
            f"{r['sku']} at {r['location']}: {_num(r['safety_stock_now'])} at "
            f"{r['service_level_now']:.1%} -> {_num(r['safety_stock_new'])} "
            f"({_num(r['difference'])} units, {_num(r['difference_value'])})."
        )
    data = {
        "service_level": args.service_level,
        "series": frame.height,
        "shown": min(frame.height, args.top),
        "safety_stock_now": now,
        "difference": units,
        "difference_value": value,
        "rows": _jsonable(frame.head(args.top).to_dicts()),
    }
    return _result("service_level_what_if", args, facts, data, ["inventory policies"])


TOOLS: dict[str, Tool] = {
    t.name: t
    for t in (
        Tool("get_position", PositionArgs, get_position),
        Tool("list_exceptions", ExceptionArgs, list_exceptions),
        Tool("get_forecast", ForecastArgs, get_forecast),
        Tool("explain_policy", PolicyArgs, explain_policy),
        Tool("compare_sources", SourcesArgs, compare_sources),
        Tool("simulate_what_if", WhatIfArgs, simulate_what_if),
        Tool("supplier_delay_what_if", DelayArgs, supplier_delay_what_if),
        Tool("service_level_what_if", ServiceLevelArgs, service_level_what_if),
        Tool("location_closure_what_if", ClosureArgs, location_closure_what_if),
        Tool("lane_cost_what_if", LaneCostArgs, lane_cost_what_if),
        Tool("demand_change_what_if", DemandChangeArgs, demand_change_what_if),
        Tool("search_products", SearchArgs, search_products),
        Tool("compare_suppliers", SuppliersArgs, compare_suppliers),
        Tool("drafted_actions", ActionsArgs, drafted_actions),
        Tool("explain_action", ActionArgs, explain_action),
        Tool("kpi", KpiArgs, kpi),
        Tool("rank", RankArgs, rank),
        Tool("compare", CompareArgs, compare),
        Tool("suggested_transfers", TransfersArgs, suggested_transfers),
        Tool("transfer_cost", TransferCostArgs, transfer_cost),
        Tool("plan_why", PlanWhyArgs, plan_why),
        Tool("suggested_orders", OrdersArgs, suggested_orders),
        Tool("consigned_stock", ConsignedArgs, consigned_stock),
        Tool("supplier_owed", OwedArgs, supplier_owed),
        Tool("settlement", SettlementArgs, settlement),
        Tool("late_inbound", LateArgs, late_inbound),
        Tool("excess_dead", ExcessDeadArgs, excess_dead),
        Tool("supplier_performance", SupplierPerfArgs, supplier_performance),
        Tool("action_status", ActionStatusArgs, action_status),
        Tool("draft_transfer", DraftArgs, draft_transfer, writes=True),
    )
}


def _result(tool: str, args: _Args, facts: list[str], data: Any, sources: list[str]) -> ToolResult:
    return ToolResult(tool, args.model_dump(mode="json"), tuple(facts), data, tuple(sources))


def run_tool(ctx: ToolContext, name: str, arguments: dict | None) -> ToolResult:
    """Validate the arguments and run one tool; a bad call raises :class:`ToolError` (or the
    core's own error) with what was wrong."""
    tool = TOOLS.get(name)
    if tool is None:
        raise ToolError(f"no tool {name!r}; tools are {', '.join(TOOLS)}")
    try:
        args = tool.args.model_validate(arguments or {})
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(map(str, e['loc'])) or 'arguments'}: {e['msg']}" for e in exc.errors()
        )
        raise ToolError(f"{name}: {problems}") from exc
    started = time.perf_counter()
    result = tool.run(ctx, args)
    seconds = time.perf_counter() - started
    log.info("tool %s(%s) in %.2f s", name, json.dumps(result.args, ensure_ascii=False), seconds)
    return ToolResult(result.tool, result.args, result.facts, result.data, result.sources, seconds)
