"""Supplier portal: a supplier reports the stock it holds for us (upload or inline edit) and
its capacity, records shipments against our orders and call-offs, answers our requests for
allocation, keeps its VMI levels, and reconciles its settlement statements. A supplier user
sees only its own supplier; staff pick any supplier (to record what one said by phone)."""

from __future__ import annotations

from datetime import timedelta

import polars as pl
import streamlit as st

from control_tower import collab, vmi
from control_tower.collab import CAPACITY_WEEKS
from control_tower.errors import ControlTowerError
from ui import auth, state, tables
from ui.entry import through_app
from ui.errors import reported, show_error
from ui.format import plain
from ui.supplier_columns import LEVEL_COLUMNS, STATEMENT_COLUMNS
from ui.widgets import keyed_table

through_app()

st.title("Supplier portal")

NUMBER = st.column_config.NumberColumn
DATE = st.column_config.DateColumn


def _done(key: str, message: str) -> None:
    st.session_state[key] = message
    st.rerun()


def _show_done(key: str) -> None:
    # kept, not popped: the tab says what was last done in it until something else is (a
    # rerun the editor asks for right after a save would otherwise lose it unseen)
    message = st.session_state.get(key)
    if message:
        st.success(message, icon=":material/check_circle:")


def _stock_tab(store, actor, supplier: str, today) -> None:
    _show_done("sp_stock_done")
    current = collab.own_stock(store, actor, supplier)
    st.caption(
        "What you hold for us now, per SKU: units, the first day they can ship, and what you "
        f"can make available in each of the next {CAPACITY_WEEKS} weeks (week 1 is this week). "
        "Edit the table and save, or upload a file; each save or upload is a report as of the "
        "end of the day its figures were counted on (today's, unless you say otherwise)."
    )
    editable = current.select(
        "sku",
        "name",
        pl.col("available_qty").alias("available_quantity"),
        "available_date",
        *(
            pl.col("capacity").list.get(w - 1, null_on_oob=True).alias(f"capacity_week_{w}")
            for w in range(1, CAPACITY_WEEKS + 1)
        ),
        "note",
        pl.col("reported_at"),
    )
    edited = st.data_editor(
        editable.to_pandas(),
        key=f"sp_editor_{supplier}",
        hide_index=True,
        disabled=["sku", "name", "reported_at"],
        column_config={
            "sku": "SKU",
            "available_quantity": NUMBER("available", min_value=0, step=1, format="localized"),
            "available_date": DATE("ships from"),
            **{
                f"capacity_week_{w}": NUMBER(f"week {w}", min_value=0, step=1)
                for w in range(1, CAPACITY_WEEKS + 1)
            },
            "reported_at": st.column_config.DatetimeColumn("as of", format="YYYY-MM-DD HH:mm"),
        },
    )
    if st.button("Save the edited rows", key="sp_save", icon=":material/save:"):
        after = pl.from_pandas(edited).drop("name", "reported_at")
        text = tables.edited_rows(editable.drop("name", "reported_at"), after, "available_quantity")
        if text.height == 0:
            st.info("Nothing changed (a row needs an available quantity to be saved).")
        else:
            try:
                report = collab.record_stock(store, actor, supplier, text, source="inline edit")
                _done("sp_stock_done", f"Saved {text.height} row(s) as report #{report}.")
            except ControlTowerError as exc:
                show_error(exc)

    with st.expander("Upload a stock file (CSV or Excel)", icon=":material/upload_file:"):
        st.download_button(
            "Download your file to fill in",
            collab.stock_template(store, actor, supplier),
            file_name=f"{supplier}-stock.csv",
            mime="text/csv",
            key="sp_template",
        )
        file = st.file_uploader("Stock file", type=["csv", "xlsx"], key="sp_upload")
        day = st.date_input(
            "Counted on",
            value=today,
            max_value=today,
            key="sp_asof_day",
            help="The day the file's figures were true; the report is as of the end of it.",
        )
        if st.button("Record the upload", key="sp_record", disabled=file is None):
            try:
                report = collab.upload_stock(
                    store, actor, supplier, file.getvalue(), file.name, as_of=day
                )
                _done("sp_stock_done", f"Recorded {file.name} as report #{report}.")
            except ControlTowerError as exc:
                show_error(exc)
    st.subheader("Reports")
    keyed_table(collab.stock_reports(store, actor, supplier), key="sp_reports")


def _orders_tab(store, actor, supplier: str, today) -> None:
    _show_done("sp_order_done")
    orders = collab.open_orders(store, actor, supplier)
    st.caption("Open purchase order lines and call-offs (into a VMI site) from us to you.")
    keyed_table(
        orders,
        key="sp_orders",
        column_config={
            "po_number": "order",
            "call_off": st.column_config.CheckboxColumn("call-off"),
            "quantity": NUMBER("ordered", format="localized"),
            "received": NUMBER("received", format="localized"),
            "shipped": NUMBER("shipped", format="localized"),
            "to_ship": NUMBER("to ship", format="localized"),
            "order_date": DATE("ordered on"),
            "expected_date": DATE("promised"),
            "last_shipped": DATE("last shipped"),
            "shipment_eta": DATE("shipment expected"),
        },
    )
    open_lines = orders.filter(pl.col("to_ship") > 0)
    if open_lines.height == 0:
        st.info("Nothing left to ship.")
        return
    labels = {f"{r['po_number']} · {r['sku']}": r for r in open_lines.iter_rows(named=True)}
    with st.form("sp_ship"):
        st.markdown("**Record a shipment**")
        choice = st.selectbox("Order line", list(labels), key="sp_ship_line")
        a, b, c = st.columns(3)
        qty = a.number_input("Units shipped", min_value=1, step=1, key="sp_ship_qty")
        shipped = b.date_input("Shipped on", value=today, max_value=today, key="sp_ship_on")
        expected = c.date_input(
            "Expected with us", value=today + timedelta(days=2), key="sp_ship_eta"
        )
        go = st.form_submit_button("Record the shipment")
    if go:
        line = labels[choice]
        try:
            shipment = collab.record_shipment(
                store,
                actor,
                supplier,
                line["po_number"],
                line["sku"],
                int(qty),
                shipped_on=shipped,
                expected_date=expected,
            )
            _done(
                "sp_order_done",
                f"Shipment #{shipment}: {int(qty):,} of {line['sku']} on {line['po_number']}, "
                f"expected {expected}.",
            )
        except ControlTowerError as exc:
            show_error(exc)


def _allocation_tab(store, actor, supplier: str, today) -> None:
    _show_done("sp_alloc_done")
    requests = collab.allocation_requests(store, actor, supplier, answered=True)
    st.caption("Our requests that you set stock aside for us; your answer updates your stock.")
    keyed_table(requests, key="sp_requests")
    waiting = requests.filter(pl.col("status") == "posted")
    if waiting.height == 0:
        st.info("No request is waiting for your answer.")
        return
    labels = {
        f"#{r['action_id']} · {r['quantity']:,} {r['sku']} by {r['needed_by']}": r
        for r in waiting.iter_rows(named=True)
    }
    with st.form("sp_answer"):
        choice = st.selectbox("Request", list(labels), key="sp_answer_pick")
        a, b = st.columns(2)
        qty = a.number_input("Units you allocate (0: none)", min_value=0, step=1, key="sp_alloc_q")
        ready = b.date_input("Ready from", value=today, min_value=today, key="sp_alloc_day")
        note = st.text_input("Note", key="sp_alloc_note", max_chars=500)
        go = st.form_submit_button("Send the answer")
    if go:
        request = labels[choice]
        try:
            collab.answer_allocation(
                store, actor, supplier, request["action_id"], int(qty), ready, note
            )
            _done(
                "sp_alloc_done",
                f"Answered request #{request['action_id']}: {int(qty):,} ready from {ready}.",
            )
        except ControlTowerError as exc:
            show_error(exc)


def _vmi_tab(store, actor, supplier: str) -> None:
    _show_done("sp_vmi_done")
    levels = vmi.own_levels(store, actor, supplier)
    if levels.height == 0:
        st.info("No VMI levels are agreed with you: you hold no consigned stock at our sites.")
        return
    st.caption(
        "Your consigned stock at our VMI sites: it stays yours until we use it. Keep it "
        "between the agreed min and max; you may change them, with a reason."
    )
    keyed_table(
        levels.drop("supplier", "location_name"),
        key="sp_levels",
        column_config=LEVEL_COLUMNS,
    )
    labels = {f"{r['sku']} at {r['location']}": r for r in levels.iter_rows(named=True)}
    st.markdown("**Change a level**")
    choice = st.selectbox("SKU and site", list(labels), key="sp_level_pick")
    with st.form("sp_level"):
        row = labels[choice]
        a, b = st.columns(2)
        low = a.number_input(
            "Min", min_value=0, step=1, value=int(row["min_qty"]), key=f"sp_min_{choice}"
        )
        high = b.number_input(
            "Max", min_value=1, step=1, value=int(row["max_qty"]), key=f"sp_max_{choice}"
        )
        reason = st.text_input("Reason", key="sp_level_reason", max_chars=500)
        go = st.form_submit_button("Change")
    if go:
        row = labels[choice]
        try:
            vmi.set_level(
                store, actor, supplier, row["sku"], row["location"], int(low), int(high), reason
            )
            _done("sp_vmi_done", f"{choice}: now {int(low):,} to {int(high):,}.")
        except ControlTowerError as exc:
            show_error(exc)
    st.subheader("Changes")
    keyed_table(vmi.level_history(store, actor, supplier), key="sp_level_history")


def _settlement_tab(store, actor, supplier: str, today) -> None:
    _show_done("sp_settle_done")
    tolerance = state.get_settings().suppliers.settlement_tolerance
    heads = vmi.statements(store, actor, supplier, tolerance=tolerance)
    st.caption(
        "What we consumed of your consigned stock, priced at consumption: our statements per "
        "period, and the consumption you count for the same period. Differences are flagged "
        "for both sides to check."
    )
    if heads.height == 0:
        st.info("No statement yet.")
    else:
        keyed_table(
            heads,
            key="sp_statements",
            column_config=STATEMENT_COLUMNS,
        )
        pick = st.selectbox(
            "Statement",
            heads["statement_id"].to_list(),
            format_func=lambda i: f"ST-{i}",
            key="sp_statement",
        )
        lines = vmi.statement_lines(store, actor, supplier, int(pick), tolerance=tolerance)
        together = lines["statement_ids"][0].to_list() if lines.height else []
        if len(together) > 1:
            st.caption(
                "This period has more than one statement ("
                + ", ".join(f"ST-{i}" for i in together)
                + "): the lines are the period's, all of them together."
            )
        keyed_table(
            lines.select(
                "sku",
                "name",
                "quantity",
                "unit_price",
                "amount",
                "reported",
                "difference",
                "status",
            ),
            key="sp_statement_lines",
            column_config={
                "quantity": NUMBER("ours", format="localized"),
                "unit_price": NUMBER("unit price", format="%.4f"),
                "amount": NUMBER("amount", format="localized"),
                "reported": NUMBER("theirs", format="localized"),
                "difference": NUMBER("theirs - ours", format="localized"),
            },
        )
        st.download_button(
            "Download this statement (CSV)",
            lines.with_columns(pl.col("statement_ids").cast(pl.List(pl.String)).list.join(" "))
            .write_csv()
            .encode("utf-8"),
            file_name=f"{supplier}-ST-{pick}.csv",
            mime="text/csv",
            key="sp_statement_csv",
        )
    with st.expander("Report your consumption for a period", icon=":material/fact_check:"):
        first, last = vmi.month_period(today)
        a, b = st.columns(2)
        start = a.date_input("From", value=first, key="sp_cons_from")
        end = b.date_input("To", value=last, key="sp_cons_to")
        file = st.file_uploader(
            "File with columns sku, quantity", type=["csv", "xlsx"], key="sp_cons_file"
        )
        if st.button("Record", key="sp_cons_record", disabled=file is None):
            try:
                report = vmi.upload_consumption(
                    store, actor, supplier, start, end, file.getvalue(), file.name
                )
                _done("sp_settle_done", f"Recorded your consumption as report #{report}.")
            except ControlTowerError as exc:
                show_error(exc)
    st.subheader("Consumed, not yet on a statement")
    keyed_table(
        vmi.payables(store, actor, supplier, unsettled_only=True),
        key="sp_payables",
        column_config={
            "quantity": NUMBER("quantity", format="localized"),
            "unit_price": NUMBER("unit price", format="%.4f"),
            "amount": NUMBER("amount", format="localized"),
            "consumed_at": st.column_config.DatetimeColumn("consumed", format="YYYY-MM-DD HH:mm"),
        },
    )


with reported():
    store = state.store_with_data()
    actor = auth.current_actor()
    if actor is None:
        st.info("Sign in (sidebar) to open the supplier portal.", icon=":material/login:")
        st.stop()
    choices = collab.suppliers_for(store, actor)
    if actor.role == "supplier":
        supplier = actor.supplier
        name = choices["name"][0] if choices.height else supplier
        st.caption(f"**{plain(supplier)}** · {plain(name)}")
    else:
        names = dict(zip(choices["code"].to_list(), choices["name"].to_list(), strict=True))
        supplier = st.selectbox(
            "Supplier",
            list(names),
            format_func=lambda c: f"{c} · {names[c]}",
            key="sp_supplier",
        )
    today = state.data_as_of(store)
    tabs = st.tabs(
        ["Stock", "Orders and shipments", "Allocation requests", "VMI levels", "Settlement"]
    )
    with tabs[0], reported():
        _stock_tab(store, actor, supplier, today)
    with tabs[1], reported():
        _orders_tab(store, actor, supplier, today)
    with tabs[2], reported():
        _allocation_tab(store, actor, supplier, today)
    with tabs[3], reported():
        _vmi_tab(store, actor, supplier)
    with tabs[4], reported():
        _settlement_tab(store, actor, supplier, today)
