"""Number formatting for KPI tiles: the value with its unit, and the change since the last
period, coloured by whether higher or lower is better; and :func:`plain`, which makes text from
the data (names, reasons) safe to show inside Streamlit markdown."""

from __future__ import annotations

import math
import re

PERCENT_UNITS = {"%", "percent", "pct"}


def _is_missing(value: float | None) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _scaled(value: float, unit: str) -> float:
    """Percent KPIs may come as fractions (0.962) or as percents (96.2); show percents."""
    if unit in PERCENT_UNITS and abs(value) <= 1.0:
        return value * 100.0
    return value


def _number(value: float) -> str:
    size = abs(value)
    if size >= 1e9:
        return f"{value / 1e9:,.2f}B"
    if size >= 1e6:
        return f"{value / 1e6:,.2f}M"
    if size >= 1e5:
        return f"{value / 1e3:,.0f}k"
    if size >= 100 or float(value).is_integer():
        return f"{value:,.0f}"
    return f"{value:,.1f}" if size >= 10 else f"{value:,.2f}"


def kpi_value(value: float | None, unit: str = "") -> str:
    """'1.24M CNY', '96.2%', '32.6 days'; '—' when the KPI cannot be computed."""
    if _is_missing(value):
        return "—"
    unit = unit or ""
    if unit in PERCENT_UNITS:
        return f"{_scaled(float(value), unit):.1f}%"
    text = _number(float(value))
    return f"{text} {unit}".strip()


def kpi_delta(value: float | None, previous: float | None, unit: str = "") -> str | None:
    """Change since the previous period as signed text (percent KPIs in points, 'pp'); '±'
    when it shows as zero; None when there is no previous value, so the tile shows no arrow."""
    if _is_missing(value) or _is_missing(previous):
        return None
    unit = unit or ""
    if unit in PERCENT_UNITS:
        change = _scaled(float(value), unit) - _scaled(float(previous), unit)
        magnitude, unit = f"{abs(change):.1f}", "pp"
    else:
        change = float(value) - float(previous)
        magnitude = _number(abs(change))
    if not any(ch in "123456789" for ch in magnitude):
        sign = "±"
    else:
        sign = "+" if change > 0 else "-"
    return f"{sign}{magnitude} {unit}".strip()


def is_flat(delta: str | None) -> bool:
    """True for a delta that shows as no change (no arrow, no colour)."""
    return delta is not None and delta.startswith("±")


def kpi_delta_color(better: str | None) -> str:
    """'normal' (up is green) when higher is better, 'inverse' when lower is better."""
    better = (better or "").lower()
    if better.startswith("high") or better == "up":
        return "normal"
    if better.startswith("low") or better == "down":
        return "inverse"
    return "off"


# Everything CommonMark lets a backslash escape, so data shows as typed: no emphasis, links,
# headings, tables, HTML, Streamlit colour directives (":red[...]"), icons or math ("$").
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~:$&=^\"'])")


def plain(text: object) -> str:
    """``text`` (a product name, a reason, an error message from the data) made safe to put in
    Streamlit markdown: it is shown literally, on one line, never rendered; '—' for nothing."""
    if text is None or text == "":
        return "—"
    one_line = " ".join(str(text).split())
    return _MARKDOWN_SPECIAL.sub(r"\\\1", one_line)


def formatted(value: float | None, spec: str) -> str:
    """``format(value, spec)``; '—' for a missing or infinite value (a score that could not be
    computed, e.g. WAPE over a window without demand)."""
    if value is None or not math.isfinite(float(value)):
        return "—"
    return format(value, spec)
