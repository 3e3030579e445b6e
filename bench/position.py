"""Benchmark the stock position and Overview services on a demo database.

    .venv/bin/python bench/position.py --skus 2000 --locations 20 --days 730 --repeat 3

Builds the demo (``build_demo``, in a child process so its memory is reported apart) into
``--db`` or a temporary file. An existing ``--db`` file is reused only when it holds ledger rows
and as many SKUs and locations (central + regional DCs) as asked; otherwise the script refuses
it (exit 2). A failed build leaves no partial file behind. Then it times:

- ``overview_data cold``: the first call after opening the file (DuckDB's buffers and the
  service cache both empty), one run;
- ``stock_position`` over the full network (the service cache cleared before each run);
- ``overview_data recomputed``: the whole computation again, the service cache cleared but
  DuckDB warm: what a page pays after the data changed;
- ``overview_data warm``: the call right after, a hit in the service cache: what a page pays
  on a rerun with unchanged data (not the computation).

Each timing but the cold one is the median of ``--repeat`` runs. Targets on a 2-core box:
stock_position <= 1 s, overview_data warm <= 300 ms. Prints one table.
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
# locations as build_demo counts them: the central DC plus the regional DCs
DEMO_LOCATIONS_SQL = "SELECT count(*) FROM locations WHERE kind IN ('central_dc', 'regional_dc')"


class BenchRefused(Exception):
    """The --db file cannot serve this benchmark."""


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


def _remove_database(db: Path) -> None:
    """Delete a DuckDB file and its write-ahead log."""
    for path in (db, db.with_name(db.name + ".wal")):
        path.unlink(missing_ok=True)


def _check_reused(db: Path, skus: int, locations: int) -> None:
    """Refuse (BenchRefused) a file that is not a demo of the asked size."""
    import duckdb

    from control_tower.errors import ControlTowerError
    from control_tower.store import Store

    try:
        with Store(db, read_only=True) as store:
            ledger_rows = store.scalar("SELECT count(*) FROM ledger")
            have_skus = store.scalar("SELECT count(*) FROM products")
            have_locations = store.scalar(DEMO_LOCATIONS_SQL)
    except (ControlTowerError, duckdb.Error, OSError) as exc:
        raise BenchRefused(f"{db} cannot be opened as a Control Tower database: {exc}") from exc
    if not ledger_rows:
        raise BenchRefused(f"{db} holds no ledger rows; delete it or choose another --db")
    if (have_skus, have_locations) != (skus, locations):
        raise BenchRefused(
            f"{db} holds {have_skus} SKUs and {have_locations} locations (central + regional "
            f"DCs), not the {skus} and {locations} asked; pass matching --skus/--locations, "
            "or another --db to build a new one"
        )


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
        help="DuckDB file to use; built there if missing, reused if it is a demo of this size",
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
            try:
                _check_reused(db, args.skus, args.locations)
            except BenchRefused as exc:
                print(f"bench/position.py: {exc}", file=sys.stderr)
                return 2
            rows.append(("demo generation (build_demo)", "reused", str(db)))
        else:
            db.parent.mkdir(parents=True, exist_ok=True)
            started = time.perf_counter()
            child = multiprocessing.get_context("spawn").Process(
                target=_build, args=(str(db), args.skus, args.locations, args.days, args.seed)
            )
            try:
                child.start()
                child.join()
            except BaseException:  # interrupted: stop the build, leave nothing half-written
                if child.is_alive():
                    child.terminate()
                    child.join()
                _remove_database(db)
                raise
            if child.exitcode != 0:
                _remove_database(db)
                print(
                    f"build_demo failed (exit code {child.exitcode}); removed the partial {db}",
                    file=sys.stderr,
                )
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
            # first, while DuckDB's buffers are still empty
            position.clear_cache()
            cold = _timed(lambda: kpis.overview_data(store))

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

            position_runs, recomputed_runs, warm_runs = [], [], []
            frame = None
            for _ in range(args.repeat):
                position.clear_cache()
                started = time.perf_counter()
                frame = position.stock_position(store)
                position_runs.append(time.perf_counter() - started)
            for _ in range(args.repeat):
                position.clear_cache()
                recomputed_runs.append(_timed(lambda: kpis.overview_data(store)))
                warm_runs.append(_timed(lambda: kpis.overview_data(store)))
            assert frame is not None
            timings = {
                "stock_position": (
                    position_runs,
                    f"{frame.height:,} SKU x location rows, service cache cleared before each",
                ),
                "overview_data cold": (
                    [cold],
                    "first call after opening the file: DuckDB and the service cache empty",
                ),
                "overview_data recomputed": (
                    recomputed_runs,
                    "service cache cleared, DuckDB warm: two positions + KPIs computed",
                ),
                "overview_data warm": (
                    warm_runs,
                    "second call, a service-cache hit (a page rerun), not a computation",
                ),
            }
            for name, (runs, note) in timings.items():
                median = statistics.median(runs)
                target = TARGETS.get(name)
                verdict = ""
                if target is not None:
                    verdict = f" (target <= {target * 1000:.0f} ms: "
                    verdict += "met)" if median <= target else "MISSED)"
                runs_note = "one run" if len(runs) == 1 else f"median of {len(runs)}"
                rows.append((name, f"{median * 1000:,.1f} ms", f"{runs_note}; {note}{verdict}"))
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
