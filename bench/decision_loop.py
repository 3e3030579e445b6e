"""The decision loop as a manager meets it, on demo networks built with several seeds.

    .venv/bin/python bench/decision_loop.py --seeds 7 3 11 --dir /tmp/ct_loop

Per seed, on a copy of the demo (built into ``--dir`` when absent, reused otherwise): the
exception rules, a plan, the rules again (what a first day's run does), then the 100 most
severe stock-out and below-safety-stock exceptions and the first action each suggests:

- ``proposals``: actions proposed for a decision (plan lines released now, expedites,
  requests to suppliers), and the plan's lines left planned for later;
- ``with a remedy``: share of the 100 with at least one linked action;
- ``approvable``: share of those whose first suggested action an approver can approve (or
  the approval policy, which checks the same, approved already), taking them in order of
  severity as a manager would (each approval promises stock the next ones cannot use); the
  refusals' reasons are listed;
- ``before the stock-out``: of the stock-outs where some source could deliver in time (a
  lane from a location holding stock, or a supplier, arriving by the stock-out date), the
  share whose first remedy arrives by then;
- ``units short avoided``: if every first remedy of a stock-out is approved, the units short
  it avoids (the what-if projection with its units on its arrival day) of the units short;
- ``approved by policy`` / ``for people``: after the second run the approval policy
  (``[actions.auto_approve]``) approves the routine proposals; what is left waits for people,
  and of those, how many serve an exception, how many carry money at risk (the exception's
  value at risk, or the money the policy's limit that kept it guards: see
  ``exceptions.decisions``), and in how many groups by exception the inbox shows them.

Times are not the point here; the figures are.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from collections import Counter
from datetime import timedelta
from pathlib import Path

import polars as pl

TOP = 100
APPROVER = "bench.approver"


def ensure_seed(folder: Path, seed: int) -> Path:
    from control_tower.ingest.demo import build_demo
    from control_tower.store import Store

    db = folder / f"demo-seed{seed}.duckdb"
    if not db.exists():
        folder.mkdir(parents=True, exist_ok=True)
        with Store(db) as store:
            build_demo(store, seed=seed)
    return db


def could_arrive(item: dict, as_of, lanes, suppliers, holding, pulled) -> bool:
    """Some source could deliver by the stock-out: a lane into the location from a location
    holding the SKU, a supplier of it (its lead time, or 2 days from stock it reports
    holding for us), or a delivery already on the way that an expedite can pull in."""
    due = item["due_date"]
    first_day = as_of + timedelta(days=1)
    for origin, transit in lanes.get(item["location"], []):
        if holding.get((item["sku"], origin), 0) > 0 and first_day + timedelta(days=transit) <= due:
            return True
    if (item["sku"], item["location"]) in pulled:
        return True
    return any(first_day + timedelta(days=lead) <= due for lead in suppliers.get(item["sku"], []))


def measure(db: Path, settings) -> dict:
    from control_tower import actions, exceptions, optimize, position
    from control_tower.actions import ActionRefused, Actor
    from control_tower.store import Store

    with Store(db) as store:
        exceptions.run_exceptions(store, settings, created_by="bench")
        result = optimize.plan(store, settings)
        run_id = optimize.save_plan(store, result, created_by="bench")
        proposed = Counter(
            dict(
                store.rows(
                    "SELECT kind, count(*) FROM actions WHERE status = 'proposed' GROUP BY 1"
                )
            )
        )
        run = exceptions.run_exceptions(store, settings, created_by="bench", auto_approve=True)
        as_of = run.as_of
        people = store.query(
            "SELECT action_id, kind, quantity * p.unit_cost AS value FROM actions "
            "JOIN products p USING (sku) WHERE status = 'proposed'"
        )
        waiting = exceptions.decisions(store, "exception")
        groups = waiting["group"].n_unique()
        serving = waiting.filter(pl.col("serves").is_not_null()).height
        at_risk = waiting.filter(pl.col("serves_at_risk") > 0).height
        planned_later = store.scalar(
            "SELECT count(*) FROM plan_lines WHERE run_id = ? AND NOT release_now", [run_id]
        )
        top = (
            run.items.filter(run.items["rule"].is_in(["stockout", "below_safety_stock"]))
            .sort("severity", descending=True)
            .head(TOP)
            .to_dicts()
        )
        pos = position.stock_position(store, as_of=as_of)
        holding = {
            (r["sku"], r["location"]): r["available"]
            for r in pos.select("sku", "location", "available").iter_rows(named=True)
        }
        lanes: dict[str, list] = {}
        for origin, dest, transit in store.rows(
            "SELECT from_location, to_location, transit_days FROM lanes"
        ):
            lanes.setdefault(dest, []).append((origin, transit))
        suppliers: dict[str, list] = {}
        for sku, lead in store.rows("SELECT sku, lead_time_mean_days FROM supplier_products"):
            suppliers.setdefault(sku, []).append(float(lead))
        # deliveries on the way (not late) that an expedite could pull in
        pulled = {
            (r[0], r[1])
            for r in position.inbound(store, as_of=as_of)
            .filter(pl.col("expected_date") > as_of)
            .select("sku", "to_location")
            .iter_rows()
        }
        # suppliers' reported stock (2 days to the central DC: the plan's default transit)
        for sku in store.query("SELECT DISTINCT sku FROM supplier_stock WHERE available_qty > 0")[
            "sku"
        ]:
            suppliers.setdefault(sku, []).append(2.0)
        approver = Actor(APPROVER, "approver")
        with_remedy = approved = 0
        refusals: Counter = Counter()
        stockouts = could = in_time = 0
        short = avoided = 0.0
        for item in top:
            ids = json.loads(item["action_ids"]) if item["action_ids"] else []
            stockout = item["rule"] == "stockout"
            could_help = stockout and could_arrive(item, as_of, lanes, suppliers, holding, pulled)
            if stockout:
                stockouts += 1
                short += item["units"]
                could += could_help
            if not ids:
                continue
            with_remedy += 1
            first = actions.get_action(store, ids[0])
            if first["status"] == "approved":
                approved += 1  # approved already: by the policy, or for an item above it
            else:
                try:
                    actions.approve(store, ids[0], approver, settings=settings)
                    approved += 1
                except ActionRefused as exc:
                    refusals[exc.detail.split(":")[0][:60]] += 1
            if not stockout:
                continue
            in_time += could_help and first["arrival_date"] <= item["due_date"]
            first_row = store.query(exceptions.REMEDY_SQL, {"ids": [ids[0]]}).row(0, named=True)
            saved, _short, _out = exceptions.short_avoided(
                run.projections[(item["sku"], item["location"])],
                exceptions.remedy_moves(first_row, as_of),
                as_of,
            )
            avoided += saved
        return {
            "as_of": as_of,
            "proposed": dict(proposed),
            "by_policy": len(run.auto.approved) if run.auto else 0,
            "people": people.height,
            "people_at_risk": at_risk,
            "people_serving": serving,
            "groups": groups,
            "kept_by": run.auto.kept_by if run.auto else {},
            "planned_later": planned_later,
            "top": len(top),
            "with_remedy": with_remedy,
            "approved": approved,
            "refusals": refusals,
            "stockouts": stockouts,
            "could": could,
            "in_time": in_time,
            "short": short,
            "avoided": avoided,
        }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[7, 3, 11])
    parser.add_argument("--dir", type=Path, default=Path(tempfile.gettempdir()) / "ct_loop")
    args = parser.parse_args(argv)

    from control_tower.config import load_settings

    settings = load_settings()
    rows = []
    for seed in args.seeds:
        source = ensure_seed(args.dir, seed)
        with tempfile.TemporaryDirectory(prefix="ct_loop_") as tmp:
            copy = Path(tmp) / "loop.duckdb"
            shutil.copy(source, copy)
            rows.append((seed, measure(copy, settings)))

    def share(n: int, d: int) -> str:
        return f"{n / d:.0%} ({n}/{d})" if d else "-"

    header = (
        "| seed | as of | proposed (transfers / orders / expedites / other) | planned later "
        "| approved by policy | for people (serving an exception; with money at risk; groups) "
        "| with a remedy | approvable | before the stock-out | units short avoided |"
    )
    print(header)
    print("|" + "---|" * 10)
    for seed, m in rows:
        p = m["proposed"]
        other = sum(v for k, v in p.items() if k not in ("transfer", "purchase_order", "expedite"))
        print(
            f"| {seed} | {m['as_of']} | {sum(p.values()):,} ({p.get('transfer', 0):,} / "
            f"{p.get('purchase_order', 0):,} / {p.get('expedite', 0):,} / {other:,}) "
            f"| {m['planned_later']:,} | {m['by_policy']:,} "
            f"| {m['people']:,} ({m['people_serving']:,}; {m['people_at_risk']:,}; "
            f"{m['groups']:,}) "
            f"| {share(m['with_remedy'], m['top'])} "
            f"| {share(m['approved'], m['with_remedy'])} | {share(m['in_time'], m['could'])} "
            f"| {m['avoided']:,.0f} of {m['short']:,.0f} "
            f"({m['avoided'] / m['short']:.0%}) |"
            if m["short"]
            else "| - |"
        )
    for seed, m in rows:
        print(f"seed {seed}: left to people by limit: {m['kept_by']}")
        for reason, n in m["refusals"].most_common(5):
            print(f"seed {seed}: refused {n}x: {reason}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
