"""Benchmark the exception engine on a large network: 2,000 SKUs x 20 locations.

    .venv/bin/python bench/exceptions.py --db /tmp/opt_bench.duckdb --skus 2000 --locations 20

Data: the demo generator at the asked size (built into ``--db`` when the file does not exist,
reused when it holds as many SKUs and locations). Times, on a copy of the database:

- ``detect``: every rule as ``control-tower exceptions --dry-run`` runs them (position,
  policies, projections, inbound, anomalies, data checks, links to drafted actions);
- ``first run``: once, the first stored run, which also drafts an expedite per late line;
- ``run and store``: the same plus storing the run, its items and the exceptions' first and
  last seen, as ``control-tower exceptions`` does (the expedites are then linked, not drafted);
- ``inbox data``: the inbox page's query (the latest run's exceptions with their state, most
  severe first), cold and warm.

Each is repeated ``--repeat`` times; the table gives the median. Targets: exceptions for
2,000 x 20 in at most 2 s; the inbox data in at most 500 ms warm.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from network import ensure_demo, size_problem  # noqa: E402

TARGET_DETECT_S = 2.0
TARGET_INBOX_S = 0.5


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", type=Path, required=True)
    parser.add_argument("--skus", type=int, default=2000)
    parser.add_argument("--locations", type=int, default=20)
    parser.add_argument("--days", type=int, default=400, help="history built")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args(argv)

    from control_tower import exceptions
    from control_tower.config import load_settings
    from control_tower.store import Store

    ensure_demo(args.db, args.skus, args.locations, args.days)
    settings = load_settings()
    with tempfile.TemporaryDirectory(prefix="ct_bench_exc_") as tmp:
        copy = Path(tmp) / "bench.duckdb"
        shutil.copy(args.db, copy)
        times: dict[str, list[float]] = {}
        with Store(copy) as store:
            if problem := size_problem(store, args.db, args.skus, args.locations):
                print(problem, file=sys.stderr)
                return 2
            tick = time.perf_counter()
            last = exceptions.run_exceptions(store, settings, created_by="bench")
            times["first run (drafts expedites)"] = [time.perf_counter() - tick]
            expedites = store.scalar("SELECT count(*) FROM actions WHERE kind = 'expedite'")
            for _ in range(args.repeat):
                tick = time.perf_counter()
                found = exceptions.detect(store, settings)
                times.setdefault("detect (every rule)", []).append(time.perf_counter() - tick)
                tick = time.perf_counter()
                last = exceptions.run_exceptions(store, settings, created_by="bench")
                times.setdefault("run and store", []).append(time.perf_counter() - tick)
                tick = time.perf_counter()
                exceptions.list_exceptions(store)
                times.setdefault("inbox data (first read)", []).append(time.perf_counter() - tick)
                for _ in range(3):
                    tick = time.perf_counter()
                    inbox = exceptions.list_exceptions(store)
                    times.setdefault("inbox data (warm)", []).append(time.perf_counter() - tick)
            counts = found.items.group_by("rule").len().sort("rule")
    print(
        f"\n{args.skus} SKUs x {args.locations} locations as of {last.as_of}: "
        f"{last.raised:,} exceptions ("
        + ", ".join(f"{rule} {n:,}" for rule, n in counts.iter_rows())
        + f"); inbox {inbox.height:,} rows; the first run drafted {expedites:,} expedites\n"
    )
    header = f"{'part':<28}{'median s':>10}{'runs':>6}"
    print(header)
    print("-" * len(header))
    for name, values in times.items():
        print(f"{name:<28}{statistics.median(values):>10.3f}{len(values):>6}")
    detect_s = statistics.median(times["detect (every rule)"])
    inbox_s = statistics.median(times["inbox data (warm)"])
    print(
        f"\ntarget: exceptions in <= {TARGET_DETECT_S:g} s: "
        f"{'met' if detect_s <= TARGET_DETECT_S else 'NOT met'} ({detect_s:.2f} s)"
    )
    print(
        f"target: inbox data warm in <= {TARGET_INBOX_S * 1000:.0f} ms: "
        f"{'met' if inbox_s <= TARGET_INBOX_S else 'NOT met'} ({inbox_s * 1000:.0f} ms)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
