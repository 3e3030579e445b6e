"""Figures of the Plan page: the plan's flows drawn between locations, the cost breakdown of
runs side by side, and the simulator's comparison of policies. Pure functions, no Streamlit."""

from __future__ import annotations

import math

import plotly.graph_objects as go
import polars as pl

from ui.charts import KIND_LABELS, KIND_SYMBOLS, _layout, _pad_ranges, empty_figure, short_label

FLOW_COLORS = {
    "neighbour": "#ef6c00",
    "central DC": "#1565c0",
    "VMI": "#6a1b9a",
    "supplier": "#2e7d32",
    "supplier stock": "#00897b",
}
COST_LABELS = {
    "shortage": "shortage",
    "below_safety_stock": "below safety stock",
    "holding": "holding",
    "transport": "transport",
    "ordering": "ordering",
    "handling": "handling",
}
POLICY_COLORS = {"optimizer": "#1565c0", "minmax": "#ef6c00", "none": "#9e9e9e"}


def flow_figure(locations: pl.DataFrame, flows: pl.DataFrame, *, height: int = 480) -> go.Figure:
    """One line per origin -> destination with planned units, its width by units and its
    colour by source (neighbour, central DC, VMI, supplier); locations as markers by kind.
    ``locations``: location, name, kind, lat, lon; ``flows``: origin, destination,
    source_kind, units, lines (a supplier's origin is its site)."""
    located = locations.filter(pl.col("lat").is_not_null() & pl.col("lon").is_not_null())
    if located.is_empty():
        return empty_figure("No location has coordinates (lat/lon) to draw.", height=height)
    where = {
        code: (float(lon), float(lat))
        for code, lon, lat in located.select("location", "lon", "lat").iter_rows()
    }
    fig = go.Figure()
    biggest = max(float(flows["units"].max() or 0) if flows.height else 0.0, 1.0)
    shown: set[str] = set()
    for row in flows.iter_rows(named=True):
        if row["origin"] not in where or row["destination"] not in where:
            continue
        (x0, y0), (x1, y1) = where[row["origin"]], where[row["destination"]]
        kind = row["source_kind"]
        fig.add_trace(
            go.Scatter(
                x=[x0, x1],
                y=[y0, y1],
                mode="lines",
                line={
                    "color": FLOW_COLORS.get(kind, "#607d8b"),
                    "width": 1.5 + 9 * math.sqrt(row["units"] / biggest),
                },
                opacity=0.75,
                hovertext=f"{row['origin']} → {row['destination']}: {row['units']:,} units in "
                f"{row['lines']:,} lines ({kind})",
                hoverinfo="text",
                name=kind,
                legendgroup=kind,
                showlegend=kind not in shown,
            )
        )
        shown.add(kind)
        # an arrow head at the destination end
        fig.add_annotation(
            x=x1,
            y=y1,
            ax=x0 + 0.8 * (x1 - x0),
            ay=y0 + 0.8 * (y1 - y0),
            xref="x",
            yref="y",
            axref="x",
            ayref="y",
            showarrow=True,
            arrowhead=3,
            arrowsize=1.2,
            arrowwidth=1.5,
            arrowcolor=FLOW_COLORS.get(kind, "#607d8b"),
            text="",
        )
    kinds = located["kind"].to_list()
    fig.add_trace(
        go.Scatter(
            x=located["lon"].to_list(),
            y=located["lat"].to_list(),
            mode="markers+text",
            text=[
                short_label(n or c, 18)
                for n, c in zip(located["name"], located["location"], strict=True)
            ],
            textposition="top center",
            textfont={"size": 10},
            hovertext=[
                f"{c} · {KIND_LABELS.get(k, k)}"
                for c, k in zip(located["location"], kinds, strict=True)
            ],
            hoverinfo="text",
            marker={
                "size": 13,
                "color": "#eceff1",
                "symbol": [KIND_SYMBOLS.get(k, "circle") for k in kinds],
                "line": {"color": "#37474f", "width": 1.5},
            },
            name="locations",
            showlegend=False,
        )
    )
    mean_lat = sum(w[1] for w in where.values()) / len(where)
    fig.update_xaxes(visible=False, constrain="domain")
    fig.update_yaxes(
        visible=False, scaleanchor="x", scaleratio=1 / max(math.cos(math.radians(mean_lat)), 0.2)
    )
    _pad_ranges(fig, where)
    if not flows.height:
        fig.add_annotation(
            text="No transfer or order in this plan",
            showarrow=False,
            x=0.5,
            y=0.02,
            xref="paper",
            yref="paper",
        )
    return _layout(fig, height=height)


def cost_figure(runs: dict[str, dict[str, float]], *, height: int = 320) -> go.Figure:
    """The cost breakdown of one or more runs (name -> costs) as grouped bars per item."""
    if not runs:
        return empty_figure("No plan yet", height=height)
    fig = go.Figure()
    for name, costs in runs.items():
        items = [k for k in COST_LABELS if k in costs]
        fig.add_trace(
            go.Bar(
                x=[COST_LABELS[k] for k in items],
                y=[costs[k] for k in items],
                name=name,
                hovertemplate="%{x}: %{y:,.0f}<extra>" + name + "</extra>",
            )
        )
    fig.update_layout(barmode="group", yaxis_title="cost over the horizon")
    return _layout(fig, height=height)


def _label(row: dict) -> str:
    scale = row.get("minmax_scale")
    return row["policy"] if scale is None else f"{row['policy']} x{scale:g}"


def policy_figure(runs: pl.DataFrame, *, height: int = 360) -> go.Figure:
    """Fill rate against average inventory value per replay: the optimizer a point, min/max a
    curve over its safety-stock scales, doing nothing a reference point."""
    if runs.is_empty():
        return empty_figure("No replay yet", height=height)
    fig = go.Figure()
    for policy in ("minmax", "optimizer", "none"):
        part = runs.filter(pl.col("policy") == policy)
        if "minmax_scale" in part.columns and policy == "minmax":
            part = part.sort("minmax_scale")
        if part.is_empty():
            continue
        rows = part.to_dicts()
        fig.add_trace(
            go.Scatter(
                x=[r["avg_inventory_value"] for r in rows],
                y=[100 * r["fill_rate"] for r in rows],
                mode="lines+markers+text" if policy == "minmax" else "markers+text",
                text=[_label(r) for r in rows],
                textposition="bottom right",
                marker={"size": 12 if policy == "optimizer" else 8, "color": POLICY_COLORS[policy]},
                line={"color": POLICY_COLORS[policy]},
                name=policy,
                hovertemplate="%{text}: fill %{y:.2f}%, inventory %{x:,.0f}<extra></extra>",
            )
        )
    fig.update_layout(xaxis_title="average inventory value", yaxis_title="fill rate (%)")
    return _layout(fig, height=height)


def policy_bars(runs: pl.DataFrame, measure: str, title: str, *, height: int = 260) -> go.Figure:
    """One bar per replay for one measure (stock-out days, costs, ...)."""
    if runs.is_empty() or measure not in runs.columns:
        return empty_figure("No replay yet", height=height)
    rows = runs.to_dicts()
    fig = go.Figure(
        go.Bar(
            x=[_label(r) for r in rows],
            y=[r[measure] for r in rows],
            marker={"color": [POLICY_COLORS.get(r["policy"], "#607d8b") for r in rows]},
            hovertemplate="%{x}: %{y:,.0f}<extra></extra>",
        )
    )
    return _layout(fig, height=height, title=title)


def daily_figure(daily: pl.DataFrame, *, height: int = 320) -> go.Figure:
    """Each replay's fill rate day by day."""
    if daily.is_empty():
        return empty_figure("No replay yet", height=height)
    fig = go.Figure()
    for (label,), part in daily.sort("date").group_by(["policy"], maintain_order=True):
        base = str(label).split(" ")[0]
        fig.add_trace(
            go.Scatter(
                x=part["date"].to_list(),
                y=(100 * part["fill_rate"]).to_list(),
                mode="lines",
                name=str(label),
                line={
                    "color": POLICY_COLORS.get(base, "#607d8b"),
                    "width": 2 if base == "optimizer" else 1,
                },
            )
        )
    fig.update_layout(yaxis_title="fill rate that day (%)")
    return _layout(fig, height=height)
