"""Benchmark the optimizer on a large network: 2,000 SKUs x 20 locations x 8 weeks.

    .venv/bin/python bench/optimize.py --db /tmp/opt_bench.duckdb --skus 2000 --locations 20

Data: the demo generator (``build_demo``) at the asked size (a central DC and regional DCs,
``--days`` of history), built into ``--db`` when the file does not exist (reused when it holds
as many SKUs and locations). Demand over the horizon is each series' forecast from the latest run
when the database has one, else its mean of the last 91 days (a forecast of 38,000 series is
the forecasting benchmark's business, not this one's).

One plan as ``control-tower plan`` makes it (``optimizer.mode`` from ``--mode``), timed in its
parts: reading the instance from the store (stock, inbound, demand, policies, lanes,
suppliers), building the model (the network arrays), solving (OR-Tools), reading the plan out
(lines with reasons and alternatives, costs) and storing it (lines, projection, proposed
actions). Peak memory is the largest resident memory of the process, sampled every 0.2 s.
Repeated ``--repeat`` times; prints the median of each part. Target: the whole plan (read,
build, solve, read out) in at most 60 s on this 2-core machine.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from forecast import PeakMemory  # noqa: E402
from network import ensure_demo, size_problem  # noqa: E402

TARGET_S = 60.0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", type=Path, required=True)
    parser.add_argument("--skus", type=int, default=2000)
    parser.add_argument("--locations", type=int, default=20)
    parser.add_argument("--days", type=int, default=400, help="history built")
    parser.add_argument("--horizon", type=int, default=56)
    parser.add_argument("--mode", choices=["auto", "decomposed", "coupled"], default="auto")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--store", action="store_true", help="also time storing the plan")
    parser.add_argument(
        "--without-supplier-stock",
        action="store_true",
        help="plan without the suppliers' reported stock ([suppliers] plan_on_stock = false)",
    )
    args = parser.parse_args(argv)

    from control_tower.config import load_settings
    from control_tower.optimize import build_instance, plan_instance, save_plan
    from control_tower.store import Store

    ensure_demo(args.db, args.skus, args.locations, args.days)
    settings = load_settings()
    settings = settings.model_copy(
        update={
            "optimizer": settings.optimizer.model_copy(
                update={"mode": args.mode, "horizon_days": args.horizon}
            ),
            "suppliers": settings.suppliers.model_copy(
                update={"plan_on_stock": not args.without_supplier_stock}
            ),
        }
    )
    parts: dict[str, list[float]] = {}
    peaks = []
    last = None
    with Store(args.db) as store:
        if problem := size_problem(store, args.db, args.skus, args.locations):
            print(problem, file=sys.stderr)
            return 2
        for _ in range(args.repeat):
            memory = PeakMemory()
            memory.__enter__()
            tick = time.perf_counter()
            instance = build_instance(store, settings)
            read_s = time.perf_counter() - tick
            tick = time.perf_counter()
            result = plan_instance(instance)
            total_solve = time.perf_counter() - tick
            readout_s = total_solve - result.solution.build_s - result.solution.solve_s
            store_s = 0.0
            if args.store:
                tick = time.perf_counter()
                save_plan(store, result, created_by="bench")
                store_s = time.perf_counter() - tick
            memory.__exit__(None, None, None)
            peaks.append(memory.peak / 2**20)
            for name, value in (
                ("read instance from store", read_s),
                ("build model", result.solution.build_s),
                ("solve", result.solution.solve_s),
                ("read plan out", readout_s),
                ("plan total (read+build+solve+read out)", read_s + total_solve),
                ("store plan", store_s),
            ):
                parts.setdefault(name, []).append(value)
            last = result
    inst = last.instance
    print(
        f"\n{len(inst.skus)} SKUs x {len(inst.locations)} locations x {inst.horizon} days, "
        f"{len(inst.lanes)} lanes, {len(inst.supply)} supply options; status "
        f"{last.status.value}; {last.solution.method}"
    )
    if last.solution.message:
        print(f"  {last.solution.message}")
    print(
        f"  {last.kpis['transfers']:,} transfers ({last.kpis['lateral_transfers']:,} lateral), "
        f"{last.kpis['orders']:,} orders, planned fill rate {last.kpis['fill_rate']:.2%}, "
        f"total cost {last.costs['total']:,.0f}"
    )
    print()
    header = f"{'part':<42}{'median s':>10}{'runs':>6}"
    print(header)
    print("-" * len(header))
    for name, values in parts.items():
        if name == "store plan" and not args.store:
            continue
        print(f"{name:<42}{statistics.median(values):>10.2f}{len(values):>6}")
    print(f"{'peak memory (MB)':<42}{max(peaks):>10.0f}")
    total = statistics.median(parts["plan total (read+build+solve+read out)"])
    print(
        f"\ntarget: plan in <= {TARGET_S:.0f} s: {'met' if total <= TARGET_S else 'NOT met'} "
        f"({total:.1f} s)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
