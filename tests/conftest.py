"""Shared fixtures: real DuckDB files in temporary folders; the ``--clock HH:MM`` option."""

from __future__ import annotations

import argparse
import os
import re
from datetime import date, datetime, time
from pathlib import Path

import polars as pl
import pytest

from control_tower.ingest import ingest_frames
from control_tower.store import Store

DEMO_SIZE = {"skus": 30, "locations": 4, "days": 180, "seed": 3}

# -- the wall clock: pytest --clock HH:MM ---------------------------------------------------
CLOCK_ENV = "TESTS_CLOCK_OFFSET"  # read by tests/clock/sitecustomize.py in every subprocess
CLOCK_DIR = Path(__file__).resolve().parent / "clock"
_CLOCK_KEY = pytest.StashKey[tuple]()


TESTER = "test.planner"  # who runs the plans and rules of the tests (never a generic name)


def time_of_day(text: str) -> time:
    if not re.fullmatch(r"([01]\d|2[0-3]):[0-5]\d", text):
        raise argparse.ArgumentTypeError(f"expected HH:MM (00:00 to 23:59), got {text!r}")
    return time.fromisoformat(text)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--clock",
        metavar="HH:MM",
        type=time_of_day,
        default=None,
        help="run with the wall clock travelled to HH:MM of the real current date (it keeps "
        "ticking), in the tests and in every Python process they start",
    )


def pytest_configure(config: pytest.Config) -> None:
    clock: time | None = config.getoption("--clock")
    if clock is None:
        return
    import time_machine
    from time_machine import escape_hatch

    # the real clock, also in a process started travelled (a run under another run's clock)
    travelling = escape_hatch.is_travelling()
    real = escape_hatch.time.time() if travelling else datetime.now().timestamp()
    today = datetime.fromtimestamp(real).date()
    offset = datetime.combine(today, clock).timestamp() - real
    traveller = time_machine.travel(real + offset, tick=True)
    traveller.start()
    saved = {name: os.environ.get(name) for name in (CLOCK_ENV, "PYTHONPATH")}
    os.environ[CLOCK_ENV] = repr(offset)
    os.environ["PYTHONPATH"] = os.pathsep.join(
        [str(CLOCK_DIR)] + ([saved["PYTHONPATH"]] if saved["PYTHONPATH"] else [])
    )
    config.stash[_CLOCK_KEY] = (traveller, saved)


def pytest_unconfigure(config: pytest.Config) -> None:
    travelled = config.stash.get(_CLOCK_KEY, None)
    if travelled is None:
        return
    traveller, saved = travelled
    traveller.stop()
    for name, value in saved.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


def pytest_report_header(config: pytest.Config) -> str | None:
    if config.getoption("--clock") is None:
        return None
    return f"clock: wall clock travelled to {datetime.now():%Y-%m-%d %H:%M}"


@pytest.fixture
def store(tmp_path: Path):
    s = Store(tmp_path / "test.duckdb")
    yield s
    s.close()


def tiny_network_frames() -> dict[str, pl.DataFrame]:
    """Three locations (a central DC and two neighbouring regional DCs), two SKUs, one supplier,
    lanes between them. No stock yet."""
    return {
        "locations": pl.DataFrame(
            {
                "code": ["SH-CDC", "CD-RDC", "CQ-RDC"],
                "name": ["上海中心仓", "成都区域仓", "重庆区域仓"],
                "kind": ["central_dc", "regional_dc", "regional_dc"],
                "region": ["East", "Southwest", "Southwest"],
                "country": ["CN", "CN", "CN"],
                "lat": [31.23, 30.57, 29.56],
                "lon": [121.47, 104.07, 106.55],
            }
        ),
        "products": pl.DataFrame(
            {
                "sku": ["A-100", "B-200"],
                "name": ["绿茶 500ml", "Rice cracker 米饼"],
                "category": ["beverages", "snacks"],
                "unit_cost": [2.5, 4.0],
                "price": [4.0, 6.5],
            }
        ),
        "suppliers": pl.DataFrame({"code": ["SUP1"], "name": ["Hangzhou Drinks 杭州饮料"]}),
        "supplier_products": pl.DataFrame(
            {
                "supplier": ["SUP1", "SUP1"],
                "sku": ["A-100", "B-200"],
                "lead_time_mean_days": [7.0, 10.0],
                "lead_time_std_days": [1.5, 2.0],
                "moq": [100, 50],
                "pack_size": [12, 10],
            }
        ),
        "lanes": pl.DataFrame(
            {
                "from_location": ["SH-CDC", "SH-CDC", "CD-RDC", "CQ-RDC"],
                "to_location": ["CD-RDC", "CQ-RDC", "CQ-RDC", "CD-RDC"],
                "transit_days": [4, 4, 1, 1],
                "cost_per_unit": [0.8, 0.8, 0.2, 0.2],
                "fixed_cost": [300.0, 300.0, 80.0, 80.0],
            }
        ),
    }


@pytest.fixture
def network(store: Store) -> Store:
    """A store holding the tiny network's master data."""
    ingest_frames(store, tiny_network_frames(), source="fixture")
    return store


@pytest.fixture(scope="session")
def demo_db_path(tmp_path_factory) -> Path:
    """A small demo database built once per test session through the real demo path."""
    from control_tower.ingest.demo import build_demo

    path = tmp_path_factory.mktemp("demo") / "demo.duckdb"
    with Store(path) as s:
        build_demo(s, **DEMO_SIZE)
    return path


@pytest.fixture(scope="session")
def planned_demo_path(demo_db_path, tmp_path_factory) -> Path:
    """The demo with a stored plan (a 21-day horizon): its drafted, explained proposals.
    Built once; tests work on a copy (:func:`copy_of`)."""
    from control_tower.config import Settings
    from control_tower.optimize import plan, save_plan

    path = copy_of(demo_db_path, tmp_path_factory.mktemp("planned"))
    settings = Settings()
    settings.optimizer.horizon_days = 21
    with Store(path) as s:
        save_plan(s, plan(s, settings), created_by=TESTER)
    return path


def copy_of(source: Path, folder: Path, *, exception_run: bool = False) -> Path:
    """A copy of a test database in ``folder`` (optionally with an exception run stored)."""
    import shutil

    path = folder / f"{source.stem}-copy.duckdb"
    shutil.copy(source, path)
    if exception_run:
        from control_tower import exceptions

        with Store(path) as s:
            exceptions.run_exceptions(s, created_by=TESTER)
    return path


TODAY = date(2024, 3, 1)
