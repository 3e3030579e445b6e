"""Read-only answers to the questions managers ask: a KPI over a named period against the
period before, a measure ranked by location, region, category, supplier or product, the
cost of moving stock along a lane, and the few lookups these need. Nothing here writes.

Every figure comes from the service that owns it; this module only picks the window, the
scope and the grouping:

- **periods** (:func:`period`): the data's today is :func:`control_tower.position.
  resolve_as_of` (the store's as-of, never the wall clock). ``this_week`` is Monday to today
  against the same weekdays of the week before; ``this_month`` is month to date against the
  same days of the previous month (clamped to its last day); ``last_month`` is the previous
  calendar month against the month before it (:func:`control_tower.vmi.month_period`);
  ``last_30_days`` and ``current`` are the 30 days ending today against the 30 before
  (``current`` reads stock figures at today, as the Overview tiles do);
- **network KPIs** are :func:`control_tower.kpis.network_kpis` evaluated at each window (its
  ``as_of`` = the window's last day, ``period_days`` = its length);
- **scoped service** (fill rate, stock-out days per SKU x location): demand served is
  :data:`control_tower.kpis.SERVICE_WINDOW_SQL` over the window (the same statement the
  health index's service score uses), demand the ``demand_history`` over the same days; summed
  over the network they equal ``network_kpis``' fill rate (a test checks it);
- **scoped turnover**: cost of goods sold x 365 / days over the exact daily average owned
  inventory value, as :mod:`control_tower.kpis` defines it, per SKU x location (summed over
  the network it equals ``network_kpis``' turnover; a test checks it);
- **forecast bias** (realised): (Σ forecast - Σ actual) / Σ actual
  (:func:`control_tower.forecast.metrics.bias`) over the days of the window, each day's
  forecast the latest one made before it; without such forecasts, the latest run's backtest
  bias (series weighted as the run weights them);
- **supplier on-time rate**: :func:`control_tower.suppliers.supplier_performance` over PO lines
  ordered in the window (first receipt by the expected date plus the grace);
- **stock-outs, below safety stock, excess**: the latest exception run's items (the rules run
  now when none is stored); **late inbound**: :func:`control_tower.position.inbound` past its
  expected date by more than the rule's grace;
- **moving stock** (:func:`move_cost`): the cost parts an action's explanation shows for a
  transfer (:class:`control_tower.explain.CostPart`): the lane's cost per unit x units, its
  fixed cost once a truck (:func:`control_tower.optimize.readout.trucks`) and the handling of
  a transfer line, for a move standing alone (its own units on the departure).
"""

from __future__ import annotations

import calendar
import math
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import numpy as np
import polars as pl

from control_tower import exceptions, kpis, position, suppliers, vmi
from control_tower.config import Settings
from control_tower.errors import ControlTowerError, NotFoundError
from control_tower.explain import CostPart
from control_tower.forecast import metrics
from control_tower.optimize.readout import trucks
from control_tower.store import Store


class InsightError(ControlTowerError, ValueError):
    """A question the core cannot answer as asked (a measure not kept for that grouping)."""

    title = "Cannot answer that"


# -- master data lookups ----------------------------------------------------------------------
PRODUCT_SQL = """
SELECT sku, name, category, CAST(unit_cost AS DOUBLE) AS unit_cost,
       CAST(price AS DOUBLE) AS price
FROM products WHERE sku = $sku
"""
LOCATION_SQL = "SELECT code, name, kind, region FROM locations WHERE code = $code"
SUPPLIER_SQL = "SELECT code, name, vmi, location FROM suppliers WHERE code = $code"
CATEGORIES_SQL = "SELECT DISTINCT category FROM products WHERE category IS NOT NULL"
REGIONS_SQL = "SELECT DISTINCT region FROM locations WHERE region IS NOT NULL"
PRODUCTS_SQL = """
SELECT sku, name, category, CAST(unit_cost AS DOUBLE) AS unit_cost,
       CAST(price AS DOUBLE) AS price FROM products ORDER BY sku
"""
LOCATIONS_SQL = "SELECT code, name, kind, region FROM locations ORDER BY code"
SUPPLIERS_SQL = "SELECT code, name, vmi, location FROM suppliers ORDER BY code"
SKU_SUPPLIERS_SQL = "SELECT DISTINCT sku, supplier FROM supplier_products ORDER BY sku, supplier"


def product(store: Store, sku: str) -> dict:
    """sku, name, category, unit_cost, price of one product; NotFoundError when unknown."""
    rows = store.query(PRODUCT_SQL, {"sku": sku})
    if rows.height == 0:
        raise NotFoundError(f"no product with SKU {sku!r}", title="Unknown SKU")
    return rows.row(0, named=True)


def location(store: Store, code: str) -> dict:
    """code, name, kind, region of one location; NotFoundError when unknown."""
    rows = store.query(LOCATION_SQL, {"code": code})
    if rows.height == 0:
        raise NotFoundError(f"no location {code!r}", title="Unknown location")
    return rows.row(0, named=True)


def supplier(store: Store, code: str) -> dict:
    """code, name, vmi, location (its site) of one supplier; NotFoundError when unknown."""
    rows = store.query(SUPPLIER_SQL, {"code": code})
    if rows.height == 0:
        raise NotFoundError(f"no supplier {code!r}", title="Unknown supplier")
    return rows.row(0, named=True)


def products(store: Store) -> pl.DataFrame:
    return store.query(PRODUCTS_SQL)


def locations(store: Store) -> pl.DataFrame:
    return store.query(LOCATIONS_SQL)


def supplier_list(store: Store) -> pl.DataFrame:
    return store.query(SUPPLIERS_SQL)


def sku_suppliers(store: Store) -> pl.DataFrame:
    """sku, supplier: every supplier that supplies each SKU."""
    return store.query(SKU_SUPPLIERS_SQL)


def _match(text: str, names: list[str], what: str) -> str:
    """The one of ``names`` that ``text`` names: equal, or one part of a bilingual name
    ("Snacks" or "休闲零食" for "Snacks 休闲零食"), or contained in it."""
    wanted = text.strip().casefold()
    for name in names:
        if wanted == name.casefold() or wanted in (p.casefold() for p in name.split()):
            return name
    found = [n for n in names if wanted and wanted in n.casefold()]
    if len(found) == 1:
        return found[0]
    raise NotFoundError(
        f"no {what} {text!r}; {what}s are {', '.join(sorted(names))}", title=f"Unknown {what}"
    )


def category(store: Store, text: str) -> str:
    """The category ``text`` names (see :func:`_match`); NotFoundError listing them."""
    return _match(text, [c for (c,) in store.rows(CATEGORIES_SQL)], "category")


def region(store: Store, text: str) -> str:
    """The region ``text`` names (see :func:`_match`); NotFoundError listing them."""
    return _match(text, [r for (r,) in store.rows(REGIONS_SQL)], "region")


# -- periods ----------------------------------------------------------------------------------
PERIODS = ("this_week", "this_month", "last_month", "last_30_days", "current")


@dataclass(frozen=True)
class Window:
    """Days ``start`` to ``end``, both included."""

    start: date
    end: date

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def as_dict(self) -> dict:
        return {"start": self.start.isoformat(), "end": self.end.isoformat(), "days": self.days}


@dataclass(frozen=True)
class Period:
    """A named period of the data's time and the one it is compared with."""

    name: str
    today: date
    current: Window
    previous: Window
    definition: str

    def as_dict(self) -> dict:
        return {
            "name": self.name,
            "today": self.today.isoformat(),
            "current": self.current.as_dict(),
            "previous": self.previous.as_dict(),
            "definition": self.definition,
        }


def _same_day(year: int, month: int, day: int) -> date:
    return date(year, month, min(day, calendar.monthrange(year, month)[1]))


def period(store: Store, name: str, *, today: date | None = None) -> Period:
    """The windows of a named period as of the data's today (see the module docstring)."""
    today = position.resolve_as_of(store, today)
    if name == "this_week":
        start = today - timedelta(days=today.weekday())
        current = Window(start, today)
        previous = Window(start - timedelta(days=7), today - timedelta(days=7))
        text = "this week: Monday to the data's today, against the same days of the week before"
    elif name == "this_month":
        start = today.replace(day=1)
        before = start - timedelta(days=1)
        current = Window(start, today)
        previous = Window(before.replace(day=1), _same_day(before.year, before.month, today.day))
        text = (
            "this month: month to date (the 1st to the data's today), against the same days "
            "of the previous month"
        )
    elif name == "last_month":
        first, last = vmi.month_period(today)
        current = Window(first, last)
        previous = Window(*vmi.month_period(first))
        text = "last month: the previous calendar month, against the month before it"
    elif name in ("last_30_days", "current"):
        current = Window(today - timedelta(days=29), today)
        previous = Window(today - timedelta(days=59), today - timedelta(days=30))
        text = (
            "the 30 days ending the data's today, against the 30 days before"
            if name == "last_30_days"
            else "now: stock figures at the data's today, flows over the 30 days ending it, "
            "against the same figures 30 days earlier"
        )
    else:
        raise InsightError(f"unknown period {name!r}; periods are {', '.join(PERIODS)}")
    return Period(name, today, current, previous, text)


# -- service, turnover, forecast error per SKU x location over a window -----------------------
DEMAND_SQL = """
SELECT sku, location, CAST(sum(quantity) AS BIGINT) AS demand
FROM demand_history WHERE date >= $start AND date <= $end
GROUP BY ALL
"""


def service(store: Store, window: Window) -> pl.DataFrame:
    """Per SKU x location with demand in the window: demand, served (Σ min(sales, demand)
    per day, :data:`control_tower.kpis.SERVICE_WINDOW_SQL`), stockout_days (days with demand
    above sales). Σ served / Σ demand is the fill rate of :func:`control_tower.kpis.
    network_kpis` over the same days."""
    served = store.query(
        kpis.SERVICE_WINDOW_SQL,
        {
            "as_of": window.end,
            "window_start": position.midnight(window.start),
            "cutoff": position.midnight(window.end + timedelta(days=1)),
        },
    )
    demand = store.query(DEMAND_SQL, {"start": window.start, "end": window.end})
    return demand.join(served, on=["sku", "location"], how="left").select(
        "sku",
        "location",
        pl.col("demand").cast(pl.Int64),
        pl.col("served_window_units").fill_null(0).cast(pl.Int64).alias("served"),
        pl.col("stockout_days_window").fill_null(0).cast(pl.Int64).alias("stockout_days"),
    )


# Owned movements and sales per SKU x location within a window: weighted = Σ quantity x days
# from the movement to the window's end (inclusive), as kpis.PERIOD_MOVES_SQL counts them.
MOVES_SQL = """
SELECT sku, location,
       coalesce(sum(quantity) FILTER (WHERE owner = 'company'), 0) AS qty,
       coalesce(sum(quantity * (date_diff('day', CAST(ts AS DATE), $end) + 1))
                FILTER (WHERE owner = 'company'), 0) AS weighted,
       coalesce(-sum(quantity) FILTER (WHERE movement_type = 'sale'), 0) AS sold
FROM ledger
WHERE ts >= $start AND ts < $cutoff
GROUP BY ALL
"""


def turnover_parts(store: Store, window: Window, settings: Settings | None = None) -> pl.DataFrame:
    """Per SKU x location: cogs (sales x unit cost over the window) and avg_value (the exact
    daily average owned inventory value over it), the two parts of turnover as
    :mod:`control_tower.kpis` defines it; turnover of any group = Σ cogs x 365 / days ÷
    Σ avg_value (:func:`turnover`)."""
    settings = settings or Settings()
    end_pos = position.full_position(store, as_of=window.end, settings=settings.position).select(
        "sku", "location", "owned_on_hand", pl.col("unit_cost").fill_null(0.0)
    )
    moves = store.query(
        MOVES_SQL,
        {
            "start": position.midnight(window.start),
            "cutoff": position.midnight(window.end + timedelta(days=1)),
            "end": window.end,
        },
    )
    costs = products(store).select("sku", pl.col("unit_cost").fill_null(0.0).alias("cost"))
    both = (
        end_pos.join(moves, on=["sku", "location"], how="full", coalesce=True)
        .join(costs, on="sku", how="left")
        .with_columns(
            pl.col("owned_on_hand", "qty", "weighted", "sold").cast(pl.Float64).fill_null(0.0),
            pl.col("cost").fill_null(0.0),
        )
    )
    start_qty = pl.col("owned_on_hand") - pl.col("qty")
    return both.select(
        "sku",
        "location",
        (pl.col("sold") * pl.col("cost")).alias("cogs"),
        ((start_qty + pl.col("weighted") / window.days) * pl.col("cost")).alias("avg_value"),
    )


def turnover(cogs: float, avg_value: float, days: int) -> float | None:
    """Inventory turnover per year: cost of goods sold x 365 / days ÷ average inventory value
    (DOMAIN.md, KPIs); None without inventory."""
    return (cogs * 365.0 / days) / avg_value if avg_value else None


FORECAST_ERRORS_SQL = """
WITH actual AS (
    SELECT sku, location, date, quantity FROM demand_history
    WHERE date >= $start AND date <= $end
), matched AS (
    SELECT a.sku, a.location, a.date, a.quantity, f.mean,
           row_number() OVER (PARTITION BY a.sku, a.location, a.date ORDER BY f.run_id DESC) AS n
    FROM actual a
    JOIN forecasts f ON f.sku = a.sku AND f.location = a.location AND f.date = a.date
    JOIN forecast_runs fr ON fr.run_id = f.run_id AND fr.as_of < a.date
)
SELECT sku, location, sum(mean)::DOUBLE AS forecast, sum(quantity)::DOUBLE AS actual,
       count(*) AS days
FROM matched WHERE n = 1
GROUP BY ALL
"""


def forecast_errors(store: Store, window: Window) -> pl.DataFrame:
    """Per SKU x location, over the window's days that a forecast made before them covers:
    forecast (Σ mean), actual (Σ demand), days."""
    return store.query(FORECAST_ERRORS_SQL, {"start": window.start, "end": window.end})


def bias(forecast: float, actual: float) -> float | None:
    """(Σ forecast - Σ actual) / Σ actual (:func:`control_tower.forecast.metrics.bias`);
    None when nothing was forecast or sold."""
    if not forecast and not actual:
        return None
    value = metrics.bias(np.array([actual]), np.array([forecast]))
    return value if math.isfinite(value) else None


def backtest_bias(store: Store) -> tuple[pl.DataFrame, int | None]:
    """The latest forecast run's backtest bias per series (sku, location, bias, weight) and
    the run's id; an empty frame and None without a run."""
    from control_tower.forecast.reads import series_summary
    from control_tower.forecast.service import latest_run

    run = latest_run(store)
    if run is None:
        empty = {"sku": pl.String, "location": pl.String, "bias": pl.Float64, "weight": pl.Float64}
        return pl.DataFrame(schema=empty), None
    frame = series_summary(store, run.run_id).select("sku", "location", "bias", "weight")
    return frame.filter(pl.col("bias").is_not_null() & pl.col("bias").is_finite()), run.run_id


def weighted_bias(frame: pl.DataFrame) -> float | None:
    """Series' backtest biases weighted as the run weights them
    (:func:`control_tower.forecast.metrics.weighted_mean`)."""
    if frame.height == 0:
        return None
    return metrics.weighted_mean(frame["bias"].to_numpy(), frame["weight"].to_numpy())


def on_time(store: Store, window: Window, settings: Settings | None = None) -> pl.DataFrame:
    """:func:`control_tower.suppliers.supplier_performance` over the PO lines ordered in the
    window (receipts up to its last day)."""
    return suppliers.supplier_performance(store, **_on_time_window(window, settings))


def inbound_on_time(store: Store, window: Window, settings: Settings | None = None) -> pl.DataFrame:
    """:func:`control_tower.suppliers.inbound_on_time` per receiving location over the
    window: PO lines ordered and transfers shipped in it."""
    return suppliers.inbound_on_time(store, **_on_time_window(window, settings))


def _on_time_window(window: Window, settings: Settings | None) -> dict:
    grace = (settings or Settings()).suppliers.on_time_grace_days
    return {"as_of": window.end, "days": window.days, "grace_days": grace}


def pooled_on_time(perf: pl.DataFrame) -> tuple[float | None, int]:
    """The on-time rate over every supplier's received lines (each supplier's rate weighted
    by its received lines) and how many lines that is."""
    received = perf.filter(pl.col("on_time_rate").is_not_null())
    lines = int(received["received_lines"].sum()) if received.height else 0
    if not lines:
        return None, 0
    on = float((received["on_time_rate"] * received["received_lines"]).sum())
    return on / lines, lines


# -- KPIs -------------------------------------------------------------------------------------
METRICS: dict[str, dict[str, str]] = {
    "fill_rate": {"unit": "share", "better": "higher"},
    "turnover": {"unit": "times a year", "better": "higher"},
    "days_of_inventory": {"unit": "days", "better": "lower"},
    "inventory_value": {"unit": "money", "better": "lower"},
    "health_index": {"unit": "points of 100", "better": "higher"},
    "dead_stock_value": {"unit": "money", "better": "lower"},
    "stockout_days": {"unit": "SKU x location x days", "better": "lower"},
    "on_time_rate": {"unit": "share", "better": "higher"},
    "forecast_bias": {"unit": "share", "better": "closer to 0"},
}
PRODUCT_KPIS = ("fill_rate", "stockout_days", "forecast_bias")  # kept per SKU x location
NETWORK_KPIS = (
    "fill_rate",
    "turnover",
    "days_of_inventory",
    "inventory_value",
    "health_index",
    "dead_stock_value",
    "stockout_days",
)


@dataclass(frozen=True)
class Scope:
    """What a figure is narrowed to (all None: the network)."""

    location: str | None = None
    region: str | None = None
    category: str | None = None
    supplier: str | None = None
    sku: str | None = None  # one product (anywhere, or within the place): PRODUCT_KPIS only

    @property
    def name(self) -> str:
        for kind in ("location", "region", "category", "supplier"):
            if getattr(self, kind):
                return kind
        return "product" if self.sku else "network"

    @property
    def value(self) -> str | None:
        name = self.name
        if name == "network":
            return None
        return self.sku if name == "product" else getattr(self, name)

    def rows(self, frame: pl.DataFrame, store: Store) -> pl.DataFrame:
        """``frame`` (with sku and location columns) narrowed to the scope: to its place (a
        location or a region) and to its products (one SKU, a category, a supplier's), each
        that is set."""
        if self.sku:
            frame = frame.filter(pl.col("sku") == self.sku)
        if self.location:
            frame = frame.filter(pl.col("location") == self.location)
        elif self.region:
            codes = locations(store).filter(pl.col("region") == self.region)["code"]
            frame = frame.filter(pl.col("location").is_in(codes.to_list()))
        if self.category:
            skus = products(store).filter(pl.col("category") == self.category)["sku"]
            frame = frame.filter(pl.col("sku").is_in(skus.to_list()))
        if self.supplier:
            skus = sku_suppliers(store).filter(pl.col("supplier") == self.supplier)["sku"]
            frame = frame.filter(pl.col("sku").is_in(skus.to_list()))
        return frame


def _kpi_value(
    store: Store, metric: str, window: Window, scope: Scope, settings: Settings
) -> tuple[float | None, dict]:
    """One metric over one window: (value, its parts)."""
    kind = scope.name
    if scope.sku and metric not in PRODUCT_KPIS:
        raise InsightError(f"{metric} is not kept per product: {', '.join(PRODUCT_KPIS)} are")
    if metric in NETWORK_KPIS and kind == "network":
        tiles = kpis.network_kpis(
            store, as_of=window.end, period_days=window.days, settings=settings.position
        )
        parts: dict[str, Any] = {"formula": tiles[metric].formula}
        if metric == "fill_rate":
            frame = service(store, window)
            parts |= {"demand": int(frame["demand"].sum()), "served": int(frame["served"].sum())}
        if metric == "inventory_value":  # the units it is made of, as a place's figure gives
            frame = kpis.stock_value_by(
                store, "location", as_of=window.end, settings=settings.position
            )
            parts["units"] = int(frame["units"].sum())
        return tiles[metric].value, parts
    if kind == "supplier" and metric not in ("on_time_rate", "fill_rate", "forecast_bias"):
        raise InsightError(f"{metric} is not kept per supplier")
    if metric in ("fill_rate", "stockout_days"):
        frame = scope.rows(service(store, window), store)
        demand, served = int(frame["demand"].sum()), int(frame["served"].sum())
        if metric == "stockout_days":
            return float(frame["stockout_days"].sum()), {"sku_locations": frame.height}
        return (served / demand if demand else None), {"demand": demand, "served": served}
    if metric in ("turnover", "days_of_inventory"):
        frame = scope.rows(turnover_parts(store, window, settings), store)
        cogs, avg = float(frame["cogs"].sum()), float(frame["avg_value"].sum())
        turns = turnover(cogs, avg, window.days)
        parts = {"cogs": cogs, "average_inventory_value": avg}
        if metric == "turnover":
            return turns, parts
        return (365.0 / turns if turns else None), parts
    if metric == "inventory_value":
        by = {"location": "location", "region": "region", "category": "category"}[kind]
        frame = kpis.stock_value_by(store, by, as_of=window.end, settings=settings.position)
        row = frame.filter(pl.col(by) == scope.value)
        value = float(row["stock_value"].sum()) if row.height else 0.0
        return value, {"units": int(row["units"].sum()) if row.height else 0}
    if metric == "health_index":
        if kind == "location":
            frame = kpis.health_by_location(store, as_of=window.end, settings=settings.position)
            row = frame.filter(pl.col("location") == scope.location)
            return (row["health_index"][0] if row.height else None), {}
        # a region's, a category's, a supplier's, a product's: the same value-weighted mean of
        # the SKU x location scores, over its rows
        rows = scope.rows(
            kpis.scored_position(store, as_of=window.end, settings=settings.position), store
        )
        return kpis.health_index_of(rows), {}
    if metric == "dead_stock_value":
        frame = scope.rows(
            kpis.dead_stock(store, as_of=window.end, settings=settings.position), store
        )
        return float(frame["stock_value"].sum()), {"sku_locations": frame.height}
    if metric == "on_time_rate" and kind in ("location", "region"):
        # what came into the place: its PO lines and the transfers sent to it
        found = scope.rows(inbound_on_time(store, window, settings), store)
        rate, lines = pooled_on_time(found)
        return rate, {
            "received_lines": lines,
            "lines": int(found["lines"].sum()),
            "definition": "inbound PO lines and transfers received by their expected date",
        }
    if metric == "on_time_rate":
        if kind not in ("network", "supplier"):
            raise InsightError(
                "the on-time rate is kept for a supplier, a location, a region or all suppliers"
            )
        perf = on_time(store, window, settings)
        if kind == "supplier":
            perf = perf.filter(pl.col("supplier") == scope.supplier)
        rate, lines = pooled_on_time(perf)
        return rate, {"received_lines": lines, "lines": int(perf["lines"].sum())}
    if metric == "forecast_bias":
        frame = scope.rows(forecast_errors(store, window), store)
        f, a = float(frame["forecast"].sum()), float(frame["actual"].sum())
        return bias(f, a), {"forecast": f, "actual": a, "days_covered": int(frame["days"].sum())}
    raise InsightError(f"unknown metric {metric!r}; metrics are {', '.join(METRICS)}")


def kpi(
    store: Store,
    metric: str,
    period_name: str = "current",
    *,
    scope: Scope | None = None,
    settings: Settings | None = None,
) -> dict:
    """A metric over a named period and the period before (see the module docstring):
    metric, scope, value, previous, change, unit, better, parts of each, the period."""
    if metric not in METRICS:
        raise InsightError(f"unknown metric {metric!r}; metrics are {', '.join(METRICS)}")
    settings = settings or Settings()
    scope = scope or Scope()
    when = period(store, period_name)
    value, parts = _kpi_value(store, metric, when.current, scope, settings)
    previous, previous_parts = _kpi_value(store, metric, when.previous, scope, settings)
    out = {
        "metric": metric,
        "scope": scope.name,
        "scope_value": scope.value,
        "value": value,
        "previous": previous,
        "change": value - previous if value is not None and previous is not None else None,
        "parts": parts,
        "previous_parts": previous_parts,
        "period": when.as_dict(),
        **METRICS[metric],
    }
    if metric == "forecast_bias" and not parts.get("days_covered"):
        frame, run_id = backtest_bias(store)
        out["backtest_bias"] = weighted_bias(scope.rows(frame, store))
        out["backtest_run"] = run_id
    return out


# -- the latest exceptions -------------------------------------------------------------------
def current_exceptions(
    store: Store, settings: Settings | None = None
) -> tuple[pl.DataFrame, str, date]:
    """The latest exception run's items (snoozed ones left out), or the rules run now when
    no run is stored; with where they came from and their as-of."""
    run = exceptions.latest_run(store)
    if run is None:
        found = exceptions.detect(store, settings or Settings())
        return found.items, f"exception rules run now as of {found.as_of}", found.as_of
    items = exceptions.list_exceptions(store, include_snoozed=False)
    return items, f"exception run {run['run_id']} as of {run['as_of']}", run["as_of"]


def late_inbound(store: Store, settings: Settings | None = None) -> pl.DataFrame:
    """Open inbound lines (:func:`control_tower.position.inbound`) past their expected date
    by more than the late-inbound rule's grace, latest first."""
    settings = settings or Settings()
    lines = position.inbound(store)
    return lines.filter(pl.col("days_late") > settings.exceptions.late_grace_days).sort(
        "days_late", "value", descending=[True, True]
    )


def open_inbound(store: Store) -> pl.DataFrame:
    """Every open inbound line (:func:`control_tower.position.inbound`), due soonest first:
    what is ordered or shipped and not yet received, late or not."""
    return position.inbound(store).sort("expected_date", "value", descending=[False, True])


# -- rankings ---------------------------------------------------------------------------------
GROUPS = ("location", "region", "category", "supplier", "product")

# measure -> (groups it is kept for, which way is better, unit)
MEASURES: dict[str, tuple[tuple[str, ...], str, str]] = {
    "stockouts": (GROUPS, "lower", "projected stock-outs"),
    "units_short": (GROUPS, "lower", "units"),
    "sales_at_risk": (GROUPS, "lower", "money"),
    "below_safety": (GROUPS, "lower", "SKU x locations"),
    "excess_value": (GROUPS, "lower", "money"),
    "excess_units": (GROUPS, "lower", "units"),
    "dead_stock_value": (GROUPS, "lower", "money"),
    "dead_stock_units": (GROUPS, "lower", "units"),
    "stock_value": (GROUPS, "lower", "money"),
    "stock_units": (GROUPS, "lower", "units"),
    "fill_rate": (GROUPS, "higher", "share"),
    "stockout_days": (GROUPS, "lower", "SKU x location x days"),
    "turnover": (GROUPS, "higher", "times a year"),
    "forecast_bias": (("location", "region", "category", "product"), "closer to 0", "share"),
    "health_index": (("location", "region", "category", "product"), "higher", "points of 100"),
    "late_lines": (GROUPS, "lower", "lines"),
    "late_value": (GROUPS, "lower", "money"),
    "on_time_rate": (("supplier", "location", "region"), "higher", "share"),
    "lead_time": (("supplier",), "lower", "days"),
    "lead_time_spread": (("supplier",), "lower", "days"),
    "on_hand": (("location", "region"), "higher", "units"),
    "days_of_cover": (("location", "region", "category", "product"), "higher", "days"),
}
SKU_MEASURES = ("on_hand",)  # these need one SKU
PERIOD_MEASURES = ("fill_rate", "stockout_days", "turnover", "forecast_bias", "on_time_rate")


def _keyed(store: Store, frame: pl.DataFrame, by: str) -> pl.DataFrame:
    """``frame`` (sku, location columns) with a ``key`` column for the grouping ``by``; a SKU
    with several suppliers counts under each."""
    if by == "location":
        return frame.with_columns(pl.col("location").alias("key"))
    if by == "product":
        return frame.with_columns(pl.col("sku").alias("key"))
    if by == "region":
        regions = locations(store).select(pl.col("code").alias("location"), pl.col("region"))
        return frame.join(regions, on="location", how="left").with_columns(
            pl.col("region").alias("key")
        )
    if by == "category":
        cats = products(store).select("sku", pl.col("category").alias("key"))
        return frame.join(cats, on="sku", how="left")
    if by == "supplier":
        return frame.join(sku_suppliers(store).rename({"supplier": "key"}), on="sku", how="inner")
    raise InsightError(f"unknown grouping {by!r}; groups are {', '.join(GROUPS)}")


def group_names(store: Store, by: str) -> pl.DataFrame:
    """key, name of every member of a grouping (locations that hold stock, all categories,
    regions, suppliers, products)."""
    if by == "location":
        frame = locations(store).filter(pl.col("kind") != "supplier")
        return frame.select(pl.col("code").alias("key"), "name", "kind", "region")
    if by == "region":
        frame = locations(store).filter(pl.col("kind") != "supplier")
        return (
            frame.select(pl.col("region").alias("key"))
            .unique()
            .with_columns(pl.col("key").alias("name"))
        )
    if by == "category":
        frame = products(store).select(pl.col("category").alias("key")).unique()
        return frame.with_columns(pl.col("key").alias("name"))
    if by == "supplier":
        return supplier_list(store).select(pl.col("code").alias("key"), "name")
    return products(store).select(pl.col("sku").alias("key"), "name", "category")


def _scoped_names(store: Store, names: pl.DataFrame, by: str, scope: Scope) -> pl.DataFrame:
    """The members of a grouping inside the scope (the locations of a region, the products
    of a category or a supplier, the one named)."""
    key = pl.col("key")
    if scope.location and by == "location":
        return names.filter(key == scope.location)
    if scope.region and by == "location":
        return names.filter(pl.col("region") == scope.region)
    if scope.region and by == "region":
        return names.filter(key == scope.region)
    if scope.category and by == "category":
        return names.filter(key == scope.category)
    if scope.category and by == "product":
        return names.filter(pl.col("category") == scope.category)
    if scope.supplier and by == "supplier":
        return names.filter(key == scope.supplier)
    if scope.supplier and by == "product":
        skus = sku_suppliers(store).filter(pl.col("supplier") == scope.supplier)["sku"]
        return names.filter(key.is_in(skus.to_list()))
    return names


def _sum_by(frame: pl.DataFrame, value: pl.Expr, extra: list[pl.Expr] | None = None):
    return frame.group_by("key").agg(value.alias("value"), *(extra or []))


def measure_by(
    store: Store,
    measure: str,
    by: str,
    *,
    sku: str | None = None,
    scope: Scope | None = None,
    within_days: int | None = None,
    period_name: str = "current",
    window_days: int | None = None,
    settings: Settings | None = None,
) -> tuple[pl.DataFrame, dict]:
    """One value of ``measure`` per member of the grouping ``by`` (key, value, and the
    figures it is made of), every member listed (0 for counts and sums where nothing
    applies; null for a rate without a base), and what the figures are: source, definition,
    the period when the measure is a flow."""
    if measure not in MEASURES:
        raise InsightError(f"unknown measure {measure!r}; measures are {', '.join(MEASURES)}")
    groups, better, unit = MEASURES[measure]
    if by not in groups:
        raise InsightError(f"{measure} is kept by {', '.join(groups)}, not by {by}")
    if measure in SKU_MEASURES and sku is None:
        raise InsightError(f"{measure} is a figure of one product: say which SKU")
    settings = settings or Settings()
    scope = scope or Scope()
    info: dict[str, Any] = {"measure": measure, "by": by, "better": better, "unit": unit}
    zero_fill = True
    today = position.resolve_as_of(store, None)
    if measure in ("stockouts", "units_short", "sales_at_risk", "below_safety") or measure in (
        "excess_value",
        "excess_units",
    ):
        items, source, as_of = current_exceptions(store, settings)
        rule = {
            "stockouts": "stockout",
            "units_short": "stockout",
            "sales_at_risk": "stockout",
            "below_safety": "below_safety_stock",
            "excess_value": "excess",
            "excess_units": "excess",
        }[measure]
        items = items.filter(pl.col("rule") == rule)
        if within_days is not None and rule == "stockout":
            last = as_of + timedelta(days=within_days)
            items = items.filter(pl.col("due_date") <= last)
            info["within_days"] = within_days
            info["through"] = last.isoformat()
        if sku:
            items = items.filter(pl.col("sku") == sku)
        items = _keyed(store, scope.rows(items, store), by)
        value = {
            "stockouts": pl.len().cast(pl.Float64),
            "units_short": pl.col("units").sum(),
            "sales_at_risk": pl.col("value_at_risk").sum(),
            "below_safety": pl.len().cast(pl.Float64),
            "excess_value": pl.col("value_at_risk").sum(),
            "excess_units": pl.col("units").sum(),
        }[measure]
        extra = [pl.len().alias("items"), pl.col("value_at_risk").sum().alias("value_at_risk")]
        if rule == "stockout":
            extra += [pl.col("units").sum().alias("units_short"), pl.col("due_date").min()]
        frame = _sum_by(items, value, extra)
        info |= {"source": source, "as_of": as_of.isoformat()}
        info["definition"] = {
            "stockout": "the stock-out rule's items: stock projected to run out before the "
            "next replenishment, units short until then and their value at the price",
            "below_safety_stock": "the below-safety-stock rule's items: available under the "
            "policy's safety stock",
            "excess": "the excess rule's items: available above the policy's max level, the "
            "units above it and their value at cost",
        }[rule]
    elif measure in ("dead_stock_value", "dead_stock_units"):
        dead = kpis.dead_stock(store, settings=settings.position)
        if sku:
            dead = dead.filter(pl.col("sku") == sku)
        dead = _keyed(store, scope.rows(dead, store), by)
        value = pl.col("stock_value" if measure == "dead_stock_value" else "on_hand").sum()
        frame = _sum_by(
            dead,
            value.cast(pl.Float64),
            [
                pl.len().alias("items"),
                pl.col("stock_value").sum(),
                pl.col("on_hand").sum().alias("units"),
            ],
        )
        info |= {
            "source": f"stock position as of {today}",
            "as_of": today.isoformat(),
            "definition": f"owned stock with no outbound movement for "
            f"{settings.position.dead_stock_days}+ days (kpis.dead_stock)",
        }
    elif measure in ("stock_value", "stock_units", "on_hand", "days_of_cover"):
        pos = position.stock_position(store, settings=settings.position)
        if sku:
            pos = pos.filter(pl.col("sku") == sku)
        pos = _keyed(store, scope.rows(pos, store), by)
        if measure == "days_of_cover" and sku and by == "location":
            value = pl.col("days_of_cover").first()
            zero_fill = False
        elif measure == "days_of_cover":  # a place's whole stock: its units over its demand
            demand = pl.col("avg_daily_demand").sum()
            value = pl.when(demand > 0).then(pl.col("available").sum() / demand)
            zero_fill = False
        else:
            value = pl.col(
                {"stock_value": "stock_value", "stock_units": "on_hand", "on_hand": "on_hand"}[
                    measure
                ]
            ).sum()
        # the same cover counted in weeks
        extra_cover = (
            [(value / 7).cast(pl.Float64).alias("weeks")] if measure == "days_of_cover" else []
        )
        frame = _sum_by(
            pos,
            value.cast(pl.Float64),
            [
                pl.col("stock_value").sum(),
                pl.col("on_hand").sum().alias("units"),
                pl.col("available").sum(),
                pl.col("avg_daily_demand").sum(),
                *extra_cover,
            ],
        )
        info |= {
            "source": f"stock position as of {today}",
            "as_of": today.isoformat(),
            "definition": "stock value: owned on hand x unit cost; units: on hand (all owners); "
            "days of cover: available / average daily demand (of every SKU there when no SKU "
            "is named)",
        }
    elif measure in ("fill_rate", "stockout_days"):
        when = period(store, period_name)
        frame = service(store, when.current)
        if sku:
            frame = frame.filter(pl.col("sku") == sku)
        frame = (
            _keyed(store, scope.rows(frame, store), by)
            .group_by("key")
            .agg(pl.col("demand").sum(), pl.col("served").sum(), pl.col("stockout_days").sum())
        )
        value = (
            pl.when(pl.col("demand") > 0).then(pl.col("served") / pl.col("demand"))
            if measure == "fill_rate"
            else pl.col("stockout_days").cast(pl.Float64)
        )
        frame = frame.with_columns(value.alias("value"))
        zero_fill = measure == "stockout_days"
        info |= {
            "period": when.as_dict(),
            "source": "demand history and sales in the ledger",
            "definition": "fill rate = Σ min(sales, demand) / Σ demand per SKU x location x day",
        }
    elif measure == "turnover":
        when = period(store, period_name)
        parts = turnover_parts(store, when.current, settings)
        if sku:
            parts = parts.filter(pl.col("sku") == sku)
        frame = (
            _keyed(store, scope.rows(parts, store), by)
            .group_by("key")
            .agg(pl.col("cogs").sum(), pl.col("avg_value").sum())
        )
        days = when.current.days
        frame = frame.with_columns(
            pl.when(pl.col("avg_value") > 0)
            .then(pl.col("cogs") * 365.0 / days / pl.col("avg_value"))
            .alias("value")
        )
        zero_fill = False
        info |= {
            "period": when.as_dict(),
            "source": "ledger",
            "definition": "cost of goods sold x 365 / days ÷ average daily owned inventory value",
        }
    elif measure == "forecast_bias":
        when = period(store, period_name)
        errors = forecast_errors(store, when.current)
        if sku:
            errors = errors.filter(pl.col("sku") == sku)
        errors = _keyed(store, scope.rows(errors, store), by)
        if errors.height:
            frame = errors.group_by("key").agg(pl.col("forecast").sum(), pl.col("actual").sum())
            frame = frame.with_columns(
                pl.Series(
                    "value",
                    [bias(f, a) for f, a in frame.select("forecast", "actual").iter_rows()],
                    dtype=pl.Float64,
                )
            )
            info["source"] = "forecasts made before each day against demand history"
            info["period"] = when.as_dict()
        else:
            series, run_id = backtest_bias(store)
            if sku:
                series = series.filter(pl.col("sku") == sku)
            series = _keyed(store, scope.rows(series, store), by)
            keys = series["key"].unique().sort().to_list()
            frame = pl.DataFrame(
                {
                    "key": keys,
                    "value": [weighted_bias(series.filter(pl.col("key") == k)) for k in keys],
                },
                schema={"key": pl.String, "value": pl.Float64},
            )
            info["source"] = (
                f"backtest of forecast run {run_id}" if run_id else "no forecast run stored"
            )
        zero_fill = False
        info["definition"] = "bias = (Σ forecast - Σ actual) / Σ actual"
    elif measure == "health_index" and by == "location" and not sku:
        health = kpis.health_by_location(store, settings=settings.position)
        frame = health.select(
            pl.col("location").alias("key"),
            pl.col("health_index").alias("value"),
            "stock_value",
            *kpis.HEALTH_WEIGHTS,
        )
        zero_fill = False
    elif measure == "health_index":  # by region, category, product: over each group's rows
        scored = kpis.scored_position(store, settings=settings.position)
        if sku:
            scored = scored.filter(pl.col("sku") == sku)
        keyed = _keyed(store, scope.rows(scored, store), by)
        frame = kpis.health_by_key(keyed)
        zero_fill = False
        info |= {
            "source": f"stock position as of {today}",
            "as_of": today.isoformat(),
            "definition": "value-weighted mean of SKU x location scores (coverage, excess, "
            "aging, service); kpis.HEALTH_INDEX_FORMULA",
        }
    elif measure in ("late_lines", "late_value"):
        late = late_inbound(store, settings)
        if sku:
            late = late.filter(pl.col("sku") == sku)
        late = scope.rows(late, store)
        if by == "supplier":
            late = late.filter(pl.col("supplier").is_not_null()).with_columns(
                pl.col("supplier").alias("key")
            )
        else:
            late = _keyed(store, late, by)
        value = pl.len().cast(pl.Float64) if measure == "late_lines" else pl.col("value").sum()
        frame = _sum_by(
            late,
            value,
            [
                pl.len().alias("lines"),
                pl.col("remaining").sum().alias("units"),
                pl.col("value").sum().alias("late_value"),
                pl.col("days_late").max().alias("most_days_late"),
            ],
        )
        info |= {
            "source": f"open inbound as of {today}",
            "as_of": today.isoformat(),
            "definition": "open PO lines and transfers past their expected date by more than "
            f"{settings.exceptions.late_grace_days} days; by supplier: PO lines only",
        }
    elif measure == "on_time_rate" and by in ("location", "region"):
        if scope.category or scope.supplier:
            raise InsightError(
                "a place's on-time rate counts everything it receives, not one category's or "
                "supplier's: ask for the supplier's on-time rate instead"
            )
        when = period(store, period_name)
        found = _keyed(store, scope.rows(inbound_on_time(store, when.current, settings), store), by)
        on_time_lines = pl.col("on_time_rate") * pl.col("received_lines")
        frame = found.group_by("key").agg(
            (on_time_lines.sum() / pl.col("received_lines").sum()).alias("value"),
            pl.col("lines").sum(),
            pl.col("received_lines").sum(),
            pl.col("po_lines").sum(),
            pl.col("transfer_lines").sum(),
        )
        zero_fill = False
        info["period"] = when.as_dict()
        info |= {
            "source": "purchase order lines and transfers with their receipts",
            "definition": "inbound PO lines and transfers first received by their expected "
            f"date plus {settings.suppliers.on_time_grace_days} days, of those received",
        }
    else:  # on_time_rate, lead_time, lead_time_spread: per supplier
        if measure == "on_time_rate":
            when = period(store, period_name)
            perf = on_time(store, when.current, settings)
            info["period"] = when.as_dict()
        else:
            window = window_days or settings.suppliers.performance_days
            perf = suppliers.supplier_performance(
                store, days=window, grace_days=settings.suppliers.on_time_grace_days
            )
            info["window_days"] = window
        if scope.supplier:
            perf = perf.filter(pl.col("supplier") == scope.supplier)
        column = {
            "on_time_rate": "on_time_rate",
            "lead_time": "lead_time_mean_days",
            "lead_time_spread": "lead_time_sd_days",
        }[measure]
        frame = perf.select(
            pl.col("supplier").alias("key"),
            pl.col(column).cast(pl.Float64).alias("value"),
            "lines",
            "received_lines",
            "on_time_rate",
            "lead_time_mean_days",
            "lead_time_sd_days",
            "stated_lead_time_days",
            "stated_on_time_rate",
        )
        zero_fill = False
        info |= {
            "source": "purchase order lines and their receipts (suppliers.supplier_performance)",
            "definition": "on time: first receipt by the expected date plus "
            f"{settings.suppliers.on_time_grace_days} days; lead time: order date to first "
            "receipt (mean and spread)",
        }
    names = _scoped_names(store, group_names(store, by), by, scope)
    if by == "location" and measure in (
        "stockouts",
        "units_short",
        "sales_at_risk",
        "below_safety",
        "excess_value",
        "excess_units",
    ):
        names = names.filter(pl.col("kind").is_in(list(exceptions.STOCKING)))
    if zero_fill:
        frame = names.join(frame, on="key", how="left").with_columns(pl.col("value").fill_null(0.0))
    else:
        frame = frame.join(names, on="key", how="left").select(
            "key", *[c for c in names.columns if c != "key"], pl.exclude(names.columns)
        )
    return frame, info


def ranked(frame: pl.DataFrame, better: str, order: str) -> pl.DataFrame:
    """``frame`` (key, value) sorted as asked: ``best`` / ``worst`` by which way is better
    (for bias, nearest to / farthest from 0), ``highest`` / ``lowest`` by value; rows
    without a value last."""
    if order in ("highest", "lowest"):
        descending = order == "highest"
        sort_key = pl.col("value")
    elif better == "closer to 0":
        descending = order == "worst"
        sort_key = pl.col("value").abs()
    else:
        descending = (better == "higher") == (order == "best")
        sort_key = pl.col("value")
    return (
        frame.with_columns(sort_key.alias("_sort"))
        .sort(["_sort", "key"], descending=[descending, False], nulls_last=True)
        .drop("_sort")
    )


# -- moving stock -----------------------------------------------------------------------------
LANE_SQL = """
SELECT from_location, to_location, transit_days, CAST(cost_per_unit AS DOUBLE) AS cost_per_unit,
       CAST(fixed_cost AS DOUBLE) AS fixed_cost, CAST(capacity AS DOUBLE) AS capacity
FROM lanes WHERE from_location = $origin AND to_location = $destination
"""
LANES_INTO_SQL = """
SELECT l.from_location, l.to_location, l.transit_days,
       CAST(l.cost_per_unit AS DOUBLE) AS cost_per_unit, CAST(l.fixed_cost AS DOUBLE) AS fixed_cost,
       CAST(l.capacity AS DOUBLE) AS capacity, k.kind AS from_kind
FROM lanes l JOIN locations k ON k.code = l.from_location
WHERE ($destination IS NULL OR l.to_location = $destination)
  AND ($origin IS NULL OR l.from_location = $origin)
ORDER BY l.from_location, l.to_location
"""


def lane(store: Store, origin: str, destination: str) -> dict | None:
    """The lane from ``origin`` to ``destination``: transit_days, cost_per_unit, fixed_cost
    (a truck's), capacity (units a truck; None: unlimited); None without one."""
    rows = store.query(LANE_SQL, {"origin": origin, "destination": destination})
    return rows.row(0, named=True) if rows.height else None


def lanes(store: Store, *, origin: str | None = None, destination: str | None = None):
    """Lanes into and/or out of a location, with the origin's kind."""
    return store.query(LANES_INTO_SQL, {"origin": origin, "destination": destination})


def move_cost(lane_row: dict, quantity: int, settings: Settings | None = None) -> dict:
    """The cost of moving ``quantity`` units along a lane on their own, in the parts an
    action's explanation shows for a transfer: transport (units x cost per unit), the lane's
    fixed cost once a truck (:func:`control_tower.optimize.readout.trucks`) and the handling
    of a transfer line; the total is their sum, to the cent."""
    settings = settings or Settings()
    capacity = lane_row["capacity"] if lane_row["capacity"] else math.inf
    n = trucks(quantity, capacity)
    per_unit = float(lane_row["cost_per_unit"] or 0.0)
    fixed = float(lane_row["fixed_cost"] or 0.0)
    parts = [CostPart("transport", "transport", round(quantity * per_unit, 2), quantity, per_unit)]
    if fixed > 0:
        parts.append(
            CostPart(
                "lane_fixed",
                "the lane's fixed cost",
                round(n * fixed, 2),
                quantity,
                fixed_cost=fixed,
                trucks=n,
                load=quantity,
            )
        )
    handling = settings.policies.transfer_line_cost
    parts.append(CostPart("handling", "handling", round(handling, 2)))
    total = round(sum(p.amount for p in parts), 2)
    return {
        "quantity": quantity,
        "trucks": n,
        "parts": [
            {"item": p.item, "label": p.label, "amount": p.amount, "working": p.working()}
            for p in parts
        ],
        "total": total,
        "per_unit_all_in": round(total / quantity, 4) if quantity else None,
    }


# -- supplier terms and consigned stock --------------------------------------------------------
TERMS_SQL = """
SELECT sp.supplier, sp.sku, sp.lead_time_mean_days, sp.lead_time_std_days, sp.moq, sp.pack_size,
       CAST(coalesce(sp.price, p.unit_cost) AS DOUBLE) AS price
FROM supplier_products sp JOIN products p USING (sku)
WHERE ($supplier IS NULL OR sp.supplier = $supplier) AND ($sku IS NULL OR sp.sku = $sku)
ORDER BY sp.supplier, sp.sku
"""

CONSIGNED_SQL = """
SELECT l.owner AS supplier, l.sku, l.location, CAST(sum(l.quantity) AS BIGINT) AS consigned
FROM ledger l WHERE l.owner <> 'company' AND l.ts < $cutoff
GROUP BY ALL HAVING sum(l.quantity) <> 0
ORDER BY supplier, sku, location
"""


def supplier_terms(
    store: Store, *, supplier: str | None = None, sku: str | None = None
) -> pl.DataFrame:
    """supplier, sku, stated lead time (mean, spread), moq, pack_size, price."""
    return store.query(TERMS_SQL, {"supplier": supplier, "sku": sku})


def consigned(store: Store, *, as_of: date | None = None) -> pl.DataFrame:
    """Per supplier (owner), SKU and location the units it still owns at our sites as of the
    end of ``as_of``; Σ per supplier is :func:`control_tower.vmi.consigned_summary`'s units."""
    day = position.resolve_as_of(store, as_of)
    return store.query(CONSIGNED_SQL, {"cutoff": position.midnight(day + timedelta(days=1))})
