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
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import polars as pl
from pydantic import BaseModel, Field, ValidationError, field_validator

from control_tower import actions, exceptions, policies, position
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
        None, max_length=10, description="several SKUs (e.g. the products a name matches)"
    )
    category: str | None = Field(None, max_length=80, description="a product category")
    within_days: int | None = Field(None, ge=0, le=365, description="due within N days")
    top: int = Field(10, ge=1, le=50)

    @field_validator("skus")
    @classmethod
    def _codes(cls, value: list[str] | None) -> list[str] | None:
        for code in value or []:
            if not re.fullmatch(CODE, code):
                raise ValueError(f"{code!r} is not a SKU code")
        return value

    @field_validator("rule")
    @classmethod
    def _known_rule(cls, value: str | None) -> str | None:
        if value is not None and value not in exceptions.RULES:
            raise ValueError(f"unknown rule {value!r}; rules are {', '.join(exceptions.RULES)}")
        return value


class ForecastArgs(SkuArgs):
    location: str = Field(..., pattern=CODE)
    days: int = Field(14, ge=1, le=28)


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
    rows = store.query(
        "SELECT sku, name, category, unit_cost::DOUBLE AS unit_cost, price::DOUBLE AS price "
        "FROM products WHERE sku = ?",
        [sku],
    )
    if rows.height == 0:
        raise NotFoundError(f"no product with SKU {sku!r}")
    return rows.row(0, named=True)


def _known_location(store: Store, code: str) -> dict:
    rows = store.query("SELECT code, name, kind FROM locations WHERE code = ?", [code])
    if rows.height == 0:
        raise NotFoundError(f"no location {code!r}")
    return rows.row(0, named=True)


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
    if args.rule:
        items = items.filter(pl.col("rule") == args.rule)
    if args.location:
        items = items.filter(pl.col("location") == args.location)
    if args.sku:
        items = items.filter(pl.col("sku") == args.sku)
    if args.skus:
        items = items.filter(pl.col("sku").is_in(args.skus))
    if args.reference:
        items = items.filter(pl.col("reference") == args.reference)
    if args.category:
        wanted = _category(store, args.category)
        skus = [s for (s,) in store.rows("SELECT sku FROM products WHERE category = ?", [wanted])]
        items = items.filter(pl.col("sku").is_in(skus))
    if args.within_days is not None:
        last = as_of + timedelta(days=args.within_days)
        items = items.filter(pl.col("due_date").is_not_null() & (pl.col("due_date") <= last))
    total = items.height
    value = float(items["value_at_risk"].sum()) if total else 0.0
    items = items.sort("severity", descending=True).head(args.top)
    what = f"{args.rule.replace('_', ' ')} " if args.rule else ""
    scope = [
        f"for {', '.join(args.skus or [args.sku])}" if (args.sku or args.skus) else "",
        f"on {args.reference}" if args.reference else "",
        f"at {args.location}" if args.location else "",
        f"in {args.category}" if args.category else "",
        f"due within {args.within_days} days" if args.within_days is not None else "",
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
    return _result("list_exceptions", args, facts, _jsonable(rows), [source])


def _category(store: Store, text: str) -> str:
    names = [c for (c,) in store.rows("SELECT DISTINCT category FROM products") if c]
    lowered = text.casefold()
    for name in names:
        if lowered == name.casefold() or lowered in name.casefold():
            return name
    raise NotFoundError(f"no category {text!r}; categories are {', '.join(sorted(names))}")


def get_forecast(ctx: ToolContext, args: ForecastArgs) -> ToolResult:
    """Expected demand of one SKU at one location over the next days (the latest forecast
    made by the data's today, else recent demand), next to its recent daily demand."""
    _known_sku(ctx.store, args.sku)
    _known_location(ctx.store, args.location)
    proj = exceptions.project(ctx.store, args.sku, args.location, settings=ctx.settings)
    days = proj.days.head(args.days)
    total = float(days["demand"].sum())
    recent = position.stock_position(
        ctx.store, skus=[args.sku], locations=[args.location], settings=ctx.settings.position
    )
    rate = float(recent["avg_daily_demand"][0] or 0) if recent.height else 0.0
    first, last = days["date"][0], days["date"][-1]
    facts = [
        f"{args.sku} at {args.location}: {_num(total)} units expected from {first} to {last} "
        f"({args.days} days), {_num(total / args.days, 1)} a day, from the {proj.demand_source}.",
        f"Recent demand: {_num(rate, 1)} a day (last "
        f"{ctx.settings.position.demand_window_days} days).",
    ]
    data = _jsonable(days.select("date", "demand").to_dicts())
    return _result("get_forecast", args, facts, data, [proj.demand_source, "demand history"])


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
        sku, label = args.sku, f"{args.units:+,} units on {when}"
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
    products = ctx.store.rows(
        "SELECT sku, name, category, unit_cost::DOUBLE, price::DOUBLE FROM products"
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


TOOLS: dict[str, Tool] = {
    t.name: t
    for t in (
        Tool("get_position", PositionArgs, get_position),
        Tool("list_exceptions", ExceptionArgs, list_exceptions),
        Tool("get_forecast", ForecastArgs, get_forecast),
        Tool("explain_policy", PolicyArgs, explain_policy),
        Tool("compare_sources", SourcesArgs, compare_sources),
        Tool("simulate_what_if", WhatIfArgs, simulate_what_if),
        Tool("search_products", SearchArgs, search_products),
        Tool("compare_suppliers", SuppliersArgs, compare_suppliers),
        Tool("drafted_actions", ActionsArgs, drafted_actions),
        Tool("explain_action", ActionArgs, explain_action),
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
