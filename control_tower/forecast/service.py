"""Forecast runs over the store: load the demand, tune Prophet's settings, run every series
through the pipeline on the configured executor, reuse unchanged series, and write the run in
one transaction."""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Sequence
from contextlib import ExitStack
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta

import numpy as np
import polars as pl

from control_tower.config import ForecastSettings
from control_tower.errors import ControlTowerError, NotFoundError
from control_tower.forecast.group_calendar import calendar_for, estimate_lifts
from control_tower.forecast.holidays import holiday_frame
from control_tower.forecast.pipeline import SeriesInput, SeriesResult, Spec
from control_tower.forecast.prophet_model import PROPHET_GRID, ProphetConfig
from control_tower.forecast.quantiles import LEVELS
from control_tower.forecast.runner import ExecutorInfo, Progress, open_executor, run_batches
from control_tower.forecast.tuning import tune_prophet
from control_tower.store import Store, registered

log = logging.getLogger(__name__)

MODEL_VERSION = "6"  # bump when the pipeline changes what it computes: old fits are not reused
MAX_HORIZON = 730
QUANTILE_COLUMNS = tuple(f"p{round(q * 100)}" for q in LEVELS)


@dataclass(frozen=True)
class ForecastRun:
    run_id: int
    created_at: datetime
    as_of: date
    horizon: int
    settings: dict
    executor: str
    workers: int
    duration_s: float
    series_count: int
    failures: int
    reused: int
    scope: str | None
    created_by: str | None = None  # who made it (None: a run stored before this was recorded)
    note: str | None = None  # how it was made, when not with the configured pipeline


DEMAND_SQL = """
SELECT d.sku, d.location, d.date, sum(d.quantity)::DOUBLE AS quantity
FROM demand_history d
WHERE d.date <= $as_of
  AND ($all_skus OR d.sku IN (SELECT unnest($skus)))
  AND ($all_locations OR d.location IN (SELECT unnest($locations)))
GROUP BY ALL
ORDER BY d.sku, d.location, d.date
"""
SERIES_META_SQL = """
SELECT s.sku, s.location, coalesce(l.country, $country) AS country,
       coalesce(p.price, p.unit_cost, 1)::DOUBLE AS price
FROM (SELECT DISTINCT sku, location FROM demand_history WHERE date <= $as_of) s
LEFT JOIN locations l ON l.code = s.location
LEFT JOIN products p ON p.sku = s.sku
"""
GROUP_DEMAND_SQL = """
WITH daily AS (
    SELECT sku, location, date, sum(quantity)::DOUBLE AS q
    FROM demand_history
    WHERE date <= $as_of
    GROUP BY ALL
    HAVING sum(quantity) > 0
), capped AS (
    SELECT sku, location, date,
           CASE WHEN count(*) OVER w >= 8 THEN least(q, 3 * quantile_cont(q, 0.95) OVER w)
                ELSE q END AS q
    FROM daily
    WINDOW w AS (PARTITION BY sku, location)
), tagged AS (
    SELECT coalesce(l.country, $country) AS country, coalesce(p.category, '') AS category,
           c.sku, c.location, c.date, c.q
    FROM capped c
    LEFT JOIN locations l ON l.code = c.location
    LEFT JOIN products p ON p.sku = c.sku
), sizes AS (
    SELECT country, category, count(DISTINCT (sku, location)) AS series FROM tagged GROUP BY ALL
)
SELECT t.country, t.category, t.date, sum(t.q) AS total, any_value(s.series) AS series
FROM tagged t JOIN sizes s USING (country, category)
GROUP BY t.country, t.category, t.date
ORDER BY 1, 2, 3
"""
ALL_CATEGORIES = "*"
MIN_GROUP_SERIES = 20  # a category with fewer series takes the lifts of its whole country


def check_known(store: Store, table: str, column: str, values: Sequence[str], what: str) -> None:
    known = {r[0] for r in store.rows(f"SELECT {column} FROM {table}")}  # noqa: S608 - fixed names
    unknown = sorted(set(values) - known)
    if unknown:
        shown = ", ".join(repr(v) for v in unknown[:10])
        raise NotFoundError(
            f"unknown {what}: {shown}"
            + (f" and {len(unknown) - 10} more" if len(unknown) > 10 else ""),
            title=f"Unknown {what}",
        )


def data_as_of(store: Store) -> date | None:
    return store.scalar("SELECT max(date) FROM demand_history")


def load_series(
    store: Store,
    *,
    as_of: date,
    skus: Sequence[str] | None = None,
    locations: Sequence[str] | None = None,
    country: str = "CN",
) -> list[SeriesInput]:
    """Daily demand per SKU x location from its first record to ``as_of`` (missing days are
    zero); nothing after ``as_of`` is read."""
    params = {
        "as_of": as_of,
        "all_skus": not skus,
        "skus": list(skus or []),
        "all_locations": not locations,
        "locations": list(locations or []),
    }
    demand = store.query(DEMAND_SQL, params)
    meta = store.query(SERIES_META_SQL, {"as_of": as_of, "country": country})
    lookup = {(r[0], r[1]): (r[2], r[3]) for r in meta.iter_rows()}
    out: list[SeriesInput] = []
    if demand.is_empty():
        return out
    demand = demand.with_columns(
        ((pl.col("date") - pl.col("date").min().over("sku", "location")).dt.total_days()).alias(
            "day"
        )
    )
    for (sku, location), group in demand.group_by(["sku", "location"], maintain_order=True):
        start = group["date"][0]
        values = np.zeros((as_of - start).days + 1)
        values[group["day"].to_numpy()] = group["quantity"].to_numpy()
        country_code, price = lookup.get((sku, location), (country, 1.0))
        out.append(SeriesInput(sku, location, start, values, country_code, float(price)))
    return out


Lifts = dict[tuple[str, str], dict[str, float]]  # (country, category) -> phase -> lift


def estimate_group_lifts(store: Store, *, as_of: date, country: str) -> Lifts:
    """Festival and holiday lifts per (country, category), estimated on the category's total
    demand over every SKU x location in the store up to ``as_of`` (each series capped at three
    times its 95th percentile first, so one bulk order does not read as a festival). Every
    country also gets the lifts of all its demand, under the category ``"*"``: the fallback of
    a category with fewer than ``MIN_GROUP_SERIES`` series or of a product without one. A
    country with fewer series than that gets none (its series fit holidays themselves)."""
    frame = store.query(GROUP_DEMAND_SQL, {"as_of": as_of, "country": country})
    out: Lifts = {}
    if frame.is_empty():
        return out
    first = frame["date"].min()
    days = (as_of - first).days + 1
    origin = np.datetime64(first, "D")
    for (code,), part in frame.group_by(["country"], maintain_order=True):
        sizes = dict(part.group_by("category").agg(pl.col("series").max()).iter_rows())
        if sum(sizes.values()) < MIN_GROUP_SERIES:
            continue  # too few series in this country to pool
        holidays = holiday_frame(code, first.year, as_of.year)
        offsets = (part["date"].to_numpy().astype("datetime64[D]") - origin).astype(np.int64)
        quantity = part["total"].to_numpy()
        categories = part["category"].to_numpy()
        totals = {ALL_CATEGORIES: np.bincount(offsets, quantity, minlength=days)}
        for category, size in sorted(sizes.items()):
            if category and category != ALL_CATEGORIES and size >= MIN_GROUP_SERIES:
                rows = categories == category
                totals[category] = np.bincount(offsets[rows], quantity[rows], minlength=days)
        for category, total in totals.items():
            out[(code, category)] = estimate_lifts(total, first, holidays)
    return out


def _lifts_record(lifts: Lifts, estimated_as_of: date) -> dict:
    groups = [
        {"country": c, "category": g, "lifts": dict(sorted(phases.items()))}
        for (c, g), phases in sorted(lifts.items())
    ]
    return {"estimated_as_of": estimated_as_of.isoformat(), "groups": groups}


def _previous_lifts(
    store: Store, as_of: date, settings: ForecastSettings
) -> tuple[Lifts, date] | None:
    """Lifts of this model version estimated within ``retune_days`` before ``as_of``, and
    the date they were estimated as of (lifts move little in a month; estimating them every
    day would change every series' inputs and defeat the reuse of unchanged series)."""
    if settings.retune_days <= 0:
        return None
    rows = store.rows(
        "SELECT settings FROM forecast_runs WHERE as_of BETWEEN ? AND ? "
        "ORDER BY as_of DESC, run_id DESC LIMIT 20",
        [as_of - timedelta(days=settings.retune_days), as_of],
    )
    for (text,) in rows:
        stored = json.loads(text)
        record = stored.get("calendar_lifts")
        if (
            stored.get("model_version") != MODEL_VERSION
            or not record
            or not record.get("groups")  # none estimated then (too little data): try again
            or stored.get("country") != settings.country
        ):
            continue
        estimated = date.fromisoformat(record["estimated_as_of"])
        if not as_of - timedelta(days=settings.retune_days) <= estimated <= as_of:
            continue
        lifts = {
            (r["country"], r["category"]): {k: float(v) for k, v in r["lifts"].items()}
            for r in record["groups"]
        }
        return lifts, estimated
    return None


def attach_calendars(
    store: Store, series: list[SeriesInput], lifts: Lifts, until: date
) -> list[SeriesInput]:
    """Each series with the multipliers of its group's lifts from its first day through
    ``until`` (the horizon's last day)."""
    if not lifts or not series:
        return series
    category = {sku: c or "" for sku, c in store.rows("SELECT sku, category FROM products")}
    start = min(s.start for s in series)
    days = (until - start).days + 1
    calendars = {}
    for (country, group), phases in lifts.items():
        # a category's lifts, and its country's for the phases it has none of
        merged = {**lifts.get((country, ALL_CATEGORIES), {}), **phases}
        frame = holiday_frame(country, start.year, until.year)
        calendars[(country, group)] = calendar_for(merged, frame, start, days)
    out = []
    for s in series:
        calendar = calendars.get((s.country, category.get(s.sku, ""))) or calendars.get(
            (s.country, ALL_CATEGORIES)
        )
        if calendar is None or s.start > until:
            out.append(s)
            continue
        out.append(replace(s, calendar=calendar.path(s.start, (until - s.start).days + 1)))
    return out


def mark_prophet_series(series: list[SeriesInput], value_share: float) -> list[SeriesInput]:
    """Prophet is tried on the series that make up the top ``value_share`` of sales value over
    the last year (the A and B items of an ABC analysis); the rest, many series with little
    value, get the baselines: the weighted accuracy hardly moves and a run costs much less."""
    if value_share >= 1.0 or not series:
        return series
    value = np.array([s.price * float(np.sum(s.values[-365:])) for s in series])
    if value.sum() <= 0:
        return series
    order = np.argsort(-value, kind="stable")
    share_before = (np.cumsum(value[order]) - value[order]) / value.sum()
    keep = np.zeros(len(series), dtype=bool)
    keep[order[share_before < value_share]] = True
    return [s if k else replace(s, try_prophet=False) for s, k in zip(series, keep, strict=True)]


def fit_key(series: SeriesInput, spec_hash: str) -> str:
    digest = hashlib.sha1(usedforsecurity=False)
    digest.update(
        f"{MODEL_VERSION}|{spec_hash}|{series.start}|{series.country}|{series.price}|"
        f"{series.try_prophet}".encode()
    )
    digest.update(np.ascontiguousarray(series.values, dtype=np.float64).tobytes())
    if series.calendar is not None:
        digest.update(b"calendar")
        digest.update(np.ascontiguousarray(series.calendar, dtype=np.float64).tobytes())
    return digest.hexdigest()


def _spec_settings(settings: ForecastSettings, horizon: int, prophet: ProphetConfig) -> dict:
    keep = settings.model_dump(exclude={"workers", "dask_scheduler", "batch_size", "sensing"})
    return {
        **keep,
        "horizon": horizon,
        "prophet": prophet.as_dict(),
        "model_version": MODEL_VERSION,
    }


def build_spec(
    settings: ForecastSettings,
    horizon: int,
    prophet: ProphetConfig | None,
    countries: set[str],
    first_year: int,
    last_year: int,
    prophet_fn=None,
) -> Spec:
    spec = Spec(
        horizon=horizon,
        window=settings.backtest_window,
        prophet_refit=settings.prophet_refit,
        level_correction=settings.level_correction,
        evidence_z=settings.evidence_z,
        baseline_origins=settings.baseline_origins,
        max_bias=settings.max_bias,
        min_history_days=settings.min_history_days,
        new_item_days=settings.new_item_days,
        prophet_classes=tuple(settings.prophet_classes),
        prophet=prophet,
        holidays={c: holiday_frame(c, first_year, last_year) for c in countries},
    )
    return replace(spec, prophet_fn=prophet_fn) if prophet_fn else spec


def resolve_as_of(store: Store, as_of: date | None) -> date:
    last = data_as_of(store)
    if last is None:
        raise NotFoundError(
            "there is no demand history to forecast from", title="No demand history"
        )
    if as_of is None:
        return last
    if as_of > last:
        raise ControlTowerError(
            f"as-of {as_of} is after the last demand record ({last}); the days between would "
            "count as zero demand",
            title="As-of date after the data",
        )
    return as_of


def _previous_tuning(
    store: Store, as_of: date, settings: ForecastSettings, *, scoped: bool
) -> ProphetConfig | None:
    """Prophet settings tuned by a run of this model version within ``retune_days`` (not
    reused by it from an older one); a run over everything reuses only those of another run
    over everything (a few SKUs are a thin sample)."""
    if settings.retune_days <= 0:
        return None
    rows = store.rows(
        "SELECT settings FROM forecast_runs WHERE as_of BETWEEN ? AND ? "
        "AND (? OR scope IS NULL) ORDER BY run_id DESC LIMIT 20",
        [as_of - timedelta(days=settings.retune_days), as_of, scoped],
    )
    names = {c.name: c for c in PROPHET_GRID}
    for (text,) in rows:
        stored = json.loads(text)
        if not stored.get("tuning") or stored.get("model_version") != MODEL_VERSION:
            # that run reused older settings (no chains), tuned another model, or scored
            # nothing (no series to tune on, or Prophet not tried: its choice is no choice)
            continue
        chosen = stored.get("prophet", {})
        if chosen.get("name") in names and names[chosen["name"]].as_dict() == chosen:
            return names[chosen["name"]]
    return None


def forecast(
    store: Store,
    settings: ForecastSettings | None = None,
    *,
    as_of: date | None = None,
    horizon: int | None = None,
    skus: Sequence[str] | None = None,
    locations: Sequence[str] | None = None,
    workers: int | None = None,
    progress: Progress | None = None,
    show_bar: bool = True,
    prophet_fn=None,
    created_by: str | None = None,
    note: str | None = None,
    reuse_run: bool = False,
) -> ForecastRun:
    """Forecast every SKU x location with demand up to ``as_of`` (default: the last demand
    date) for ``horizon`` days, and store the run under ``created_by`` (with ``note``, how it
    was made when not with the configured pipeline). Returns the stored run.

    ``reuse_run``: when the latest run covers every series, as of the same day, for the same
    horizon and settings, and each series' history, calendar and price are unchanged
    (:func:`identical_run`), that run is returned and nothing is stored: it is what this run
    would compute."""
    settings = settings or ForecastSettings()
    horizon = settings.horizon if horizon is None else horizon
    if workers is not None and workers < 1:
        raise ControlTowerError(f"workers must be at least 1, not {workers}", title="Bad workers")
    if not 1 <= horizon <= MAX_HORIZON:
        raise ControlTowerError(
            f"horizon must be 1..{MAX_HORIZON} days, not {horizon}", title="Bad horizon"
        )
    if skus:
        check_known(store, "products", "sku", skus, "SKU")
    if locations:
        check_known(store, "locations", "code", locations, "location")
    as_of = resolve_as_of(store, as_of)
    started = time.perf_counter()
    series = load_series(
        store, as_of=as_of, skus=skus, locations=locations, country=settings.country
    )
    if not series:
        raise NotFoundError(
            f"no demand history up to {as_of} for the SKUs and locations asked for",
            title="Nothing to forecast",
        )
    workers = settings.workers if workers is None else workers
    series = mark_prophet_series(series, settings.prophet_value_share)
    countries = {s.country for s in series}
    first_year = min(s.start for s in series).year
    last_year = (as_of + timedelta(days=horizon)).year
    lifts: Lifts = {}
    lifts_as_of = as_of
    if settings.group_lifts:
        previous = _previous_lifts(store, as_of, settings)
        if previous is None:
            lifts = estimate_group_lifts(store, as_of=as_of, country=settings.country)
        else:
            lifts, lifts_as_of = previous
        series = attach_calendars(store, series, lifts, as_of + timedelta(days=horizon))
    with ExitStack() as stack:
        opened: list[tuple] = []

        def pool():  # opened only when something has to be computed
            if not opened:
                opened.append(stack.enter_context(open_executor(workers, settings.dask_scheduler)))
            return opened[0][0]

        prophet = _previous_tuning(store, as_of, settings, scoped=bool(skus or locations))
        tuning_table = None
        if prophet is None:
            base = build_spec(settings, horizon, None, countries, first_year, last_year, prophet_fn)
            prophet, tuning_table = tune_prophet(
                pool(),
                series,
                base,
                settings.tuning_sample,
                progress=progress,
                show_bar=show_bar,
            )
        spec = build_spec(settings, horizon, prophet, countries, first_year, last_year, prophet_fn)
        spec_settings = _spec_settings(settings, horizon, prophet)
        spec_hash = hashlib.sha1(
            json.dumps(spec_settings, sort_keys=True).encode(), usedforsecurity=False
        ).hexdigest()
        keys = [fit_key(s, spec_hash) for s in series]
        if reuse_run and not (skus or locations):
            same = identical_run(store, as_of, horizon, spec_hash, series, keys)
            if same is not None:
                log.info("forecast as of %s: run %d has every series unchanged", as_of, same)
                if progress:
                    progress(len(series), len(series), "forecast")
                return get_run(store, same)
        reusable = _reusable(store, series, keys)
        todo = [s for s, k in zip(series, keys, strict=True) if (s.sku, s.location) not in reusable]
        results: list[SeriesResult] = []
        if todo:
            results = run_batches(
                pool(),
                todo,
                spec,
                batch_size=settings.batch_size,
                progress=progress,
                show_bar=show_bar,
            )
        elif progress:
            progress(len(series), len(series), "forecast")
        info = opened[0][1] if opened else ExecutorInfo("none", 0)
        log.info(
            "forecast as of %s: %d series, %d reused, %s x%d",
            as_of,
            len(series),
            len(reusable),
            info.kind,
            info.workers,
        )
    duration = time.perf_counter() - started
    if tuning_table is not None:
        spec_settings["tuning"] = tuning_table
    if settings.group_lifts:
        spec_settings["calendar_lifts"] = _lifts_record(lifts, lifts_as_of)
    scope = (
        json.dumps({"skus": list(skus or []), "locations": list(locations or [])})
        if (skus or locations)
        else None
    )
    return _write_run(
        store,
        as_of=as_of,
        horizon=horizon,
        settings=spec_settings,
        spec_hash=spec_hash,
        executor=info.kind,
        workers=info.workers,
        duration=duration,
        series=series,
        keys=keys,
        results=results,
        reusable=reusable,
        scope=scope,
        created_by=created_by,
        note=note,
    )


def identical_run(
    store: Store,
    as_of: date,
    horizon: int,
    spec_hash: str,
    series: list[SeriesInput],
    keys: list[str],
) -> int | None:
    """The latest run, when it is over every series, as of ``as_of``, for ``horizon`` days,
    with the settings of ``spec_hash``, without failures, and holds exactly these series with
    these fit keys (same history, calendar and price): a new run would repeat it."""
    rows = store.rows(
        "SELECT run_id, as_of, horizon, settings_hash, failures, series_count, scope "
        "FROM forecast_runs ORDER BY run_id DESC LIMIT 1"
    )
    if not rows:
        return None
    run_id, run_as_of, run_horizon, run_hash, failures, count, scope = rows[0]
    if (run_as_of, run_horizon, run_hash, failures, count, scope) != (
        as_of,
        horizon,
        spec_hash,
        0,
        len(series),
        None,
    ):
        return None
    frame = pl.DataFrame(
        {"sku": [s.sku for s in series], "location": [s.location for s in series], "fit_key": keys}
    )
    cur = store.cursor()
    with registered(cur, "wanted_keys", frame):
        matched = cur.execute(
            "SELECT count(*) FROM forecast_series f JOIN wanted_keys w "
            "USING (sku, location, fit_key) WHERE f.run_id = ?",
            [run_id],
        ).fetchall()[0][0]
    return int(run_id) if matched == len(series) else None


def _reusable(
    store: Store, series: list[SeriesInput], keys: list[str]
) -> dict[tuple[str, str], int]:
    """(sku, location) -> the latest run whose fit of this series had the same key."""
    frame = pl.DataFrame(
        {"sku": [s.sku for s in series], "location": [s.location for s in series], "fit_key": keys}
    )
    cur = store.cursor()
    with registered(cur, "wanted_keys", frame):
        rows = cur.execute(
            "SELECT f.sku, f.location, max(f.run_id) FROM forecast_series f "
            "JOIN wanted_keys w USING (sku, location, fit_key) WHERE f.failure IS NULL "
            "GROUP BY ALL"
        ).fetchall()
    return {(r[0], r[1]): int(r[2]) for r in rows}


def _finite(x: float | None) -> float | None:
    return None if x is None or not np.isfinite(x) else float(x)


def _write_run(
    store: Store,
    *,
    as_of,
    horizon,
    settings,
    spec_hash,
    executor,
    workers,
    duration,
    series,
    keys,
    results: list[SeriesResult],
    reusable,
    scope,
    created_by: str | None = None,
    note: str | None = None,
) -> ForecastRun:
    key_of = {(s.sku, s.location): k for s, k in zip(series, keys, strict=True)}
    failures = sum(1 for r in results if r.failure)
    series_rows = pl.DataFrame(
        {
            "sku": [r.sku for r in results],
            "location": [r.location for r in results],
            "demand_class": [r.demand_class for r in results],
            "method": [r.method for r in results],
            "reason": [r.reason for r in results],
            "rmsse": [_finite(r.rmsse) for r in results],
            "wape": [_finite(r.wape) for r in results],
            "bias": [_finite(r.bias) for r in results],
            "adi": [_finite(r.adi) for r in results],
            "cv2": [_finite(r.cv2) for r in results],
            "history_days": [r.history_days for r in results],
            "weight": [r.weight for r in results],
            "sigma2": [r.errors.sigma2 for r in results],
            "level_var": [r.errors.level_var for r in results],
            "failure": [r.failure for r in results],
            "fit_key": [key_of[(r.sku, r.location)] for r in results],
        },
        schema_overrides={
            "rmsse": pl.Float64,
            "wape": pl.Float64,
            "bias": pl.Float64,
            "adi": pl.Float64,
            "cv2": pl.Float64,
            "failure": pl.String,
        },
    )
    candidate_rows = pl.DataFrame(
        [
            {
                "sku": r.sku,
                "location": r.location,
                "method": c.method,
                "rmsse": _finite(c.rmsse),
                "wape": _finite(c.wape),
                "bias": _finite(c.bias),
                "chosen": c.method == r.method,
            }
            for r in results
            for c in r.candidates
        ],
        schema={
            "sku": pl.String,
            "location": pl.String,
            "method": pl.String,
            "rmsse": pl.Float64,
            "wape": pl.Float64,
            "bias": pl.Float64,
            "chosen": pl.Boolean,
        },
    )
    forecast_rows = _forecast_frame(results, as_of, horizon)
    reuse_frame = pl.DataFrame(
        {
            "sku": [k[0] for k in reusable],
            "location": [k[1] for k in reusable],
            "from_run": list(reusable.values()),
        },
        schema={"sku": pl.String, "location": pl.String, "from_run": pl.Int64},
    )
    with store.transaction() as cur:
        run_id = int(
            cur.execute("SELECT coalesce(max(run_id), 0) + 1 FROM forecast_runs").fetchall()[0][0]
        )
        cur.execute(
            "INSERT INTO forecast_runs (run_id, as_of, horizon, settings, settings_hash, executor, "
            "workers, duration_s, series_count, failures, reused, scope, created_by, note) "
            "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            [
                run_id,
                as_of,
                horizon,
                json.dumps(settings, sort_keys=True),
                spec_hash,
                executor,
                workers,
                duration,
                len(series),
                failures,
                len(reusable),
                scope,
                created_by,
                note,
            ],
        )
        with registered(cur, "new_series", series_rows):
            cur.execute(
                "INSERT INTO forecast_series SELECT ?, sku, location, demand_class, method, reason, "
                "rmsse, wape, bias, adi, cv2, history_days, weight, sigma2, level_var, failure, FALSE, "
                "fit_key FROM new_series",
                [run_id],
            )
        with registered(cur, "new_candidates", candidate_rows):
            cur.execute(
                "INSERT INTO forecast_candidates SELECT ?, sku, location, method, rmsse, wape, bias, "
                "chosen FROM new_candidates",
                [run_id],
            )
        with registered(cur, "new_forecasts", forecast_rows):
            cur.execute("INSERT INTO forecasts SELECT ?, * FROM new_forecasts", [run_id])
        if reusable:
            with registered(cur, "reused", reuse_frame):
                for table, columns in (
                    ("forecast_candidates", CANDIDATE_COLUMNS),
                    ("forecasts", FORECAST_COLUMNS),
                ):
                    selected = ", ".join(f"t.{c}" for c in columns)
                    cur.execute(
                        f"INSERT INTO {table} SELECT ?, {selected} FROM {table} t "  # noqa: S608
                        "JOIN reused r ON t.run_id = r.from_run AND t.sku = r.sku "
                        "AND t.location = r.location",
                        [run_id],
                    )
                cur.execute(
                    "INSERT INTO forecast_series SELECT ?, s.sku, s.location, demand_class, method, "
                    "reason, rmsse, wape, bias, adi, cv2, history_days, weight, sigma2, level_var, "
                    "failure, TRUE, fit_key FROM forecast_series s JOIN reused r "
                    "ON s.run_id = r.from_run AND s.sku = r.sku AND s.location = r.location",
                    [run_id],
                )
    return get_run(store, run_id)


def _forecast_frame(results: list[SeriesResult], as_of: date, horizon: int) -> pl.DataFrame:
    dates = [as_of + timedelta(days=i + 1) for i in range(horizon)]
    columns: dict[str, list] = {"sku": [], "location": [], "date": []}
    arrays: dict[str, list[np.ndarray]] = {
        k: []
        for k in (
            "mean",
            "sd",
            *QUANTILE_COLUMNS,
            "cum_mean",
            "cum_sd",
            *(f"cum_{q}" for q in QUANTILE_COLUMNS),
        )
    }
    for r in results:
        columns["sku"].extend([r.sku] * horizon)
        columns["location"].extend([r.location] * horizon)
        columns["date"].extend(dates)
        b = r.bands
        arrays["mean"].append(r.mean)
        arrays["sd"].append(b.sd)
        arrays["cum_mean"].append(b.cum_mean)
        arrays["cum_sd"].append(b.cum_sd)
        for j, q in enumerate(QUANTILE_COLUMNS):
            arrays[q].append(b.quantiles[:, j])
            arrays[f"cum_{q}"].append(b.cum_quantiles[:, j])
    frame = {**columns}
    for k, parts in arrays.items():
        frame[k] = np.concatenate(parts) if parts else np.empty(0)
    return pl.DataFrame(
        frame, schema_overrides={"sku": pl.String, "location": pl.String, "date": pl.Date}
    )


# -- reading runs ---------------------------------------------------------------------------
def _run_from_row(row: tuple) -> ForecastRun:
    (
        run_id,
        created_at,
        as_of,
        horizon,
        settings,
        executor,
        workers,
        duration,
        count,
        failures,
        reused,
        scope,
        created_by,
        note,
    ) = row
    return ForecastRun(
        int(run_id),
        created_at,
        as_of,
        int(horizon),
        json.loads(settings),
        executor,
        int(workers),
        float(duration),
        int(count),
        int(failures),
        int(reused),
        scope,
        created_by,
        note,
    )


CANDIDATE_COLUMNS = ("sku", "location", "method", "rmsse", "wape", "bias", "chosen")
FORECAST_COLUMNS = (
    "sku",
    "location",
    "date",
    "mean",
    "sd",
    "p50",
    "p90",
    "p95",
    "p99",
    "cum_mean",
    "cum_sd",
    "cum_p50",
    "cum_p90",
    "cum_p95",
    "cum_p99",
)
RUN_COLUMNS = (
    "run_id, created_at, as_of, horizon, settings, executor, workers, duration_s, series_count, "
    "failures, reused, scope, created_by, note"
)


def get_run(store: Store, run_id: int) -> ForecastRun:
    rows = store.rows(f"SELECT {RUN_COLUMNS} FROM forecast_runs WHERE run_id = ?", [run_id])  # noqa: S608
    if not rows:
        raise NotFoundError(f"there is no forecast run {run_id}", title="Unknown forecast run")
    return _run_from_row(rows[0])


def latest_run(store: Store) -> ForecastRun | None:
    rows = store.rows(f"SELECT {RUN_COLUMNS} FROM forecast_runs ORDER BY run_id DESC LIMIT 1")  # noqa: S608
    return _run_from_row(rows[0]) if rows else None


def resolve_run(store: Store, run: int | str | None) -> ForecastRun:
    """A run by id, or the latest for None / 'latest'."""
    if run is None or str(run).lower() == "latest":
        found = latest_run(store)
        if found is None:
            raise NotFoundError(
                "no forecast has been run yet (control-tower forecast)", title="No forecast run"
            )
        return found
    try:
        return get_run(store, int(run))
    except ValueError as exc:
        raise NotFoundError(
            f"a run is a number or 'latest', not {run!r}", title="Unknown forecast run"
        ) from exc


def list_runs(store: Store, limit: int = 50) -> pl.DataFrame:
    return store.query(
        "SELECT run_id, created_at, as_of, horizon, executor, workers, "
        "round(duration_s, 1) AS duration_s, series_count, failures, reused, scope, "
        "json_extract_string(settings, '$.prophet.name') AS prophet_setting, created_by, note "
        "FROM forecast_runs ORDER BY run_id DESC LIMIT $limit",
        {"limit": limit},
    )
