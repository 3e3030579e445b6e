"""The ``control-tower`` command line. Every subcommand calls the same services as the pages.

Exit codes: 0 success, 1 unexpected failure, 2 a problem with the input (printed as a title
and the details, never a traceback).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from collections.abc import Sequence
from datetime import date
from pathlib import Path

from control_tower.config import load_settings
from control_tower.errors import ControlTowerError

log = logging.getLogger("control_tower.cli")


def _db_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--db",
        metavar="PATH",
        help="DuckDB file (default: $CONTROL_TOWER_DB, else db_path from the config file, "
        "else .demo/control_tower.duckdb)",
    )


def _actor_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--as",
        dest="actor",
        metavar="NAME",
        help="the name runs and changes are recorded under (default: your operating-system "
        "user name)",
    )


def _actor_name(args: argparse.Namespace) -> str:
    """Who acts: --as NAME, else the operating-system user; never a generic name."""
    name = (getattr(args, "actor", None) or "").strip()
    if name:
        return name
    import getpass

    try:
        name = getpass.getuser().strip()
    except (OSError, KeyError, ImportError):
        name = ""
    if not name:
        raise ControlTowerError(
            "no operating-system user name to record this under; pass --as NAME",
            title="Who is acting?",
        )
    return name


def _db_path(args: argparse.Namespace) -> str:
    return args.db or load_settings().db_path


def _open(args: argparse.Namespace, *, must_exist: bool = True):
    from control_tower.store import Store

    path = _db_path(args)
    if must_exist and path != ":memory:" and not Path(path).is_file():
        raise ControlTowerError(
            f"{path} does not exist; create it with `control-tower demo --db {path}` or import "
            "your data with `control-tower import`",
            title="No database",
        )
    return Store(path)


# -- commands ---------------------------------------------------------------------------------


def cmd_import(args: argparse.Namespace) -> int:
    from control_tower.ingest import ingest_file

    with _open(args, must_exist=False) as store:
        result = ingest_file(store, args.entity, args.file, limit=args.max_errors)
    sys.stdout.write(
        f"{result.entity}: {result.rows_read} row(s) read, {result.rows_written} written, "
        f"{result.rows_skipped} already present (skipped)\n"
    )
    return 0


def cmd_import_folder(args: argparse.Namespace) -> int:
    from control_tower.ingest import ingest_folder

    with _open(args, must_exist=False) as store:
        results = ingest_folder(store, args.folder, limit=args.max_errors)
    for r in results.values():
        sys.stdout.write(
            f"{r.entity:<18} {r.rows_read:>12,} read {r.rows_written:>12,} written "
            f"{r.rows_skipped:>10,} skipped  ({r.source})\n"
        )
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from control_tower.ingest.demo import build_demo
    from control_tower.ingest.demo_activity import seed_activity
    from control_tower.store import Store

    if getattr(args, "out", None):
        from control_tower.ingest.demo import generate_demo, write_demo_files

        frames = generate_demo(
            skus=args.skus,
            locations=args.locations,
            days=args.days,
            seed=args.seed,
            progress=not args.quiet,
        )
        for written in write_demo_files(frames, args.out, fmt=args.out_format):
            sys.stdout.write(f"wrote {written}\n")
        return 0
    path = _db_path(args)
    if Path(path).exists():
        if not args.force:
            raise ControlTowerError(
                f"{path} already exists; pass --force to replace it", title="Database exists"
            )
        Path(path).unlink()
        Path(path + ".wal").unlink(missing_ok=True)
    started = time.perf_counter()
    activity = None
    try:
        with Store(path) as store:
            results = build_demo(
                store,
                skus=args.skus,
                locations=args.locations,
                days=args.days,
                seed=args.seed,
                progress=not args.quiet,
            )
            if not getattr(args, "data_only", False):
                bar = _progress_bar(args, unit="step") if not args.quiet else None
                activity = seed_activity(store, load_settings(), progress=bar)
    except BaseException:
        # a half-built demo is worse than none
        Path(path).unlink(missing_ok=True)
        Path(path + ".wal").unlink(missing_ok=True)
        raise
    for r in results.values():
        sys.stdout.write(f"{r.entity:<18} {r.rows_written:>12,} rows\n")
    if activity is not None:
        for step in activity.cycle.steps:
            sys.stdout.write(f"{step.name:<18} {step.summary} ({step.seconds:.1f} s)\n")
        sys.stdout.write(f"{'decisions':<18} {activity.summary()}\n")
    sys.stdout.write(f"demo database {path} built in {time.perf_counter() - started:.1f} s\n")
    return 0


def cmd_position(args: argparse.Namespace) -> int:
    import polars as pl

    from control_tower.position import stock_position

    with _open(args) as store:
        frame = stock_position(
            store,
            as_of=args.as_of,
            skus=args.sku or None,
            locations=args.location or None,
            category=args.category,
        )
    frame = frame.with_columns(
        pl.col(c).round(2)
        for c in ("avg_daily_demand", "days_of_cover", "stock_value")
        if c in frame.columns
    )
    if args.format == "csv":
        sys.stdout.write(frame.write_csv())
    elif args.format == "json":
        sys.stdout.write(frame.write_json() + "\n")
    else:
        with pl.Config(tbl_rows=args.limit, tbl_cols=-1, tbl_width_chars=200):
            sys.stdout.write(str(frame.head(args.limit)) + "\n")
    return 0


def cmd_kpis(args: argparse.Namespace) -> int:
    from control_tower.kpis import network_kpis

    with _open(args) as store:
        kpis = network_kpis(store, as_of=args.as_of, period_days=args.period_days)
    payload = {
        k: {"label": v.label, "value": v.value, "previous": v.previous, "unit": v.unit}
        for k, v in kpis.items()
    }
    sys.stdout.write(json.dumps(payload, indent=2, default=str) + "\n")
    return 0


def cmd_freshness(args: argparse.Namespace) -> int:
    import polars as pl

    from control_tower.ingest import freshness

    with _open(args) as store:
        frame = freshness(store)
    with pl.Config(tbl_rows=-1, tbl_cols=-1, tbl_width_chars=200):
        sys.stdout.write(str(frame) + "\n")
    return 0


def cmd_schemas(args: argparse.Namespace) -> int:
    from control_tower.ingest.schemas import ENTITIES, as_json_schema

    if args.write:
        out = Path(args.write)
        out.mkdir(parents=True, exist_ok=True)
        for entity in ENTITIES:
            (out / f"{entity}.json").write_text(
                json.dumps(as_json_schema(entity), indent=2, ensure_ascii=False) + "\n",
                encoding="utf-8",
            )
        sys.stdout.write(f"wrote {len(ENTITIES)} schema files to {out}\n")
    else:
        sys.stdout.write(schemas_markdown())
    return 0


def schemas_markdown() -> str:
    """The import schemas as Markdown tables (the README's section is this text)."""
    from control_tower.ingest.schemas import SPECS

    parts = []
    for spec in SPECS.values():
        parts.append(
            f"#### `{spec.name}`\n\n{spec.description} Key: "
            f"{', '.join(spec.key)}.\n\n| column | type | required | meaning |\n"
            "|---|---|---|---|\n"
        )
        for c in spec.columns:
            meaning = c.description
            if c.choices:
                meaning += f" ({' / '.join(c.choices)})"
            if c.references:
                meaning += f"; must exist in {c.references[0]}"
            parts.append(f"| {c.name} | {c.dtype} | {'yes' if c.required else ''} | {meaning} |\n")
        parts.append("\n")
    return "".join(parts)


def cmd_dashboard(args: argparse.Namespace) -> int:
    path = _db_path(args)
    if not Path(path).exists():
        log.info("no database at %s: building the demo network", path)
        sys.stdout.write(f"No database at {path}: building the demo network (once)...\n")
        demo_args = argparse.Namespace(
            db=path,
            force=False,
            skus=args.skus,
            locations=args.locations,
            days=args.days,
            seed=args.seed,
            quiet=False,
            verbose=args.verbose,
        )
        cmd_demo(demo_args)
    app = Path(__file__).resolve().parent.parent / "app.py"
    if not app.is_file():
        raise ControlTowerError(
            f"app.py not found next to the package ({app})", title="Dashboard not installed"
        )
    env = dict(os.environ, CONTROL_TOWER_DB=str(Path(path).resolve()))
    if args.demo_users:
        env["CONTROL_TOWER_DEMO_USERS"] = "1"
    # The server runs from the repository root: hand it the config file this command read.
    config = os.environ.get("CONTROL_TOWER_CONFIG") or (
        "control_tower.toml" if Path("control_tower.toml").is_file() else None
    )
    if config:
        env["CONTROL_TOWER_CONFIG"] = str(Path(config).resolve())
    command = [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(app),
        "--server.port",
        str(args.port),
        "--server.headless",
        "true",
    ]
    sys.stdout.write(
        f"Dashboard on http://localhost:{args.port} (database {path}); Ctrl+C stops it\n"
    )
    sys.stdout.flush()
    os.chdir(app.parent)
    # Become the server (no child to orphan when this process is stopped).
    os.execve(sys.executable, command, env)
    return 0  # pragma: no cover - execve does not return


def _list_arg(values: list[str] | None) -> list[str] | None:
    """--skus A B C and --skus A,B,C both work (also --locations)."""
    if not values:
        return None
    return [v.strip() for value in values for v in value.split(",") if v.strip()]


def cmd_forecast(args: argparse.Namespace) -> int:
    from control_tower.forecast import forecast, leaderboard

    settings = load_settings().forecast
    started = time.perf_counter()
    with _open(args) as store:
        run = forecast(
            store,
            settings,
            as_of=args.as_of,
            horizon=args.horizon,
            skus=_list_arg(args.skus),
            locations=_list_arg(args.locations),
            workers=args.workers,
            show_bar=sys.stderr.isatty() or args.verbose,
            created_by=_actor_name(args),
        )
        board = leaderboard(store, run.run_id, by="demand_class")
    sys.stdout.write(
        f"forecast run {run.run_id} by {run.created_by}: as of {run.as_of}, {run.horizon} days, "
        f"{run.series_count} series ({run.reused} reused, {run.failures} failed), "
        f"{run.executor} x{run.workers}, Prophet settings "
        f"'{run.settings.get('prophet', {}).get('name')}', "
        f"{time.perf_counter() - started:.1f} s\n"
    )
    for row in board.iter_rows(named=True):
        rmsse = row["weighted_rmsse"]
        sys.stdout.write(
            f"  {row['demand_class']:<13} {row['series']:>6} series, mostly {row['most_chosen']}"
            + (f", backtest weighted RMSSE {rmsse:.3f}" if rmsse is not None else "")
            + (f", {row['failures']} failed" if row["failures"] else "")
            + "\n"
        )
    return 0


def cmd_forecast_export(args: argparse.Namespace) -> int:
    from control_tower.forecast import export_forecasts, resolve_run

    with _open(args) as store:
        run = resolve_run(store, args.run)
        rows = export_forecasts(store, run.run_id, args.out)
    sys.stdout.write(f"run {run.run_id}: {rows} rows written to {args.out}\n")
    return 0


def cmd_backtest(args: argparse.Namespace) -> int:
    import polars as pl

    from control_tower.forecast import backtest

    settings = load_settings().forecast
    with _open(args) as store:
        report = backtest(
            store,
            settings,
            horizon=args.horizon,
            origins=args.origins,
            as_of=args.as_of,
            skus=_list_arg(args.skus),
            locations=_list_arg(args.locations),
            workers=args.workers,
            show_bar=sys.stderr.isatty() or args.verbose,
        )
    origins = ", ".join(str(d) for d in report.origins)
    sys.stdout.write(
        f"backtest: {report.series} series, {len(report.origins)} origin(s) ({origins}), "
        f"{report.horizon} days each, Prophet settings '{report.tuned}', "
        f"{report.seconds:.1f} s\n"
        "weighted RMSSE as in M5 (SKU x location level, weights = sales value of the 28 days "
        "before each origin); better_than_naive = 1 - RMSSE / seasonal naive's\n"
    )
    columns = [
        c
        for c in ("method", "weighted_rmsse", "better_than_naive", "wape", "bias", "series")
        if c in report.table.columns
    ]
    with pl.Config(
        tbl_rows=-1,
        tbl_cols=-1,
        tbl_width_chars=160,
        float_precision=3,
        tbl_hide_dataframe_shape=True,
        tbl_hide_column_data_types=True,
    ):
        sys.stdout.write(str(report.table.select(columns)) + "\n")
        if not report.by_class.is_empty():
            sys.stdout.write("pipeline per demand class\n")
            sys.stdout.write(
                str(
                    report.by_class.select(
                        "demand_class", "weighted_rmsse", "wape", "bias", "series"
                    )
                )
                + "\n"
            )
    return 0


def cmd_cycle(args: argparse.Namespace) -> int:
    from control_tower.cycle import CycleError, baselines_only, baselines_only_note, run_cycle

    settings = load_settings()
    note = None
    if args.baselines_only:
        settings = baselines_only(settings)
        note = baselines_only_note(settings)
    name = _actor_name(args)
    with _open(args) as store:
        try:
            cycle = run_cycle(
                store,
                settings,
                name,
                progress=_progress_bar(args, unit="step"),
                forecast_note=note,
            )
        except CycleError as exc:
            for step in exc.done:
                sys.stdout.write(f"  {step.name:<11} {step.summary} ({step.seconds:.1f} s)\n")
            sys.stderr.write(f"{exc.title}\n{exc.detail}\n")
            return 3 if exc.no_plan else 2
    sys.stdout.write(f"cycle as {name}: forecast, plan and exceptions in {cycle.seconds:.1f} s\n")
    for step in cycle.steps:
        sys.stdout.write(f"  {step.name:<11} {step.summary} ({step.seconds:.1f} s)\n")
    return 0


# -- parser -----------------------------------------------------------------------------------


def _what_if(args: argparse.Namespace):
    """--service-level 0.99 --delay SUP=5 --lane-cost A>B=1.5 --close LOC."""
    from control_tower.optimize import WhatIf

    def pairs(values, cast, what):
        out = {}
        for item in values or []:
            key, sep, value = item.rpartition("=")
            if not sep or not key:
                raise ControlTowerError(f"{what} is KEY=VALUE, not {item!r}", title="Bad what-if")
            try:
                out[key] = cast(value)
            except ValueError as exc:
                raise ControlTowerError(f"{what} {item!r}: {exc}", title="Bad what-if") from exc
        return out

    return WhatIf(
        service_level=args.service_level,
        supplier_delay_days=pairs(args.delay, int, "--delay"),
        lane_cost_factor=pairs(args.lane_cost, float, "--lane-cost"),
        closed_locations=tuple(_list_arg(args.close) or ()),
    )


def cmd_plan(args: argparse.Namespace) -> int:
    from control_tower.cycle import note_missing_forecast, save_plan_as
    from control_tower.optimize import plan

    settings = load_settings()
    updates = {k: v for k, v in (("horizon_days", args.horizon), ("mode", args.mode)) if v}
    if updates:
        settings = settings.model_copy(
            update={"optimizer": settings.optimizer.model_copy(update=updates)}
        )
    what_if = _what_if(args)
    with _open(args) as store:
        result = plan(
            store,
            settings,
            as_of=args.as_of,
            forecast_run=args.forecast_run,
            skus=_list_arg(args.skus),
            what_if=what_if,
        )
        if args.dry_run:
            run_id = None
            note_missing_forecast(result, settings)
        else:
            run_id = save_plan_as(
                store, result, settings, _actor_name(args), base_run=args.base_run
            )
    k, c = result.kpis, result.costs
    if args.format == "json":
        payload = {
            "run_id": run_id,
            "as_of": result.as_of.isoformat(),
            "status": result.status.value,
            "method": result.solution.method,
            "message": result.solution.message,
            "gap": result.solution.gap,
            "build_s": result.build_s,
            "solve_s": result.solve_s,
            "what_if": what_if.as_dict(),
            "kpis": k,
            "costs": c,
            "lines": len(result.lines),
            "notes": result.notes,
        }
        sys.stdout.write(json.dumps(payload, indent=2, default=str) + "\n")
        return 0
    sys.stdout.write(
        (f"plan run {run_id}" if run_id else "plan (not stored)")
        + f": as of {result.as_of}, {len(result.instance.skus)} SKUs x "
        f"{len(result.instance.locations)} locations x {result.instance.horizon} days, "
        f"{what_if.describe()}\n"
        f"  status {result.status.value}"
        + (f" (gap {result.solution.gap:.2%})" if result.solution.gap is not None else "")
        + f", read {result.build_s:.1f} s, solve {result.solve_s:.1f} s\n"
        f"  {result.solution.method}\n"
    )
    if result.solution.message:
        sys.stdout.write(f"  {result.solution.message}\n")
    for note in result.notes:
        sys.stdout.write(f"  note: {note}\n")
    sys.stdout.write(
        f"  {k['transfers']} transfers ({k['lateral_transfers']} between neighbours), "
        f"{k['orders']} orders; planned fill rate {k['fill_rate']:.1%}, average inventory "
        f"value {k['avg_inventory_value']:,.0f}\n"
        "  cost: " + ", ".join(f"{name} {value:,.0f}" for name, value in c.items()) + "\n"
    )
    return 0 if result.status.value in ("optimal", "feasible") else 3


def cmd_simulate(args: argparse.Namespace) -> int:
    from control_tower.simulate import simulate

    settings = load_settings()
    with _open(args) as store:
        result = simulate(
            store,
            settings,
            policy=args.policy,
            start=args.start,
            days=args.days,
            review_days=args.review_days,
            seed=args.seed,
            minmax_scale=args.minmax_scale,
            forecast_days=args.forecast_days,
            progress=_progress_bar(args) if args.format != "json" else None,
        )
    if args.format == "json":
        sys.stdout.write(json.dumps(result.as_dict(), indent=2, default=str) + "\n")
        return 0
    r = result
    sys.stdout.write(
        f"{r.policy}: {r.start} + {r.days} days, review every {r.review_days} days"
        + (f", min/max safety stock x{r.minmax_scale:g}" if r.minmax_scale is not None else "")
        + f" ({r.seconds:.0f} s)\n"
        f"  fill rate {r.fill_rate:.2%} ({r.served_units:,} of {r.demand_units:,} units), "
        f"stock-out days {r.stockout_days:,}, lost sales {r.lost_units:,} units "
        f"({r.lost_value:,.0f})\n"
        f"  average inventory value {r.avg_inventory_value:,.0f}\n"
        f"  cost: holding {r.holding_cost:,.0f}, transport {r.transport_cost:,.0f}, handling "
        f"{r.handling_cost:,.0f}, ordering {r.ordering_cost:,.0f}\n"
        f"  {r.transfers:,} transfers ({r.lateral_transfers:,} between neighbours), "
        f"{r.orders:,} orders\n"
    )
    return 0


def _auto_summary(auto) -> str:
    """One line: what the approval policy decided after a run."""
    kept = ", ".join(f"{n} {why}" for why, n in sorted(auto.kept_by.items()))
    return (
        f"policy {auto.policy}: {len(auto.approved):,} approved, {auto.left_to_people:,} left "
        "to people" + (f" (kept by {kept})" if kept else "")
    )


def cmd_exceptions(args: argparse.Namespace) -> int:
    import polars as pl

    from control_tower import exceptions
    from control_tower.errors import NotFoundError

    unknown = sorted(set(args.rule or []) - set(exceptions.RULES))
    if unknown:
        raise NotFoundError(
            f"unknown rule {', '.join(unknown)}; rules are {', '.join(exceptions.RULES)}"
        )
    settings = load_settings()
    with _open(args) as store:
        if args.dry_run:
            result = exceptions.detect(store, settings, as_of=args.as_of)
        else:
            result = exceptions.run_exceptions(
                store,
                settings,
                as_of=args.as_of,
                created_by=_actor_name(args),
                auto_approve=not args.no_auto_approve,
            )
    items = result.items
    if args.rule:
        items = items.filter(pl.col("rule").is_in(args.rule))
    if args.location:
        items = items.filter(pl.col("location").is_in(args.location))
    if args.format == "json":
        payload = {
            "run_id": result.run_id,
            "as_of": result.as_of,
            "plan_run": result.plan_run,
            "forecast_run": result.forecast_run,
            "raised": result.raised,
            "approved_by_policy": result.auto.approved if result.auto else [],
            "left_to_people": result.auto.left_to_people if result.auto else None,
            "exceptions": [
                {
                    **row,
                    "facts": json.loads(row["facts"]),
                    "action_ids": json.loads(row["action_ids"] or "[]"),
                }
                for row in items.head(args.top).to_dicts()
            ],
        }
        sys.stdout.write(json.dumps(payload, indent=2, default=str, ensure_ascii=False) + "\n")
        return 0
    by_rule = items.group_by("rule").agg(pl.len(), pl.col("value_at_risk").sum()).sort("rule")
    stored = f"run {result.run_id}" if result.run_id is not None else "not stored"
    sys.stdout.write(
        f"exceptions as of {result.as_of} ({stored}): {items.height} raised in "
        f"{result.seconds:.2f} s\n"
    )
    for rule, count, value in by_rule.iter_rows():
        sys.stdout.write(f"  {rule:<20}{count:>7,}  value at risk {value:,.0f}\n")
    if result.auto is not None:
        sys.stdout.write(f"  {_auto_summary(result.auto)}\n")
    for row in items.head(args.top).iter_rows(named=True):
        sys.stdout.write(
            f"{row['severity']:>12,.0f}  {row['title']}\n              {row['detail']}\n"
        )
    return 0


ACTION_FIELDS = (
    "action_id",
    "kind",
    "status",
    "sku",
    "from_location",
    "supplier",
    "to_location",
    "quantity",
    "ship_date",
    "arrival_date",
    "proposed_by",
    "target",
    "targets",
)


def _action_line(a: dict) -> str:
    source = a["from_location"] or a["supplier"] or ""
    return (
        f"{a['action_id']:>7}  {a['status']:<10} {a['kind']:<18} {a['quantity']:>9,} "
        f"{a['sku']:<10} {source:>8} -> {a['to_location']:<8} arrives {a['arrival_date']}"
    )


def cmd_actions(args: argparse.Namespace) -> int:
    """Decide and carry out drafted actions from a script, as a named local user: the same
    services, role checks and audit trail as the dashboard."""
    from control_tower import actions, users

    settings = load_settings()
    verb = args.actions_command
    with _open(args) as store:
        if verb == "list":
            frame = actions.list_actions(
                store, statuses=args.status, sku=args.sku, location=args.location
            ).head(args.limit)
            if args.format == "json":
                rows = frame.select(list(ACTION_FIELDS)).to_dicts()
                sys.stdout.write(json.dumps(rows, default=str, ensure_ascii=False) + "\n")
            else:
                sys.stdout.write(f"{frame.height:,} actions\n")
                for a in frame.iter_rows(named=True):
                    sys.stdout.write(_action_line(a) + "\n")
            return 0
        if verb == "show":
            action = actions.get_action(store, args.id)
            trail = actions.action_history(store, args.id)
            if args.format == "json":
                payload = {
                    **{k: action[k] for k in ACTION_FIELDS},
                    "explanation": action["explanation"],
                    "history": trail.select(
                        "occurred_at", "actor", "from_status", "to_status", "reason"
                    ).to_dicts(),
                }
                sys.stdout.write(
                    json.dumps(payload, default=str, ensure_ascii=False, indent=2) + "\n"
                )
            else:
                sys.stdout.write(_action_line(action) + "\n")
                sys.stdout.write(f"  {actions.describe(action)}\n")
                for line in (action["explanation"] or "").splitlines():
                    sys.stdout.write(f"  {line}\n")
                for e in trail.iter_rows(named=True):
                    sys.stdout.write(
                        f"  {e['occurred_at']:%Y-%m-%d %H:%M} {e['actor']}: {e['from_status']} "
                        f"-> {e['to_status']}" + (f" ({e['reason']})" if e["reason"] else "") + "\n"
                    )
            return 0
        actor = users.local_actor(
            store, _actor_name(args), demo_users=settings.auth.demo_users or args.demo_users
        )
        results = []
        for action_id in args.ids:
            try:
                if verb == "approve":
                    done = actions.approve(store, action_id, actor, args.reason, settings=settings)
                elif verb == "reject":
                    done = actions.reject(store, action_id, actor, args.reason)
                elif verb == "post":
                    done = actions.post(store, action_id, actor, committed_date=args.committed)
                else:
                    done = actions.receive(store, action_id, actor)
                results.append({"action_id": action_id, "status": done["status"], "error": None})
            except ControlTowerError as exc:
                results.append({"action_id": action_id, "status": None, "error": exc.detail})
    if args.format == "json":
        sys.stdout.write(json.dumps(results, ensure_ascii=False) + "\n")
    else:
        for r in results:
            outcome = r["status"] or f"refused: {r['error']}"
            sys.stdout.write(f"action {r['action_id']}: {outcome}\n")
    return 0 if all(r["error"] is None for r in results) else 2


def cmd_users(args: argparse.Namespace) -> int:
    import getpass

    from control_tower import users

    by = _actor_name(args) if args.users_command != "list" else ""
    with _open(args) as store:
        if args.users_command == "add":
            if args.password_stdin:
                password = sys.stdin.readline().rstrip("\n")
            else:
                password = getpass.getpass(f"password for {args.username}: ")
                if getpass.getpass("again: ") != password:
                    raise users.UserError("the two passwords differ")
            users.add_user(
                store,
                args.username,
                args.role,
                password,
                display_name=args.name,
                by=by,
                supplier=args.supplier,
            )
            sys.stdout.write(f"added {args.username} ({args.role})\n")
        elif args.users_command in ("disable", "enable"):
            users.set_disabled(
                store,
                args.username,
                args.users_command == "disable",
                by=by,
            )
            sys.stdout.write(f"{args.users_command}d {args.username}\n")
        else:
            table = users.list_users(store)
            if args.format == "json":
                sys.stdout.write(table.write_json() + "\n")
            else:
                for name, display, role, supplier, disabled, created, by in table.iter_rows():
                    state = "disabled" if disabled else "active"
                    whose = f" of {supplier}" if supplier else ""
                    sys.stdout.write(
                        f"{name:<24}{role:<10}{state:<10}{display}{whose}  (added "
                        f"{created:%Y-%m-%d} by {by})\n"
                    )
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from control_tower import reports

    with _open(args) as store:
        report = reports.write_report(
            store,
            Path(args.out),
            args.format,
            min_severity=args.severity,
            locations=args.location,
            rules=args.rule,
        )
    sys.stdout.write(f"{report.height:,} exceptions written to {args.out}\n")
    return 0


def cmd_ask(args: argparse.Namespace) -> int:
    """One question to the agent: the answer, the tool calls and the facts used."""
    from agents.agent import ask  # the LLM layer, loaded only for this command
    from control_tower import users
    from control_tower.actions import Actor

    settings = load_settings()
    with _open(args) as store:
        if args.actor:  # a local user, with its role (a supplier user sees only its own)
            actor = users.local_actor(
                store, args.actor, demo_users=settings.auth.demo_users or args.demo_users
            )
        else:  # reading only: the operating-system user, as a viewer
            actor = Actor(_actor_name(args), "viewer")
        answer = ask(
            store,
            args.question,
            settings=settings,
            actor=actor,
            use_model=not args.no_model,
            session=args.session,
        )
    if args.format == "json":
        sys.stdout.write(json.dumps(answer.as_dict(), default=str, ensure_ascii=False) + "\n")
        return 0
    out = [answer.text, "", f"model: {answer.model} ({answer.reasoning}); {answer.seconds:.1f} s"]
    if answer.note:
        out.append(f"note: {answer.note}")
    out.append("tool calls:")
    for c in answer.calls:
        args_text = json.dumps(
            {k: v for k, v in c.args.items() if v is not None}, ensure_ascii=False
        )
        out.append(f"  {c.tool}({args_text})" + (f": refused: {c.error}" if c.error else ""))
    out.append("facts:")
    out += [f"  - {f}" for f in answer.facts]
    sys.stdout.write("\n".join(out) + "\n")
    return 0


def _progress_bar(args: argparse.Namespace, unit: str = "day"):
    """A tqdm bar on stderr when it is a terminal (or --verbose)."""
    if not (sys.stderr.isatty() or getattr(args, "verbose", False)):
        return None
    from tqdm import tqdm

    bar = tqdm(total=1, unit=unit, file=sys.stderr)

    def update(done: int, total: int, stage: str) -> None:
        bar.total = total
        bar.set_description(stage)
        bar.n = done
        bar.refresh()

    return update


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (expected YYYY-MM-DD): {text!r}") from None


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be greater than zero: {text!r}")
    return value


def build_parser() -> argparse.ArgumentParser:
    from control_tower.ingest.schemas import ENTITIES

    settings = load_settings()
    parser = argparse.ArgumentParser(
        prog="control-tower",
        description="Control Tower: stock visibility, forecasts and planning for a "
        "supply-chain network.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress details")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser(
        "import",
        help="import a CSV, Parquet or Excel file",
        description="Import one entity's file. A file with any bad row writes "
        "nothing and lists the problems. Entities: "
        + ", ".join(ENTITIES)
        + ". Columns: `control-tower schemas`.",
    )
    _db_arg(p)
    p.add_argument("entity", choices=ENTITIES, help="what the file holds")
    p.add_argument("file", help="path to a .csv, .parquet or .xlsx file")
    p.add_argument(
        "--max-errors",
        type=_positive,
        default=settings.import_error_limit,
        help="problems to list before counting the rest (default %(default)s)",
    )
    p.set_defaults(func=cmd_import)

    p = sub.add_parser(
        "import-folder",
        help="import every entity file of a folder at once",
        description="Import {entity}.csv/.parquet/.xlsx files of a folder in one "
        "transaction, for files that depend on each other.",
    )
    _db_arg(p)
    p.add_argument("folder", help="folder holding e.g. locations.csv, products.csv, ledger.csv")
    p.add_argument("--max-errors", type=_positive, default=settings.import_error_limit)
    p.set_defaults(func=cmd_import_folder)

    d = settings.demo
    p = sub.add_parser(
        "demo",
        help="build the demo network database",
        description="Generate a realistic demo network (Chinese cities, "
        "seasonality, festivals, imbalances) and import it; then run a first cycle as "
        "demo.planner (a forecast with the backtested baselines only, a plan, the exception "
        "rules) and decide a few proposals as the demo users.",
    )
    _db_arg(p)
    p.add_argument("--skus", type=_positive, default=d.skus, help="number of SKUs (%(default)s)")
    p.add_argument(
        "--locations",
        type=_positive,
        default=d.locations,
        help="central + regional DCs (%(default)s)",
    )
    p.add_argument("--days", type=_positive, default=d.days, help="days of history (%(default)s)")
    p.add_argument("--seed", type=int, default=d.seed, help="random seed (%(default)s)")
    p.add_argument("--force", action="store_true", help="replace an existing file")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument(
        "--data-only",
        action="store_true",
        help="only the data: no first forecast, plan, exception run or decisions",
    )
    p.add_argument(
        "--out",
        metavar="DIR",
        help="write the demo as one file per entity to DIR instead of a database",
    )
    p.add_argument("--out-format", choices=["csv", "parquet"], default="csv")
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser(
        "position",
        help="stock position per SKU x location",
        description="One row per SKU x location: on hand, in transit, on order, "
        "days of cover, stock value, ...",
    )
    _db_arg(p)
    p.add_argument("--format", choices=["table", "csv", "json"], default="table")
    p.add_argument("--as-of", type=_date, help="position at the end of this day (YYYY-MM-DD)")
    p.add_argument("--sku", action="append", help="only this SKU (repeatable)")
    p.add_argument("--location", action="append", help="only this location (repeatable)")
    p.add_argument("--category", help="only this category")
    p.add_argument("--limit", type=_positive, default=50, help="rows shown as a table")
    p.set_defaults(func=cmd_position)

    p = sub.add_parser(
        "kpis",
        help="network KPIs as JSON",
        description="Inventory value, turnover, fill rate, stock-out days, dead "
        "stock and the health index, with the previous period.",
    )
    _db_arg(p)
    p.add_argument("--as-of", type=_date, help="end of the period (YYYY-MM-DD)")
    p.add_argument("--period-days", type=_positive, default=30)
    p.set_defaults(func=cmd_kpis)

    p = sub.add_parser(
        "freshness",
        help="when each source was last imported",
        description="Last import, rows and data date range of each entity.",
    )
    _db_arg(p)
    p.set_defaults(func=cmd_freshness)

    p = sub.add_parser(
        "schemas",
        help="print or write the import file schemas",
        description="Print the import columns as Markdown, or write JSON schemas.",
    )
    p.add_argument("--write", metavar="DIR", help="write one JSON schema per entity to DIR")
    p.set_defaults(func=cmd_schemas)

    fs = settings.forecast
    p = sub.add_parser(
        "forecast",
        help="forecast demand per SKU x location and store the run",
        description="Classify each series, backtest Prophet and the baselines, keep the best "
        "within the bias limit, and store mean and quantiles for the horizon. Only history up "
        "to the as-of date is used; unchanged series reuse their last fit.",
    )
    _db_arg(p)
    p.add_argument("--horizon", type=_positive, default=fs.horizon, help="days ahead")
    p.add_argument("--as-of", type=_date, help="last day of history used (default: the latest)")
    p.add_argument("--skus", nargs="+", metavar="SKU", help="only these SKUs")
    p.add_argument("--locations", nargs="+", metavar="LOC", help="only these locations")
    p.add_argument("--workers", type=_positive, default=fs.workers, help="processes")
    _actor_arg(p)
    p.set_defaults(func=cmd_forecast)

    p = sub.add_parser(
        "forecast-export",
        help="write a forecast run to CSV",
        description="Columns: sku, location, date, mean, p50, p90, p95, p99, method.",
    )
    _db_arg(p)
    p.add_argument("--run", default="latest", help="run id, or 'latest'")
    p.add_argument("--out", required=True, metavar="FILE.csv")
    p.set_defaults(func=cmd_forecast_export)

    p = sub.add_parser(
        "backtest",
        help="held-out accuracy of the pipeline against single methods",
        description="Forecast the last HORIZON days from the data before them, at several "
        "origins, and print weighted RMSSE (M5), WAPE and bias per method, with seasonal "
        "naive as the reference.",
    )
    _db_arg(p)
    p.add_argument("--horizon", type=_positive, default=28)
    p.add_argument("--origins", type=_positive, default=3)
    p.add_argument("--as-of", type=_date, help="end of the last backtest window")
    p.add_argument("--skus", nargs="+", metavar="SKU", help="only these SKUs")
    p.add_argument("--locations", nargs="+", metavar="LOC", help="only these locations")
    p.add_argument("--workers", type=_positive, default=fs.workers, help="processes")
    p.set_defaults(func=cmd_backtest)

    p = sub.add_parser(
        "plan",
        help="plan transfers and supplier orders at least cost and store the run",
        description="Read stock, inbound, forecasts, policies, lanes and suppliers as of a day, "
        "solve with OR-Tools and store the plan; each line of a base plan becomes a proposed "
        "action. What-if options change the inputs; a what-if run proposes nothing. Exit code "
        "3: no plan (infeasible, time limit).",
    )
    _db_arg(p)
    p.add_argument("--as-of", type=_date, help="plan as of this day (default: the latest)")
    p.add_argument("--forecast-run", type=int, help="demand from this forecast run")
    p.add_argument("--skus", nargs="+", metavar="SKU", help="only these SKUs")
    p.add_argument("--horizon", type=_positive, help="days planned")
    p.add_argument("--mode", choices=["auto", "decomposed", "coupled"])
    p.add_argument("--service-level", type=float, help="what-if: every class's target")
    p.add_argument("--delay", nargs="+", metavar="SUPPLIER=DAYS", help="what-if: later deliveries")
    p.add_argument("--lane-cost", nargs="+", metavar="FROM>TO=FACTOR", help="what-if: lane cost")
    p.add_argument(
        "--close", nargs="+", metavar="LOC", help="what-if: sites that neither ship nor receive"
    )
    p.add_argument("--base-run", type=int, help="the plan run a what-if is compared with")
    p.add_argument("--dry-run", action="store_true", help="print the plan, store nothing")
    p.add_argument("--format", choices=["table", "json"], default="table")
    _actor_arg(p)
    p.set_defaults(func=cmd_plan)

    p = sub.add_parser(
        "cycle",
        help="forecast, plan and run the exception rules, in that order",
        description="One planning cycle: a forecast (not made again when no series changed "
        "since the last run), a plan on it (its lines proposed as actions) and the exception "
        "rules (linked to the plan's proposals), each stored under --as NAME. Stops at the "
        "first step that fails, with exit code 2 (3: the plan has no solution).",
    )
    _db_arg(p)
    _actor_arg(p)
    p.add_argument(
        "--baselines-only",
        action="store_true",
        help="forecast with the backtested baselines only, without Prophet: seconds instead "
        "of minutes (the run records it)",
    )
    p.set_defaults(func=cmd_cycle)

    p = sub.add_parser(
        "simulate",
        help="replay a past period day by day under a replenishment policy",
        description="Start from the stock and inbound recorded the evening before START and "
        "serve each day's actual demand. optimizer: re-plan every REVIEW_DAYS with a forecast "
        "made as of that day; minmax: an ERP's reorder point / max level rules (no lateral "
        "transfers); none: nothing ordered. Supplier lead times are drawn from their spread. "
        "Works on a copy of the database.",
    )
    _db_arg(p)
    p.add_argument("--policy", choices=["optimizer", "minmax", "none"], required=True)
    p.add_argument("--start", type=_date, required=True, help="first day replayed")
    p.add_argument("--days", type=_positive, required=True)
    p.add_argument("--review-days", type=_positive, help="days between reviews (default 7)")
    p.add_argument(
        "--forecast-days", type=_positive, help="days between forecasts (default: each review)"
    )
    p.add_argument("--minmax-scale", type=float, default=1.0, help="min/max safety stock factor")
    p.add_argument("--seed", type=int, default=0, help="lead-time draws")
    p.add_argument("--format", choices=["table", "json"], default="table")
    p.set_defaults(func=cmd_simulate)

    p = sub.add_parser(
        "exceptions",
        help="run the exception rules and store the run",
        description="Projected stock-outs, below safety stock, excess, dead stock, late "
        "inbound, demand beyond the forecast's p99 and data problems, ranked by severity "
        "(value at risk x urgency). Thresholds in [exceptions] and [position].",
    )
    _db_arg(p)
    p.add_argument("--as-of", type=_date, help="as of the end of this day (default: the data's)")
    p.add_argument(
        "--rule",
        nargs="+",
        help="show only these rules (stockout, below_safety_stock, excess, dead_stock, "
        "late_inbound, demand_anomaly, data_quality)",
    )
    p.add_argument("--location", nargs="+", help="show only these locations")
    p.add_argument("--top", type=_positive, default=20, help="exceptions listed (default 20)")
    p.add_argument("--dry-run", action="store_true", help="detect, store nothing")
    p.add_argument(
        "--no-auto-approve",
        action="store_true",
        help="leave every proposal to people (default: the [actions.auto_approve] policy "
        "approves the routine ones after the run)",
    )
    p.add_argument("--format", choices=["table", "json"], default="table")
    _actor_arg(p)
    p.set_defaults(func=cmd_exceptions)

    p = sub.add_parser(
        "ask",
        help="ask the agent a question",
        description="Answer a question from the data, in the question's language: the "
        "question is understood in code and answered from read-only tools (or, with a "
        "tool-calling endpoint in [agent], the model calls them), keeping only figures the "
        "tools gave. Prints the answer, the tool calls and the facts used.",
    )
    _db_arg(p)
    _actor_arg(p)
    p.add_argument("question", help="the question, in English or Chinese")
    p.add_argument("--format", choices=["text", "json"], default="text")
    p.add_argument("--no-model", action="store_true", help="composed from the tools, no model")
    p.add_argument(
        "--session",
        metavar="NAME",
        help='a conversation: a follow-up ("and in Wuhan?") builds on this session\'s '
        "previous question",
    )
    p.add_argument("--demo-users", action="store_true", help="--as may name a demo user")
    p.set_defaults(func=cmd_ask)

    p = sub.add_parser(
        "report",
        help="write the latest exception run as CSV, Excel or PDF",
        description="The latest run's exceptions, most severe first, with value at risk, the "
        "drafted actions and their status. Excel: a summary sheet, every exception, a sheet "
        "per rule. Cells a spreadsheet would read as formulas are written as text.",
    )
    _db_arg(p)
    p.add_argument("--format", choices=["csv", "xlsx", "pdf"], required=True)
    p.add_argument("--out", required=True, help="the file to write")
    p.add_argument("--severity", type=float, default=0.0, help="only severity at least this")
    p.add_argument("--location", nargs="+", help="only these locations")
    p.add_argument("--rule", nargs="+", help="only these rules")
    p.set_defaults(func=cmd_report)

    p = sub.add_parser(
        "actions",
        help="list, show, approve, reject, post or receive drafted actions",
        description="Decide and carry out drafted actions from a script, as a named local "
        "user (--as NAME: a user added with `users add`, whose role bounds what it may do; "
        "every change is in the audit trail under that name). Exits 2 when any action was "
        "refused, saying why per action.",
    )
    _db_arg(p)
    _actor_arg(p)
    p.add_argument(
        "--demo-users", action="store_true", help="also act as a demo user (demo.approver...)"
    )
    p.add_argument("--format", choices=["table", "json"], default="table")
    actions_sub = p.add_subparsers(dest="actions_command", required=True)
    q = actions_sub.add_parser("list", help="actions, newest first")
    q.add_argument("--status", nargs="+", help="proposed, approved, rejected, posted, closed...")
    q.add_argument("--sku")
    q.add_argument("--location", help="either end")
    q.add_argument("--limit", type=_positive, default=100)
    q = actions_sub.add_parser("show", help="one action, its explanation and its trail")
    q.add_argument("id", type=_positive)
    for name, text in (
        ("approve", "approve proposed actions (re-checked: stale data, the source's stock)"),
        ("reject", "reject proposed actions, with a reason"),
        ("post", "carry out approved actions (a transfer leaves, an order is placed)"),
        ("receive", "book the arrival of posted actions"),
    ):
        q = actions_sub.add_parser(name, help=text)
        q.add_argument("ids", type=_positive, nargs="+", metavar="ID")
        if name in ("approve", "reject"):
            q.add_argument("--reason", required=name == "reject")
        if name == "post":
            q.add_argument(
                "--committed",
                type=_date,
                help="an expedite: the date the supplier committed to (default: as asked)",
            )
    p.set_defaults(func=cmd_actions)

    p = sub.add_parser(
        "users",
        help="manage the local users (when no OpenID Connect provider is configured)",
        description="Local users sign in to the dashboard with a password (stored as a salted "
        "scrypt hash). Roles: viewer, planner (proposes and edits actions), approver (approves "
        "and rejects), admin.",
    )
    _db_arg(p)
    _actor_arg(p)
    users_sub = p.add_subparsers(dest="users_command", required=True)
    q = users_sub.add_parser("add", help="add a user (asks for the password)")
    q.add_argument("username")
    q.add_argument(
        "--role", choices=["viewer", "planner", "approver", "admin", "supplier"], required=True
    )
    q.add_argument("--supplier", help="a supplier user: the supplier code it speaks for")
    q.add_argument("--name", help="display name")
    q.add_argument(
        "--password-stdin", action="store_true", help="read the password from standard input"
    )
    q = users_sub.add_parser("list", help="list the users")
    q.add_argument("--format", choices=["table", "json"], default="table")
    q = users_sub.add_parser("disable", help="stop a user from signing in")
    q.add_argument("username")
    q = users_sub.add_parser("enable", help="let a disabled user sign in again")
    q.add_argument("username")
    p.set_defaults(func=cmd_users)

    p = sub.add_parser(
        "dashboard",
        help="start the dashboard (builds the demo when no database)",
        description="Start the Streamlit dashboard on the database; when the file "
        "does not exist, build the demo network into it first.",
    )
    _db_arg(p)
    p.add_argument("--port", type=_positive, default=8501)
    p.add_argument(
        "--demo-users",
        action="store_true",
        help="let anyone pick a demo user (viewer, planner, approver, admin, or a supplier's "
        "portal user) without a password: for demos only",
    )
    p.add_argument("--skus", type=_positive, default=d.skus)
    p.add_argument("--locations", type=_positive, default=d.locations)
    p.add_argument("--days", type=_positive, default=d.days)
    p.add_argument("--seed", type=int, default=d.seed)
    p.set_defaults(func=cmd_dashboard)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    try:
        parser = build_parser()
    except ControlTowerError as exc:
        sys.stderr.write(f"{exc.title}\n{exc.detail}\n")
        return 2
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    try:
        return int(args.func(args) or 0)
    except ControlTowerError as exc:
        sys.stderr.write(f"{exc.title}\n{exc.detail}\n")
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
