"""Small plan instances built by hand, whose optimum is known by reasoning."""

from __future__ import annotations

import math
from datetime import date

import numpy as np

from control_tower.config import OptimizerSettings
from control_tower.optimize import Lane, PlanInstance, StockPool, SupplyOption

AS_OF = date(2026, 3, 1)


def make_instance(
    *,
    skus: int = 1,
    locations: tuple[str, ...] = ("DC", "A", "B"),
    kinds: tuple[str, ...] = ("central_dc", "regional_dc", "regional_dc"),
    horizon: int = 14,
    demand: dict[tuple[int, int], float] | None = None,
    demand_days: dict[tuple[int, int, int], float] | None = None,
    on_hand: dict[tuple[int, int], float] | None = None,
    lanes: list[Lane] | None = None,
    supply: list[SupplyOption] | None = None,
    capacity: dict[int, float] | None = None,
    mode: str = "coupled",
    shortage_cost: float = 20.0,
    unit_cost: float = 10.0,
    holding_per_day: float = 0.01,
    order_cost: float = 0.0,
    transfer_line_cost: float = 0.0,
    safety_stock: dict[tuple[int, int], float] | None = None,
    review_days: int = 7,
    budget: float | None = None,
    arrivals: dict[tuple[int, int, int], float] | None = None,
    pools: list[StockPool] | None = None,
) -> PlanInstance:
    """``demand[(sku, loc)]``: units every day; ``demand_days[(sku, loc, day)]``: on one day."""
    n_loc = len(locations)
    d = np.zeros((skus, n_loc, horizon))
    for (s, loc), per_day in (demand or {}).items():
        d[s, loc, :] = per_day
    for (s, loc, t), units in (demand_days or {}).items():
        d[s, loc, t] = units
    stock = np.zeros((skus, n_loc))
    for (s, loc), units in (on_hand or {}).items():
        stock[s, loc] = units
    due = np.zeros((skus, n_loc, horizon))
    for (s, loc, t), units in (arrivals or {}).items():
        due[s, loc, t] = units
    safety = np.zeros((skus, n_loc))
    for (s, loc), units in (safety_stock or {}).items():
        safety[s, loc] = units
    cap = np.full(n_loc, math.inf)
    for loc, units in (capacity or {}).items():
        cap[loc] = units
    return PlanInstance(
        as_of=AS_OF,
        horizon=horizon,
        review_days=review_days,
        skus=[f"SKU-{i}" for i in range(skus)],
        locations=list(locations),
        location_kinds=list(kinds),
        unit_cost=np.full(skus, unit_cost),
        shortage_cost=np.full(skus, shortage_cost),
        holding_cost=np.full((skus, n_loc), holding_per_day),
        safety_stock=safety,
        demand=d,
        on_hand=stock,
        arrivals=due,
        location_capacity=cap,
        lanes=lanes or [],
        supply=supply or [],
        order_cost=order_cost,
        transfer_line_cost=transfer_line_cost,
        budget=budget,
        settings=OptimizerSettings(mode=mode, time_limit_s=20),
        pools=pools or [],
    )
