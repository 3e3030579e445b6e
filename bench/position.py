"""Benchmark the stock position and Overview services on a demo database.

    .venv/bin/python bench/position.py --skus 2000 --locations 20 --days 730 --repeat 3

Builds the demo (``build_demo``, in a child process so its memory is reported apart) into
``--db`` (reused when the file exists) or a temporary file, then times:

- ``stock_position`` over the full network, cold (the service cache cleared before each run);
- ``overview_data`` cold (cache cleared) and warm (the call right after, served from the cache).

Each timing is the median of ``--repeat`` runs. Targets on a 2-core box: stock_position <= 1 s,
overview_data warm <= 300 ms. Prints one table.
"""

from __future__ import annotations

import argparse
import multiprocessing
import resource
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

TARGETS = {"stock_position": 1.0, "overview_data warm": 0.3}


def _build(path: str, skus: int, locations: int, days: int, seed: int) -> None:
    from control_tower.ingest.demo import build_demo
    from control_tower.store import Store

    with Store(path) as store:
        build_demo(store, skus=skus, locations=locations, days=days, seed=seed)


def _timed(fn: Callable[[], object]) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def _peak_mb(who: int) -> float:
    return resource.getrusage(who).ru_maxrss / 1024.0  # KiB on Linux


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skus", type=int, default=2000)
    parser.add_argument("--locations", type=int, default=20)
    parser.add_argument("--days", type=int, default=730)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--db",
        type=Path,
        default=None,
        help="DuckDB file to use; built there if missing, reused if present",
    )
    parser.add_argument("--repeat", type=int, default=3, help="runs per timing (median)")
    args = parser.parse_args(argv)

    tmp = None
    if args.db is None:
        tmp = tempfile.TemporaryDirectory(prefix="ct-bench-")
        db = Path(tmp.name) / "bench.duckdb"
    else:
        db = args.db
    rows: list[tuple[str, str, str]] = []
    try:
        if db.exists():
            rows.append(("demo generation (build_demo)", "reused", str(db)))
        else:
            db.parent.mkdir(parents=True, exist_ok=True)
            started = time.perf_counter()
            child = multiprocessing.get_context("spawn").Process(
                target=_build, args=(str(db), args.skus, args.locations, args.days, args.seed)
            )
            child.start()
            child.join()
            if child.exitcode != 0:
                print(f"build_demo failed (exit code {child.exitcode})", file=sys.stderr)
                return 1
            rows.append(
                (
                    "demo generation (build_demo)",
                    f"{time.perf_counter() - started:.1f} s",
                    f"peak RSS {_peak_mb(resource.RUSAGE_CHILDREN):,.0f} MB",
                )
            )

        from control_tower import kpis, position
        from control_tower.store import Store

        with Store(db, read_only=True) as store:
            ledger_rows = store.scalar("SELECT count(*) FROM ledger")
            demand_rows = store.scalar("SELECT count(*) FROM demand_history")
            counts = store.rows(
                "SELECT (SELECT count(*) FROM products), (SELECT count(*) FROM locations)"
            )[0]
            rows.append(
                (
                    "ledger rows",
                    f"{ledger_rows:,}",
                    f"demand rows {demand_rows:,}; {counts[0]:,} SKUs, "
                    f"{counts[1]} locations; as of {store.as_of()}",
                )
            )

            position_runs, cold_runs, warm_runs = [], [], []
            frame = None
            for _ in range(args.repeat):
                position.clear_cache()
                started = time.perf_counter()
                frame = position.stock_position(store)
                position_runs.append(time.perf_counter() - started)
            for _ in range(args.repeat):
                position.clear_cache()
                cold_runs.append(_timed(lambda: kpis.overview_data(store)))
                warm_runs.append(_timed(lambda: kpis.overview_data(store)))
            assert frame is not None
            timings = {
                "stock_position": (position_runs, f"{frame.height:,} SKU x location rows, cold"),
                "overview_data cold": (cold_runs, "cache cleared: two positions + KPIs"),
                "overview_data warm": (warm_runs, "second call, from the service cache"),
            }
            for name, (runs, note) in timings.items():
                median = statistics.median(runs)
                target = TARGETS.get(name)
                verdict = ""
                if target is not None:
                    verdict = f" (target <= {target * 1000:.0f} ms: "
                    verdict += "met)" if median <= target else "MISSED)"
                rows.append(
                    (name, f"{median * 1000:,.1f} ms", f"median of {len(runs)}; {note}{verdict}")
                )
        rows.append(
            (
                "peak memory (services)",
                f"{_peak_mb(resource.RUSAGE_SELF):,.0f} MB",
                "peak RSS of this process (the demo was built in a child)",
            )
        )
    finally:
        if tmp is not None:
            tmp.cleanup()

    print(
        f"bench/position.py  --skus {args.skus} --locations {args.locations} "
        f"--days {args.days} --seed {args.seed} --repeat {args.repeat}"
    )
    width = max(len(r[0]) for r in rows)
    value_width = max(len(r[1]) for r in rows)
    print(f"{'measure':<{width}}  {'value':>{value_width}}  note")
    print(f"{'-' * width}  {'-' * value_width}  ----")
    for name, value, note in rows:
        print(f"{name:<{width}}  {value:>{value_width}}  {note}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
