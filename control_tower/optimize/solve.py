"""Solving a plan instance with OR-Tools, two ways, one network (:mod:`.network`).

- **Decomposed** (the default beyond a few thousand flow variables): SKUs only meet in lane
  and location capacities, the budget and fixed costs shared by a shipment. Without those,
  every SKU is its own min-cost flow problem (``SimpleMinCostFlow``: integral and exact, a few
  milliseconds per SKU), fixed costs shared out per unit. Then each SKU's transfers on a lane
  are merged into fewer lines, and its orders into fewer, whole lots (MOQ, pack size), where
  the line or order cost saved exceeds what the earlier arrival costs. If the sum over SKUs
  breaks a capacity or the budget, the SKUs involved are re-solved: together in the coupled
  model when they are few, otherwise each with its share of every broken capacity (its use
  scaled down to what the capacity holds; it may move to other days, lanes or sources), round
  after round while a capacity breaks. The bound is the flow model without the shared
  limits; the status is optimal within ``relative_gap`` of it. Large plans solve their SKUs
  on a process pool (``optimizer.workers``).
- **Coupled** (small instances, and the repairs above): one MIP over the SKUs (SCIP with a
  time limit and a relative gap; GLOP when nothing is integer) built from sparse arrays:
  flows, a binary per lane and departure day for its fixed cost and capacity shared by every
  SKU, per order line a binary for the order cost and the MOQ and an integer number of packs,
  per transfer line a binary for its handling cost, location capacity per day, the budget.
  Its objective is the plan's total cost as :func:`.readout.cost_breakdown` counts it.
  Location capacity is elastic at a prohibitive price: a solution that still uses the
  elastic slack proves the instance infeasible and names the location and day.
"""

from __future__ import annotations

import enum
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import numpy as np
import scipy.sparse as sp
from ortools.graph.python import min_cost_flow
from ortools.linear_solver.python import model_builder_helper as mbh

from control_tower.optimize.instance import PlanInstance
from control_tower.optimize.network import (
    CARRY,
    CARRY_KINDS,
    DEMAND,
    LANE,
    ORDER,
    Arcs,
    build_arcs,
    daily_projection,
    integer_demand,
    lane_unit_cost,
    max_level_ceiling,
    order_unit_cost,
    premiums,
)

log = logging.getLogger(__name__)

COST_SCALE = 1000  # min-cost flow costs are integers: thousandths of the currency
ELASTIC_PENALTY = 1e7  # per unit above a location's capacity: only when nothing else fits


class SolveStatus(enum.StrEnum):
    OPTIMAL = "optimal"
    FEASIBLE = "feasible"  # a solution within the time limit, with a gap
    INFEASIBLE = "infeasible"
    TIME_LIMIT = "time_limit"  # no solution within the time limit
    ERROR = "error"


@dataclass
class Solution:
    """A plan's decisions and their projection. ``served`` and ``inventory`` (end of day) are
    [S, L, H]; shipments and orders are parallel arrays."""

    status: SolveStatus
    method: str
    served: np.ndarray
    inventory: np.ndarray
    ship_sku: np.ndarray
    ship_lane: np.ndarray
    ship_day: np.ndarray
    ship_qty: np.ndarray
    order_sku: np.ndarray
    order_option: np.ndarray
    order_day: np.ndarray
    order_qty: np.ndarray
    objective: float | None = None
    bound: float | None = None
    message: str = ""
    violations: list[str] = field(default_factory=list)
    build_s: float = 0.0
    solve_s: float = 0.0
    demand: np.ndarray | None = None  # whole units, [S, L, H]

    @property
    def gap(self) -> float | None:
        if self.objective is None or self.bound is None:
            return None
        return abs(self.objective - self.bound) / max(abs(self.objective), 1.0)


Progress = Callable[[int, int, str], None]


def _empty(instance: PlanInstance) -> dict[str, np.ndarray]:
    shape = (len(instance.skus), len(instance.locations), instance.horizon)
    return {"served": np.zeros(shape, np.int64), "inventory": np.zeros(shape, np.int64)}


def _read_flows(
    instance: PlanInstance,
    arcs: Arcs,
    flows: np.ndarray,
    out: dict,
    rows: np.ndarray | None = None,
) -> None:
    """Add a block's flows to the plan arrays in ``out``. ``served`` and ``inventory`` have a
    row per instance SKU, or, with ``rows`` (sorted instance SKU indices), a row per entry of
    ``rows`` (a worker keeps only its SKUs' rows)."""
    raw = np.asarray(flows, dtype=float)
    flows = np.rint(raw).astype(np.int64)
    sku = arcs.skus[np.maximum(arcs.sku, 0)]
    row = sku if rows is None else np.searchsorted(rows, sku)
    if len(arcs.days) < instance.horizon:  # nodes of several days: rebuilt day by day
        block_rows = arcs.skus if rows is None else np.searchsorted(rows, arcs.skus)
        served, inventory = daily_projection(instance, arcs, flows)
        out["served"][block_rows] = served
        out["inventory"][block_rows] = inventory
    else:
        demand = arcs.kind == DEMAND
        out["served"][row[demand], arcs.ref[demand], arcs.day[demand]] = flows[demand]
        # a node's stock is the sum of its two carry arcs, rounded once: a MIP may split a
        # whole number of units between them in halves (2.5 + 4.5 = 7, not 2 + 4)
        carry = np.isin(arcs.kind, CARRY_KINDS)
        _, n_loc, horizon = out["inventory"].shape
        keys = (row[carry] * n_loc + arcs.ref[carry]) * horizon + arcs.day[carry]
        unique, inverse = np.unique(keys, return_inverse=True)
        stock = np.rint(np.bincount(inverse, weights=raw[carry])).astype(np.int64)
        r, rest = np.divmod(unique, n_loc * horizon)
        loc, day = np.divmod(rest, horizon)
        np.add.at(out["inventory"], (r, loc, day), stock)
    for kind, prefix, ref in ((LANE, "ship", "lane"), (ORDER, "order", "option")):
        used = (arcs.kind == kind) & (flows > 0)
        out.setdefault(f"{prefix}_sku", []).append(sku[used])
        out.setdefault(f"{prefix}_{ref}", []).append(arcs.ref[used])
        out.setdefault(f"{prefix}_day", []).append(arcs.day[used])
        out.setdefault(f"{prefix}_qty", []).append(flows[used])


def _served_by_balance(instance: PlanInstance, skus: np.ndarray, out: dict) -> None:
    """Served units of ``skus`` as what each day's stock, inbound and arrivals leave after
    departures and the day's closing stock. A MIP stopped within its gap may leave the
    continuous flows fractional (7.5 served, 6.5 kept); lanes and orders are whole, the
    closing stock is rounded once per node, and this makes every day balance in whole units
    (never below zero, never above demand: it moves each figure by less than one unit)."""
    skus = np.asarray(skus)
    inflow = np.rint(instance.arrivals[skus]).astype(np.int64)
    inflow[:, :, 0] += np.rint(instance.on_hand[skus]).astype(np.int64)
    outflow = np.zeros_like(inflow)
    row = np.full(len(instance.skus), -1)
    row[skus] = np.arange(len(skus))

    def column(name: str) -> np.ndarray:
        return np.concatenate(out.get(name, [np.zeros(0, np.int64)])).astype(np.int64)

    sku, lane, day, qty = (column(f"ship_{k}") for k in ("sku", "lane", "day", "qty"))
    mine = row[sku] >= 0
    lanes = instance.lanes
    origin = np.array([ln.origin for ln in lanes], np.int64)[lane[mine]]
    dest = np.array([ln.destination for ln in lanes], np.int64)[lane[mine]]
    transit = np.array([ln.transit_days for ln in lanes], np.int64)[lane[mine]]
    np.add.at(outflow, (row[sku[mine]], origin, day[mine]), qty[mine])
    np.add.at(inflow, (row[sku[mine]], dest, day[mine] + transit), qty[mine])
    sku, option, day, qty = (column(f"order_{k}") for k in ("sku", "option", "day", "qty"))
    mine = row[sku] >= 0
    supply = instance.supply
    dest = np.array([o.destination for o in supply], np.int64)[option[mine]]
    lead = np.array([o.lead_time_days for o in supply], np.int64)[option[mine]]
    np.add.at(inflow, (row[sku[mine]], dest, day[mine] + lead), qty[mine])
    closing = out["inventory"][skus]
    opening = np.concatenate([np.zeros_like(closing[:, :, :1]), closing[:, :, :-1]], axis=2)
    out["served"][skus] = opening + inflow - outflow - closing


def _finish(instance: PlanInstance, out: dict, **kwargs) -> Solution:
    cols = {}
    for name in SOLUTION_ARRAYS:
        parts = out.get(name, [])
        cols[name] = np.concatenate(parts).astype(np.int64) if parts else np.zeros(0, np.int64)
    return Solution(
        served=out["served"],
        inventory=out["inventory"],
        demand=integer_demand(instance.demand),
        **cols,
        **kwargs,
    )


# -- decomposed ----------------------------------------------------------------------------------
SHARE_ROUNDS = 12


@dataclass
class Pricing:
    """What re-solving an SKU adds to its own flow problem: prices on shared capacities
    (added to arc costs; zero unless set) and its share of them (``-1``: no cap)."""

    lane: np.ndarray  # [lanes, H] per unit leaving on that departure
    storage: np.ndarray  # [L, H] per unit stored at the end of that day
    budget: float = 0.0  # per unit of purchase value
    lane_cap: dict[int, np.ndarray] = field(default_factory=dict)  # sku -> [lanes, H]
    storage_cap: dict[int, np.ndarray] = field(default_factory=dict)  # sku -> [L, H]
    order_cap: dict[int, dict[tuple[int, int], int]] = field(default_factory=dict)

    @classmethod
    def zeros(cls, instance: PlanInstance) -> Pricing:
        return cls(
            lane=np.zeros((len(instance.lanes), instance.horizon)),
            storage=np.zeros((len(instance.locations), instance.horizon)),
        )


def solve_flow_block(
    instance: PlanInstance,
    skus: np.ndarray,
    pricing: Pricing | None = None,
    timing: dict[str, float] | None = None,
) -> tuple[Arcs, np.ndarray]:
    """One block of SKUs as one min-cost flow (its SKUs are separate components).
    ``timing`` accumulates the seconds spent building the model and solving it."""
    tick = time.perf_counter()
    arcs = build_arcs(instance, skus, weekly=instance.settings.weekly_nodes)
    if pricing is not None:
        arcs = _priced(instance, arcs, pricing)
    built = time.perf_counter()
    solver = min_cost_flow.SimpleMinCostFlow()
    cost = np.rint(arcs.cost * COST_SCALE).astype(np.int64)
    index = solver.add_arcs_with_capacity_and_unit_cost(arcs.tail, arcs.head, arcs.capacity, cost)
    solver.set_nodes_supplies(np.arange(arcs.n_nodes), arcs.supplies)
    status = solver.solve()
    if status != solver.OPTIMAL:  # cannot happen: bypass and terminal arcs keep it feasible
        raise RuntimeError(f"min-cost flow returned {status} on a block of {len(skus)} SKUs")
    flows = np.asarray(solver.flows(index))
    if timing is not None:
        timing["build_s"] = timing.get("build_s", 0.0) + built - tick
        timing["solve_s"] = timing.get("solve_s", 0.0) + time.perf_counter() - built
    return arcs, flows


def _priced(instance: PlanInstance, arcs: Arcs, pricing: Pricing) -> Arcs:
    """The arcs with capacity prices added and SKU caps applied; capped storage gets an
    elastic overflow arc at the prohibitive price, so the flow stays feasible and any use of
    it shows the capacity cannot be met."""
    cost, capacity = arcs.cost.copy(), arcs.capacity.copy()
    lane = arcs.kind == LANE
    cost[lane] += pricing.lane[arcs.ref[lane], arcs.day[lane]]
    carry = np.isin(arcs.kind, CARRY_KINDS)
    # a node stands for the days from its day to the next node's: storage prices add up over
    # them, storage caps hold on each of them
    period = np.searchsorted(arcs.days, arcs.day)
    cost[carry] += np.add.reduceat(pricing.storage, arcs.days, axis=1)[
        arcs.ref[carry], period[carry]
    ]
    order = arcs.kind == ORDER
    if pricing.budget and order.any():
        prices = np.array([o.price for o in instance.supply])
        cost[order] += pricing.budget * prices[arcs.ref[order]]
    sku = arcs.skus[np.maximum(arcs.sku, 0)]
    extra = []
    block = set(arcs.skus.tolist())  # only this block's SKUs' caps matter here
    for g in block & pricing.lane_cap.keys():
        caps = pricing.lane_cap[g]
        idx = np.nonzero(lane & (sku == g))[0]
        cap = caps[arcs.ref[idx], arcs.day[idx]]
        limited = cap >= 0
        capacity[idx[limited]] = np.minimum(capacity[idx[limited]], cap[limited])
    for g in block & pricing.storage_cap.keys():
        daily = pricing.storage_cap[g]
        unlimited = np.iinfo(np.int64).max
        caps = np.minimum.reduceat(np.where(daily < 0, unlimited, daily), arcs.days, axis=1)
        caps[caps == unlimited] = -1
        taken = np.zeros_like(caps)  # what the node's earlier parallel carry arcs may hold
        for kind in CARRY_KINDS:
            idx = np.nonzero((arcs.kind == kind) & (sku == g))[0]
            cap = caps[arcs.ref[idx], period[idx]]
            limited = cap >= 0
            rest = np.maximum(cap - taken[arcs.ref[idx], period[idx]], 0)
            capacity[idx[limited]] = np.minimum(capacity[idx[limited]], rest[limited])
            taken[arcs.ref[idx], period[idx]] += capacity[idx]
            if kind == CARRY:
                extra.append(idx[limited])
    for g in block & pricing.order_cap.keys():
        caps = pricing.order_cap[g]
        idx = np.nonzero(order & (sku == g))[0]
        for a in idx:
            capacity[a] = min(capacity[a], caps.get((int(arcs.ref[a]), int(arcs.day[a])), 0))
    arcs = replace(arcs, cost=cost, capacity=capacity)
    if extra:
        over = np.concatenate(extra)
        big = int(arcs.capacity.max())
        arcs = replace(
            arcs,
            tail=np.concatenate([arcs.tail, arcs.tail[over]]),
            head=np.concatenate([arcs.head, arcs.head[over]]),
            capacity=np.concatenate([arcs.capacity, np.full(over.size, big)]),
            cost=np.concatenate([arcs.cost, np.full(over.size, ELASTIC_PENALTY)]),
            exact_cost=np.concatenate([arcs.exact_cost, np.full(over.size, ELASTIC_PENALTY)]),
            kind=np.concatenate([arcs.kind, arcs.kind[over]]),
            sku=np.concatenate([arcs.sku, arcs.sku[over]]),
            ref=np.concatenate([arcs.ref, arcs.ref[over]]),
            day=np.concatenate([arcs.day, arcs.day[over]]),
        )
    return arcs


PARALLEL_MIN_SKUS = 400  # below this, starting processes costs more than it saves
_WORKER_INSTANCE: PlanInstance | None = None


def _init_worker(instance: PlanInstance) -> None:
    global _WORKER_INSTANCE
    _WORKER_INSTANCE = instance


def _solve_part(skus: np.ndarray, pricing: Pricing | None) -> dict:
    """In a worker: solve ``skus`` (sorted) one block at a time; their rows of the plan
    arrays, and their lines."""
    instance = _WORKER_INSTANCE
    shape = (len(skus), len(instance.locations), instance.horizon)
    out = {"served": np.zeros(shape, np.int64), "inventory": np.zeros(shape, np.int64)}
    chunk = instance.settings.chunk_skus
    timing: dict[str, float] = {}
    for first in range(0, len(skus), chunk):
        arcs, flows = solve_flow_block(instance, skus[first : first + chunk], pricing, timing)
        _read_flows(instance, arcs, flows, out, rows=skus)
    out["timing"] = timing
    return out


def _pricing_for(pricing: Pricing | None, skus: np.ndarray) -> Pricing | None:
    """The part of ``pricing`` a worker solving ``skus`` needs: the prices, and those SKUs'
    caps only (all SKUs' caps would be pickled to every task)."""
    if pricing is None:
        return None
    mine = set(np.asarray(skus).tolist())
    return replace(
        pricing,
        lane_cap={g: c for g, c in pricing.lane_cap.items() if g in mine},
        storage_cap={g: c for g, c in pricing.storage_cap.items() if g in mine},
        order_cap={g: c for g, c in pricing.order_cap.items() if g in mine},
    )


def _open_pool(instance: PlanInstance, n_skus: int):
    """A process pool holding the instance, when the plan is large enough to gain."""
    workers = instance.settings.workers
    if workers < 2 or n_skus < PARALLEL_MIN_SKUS:
        return None
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    return ProcessPoolExecutor(
        max_workers=workers,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=_init_worker,
        initargs=(instance,),
    )


def _solve_blocks(
    instance: PlanInstance,
    skus: np.ndarray,
    out: dict,
    pricing: Pricing | None = None,
    progress: Progress | None = None,
    pool=None,
) -> None:
    n = len(skus)
    timing = out.setdefault("timing", {})
    if pool is not None and n >= PARALLEL_MIN_SKUS:
        parts = np.array_split(np.sort(np.asarray(skus)), max(8, 4 * instance.settings.workers))
        futures = [
            (part, pool.submit(_solve_part, part, _pricing_for(pricing, part)))
            for part in parts
            if len(part)
        ]
        done = 0
        for part, future in futures:
            result = future.result()
            out["served"][part] = result["served"]
            out["inventory"][part] = result["inventory"]
            for key, value in result.items():
                if key in ("served", "inventory"):
                    continue
                if key == "timing":
                    for k, v in value.items():
                        timing[k] = timing.get(k, 0.0) + v
                else:
                    out.setdefault(key, []).extend(value)
            done += len(part)
            if progress:
                progress(done, n, "solve")
        return
    chunk = instance.settings.chunk_skus
    for first in range(0, n, chunk):
        block = skus[first : first + chunk]
        arcs, flows = solve_flow_block(instance, block, pricing, timing)
        _read_flows(instance, arcs, flows, out)
        if progress:
            progress(min(first + chunk, n), n, "solve")


def solve_decomposed(instance: PlanInstance, progress: Progress | None = None) -> Solution:
    """Every SKU apart; where their sum breaks a lane or location capacity or the budget,
    prices on those capacities and, failing that, a share of them per SKU (see the module
    docstring); then lots made whole. The status is optimal when the plan's cost (as the flow
    model counts it) is within ``relative_gap`` of the bound the unconstrained solve gives."""
    pool = _open_pool(instance, len(instance.skus))
    try:
        return _solve_decomposed(instance, progress, pool)
    finally:
        if pool is not None:
            pool.shutdown()


def _solve_decomposed(instance: PlanInstance, progress: Progress | None, pool) -> Solution:
    started = time.perf_counter()
    out = _empty(instance)
    everyone = np.arange(len(instance.skus))
    _solve_blocks(instance, everyone, out, progress=progress, pool=pool)
    solution = _finish(
        instance,
        out,
        status=SolveStatus.OPTIMAL,
        method="min-cost flow per SKU (fixed costs shared per unit)",
    )
    bound = flow_objective(instance, solution)
    final = _with_lots(instance, solution)
    problems, involved = coupling_violations(instance, final)
    notes = []
    if problems and _arc_estimate(instance, len(involved)) <= instance.settings.coupled_max_arcs:
        repaired = _repair_coupled(instance, final, involved, problems)
        repaired.solve_s = time.perf_counter() - started
        return repaired
    if problems:
        first = problems[:]
        allocated: set[int] = set()
        for _ in range(ALLOCATION_ROUNDS):
            solution, final, users = _allocate(instance, solution, final, pool)
            allocated |= users
            problems, involved = coupling_violations(instance, final)
            if not users or not problems:  # nothing left that allocating can repair
                break
        shared: set[int] = set()
        if problems:
            solution, final, shared = _share_capacities(instance, solution, final, involved, pool)
        steps = []
        if allocated:
            steps.append(
                f"{len(allocated)} SKUs re-planned one after another, the costliest to run out "
                "first, each within the lane and location capacity the others left"
            )
        if shared:
            steps.append(
                f"{len(shared)} SKUs re-planned with their shares of "
                + ("what still broke" if allocated else "them")
            )
        notes.append(
            f"the SKUs planned apart broke {len(first)} shared limits "
            f"({'; '.join(first[:2])}); " + "; ".join(steps)
        )
    # the gap is the flow model's (fixed costs shared per unit): the priced flows against the
    # flows without shared limits; merging lines and whole lots come after, as a heuristic
    objective = flow_objective(instance, solution)
    solution = final
    solution.method += "; lines merged and lots made whole (MOQ, pack size) where cheaper"
    remaining, _ = coupling_violations(instance, solution)
    solution.objective, solution.bound = objective, bound
    if remaining:  # not proven infeasible: the repair ran out of rounds
        solution.status = SolveStatus.TIME_LIMIT
        solution.violations = remaining
        notes.append(
            f"no plan within the shared limits after {SHARE_ROUNDS} rounds of re-planning the "
            "SKUs involved; still broken: " + "; ".join(remaining[:3])
        )
    elif (solution.gap or 0.0) > instance.settings.relative_gap:
        solution.status = SolveStatus.FEASIBLE
    solution.message = ". ".join(notes)
    solution.build_s = out.get("timing", {}).get("build_s", 0.0)
    solution.solve_s = time.perf_counter() - started - solution.build_s
    return solution


def _with_lots(
    instance: PlanInstance, solution: Solution, pricing: Pricing | None = None
) -> Solution:
    """A copy of the flows' plan with its supplier lots made whole."""
    final = _subset(solution, np.arange(len(instance.skus)))
    final.status, final.method = solution.status, solution.method
    storage = pricing.storage if pricing is not None else None
    consolidate_transfers(instance, final, storage)
    apply_lot_rules(instance, final, storage)
    return final


ALLOCATION_ROUNDS = 3


def _lane_room(instance: PlanInstance) -> np.ndarray:
    """Per lane and departure day the units it can carry (``-1``: no limit)."""
    caps = np.array([ln.capacity for ln in instance.lanes] or [math.inf])[: len(instance.lanes)]
    room = caps[:, None] * instance.departures_per_slot[None, :]
    return np.where(np.isfinite(room), np.floor(room), -1).astype(np.int64)


def _lane_load(instance: PlanInstance, solution: Solution, keep: np.ndarray) -> np.ndarray:
    """Units leaving per lane and day in ``solution``'s transfers of the SKUs where ``keep``."""
    load = np.zeros((len(instance.lanes), instance.horizon), np.int64)
    mine = keep[solution.ship_sku]
    np.add.at(load, (solution.ship_lane[mine], solution.ship_day[mine]), solution.ship_qty[mine])
    return load


def _allocate(
    instance: PlanInstance, solution: Solution, final: Solution, pool=None
) -> tuple[Solution, Solution, set[int]]:
    """Re-plan the SKUs on lane departures and at locations the plan overloads, one after
    another (the highest shortage cost first), each within what the others leave: every
    lane's room, and the room of each overloaded location on every day. Each SKU may move to
    other days, lanes or sources. With a process pool, each worker takes every n-th SKU of
    that order and a share of every room in proportion to its SKUs' use of it in the plan
    before. Lanes and locations on daily nodes hold by construction (lines are merged
    afterwards only where there is room); a location's days on longer nodes may still
    overflow (see :func:`.network.daily_projection`). Returns the flows, the plan with whole
    lots, and the SKUs re-planned."""
    n_sku = len(instance.skus)
    room = _lane_room(instance)
    load = _lane_load(instance, final, np.ones(n_sku, bool))
    broken = (room >= 0) & (load > room)
    stored = final.inventory.sum(axis=0)
    capacity = instance.location_capacity
    full = np.isfinite(capacity) & (stored > capacity[:, None]).any(axis=1)
    if not broken.any() and not full.any():
        return solution, final, set()
    is_user = np.zeros(n_sku, bool)
    is_user[final.ship_sku[broken[final.ship_lane, final.ship_day]]] = True
    is_user |= (final.inventory[:, full, :] > 0).any(axis=(1, 2))
    users = np.nonzero(is_user)[0]
    lane_left = np.where(room >= 0, np.maximum(room - _lane_load(instance, final, ~is_user), 0), -1)
    others = final.inventory[~is_user].sum(axis=0)
    site_left = np.full(stored.shape, -1, np.int64)
    site_left[full] = np.maximum(np.floor(capacity[full, None]) - others[full], 0)
    # room kept for whole lots: a minimum lot per order line an SKU had at a full location
    lots: dict[int, np.ndarray] = {}
    for g, o in zip(final.order_sku.tolist(), final.order_option.tolist(), strict=True):
        option = instance.supply[o]
        if is_user[g] and full[option.destination]:
            lot = lots.setdefault(g, np.zeros(len(capacity), np.int64))
            lot[option.destination] += max(option.moq, option.pack_size)
    order = users[np.argsort(-instance.shortage_cost[users], kind="stable")]
    workers = instance.settings.workers if pool is not None else 1
    parts = [part for part in (order[w::workers] for w in range(workers)) if part.size]

    def split(left: np.ndarray, uses: list[np.ndarray]) -> list[np.ndarray]:
        total = np.sum(uses, axis=0)
        out = []
        for use in uses:
            weight = np.where(total > 0, use / np.maximum(total, 1), 1.0 / len(uses))
            out.append(np.where(left >= 0, np.floor(left * weight), -1).astype(np.int64))
        return out

    lane_uses, site_uses = [], []
    for part in parts:
        keep = np.zeros(n_sku, bool)
        keep[part] = True
        lane_uses.append(_lane_load(instance, final, keep))
        site_uses.append(final.inventory[part].sum(axis=0))
    rooms = list(zip(split(lane_left, lane_uses), split(site_left, site_uses), strict=True))
    log.debug(
        "allocating: %d SKUs on %d overloaded departures and %d full locations",
        users.size,
        broken.sum(),
        full.sum(),
    )
    out = _empty(instance)
    if pool is not None and len(parts) > 1:
        futures = [
            (part, pool.submit(_allocate_part, part, lanes, sites, _mine(lots, part)))
            for part, (lanes, sites) in zip(parts, rooms, strict=True)
        ]
        results = [(part, future.result()) for part, future in futures]
    else:
        results = [
            (part, _allocate_part(part, lanes, sites, _mine(lots, part), instance))
            for part, (lanes, sites) in zip(parts, rooms, strict=True)
        ]
    for part, result in results:
        rows = np.sort(part)
        out["served"][rows] = result["served"]
        out["inventory"][rows] = result["inventory"]
        for key, value in result.items():
            if key not in ("served", "inventory", "timing"):
                out.setdefault(key, []).extend(value)
    again = _finish(instance, out, status=solution.status, method=solution.method)
    rest = _subset(solution, np.nonzero(~is_user)[0])
    rest.served[users] = again.served[users]
    rest.inventory[users] = again.inventory[users]
    for name in SOLUTION_ARRAYS:
        setattr(rest, name, np.concatenate([getattr(rest, name), getattr(again, name)]))
    return rest, _with_lots(instance, rest), set(users.tolist())


def _mine(by_sku: dict[int, np.ndarray], skus: np.ndarray) -> dict[int, np.ndarray]:
    return {g: by_sku[g] for g in skus.tolist() if g in by_sku}


def _allocate_part(
    order: np.ndarray,
    lane_room: np.ndarray,
    site_room: np.ndarray,
    lots: dict[int, np.ndarray],
    instance: PlanInstance | None = None,
) -> dict:
    """In a worker (or in process with ``instance``): solve the SKUs of ``order`` one after
    another, each capped by what ``lane_room`` and ``site_room`` (``-1``: no cap) have left
    less the room its lots may need to be made whole (``lots``: per SKU, per location), and
    take its departures, its stock and that room off them."""
    instance = instance if instance is not None else _WORKER_INSTANCE
    rows = np.sort(order)
    shape = (len(rows), len(instance.locations), instance.horizon)
    out = {"served": np.zeros(shape, np.int64), "inventory": np.zeros(shape, np.int64)}
    lane_room, site_room = lane_room.copy(), site_room.copy()
    sites = site_room >= 0
    pricing = Pricing.zeros(instance)
    no_lots = np.zeros(site_room.shape[0], np.int64)
    for g in order.tolist():
        lot = lots.get(g, no_lots)[:, None]
        pricing.lane_cap = {g: lane_room}
        if sites.any():
            pricing.storage_cap = {g: np.where(sites, np.maximum(site_room - lot, 0), -1)}
        arcs, flows = solve_flow_block(instance, np.array([g]), pricing)
        used = (arcs.kind == LANE) & (flows > 0)
        limited = lane_room[arcs.ref[used], arcs.day[used]] >= 0
        np.subtract.at(
            lane_room,
            (arcs.ref[used][limited], arcs.day[used][limited]),
            np.rint(flows[used][limited]).astype(np.int64),
        )
        _read_flows(instance, arcs, flows, out, rows=rows)
        if sites.any():
            held = out["inventory"][np.searchsorted(rows, g)]
            taken = held + lot
            site_room[sites] = np.maximum(site_room[sites] - taken[sites], 0)
    return out


def _share_capacities(
    instance: PlanInstance, solution: Solution, final: Solution, involved: set[int], pool=None
) -> tuple[Solution, Solution, set[int]]:
    """Give each SKU using a broken capacity its share of it (its use scaled down to what the
    capacity holds) and re-solve those SKUs, which may move to other days, lanes or sources;
    repeat while a capacity breaks (shares never grow, so a capacity once shared holds), up to
    ``SHARE_ROUNDS``. Returns the flows, the plan with whole lots, and every SKU re-solved."""
    pricing = Pricing.zeros(instance)
    users = set(involved)
    for round_no in range(SHARE_ROUNDS):
        _share_broken(instance, final, pricing)
        log.debug("share round %d: re-solving %d SKUs", round_no, len(users))
        solution = _resolve(instance, solution, users, pricing, pool)
        final = _with_lots(instance, solution, pricing)
        problems, users = coupling_violations(instance, final)
        if not problems:
            break
        involved |= users
    return solution, final, involved


def _share_broken(instance: PlanInstance, final: Solution, pricing: Pricing) -> None:
    """Caps for each SKU on each capacity ``final`` breaks: lane departures, location-days and
    the budget."""
    n_lanes, horizon, n_loc = len(instance.lanes), instance.horizon, len(instance.locations)
    load = _lane_load(instance, final, np.ones(len(instance.skus), bool))
    room = _lane_room(instance)
    broken = (room >= 0) & (load > room)
    if broken.any():
        ratio = np.where(broken, room / np.maximum(load, 1), 1.0)
        hit = broken[final.ship_lane, final.ship_day]
        for g, j, d, q in zip(
            final.ship_sku[hit],
            final.ship_lane[hit],
            final.ship_day[hit],
            final.ship_qty[hit],
            strict=True,
        ):
            cap = pricing.lane_cap.setdefault(int(g), np.full((n_lanes, horizon), -1, np.int64))
            share = math.floor(q * ratio[j, d])
            cap[j, d] = share if cap[j, d] < 0 else min(cap[j, d], share)
    stored = final.inventory.sum(axis=0)
    room = instance.location_capacity[:, None]
    over = stored > room
    if over.any():
        # leave room for the lots to be made whole again: one minimum lot per order line
        # delivering there
        reserve = np.zeros(n_loc)
        for o in final.order_option:
            option = instance.supply[o]
            reserve[option.destination] += max(option.moq, option.pack_size)
        target = np.maximum(room - reserve[:, None], 0.0)
        ratio = np.where(over, target / np.maximum(stored, 1), 1.0)
        # and make the full location dearer to store in on every day (doubling each round), so
        # stock capped on one day does not move to the next
        positive = instance.holding_cost[instance.holding_cost > 0]
        base = float(np.median(positive)) if positive.size else 1e-3
        for j in np.nonzero(over.any(axis=1))[0]:
            pricing.storage[j, :] = max(float(pricing.storage[j, 0]) * 2.0, base)
        for g in np.nonzero((final.inventory * over[None]).sum(axis=(1, 2)) > 0)[0].tolist():
            cap = pricing.storage_cap.setdefault(g, np.full((n_loc, horizon), -1, np.int64))
            share = np.floor(final.inventory[g] * ratio).astype(np.int64)
            cap[:] = np.where(over, np.where(cap < 0, share, np.minimum(cap, share)), cap)
    if instance.budget is not None:
        spent = _spend(instance, final)
        if spent > instance.budget:
            share = instance.budget / spent
            for g, o, d, q in zip(
                final.order_sku, final.order_option, final.order_day, final.order_qty, strict=True
            ):
                caps_g = pricing.order_cap.setdefault(int(g), {})
                caps_g[(int(o), int(d))] = math.floor(q * share)


def _spend(instance: PlanInstance, solution: Solution) -> float:
    prices = np.array([instance.supply[o].price for o in solution.order_option], dtype=float)
    return float((prices * solution.order_qty).sum()) if prices.size else 0.0


def _resolve(
    instance: PlanInstance, solution: Solution, involved: set[int], pricing: Pricing, pool=None
) -> Solution:
    """``solution`` with the SKUs ``involved`` solved again under ``pricing``."""
    skus = np.array(sorted(involved), dtype=np.int64)
    rest = _subset(solution, np.setdiff1d(np.arange(len(instance.skus)), skus))
    out = _empty(instance)
    _solve_blocks(instance, skus, out, pricing, pool=pool)
    again = _finish(instance, out, status=solution.status, method=solution.method)
    rest.served[skus] = again.served[skus]
    rest.inventory[skus] = again.inventory[skus]
    for name in SOLUTION_ARRAYS:
        setattr(rest, name, np.concatenate([getattr(rest, name), getattr(again, name)]))
    return rest


def flow_objective(instance: PlanInstance, solution: Solution) -> float:
    """The plan's cost as the flow model counts it (fixed costs shared per unit): demand not
    served, below safety stock, above the max level where it counts, holding, lanes and
    orders."""
    short = (solution.demand - solution.served).sum(axis=(1, 2))
    total = float((short * instance.shortage_cost).sum())
    total += float((solution.inventory * instance.holding_cost[:, :, None]).sum())
    penalty = np.minimum(instance.safety_penalty, instance.shortage_cost / (instance.horizon + 1))
    below = np.maximum(np.ceil(instance.safety_stock - 1e-9)[:, :, None] - solution.inventory, 0)
    total += float((below.sum(axis=(1, 2)) * penalty).sum())
    everyone = np.arange(len(instance.skus))
    capped, ceiling = max_level_ceiling(instance, everyone, np.arange(instance.horizon))
    above = np.where(capped[:, :, None], np.maximum(solution.inventory - ceiling, 0), 0.0)
    total += float((above.sum(axis=(1, 2)) * penalty).sum())
    if solution.ship_qty.size:
        lane_cost = np.array([lane_unit_cost(instance, j) for j in range(len(instance.lanes))])
        dest = np.array([ln.destination for ln in instance.lanes])[solution.ship_lane]
        line = instance.transfer_line_cost / np.maximum(
            instance.lot_size[solution.ship_sku, dest], 1.0
        )
        total += float((solution.ship_qty * (lane_cost[solution.ship_lane] + line)).sum())
    if solution.order_qty.size:
        extra = premiums(instance)
        unit = np.array(
            [order_unit_cost(instance, o, extra[o]) for o in range(len(instance.supply))]
        )
        total += float((solution.order_qty * unit[solution.order_option]).sum())
    return total


SOLUTION_ARRAYS = (
    "ship_sku",
    "ship_lane",
    "ship_day",
    "ship_qty",
    "order_sku",
    "order_option",
    "order_day",
    "order_qty",
)


def apply_lot_rules(
    instance: PlanInstance, solution: Solution, storage_price: np.ndarray | None = None
) -> None:
    """Merge each SKU's orders to one supplier forward while the order cost saved exceeds the
    holding cost (and any price on the destination's storage) of the earlier arrival and the
    destination has room for it, then round every
    order up to its pack size and MOQ. Stock only ever arrives earlier or in larger amounts,
    so nothing planned to be served goes short; the projected inventory takes the
    difference."""
    if solution.order_qty.size == 0:
        return
    stored = solution.inventory.sum(axis=0).astype(float)  # [L, H]
    keep_sku, keep_opt, keep_day, keep_qty = [], [], [], []
    order = np.lexsort((solution.order_day, solution.order_option, solution.order_sku))
    groups: dict[tuple[int, int], list[tuple[int, int]]] = {}
    for i in order:
        key = (int(solution.order_sku[i]), int(solution.order_option[i]))
        groups.setdefault(key, []).append((int(solution.order_day[i]), int(solution.order_qty[i])))
    # merging keeps room for the lines still to be made whole: a minimum lot per SKU and
    # supplier option at each destination, until that SKU's lines there are rounded
    reserve = np.zeros(len(instance.locations))
    for _s, o in groups:
        reserve[instance.supply[o].destination] += max(
            instance.supply[o].moq, instance.supply[o].pack_size
        )
    for (s, o), lines in groups.items():
        option = instance.supply[o]
        holding = instance.holding_cost[s, option.destination]
        room = instance.location_capacity[option.destination]
        minimum = max(option.moq, option.pack_size)
        merged: list[list[int]] = []
        for day, qty in lines:
            if merged:
                first_day, first_qty = merged[-1]
                window = stored[
                    option.destination,
                    first_day + option.lead_time_days : day + option.lead_time_days,
                ]
                fits = window.size == 0 or window.max() + qty + reserve[option.destination] <= room
                days = slice(first_day + option.lead_time_days, day + option.lead_time_days)
                price = (
                    storage_price[option.destination, days].sum()
                    if storage_price is not None
                    else 0.0
                )
                worth = qty * (holding * (day - first_day) + price) < instance.order_cost
                if fits and (worth or first_qty < minimum):
                    merged[-1][1] += qty
                    _shift(solution, stored, s, option, first_day, day, qty)
                    continue
            merged.append([day, qty])
        reserve[option.destination] -= minimum
        for day, qty in merged:
            whole = max(math.ceil(qty / option.pack_size) * option.pack_size, option.moq)
            arrive = day + option.lead_time_days
            if whole > qty and stored[option.destination, arrive:].max() + whole - qty > room:
                down = math.floor(qty / option.pack_size) * option.pack_size
                spare = solution.inventory[s, option.destination, arrive:].min()
                if down >= max(option.moq, 1) and qty - down <= spare:
                    whole = down  # no room to round up: round down, from stock not needed
                elif qty <= spare:
                    whole = 0  # no room for a whole lot, and the plan can do without it
            if whole != qty:
                _shift(solution, stored, s, option, day, instance.horizon, whole - qty)
            if whole == 0:
                continue
            keep_sku.append(s)
            keep_opt.append(o)
            keep_day.append(day)
            keep_qty.append(whole)
    solution.order_sku = np.array(keep_sku, np.int64)
    solution.order_option = np.array(keep_opt, np.int64)
    solution.order_day = np.array(keep_day, np.int64)
    solution.order_qty = np.array(keep_qty, np.int64)


def consolidate_transfers(
    instance: PlanInstance, solution: Solution, storage_price: np.ndarray | None = None
) -> None:
    """Ship each SKU's transfers on one lane in fewer, larger lines: a line joins the one
    before it (leaving on that earlier day) when the line cost saved exceeds what leaving
    earlier costs (holding, storage prices, time below safety stock at the origin less that
    at the destination), the origin holds the units on the days in between, the lane's
    departure has room and the destination has space, and the destination's stock stays
    within its max level (the policy's ROP + EOQ) even just after the arrival: a line ships
    what brings stock up to the max, never a month's worth ahead of need, as a planner
    sizing transfers would (see :func:`.network.max_level_ceiling`)."""
    if solution.ship_qty.size < 2:
        return
    stored = solution.inventory.sum(axis=0).astype(float)
    penalty = np.minimum(instance.safety_penalty, instance.shortage_cost / (instance.horizon + 1))
    _, ceiling = max_level_ceiling(
        instance, np.arange(len(instance.skus)), np.arange(instance.horizon)
    )
    load = np.zeros((len(instance.lanes), instance.horizon))
    np.add.at(load, (solution.ship_lane, solution.ship_day), solution.ship_qty)
    order = np.lexsort((solution.ship_day, solution.ship_lane, solution.ship_sku))
    keep: list[tuple[int, int, int, int]] = []
    current: list[int] | None = None  # [sku, lane, day, qty]
    for i in order:
        s, j, day, qty = (
            int(x)
            for x in (
                solution.ship_sku[i],
                solution.ship_lane[i],
                solution.ship_day[i],
                solution.ship_qty[i],
            )
        )
        if current is not None and current[0] == s and current[1] == j:
            lane = instance.lanes[j]
            first = current[2]
            held = slice(first + lane.transit_days, day + lane.transit_days)
            at_origin = solution.inventory[s, lane.origin, first:day]
            at_dest = solution.inventory[s, lane.destination, held]
            room = stored[lane.destination, held]
            # what leaving earlier costs: holding moves from origin to destination, the origin
            # may drop below its safety stock sooner and the destination rise above its own
            change = qty * (
                (instance.holding_cost[s, lane.destination] - instance.holding_cost[s, lane.origin])
                * (day - first)
            )
            if storage_price is not None:
                change += qty * (
                    storage_price[lane.destination, held].sum()
                    - storage_price[lane.origin, first:day].sum()
                )
            safety = np.ceil(instance.safety_stock[s] - 1e-9)
            change += penalty[s] * (
                _below(at_origin - qty, safety[lane.origin])
                - _below(at_origin, safety[lane.origin])
                + _below(at_dest + qty, safety[lane.destination])
                - _below(at_dest, safety[lane.destination])
            )
            if (
                change < instance.transfer_line_cost
                and (at_origin.size == 0 or at_origin.min() >= qty)
                and load[j, first] + qty <= lane.capacity * instance.departures_per_slot[first]
                and (
                    room.size == 0
                    or room.max() + qty <= instance.location_capacity[lane.destination]
                )
                and (
                    at_dest.size == 0 or (at_dest + qty <= ceiling[s, lane.destination, held]).all()
                )
            ):
                solution.inventory[s, lane.origin, first:day] -= qty
                solution.inventory[s, lane.destination, held] += qty
                stored[lane.origin, first:day] -= qty
                stored[lane.destination, held] += qty
                load[j, first] += qty
                load[j, day] -= qty
                current[3] += qty
                continue
        if current is not None:
            keep.append(tuple(current))
        current = [s, j, day, qty]
    keep.append(tuple(current))
    columns = np.array(keep, dtype=np.int64).T
    solution.ship_sku, solution.ship_lane, solution.ship_day, solution.ship_qty = columns


def _below(stock: np.ndarray, safety: float) -> float:
    return float(np.maximum(safety - stock, 0).sum())


def _shift(
    solution: Solution, stored: np.ndarray, s: int, option, from_day: int, to_day: int, qty: int
) -> None:
    """``qty`` more units at the option's destination from the arrival of an order placed on
    ``from_day`` until that of one placed on ``to_day`` (to the end for ``to_day`` = H)."""
    start = from_day + option.lead_time_days
    stop = to_day + option.lead_time_days
    solution.inventory[s, option.destination, start:stop] += qty
    stored[option.destination, start:stop] += qty


# -- coupling checks -------------------------------------------------------------------------------
def coupling_violations(instance: PlanInstance, solution: Solution) -> tuple[list[str], set[int]]:
    """Lane capacity per departure, location capacity per day and the budget, summed over
    SKUs: what is broken, and the SKUs involved."""
    problems: list[str] = []
    involved: set[int] = set()
    for j, lane in enumerate(instance.lanes):
        if not math.isfinite(lane.capacity):
            continue
        on_lane = solution.ship_lane == j
        for day in np.unique(solution.ship_day[on_lane]):
            mask = on_lane & (solution.ship_day == day)
            load = int(solution.ship_qty[mask].sum())
            capacity = lane.capacity * instance.departures_per_slot[day]
            if load > capacity:
                problems.append(
                    f"lane {instance.lane_name(lane)} on {instance.day(day)}: {load} units, "
                    f"capacity {capacity:.0f}"
                )
                involved |= set(solution.ship_sku[mask].tolist())
    stored = solution.inventory.sum(axis=0)  # [L, H]
    for j in range(len(instance.locations)):
        cap = instance.location_capacity[j]
        if not math.isfinite(cap):
            continue
        over = np.nonzero(stored[j] > cap)[0]
        if over.size:
            t = int(over[0])
            problems.append(
                f"location {instance.locations[j]} on {instance.day(t)}: {int(stored[j, t])} "
                f"units, capacity {cap:.0f}"
            )
            involved |= set(np.nonzero(solution.inventory[:, j, over].sum(axis=1) > 0)[0].tolist())
    if instance.budget is not None and solution.order_qty.size:
        prices = np.array([instance.supply[o].price for o in solution.order_option])
        spend = float((prices * solution.order_qty).sum())
        if spend > instance.budget + 1e-6:
            problems.append(f"budget: orders worth {spend:,.0f}, budget {instance.budget:,.0f}")
            involved |= set(solution.order_sku.tolist())
    return problems, involved


# -- coupled ---------------------------------------------------------------------------------------
@dataclass
class _Rows:
    rows: list[np.ndarray] = field(default_factory=list)
    cols: list[np.ndarray] = field(default_factory=list)
    vals: list[np.ndarray] = field(default_factory=list)
    lower: list[float] = field(default_factory=list)
    upper: list[float] = field(default_factory=list)

    def add(self, cols, vals, lower: float, upper: float) -> int:
        row = len(self.lower)
        cols = np.asarray(cols, dtype=np.int64)
        self.rows.append(np.full(cols.size, row, dtype=np.int64))
        self.cols.append(cols)
        self.vals.append(np.broadcast_to(np.asarray(vals, dtype=float), cols.shape).copy())
        self.lower.append(lower)
        self.upper.append(upper)
        return row


def solve_coupled(
    instance: PlanInstance,
    skus: np.ndarray | None = None,
    fixed: Solution | None = None,
    *,
    time_limit_s: float | None = None,
) -> Solution:
    """One MIP over ``skus`` (default all), with capacities and budget less what ``fixed``
    (the other SKUs' plan) already uses. Returns the solution of ``skus`` only."""
    opt = instance.settings
    skus = np.arange(len(instance.skus)) if skus is None else np.asarray(sorted(skus))
    started = time.perf_counter()
    arcs = build_arcs(instance, skus)
    n_arcs = len(arcs)
    inf = math.inf
    lb = [np.zeros(n_arcs)]
    ub = [arcs.capacity.astype(float)]
    obj = [arcs.exact_cost.copy()]
    integer = [np.isin(arcs.kind, (LANE, ORDER))]
    n_vars = n_arcs

    def new_vars(count: int, upper: float, cost, is_int: bool) -> np.ndarray:
        nonlocal n_vars
        idx = np.arange(n_vars, n_vars + count)
        n_vars += count
        lb.append(np.zeros(count))
        ub.append(np.full(count, upper))
        obj.append(np.broadcast_to(np.asarray(cost, dtype=float), (count,)).copy())
        integer.append(np.full(count, is_int))
        return idx

    rows = _Rows()
    # node balance: inflow - outflow = -supply
    incidence = sp.coo_matrix(
        (
            np.concatenate([np.ones(n_arcs), -np.ones(n_arcs)]),
            (np.concatenate([arcs.head, arcs.tail]), np.concatenate([np.arange(n_arcs)] * 2)),
        ),
        shape=(arcs.n_nodes, n_arcs),
    )
    balance = -arcs.supplies.astype(float)
    big = float(arcs.capacity.max()) if n_arcs else 0.0

    other_ship = fixed
    lane_arcs = np.nonzero(arcs.kind == LANE)[0]
    # lanes: one shipment per departure, its fixed cost, its capacity shared by every SKU
    lane_day = arcs.ref[lane_arcs] * instance.horizon + arcs.day[lane_arcs]
    for key in np.unique(lane_day):
        members = lane_arcs[lane_day == key]
        j, day = divmod(int(key), instance.horizon)
        lane = instance.lanes[j]
        slot = float(instance.departures_per_slot[day])  # departures this slot stands for
        if math.isfinite(lane.capacity):
            used = 0.0
            if other_ship is not None:
                mask = (other_ship.ship_lane == j) & (other_ship.ship_day == day)
                used = float(other_ship.ship_qty[mask].sum())
            # trucks of the lane's capacity, each at its fixed cost, within the slot's room
            trucks = new_vars(1, slot, lane.fixed_cost, True)
            rows.add(
                np.append(members, trucks),
                np.append(np.ones(members.size), -lane.capacity),
                -inf,
                0.0,
            )
            rows.add(members, np.ones(members.size), -inf, max(lane.capacity * slot - used, 0.0))
        elif lane.fixed_cost > 0:
            truck = new_vars(1, slot, lane.fixed_cost, True)
            rows.add(np.append(members, truck), np.append(np.ones(members.size), -big), -inf, 0.0)
    # transfer lines: a handling cost per SKU line
    if instance.transfer_line_cost > 0 and lane_arcs.size:
        line = new_vars(lane_arcs.size, 1.0, instance.transfer_line_cost, True)
        caps = arcs.capacity[lane_arcs].astype(float)
        for a, w, cap in zip(lane_arcs, line, caps, strict=True):
            rows.add([a, w], [1.0, -cap], -inf, 0.0)
    # orders: order cost, MOQ, packs; inbound freight's fixed cost per supplier and day
    order_arcs = np.nonzero(arcs.kind == ORDER)[0]
    freight_groups: dict[tuple[str, int, int], list[int]] = {}
    for a in order_arcs:
        option = instance.supply[int(arcs.ref[a])]
        cap = float(arcs.capacity[a])
        placed = new_vars(1, 1.0, instance.order_cost, True)[0]
        rows.add([a, placed], [1.0, -cap], -inf, 0.0)
        if option.moq > 0:
            rows.add([a, placed], [1.0, -float(option.moq)], 0.0, inf)
        if option.pack_size > 1:
            packs = new_vars(1, math.floor(cap / option.pack_size), 0.0, True)[0]
            rows.add([a, packs], [1.0, -float(option.pack_size)], 0.0, 0.0)
        if option.freight_fixed > 0:
            key = (option.supplier, option.destination, int(arcs.day[a]))
            freight_groups.setdefault(key, []).append(int(a))
    for (_supplier, _dest, _day), members in freight_groups.items():
        option = instance.supply[int(arcs.ref[members[0]])]
        truck = new_vars(1, 1.0, option.freight_fixed, True)[0]
        rows.add(members + [truck], [1.0] * len(members) + [-big], -inf, 0.0)
    # location capacity per day, elastic
    carry = np.nonzero(np.isin(arcs.kind, CARRY_KINDS))[0]
    elastic: list[tuple[int, int, int]] = []
    used_by_others = fixed.inventory.sum(axis=0) if fixed is not None else None
    for j, cap in enumerate(instance.location_capacity):
        if not math.isfinite(cap):
            continue
        at = carry[arcs.ref[carry] == j]
        for day in range(instance.horizon):
            members = at[arcs.day[at] == day]
            room = cap - (float(used_by_others[j, day]) if used_by_others is not None else 0.0)
            slack = new_vars(1, inf, ELASTIC_PENALTY, False)[0]
            rows.add(np.append(members, slack), np.append(np.ones(members.size), -1.0), -inf, room)
            elastic.append((slack, j, day))
    # budget
    if instance.budget is not None and order_arcs.size:
        prices = np.array([instance.supply[int(arcs.ref[a])].price for a in order_arcs])
        room = instance.budget
        if fixed is not None and fixed.order_qty.size:
            room -= float(
                sum(
                    instance.supply[o].price * q
                    for o, q in zip(fixed.order_option, fixed.order_qty, strict=True)
                )
            )
        rows.add(order_arcs, prices, -inf, max(room, 0.0))

    n_rows = len(rows.lower)
    side = sp.coo_matrix(
        (
            np.concatenate(rows.vals) if rows.vals else np.zeros(0),
            (
                np.concatenate(rows.rows) if rows.rows else np.zeros(0, np.int64),
                np.concatenate(rows.cols) if rows.cols else np.zeros(0, np.int64),
            ),
        ),
        shape=(n_rows, n_vars),
    )
    incidence = sp.coo_matrix(
        (incidence.data, (incidence.row, incidence.col)), shape=(arcs.n_nodes, n_vars)
    )
    matrix = sp.vstack([incidence, side]).tocsr()
    lower = np.concatenate([balance, np.array(rows.lower)])
    upper = np.concatenate([balance, np.array(rows.upper)])
    model = mbh.ModelBuilderHelper()
    model.fill_model_from_sparse_data(
        np.concatenate(lb), np.concatenate(ub), np.concatenate(obj), lower, upper, matrix
    )
    # the constant that makes the objective the plan's total cost (as cost_breakdown counts
    # it): the shortage cost of all demand (serving earns it back) and the safety-stock
    # penalty of every unit-day below it (holding it earns that back). The solver's relative
    # gap is then a share of the total cost, not of a large negative number.
    penalty = np.minimum(instance.safety_penalty, instance.shortage_cost / (instance.horizon + 1))
    safety = np.ceil(instance.safety_stock[skus] - 1e-9)
    offset = float((arcs.demand.sum(axis=(1, 2)) * instance.shortage_cost[skus]).sum())
    offset += float((safety.sum(axis=1) * penalty[skus]).sum() * instance.horizon)
    model.set_objective_offset(offset)
    is_int = np.concatenate(integer)
    for v in np.nonzero(is_int)[0]:
        model.set_var_integrality(int(v), True)
    build_s = time.perf_counter() - started

    solver_name = "scip" if is_int.any() else "glop"
    solver = mbh.ModelSolverHelper(solver_name)
    solver.set_time_limit_in_seconds(time_limit_s or opt.time_limit_s)
    if solver_name == "scip":
        solver.set_solver_specific_parameters(f"limits/gap = {opt.relative_gap}")
    tick = time.perf_counter()
    solver.solve(model)
    solve_s = time.perf_counter() - tick
    raw = solver.status()
    method = (
        f"coupled {'MIP (SCIP)' if solver_name == 'scip' else 'LP (GLOP)'} over "
        f"{len(skus)} SKUs: {n_vars} variables, {n_rows + arcs.n_nodes} constraints"
    )
    out = _empty(instance)
    if raw not in (mbh.SolveStatus.OPTIMAL, mbh.SolveStatus.FEASIBLE) or not solver.has_solution():
        status = (
            SolveStatus.TIME_LIMIT
            if raw
            in (
                mbh.SolveStatus.NOT_SOLVED,
                mbh.SolveStatus.FEASIBLE,
                mbh.SolveStatus.UNKNOWN_STATUS,
            )
            else SolveStatus.ERROR
        )
        message = (
            f"no plan found within the {time_limit_s or opt.time_limit_s:g} s time limit"
            if status == SolveStatus.TIME_LIMIT
            else f"the solver stopped with {raw.name}: {solver.status_string()}"
        )
        return _finish(
            instance,
            out,
            status=status,
            method=method,
            message=message,
            build_s=build_s,
            solve_s=solve_s,
        )
    values = np.asarray(solver.variable_values())
    _read_flows(instance, arcs, values[:n_arcs], out)
    _served_by_balance(instance, skus, out)
    status = SolveStatus.OPTIMAL if raw == mbh.SolveStatus.OPTIMAL else SolveStatus.FEASIBLE
    objective = float(solver.objective_value())
    bound = float(solver.best_objective_bound()) if solver_name == "scip" else objective
    violations = []
    for slack, j, day in elastic:
        if values[slack] > 0.5:
            violations.append(
                f"location capacity: {instance.locations[j]} holds at most "
                f"{instance.location_capacity[j]:,.0f} units, but on {instance.day(day)} "
                f"{values[slack]:,.0f} more must stay there (stock on hand and arrivals "
                "already on their way that no lane can take away)"
            )
    message = ""
    if violations:
        status = SolveStatus.INFEASIBLE
        message = "; ".join(violations[:3]) + (
            f" (and {len(violations) - 3} more days)" if len(violations) > 3 else ""
        )
        objective -= ELASTIC_PENALTY * float(sum(values[s] for s, _, _ in elastic))
        bound = None
    elif status == SolveStatus.FEASIBLE:
        message = "time limit reached with a plan; the gap says how far from optimal it may be"
    return _finish(
        instance,
        out,
        status=status,
        method=method,
        objective=objective,
        bound=bound,
        message=message,
        violations=violations,
        build_s=build_s,
        solve_s=solve_s,
    )


# -- the one entry point ---------------------------------------------------------------------------
def solve(instance: PlanInstance, progress: Progress | None = None) -> Solution:
    """Solve by the settings' ``mode``; ``auto`` is coupled when the whole instance is small
    (``coupled_max_arcs``), otherwise decomposed."""
    opt = instance.settings
    mode = opt.mode
    if mode == "auto":
        mode = "coupled" if _arc_estimate(instance) <= opt.coupled_max_arcs else "decomposed"
    if mode == "decomposed":
        return solve_decomposed(instance, progress)
    if progress:
        progress(0, 1, "solve")
    solution = solve_coupled(instance)
    if progress:
        progress(1, 1, "solve")
    return solution


def _arc_estimate(instance: PlanInstance, n_sku: int | None = None) -> int:
    """About how many flow variables a coupled model of ``n_sku`` SKUs (default all) has."""
    n_loc, horizon = len(instance.locations), instance.horizon
    n_sku = len(instance.skus) if n_sku is None else n_sku
    departures = len(instance.departure_day_indices)
    options = len(instance.supply) * n_sku / max(len(instance.skus), 1)
    orders = len(instance.review_day_indices) * options
    return int(n_sku * (n_loc * horizon * 3 + len(instance.lanes) * departures) + orders)


def _repair_coupled(
    instance: PlanInstance, final: Solution, involved: set[int], problems: list[str]
) -> Solution:
    """Re-solve the SKUs involved in broken shared limits together as one coupled MIP, the
    other SKUs' plan (lines merged, lots whole) held fixed."""
    skus = np.array(sorted(involved), dtype=np.int64)
    merged = _subset(final, np.setdiff1d(np.arange(len(instance.skus)), skus))
    repaired = solve_coupled(instance, skus, fixed=merged)
    merged.served[skus] = repaired.served[skus]
    merged.inventory[skus] = repaired.inventory[skus]
    for name in SOLUTION_ARRAYS:
        setattr(merged, name, np.concatenate([getattr(merged, name), getattr(repaired, name)]))
    merged.status = repaired.status
    merged.method = (
        f"{final.method}; lines merged and lots made whole where cheaper; {len(skus)} SKUs "
        f"that broke shared limits re-solved together: {repaired.method}"
    )
    merged.message = ". ".join(
        filter(
            None, [f"planned apart, the SKUs broke: {'; '.join(problems[:3])}", repaired.message]
        )
    )
    merged.violations = repaired.violations
    merged.objective, merged.bound = repaired.objective, repaired.bound
    merged.build_s = repaired.build_s
    return merged


def _subset(solution: Solution, skus: np.ndarray) -> Solution:
    """A copy of ``solution`` with only ``skus``' decisions and projection."""
    keep = np.zeros(solution.served.shape[0], dtype=bool)
    keep[skus] = True
    served = np.where(keep[:, None, None], solution.served, 0)
    inventory = np.where(keep[:, None, None], solution.inventory, 0)
    ship = keep[solution.ship_sku]
    order = keep[solution.order_sku]
    return Solution(
        status=solution.status,
        method=solution.method,
        served=served,
        inventory=inventory,
        ship_sku=solution.ship_sku[ship],
        ship_lane=solution.ship_lane[ship],
        ship_day=solution.ship_day[ship],
        ship_qty=solution.ship_qty[ship],
        order_sku=solution.order_sku[order],
        order_option=solution.order_option[order],
        order_day=solution.order_day[order],
        order_qty=solution.order_qty[order],
        demand=solution.demand,
    )


def balance_errors(instance: PlanInstance, solution: Solution) -> list[str]:
    """Check a plan against the physics it must keep: each day's end stock is the day before's
    plus what arrives (scheduled, transfers, orders) less what leaves (transfers out, demand
    served); stock never goes below zero; nothing is served beyond demand. Returns what is
    broken (empty: nothing)."""
    inflow = instance.arrivals.astype(np.int64).copy()
    outflow = solution.served.astype(np.int64).copy()
    if solution.ship_qty.size:
        origin = np.array([ln.origin for ln in instance.lanes], dtype=np.int64)[solution.ship_lane]
        dest = np.array([ln.destination for ln in instance.lanes], dtype=np.int64)[
            solution.ship_lane
        ]
        transit = np.array([ln.transit_days for ln in instance.lanes], dtype=np.int64)[
            solution.ship_lane
        ]
        np.add.at(outflow, (solution.ship_sku, origin, solution.ship_day), solution.ship_qty)
        arrive = solution.ship_day + transit
        if (arrive >= instance.horizon).any():
            return ["a transfer arrives after the horizon"]
        np.add.at(inflow, (solution.ship_sku, dest, arrive), solution.ship_qty)
    if solution.order_qty.size:
        dest = np.array([o.destination for o in instance.supply], dtype=np.int64)[
            solution.order_option
        ]
        lead = np.array([o.lead_time_days for o in instance.supply], dtype=np.int64)[
            solution.order_option
        ]
        arrive = solution.order_day + lead
        if (arrive >= instance.horizon).any():
            return ["an order arrives after the horizon"]
        np.add.at(inflow, (solution.order_sku, dest, arrive), solution.order_qty)
    start = np.rint(instance.on_hand).astype(np.int64)[:, :, None]
    expected = start + np.cumsum(inflow - outflow, axis=2)
    problems = []
    wrong = np.argwhere(expected != solution.inventory)
    if wrong.size:
        s, loc, t = wrong[0]
        problems.append(
            f"stock of {instance.skus[s]} at {instance.locations[loc]} on {instance.day(t)} is "
            f"{solution.inventory[s, loc, t]}, its flows give {expected[s, loc, t]} "
            f"({len(wrong)} such days)"
        )
    if (solution.inventory < 0).any():
        problems.append("negative stock in the plan")
    if (solution.served > solution.demand).any() or (solution.served < 0).any():
        problems.append("served beyond demand, or negative")
    if (solution.ship_qty <= 0).any() or (solution.order_qty <= 0).any():
        problems.append("a line with no quantity")
    problems += _pool_errors(instance, solution)
    return problems


def _pool_errors(instance: PlanInstance, solution: Solution) -> list[str]:
    """Orders from supplier stock that take more than a pool holds, or leave outside its
    window."""
    if not instance.pools or not solution.order_qty.size:
        return []
    pool_of = np.array([o.pool for o in instance.supply], dtype=np.int64)[solution.order_option]
    pooled = pool_of >= 0
    if not pooled.any():
        return []
    problems = []
    held = np.array([p.quantity for p in instance.pools], dtype=np.int64)
    taken = np.zeros(len(held), dtype=np.int64)
    np.add.at(taken, pool_of[pooled], solution.order_qty[pooled])
    over = np.nonzero(taken > held)[0]
    if over.size:
        pool = instance.pools[over[0]]
        problems.append(
            f"orders take {taken[over[0]]} units of {instance.skus[pool.sku]} from "
            f"{pool.supplier}'s {pool.label or 'stock'}, which holds {pool.quantity}"
        )
    first = np.array([p.first_day for p in instance.pools], dtype=np.int64)[pool_of[pooled]]
    last = np.array(
        [instance.horizon - 1 if p.last_day is None else p.last_day for p in instance.pools],
        dtype=np.int64,
    )[pool_of[pooled]]
    days = solution.order_day[pooled]
    if ((days < first) | (days > last)).any():
        problems.append("an order from supplier stock leaves outside the days it is available")
    return problems
