"""The time-expanded network of a plan: one node per SKU x location x day, and arcs for every
way a unit can move, as flat numpy arrays (built per block of SKUs, without a Python loop over
SKUs or days).

For each SKU, a unit of stock at location ``l`` on day ``t`` either
- serves demand that day (``DEMAND`` arc to the sink, capacity the day's expected demand,
  cost minus the shortage cost: each unit served saves it),
- stays to the next day (``CARRY``, cost the holding cost; the first ``safety stock`` units
  ride a parallel ``PROTECTED`` arc whose cost is lower by the safety-stock penalty, so stock
  below the safety stock costs that penalty per unit and day),
- or, on a departure day, leaves on a lane and arrives ``transit_days`` later (``LANE``).
Units enter as stock on hand (day 0), as arrivals already scheduled, or as supplier orders
placed on a review day arriving a lead time later (``ORDER`` arcs from the source). The source
sends what is not ordered straight to the sink (``BYPASS``), and stock left on the last day
goes to the sink over that day's carry arcs, so supplies balance.

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

CARRY_PROTECTED, CARRY, DEMAND, LANE, ORDER, BYPASS = range(6)
ARC_KINDS = ("carry_protected", "carry", "demand", "lane", "order", "bypass")
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
    the supply option of an order arc; ``day`` the day it leaves."""

    skus: np.ndarray
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


def build_arcs(instance: PlanInstance, skus: np.ndarray) -> Arcs:
    """The network of the SKUs ``skus`` (instance indices), one component per SKU."""
    skus = np.asarray(skus, dtype=np.int64)
    n, n_loc, horizon = len(skus), len(instance.locations), instance.horizon
    k, loc, t = np.meshgrid(np.arange(n), np.arange(n_loc), np.arange(horizon), indexing="ij")
    node = 2 + (k * n_loc + loc) * horizon + t  # [n, L, H]
    n_nodes = 2 + n * n_loc * horizon

    demand = integer_demand(instance.demand[skus])
    safety = np.ceil(instance.safety_stock[skus] - 1e-9).astype(np.int64)
    on_hand = np.rint(instance.on_hand[skus]).astype(np.int64)
    arrivals = np.rint(instance.arrivals[skus]).astype(np.int64)
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

    # carry: day t to t + 1, the last day to the sink
    next_node = np.where(t < horizon - 1, node + 1, SINK)
    holding = np.broadcast_to(instance.holding_cost[skus][:, :, None], node.shape)
    # below safety stock never outweighs a lost sale: serving demand always comes first
    penalty = np.minimum(
        instance.safety_penalty[skus], instance.shortage_cost[skus] / (horizon + 1)
    )
    penalty = np.broadcast_to(penalty[:, None, None], node.shape)
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
    departures = instance.departure_day_indices
    slots = instance.departures_per_slot
    # lanes
    for j, lane in enumerate(instance.lanes):
        days = departures[departures + lane.transit_days < horizon]
        if days.size == 0:
            continue
        kk, dd = np.meshgrid(np.arange(n), days, indexing="ij")
        tail = node[kk, lane.origin, dd]
        head = node[kk, lane.destination, dd + lane.transit_days]
        if math.isfinite(lane.capacity):
            cap = np.minimum(lane.capacity * slots[dd], big).astype(np.int64)
        else:
            cap = big
        line = instance.transfer_line_cost / np.maximum(
            instance.lot_size[skus, lane.destination], 1.0
        )
        cost = lane_unit_cost(instance, j) + line[kk]
        add(tail, head, cap, cost, lane.cost_per_unit, LANE, kk, j, dd)

    # supplier orders
    position = {int(s): i for i, s in enumerate(skus)}
    extra = premiums(instance)
    for o in block_options:
        option = instance.supply[o]
        i = position[option.sku]
        days = review[review + option.lead_time_days < horizon]
        if days.size == 0:
            continue
        head = node[i, option.destination, days + option.lead_time_days]
        cost = order_unit_cost(instance, o, extra[o])
        add(
            np.full(days.size, SOURCE),
            head,
            big,
            cost,
            extra[o] + option.freight_per_unit,
            ORDER,
            i,
            o,
            days,
        )

    add(np.array([SOURCE]), SINK, big, 0.0, 0.0, BYPASS, -1, -1, 0)

    supplies = np.zeros(n_nodes, dtype=np.int64)
    supplies[node[:, :, 0].ravel()] += on_hand.ravel()
    np.add.at(supplies, node.ravel(), arrivals.ravel())
    supplies[SOURCE] = big
    supplies[SINK] = -(big + on_hand.sum() + arrivals.sum())

    columns = [np.concatenate(c) for c in zip(*parts, strict=True)]
    return Arcs(skus, *columns, supplies=supplies, demand=demand)
