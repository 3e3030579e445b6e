"""Network KPIs, ABC-XYZ, aging, dead stock, imbalances and the inventory health index.

Everything here is computed from :func:`control_tower.position.full_position` (one ledger
aggregation per as-of day, cached per store version), the demand served over the demand window
(:func:`scored_position`, also cached) and two period queries over the recent ledger and demand
history. SQL text lives in this module as constants and is parameterised;
the one dimension a caller may choose (:func:`stock_value_by`) is picked from an allow-list.

KPI definitions (period = the ``period_days`` days ending ``as_of``; ``previous`` = the same
figure for the ``period_days`` days before):

- inventory value = Σ owned on hand x unit cost at the end of the period;
- turnover = cost of goods sold over the period (sales x unit cost; issues such as write-offs
  are not sales) x 365 / period days, divided by the average daily owned inventory value over the period (exact daily
  average, from the ledger); days of inventory = 365 / turnover (DOMAIN.md, KPIs);
- fill rate = Σ min(sales, demand) / Σ demand over SKU x location x day (demand from
  ``demand_history``, sales = ledger movements of type ``sale``);
- stock-out days = number of SKU x location x days in the period with demand > sales;
- dead stock value = owned value of stock with no outbound movement for ``dead_stock_days``;
- health index: see :data:`HEALTH_INDEX_FORMULA`.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import polars as pl

from control_tower.config import PositionSettings
from control_tower.errors import ControlTowerError
from control_tower.position import (
    cached,
    full_position,
    midnight,
    resolve_as_of,
    resolve_settings,
    settings_key,
)
from control_tower.store import Store

log = logging.getLogger(__name__)

# -- the health index -----------------------------------------------------------------------
HEALTH_WEIGHTS: dict[str, float] = {
    "coverage_score": 0.25,
    "excess_score": 0.25,
    "aging_score": 0.25,
    "service_score": 0.25,
}

HEALTH_INDEX_FORMULA = """\
**Inventory health index (0-100)**: the value-weighted mean of one score per SKU x location.

For each SKU x location, with *a* = available units (floored at 0), *d* = average daily
demand over the demand window, *cover* = *a* / *d*, *T* = target cover days, *E* = excess
cover days, *D* = dead-stock days, *t* = days since the last outbound movement (since the
first movement if there never was one), *b* = the first aging bucket (0 if not below *D*):

| component (25 points each) | score in [0, 1] |
| --- | --- |
| **coverage** against target | min(1, *cover* / *T*); 1 when there is no demand |
| **excess** | 1 when *cover* <= *E*, else *E* / *cover*; with no demand: 1 if *a* = 0, else 0 |
| **aging / dead** | 1 when *a* = 0, else clamp((*D* - *t*) / (*D* - *b*), 0, 1): 1 up to *b* days, 0 when dead |
| **service** (fill rate) | Σ min(sales, demand) / Σ demand per day over the demand window; 1 when there is no demand |

**score** = 100 x (0.25 coverage + 0.25 excess + 0.25 aging + 0.25 service)

**weight** = unit cost x max(on hand, *d* x *T*): the value at stake, i.e. the larger of the
stock held and the stock the target says should be held, so a stocked-out SKU counts too.

**index** of a location or of the network = Σ weight x score / Σ weight over its SKU x
locations (rows with zero weight are left out). Every row's components, score and weight
are available for drill-down (`kpis.health_detail`).
"""

# -- SQL ------------------------------------------------------------------------------------
# Owned stock movements and cost of goods sold per SKU in the current and previous period.
# weighted_p* = Σ quantity x days from the movement to the end of its period (inclusive), so
# the average daily on hand over a period = on hand before it + weighted / period days.
PERIOD_MOVES_SQL = """
SELECT sku,
       sum(CASE WHEN ts >= $p1_start AND owner = 'company' THEN quantity END) AS qty_p1,
       sum(CASE WHEN ts >= $p1_start AND owner = 'company'
                THEN quantity * (date_diff('day', CAST(ts AS DATE), $as_of) + 1) END)
           AS weighted_p1,
       sum(CASE WHEN ts < $p1_start AND owner = 'company' THEN quantity END) AS qty_p0,
       sum(CASE WHEN ts < $p1_start AND owner = 'company'
                THEN quantity * (date_diff('day', CAST(ts AS DATE), $prev_as_of) + 1) END)
           AS weighted_p0,
       -sum(CASE WHEN ts >= $p1_start AND movement_type = 'sale' THEN quantity END) AS sold_p1,
       -sum(CASE WHEN ts < $p1_start AND movement_type = 'sale' THEN quantity END) AS sold_p0
FROM ledger
WHERE ts >= $p0_start AND ts < $cutoff
GROUP BY sku
"""

# Demand served per SKU x location x day, summed per period (current = TRUE).
PERIOD_SERVICE_SQL = """
WITH sales_daily AS (
    SELECT sku, location, CAST(ts AS DATE) AS day, -sum(quantity) AS sold
    FROM ledger
    WHERE movement_type = 'sale' AND ts >= $p0_start AND ts < $cutoff
    GROUP BY ALL
)
SELECT d.date >= CAST($p1_start AS DATE) AS current,
       CAST(sum(d.quantity) AS BIGINT) AS demand,
       CAST(sum(least(d.quantity, greatest(coalesce(s.sold, 0), 0))) AS BIGINT) AS served,
       count(*) FILTER (WHERE d.quantity > coalesce(s.sold, 0)) AS stockout_days
FROM demand_history d
LEFT JOIN sales_daily s ON s.sku = d.sku AND s.location = d.location AND s.day = d.date
WHERE d.date >= CAST($p0_start AS DATE) AND d.date <= $as_of
GROUP BY ALL
"""

# Demand served per SKU x location over the demand window (the service component of health).
SERVICE_WINDOW_SQL = """
WITH sales_daily AS (
    SELECT sku, location, CAST(ts AS DATE) AS day, -sum(quantity) AS sold
    FROM ledger
    WHERE movement_type = 'sale' AND ts >= $window_start AND ts < $cutoff
    GROUP BY ALL
)
SELECT d.sku, d.location,
       CAST(sum(least(d.quantity, greatest(coalesce(s.sold, 0), 0))) AS BIGINT)
           AS served_window_units,
       count(*) FILTER (WHERE d.quantity > coalesce(s.sold, 0)) AS stockout_days_window
FROM demand_history d
LEFT JOIN sales_daily s ON s.sku = d.sku AND s.location = d.location AND s.day = d.date
WHERE d.date >= CAST($window_start AS DATE) AND d.date <= $as_of
GROUP BY ALL
"""

LOCATIONS_SQL = """
SELECT code AS location, name AS location_name, kind, region, lat, lon
FROM locations ORDER BY code
"""

LANES_SQL = """
SELECT from_location, to_location, transit_days,
       CAST(cost_per_unit AS DOUBLE) AS cost_per_unit, CAST(fixed_cost AS DOUBLE) AS fixed_cost
FROM lanes ORDER BY from_location, to_location
"""

# stock_value_by: the only dimensions a caller may group by, and the columns each one shows.
VALUE_DIMENSIONS: dict[str, tuple[str, ...]] = {
    "location": ("location", "location_name", "location_kind", "region"),
    "category": ("category",),
    "region": ("region",),
    "abc": ("abc",),
}


# imbalances: the kinds of location between which the company can move its own stock (not a
# supplier's site, nor the VMI site that holds a supplier's consigned stock).
IMBALANCE_LOCATION_KINDS: tuple[str, ...] = ("central_dc", "regional_dc", "store")


class UnknownDimensionError(ControlTowerError, ValueError):
    title = "Unknown dimension"


@dataclass(frozen=True)
class Kpi:
    """One KPI tile: the value, the same figure over the previous period, and how it is made."""

    key: str
    label: str
    value: float | None
    previous: float | None
    unit: str
    formula: str
    better: str  # 'higher' | 'lower'


@dataclass(frozen=True)
class OverviewData:
    """Everything the Overview page shows, from one call."""

    as_of: date
    kpis: dict[str, Kpi]
    health_by_location: pl.DataFrame
    value_by_location: pl.DataFrame
    value_by_category: pl.DataFrame
    imbalances: pl.DataFrame
    aging: pl.DataFrame
    lanes: pl.DataFrame
    status_counts: pl.DataFrame
    health_formula: str = field(default=HEALTH_INDEX_FORMULA)


def _number(value: Any) -> float | None:
    if value is None:
        return None
    value = float(value)
    return None if math.isnan(value) or math.isinf(value) else value


# -- health ---------------------------------------------------------------------------------
def health_scores(frame: pl.DataFrame, settings: PositionSettings | None = None) -> pl.DataFrame:
    """``frame`` (a stock position) with the health components, ``health_score`` (0-100) and
    ``health_weight`` of every row, as published in :data:`HEALTH_INDEX_FORMULA`."""
    settings = resolve_settings(settings)
    target = settings.target_cover_days
    excess = settings.excess_cover_days
    dead = settings.dead_stock_days
    first_bucket = min(settings.aging_buckets_days, default=0)
    ramp_start = first_bucket if first_bucket < dead else 0
    stock = pl.col("available").clip(lower_bound=0).cast(pl.Float64)
    demand = pl.col("avg_daily_demand").fill_null(0.0)
    cover = stock / demand
    scored = frame.with_columns(
        pl.when(demand <= 0)
        .then(1.0)
        .otherwise((cover / target).clip(upper_bound=1.0))
        .alias("coverage_score"),
        pl.when(demand <= 0)
        .then(pl.when(stock <= 0).then(1.0).otherwise(0.0))
        .when(cover <= excess)
        .then(1.0)
        .otherwise(excess / cover)
        .alias("excess_score"),
        pl.when(stock <= 0)
        .then(1.0)
        .otherwise(
            ((dead - pl.col("days_without_outbound").fill_null(0)) / (dead - ramp_start)).clip(
                0.0, 1.0
            )
        )
        .cast(pl.Float64)
        .alias("aging_score"),
        pl.when(pl.col("demand_window_units") > 0)
        .then(pl.col("served_window_units") / pl.col("demand_window_units"))
        .otherwise(1.0)
        .cast(pl.Float64)
        .alias("service_score"),
        (
            pl.col("unit_cost").fill_null(0.0)
            * pl.max_horizontal(
                pl.col("on_hand").clip(lower_bound=0).cast(pl.Float64), demand * target
            )
        ).alias("health_weight"),
    )
    return scored.with_columns(
        (100.0 * pl.sum_horizontal([pl.col(c) * w for c, w in HEALTH_WEIGHTS.items()])).alias(
            "health_score"
        )
    )


def scored_position(
    store: Store, *, as_of: date | None = None, settings: PositionSettings | None = None
) -> pl.DataFrame:
    """The full stock position plus the demand served in the demand window
    (served_window_units, stockout_days_window, fill_rate_window) and the health columns of
    :func:`health_scores`; cached like the position."""
    settings = resolve_settings(settings)
    day = resolve_as_of(store, as_of)

    def compute() -> pl.DataFrame:
        frame = full_position(store, as_of=day, settings=settings)
        window_start = day - timedelta(days=settings.demand_window_days - 1)
        service = store.query(
            SERVICE_WINDOW_SQL,
            {
                "as_of": day,
                "window_start": midnight(window_start),
                "cutoff": midnight(day + timedelta(days=1)),
            },
        )
        served = frame.join(service, on=["sku", "location"], how="left").with_columns(
            pl.col("served_window_units").fill_null(0).cast(pl.Int64),
            pl.col("stockout_days_window").fill_null(0).cast(pl.Int64),
        )
        served = served.with_columns(
            pl.when(pl.col("demand_window_units") > 0)
            .then(pl.col("served_window_units") / pl.col("demand_window_units"))
            .alias("fill_rate_window")
        )
        return health_scores(served, settings)

    return cached(store, ("scored", day, settings_key(settings)), compute)


def _weighted(column: str) -> pl.Expr:
    weight = pl.col("health_weight")
    return ((pl.col(column) * weight).sum() / weight.sum()).alias(column)


def health_by_key(keyed: pl.DataFrame) -> pl.DataFrame:
    """key, health_index (0-100, null without weight), stock_value and the weighted component
    scores of scored position rows grouped by their ``key`` column (a region, a category...)."""
    weighted = keyed.filter(pl.col("health_weight") > 0)
    indices = weighted.group_by("key").agg(
        _weighted("health_score").alias("value"), *[_weighted(c) for c in HEALTH_WEIGHTS]
    )
    totals = keyed.group_by("key").agg(pl.col("stock_value").sum())
    return totals.join(indices, on="key", how="left").sort("key")


def health_index_of(scored: pl.DataFrame) -> float | None:
    """The health index (0-100) of some scored position rows, None without weight."""
    weighted = scored.filter(pl.col("health_weight") > 0)
    if weighted.height == 0:
        return None
    return _number(weighted.select(_weighted("health_score")).item())


def health_detail(
    store: Store,
    *,
    as_of: date | None = None,
    location: str | None = None,
    settings: PositionSettings | None = None,
) -> pl.DataFrame:
    """The health index drilled down to SKU x location: the inputs, the four component scores,
    ``health_score`` and ``health_weight`` per row (lowest score first)."""
    scored = scored_position(store, as_of=as_of, settings=settings)
    if location is not None:
        scored = scored.filter(pl.col("location") == location)
    return scored.select(
        "sku",
        "name",
        "location",
        "location_name",
        "status",
        "on_hand",
        "available",
        "avg_daily_demand",
        "days_of_cover",
        "days_without_outbound",
        "fill_rate_window",
        "unit_cost",
        "stock_value",
        *HEALTH_WEIGHTS,
        "health_score",
        "health_weight",
    ).sort("health_score", "health_weight", descending=[False, True])


def health_by_location(
    store: Store, *, as_of: date | None = None, settings: PositionSettings | None = None
) -> pl.DataFrame:
    """Per location: location, location_name, kind, region, lat, lon, stock_value,
    health_index (0-100, null without weight), the value-weighted component scores (0-1),
    health_weight, sku_locations (rows with stock), and counts of short / no_stock / excess /
    dead rows. Every location is listed except suppliers' sites without a position."""
    scored = scored_position(store, as_of=as_of, settings=settings)
    weighted = scored.filter(pl.col("health_weight") > 0)
    indices = weighted.group_by("location").agg(
        _weighted("health_score").alias("health_index"),
        *[_weighted(c) for c in HEALTH_WEIGHTS],
        pl.col("health_weight").sum(),
    )
    totals = scored.group_by("location").agg(
        pl.col("stock_value").sum(),
        (pl.col("on_hand") > 0).sum().cast(pl.Int64).alias("sku_locations"),
        *[
            (pl.col("status") == status).sum().cast(pl.Int64).alias(f"{status}_count")
            for status in ("short", "no_stock", "excess", "dead")
        ],
    )
    locations = store.query(LOCATIONS_SQL)
    out = (
        locations.join(totals, on="location", how="left")
        .join(indices, on="location", how="left")
        .filter((pl.col("kind") != "supplier") | pl.col("sku_locations").is_not_null())
        .with_columns(
            pl.col("stock_value").fill_null(0.0),
            pl.col("health_weight").fill_null(0.0),
            *[
                pl.col(c).fill_null(0)
                for c in (
                    "sku_locations",
                    "short_count",
                    "no_stock_count",
                    "excess_count",
                    "dead_count",
                )
            ],
        )
    )
    return out.select(
        "location",
        "location_name",
        "kind",
        "region",
        "lat",
        "lon",
        "stock_value",
        "health_index",
        *HEALTH_WEIGHTS,
        "health_weight",
        "sku_locations",
        "short_count",
        "no_stock_count",
        "excess_count",
        "dead_count",
    ).sort("location")


# -- KPIs -----------------------------------------------------------------------------------
def _period_figures(
    store: Store, as_of: date, period_days: int, position: pl.DataFrame
) -> dict[str, float | None]:
    p1_start = as_of - timedelta(days=period_days - 1)
    p0_start = p1_start - timedelta(days=period_days)
    params = {
        "as_of": as_of,
        "prev_as_of": p1_start - timedelta(days=1),
        "p1_start": midnight(p1_start),
        "p0_start": midnight(p0_start),
        "cutoff": midnight(as_of + timedelta(days=1)),
    }
    moves = store.query(PERIOD_MOVES_SQL, params)
    service = store.query(
        PERIOD_SERVICE_SQL, {k: params[k] for k in ("p0_start", "p1_start", "cutoff", "as_of")}
    )
    owned = position.group_by("sku").agg(
        pl.col("owned_on_hand").sum().cast(pl.Float64).alias("qty_end"),
        pl.col("unit_cost").first().fill_null(0.0),
    )
    per_sku = owned.join(moves, on="sku", how="full", coalesce=True).with_columns(
        pl.exclude("sku").cast(pl.Float64).fill_null(0.0)
    )
    cost = pl.col("unit_cost")
    end_p1 = pl.col("qty_end")
    end_p0 = end_p1 - pl.col("qty_p1")
    start_p0 = end_p0 - pl.col("qty_p0")
    sums = per_sku.select(
        (end_p1 * cost).sum().alias("value_p1"),
        (end_p0 * cost).sum().alias("value_p0"),
        ((end_p0 + pl.col("weighted_p1") / period_days) * cost).sum().alias("avg_value_p1"),
        ((start_p0 + pl.col("weighted_p0") / period_days) * cost).sum().alias("avg_value_p0"),
        (pl.col("sold_p1") * cost).sum().alias("cogs_p1"),
        (pl.col("sold_p0") * cost).sum().alias("cogs_p0"),
    ).row(0, named=True)
    out: dict[str, float | None] = {k: _number(v) for k, v in sums.items()}
    for label, current in (("p1", True), ("p0", False)):
        row = service.filter(pl.col("current") == current)
        demand = int(row["demand"][0]) if row.height else 0
        served = int(row["served"][0]) if row.height else 0
        out[f"demand_{label}"] = float(demand)
        out[f"fill_{label}"] = served / demand if demand else None
        out[f"stockout_days_{label}"] = float(row["stockout_days"][0]) if row.height else 0.0
        cogs, average = out[f"cogs_{label}"], out[f"avg_value_{label}"]
        turnover = (cogs * 365.0 / period_days) / average if cogs is not None and average else None
        out[f"turnover_{label}"] = turnover
        out[f"doi_{label}"] = 365.0 / turnover if turnover else None
    return out


def _dead_value(position: pl.DataFrame) -> float:
    return float(
        position.filter(pl.col("status") == "dead").select(pl.col("stock_value").sum()).item()
        or 0.0
    )


def network_kpis(
    store: Store,
    *,
    as_of: date | None = None,
    period_days: int = 30,
    settings: PositionSettings | None = None,
) -> dict[str, Kpi]:
    """The network KPI tiles, keyed inventory_value, turnover, days_of_inventory, fill_rate,
    stockout_days, dead_stock_value, health_index (definitions in the module docstring and in
    each tile's ``formula``); ``previous`` is the same figure for the period before."""
    if period_days < 1:
        raise ValueError("period_days must be at least 1")
    settings = resolve_settings(settings)
    day = resolve_as_of(store, as_of)

    def compute() -> dict[str, Kpi]:
        now = scored_position(store, as_of=day, settings=settings)
        before = scored_position(store, as_of=day - timedelta(days=period_days), settings=settings)
        f = _period_figures(store, day, period_days, now)
        dead = settings.dead_stock_days
        kpis = [
            Kpi(
                "inventory_value",
                "Inventory value",
                f["value_p1"],
                f["value_p0"],
                "",
                "Σ owned on hand x unit cost at the end of the day",
                "lower",
            ),
            Kpi(
                "turnover",
                "Inventory turnover",
                f["turnover_p1"],
                f["turnover_p0"],
                "x/yr",
                f"cost of goods sold over {period_days} days x 365/{period_days} ÷ average "
                "daily owned inventory value over the same days",
                "higher",
            ),
            Kpi(
                "days_of_inventory",
                "Days of inventory",
                f["doi_p1"],
                f["doi_p0"],
                "days",
                "365 ÷ inventory turnover",
                "lower",
            ),
            Kpi(
                "fill_rate",
                "Fill rate",
                f["fill_p1"],
                f["fill_p0"],
                "%",
                f"Σ min(sales, demand) ÷ Σ demand per SKU x location x day, last {period_days} "
                "days",
                "higher",
            ),
            Kpi(
                "stockout_days",
                "Stock-out days",
                f["stockout_days_p1"],
                f["stockout_days_p0"],
                "days",
                f"SKU x location x days in the last {period_days} days with demand above sales",
                "lower",
            ),
            Kpi(
                "dead_stock_value",
                "Dead stock value",
                _dead_value(now),
                _dead_value(before),
                "",
                f"owned value of stock with no outbound movement for {dead}+ days",
                "lower",
            ),
            Kpi(
                "health_index",
                "Health index",
                health_index_of(now),
                health_index_of(before),
                "",
                "value-weighted mean of SKU x location scores: coverage, excess, aging, "
                "service (25 points each); see the published formula",
                "higher",
            ),
        ]
        return {k.key: k for k in kpis}

    result = cached(store, ("kpis", day, period_days, settings_key(settings)), compute)
    return dict(result)


# -- classifications and views --------------------------------------------------------------
def abc_xyz(
    store: Store, *, as_of: date | None = None, settings: PositionSettings | None = None
) -> pl.DataFrame:
    """ABC-XYZ class per SKU x location: sku, name, location, abc, xyz, abc_xyz,
    annual_quantity (the location's demand signal over the last 52 weeks), annual_value
    (x unit cost), value_share (of the location's annual value), cv (of weekly demand).
    Rules in :mod:`control_tower.position`."""
    frame = full_position(store, as_of=as_of, settings=settings)
    return frame.select(
        "sku",
        "name",
        "location",
        "abc",
        "xyz",
        pl.concat_str("abc", "xyz").alias("abc_xyz"),
        "annual_quantity",
        "annual_value",
        pl.when(pl.col("annual_value").sum().over("location") > 0)
        .then(pl.col("annual_value") / pl.col("annual_value").sum().over("location"))
        .alias("value_share"),
        "cv",
    ).sort("location", "annual_value", "sku", descending=[False, True, False])


def aging_bucket_labels(buckets: list[int]) -> list[tuple[str, int, int | None]]:
    """(label, first day, last day or None) per bucket: [30, 60] gives 0-30, 31-60, > 60."""
    edges = sorted(set(buckets))
    out: list[tuple[str, int, int | None]] = []
    low = 0
    for edge in edges:
        out.append((f"{low}-{edge} days", low, edge))
        low = edge + 1
    out.append((f"> {edges[-1]} days" if edges else "all", low, None))
    return out


def aging(
    store: Store, *, as_of: date | None = None, settings: PositionSettings | None = None
) -> pl.DataFrame:
    """Stock by age (库龄): age = days since the last inbound or outbound movement of the SKU x
    location (since its first movement if neither). One row per bucket of
    ``settings.aging_buckets_days``, in order, empty buckets included: bucket, min_days,
    max_days, units (on hand, all owners), value (owned, at unit cost; also as stock_value),
    sku_locations."""
    settings = resolve_settings(settings)
    frame = full_position(store, as_of=as_of, settings=settings).filter(pl.col("on_hand") > 0)
    buckets = aging_bucket_labels(settings.aging_buckets_days)
    rows = []
    for label, low, high in buckets:
        in_bucket = pl.col("age_days").fill_null(0) >= low
        if high is not None:
            in_bucket &= pl.col("age_days").fill_null(0) <= high
        part = frame.filter(in_bucket)
        rows.append(
            {
                "bucket": label,
                "min_days": low,
                "max_days": high,
                "units": int(part["on_hand"].sum()),
                "value": float(part["stock_value"].sum()),
                "sku_locations": part.height,
            }
        )
    schema = {
        "bucket": pl.String,
        "min_days": pl.Int64,
        "max_days": pl.Int64,
        "units": pl.Int64,
        "value": pl.Float64,
        "sku_locations": pl.Int64,
    }
    return pl.DataFrame(rows, schema=schema).with_columns(pl.col("value").alias("stock_value"))


def dead_stock(
    store: Store, *, as_of: date | None = None, settings: PositionSettings | None = None
) -> pl.DataFrame:
    """Stock (呆滞) with no outbound movement for ``dead_stock_days`` or more, most valuable
    first: sku, name, category, location, location_name, on_hand, consigned, stock_value,
    last_outbound_date, days_since_outbound, days_without_outbound, last_inbound_date, abc."""
    frame = full_position(store, as_of=as_of, settings=settings)
    return (
        frame.filter(pl.col("status") == "dead")
        .select(
            "sku",
            "name",
            "category",
            "location",
            "location_name",
            "on_hand",
            "consigned",
            "stock_value",
            "last_outbound_date",
            "days_since_outbound",
            "days_without_outbound",
            "last_inbound_date",
            "abc",
        )
        .sort("stock_value", "sku", "location", descending=[True, False, False])
    )


def stock_value_by(
    store: Store,
    by: str,
    *,
    as_of: date | None = None,
    settings: PositionSettings | None = None,
) -> pl.DataFrame:
    """Owned stock value grouped by one of ``location``, ``category``, ``region``, ``abc``:
    the dimension's columns, stock_value, units (on hand), sku_locations (with stock), share
    (of the total value); largest first. Any other ``by`` raises
    :class:`UnknownDimensionError`."""
    columns = VALUE_DIMENSIONS.get(by)
    if columns is None:
        raise UnknownDimensionError(
            f"cannot group stock value by {by!r}; choose one of {', '.join(VALUE_DIMENSIONS)}"
        )
    frame = full_position(store, as_of=as_of, settings=settings)
    grouped = frame.group_by(list(columns)).agg(
        pl.col("stock_value").sum(),
        pl.col("on_hand").sum().alias("units"),
        (pl.col("on_hand") > 0).sum().cast(pl.Int64).alias("sku_locations"),
    )
    total = grouped["stock_value"].sum()
    return grouped.with_columns(
        (pl.col("stock_value") / total if total else pl.lit(None, dtype=pl.Float64)).alias("share")
    ).sort("stock_value", *columns, descending=[True] + [False] * len(columns), nulls_last=True)


def imbalances(
    store: Store,
    *,
    as_of: date | None = None,
    top: int = 20,
    settings: PositionSettings | None = None,
) -> pl.DataFrame:
    """The same SKU short at one location while another holds excess, largest value first.

    Only locations of a kind in :data:`IMBALANCE_LOCATION_KINDS` (central DC, regional DC,
    store) take part, and only company-owned stock counts: *owned* = available - consigned
    (a supplier's consigned stock is neither moved nor counted), *owned cover* = max(owned, 0)
    / average daily demand. Short: demand and owned cover below ``short_cover_days``; it needs
    ceil(target cover x demand) - owned - in transit in. Excess: owned stock that is dead (no
    outbound for ``dead_stock_days``), has no demand, or covers more than
    ``excess_cover_days``; it can spare owned - ceil(target cover x demand). Per SKU the pairs
    are filled greedily, preferring a source with a lane to the short location (a neighbour),
    then the shortest transit, then the cheapest lane; ``movable_units`` never exceeds what
    the source can spare or the destination needs. Columns: sku, name, short_location,
    short_location_name, short_cover_days, excess_location, excess_location_name,
    excess_cover_days (both owned cover), movable_units, value (x unit cost), has_lane,
    transit_days, lane_cost (units x cost per unit + fixed cost; null without a lane)."""
    settings = resolve_settings(settings)
    frame = full_position(store, as_of=as_of, settings=settings).filter(
        pl.col("location_kind").is_in(list(IMBALANCE_LOCATION_KINDS))
    )
    target = settings.target_cover_days
    schema = {
        "sku": pl.String,
        "name": pl.String,
        "short_location": pl.String,
        "short_location_name": pl.String,
        "short_cover_days": pl.Float64,
        "excess_location": pl.String,
        "excess_location_name": pl.String,
        "excess_cover_days": pl.Float64,
        "movable_units": pl.Int64,
        "value": pl.Float64,
        "has_lane": pl.Boolean,
        "transit_days": pl.Int64,
        "lane_cost": pl.Float64,
    }
    demand = pl.col("avg_daily_demand").fill_null(0.0)
    target_units = (demand * target).ceil().cast(pl.Int64)
    frame = frame.with_columns(
        (pl.col("available") - pl.col("consigned")).alias("owned"),
    ).with_columns(
        pl.when(demand > 0).then(pl.col("owned").clip(lower_bound=0) / demand).alias("owned_cover"),
    )
    short = (
        frame.filter(
            (demand > 0) & (pl.col("owned_cover").fill_null(0.0) < settings.short_cover_days)
        )
        .select(
            "sku",
            "name",
            "unit_cost",
            pl.col("location").alias("short_location"),
            pl.col("location_name").alias("short_location_name"),
            pl.col("owned_cover").fill_null(0.0).alias("short_cover_days"),
            (target_units - pl.col("owned").clip(lower_bound=0) - pl.col("in_transit_in")).alias(
                "need"
            ),
        )
        .filter(pl.col("need") > 0)
    )
    excess = (
        frame.filter(
            (pl.col("owned") > 0)
            & (
                (pl.col("days_without_outbound").fill_null(0) >= settings.dead_stock_days)
                | pl.col("owned_cover").is_null()
                | (pl.col("owned_cover") > settings.excess_cover_days)
            )
        )
        .select(
            "sku",
            pl.col("location").alias("excess_location"),
            pl.col("location_name").alias("excess_location_name"),
            pl.col("owned_cover").alias("excess_cover_days"),
            (pl.col("owned") - target_units).alias("spare"),
        )
        .filter(pl.col("spare") > 0)
    )
    if short.height == 0 or excess.height == 0:
        return pl.DataFrame(schema=schema)
    lanes = store.query(LANES_SQL).select(
        pl.col("from_location").alias("excess_location"),
        pl.col("to_location").alias("short_location"),
        pl.col("transit_days").cast(pl.Int64),
        pl.col("cost_per_unit").fill_null(0.0),
        pl.col("fixed_cost").fill_null(0.0),
    )
    pairs = (
        short.join(excess, on="sku")
        .filter(pl.col("short_location") != pl.col("excess_location"))
        .join(lanes, on=["excess_location", "short_location"], how="left")
        .with_columns(pl.col("transit_days").is_not_null().alias("has_lane"))
        .sort(
            [
                "sku",
                "has_lane",
                "transit_days",
                "cost_per_unit",
                "spare",
                "excess_location",
                "short_cover_days",
                "short_location",
            ],
            descending=[False, True, False, False, True, False, False, False],
            nulls_last=True,
        )
    )
    need_left: dict[tuple[str, str], int] = {}
    spare_left: dict[tuple[str, str], int] = {}
    moved: list[int] = []
    for sku, short_loc, need, excess_loc, spare in pairs.select(
        "sku", "short_location", "need", "excess_location", "spare"
    ).iter_rows():
        n = need_left.setdefault((sku, short_loc), need)
        s = spare_left.setdefault((sku, excess_loc), spare)
        units = min(n, s)
        moved.append(units)
        if units:
            need_left[(sku, short_loc)] = n - units
            spare_left[(sku, excess_loc)] = s - units
    result = (
        pairs.with_columns(pl.Series("movable_units", moved, dtype=pl.Int64))
        .filter(pl.col("movable_units") > 0)
        .with_columns(
            (pl.col("movable_units") * pl.col("unit_cost").fill_null(0.0)).alias("value"),
            pl.when(pl.col("has_lane"))
            .then(pl.col("movable_units") * pl.col("cost_per_unit") + pl.col("fixed_cost"))
            .alias("lane_cost"),
        )
        .sort(["value", "sku", "short_location"], descending=[True, False, False])
        .head(top)
    )
    return result.select([pl.col(c).cast(t) for c, t in schema.items()])


def status_counts(
    store: Store, *, as_of: date | None = None, settings: PositionSettings | None = None
) -> pl.DataFrame:
    """SKU x locations and owned value per position status."""
    frame = full_position(store, as_of=as_of, settings=settings)
    return (
        frame.group_by("status")
        .agg(pl.len().cast(pl.Int64).alias("sku_locations"), pl.col("stock_value").sum())
        .sort("status")
    )


def overview_data(
    store: Store,
    *,
    as_of: date | None = None,
    settings: PositionSettings | None = None,
    period_days: int = 30,
) -> OverviewData:
    """Everything the Overview page needs in one call (cached per store version, as_of and
    settings): KPI tiles, health by location, value by location and by category, the largest
    imbalances, aging buckets, lanes and status counts."""
    settings = resolve_settings(settings)
    day = resolve_as_of(store, as_of)

    def compute() -> OverviewData:
        kw: dict[str, Any] = {"as_of": day, "settings": settings}
        return OverviewData(
            as_of=day,
            kpis=network_kpis(store, period_days=period_days, **kw),
            health_by_location=health_by_location(store, **kw),
            value_by_location=stock_value_by(store, "location", **kw),
            value_by_category=stock_value_by(store, "category", **kw),
            imbalances=imbalances(store, **kw),
            aging=aging(store, **kw),
            lanes=store.query(LANES_SQL),
            status_counts=status_counts(store, **kw),
        )

    return cached(store, ("overview", day, period_days, settings_key(settings)), compute)
