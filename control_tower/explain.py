"""Explanations of drafted actions: data first, prose second.

When a plan is saved, each proposed transfer or order gets an :class:`Explanation`, a typed
record holding every figure, each from the function the plan used:

- **why** (:class:`~control_tower.optimize.readout.Need`): the destination's demand and
  shipments onward in the review period from the arrival, its projected stock the day before
  and its safety stock, read from the plan's stored projection and lines (the line's reason
  is the same record's sentence);
- **if nothing is done / with it** (:class:`Outlook`): the destination's stock projected by
  the stock-out rule's :func:`control_tower.exceptions.shortfall`, without the action and with
  its units on its arrival day (what ``exceptions.project(..., extra=[(arrival, units)])``
  gives);
- **cost** (:class:`CostPart`): for an order, units x unit price (the purchase value), the
  inbound freight per unit x units, the order cost and a share of the delivery's fixed
  freight; for a transfer, the lane's cost per unit x units, a share of the departure's fixed
  cost (per truck, :func:`~control_tower.optimize.readout.trucks`) and the handling of a
  transfer line. A departure's fixed cost is shared over its lines by units, so the shares of
  a departure add up to what :func:`~control_tower.optimize.readout.cost_breakdown` counts
  for it. Each part is to the cent and the total is their sum;
- **alternatives** (:class:`Alternative`): the chosen source and the best few others the plan
  compared (how many more), with cost per unit as compared (fixed costs shared over a usual
  load), arrival and verdict;
- **safety stock** (:class:`SafetyStock`): the policy's formula over the lead time plus the
  days to the next decision, as the plan computes it, its result and the whole units the plan
  holds (rounded up).

The record is rendered as short labelled lines (``Explanation.text``: stored in
``actions.explanation`` for the CSV and PDF reports, the inbox's caption and the agent) and
kept as JSON beside them (``actions.explanation_record``, :func:`explanation_of`) for the
card :mod:`ui.explanation` draws. Figures are formatted as a manager reads them: money to
the cent with thousands separators, whole units, a unit price to the decimals it has.

One pass explains many actions: the projection's demand and arrivals are read once for every
destination, its projection as things stand and its safety stock computed once, and the
plan's figures read in one query (the demo's few hundred proposals in well under a second of
CPU, 3,400 on a 1,500 x 16 network in about two and a half).
"""

from __future__ import annotations

import json
import logging
import math
from dataclasses import dataclass, replace
from datetime import date, timedelta

import numpy as np
import polars as pl

from control_tower import exceptions, position
from control_tower.config import Settings
from control_tower.optimize.readout import Need, review_window, trucks, whole_safety_stock
from control_tower.policies import LANE_FROM, Policy, compute_policy, policies
from control_tower.store import Store, registered

log = logging.getLogger(__name__)


# -- numbers as a manager reads them ------------------------------------------------------------
def money(value: float) -> str:
    """Money to the cent with thousands separators: 1,234.50 (never '-0.00')."""
    return f"{round(value, 2) + 0.0:,.2f}"


def whole(value: float) -> str:
    """Whole units with thousands separators (never '-0')."""
    return f"{int(round(value)):,}"


def per_unit(value: float) -> str:
    """A price or cost a unit: two decimals, more (up to four) when it has them, so that
    units x the figure shown is the amount shown."""
    text = f"{value:,.4f}".rstrip("0")
    head, _, tail = text.partition(".")
    return f"{head}.{tail.ljust(2, '0')}"


def _cents(value: float) -> float:
    return round(value + 0.0, 2)


# -- the record ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Outlook:
    """The destination's stock projected day by day as the stock-out rule sees it
    (:func:`control_tower.exceptions.shortfall`): the first day it runs out, the units short
    until the next delivery (or until an order placed today could arrive), that delivery, the
    lowest stock and the sales at risk (units short x price), each the rule's own figure, so
    the card agrees with the stock-out in the inbox; the prose shows units whole."""

    stockout_date: date | None
    units_short: float
    next_arrival: date | None
    lowest_stock: int
    price: float
    sales_at_risk: float
    short_until: date | None = None  # the last day the units short are counted to

    def sentence(self, days: int) -> str:
        if self.stockout_date is None:
            return f"no stock-out within {days} days (lowest stock {whole(self.lowest_stock)})"
        if self.units_short <= 0:
            return f"runs out on {self.stockout_date}, after an order placed today could arrive"
        if self.short_until is not None:
            until = f"by {self.short_until}" + (
                f" (counting the delivery on {self.next_arrival})"
                if self.next_arrival and self.next_arrival <= self.short_until
                else ""
            )
        else:  # a record written before the window was stored
            until = (
                f"until the delivery on {self.next_arrival}"
                if self.next_arrival
                else "until an order placed today could arrive"
            )
        short = whole(self.units_short)
        return (
            f"runs out on {self.stockout_date}, {short} unit{'' if short == '1' else 's'} short "
            f"{until} ({money(self.sales_at_risk)} of sales at risk)"
        )


@dataclass(frozen=True)
class CostPart:
    """One part of an action's cost, to the cent: ``units`` x ``per_unit`` (purchase,
    transport, freight), a departure's fixed cost shared by units (``trucks`` x
    ``fixed_cost`` x ``units`` / ``load``), or a fixed amount (order cost, handling)."""

    item: str  # purchase | transport | freight | lane_fixed | delivery_fixed | order | handling
    label: str
    amount: float
    units: int | None = None
    per_unit: float | None = None
    fixed_cost: float | None = None  # a truck's or a delivery's, before sharing
    trucks: int | None = None
    load: int | None = None  # units on the departure, every line of the plan

    def working(self) -> str:
        """How the amount is reached, with the figures shown."""
        if self.per_unit is not None and self.units is not None:
            return f"{whole(self.units)} x {per_unit(self.per_unit)}"
        if self.fixed_cost is not None and self.load:
            fixed = money(self.fixed_cost)
            if self.trucks and self.trucks > 1:
                fixed = f"{self.trucks} trucks x {fixed}"
            return f"{fixed} x {whole(self.units or 0)} / {whole(self.load)} units"
        return ""

    def phrase(self) -> str:
        how = self.working()
        return (
            f"{self.label} {how} = {money(self.amount)}"
            if how
            else (f"{self.label} {money(self.amount)}")
        )


@dataclass(frozen=True)
class Alternative:
    """A source the plan compared: cost per unit as compared (beyond the goods' price: the
    transport, fixed costs shared over a usual load, a price above the cheapest supplier;
    shown to the cent, as the verdicts compare them), arrival date and why it lost
    (``chosen`` for the action's own)."""

    source: str
    kind: str
    cost_per_unit: float
    arrival_date: date
    verdict: str
    chosen: bool


@dataclass(frozen=True)
class SafetyStock:
    """The destination's safety stock as the plan holds it: the policy's formula over the lead
    time plus the days to the next decision (``cycle_days``: the order cycle, or the days
    between departures), its ``result``, and the whole ``units`` (rounded up). ``lead_time_only``
    is the policy over the lead time alone, as the Policies page shows it."""

    location: str
    units: int
    result: float
    formula: str
    lead_time_days: float
    cycle_days: int
    cycle: str  # "order" | "departure"
    z: float
    daily_demand: float
    daily_demand_sd: float
    lead_time_sd_days: float
    lead_time_only: float
    overridden: bool = False

    def rounding(self) -> str:
        """How the result becomes whole units: '' when it is whole; else ', rounded up to N',
        after the result to as many decimals as it takes to show why (the formula shows
        one: 17.0 for 17.04, which rounds up to 18)."""
        if abs(self.result - self.units) <= 1e-9:
            return ""
        shown = ""
        for decimals in range(1, 7):
            text = f"{self.result:.{decimals}f}"
            if whole_safety_stock(float(text)) == self.units:
                shown = "" if decimals == 1 else f" ({text})"
                break
        return f"{shown}, rounded up to {whole(self.units)}"

    def sentence(self) -> str:
        over = (
            f"over the lead time plus the days to the next {self.cycle} "
            f"({self.lead_time_days:g} + {self.cycle_days} days)"
        )
        rounding = self.rounding()
        if self.overridden:
            return f"{whole(self.units)} units, as a planner set it ({self.formula}){rounding}"
        return (
            f"{whole(self.units)} units, the policy {over}: {self.formula}{rounding} "
            f"(over the lead time alone: {self.lead_time_only:,.1f})"
        )


@dataclass(frozen=True)
class Explanation:
    """Every figure of one drafted action's explanation (see the module docstring)."""

    action_id: int
    kind: str  # transfer | purchase_order
    sku: str
    source: str
    source_kind: str
    destination: str
    quantity: int
    arrival_date: date
    need: Need
    notes: tuple[str, ...]  # the line's other reasons: the supplier stock, inbound relied on
    without: Outlook
    with_it: Outlook | None  # None: it arrives after the projection's days
    projection_days: int
    costs: tuple[CostPart, ...]
    total_cost: float
    alternatives: tuple[Alternative, ...]  # the chosen, then the best few others
    more_alternatives: int  # the others the plan compared, left out of the table
    safety: SafetyStock | None

    # -- prose, from the figures
    def why(self) -> str:
        return "; ".join([self.need.sentence(), *self.notes])

    def if_nothing_done(self) -> str:
        return f"{self.destination} " + self.without.sentence(self.projection_days)

    def with_action(self) -> str:
        if self.with_it is None:
            return f"no change within {self.projection_days} days (it arrives {self.arrival_date})"
        return self.with_it.sentence(self.projection_days)

    def cost(self) -> str:
        return f"{money(self.total_cost)} (" + "; ".join(p.phrase() for p in self.costs) + ")"

    def others(self, top: int = 3) -> str:
        others = [a for a in self.alternatives if not a.chosen]
        if not others:
            return "no other source could deliver it"
        text = "; ".join(
            f"{a.source} ({a.kind}, {money(a.cost_per_unit)} a unit, arrives "
            f"{a.arrival_date}): {a.verdict}"
            for a in others[:top]
        )
        more = len(others) - top + self.more_alternatives
        return text + (f"; {more} more" if more > 0 else "")

    def lines(self) -> list[tuple[str, str]]:
        """(label, text): the short lines a manager reads, each a sentence."""
        out = [
            ("Why", self.why()),
            ("If nothing is done", self.if_nothing_done()),
            ("With it", self.with_action()),
            ("Cost", self.cost()),
            ("Alternatives (cost a unit as the plan compared them)", self.others()),
        ]
        if self.safety is not None:
            out.append((f"Safety stock at {self.safety.location}", self.safety.sentence()))
        return out

    def text(self) -> str:
        """The stored explanation: one labelled line each, for the CSV, the PDF and the
        agent."""
        return "\n".join(f"{label}: {text}." for label, text in self.lines())

    # -- tables for a card
    def cost_rows(self) -> list[dict[str, str]]:
        rows = [
            {"part": p.label, "working": p.working(), "amount": money(p.amount)} for p in self.costs
        ]
        return rows + [{"part": "total", "working": "", "amount": money(self.total_cost)}]

    def alternative_rows(self) -> list[dict[str, str]]:
        return [
            {
                "source": a.source,
                "kind": a.kind,
                "cost a unit": money(a.cost_per_unit),
                "arrives": a.arrival_date.isoformat(),
                "verdict": a.verdict,
            }
            for a in self.alternatives
        ]

    # -- storage
    def to_json(self) -> str:
        return json.dumps(self, default=_json_default, ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str) -> Explanation:
        d = json.loads(text)
        need = d.pop("need")
        return cls(
            **{
                **d,
                "arrival_date": date.fromisoformat(d["arrival_date"]),
                "need": Need(**{**need, "window_start": date.fromisoformat(need["window_start"])}),
                "notes": tuple(d["notes"]),
                "without": _outlook_from(d["without"]),
                "with_it": _outlook_from(d["with_it"]) if d["with_it"] else None,
                "costs": tuple(CostPart(**p) for p in d["costs"]),
                "alternatives": tuple(
                    Alternative(**{**a, "arrival_date": date.fromisoformat(a["arrival_date"])})
                    for a in d["alternatives"]
                ),
                "safety": SafetyStock(**d["safety"]) if d["safety"] else None,
            }
        )


def _json_default(value: object) -> object:
    """What ``json`` cannot write itself: a date as ISO text, a record as its fields (the
    encoder walks them in C: ``dataclasses.asdict`` and its deep copies cost more than
    building the record)."""
    if isinstance(value, date):
        return value.isoformat()
    return vars(value)


def _outlook_from(d: dict) -> Outlook:
    dates = ("stockout_date", "next_arrival", "short_until")
    day = {k: date.fromisoformat(d[k]) if d.get(k) else None for k in dates}
    return Outlook(**{**d, **day})


# -- building -----------------------------------------------------------------------------------
DRAFTED_SQL = """
SELECT a.action_id, a.kind, a.sku, a.from_location, a.to_location, a.supplier, a.quantity,
       a.arrival_date, a.plan_run, l.kind AS line_kind, l.source_kind, l.ship_date,
       l.arrival_date AS line_arrival, l.quantity AS line_quantity, l.reason, l.unit_price,
       l.alternatives, r.as_of AS plan_as_of, r.horizon, r.review_days,
       coalesce(json_extract(r.settings, '$.transfer_every_days')::INTEGER, 1) AS transfer_every
FROM actions a
JOIN plan_lines l ON l.run_id = a.plan_run AND l.line_no = a.plan_line
JOIN plan_runs r ON r.run_id = a.plan_run
WHERE a.kind IN ('transfer', 'purchase_order') AND
      ($all AND a.status = 'proposed' AND a.explanation IS NULL
       OR a.action_id IN (SELECT unnest($ids)))
ORDER BY a.action_id
"""

# per action, from the plan's stored projection and lines: the window's demand, the stock the
# day before it, the shipments onward in it, the units on its departure and its lane's costs
PLAN_FIGURES_SQL = """
WITH projected AS (
    SELECT d.action_id,
           sum(p.demand) FILTER (WHERE p.date >= d.window_start) AS demand,
           sum(p.inventory) FILTER (WHERE p.date = d.window_start - 1) AS before
    FROM drafted d JOIN plan_projection p
      ON p.run_id = d.plan_run AND p.sku = d.sku AND p.location = d.to_location
     AND p.date >= d.window_start - 1 AND p.date < d.window_stop
    GROUP BY d.action_id
), onward AS (
    SELECT d.action_id, sum(o.quantity) AS onward
    FROM drafted d JOIN plan_lines o
      ON o.run_id = d.plan_run AND o.kind = 'transfer' AND o.sku = d.sku
     AND o.from_location = d.to_location
     AND o.ship_date >= d.window_start AND o.ship_date < d.window_stop
    GROUP BY d.action_id
), departure AS (
    SELECT d.action_id, sum(o.quantity) AS load
    FROM drafted d JOIN plan_lines o
      ON o.run_id = d.plan_run AND o.kind = d.line_kind AND o.ship_date = d.ship_date
     AND o.to_location = d.to_location
     AND (o.kind = 'transfer' AND o.from_location = d.from_location
          OR o.kind = 'order' AND o.supplier = d.supplier)
    GROUP BY d.action_id
)
SELECT d.action_id,
       coalesce(pr.demand, 0)::BIGINT AS demand,
       coalesce(pr.before, 0)::BIGINT AS before,
       coalesce(o.onward, 0)::BIGINT AS onward,
       coalesce(dp.load, 0)::BIGINT AS load,
       coalesce(ln.cost_per_unit, 0)::DOUBLE AS lane_per_unit,
       coalesce(ln.fixed_cost, 0)::DOUBLE AS lane_fixed,
       ln.capacity::DOUBLE AS lane_capacity
FROM drafted d
LEFT JOIN projected pr USING (action_id)
LEFT JOIN onward o USING (action_id)
LEFT JOIN departure dp USING (action_id)
LEFT JOIN suppliers s ON s.code = d.supplier
LEFT JOIN lanes ln
  ON ln.to_location = d.to_location AND ln.from_location = coalesce(d.from_location, s.location)
"""


def _plan_figures(store: Store, drafted: pl.DataFrame) -> dict[int, dict]:
    """Per action the plan's figures (see ``PLAN_FIGURES_SQL``), its review window in dates."""
    starts, stops = [], []
    for row in drafted.select("line_arrival", "plan_as_of", "review_days", "horizon").iter_rows():
        arrival, as_of, review, horizon = row
        day = (arrival - as_of).days - 1  # plan day t is as_of + 1 + t
        start, stop = review_window(day, review, horizon)
        starts.append(as_of + timedelta(days=1 + start))
        stops.append(as_of + timedelta(days=1 + stop))
    frame = drafted.select(
        "action_id",
        "plan_run",
        "sku",
        "from_location",
        "to_location",
        "supplier",
        "line_kind",
        "ship_date",
    ).with_columns(
        window_start=pl.Series(starts, dtype=pl.Date), window_stop=pl.Series(stops, dtype=pl.Date)
    )
    with registered(store.cursor(), "drafted", frame):
        figures = store.query(PLAN_FIGURES_SQL)
    out = {r["action_id"]: r for r in figures.iter_rows(named=True)}
    for r, start, stop in zip(frame.iter_rows(named=True), starts, stops, strict=True):
        out[r["action_id"]] |= {"window_start": start, "window_days": (stop - start).days}
    return out


def _safety(policy: Policy, cycle_days: int) -> SafetyStock:
    """The safety stock the plan holds at a destination: the policy over its lead time plus
    the days to the next decision (as :func:`control_tower.optimize.instance.build_instance`
    computes it), unless a planner set it."""
    periodic = compute_policy(
        replace(policy.inputs, lead_time_days=policy.inputs.lead_time_days + cycle_days),
        policy.overrides,
    )
    formulas = periodic.formulas()
    overridden = "override safety_stock" in formulas
    i = periodic.inputs
    return SafetyStock(
        location=i.location,
        units=whole_safety_stock(periodic.safety_stock),
        result=periodic.safety_stock,
        formula=formulas["override safety_stock" if overridden else "safety_stock"],
        lead_time_days=policy.inputs.lead_time_days,
        cycle_days=cycle_days,
        cycle="departure" if i.source.startswith(LANE_FROM) else "order",
        z=periodic.z,
        daily_demand=i.daily_demand,
        daily_demand_sd=i.daily_demand_sd,
        lead_time_sd_days=i.lead_time_sd_days,
        lead_time_only=policy.safety_stock,
        overridden=overridden,
    )


def _outlook(
    stock_end: np.ndarray, stockout, arrival, short: float, price: float, until: date | None
) -> Outlook:
    return Outlook(
        stockout_date=stockout,
        units_short=float(short),
        next_arrival=arrival,
        lowest_stock=int(round(float(stock_end.min()))) if stock_end.size else 0,
        price=price,
        sales_at_risk=float(short) * price,
        short_until=until if short > 0 else None,
    )


def _costs(a: dict, plan: dict, settings: Settings) -> tuple[tuple[CostPart, ...], float]:
    """The action's cost in parts (see the module docstring), to the cent, and their sum."""
    q = int(a["quantity"])
    load = int(plan["load"]) - int(a["line_quantity"]) + q  # an edited quantity rides along
    fixed = plan["lane_fixed"]
    parts: list[CostPart] = []
    if a["line_kind"] == "transfer":
        capacity = plan["lane_capacity"]
        n = trucks(load, math.inf if capacity is None else capacity)
        parts.append(
            CostPart("transport", "transport", _cents(q * a["unit_price"]), q, a["unit_price"])
        )
        if fixed > 0 and load > 0:
            parts.append(
                CostPart(
                    "lane_fixed",
                    "share of the lane's fixed cost",
                    _cents(n * fixed * q / load),
                    q,
                    fixed_cost=fixed,
                    trucks=n,
                    load=load,
                )
            )
        parts.append(CostPart("handling", "handling", _cents(settings.policies.transfer_line_cost)))
    else:
        parts.append(
            CostPart("purchase", "purchase", _cents(q * a["unit_price"]), q, a["unit_price"])
        )
        if plan["lane_per_unit"] > 0:
            parts.append(
                CostPart(
                    "freight",
                    "freight",
                    _cents(q * plan["lane_per_unit"]),
                    q,
                    plan["lane_per_unit"],
                )
            )
        if fixed > 0 and load > 0:
            parts.append(
                CostPart(
                    "delivery_fixed",
                    "share of the delivery's fixed freight",
                    _cents(fixed * q / load),
                    q,
                    fixed_cost=fixed,
                    trucks=1,
                    load=load,
                )
            )
        parts.append(CostPart("order", "order cost", _cents(settings.policies.order_cost)))
    return tuple(parts), _cents(sum(p.amount for p in parts))


TOP_ALTERNATIVES = 5  # the others a card's table shows beside the chosen source


def _alternatives(text: str | None) -> tuple[tuple[Alternative, ...], int]:
    """The chosen source, then the best others as the plan ranked them (cheapest first), at
    most ``TOP_ALTERNATIVES``; and how many others are left out (the Plan page lists all)."""
    found = json.loads(text) if text else []
    chosen = [a for a in found if a.get("chosen")]
    others = [a for a in found if not a.get("chosen")]
    shown = [
        Alternative(
            source=a["source"],
            kind=a.get("source_kind", ""),
            cost_per_unit=float(a["cost_per_unit"]),
            arrival_date=date.fromisoformat(a["arrival_date"]),
            verdict=a["verdict"],
            chosen=bool(a.get("chosen")),
        )
        for a in chosen + others[:TOP_ALTERNATIVES]
    ]
    return tuple(shown), max(len(others) - TOP_ALTERNATIVES, 0)


def _notes(reason: str, need: Need) -> tuple[str, ...]:
    """What the line's reason says beside its need: the supplier stock a call-off comes
    from, the inbound a released transfer relies on."""
    before, found, after = reason.partition(need.sentence())
    if not found:
        return ()
    return tuple(p for p in (before.strip(" ;"), after.strip(" ;")) if p)


def build_explanations(
    store: Store, action_ids: list[int] | None = None, settings: Settings | None = None
) -> list[Explanation]:
    """The explanation of each proposed transfer or order from a plan that has none (or of
    ``action_ids``), nothing written."""
    settings = settings or Settings()
    drafted = store.query(DRAFTED_SQL, {"all": action_ids is None, "ids": action_ids or [-1]})
    if drafted.height == 0:
        return []
    plan = _plan_figures(store, drafted)
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
        store,
        stock,
        as_of,
        horizon,
        None,
        position.inbound(store, as_of=as_of),
        settings.forecast.sensing,
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
    policy_of = {(p.inputs.sku, p.inputs.location): p for p in found}
    # per destination, not per action: its projection as things stand and its safety stock
    as_things_stand: dict[int, tuple] = {}
    safety_of: dict[tuple[int, int], SafetyStock] = {}
    out = []
    for a in drafted.iter_rows(named=True):
        key = (a["sku"], a["to_location"])
        i = index[key]
        price = prices.get(a["sku"], 0.0)
        arrivals, demand = flows.arrivals[i], flows.demand[i]
        policy = policy_of.get(key)
        lead = policy.inputs.lead_time_days if policy is not None else None
        if i not in as_things_stand:
            as_things_stand[i] = exceptions.shortfall(available[i], arrivals, demand, as_of, lead)
        base_out = as_things_stand[i][1]
        until = (
            as_of
            + timedelta(
                days=exceptions.shortfall_window(arrivals, (base_out - as_of).days - 1, lead)[1]
            )
            if base_out is not None
            else None
        )
        without = _outlook(*as_things_stand[i], price, until)
        t = (a["arrival_date"] - as_of).days
        with_it = None
        if t <= horizon:
            extra = np.zeros(horizon)
            extra[max(t, 1) - 1] = a["quantity"]
            found_with = exceptions.what_if_shortfall(
                available[i], arrivals, extra, demand, as_of, lead
            )
            with_it = _outlook(*found_with, price, until)
        safety = None
        if policy is not None:
            lane_fed = policy.inputs.source.startswith(LANE_FROM)
            cycle = int(a["transfer_every"]) if lane_fed else int(a["review_days"])
            if (i, cycle) not in safety_of:
                safety_of[(i, cycle)] = _safety(policy, cycle)
            safety = safety_of[(i, cycle)]
        figures = plan[a["action_id"]]
        before = int(figures["before"])
        if figures["window_start"] == a["plan_as_of"] + timedelta(days=1):  # plan day 0
            before = max(int(round(available[i])), 0)
        need = Need(
            destination=a["to_location"],
            window_start=figures["window_start"],
            window_days=int(figures["window_days"]),
            demand=int(figures["demand"]),
            onward=int(figures["onward"]),
            stock_before=before,
            safety_stock=safety.units if safety is not None else 0,
        )
        costs, total = _costs(a, figures, settings)
        alternatives, more_alternatives = _alternatives(a["alternatives"])
        out.append(
            Explanation(
                action_id=int(a["action_id"]),
                kind=a["kind"],
                sku=a["sku"],
                source=a["from_location"] or a["supplier"] or "",
                source_kind=a["source_kind"] or "",
                destination=a["to_location"],
                quantity=int(a["quantity"]),
                arrival_date=a["arrival_date"],
                need=need,
                notes=_notes(a["reason"] or "", need),
                without=without,
                with_it=with_it,
                projection_days=horizon,
                costs=costs,
                total_cost=total,
                alternatives=alternatives,
                more_alternatives=more_alternatives,
                safety=safety,
            )
        )
    return out


def explain_actions(
    store: Store,
    action_ids: list[int] | None = None,
    settings: Settings | None = None,
) -> int:
    """Write the explanation of each proposed transfer or order from a plan that has none
    (or of ``action_ids``): its text (``actions.explanation``) and its record as JSON
    (``actions.explanation_record``); returns how many were written."""
    found = build_explanations(store, action_ids, settings)
    if not found:
        return 0
    frame = pl.DataFrame(
        {
            "action_id": [e.action_id for e in found],
            "explanation": [e.text() for e in found],
            "record": [e.to_json() for e in found],
        },
        schema={"action_id": pl.Int64, "explanation": pl.String, "record": pl.String},
    )
    with store.transaction() as cur, registered(cur, "explained", frame):
        cur.execute(
            "UPDATE actions SET explanation = e.explanation, explanation_record = e.record "
            "FROM explained e WHERE actions.action_id = e.action_id"
        )
    log.info("explained %d drafted actions", frame.height)
    return frame.height


def explanation_of(store: Store, action_id: int) -> Explanation | None:
    """The stored record of an action's explanation (None: an action drafted otherwise,
    explained before records were kept, or a record this version cannot read)."""
    text = store.scalar("SELECT explanation_record FROM actions WHERE action_id = ?", [action_id])
    if not text:
        return None
    try:
        return Explanation.from_json(text)
    except (TypeError, KeyError, ValueError):  # written by another version: show its text
        log.warning("action %d: its explanation record cannot be read", action_id)
        return None


__all__ = [
    "TOP_ALTERNATIVES",
    "Alternative",
    "CostPart",
    "Explanation",
    "Outlook",
    "SafetyStock",
    "build_explanations",
    "explain_actions",
    "explanation_of",
    "money",
    "per_unit",
    "whole",
]
