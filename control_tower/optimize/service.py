"""The optimizer's verbs: ``plan`` (read the instance, solve, read out), ``save_plan`` (store a
run, its lines and projection, and propose each line of a base plan as an action, in one
transaction) and the readers behind the Plan page."""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, field
from datetime import date

import polars as pl

from control_tower import actions
from control_tower.config import Settings
from control_tower.errors import ControlTowerError, NotFoundError
from control_tower.optimize.instance import NetworkState, PlanInstance, WhatIf, build_instance
from control_tower.optimize.readout import (
    PlanLine,
    cost_breakdown,
    plan_kpis,
    plan_lines,
    projection_frame,
)
from control_tower.optimize.solve import Progress, Solution, SolveStatus, balance_errors, solve
from control_tower.store import Store

log = logging.getLogger(__name__)


@dataclass
class Plan:
    instance: PlanInstance
    solution: Solution
    lines: list[PlanLine]
    costs: dict[str, float]
    kpis: dict[str, float | int]
    build_s: float
    solve_s: float
    run_id: int | None = None
    scope: list[str] | None = None
    notes: list[str] = field(default_factory=list)
    release_days: int = 2  # lines due within this many days are proposed (actions settings)

    @property
    def status(self) -> SolveStatus:
        return self.solution.status

    @property
    def as_of(self) -> date:
        return self.instance.as_of

    def summary(self) -> str:
        """One line a planner can read: status, cost, fill rate and lines."""
        k = self.kpis
        gap = self.solution.gap
        gap_text = f", gap {gap:.2%}" if gap is not None and self.status == "feasible" else ""
        text = (
            f"{self.status.value}{gap_text}: {len(self.lines)} lines ({k['transfers']} transfers, "
            f"{k['orders']} orders), planned fill rate {k['fill_rate']:.1%}, total cost "
            f"{self.costs['total']:,.0f}"
        )
        if self.solution.message:
            text += f". {self.solution.message}"
        return text


def plan(
    store: Store,
    settings: Settings | None = None,
    *,
    as_of: date | None = None,
    forecast_run: int | None = None,
    skus: list[str] | None = None,
    what_if: WhatIf | None = None,
    state: NetworkState | None = None,
    progress: Progress | None = None,
    with_lines: bool = True,
    first_order_day: int = 0,
) -> Plan:
    """Plan transfers and orders as of ``as_of`` over the settings' horizon. Nothing is
    written; :func:`save_plan` stores the result. ``with_lines=False`` skips the lines'
    reasons and alternatives (the simulator reads the solution's arrays)."""
    settings = settings or Settings()
    started = time.perf_counter()
    if progress:
        progress(0, 1, "read")
    instance = build_instance(
        store,
        settings,
        as_of=as_of,
        forecast_run=forecast_run,
        skus=skus,
        state=state,
        what_if=what_if,
        first_order_day=first_order_day,
    )
    build_s = time.perf_counter() - started
    log.info(
        "plan as of %s: %d SKUs x %d locations x %d days read in %.2fs",
        instance.as_of,
        len(instance.skus),
        len(instance.locations),
        instance.horizon,
        build_s,
    )
    return plan_instance(
        instance,
        progress=progress,
        build_s=build_s,
        scope=skus,
        with_lines=with_lines,
        release_days=settings.actions.release_days,
    )


def plan_instance(
    instance: PlanInstance,
    *,
    progress: Progress | None = None,
    build_s: float = 0.0,
    scope: list[str] | None = None,
    with_lines: bool = True,
    release_days: int = 2,
) -> Plan:
    """Solve an instance already built (the simulator builds its own) and read it out."""
    tick = time.perf_counter()
    solution = solve(instance, progress=progress)
    solve_s = time.perf_counter() - tick
    broken = balance_errors(instance, solution) if solution.status != "time_limit" else []
    if broken:  # a defect, not an input problem: never propose such a plan
        log.error("plan fails its own balance check: %s", broken)
        solution.status = SolveStatus.ERROR
        solution.message = "internal check failed: " + "; ".join(broken)
    solved = solution.status in ("optimal", "feasible")
    lines = plan_lines(instance, solution, release_days) if solved and with_lines else []
    return Plan(
        instance=instance,
        solution=solution,
        lines=lines,
        costs=cost_breakdown(instance, solution),
        kpis=plan_kpis(instance, solution),
        build_s=build_s + solution.build_s,
        solve_s=solve_s - solution.build_s,
        scope=scope,
        notes=list(instance.notes),
        release_days=release_days,
    )


# -- storing -------------------------------------------------------------------------------------
def save_plan(
    store: Store,
    result: Plan,
    *,
    created_by: str,
    base_run: int | None = None,
) -> int:
    """Store the run, its lines and projection in one transaction; returns its id.

    A base plan (no what-if) that is optimal or feasible proposes the lines due now that can
    be carried out (:func:`control_tower.actions.release_lines`) as actions under
    ``created_by`` and supersedes the actions still proposed by earlier plans (an event
    records it); the other lines stay planned lines of the run. A what-if run, or a plan
    without a solution, proposes nothing."""
    instance, solution = result.instance, result.solution
    if base_run is not None and not store.scalar(
        "SELECT count(*) FROM plan_runs WHERE run_id = ?", [base_run]
    ):
        raise NotFoundError(f"no plan run {base_run}", title="Unknown plan run")
    what_if = instance.what_if
    proposes = (
        what_if.is_empty()
        and base_run is None
        and solution.status
        in (
            SolveStatus.OPTIMAL,
            SolveStatus.FEASIBLE,
        )
    )
    projection = projection_frame(instance, solution)
    lines = pl.DataFrame(
        [
            {
                "line_no": n,
                "kind": line.kind,
                "source_kind": line.source_kind,
                "sku": line.sku,
                "from_location": line.from_location,
                "to_location": line.to_location,
                "supplier": line.supplier,
                "quantity": line.quantity,
                "ship_date": line.ship_date,
                "arrival_date": line.arrival_date,
                "release_now": line.release_now,
                "unit_price": line.unit_price,
                "value": line.value,
                "cost": line.cost,
                "reason": line.reason,
                "alternatives": json.dumps(list(line.alternatives), ensure_ascii=False),
            }
            for n, line in enumerate(result.lines, start=1)
        ],
        schema=LINE_SCHEMA,
    )
    lines = actions.release_lines(store, lines, instance.as_of, result.release_days).select(
        list(LINE_SCHEMA)
    )
    with store.transaction() as cur:
        cur.execute(
            """
            INSERT INTO plan_runs (created_by, as_of, forecast_run, horizon, review_days,
                base_run, what_if, settings, status, method, message, objective, bound, gap,
                build_s, solve_s, sku_count, location_count, costs, kpis, notes, scope)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            RETURNING run_id
            """,
            [
                created_by,
                instance.as_of,
                instance.forecast_run,
                instance.horizon,
                instance.review_days,
                base_run,
                json.dumps({} if what_if.is_empty() else what_if.as_dict()),
                instance.settings.model_dump_json(),
                solution.status.value,
                solution.method,
                solution.message,
                solution.objective,
                solution.bound,
                solution.gap,
                result.build_s,
                result.solve_s,
                len(instance.skus),
                len(instance.locations),
                json.dumps(result.costs),
                json.dumps(result.kpis),
                json.dumps(result.notes, ensure_ascii=False),
                json.dumps(result.scope) if result.scope else None,
            ],
        )
        (run_id,) = cur.fetchone()
        if lines.height:
            cur.register("new_lines", lines.with_columns(pl.lit(run_id).alias("run_id")))
            cur.execute(
                "INSERT INTO plan_lines SELECT run_id, line_no, kind, source_kind, sku, "
                "from_location, to_location, supplier, quantity, ship_date, arrival_date, "
                "release_now, unit_price, value, cost, reason, alternatives FROM new_lines"
            )
            cur.unregister("new_lines")
        if projection.height:
            cur.register("new_projection", projection.with_columns(pl.lit(run_id).alias("run_id")))
            cur.execute(
                "INSERT INTO plan_projection SELECT run_id, sku, location, date, demand, served, "
                "inventory FROM new_projection"
            )
            cur.unregister("new_projection")
        if proposes:
            actions.propose_plan_lines(cur, run_id, instance.as_of, created_by, result.scope)
    result.run_id = int(run_id)
    log.info("plan run %d stored: %s", run_id, result.summary())
    if proposes:
        from control_tower.explain import explain_actions  # it reads exceptions, which read us

        try:
            explain_actions(store)
        except ControlTowerError as exc:  # the plan is stored; its proposals stay unexplained
            log.warning("plan run %d: drafted actions not explained: %s", run_id, exc)
    return int(run_id)


LINE_SCHEMA = {
    "line_no": pl.Int32,
    "kind": pl.String,
    "source_kind": pl.String,
    "sku": pl.String,
    "from_location": pl.String,
    "to_location": pl.String,
    "supplier": pl.String,
    "quantity": pl.Int64,
    "ship_date": pl.Date,
    "arrival_date": pl.Date,
    "release_now": pl.Boolean,
    "unit_price": pl.Float64,
    "value": pl.Float64,
    "cost": pl.Float64,
    "reason": pl.String,
    "alternatives": pl.String,
}


# -- reading -------------------------------------------------------------------------------------
RUN_COLUMNS = (
    "run_id, created_at, created_by, as_of, forecast_run, horizon, review_days, base_run, "
    "what_if, status, method, message, objective, bound, gap, build_s, solve_s, sku_count, "
    "location_count, costs, kpis, notes, scope"
)


def list_plan_runs(store: Store, limit: int = 50) -> pl.DataFrame:
    return store.query(
        f"SELECT {RUN_COLUMNS} FROM plan_runs ORDER BY run_id DESC LIMIT ?",  # noqa: S608
        [limit],
    )


def get_plan_run(store: Store, run: int | str | None = None) -> dict:
    """A run as a dict (costs, kpis, what_if, notes decoded); None or 'latest': the latest
    base plan."""
    if run is None or str(run).lower() == "latest":
        rows = store.rows(
            f"SELECT {RUN_COLUMNS} FROM plan_runs WHERE base_run IS NULL "  # noqa: S608
            "AND what_if = '{}' ORDER BY run_id DESC LIMIT 1"
        )
        if not rows:
            raise NotFoundError("no plan has been run yet", title="No plan run")
    else:
        try:
            run_id = int(run)
        except ValueError as exc:
            raise ControlTowerError(
                f"a plan run is a number or 'latest', not {run!r}", title="Unknown plan run"
            ) from exc
        rows = store.rows(
            f"SELECT {RUN_COLUMNS} FROM plan_runs WHERE run_id = ?",  # noqa: S608
            [run_id],
        )
        if not rows:
            raise NotFoundError(f"no plan run {run_id}", title="Unknown plan run")
    names = [c.strip() for c in RUN_COLUMNS.split(",")]
    out = dict(zip(names, rows[0], strict=True))
    for key in ("costs", "kpis", "what_if", "notes"):
        out[key] = json.loads(out[key])
    out["scope"] = json.loads(out["scope"]) if out["scope"] else None
    return out


def load_plan_lines(store: Store, run_id: int) -> pl.DataFrame:
    return store.query("SELECT * FROM plan_lines WHERE run_id = ? ORDER BY line_no", [run_id])


def load_projection(
    store: Store, run_id: int, sku: str | None = None, location: str | None = None
) -> pl.DataFrame:
    return store.query(
        "SELECT sku, location, date, demand, served, inventory FROM plan_projection "
        "WHERE run_id = $run AND ($sku IS NULL OR sku = $sku) "
        "AND ($location IS NULL OR location = $location) ORDER BY sku, location, date",
        {"run": run_id, "sku": sku, "location": location},
    )


FLOWS_SQL = """
SELECT coalesce(l.from_location, s.location, l.supplier) AS origin,
       l.to_location AS destination, l.source_kind,
       sum(l.quantity)::BIGINT AS units, count(*)::BIGINT AS lines,
       sum(l.value) AS value
FROM plan_lines l LEFT JOIN suppliers s ON s.code = l.supplier
WHERE l.run_id = $run AND ($release_only = FALSE OR l.release_now)
GROUP BY ALL ORDER BY units DESC
"""


def plan_flows(store: Store, run_id: int, *, release_only: bool = False) -> pl.DataFrame:
    """Units, lines and value per origin -> destination of a run (an order's origin is its
    supplier's site): origin, destination, source_kind, units, lines, value."""
    return store.query(FLOWS_SQL, {"run": run_id, "release_only": release_only})


def compare_runs(store: Store, base_run: int, other_run: int) -> pl.DataFrame:
    """Side by side: each KPI and cost item of two runs and the difference."""
    base, other = get_plan_run(store, base_run), get_plan_run(store, other_run)
    rows = []
    for group in ("kpis", "costs"):
        for key, value in base[group].items():
            new = other[group].get(key)
            rows.append(
                {
                    "measure": key,
                    "group": group,
                    "base": float(value),
                    "what_if": None if new is None else float(new),
                    "change": None if new is None else float(new) - float(value),
                }
            )
    return pl.DataFrame(rows)


def status_text(run: dict) -> str:
    """What the status means for the user."""
    status = run["status"]
    gap = run.get("gap")
    if status == "optimal":
        if gap is None:
            return "Optimal for these inputs."
        return (
            f"Optimal: the cost is within {gap:.2%} of a lower bound proven for these inputs, "
            "so no plan is cheaper by more than that."
        )
    if status == "feasible":
        gap_text = f"{gap:.2%}" if gap is not None else "an unknown share"
        return (
            f"Feasible: every limit is kept, and the cost is at most {gap_text} above the "
            "proven lower bound (the search stopped at its time limit, or the bound is out of "
            "reach)."
        )
    if status == "infeasible":
        return f"Infeasible: {run['message']}"
    if status == "time_limit":
        return (
            f"Time limit: no plan that keeps every limit was found in time. {run['message']} "
            "Plan fewer SKUs at once, or allow more time."
        )
    return f"Error: {run['message']}"


def plan_locations(store: Store) -> pl.DataFrame:
    """Every location with coordinates for drawing flows: location, name, kind, lat, lon."""
    return store.query(
        "SELECT code AS location, name, kind, lat, lon FROM locations ORDER BY kind, code"
    )


def plan_choices(store: Store) -> dict:
    """What a what-if can name: suppliers, lanes ("FROM>TO") and locations that ship or
    receive."""
    return {
        "suppliers": [r[0] for r in store.rows("SELECT code FROM suppliers ORDER BY code")],
        "lanes": [
            f"{a}>{b}"
            for a, b in store.rows(
                "SELECT from_location, to_location FROM lanes ORDER BY from_location, to_location"
            )
        ],
        "locations": [
            r[0]
            for r in store.rows(
                "SELECT code FROM locations WHERE kind IN "
                "('central_dc', 'regional_dc', 'store', 'vmi') ORDER BY code"
            )
        ],
    }
