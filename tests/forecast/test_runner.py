"""The runner: inline work, a spawn process pool and a Dask cluster give the same forecasts,
and a worker that dies does not fail the run."""

from __future__ import annotations

import multiprocessing
import sys
import types
from concurrent.futures import Future
from datetime import date, timedelta

import numpy as np
import polars as pl
import pytest

from control_tower.config import ForecastSettings
from control_tower.errors import ControlTowerError
from control_tower.forecast import forecast, load_forecasts, runner
from control_tower.forecast.pipeline import SeriesInput, Spec, forecast_series
from control_tower.forecast.prophet_model import PROPHET_GRID
from control_tower.forecast.runner import InlineExecutor, open_executor, run_batches
from control_tower.store import Store
from tests.forecast import stubs
from tests.forecast.conftest import copy_db
from tests.forecast.data import FAILING_START, draw


def test_the_inline_executor_hands_results_and_errors_through_futures():
    executor = InlineExecutor()
    assert executor.submit(pow, 2, 10).result() == 1024
    failed: Future = executor.submit(int, "x")
    with pytest.raises(ValueError):
        failed.result()


def short_series(count: int, start: date = date(2026, 1, 1)) -> list[SeriesInput]:
    rng = np.random.default_rng(4)
    kinds = ["smooth", "intermittent", "erratic", "lumpy"]
    return [
        SeriesInput(
            f"S{i}", "L", start + timedelta(days=i), draw(kinds[i % 4], rng, 120).astype(float)
        )
        for i in range(count)
    ]


def test_results_come_back_in_input_order_whatever_the_batching():
    series = short_series(7)
    spec = Spec(horizon=7)
    expected = [forecast_series(s, spec) for s in series]
    for batch_size in (1, 3, 16):
        with open_executor(1) as (executor, info):
            assert info.kind == "inline"
            got = run_batches(executor, series, spec, batch_size=batch_size, show_bar=False)
        assert [r.sku for r in got] == [s.sku for s in series]
        for a, b in zip(got, expected, strict=True):
            assert a.method == b.method and np.array_equal(a.mean, b.mean)


@pytest.mark.slow  # waits for the connection timeout (10 s)
def test_an_unreachable_dask_scheduler_is_a_clear_error():
    with pytest.raises(ControlTowerError) as refused:
        with open_executor(1, "tcp://127.0.0.1:9"):
            pass
    assert "127.0.0.1:9" in refused.value.detail


def test_a_worker_that_dies_does_not_fail_the_run():
    """A real spawn pool; the FAILING_START series kills its worker (os._exit). The broken
    batches are redone in this process; every series gets a forecast, in input order."""
    series = [  # smooth, so Prophet is tried; the middle one starts on FAILING_START
        SeriesInput(
            f"S{i}",
            "L",
            FAILING_START + timedelta(days=i - 1),
            draw("smooth", np.random.default_rng(i), 120).astype(float),
        )
        for i in range(3)
    ]
    spec = Spec(horizon=7, prophet=PROPHET_GRID[0], prophet_fn=stubs.dying_prophet)
    with open_executor(2) as (executor, info):
        assert info.kind == "processes"
        results = run_batches(executor, series, spec, batch_size=1, show_bar=False)
    assert [r.sku for r in results] == ["S0", "S1", "S2"]
    assert all(r.mean.shape == (7,) and np.all(np.isfinite(r.mean)) for r in results)
    # the worker died, so the series was redone here (where the stub raises instead)
    assert stubs.IN_MAIN_PROCESS in results[1].failure
    assert results[0].failure is None and results[2].failure is None
    assert all("prophet" in {c.method for c in r.candidates} for r in (results[0], results[2]))


# -- the same forecasts everywhere -----------------------------------------------------------------


def stored(path, **settings) -> tuple[object, pl.DataFrame, pl.DataFrame]:
    """Forecast a copy of the small demo store: the run, its forecasts and its candidates."""
    fs = ForecastSettings(tuning_sample=1, batch_size=2, **settings)
    with Store(path) as store:
        skus = store.query(
            "SELECT sku FROM demand_history GROUP BY sku ORDER BY sum(quantity) DESC, sku"
        )["sku"].to_list()
        run = forecast(store, fs, horizon=14, skus=[skus[0], skus[-1], skus[-2]], show_bar=False)
        candidates = store.query(
            "SELECT sku, location, method, rmsse, bias, chosen FROM forecast_candidates "
            "WHERE run_id = ? ORDER BY sku, location, method",
            [run.run_id],
        )
        return run, load_forecasts(store, run.run_id), candidates


@pytest.fixture(scope="module")
def dask_scheduler():
    from distributed import LocalCluster

    with LocalCluster(
        n_workers=1, threads_per_worker=1, processes=False, dashboard_address=None
    ) as cluster:
        yield cluster.scheduler_address


def test_inline_processes_and_dask_give_the_same_forecasts(small_demo_db, tmp_path, dask_scheduler):
    inline_run, inline, inline_tried = stored(
        copy_db(small_demo_db, tmp_path, "inline.duckdb"), workers=1
    )
    pool_run, pool, pool_tried = stored(copy_db(small_demo_db, tmp_path, "pool.duckdb"), workers=2)
    dask_run, on_dask, dask_tried = stored(
        copy_db(small_demo_db, tmp_path, "dask.duckdb"), workers=1, dask_scheduler=dask_scheduler
    )
    assert (inline_run.executor, pool_run.executor, dask_run.executor) == (
        "inline",
        "processes",
        "dask",
    )
    assert pool_run.workers == 2
    assert (
        inline_run.settings["prophet"]
        == pool_run.settings["prophet"]
        == dask_run.settings["prophet"]
    )
    assert inline_run.series_count == pool_run.series_count == dask_run.series_count >= 4
    assert "prophet" in set(inline_tried["method"])  # Prophet was in the race
    for other in (pool_tried, dask_tried):
        assert other.select("sku", "location", "method", "chosen").equals(
            inline_tried.select("sku", "location", "method", "chosen")
        )
        np.testing.assert_allclose(other["rmsse"], inline_tried["rmsse"], rtol=1e-6)
    for other in (pool, on_dask):
        assert other.select("sku", "location", "date", "method").equals(
            inline.select("sku", "location", "date", "method")
        )
        for column in ("mean", "sd", "p50", "p90", "cum_p99"):
            np.testing.assert_allclose(other[column], inline[column], rtol=1e-6, atol=1e-9)


def test_spawned_workers_do_not_rerun_the_page_script(monkeypatch):
    """Under Streamlit, __main__ is the page script; multiprocessing would re-run its file in
    every spawned worker. Inside the block the file is hidden; after it, it is back."""
    script = types.ModuleType("__main__")
    script.__file__ = "/somewhere/app.py"
    script.__spec__ = None
    monkeypatch.setitem(sys.modules, "__main__", script)
    assert "init_main_from_path" in multiprocessing.spawn.get_preparation_data("w")
    with runner.spawn_without_main_script():
        assert "init_main_from_path" not in multiprocessing.spawn.get_preparation_data("w")
    assert script.__file__ == "/somewhere/app.py"
