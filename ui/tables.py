"""Pure table helpers for the pages: filters, option lists and the columns shown.

They reshape frames a service returned; they never compute a stock figure themselves.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

import polars as pl

NO_CLASS = "—"

STATUS_LABELS = {
    "short": "short",
    "no_stock": "no stock",
    "excess": "excess",
    "dead": "dead",
    "ok": "ok",
}

POSITION_COLUMNS = (
    "sku",
    "name",
    "location_name",
    "status",
    "abc_xyz",
    "on_hand",
    "consigned",
    "available",
    "in_transit_in",
    "on_order",
    "days_of_cover",
    "avg_daily_demand",
    "stock_value",
    "days_since_outbound",
    "category",
    "location",
)

INBOUND_COLUMNS = (
    "kind",
    "reference",
    "from_location",
    "location_name",
    "quantity",
    "remaining",
    "value",
    "dispatched_date",
    "expected_date",
    "days_late",
)

NETWORK_COLUMNS = (
    "location_name",
    "status",
    "on_hand",
    "owned_on_hand",
    "consigned",
    "reserved",
    "available",
    "in_transit_in",
    "in_transit_out",
    "on_order",
    "avg_daily_demand",
    "days_of_cover",
    "stock_value",
    "location_kind",
    "location",
)


def with_class(frame: pl.DataFrame) -> pl.DataFrame:
    """Add ``abc_xyz`` (e.g. "AX"); a position without a class gets "—"."""
    if "abc" not in frame.columns or "xyz" not in frame.columns:
        return frame.with_columns(pl.lit(NO_CLASS).alias("abc_xyz"))
    return frame.with_columns(
        pl.concat_str([pl.col("abc"), pl.col("xyz")]).fill_null(NO_CLASS).alias("abc_xyz")
    )


def options(frame: pl.DataFrame, column: str) -> list:
    """Sorted distinct non-null values of a column (for a multiselect)."""
    if column not in frame.columns:
        return []
    return sorted(frame.get_column(column).drop_nulls().unique().to_list())


def location_labels(frame: pl.DataFrame) -> dict[str, str]:
    """location code -> "name (code)", for showing codes by name."""
    pairs = frame.select("location", "location_name").unique().sort("location").iter_rows()
    return {code: f"{name} ({code})" if name and name != code else code for code, name in pairs}


def filter_positions(
    frame: pl.DataFrame,
    *,
    locations: Iterable[str] = (),
    categories: Iterable[str] = (),
    classes: Iterable[str] = (),
    search: str = "",
) -> pl.DataFrame:
    """Rows matching every non-empty filter. ``search`` matches SKU or name, ignoring case,
    as a plain substring (so "水" finds "矿泉水 500ml" and "sku-00" finds "SKU-0012")."""
    locations, categories, classes = list(locations), list(categories), list(classes)
    if locations:
        frame = frame.filter(pl.col("location").is_in(locations))
    if categories:
        frame = frame.filter(pl.col("category").is_in(categories))
    if classes:
        frame = frame.filter(pl.col("abc_xyz").is_in(classes))
    needle = search.strip().lower()
    if needle:
        frame = frame.filter(
            pl.col("sku").str.to_lowercase().str.contains(needle, literal=True)
            | pl.col("name").fill_null("").str.to_lowercase().str.contains(needle, literal=True)
        )
    return frame


def pick_columns(frame: pl.DataFrame, columns: Iterable[str]) -> pl.DataFrame:
    """The listed columns that exist, in that order, with status shown as words."""
    present = [c for c in columns if c in frame.columns]
    out = frame.select(present)
    if "status" in out.columns:
        out = out.with_columns(pl.col("status").replace(STATUS_LABELS))
    return out


def describe_column(spec: Any) -> str:
    """An import column's description, with its allowed values when it has a fixed set."""
    text = getattr(spec, "description", "") or ""
    choices = getattr(spec, "choices", None)
    if choices:
        text = f"{text} (one of: {', '.join(choices)})" if text else f"one of: {', '.join(choices)}"
    return text


def preview_rows(frame: pl.DataFrame, first_row: int = 2) -> pl.DataFrame:
    """Upload rows for display, the file's row number first as "row" (the validator's
    ``_row`` when it typed the rows, else counted from ``first_row``, as the problems are);
    other internal columns (leading underscore) hidden. A file's own "row" column is kept;
    the number is then called "file row"."""
    shown = [c for c in frame.columns if not c.startswith("_")]
    if "_row" in frame.columns:
        number = pl.col("_row").cast(pl.Int64)
    else:
        number = pl.int_range(first_row, first_row + frame.height, dtype=pl.Int64)
    name = "file row" if "row" in shown else "row"
    return frame.select(number.alias(name), *shown)


# -- forecasts ------------------------------------------------------------------------------
METHOD_LABELS = {
    "prophet": "Prophet",
    "prophet_ma": "Prophet + moving average",
    "new_item": "new-item average",
    "seasonal_naive": "seasonal naive",
    "weekday_average": "weekday average",
    "moving_average": "moving average",
    "moving_average_weekday": "weekday-shaped moving average",
    "baseline_blend": "blend: moving average, TSB, weekday average",
    "croston": "Croston",
    "sba": "SBA (Syntetos-Boylan)",
    "tsb": "TSB (Teunter-Syntetos-Babai)",
}
DEMAND_CLASS_LABELS = {
    "smooth": "smooth",
    "erratic": "erratic",
    "intermittent": "intermittent",
    "lumpy": "lumpy",
    "too_short": "too short to backtest",
    "new": "new item",
}
LEAD_TIME_DAYS = (7, 14, 28, 56)
# Seconds one worker spends per series (backtest + final fit) when no earlier run says better.
DEFAULT_SECONDS_PER_SERIES = 0.6


def method_label(method: str | None) -> str:
    """'weekday_average' -> 'weekday average'; an unknown method keeps its code."""
    if not method:
        return "—"
    return METHOD_LABELS.get(method, method.replace("_", " "))


def demand_class_label(demand_class: str | None) -> str:
    if not demand_class:
        return "—"
    return DEMAND_CLASS_LABELS.get(demand_class, demand_class.replace("_", " "))


def scope_text(scope: str | None, limit: int = 3) -> str:
    """A run's scope (the JSON the service stores, or None) as words: 'all series',
    'SKUs BEV-0001, BEV-0002', 'SKUs A, B, C +4 more · locations RDC-BJ'."""
    if not scope:
        return "all series"
    try:
        parsed = json.loads(scope)
    except (TypeError, ValueError):
        return str(scope)
    parts = []
    for field, word in (("skus", "SKUs"), ("locations", "locations")):
        values = list(parsed.get(field) or [])
        if values:
            shown = ", ".join(values[:limit])
            more = f" +{len(values) - limit} more" if len(values) > limit else ""
            parts.append(f"{word} {shown}{more}")
    return " · ".join(parts) or "all series"


def runs_table(runs: pl.DataFrame) -> pl.DataFrame:
    """The runs list with its scope in words."""
    return runs.with_columns(
        pl.col("scope").map_elements(scope_text, return_dtype=pl.String).fill_null("all series")
    )


def run_label(run: dict[str, Any], *, latest: bool = False) -> str:
    """One line for the run picker: 'Run 8 · as of 2026-10-21 · 3 series · SKUs BBY-0001'."""
    text = (
        f"Run {run['run_id']} · as of {run['as_of']} · {run['series_count']:,} series · "
        f"{scope_text(run.get('scope'))}"
    )
    return text + " (latest)" if latest else text


def lead_time_table(
    forecast: pl.DataFrame, windows: Iterable[int] = LEAD_TIME_DAYS
) -> pl.DataFrame:
    """Cumulative demand from the day after the as-of date through each lead time (days): the
    forecast's ``cum_*`` columns read at that day. Windows beyond the horizon are dropped and
    the horizon itself is added as the last row."""
    horizon = forecast.height
    days = sorted({w for w in windows if 0 < w <= horizon} | ({horizon} if horizon else set()))
    picked = forecast.sort("date").with_row_index("day", offset=1).filter(pl.col("day").is_in(days))
    return picked.select(
        pl.col("day").cast(pl.Int64).alias("lead_time_days"),
        pl.col("date").alias("through"),
        "cum_mean",
        "cum_p50",
        "cum_p90",
        "cum_p95",
        "cum_p99",
    )


def series_locations(summary: pl.DataFrame, sku: str) -> list[str]:
    """The locations a run forecast ``sku`` at, in code order."""
    return sorted(summary.filter(pl.col("sku") == sku).get_column("location").unique().to_list())


def series_groups(summary: pl.DataFrame, positions: pl.DataFrame) -> pl.DataFrame:
    """A run's series (sku, location) with the region of the location and the category of the
    SKU, read from the positions frame (which joins the master data)."""
    regions = positions.select("location", "region").unique(subset="location")
    categories = positions.select("sku", "category").unique(subset="sku")
    return (
        summary.select("sku", "location")
        .join(regions, on="location", how="left")
        .join(categories, on="sku", how="left")
    )


def group_series(groups: pl.DataFrame, level: str, key: str | None) -> tuple[tuple[str, str], ...]:
    """The (sku, location) series of a region or category (every series for the network)."""
    chosen = groups if level == "network" else groups.filter(pl.col(level) == key)
    return tuple(sorted(chosen.select("sku", "location").iter_rows()))


def estimated_series(positions: pl.DataFrame, skus: Iterable[str] = ()) -> int:
    """About how many series a run would forecast: the SKU x locations that record demand
    (of the chosen SKUs, or all)."""
    skus = list(skus)
    frame = positions.filter(pl.col("demand_source") == "demand")
    if skus:
        frame = frame.filter(pl.col("sku").is_in(skus))
    return frame.select("sku", "location").unique().height


def seconds_per_series(runs: pl.DataFrame) -> float:
    """Worker-seconds per computed series, the median over earlier runs that computed at least
    ten series; :data:`DEFAULT_SECONDS_PER_SERIES` without such a run."""
    computed = runs.filter(
        (pl.col("series_count") - pl.col("reused") >= 10) & (pl.col("workers") > 0)
    ).select(
        (pl.col("duration_s") * pl.col("workers") / (pl.col("series_count") - pl.col("reused")))
        .median()
        .alias("rate")
    )
    rate = computed.item() if computed.height else None
    return float(rate) if rate else DEFAULT_SECONDS_PER_SERIES


def duration_text(seconds: float) -> str:
    """'under a minute', 'about 4 min', 'about 1.5 h'."""
    if seconds < 60:
        return "under a minute"
    if seconds < 90 * 60:
        return f"about {max(round(seconds / 60), 1)} min"
    return f"about {seconds / 3600:.1f} h"


PERCENT_COLUMNS = ("wape", "bias", "median_wape", "median_bias")


def as_percent(frame: pl.DataFrame, columns: Iterable[str] = PERCENT_COLUMNS) -> pl.DataFrame:
    """Fractions (0.467) shown as percents (46.7): the listed columns that exist, times 100."""
    present = [c for c in columns if c in frame.columns]
    return frame.with_columns(pl.col(c) * 100 for c in present)


def with_labels(frame: pl.DataFrame) -> pl.DataFrame:
    """Method and demand class codes replaced by their labels, wherever the columns exist."""
    out = frame
    for column in ("method", "most_chosen"):
        if column in out.columns:
            out = out.with_columns(
                pl.col(column).map_elements(method_label, return_dtype=pl.String)
            )
    if "demand_class" in out.columns:
        out = out.with_columns(
            pl.col("demand_class").map_elements(demand_class_label, return_dtype=pl.String)
        )
    return out


ALL_PRODUCTS = "All products"
LIFT_SHOWN = 0.05  # phases whose lift differs from 1 by less than this in every group are left out


def lifts_table(record: dict[str, Any] | None) -> pl.DataFrame:
    """A run's festival and holiday lifts: one row per phase, one column per product category
    (``"*"``, a country's whole demand, as "All products"; the country is named when a run
    spans several). Phases with no lift worth showing in any category are left out."""
    groups = (record or {}).get("groups") or []
    if not groups:
        return pl.DataFrame({"phase": []}, schema={"phase": pl.String})
    countries = {g["country"] for g in groups}

    def column(g: dict[str, Any]) -> str:
        name = ALL_PRODUCTS if g["category"] == "*" else str(g["category"])
        return f"{g['country']} · {name}" if len(countries) > 1 else name

    phases = sorted(
        {
            p
            for g in groups
            for p, lift in g["lifts"].items()
            if abs(float(lift) - 1.0) >= LIFT_SHOWN
        }
    )
    data: dict[str, list] = {"phase": [p.replace("_", " ") for p in phases]}
    ordered = sorted(groups, key=lambda g: (g["country"], g["category"] != "*", g["category"]))
    for g in ordered:
        name, n = column(g), 1
        while name in data:  # a category called "phase" or "All products" keeps its own column
            n += 1
            name = f"{column(g)} ({n})"
        data[name] = [g["lifts"].get(p) for p in phases]
    return pl.DataFrame(data, schema={k: (pl.String if k == "phase" else pl.Float64) for k in data})


def edited_rows(before: pl.DataFrame, after: pl.DataFrame, required: str) -> pl.DataFrame:
    """The rows of an edited table that differ from what was shown (compared on every
    column, nulls equal), as text for the validating service; a row whose ``required`` cell is
    empty is left out (nothing to record)."""
    # the editor hands back pandas: whole numbers with a gap come back as floats, dates as
    # datetimes; read them as what was shown before comparing
    fixes = []
    for name, dtype in before.schema.items():
        if name not in after.columns or after.schema[name] == dtype:
            continue
        if dtype.is_integer():
            fixes.append(pl.col(name).round().cast(dtype, strict=False))
        elif dtype == pl.Date:
            fixes.append(pl.col(name).cast(pl.Date, strict=False))
        else:
            fixes.append(pl.col(name).cast(dtype, strict=False))
    after = after.with_columns(fixes)
    changed = after.join(before, on=after.columns, how="anti", nulls_equal=True)
    changed = changed.filter(pl.col(required).is_not_null())
    return changed.with_columns(
        [pl.col(c).cast(pl.String) for c in changed.columns if changed.schema[c] != pl.String]
    )
