"""Forecasts: pick a stored run; look at one SKU x location (history, forecast, bands,
holidays, the method and why, demand over lead times) or at a region, a category or the whole
network; the backtest accuracy per method and per demand class; start a new run."""

from __future__ import annotations

import os
from datetime import date, timedelta

import polars as pl
import streamlit as st

from control_tower import forecast as fc
from control_tower.actions import CAN, Actor
from control_tower.config import ForecastSettings
from control_tower.errors import ControlTowerError
from control_tower.forecast.service import MAX_HORIZON
from control_tower.forecast.service import data_as_of as last_demand_day
from control_tower.store import Store
from ui import auth, cached, state, tables
from ui.charts import PLOT_CONFIG
from ui.entry import through_app
from ui.errors import reported, show_error
from ui.forecast_charts import forecast_figure
from ui.format import formatted, plain
from ui.widgets import keep_choice, keyed_table

through_app()  # a deep link as a server's first request: run the app around it

st.title("Forecasts")

NUMBER = st.column_config.NumberColumn
TEXT = st.column_config.TextColumn
SERIES_VIEW = "SKU x location"
VIEWS = {SERIES_VIEW: "series", "Region": "region", "Category": "category", "Network": "network"}
HISTORY_DAYS = [56, 90, 180, 365, 730]

RMSSE_HELP = (
    "Root mean squared scaled error (M5): the backtest error scaled by the series' own "
    "day-to-day change. Lower is better; below 1 beats yesterday's demand as a forecast."
)
COLUMNS = {
    # runs
    "run_id": NUMBER("run", format="%d", pinned=True),
    "created_at": st.column_config.DatetimeColumn("created", format="YYYY-MM-DD HH:mm"),
    "as_of": st.column_config.DateColumn("as of", help="Only demand up to this day was used"),
    "horizon": NUMBER("horizon (days)", format="%d"),
    "series_count": NUMBER("series", format="localized", help="SKU x locations forecast"),
    "reused": NUMBER(
        "reused", format="localized", help="Series taken from an earlier run: same data, settings"
    ),
    "failures": NUMBER(
        "failures", format="localized", help="Series whose intended method failed (baseline used)"
    ),
    "duration_s": NUMBER("duration (s)", format="%.1f"),
    "executor": "executor",
    "workers": NUMBER("workers", format="%d"),
    "prophet_setting": TEXT("Prophet setting", help="The tuned Prophet configuration"),
    "scope": TEXT("scope", width="medium"),
    "created_by": TEXT("run by"),
    "note": TEXT("how it was made", width="large"),
    # leaderboards
    "method": "method",
    "series": NUMBER("series", format="localized"),
    "chosen": NUMBER("chosen for", format="localized", help="Series where this method was chosen"),
    "weighted_rmsse": NUMBER(
        "weighted RMSSE", format="%.3f", help=RMSSE_HELP + " Weighted by sales value."
    ),
    "median_rmsse": NUMBER("median RMSSE", format="%.3f", help=RMSSE_HELP),
    "median_wape": NUMBER(
        "median WAPE", format="%.1f%%", help="Sum of |forecast − actual| / sum of actual"
    ),
    "median_bias": NUMBER(
        "median bias",
        format="%+.1f%%",
        help="(forecast − actual) / actual: positive over-forecasts, negative under-forecasts",
    ),
    "demand_class": "demand class",
    "most_chosen": "most chosen method",
    # series
    "sku": TEXT("SKU", pinned=True),
    "name": TEXT("name", width="medium"),
    "location": "location",
    "reason": TEXT("why this method", width="large"),
    "rmsse": NUMBER("RMSSE", format="%.3f", help=RMSSE_HELP),
    "wape": NUMBER("WAPE", format="%.1f%%"),
    "bias": NUMBER("bias", format="%+.1f%%"),
    "adi": NUMBER("ADI", format="%.2f", help="Average days between demands"),
    "cv2": NUMBER("CV²", format="%.2f", help="Squared variation of the non-zero demands"),
    "history_days": NUMBER("history (days)", format="localized"),
    "weight": NUMBER("weight", format="%.0f", help="Sales value over the last 28 days"),
    "failure": TEXT("failure", width="large"),
    # tuning
    "config": "Prophet setting",
    # lead times
    "lead_time_days": NUMBER("lead time (days)", format="%d"),
    "through": st.column_config.DateColumn("through"),
    "cum_mean": NUMBER("expected demand", format="%.1f", help="Forecast mean, summed"),
    "cum_p50": NUMBER("p50", format="%.1f", help="Covers the demand half the time"),
    "cum_p90": NUMBER("p90", format="%.1f", help="Covers the demand 90% of the time"),
    "cum_p95": NUMBER("p95", format="%.1f", help="Covers the demand 95% of the time"),
    "cum_p99": NUMBER("p99", format="%.1f", help="Covers the demand 99% of the time"),
}
RUN_COLUMNS = (
    "run_id",
    "created_at",
    "as_of",
    "horizon",
    "series_count",
    "reused",
    "failures",
    "duration_s",
    "executor",
    "workers",
    "prophet_setting",
    "scope",
    "created_by",
    "note",
)
SERIES_COLUMNS = (
    "sku",
    "name",
    "location",
    "demand_class",
    "method",
    "reason",
    "rmsse",
    "wape",
    "bias",
    "adi",
    "cv2",
    "history_days",
    "weight",
    "failure",
    "reused",
)


# -- a new run ------------------------------------------------------------------------------
def new_run(
    store: Store,
    settings: ForecastSettings,
    positions: pl.DataFrame,
    runs: pl.DataFrame,
    actor: Actor | None,
) -> None:
    """The SKU filter first (the whole network takes minutes), then horizon, as-of, workers,
    what it will cost in time, and the button (for a planner: the run is stored under their
    name)."""
    names = dict(positions.select("sku", "name").unique(subset="sku").sort("sku").iter_rows())
    skus = st.multiselect(
        "SKUs to forecast",
        list(names),
        key="fc_new_skus",
        format_func=lambda code: f"{code} · {names.get(code) or ''}",
        placeholder="All SKUs: the whole network (takes minutes)",
        help="Pick a few SKUs for a quick run (seconds); leave empty to forecast every "
        "SKU x location with demand.",
    )
    horizon_box, as_of_box, workers_box = st.columns(3)
    horizon = horizon_box.number_input(
        "Horizon (days)",
        min_value=1,
        max_value=MAX_HORIZON,
        value=settings.horizon,
        step=7,
        key="fc_new_horizon",
    )
    last_day = last_demand_day(store)
    as_of = as_of_box.date_input(
        "As of (optional)",
        value=None,
        min_value=last_day - timedelta(days=3650) if last_day else None,
        max_value=last_day,
        format="YYYY-MM-DD",
        key="fc_new_as_of",
        help=f"Forecast from this day using only the demand up to it. Empty: the last day of "
        f"demand history ({last_day}). An earlier day lets you compare with what happened.",
    )
    most = max(os.cpu_count() or 1, settings.workers)
    workers = workers_box.number_input(
        "Workers (processes)",
        min_value=1,
        max_value=most,
        value=min(settings.workers, most),
        key="fc_new_workers",
        help="Processes on this machine that fit series in parallel.",
        disabled=bool(settings.dask_scheduler),
    )
    series = tables.estimated_series(positions, skus)
    if settings.dask_scheduler:
        timing = f"on the Dask cluster at {plain(settings.dask_scheduler)}"
    else:
        seconds = series * tables.seconds_per_series(runs) / workers
        timing = f"{tables.duration_text(seconds)} with {workers} worker(s)"
    tuning = (
        f" Prophet's settings are tuned first (on {settings.tuning_sample} series) unless a run "
        f"of the last {settings.retune_days} days tuned them."
    )
    if skus:
        st.caption(
            f"About **{series:,} series** ({len(skus)} SKU(s) x their locations): {timing}."
            + tuning
        )
    else:
        st.warning(
            f"**No SKU picked: this forecasts the whole network**, about {series:,} series "
            f"({len(names):,} SKUs), {timing}. Pick SKUs above for a quick run.{tuning}",
            icon=":material/schedule:",
        )
    st.caption(
        "Stay on this page until the run finishes: changing a widget or leaving stops it, and "
        "nothing is stored until it completes."
    )
    may_run = actor is not None and actor.role in CAN["propose"]
    if not may_run:
        st.caption("Sign in as a planner (sidebar) to start a run: it is stored under your name.")
    label = f"Forecast {len(skus)} SKU(s)" if skus else "Forecast the whole network"
    if (
        st.button(
            label,
            key="fc_start",
            type="primary",
            icon=":material/play_arrow:",
            disabled=not may_run,
        )
        and may_run
    ):
        start_run(
            store,
            settings,
            skus=skus,
            horizon=int(horizon),
            as_of=as_of,
            workers=int(workers),
            actor_name=actor.name,
        )


def start_run(
    store: Store,
    settings: ForecastSettings,
    *,
    skus: list[str],
    horizon: int,
    as_of: date | None,
    workers: int,
    actor_name: str,
) -> None:
    """Run, showing progress; on success remember the message and the run, and show it."""
    bar = st.progress(0.0, text="Loading demand…")

    def progress(done: int, total: int, stage: str) -> None:
        text = (
            f"Choosing Prophet's settings by backtest: {done:,} of {total:,} sample series"
            if stage == "tuning"
            else f"Forecasting: {done:,} of {total:,} series"
        )
        bar.progress(min(done / total, 1.0) if total else 1.0, text=text)

    try:
        run = fc.forecast(
            store,
            settings,
            as_of=as_of,
            horizon=horizon,
            skus=skus or None,
            workers=workers,
            progress=progress,
            show_bar=False,
            created_by=actor_name,
        )
    except ControlTowerError as exc:
        bar.empty()
        show_error(exc)
        return
    st.session_state["fc_done"] = (
        f"**Run {run.run_id} stored**: {run.series_count:,} series as of {run.as_of} "
        f"({run.reused:,} reused from earlier runs), {run.failures:,} failure(s), "
        f"{run.duration_s:.1f} s on {run.executor} x{run.workers}."
    )
    st.session_state["fc_show_run"] = run.run_id
    st.rerun()


# -- picking a run --------------------------------------------------------------------------
def pick_run(store: Store, runs: pl.DataFrame) -> fc.ForecastRun:
    rows = {row["run_id"]: row for row in runs.iter_rows(named=True)}
    ids = list(rows)
    keep_choice("fc_run", ids)
    run_id = st.selectbox(
        "Forecast run",
        ids,
        key="fc_run",
        format_func=lambda i: tables.run_label(rows[i], latest=i == ids[0]),
    )
    run = cached.forecast_run(store, run_id)
    prophet = (run.settings.get("prophet") or {}).get("name") or "—"
    if run.settings.get("prophet_classes") == []:
        prophet = "none (Prophet not tried)"
    st.caption(
        f"Created {run.created_at:%Y-%m-%d %H:%M} · as of **{run.as_of}** · horizon "
        f"{run.horizon} days · {run.series_count:,} series ({run.reused:,} reused) · "
        f"{run.failures:,} failure(s) · {run.duration_s:.1f} s on {run.executor} "
        f"x{run.workers} · Prophet setting **{plain(prophet)}**"
        + (f" · run by **{plain(run.created_by)}**" if run.created_by else "")
    )
    if run.note:
        st.info(f"**How this run was made:** {plain(run.note)}.", icon=":material/info:")
    with st.expander(f"Recent runs ({len(ids)})", icon=":material/history:"):
        keyed_table(
            tables.pick_columns(tables.runs_table(runs), RUN_COLUMNS),
            key="fc_runs",
            column_config=COLUMNS,
        )
    return run


# -- one series -----------------------------------------------------------------------------
def history_window(store: Store, run: fc.ForecastRun, days: int) -> tuple[date, date]:
    """``days`` of demand up to the as-of date, plus the actuals after it that the data has."""
    last = last_demand_day(store) or run.as_of
    end = min(max(last, run.as_of), run.as_of + timedelta(days=run.horizon))
    return run.as_of - timedelta(days=days - 1), end


def run_holidays(run: fc.ForecastRun, start: date) -> pl.DataFrame:
    """Holiday and festival days from ``start`` to the end of the horizon, for the run's
    country (the demo's locations are all in it)."""
    country = str(run.settings.get("country") or "CN")
    return cached.holidays(country, start, run.as_of + timedelta(days=run.horizon))


def series_view(
    store: Store,
    run: fc.ForecastRun,
    summary: pl.DataFrame,
    labels: dict[str, str],
    history_days: int,
) -> None:
    names = dict(summary.select("sku", "name").unique(subset="sku").sort("sku").iter_rows())
    keep_choice("fc_sku", list(names))
    pick_sku, pick_location = st.columns(2)
    sku = pick_sku.selectbox(
        "SKU",
        list(names),
        key="fc_sku",
        format_func=lambda code: f"{code} · {names.get(code) or ''}",
    )
    locations = tables.series_locations(summary, sku)
    keep_choice("fc_location", locations)
    location = pick_location.selectbox(
        "Location", locations, key="fc_location", format_func=lambda c: labels.get(c, c)
    )
    row = summary.filter((pl.col("sku") == sku) & (pl.col("location") == location)).row(
        0, named=True
    )

    st.markdown(
        f"**{plain(sku)} · {plain(row['name'])}** at **{plain(labels.get(location, location))}**"
    )
    with st.container(key="fc_method"):
        st.info(
            f"**Method: {tables.method_label(row['method'])}** · demand class "
            f"**{tables.demand_class_label(row['demand_class'])}** (ADI "
            f"{formatted(row['adi'], '.2f')}, CV² {formatted(row['cv2'], '.2f')}) · "
            f"{row['history_days'] or 0:,} days of history"
            + (" · reused from an earlier run" if row["reused"] else "")
            + f"\n\n**Why:** {plain(row['reason'])}"
            + f"\n\n**Backtest:** RMSSE {formatted(row['rmsse'], '.3f')} · WAPE "
            f"{formatted(row['wape'], '.1%')} · bias {formatted(row['bias'], '+.1%')}",
            icon=":material/model_training:",
        )
        if row["failure"]:
            st.warning(
                "**The intended method failed; a baseline was used instead.** "
                + plain(row["failure"]),
                icon=":material/warning:",
            )

    start, end = history_window(store, run, history_days)
    history = cached.demand_history(store, start, end, sku=sku, location=location)
    forecast = cached.series_forecast(store, run.run_id, sku, location)
    st.plotly_chart(
        forecast_figure(history, forecast, as_of=run.as_of, holidays=run_holidays(run, start)),
        key="fc_chart",
        config=PLOT_CONFIG,
    )
    st.caption(
        "Bands: the forecast's p50 to p90 (darker) and p90 to p95 (lighter); the dashed line is "
        "the median (p50). Shaded days and triangles are holidays and festival phases: hover "
        "for the name. Click a legend entry to hide or show it."
    )

    st.markdown("**Demand over a lead time**, from the day after the as-of date")
    st.caption(
        "What a replenishment has to cover: p95 is the stock that covers the demand over that "
        "lead time 95% of the time; p95 − expected demand is the safety stock for a lead time of "
        "exactly that length."
    )
    keyed_table(tables.lead_time_table(forecast), key="fc_lead_times", column_config=COLUMNS)


# -- aggregates -----------------------------------------------------------------------------
def aggregate_view(
    store: Store,
    run: fc.ForecastRun,
    summary: pl.DataFrame,
    positions: pl.DataFrame,
    level: str,
    history_days: int,
) -> None:
    groups = tables.series_groups(summary, positions)
    group: str | None = None
    if level != "network":
        options = tables.options(groups, level)
        if not options:
            st.info(f"No series of this run has a {level}.")
            return
        keep_choice(f"fc_{level}", options)
        group = st.selectbox(level.capitalize(), options, key=f"fc_{level}")
    series = tables.group_series(groups, level, group)
    start, end = history_window(store, run, history_days)
    forecast = cached.aggregate_forecast(store, run.run_id, level, group)
    # a run limited to some SKUs or locations: the history of exactly its series
    history = cached.demand_history(
        store,
        start,
        end,
        level=level,
        group=group,
        run_id=None if run.scope is None else run.run_id,
    )
    st.markdown(
        f"**{plain(group) if group else 'The whole network'}**: {len(series):,} series summed"
    )
    st.plotly_chart(
        forecast_figure(history, forecast, as_of=run.as_of, holidays=run_holidays(run, start)),
        key="fc_aggregate_chart",
        config=PLOT_CONFIG,
    )
    st.caption(
        "Daily means add up; the band (mean to p90, p90 to p95) treats the series as "
        "independent, a normal approximation."
    )


# -- accuracy -------------------------------------------------------------------------------
def accuracy(store: Store, run: fc.ForecastRun, summary: pl.DataFrame) -> None:
    st.subheader("Accuracy")
    st.caption(
        "Backtest on held-out windows before the as-of date. Per method: every method tried, "
        "over the series it was tried on. Per demand class: the method chosen for each series."
    )
    st.markdown("**Per method**")
    keyed_table(
        tables.as_percent(tables.with_labels(cached.leaderboard(store, run.run_id, "method"))),
        key="fc_leaderboard_method",
        column_config=COLUMNS,
    )
    st.markdown("**Per demand class**")
    keyed_table(
        tables.as_percent(
            tables.with_labels(cached.leaderboard(store, run.run_id, "demand_class"))
        ),
        key="fc_leaderboard_class",
        column_config=COLUMNS,
    )

    failed = summary.filter(pl.col("failure").is_not_null())
    if failed.is_empty():
        st.caption("No series failed: each got the method its backtest chose.")
    else:
        st.markdown(
            f"**{failed.height:,} series where the intended method failed** (a baseline was "
            "used instead)"
        )
        keyed_table(
            tables.with_labels(failed.select("sku", "name", "location", "method", "failure")),
            key="fc_failures",
            column_config=COLUMNS,
        )

    tuning = run.settings.get("tuning")
    chosen = plain((run.settings.get("prophet") or {}).get("name"))
    with st.expander("How Prophet's setting was chosen", icon=":material/tune:"):
        if tuning:
            st.caption(
                f"Each setting was backtested on a sample of the series Prophet is tried on; "
                f"**{chosen}** was chosen: the lowest weighted RMSSE within the bias limit."
            )
            keyed_table(
                tables.as_percent(pl.DataFrame(tuning)),
                key="fc_tuning",
                column_config=COLUMNS,
            )
        elif tuning is None:
            st.caption(
                f"**{chosen}** was reused from an earlier run's tuning (settings are re-tuned "
                f"every {run.settings.get('retune_days', '—')} days)."
            )
        else:
            st.caption(
                f"No series of this run was eligible for tuning: **{chosen}**, the default "
                "setting, was used."
            )

    record = run.settings.get("calendar_lifts")
    if record and record.get("groups"):
        with st.expander("Festival and holiday lifts by category", icon=":material/celebration:"):
            st.caption(
                f"Each category's total demand up to {record['estimated_as_of']} against its "
                "ordinary level: 2.00 is twice the usual demand on that day, 0.50 half of it. "
                "Every method divides these out of a series' history and multiplies them into "
                "its forecast, Prophet included (one shelf sells too little to show Double 11 "
                "on its own). A category with few series takes All products. Lifts are "
                f"re-estimated every {run.settings.get('retune_days', '—')} days."
            )
            lifts = tables.lifts_table(record)
            number = st.column_config.NumberColumn(format="%.2f")
            keyed_table(
                lifts,
                key="fc_lifts",
                column_config={c: number for c in lifts.columns if c != "phase"},
            )

    with st.expander(f"Every series of this run ({summary.height:,})", icon=":material/list:"):
        keyed_table(
            tables.as_percent(tables.with_labels(tables.pick_columns(summary, SERIES_COLUMNS))),
            key="fc_series",
            column_config=COLUMNS,
        )


# -- the page -------------------------------------------------------------------------------
with reported():
    store = state.store_with_data()
    settings = state.get_settings().forecast
    actor = auth.current_actor()
    positions = cached.positions(store)
    runs = cached.forecast_runs(store)

    done = st.session_state.pop("fc_done", None)
    if done:
        st.success(done, icon=":material/check_circle:")
    shown = st.session_state.pop("fc_show_run", None)
    if shown is not None:
        st.session_state["fc_run"] = shown

    if runs.is_empty():
        st.info(
            "**No forecast run yet.** Start one below: pick a few SKUs for a quick look "
            "(seconds), or leave the SKUs empty to forecast the whole network (minutes)."
        )
        st.subheader("Start a forecast run")
        new_run(store, settings, positions, runs, actor)
        st.stop()

    run = pick_run(store, runs)
    with st.expander("Start a new run", icon=":material/play_circle:"):
        new_run(store, settings, positions, runs, actor)

    summary = cached.series_summary(store, run.run_id)
    if summary.is_empty():
        st.info(f"Run {run.run_id} holds no series.")
        st.stop()

    st.subheader("Forecast")
    view_box, history_box = st.columns([3, 2])
    view = view_box.segmented_control(
        "View", list(VIEWS), default=SERIES_VIEW, required=True, key="fc_view"
    )
    history_days = history_box.select_slider(
        "History shown",
        HISTORY_DAYS,
        value=180,
        key="fc_history_days",
        format_func=lambda days: f"{days} days",
    )
    if VIEWS[view] == "series":
        series_view(store, run, summary, tables.location_labels(positions), history_days)
    else:
        aggregate_view(store, run, summary, positions, VIEWS[view], history_days)

    accuracy(store, run, summary)
