"""The plan instance: every number an optimizer run works on, as arrays over SKU x location x
day, read from the store as of one day (or handed in by the simulator), with what-if changes.

Day ``t`` of a plan is ``as_of + 1 + t`` (the first day that can still be acted on), for
``t = 0 .. horizon - 1``. Supplier orders are placed on *review days*: ``t = 0`` and every
``review_days`` after it; a plan is re-run at least that often, so only its first review
period's lines are ever carried out as planned. Lanes between our locations depart every
``transfer_every_days`` (daily by default); a lane's capacity is what one departure carries.

The network is every stocking location (central DC, regional DCs, stores) plus VMI sites:
consigned stock costs nothing to hold and is a source like any other. Suppliers deliver over
the lane from their site when there is one (Jiangnan Beverage to its VMI store), otherwise to
the central DC; their lead time is the mean of :func:`control_tower.suppliers.lead_times`
(measured from receipts up to ``as_of``, or stated), rounded up to days.

**Supplier stock.** What a supplier last reported holding for us as of ``as_of``
(:func:`control_tower.collab.supplier_stock`; a report older than ``[suppliers]
stock_report_stale_days`` is left out), less what we ordered from it since the report
(an order draws on the stock the supplier holds first), is a :class:`StockPool`: its own
supply options to the same destinations, priced like any order from that supplier (price
premium, freight, order cost), that leave the supplier's site on any departure day from its
``available_date`` and arrive after the lane's transit (no lane from its site: after
``[suppliers] stock_transit_days`` (default 2) to the central DC, never later than an order to make), at most
the pool's units over the horizon, shared by every destination. Called off from stock, the
units carry no MOQ or pack rounding (they are the supplier's to set aside, not a production
run). Weekly capacity reported with the stock is a pool per week: units that can leave the
supplier's site on a departure day of that week (not called off that week, they are not
stock later). Beyond the pools the ordinary option, with the full lead time, stays. A plan
on a :class:`NetworkState` (the simulator's own world) has no supplier stock: the replay does
not track what suppliers hold.
"""

from __future__ import annotations

import logging
import math
from collections import Counter
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from functools import cached_property

import numpy as np
import polars as pl

from control_tower import collab
from control_tower.config import OptimizerSettings, PolicySettings, Settings
from control_tower.errors import ControlTowerError, NotFoundError
from control_tower.policies import (
    HISTORY_SQL,
    LANE_FROM,
    STOCKING_KINDS,
    compute_policy,
    policies,
)
from control_tower.position import inbound, resolve_as_of, stock_position
from control_tower.sensing import plan_forecast
from control_tower.store import Store
from control_tower.suppliers import lead_times

log = logging.getLogger(__name__)

NETWORK_KINDS = (*STOCKING_KINDS, "vmi")
KIND_ORDER = {kind: i for i, kind in enumerate(NETWORK_KINDS)}


class PlanInputError(ControlTowerError):
    title = "Cannot plan"


@dataclass(frozen=True)
class Lane:
    """A lane between two network locations; ``capacity`` is the most one shipment (one
    departure day) carries, ``inf`` when unlimited."""

    origin: int
    destination: int
    transit_days: int
    cost_per_unit: float
    fixed_cost: float
    capacity: float = math.inf


@dataclass(frozen=True)
class SupplyOption:
    """One supplier of one SKU, delivering to one network location."""

    sku: int
    supplier: str
    destination: int
    lead_time_days: int
    lead_time_sd_days: float
    price: float
    moq: int = 0
    pack_size: int = 1
    freight_per_unit: float = 0.0  # the inbound lane's cost per unit (0 without a lane)
    freight_fixed: float = 0.0  # the inbound lane's fixed cost per shipment
    pool: int = -1  # -1: ordered to make, no limit; else the StockPool it draws on


@dataclass(frozen=True)
class StockPool:
    """Units of one SKU a supplier holds for us (or can make available in one week): its
    supply options draw on them together, at most ``quantity`` over the horizon, leaving its
    site on a departure day from ``first_day`` to ``last_day`` (plan days, inclusive)."""

    sku: int
    supplier: str
    quantity: int
    first_day: int = 0
    last_day: int | None = None  # None: to the end of the horizon
    label: str = ""  # what it is, for a plan line: "stock reported 2024-02-28"


@dataclass(frozen=True)
class WhatIf:
    """Changes to a plan's inputs, compared side by side with the base plan.

    ``service_level``: every class's target service level (the safety stocks follow);
    ``supplier_delay_days``: days added to a supplier's lead time; ``lane_cost_factor``:
    a lane's costs multiplied (key ``"FROM>TO"``); ``closed_locations``: sites that neither
    ship nor receive (their stock and their demand stay)."""

    service_level: float | None = None
    supplier_delay_days: dict[str, int] = field(default_factory=dict)
    lane_cost_factor: dict[str, float] = field(default_factory=dict)
    closed_locations: tuple[str, ...] = ()

    def is_empty(self) -> bool:
        return (
            self.service_level is None
            and not self.supplier_delay_days
            and not self.lane_cost_factor
            and not self.closed_locations
        )

    def as_dict(self) -> dict:
        return {
            "service_level": self.service_level,
            "supplier_delay_days": dict(self.supplier_delay_days),
            "lane_cost_factor": dict(self.lane_cost_factor),
            "closed_locations": list(self.closed_locations),
        }

    def describe(self) -> str:
        parts = []
        if self.service_level is not None:
            parts.append(f"service level {self.service_level:.1%}")
        parts += [f"{s} {d:+d} days" for s, d in self.supplier_delay_days.items()]
        parts += [f"lane {k} cost x{v:g}" for k, v in self.lane_cost_factor.items()]
        parts += [f"{c} closed" for c in self.closed_locations]
        return ", ".join(parts) or "base plan"


@dataclass(frozen=True)
class NetworkState:
    """Stock and scheduled arrivals that replace the store's (the simulator's own state):
    ``on_hand`` {(sku, location): units available}, ``arrivals`` [(sku, location, date,
    units)] already ordered or shipped."""

    on_hand: dict[tuple[str, str], int]
    arrivals: list[tuple[str, str, date, int]]


@dataclass
class PlanInstance:
    """Arrays are indexed [sku], [sku, location] or [sku, location, day]."""

    as_of: date
    horizon: int
    review_days: int
    skus: list[str]
    locations: list[str]
    location_kinds: list[str]
    unit_cost: np.ndarray  # [S]
    shortage_cost: np.ndarray  # [S] per unit of demand not served
    holding_cost: np.ndarray  # [S, L] per unit and day
    safety_stock: np.ndarray  # [S, L] units
    demand: np.ndarray  # [S, L, H] expected units per day
    on_hand: np.ndarray  # [S, L] units available at the start
    arrivals: np.ndarray  # [S, L, H] units already ordered or shipped, arriving that day
    location_capacity: np.ndarray  # [L] units (inf: none)
    lanes: list[Lane]
    supply: list[SupplyOption]
    order_cost: float = 200.0
    transfer_line_cost: float = 20.0
    safety_penalty: np.ndarray | None = None  # [S] per unit and day below safety stock
    lot_size: np.ndarray | None = None  # [S, L] the usual order or transfer size (EOQ, >= MOQ)
    # [S, L] the days of demand the policy's max level covers (max level over its daily
    # demand; inf: none): see network.max_level_ceiling
    max_cover_days: np.ndarray | None = None
    budget: float | None = None
    forecast_run: int | None = None
    settings: OptimizerSettings = field(default_factory=OptimizerSettings)
    what_if: WhatIf = field(default_factory=WhatIf)
    notes: list[str] = field(default_factory=list)
    names: dict[str, str] = field(default_factory=dict)
    first_order_day: int = 0  # a plan re-run between order days: the next order day
    pools: list[StockPool] = field(default_factory=list)  # supplier stock (supply[o].pool)

    def __post_init__(self) -> None:
        s, n_loc = len(self.skus), len(self.locations)
        if self.safety_penalty is None:
            self.safety_penalty = self.shortage_cost * self.settings.safety_stock_penalty / 7.0
        if self.lot_size is None:
            self.lot_size = np.ones((s, n_loc))
        self.lot_size = np.array(self.lot_size, dtype=float)
        if self.max_cover_days is None:
            self.max_cover_days = np.full((s, n_loc), math.inf)
        self.max_cover_days = np.array(self.max_cover_days, dtype=float)
        for option in self.supply:  # a supplier's usual order is at least its MOQ
            if 0 <= option.sku < s and 0 <= option.destination < n_loc:
                self.lot_size[option.sku, option.destination] = max(
                    self.lot_size[option.sku, option.destination], option.moq, option.pack_size
                )
        shapes = {
            "unit_cost": (s,),
            "shortage_cost": (s,),
            "holding_cost": (s, n_loc),
            "safety_stock": (s, n_loc),
            "demand": (s, n_loc, self.horizon),
            "on_hand": (s, n_loc),
            "arrivals": (s, n_loc, self.horizon),
            "location_capacity": (n_loc,),
            "safety_penalty": (s,),
            "lot_size": (s, n_loc),
            "max_cover_days": (s, n_loc),
        }
        for name, shape in shapes.items():
            value = np.asarray(getattr(self, name))
            if value.shape != shape:
                raise PlanInputError(f"{name} has shape {value.shape}, expected {shape}")
            if name not in ("location_capacity", "max_cover_days") and not np.all(
                np.isfinite(value)
            ):
                raise PlanInputError(f"{name} has a value that is not a finite number")
            if np.any(value < 0):
                raise PlanInputError(f"{name} has a negative value")
        for lane in self.lanes:
            if not (0 <= lane.origin < n_loc and 0 <= lane.destination < n_loc):
                raise PlanInputError(f"a lane joins an unknown location: {lane}")
        for option in self.supply:
            if not (0 <= option.sku < s and 0 <= option.destination < n_loc):
                raise PlanInputError(f"a supply option names an unknown SKU or location: {option}")
            if option.pool >= 0 and (
                option.pool >= len(self.pools) or self.pools[option.pool].sku != option.sku
            ):
                raise PlanInputError(f"a supply option draws on an unknown stock pool: {option}")
        for pool in self.pools:
            if pool.quantity < 0 or pool.first_day < 0:
                raise PlanInputError(f"a stock pool has a negative quantity or day: {pool}")

    @cached_property
    def options_of(self) -> dict[int, list[int]]:
        """Per SKU the indices of its supply options (read per SKU on the solver's hot path)."""
        out: dict[int, list[int]] = {}
        for o, option in enumerate(self.supply):
            out.setdefault(option.sku, []).append(o)
        return out

    @cached_property
    def price_premiums(self) -> np.ndarray:
        """Per supply option its price above the cheapest supplier of its SKU."""
        cheapest: dict[int, float] = {}
        for option in self.supply:
            cheapest[option.sku] = min(cheapest.get(option.sku, math.inf), option.price)
        return np.array([o.price - cheapest[o.sku] for o in self.supply], dtype=float)

    def order_day_indices(self, option: SupplyOption) -> np.ndarray:
        """Days an order of ``option`` can be placed: the review days for an order to make;
        for a call-off from a stock pool, the departure days within its window."""
        if option.pool < 0:
            return self.review_day_indices
        pool = self.pools[option.pool]
        days = self.departure_day_indices
        last = self.horizon - 1 if pool.last_day is None else pool.last_day
        return days[(days >= pool.first_day) & (days <= last)]

    @property
    def review_day_indices(self) -> np.ndarray:
        """Days supplier orders can be placed: ``first_order_day``, then every
        ``review_days``."""
        return np.arange(self.first_order_day, self.horizon, self.review_days)

    @property
    def departure_day_indices(self) -> np.ndarray:
        """Days shipments leave on lanes between our locations: every
        ``transfer_every_days`` for the first ``fine_days``, then weekly."""
        fine = min(self.settings.fine_days, self.horizon)
        near = np.arange(0, fine, self.settings.transfer_every_days)
        far = np.arange(fine, self.horizon, max(7, self.settings.transfer_every_days))
        return np.concatenate([near, far])

    @property
    def departures_per_slot(self) -> np.ndarray:
        """Per day, how many departures its slot stands for: 1 in the first ``fine_days``, a
        week's worth later (a lane's capacity per slot is its capacity times this)."""
        every = self.settings.transfer_every_days
        out = np.ones(self.horizon)
        out[min(self.settings.fine_days, self.horizon) :] = max(7 // every, 1)
        return out

    def day(self, t: int) -> date:
        return self.as_of + timedelta(days=1 + int(t))

    def lane_name(self, lane: Lane) -> str:
        return f"{self.locations[lane.origin]}>{self.locations[lane.destination]}"


# -- reading an instance from the store ----------------------------------------------------------
LOCATIONS_SQL = """
SELECT code, kind, capacity FROM locations WHERE kind IN (SELECT unnest($kinds)) ORDER BY code
"""

PRODUCTS_SQL = """
SELECT sku, name, unit_cost::DOUBLE AS unit_cost, price::DOUBLE AS price FROM products
WHERE $all_skus OR sku IN (SELECT unnest($skus))
ORDER BY sku
"""

LANES_SQL = """
SELECT from_location, to_location, transit_days, cost_per_unit::DOUBLE, fixed_cost::DOUBLE,
       capacity
FROM lanes ORDER BY from_location, to_location
"""

SUPPLY_SQL = """
SELECT sp.sku, sp.supplier, s.location AS site, sp.lead_time_mean_days, sp.lead_time_std_days,
       sp.moq, sp.pack_size, sp.price::DOUBLE AS price
FROM supplier_products sp JOIN suppliers s ON s.code = sp.supplier
WHERE $all_skus OR sp.sku IN (SELECT unnest($skus))
ORDER BY sp.sku, sp.supplier
"""


def build_instance(
    store: Store,
    settings: Settings | None = None,
    *,
    as_of: date | None = None,
    forecast_run: int | None = None,
    skus: list[str] | None = None,
    state: NetworkState | None = None,
    what_if: WhatIf | None = None,
    first_order_day: int = 0,
) -> PlanInstance:
    """The plan instance as of ``as_of`` (default: the data's today). ``first_order_day``:
    the first plan day supplier orders can be placed (a plan re-run between order days).

    Demand is each SKU x location's forecast from ``forecast_run``, or from the latest run made
    as of ``as_of`` or before that forecast it (a run made later is never read: no peeking);
    a day the run does not cover takes the run's mean, and a series without a forecast the mean
    of its last ``policies.history_days`` of demand. Safety stock and lot sizes come from
    :func:`control_tower.policies.policies` with the same run, the safety stock over the lead
    time plus the time until the next decision (periodic review: ``review_days`` for supplier
    orders, ``transfer_every_days`` for transfers)."""
    settings = settings or Settings()
    opt = settings.optimizer
    what_if = what_if or WhatIf()
    as_of = resolve_as_of(store, as_of)
    horizon = opt.horizon_days
    if forecast_run is not None:
        run_as_of = store.scalar("SELECT as_of FROM forecast_runs WHERE run_id = ?", [forecast_run])
        if run_as_of is None:
            raise NotFoundError(f"no forecast run {forecast_run}", title="Unknown forecast run")
        if run_as_of > as_of:
            raise PlanInputError(
                f"forecast run {forecast_run} was made as of {run_as_of}, after the plan's "
                f"as-of {as_of}: a plan cannot use a forecast made later"
            )
    scope = {"all_skus": not skus, "skus": list(skus or [])}
    if skus:
        known = {r[0] for r in store.rows(PRODUCTS_SQL, scope)}
        unknown = sorted(set(skus) - known)
        if unknown:
            raise NotFoundError(f"unknown SKU(s): {', '.join(unknown[:10])}", title="Unknown SKU")

    loc_rows = store.rows(LOCATIONS_SQL, {"kinds": list(NETWORK_KINDS)})
    loc_rows.sort(key=lambda r: (KIND_ORDER[r[1]], r[0]))
    locations = [r[0] for r in loc_rows]
    if not locations:
        raise PlanInputError("the store has no central DC, regional DC, store or VMI location")
    unknown_closed = sorted(set(what_if.closed_locations) - set(locations))
    if unknown_closed:
        raise NotFoundError(
            f"cannot close unknown location(s): {', '.join(unknown_closed)}",
            title="Unknown location",
        )
    loc_index = {code: i for i, code in enumerate(locations)}
    kinds = [r[1] for r in loc_rows]
    capacity = np.array([math.inf if r[2] is None else float(r[2]) for r in loc_rows])

    position = stock_position(store, as_of=as_of, skus=skus, settings=settings.position)
    position = position.filter(pl.col("location").is_in(locations))
    products = store.query(PRODUCTS_SQL, scope)
    active = set(position["sku"].to_list())
    if state is not None:
        active |= {k[0] for k in state.on_hand} | {a[0] for a in state.arrivals}
    products = products.filter(pl.col("sku").is_in(sorted(active)))
    sku_list = products["sku"].to_list()
    if not sku_list:
        raise PlanInputError(
            f"no SKU has stock, demand or inbound at a network location as of {as_of}"
        )
    sku_index = {s: i for i, s in enumerate(sku_list)}
    n_sku, n_loc = len(sku_list), len(locations)
    unit_cost = products["unit_cost"].fill_null(0.0).to_numpy().astype(float)
    price = products["price"].to_numpy()
    price = np.where(np.isnan(price.astype(float)), unit_cost, price.astype(float))
    shortage = np.maximum(price, unit_cost) * opt.shortage_cost_multiplier

    on_hand = np.zeros((n_sku, n_loc))
    arrivals = np.zeros((n_sku, n_loc, horizon))
    if state is None:
        for sku, loc, available in position.select("sku", "location", "available").iter_rows():
            on_hand[sku_index[sku], loc_index[loc]] = max(int(available or 0), 0)
        due = inbound(store, as_of=as_of)
        due = due.filter(pl.col("sku").is_in(sku_list) & pl.col("to_location").is_in(locations))
        pending = due.select("sku", "to_location", "expected_date", "remaining").iter_rows()
    else:
        for (sku, loc), units in state.on_hand.items():
            if sku in sku_index and loc in loc_index:
                on_hand[sku_index[sku], loc_index[loc]] = max(int(units), 0)
        pending = iter(state.arrivals)
    for sku, loc, expected, units in pending:
        if sku not in sku_index or loc not in loc_index or not units or units <= 0:
            continue
        t = (expected - as_of).days - 1
        if t < horizon:  # late (expected already) counts as arriving on the first day
            arrivals[sku_index[sku], loc_index[loc], max(t, 0)] += units

    demand, run_used, notes = _demand(
        store, settings, as_of, horizon, forecast_run, scope, sku_index, loc_index
    )

    policy_settings = settings.policies
    if what_if.service_level is not None:
        level = what_if.service_level
        if not 0 < level < 1:
            raise PlanInputError(f"a service level is between 0 and 1, not {level}")
        policy_settings = PolicySettings(
            **(
                settings.policies.model_dump()
                | {
                    "service_levels": dict.fromkeys(settings.policies.service_levels, level),
                    "default_service_level": level,
                }
            )
        )
    lead = lead_times(store, settings.suppliers, as_of=as_of, skus=skus)  # read once
    safety = np.zeros((n_sku, n_loc))
    lot = np.ones((n_sku, n_loc))
    cover = np.full((n_sku, n_loc), math.inf)
    for p in policies(
        store,
        policy_settings,
        settings.position,
        as_of=as_of,
        forecast_run=forecast_run,
        skus=skus,
        lead_times=lead,
    ):
        i, j = sku_index.get(p.inputs.sku), loc_index.get(p.inputs.location)
        if i is None or j is None:
            continue
        # a decision stands until the next one: safety stock covers the lead time plus the
        # time between decisions (periodic review): the order cycle for a location a supplier
        # replenishes, the days between departures for one fed over a lane; unless a planner
        # set the safety stock
        cycle = (
            opt.transfer_every_days if p.inputs.source.startswith(LANE_FROM) else opt.review_days
        )
        periodic = compute_policy(
            replace(p.inputs, lead_time_days=p.inputs.lead_time_days + cycle), p.overrides
        )
        safety[i, j] = periodic.safety_stock
        lot[i, j] = max(p.eoq, 1.0)
        if opt.fill_to_max_level and p.inputs.daily_demand > 0:
            cover[i, j] = p.max_level / p.inputs.daily_demand

    holding = np.outer(unit_cost * policy_settings.holding_rate / 365.0, np.ones(n_loc))
    for j, kind in enumerate(kinds):
        if kind == "vmi":  # consigned: the supplier's until consumed, the space is ours
            holding[:, j] *= opt.consigned_holding_share

    closed = set(what_if.closed_locations)
    lanes: list[Lane] = []
    freight: dict[str, list[tuple[int, float, float, int]]] = {}
    lane_rows = store.rows(LANES_SQL)
    for origin, dest, transit, per_unit, fixed, lane_cap in lane_rows:
        factor = what_if.lane_cost_factor.get(f"{origin}>{dest}", 1.0)
        if origin in loc_index and dest in loc_index:
            if origin in closed or dest in closed:
                continue
            lanes.append(
                Lane(
                    loc_index[origin],
                    loc_index[dest],
                    int(transit),
                    float(per_unit) * factor,
                    float(fixed or 0.0) * factor,
                    math.inf if lane_cap is None else float(lane_cap),
                )
            )
        elif dest in loc_index and dest not in closed:  # a supplier's site delivering to us
            freight.setdefault(origin, []).append(
                (loc_index[dest], float(per_unit) * factor, float(fixed or 0.0) * factor, transit)
            )
    unknown_lanes = sorted(set(what_if.lane_cost_factor) - {f"{r[0]}>{r[1]}" for r in lane_rows})
    if unknown_lanes:
        raise NotFoundError(f"no such lane: {', '.join(unknown_lanes)}", title="Unknown lane")

    central = next((j for j, k in enumerate(kinds) if k == "central_dc"), None)
    measured = {
        (r[0], r[1]): (r[2], r[3])
        for r in lead.select(
            "supplier", "sku", "lead_time_mean_days", "lead_time_sd_days"
        ).iter_rows()
    }
    held = (
        _supplier_stock(
            store, as_of, horizon, sku_index, settings.suppliers.stock_report_stale_days
        )
        if state is None and settings.suppliers.plan_on_stock
        else {}
    )
    supply: list[SupplyOption] = []
    pools: list[StockPool] = []
    known_suppliers = set()
    for sku, supplier, site, lt_mean, lt_sd, moq, pack, sp_price in store.rows(SUPPLY_SQL, scope):
        known_suppliers.add(supplier)
        if sku not in sku_index:
            continue
        i = sku_index[sku]
        lt_mean, lt_sd = measured.get((supplier, sku), (lt_mean, lt_sd))
        delay = what_if.supplier_delay_days.get(supplier, 0)
        from_site = freight.get(site)
        targets = from_site or (
            [(central, 0.0, 0.0, settings.suppliers.stock_transit_days)]
            if central is not None and locations[central] not in closed
            else []
        )
        ordinary = SupplyOption(
            sku=i,
            supplier=supplier,
            destination=0,
            lead_time_days=max(math.ceil(float(lt_mean) + delay), 0),
            lead_time_sd_days=float(lt_sd or 0.0),
            price=float(sp_price if sp_price is not None else unit_cost[i]),
            moq=int(moq or 0),
            pack_size=max(int(pack or 1), 1),
        )
        for dest, per_unit, fixed, _transit in targets:
            supply.append(
                replace(ordinary, destination=dest, freight_per_unit=per_unit, freight_fixed=fixed)
            )
        for pool in held.get((i, supplier), []) if targets else []:
            pools.append(pool)
            for dest, per_unit, fixed, transit in targets:
                if not from_site:  # no lane from its site: never later than an order to make
                    transit = min(transit, max(math.ceil(float(lt_mean)), 0))
                supply.append(
                    replace(
                        ordinary,
                        destination=dest,
                        lead_time_days=max(int(transit) + delay, 0),
                        lead_time_sd_days=0.0,
                        moq=0,
                        pack_size=1,
                        freight_per_unit=per_unit,
                        freight_fixed=fixed,
                        pool=len(pools) - 1,
                    )
                )
    if pools:
        notes.append(
            f"supplier stock: {len(pools)} pool{'s' if len(pools) > 1 else ''} of reported "
            f"stock or weekly capacity ({sum(p.quantity for p in pools):,} units) as sources "
            "with a short lead time"
        )
    sources = lead.filter(pl.col("sku").is_in(sku_list))["lead_time_source"].to_list()
    if sources and settings.suppliers.lead_times == "measured":
        counts = Counter(source.split(":")[0] for source in sources)
        notes.append(
            "supplier lead times: "
            + ", ".join(
                f"{counts.get(k, 0)} {label}"
                for k, label in (
                    ("measured", "measured per SKU"),
                    ("measured for the supplier", "scaled from the supplier's record"),
                    ("stated", "stated (too few receipts)"),
                )
            )
        )
    unknown_suppliers = sorted(set(what_if.supplier_delay_days) - known_suppliers)
    if unknown_suppliers:
        raise NotFoundError(
            f"unknown supplier(s): {', '.join(unknown_suppliers)}", title="Unknown supplier"
        )
    # a lost sale costs its price (times the multiplier) and more than any way of delivering
    # the unit would have: otherwise a cheap item whose freight exceeds its price would be left
    # to run out on purpose
    delivery = max((ln.cost_per_unit for ln in lanes), default=0.0) + max(
        (o.freight_per_unit for o in supply), default=0.0
    )
    order_share = np.zeros(n_sku)
    for option in supply:
        # a call-off from stock shares its destination's usual lot (lot_size) with the
        # supplier's order to make: its MOQ of 0 must not shrink the lot here
        if option.pool >= 0:
            continue
        lot_units = max(lot[option.sku, option.destination], option.moq, option.pack_size, 1)
        order_share[option.sku] = max(
            order_share[option.sku], policy_settings.order_cost / lot_units
        )
    shortage = shortage + delivery + order_share
    return PlanInstance(
        as_of=as_of,
        horizon=horizon,
        review_days=opt.review_days,
        skus=sku_list,
        locations=locations,
        location_kinds=kinds,
        unit_cost=unit_cost,
        shortage_cost=shortage,
        holding_cost=holding,
        safety_stock=safety,
        demand=demand,
        on_hand=on_hand,
        arrivals=arrivals,
        location_capacity=capacity,
        lanes=lanes,
        supply=supply,
        order_cost=policy_settings.order_cost,
        transfer_line_cost=policy_settings.transfer_line_cost,
        lot_size=lot,
        max_cover_days=cover,
        budget=opt.budget,
        forecast_run=run_used,
        settings=opt,
        first_order_day=first_order_day,
        what_if=what_if,
        notes=notes,
        pools=pools,
        names=dict(zip(products["sku"].to_list(), products["name"].to_list(), strict=True)),
    )


ORDERED_SINCE_SQL = """
SELECT supplier, sku, order_date, sum(quantity)::BIGINT AS ordered
FROM purchase_orders
WHERE order_date >= $first AND order_date <= $as_of AND status <> 'cancelled'
GROUP BY ALL
"""


def _supplier_stock(
    store: Store, as_of: date, horizon: int, sku_index: dict[str, int], stale_days: int
) -> dict[tuple[int, str], list[StockPool]]:
    """Per (SKU index, supplier) the stock pools of its latest report as of ``as_of``: the
    units held for us less what we ordered from the supplier since the report's day (taken
    from the stock first, then from the capacity weeks in order), from its available date;
    and each week's reported capacity within that week. A report older than ``stale_days``
    is not planned on (the data-quality rule flags it)."""
    stock = collab.supplier_stock(store, as_of=as_of)
    stock = stock.filter(pl.col("sku").is_in(list(sku_index)) & (pl.col("age_days") <= stale_days))
    if stock.is_empty():
        return {}
    weeks: dict[tuple[str, str], list[tuple[date, int]]] = {}
    for supplier, sku, week_start, units in (
        collab.supplier_capacity(store, as_of=as_of)
        .select("supplier", "sku", "week_start", "capacity")
        .iter_rows()
    ):
        weeks.setdefault((supplier, sku), []).append((week_start, int(units or 0)))
    reported = stock["reported_at"].cast(pl.Date)
    ordered = store.query(ORDERED_SINCE_SQL, {"first": reported.min(), "as_of": as_of})
    since: dict[tuple[str, str], list[tuple[date, int]]] = {}
    for supplier, sku, day, units in ordered.iter_rows():
        since.setdefault((supplier, sku), []).append((day, int(units)))
    out: dict[tuple[int, str], list[StockPool]] = {}
    for supplier, sku, units, available, at in stock.select(
        "supplier", "sku", "available_qty", "available_date", "reported_at"
    ).iter_rows():
        day = at.date() if isinstance(at, datetime) else at
        taken = sum(q for d, q in since.get((supplier, sku), []) if d >= day)
        i = sku_index[sku]
        parts = [(units, available, None, f"stock reported {day.isoformat()}")]
        parts += [
            (cap, start, start + timedelta(days=6), f"capacity in the week of {start.isoformat()}")
            for start, cap in sorted(weeks.get((supplier, sku), []))
        ]
        for quantity, first, last, label in parts:
            used = min(taken, quantity)
            taken -= used
            first_day = max((first - as_of).days - 1, 0)
            last_day = horizon - 1 if last is None else min((last - as_of).days - 1, horizon - 1)
            if quantity - used <= 0 or last_day < first_day or first_day >= horizon:
                continue
            out.setdefault((i, supplier), []).append(
                StockPool(i, supplier, int(quantity - used), first_day, last_day, label)
            )
    return out


def _demand(
    store: Store,
    settings: Settings,
    as_of: date,
    horizon: int,
    forecast_run: int | None,
    scope: dict,
    sku_index: dict[str, int],
    loc_index: dict[str, int],
) -> tuple[np.ndarray, int | None, list[str]]:
    """Expected demand per SKU x location x day, the (latest) forecast run it came from, and
    notes on what was filled in."""
    demand = np.zeros((len(sku_index), len(loc_index), horizon))
    frame = plan_forecast(
        store,
        settings.forecast.sensing,
        as_of=as_of,
        horizon=horizon,
        run_id=forecast_run,
        skus=None if scope["all_skus"] else scope["skus"],
    )
    frame = frame.filter(
        pl.col("sku").is_in(list(sku_index)) & pl.col("location").is_in(list(loc_index))
    )
    covered = set()
    run_used = None
    notes = []
    if frame.height:
        run_used = int(frame["run_id"].max())
        i = frame["sku"].replace_strict(sku_index, return_dtype=pl.Int64).to_numpy()
        j = frame["location"].replace_strict(loc_index, return_dtype=pl.Int64).to_numpy()
        t = frame.select((pl.col("date") - pl.lit(as_of)).dt.total_days())[:, 0].to_numpy() - 1
        demand[i, j, t] = np.maximum(frame["mean"].to_numpy(), 0.0)
        filled = np.zeros(demand.shape, dtype=bool)
        filled[i, j, t] = True
        covered = set(zip(i.tolist(), j.tolist(), strict=True))
        short = [(a, b) for a, b in covered if not filled[a, b].all()]
        for a, b in short:  # a run made before as_of ends before the horizon does
            have = filled[a, b]
            demand[a, b, ~have] = demand[a, b, have].mean()
        if short:
            notes.append(
                f"{len(short)} series' forecasts end before the horizon: their mean fills the rest"
            )
    days = settings.policies.history_days
    history = store.query(
        HISTORY_SQL, {"first": as_of - timedelta(days=days), "as_of": as_of, **scope}
    )
    missing = 0
    for sku, location, total, _sq in history.iter_rows():
        key = (sku_index.get(sku), loc_index.get(location))
        if None in key or key in covered:
            continue
        demand[key[0], key[1], :] = total / days
        missing += 1
    if missing:
        notes.append(f"{missing} series without a forecast use their last {days} days' mean demand")
    return demand, run_used, notes
