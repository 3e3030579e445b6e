"""Validation of one entity's rows: every problem found at once, none written.

Each check is a vectorised polars expression producing problem rows (row, column, value,
reason); the typed frame is returned only when there are none. Row numbers are as the user
sees them in the file.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

import polars as pl

from control_tower.errors import RowProblem
from control_tower.ingest.reader import ROW_COLUMN
from control_tower.ingest.schemas import ColumnSpec, EntitySpec

ROW = "_row"
PROBLEM_SCHEMA = {ROW: pl.Int64, "column": pl.String, "value": pl.String, "reason": pl.String}

DATE_FORMATS = ("%Y-%m-%d", "%Y/%m/%d", "%Y%m%d", "%d.%m.%Y")
DATETIME_FORMATS = (
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%dT%H:%M:%S",
    "%Y-%m-%d %H:%M",
    "%Y/%m/%d %H:%M:%S",
    "%Y-%m-%d %H:%M:%S%.f",
    "%Y-%m-%dT%H:%M:%S%.f",
)
TRUE_WORDS = ("true", "t", "yes", "y", "1", "是")
FALSE_WORDS = ("false", "f", "no", "n", "0", "否")
MAX_TEXT = 500
NUMBER_MAX = 1e12  # any amount, count or measure: DECIMAL(18, 4) holds below 1e14
DATE_MIN, DATE_MAX = date(1900, 1, 1), date(2100, 12, 31)

KnownKeys = Callable[[str, str], pl.Series]

LABELS = {
    "products": "SKU",
    "locations": "location",
    "suppliers": "supplier",
    "transfers": "transfer",
}


@dataclass(frozen=True)
class Validated:
    typed: pl.DataFrame | None
    problems: pl.DataFrame  # PROBLEM_SCHEMA, sorted by row
    rows: int

    @property
    def ok(self) -> bool:
        return self.problems.height == 0


@dataclass(frozen=True)
class _Check:
    """A rule not yet run: the rows of ``frame`` where ``mask`` holds are problems."""

    frame: pl.DataFrame
    mask: pl.Expr
    column: str
    value: pl.Expr
    reason: pl.Expr | str

    def rows(self) -> pl.DataFrame:
        reason = pl.lit(self.reason) if isinstance(self.reason, str) else self.reason
        return self.frame.filter(self.mask).select(
            pl.col(ROW).cast(pl.Int64),
            pl.lit(self.column).cast(pl.String).alias("column"),
            self.value.cast(pl.String).alias("value"),
            reason.cast(pl.String).alias("reason"),
        )


def _problems(
    frame: pl.DataFrame, mask: pl.Expr, column: str, value: pl.Expr, reason: pl.Expr | str
) -> _Check:
    return _Check(frame, mask, column, value, reason)


def _run_checks(found: list) -> list[pl.DataFrame]:
    """Evaluate every rule's mask in one pass per frame (polars runs them in parallel) and
    build problem rows only for the rules that fired."""
    out = [f for f in found if isinstance(f, pl.DataFrame)]
    checks = [f for f in found if isinstance(f, _Check)]
    by_frame: dict[int, list[_Check]] = {}
    for check in checks:
        by_frame.setdefault(id(check.frame), []).append(check)
    for group in by_frame.values():
        fired = (
            group[0]
            .frame.select(
                [c.mask.fill_null(False).any().alias(f"m{i}") for i, c in enumerate(group)]
            )
            .row(0)
        )
        out.extend(c.rows() for c, hit in zip(group, fired, strict=True) if hit)
    return out


def _raw_text(name: str) -> pl.Expr:
    return pl.col(name).cast(pl.String)


def _parse_number(raw: pl.Expr) -> pl.Expr:
    return raw.str.strip_chars().str.replace_all(r"^\+", "").cast(pl.Float64, strict=False)


def _parse_date(raw: pl.Expr) -> pl.Expr:
    text = raw.str.strip_chars()
    attempts = [text.str.to_date(fmt, strict=False) for fmt in DATE_FORMATS]
    # "2024-01-05 00:00:00" (Excel dates read as text) is a date too.
    attempts.append(
        pl.when(text.str.len_chars() > 10).then(
            text.str.slice(0, 10).str.to_date("%Y-%m-%d", strict=False)
        )
    )
    return pl.coalesce(attempts)


def _parse_datetime(raw: pl.Expr) -> pl.Expr:
    text = raw.str.strip_chars()
    attempts = [text.str.to_datetime(fmt, strict=False, time_unit="us") for fmt in DATETIME_FORMATS]
    attempts += [
        text.str.to_date(fmt, strict=False).cast(pl.Datetime("us")) for fmt in DATE_FORMATS
    ]
    return pl.coalesce(attempts)


def readable(dtype: pl.DataType) -> bool:
    """Types a cell can be read from; a list, struct or binary column (Parquet) is not."""
    return (
        dtype == pl.String
        or dtype.is_numeric()
        or dtype in (pl.Boolean, pl.Date)
        or isinstance(dtype, pl.Datetime)
    )


def _coerce(frame: pl.DataFrame, col: ColumnSpec) -> tuple[pl.Expr, pl.Expr, str]:
    """(typed value, bad-value mask, reason) for one column. The mask is true where a value was
    given but cannot be read as the column's type."""
    dtype = frame.schema[col.name]
    name = col.name
    is_text = dtype == pl.String
    given = pl.col(name).is_not_null()
    if not readable(dtype):  # a list, struct, binary ... column (Parquet): no cell can be read
        return pl.lit(None), given, f"wrong type of column ({dtype})"
    if is_text:
        given = given & (pl.col(name).str.strip_chars() != "")
    if col.dtype == "str":
        value = pl.col(name).cast(pl.String)
        # Rebuild the column only when some cell needs trimming or is blank, so a clean column
        # (the common case, and every generated one) shares the input's memory.
        untidy = frame.select(value.str.contains(r"^\s|\s$|^$").any()).item()
        if untidy:
            value = value.str.strip_chars()
            value = pl.when(value == "").then(None).otherwise(value)
        return (
            value,
            given & (value.str.len_chars() > MAX_TEXT),
            f"longer than {MAX_TEXT} characters",
        )
    if col.dtype in ("int", "decimal", "float"):
        if dtype.is_numeric():
            number = pl.col(name).cast(pl.Float64)
        elif is_text:
            number = _parse_number(pl.col(name))
        else:
            number = pl.lit(None, pl.Float64)
        bad = given & (number.is_null() | number.is_nan() | number.is_infinite())
        if col.dtype == "int":
            if dtype.is_integer():  # a UInt64 beyond Int64 cannot be stored
                value = pl.col(name).cast(pl.Int64, strict=False)
                return value, given & value.is_null(), "number too large"
            not_whole = given & ~bad & (number != number.round(0))
            out_of_range = given & ~bad & (number.abs() > 9e15)
            value = (
                pl.when(bad | not_whole | out_of_range).then(None).otherwise(number).cast(pl.Int64)
            )
            reason = (
                pl.when(bad)
                .then(pl.lit("not a number"))
                .when(not_whole)
                .then(pl.lit("not a whole number"))
                .otherwise(pl.lit("number too large"))
            )
            return value, bad | not_whole | out_of_range, reason  # type: ignore[return-value]
        return pl.when(bad).then(None).otherwise(number), bad, "not a number"
    if col.dtype == "date":
        if dtype == pl.Date:
            return pl.col(name), pl.lit(False), ""
        if isinstance(dtype, pl.Datetime):
            return pl.col(name).dt.date(), pl.lit(False), ""
        value = _parse_date(_raw_text(name)) if is_text else pl.lit(None, pl.Date)
        return value, given & value.is_null(), "not a date (expected YYYY-MM-DD)"
    if col.dtype == "datetime":
        if isinstance(dtype, pl.Datetime):
            return pl.col(name).cast(pl.Datetime("us")), pl.lit(False), ""
        if dtype == pl.Date:
            return pl.col(name).cast(pl.Datetime("us")), pl.lit(False), ""
        value = _parse_datetime(_raw_text(name)) if is_text else pl.lit(None, pl.Datetime("us"))
        return (
            value,
            given & value.is_null(),
            "not a date/time (expected YYYY-MM-DD or YYYY-MM-DD HH:MM:SS)",
        )
    if col.dtype == "bool":
        if dtype == pl.Boolean:
            return pl.col(name), pl.lit(False), ""
        text = _raw_text(name).str.strip_chars().str.to_lowercase()
        value = (
            pl.when(text.is_in(TRUE_WORDS))
            .then(True)
            .when(text.is_in(FALSE_WORDS))
            .then(False)
            .otherwise(None)
        )
        return value, given & value.is_null(), "not true/false"
    raise AssertionError(col.dtype)


def validate(
    frame: pl.DataFrame,
    spec: EntitySpec,
    *,
    first_row: int,
    known: KnownKeys,
    today: date,
) -> Validated:
    """Check ``frame`` against ``spec``; references are resolved with ``known(entity, key)``.
    Dates of things that happened may not be after ``today``, which the caller names: the
    data's today for a supplier's report, the latest day begun anywhere for an import (see
    :func:`control_tower.ingest.latest_day_begun`)."""
    rows = frame.height
    missing = [c for c in spec.required if c not in frame.columns]
    if missing:
        problems = pl.DataFrame(
            {
                ROW: [None] * len(missing),
                "column": missing,
                "value": [None] * len(missing),
                "reason": [
                    "missing column (expected columns: "
                    + ", ".join(c.name for c in spec.columns)
                    + ")"
                ]
                * len(missing),
            },
            schema=PROBLEM_SCHEMA,
        )
        return Validated(None, problems, rows)

    if ROW_COLUMN in frame.columns:  # numbered by the reader, before blank rows were dropped
        base = frame.rename({ROW_COLUMN: ROW}).with_columns(pl.col(ROW).cast(pl.Int64))
    else:
        base = frame.with_row_index(ROW, offset=first_row).with_columns(pl.col(ROW).cast(pl.Int64))
    found: list[pl.DataFrame] = []
    typed_exprs: list[pl.Expr] = [pl.col(ROW)]
    for col in spec.columns:
        if col.name not in base.columns:
            typed_exprs.append(pl.lit(col.default).cast(_polars_type(col)).alias(col.name))
            continue
        value, bad, reason = _coerce(base, col)
        shown = _raw_text(col.name) if readable(base.schema[col.name]) else pl.lit(None, pl.String)
        found.append(_problems(base, bad, col.name, shown, reason))
        typed_exprs.append(value.cast(_polars_type(col)).alias(col.name))
    typed = base.select(typed_exprs)
    raw = base

    # Required values present (a value given but unreadable was reported above).
    for col in spec.columns:
        if col.required:
            given = _given(raw, col.name)
            found.append(
                _problems(
                    typed,
                    pl.col(col.name).is_null() & ~pl.lit(given),
                    col.name,
                    pl.lit(None, pl.String),
                    "missing value",
                )
            )
        if col.default is not None:
            typed = typed.with_columns(
                pl.col(col.name).fill_null(pl.lit(col.default).cast(_polars_type(col)))
            )

    for col in spec.columns:
        c = pl.col(col.name)
        if col.choices:
            found.append(
                _problems(
                    typed,
                    c.is_not_null() & ~c.is_in(list(col.choices)),
                    col.name,
                    c,
                    "must be one of: " + ", ".join(col.choices),
                )
            )
        if col.positive:
            found.append(
                _problems(
                    typed,
                    c.is_not_null() & (c < 0),
                    col.name,
                    c.cast(pl.String),
                    f"negative {col.name}",
                )
            )
            found.append(
                _problems(
                    typed,
                    c.is_not_null() & (c == 0),
                    col.name,
                    c.cast(pl.String),
                    f"{col.name} must be greater than zero",
                )
            )
        elif col.minimum is not None:
            reason = (
                f"negative {col.name}" if col.minimum == 0 else f"{col.name} below {col.minimum}"
            )
            found.append(
                _problems(
                    typed, c.is_not_null() & (c < col.minimum), col.name, c.cast(pl.String), reason
                )
            )

    # Sane bounds: one absurd cell must not move the data's "today" or overflow a sum.
    for col in spec.columns:
        c = pl.col(col.name)
        if col.dtype in ("int", "decimal", "float"):
            limit = col.maximum if col.maximum is not None else NUMBER_MAX
            found.append(
                _problems(
                    typed,
                    c.is_not_null() & (c.abs() > limit),
                    col.name,
                    c.cast(pl.String),
                    f"too large (at most {limit:,.0f})",
                )
            )
        elif col.dtype in ("date", "datetime"):
            day = c.cast(pl.Date) if col.dtype == "datetime" else c
            found.append(
                _problems(
                    typed,
                    c.is_not_null() & ((day < DATE_MIN) | (day > DATE_MAX)),
                    col.name,
                    c.cast(pl.String),
                    f"date out of range ({DATE_MIN} to {DATE_MAX})",
                )
            )
            if col.not_future:
                found.append(
                    _problems(
                        typed,
                        c.is_not_null() & (day > today) & (day <= DATE_MAX),
                        col.name,
                        c.cast(pl.String),
                        f"in the future (after {today})",
                    )
                )

    # Duplicate keys inside the file: every repeat after the first is reported.
    key_cols = list(spec.key)
    any_repeat = typed.select(
        (
            pl.struct(key_cols).is_duplicated()
            & pl.all_horizontal([pl.col(k).is_not_null() for k in key_cols])
        ).any()
    ).item()
    repeats = pl.DataFrame()
    if any_repeat:
        keyed = typed.filter(pl.all_horizontal([pl.col(k).is_not_null() for k in key_cols]))
        firsts = keyed.group_by(key_cols).agg(pl.col(ROW).min().alias("_first"))
        repeats = keyed.join(firsts, on=key_cols).filter(pl.col(ROW) != pl.col("_first"))
    if repeats.height:
        key_text = pl.concat_str([pl.col(k).cast(pl.String) for k in key_cols], separator=", ")
        found.append(
            repeats.select(
                pl.col(ROW),
                pl.lit(", ".join(key_cols)).alias("column"),
                key_text.alias("value"),
                pl.format(
                    "duplicate key: the same {} as row {}",
                    pl.lit(" + ".join(key_cols)),
                    pl.col("_first"),
                ).alias("reason"),
            )
        )

    # References to other entities.
    for col in spec.columns:
        if col.references and col.name in typed.columns:
            entity, key = col.references
            known_values = known(entity, key)
            label = LABELS.get(entity, entity)
            c = pl.col(col.name)
            found.append(
                _problems(
                    typed,
                    c.is_not_null() & ~c.is_in(known_values.implode()),
                    col.name,
                    c,
                    f"unknown {label} (not in {entity})",
                )
            )

    found.extend(_entity_rules(spec.name, typed, known, today))

    found = _run_checks(found)
    problems = (
        (
            pl.concat([p.cast(PROBLEM_SCHEMA) for p in found])
            if found
            else pl.DataFrame(schema=PROBLEM_SCHEMA)
        )
        .unique()
        .sort([ROW, "column"], nulls_last=False)
    )
    return Validated(typed if problems.height == 0 else None, problems, rows)


def _given(raw: pl.DataFrame, name: str) -> pl.Series:
    """True where the user typed something in the cell (so an unreadable value is reported as
    such, not as missing)."""
    if name not in raw.columns:
        return pl.Series([False] * raw.height)
    s = raw[name]
    given = s.is_not_null()
    if s.dtype == pl.String:
        given = given & (s.str.strip_chars() != "")
    return given


def _polars_type(col: ColumnSpec) -> pl.DataType:
    return {
        "str": pl.String(),
        "int": pl.Int64(),
        "decimal": pl.Float64(),
        "float": pl.Float64(),
        "date": pl.Date(),
        "datetime": pl.Datetime("us"),
        "bool": pl.Boolean(),
    }[col.dtype]


def _entity_rules(entity: str, t: pl.DataFrame, known: KnownKeys, today: date) -> list[_Check]:
    found: list[_Check] = []
    if entity == "ledger":
        q, kind = pl.col("quantity"), pl.col("movement_type")
        found.append(
            _problems(
                t,
                q.is_not_null() & (q < 0) & (kind != "adjustment"),
                "quantity",
                q.cast(pl.String),
                "negative quantity (the movement type gives the direction; only an "
                "adjustment may be negative)",
            )
        )
        found.append(
            _problems(t, q.is_not_null() & (q == 0), "quantity", q.cast(pl.String), "zero quantity")
        )
        legs = kind.is_in(["transfer_out", "transfer_in"])
        found.append(
            _problems(
                t,
                legs & pl.col("reference").is_null(),
                "reference",
                pl.lit(None),
                "a transfer leg needs its transfer_id as reference",
            )
        )
        transfers = known("transfers", "transfer_id")
        found.append(
            _problems(
                t,
                legs
                & pl.col("reference").is_not_null()
                & ~pl.col("reference").is_in(transfers.implode()),
                "reference",
                pl.col("reference"),
                "unknown transfer (not in transfers)",
            )
        )
        owners = pl.concat([pl.Series(["company"]), known("suppliers", "code")])
        found.append(
            _problems(
                t,
                ~pl.col("owner").is_in(owners.implode()),
                "owner",
                pl.col("owner"),
                "owner must be 'company' or a supplier code",
            )
        )
    elif entity == "transfers":
        found.append(
            _problems(
                t,
                pl.col("from_location") == pl.col("to_location"),
                "to_location",
                pl.col("to_location"),
                "source and destination are the same",
            )
        )
        shipped = pl.col("status").is_in(["in_transit", "received"])
        found.append(
            _problems(
                t,
                shipped & (pl.col("ship_date") > today) & (pl.col("ship_date") <= DATE_MAX),
                "ship_date",
                pl.col("ship_date").cast(pl.String),
                f"shipped in the future (after {today})",
            )
        )
        found.append(
            _problems(
                t,
                shipped & pl.col("ship_date").is_null(),
                "ship_date",
                pl.lit(None),
                "an in_transit or received transfer needs a ship_date",
            )
        )
        found.append(
            _problems(
                t,
                (pl.col("status") == "received") & pl.col("received_date").is_null(),
                "received_date",
                pl.lit(None),
                "a received transfer needs a received_date",
            )
        )
        found.append(
            _problems(
                t,
                pl.col("received_date") < pl.col("ship_date"),
                "received_date",
                pl.col("received_date").cast(pl.String),
                "received before it was shipped",
            )
        )
        found.append(
            _problems(
                t,
                pl.col("expected_date") < pl.col("ship_date"),
                "expected_date",
                pl.col("expected_date").cast(pl.String),
                "expected before it was shipped",
            )
        )
    elif entity == "purchase_orders":
        found.append(
            _problems(
                t,
                pl.col("expected_date") < pl.col("order_date"),
                "expected_date",
                pl.col("expected_date").cast(pl.String),
                "expected before it was ordered",
            )
        )
    elif entity == "lanes":
        found.append(
            _problems(
                t,
                pl.col("from_location") == pl.col("to_location"),
                "to_location",
                pl.col("to_location"),
                "a lane must join two different locations",
            )
        )
    elif entity == "locations":
        for name, limit in (("lat", 90), ("lon", 180)):
            c = pl.col(name)
            found.append(
                _problems(
                    t,
                    c.is_not_null() & (c.abs() > limit),
                    name,
                    c.cast(pl.String),
                    f"{name} must be between -{limit} and {limit}",
                )
            )
    elif entity == "suppliers":
        c = pl.col("on_time_rate")
        found.append(
            _problems(
                t,
                c.is_not_null() & (c > 1),
                "on_time_rate",
                c.cast(pl.String),
                "on_time_rate is a share between 0 and 1",
            )
        )
    return found


def problem_list(problems: pl.DataFrame, source: str, limit: int) -> list[RowProblem]:
    return [
        RowProblem(source, r[ROW], r["column"], r["value"], r["reason"])
        for r in problems.head(limit).iter_rows(named=True)
    ]
