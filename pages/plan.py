"""Plan: run the optimizer with progress, read the proposed transfers and orders (each with
its reason and the alternatives it beat), see the flows between locations and the cost
breakdown, compare what-ifs with the base plan, and replay past weeks to compare the
optimizer with min/max reorder rules."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta

import polars as pl
import streamlit as st

from control_tower import actions, optimize, simulate
from control_tower.cycle import save_plan_as
from control_tower.errors import ControlTowerError
from ui import auth, plan_charts, state
from ui.charts import PLOT_CONFIG
from ui.entry import through_app
from ui.errors import reported, show_error
from ui.format import plain
from ui.widgets import keep_choice, keyed_table

through_app()  # a deep link as a server's first request: run the app around it

st.title("Plan")

NUMBER = st.column_config.NumberColumn
LINE_COLUMNS = {
    "line_no": NUMBER("line"),
    "kind": "kind",
    "source_kind": "source",
    "sku": "SKU",
    "from_location": "from",
    "to_location": "to",
    "supplier": "supplier",
    "quantity": NUMBER("quantity", format="localized"),
    "ship_date": st.column_config.DateColumn("ships / ordered"),
    "arrival_date": st.column_config.DateColumn("arrives"),
    "release_now": st.column_config.CheckboxColumn("now", help="before the next review"),
    "cost": NUMBER("cost", format="%.2f"),
    "reason": st.column_config.TextColumn("why", width="large"),
}
STATUS_BOX = {"optimal": st.success, "feasible": st.warning}


def _progress(bar):
    def update(done: int, total: int, stage: str) -> None:
        bar.progress(min(done / max(total, 1), 1.0), text=f"{stage}: {done:,} of {total:,}")

    return update


def _run_label(row: dict) -> str:
    created = row["created_at"].strftime("%Y-%m-%d %H:%M")
    return f"run {row['run_id']} · as of {row['as_of']} · {row['status']} · {created}"


with reported():
    store = state.store_with_data()
    settings = state.get_settings()
    actor = auth.current_actor()
    may_plan = actor is not None and actor.role in actions.CAN["propose"]

    with st.expander("Run a plan", expanded=False, icon=":material/play_arrow:"):
        if not may_plan:
            st.caption(
                "Sign in as a planner (sidebar) to run a plan: its lines are proposed as "
                "actions under your name."
            )
        with st.form("plan_run_form"):
            left, right = st.columns(2)
            horizon = left.number_input(
                "Horizon (days)", 7, 364, settings.optimizer.horizon_days, key="plan_horizon"
            )
            mode = right.selectbox(
                "Solve",
                ["auto", "decomposed", "coupled"],
                help="decomposed: a min-cost flow per SKU; coupled: one MIP over all SKUs "
                "(small networks); auto picks by size",
                key="plan_mode",
            )
            go_plan = st.form_submit_button(
                "Run plan", icon=":material/play_arrow:", disabled=not may_plan
            )
        if go_plan and may_plan:
            chosen = settings.model_copy(
                update={
                    "optimizer": settings.optimizer.model_copy(
                        update={"horizon_days": int(horizon), "mode": mode}
                    )
                }
            )
            bar = st.progress(0.0, text="reading stock, forecasts and policies")
            try:
                result = optimize.plan(store, chosen, progress=_progress(bar))
                run_id = save_plan_as(store, result, chosen, actor.name)
            except ControlTowerError as exc:
                show_error(exc)
            else:
                st.session_state["plan_run"] = run_id
                st.session_state["plan_done"] = f"Plan run {run_id}: {result.summary()}"
                st.rerun()
    done = st.session_state.pop("plan_done", None)
    if done:
        st.success(plain(done), icon=":material/check_circle:")

    runs = optimize.list_plan_runs(store, limit=200)
    base_runs = runs.filter(pl.col("base_run").is_null() & (pl.col("what_if") == "{}"))
    if base_runs.is_empty():
        st.info(
            "**No plan yet.** Run one above: it reads stock, inbound, the latest forecast and "
            "the policies, and proposes transfers and supplier orders at least total cost."
        )
        st.stop()
    labels = {row["run_id"]: _run_label(row) for row in base_runs.iter_rows(named=True)}
    keep_choice("plan_run", list(labels))
    run_id = st.selectbox("Plan run", list(labels), format_func=labels.get, key="plan_run")
    run = optimize.get_plan_run(store, run_id)
    box = STATUS_BOX.get(run["status"], st.error)
    box(plain(optimize.status_text(run)))
    if run["forecast_run"] is None:
        st.warning(
            "**Planned without a forecast.** Each series' demand is its recent mean: no "
            "seasonality, festivals or trend. Run a forecast (Forecasts page, or "
            "`control-tower cycle`) and plan again.",
            icon=":material/warning:",
        )
    st.caption(
        f"{plain(run['method'])}. {run['sku_count']:,} SKUs x {run['location_count']} locations "
        f"x {run['horizon']} days; forecast run {run['forecast_run'] or 'none (history)'}; "
        f"run by {plain(run['created_by'])}; "
        f"read {run['build_s']:.1f} s, solved in {run['solve_s']:.1f} s."
        + (f" {plain(run['message'])}" if run["message"] and run["status"] != "infeasible" else "")
    )
    if run["notes"]:
        st.caption("Notes: " + "; ".join(plain(note) for note in run["notes"]) + ".")
    kpis, costs = run["kpis"], run["costs"]
    cols = st.columns(5)
    cols[0].metric("Planned fill rate", f"{kpis['fill_rate']:.1%}")
    cols[1].metric(
        "Transfers",
        f"{kpis['transfers']:,}",
        f"{kpis['lateral_transfers']:,} between neighbours",
        delta_color="off",
    )
    cols[2].metric("Supplier orders", f"{kpis['orders']:,}")
    cols[3].metric("Total cost", f"{costs['total']:,.0f}")
    cols[4].metric("Average inventory value", f"{kpis['avg_inventory_value']:,.0f}")

    lines_tab, flows_tab, cost_tab, what_if_tab, policy_tab = st.tabs(
        ["Proposed lines", "Flows", "Cost", "What-if", "Policies compared"]
    )

    with lines_tab:
        lines = optimize.load_plan_lines(store, run_id)
        if lines.is_empty():
            st.info("This run proposes no line.")
        else:
            f1, f2, f3, f4 = st.columns(4)
            now_only = f1.toggle("Only to carry out now", value=True, key="plan_now_only")
            kinds = f2.multiselect("Kind", ["transfer", "order"], key="plan_kinds")
            where = f3.selectbox(
                "Location", ["all", *sorted(lines["to_location"].unique())], key="plan_location"
            )
            sku_text = f4.text_input("SKU contains", key="plan_sku").strip().upper()
            shown = lines
            if now_only:
                shown = shown.filter(pl.col("release_now"))
            if kinds:
                shown = shown.filter(pl.col("kind").is_in(kinds))
            if where != "all":
                shown = shown.filter(
                    (pl.col("to_location") == where) | (pl.col("from_location") == where)
                )
            if sku_text:
                shown = shown.filter(
                    pl.col("sku").str.to_uppercase().str.contains(sku_text, literal=True)
                )
            st.caption(f"{shown.height:,} of {lines.height:,} lines")
            keyed_table(
                shown.select(list(LINE_COLUMNS)), key="plan_lines", column_config=LINE_COLUMNS
            )
            if shown.height:
                options = shown["line_no"].to_list()[:500]
                keep_choice("plan_line", options)
                line_no = st.selectbox("Explain line", options, key="plan_line")
                line = shown.filter(pl.col("line_no") == line_no).row(0, named=True)
                source = line["from_location"] or line["supplier"]
                st.markdown(
                    f"**{plain(line['sku'])}**: {line['quantity']:,} units from "
                    f"**{plain(source)}** to **{plain(line['to_location'])}**, leaving "
                    f"{line['ship_date']}, arriving {line['arrival_date']}. {plain(line['reason'])}."
                )
                alternatives = pl.DataFrame(json.loads(line["alternatives"]))
                if not alternatives.is_empty():
                    keyed_table(
                        alternatives.select(
                            "source",
                            "source_kind",
                            "cost_per_unit",
                            "arrival_date",
                            "spare_stock",
                            "verdict",
                        ),
                        key="plan_alternatives",
                        column_config={"cost_per_unit": NUMBER("cost per unit", format="%.2f")},
                    )

    with flows_tab:
        now_flows = st.toggle(
            "Only what leaves before the next review", value=True, key="plan_flows_now"
        )
        flows = optimize.plan_flows(store, run_id, release_only=now_flows)
        st.plotly_chart(
            plan_charts.flow_figure(optimize.plan_locations(store), flows),
            config=PLOT_CONFIG,
            key="plan_flow_chart",
        )
        keyed_table(
            flows, key="plan_flows", column_config={"value": NUMBER("value", format="localized")}
        )

    with cost_tab:
        st.plotly_chart(
            plan_charts.cost_figure({f"run {run_id}": costs}),
            config=PLOT_CONFIG,
            key="plan_cost_chart",
        )
        keyed_table(
            pl.DataFrame({"item": list(costs), "cost": [round(v, 2) for v in costs.values()]}),
            key="plan_costs",
        )
        st.caption(
            "Shortage: demand not served at its price plus the costliest delivery; below safety "
            "stock: a share of that per unit and week under the policy's safety stock; holding, "
            "transport (per unit and per departure), ordering (per order line) and handling "
            "(per transfer line) as incurred."
        )

    with what_if_tab:
        choices = optimize.plan_choices(store)
        with st.form("plan_what_if"):
            a, b = st.columns(2)
            use_level = a.checkbox("Change every service level", key="plan_wi_use_level")
            level = a.slider(
                "Service level", 0.80, 0.999, 0.98, 0.001, format="%.3f", key="plan_wi_level"
            )
            closed = b.multiselect("Closed locations", choices["locations"], key="plan_wi_closed")
            c, d = st.columns(2)
            supplier = c.selectbox(
                "Supplier delayed", ["none", *choices["suppliers"]], key="plan_wi_supplier"
            )
            delay = c.number_input("Days of delay", 0, 120, 7, key="plan_wi_delay")
            lane = d.selectbox("Lane repriced", ["none", *choices["lanes"]], key="plan_wi_lane")
            factor = d.number_input("Cost factor", 0.0, 20.0, 1.5, 0.1, key="plan_wi_factor")
            go_what_if = st.form_submit_button(
                "Re-plan and compare", icon=":material/compare_arrows:", disabled=not may_plan
            )
        if not may_plan:
            st.caption("Sign in as a planner to run a what-if.")
        if go_what_if and may_plan:
            what_if = optimize.WhatIf(
                service_level=level if use_level else None,
                supplier_delay_days={supplier: int(delay)} if supplier != "none" and delay else {},
                lane_cost_factor={lane: float(factor)} if lane != "none" else {},
                closed_locations=tuple(closed),
            )
            if what_if.is_empty():
                st.warning("Choose at least one change to compare.")
            else:
                bar = st.progress(0.0, text="re-planning")
                base_settings = settings.model_copy(
                    update={
                        "optimizer": settings.optimizer.model_copy(
                            update={"horizon_days": run["horizon"]}
                        )
                    }
                )
                try:
                    result = optimize.plan(
                        store,
                        base_settings,
                        as_of=run["as_of"],
                        skus=run["scope"],
                        what_if=what_if,
                        progress=_progress(bar),
                    )
                    other = save_plan_as(store, result, base_settings, actor.name, base_run=run_id)
                except ControlTowerError as exc:
                    show_error(exc)
                else:
                    st.session_state["plan_what_if_run"] = other
        what_ifs = runs.filter(pl.col("base_run") == run_id)
        fresh = st.session_state.get("plan_what_if_run")
        options = sorted(
            set(what_ifs["run_id"].to_list()) | ({fresh} if fresh else set()), reverse=True
        )
        if not options:
            st.caption("No what-if of this plan yet.")
        else:
            keep_choice("plan_what_if_pick", options)
            other = st.selectbox(
                "What-if run",
                options,
                format_func=lambda r: (
                    f"run {r}: "
                    + optimize.WhatIf(
                        **{
                            k: (tuple(v) if k == "closed_locations" else v)
                            for k, v in optimize.get_plan_run(store, r)["what_if"].items()
                        }
                    ).describe()
                ),
                key="plan_what_if_pick",
            )
            other_run = optimize.get_plan_run(store, other)
            STATUS_BOX.get(other_run["status"], st.error)(plain(optimize.status_text(other_run)))
            keyed_table(
                optimize.compare_runs(store, run_id, other),
                key="plan_compare",
                column_config={c: NUMBER(c, format="%.4g") for c in ("base", "what_if", "change")},
            )
            st.plotly_chart(
                plan_charts.cost_figure(
                    {f"base run {run_id}": costs, f"what-if run {other}": other_run["costs"]}
                ),
                config=PLOT_CONFIG,
                key="plan_compare_chart",
            )

    with policy_tab:
        st.caption(
            "Replays past days against the demand customers actually placed, from the stock "
            "recorded then: the optimizer (a forecast and a plan every review, no peeking), an "
            "ERP's min/max reorder rules (reorder point and max level from history, no lateral "
            "transfers; safety stock scaled to tune them) and doing nothing. The optimizer makes "
            "a forecast per review: several minutes for the demo."
        )
        _, last_day = simulate.demand_days(store)
        with st.form("plan_simulate"):
            a, b, c = st.columns(3)
            days = a.number_input("Days replayed", 7, 182, 56, key="plan_sim_days")
            start = b.date_input("First day", last_day - timedelta(days=55), key="plan_sim_start")
            review = c.number_input(
                "Review every (days)", 1, 28, settings.optimizer.review_days, key="plan_sim_review"
            )
            scales_text = st.text_input(
                "Min/max safety-stock scales", "1, 2, 3", key="plan_sim_scales"
            )
            with_optimizer = st.checkbox(
                "Include the optimizer", value=True, key="plan_sim_optimizer"
            )
            go_sim = st.form_submit_button("Replay", icon=":material/replay:")
        if go_sim:
            try:
                scales = [float(x) for x in scales_text.replace(";", ",").split(",") if x.strip()]
            except ValueError:
                st.error("Scales are numbers separated by commas, like 1, 2, 3.")
                scales = None
            if scales is not None:
                batch = uuid.uuid4().hex[:12]
                jobs = [("none", 1.0)] + [("minmax", s) for s in scales]
                jobs += [("optimizer", 1.0)] if with_optimizer else []
                bar = st.progress(0.0, text="replaying")
                try:
                    for n, (policy, scale) in enumerate(jobs, start=1):

                        def step(done, total, stage, n=n, policy=policy):
                            bar.progress(
                                min((n - 1 + done / max(total, 1)) / len(jobs), 1.0),
                                text=f"{policy} ({n} of {len(jobs)}): day {done} of {total}",
                            )

                        result = simulate.simulate(
                            store,
                            settings,
                            policy=policy,
                            start=start,
                            days=int(days),
                            review_days=int(review),
                            minmax_scale=scale,
                            progress=step,
                        )
                        simulate.save_simulation(store, result, batch=batch)
                except ControlTowerError as exc:
                    show_error(exc)
                else:
                    st.session_state["plan_sim_batch"] = batch
        replays = simulate.list_simulations(store)
        if replays.is_empty():
            st.caption("No replay yet.")
        else:
            batches = replays.select("batch", "start", "days").unique(maintain_order=True)
            labels = {
                r["batch"]: f"{r['start']} + {r['days']} days · batch {r['batch']}"
                for r in batches.iter_rows(named=True)
            }
            keep_choice("plan_sim_batch", list(labels))
            batch = st.selectbox(
                "Replay", list(labels), format_func=labels.get, key="plan_sim_batch"
            )
            chosen = replays.filter(pl.col("batch") == batch)
            st.plotly_chart(
                plan_charts.policy_figure(chosen), config=PLOT_CONFIG, key="plan_sim_frontier"
            )
            left, right = st.columns(2)
            left.plotly_chart(
                plan_charts.policy_bars(
                    chosen, "stockout_days", "stock-out days (SKU x location x day)"
                ),
                config=PLOT_CONFIG,
                key="plan_sim_stockouts",
            )
            right.plotly_chart(
                plan_charts.policy_bars(
                    chosen, "total_cost", "holding, transport, handling and ordering"
                ),
                config=PLOT_CONFIG,
                key="plan_sim_costs",
            )
            st.plotly_chart(
                plan_charts.daily_figure(simulate.simulation_daily(store, batch)),
                config=PLOT_CONFIG,
                key="plan_sim_daily",
            )
            keyed_table(
                chosen.select(
                    "policy",
                    "minmax_scale",
                    "fill_rate",
                    "stockout_days",
                    "lost_units",
                    "avg_inventory_value",
                    "holding_cost",
                    "transport_cost",
                    "handling_cost",
                    "ordering_cost",
                    "transfers",
                    "lateral_transfers",
                    "orders",
                ).with_columns(pl.col("fill_rate") * 100),
                key="plan_sim_table",
                column_config={
                    "fill_rate": NUMBER("fill rate", format="%.2f%%"),
                    "avg_inventory_value": NUMBER("avg inventory", format="localized"),
                },
            )
