"""Plotly figure builders. Pure functions from service frames to figures; no Streamlit here,
and nothing that needs the network (no map tiles: the network is a plain x/y scatter)."""

from __future__ import annotations

import math
from collections.abc import Mapping

import plotly.graph_objects as go
import polars as pl

# Plotly's config for every chart: no mode bar (it only adds noise on small dashboard charts).
PLOT_CONFIG = {"displayModeBar": False}

HEALTH_COLORS = [[0.0, "#c62828"], [0.5, "#f9a825"], [1.0, "#2e7d32"]]
KIND_SYMBOLS = {
    "central_dc": "square",
    "regional_dc": "circle",
    "store": "triangle-up",
    "vmi": "diamond",
    "supplier": "star",
}
KIND_LABELS = {
    "central_dc": "central DC",
    "regional_dc": "regional DC",
    "store": "store",
    "vmi": "VMI site",
    "supplier": "supplier",
}


def short_label(text: str | None, limit: int = 24) -> str:
    """``text`` cut to ``limit`` characters with an ellipsis (the full text goes in hovers)."""
    text = text or "—"
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _marker_label(name: str | None, code: str) -> str:
    """A location's label on the network picture: its name when short, else its code."""
    return name if name and len(name) <= 12 else code


def _layout(fig: go.Figure, *, height: int, title: str | None = None) -> go.Figure:
    fig.update_layout(
        height=height,
        margin={"l": 10, "r": 10, "t": 40 if title else 10, "b": 10},
        title={"text": title} if title else None,
        showlegend=False,
    )
    return fig


def empty_figure(message: str, *, height: int = 300) -> go.Figure:
    fig = go.Figure()
    fig.add_annotation(text=message, showarrow=False, x=0.5, y=0.5, xref="paper", yref="paper")
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    return _layout(fig, height=height)


def derived_lanes(locations: pl.DataFrame) -> pl.DataFrame:
    """Central DC -> every regional DC, for when the store has no lanes to draw."""
    central = locations.filter(pl.col("kind") == "central_dc").get_column("location").to_list()
    regional = locations.filter(pl.col("kind") == "regional_dc").get_column("location").to_list()
    pairs = [(c, r) for c in central for r in regional]
    return pl.DataFrame(pairs, schema=["from_location", "to_location"], orient="row")


def _lane_trace(
    lanes: pl.DataFrame, where: Mapping[str, tuple[float, float]], *, lateral: bool
) -> go.Scatter | None:
    xs: list[float | None] = []
    ys: list[float | None] = []
    seen: set[frozenset[str]] = set()
    for src, dst in lanes.select("from_location", "to_location").iter_rows():
        pair = frozenset((src, dst))
        if src not in where or dst not in where or pair in seen or len(pair) < 2:
            continue
        seen.add(pair)
        (x0, y0), (x1, y1) = where[src], where[dst]
        xs += [x0, x1, None]
        ys += [y0, y1, None]
    if not xs:
        return None
    return go.Scatter(
        x=xs,
        y=ys,
        mode="lines",
        hoverinfo="skip",
        line={
            "color": "#b0bec5" if lateral else "#607d8b",
            "width": 1 if lateral else 2,
            "dash": "dot" if lateral else "solid",
        },
        name="lateral lanes" if lateral else "lanes",
    )


def network_figure(
    locations: pl.DataFrame, lanes: pl.DataFrame | None = None, *, height: int = 460
) -> go.Figure:
    """The network drawn from coordinates: one marker per location (colour = health index,
    size = stock value, symbol = kind) and a line per lane; lanes out of a central DC solid,
    lateral ones dotted. Without lanes, central DC -> regional DC lines are drawn."""
    located = locations.filter(pl.col("lat").is_not_null() & pl.col("lon").is_not_null())
    if located.is_empty():
        return empty_figure("No location has coordinates (lat/lon) to draw.", height=height)
    if lanes is None or lanes.is_empty() or "from_location" not in lanes.columns:
        lanes = derived_lanes(located)
    where = {
        code: (float(lon), float(lat))
        for code, lon, lat in located.select("location", "lon", "lat").iter_rows()
    }
    kinds = dict(located.select("location", "kind").iter_rows())
    from_central = pl.col("from_location").is_in(
        [c for c, k in kinds.items() if k == "central_dc"]
    ) | pl.col("to_location").is_in([c for c, k in kinds.items() if k == "central_dc"])
    fig = go.Figure()
    for lateral in (True, False):
        subset = lanes.filter(~from_central if lateral else from_central)
        trace = _lane_trace(subset, where, lateral=lateral)
        if trace is not None:
            fig.add_trace(trace)

    health = located.get_column("health_index").cast(pl.Float64).fill_null(float("nan"))
    scale_max = 1.0 if (health.drop_nans().max() or 0) <= 1.0 else 100.0
    values = located.get_column("stock_value").cast(pl.Float64).fill_null(0.0)
    biggest = max(values.max() or 0.0, 1.0)
    sizes = [14 + 30 * math.sqrt(max(v, 0.0) / biggest) for v in values.to_list()]
    names = located.get_column("location_name").to_list()
    codes = located.get_column("location").to_list()
    kinds_in_order = located.get_column("kind").to_list()
    hover = [
        f"<b>{name}</b> ({code})<br>{KIND_LABELS.get(kind, kind)} · {region or '—'}"
        f"<br>stock value {value:,.0f}<br>health index {_fmt(h)}{counts}"
        for name, code, kind, region, value, h, counts in zip(
            names,
            codes,
            kinds_in_order,
            located.get_column("region").to_list(),
            values.to_list(),
            health.to_list(),
            _status_counts(located),
            strict=True,
        )
    ]
    fig.add_trace(
        go.Scatter(
            x=located.get_column("lon").to_list(),
            y=located.get_column("lat").to_list(),
            mode="markers+text",
            text=[_marker_label(n, c) for n, c in zip(names, codes, strict=True)],
            # a VMI or supplier site often sits next to the DC it serves: label it below
            textposition=[
                "bottom center" if k in ("vmi", "supplier") else "top center"
                for k in kinds_in_order
            ],
            textfont={"size": 11},
            hovertext=hover,
            hoverinfo="text",
            marker={
                "size": sizes,
                "color": health.to_list(),
                "cmin": 0.0,
                "cmax": scale_max,
                "colorscale": HEALTH_COLORS,
                "symbol": [KIND_SYMBOLS.get(k, "circle") for k in kinds_in_order],
                "line": {"color": "#37474f", "width": 1},
                "colorbar": {"title": {"text": "health"}, "thickness": 12},
                "showscale": True,
            },
            name="locations",
        )
    )
    mean_lat = sum(where[c][1] for c in where) / len(where)
    fig.update_xaxes(visible=False, constrain="domain")
    # Equirectangular look: a degree of longitude is cos(latitude) as long as one of latitude.
    fig.update_yaxes(
        visible=False, scaleanchor="x", scaleratio=1 / max(math.cos(math.radians(mean_lat)), 0.2)
    )
    _pad_ranges(fig, where)
    return _layout(fig, height=height)


def _status_counts(located: pl.DataFrame) -> list[str]:
    """Hover lines with the short / no stock / excess / dead counts, where the frame has them."""
    present = [
        (column, label)
        for column, label in (
            ("short_count", "short"),
            ("no_stock_count", "no stock"),
            ("excess_count", "excess"),
            ("dead_count", "dead"),
        )
        if column in located.columns
    ]
    if not present:
        return [""] * located.height
    return [
        "<br>" + " · ".join(f"{row[c] or 0} {label}" for c, label in present)
        for row in located.select([c for c, _ in present]).iter_rows(named=True)
    ]


def _pad_ranges(fig: go.Figure, where: Mapping[str, tuple[float, float]]) -> None:
    xs = [x for x, _ in where.values()]
    ys = [y for _, y in where.values()]
    pad_x = max((max(xs) - min(xs)) * 0.12, 1.0)
    pad_y = max((max(ys) - min(ys)) * 0.15, 1.0)
    fig.update_xaxes(range=[min(xs) - pad_x, max(xs) + pad_x])
    fig.update_yaxes(range=[min(ys) - pad_y, max(ys) + pad_y])


def _fmt(value: float | None) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    return f"{value:,.1f}"


def value_bar(
    frame: pl.DataFrame,
    label: str,
    value: str = "stock_value",
    *,
    title: str | None = None,
    height: int = 320,
    sort: bool = True,
) -> go.Figure:
    """Horizontal bars of ``value`` per ``label``, largest at the top."""
    if frame.is_empty():
        return empty_figure("Nothing to show.", height=height)
    data = frame.select(pl.col(label).cast(pl.String).fill_null("—"), pl.col(value))
    if sort:
        data = data.sort(value)
    else:  # keep the given order top to bottom
        data = data.reverse()
    labels = data.get_column(label).to_list()
    positions = list(range(len(labels)))
    fig = go.Figure(
        go.Bar(
            x=data.get_column(value).to_list(),
            y=positions,
            orientation="h",
            marker={"color": "#1f5fad"},
            customdata=labels,
            hovertemplate="%{customdata}: %{x:,.0f}<extra></extra>",
        )
    )
    fig.update_xaxes(tickformat="~s")
    fig.update_yaxes(
        automargin=True,
        tickmode="array",
        tickvals=positions,
        ticktext=[short_label(text) for text in labels],
    )
    return _layout(fig, height=height, title=title)


def ledger_history_figure(
    history: pl.DataFrame, labels: Mapping[str, str] | None = None, *, height: int = 380
) -> go.Figure:
    """Running on hand per location over time, one step line per location."""
    if history.is_empty():
        return empty_figure("No movements recorded for this SKU.", height=height)
    labels = labels or {}
    fig = go.Figure()
    for (location,), part in history.sort("date").group_by(["location"], maintain_order=True):
        fig.add_trace(
            go.Scatter(
                x=part.get_column("date").to_list(),
                y=part.get_column("on_hand").cast(pl.Float64).to_list(),
                mode="lines",
                line={"shape": "hv", "width": 2},
                name=labels.get(location, location),
                hovertemplate="%{x|%Y-%m-%d}: %{y:,.0f}<extra>%{fullData.name}</extra>",
            )
        )
    fig.update_yaxes(title={"text": "on hand"}, rangemode="tozero")
    fig = _layout(fig, height=height)
    fig.update_layout(
        showlegend=True, legend={"orientation": "h", "y": -0.15}, hovermode="x unified"
    )
    return fig
