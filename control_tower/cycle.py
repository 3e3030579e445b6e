"""One planning cycle: forecast, plan, exceptions, in that order, each reading what the one
before stored, all recorded under one name.

The order matters: the plan reads the latest forecast, and the exception run links each
exception to the plan's drafted transfers and orders (an exception run before the plan links
the previous plan's, or none). A forecast over data that has not changed since the last run
is not made again (:func:`control_tower.forecast.forecast` with ``reuse_run``); the plan and
the exception rules always run, since stock, inbound and decided actions move between cycles
and both take seconds.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

import polars as pl

from control_tower import exceptions
from control_tower.config import Settings
from control_tower.errors import ControlTowerError
from control_tower.forecast import ForecastRun, forecast, latest_run
from control_tower.optimize import Plan, plan, save_plan
from control_tower.store import Store

log = logging.getLogger(__name__)

Progress = Callable[[int, int, str], None]

STEPS = ("forecast", "plan", "exceptions")

NO_FORECAST_NOTE = (
    "no forecast run covers this plan: each series' demand is its mean of the last {days} days "
    "(no seasonality, festivals or trend); run a forecast (`control-tower forecast` or "
    "`cycle`, or the Forecasts page) and plan again"
)

BASELINES_ONLY_NOTE = (
    "baselines only: the backtested baselines ({origins} origins of {window} days), without "
    "Prophet and without tuning its settings; a run with the configured pipeline replaces it"
)


def baselines_only(settings: Settings) -> Settings:
    """The settings with the fastest forecast they allow that is still backtested: the
    baselines (moving averages, TSB, Croston and their blend, with the pooled festival lifts)
    chosen per series by backtest, no Prophet and so no tuning. On the 300-SKU demo (2,039
    series) on two cores: 11 s when they are idle; 30 s against 221 s for the configured run
    with Prophet when both were shared with other work. The backtest origins stay as
    configured: fewer saved under two seconds there and choose on less evidence."""
    return settings.model_copy(
        update={
            "forecast": settings.forecast.model_copy(
                update={"prophet_classes": [], "tuning_sample": 0}
            )
        }
    )


def baselines_only_note(settings: Settings) -> str:
    """What a run made with :func:`baselines_only` records on itself."""
    return BASELINES_ONLY_NOTE.format(
        origins=settings.forecast.baseline_origins, window=settings.forecast.backtest_window
    )


def note_missing_forecast(result: Plan, settings: Settings) -> Plan:
    """A plan that read no forecast run says so first among its notes (stored on its run):
    the instance's own notes count the series filled in from history, which reads the same
    whether one series or every series had no forecast."""
    if result.instance.forecast_run is None:
        note = NO_FORECAST_NOTE.format(days=settings.policies.history_days)
        if note not in result.notes:
            result.notes.insert(0, note)
    return result


def save_plan_as(
    store: Store,
    result: Plan,
    settings: Settings,
    actor_name: str,
    *,
    base_run: int | None = None,
) -> int:
    """Store a plan run under ``actor_name`` (who proposes its lines), noting a missing
    forecast; returns the run id."""
    note_missing_forecast(result, settings)
    return save_plan(store, result, created_by=actor_name, base_run=base_run)


@dataclass(frozen=True)
class CycleStep:
    """One step's outcome: its stored run, how long it took and a line for people."""

    name: str
    run_id: int | None
    seconds: float
    summary: str
    reused: bool = False  # the forecast: an earlier run already had every series unchanged


@dataclass(frozen=True)
class Cycle:
    steps: tuple[CycleStep, ...]
    forecast_run: ForecastRun
    plan: Plan
    exception_run: exceptions.ExceptionRun

    @property
    def seconds(self) -> float:
        return sum(s.seconds for s in self.steps)


class CycleError(ControlTowerError):
    """A step failed: ``step`` names it, ``done`` holds the steps stored before it."""

    title = "Cycle stopped"

    def __init__(
        self, step: str, done: list[CycleStep], detail: str, *, no_plan: bool = False
    ) -> None:
        before = (
            "; stored before it: " + ", ".join(f"{s.name} run {s.run_id}" for s in done)
            if done
            else ""
        )
        super().__init__(
            f"the {step} step failed: {detail}{before}", title=f"Cycle stopped at the {step}"
        )
        self.step = step
        self.done = tuple(done)
        self.no_plan = no_plan  # the plan was stored, but without a solution


def _check_name(actor_name: str) -> str:
    name = (actor_name or "").strip()
    if not name:
        raise ControlTowerError(
            "a cycle is recorded under a name (a user, policy:<name> or scheduler)",
            title="No name to run under",
        )
    return name


def run_cycle(
    store: Store,
    settings: Settings,
    actor_name: str,
    *,
    progress: Progress | None = None,
    forecast_note: str | None = None,
    auto_approve: bool = True,
) -> Cycle:
    """Forecast, plan and run the exception rules, each stored under ``actor_name``, each
    step reading what the one before stored; then (``auto_approve``) the approval policy
    decides the routine proposals. ``progress`` hears (done, total, stage) within each step,
    stages prefixed by the step. ``forecast_note`` is recorded on the forecast run when one
    is made (how it was made, when not with the configured pipeline).

    Raises :class:`CycleError` at the first step that fails (a plan without a solution is
    stored, with its status, and stops the cycle): what follows would read a failed input."""
    name = _check_name(actor_name)
    done: list[CycleStep] = []

    def report(step: str) -> Progress | None:
        if progress is None:
            return None
        return lambda n, total, stage: progress(n, total, f"{step}: {stage}")

    def failed(step: str, exc: Exception) -> CycleError:
        if isinstance(exc, ControlTowerError):
            detail = exc.detail
        else:  # a defect, not an input: the log keeps the traceback
            log.exception("cycle: the %s step failed", step)
            detail = f"unexpected {type(exc).__name__}: {exc}"
        return CycleError(step, done, detail)

    step = "forecast"
    started = time.perf_counter()
    try:
        before = latest_run(store)
        run = forecast(
            store,
            settings.forecast,
            progress=report(step),
            show_bar=False,
            created_by=name,
            note=forecast_note,
            reuse_run=True,
        )
    except Exception as exc:
        raise failed(step, exc) from exc
    reused = before is not None and run.run_id == before.run_id
    done.append(
        CycleStep(
            step,
            run.run_id,
            time.perf_counter() - started,
            (
                f"run {run.run_id} as of {run.as_of} reused: no series changed since it was made"
                if reused
                else f"run {run.run_id} as of {run.as_of}: {run.series_count:,} series "
                f"({run.reused:,} reused, {run.failures:,} failed)"
            ),
            reused=reused,
        )
    )
    log.info("cycle: %s", done[-1].summary)

    step = "plan"
    started = time.perf_counter()
    try:
        result = plan(store, settings, forecast_run=run.run_id, progress=report(step))
        plan_id = save_plan_as(store, result, settings, name)
    except Exception as exc:
        raise failed(step, exc) from exc
    done.append(
        CycleStep(
            step, plan_id, time.perf_counter() - started, f"run {plan_id}: {result.summary()}"
        )
    )
    log.info("cycle: %s", done[-1].summary)
    if result.status.value not in ("optimal", "feasible"):
        raise CycleError(
            step,
            done,
            f"plan run {plan_id} has no plan ({result.status.value}): "
            f"{result.solution.message or 'no message'}",
            no_plan=True,
        )

    step = "exceptions"
    started = time.perf_counter()
    if progress:
        progress(0, 1, f"{step}: rules")
    try:
        found = exceptions.run_exceptions(
            store, settings, forecast_run=run.run_id, created_by=name, auto_approve=auto_approve
        )
    except Exception as exc:
        raise failed(step, exc) from exc
    if progress:
        progress(1, 1, f"{step}: rules")
    linked = found.items.filter(
        pl.col("action_ids").is_not_null() & (pl.col("action_ids") != "[]")
    ).height
    done.append(
        CycleStep(
            step,
            found.run_id,
            time.perf_counter() - started,
            f"run {found.run_id}: {found.raised:,} exceptions, {linked:,} with a drafted action"
            + (f" (plan run {found.plan_run})" if found.plan_run else "")
            + (
                f"; policy {found.auto.policy} approved {len(found.auto.approved):,}, "
                f"{found.auto.left_to_people:,} left to people"
                if found.auto
                else ""
            ),
        )
    )
    log.info("cycle: %s", done[-1].summary)
    return Cycle(tuple(done), run, result, found)
