"""The planning cycle (control_tower.cycle) through ``control-tower cycle`` on a copy of the
small test demo: forecast, plan and exceptions stored in that order under one name, the plan
on that forecast and the exceptions linked to its proposals; an unchanged forecast is not
made again; a step that fails stops the cycle with a clear message and a non-zero exit."""

from __future__ import annotations

import io
import json

import pytest

from control_tower import cycle
from control_tower.cli import main
from control_tower.store import Store
from tests.conftest import copy_of


@pytest.fixture
def db(demo_db_path, tmp_path):
    return copy_of(demo_db_path, tmp_path)


def _one(path, sql: str, params: list | None = None):
    with Store(path) as store:
        return store.rows(sql, params)


def test_a_cycle_forecasts_plans_and_links_the_exceptions_under_one_name(db, capsys):
    assert main(["cycle", "--db", str(db), "--as", "li.planner", "--baselines-only"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("cycle as li.planner: forecast, plan and exceptions in")
    assert [line.split()[0] for line in out.splitlines()[1:4]] == list(cycle.STEPS)
    ((forecast_run, forecast_by, note),) = _one(
        db, "SELECT run_id, created_by, note FROM forecast_runs"
    )
    assert forecast_by == "li.planner" and note.startswith("baselines only")
    ((plan_run, plan_by, read_forecast, notes),) = _one(
        db, "SELECT run_id, created_by, forecast_run, notes FROM plan_runs"
    )
    assert plan_by == "li.planner" and read_forecast == forecast_run
    assert not any(n.startswith("no forecast run") for n in json.loads(notes))
    assert _one(db, "SELECT DISTINCT proposed_by FROM actions WHERE plan_run = ?", [plan_run]) == [
        ("li.planner",)
    ]
    ((exception_by, linked_plan, linked_forecast),) = _one(
        db, "SELECT created_by, plan_run, forecast_run FROM exception_runs"
    )
    assert (exception_by, linked_plan, linked_forecast) == ("li.planner", plan_run, forecast_run)
    ((linked,),) = _one(
        db,
        "SELECT count(*) FROM exception_run_items WHERE action_ids IS NOT NULL "
        "AND action_ids <> '[]'",
    )
    assert linked > 0  # the plan's transfers and orders are linked to the exceptions

    # Again on the same data: the forecast is the same run, the plan and rules run afresh.
    assert main(["cycle", "--db", str(db), "--as", "wang.planner", "--baselines-only"]) == 0
    out = capsys.readouterr().out
    assert f"run {forecast_run} as of" in out and "reused: no series changed" in out
    assert _one(db, "SELECT count(*) FROM forecast_runs") == [(1,)]
    assert _one(db, "SELECT created_by, forecast_run FROM plan_runs ORDER BY run_id") == [
        ("li.planner", forecast_run),
        ("wang.planner", forecast_run),
    ]
    assert _one(db, "SELECT count(*) FROM exception_runs") == [(2,)]


def test_a_cycle_that_cannot_forecast_stops_there_with_a_clear_message(network, capsys):
    """A store with master data but no demand: the forecast step fails, nothing else runs."""
    path = network.path
    network.close()
    assert main(["cycle", "--db", str(path), "--as", "li.planner"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("Cycle stopped at the forecast\nthe forecast step failed:")
    assert "demand history" in err
    assert _one(
        path, "SELECT (SELECT count(*) FROM plan_runs) + (SELECT count(*) FROM exception_runs)"
    ) == [(0,)]


def test_a_plan_without_a_forecast_run_says_so_in_its_notes(db, capsys):
    assert main(["plan", "--db", str(db), "--as", "li.planner", "--horizon", "21"]) == 0
    out = capsys.readouterr().out
    assert "note: no forecast run covers this plan" in out
    ((by, forecast_run, notes),) = _one(db, "SELECT created_by, forecast_run, notes FROM plan_runs")
    assert by == "li.planner" and forecast_run is None
    assert json.loads(notes)[0].startswith("no forecast run covers this plan")


def test_command_line_runs_are_recorded_under_the_os_user_unless_told_otherwise(
    db, capsys, monkeypatch
):
    monkeypatch.setattr("getpass.getuser", lambda: "zhang.wei")
    assert main(["exceptions", "--db", str(db), "--format", "json", "--top", "1"]) == 0
    assert main(["exceptions", "--db", str(db), "--as", "li.na", "--dry-run"]) == 0
    assert _one(db, "SELECT created_by FROM exception_runs") == [("zhang.wei",)]
    monkeypatch.setattr("sys.stdin", io.StringIO("a long enough password\n"))
    command = ["users", "--db", str(db), "--as", "admin.li", "add", "chen.approver"]
    assert main([*command, "--role", "approver", "--password-stdin"]) == 0
    assert main(["users", "--db", str(db), "disable", "chen.approver"]) == 0
    assert _one(db, "SELECT actor, change FROM user_events ORDER BY occurred_at") == [
        ("admin.li", "added as approver"),
        ("zhang.wei", "disabled"),
    ]
