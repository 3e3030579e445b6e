"""Inventory: every SKU x location position, filtered and searched; then one SKU across the
network (on hand, in transit, on order) and its ledger history."""

from __future__ import annotations

import polars as pl
import streamlit as st

from control_tower import collab
from ui import cached, charts, state, tables
from ui.entry import through_app
from ui.errors import reported
from ui.widgets import keyed_table

through_app()  # a deep link as a server's first request: run the app around it

st.title("Inventory")

NUMBER = st.column_config.NumberColumn
COLUMN_CONFIG = {
    "sku": st.column_config.TextColumn("SKU", pinned=True),
    "name": st.column_config.TextColumn("name", width="medium"),
    "location_name": st.column_config.TextColumn("location name", width="medium"),
    "location_kind": "kind",
    "abc_xyz": st.column_config.TextColumn("ABC-XYZ", help="A/B/C by value, X/Y/Z by variability"),
    "on_hand": NUMBER("on hand", format="localized", help="Sum of the ledger"),
    "owned_on_hand": NUMBER("owned", format="localized", help="On hand that we own"),
    "consigned": NUMBER(
        "consigned", format="localized", help="Supplier-owned (VMI): ours when we use it"
    ),
    "reserved": NUMBER("reserved", format="localized"),
    "available": NUMBER("available", format="localized", help="On hand − reserved"),
    "in_transit_in": NUMBER("in transit in", format="localized"),
    "in_transit_out": NUMBER("in transit out", format="localized"),
    "on_order": NUMBER("on order", format="localized", help="Open purchase orders"),
    "avg_daily_demand": NUMBER("avg daily demand", format="%.1f"),
    "days_of_cover": NUMBER("days of cover", format="%.1f", help="Available / daily demand"),
    "stock_value": NUMBER("stock value", format="localized"),
    "days_since_outbound": NUMBER("days since outbound", format="%d"),
    "remaining": NUMBER("remaining", format="localized"),
    "days_late": NUMBER("days late", format="%d"),
    "from_location": "from",
    "quantity": NUMBER("quantity", format="localized"),
    "value": NUMBER("value", format="localized"),
    "dispatched_date": st.column_config.DateColumn("ordered / shipped"),
    "expected_date": st.column_config.DateColumn("expected"),
}

with reported():
    store = state.store_with_data()

    positions = tables.with_class(cached.positions(store))
    labels = tables.location_labels(positions)

    filters = st.columns([2, 2, 1.4, 2])
    chosen_locations = filters[0].multiselect(
        "Location",
        list(labels),
        format_func=labels.get,
        key="inv_locations",
        placeholder="All locations",
    )
    chosen_categories = filters[1].multiselect(
        "Category",
        tables.options(positions, "category"),
        key="inv_categories",
        placeholder="All categories",
    )
    chosen_classes = filters[2].multiselect(
        "ABC-XYZ",
        tables.options(positions, "abc_xyz"),
        key="inv_classes",
        placeholder="All classes",
    )
    search = filters[3].text_input(
        "Search SKU or name",
        key="inv_search",
        placeholder="e.g. SKU-0012 or 矿泉水",
    )
    shown = tables.filter_positions(
        positions,
        locations=chosen_locations,
        categories=chosen_categories,
        classes=chosen_classes,
        search=search or "",
    )
    table = tables.pick_columns(shown, tables.POSITION_COLUMNS)
    st.caption(
        f"{table.height:,} of {positions.height:,} positions · as of "
        f"{state.data_as_of(store)} · select a row to see that SKU across the network"
    )
    event = st.dataframe(
        table,
        key="positions",
        hide_index=True,
        column_config=COLUMN_CONFIG,
        on_select="rerun",
        selection_mode="single-row",
        height=420,
    )

    if table.is_empty():
        st.info("No position matches these filters.")
        st.stop()

    # One SKU: picked in the table, or in the box below (which lists the filtered SKUs).
    skus = table.select("sku", "name").unique(subset="sku", maintain_order=True)
    names = dict(skus.iter_rows())
    # A newly selected row opens its SKU; the box keeps whatever was chosen last.
    rows = list(event.selection.rows) if event is not None else []
    if rows != st.session_state.get("inv_selected_rows"):
        st.session_state["inv_selected_rows"] = rows
        if rows and rows[0] < table.height:
            st.session_state["inv_sku"] = table.get_column("sku")[rows[0]]
    if st.session_state.get("inv_sku") not in names:
        st.session_state.pop("inv_sku", None)
    sku = st.selectbox(
        "SKU",
        list(names),
        key="inv_sku",
        format_func=lambda code: f"{code} · {names.get(code) or ''}",
    )

    network, inbound, history = cached.sku_detail(store, sku)
    st.subheader(f"{sku} · {names.get(sku) or ''} across the network")
    totals = network.select(
        pl.col("on_hand").sum(),
        pl.col("in_transit_in").sum(),
        pl.col("on_order").sum(),
        pl.col("stock_value").sum(),
    ).row(0, named=True)
    tiles = st.columns(4)
    tiles[0].metric("On hand (network)", f"{totals['on_hand']:,}", border=True)
    tiles[1].metric("In transit", f"{totals['in_transit_in']:,}", border=True)
    tiles[2].metric("On order", f"{totals['on_order']:,}", border=True)
    tiles[3].metric("Stock value", f"{totals['stock_value'] or 0:,.0f}", border=True)
    keyed_table(
        tables.pick_columns(network, tables.NETWORK_COLUMNS),
        key="sku_network",
        column_config=COLUMN_CONFIG,
    )

    at_suppliers = collab.stock_of_sku(store, sku)
    if not at_suppliers.is_empty():
        st.markdown(
            "**At suppliers**: what each supplier last reported holding for us (the plan can "
            "order from it with the transit from the supplier's site instead of its lead time)"
        )
        keyed_table(
            at_suppliers,
            key="sku_suppliers",
            column_config={
                "available_qty": st.column_config.NumberColumn("available", format="localized"),
                "capacity_total": st.column_config.NumberColumn(
                    "capacity, coming weeks", format="localized"
                ),
                "reported_at": st.column_config.DatetimeColumn("as of", format="YYYY-MM-DD HH:mm"),
                "age_days": st.column_config.NumberColumn("age (days)"),
            },
        )

    if not inbound.is_empty():
        st.markdown("**Open inbound** (purchase order lines and transfers in transit)")
        keyed_table(
            tables.pick_columns(inbound, tables.INBOUND_COLUMNS),
            key="sku_inbound",
            column_config=COLUMN_CONFIG,
        )

    st.markdown("**Ledger history**: running on hand per location")
    st.caption("Click a location in the legend to hide or show it; drag to zoom in.")
    st.plotly_chart(
        charts.ledger_history_figure(history, labels),
        key="ledger_history",
        config=charts.PLOT_CONFIG,
    )
