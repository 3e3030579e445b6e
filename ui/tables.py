"""Pure table helpers for the pages: filters, option lists and the columns shown.

They reshape frames a service returned; they never compute a stock figure themselves.
"""

from __future__ import annotations

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
