"""Inventory policies per SKU x location: ABC-XYZ class, target service level, safety stock,
reorder point, economic order quantity and max level, each with the inputs behind it.

- **Class**: ABC-XYZ from the stock position (``position.stock_position``: ABC by the share of
  sales value, XYZ by the coefficient of variation of weekly demand, thresholds in
  ``[position]``).
- **Service level** per class from ``[policies] service_levels`` (AX 99% ... CZ 90% by
  default), ``z`` its standard normal quantile.
- **Lead time**: a location with a lane from the central DC is replenished over that lane
  (transit days, no spread); otherwise, and for the central DC itself, by the SKU's primary
  supplier (lowest price, then shortest stated lead time) with its mean and spread of lead
  time as :func:`control_tower.suppliers.lead_times` gives them (measured from receipts up to
  the policy's day, or stated; ``lead_time_source`` says which).
- **Demand**: daily mean and daily forecast error (sd) over the lead time from the latest
  forecast run made as of the policy's day or before that forecast the SKU x location (a run
  made later is never read); without one, the mean and sd of the last
  ``history_days`` of demand.
- **Safety stock** ``SS = z * sqrt(LT * sigma_d^2 + d^2 * sigma_LT^2)``; **reorder point**
  ``ROP = d * LT + SS``; **EOQ** ``sqrt(2 * D * S / H)`` with ``D = 365 d``, ``S`` the cost of
  one order line (``order_cost`` for a supplier, ``transfer_line_cost`` for a transfer: a
  lane's fixed cost per shipment is shared by every SKU on the truck, which is the
  optimizer's business) and ``H = unit_cost * holding_rate``, rounded up to the supplier's
  pack size and at least its MOQ; **max level** ``ROP + EOQ``.
- **Echelons**: a location that replenishes others (the central DC) faces their demand too:
  its ``d`` is the sum, its ``sigma_d`` the root of the summed variances.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields, replace
from datetime import date, datetime, timedelta
from statistics import NormalDist

import polars as pl

from control_tower.config import PolicySettings, PositionSettings, SupplierSettings
from control_tower.errors import ControlTowerError, NotFoundError
from control_tower.position import resolve_as_of, stock_position
from control_tower.store import Store
from control_tower.suppliers import lead_times as supplier_lead_times

STOCKING_KINDS = ("central_dc", "regional_dc", "store")
LANE_FROM = "lane from "

SOURCES_SQL = """
WITH primary_supplier AS (
    SELECT sp.sku, sp.supplier, sp.lead_time_mean_days, sp.lead_time_std_days, sp.moq,
           sp.pack_size
    FROM supplier_products sp
    QUALIFY row_number() OVER (
        PARTITION BY sp.sku
        ORDER BY sp.price NULLS LAST, sp.lead_time_mean_days, sp.supplier) = 1
), central AS (
    SELECT code FROM locations WHERE kind = 'central_dc' ORDER BY code LIMIT 1
)
SELECT p.sku, l.code AS location,
       ln.from_location AS lane_from, ln.transit_days,
       ps.supplier, ps.lead_time_mean_days, ps.lead_time_std_days, ps.moq, ps.pack_size
FROM products p
CROSS JOIN locations l
LEFT JOIN lanes ln ON ln.to_location = l.code AND ln.from_location = (SELECT code FROM central)
LEFT JOIN primary_supplier ps ON ps.sku = p.sku
WHERE l.kind IN ('central_dc', 'regional_dc', 'store')
  AND ($all_skus OR p.sku IN (SELECT unnest($skus)))
"""

FORECAST_SQL = """
WITH chosen AS (
    SELECT sku, location, max(run_id) AS run_id
    FROM forecast_series
    WHERE ($run_id IS NULL OR run_id = $run_id)
      AND run_id IN (SELECT run_id FROM forecast_runs WHERE as_of <= $as_of)
      AND ($all_skus OR sku IN (SELECT unnest($skus)))
    GROUP BY ALL
)
SELECT f.run_id, f.sku, f.location, f.date, f.mean, f.sd
FROM forecasts f JOIN chosen USING (run_id, sku, location)
ORDER BY f.sku, f.location, f.date
"""

HISTORY_SQL = """
SELECT sku, location, sum(quantity)::DOUBLE AS total, sum(quantity * quantity)::DOUBLE AS sq
FROM demand_history
WHERE date > $first AND date <= $as_of AND ($all_skus OR sku IN (SELECT unnest($skus)))
GROUP BY ALL
"""


@dataclass(frozen=True)
class PolicyInputs:
    """Everything one SKU x location's policy is computed from."""

    sku: str
    location: str
    abc: str
    xyz: str
    annual_value: float  # sales value of the last year (behind the ABC class)
    unit_cost: float
    service_level: float
    lead_time_days: float
    lead_time_sd_days: float
    source: str  # "lane from CDC-KS" or "supplier SUP-YZC"
    daily_demand: float
    daily_demand_sd: float
    demand_source: str  # "forecast run 3" or "history, 91 days"
    order_cost: float
    holding_rate: float
    moq: int
    pack_size: int
    lead_time_source: str = ""  # "lane transit", "measured: 14 lines", "stated", ...


@dataclass(frozen=True)
class Override:
    field: str
    value: float
    reason: str
    changed_by: str
    changed_at: datetime


@dataclass(frozen=True)
class Policy:
    inputs: PolicyInputs
    z: float
    safety_stock: float
    reorder_point: float
    eoq: float
    max_level: float
    overrides: tuple[Override, ...] = ()

    def formulas(self) -> dict[str, str]:
        """Each formula with its values filled in ("show your work"), then the overrides and
        what is in force after them."""
        replaced = [o for o in self.overrides if o.field != "service_level"]
        if replaced:
            base = compute_policy(self.inputs).formulas()
            in_force = (
                f"in force: SS = {self.safety_stock:.1f}, ROP = {self.reorder_point:.1f}, "
                f"max = {self.max_level:.1f}"
            )
            return base | self._override_lines() | {"in_force": in_force}
        i = self.inputs
        annual = 365.0 * i.daily_demand
        holding = i.unit_cost * i.holding_rate
        return {
            "lead_time": (
                f"LT = {i.lead_time_days:g} days, sigma_LT = {i.lead_time_sd_days:g} days "
                f"({i.source}, {i.lead_time_source or 'stated'})"
            ),
            "z": f"z = NormalDist().inv_cdf({i.service_level:.4f}) = {self.z:.3f}",
            "safety_stock": (
                f"SS = z * sqrt(LT * sigma_d^2 + d^2 * sigma_LT^2) = {self.z:.3f} * sqrt("
                f"{i.lead_time_days:g} * {i.daily_demand_sd:.3f}^2 + {i.daily_demand:.3f}^2 * "
                f"{i.lead_time_sd_days:g}^2) = {self.safety_stock:.1f}"
            ),
            "reorder_point": (
                f"ROP = d * LT + SS = {i.daily_demand:.3f} * {i.lead_time_days:g} + "
                f"{self.safety_stock:.1f} = {self.reorder_point:.1f}"
            ),
            "eoq": (
                f"EOQ = sqrt(2 * D * S / H) = sqrt(2 * {annual:.1f} * {i.order_cost:g} / "
                f"{holding:.3f}), rounded up to packs of {i.pack_size} and at least MOQ "
                f"{i.moq} = {self.eoq:.0f}"
            ),
            "max_level": (
                f"max = ROP + EOQ = {self.reorder_point:.1f} + {self.eoq:.0f} = "
                f"{self.max_level:.1f}"
            ),
        } | self._override_lines()

    def _override_lines(self) -> dict[str, str]:
        return {
            f"override {o.field}": (
                f"override: {o.field} = {o.value:g} (by {o.changed_by} at "
                f"{o.changed_at:%Y-%m-%d %H:%M}: {o.reason})"
            )
            for o in self.overrides
        }


def compute_policy(inputs: PolicyInputs, overrides: tuple[Override, ...] = ()) -> Policy:
    """The formulas of the module docstring on one SKU x location's inputs, then its
    overrides: a service level enters the formulas; a safety stock, reorder point or max level
    replaces the computed one (a reorder point or max level below the one before it is
    raised to it, so the policy stays ordered: safety stock <= reorder point <= max level)."""
    given = {o.field: o.value for o in overrides}
    if "service_level" in given:
        inputs = replace(inputs, service_level=given["service_level"])
    z = NormalDist().inv_cdf(inputs.service_level)
    d, lt = inputs.daily_demand, inputs.lead_time_days
    safety = z * math.sqrt(lt * inputs.daily_demand_sd**2 + d**2 * inputs.lead_time_sd_days**2)
    safety = max(safety, 0.0)
    reorder = d * lt + safety
    holding = inputs.unit_cost * inputs.holding_rate
    eoq = 0.0
    if d > 0 and holding > 0:  # no demand, no order: the MOQ applies to an order placed
        eoq = math.sqrt(2.0 * 365.0 * d * inputs.order_cost / holding)
        eoq = math.ceil(eoq / inputs.pack_size) * inputs.pack_size
        eoq = float(max(eoq, inputs.moq))
    if "safety_stock" in given:
        reorder += given["safety_stock"] - safety
        safety = given["safety_stock"]
    reorder = max(given.get("reorder_point", reorder), safety)
    top = max(given.get("max_level", reorder + eoq), reorder)
    return Policy(inputs, z, safety, reorder, eoq, top, tuple(overrides))


def _demand(
    store: Store,
    as_of: date,
    settings: PolicySettings,
    run_id: int | None,
    scope: dict,
) -> tuple[dict[tuple[str, str], tuple[int, list[float], list[float]]], dict]:
    """Per SKU x location its forecast (run, daily means, daily sds) from ``run_id``, or from
    the latest run that forecast it; and the mean and sd of its recent demand."""
    forecast: dict[tuple[str, str], tuple[int, list[float], list[float]]] = {}
    frame = store.query(FORECAST_SQL, {"run_id": run_id, "as_of": as_of, **scope})
    for (sku, location), g in frame.group_by(["sku", "location"], maintain_order=True):
        forecast[(sku, location)] = (g["run_id"][0], g["mean"].to_list(), g["sd"].to_list())
    days = settings.history_days
    history = store.query(
        HISTORY_SQL, {"first": as_of - timedelta(days=days), "as_of": as_of, **scope}
    )
    moments = {}
    for sku, location, total, sq in history.iter_rows():
        mean = total / days
        moments[(sku, location)] = (mean, math.sqrt(max(sq / days - mean * mean, 0.0)))
    return forecast, moments


def policies(
    store: Store,
    settings: PolicySettings | None = None,
    position_settings: PositionSettings | None = None,
    *,
    as_of: date | None = None,
    forecast_run: int | None = None,
    skus: list[str] | None = None,
    use_forecasts: bool = True,
    suppliers: SupplierSettings | None = None,
    lead_times: pl.DataFrame | None = None,
) -> list[Policy]:
    """The policy of every SKU x stocking location in the stock position as of ``as_of``
    (optionally of some SKUs). ``forecast_run``: the run the demand comes from (default: for
    each SKU x location, the latest run made by ``as_of`` that forecast it);
    ``use_forecasts=False``: demand from history only (as an ERP's reorder rules do).
    Suppliers' lead times are :func:`control_tower.suppliers.lead_times` as of ``as_of`` with
    ``suppliers`` (measured by default), or ``lead_times`` when given (a frame it returned:
    a caller that also needs them reads them once)."""
    settings = settings or PolicySettings()
    position = stock_position(store, as_of=as_of, skus=skus, settings=position_settings)
    position = position.filter(pl.col("location_kind").is_in(STOCKING_KINDS))
    if position.is_empty():
        return []
    as_of = resolve_as_of(store, as_of)
    scope = {"all_skus": not skus, "skus": list(skus or [])}
    forecast, history = _demand(store, as_of, settings, forecast_run, scope)
    if not use_forecasts:
        forecast = {}
    sources = {(r[0], r[1]): r[2:] for r in store.query(SOURCES_SQL, scope).iter_rows()}
    if lead_times is None:
        lead_times = supplier_lead_times(store, suppliers, as_of=as_of, skus=skus)
    lead = {
        (r[0], r[1]): r[2:]
        for r in lead_times.select(
            "supplier", "sku", "lead_time_mean_days", "lead_time_sd_days", "lead_time_source"
        ).iter_rows()
    }
    out = []
    for row in position.iter_rows(named=True):
        key = (row["sku"], row["location"])
        source = sources.get(key)
        if source is None:
            continue
        lane_from, transit, supplier, lt_mean, lt_sd, moq, pack = source
        if lane_from is not None and lane_from != row["location"]:
            lt, lt_sd, where, moq, pack = transit, 0.0, f"{LANE_FROM}{lane_from}", 0, 1
            cost, lt_source = settings.transfer_line_cost, "lane transit"
        elif supplier is not None:
            lt, lt_sd, lt_source = lead.get((supplier, row["sku"]), (lt_mean, lt_sd, "stated"))
            where, cost = f"supplier {supplier}", settings.order_cost
        else:
            continue  # no way to replenish it: no policy
        lt = float(lt)
        if key in forecast:
            run, means, sds = forecast[key]
            window = max(1, min(len(means), math.ceil(lt)))
            d = sum(means[:window]) / window
            sd = sum(sds[:window]) / window
            demand_source = f"forecast run {run}"
        else:
            d, sd = history.get(key, (0.0, 0.0))
            demand_source = f"history, {settings.history_days} days"
        cls = f"{row['abc']}{row['xyz']}"
        inputs = PolicyInputs(
            sku=row["sku"],
            location=row["location"],
            abc=row["abc"],
            xyz=row["xyz"],
            annual_value=float(row["annual_value"] or 0.0),
            unit_cost=float(row["unit_cost"] or 0.0),
            service_level=settings.service_levels.get(cls, settings.default_service_level),
            lead_time_days=lt,
            lead_time_sd_days=float(lt_sd or 0.0),
            source=where,
            daily_demand=float(d),
            daily_demand_sd=float(sd),
            demand_source=demand_source,
            order_cost=float(cost or 0.0),
            holding_rate=settings.holding_rate,
            moq=int(moq or 0),
            pack_size=int(pack or 1),
            lead_time_source=lt_source,
        )
        out.append(inputs)
    in_force = overrides_in_force(store)
    return [
        compute_policy(i, in_force.get((i.sku, i.location), ()))
        for i in _with_downstream_demand(out)
    ]


def _with_downstream_demand(items: list[PolicyInputs]) -> list[PolicyInputs]:
    """A location that replenishes others over lanes (the central DC) also faces their
    demand: its daily demand is its own plus theirs, its sd the root of the summed variances
    (independent locations)."""
    downstream: dict[tuple[str, str], list[PolicyInputs]] = {}
    for i in items:
        if i.source.startswith(LANE_FROM):
            downstream.setdefault((i.sku, i.source.removeprefix(LANE_FROM)), []).append(i)
    out = []
    for i in items:
        served = downstream.get((i.sku, i.location), [])
        if served:
            i = replace(
                i,
                daily_demand=i.daily_demand + sum(s.daily_demand for s in served),
                daily_demand_sd=math.sqrt(
                    i.daily_demand_sd**2 + sum(s.daily_demand_sd**2 for s in served)
                ),
                demand_source=(
                    f"{len(served)} locations it supplies ({served[0].demand_source})"
                    + (f" and its own ({i.demand_source})" if i.daily_demand > 0 else "")
                ),
            )
        out.append(i)
    return out


def policy_table(items: list[Policy]) -> pl.DataFrame:
    """One row per policy: class, inputs and results."""
    rows = [
        {
            **p.inputs.__dict__,
            "z": p.z,
            "safety_stock": p.safety_stock,
            "reorder_point": p.reorder_point,
            "eoq": p.eoq,
            "max_level": p.max_level,
        }
        for p in items
    ]
    if rows:
        return pl.DataFrame(rows)
    # no policies (a network without demand yet): the same columns, so joins still work
    kinds = {"str": pl.String, "float": pl.Float64, "int": pl.Int64}
    schema = {f.name: kinds[f.type] for f in fields(PolicyInputs)}
    results = ("z", "safety_stock", "reorder_point", "eoq", "max_level")
    return pl.DataFrame(schema=schema | dict.fromkeys(results, pl.Float64))


def explain_policy(
    store: Store, sku: str, location: str, settings: PolicySettings | None = None, **kwargs
) -> Policy:
    """The policy of one SKU x location with its inputs (``Policy.formulas`` shows the work)."""
    # every location of the SKU: a central DC's demand is that of the locations it supplies
    found = [
        p for p in policies(store, settings, skus=[sku], **kwargs) if p.inputs.location == location
    ]
    if not found:
        raise NotFoundError(
            f"no policy for {sku!r} at {location!r}: not a stocking location with a "
            "replenishment source, or no such SKU x location",
            title="No policy",
        )
    return found[0]


def class_matrix(table: pl.DataFrame) -> pl.DataFrame:
    """The ABC-XYZ matrix of a :func:`policy_table`: per cell the SKU x locations, their
    sales value of the last year, its share, and the cell's service level and safety stock
    value."""
    if table.is_empty():
        return pl.DataFrame(
            schema={
                "class": pl.String,
                "series": pl.UInt32,
                "annual_value": pl.Float64,
                "value_share": pl.Float64,
                "service_level": pl.Float64,
                "safety_stock_value": pl.Float64,
            }
        )
    total = float(table["annual_value"].sum()) or 1.0
    return (
        table.with_columns(
            (pl.col("abc") + pl.col("xyz")).alias("class"),
            (pl.col("safety_stock") * pl.col("unit_cost")).alias("ss_value"),
        )
        .group_by("class")
        .agg(
            pl.len().alias("series"),
            pl.col("annual_value").sum(),
            (pl.col("annual_value").sum() / total).alias("value_share"),
            pl.col("service_level").first(),
            pl.col("ss_value").sum().alias("safety_stock_value"),
        )
        .sort("class")
    )


# -- overrides ---------------------------------------------------------------------------------
OVERRIDE_FIELDS = ("service_level", "safety_stock", "reorder_point", "max_level")
MAX_REASON = 500

IN_FORCE_SQL = """
SELECT sku, location, field, value, reason, changed_by, changed_at
FROM policy_overrides
QUALIFY row_number() OVER (PARTITION BY sku, location, field ORDER BY id DESC) = 1
"""


def overrides_in_force(store: Store) -> dict[tuple[str, str], tuple[Override, ...]]:
    """The latest override of each (SKU, location, field), unless it was cleared."""
    out: dict[tuple[str, str], list[Override]] = {}
    for sku, location, field, value, reason, by, at in store.rows(IN_FORCE_SQL):
        if value is not None:
            out.setdefault((sku, location), []).append(Override(field, value, reason, by, at))
    return {
        k: tuple(sorted(v, key=lambda o: OVERRIDE_FIELDS.index(o.field))) for k, v in out.items()
    }


def set_override(
    store: Store,
    sku: str,
    location: str,
    field: str,
    value: float | None,
    *,
    reason: str,
    changed_by: str,
) -> int:
    """Record an override (``value`` None clears it) with its reason and author; returns its
    id. Refused with a clear message, and nothing written, for an unknown SKU or location, a
    location that holds no stock, an unknown field, a value out of range, or no reason."""
    if field not in OVERRIDE_FIELDS:
        raise ControlTowerError(
            f"cannot override {field!r}: one of {', '.join(OVERRIDE_FIELDS)}",
            title="Bad override",
        )
    reason, changed_by = (reason or "").strip(), (changed_by or "").strip()
    if not reason:
        raise ControlTowerError("an override needs a reason", title="Bad override")
    if len(reason) > MAX_REASON:
        raise ControlTowerError(
            f"the reason is {len(reason)} characters; at most {MAX_REASON}", title="Bad override"
        )
    if not changed_by:
        raise ControlTowerError("an override needs the name of who made it", title="Bad override")
    if value is not None:
        value = float(value)
        if not math.isfinite(value) or value < 0:
            raise ControlTowerError(
                f"{field} must be a number of at least 0, not {value}", title="Bad override"
            )
        if field == "service_level" and not 0 < value < 1:
            raise ControlTowerError(
                f"a service level is between 0 and 1 (0.98 for 98%), not {value}",
                title="Bad override",
            )
    if store.scalar("SELECT count(*) FROM products WHERE sku = ?", [sku]) == 0:
        raise NotFoundError(f"unknown SKU: {sku!r}", title="Unknown SKU")
    kind = store.scalar("SELECT kind FROM locations WHERE code = ?", [location])
    if kind is None:
        raise NotFoundError(f"unknown location: {location!r}", title="Unknown location")
    if kind not in STOCKING_KINDS:
        raise ControlTowerError(
            f"{location!r} is a {kind} site: policies are for {', '.join(STOCKING_KINDS)}",
            title="Bad override",
        )
    with store.transaction() as cur:
        cur.execute(
            "INSERT INTO policy_overrides (sku, location, field, value, reason, changed_by) "
            "VALUES (?, ?, ?, ?, ?, ?) RETURNING id",
            [sku, location, field, value, reason, changed_by],
        )
        (override_id,) = cur.fetchone()
    return int(override_id)


def override_history(
    store: Store, sku: str | None = None, location: str | None = None
) -> pl.DataFrame:
    """Every override recorded (the audit trail), newest first."""
    return store.query(
        "SELECT id, sku, location, field, value, reason, changed_by, changed_at "
        "FROM policy_overrides WHERE ($sku IS NULL OR sku = $sku) "
        "AND ($location IS NULL OR location = $location) ORDER BY id DESC",
        {"sku": sku, "location": location},
    )
