"""From a solution to what a planner reads: plan lines with their reason and the alternatives
compared, the cost breakdown (exact fixed costs, whatever the solve shared out per unit), the
plan's KPIs and the projected stock."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date

import numpy as np
import polars as pl

from control_tower.optimize.instance import PlanInstance, SupplyOption
from control_tower.optimize.network import lane_unit_cost, order_unit_cost, premiums
from control_tower.optimize.solve import Solution

COST_ITEMS = ("shortage", "below_safety_stock", "holding", "transport", "ordering", "handling")


@dataclass(frozen=True)
class PlanLine:
    kind: str  # transfer | order
    source_kind: str  # neighbour | central DC | VMI | supplier | supplier stock
    sku: str
    from_location: str | None
    to_location: str
    supplier: str | None
    quantity: int
    ship_date: object
    arrival_date: object
    release_now: bool
    unit_price: float
    value: float
    cost: float
    reason: str
    alternatives: tuple[dict, ...]


SUPPLIER_STOCK = "supplier stock"


def _source_kind(kind: str) -> str:
    return {"central_dc": "central DC", "vmi": "VMI"}.get(kind, "neighbour")


def _pool_left(instance: PlanInstance, solution: Solution) -> np.ndarray:
    """Per stock pool the units the plan leaves with the supplier."""
    left = np.array([p.quantity for p in instance.pools], dtype=np.int64)
    for o, q in zip(solution.order_option, solution.order_qty, strict=True):
        pool = instance.supply[o].pool
        if pool >= 0:
            left[pool] -= int(q)
    return left


def spare_stock(instance: PlanInstance, solution: Solution) -> np.ndarray:
    """Per SKU x location x day the stock that could leave that day without the location ever
    dropping below its safety stock later in the plan: min over later days of (stock - SS)."""
    slack = solution.inventory - np.ceil(instance.safety_stock)[:, :, None]
    return np.minimum.accumulate(slack[:, :, ::-1], axis=2)[:, :, ::-1]


def whole_safety_stock(units: float) -> int:
    """A safety stock as the plan holds it: whole units, rounded up (a float a hair above a
    whole number is that number)."""
    return math.ceil(units - 1e-9)


def review_window(arrival: int, review_days: int, horizon: int) -> tuple[int, int]:
    """The plan days ``[start, stop)`` a line's stock is for: one review period from its
    arrival, within the horizon (none after it)."""
    return arrival, max(min(arrival + review_days, horizon), arrival)


def trucks(load: float, capacity: float) -> int:
    """The trucks a departure of ``load`` units takes on a lane carrying ``capacity`` a truck
    (one when unlimited): it pays the lane's fixed cost once a truck."""
    return math.ceil(load / capacity) if math.isfinite(capacity) else 1


@dataclass(frozen=True)
class Need:
    """What a line's stock is for: the destination's demand and shipments onward in the review
    period from its arrival, against its projected stock the day before and its safety stock
    (whole units, as the plan holds it). ``sentence`` is the line's reason."""

    destination: str
    window_start: date
    window_days: int
    demand: int
    onward: int
    stock_before: int
    safety_stock: int

    def sentence(self) -> str:
        needs = f"{self.demand:,} units of demand" + (
            f" and {self.onward:,} to ship onward" if self.onward else ""
        )
        return (
            f"{self.destination} faces {needs} in the {self.window_days} days from "
            f"{self.window_start}; projected stock the day before: {self.stock_before:,}, "
            f"safety stock: {self.safety_stock:,}"
        )


@dataclass
class _Context:
    """What every line's reason and alternatives read, computed once per plan."""

    spare: np.ndarray  # [S, L, H]
    outbound: np.ndarray  # [S, L, H] units leaving on lanes
    extra: np.ndarray  # per supply option: price above the cheapest
    lane_cost: list[float]
    option_cost: list[float]
    inbound_lanes: dict[int, list[int]]  # destination -> lanes into it
    options_of: dict[int, list[int]]  # sku -> its supply options
    pool_left: np.ndarray  # per stock pool: units the plan leaves with the supplier


def _context(instance: PlanInstance, solution: Solution) -> _Context:
    outbound = np.zeros(solution.inventory.shape, dtype=np.int64)
    origins = np.array([ln.origin for ln in instance.lanes], dtype=np.int64)
    if solution.ship_qty.size:
        np.add.at(
            outbound,
            (solution.ship_sku, origins[solution.ship_lane], solution.ship_day),
            solution.ship_qty,
        )
    extra = premiums(instance)
    inbound_lanes: dict[int, list[int]] = {}
    for j, lane in enumerate(instance.lanes):
        inbound_lanes.setdefault(lane.destination, []).append(j)
    return _Context(
        spare=spare_stock(instance, solution),
        outbound=outbound,
        extra=extra,
        lane_cost=[lane_unit_cost(instance, j) for j in range(len(instance.lanes))],
        option_cost=[order_unit_cost(instance, o, extra[o]) for o in range(len(instance.supply))],
        inbound_lanes=inbound_lanes,
        options_of=instance.options_of,
        pool_left=_pool_left(instance, solution),
    )


def plan_lines(instance: PlanInstance, solution: Solution, release_days: int = 2) -> list[PlanLine]:
    """Every transfer and order of the plan, by ship date, with why and what else was
    compared; ``release_now`` marks those due within ``release_days`` (what
    :func:`control_tower.actions.release_lines` then checks can be carried out)."""
    ctx = _context(instance, solution)
    extra = ctx.extra
    lines: list[PlanLine] = []
    for s, j, t, q in zip(
        solution.ship_sku, solution.ship_lane, solution.ship_day, solution.ship_qty, strict=True
    ):
        lane = instance.lanes[j]
        arrival = int(t + lane.transit_days)
        chosen = ("lane", int(j))
        lines.append(
            PlanLine(
                kind="transfer",
                source_kind=_source_kind(instance.location_kinds[lane.origin]),
                sku=instance.skus[s],
                from_location=instance.locations[lane.origin],
                to_location=instance.locations[lane.destination],
                supplier=None,
                quantity=int(q),
                ship_date=instance.day(t),
                arrival_date=instance.day(arrival),
                release_now=bool(t < release_days),
                unit_price=lane.cost_per_unit,
                value=float(q * instance.unit_cost[s]),
                cost=float(q * lane.cost_per_unit + instance.transfer_line_cost),
                reason=_reason(instance, solution, ctx, int(s), lane.destination, arrival),
                alternatives=tuple(
                    _alternatives(instance, ctx, int(s), lane.destination, int(t), arrival, chosen)
                ),
            )
        )
    for s, o, t, q in zip(
        solution.order_sku,
        solution.order_option,
        solution.order_day,
        solution.order_qty,
        strict=True,
    ):
        option = instance.supply[o]
        arrival = int(t + option.lead_time_days)
        reason = _reason(instance, solution, ctx, int(s), option.destination, arrival)
        if option.pool >= 0:
            reason = _stock_reason(instance, option, int(t)) + reason
        lines.append(
            PlanLine(
                kind="order",
                source_kind="supplier" if option.pool < 0 else SUPPLIER_STOCK,
                sku=instance.skus[s],
                from_location=None,
                to_location=instance.locations[option.destination],
                supplier=option.supplier,
                quantity=int(q),
                ship_date=instance.day(t),
                arrival_date=instance.day(arrival),
                release_now=bool(t < release_days),
                unit_price=option.price,
                value=float(q * instance.unit_cost[s]),
                cost=float(instance.order_cost + q * (extra[o] + option.freight_per_unit)),
                reason=reason,
                alternatives=tuple(
                    _alternatives(
                        instance,
                        ctx,
                        int(s),
                        option.destination,
                        int(t),
                        arrival,
                        ("option", int(o)),
                    )
                ),
            )
        )
    lines.sort(key=lambda line: (line.ship_date, line.kind, line.sku, line.to_location))
    return lines


def _stock_reason(instance: PlanInstance, option: SupplyOption, day: int) -> str:
    """Where a call-off from supplier stock comes from: the pool, and its days on the way."""
    pool = instance.pools[option.pool]
    days = option.lead_time_days
    return (
        f"from supplier stock: {option.supplier} {pool.label or 'stock'}, {pool.quantity:,} "
        f"units held for us, leaving {instance.day(day)} with {days} day{'s' if days != 1 else ''}"
        " on the way; "
    )


def _reason(
    instance: PlanInstance, solution: Solution, ctx: _Context, s: int, dest: int, arrival: int
) -> str:
    """What the stock is for (:class:`Need`), from the plan's own projection and lines."""
    start, stop = review_window(arrival, instance.review_days, instance.horizon)
    before = (
        int(solution.inventory[s, dest, arrival - 1])
        if arrival > 0
        else int(instance.on_hand[s, dest])
    )
    return Need(
        destination=instance.locations[dest],
        window_start=instance.day(arrival),
        window_days=stop - start,
        demand=int(solution.demand[s, dest, start:stop].sum()),
        onward=int(ctx.outbound[s, dest, start:stop].sum()),
        stock_before=before,
        safety_stock=whole_safety_stock(instance.safety_stock[s, dest]),
    ).sentence()


def _alternatives(
    instance: PlanInstance,
    ctx: _Context,
    s: int,
    dest: int,
    day: int,
    arrival: int,
    chosen: tuple[str, int],
) -> list[dict]:
    """Every way the destination could get this SKU from the same day: each lane into it,
    each supplier delivering to it, and a supplier via a lane that feeds it; with cost per
    unit, arrival date and why it lost."""
    out = []
    feeds = ctx.inbound_lanes.get(dest, [])
    for j in feeds:
        lane = instance.lanes[j]
        at = day + lane.transit_days
        free = int(ctx.spare[s, lane.origin, day]) if day < instance.horizon else 0
        out.append(
            {
                "source": instance.locations[lane.origin],
                "source_kind": _source_kind(instance.location_kinds[lane.origin]),
                "cost_per_unit": round(ctx.lane_cost[j], 4),
                "arrival_date": instance.day(at).isoformat(),
                "spare_stock": max(free, 0),
                "chosen": chosen == ("lane", j),
                "_arrival": at,
            }
        )
    for o in ctx.options_of.get(s, []):
        option = instance.supply[o]
        direct = option.destination == dest
        routes = (
            [(None, 0, 0.0)]
            if direct
            else [
                (j, instance.lanes[j].transit_days, ctx.lane_cost[j])
                for j in feeds
                if instance.lanes[j].origin == option.destination
            ]
        )
        pooled = option.pool >= 0
        if pooled:
            pool = instance.pools[option.pool]
            opens = day if pool.first_day <= day else pool.first_day
            if pool.last_day is not None and opens > pool.last_day:
                continue  # that week's capacity has passed
        else:
            opens = day
        for j, transit, lane_cost in routes:
            at = opens + option.lead_time_days + transit
            via = "" if j is None else f" via {instance.locations[option.destination]}"
            out.append(
                {
                    "source": f"{option.supplier}{' stock' if pooled else ''}{via}",
                    "source_kind": SUPPLIER_STOCK if pooled else "supplier",
                    "cost_per_unit": round(ctx.option_cost[o] + lane_cost, 4),
                    "arrival_date": instance.day(at).isoformat(),
                    "spare_stock": int(max(ctx.pool_left[option.pool], 0)) if pooled else None,
                    "chosen": direct and chosen == ("option", o),
                    "_arrival": at,
                }
            )
    best = next((a for a in out if a["chosen"]), None)
    for a in out:
        a["verdict"] = _verdict(a, best, arrival, instance.horizon)
        del a["_arrival"]
    out.sort(key=lambda a: (not a["chosen"], a["cost_per_unit"]))
    return out


def _verdict(a: dict, best: dict | None, arrival: int, horizon: int) -> str:
    if a["chosen"]:
        return "chosen"
    if a["_arrival"] >= horizon:
        return "arrives after the plan's horizon"
    if a["_arrival"] > arrival:
        late = a["_arrival"] - arrival
        return f"arrives {a['arrival_date']}, {late} day{'s' if late > 1 else ''} later"
    held = a["source_kind"] == SUPPLIER_STOCK
    if a["spare_stock"] is not None and a["spare_stock"] <= 0:
        if held:
            return "no stock left: the plan takes all the supplier holds for us"
        return "no stock to spare: it would fall below its own safety stock"
    if best is not None and a["cost_per_unit"] > best["cost_per_unit"] + 1e-9:
        # the difference of the costs as shown (to the cent), so the figures add up
        more = round(a["cost_per_unit"], 2) - round(best["cost_per_unit"], 2)
        if more < 0.005:
            return "costs less than 0.01 more per unit"
        return f"costs {more:.2f} more per unit"
    if held:
        return f"as good; the supplier holds {a['spare_stock']:,} more units the plan leaves"
    if a["spare_stock"] is not None:
        return f"could also send up to {a['spare_stock']:,} units; the plan uses them elsewhere"
    return "as good; the plan takes one source per review day"


def cost_breakdown(instance: PlanInstance, solution: Solution) -> dict[str, float]:
    """The plan's cost by item, with fixed costs counted as incurred: one per lane shipment
    (a departure day, more :func:`trucks` when the load exceeds a truck's capacity), per
    supplier delivery, per order line and per transfer line. An explanation shares a
    departure's fixed cost over its lines by units (:mod:`control_tower.explain`)."""
    short_units = solution.demand - solution.served
    shortage = float((short_units.sum(axis=(1, 2)) * instance.shortage_cost).sum())
    holding = float((solution.inventory * instance.holding_cost[:, :, None]).sum())
    penalty = np.minimum(instance.safety_penalty, instance.shortage_cost / (instance.horizon + 1))
    below = np.maximum(np.ceil(instance.safety_stock)[:, :, None] - solution.inventory, 0)
    below_cost = float((below.sum(axis=(1, 2)) * penalty).sum())
    transport = 0.0
    for j, lane in enumerate(instance.lanes):
        on = solution.ship_lane == j
        if not on.any():
            continue
        transport += float(solution.ship_qty[on].sum()) * lane.cost_per_unit
        for day in np.unique(solution.ship_day[on]):
            load = float(solution.ship_qty[on & (solution.ship_day == day)].sum())
            transport += trucks(load, lane.capacity) * lane.fixed_cost
    extra = premiums(instance)
    ordering = 0.0
    deliveries = set()
    for o, t, q in zip(solution.order_option, solution.order_day, solution.order_qty, strict=True):
        option = instance.supply[o]
        transport += q * option.freight_per_unit
        ordering += instance.order_cost + q * extra[o]
        if option.freight_fixed > 0 and (option.supplier, option.destination, t) not in deliveries:
            deliveries.add((option.supplier, option.destination, t))
            transport += option.freight_fixed
    handling = float(len(solution.ship_qty) * instance.transfer_line_cost)
    costs = {
        "shortage": shortage,
        "below_safety_stock": below_cost,
        "holding": holding,
        "transport": transport,
        "ordering": ordering,
        "handling": handling,
    }
    costs["total"] = float(sum(costs.values()))
    return costs


def plan_kpis(instance: PlanInstance, solution: Solution) -> dict[str, float | int]:
    """Planned fill rate, units short, owned inventory value (VMI stock is the supplier's),
    and the count of lines."""
    demand = int(solution.demand.sum())
    served = int(solution.served.sum())
    owned = np.array([k != "vmi" for k in instance.location_kinds])
    value = (solution.inventory[:, owned, :] * instance.unit_cost[:, None, None]).sum(axis=(0, 1))
    central = [k == "central_dc" for k in instance.location_kinds]
    from_central = sum(1 for j in solution.ship_lane if central[instance.lanes[j].origin])
    purchase = float(
        sum(
            instance.supply[o].price * q
            for o, q in zip(solution.order_option, solution.order_qty, strict=True)
        )
    )
    return {
        "demand_units": demand,
        "served_units": served,
        "short_units": demand - served,
        "fill_rate": served / demand if demand else 1.0,
        "avg_inventory_value": float(value.mean()) if value.size else 0.0,
        "end_inventory_value": float(value[-1]) if value.size else 0.0,
        "transfers": len(solution.ship_qty),
        "transfers_from_central": from_central,
        "lateral_transfers": len(solution.ship_qty) - from_central,
        "orders": len(solution.order_qty),
        "purchase_value": purchase,
    }


def projection_frame(instance: PlanInstance, solution: Solution) -> pl.DataFrame:
    """Per SKU x location x day with any demand or stock: demand, served, end-of-day stock."""
    s, loc, t = np.nonzero((solution.demand > 0) | (solution.inventory > 0))
    first = np.datetime64(instance.day(0), "D")
    return pl.DataFrame(
        {
            "sku": np.array(instance.skus, dtype=object)[s].tolist(),
            "location": np.array(instance.locations, dtype=object)[loc].tolist(),
            "date": first + t.astype("timedelta64[D]"),
            "demand": solution.demand[s, loc, t],
            "served": solution.served[s, loc, t],
            "inventory": solution.inventory[s, loc, t],
        },
        schema={
            "sku": pl.String,
            "location": pl.String,
            "date": pl.Date,
            "demand": pl.Int64,
            "served": pl.Int64,
            "inventory": pl.Int64,
        },
    )
