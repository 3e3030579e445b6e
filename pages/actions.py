"""Actions and audit: every drafted, approved, rejected, posted and closed action, with its
explanation (a plan's proposal as a card: why, if nothing is done, with it, the cost in parts,
the alternatives) and its full trail (who, when, from and to, why, quantities before and
after); post approved actions and receive posted ones; export the trail."""

from __future__ import annotations

import polars as pl
import streamlit as st

from control_tower import actions, explain
from control_tower.errors import ControlTowerError
from ui import auth, state
from ui.entry import through_app
from ui.errors import reported, show_error
from ui.explanation import explanation_card
from ui.format import plain
from ui.widgets import keyed_table

through_app()

st.title("Actions and audit")

NUMBER = st.column_config.NumberColumn
ACTION_COLUMNS = {
    "action_id": NUMBER("action"),
    "status": "status",
    "kind": "kind",
    "sku": "SKU",
    "from_location": "from",
    "to_location": "to",
    "supplier": "supplier",
    "target": "chases",
    "quantity": NUMBER("quantity", format="localized"),
    "ship_date": st.column_config.DateColumn("ships"),
    "arrival_date": st.column_config.DateColumn("arrives"),
    "plan_run": NUMBER("plan run"),
    "proposed_by": "proposed by",
}
TRAIL_COLUMNS = {
    "occurred_at": st.column_config.DatetimeColumn("when", format="YYYY-MM-DD HH:mm:ss"),
    "action_id": NUMBER("action"),
    "actor": "who",
    "from_status": "from",
    "to_status": "to",
    "reason": st.column_config.TextColumn("why", width="large"),
    "quantity_before": NUMBER("qty before", format="localized"),
    "quantity_after": NUMBER("qty after", format="localized"),
}


def _carry_out(store, chosen: dict, actor) -> None:
    """Post an approved action, receive a posted one; an expedite records the date its
    supplier committed to, and closes once every line it chases has arrived."""
    action_id = chosen["action_id"]
    expedite = chosen["kind"] == "expedite"
    if chosen["status"] == "approved":
        committed = None
        if expedite:
            committed = st.date_input(
                f"Date {chosen['supplier'] or chosen['from_location']} committed to",
                value=chosen["arrival_date"],
                key="act_committed",
            )
        label = (
            "Record the committed date"
            if expedite
            else "Send the request to the supplier"
            if chosen["kind"] == "request_allocation"
            else "Post (dispatch the transfer / open the PO line)"
        )
        if st.button(label, key="act_post"):
            try:
                actions.post(store, action_id, actor, committed_date=committed)
                done = (
                    f"{actions.chases(chosen)} now expected on {committed}"
                    if expedite
                    else f"posted as {actions.reference(action_id)}"
                )
                st.session_state["act_done"] = (action_id, f"Action {action_id}: {done}.")
                st.rerun()  # the table, heading and buttons show the new status
            except ControlTowerError as exc:
                show_error(exc)
    if chosen["kind"] == "request_allocation":
        if chosen["status"] == "posted":
            st.caption(f"Waiting for {plain(chosen['supplier'])}'s answer in the supplier portal.")
        return
    if chosen["status"] == "posted":
        label = "Close (the goods arrived)" if expedite else "Receive in full"
        if st.button(label, key="act_receive"):
            try:
                actions.receive(store, action_id, actor)
                st.session_state["act_done"] = (action_id, f"Action {action_id} closed.")
                st.rerun()
            except ControlTowerError as exc:
                show_error(exc)


with reported():
    store = state.store_with_data()
    actor = auth.current_actor()
    f1, f2, f3, f4 = st.columns([2, 1, 1, 1])
    statuses = f1.multiselect(
        "Status", list(actions.STATES), default=["proposed", "approved", "posted"], key="act_status"
    )
    sku = f2.text_input("SKU", key="act_sku").strip() or None
    location = f3.text_input("Location", key="act_loc").strip() or None
    number = f4.text_input("Action number", key="act_number").strip()
    wanted = [int(number)] if number.isdigit() else None
    table = actions.list_actions(
        store, statuses=statuses or None, sku=sku, location=location, action_ids=wanted
    )
    done = st.session_state.get("act_done")
    if done and done[0] not in table["action_id"].to_list():  # left the filter (e.g. closed)
        st.success(plain(done[1]), icon=":material/check_circle:")
    counts = table.group_by("status").len().sort("status")
    st.caption(
        f"{table.height:,} actions"
        + (" · " + ", ".join(f"{s} {n:,}" for s, n in counts.iter_rows()) if table.height else "")
    )
    chased = [
        actions.chases(r) if r["kind"] == "expedite" else None
        for r in table.select("kind", "target", "targets").iter_rows(named=True)
    ]
    picked = keyed_table(
        table.with_columns(target=pl.Series(chased, dtype=pl.String))
        .select(list(ACTION_COLUMNS))
        .head(5000),
        key="act_table",
        column_config=ACTION_COLUMNS,
        on_select="rerun",
        selection_mode="single-row",
        height=360,
    )
    if table.height:
        rows = picked.selection.rows if picked is not None else []
        chosen = table.row(rows[0] if rows else 0, named=True)
        action_id = chosen["action_id"]
        st.subheader(f"Action {action_id}: {chosen['status']}")
        # what was last done to this action stays said while it is the one shown (a pop
        # would lose it to any rerun before the browser draws it)
        done = st.session_state.get("act_done")
        if done and done[0] == action_id:
            st.success(plain(done[1]), icon=":material/check_circle:")
        st.markdown(plain(actions.describe(chosen)))
        explanation_card(
            explain.explanation_of(store, action_id),
            chosen["explanation"],
            key="act_explanation",
        )
        keyed_table(
            actions.action_history(store, action_id).select(list(TRAIL_COLUMNS)),
            key="act_trail",
            column_config=TRAIL_COLUMNS,
        )
        if actor is not None and actor.role in actions.CAN["post"]:
            _carry_out(store, chosen, actor)
    st.subheader("Audit trail")
    trail = actions.action_history(store)
    who = st.text_input("Who", key="act_who").strip()
    if who:
        trail = trail.filter(pl.col("actor").str.contains(who, literal=True))
    keyed_table(
        trail.select(list(TRAIL_COLUMNS)).tail(2000).reverse(),
        key="act_audit",
        column_config=TRAIL_COLUMNS,
        height=320,
    )
    st.download_button(
        "Export the trail (CSV)",
        trail.write_csv(),
        file_name="action_audit.csv",
        mime="text/csv",
        key="act_export",
    )
