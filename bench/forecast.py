"""Benchmark the forecasting pipeline against a plain loop of default Prophet fits.

    .venv/bin/python bench/forecast.py --dataset demo --series 2000 --origins 3 --workers 2
    .venv/bin/python bench/forecast.py --dataset retail --series 2000

Data: ``demo`` is the demo network (regional DCs: mostly smooth, festival-driven demand);
``retail`` is store-level sales from ``control_tower.forecast.synthetic`` (sparse, closed days,
empty shelves, outliers, launches, delistings). Both 730 days, built into ``--db`` or a
temporary file. The series are those of the first SKUs (in SKU order) until ``--series`` is
reached.

For each origin (the last ``--horizon`` days, then the ``--horizon`` days before, ...):

- ``pipeline``: ``control_tower.forecast.forecast`` as a user runs it (classify, tune or reuse
  Prophet's settings, backtest, choose, quantiles, write the run to the store) on ``--workers``
  processes, from the history up to the origin; scored on the stored mean forecast;
- ``prophet_default``: a plain loop, in this process, of ``Prophet()`` exactly as shipped
  (``fit`` then ``predict`` with its default uncertainty sampling), negative values set to 0;
- ``seasonal_naive``: the last week repeated (the reference).

Throughput is series per second of wall time per origin (median over origins); the ratio to the
plain loop is taken within the same run. Accuracy over all origins: weighted RMSSE as in M5 at
the SKU x location level (weights: sales value of the 28 days before each origin, normalised per
origin, then averaged over origins), WAPE and bias. Peak memory is the largest sum of resident
memory of this process and its children, sampled every 0.2 s. Prints two tables.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
from datetime import timedelta
from pathlib import Path

import numpy as np
import polars as pl
import psutil


class PeakMemory:
    """Samples the resident memory of this process tree in a thread."""

    def __init__(self, interval: float = 0.2) -> None:
        self.interval = interval
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        me = psutil.Process()
        while not self._stop.is_set():
            total = 0
            for p in [me, *me.children(recursive=True)]:
                try:
                    total += p.memory_info().rss
                except psutil.Error:
                    pass
            self.peak = max(self.peak, total)
            self._stop.wait(self.interval)

    def __enter__(self) -> PeakMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def build(path: str, dataset: str, series: int) -> None:
    from control_tower.ingest import ingest_frames
    from control_tower.ingest.demo import build_demo
    from control_tower.store import Store

    with Store(path) as store:
        if store.scalar("SELECT count(*) FROM demand_history"):
            return
        if dataset == "demo":
            skus = max(3, int(np.ceil(series / 7 * 1.05)))  # about 7 regional DCs per SKU
            build_demo(store, skus=skus, locations=8, days=730)
        else:
            from control_tower.forecast.synthetic import retail_frames

            ingest_frames(store, retail_frames(series=series, days=730), source="bench")


def pick_skus(store, series: int) -> tuple[list[str], int]:
    counts = store.rows(
        "SELECT sku, count(DISTINCT location) FROM demand_history GROUP BY sku ORDER BY sku"
    )
    chosen, total = [], 0
    for sku, n in counts:
        if total >= series:
            break
        chosen.append(sku)
        total += n
    return chosen, total


def plain_loop(series_list, horizon: int) -> tuple[dict, float]:
    """Default Prophet per series, in this process: the reference loop."""
    import pandas as pd
    from prophet import Prophet

    from control_tower.forecast.prophet_model import quiet

    out = {}
    started = time.perf_counter()
    for s in series_list:
        quiet()
        ds = pd.date_range(pd.Timestamp(s.start), periods=len(s.values), freq="D")
        model = Prophet()
        try:
            model.fit(pd.DataFrame({"ds": ds, "y": s.values}))
        except ValueError:  # under two days of history: Prophet refuses; the mean stands in
            out[(s.sku, s.location)] = np.full(horizon, float(np.mean(s.values)))
            continue
        future = model.make_future_dataframe(periods=horizon, include_history=False)
        out[(s.sku, s.location)] = np.clip(model.predict(future)["yhat"].to_numpy(), 0, None)
    return out, time.perf_counter() - started


def score(rows: list[dict]) -> dict:
    frame = pl.DataFrame(rows)
    frame = frame.with_columns(
        (pl.col("weight") / pl.col("weight").sum().over("origin")).alias("w")
    )
    origins = frame["origin"].n_unique()
    return {
        "weighted_rmsse": float((frame["rmsse"] * frame["w"]).sum() / origins),
        "wape": float(frame["abs_error"].sum() / frame["actual"].sum()),
        "bias": float((frame["forecast"].sum() - frame["actual"].sum()) / frame["actual"].sum()),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", choices=["demo", "retail"], default="demo")
    parser.add_argument("--series", type=int, default=2000)
    parser.add_argument("--origins", type=int, default=3)
    parser.add_argument("--horizon", type=int, default=28)
    parser.add_argument(
        "--skip-origins",
        type=int,
        default=0,
        help="move the origins this many horizons back (a validation period for trying settings "
        "before the held-out one)",
    )
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--db", help="DuckDB file to build into or reuse (default: a temp file)")
    parser.add_argument("--refit", action="store_true", help="set forecast.prophet_refit")
    parser.add_argument(
        "--dask",
        metavar="ADDRESS",
        help="run the pipeline on this Dask scheduler; 'local' starts a LocalCluster with "
        "--workers single-threaded worker processes",
    )
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a [forecast] setting for the pipeline, e.g. --set evidence_z=3 (repeatable; lists "
        "comma-separated)",
    )
    parser.add_argument("--skip-plain", action="store_true", help="time the pipeline only")
    args = parser.parse_args(argv)

    from control_tower.config import ForecastSettings
    from control_tower.forecast import forecast, load_forecasts, load_series, metrics
    from control_tower.forecast.baselines import seasonal_naive
    from control_tower.store import Store

    tmp = tempfile.TemporaryDirectory()
    path = args.db or str(Path(tmp.name) / "bench.duckdb")
    started = time.perf_counter()
    build(path, args.dataset, args.series)
    build_s = time.perf_counter() - started
    store = Store(path)
    skus, count = pick_skus(store, args.series)
    last = store.scalar("SELECT max(date) FROM demand_history")
    back = args.skip_origins
    origins = [
        last - timedelta(days=args.horizon * k) for k in range(args.origins + back, back, -1)
    ]
    full = {(s.sku, s.location): s for s in load_series(store, as_of=last, skus=skus)}
    cluster = None
    scheduler = args.dask
    if args.dask == "local":
        from distributed import LocalCluster

        cluster = LocalCluster(n_workers=args.workers, threads_per_worker=1, processes=True)
        scheduler = cluster.scheduler_address
    overrides: dict[str, object] = {}
    for item in args.set:
        key, _, value = item.partition("=")
        field = ForecastSettings.model_fields.get(key)
        if field is None or not value:
            parser.error(f"--set {item}: expected KEY=VALUE with KEY a [forecast] setting")
        overrides[key] = value.split(",") if "list" in str(field.annotation) else value
    settings = ForecastSettings(
        workers=args.workers, prophet_refit=args.refit, dask_scheduler=scheduler, **overrides
    )
    rows: dict[str, list[dict]] = {"pipeline": [], "prophet_default": [], "seasonal_naive": []}
    wall: dict[str, list[float]] = {"pipeline": [], "prophet_default": [], "seasonal_naive": []}
    n_series: list[int] = []
    classes: list[dict] = []
    peak = {"pipeline": 0, "prophet_default": 0}
    for k, origin in enumerate(origins):
        history = load_series(store, as_of=origin, skus=skus)
        n_series.append(len(history))
        print(f"origin {origin}: {len(history)} series", file=sys.stderr, flush=True)
        with PeakMemory() as mem:
            t0 = time.perf_counter()
            run = forecast(
                store, settings, as_of=origin, horizon=args.horizon, skus=skus, show_bar=True
            )
            wall["pipeline"].append(time.perf_counter() - t0)
        peak["pipeline"] = max(peak["pipeline"], mem.peak)
        stored = load_forecasts(store, run.run_id)
        methods = store.query(
            "SELECT sku, location, demand_class FROM forecast_series WHERE run_id = $r",
            {"r": run.run_id},
        )
        class_of = {(r[0], r[1]): r[2] for r in methods.iter_rows()}
        pipeline = {
            (key[0], key[1]): g.sort("date")["mean"].to_numpy()
            for key, g in stored.group_by(["sku", "location"])
        }
        if args.skip_plain:
            plain, seconds = {(s.sku, s.location): np.zeros(args.horizon) for s in history}, np.nan
        else:
            with PeakMemory() as mem:
                plain, seconds = plain_loop(history, args.horizon)
        wall["prophet_default"].append(seconds)
        peak["prophet_default"] = max(peak["prophet_default"], mem.peak)
        t0 = time.perf_counter()
        naive = {(s.sku, s.location): seasonal_naive(s.values, args.horizon) for s in history}
        wall["seasonal_naive"].append(time.perf_counter() - t0)
        for s in history:
            key = (s.sku, s.location)
            y = full[key].values
            end = (origin - full[key].start).days
            actual = y[end + 1 : end + 1 + args.horizon]
            scale = metrics.rmsse_scale(s.values)
            weight = s.weight
            for method, forecasts in (
                ("pipeline", pipeline),
                ("prophet_default", plain),
                ("seasonal_naive", naive),
            ):
                f = forecasts[key][: len(actual)]
                entry = {
                    "origin": k,
                    "rmsse": metrics.rmsse(actual, f, scale),
                    "weight": weight,
                    "abs_error": float(np.abs(actual - f).sum()),
                    "actual": float(actual.sum()),
                    "forecast": float(f.sum()),
                }
                rows[method].append(entry)
                classes.append({**entry, "method": method, "demand_class": class_of.get(key, "?")})
    shown = ("pipeline", "seasonal_naive") if args.skip_plain else tuple(rows)
    results = {m: score(rows[m]) for m in shown}
    median_series = statistics.median(n_series)
    plain_rate = (
        float("nan")
        if args.skip_plain
        else median_series / statistics.median(wall["prophet_default"])
    )
    naive_rmsse = results["seasonal_naive"]["weighted_rmsse"]
    default_rmsse = (
        float("nan") if args.skip_plain else results["prophet_default"]["weighted_rmsse"]
    )
    print(
        f"\nforecast benchmark: {args.dataset}, {count} series x 730 days, {args.origins} origins of "
        f"{args.horizon} days ({', '.join(map(str, origins))}), {args.workers} workers, "
        f"{psutil.cpu_count()} cores, executor {run.executor}; data built in {build_s:.0f} s\n"
    )
    header = f"{'method':<16}{'wall s':>9}{'series/s':>10}{'x plain':>9}{'peak MB':>9}{'wRMSSE':>9}{'vs naive':>10}{'vs default':>11}{'WAPE':>8}{'bias':>8}"
    print(header)
    print("-" * len(header))
    for method in shown:
        w = statistics.median(wall[method])
        rate = median_series / w if w > 0 else float("inf")
        r = results[method]
        mem = f"{peak[method] / 2**20:,.0f}" if method in peak else "-"
        print(
            f"{method:<16}{w:>9.1f}{rate:>10.1f}{rate / plain_rate:>9.2f}{mem:>9}"
            f"{r['weighted_rmsse']:>9.3f}{1 - r['weighted_rmsse'] / naive_rmsse:>+10.1%}"
            f"{1 - r['weighted_rmsse'] / default_rmsse:>+11.1%}{r['wape']:>8.3f}{r['bias']:>+8.1%}"
        )
    print("\nby demand class (the pipeline's, at each origin's run): weighted RMSSE and bias")
    frame = pl.DataFrame(classes)
    names = shown
    print(f"{'class':<14}{'series':>8}" + "".join(f"{m:>18}{'bias':>8}" for m in names))
    for cls in ("smooth", "erratic", "intermittent", "lumpy", "too_short", "new"):
        part = frame.filter(pl.col("demand_class") == cls)
        if part.is_empty():
            continue
        cells = ""
        for m in names:
            r = score(part.filter(pl.col("method") == m).to_dicts())
            cells += f"{r['weighted_rmsse']:>18.3f}{r['bias']:>+8.1%}"
        count = part.filter(pl.col("method") == "pipeline").height // args.origins
        print(f"{cls:<14}{count:>8}{cells}")
    if args.skip_plain:
        print("\n(--skip-plain: default Prophet not run, so no 'x plain' or 'vs default')")
    store.close()
    if cluster is not None:
        cluster.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
