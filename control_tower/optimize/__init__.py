"""The optimizer: transfers between locations and orders to suppliers at least total cost
(shortage, below safety stock, holding, transport, ordering), on OR-Tools.

``plan(store, settings, ...)`` reads the instance (:mod:`.instance`), solves it
(:mod:`.solve`: a min-cost flow per SKU, or one coupled MIP) and reads it out
(:mod:`.readout`); ``save_plan`` stores the run and proposes its lines as actions.
"""

from control_tower.optimize.instance import (
    Lane,
    NetworkState,
    PlanInputError,
    PlanInstance,
    StockPool,
    SupplyOption,
    WhatIf,
    build_instance,
)
from control_tower.optimize.service import (
    Plan,
    compare_runs,
    get_plan_run,
    list_plan_runs,
    load_plan_lines,
    load_projection,
    plan,
    plan_choices,
    plan_flows,
    plan_instance,
    plan_locations,
    save_plan,
    status_text,
)
from control_tower.optimize.solve import Solution, SolveStatus, solve

__all__ = [
    "Lane",
    "NetworkState",
    "Plan",
    "PlanInputError",
    "PlanInstance",
    "Solution",
    "SolveStatus",
    "StockPool",
    "SupplyOption",
    "WhatIf",
    "build_instance",
    "compare_runs",
    "get_plan_run",
    "list_plan_runs",
    "load_plan_lines",
    "load_projection",
    "plan",
    "plan_choices",
    "plan_flows",
    "plan_locations",
    "plan_instance",
    "save_plan",
    "solve",
    "status_text",
]
