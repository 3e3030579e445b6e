"""Turn a CSV, Parquet or Excel file into a frame, or say precisely why not.

CSV and Excel come back with every column as text so validation can report the cell as the
user typed it; Parquet keeps its types. Header names are trimmed and lower-cased.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from control_tower.errors import ImportValidationError, RowProblem

FORMATS = {
    ".csv": "csv",
    ".txt": "csv",
    ".tsv": "csv",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".xlsx": "excel",
    ".xlsm": "excel",
    ".xls": "excel",
}
MAX_FILE_BYTES = 2 * 1024**3
# The file row number of each data row, added before blank rows are dropped so that problems
# are reported at the row the user sees.
ROW_COLUMN = "__file_row__"


@dataclass(frozen=True)
class Table:
    """A read file: its rows, its display name, and the file row number of its first data row
    (2 for CSV and Excel, whose row 1 is the header; 1 for Parquet)."""

    frame: pl.DataFrame
    name: str
    first_row: int


def _fail(name: str, reason: str) -> ImportValidationError:
    return ImportValidationError([RowProblem(name, None, None, None, reason)])


def detect_format(filename: str) -> str:
    suffix = Path(filename).suffix.lower()
    if suffix not in FORMATS:
        raise _fail(
            filename, f"unsupported file type {suffix or '(none)'!r}; use .csv, .parquet or .xlsx"
        )
    return FORMATS[suffix]


def _decode(data: bytes, name: str) -> str:
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        hint = ""
        try:
            data.decode("gb18030")
            hint = (
                " It looks like GBK/GB18030, which Excel uses for Chinese text: save it as "
                "'CSV UTF-8' instead."
            )
        except UnicodeDecodeError:
            pass
        raise _fail(
            name,
            f"the file is not UTF-8 text (byte 0x{data[exc.start]:02x} at position {exc.start})."
            + hint,
        ) from None


def _delimiter(text: str) -> str:
    header = text.split("\n", 1)[0]
    counts = {d: header.count(d) for d in (",", ";", "\t")}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] > 0 else ","


def _normalise_headers(frame: pl.DataFrame, name: str) -> pl.DataFrame:
    cleaned = [str(c).replace("\ufeff", "").strip().lower() for c in frame.columns]
    seen: dict[str, int] = {}
    for c in cleaned:
        seen[c] = seen.get(c, 0) + 1
    dupes = sorted(c for c, n in seen.items() if n > 1 and c)
    if dupes:
        raise _fail(name, f"column(s) named more than once: {', '.join(dupes)}")
    return frame.rename(dict(zip(frame.columns, cleaned, strict=True)))


def _read_csv(data: bytes, name: str) -> pl.DataFrame:
    text = _decode(data, name)
    if not text.strip():
        raise _fail(name, "the file is empty")
    try:
        frame = pl.read_csv(io.StringIO(text), infer_schema=False, separator=_delimiter(text))
    except pl.exceptions.PolarsError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise _fail(name, f"not a well-formed CSV file: {first}") from None
    return frame


def _read_excel(data: bytes, name: str) -> pl.DataFrame:
    try:
        return pl.read_excel(io.BytesIO(data), infer_schema_length=0, drop_empty_rows=False)
    except Exception as exc:  # fastexcel raises its own error types
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise _fail(name, f"cannot read it as an Excel workbook: {first}") from None


def _read_parquet(data: bytes, name: str) -> pl.DataFrame:
    try:
        return pl.read_parquet(io.BytesIO(data))
    except Exception as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise _fail(name, f"cannot read it as a Parquet file: {first}") from None


def read_bytes(data: bytes, filename: str) -> Table:
    """Parse file contents named ``filename`` (the extension picks the format)."""
    name = Path(filename).name
    fmt = detect_format(filename)
    if len(data) == 0:
        raise _fail(name, "the file is empty")
    if len(data) > MAX_FILE_BYTES:
        raise _fail(name, f"the file is larger than {MAX_FILE_BYTES // 1024**3} GiB")
    reader = {"csv": _read_csv, "excel": _read_excel, "parquet": _read_parquet}[fmt]
    frame = _normalise_headers(reader(data, name), name)
    first_row = 1 if fmt == "parquet" else 2
    frame = frame.with_row_index(ROW_COLUMN, offset=first_row)
    # Rows that are entirely empty (blank lines, Excel formatting) are not data.
    blank = [
        (pl.col(c).is_null() | (pl.col(c).cast(pl.String).str.strip_chars() == ""))
        if frame.schema[c] == pl.String
        else pl.col(c).is_null()
        for c in frame.columns
        if c != ROW_COLUMN
    ]
    if blank:
        frame = frame.filter(~pl.all_horizontal(blank))
    if frame.height == 0:
        raise _fail(name, "the file has a header but no data rows")
    return Table(frame, name, first_row)


def read_path(path: str | Path) -> Table:
    p = Path(path)
    if not p.is_file():
        raise _fail(p.name, f"no such file: {p}")
    return read_bytes(p.read_bytes(), p.name)


def read_table(source: str | Path | bytes, *, filename: str | None = None) -> pl.DataFrame:
    """The rows of a file (a path, or bytes with their ``filename``)."""
    if isinstance(source, bytes):
        if filename is None:
            raise ValueError("filename is needed to read bytes")
        return read_bytes(source, filename).frame.drop(ROW_COLUMN)
    return read_path(source).frame.drop(ROW_COLUMN)
