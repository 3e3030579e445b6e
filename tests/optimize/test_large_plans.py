"""What keeps large plans fast without changing what they mean: weekly nodes after
``fine_days`` (rebuilt day by day), and the repair that re-plans SKUs on overloaded lanes and
locations one after another within the room the others leave (on a process pool when large).
Each instance is solved for real; the assertions are the plan's facts."""

from __future__ import annotations

import importlib

import numpy as np
import pytest

from control_tower.optimize import Lane, SolveStatus, SupplyOption, plan_instance
from control_tower.optimize.solve import balance_errors, coupling_violations
from tests.optimize.instances import make_instance
from tests.optimize.test_known_optima import shipped

solve_module = importlib.import_module("control_tower.optimize.solve")


def _settings(instance, **update):
    instance.settings = instance.settings.model_copy(update=update)
    return instance


def _balanced_plan(instance, **update):
    """The plan with ``update`` to its settings, checked optimal, balanced day by day, never
    below zero and never serving beyond demand."""
    solution = plan_instance(_settings(instance, **update)).solution
    assert solution.status == SolveStatus.OPTIMAL
    assert balance_errors(instance, solution) == []
    assert np.all(solution.inventory >= 0)
    assert np.all(solution.served <= solution.demand)
    return solution


def test_an_order_placed_within_fine_days_arrives_on_its_day_on_weekly_nodes():
    """The DC holds nothing and sells 10 a day from day 20 to 34; its supplier delivers in 20
    days. With daily nodes for 5 days and weekly after, the order placed on day 0 still lands
    on day 20 (its arrival day is a node): all 150 units are served, none before day 20, and
    the stock the day before is zero."""
    instance = make_instance(
        locations=("DC",),
        kinds=("central_dc",),
        horizon=35,
        demand_days={(0, 0, t): 10 for t in range(20, 35)},
        supply=[SupplyOption(0, "SUP", 0, 20, 0.0, 8.0)],
        mode="decomposed",
    )
    solution = _balanced_plan(instance, fine_days=5, weekly_nodes=True)
    assert solution.served.sum() == 150
    assert solution.served[0, 0, :20].sum() == 0
    assert solution.inventory[0, 0, 19] == 0
    assert solution.inventory[0, 0, 20] > 0
    assert 0 in solution.order_day.tolist()


def test_weekly_nodes_never_count_stock_before_it_arrives():
    """A sells 10 a day for 30 days and holds 40; only the DC (1000 units, a 3-day lane) can
    refill it. Weekly after day 3, lane arrivals in the far weeks land on node days: the daily
    projection balances, never goes negative and serves at most the demand; the plan's fill
    rate is within a day's demand a week of the daily plan's."""
    plans = {}
    for weekly in (False, True):
        instance = make_instance(
            locations=("DC", "A"),
            kinds=("central_dc", "regional_dc"),
            horizon=30,
            demand={(0, 1): 10},
            on_hand={(0, 0): 1000, (0, 1): 40},
            lanes=[Lane(0, 1, 3, 1.0, 0.0)],
            mode="decomposed",
        )
        solution = _balanced_plan(instance, fine_days=3, weekly_nodes=weekly)
        plans[weekly] = int(solution.served.sum())
    assert plans[False] == 300
    assert plans[True] >= plans[False] - 10 * 30 // 7


def test_overloaded_lanes_are_shared_one_sku_after_another_without_the_coupled_model():
    """Two SKUs each need 40 at A on day 1; the DC lane carries 50 a departure, B's lane
    costs more with no limit. Without the coupled repair (``coupled_max_arcs`` 0) the SKUs
    are re-planned one after another within the DC lane's room: 50 over it, 30 from B, all
    80 served, and the lane holds. (The bound, both SKUs on the DC lane, is out of reach, so
    the status may say feasible with its gap.)"""
    instance = make_instance(
        skus=2,
        demand_days={(0, 1, 1): 40, (1, 1, 1): 40},
        on_hand={(0, 0): 100, (1, 0): 100, (0, 2): 100, (1, 2): 100},
        lanes=[Lane(0, 1, 1, 1.0, 0.0, capacity=50), Lane(2, 1, 1, 2.0, 0.0)],
        mode="decomposed",
    )
    _settings(instance, coupled_max_arcs=0)
    result = plan_instance(instance)
    solution = result.solution
    # the bound (every SKU on the DC lane) is out of reach: a feasible plan, with its gap
    assert solution.status in (SolveStatus.OPTIMAL, SolveStatus.FEASIBLE)
    assert solution.gap is not None
    assert balance_errors(instance, solution) == []
    assert coupling_violations(instance, solution)[0] == []
    assert solution.served.sum() == 80
    assert shipped(instance, solution, "DC", "A") == 50
    assert shipped(instance, solution, "B", "A") == 30
    assert "one after another" in solution.message


def test_the_sku_costliest_to_run_out_gets_the_scarce_lane_first():
    """Two SKUs each need 40 at A on day 1 and only the DC lane (40 a departure) reaches A in
    time. SKU-1 costs 50 a unit short, SKU-0 20: SKU-1 is served in full, SKU-0 not at all."""
    instance = make_instance(
        skus=2,
        demand_days={(0, 1, 1): 40, (1, 1, 1): 40},
        on_hand={(0, 0): 100, (1, 0): 100},
        lanes=[Lane(0, 1, 1, 1.0, 0.0, capacity=40)],
        mode="decomposed",
    )
    instance.shortage_cost[:] = [20.0, 50.0]
    _settings(instance, coupled_max_arcs=0)
    solution = plan_instance(instance).solution
    assert coupling_violations(instance, solution)[0] == []
    assert solution.served[1].sum() == 40
    assert solution.served[0].sum() == 0


def test_the_allocation_on_a_process_pool_keeps_every_lane(monkeypatch):
    """Six SKUs each need 30 at A on day 1; the DC lane carries 100 a departure and B's lane,
    dearer, has no limit. On two worker processes (each with every other SKU and a share of
    the lane), the plan keeps the lane, balances, serves all 180 units and fills the DC lane."""
    monkeypatch.setattr(solve_module, "PARALLEL_MIN_SKUS", 1)
    n = 6
    instance = make_instance(
        skus=n,
        demand_days={(s, 1, 1): 30 for s in range(n)},
        on_hand={**{(s, 0): 100 for s in range(n)}, **{(s, 2): 100 for s in range(n)}},
        lanes=[Lane(0, 1, 1, 1.0, 0.0, capacity=100), Lane(2, 1, 1, 2.0, 0.0)],
        mode="decomposed",
    )
    _settings(instance, coupled_max_arcs=0, workers=2)
    solution = plan_instance(instance).solution
    assert solution.status in (SolveStatus.OPTIMAL, SolveStatus.FEASIBLE)
    assert balance_errors(instance, solution) == []
    assert coupling_violations(instance, solution)[0] == []
    assert solution.served.sum() == 180
    assert shipped(instance, solution, "DC", "A") == 100
    assert shipped(instance, solution, "B", "A") == 80


@pytest.mark.parametrize("order_cost", [0.0, 50.0, 200.0])
def test_merging_orders_leaves_room_to_make_every_lot_whole(order_cost):
    """A DC with room for 200 units sells 10 a day of SKU-0 (no MOQ) and 5 of SKU-1 (MOQ
    100); both come the day after an order, placed on days 0 and 7. The flows fit easily (90
    at most). With dear orders, merging SKU-0's week-2 order into week 1 and then SKU-1's
    would fill the DC, and SKU-1's lot made whole (100) would not fit: merging keeps room for
    the lots still to be made whole, so every lot is whole and the DC holds without a
    repair."""
    instance = make_instance(
        skus=2,
        locations=("DC",),
        kinds=("central_dc",),
        horizon=14,
        demand={(0, 0): 10, (1, 0): 5},
        on_hand={(0, 0): 10, (1, 0): 5},
        supply=[
            SupplyOption(0, "S0", 0, 1, 0.0, 8.0),
            SupplyOption(1, "S1", 0, 1, 0.0, 8.0, moq=100),
        ],
        capacity={0: 200},
        order_cost=order_cost,
        mode="decomposed",
    )
    instance.lot_size[:] = 100
    solution = plan_instance(instance).solution
    assert solution.status == SolveStatus.OPTIMAL
    assert "broke" not in solution.message  # whole lots fitted without any repair
    assert coupling_violations(instance, solution)[0] == []
    assert np.all(solution.order_qty[solution.order_sku == 1] >= 100)
    assert solution.inventory.sum(axis=0).max() <= 200
    assert solution.served.sum() == solution.demand.sum()


def test_a_budget_is_kept_by_the_decomposed_repair():
    """Three SKUs at a DC each sell 10 a day; their orders would cost 3,120 but the budget is
    1,000 and the coupled repair is off: the SKUs re-planned with their shares of the budget
    buy at most 1,000 worth (125 units at 8.00)."""
    instance = make_instance(
        skus=3,
        locations=("DC",),
        kinds=("central_dc",),
        demand={(0, 0): 10, (1, 0): 10, (2, 0): 10},
        supply=[SupplyOption(s, "S", 0, 1, 0.0, 8.0) for s in range(3)],
        budget=1000.0,
        mode="decomposed",
    )
    _settings(instance, coupled_max_arcs=0)
    solution = plan_instance(instance).solution
    assert solution.status in (SolveStatus.OPTIMAL, SolveStatus.FEASIBLE)
    assert coupling_violations(instance, solution)[0] == []
    assert 8.0 * solution.order_qty.sum() <= 1000.0
    assert solution.order_qty.sum() > 100
    assert "budget" in solution.message
