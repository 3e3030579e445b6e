"""Benchmark the optimizer against an ERP's min/max reorder rules by replaying a held-out period.

    .venv/bin/python bench/simulate.py --db /tmp/demo.duckdb --days 56

Data: the demo network (``build_demo``, 300 SKUs, a central DC, 7 regional DCs, 730 days),
built into ``--db`` when the file does not exist (``--demo-seed`` for another network). The
held-out period is the last ``--days`` days of history, or the ``--days`` ending
``--offset-days`` before its last day (``--offset-days 56``: the 8 weeks before the last 8):
the replay starts from the stock and inbound the ledger recorded the evening
before and serves the demand customers actually placed (``control_tower.simulate``).

- ``optimizer``: every ``--forecast-days`` a forecast run as of that evening (the pipeline
  with the settings of ``control_tower.toml`` or the defaults, ``--workers`` processes), and
  every ``--review-days`` a plan from the simulated stock with the latest forecast; the lines
  that leave before the next plan are carried out. Supplier orders keep the optimizer's weekly
  cycle (``optimizer.review_days``); transfers may leave any day, as in daily planning.
- ``minmax``: reorder point and max level from history (no forecasts, no lateral transfers),
  safety stock multiplied by a scale; run for every ``--scales`` value. This is the tuning:
  the scale that reaches the optimizer's fill rate is found by interpolating fill rate and
  inventory between neighbouring scales ("min/max at equal fill"); and the scale with the
  optimizer's average inventory value gives its stock-out days ("min/max at equal
  inventory").
- ``none``: nothing ordered, for reference.

Supplier lead times are drawn from each supplier's spread with ``--seed``, the same draws for
every policy. Prints the table of runs, then the comparison against the targets: the optimizer's
fill rate at least 98.5%, and its average inventory value at least 20% below min/max at equal
fill rate, or its stock-out days at most half of min/max's at equal inventory.
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import timedelta
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

TARGET_FILL = 0.985
TARGET_INVENTORY_CUT = 0.20
TARGET_STOCKOUT_RATIO = 0.5


def _interpolate(x: float, xs: list[float], ys: list[float]) -> float | None:
    """y at x on the piecewise-linear curve through (xs, ys) sorted by xs; None outside."""
    order = np.argsort(xs)
    xs_sorted, ys_sorted = np.asarray(xs)[order], np.asarray(ys)[order]
    if not xs_sorted[0] <= x <= xs_sorted[-1]:
        return None
    return float(np.interp(x, xs_sorted, ys_sorted))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", type=Path, required=True, help="demo database (built if missing)")
    parser.add_argument("--days", type=int, default=56)
    parser.add_argument(
        "--offset-days",
        type=int,
        default=0,
        help="end the held-out period this many days before the data's last day (56: the 8 "
        "weeks before the last 8)",
    )
    parser.add_argument("--demo-seed", type=int, default=None, help="build the demo with it")
    parser.add_argument("--review-days", type=int, default=1, help="days between plans")
    parser.add_argument("--forecast-days", type=int, default=7, help="days between forecasts")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--scales", type=float, nargs="+", default=[0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0]
    )
    parser.add_argument("--skip-optimizer", action="store_true", help="min/max and none only")
    args = parser.parse_args(argv)

    from control_tower.config import load_settings
    from control_tower.ingest.demo import build_demo
    from control_tower.simulate import simulate
    from control_tower.store import Store

    settings = load_settings()
    settings = settings.model_copy(
        update={"forecast": settings.forecast.model_copy(update={"workers": args.workers})}
    )
    if not args.db.exists():
        started = time.perf_counter()
        with Store(args.db) as store:
            build_demo(store, **({} if args.demo_seed is None else {"seed": args.demo_seed}))
        print(f"built the demo into {args.db} in {time.perf_counter() - started:.0f} s")
    results = []
    with Store(args.db) as store:
        last = store.scalar("SELECT max(date) FROM demand_history") - timedelta(
            days=args.offset_days
        )
        start = last - timedelta(days=args.days - 1)
        print(
            f"held-out period: {start} .. {last} ({args.days} days), review every "
            f"{args.review_days} days, lead-time seed {args.seed}"
        )

        def run(policy: str, scale: float = 1.0):
            result = simulate(
                store,
                settings,
                policy=policy,
                start=start,
                days=args.days,
                review_days=args.review_days,
                forecast_days=args.forecast_days,
                seed=args.seed,
                minmax_scale=scale,
            )
            results.append(result)
            print(
                f"  {policy:<9} {'' if policy != 'minmax' else f'x{scale:g}':>5} fill "
                f"{result.fill_rate:.2%}, inventory {result.avg_inventory_value:,.0f}, "
                f"{result.seconds:.0f} s",
                flush=True,
            )
            return result

        none = run("none")
        minmax = [run("minmax", s) for s in args.scales]
        best = None if args.skip_optimizer else run("optimizer")

    print()
    header = (
        f"{'policy':<16}{'fill rate':>10}{'stock-out days':>16}{'lost units':>12}"
        f"{'avg inventory':>15}{'holding':>12}{'transport':>12}{'handling':>10}"
        f"{'ordering':>10}{'transfers':>10}{'lateral':>9}{'orders':>8}{'seconds':>9}"
    )
    print(header)
    print("-" * len(header))
    for r in [none, *minmax, *([best] if best else [])]:
        name = r.policy if r.minmax_scale is None else f"minmax x{r.minmax_scale:g}"
        print(
            f"{name:<16}{r.fill_rate:>10.2%}{r.stockout_days:>16,}{r.lost_units:>12,}"
            f"{r.avg_inventory_value:>15,.0f}{r.holding_cost:>12,.0f}{r.transport_cost:>12,.0f}"
            f"{r.handling_cost:>10,.0f}{r.ordering_cost:>10,.0f}{r.transfers:>10,}"
            f"{r.lateral_transfers:>9,}{r.orders:>8,}{r.seconds:>9.0f}"
        )
    if best is None:
        return 0
    fills = [r.fill_rate for r in minmax]
    inventories = [r.avg_inventory_value for r in minmax]
    stockouts = [r.stockout_days for r in minmax]
    print()
    print(
        f"optimizer fill rate {best.fill_rate:.2%} (target >= {TARGET_FILL:.1%}): "
        f"{'met' if best.fill_rate >= TARGET_FILL else 'NOT met'}"
    )
    at_fill = _interpolate(best.fill_rate, fills, inventories)
    met = False
    if at_fill is None:
        print(
            f"min/max never reaches {best.fill_rate:.2%} fill within scales "
            f"{min(args.scales):g}..{max(args.scales):g} (best {max(fills):.2%})"
        )
        met = best.fill_rate >= TARGET_FILL and max(fills) < best.fill_rate
    else:
        cut = 1 - best.avg_inventory_value / at_fill
        met = cut >= TARGET_INVENTORY_CUT
        print(
            f"at equal fill rate: min/max needs {at_fill:,.0f} of inventory, the optimizer "
            f"{best.avg_inventory_value:,.0f}: {cut:.1%} less (target >= "
            f"{TARGET_INVENTORY_CUT:.0%})"
        )
    at_inventory = _interpolate(best.avg_inventory_value, inventories, stockouts)
    if at_inventory is not None:
        ratio = best.stockout_days / at_inventory if at_inventory else float("inf")
        print(
            f"at equal inventory: min/max has {at_inventory:,.0f} stock-out days, the optimizer "
            f"{best.stockout_days:,}: {ratio:.2f}x (target <= {TARGET_STOCKOUT_RATIO:g}x)"
        )
        met = met or ratio <= TARGET_STOCKOUT_RATIO
    print(
        f"plans: {len(best.plans)}, statuses {sorted({p['status'] for p in best.plans})}, "
        f"median {np.median([p['seconds'] for p in best.plans]):.1f} s each"
    )
    print("targets met" if met and best.fill_rate >= TARGET_FILL else "targets NOT met")
    return 0


if __name__ == "__main__":
    sys.exit(main())
