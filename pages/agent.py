"""Ask the agent: questions in plain language, English or Chinese, answered in the question's
language from the store's tools; every figure shown comes from a tool of that turn. A
follow-up ("and in Wuhan?") builds on the conversation's previous turn. Each answer opens its
tool calls, facts and sources; a suggested transfer can be drafted for an approver. Nothing
here approves anything."""

from __future__ import annotations

import json
import secrets

import polars as pl
import streamlit as st

from agents.agent import agent_runs, ask, suggested_questions
from agents.tools import ToolContext, run_tool
from control_tower import actions
from control_tower.errors import ControlTowerError
from ui import auth, state
from ui.entry import through_app
from ui.errors import reported, show_error
from ui.format import plain
from ui.widgets import keyed_table

through_app()

st.title("Ask the agent")
HISTORY = "agent_history"
SESSION = "agent_session"


def _new_session() -> str:
    return f"page-{secrets.token_hex(6)}"


def _show(store, turn: dict, actor, i: int) -> None:
    with st.chat_message("user"):
        st.markdown(plain(turn["question"]))
    with st.chat_message("assistant"):
        # two questions in one turn come as two parts, each with its own table
        parts = turn.get("parts") or [{"text": turn["text"], "table": turn.get("table")}]
        for j, part in enumerate(parts):
            table = part.get("table")
            text = part["text"].split("\n\n")[0] if table else part["text"]
            st.markdown("  \n".join(plain(line) for line in text.splitlines()))
            if table:  # a table as a table (its cells are data: never rendered as markdown)
                st.dataframe(
                    pl.DataFrame(table["rows"], schema=table["columns"], orient="row"),
                    hide_index=True,
                    key=f"agent_table_{i}_{j}",
                )
                if table["total"] > len(table["rows"]):
                    st.caption(f"{len(table['rows']):,} of {table['total']:,} shown")
        how = "phrased by the model" if not turn["fallback"] else "composed from the tools"
        model = "" if turn["model"] == "none" else f"{plain(turn['model'])} · "
        st.caption(
            f"{model}{how} · {turn['seconds']:.1f} s"
            + (f" · run {turn['run_id']}" if turn.get("run_id") else "")
            + (f" · {plain(turn['note'])}" if turn.get("note") else "")
        )
        with st.expander(f"Tool calls and sources ({len(turn['calls'])})"):
            for call in turn["calls"]:
                shown = {k: v for k, v in call["args"].items() if v is not None}
                st.markdown(
                    f"**{call['tool']}** `{plain(json.dumps(shown, ensure_ascii=False))}` · "
                    f"{call['seconds']:.2f} s"
                    + (f" · refused: {plain(call['error'])}" if call["error"] else "")
                )
                if call["sources"]:
                    st.caption("from " + plain("; ".join(call["sources"])))
                for fact in call["facts"]:
                    st.text(fact)
        draft = turn.get("draft")
        if draft:
            label = (
                f"Draft this transfer: {draft['quantity']:,} {draft['sku']} from "
                f"{draft['from_location']} to {draft['to_location']}"
            )
            if actor is None or actor.role not in actions.CAN["propose"]:
                st.caption(plain(label) + " (a planner can draft it for an approver)")
            elif st.button(label, key=f"agent_draft_{i}", icon=":material/add_task:"):
                try:
                    made = run_tool(
                        ToolContext(store, state.get_settings(), actor), "draft_transfer", draft
                    )
                    st.success(plain(made.facts[0]))
                except ControlTowerError as exc:
                    show_error(exc)


with reported():
    store = state.store_with_data()
    actor = auth.current_actor()
    agent = state.get_settings().agent
    backend = None
    if agent.provider != "local" or agent.reasoning == "tools" or agent.rephrase:
        backend, why_not = state.get_backend()
        if backend is not None:
            st.caption(f"Model: **{plain(backend.label)}** ({backend.reasoning})")
        else:
            st.warning(
                f"The configured model cannot be used: {plain(why_not)}. Answers are composed "
                "from the tools.",
                icon=":material/cloud_off:",
            )
    history: list[dict] = st.session_state.setdefault(HISTORY, [])
    session = st.session_state.setdefault(SESSION, _new_session())
    st.caption("Try:")
    picked = None
    columns = st.columns(3)
    for n, text in enumerate(suggested_questions(store)[:6]):
        if columns[n % 3].button(text, key=f"agent_suggest_{n}", use_container_width=True):
            picked = text
    question = st.chat_input("Ask about stock, shortages, excess, suppliers, plans…")
    question = question or picked
    if question:
        try:
            answer = ask(
                store,
                question,
                settings=state.get_settings(),
                actor=actor,
                backend=backend,
                use_model=backend is not None,
                session=session,
            )
            history.append(answer.as_dict())
        except ControlTowerError as exc:
            show_error(exc)
    for i, turn in enumerate(history):
        _show(store, turn, actor, i)
    if history and st.button("Clear the conversation", key="agent_clear"):
        st.session_state[HISTORY] = []
        st.session_state[SESSION] = _new_session()  # a new conversation: no follow-up
        st.rerun()
    with st.expander("Recent agent runs (the trace)"):
        runs = agent_runs(store, 50)
        if runs.height:
            keyed_table(
                runs.select(
                    "run_id", "asked_at", "asked_by", "question", "intent", "model",
                    "fallback", "note", "seconds", "tool_calls",
                ),
                key="agent_runs",
            )  # fmt: skip
        else:
            st.caption("No questions asked yet.")
