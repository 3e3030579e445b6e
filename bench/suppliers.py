"""Benchmark supplier collaboration and VMI on a large network: 2,000 SKUs x 20 locations.

    .venv/bin/python bench/suppliers.py --db /tmp/opt_bench.duckdb --skus 2000 --locations 20

Data: the demo generator at the asked size (built into ``--db`` when the file does not exist,
reused when it holds as many SKUs and locations); on a copy, the suppliers' stock reports, VMI
levels and settlements are recorded as the demo does when it has none. Times:

- ``post 1,000 sales (DC)`` / ``post 1,000 sales (VMI site)``: one posting of 1,000 sales,
  at a DC (company stock) and at the VMI site (each passes ownership and writes a payable
  line): the ratio is what consignment costs a posting;
- ``supplier rules``: low water, VMI levels, settlement differences, stale reports;
- ``detect (every rule)``: the whole exception engine, supplier rules included;
- ``scorecard``: the Suppliers page's table (performance, reports, what is owed);
- ``portal reads``: what the portal reads for the VMI supplier (stock, orders, levels,
  statements);
- ``reconcile all statements``.

Each is repeated ``--repeat`` times; the table gives the median.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from network import ensure_demo, size_problem  # noqa: E402

SALES = 1_000


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", type=Path, required=True)
    parser.add_argument("--skus", type=int, default=2000)
    parser.add_argument("--locations", type=int, default=20)
    parser.add_argument("--days", type=int, default=400, help="history built")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args(argv)

    from control_tower import collab, exceptions, ledger, supplier_rules, vmi
    from control_tower.config import load_settings
    from control_tower.ingest.demo_collab import SEEDER, seed_collaboration
    from control_tower.ledger import Movement, MovementType
    from control_tower.store import Store

    ensure_demo(args.db, args.skus, args.locations, args.days)
    settings = load_settings()
    times: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory(prefix="ct_bench_sup_") as tmp:
        copy = Path(tmp) / "bench.duckdb"
        shutil.copy(args.db, copy)
        tick = time.perf_counter()
        store = Store(copy)
        times["open (migrations, if any)"] = [time.perf_counter() - tick]
        with store:
            if problem := size_problem(store, args.db, args.skus, args.locations):
                print(problem, file=sys.stderr)
                return 2
            tick = time.perf_counter()
            seed_collaboration(store)
            times["record the demo's reports"] = [time.perf_counter() - tick]
            today = store.as_of()
            vmi_site, vmi_supplier = store.rows(
                "SELECT l.code, s.code FROM locations l, suppliers s "
                "WHERE l.kind = 'vmi' AND s.vmi ORDER BY l.code LIMIT 1"
            )[0]
            dc = store.scalar("SELECT code FROM locations WHERE kind = 'central_dc' LIMIT 1")
            held = {
                loc: store.rows(
                    "SELECT sku, sum(quantity)::BIGINT AS q FROM ledger WHERE location = ? "
                    "GROUP BY sku HAVING q > 0 ORDER BY q DESC",
                    [loc],
                )
                for loc in (dc, vmi_site)
            }
            # each SKU sold at most its stock over all repeats: a unit per sale, cycled
            picks = {
                loc: [sku for sku, q in rows for _ in range(min(q // (args.repeat + 1), SALES))][
                    :SALES
                ]
                for loc, rows in held.items()
            }
            for run in range(args.repeat):
                for label, loc in (("DC", dc), ("VMI site", vmi_site)):
                    stocked = picks[loc]
                    at = datetime.combine(today, datetime.min.time()) + timedelta(
                        hours=20, minutes=run
                    )
                    batch = [
                        Movement(
                            f"bench:{label}:{run}:{i}",
                            at,
                            stocked[i % len(stocked)],
                            loc,
                            MovementType.SALE,
                            -1,
                        )
                        for i in range(SALES)
                    ]
                    tick = time.perf_counter()
                    ledger.post(store, batch)
                    times.setdefault(f"post {SALES:,} sales ({label})", []).append(
                        time.perf_counter() - tick
                    )
                tick = time.perf_counter()
                supplier_rules.supplier_rows(store, settings, today, exceptions._prices(store))
                times.setdefault("supplier rules", []).append(time.perf_counter() - tick)
                tick = time.perf_counter()
                found = exceptions.detect(store, settings)
                times.setdefault("detect (every rule)", []).append(time.perf_counter() - tick)
                tick = time.perf_counter()
                card = collab.scorecard(store, settings)
                times.setdefault("scorecard", []).append(time.perf_counter() - tick)
                tick = time.perf_counter()
                collab.own_stock(store, SEEDER, vmi_supplier)
                collab.open_orders(store, SEEDER, vmi_supplier)
                vmi.own_levels(store, SEEDER, vmi_supplier)
                vmi.statements(store, SEEDER, vmi_supplier)
                times.setdefault("portal reads", []).append(time.perf_counter() - tick)
                tick = time.perf_counter()
                vmi.reconciliation(store)
                times.setdefault("reconcile all statements", []).append(time.perf_counter() - tick)
            payables = store.scalar("SELECT count(*) FROM payables")
            reports = store.scalar("SELECT count(*) FROM supplier_stock")
    counts = (
        found.items.filter(
            found.items["rule"].is_in(
                ["supplier_low_water", "vmi_level", "settlement_difference", "data_quality"]
            )
        )
        .group_by("rule")
        .len()
        .sort("rule")
    )
    print(
        f"\n{args.skus} SKUs x {args.locations} locations as of {today}: {card.height} suppliers, "
        f"{reports:,} reported stock lines, {payables:,} payable lines; "
        + ", ".join(f"{rule} {n:,}" for rule, n in counts.iter_rows())
        + "\n"
    )
    header = f"{'part':<30}{'median s':>10}{'runs':>6}"
    print(header)
    print("-" * len(header))
    for name, values in times.items():
        print(f"{name:<30}{statistics.median(values):>10.3f}{len(values):>6}")
    dc_s = statistics.median(times[f"post {SALES:,} sales (DC)"])
    vmi_s = statistics.median(times[f"post {SALES:,} sales (VMI site)"])
    print(f"\nconsignment on a posting: {vmi_s / dc_s:.2f}x the time of the same sales at a DC")
    return 0


if __name__ == "__main__":
    sys.exit(main())
