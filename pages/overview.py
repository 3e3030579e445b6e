"""Overview: KPI tiles, the network coloured by health, where the stock value sits, the
largest imbalances between locations, and the published health index formula."""

from __future__ import annotations

import streamlit as st

from control_tower.errors import ControlTowerError
from control_tower.ingest.demo import build_demo
from control_tower.kpis import HEALTH_INDEX_FORMULA
from ui import cached, charts, state, tables
from ui.entry import through_app
from ui.errors import reported
from ui.format import is_flat, kpi_delta, kpi_delta_color, kpi_value
from ui.widgets import keyed_table

through_app()  # a deep link as a server's first request: run the app around it

NUMBER = st.column_config.NumberColumn
IMBALANCE_COLUMNS = {
    "sku": st.column_config.TextColumn("SKU", pinned=True),
    "name": "name",
    "short_location_name": "short at",
    "short_cover_days": NUMBER("cover there (days)", format="%.1f"),
    "excess_location_name": "excess at",
    "excess_cover_days": NUMBER(
        "cover there (days)", format="%.0f", help="Empty when that location has no demand"
    ),
    "movable_units": NUMBER("movable units", format="localized"),
    "value": NUMBER("value", format="localized"),
    "transit_days": NUMBER("transit days", format="%d", help="Empty when no lane joins them"),
    "lane_cost": NUMBER("lane cost", format="localized"),
}

st.title("Overview")

with reported():
    store = state.get_store()
    if not state.has_data(store):
        if not state.is_empty(store):
            # The user's master data is there; the demo would overwrite it: not offered.
            st.info(
                "**No stock movements or demand yet.** The database holds master data "
                "(locations, products, …) but no ledger or demand rows to compute positions "
                "and KPIs from. Import your ledger and demand files on the *Data* page, "
                "together with the transfers they depend on (*Several files at once*)."
            )
            st.stop()
        st.info(
            "**No data yet.** Import your files on the *Data* page, or build a small demo "
            "network (a central DC, regional DCs, products with history) to explore."
        )
        demo = state.get_settings().demo
        label = f"Build demo data ({demo.skus} SKUs, {demo.locations} locations, {demo.days} days)"
        if st.button(label, key="build_demo", type="primary", icon=":material/rocket_launch:"):
            with st.status("Building the demo network…", expanded=True) as status:
                try:
                    build_demo(
                        store,
                        skus=demo.skus,
                        locations=demo.locations,
                        days=demo.days,
                        seed=demo.seed,
                    )
                except ControlTowerError:
                    status.update(label="The demo could not be built.", state="error")
                    raise
                status.update(label="Demo data built.", state="complete", expanded=False)
            st.rerun()
        st.stop()

    with st.spinner("Computing positions and KPIs…"):
        data = cached.overview(store)
    st.caption(f"Data as of **{data.as_of}** · change against the period before · {store.path}")

    tiles = list(data.kpis.values())
    for start in range(0, len(tiles), 4):
        for column, kpi in zip(st.columns(4), tiles[start : start + 4], strict=False):
            delta = kpi_delta(kpi.value, kpi.previous, kpi.unit)
            column.metric(
                kpi.label,
                kpi_value(kpi.value, kpi.unit),
                delta=delta,
                delta_color="off" if is_flat(delta) else kpi_delta_color(kpi.better),
                delta_arrow="off" if is_flat(delta) else "auto",
                help=kpi.formula,
                border=True,
            )

    left, right = st.columns([3, 2])
    with left:
        st.subheader("Network health")
        st.plotly_chart(
            charts.network_figure(data.health_by_location, data.lanes),
            key="network",
            config=charts.PLOT_CONFIG,
        )
        st.caption(
            "Colour: health index (red poor, green good) · size: stock value · square: central "
            "DC, circle: regional DC, diamond: VMI site · solid lines: lanes from the central "
            "DC, dotted: lateral lanes. Hover a site for its figures."
        )
        if not data.status_counts.is_empty():
            counts = dict(data.status_counts.select("status", "sku_locations").iter_rows())
            st.caption(
                "SKU x locations: "
                + " · ".join(
                    f"**{counts[s]:,}** {tables.STATUS_LABELS.get(s, s)}"
                    for s in tables.STATUS_LABELS
                    if counts.get(s)
                )
            )
    with right:
        st.subheader("Stock value by location")
        st.plotly_chart(
            charts.value_bar(data.value_by_location, "location_name", height=420),
            key="value_by_location",
            config=charts.PLOT_CONFIG,
        )

    by_category, by_age = st.columns(2)
    with by_category:
        st.subheader("Stock value by category")
        st.plotly_chart(
            charts.value_bar(data.value_by_category, "category", height=260),
            key="value_by_category",
            config=charts.PLOT_CONFIG,
        )
    with by_age:
        st.subheader("Stock value by age")
        st.plotly_chart(
            charts.value_bar(data.aging, "bucket", height=260, sort=False),
            key="aging",
            config=charts.PLOT_CONFIG,
        )

    st.subheader("Largest imbalances")
    st.caption(
        "The same SKU short at one location while another holds more than it needs: "
        "a lateral transfer candidate."
    )
    if data.imbalances.is_empty():
        st.success("No imbalances: no SKU is short at one location and in excess at another.")
    else:
        keyed_table(
            tables.pick_columns(data.imbalances, IMBALANCE_COLUMNS),
            key="imbalances",
            column_config=IMBALANCE_COLUMNS,
        )

    with st.expander("How the health index is calculated", icon=":material/function:"):
        st.markdown(HEALTH_INDEX_FORMULA)
