"""Exception reports to send to colleagues: the latest run's exceptions (filtered) with
severity, value at risk, the drafted actions and their status, as CSV or as a formatted Excel
workbook (a summary sheet, every exception, a sheet per rule; frozen headers, filters, money
formats).

Every text cell that a spreadsheet would read as a formula (beginning with ``=``, ``+``,
``-``, ``@``, a tab or a carriage return) is written with a leading apostrophe, so a product
named ``=HYPERLINK(...)`` stays text.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import polars as pl

from control_tower import actions, exceptions
from control_tower.errors import ControlTowerError
from control_tower.store import Store

log = logging.getLogger(__name__)

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
MONEY = "#,##0.00"
COLUMNS = {
    "rank": "Rank",
    "severity": "Severity",
    "rule": "Rule",
    "title": "Exception",
    "sku": "SKU",
    "product": "Product",
    "location": "Location",
    "value_at_risk": "Value at risk",
    "urgency": "Urgency",
    "due_date": "Bites on",
    "detail": "Detail",
    "suggestion": "Suggested",
    "actions": "Drafted actions",
    "explanation": "Explanation",
    "state": "State",
    "first_seen_at": "First seen",
}
MONEY_COLUMNS = ("Severity", "Value at risk")


class ReportError(ControlTowerError):
    title = "Report refused"


def neutralise(value):
    """A text a spreadsheet would evaluate, made inert; anything else unchanged."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def exception_report(
    store: Store,
    *,
    run_id: int | None = None,
    min_severity: float = 0.0,
    locations: list[str] | None = None,
    rules: list[str] | None = None,
) -> pl.DataFrame:
    """The exceptions of a run (default the latest), most severe first, as the report shows
    them: one row each with its drafted actions (id, kind, quantity, route, status) and their
    explanations, and whether it is open, acknowledged or snoozed."""
    items = exceptions.list_exceptions(
        store,
        run_id,
        rules=rules,
        locations=locations,
        min_severity=min_severity,
        include_snoozed=True,
    )
    names = dict(store.rows("SELECT sku, name FROM products"))
    ids = sorted({i for text in items["action_ids"].to_list() if text for i in json.loads(text)})
    drafted = {
        row[0]: row
        for row in store.rows(
            "SELECT action_id, kind, quantity, from_location, supplier, to_location, status, "
            "explanation, target, targets FROM actions WHERE action_id IN (SELECT unnest(?))",
            [ids or [-1]],
        )
    }

    def actions_text(text: str | None) -> tuple[str, str]:
        lines, notes = [], []
        for i in json.loads(text) if text else []:
            _id, kind, qty, source, supplier, dest, status, note, target, targets = drafted[i]
            what = (
                f"expedite {actions.chases({'target': target, 'targets': targets})}"
                if kind == "expedite"
                else kind.replace("_", " ")
            )
            lines.append(f"#{i} {what} {qty:,} {source or supplier or ''}>{dest} ({status})")
            if note:
                notes.append(f"#{i}: {note}")
        return "; ".join(lines), " ".join(notes)

    texts = [actions_text(t) for t in items["action_ids"].to_list()]
    state = [
        "snoozed" if until is not None else "acknowledged" if ack is not None else "open"
        for until, ack in zip(items["snoozed_until"], items["acknowledged_at"], strict=True)
    ]
    return (
        items.with_columns(
            rank=pl.int_range(1, items.height + 1, dtype=pl.Int64),
            product=pl.col("sku").replace_strict(names, default=None, return_dtype=pl.Utf8),
            actions=pl.Series([t[0] for t in texts], dtype=pl.Utf8),
            explanation=pl.Series([t[1] for t in texts], dtype=pl.Utf8),
            state=pl.Series(state, dtype=pl.Utf8),
            severity=pl.col("severity").round(2),
            value_at_risk=pl.col("value_at_risk").round(2),
            urgency=pl.col("urgency").round(3),
        )
        .select(list(COLUMNS))
        .rename(COLUMNS)
    )


def _inert(frame: pl.DataFrame) -> pl.DataFrame:
    texts = [c for c, t in frame.schema.items() if t == pl.Utf8]
    return frame.with_columns(
        pl.when(pl.col(c).str.contains(r"^[=+\-@\t\r]"))
        .then(pl.lit("'") + pl.col(c))
        .otherwise(pl.col(c))
        .alias(c)
        for c in texts
    )


def write_csv(report: pl.DataFrame, path: Path) -> Path:
    _inert(report).write_csv(path)
    return path


def write_xlsx(report: pl.DataFrame, path: Path, *, title: str) -> Path:
    """A summary sheet (per rule: exceptions, value at risk, severity; the total), every
    exception, then a sheet per rule; frozen header row, filters and money formats on each."""
    from openpyxl import Workbook
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    book = Workbook()
    summary = book.active
    summary.title = "Summary"
    summary.append([neutralise(title)])
    summary["A1"].font = Font(bold=True, size=13)
    summary.append([])
    summary.append(["Rule", "Exceptions", "Value at risk", "Severity"])
    by_rule = (
        report.group_by("Rule")
        .agg(pl.len().alias("n"), pl.col("Value at risk").sum(), pl.col("Severity").sum())
        .sort("Severity", descending=True)
    )
    for rule, n, value, severity in by_rule.iter_rows():
        summary.append([rule, n, value, severity])
    summary.append(
        ["Total", report.height, report["Value at risk"].sum(), report["Severity"].sum()]
    )
    for row in summary.iter_rows(min_row=4, min_col=3, max_col=4):
        for cell in row:
            cell.number_format = MONEY
    for cell in summary[3]:
        cell.font = Font(bold=True)
    summary.freeze_panes = "A4"
    summary.auto_filter.ref = f"A3:D{summary.max_row - 1}"
    for column, width in zip("ABCD", (24, 12, 16, 16), strict=True):
        summary.column_dimensions[column].width = width

    def sheet(name: str, frame: pl.DataFrame) -> None:
        ws = book.create_sheet(name[:31])
        ws.append(frame.columns)
        for cell in ws[1]:
            cell.font = Font(bold=True)
        for row in frame.iter_rows():
            ws.append([neutralise(v) for v in row])
        money = [i + 1 for i, c in enumerate(frame.columns) if c in MONEY_COLUMNS]
        for col in money:
            for (cell,) in ws.iter_rows(min_row=2, min_col=col, max_col=col):
                cell.number_format = MONEY
        ws.freeze_panes = "A2"
        last = get_column_letter(max(len(frame.columns), 1))
        ws.auto_filter.ref = f"A1:{last}{max(ws.max_row, 1)}"
        for i, column in enumerate(frame.columns, start=1):
            longest = max([len(str(column))] + [len(str(v)) for v in frame[column].head(200)])
            ws.column_dimensions[get_column_letter(i)].width = min(max(longest + 2, 8), 60)

    sheet("Exceptions", report)
    for rule in by_rule["Rule"].to_list():
        sheet(rule, report.filter(pl.col("Rule") == rule))
    book.save(path)
    return path


def write_report(
    store: Store,
    path: Path,
    fmt: str,
    *,
    min_severity: float = 0.0,
    locations: list[str] | None = None,
    rules: list[str] | None = None,
) -> pl.DataFrame:
    """The report of the latest exception run in ``fmt`` (csv, xlsx or pdf) at ``path``."""
    run = exceptions.latest_run(store)
    if run is None:
        raise ReportError("no exception run yet: run `control-tower exceptions` first")
    report = exception_report(store, min_severity=min_severity, locations=locations, rules=rules)
    if fmt == "csv":
        write_csv(report, path)
    elif fmt == "xlsx":
        write_xlsx(
            report,
            path,
            title=f"Exceptions as of {run['as_of']} (run {run['run_id']}), {report.height:,} shown",
        )
    elif fmt == "pdf":
        write_pdf(
            report,
            path,
            title=f"Exceptions as of {run['as_of']} (run {run['run_id']})",
        )
    else:
        raise ReportError(f"unknown format {fmt!r}: csv, xlsx or pdf")
    return report


CJK_FONTS = (
    "/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf",
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttf",
    "/usr/share/fonts/truetype/arphic/uming.ttf",
)


def _cjk_font() -> Path | None:
    """Noto Sans SC from the `pylopdf-fonts-zh-cn` package (a dependency, so the PDF draws
    Chinese names on any machine), else a system CJK font, else None."""
    try:
        from pylopdf_fonts_zh_cn import sans_path
    except ImportError:
        log.warning("pylopdf-fonts-zh-cn is not installed: looking for a system CJK font")
    else:
        if sans_path().is_file():
            return sans_path()
    return next((Path(c) for c in CJK_FONTS if Path(c).is_file()), None)


def _fonts(pdf) -> bool:
    """DejaVu Sans (shipped with matplotlib) for text, and a CJK font as fallback; True when
    Chinese text can be drawn."""
    import matplotlib

    folder = Path(matplotlib.__file__).parent / "mpl-data" / "fonts" / "ttf"
    pdf.add_font("body", "", str(folder / "DejaVuSans.ttf"))
    pdf.add_font("body", "B", str(folder / "DejaVuSans-Bold.ttf"))
    cjk = _cjk_font()
    if cjk is None:
        return False
    pdf.add_font("cjk", "", str(cjk))
    pdf.set_fallback_fonts(["cjk"])
    return True


def _fit(pdf, text: str, width: float, widths: dict) -> str:
    """``text`` cut to fit ``width`` mm in the current font, with an ellipsis when cut.
    Widths are summed per character from ``widths`` (a cache filled from fpdf, whose own
    measure of a whole string with fallback fonts costs a millisecond each)."""
    key = (pdf.font_family, pdf.font_style, pdf.font_size_pt)

    def w(ch: str) -> float:
        found = widths.get((key, ch))
        if found is None:
            found = widths[(key, ch)] = pdf.get_string_width(ch)
        return found

    total, ellipsis = 0.0, w("…")
    cut = None
    for i, ch in enumerate(text):
        total += w(ch)
        if cut is None and total + ellipsis > width:
            cut = i
        if total > width:
            return text[:cut].rstrip() + "…"
    return text


def _bars(
    pdf, title: str, labels: list[str], values: list[float], x: float, y: float, w: float
) -> None:
    """A horizontal bar chart drawn with rectangles (no image, so its text stays text)."""
    pdf.set_xy(x, y)
    pdf.set_font("body", "B", 10)
    pdf.cell(w, 6, title)
    top = max(values) if values else 0
    label_w, row_h = 42.0, 6.0
    for i, (label, value) in enumerate(zip(labels, values, strict=True)):
        yy = y + 8 + i * row_h
        pdf.set_font("body", "", 8)
        pdf.set_xy(x, yy)
        pdf.cell(label_w, row_h - 1, label[:28])
        width = (w - label_w - 28) * (value / top if top else 0)
        pdf.set_fill_color(31, 119, 180)
        pdf.rect(x + label_w, yy + 0.8, max(width, 0.3), row_h - 2.2, style="F")
        pdf.set_xy(x + label_w + width + 1, yy)
        pdf.cell(27, row_h - 1, f"{value:,.0f}")


def write_pdf(report: pl.DataFrame, path: Path, *, title: str) -> Path:
    """A summary page (totals, value at risk by rule and by location as bar charts, the ten
    most severe exceptions), then every exception with its drafted actions."""
    from fpdf import FPDF

    pdf = FPDF(orientation="L", format="A4")
    pdf.set_auto_page_break(auto=True, margin=12)
    cjk = _fonts(pdf)
    pdf.add_page()
    pdf.set_font("body", "B", 15)
    pdf.cell(0, 10, title, new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("body", "", 10)
    total = report["Value at risk"].sum() if report.height else 0.0
    pdf.cell(
        0,
        6,
        f"{report.height:,} exceptions, value at risk {total:,.0f}, severity "
        f"{(report['Severity'].sum() if report.height else 0):,.0f}",
        new_x="LMARGIN",
        new_y="NEXT",
    )
    if not cjk:
        pdf.set_font("body", "", 7)
        pdf.cell(
            0,
            4,
            "Chinese text is left out: no CJK font (pip install pylopdf-fonts-zh-cn).",
            new_x="LMARGIN",
            new_y="NEXT",
        )
    by_rule = (
        report.group_by("Rule")
        .agg(pl.col("Value at risk").sum())
        .sort("Value at risk", descending=True)
    )
    by_location = (
        report.filter(pl.col("Location").is_not_null())
        .group_by("Location")
        .agg(pl.col("Value at risk").sum())
        .sort("Value at risk", descending=True)
        .head(10)
    )
    y = pdf.get_y() + 4
    _bars(
        pdf,
        "Value at risk by rule",
        by_rule["Rule"].to_list(),
        by_rule["Value at risk"].to_list(),
        10,
        y,
        135,
    )
    _bars(
        pdf,
        "Value at risk by location (top 10)",
        by_location["Location"].to_list(),
        by_location["Value at risk"].to_list(),
        150,
        y,
        135,
    )
    pdf.set_xy(10, y + 12 + 6 * max(by_rule.height, by_location.height, 1))

    measured: dict = {}

    def table(frame: pl.DataFrame, heading: str) -> None:
        widths = (9, 16, 27, 68, 62, 22, 14, 59)
        align = ("L", "R", "L", "L", "L", "R", "L", "L")
        names = (
            "#",
            "Severity",
            "Rule",
            "Exception",
            "Product",
            "Value at risk",
            "State",
            "Drafted actions",
        )
        pdf.set_font("body", "B", 11)
        pdf.cell(0, 8, heading, new_x="LMARGIN", new_y="NEXT")
        pdf.set_font("body", "B", 8)
        for name, width, a in zip(names, widths, align, strict=True):
            pdf.cell(width, 6, _fit(pdf, name, width - 1.5, measured), border="B", align=a)
        pdf.ln()
        pdf.set_font("body", "", 7)
        for row in frame.iter_rows(named=True):
            cells = (
                str(row["Rank"]),
                f"{row['Severity']:,.0f}",
                row["Rule"],
                row["Exception"],
                row["Product"] or "",
                f"{row['Value at risk']:,.0f}",
                row["State"],
                row["Drafted actions"] or "",
            )
            for text, width, a in zip(cells, widths, align, strict=True):
                pdf.cell(width, 5, _fit(pdf, text, width - 1.5, measured), align=a)
            pdf.ln()

    table(report.head(10), "The ten most severe")
    explained = report.head(10).filter(pl.col("Explanation").fill_null("") != "")
    if explained.height:
        pdf.ln(2)
        pdf.set_font("body", "B", 11)
        pdf.cell(0, 8, "Their drafted actions, explained", new_x="LMARGIN", new_y="NEXT")
        pdf.set_font("body", "", 7)
        for row in explained.iter_rows(named=True):
            pdf.multi_cell(
                0, 3.6, f"{row['Rank']}. {row['Explanation']}", new_x="LMARGIN", new_y="NEXT"
            )
            pdf.ln(1)
    if report.height > 10:
        pdf.add_page()
        table(report, "Every exception")
    pdf.output(str(path))
    return path
