"""The Agent page through AppTest on a copy of the demo with a plan and an exception run:
the active model is shown, a suggested question gets an answer with its tool calls, a
planner drafts the suggested transfer for an approver, a viewer cannot, and the trace lists
the runs."""

from __future__ import annotations

import pytest

from control_tower.actions import Actor
from tests.conftest import copy_of
from ui.format import plain

from ._support import page, run, store_query, table

PLANNER = Actor("li.planner", "planner")
VIEWER = Actor("sun.viewer", "viewer")


@pytest.fixture(scope="module")
def ready_db(planned_demo_path, tmp_path_factory):
    return copy_of(planned_demo_path, tmp_path_factory.mktemp("agent_page"), exception_run=True)


@pytest.fixture
def db(ready_db, tmp_path, monkeypatch, fresh_caches):
    path = copy_of(ready_db, tmp_path)
    monkeypatch.setenv("CONTROL_TOWER_DB", str(path))
    monkeypatch.delenv("CONTROL_TOWER_CONFIG", raising=False)
    return path


def _as(at, actor):
    at.session_state["actor"] = actor
    return at


def _sources_question(db) -> str:
    item = store_query(
        db,
        "SELECT sku, location FROM exception_run_items WHERE rule = 'stockout' "
        "AND location LIKE 'RDC-%' ORDER BY severity DESC LIMIT 1",
    ).row(0, named=True)
    return f"Where can we get more {item['sku']} for {item['location']}?"


def test_a_suggested_question_is_answered_with_its_tool_calls(db):
    at = run(page("agent"))
    assert at.title[0].value == "Ask the agent"
    # no model by default: nothing to load, answers composed from the tools
    assert not any(plain("SmolLM2-135M-Instruct") in c.value for c in at.caption)
    top = store_query(
        db,
        "SELECT sku FROM exception_run_items WHERE rule = 'stockout' ORDER BY severity DESC "
        "LIMIT 1",
    ).item()
    first = at.button(key="agent_suggest_0")
    assert top in first.label
    first.click()
    run(at)
    assert [m.name for m in at.chat_message] == ["user", "assistant"]
    assert any(plain(top) in m.value for m in at.chat_message[1].markdown)
    assert at.chat_message[1].expander[0].label.startswith("Tool calls and sources (")
    assert any("composed from the tools" in c.value for c in at.chat_message[1].caption)
    runs = store_query(db, "SELECT question, tool_calls, session FROM agent_runs")
    assert runs.height == 1 and top in runs["question"][0]
    assert "simulate_what_if" in runs["tool_calls"][0]
    assert runs["session"][0].startswith("page-")


def test_a_follow_up_on_the_page_builds_on_the_previous_question(db):
    sku, first, second = store_query(
        db,
        "SELECT sku, min(location), max(location) FROM ledger JOIN locations l "
        "ON l.code = location WHERE l.kind = 'regional_dc' GROUP BY sku "
        "HAVING count(DISTINCT location) > 1 ORDER BY sku LIMIT 1",
    ).row(0)
    at = run(page("agent"))
    at.chat_input[0].set_value(f"how much {sku} do we have at {first}?").run()
    at.chat_input[0].set_value(f"and at {second}?").run()
    answers = [m for m in at.chat_message if m.name == "assistant"]
    assert len(answers) == 2
    assert any(plain(second) in m.value and plain(sku) in m.value for m in answers[1].markdown)
    runs = store_query(db, "SELECT session, plan FROM agent_runs ORDER BY run_id")
    assert runs["session"].n_unique() == 1
    # a cleared conversation starts a new session: no follow-up from before
    at.button(key="agent_clear").click()
    run(at)
    at.chat_input[0].set_value(f"and at {second}?").run()
    last = store_query(db, "SELECT session FROM agent_runs ORDER BY run_id DESC LIMIT 1").item()
    assert last != runs["session"][0]


def test_a_planner_drafts_the_suggested_transfer_and_a_viewer_cannot(db):
    question = _sources_question(db)
    viewer = run(_as(page("agent"), VIEWER))
    viewer.chat_input[0].set_value(question).run()
    assert not [b for b in viewer.button if b.key.startswith("agent_draft_")]
    assert any("a planner can draft it" in c.value for c in viewer.caption)

    at = run(_as(page("agent"), PLANNER))
    at.chat_input[0].set_value(question).run()
    draft = at.button(key="agent_draft_0")
    assert draft.label.startswith("Draft this transfer: ")
    before = store_query(db, "SELECT count(*) FROM actions").item()
    draft.click()
    run(at)
    made = store_query(db, "SELECT * FROM actions ORDER BY action_id DESC LIMIT 1").row(
        0, named=True
    )
    assert store_query(db, "SELECT count(*) FROM actions").item() == before + 1
    assert (made["status"], made["proposed_by"], made["kind"]) == (
        "proposed",
        PLANNER.name,
        "transfer",
    )
    assert any(plain(f"Drafted action #{made['action_id']}") in s.value for s in at.success)


def test_the_trace_lists_the_runs(db):
    at = run(page("agent"))
    at.button(key="agent_suggest_0").click()
    run(at)
    trace = table(at, "agent_runs")
    assert len(trace) == 1 and "simulate_what_if" in trace["tool_calls"][0]


def test_a_list_answer_shows_its_table_as_a_table(db):
    at = run(page("agent"))
    at.chat_input[0].set_value("which stock-outs are coming up in the next two weeks?").run()
    answer = at.chat_message[1]
    assert not any("|---|" in m.value for m in answer.markdown)  # no markdown table as text
    shown = answer.dataframe[0].value
    top = store_query(
        db,
        "SELECT sku, location FROM exception_run_items WHERE rule = 'stockout' "
        "ORDER BY severity DESC LIMIT 1",
    ).row(0, named=True)
    first = [str(v) for v in shown.iloc[0].tolist()]
    assert first[0].startswith(top["sku"]) and top["location"] in first[1]


def test_two_questions_in_one_turn_show_both_answers_each_with_its_table(db):
    at = run(page("agent"))
    at.chat_input[0].set_value(
        "which stock-outs are coming up in the next two weeks? also what is the fill rate this month"
    ).run()
    answer = at.chat_message[1]
    said = " ".join(m.value for m in answer.markdown).replace("\\", "")
    assert "stock-out" in said and "fill rate" in said  # both answered, in order
    assert said.index("stock-out") < said.index("fill rate")
    assert not any("|---|" in m.value for m in answer.markdown)  # tables shown as tables
    assert len(answer.dataframe) >= 1
