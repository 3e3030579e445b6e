"""Properties every plan keeps, on random small networks: flows balance day by day (what
arrives less what leaves is the change in stock), stock never goes negative, nothing is served
beyond demand, shared capacities hold, orders from a supplier's stock stay within what it
holds and the days it can leave, and the per-SKU decomposition never beats the coupled
optimum (it solves a restriction of the same problem). Plans on weekly nodes keep the same
day-by-day properties."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from control_tower.optimize import Lane, SolveStatus, StockPool, SupplyOption, plan_instance
from control_tower.optimize.solve import balance_errors, coupling_violations
from tests.optimize.instances import make_instance


@st.composite
def instances(draw, mode: str, weekly: bool = False):
    n_loc = draw(st.integers(2, 4))
    n_sku = draw(st.integers(1, 3))
    horizon = draw(st.integers(15, 30) if weekly else st.integers(7, 16))
    kinds = ("central_dc",) + ("regional_dc",) * (n_loc - 1)
    locations = tuple(["DC"] + [f"R{i}" for i in range(1, n_loc)])
    demand = {(s, loc): draw(st.floats(0, 12)) for s in range(n_sku) for loc in range(1, n_loc)}
    on_hand = {(s, loc): draw(st.integers(0, 120)) for s in range(n_sku) for loc in range(n_loc)}
    lanes = []
    for a in range(n_loc):
        for b in range(n_loc):
            if a != b and (a == 0 or draw(st.booleans())):
                lanes.append(
                    Lane(
                        a,
                        b,
                        draw(st.integers(0, 3)),
                        draw(st.floats(0.1, 3.0)),
                        draw(st.sampled_from([0.0, 0.0, 15.0])),
                        draw(st.sampled_from([math.inf, math.inf, 40.0])),
                    )
                )
    supply = [
        SupplyOption(
            s,
            "SUP",
            0,
            draw(st.integers(0, 6)),
            0.0,
            8.0,
            moq=draw(st.sampled_from([0, 0, 30])),
            pack_size=draw(st.sampled_from([1, 1, 6])),
        )
        for s in range(n_sku)
    ]
    pools = []
    for s in range(n_sku):  # some SKUs: stock the supplier holds, to one or two locations
        if not draw(st.booleans()):
            continue
        first = draw(st.integers(0, 5))
        last = draw(st.sampled_from([None, first + 6]))
        pools.append(StockPool(s, "SUP", draw(st.integers(0, 80)), first, last, "stock"))
        for dest in sorted(set(draw(st.lists(st.integers(0, n_loc - 1), min_size=1, max_size=2)))):
            supply.append(
                SupplyOption(s, "SUP", dest, draw(st.integers(0, 3)), 0.0, 8.0, pool=len(pools) - 1)
            )
    capacity = {loc: draw(st.sampled_from([math.inf, 400.0])) for loc in range(n_loc)}
    safety = {(s, loc): draw(st.integers(0, 15)) for s in range(n_sku) for loc in range(n_loc)}
    instance = make_instance(
        skus=n_sku,
        locations=locations,
        kinds=kinds,
        horizon=horizon,
        demand=demand,
        on_hand=on_hand,
        lanes=lanes,
        supply=supply,
        capacity=capacity,
        safety_stock=safety,
        order_cost=draw(st.sampled_from([0.0, 40.0])),
        transfer_line_cost=draw(st.sampled_from([0.0, 5.0])),
        review_days=draw(st.sampled_from([1, 7])),
        mode=mode,
        pools=pools,
    )
    if weekly:  # weekly nodes after a few daily days, so most of the horizon is weekly
        fine = draw(st.sampled_from([0, 2, 5]))
        instance.settings = instance.settings.model_copy(
            update={"fine_days": fine, "weekly_nodes": True}
        )
    return instance


def _check(instance) -> object:
    result = plan_instance(instance)
    solution = result.solution
    assert solution.status in (SolveStatus.OPTIMAL, SolveStatus.FEASIBLE, SolveStatus.INFEASIBLE)
    if solution.status != SolveStatus.INFEASIBLE:
        assert balance_errors(instance, solution) == []
        assert coupling_violations(instance, solution)[0] == []
        assert np.all(solution.inventory >= 0)
        assert np.all(solution.served <= solution.demand)
    return result


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(instances("decomposed"))
def test_decomposed_plans_balance_and_respect_shared_limits(instance):
    _check(instance)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(instances("decomposed", weekly=True))
def test_plans_on_weekly_nodes_balance_day_by_day_and_respect_shared_limits(instance):
    _check(instance)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(instances("coupled"))
def test_coupled_plans_balance_and_are_never_beaten_by_the_decomposition(instance):
    coupled = _check(instance)
    if coupled.status != SolveStatus.OPTIMAL:
        return
    instance.settings = instance.settings.model_copy(update={"mode": "decomposed"})
    apart = _check(instance)
    if apart.status == SolveStatus.INFEASIBLE:
        return
    slack = instance.settings.relative_gap * max(abs(coupled.costs["total"]), 1.0) + 1e-6
    assert coupled.costs["total"] <= apart.costs["total"] + slack
