"""Suppliers and VMI, for buyers: the supplier scorecard (on-time rate, lead time measured
against stated, fill rate), what suppliers report holding for us and which of it is low
water, consigned stock at our VMI sites against the agreed levels, and the settlement of
consigned stock we consumed (statements, reconciled against what suppliers report)."""

from __future__ import annotations

import plotly.graph_objects as go
import polars as pl
import streamlit as st

from control_tower import collab, vmi
from control_tower.errors import ControlTowerError
from ui import auth, charts, state
from ui.entry import through_app
from ui.errors import reported, show_error
from ui.supplier_columns import LEVEL_COLUMNS, STATEMENT_COLUMNS
from ui.widgets import keyed_table

through_app()

st.title("Suppliers and VMI")

NUMBER = st.column_config.NumberColumn
PERCENT = {"format": "percent"}
TARGET_ON_TIME = 0.95


def _on_time_figure(card: pl.DataFrame) -> go.Figure:
    rows = card.filter(pl.col("on_time_rate").is_not_null())
    if rows.height == 0:
        return charts.empty_figure("No received purchase order lines in the window")
    fig = go.Figure()
    fig.add_bar(
        x=rows["supplier"].to_list(),
        y=rows["on_time_rate"].to_list(),
        name="on time",
        text=[f"{v:.0%}" for v in rows["on_time_rate"].to_list()],
        textposition="outside",
    )
    fig.add_bar(
        x=rows["supplier"].to_list(),
        y=rows["fill_rate"].to_list(),
        name="fill rate",
        text=[f"{v:.0%}" if v is not None else "" for v in rows["fill_rate"].to_list()],
        textposition="outside",
    )
    fig.add_hline(y=TARGET_ON_TIME, line_dash="dot", annotation_text=f"target {TARGET_ON_TIME:.0%}")
    fig.update_layout(
        barmode="group",
        height=320,
        margin={"l": 10, "r": 10, "t": 30, "b": 10},
        yaxis={"tickformat": ".0%", "range": [0, 1.15]},
    )
    return fig


def _lead_figure(card: pl.DataFrame) -> go.Figure:
    rows = card.filter(pl.col("lead_time_mean_days").is_not_null())
    if rows.height == 0:
        return charts.empty_figure("No received purchase order lines in the window")
    fig = go.Figure()
    fig.add_bar(
        x=rows["supplier"].to_list(),
        y=rows["stated_lead_time_days"].to_list(),
        name="stated",
    )
    fig.add_bar(
        x=rows["supplier"].to_list(),
        y=rows["lead_time_mean_days"].to_list(),
        error_y={"type": "data", "array": rows["lead_time_sd_days"].fill_null(0).to_list()},
        name="measured (± spread)",
    )
    fig.update_layout(
        barmode="group",
        height=320,
        margin={"l": 10, "r": 10, "t": 30, "b": 10},
        yaxis_title="days",
    )
    return fig


with reported():
    store = state.store_with_data()
    settings = state.get_settings()
    today = state.data_as_of(store)
    card = collab.scorecard(store, settings)

    st.subheader("Scorecard")
    st.caption(
        f"From purchase order lines ordered in the last {settings.suppliers.performance_days} "
        "days and their receipts: on time = first receipt by the expected date"
        + (
            f" plus {settings.suppliers.on_time_grace_days} days"
            if settings.suppliers.on_time_grace_days
            else ""
        )
        + "; lead time = order to first receipt; fill rate = units received of units due. "
        + (
            "Policies and plans use the measured lead times where there are enough lines."
            if settings.suppliers.lead_times == "measured"
            else "Policies and plans use the stated lead times ([suppliers] lead_times)."
        )
    )
    left, right = st.columns(2)
    left.plotly_chart(_on_time_figure(card), key="sup_on_time", config=charts.PLOT_CONFIG)
    right.plotly_chart(_lead_figure(card), key="sup_lead", config=charts.PLOT_CONFIG)
    keyed_table(
        card.drop("last_report"),
        key="sup_card",
        column_config={
            "on_time_rate": NUMBER("on time", **PERCENT),
            "stated_on_time_rate": NUMBER("on time, stated", **PERCENT),
            "fill_rate": NUMBER("fill rate", **PERCENT),
            "lead_time_mean_days": NUMBER("lead time (days)", format="%.1f"),
            "lead_time_sd_days": NUMBER("spread (days)", format="%.1f"),
            "stated_lead_time_days": NUMBER("stated (days)", format="%.1f"),
            "unsettled_amount": NUMBER("owed, not yet settled", format="localized"),
        },
    )

    st.subheader("What suppliers hold for us")
    stock = collab.stock_with_marks(store, settings)
    if stock.height == 0:
        st.info("No supplier has reported its stock yet (Supplier portal).")
    else:
        a, b = st.columns([3, 1])
        pick = a.multiselect(
            "Supplier", sorted(stock["supplier"].unique().to_list()), key="sup_stock_pick"
        )
        low_only = b.checkbox("Only below low water", key="sup_low_only")
        shown = stock.filter(pl.col("supplier").is_in(pick)) if pick else stock
        if low_only:
            shown = shown.filter(pl.col("low_water"))
        st.caption(
            f"{stock.filter(pl.col('low_water')).height:,} of {stock.height:,} reported SKUs are "
            f"below their low-water mark ({settings.suppliers.low_water_days:g} days of our "
            "network's demand unless set in [suppliers] low_water)."
        )
        keyed_table(
            shown.drop("report_id", "capacity", "supplier_name"),
            key="sup_stock",
            column_config={
                "available_qty": NUMBER("available", format="localized"),
                "low_water_mark": NUMBER("low-water mark", format="localized"),
                "low_water": st.column_config.CheckboxColumn("below"),
                "capacity_total": NUMBER("capacity, coming weeks", format="localized"),
                "reported_at": st.column_config.DatetimeColumn("as of", format="YYYY-MM-DD HH:mm"),
            },
        )

    st.subheader("Consigned stock (VMI)")
    st.caption(
        "Stock at our sites that suppliers own until we use it: it is not in our inventory "
        "value; using it makes it ours and creates a payable line."
    )
    keyed_table(
        vmi.consigned_summary(store),
        key="sup_consigned",
        column_config={
            "consigned_units": NUMBER("consigned units", format="localized"),
            "consigned_value": NUMBER("value at cost (theirs)", format="localized"),
            "unsettled_amount": NUMBER("owed, not yet settled", format="localized"),
        },
    )
    levels = vmi.levels(store)
    if levels.height:
        st.markdown(
            f"**Agreed levels**: {levels.filter(pl.col('status') == 'below min').height} below "
            f"min, {levels.filter(pl.col('status') == 'above max').height} above max"
        )
        keyed_table(
            levels.drop("location_name"),
            key="sup_levels",
            column_config=LEVEL_COLUMNS,
        )

    st.subheader("Settlement")
    if done := st.session_state.pop("sup_done", None):
        st.success(done, icon=":material/check_circle:")
    tolerance = settings.suppliers.settlement_tolerance
    heads = vmi.all_statements(store, tolerance=tolerance)
    if heads.height:
        keyed_table(
            heads,
            key="sup_statements",
            column_config=STATEMENT_COLUMNS,
        )
    else:
        st.info("No settlement statement yet.")
    actor = auth.current_actor()
    with st.form("sup_issue"):
        st.markdown("**Issue a statement** (staff): the consumption of a period, not yet settled")
        codes = card["supplier"].to_list()
        first, last = vmi.month_period(today)
        a, b, c = st.columns(3)
        supplier = a.selectbox("Supplier", codes, key="sup_issue_supplier")
        start = b.date_input("From", value=first, key="sup_issue_from")
        end = c.date_input("To", value=last, max_value=today, key="sup_issue_to")
        go_issue = st.form_submit_button("Issue", disabled=actor is None)
    if actor is None:
        st.caption("Sign in as a planner, approver or admin to issue statements.")
    if go_issue and actor is not None:
        try:
            made = vmi.issue_statement(store, actor, supplier, start, end)
            st.session_state["sup_done"] = f"Issued statement ST-{made} for {supplier}."
            st.rerun()
        except ControlTowerError as exc:
            show_error(exc)
