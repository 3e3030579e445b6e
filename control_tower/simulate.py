"""Replay a past period day by day to score a replenishment policy against what customers
actually asked for.

The world starts as the store recorded it the evening before ``start``: stock available at
every network location and what was already on its way (open purchase orders, transfers in
transit, arriving on their expected dates). Each day, in order:

1. what is due arrives;
2. on a review day (the first day, then every ``review_days``), the policy decides:
   - ``optimizer``: a forecast is made as of the evening before (the forecast reads no demand
     after it; with ``forecast_days`` longer than the review, only every that many days, and
     plans in between use the latest), the optimizer plans from the simulated stock and
     pipeline, and the plan's lines that leave before the next review are scheduled as
     planned; supplier orders keep the optimizer's own cycle (``optimizer.review_days`` from
     the first day) however often plans are re-run;
   - ``minmax``: the reorder rules of an ERP: per SKU x stocking location a reorder point and
     a max level from :func:`control_tower.policies.policies` on history only (refreshed every
     review), safety stock scaled by ``minmax_scale`` (how it is tuned); every day a location
     whose stock position (on hand plus on its way) is at or below its reorder point asks for
     enough to reach its max level: a regional DC from the central DC over its lane, the
     central DC from its consignment (VMI) stock first, then from its primary supplier (MOQ
     and pack size applied). No lateral transfers;
   - ``none``: nothing; only what was already on its way arrives;
3. scheduled transfers leave, as far as the origin's stock allows, and arrive after the lane's
   transit; supplier orders arrive after a lead time drawn from the supplier's mean and
   spread;
4. the day's actual demand is served from stock on hand; what cannot be is lost.

Nothing is ever served from stock that has not arrived, and stock never goes negative (checked
each day). The forecasts, plans and policies are computed on a copy of the database, so the
store itself is not changed.
"""

from __future__ import annotations

import io
import json
import logging
import math
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import polars as pl

from control_tower.config import Settings
from control_tower.errors import ControlTowerError
from control_tower.optimize import NetworkState, build_instance, plan
from control_tower.optimize.instance import PlanInstance
from control_tower.policies import LANE_FROM, policies
from control_tower.position import inbound
from control_tower.store import Store

log = logging.getLogger(__name__)

POLICIES = ("optimizer", "minmax", "none")
Forecaster = Callable[[Store, date], int | None]
Progress = Callable[[int, int, str], None]

DEMAND_SQL = """
SELECT sku, location, date, quantity FROM demand_history
WHERE date >= $first AND date < $stop
"""


class SimulationError(ControlTowerError):
    title = "Cannot simulate"


@dataclass
class SimulationResult:
    policy: str
    start: date
    days: int
    review_days: int
    demand_units: int
    served_units: int
    lost_units: int
    lost_value: float
    stockout_days: int  # SKU x location x days with demand not served
    avg_inventory_value: float  # owned stock at cost, end of day, averaged over the days
    holding_cost: float
    transport_cost: float
    handling_cost: float
    ordering_cost: float
    transfers: int
    lateral_transfers: int
    orders: int
    seconds: float
    minmax_scale: float | None = None
    daily: pl.DataFrame | None = None
    lost_by_location: dict[str, int] = field(default_factory=dict)
    plans: list[dict] = field(default_factory=list)

    @property
    def fill_rate(self) -> float:
        return self.served_units / self.demand_units if self.demand_units else 1.0

    @property
    def total_cost(self) -> float:
        return self.holding_cost + self.transport_cost + self.handling_cost + self.ordering_cost

    def as_dict(self) -> dict:
        return {
            "policy": self.policy,
            "start": self.start.isoformat(),
            "days": self.days,
            "review_days": self.review_days,
            "fill_rate": self.fill_rate,
            "demand_units": self.demand_units,
            "served_units": self.served_units,
            "lost_units": self.lost_units,
            "lost_value": self.lost_value,
            "stockout_days": self.stockout_days,
            "avg_inventory_value": self.avg_inventory_value,
            "holding_cost": self.holding_cost,
            "transport_cost": self.transport_cost,
            "handling_cost": self.handling_cost,
            "ordering_cost": self.ordering_cost,
            "total_cost": self.total_cost,
            "transfers": self.transfers,
            "lateral_transfers": self.lateral_transfers,
            "orders": self.orders,
            "minmax_scale": self.minmax_scale,
            "seconds": self.seconds,
            "plans": self.plans,
        }


def demand_days(store: Store) -> tuple[date | None, date | None]:
    """The first and last day of demand history: what a replay can cover (after the first)."""
    first, last = store.rows("SELECT min(date), max(date) FROM demand_history")[0]
    return first, last


def default_forecaster(settings: Settings) -> Forecaster:
    """A forecast run as of the day, with the store's settings, over the plan's horizon."""
    from control_tower.forecast import forecast

    def make(store: Store, as_of: date) -> int:
        run = forecast(
            store,
            settings.forecast,
            as_of=as_of,
            horizon=settings.optimizer.horizon_days,
            show_bar=False,
        )
        return run.run_id

    return make


def simulate(
    store: Store,
    settings: Settings | None = None,
    *,
    policy: str,
    start: date,
    days: int,
    review_days: int | None = None,
    seed: int = 0,
    minmax_scale: float = 1.0,
    forecaster: Forecaster | None = None,
    progress: Progress | None = None,
    isolate: bool = True,
    forecast_days: int | None = None,
) -> SimulationResult:
    """Replay ``days`` days from ``start`` under ``policy`` (see the module docstring).
    ``forecast_days``: a new forecast every this many days (default: every review); each plan
    uses the latest made by its as-of. ``isolate``: work on a copy of the database (forecast
    runs made during the replay do not land in the store)."""
    settings = settings or Settings()
    if policy not in POLICIES:
        raise SimulationError(f"policy is one of {', '.join(POLICIES)}, not {policy!r}")
    if days < 1:
        raise SimulationError(f"days must be at least 1, not {days}")
    review = review_days or settings.optimizer.review_days
    if review < 1:
        raise SimulationError(f"review days must be at least 1, not {review}")
    if forecast_days is not None and forecast_days < 1:
        raise SimulationError(f"forecast days must be at least 1, not {forecast_days}")
    if minmax_scale < 0:
        raise SimulationError(f"the min/max scale must be at least 0, not {minmax_scale}")
    first, last = demand_days(store)
    if last is None:
        raise SimulationError("the store has no demand history to replay")
    if start <= first or start + timedelta(days=days - 1) > last:
        raise SimulationError(
            f"the replay needs actual demand for every day: {start} .. "
            f"{start + timedelta(days=days - 1)} is not inside the history after {first} "
            f"(up to {last})"
        )

    def replay(on: Store) -> SimulationResult:
        return _Replay(
            on,
            settings,
            policy,
            start,
            days,
            review,
            seed,
            minmax_scale,
            forecaster,
            progress,
            forecast_days,
        ).run()

    if not isolate:
        return replay(store)
    if store.path == ":memory:":
        raise SimulationError("an in-memory store cannot be copied; pass isolate=False")
    try:
        store.cursor().execute("CHECKPOINT")
    except Exception as exc:  # noqa: BLE001 - a read-only store cannot checkpoint; copy anyway
        log.debug("no checkpoint before copying: %s", exc)
    with tempfile.TemporaryDirectory(prefix="ct_simulate_") as tmp:
        copy = Path(tmp) / "replay.duckdb"
        shutil.copy(store.path, copy)
        with Store(copy) as work:
            return replay(work)


class _Replay:
    def __init__(
        self,
        store,
        settings,
        policy,
        start,
        days,
        review,
        seed,
        minmax_scale,
        forecaster,
        progress,
        forecast_days=None,
    ) -> None:
        self.store = store
        self.settings = settings
        self.policy = policy
        self.start = start
        self.days = days
        self.review = review
        self.rng = np.random.default_rng(seed)
        self.scale = minmax_scale
        self.forecaster = forecaster or default_forecaster(settings)
        self.progress = progress
        self.forecast_days = forecast_days or review
        self.current_run: int | None = None
        self.plans: list[dict] = []

    # -- set-up -------------------------------------------------------------------------------
    def _load(self) -> None:
        eve = self.start - timedelta(days=1)
        world = build_instance(self.store, self.settings, as_of=eve)
        self.world: PlanInstance = world
        self.skus = world.skus
        self.locations = world.locations
        self.sku_index = {s: i for i, s in enumerate(self.skus)}
        self.loc_index = {c: j for j, c in enumerate(self.locations)}
        n_sku, n_loc = len(self.skus), len(self.locations)
        self.on_hand = np.rint(world.on_hand).astype(np.int64)
        self.pipeline = np.zeros((n_sku, n_loc, self.days + 1), dtype=np.int64)
        due = inbound(self.store, as_of=eve)
        for sku, loc, expected, remaining in due.select(
            "sku", "to_location", "expected_date", "remaining"
        ).iter_rows():
            if sku in self.sku_index and loc in self.loc_index and remaining and remaining > 0:
                self._arrive(
                    self.sku_index[sku],
                    self.loc_index[loc],
                    max((expected - self.start).days, 0),
                    int(remaining),
                )
        demand = self.store.query(
            DEMAND_SQL, {"first": self.start, "stop": self.start + timedelta(days=self.days)}
        ).filter(pl.col("sku").is_in(self.skus) & pl.col("location").is_in(self.locations))
        self.demand = np.zeros((n_sku, n_loc, self.days), dtype=np.int64)
        self.lost = np.zeros((n_sku, n_loc, self.days), dtype=np.int64)
        if demand.height:
            i = demand["sku"].replace_strict(self.sku_index, return_dtype=pl.Int64).to_numpy()
            j = demand["location"].replace_strict(self.loc_index, return_dtype=pl.Int64).to_numpy()
            t = demand.select((pl.col("date") - pl.lit(self.start)).dt.total_days())[
                :, 0
            ].to_numpy()
            np.add.at(self.demand, (i, j, t), demand["quantity"].to_numpy())
        prices = dict(
            self.store.rows("SELECT sku, coalesce(price, unit_cost)::DOUBLE FROM products")
        )
        self.price = np.array([prices.get(s, 0.0) for s in self.skus])
        self.owned = np.array([k != "vmi" for k in world.location_kinds])
        self.lane_of = {(ln.origin, ln.destination): j for j, ln in enumerate(world.lanes)}
        self.primary: dict[int, int] = {}  # sku -> its cheapest supply option
        for o, option in enumerate(world.supply):
            if option.pool >= 0:  # a supplier's reported stock: the replay does not track it
                continue
            best = self.primary.get(option.sku)
            if best is None or (option.price, option.lead_time_days) < (
                world.supply[best].price,
                world.supply[best].lead_time_days,
            ):
                self.primary[option.sku] = o
        self.option_of = {
            (o.sku, o.supplier, o.destination): k for k, o in enumerate(world.supply) if o.pool < 0
        }
        # what is scheduled to leave: day -> [(sku, lane, qty)] and [(sku, option, qty)]
        self.transfers: dict[int, list[tuple[int, int, int]]] = {}
        self.orders: dict[int, list[tuple[int, int, int]]] = {}

    def _arrive(self, s: int, loc: int, day: int, qty: int) -> None:
        if day < self.days:
            self.pipeline[s, loc, day] += qty

    # -- the loop -----------------------------------------------------------------------------
    def run(self) -> SimulationResult:
        started = time.perf_counter()
        self._load()
        world = self.world
        n_sku = len(self.skus)
        served_total = lost_total = stockout = 0
        lost_value = holding = transport = handling = ordering = 0.0
        transfers = lateral = orders = 0
        central = {j for j, k in enumerate(world.location_kinds) if k == "central_dc"}
        inventory_value = []
        daily = []
        params = None
        for d in range(self.days):
            self.on_hand += self.pipeline[:, :, d]
            if d % self.review == 0:
                if self.policy == "optimizer":
                    self._plan(d)
                elif self.policy == "minmax":
                    params = self._minmax_params(d)
            if self.policy == "minmax" and params is not None:
                self._minmax(d, params)
            # transfers leave
            loads: dict[int, int] = {}
            for s, j, qty in self.transfers.pop(d, []):
                lane = world.lanes[j]
                sent = min(qty, int(self.on_hand[s, lane.origin]))
                if sent <= 0:
                    continue
                self.on_hand[s, lane.origin] -= sent
                if lane.transit_days == 0:
                    self.on_hand[s, lane.destination] += sent
                else:
                    self._arrive(s, lane.destination, d + lane.transit_days, sent)
                loads[j] = loads.get(j, 0) + sent
                transport += sent * lane.cost_per_unit
                handling += world.transfer_line_cost
                transfers += 1
                lateral += lane.origin not in central and world.location_kinds[lane.origin] != "vmi"
            for j, load in loads.items():
                lane = world.lanes[j]
                trucks = math.ceil(load / lane.capacity) if math.isfinite(lane.capacity) else 1
                transport += trucks * lane.fixed_cost
            # orders are placed
            deliveries = set()
            for s, o, qty in self.orders.pop(d, []):
                option = world.supply[o]
                lead = self._lead_time(option)
                if lead == 0:
                    self.on_hand[s, option.destination] += qty
                else:
                    self._arrive(s, option.destination, d + lead, qty)
                ordering += world.order_cost
                transport += qty * option.freight_per_unit
                if (
                    option.freight_fixed > 0
                    and (option.supplier, option.destination) not in deliveries
                ):
                    deliveries.add((option.supplier, option.destination))
                    transport += option.freight_fixed
                orders += 1
            # customers
            want = self.demand[:, :, d]
            served = np.minimum(want, self.on_hand)
            self.on_hand -= served
            short = want - served
            self.lost[:, :, d] = short
            if (self.on_hand < 0).any():  # cannot happen: a defect if it does
                raise RuntimeError(f"negative stock on day {d} of the replay")
            served_total += int(served.sum())
            lost_total += int(short.sum())
            lost_value += float((short.sum(axis=1) * self.price).sum())
            stockout += int((short > 0).sum())
            holding += float((self.on_hand * world.holding_cost).sum())
            value = float((self.on_hand[:, self.owned] * world.unit_cost[:, None]).sum())
            inventory_value.append(value)
            daily.append(
                {
                    "date": self.start + timedelta(days=d),
                    "demand": int(want.sum()),
                    "served": int(served.sum()),
                    "inventory_value": value,
                }
            )
            if self.progress:
                self.progress(d + 1, self.days, "replay")
        demand_total = int(self.demand.sum())
        log.info(
            "%s replay of %d SKUs from %s for %d days: fill rate %.2f%%",
            self.policy,
            n_sku,
            self.start,
            self.days,
            100 * served_total / demand_total if demand_total else 100,
        )
        return SimulationResult(
            policy=self.policy,
            start=self.start,
            days=self.days,
            review_days=self.review,
            demand_units=demand_total,
            served_units=served_total,
            lost_units=lost_total,
            lost_value=lost_value,
            stockout_days=stockout,
            avg_inventory_value=float(np.mean(inventory_value)),
            holding_cost=holding,
            transport_cost=transport,
            handling_cost=handling,
            ordering_cost=ordering,
            transfers=transfers,
            lateral_transfers=int(lateral),
            orders=orders,
            seconds=time.perf_counter() - started,
            minmax_scale=self.scale if self.policy == "minmax" else None,
            daily=pl.DataFrame(daily),
            plans=self.plans,
            lost_by_location={c: int(self.lost[:, j].sum()) for j, c in enumerate(self.locations)},
        )

    def _lead_time(self, option) -> int:
        if option.lead_time_sd_days <= 0:
            return option.lead_time_days
        drawn = self.rng.normal(option.lead_time_days, option.lead_time_sd_days)
        return max(int(round(drawn)), 0)

    # -- the optimizer ------------------------------------------------------------------------
    def _plan(self, d: int) -> None:
        eve = self.start + timedelta(days=d - 1)
        if self.current_run is None or d % self.forecast_days == 0:
            self.current_run = self.forecaster(self.store, eve)
        cycle = self.settings.optimizer.review_days  # supplier orders: on this cycle
        result = plan(
            self.store,
            self.settings,
            as_of=eve,
            forecast_run=self.current_run,
            state=self._state(d),
            with_lines=False,
            first_order_day=(-d) % cycle,
        )
        self.plans.append(
            {
                "as_of": eve.isoformat(),
                "forecast_run": self.current_run,
                "status": result.status.value,
                "transfers": int(result.solution.ship_qty.size),
                "orders": int(result.solution.order_qty.size),
                "seconds": round(result.build_s + result.solve_s, 2),
            }
        )
        if result.status.value not in ("optimal", "feasible", "infeasible", "time_limit"):
            log.warning("plan as of %s: %s; nothing scheduled", eve, result.solution.message)
            return
        if result.status.value in ("infeasible", "time_limit"):  # still act on the days ahead
            log.warning(
                "plan as of %s: %s; its lines are carried out", eve, result.solution.message
            )
        inst, sol = result.instance, result.solution
        until = self.review  # plan days 0 .. review - 1 are carried out before the next plan
        self.plans[-1]["scheduled"] = sorted(
            [
                ("transfer", inst.skus[s], inst.lane_name(inst.lanes[j]), int(t), int(q))
                for s, j, t, q in zip(
                    sol.ship_sku, sol.ship_lane, sol.ship_day, sol.ship_qty, strict=True
                )
                if t < until
            ]
            + [
                ("order", inst.skus[s], inst.supply[o].supplier, int(t), int(q))
                for s, o, t, q in zip(
                    sol.order_sku, sol.order_option, sol.order_day, sol.order_qty, strict=True
                )
                if t < until
            ]
        )
        for s, j, t, q in zip(sol.ship_sku, sol.ship_lane, sol.ship_day, sol.ship_qty, strict=True):
            if t >= until:
                continue
            lane = inst.lanes[j]
            i = self.sku_index.get(inst.skus[s])
            key = (
                self.loc_index.get(inst.locations[lane.origin]),
                self.loc_index.get(inst.locations[lane.destination]),
            )
            if i is not None and key in self.lane_of:
                self.transfers.setdefault(d + int(t), []).append((i, self.lane_of[key], int(q)))
        for s, o, t, q in zip(
            sol.order_sku, sol.order_option, sol.order_day, sol.order_qty, strict=True
        ):
            if t >= until:
                continue
            option = inst.supply[o]
            i = self.sku_index.get(inst.skus[s])
            dest = self.loc_index.get(inst.locations[option.destination])
            mine = self.option_of.get((i, option.supplier, dest))
            if mine is not None:
                self.orders.setdefault(d + int(t), []).append((i, mine, int(q)))

    def _state(self, d: int) -> NetworkState:
        """Stock on hand this morning (after today's arrivals) and everything on its way:
        arrivals already due, and transfers and orders scheduled but not yet gone."""
        on_hand = {
            (self.skus[s], self.locations[j]): int(q)
            for (s, j), q in np.ndenumerate(self.on_hand)
            if q > 0
        }
        arrivals = []
        s_idx, l_idx, t_idx = np.nonzero(self.pipeline[:, :, d + 1 :])
        for s, j, t in zip(s_idx, l_idx, t_idx, strict=True):
            day = self.start + timedelta(days=int(d + 1 + t))
            arrivals.append(
                (self.skus[s], self.locations[j], day, int(self.pipeline[s, j, d + 1 + t]))
            )
        return NetworkState(on_hand=on_hand, arrivals=arrivals)

    # -- min/max --------------------------------------------------------------------------------
    def _minmax_params(self, d: int) -> dict:
        eve = self.start + timedelta(days=d - 1)
        items = policies(
            self.store,
            self.settings.policies,
            self.settings.position,
            as_of=eve,
            use_forecasts=False,
            suppliers=self.settings.suppliers,
        )
        n_sku, n_loc = len(self.skus), len(self.locations)
        rop = np.full((n_sku, n_loc), -1.0)
        top = np.zeros((n_sku, n_loc))
        source = np.full((n_sku, n_loc), -1, dtype=np.int64)  # lane index, or -1: supplier
        for p in items:
            s, j = self.sku_index.get(p.inputs.sku), self.loc_index.get(p.inputs.location)
            if s is None or j is None:
                continue
            i = p.inputs
            point = i.daily_demand * i.lead_time_days + self.scale * p.safety_stock
            rop[s, j] = point
            top[s, j] = point + p.eoq
            if i.source.startswith(LANE_FROM):
                origin = self.loc_index.get(i.source.removeprefix(LANE_FROM))
                source[s, j] = self.lane_of.get((origin, j), -2) if origin is not None else -2
        return {"rop": rop, "max": top, "source": source}

    def _minmax(self, d: int, params: dict) -> None:
        """Every stocking location at or below its reorder point asks for enough to reach its
        max level (stock position: on hand, on its way, and asked for but not yet gone)."""
        world = self.world
        position = self.on_hand + self.pipeline[:, :, d + 1 :].sum(axis=2)
        for s, j, qty in self.transfers.get(d, []):
            position[s, world.lanes[j].destination] += qty
        for s, o, qty in self.orders.get(d, []):
            position[s, world.supply[o].destination] += qty
        rop, top, source = params["rop"], params["max"], params["source"]
        trigger = (rop >= 0) & (position <= rop) & (top > position)
        for s, j in zip(*np.nonzero(trigger), strict=True):
            need = int(math.ceil(top[s, j] - position[s, j]))
            if need <= 0:
                continue
            lane = source[s, j]
            if lane >= 0:  # from the central DC over its lane
                self.transfers.setdefault(d, []).append((int(s), int(lane), need))
                continue
            # the central DC: consigned stock first, then the primary supplier
            for k, kind in enumerate(world.location_kinds):
                if kind == "vmi" and (k, j) in self.lane_of and self.on_hand[s, k] > 0:
                    take = min(need, int(self.on_hand[s, k]))
                    self.transfers.setdefault(d, []).append((int(s), self.lane_of[(k, j)], take))
                    need -= take
            o = self.primary.get(int(s))
            if need > 0 and o is not None:
                option = world.supply[o]
                qty = max(math.ceil(need / option.pack_size) * option.pack_size, option.moq)
                self.orders.setdefault(d, []).append((int(s), o, qty))


# -- stored replays --------------------------------------------------------------------------------
def save_simulation(store: Store, result: SimulationResult, *, batch: str) -> int:
    """Store one replay (its measures and daily series) under ``batch``; returns its id."""
    daily = result.daily if result.daily is not None else pl.DataFrame()
    with store.transaction() as cur:
        cur.execute(
            "INSERT INTO simulation_runs (batch, policy, start_date, days, review_days, "
            "minmax_scale, measures, daily) VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING run_id",
            [
                batch,
                result.policy,
                result.start,
                result.days,
                result.review_days,
                result.minmax_scale,
                json.dumps(result.as_dict() | {"lost_by_location": result.lost_by_location}),
                daily.write_json() if daily.height else "[]",
            ],
        )
        (run_id,) = cur.fetchone()
    return int(run_id)


def list_simulations(store: Store, batch: str | None = None) -> pl.DataFrame:
    """Stored replays, newest batch first: one row per run with its measures as columns."""
    rows = store.rows(
        "SELECT run_id, created_at, batch, measures FROM simulation_runs "
        "WHERE $batch IS NULL OR batch = $batch ORDER BY run_id DESC",
        {"batch": batch},
    )
    records = []
    for run_id, created, name, measures in rows:
        m = json.loads(measures)
        m.pop("plans", None)
        m.pop("lost_by_location", None)
        records.append({"run_id": run_id, "created_at": created, "batch": name, **m})
    return pl.DataFrame(records) if records else pl.DataFrame()


def simulation_daily(store: Store, batch: str) -> pl.DataFrame:
    """The day-by-day series of a batch's runs: run_id, policy, date, demand, served,
    inventory_value, fill_rate (of that day)."""
    frames = []
    for run_id, policy, scale, daily in store.rows(
        "SELECT run_id, policy, minmax_scale, daily FROM simulation_runs WHERE batch = ? "
        "ORDER BY run_id",
        [batch],
    ):
        frame = pl.read_json(io.StringIO(daily)) if daily and daily != "[]" else pl.DataFrame()
        if frame.is_empty():
            continue
        label = policy if scale is None else f"{policy} x{scale:g}"
        frames.append(
            frame.with_columns(
                pl.lit(run_id).alias("run_id"),
                pl.lit(label).alias("policy"),
                pl.col("date").cast(pl.String).str.to_date(),
                (pl.col("served") / pl.col("demand").clip(1)).alias("fill_rate"),
            )
        )
    return pl.concat(frames) if frames else pl.DataFrame()
