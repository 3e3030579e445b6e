"""Fan series out over workers: processes on this machine (spawn start method) or a Dask
distributed cluster. Both are ``concurrent.futures`` executors, so the code that submits
batches, collects results and reports progress is the same for both.

A batch that raises as a whole (a worker dies, a result cannot be pickled) is retried series
by series in this process, and a series that still fails gets a plain baseline with the
failure recorded: one bad series never fails the run.
"""

from __future__ import annotations

import logging
import multiprocessing
import sys
import traceback
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Executor, Future, ProcessPoolExecutor, as_completed
from contextlib import contextmanager
from dataclasses import dataclass, replace

from tqdm import tqdm

from control_tower.errors import ControlTowerError
from control_tower.forecast.pipeline import (
    SeriesInput,
    SeriesResult,
    Spec,
    forecast_batch,
    forecast_series,
)
from control_tower.forecast.prophet_model import quiet

log = logging.getLogger(__name__)

Progress = Callable[[int, int, str], None]  # (done, total, stage): "tuning", "forecast", "backtest"


@dataclass(frozen=True)
class ExecutorInfo:
    kind: str  # 'inline', 'processes' or 'dask'
    workers: int


class InlineExecutor(Executor):
    """Runs each task when it is submitted: one worker, no pickling (tests, tiny runs)."""

    def submit(self, fn, /, *args, **kwargs) -> Future:  # type: ignore[override]
        future: Future = Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except BaseException as exc:  # noqa: BLE001 - handed to the caller through the future
            future.set_exception(exc)
        return future


@contextmanager
def spawn_without_main_script() -> Iterator[None]:
    """Start worker processes inside this block without them re-running the host's script.

    A process that multiprocessing spawns first re-runs ``__main__`` from its file. Under
    Streamlit that file is the dashboard script: every forecast worker would execute the
    app headless, try to open the database (refused: the host holds the lock) and import the
    whole UI before doing any work. The workers import what they run by module name, so the
    file is hidden while the pool lives and restored afterwards. A ``python -m`` host (with
    ``__spec__``) is left alone: spawn re-imports it by name."""
    main = sys.modules.get("__main__")
    path = getattr(main, "__file__", None)
    if main is None or path is None or getattr(main, "__spec__", None) is not None:
        yield
        return
    del main.__file__
    try:
        yield
    finally:
        main.__file__ = path


def _worker_init() -> None:
    quiet()
    logging.getLogger("control_tower").setLevel(logging.WARNING)


@contextmanager
def open_executor(
    workers: int, dask_scheduler: str | None = None
) -> Iterator[tuple[Executor, ExecutorInfo]]:
    """A Dask cluster's executor when a scheduler is given, else a spawn process pool
    (or inline work for one worker)."""
    if dask_scheduler:
        try:
            from distributed import Client
        except ImportError as exc:  # pragma: no cover - distributed is a dependency
            raise ControlTowerError(
                "forecast.dask_scheduler is set but the 'distributed' package is missing",
                title="Dask is not installed",
            ) from exc
        try:
            client = Client(dask_scheduler, timeout="10s")
        except (OSError, TimeoutError) as exc:
            raise ControlTowerError(
                f"cannot reach the Dask scheduler at {dask_scheduler}: {exc}",
                title="Dask scheduler unreachable",
            ) from exc
        try:
            client.run(_worker_init)
            n = sum(w.get("nthreads", 1) for w in client.scheduler_info()["workers"].values())
            with client.get_executor(pure=False) as executor:
                yield executor, ExecutorInfo("dask", max(n, 1))
        finally:
            client.close()
        return
    if workers <= 1:
        yield InlineExecutor(), ExecutorInfo("inline", 1)
        return
    context = multiprocessing.get_context("spawn")
    with (
        spawn_without_main_script(),
        ProcessPoolExecutor(
            max_workers=workers, mp_context=context, initializer=_worker_init
        ) as executor,
    ):
        yield executor, ExecutorInfo("processes", workers)


def _fallback(series: SeriesInput, spec: Spec, error: str) -> SeriesResult:
    """The series alone, in this process, without Prophet; the error is kept."""
    try:
        result = forecast_series(series, replace(spec, prophet=None))
    except Exception as exc:  # noqa: BLE001
        raise ControlTowerError(
            f"{series.sku} at {series.location}: even the baselines failed: {exc}",
            title="Forecast failed",
        ) from exc
    return replace(result, failure=error[:500], reason=f"fell back to a baseline: {result.reason}")


def run_batches(
    executor: Executor,
    series: Sequence[SeriesInput],
    spec: Spec,
    *,
    batch_size: int,
    progress: Progress | None = None,
    show_bar: bool = True,
) -> list[SeriesResult]:
    """Submit the series in batches and collect one result per series (input order)."""
    batches = [list(series[i : i + batch_size]) for i in range(0, len(series), batch_size)]
    results: list[list[SeriesResult] | None] = [None] * len(batches)
    futures: dict[Future, int] = {}
    for i, batch in enumerate(batches):
        try:
            futures[executor.submit(forecast_batch, batch, spec)] = i
        except Exception as exc:  # noqa: BLE001 - a broken pool: this process does the work
            log.warning("cannot submit batch %d (%s); forecasting it here", i, exc)
            future: Future = Future()
            future.set_exception(exc)
            futures[future] = i
    done = 0
    with tqdm(total=len(series), desc="forecast", unit="series", disable=not show_bar) as bar:
        for future in as_completed(futures):
            i = futures[future]
            try:
                results[i] = future.result()
            except Exception as exc:  # noqa: BLE001
                log.warning("batch %d failed (%s); retrying its series one by one", i, exc)
                results[i] = [_retry(s, spec) for s in batches[i]]
            done += len(batches[i])
            bar.update(len(batches[i]))
            if progress:
                progress(done, len(series), "forecast")
    return [r for batch in results for r in batch]  # type: ignore[union-attr]


def _retry(series: SeriesInput, spec: Spec) -> SeriesResult:
    try:
        return forecast_series(series, spec)
    except Exception:  # noqa: BLE001
        return _fallback(series, spec, traceback.format_exc(limit=1).strip().splitlines()[-1])
