"""Plan page: running a plan through the page stores it and shows its lines, flows and costs
as the service computed them; a line's alternatives; a what-if compared with the base; a
replay of policies; the empty state."""

from __future__ import annotations

import json
import shutil

import pytest

from control_tower.actions import Actor
from control_tower.store import Store

from ._support import page, run, store_query, table

PLANNER = Actor("li.planner", "planner")


@pytest.fixture
def plan_db(demo_db, tmp_path, monkeypatch, fresh_caches):
    """A copy of the demo (the page writes plans into it)."""
    path = tmp_path / "plan.duckdb"
    shutil.copy(demo_db, path)
    monkeypatch.setenv("CONTROL_TOWER_DB", str(path))
    monkeypatch.delenv("CONTROL_TOWER_CONFIG", raising=False)
    return path


def _signed_in(actor: Actor = PLANNER):
    at = page("plan")
    at.session_state["actor"] = actor
    return run(at)


def _run_plan(at):
    at.number_input(key="plan_horizon").set_value(21)
    at.button(key="FormSubmitter:plan_run_form-Run plan").click()
    return run(at)


def test_without_a_plan_the_page_says_how_to_get_one(plan_db):
    at = run(page("plan"))
    assert at.title[0].value == "Plan"
    assert any("No plan yet" in i.value for i in at.info)
    # signed out (or as a viewer), nobody runs a plan: its lines are proposed under a name
    assert at.button(key="FormSubmitter:plan_run_form-Run plan").disabled
    assert any("Sign in as a planner" in c.value for c in at.caption)
    viewer = _signed_in(Actor("demo.viewer", "viewer"))
    assert viewer.button(key="FormSubmitter:plan_run_form-Run plan").disabled


def test_running_a_plan_stores_it_and_shows_its_lines_and_costs(plan_db):
    at = _run_plan(_signed_in())
    run_id, status, kpis, costs, created_by, notes = store_query(
        plan_db, "SELECT run_id, status, kpis, costs, created_by, notes FROM plan_runs"
    ).row(0)
    assert status in ("optimal", "feasible")
    # the run and its proposals are the signed-in planner's
    assert created_by == PLANNER.name
    proposers = store_query(
        plan_db, "SELECT DISTINCT proposed_by FROM actions WHERE plan_run = ?", [run_id]
    )["proposed_by"].to_list()
    assert proposers == [PLANNER.name]
    # the demo copy has no forecast run: the run says so, and the page shows it
    assert json.loads(notes)[0].startswith("no forecast run covers this plan")
    assert any("Planned without a forecast" in w.value for w in at.warning)
    assert any(f"Plan run {run_id}" in s.value for s in at.success)
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Planned fill rate"] == f"{json.loads(kpis)['fill_rate']:.1%}"
    assert metrics["Total cost"] == f"{json.loads(costs)['total']:,.0f}"
    lines = store_query(plan_db, "SELECT * FROM plan_lines WHERE run_id = ?", [run_id])
    shown = table(at, "plan_lines")
    assert len(shown) == lines.filter(lines["release_now"]).height  # "only now" is on
    at.toggle(key="plan_now_only").set_value(False)
    run(at)
    assert len(table(at, "plan_lines")) == lines.height
    alternatives = table(at, "plan_alternatives")
    assert "chosen" in alternatives["verdict"].tolist()
    shown_costs = table(at, "plan_costs")
    assert shown_costs["cost"].sum() == pytest.approx(2 * json.loads(costs)["total"], rel=1e-6)
    flows = table(at, "plan_flows")
    assert flows["units"].sum() == lines.filter(lines["release_now"])["quantity"].sum()
    actions = store_query(plan_db, "SELECT count(*) AS n FROM actions WHERE plan_run = ?", [run_id])
    assert actions["n"][0] == lines.filter(lines["release_now"]).height  # due now: proposed


def test_a_what_if_is_compared_with_the_base_plan(plan_db):
    at = _run_plan(_signed_in())
    central = store_query(plan_db, "SELECT code FROM locations WHERE kind = 'central_dc'")["code"][
        0
    ]
    at.multiselect(key="plan_wi_closed").set_value([central])
    at.button(key="FormSubmitter:plan_what_if-Re-plan and compare").click()
    run(at)
    runs = store_query(
        plan_db, "SELECT run_id, base_run, what_if, created_by FROM plan_runs ORDER BY run_id"
    )
    assert runs.height == 2
    assert runs["created_by"].to_list() == [PLANNER.name, PLANNER.name]
    assert runs["base_run"][1] == runs["run_id"][0]
    assert json.loads(runs["what_if"][1])["closed_locations"] == [central]
    compare = table(at, "plan_compare")
    row = compare[compare["measure"] == "transfers_from_central"].iloc[0]
    assert row["what_if"] == 0 and row["base"] > 0


def test_a_replay_of_reorder_rules_is_stored_and_charted(plan_db):
    at = _run_plan(_signed_in())
    at.number_input(key="plan_sim_days").set_value(14)
    at.text_input(key="plan_sim_scales").set_value("1, 2")
    at.checkbox(key="plan_sim_optimizer").set_value(False)
    at.button(key="FormSubmitter:plan_simulate-Replay").click()
    run(at)
    with Store(plan_db) as store:
        stored = store.query("SELECT policy, minmax_scale FROM simulation_runs ORDER BY run_id")
    assert stored["policy"].to_list() == ["none", "minmax", "minmax"]
    shown = table(at, "plan_sim_table")
    assert sorted(shown["policy"].tolist()) == ["minmax", "minmax", "none"]
    assert (shown["fill_rate"] <= 100).all()
