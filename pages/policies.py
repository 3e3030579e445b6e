"""Policies: the ABC-XYZ matrix (series, sales value, service level and safety stock value per
cell), every SKU x location's policy, and one policy's inputs and formulas with their values."""

from __future__ import annotations

import dataclasses

import polars as pl
import streamlit as st

from control_tower import policies
from control_tower.errors import ControlTowerError
from ui import cached, state, tables
from ui.entry import through_app
from ui.errors import reported, show_error
from ui.format import plain
from ui.widgets import keep_choice, keyed_table

through_app()  # a deep link as a server's first request: run the app around it

st.title("Policies")

NUMBER = st.column_config.NumberColumn
COLUMNS = {
    "class": st.column_config.TextColumn(
        "class", help="A/B/C by sales value, X/Y/Z by variability"
    ),
    "series": NUMBER("SKU x locations", format="localized"),
    "annual_value": NUMBER("sales value, last year", format="localized"),
    "value_share": NUMBER("share of value", format="%.1f%%"),
    "service_level": NUMBER("service level", format="%.1f%%"),
    "safety_stock_value": NUMBER("safety stock value", format="localized"),
    "lead_time_days": NUMBER("lead time (days)", format="%.1f"),
    "lead_time_sd_days": NUMBER("lead time sd", format="%.1f"),
    "daily_demand": NUMBER("daily demand", format="%.2f"),
    "daily_demand_sd": NUMBER("daily demand sd", format="%.2f"),
    "safety_stock": NUMBER("safety stock", format="%.0f"),
    "reorder_point": NUMBER("reorder point", format="%.0f"),
    "eoq": NUMBER("EOQ", format="%.0f"),
    "max_level": NUMBER("max level", format="%.0f"),
}
TABLE_COLUMNS = (
    "sku",
    "location",
    "class",
    "service_level",
    "source",
    "lead_time_days",
    "daily_demand",
    "daily_demand_sd",
    "safety_stock",
    "reorder_point",
    "eoq",
    "max_level",
    "demand_source",
)
PERCENT = ("value_share", "service_level")
INPUT_FIELDS = [f.name for f in dataclasses.fields(policies.PolicyInputs)]

with reported():
    store = state.store_with_data()
    settings = state.get_settings().policies
    table = cached.policy_table(store, settings, state.get_settings().suppliers)
    if table.is_empty():
        st.info(
            "**No policy yet.** Policies are computed for central DCs, regional DCs and stores "
            "that can be replenished: over a lane from the central DC, or by a supplier of "
            "the SKU."
        )
        st.stop()
    table = table.with_columns((pl.col("abc") + pl.col("xyz")).alias("class"))
    st.caption(
        "Safety stock = z × √(LT × σd² + d² × σLT²), reorder point = d × LT + safety stock, "
        "EOQ = √(2DS/H) in whole packs and at least the MOQ, max level = reorder point + EOQ. "
        "d and σd come from the latest forecast run over the lead time (the last "
        f"{settings.history_days} days of demand without one); a central DC faces the demand "
        "of the locations it supplies."
    )

    st.subheader("ABC-XYZ matrix")
    matrix = policies.class_matrix(table).with_columns(
        pl.col("annual_value", "safety_stock_value").round(0)  # whole currency units
    )
    keyed_table(
        tables.as_percent(matrix, PERCENT),
        key="pol_matrix",
        column_config=COLUMNS,
    )

    st.subheader("Every policy")
    classes = st.multiselect("Classes", sorted(table["class"].unique()), key="pol_classes")
    shown = table.filter(pl.col("class").is_in(classes)) if classes else table
    keyed_table(
        tables.as_percent(shown.select(TABLE_COLUMNS), PERCENT),
        key="pol_table",
        column_config=COLUMNS,
    )

    st.subheader("Show your work")
    left, right = st.columns(2)
    skus = sorted(table["sku"].unique())
    keep_choice("pol_sku", skus)
    sku = left.selectbox("SKU", skus, key="pol_sku")
    locations = sorted(table.filter(pl.col("sku") == sku)["location"].unique())
    keep_choice("pol_location", locations)
    location = right.selectbox("Location", locations, key="pol_location")
    row = table.filter((pl.col("sku") == sku) & (pl.col("location") == location)).row(0, named=True)
    in_force = policies.overrides_in_force(store).get((sku, location), ())
    policy = policies.compute_policy(
        policies.PolicyInputs(**{k: row[k] for k in INPUT_FIELDS}), in_force
    )
    st.markdown(
        f"**{plain(sku)}** at **{plain(location)}**: class {row['class']}, "
        f"replenished by {plain(row['source'])}; demand from {plain(row['demand_source'])}."
    )
    inputs = pl.DataFrame({"input": INPUT_FIELDS, "value": [str(row[k]) for k in INPUT_FIELDS]})
    keyed_table(inputs, key="pol_inputs")
    st.code("\n".join(policy.formulas().values()), language=None, wrap_lines=True)

    st.subheader("Override")
    done = st.session_state.pop("pol_done", None)
    if done:
        st.success(done, icon=":material/check_circle:")
    with st.form("pol_override", clear_on_submit=True):
        field_box, value_box = st.columns(2)
        field = field_box.selectbox(
            "Field",
            policies.OVERRIDE_FIELDS,
            format_func=lambda f: f.replace("_", " "),
            key="pol_field",
        )
        value = value_box.number_input(
            "New value (empty: clear the override)",
            min_value=0.0,
            value=None,
            help="A service level as a fraction (0.98 for 98%); the others in units",
            key="pol_value",
        )
        reason = st.text_input("Reason (kept in the audit trail)", key="pol_reason")
        who = st.text_input("Your name", key="pol_who")
        saved = st.form_submit_button("Save override", icon=":material/save:")
    if saved:
        try:
            policies.set_override(store, sku, location, field, value, reason=reason, changed_by=who)
        except ControlTowerError as exc:
            show_error(exc)
        else:
            what = "cleared" if value is None else f"set to {value:g}"
            st.session_state["pol_done"] = (
                f"{field.replace('_', ' ')} of {sku} at {location} {what}."
            )
            st.rerun()
    history = policies.override_history(store, sku, location)
    if history.is_empty():
        st.caption("No override of this SKU at this location yet.")
    else:
        st.markdown("**Audit trail** (newest first; an empty value cleared the override)")
        keyed_table(history.drop("sku", "location"), key="pol_overrides")
