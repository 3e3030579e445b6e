"""`control-tower ask`: the answer, the tool calls and the facts, as text or JSON."""

from __future__ import annotations

import json
import shutil

from control_tower import exceptions
from control_tower.cli import main
from control_tower.store import Store
from tests.conftest import TESTER


def test_ask_prints_the_answer_tool_calls_and_facts(demo_db_path, tmp_path, capsys):
    path = tmp_path / "demo.duckdb"
    shutil.copy(demo_db_path, path)
    with Store(path) as store:
        exceptions.run_exceptions(store, created_by=TESTER)
        item = exceptions.list_exceptions(store, rules=["stockout"]).row(0, named=True)
    question = f"Which locations run out of {item['sku']} in the next two weeks?"
    assert (
        main(
            [
                "ask",
                "--db",
                str(path),
                question,
                "--format",
                "json",
                "--as",
                "demo.viewer",
                "--demo-users",
            ]
        )
        == 0
    )
    out = json.loads(capsys.readouterr().out)
    assert out["question"] == question and out["intent"] == "stockouts_upcoming"
    assert out["calls"][0]["tool"] == "list_exceptions"
    assert out["calls"][0]["args"]["sku"] == item["sku"]
    assert out["calls"][0]["args"]["within_days"] == 14
    assert item["sku"] in out["text"] and item["location"] in out["text"]
    assert main(["ask", "--db", str(path), question, "--no-model"]) == 0
    text = capsys.readouterr().out
    assert "model: none (composed)" in text and "tool calls:" in text and "facts:" in text
    with Store(path) as store:
        assert store.scalar("SELECT count(*) FROM agent_runs") == 2


def test_ask_follows_up_in_a_session(demo_db_path, tmp_path, capsys):
    path = tmp_path / "demo.duckdb"
    shutil.copy(demo_db_path, path)
    with Store(path) as store:
        sku, first, second = store.rows(
            "SELECT sku, min(location), max(location) FROM ledger JOIN locations l "
            "ON l.code = location WHERE l.kind = 'regional_dc' GROUP BY sku "
            "HAVING count(DISTINCT location) > 1 ORDER BY sku LIMIT 1"
        )[0]
    ask = ["ask", "--db", str(path), "--session", "morning", "--format", "json"]
    assert main([*ask, f"how much {sku} at {first}?"]) == 0
    assert json.loads(capsys.readouterr().out)["plan"]["locations"] == [first]
    assert main([*ask, f"and at {second}?"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["plan"]["products"] == [sku] and out["plan"]["locations"] == [second]
    assert out["session"] == "morning"
    assert main(["ask", "--db", str(path), "--session", "a b", "fill rate?"]) == 2


def test_ask_refuses_an_empty_question(demo_db_path, tmp_path, capsys):
    path = tmp_path / "demo.duckdb"
    shutil.copy(demo_db_path, path)
    assert main(["ask", "--db", str(path), "   "]) == 2
    assert "ask a question" in capsys.readouterr().err
