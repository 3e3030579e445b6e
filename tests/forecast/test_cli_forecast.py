"""`control-tower forecast`, `forecast-export` and `backtest`, in process on a copy of the
small demo store (as tests/test_cli.py does for the other commands)."""

from __future__ import annotations

from datetime import timedelta

import polars as pl
import pytest

from control_tower.cli import main
from control_tower.forecast import latest_run, leaderboard
from control_tower.store import Store
from tests.forecast.conftest import copy_db


@pytest.fixture
def db(small_demo_db, tmp_path, monkeypatch) -> str:
    """A copy of the demo store, and a config file that keeps Prophet's tuning small."""
    config = tmp_path / "control_tower.toml"
    config.write_text("[forecast]\ntuning_sample = 1\n", encoding="utf-8")
    monkeypatch.setenv("CONTROL_TOWER_CONFIG", str(config))
    monkeypatch.delenv("CONTROL_TOWER_DB", raising=False)
    monkeypatch.delenv("CONTROL_TOWER_DASK_SCHEDULER", raising=False)
    return str(copy_db(small_demo_db, tmp_path))


def skus_and_as_of(db: str) -> tuple[list[str], object]:
    with Store(db) as store:
        skus = store.query(
            "SELECT sku FROM demand_history GROUP BY sku ORDER BY sum(quantity) DESC, sku"
        )["sku"].to_list()
        return [skus[0], skus[-1]], store.scalar("SELECT max(date) FROM demand_history")


@pytest.mark.parametrize("command", ["forecast", "forecast-export", "backtest"])
def test_help(command, capsys):
    with pytest.raises(SystemExit) as done:
        main([command, "--help"])
    assert done.value.code == 0
    assert "usage: control-tower " + command in capsys.readouterr().out


def test_forecast_then_export(db, tmp_path, capsys):
    skus, as_of = skus_and_as_of(db)
    code = main(["forecast", "--db", db, "--horizon", "14", "--skus", *skus, "--workers", "1"])
    out = capsys.readouterr().out
    assert code == 0
    with Store(db) as store:
        run = latest_run(store)
        board = leaderboard(store, run.run_id, by="demand_class")
        stored_skus = set(store.query("SELECT sku FROM forecast_series")["sku"])
    assert run.horizon == 14 and run.as_of == as_of and run.executor == "inline"
    assert stored_skus == set(skus) and all(s in run.scope for s in skus)
    assert f"run {run.run_id}" in out and str(run.as_of) in out
    assert str(run.series_count) in out
    for demand_class in board["demand_class"]:
        assert demand_class in out

    target = tmp_path / "export" / "forecast.csv"
    assert main(["forecast-export", "--db", db, "--run", "latest", "--out", str(target)]) == 0
    out = capsys.readouterr().out
    frame = pl.read_csv(target, try_parse_dates=True)
    assert frame.columns == [
        "sku",
        "location",
        "date",
        "mean",
        "p50",
        "p90",
        "p95",
        "p99",
        "method",
    ]
    assert frame.height == run.series_count * 14
    assert str(frame.height) in out and str(target) in out
    assert frame["date"].min() == as_of + timedelta(days=1)
    assert set(frame["sku"]) == set(skus)


def test_skus_can_be_given_comma_separated(db, capsys):
    skus, _ = skus_and_as_of(db)
    assert (
        main(["forecast", "--db", db, "--horizon", "7", "--skus", ",".join(skus), "--workers", "1"])
        == 0
    )
    with Store(db) as store:
        assert set(store.query("SELECT sku FROM forecast_series")["sku"]) == set(skus)


def test_backtest(db, capsys):
    skus, as_of = skus_and_as_of(db)
    code = main(
        [
            "backtest",
            "--db",
            db,
            "--horizon",
            "14",
            "--origins",
            "2",
            "--skus",
            *skus,
            "--workers",
            "1",
        ]
    )
    out = capsys.readouterr().out
    assert code == 0
    for method in ("pipeline", "prophet_default", "seasonal_naive", "croston"):
        assert method in out
    for origin in (as_of - timedelta(days=28), as_of - timedelta(days=14)):
        assert str(origin) in out


@pytest.mark.parametrize(
    ("argv", "named"),
    [
        (["forecast", "--skus", "NO-SUCH-SKU", "--workers", "1"], "NO-SUCH-SKU"),
        (["forecast", "--locations", "NO-SUCH-DC", "--workers", "1"], "NO-SUCH-DC"),
        (["forecast", "--as-of", "2030-01-01", "--workers", "1"], "2030-01-01"),
        (["forecast-export", "--run", "77", "--out", "x.csv"], "77"),
        (["forecast-export", "--run", "first", "--out", "x.csv"], "first"),
    ],
)
def test_bad_input_exits_2_with_a_clear_message(db, capsys, argv, named):
    assert main([argv[0], "--db", db, *argv[1:]]) == 2
    captured = capsys.readouterr()
    assert named in captured.err
    assert "Traceback" not in captured.err and captured.out == ""


def test_backtest_names_an_unknown_sku(db, capsys):
    assert main(["backtest", "--db", db, "--skus", "NO-SUCH-SKU", "--workers", "1"]) == 2
    assert "NO-SUCH-SKU" in capsys.readouterr().err


def test_a_bad_date_exits_2(db, capsys):
    with pytest.raises(SystemExit) as done:
        main(["forecast", "--db", db, "--as-of", "2026-02-30"])
    assert done.value.code == 2
    assert "2026-02-30" in capsys.readouterr().err


def test_no_database_or_no_run_exits_2(tmp_path, db, capsys):
    missing = str(tmp_path / "missing.duckdb")
    assert main(["forecast", "--db", missing]) == 2
    assert missing in capsys.readouterr().err
    assert main(["forecast-export", "--db", db, "--out", str(tmp_path / "x.csv")]) == 2
    assert capsys.readouterr().err
    assert not (tmp_path / "x.csv").exists()
