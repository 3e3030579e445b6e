"""Stores for the forecasting tests: built once per session through the ordinary import
paths, then copied per test (a file copy is much cheaper than an import)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from control_tower.config import ForecastSettings
from control_tower.forecast import forecast
from control_tower.ingest import ingest_frames
from control_tower.store import Store
from tests.forecast.data import crafted_frames

# Baselines only (no series class gets Prophet, nothing to tune): the fast settings for
# tests about storage, reuse and reads.
BASELINES_ONLY = ForecastSettings(workers=1, tuning_sample=0, prophet_classes=[])
# Prophet where intended, its settings not tuned (the grid's first): one fit per backtest.
WITH_PROPHET = ForecastSettings(workers=1, tuning_sample=0)


@pytest.fixture(scope="session")
def crafted_db(tmp_path_factory) -> Path:
    """The crafted store of tests/forecast/data.py (one series per demand class)."""
    path = tmp_path_factory.mktemp("crafted") / "crafted.duckdb"
    with Store(path) as store:
        ingest_frames(store, crafted_frames(), source="crafted")
    return path


@pytest.fixture(scope="session")
def small_demo_db(tmp_path_factory) -> Path:
    """A small demo network: 10 SKUs, 2 regional DCs, 400 days ending 2026-11-15."""
    from control_tower.ingest.demo import build_demo

    path = tmp_path_factory.mktemp("small_demo") / "demo.duckdb"
    with Store(path) as store:
        build_demo(store, skus=10, locations=3, days=400, seed=1)
    return path


def copy_db(source: Path, folder: Path, name: str = "copy.duckdb") -> Path:
    target = folder / name
    shutil.copy(source, target)
    return target


@pytest.fixture
def crafted_store(crafted_db, tmp_path):
    with Store(copy_db(crafted_db, tmp_path)) as store:
        yield store


@pytest.fixture
def demo_store(small_demo_db, tmp_path):
    with Store(copy_db(small_demo_db, tmp_path)) as store:
        yield store


@pytest.fixture(scope="session")
def crafted_run(crafted_db, tmp_path_factory):
    """(store, run): the crafted store forecast once, with Prophet, 28 days ahead. Shared by
    the tests that only read it; nothing may write to it."""
    path = copy_db(crafted_db, tmp_path_factory.mktemp("crafted_run"))
    store = Store(path)
    run = forecast(store, WITH_PROPHET, horizon=28, show_bar=False)
    yield store, run
    store.close()


def pytest_collection_modifyitems(items):
    """Prophet 1.5 calls a pandas method pandas 3.1 deprecates, on every predict: not ours."""
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(
                pytest.mark.filterwarnings("ignore:The inplace keyword in DataFrame.drop")
            )
