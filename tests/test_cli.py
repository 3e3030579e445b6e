"""The command line on real DuckDB files in temporary folders."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest

from control_tower.cli import build_parser, main
from control_tower.store import Store
from tests.conftest import tiny_network_frames

SUBCOMMANDS = [
    "import",
    "import-folder",
    "demo",
    "cycle",
    "position",
    "kpis",
    "freshness",
    "schemas",
    "dashboard",
    "exceptions",
    "users",
    "report",
    "actions",
]


def write_network_files(folder: Path) -> dict[str, Path]:
    paths = {}
    for entity, frame in tiny_network_frames().items():
        paths[entity] = folder / f"{entity}.csv"
        frame.write_csv(paths[entity])
    return paths


@pytest.mark.parametrize("command", SUBCOMMANDS)
def test_every_subcommand_has_help(command, capsys):
    with pytest.raises(SystemExit) as done:
        main([command, "--help"])
    assert done.value.code == 0
    assert "usage: control-tower " + command in capsys.readouterr().out


def test_the_console_script_runs_as_a_real_process():
    out = subprocess.run(
        [sys.executable, "-m", "control_tower.cli", "--help"],
        capture_output=True,
        text=True,
        check=True,
    )
    for command in SUBCOMMANDS:
        assert command in out.stdout


def test_import_then_position_round_trip(tmp_path, capsys):
    db = tmp_path / "cli.duckdb"
    files = write_network_files(tmp_path)
    for entity in ("locations", "products", "suppliers", "supplier_products", "lanes"):
        assert main(["import", "--db", str(db), entity, str(files[entity])]) == 0
    ledger = tmp_path / "ledger.csv"
    ledger.write_text(
        "event_id,ts,sku,location,movement_type,quantity\n"
        "r1,2024-03-01,A-100,CD-RDC,receipt,120\n"
        "s1,2024-03-02,A-100,CD-RDC,sale,20\n",
        encoding="utf-8",
    )
    demand = tmp_path / "demand.csv"
    demand.write_text(
        "sku,location,date,quantity\n"
        + "".join(f"A-100,CD-RDC,2024-02-{d:02d},5\n" for d in range(4, 30))
        + "A-100,CD-RDC,2024-03-01,5\n"
        "A-100,CD-RDC,2024-03-02,20\n",
        encoding="utf-8",
    )
    assert main(["import", "--db", str(db), "ledger", str(ledger)]) == 0
    assert main(["import", "--db", str(db), "demand", str(demand)]) == 0
    capsys.readouterr()
    assert main(["import", "--db", str(db), "ledger", str(ledger)]) == 0
    assert "0 written, 2 already present" in capsys.readouterr().out

    assert main(["position", "--db", str(db), "--format", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    row = next(r for r in rows if r["sku"] == "A-100" and r["location"] == "CD-RDC")
    for column in (
        "sku",
        "location",
        "on_hand",
        "in_transit",
        "on_order",
        "days_of_cover",
        "stock_value",
    ):
        assert column in row, column
    assert row["on_hand"] == 100
    assert row["stock_value"] == pytest.approx(250.0)

    assert main(["position", "--db", str(db), "--format", "csv", "--sku", "A-100"]) == 0
    frame = pl.read_csv(capsys.readouterr().out.encode())
    assert set(frame["sku"]) == {"A-100"}
    with Store(db) as s:
        assert frame.filter(pl.col("location") == "CD-RDC")["on_hand"][0] == s.scalar(
            "SELECT sum(quantity) FROM ledger WHERE sku = 'A-100' AND location = 'CD-RDC'"
        )


def test_a_bad_file_exits_2_with_the_problems_and_writes_nothing(tmp_path, capsys):
    db = tmp_path / "cli.duckdb"
    files = write_network_files(tmp_path)
    main(["import", "--db", str(db), "locations", str(files["locations"])])
    main(["import", "--db", str(db), "products", str(files["products"])])
    bad = tmp_path / "bad.csv"
    bad.write_text(
        "sku,location,date,quantity\nA-100,CD-RDC,2024-01-01,-1\nQ,CD-RDC,x,1\n", encoding="utf-8"
    )
    capsys.readouterr()
    assert main(["import", "--db", str(db), "demand", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "Import refused" in err
    assert "bad.csv, row 2, column 'quantity', value '-1': negative quantity" in err
    assert "row 3, column 'sku', value 'Q': unknown SKU" in err
    assert "row 3, column 'date', value 'x': not a date" in err
    with Store(db) as s:
        assert s.scalar("SELECT count(*) FROM demand_history") == 0


def test_missing_file_and_missing_database_are_clear(tmp_path, capsys):
    assert (
        main(["import", "--db", str(tmp_path / "x.duckdb"), "demand", str(tmp_path / "nope.csv")])
        == 2
    )
    assert "no such file" in capsys.readouterr().err
    assert main(["position", "--db", str(tmp_path / "absent.duckdb")]) == 2
    assert "control-tower demo" in capsys.readouterr().err


def test_bad_arguments_are_refused_by_the_parser(capsys):
    with pytest.raises(SystemExit) as done:
        main(["demo", "--skus", "-3"])
    assert done.value.code == 2
    assert "must be greater than zero" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["position", "--as-of", "yesterday"])


def test_db_path_comes_from_the_environment(tmp_path, monkeypatch, capsys):
    db = tmp_path / "env.duckdb"
    monkeypatch.setenv("CONTROL_TOWER_DB", str(db))
    files = write_network_files(tmp_path)
    assert main(["import", "locations", str(files["locations"])]) == 0
    assert db.is_file()
    assert build_parser().parse_args(["freshness"]).db is None


def test_schemas_written_match_the_checked_in_ones(tmp_path):
    assert main(["schemas", "--write", str(tmp_path)]) == 0
    checked_in = Path(__file__).resolve().parent.parent / "data" / "schemas"
    for path in tmp_path.glob("*.json"):
        assert (checked_in / path.name).read_text(encoding="utf-8") == path.read_text(
            encoding="utf-8"
        ), f"data/schemas/{path.name} is stale: run control-tower schemas --write data/schemas"


def test_readme_documents_every_import_schema():
    from control_tower.cli import schemas_markdown

    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    assert schemas_markdown() in readme, (
        "README's import schemas are stale: paste `control-tower schemas`"
    )


def test_ci_runs_the_readme_test_command():
    root = Path(__file__).resolve().parent.parent
    readme = (root / "README.md").read_text(encoding="utf-8").splitlines()
    marker = readme.index("# 2. install and run the tests")
    command = readme[marker + 1]
    assert command.endswith(".venv/bin/pytest") and "pip install" in command
    out = subprocess.run(
        ["bash", "-c", "grep -A1 -m1 '^# 2\\. install and run the tests' README.md | tail -n 1"],
        cwd=root,
        capture_output=True,
        text=True,
    )
    assert out.stdout.strip() == command


def test_demo_files_written_then_imported_as_a_folder_match_the_demo_database(tmp_path, capsys):
    size = ["--skus", "12", "--locations", "3", "--days", "90", "--seed", "5", "--quiet"]
    assert main(["demo", "--out", str(tmp_path / "files"), *size]) == 0
    assert (
        main(
            ["import-folder", "--db", str(tmp_path / "from_files.duckdb"), str(tmp_path / "files")]
        )
        == 0
    )
    # the data only: the demo's first cycle would add its decisions to the ledger
    assert main(["demo", "--db", str(tmp_path / "direct.duckdb"), "--data-only", *size]) == 0
    query = "SELECT sku, location, owner, sum(quantity) FROM ledger GROUP BY ALL ORDER BY ALL"
    with Store(tmp_path / "from_files.duckdb") as a, Store(tmp_path / "direct.duckdb") as b:
        assert a.rows(query) == b.rows(query)
        assert a.scalar("SELECT count(*) FROM demand_history") == b.scalar(
            "SELECT count(*) FROM demand_history"
        )
    # importing the folder again changes nothing
    capsys.readouterr()
    assert (
        main(
            ["import-folder", "--db", str(tmp_path / "from_files.duckdb"), str(tmp_path / "files")]
        )
        == 0
    )
    assert "0 written" in capsys.readouterr().out.split("ledger", 1)[1].splitlines()[0]


def test_import_folder_with_no_entity_files_is_clear(tmp_path, capsys):
    (tmp_path / "notes.txt").write_text("hello", encoding="utf-8")
    assert main(["import-folder", "--db", str(tmp_path / "x.duckdb"), str(tmp_path)]) == 2
    assert "no entity files found" in capsys.readouterr().err


def test_readme_publishes_the_health_index_formula():
    from control_tower.kpis import HEALTH_INDEX_FORMULA

    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    assert HEALTH_INDEX_FORMULA in readme


def test_readme_config_example_loads(tmp_path, monkeypatch):
    from control_tower.config import load_settings

    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    example = readme.split("```toml\n", 1)[1].split("```", 1)[0]
    path = tmp_path / "control_tower.toml"
    path.write_text(example, encoding="utf-8")
    monkeypatch.delenv("CONTROL_TOWER_DB", raising=False)
    settings = load_settings(path)
    assert settings.db_path == "data/network.duckdb"
    assert settings.position.excess_cover_days == 60
    assert settings.forecast.horizon == 56 and settings.forecast.max_bias == 0.15
    assert settings.exceptions.urgency_days == 7 and settings.actions.separation_of_duties
    assert settings.auth.oidc_roles == {
        "boss@example.com": "approver",
        "sales@jiangnan.example": "supplier:SUP-JNB",
    }
    assert settings.suppliers.low_water == {"SUP-MNF": 5000, "SUP-MNF/SNK-0034": 1200}
    assert settings.suppliers.lead_times == "measured"


def test_exceptions_runs_stores_and_lists_the_most_severe_first(demo_db_path, tmp_path, capsys):
    db = tmp_path / "demo.duckdb"
    shutil.copy(demo_db_path, db)
    assert main(["exceptions", "--db", str(db), "--format", "json", "--top", "5"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["run_id"] == 1 and out["raised"] > 0
    severities = [e["severity"] for e in out["exceptions"]]
    assert severities == sorted(severities, reverse=True)
    assert all(e["rule"] and e["detail"] for e in out["exceptions"])
    assert main(["exceptions", "--db", str(db), "--rule", "late_inbound", "--dry-run"]) == 0
    text = capsys.readouterr().out
    assert "(not stored)" in text and "late_inbound" in text
    assert main(["exceptions", "--db", str(db), "--rule", "nonsense"]) == 2
    assert "unknown rule nonsense" in capsys.readouterr().err


def test_actions_are_decided_and_posted_from_a_script_as_a_named_local_user(
    planned_demo_path, tmp_path, capsys, monkeypatch
):
    """A script lists the proposals as JSON, approves one as a local approver (a name that
    is no local user is refused, and a viewer may not approve), posts it as a planner, and
    the trail records each under its name."""
    db = tmp_path / "demo.duckdb"
    shutil.copy(planned_demo_path, db)
    base = ["actions", "--db", str(db), "--format", "json"]
    users = (("li.planner", "planner"), ("zhao.approver", "approver"), ("sun.viewer", "viewer"))
    for name, role in users:
        monkeypatch.setattr("sys.stdin", io.StringIO("a long password\n"))
        add = ["users", "--db", str(db), "--as", "admin.x", "add", name, "--role", role]
        assert main([*add, "--password-stdin"]) == 0
    capsys.readouterr()
    assert main([*base, "list", "--status", "proposed", "--limit", "50"]) == 0
    proposed = json.loads(capsys.readouterr().out)
    assert proposed and {a["status"] for a in proposed} == {"proposed"}
    orders = [a for a in proposed if a["kind"] == "purchase_order"]
    chosen = (orders or proposed)[0]["action_id"]
    assert main([*base, "--as", "nobody", "approve", str(chosen)]) == 2
    assert "is not a local user" in capsys.readouterr().err
    assert main([*base, "--as", "sun.viewer", "approve", str(chosen)]) == 2
    refused = json.loads(capsys.readouterr().out)[0]
    assert refused["status"] is None and "sun.viewer is a viewer" in refused["error"]
    assert main([*base, "--as", "zhao.approver", "approve", str(chosen), "99999"]) == 2
    outcome = json.loads(capsys.readouterr().out)
    assert outcome[0] == {"action_id": chosen, "status": "approved", "error": None}
    assert outcome[1]["status"] is None and "no action 99999" in outcome[1]["error"]
    assert main([*base, "--as", "li.planner", "post", str(chosen)]) == 0
    assert json.loads(capsys.readouterr().out)[0]["status"] == "posted"
    assert main([*base, "show", str(chosen)]) == 0
    shown = json.loads(capsys.readouterr().out)
    trail = [(e["actor"], e["to_status"]) for e in shown["history"]]
    assert trail[-2:] == [("zhao.approver", "approved"), ("li.planner", "posted")]
