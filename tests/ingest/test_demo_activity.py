"""The demo as ``control-tower demo`` builds it comes with its first cycle and a short history
of decisions by the demo users: a forecast run (baselines only, and its note says so), a plan
and an exception run by demo.planner, proposals approved and one rejected with a reason by
demo.approver, one posted and received by demo.planner; nothing dated after the data."""

from __future__ import annotations

import pytest

from control_tower.cli import main
from control_tower.store import Store
from control_tower.users import DEMO_USERS
from tests.conftest import DEMO_SIZE

SIZE = [f"--{k}={v}" for k, v in DEMO_SIZE.items()]


@pytest.fixture(scope="module")
def fresh_demo(tmp_path_factory):
    path = tmp_path_factory.mktemp("fresh") / "demo.duckdb"
    assert main(["demo", "--db", str(path), "--quiet", *SIZE]) == 0
    return path


def test_a_fresh_demo_has_a_forecast_a_plan_an_exception_run_and_decisions(fresh_demo):
    demo_names = {u.name for u in DEMO_USERS}
    with Store(fresh_demo) as store:
        ((forecast_run, forecast_by, note, prophet_classes),) = store.rows(
            "SELECT run_id, created_by, note, json_extract(settings, '$.prophet_classes')::VARCHAR "
            "FROM forecast_runs"
        )
        assert forecast_by == "demo.planner"
        assert note.startswith("baselines only") and prophet_classes == "[]"
        ((plan_run, plan_by, plan_forecast, status),) = store.rows(
            "SELECT run_id, created_by, forecast_run, status FROM plan_runs"
        )
        assert (plan_by, plan_forecast, status) == ("demo.planner", forecast_run, "optimal")
        ((exception_by, exception_plan),) = store.rows(
            "SELECT created_by, plan_run FROM exception_runs"
        )
        assert (exception_by, exception_plan) == ("demo.planner", plan_run)
        decided = store.query(
            "SELECT e.action_id, e.actor, e.to_status, e.reason, a.plan_run FROM action_events e "
            "JOIN actions a USING (action_id) WHERE e.to_status NOT IN ('proposed', 'superseded') "
            "ORDER BY e.event_id"
        )
        # the cycle's approval policy decided the routine proposals, saying which limits
        # passed them; the rest are the demo users' decisions
        by_policy = decided.filter(decided["actor"] == "policy:routine")
        assert by_policy.height > 0 and set(by_policy["to_status"]) == {"approved"}
        assert all(r.startswith("within policy routine: ") for r in by_policy["reason"])
        decided = decided.filter(decided["actor"] != "policy:routine")
        by_status = {s: decided.filter(decided["to_status"] == s) for s in decided["to_status"]}
        assert set(decided["actor"]) <= demo_names
        assert set(decided["plan_run"]) == {plan_run}
        assert by_status["approved"].height >= 2
        assert set(by_status["approved"]["actor"]) == {"demo.approver"}
        ((rejected_by, reason),) = by_status["rejected"].select("actor", "reason").rows()
        assert rejected_by == "demo.approver" and reason
        assert by_status["posted"]["actor"].to_list() == ["demo.planner"]
        assert (
            by_status["closed"]["action_id"].to_list() == by_status["posted"]["action_id"].to_list()
        )
        # the decisions moved no date: the data's today is the plan's
        ((as_of,),) = store.rows("SELECT as_of FROM plan_runs")
        assert store.as_of() == as_of
