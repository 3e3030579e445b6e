"""Exceptions: what is going wrong, most money at risk first. Filter and group the inbox,
open one to read its facts and the drafted actions that fix it, and (with the right role)
approve, reject or edit those actions, acknowledge or snooze the exception, or approve many
drafted actions at once."""

from __future__ import annotations

import json
from datetime import timedelta

import plotly.graph_objects as go
import polars as pl
import streamlit as st

from control_tower import actions, exceptions, explain, position
from control_tower.errors import ControlTowerError
from ui import auth, state
from ui.charts import PLOT_CONFIG
from ui.entry import through_app
from ui.errors import reported, show_error
from ui.explanation import explanation_card
from ui.format import plain
from ui.widgets import keyed_table

through_app()

st.title("Exceptions")

NUMBER = st.column_config.NumberColumn
COLUMNS = {
    "severity": NUMBER("severity", format="localized", help="value at risk x urgency"),
    "rule": "rule",
    "title": st.column_config.TextColumn("exception", width="large"),
    "value_at_risk": NUMBER("value at risk", format="localized"),
    "urgency": NUMBER("urgency", format="%.2f"),
    "due_date": st.column_config.DateColumn("bites on"),
    "sku": "SKU",
    "location": "location",
    "drafted": NUMBER("drafted actions"),
    "first_seen_at": st.column_config.DatetimeColumn("first seen", format="YYYY-MM-DD HH:mm"),
    "acknowledged_by": "acknowledged by",
}
RULE_LABELS = {
    "stockout": "projected stock-out",
    "below_safety_stock": "below safety stock",
    "excess": "excess",
    "dead_stock": "dead stock",
    "late_inbound": "late inbound",
    "demand_anomaly": "demand beyond forecast",
    "data_quality": "data problem",
    "supplier_low_water": "supplier low water",
    "vmi_level": "VMI stock outside agreed levels",
    "settlement_difference": "settlement difference",
}


def _ids(text: str | None) -> list[int]:
    return json.loads(text) if text else []


def _decide(store, action_id: int, actor) -> None:
    """Approve, reject or edit one drafted action, as the actor's role allows."""
    action = actions.get_action(store, action_id)
    st.markdown(
        f"**Action {action_id}**: {plain(actions.describe(action))} · status **{action['status']}**"
    )
    explanation_card(
        explain.explanation_of(store, action_id),
        action["explanation"],
        key=f"exc_explanation_{action_id}",
    )
    if action["status"] != "proposed" or actor is None:
        if actor is None:
            st.caption("Sign in to decide drafted actions.")
        return
    a, b, c = st.columns(3)
    if actor.role in actions.CAN["decide"]:
        if a.button("Approve", key=f"exc_approve_{action_id}", icon=":material/check:"):
            try:
                actions.approve(store, action_id, actor, settings=state.get_settings())
                st.success(f"Action {action_id} approved.")
            except ControlTowerError as exc:
                show_error(exc)
        with b.popover("Reject", icon=":material/close:"):
            why = st.text_input("Reason (required)", key=f"exc_reject_reason_{action_id}")
            if st.button("Reject", key=f"exc_reject_{action_id}"):
                try:
                    actions.reject(store, action_id, actor, why)
                    st.success(f"Action {action_id} rejected.")
                except ControlTowerError as exc:
                    show_error(exc)
    if actor.role in actions.CAN["edit"]:
        with c.popover("Edit quantity", icon=":material/edit:"):
            qty = st.number_input(
                "Quantity", 1, 10_000_000, int(action["quantity"]), key=f"exc_qty_{action_id}"
            )
            why = st.text_input("Reason (required)", key=f"exc_qty_reason_{action_id}")
            if st.button("Save quantity", key=f"exc_qty_save_{action_id}"):
                try:
                    actions.edit_quantity(store, action_id, int(qty), actor, why)
                    st.success(f"Action {action_id} now {int(qty):,}.")
                except ControlTowerError as exc:
                    show_error(exc)


DECISION_COLUMNS = {
    "action_id": NUMBER("action"),
    "kind": "kind",
    "sku": "SKU",
    "source": "from",
    "to_location": "to",
    "quantity": NUMBER("units", format="localized"),
    "arrival_date": st.column_config.DateColumn("arrives"),
    "value": NUMBER("value at cost", format="localized"),
    "serves": st.column_config.TextColumn("serves", width="large"),
    "serves_at_risk": NUMBER("money at risk", format="localized"),
    "kept": st.column_config.TextColumn("why it waits for you", width="large"),
}
GROUPS_SHOWN = 12


def _decisions(store, actor, settings) -> None:
    """The proposals the approval policy left to people, in groups with select-all."""
    by = st.radio(
        "Decisions for people, grouped by",
        list(exceptions.DECISION_GROUPS),
        horizontal=True,
        key="exc_decide_by",
    )
    waiting = exceptions.decisions(store, by)
    groups = waiting["group"].unique(maintain_order=True).to_list()
    st.caption(
        f"**{waiting.height:,}** proposals wait for a decision, in **{len(groups):,}** groups, "
        "most money at risk first; the approval policy decided the routine ones."
    )
    may_decide = actor is not None and actor.role in actions.CAN["decide"]
    for n, group in enumerate(groups[:GROUPS_SHOWN]):
        rows = waiting.filter(pl.col("group") == group)
        at_risk = rows["at_risk"][0]
        with st.expander(
            f"{plain(group)}: {rows.height} action{'s' if rows.height != 1 else ''}, "
            f"{at_risk:,.0f} at risk",
            expanded=n == 0,
        ):
            picked = keyed_table(
                rows.select(list(DECISION_COLUMNS)).with_columns(
                    pl.col("value", "serves_at_risk").round(0)
                ),
                key=f"exc_decide_{by}_{n}",
                column_config=DECISION_COLUMNS,
                on_select="rerun" if may_decide else "ignore",
                selection_mode="multi-row",
            )
            if not may_decide:
                continue
            chosen = [rows["action_id"][i] for i in (picked.selection.rows if picked else [])]
            a, b = st.columns(2)
            every = a.button(
                f"Approve all {rows.height} in this group",
                key=f"exc_decide_all_{by}_{n}",
                icon=":material/done_all:",
            )
            some = b.button(
                f"Approve the {len(chosen)} selected",
                key=f"exc_decide_some_{by}_{n}",
                disabled=not chosen,
            )
            if every or some:
                ids = rows["action_id"].to_list() if every else chosen
                results = actions.approve_many(store, ids, actor, settings=settings)
                keyed_table(
                    pl.DataFrame(results, schema=["action", "outcome"], orient="row"),
                    key=f"exc_decide_results_{by}_{n}",
                )
    if len(groups) > GROUPS_SHOWN:
        st.caption(f"{len(groups) - GROUPS_SHOWN:,} more groups: filter the inbox below.")


def _history_chart(store, sku: str, location: str, as_of) -> None:
    moves = position.ledger_history(
        store, sku, location, start=as_of - timedelta(days=60), end=as_of
    )
    if moves.height == 0:
        return
    days, on_hand = moves["date"].to_list(), moves["on_hand"].to_list()
    if days[-1] < as_of:  # no movement since: the balance holds until the data's today
        days, on_hand = days + [as_of], on_hand + [on_hand[-1]]
    fig = go.Figure(
        go.Scatter(
            x=days,
            y=on_hand,
            mode="lines",
            line_shape="hv",
            name="on hand",
        )
    )
    fig.update_layout(
        height=240,
        margin=dict(l=10, r=10, t=30, b=10),
        title=f"{sku} on hand at {location}, last 60 days",
        yaxis_title="units",
    )
    st.plotly_chart(fig, config=PLOT_CONFIG, key="exc_history_chart")


with reported():
    store = state.store_with_data()
    settings = state.get_settings()
    actor = auth.current_actor()
    run = exceptions.latest_run(store)
    may_run = actor is not None and actor.role in actions.CAN["propose"]
    top = st.columns([3, 1])
    with top[1]:
        if st.button(
            "Run the exception rules",
            icon=":material/play_arrow:",
            key="exc_run",
            disabled=not may_run,
            help=None if may_run else "Sign in as a planner: the run drafts expedites",
        ):
            with st.spinner("Checking every SKU and location…"):
                done = exceptions.run_exceptions(
                    store, settings, created_by=actor.name, auto_approve=True
                )
            if done.auto is not None:
                st.toast(
                    f"Policy {done.auto.policy}: {len(done.auto.approved):,} routine proposals "
                    f"approved, {done.auto.left_to_people:,} left to people",
                    icon=":material/rule:",
                )
            run = exceptions.latest_run(store)
    if run is None:
        st.info(
            "**No exception run yet.** Run the rules: they check projected stock-outs, safety "
            "stock, excess, dead stock, late inbound, demand beyond the forecast and data "
            "problems, and rank what they find by value at risk."
            + ("" if may_run else " Sign in as a planner (sidebar) to run them.")
        )
        st.stop()
    top[0].caption(
        f"Run {run['run_id']} as of **{run['as_of']}**, {run['created_at']:%Y-%m-%d %H:%M} by "
        f"{plain(run['created_by'])}: {run['raised']:,} exceptions in {run['seconds']:.1f} s"
        + (f"; drafted actions from plan run {run['plan_run']}" if run["plan_run"] else "")
    )

    _decisions(store, actor, settings)

    st.markdown("#### Exceptions")
    f1, f2, f3, f4, f5 = st.columns([2, 2, 1, 1, 1])
    rules = f1.multiselect(
        "Rule", list(exceptions.RULES), format_func=RULE_LABELS.get, key="exc_rules"
    )
    everywhere = exceptions.list_exceptions(store, include_snoozed=True)
    locations = f2.multiselect(
        "Location", sorted(everywhere["location"].drop_nulls().unique().to_list()), key="exc_locs"
    )
    show_snoozed = f3.checkbox("Show snoozed", key="exc_snoozed")
    hide_acknowledged = f4.checkbox("Hide acknowledged", key="exc_hide_ack")
    only_drafted = f5.checkbox("Only with a drafted action", key="exc_drafted")
    group = st.radio("Group by", ["none", "rule", "location"], horizontal=True, key="exc_group")
    inbox = exceptions.list_exceptions(
        store,
        rules=rules or None,
        locations=locations or None,
        include_snoozed=show_snoozed,
        include_acknowledged=not hide_acknowledged,
    ).with_columns(
        drafted=pl.col("action_ids").map_elements(lambda t: len(_ids(t)), return_dtype=pl.Int64)
    )
    if only_drafted:
        inbox = inbox.filter(pl.col("drafted") > 0)
    m1, m2, m3 = st.columns(3)
    m1.metric("Exceptions", f"{inbox.height:,}")
    m2.metric("Value at risk", f"{inbox['value_at_risk'].sum():,.0f}")
    m3.metric("With a drafted action", f"{(inbox['drafted'] > 0).sum():,}")
    if group != "none" and inbox.height:
        summary = (
            inbox.group_by(group)
            .agg(
                pl.len().alias("exceptions"),
                pl.col("value_at_risk").sum().round(0).alias("value at risk"),
                pl.col("severity").sum().round(0).alias("severity"),
            )
            .sort("severity", descending=True)
        )
        keyed_table(summary, key="exc_groups")
    picked = keyed_table(
        inbox.select(list(COLUMNS)).with_columns(pl.col("severity", "value_at_risk").round(0)),
        key="exc_inbox",
        column_config=COLUMNS,
        on_select="rerun",
        selection_mode="single-row",
        height=420,
    )
    if inbox.height == 0:
        st.success("Nothing to act on with these filters.")
        st.stop()
    rows = picked.selection.rows if picked is not None else []
    item = inbox.row(rows[0] if rows else 0, named=True)

    st.subheader(item["title"])
    st.write(item["detail"])
    if item["suggestion"]:
        st.info(f"**Suggested:** {item['suggestion']}", icon=":material/lightbulb:")
    d1, d2 = st.columns([1, 1])
    with d1:
        facts = json.loads(item["facts"])
        st.caption(
            f"{RULE_LABELS[item['rule']]} · severity {item['severity']:,.0f} = value at risk "
            f"{item['value_at_risk']:,.0f} x urgency {item['urgency']:.2f} · first seen "
            f"{item['first_seen_at']:%Y-%m-%d %H:%M} (run {item['first_seen_run']}), last seen "
            f"run {item['last_seen_run']}"
        )
        keyed_table(
            pl.DataFrame(
                {
                    "fact": list(facts),
                    "value": [json.dumps(v, ensure_ascii=False) for v in facts.values()],
                }
            ),
            key="exc_facts",
        )
        if item["acknowledged_by"]:
            st.caption(f"Acknowledged by {item['acknowledged_by']}: {item['ack_reason']}")
        if item["snoozed_until"]:
            st.caption(
                f"Snoozed until {item['snoozed_until']} by {item['snoozed_by']}: {item['snooze_reason']}"
            )
    with d2:
        if item["sku"] and item["location"]:
            _history_chart(store, item["sku"], item["location"], run["as_of"])
    linked = _ids(item["action_ids"])
    st.markdown("#### Drafted actions")
    if not linked:
        st.caption("No drafted action addresses this exception; run a plan to draft one.")
    for action_id in linked:
        with st.container(border=True):
            _decide(store, action_id, actor)

    if actor is not None and actor.role != "viewer":
        a, b = st.columns(2)
        with a.form("exc_ack"):
            reason = st.text_input("Why it needs no action now", key="exc_ack_reason")
            if st.form_submit_button("Acknowledge"):
                try:
                    exceptions.acknowledge(store, item["exception_key"], actor.name, reason)
                    st.success("Acknowledged.")
                except ControlTowerError as exc:
                    show_error(exc)
        with b.form("exc_snooze"):
            until = st.date_input("Snooze until", run["as_of"] + timedelta(days=7), key="exc_until")
            reason = st.text_input("Reason", key="exc_snooze_reason")
            if st.form_submit_button("Snooze"):
                try:
                    exceptions.snooze(store, item["exception_key"], actor.name, reason, until)
                    st.success(f"Snoozed until {until}.")
                except ControlTowerError as exc:
                    show_error(exc)

    if actor is not None and actor.role in actions.CAN["decide"]:
        proposed = actions.list_actions(
            store,
            statuses=["proposed"],
            action_ids=sorted({i for t in inbox["action_ids"].to_list() for i in _ids(t)}),
        )
        if proposed.height:
            st.markdown("#### Approve many")
            chosen = st.multiselect(
                "Drafted actions of the exceptions shown",
                proposed["action_id"].to_list(),
                format_func=lambda i: (
                    lambda r: (
                        f"{i}: {r['quantity']:,} {r['sku']} "
                        f"{r['from_location'] or r['supplier'] or ''} → {r['to_location']}"
                    )
                )(proposed.filter(pl.col("action_id") == i).row(0, named=True)),
                key="exc_bulk",
            )
            a, b = st.columns(2)
            some = a.button("Approve selected", key="exc_bulk_go", disabled=not chosen)
            every = b.button(
                f"Approve all {proposed.height:,} shown",
                key="exc_bulk_all",
                icon=":material/done_all:",
                help="every proposed action of the exceptions the filters above show",
            )
            if some or every:
                ids = proposed["action_id"].to_list() if every else chosen
                results = actions.approve_many(store, ids, actor, settings=settings)
                keyed_table(
                    pl.DataFrame(results, schema=["action", "outcome"], orient="row"),
                    key="exc_bulk_results",
                )
    elif actor is None:
        st.caption("Sign in (sidebar) to acknowledge, snooze or decide.")
