"""The demo's first planning cycle and a short history of decisions, so that every page has
something to show the first time it opens: a forecast run, a plan with its proposals, an
exception run linked to them, and a few proposals decided by the demo users (``demo.planner``
ran the cycle; ``demo.approver`` approved some, rejected one with a reason; ``demo.planner``
posted one of those approved and booked its arrival; the approval policy then approved the
routine proposals left, as it does after every cycle).

The forecast is the fastest one the settings allow that is still chosen by backtest
(:func:`control_tower.cycle.baselines_only`: 11 s on the 300-SKU demo on two idle cores,
several times faster than with Prophet), and its run says so in its note; ``control-tower
forecast`` or ``cycle`` replaces it with the configured pipeline.

Which proposals are decided follows the inbox: those drafted for the most severe exceptions
first, the first ones their source can cover are approved. Every decision goes through the
same services, role checks and audit trail as a person's.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import datetime, time

from control_tower import actions, exceptions
from control_tower.config import Settings
from control_tower.cycle import Cycle, Progress, baselines_only, baselines_only_note, run_cycle
from control_tower.store import Store
from control_tower.users import DEMO_USERS

log = logging.getLogger(__name__)

PLANNER = next(u for u in DEMO_USERS if u.role == "planner")
APPROVER = next(u for u in DEMO_USERS if u.role == "approver")
APPROVED = 4  # proposals approved, one of which is then posted and received
REJECTION = (
    "Demo decision: held back to show a rejection and its reason; the next plan proposes it "
    "again if it is still needed"
)


@dataclass(frozen=True)
class DemoActivity:
    cycle: Cycle
    approved: tuple[int, ...]
    rejected: int | None
    received: int | None
    policy: actions.AutoApprovalResult | None = None

    def summary(self) -> str:
        decided = f"{len(self.approved)} proposals approved by {APPROVER.name}"
        if self.rejected is not None:
            decided += f", action {self.rejected} rejected with a reason"
        if self.received is not None:
            decided += f", action {self.received} posted and received by {PLANNER.name}"
        if self.policy is not None:
            decided += (
                f"; policy {self.policy.policy} approved {len(self.policy.approved)} routine "
                f"proposals, {self.policy.left_to_people} left to people"
            )
        return decided


def _candidates(store: Store, cycle: Cycle) -> list[int]:
    """The plan's proposed transfers and orders, those drafted for the most severe
    exceptions first, then the rest of the plan's in line order."""
    plan_run = cycle.plan.run_id
    proposed = actions.list_actions(store, statuses=["proposed"])
    ours = {
        r["action_id"]
        for r in proposed.iter_rows(named=True)
        if r["plan_run"] == plan_run and r["kind"] in ("transfer", "purchase_order")
    }
    order: list[int] = []
    for text in cycle.exception_run.items["action_ids"].to_list():
        for action_id in json.loads(text) if text else []:
            if action_id in ours and action_id not in order:
                order.append(action_id)
    return order + sorted(ours - set(order))


def _decide(
    store: Store, settings: Settings, candidates: list[int]
) -> tuple[list[int], int | None]:
    """Reject the last candidate (the least pressing) with a reason, and approve the first
    ``APPROVED`` of the others that can be approved (the approval policy has already
    decided the routine ones, so few may be left)."""
    if not candidates:
        return [], None
    *others, last = candidates
    rejected = None
    try:
        actions.reject(store, last, APPROVER, REJECTION)
        rejected = last
    except actions.ActionRefused as exc:
        log.info("demo: action %d not rejected: %s", last, exc.detail)
    approved: list[int] = []
    for action_id in others:
        if len(approved) == APPROVED:
            break
        try:
            actions.approve(store, action_id, APPROVER, settings=settings)
        except actions.ActionRefused as exc:
            log.info("demo: action %d not approved: %s", action_id, exc.detail)
            continue
        approved.append(action_id)
    return approved, rejected


def _carry_out(store: Store, approved: list[int]) -> int | None:
    """Post one approved action (a transfer when there is one) and book its arrival, in the
    evening of the data's today (after its sales and counts): nothing is dated after the
    data, so its today does not move."""
    kinds = {i: actions.get_action(store, i)["kind"] for i in approved}
    today = store.as_of()
    for chosen in sorted(approved, key=lambda i: kinds[i] != "transfer"):
        try:
            actions.post(store, chosen, PLANNER, datetime.combine(today, time(21, 30)))
        except actions.ActionRefused as exc:
            log.info("demo: action %d not posted: %s", chosen, exc.detail)
            continue
        actions.receive(store, chosen, PLANNER, datetime.combine(today, time(22, 0)))
        return chosen
    return None


def seed_activity(
    store: Store, settings: Settings | None = None, *, progress: Progress | None = None
) -> DemoActivity:
    """Run the demo's first cycle as ``demo.planner`` with a baselines-only forecast, then
    decide a few of its proposals as the demo users. Raises
    :class:`~control_tower.cycle.CycleError` when a step of the cycle fails."""
    quick = baselines_only(settings or Settings())
    cycle = run_cycle(
        store,
        quick,
        PLANNER.name,
        progress=progress,
        forecast_note=baselines_only_note(quick),
        auto_approve=False,
    )
    approved, rejected = _decide(store, quick, _candidates(store, cycle))
    # then the approval policy decides the routine proposals left, as after any cycle
    run = cycle.exception_run
    policy = actions.auto_approve(
        store,
        quick,
        severities=exceptions.linked_severity(run.items),
        max_levels=run.max_levels,
    )
    received = _carry_out(store, approved) if approved and store.as_of() else None
    activity = DemoActivity(cycle, tuple(approved), rejected, received, policy)
    log.info("demo: %s", activity.summary())
    return activity
