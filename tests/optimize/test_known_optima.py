"""Instances small enough to solve by hand, solved both ways: one coupled MIP, and a
min-cost flow per SKU (with its repairs). Each asserts the optimum reasoned out in its
docstring."""

from __future__ import annotations

import json

import numpy as np
import pytest

from control_tower.optimize import Lane, SolveStatus, SupplyOption, plan_instance
from control_tower.optimize.solve import balance_errors, solve
from tests.optimize.instances import make_instance

MODES = ["coupled", "decomposed"]


def shipped(instance, solution, origin: str, destination: str) -> int:
    lanes = [
        j
        for j, ln in enumerate(instance.lanes)
        if instance.locations[ln.origin] == origin
        and instance.locations[ln.destination] == destination
    ]
    return int(solution.ship_qty[np.isin(solution.ship_lane, lanes)].sum())


@pytest.mark.parametrize("mode", MODES)
def test_a_short_region_pulls_from_the_neighbour_with_excess_when_it_is_cheaper(mode):
    """A sells 10 a day for 14 days and holds 10 (day 0). B holds 300 it does not sell; the
    DC holds 500. Both lanes take a day; B to A costs 1.00 a unit, DC to A 2.00. Optimum:
    the 130 units A still needs all come from B; transport 130.00; nothing short."""
    instance = make_instance(
        demand={(0, 1): 10},
        on_hand={(0, 0): 500, (0, 1): 10, (0, 2): 300},
        lanes=[Lane(0, 1, 1, 2.0, 0.0), Lane(2, 1, 1, 1.0, 0.0)],
        mode=mode,
    )
    result = plan_instance(instance)
    solution = result.solution
    assert solution.status == SolveStatus.OPTIMAL
    assert balance_errors(instance, solution) == []
    assert solution.served.sum() == 140
    assert shipped(instance, solution, "B", "A") == 130
    assert shipped(instance, solution, "DC", "A") == 0
    assert result.costs["transport"] == pytest.approx(130.0)
    assert result.costs["shortage"] == 0
    line = result.lines[0]
    assert (line.from_location, line.to_location, line.source_kind) == ("B", "A", "neighbour")
    verdicts = {a["source"]: a["verdict"] for a in line.alternatives}
    assert verdicts["B"] == "chosen"
    assert verdicts["DC"] == "costs 1.00 more per unit"


@pytest.mark.parametrize("mode", MODES)
def test_a_moq_forces_one_larger_order(mode):
    """The DC sells 5 a day for 14 days and holds 10 (days 0-1). Its supplier delivers in 2
    days with an MOQ of 100; an order costs 50. Orders go out on review days 0 and 7. The 60
    units still needed fit one order: optimum one order of exactly 100 on day 0."""
    instance = make_instance(
        locations=("DC",),
        kinds=("central_dc",),
        demand={(0, 0): 5},
        on_hand={(0, 0): 10},
        supply=[SupplyOption(0, "SUP", 0, 2, 0.0, 8.0, moq=100)],
        order_cost=50.0,
        mode=mode,
    )
    solution = solve(instance)
    assert solution.status == SolveStatus.OPTIMAL
    assert balance_errors(instance, solution) == []
    assert solution.order_qty.tolist() == [100]
    assert solution.order_day.tolist() == [0]
    assert solution.served.sum() == 70


@pytest.mark.parametrize("mode", MODES)
def test_a_pack_size_rounds_the_order_up_to_whole_packs(mode):
    """As above with no MOQ but packs of 24: 60 units needed make 3 packs, 72 units."""
    instance = make_instance(
        locations=("DC",),
        kinds=("central_dc",),
        demand={(0, 0): 5},
        on_hand={(0, 0): 10},
        supply=[SupplyOption(0, "SUP", 0, 2, 0.0, 8.0, pack_size=24)],
        order_cost=50.0,
        mode=mode,
    )
    solution = solve(instance)
    assert balance_errors(instance, solution) == []
    assert solution.order_qty.tolist() == [72]
    assert solution.served.sum() == 70


@pytest.mark.parametrize("mode", MODES)
def test_a_lane_capacity_shared_by_two_skus_forces_a_split(mode):
    """Two SKUs each need 40 at A on day 1 only; A holds none. The DC lane (1.00 a unit)
    carries at most 50 per departure; B's lane costs 2.00 with no limit; both take a day, so
    only day 0's departures arrive in time. Optimum: 50 units over the DC lane, 30 over B's;
    all 80 served; transport 50 + 60 = 110.00."""
    instance = make_instance(
        skus=2,
        demand_days={(0, 1, 1): 40, (1, 1, 1): 40},
        on_hand={(0, 0): 100, (1, 0): 100, (0, 2): 100, (1, 2): 100},
        lanes=[Lane(0, 1, 1, 1.0, 0.0, capacity=50), Lane(2, 1, 1, 2.0, 0.0)],
        mode=mode,
    )
    result = plan_instance(instance)
    solution = result.solution
    assert solution.status == SolveStatus.OPTIMAL
    assert balance_errors(instance, solution) == []
    assert solution.served.sum() == 80
    assert shipped(instance, solution, "DC", "A") == 50
    assert shipped(instance, solution, "B", "A") == 30
    assert result.costs["transport"] == pytest.approx(110.0)
    if mode == "decomposed":
        assert "re-solved together" in solution.method


@pytest.mark.parametrize("mode", MODES)
def test_stock_that_cannot_fit_its_location_is_reported_infeasible_with_the_constraint(mode):
    """A holds 150 units but has room for 100 and no lane out: no plan can keep its capacity.
    The status says infeasible and the message names the location, its capacity and the
    day."""
    instance = make_instance(
        locations=("DC", "A"),
        kinds=("central_dc", "regional_dc"),
        on_hand={(0, 1): 150},
        capacity={1: 100},
        lanes=[Lane(0, 1, 1, 1.0, 0.0)],
        mode=mode,
    )
    result = plan_instance(instance)
    assert result.status == SolveStatus.INFEASIBLE
    assert "A holds at most 100 units" in result.solution.message
    assert "2026-03-02" in result.solution.message
    assert result.lines == []


def test_a_fixed_cost_per_shipment_makes_the_coupled_plan_ship_in_few_departures():
    """A sells 10 a day for 14 days with nothing on hand but day 0's 10; the DC lane costs
    0.10 a unit and 100 per departure; holding costs 0.01 a unit-day. Shipping daily would
    cost 13 x 100; one departure on day 0 with all 130 costs 100 plus the holding of the
    stock brought forward (10 x 0.01 x (1 + ... + 12) = 7.80 at most), which beats any second
    departure (100)."""
    instance = make_instance(
        locations=("DC", "A"),
        kinds=("central_dc", "regional_dc"),
        demand={(0, 1): 10},
        on_hand={(0, 0): 500, (0, 1): 10},
        lanes=[Lane(0, 1, 1, 0.1, 100.0)],
        mode="coupled",
    )
    result = plan_instance(instance)
    solution = result.solution
    assert solution.status == SolveStatus.OPTIMAL
    assert solution.ship_day.tolist() == [0]
    assert solution.ship_qty.tolist() == [130]
    assert result.costs["transport"] == pytest.approx(13.0 + 100.0)


def test_a_budget_caps_what_the_coupled_plan_buys():
    """The DC sells 10 a day, holds nothing, and buys at 8.00 a unit (lead time 0). A budget
    of 400 buys 50 units: 50 served, the rest short."""
    instance = make_instance(
        locations=("DC",),
        kinds=("central_dc",),
        demand={(0, 0): 10},
        supply=[SupplyOption(0, "SUP", 0, 0, 0.0, 8.0)],
        budget=400.0,
        review_days=1,
        mode="coupled",
    )
    result = plan_instance(instance)
    assert result.status == SolveStatus.OPTIMAL
    assert result.solution.order_qty.sum() == 50
    assert result.kpis["purchase_value"] == pytest.approx(400.0)
    assert result.solution.served.sum() == 50


def test_alternatives_say_why_a_later_source_lost():
    """A needs stock on day 1. The DC lane takes 1 day; B's lane is cheaper but takes 3, so
    the DC wins and B's verdict says it arrives 2 days later."""
    instance = make_instance(
        demand_days={(0, 1, 1): 20},
        on_hand={(0, 0): 100, (0, 2): 100},
        lanes=[Lane(0, 1, 1, 2.0, 0.0), Lane(2, 1, 3, 0.5, 0.0)],
    )
    result = plan_instance(instance)
    (line,) = result.lines
    assert line.from_location == "DC"
    verdicts = {a["source"]: a["verdict"] for a in line.alternatives}
    assert verdicts["B"] == "arrives 2026-03-05, 2 days later"
    json.dumps(line.alternatives)  # stored as JSON


@pytest.mark.parametrize("mode", MODES)
def test_a_transfer_fills_a_regional_dc_up_to_its_max_level_not_beyond(mode):
    """A sells 10 a day for 14 days and holds 10; the DC holds 500; the lane takes a day at
    0.10 a unit, and a transfer line costs 2. A's max level is 50. Sending everything on day 0
    would save lines but keep up to 120 units above the max for days, each unit-day costing
    the penalty (20 x 0.1 / 7 = 0.29); even 10 units a day above it cost more than a line.
    Optimum: every unit served, A's stock never above 50 even just after an arrival (at most
    40 at the end of a day that sold 10), so each line is at most 50, and the 130 units take
    three lines (the coupled MIP; the flow per SKU, which only merges lines afterwards, may
    keep more)."""
    instance = make_instance(
        locations=("DC", "A"),
        kinds=("central_dc", "regional_dc"),
        demand={(0, 1): 10},
        on_hand={(0, 0): 500, (0, 1): 10},
        lanes=[Lane(0, 1, 1, 0.1, 0.0)],
        transfer_line_cost=2.0,
        mode=mode,
    )
    instance.max_cover_days = np.array([[np.inf, 5.0]])  # a max level of 50 at 10 a day
    result = plan_instance(instance)
    solution = result.solution
    assert solution.status == SolveStatus.OPTIMAL
    assert balance_errors(instance, solution) == []
    assert solution.served.sum() == 140
    assert solution.inventory[0, 1].max() <= 40
    assert shipped(instance, solution, "DC", "A") == 130
    assert solution.ship_qty.max() <= 50
    if mode == "coupled":  # the flow per SKU merges its lines greedily and may keep more
        assert len(solution.ship_qty) == 3


def test_stock_already_above_the_max_level_is_not_penalised_and_not_moved():
    """B holds 300 against a max level of 50 and sells nothing; A sells 10 a day and holds
    140, all it needs. Nothing needs to move: stock that was there before the plan is not
    pushed out (only what a plan sends in is held to the max)."""
    instance = make_instance(
        demand={(0, 1): 10},
        on_hand={(0, 0): 0, (0, 1): 140, (0, 2): 300},
        lanes=[Lane(2, 1, 1, 0.1, 0.0)],
        transfer_line_cost=5.0,
        mode="decomposed",
    )
    instance.max_cover_days = np.array([[np.inf, 15.0, 5.0]])
    result = plan_instance(instance)
    assert result.solution.served.sum() == 140
    assert result.solution.ship_qty.sum() == 0


def test_the_max_level_is_held_in_days_of_demand_so_stock_may_rise_ahead_of_a_peak():
    """A sells 10 a day, then 40 a day from day 10 (a festival); its max level covers 5 days
    (50 at 10 a day). At the end of an ordinary day A may hold the next 4 days' demand (40);
    at the end of day 8 it may hold days 9 to 12's: 10 + 40 + 40 + 40 = 130, so stock can be
    built before the peak instead of running out in it. B, which a supplier delivers to, is
    not held to a max level by the plan."""
    from control_tower.optimize.network import max_level_ceiling

    demand = {(0, 1, t): (10.0 if t < 10 else 40.0) for t in range(14)}
    instance = make_instance(
        demand_days=demand,
        on_hand={(0, 0): 1000, (0, 1): 10},
        lanes=[Lane(0, 1, 1, 0.1, 0.0)],
        supply=[SupplyOption(0, "S", 2, 2, 0.0, 5.0)],
        transfer_line_cost=2.0,
        mode="coupled",
    )
    instance.max_cover_days = np.array([[np.inf, 5.0, 5.0]])
    capped, ceiling = max_level_ceiling(instance, np.array([0]), np.arange(14))
    assert capped.tolist() == [[False, True, False]]
    assert ceiling[0, 1, 0] == 40 and ceiling[0, 1, 5] == 40
    assert ceiling[0, 1, 8] == 130
    result = plan_instance(instance)
    assert result.solution.served[0, 1].sum() == 100 + 160
