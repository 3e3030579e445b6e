"""Forecast figures: demand history, the forecast with its bands, the as-of line and the
holiday and festival days. Pure functions from service frames to plotly figures, like
:mod:`ui.charts`; text from the data goes into hovers HTML-escaped (plotly renders tags)."""

from __future__ import annotations

import html
from datetime import date, datetime, time, timedelta

import plotly.graph_objects as go
import polars as pl

from ui.charts import empty_figure

HISTORY_COLOR = "#37474f"
FORECAST_COLOR = "#1f5fad"
BAND_COLORS = ("rgba(31, 95, 173, 0.28)", "rgba(31, 95, 173, 0.12)")  # inner, outer band
HOLIDAY_COLOR = "#ef6c00"
HOLIDAY_SHADE = "rgba(239, 108, 0, 0.08)"

# Readable names of the calendar's holiday and festival phases (control_tower.forecast.holidays)
HOLIDAY_PREFIXES = {
    "spring_festival": "Spring Festival 春节",
    "double_11": "Double 11 双十一",
    "double_12": "Double 12 双十二",
    "618": "618 shopping festival",
    "national_day": "National Day 国庆",
    "golden_week": "Golden Week",
    "labour_day": "Labour Day 劳动节",
    "mid_autumn": "Mid-Autumn 中秋",
}


def holiday_label(name: str) -> str:
    """'double_11_presale' -> 'Double 11 双十一: presale'; 'new_years_day' -> 'new years day'."""
    for prefix, label in HOLIDAY_PREFIXES.items():
        if name == prefix:
            return label
        if name.startswith(prefix + "_"):
            return f"{label}: {name[len(prefix) + 1 :].replace('_', ' ')}"
    return name.replace("_", " ")


def holiday_spans(holidays: pl.DataFrame) -> list[tuple[str, date, date]]:
    """(label, first day, last day) per run of consecutive days of one holiday or phase."""
    spans: list[tuple[str, date, date]] = []
    for name, day in holidays.sort("holiday", "date").select("holiday", "date").iter_rows():
        label = holiday_label(name)
        if spans and spans[-1][0] == label and spans[-1][2] + timedelta(days=1) == day:
            spans[-1] = (label, spans[-1][1], day)
        else:
            spans.append((label, day, day))
    return sorted(spans, key=lambda span: span[1])


def _lines(fig: go.Figure, x: list, y: list, name: str, **style) -> None:
    fig.add_trace(
        go.Scatter(
            x=x,
            y=y,
            mode="lines",
            name=name,
            hovertemplate="%{y:,.1f}",
            **style,
        )
    )


def forecast_figure(
    history: pl.DataFrame,
    forecast: pl.DataFrame,
    *,
    as_of: date,
    holidays: pl.DataFrame | None = None,
    height: int = 440,
) -> go.Figure:
    """Daily demand before the as-of date (and the actuals after it, where the data has them),
    the forecast mean, the p50 line when there is one, shaded bands up to p90 and p95 (from
    p50, or from the mean for aggregates, which have no p50), a line at the as-of date and the
    holiday and festival days (shaded, named in the hover).

    ``history``: date, quantity. ``forecast``: date, mean, p90, p95 and optionally p50.
    ``holidays``: date, holiday."""
    if forecast.is_empty() and history.is_empty():
        return empty_figure("No demand history and no forecast to show.", height=height)
    fig = go.Figure()
    history = history.sort("date")
    before = history.filter(pl.col("date") <= as_of)
    after = history.filter(pl.col("date") > as_of)
    if not before.is_empty():
        _lines(
            fig,
            before.get_column("date").to_list(),
            before.get_column("quantity").to_list(),
            "demand",
            line={"color": HISTORY_COLOR, "width": 1.5},
        )
    if not after.is_empty():
        _lines(
            fig,
            after.get_column("date").to_list(),
            after.get_column("quantity").to_list(),
            "actual after as-of",
            line={"color": HISTORY_COLOR, "width": 1.5, "dash": "dot"},
        )

    if not forecast.is_empty():
        forecast = forecast.sort("date")
        days = forecast.get_column("date").to_list()
        has_p50 = "p50" in forecast.columns
        base = forecast.get_column("p50" if has_p50 else "mean").to_list()
        base_name = "p50" if has_p50 else "mean"
        # Band base (invisible), then p90 filled down to it, then p95 filled down to p90.
        fig.add_trace(
            go.Scatter(
                x=days,
                y=base,
                mode="lines",
                line={"width": 0},
                hoverinfo="skip",
                showlegend=False,
                name="band base",
            )
        )
        _lines(
            fig,
            days,
            forecast.get_column("p90").to_list(),
            f"{base_name}–p90",
            line={"width": 0, "color": FORECAST_COLOR},
            fill="tonexty",
            fillcolor=BAND_COLORS[0],
        )
        _lines(
            fig,
            days,
            forecast.get_column("p95").to_list(),
            "p90–p95",
            line={"width": 0, "color": FORECAST_COLOR},
            fill="tonexty",
            fillcolor=BAND_COLORS[1],
        )
        if has_p50:
            _lines(
                fig,
                days,
                base,
                "p50 (median)",
                line={"color": FORECAST_COLOR, "width": 1, "dash": "dash"},
            )
        _lines(
            fig,
            days,
            forecast.get_column("mean").to_list(),
            "forecast mean",
            line={"color": FORECAST_COLOR, "width": 2.5},
        )

    _holidays(fig, holidays)
    fig.add_shape(
        type="line",
        x0=as_of,
        x1=as_of,
        xref="x",
        y0=0,
        y1=1,
        yref="paper",
        line={"color": "#c62828", "width": 1.5, "dash": "dash"},
    )
    fig.add_annotation(
        x=as_of,
        y=1,
        xref="x",
        yref="paper",
        text=f"as of {as_of}",
        showarrow=False,
        xanchor="right",
        yanchor="bottom",
        font={"color": "#c62828", "size": 11},
    )
    fig.update_yaxes(title={"text": "units per day"}, rangemode="tozero")
    fig.update_layout(
        height=height,
        margin={"l": 10, "r": 10, "t": 30, "b": 10},
        showlegend=True,
        legend={"orientation": "h", "y": -0.12, "traceorder": "normal"},
        hovermode="x unified",
    )
    return fig


def _holidays(fig: go.Figure, holidays: pl.DataFrame | None) -> None:
    """Shade each holiday span and put a hoverable marker on each holiday day at the foot of
    the chart, named in the hover."""
    if holidays is None or holidays.is_empty():
        return
    for _, first, last in holiday_spans(holidays):
        fig.add_vrect(
            x0=datetime.combine(first, time()) - timedelta(hours=12),
            x1=datetime.combine(last, time()) + timedelta(hours=12),
            fillcolor=HOLIDAY_SHADE,
            line_width=0,
            layer="below",
        )
    by_day = (
        holidays.with_columns(pl.col("holiday").map_elements(holiday_label, return_dtype=pl.String))
        .group_by("date")
        .agg(pl.col("holiday").unique().sort().str.join(" · "))
        .sort("date")
    )
    fig.add_trace(
        go.Scatter(
            x=by_day.get_column("date").to_list(),
            y=[0] * by_day.height,
            mode="markers",
            marker={"symbol": "triangle-up", "size": 7, "color": HOLIDAY_COLOR},
            name="holiday / festival",
            customdata=[html.escape(t) for t in by_day.get_column("holiday").to_list()],
            hovertemplate="%{customdata}",
        )
    )
