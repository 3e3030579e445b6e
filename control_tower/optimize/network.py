"""The time-expanded network of a plan: one node per SKU x location x day, and arcs for every
way a unit can move, as flat numpy arrays (built per block of SKUs, without a Python loop over
SKUs or days).

For each SKU, a unit of stock at location ``l`` on day ``t`` either
- serves demand that day (``DEMAND`` arc to the sink, capacity the day's expected demand,
  cost minus the shortage cost: each unit served saves it),
- stays to the next day (``CARRY``, cost the holding cost; the first ``safety stock`` units
  ride a parallel ``PROTECTED`` arc whose cost is lower by the safety-stock penalty, so stock
  below the safety stock costs that penalty per unit and day; at a location fed only over
  lanes, stock above the policy's max level rides an ``OVER`` arc dearer by the same penalty,
  unless it was there or on its way already, so a transfer brings stock up to the max and
  no further),
- or, on a departure day, leaves on a lane and arrives ``transit_days`` later (``LANE``).
Units enter as stock on hand (day 0), as arrivals already scheduled, or as supplier orders
placed on a review day arriving a lead time later (``ORDER`` arcs from the source). A
supplier's stock pool is a node of its own: a ``STOCK`` arc from the source holds its units
(capacity the pool's quantity), and its options' ``ORDER`` arcs leave that node on the
departure days of its window, so every destination together takes no more than the pool
holds. The source sends what is not ordered straight to the sink (``BYPASS``), and stock left
on the last day goes to the sink over that day's carry arcs, so supplies balance.

With ``weekly_nodes`` (the decomposed solve's default) the days after ``fine_days`` are
grouped: a node stands for a run of days from one node day to the next (the node days are
daily until the departures on the day after ``fine_days`` have arrived, then weekly, plus the
arrival days of orders placed within ``fine_days`` and of inbound already due, so those arrive
exactly). Its demand arc carries the run's demand, its carry arcs the run's holding. Lanes
leave on the day after ``fine_days``, then weekly, each on the day that arrives on a weekly
node day; any other arrival counts from the next node day (never earlier than it comes), and what leaves
or is served during a run is taken from the stock at its start.
:func:`daily_projection` rebuilds served and stock day by day from the decisions.

Costs come twice: ``cost`` shares fixed costs out per unit (a lane's fixed cost over the load
``shipment_fill`` of its capacity, a supplier's order cost and a transfer's line cost over the
usual lot), which is what a min-cost flow per SKU can see; ``exact_cost`` leaves them out, for
the coupled model, which prices them as the fixed costs they are.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from control_tower.optimize.instance import PlanInstance

CARRY_PROTECTED, CARRY, DEMAND, LANE, ORDER, BYPASS, STOCK, CARRY_OVER = range(8)
ARC_KINDS = (
    "carry_protected",
    "carry",
    "demand",
    "lane",
    "order",
    "bypass",
    "supplier_stock",
    "carry_over_max",
)
CARRY_KINDS = (CARRY_PROTECTED, CARRY, CARRY_OVER)  # the parallel arcs of a node's stock
SOURCE, SINK = 0, 1


def integer_demand(demand: np.ndarray) -> np.ndarray:
    """Daily expected demand as whole units whose running total is the running total rounded:
    0.3 a day becomes a unit every third or fourth day, not nothing."""
    cumulative = np.rint(np.cumsum(demand, axis=-1))
    first = cumulative[..., :1]
    return np.concatenate([first, np.diff(cumulative, axis=-1)], axis=-1).astype(np.int64)


@dataclass
class Arcs:
    """The arcs of a block of SKUs (``skus``: instance indices; arc ``sku`` is the position in
    that block). ``ref`` is the location of a carry or demand arc, the lane of a lane arc and
    the supply option of an order arc and the stock pool of a stock arc; ``day`` the day it
    leaves (for carry and demand arcs the node's first day, for a stock arc the pool's)."""

    skus: np.ndarray
    days: np.ndarray  # node days: every day, or fewer (see weekly_nodes)
    tail: np.ndarray
    head: np.ndarray
    capacity: np.ndarray
    cost: np.ndarray
    exact_cost: np.ndarray
    kind: np.ndarray
    sku: np.ndarray
    ref: np.ndarray
    day: np.ndarray
    supplies: np.ndarray  # per node
    demand: np.ndarray  # [block, L, H] whole units

    @property
    def n_nodes(self) -> int:
        return len(self.supplies)

    def __len__(self) -> int:
        return len(self.tail)


def lane_unit_cost(instance: PlanInstance, lane_index: int) -> float:
    """A lane's cost per unit with its fixed cost per shipment shared over a typical load."""
    lane = instance.lanes[lane_index]
    load = (
        lane.capacity * instance.settings.shipment_fill
        if math.isfinite(lane.capacity)
        else instance.settings.default_shipment_units
    )
    return lane.cost_per_unit + lane.fixed_cost / max(load, 1.0)


def order_unit_cost(instance: PlanInstance, option_index: int, premium: float) -> float:
    """A supplier option's cost per unit beyond the goods' value: the price above the SKU's
    cheapest supplier, the inbound freight (its fixed cost shared over a typical load) and
    the order cost shared over the usual lot."""
    option = instance.supply[option_index]
    lot = instance.lot_size[option.sku, option.destination]
    fixed = option.freight_fixed / instance.settings.default_shipment_units
    return premium + option.freight_per_unit + fixed + instance.order_cost / max(lot, 1.0)


def premiums(instance: PlanInstance) -> np.ndarray:
    """Per supply option its price above the cheapest supplier of its SKU (never negative, so
    buying is never a gain in itself)."""
    return instance.price_premiums


def _lane_departures(instance: PlanInstance, weekly: bool) -> dict[str, np.ndarray]:
    """Every lane departure within the horizon (kept on the instance): its lane, day, arrival
    day, capacity (the lane's times the departures its slot stands for), cost per unit with
    and without shared fixed costs, origin and destination. With ``weekly``, departures after
    ``fine_days`` leave on its first day after them, then weekly on the days that arrive on a
    weekly node day (as many departures as leaving every seventh day)."""
    cache = instance.__dict__.setdefault("_lane_departures", {})
    opt = instance.settings
    key = (weekly, opt.fine_days, opt.transfer_every_days, instance.horizon, tuple(instance.lanes))
    if key in cache:
        return cache[key]
    horizon = instance.horizon
    fine = min(instance.settings.fine_days, horizon)
    departures = instance.departure_day_indices
    rows: list[tuple[int, int]] = []
    for j, lane in enumerate(instance.lanes):
        leave = departures
        if weekly:
            timed = np.arange(fine + 7, horizon + 7, 7) - lane.transit_days
            first = np.array([fine]) if fine < horizon else np.zeros(0, np.int64)
            leave = np.union1d(
                np.concatenate([departures[departures < fine], first]), timed[timed > fine]
            )
        rows.extend((j, int(d)) for d in leave if d + lane.transit_days < horizon)
    table = np.array(rows, dtype=np.int64).reshape(-1, 2)
    j, leave = table[:, 0], table[:, 1]
    lanes = instance.lanes
    capacity = np.array([ln.capacity for ln in lanes] or [0.0], dtype=float)[j]
    unlimited = np.iinfo(np.int64).max // 4
    slot_capacity = np.where(
        np.isfinite(capacity), capacity * instance.departures_per_slot[leave], unlimited
    )
    out = {
        "lane": j,
        "leave": leave,
        "arrive": leave + np.array([ln.transit_days for ln in lanes] or [0], np.int64)[j],
        "origin": np.array([ln.origin for ln in lanes] or [0], np.int64)[j],
        "destination": np.array([ln.destination for ln in lanes] or [0], np.int64)[j],
        "capacity": np.minimum(slot_capacity, unlimited),
        "unit_cost": np.array([lane_unit_cost(instance, i) for i in range(len(lanes))] or [0.0])[j],
        "cost_per_unit": np.array([ln.cost_per_unit for ln in lanes] or [0.0])[j],
    }
    cache[key] = out
    return out


def max_level_ceiling(
    instance: PlanInstance, skus: np.ndarray, days: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Where stock above the max level is penalised, ``[block, L]``: a location fed only over
    lanes (no supplier delivers the SKU there) with a max level; and (for every location,
    ``inf`` without one) per node (``days``: the node days) the stock at the node's end above
    which it is. The max level is held as the days of demand it covers
    (``max_cover_days``), applied to the demand expected from then on, so stock may rise
    ahead of a peak as it would for a time-phased max: at the end of day ``t``, the demand of
    the ``cover - 1`` days after it (the stock just after an arrival, before the day's sales,
    then covers ``cover`` days); or what is there or on its way already (on hand plus
    arrivals so far) when that is more, so only what the plan sends in counts."""
    skus = np.asarray(skus, dtype=np.int64)
    supplied = np.zeros((len(skus), len(instance.locations)), bool)
    for i, s in enumerate(skus.tolist()):
        for o in instance.options_of.get(s, []):
            supplied[i, instance.supply[o].destination] = True
    cover = instance.max_cover_days[skus]
    capped = ~supplied & np.isfinite(cover)
    if not np.isfinite(cover).any():  # the setting is off: nothing to hold to a max level
        return capped, np.full((len(skus), len(instance.locations), len(days)), np.inf)
    there = np.rint(instance.on_hand[skus])[:, :, None] + np.cumsum(
        np.rint(instance.arrivals[skus]), axis=2
    )
    last_day = np.append(days[1:], instance.horizon) - 1  # each node's last day
    demand = instance.demand[skus]
    horizon = instance.horizon
    # demand so far at the start of each day, the days past the horizon at its last week's
    # mean, so that a window may run past it
    tail = demand[:, :, -7:].mean(axis=2, keepdims=True) if horizon else demand[:, :, :0]
    cum = np.concatenate([np.zeros(demand.shape[:2] + (1,)), np.cumsum(demand, axis=2)], axis=2)

    def so_far(at: np.ndarray) -> np.ndarray:  # at: [block, L, P] fractional days
        inside = np.minimum(at, horizon)
        k = np.floor(inside).astype(np.int64)
        frac = inside - k
        lower = np.take_along_axis(cum, np.minimum(k, horizon), axis=2)
        upper = np.take_along_axis(cum, np.minimum(k + 1, horizon), axis=2)
        return lower + frac * (upper - lower) + np.maximum(at - horizon, 0) * tail

    finite = np.where(capped, cover, 1.0)[:, :, None]
    end = np.broadcast_to(
        last_day[None, None, :].astype(float), (len(skus),) + cover.shape[1:] + (len(days),)
    )
    room = so_far(end + np.maximum(finite, 1.0)) - so_far(end + 1.0)
    room = np.where(np.isfinite(cover)[:, :, None], np.floor(room + 1e-9), np.inf)
    return capped, np.maximum(room, there[:, :, last_day])


def node_days(instance: PlanInstance, skus: np.ndarray, weekly: bool) -> np.ndarray:
    """The days that get a node: every day, or with ``weekly`` every day within ``fine_days``
    and until the lanes' departures on the next day have arrived (up to six days), then every
    seventh day, and the arrival days of the block's orders placed within ``fine_days`` and of
    its inbound already due."""
    horizon = instance.horizon
    if not weekly:
        return np.arange(horizon)
    fine = min(instance.settings.fine_days, horizon)
    # daily until what leaves within fine_days or on the first day after them has arrived
    transit = max((ln.transit_days for ln in instance.lanes), default=0)
    days = [np.arange(fine + min(transit, 6) + 1), np.arange(fine, horizon, 7)]
    review = instance.review_day_indices
    early = review[review < fine]
    for s in np.asarray(skus).tolist():
        for o in instance.options_of.get(s, []):
            option = instance.supply[o]
            placed = early if option.pool < 0 else instance.order_day_indices(option)
            days.append(placed[placed < fine] + option.lead_time_days)
    due = np.nonzero(instance.arrivals[skus].sum(axis=(0, 1)) > 0)[0]
    days.append(due)
    out = np.unique(np.concatenate(days).astype(np.int64))
    return out[out < horizon]


def build_arcs(instance: PlanInstance, skus: np.ndarray, weekly: bool = False) -> Arcs:
    """The network of the SKUs ``skus`` (instance indices), one component per SKU; with
    ``weekly``, on fewer nodes after ``fine_days`` (see :func:`node_days`)."""
    skus = np.asarray(skus, dtype=np.int64)
    n, n_loc, horizon = len(skus), len(instance.locations), instance.horizon
    days = node_days(instance, skus, weekly)
    periods = len(days)
    # the node an arrival on day t joins: the first node day on or after t (periods: none)
    joins = np.searchsorted(days, np.arange(horizon + 1), side="left")
    span = np.diff(np.append(days, horizon))  # days each node stands for
    k, loc, p = np.meshgrid(np.arange(n), np.arange(n_loc), np.arange(periods), indexing="ij")
    t = days[p]
    node = 2 + (k * n_loc + loc) * periods + p  # [n, L, P]
    n_nodes = 2 + n * n_loc * periods

    daily_demand = integer_demand(instance.demand[skus])
    demand = np.add.reduceat(daily_demand, days, axis=2) if periods else daily_demand[:, :, :0]
    safety = np.ceil(instance.safety_stock[skus] - 1e-9).astype(np.int64)
    on_hand = np.rint(instance.on_hand[skus]).astype(np.int64)
    arrivals = np.rint(instance.arrivals[skus]).astype(np.int64)
    arrival_period = joins[np.arange(horizon)]
    block_options = [o for s in skus.tolist() for o in instance.options_of.get(s, [])]
    lots = sum(max(instance.supply[o].moq, instance.supply[o].pack_size) for o in block_options)
    # more than any flow can use: all demand, twice the safety stocks, every unit already
    # there and a minimum lot on every review day
    big = int(
        demand.sum()
        + safety.sum() * 2
        + on_hand.sum()
        + arrivals.sum()
        + lots * len(instance.review_day_indices)
        + 1
    )

    parts: list[tuple] = []

    def add(tail, head, cap, cost, exact, kind, sku, ref, day) -> None:
        tail = np.asarray(tail)
        size = tail.size
        if size == 0:
            return

        shape = tail.shape

        def full(x, dtype):
            return np.broadcast_to(np.asarray(x, dtype=dtype), shape).ravel().copy()

        tail = tail.ravel()

        parts.append(
            (
                tail.astype(np.int64),
                full(head, np.int64),
                full(cap, np.int64),
                full(cost, float),
                full(exact, float),
                np.full(size, kind, dtype=np.int8),
                full(sku, np.int64),
                full(ref, np.int64),
                full(day, np.int64),
            )
        )

    # carry: node to the next, the last to the sink; a node's holding is for all its days
    next_node = np.where(p < periods - 1, node + 1, SINK)
    holding = instance.holding_cost[skus][:, :, None] * span[None, None, :]
    # below safety stock never outweighs a lost sale: serving demand always comes first
    penalty = np.minimum(
        instance.safety_penalty[skus], instance.shortage_cost[skus] / (horizon + 1)
    )
    penalty = penalty[:, None, None] * span[None, None, :]
    protected = np.broadcast_to(safety[:, :, None], node.shape) > 0
    add(
        node[protected],
        next_node[protected],
        np.broadcast_to(safety[:, :, None], node.shape)[protected],
        (holding - penalty)[protected],
        (holding - penalty)[protected],
        CARRY_PROTECTED,
        k[protected],
        loc[protected],
        t[protected],
    )
    # above the max level at a location no supplier delivers the SKU to
    capped, ceiling = max_level_ceiling(instance, skus, days)
    if capped.any() and periods:
        below_max = np.where(
            capped[:, :, None], np.clip(ceiling - safety[:, :, None], 0, big), big
        ).astype(np.int64)
        add(node, next_node, below_max, holding, holding, CARRY, k, loc, t)
        over = np.broadcast_to(capped[:, :, None], node.shape)
        add(
            node[over],
            next_node[over],
            big,
            (holding + penalty)[over],
            (holding + penalty)[over],
            CARRY_OVER,
            k[over],
            loc[over],
            t[over],
        )
    else:
        add(node, next_node, big, holding, holding, CARRY, k, loc, t)

    # demand
    served = demand > 0
    shortage = np.broadcast_to(instance.shortage_cost[skus][:, None, None], node.shape)
    add(
        node[served],
        SINK,
        demand[served],
        -shortage[served],
        -shortage[served],
        DEMAND,
        k[served],
        loc[served],
        t[served],
    )

    review = instance.review_day_indices
    # lanes
    within = np.searchsorted(days, np.arange(horizon), side="right") - 1  # a day's node
    lanes = _lane_departures(instance, weekly)
    ok = joins[lanes["arrive"]] < periods
    if ok.any():
        j = lanes["lane"][ok]
        leave, arrive, dest = lanes["leave"][ok], lanes["arrive"][ok], lanes["destination"][ok]
        kk = np.broadcast_to(np.arange(n)[:, None], (n, j.size))
        tail = node[kk, lanes["origin"][ok][None, :], within[leave][None, :]]
        head = node[kk, dest[None, :], joins[arrive][None, :]]
        cap = np.minimum(lanes["capacity"][ok], big).astype(np.int64)[None, :]
        line = instance.transfer_line_cost / np.maximum(instance.lot_size[skus][:, dest], 1.0)
        cost = lanes["unit_cost"][ok][None, :] + line
        add(tail, head, cap, cost, lanes["cost_per_unit"][ok][None, :], LANE, kk, j, leave)

    # supplier orders; a stock pool's from its node, which holds the pool's units
    position = {int(s): i for i, s in enumerate(skus)}
    extra = premiums(instance)
    pool_node: dict[int, int] = {}
    for o in block_options:
        option = instance.supply[o]
        i = position[option.sku]
        days_open = review if option.pool < 0 else instance.order_day_indices(option)
        arrive = np.minimum(days_open + option.lead_time_days, horizon)
        placed = days_open[joins[arrive] < periods]
        if placed.size == 0:
            continue
        tail, cap = SOURCE, big
        if option.pool >= 0:
            pool = instance.pools[option.pool]
            cap = min(int(pool.quantity), big)
            if option.pool not in pool_node:
                pool_node[option.pool] = n_nodes + len(pool_node)
                add(
                    np.array([SOURCE]),
                    pool_node[option.pool],
                    cap,
                    0.0,
                    0.0,
                    STOCK,
                    i,
                    option.pool,
                    pool.first_day,
                )
            tail = pool_node[option.pool]
        head = node[i, option.destination, joins[placed + option.lead_time_days]]
        cost = order_unit_cost(instance, o, extra[o])
        add(
            np.full(placed.size, tail),
            head,
            cap,
            cost,
            extra[o] + option.freight_per_unit,
            ORDER,
            i,
            o,
            placed,
        )

    add(np.array([SOURCE]), SINK, big, 0.0, 0.0, BYPASS, -1, -1, 0)

    supplies = np.zeros(n_nodes + len(pool_node), dtype=np.int64)
    supplies[node[:, :, 0].ravel()] += on_hand.ravel()
    # inbound after the last node day arrives after the horizon's last decision: it is left out
    counted = arrival_period < periods
    ak, al, at_day = np.meshgrid(
        np.arange(n), np.arange(n_loc), np.nonzero(counted)[0], indexing="ij"
    )
    np.add.at(
        supplies,
        node[ak, al, arrival_period[at_day]].ravel(),
        arrivals[ak, al, at_day].ravel(),
    )
    supplies[SOURCE] = big
    supplies[SINK] = -(big + on_hand.sum() + arrivals[:, :, counted].sum())

    columns = [np.concatenate(c) for c in zip(*parts, strict=True)]
    return Arcs(skus, days, *columns, supplies=supplies, demand=daily_demand)


def daily_projection(
    instance: PlanInstance, arcs: Arcs, flows: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Served and end-of-day stock, ``[block, L, H]``, day by day from a block's flows: stock
    on hand, inbound, lane arrivals and order arrivals on the days they come, departures on
    their days, and each node's served units on its days in order, as far as demand goes.

    On nodes of one day this reads the flows as they are. On longer nodes it never serves more
    than the flows did, and stock never falls below zero: a node's units were there on its
    first day (arrivals count from the next node day, never before they come), so its
    departures and its served units are covered on every day it stands for."""
    n, n_loc, horizon = len(arcs.skus), len(instance.locations), instance.horizon
    skus = arcs.skus
    flows = np.rint(flows).astype(np.int64)
    k = np.maximum(arcs.sku, 0)
    inflow = np.rint(instance.arrivals[skus]).astype(np.int64)
    inflow[:, :, 0] += np.rint(instance.on_hand[skus]).astype(np.int64)
    outflow = np.zeros_like(inflow)
    lane = (arcs.kind == LANE) & (flows > 0)
    if lane.any():
        origin = np.array([ln.origin for ln in instance.lanes])[arcs.ref[lane]]
        dest = np.array([ln.destination for ln in instance.lanes])[arcs.ref[lane]]
        transit = np.array([ln.transit_days for ln in instance.lanes])[arcs.ref[lane]]
        np.add.at(outflow, (k[lane], origin, arcs.day[lane]), flows[lane])
        np.add.at(inflow, (k[lane], dest, arcs.day[lane] + transit), flows[lane])
    order = (arcs.kind == ORDER) & (flows > 0)
    if order.any():
        options = [instance.supply[o] for o in arcs.ref[order]]
        dest = np.array([o.destination for o in options], dtype=np.int64)
        lead = np.array([o.lead_time_days for o in options], dtype=np.int64)
        np.add.at(inflow, (k[order], dest, arcs.day[order] + lead), flows[order])
    period_of = np.searchsorted(arcs.days, np.arange(horizon), side="right") - 1
    quota = np.zeros((n, n_loc, len(arcs.days)), np.int64)
    demand_arcs = arcs.kind == DEMAND
    np.add.at(
        quota,
        (k[demand_arcs], arcs.ref[demand_arcs], period_of[arcs.day[demand_arcs]]),
        flows[demand_arcs],
    )
    served = np.zeros((n, n_loc, horizon), np.int64)
    inventory = np.zeros((n, n_loc, horizon), np.int64)
    stock = np.zeros((n, n_loc), np.int64)
    for t in range(horizon):
        stock += inflow[:, :, t] - outflow[:, :, t]
        left = quota[:, :, period_of[t]]
        serve = np.minimum(np.minimum(arcs.demand[:, :, t], left), np.maximum(stock, 0))
        left -= serve
        stock -= serve
        served[:, :, t] = serve
        inventory[:, :, t] = stock
    return served, inventory
