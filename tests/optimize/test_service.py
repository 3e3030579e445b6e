"""The optimizer on a real demo database: instance read from the store, plan stored with its
lines, projection and proposed actions, what-if runs, and no peeking at later forecasts."""

from __future__ import annotations

import json
import shutil
from datetime import timedelta

import numpy as np
import polars as pl
import pytest

from control_tower.config import ForecastSettings, OptimizerSettings, Settings
from control_tower.errors import NotFoundError
from control_tower.forecast import forecast
from control_tower.optimize import (
    NetworkState,
    PlanInputError,
    SolveStatus,
    WhatIf,
    build_instance,
    compare_runs,
    get_plan_run,
    load_plan_lines,
    load_projection,
    plan,
    plan_flows,
    save_plan,
    status_text,
)
from control_tower.optimize.solve import balance_errors
from control_tower.store import Store
from tests.conftest import TESTER

FAST_FORECAST = ForecastSettings(workers=1, tuning_sample=0, prophet_classes=[])
SETTINGS = Settings(optimizer=OptimizerSettings(horizon_days=28))


@pytest.fixture(scope="module")
def demo_forecast(demo_db_path, tmp_path_factory):
    """The demo with a forecast run as of its last day and one as of 14 days before."""
    path = tmp_path_factory.mktemp("plan") / "demo.duckdb"
    shutil.copy(demo_db_path, path)
    with Store(path) as store:
        today = store.as_of()
        forecast(store, FAST_FORECAST, as_of=today - timedelta(days=14), horizon=42, show_bar=False)
        forecast(store, FAST_FORECAST, horizon=28, show_bar=False)
    return path


@pytest.fixture
def demo(demo_forecast, tmp_path):
    path = tmp_path / "copy.duckdb"
    shutil.copy(demo_forecast, path)
    with Store(path) as store:
        yield store


def test_the_instance_reads_stock_inbound_forecast_and_policies_from_the_store(demo):
    instance = build_instance(demo, SETTINGS)
    latest = demo.scalar("SELECT max(run_id) FROM forecast_runs")
    assert instance.forecast_run == latest
    assert instance.as_of == demo.as_of()
    kinds = dict(demo.rows("SELECT code, kind FROM locations"))
    assert {kinds[c] for c in instance.locations} <= {"central_dc", "regional_dc", "store", "vmi"}
    # on hand is the position's available stock
    sku, loc, available = demo.rows(
        "SELECT sku, location, sum(quantity) FROM ledger GROUP BY ALL HAVING sum(quantity) > 0 "
        "ORDER BY 3 DESC LIMIT 1"
    )[0]
    i, j = instance.skus.index(sku), instance.locations.index(loc)
    assert instance.on_hand[i, j] == available
    # demand is the forecast's mean, day by day
    f_sku, f_loc, f_date, f_mean = demo.rows(
        "SELECT sku, location, date, mean FROM forecasts WHERE run_id = ? AND mean > 1 "
        "ORDER BY date LIMIT 1",
        [latest],
    )[0]
    t = (f_date - instance.as_of).days - 1
    i, j = instance.skus.index(f_sku), instance.locations.index(f_loc)
    assert instance.demand[i, j, t] == pytest.approx(f_mean)
    assert instance.safety_stock.sum() > 0
    assert instance.supply and instance.lanes


def test_a_plan_is_stored_with_lines_projection_and_proposed_actions(demo):
    result = plan(demo, SETTINGS)
    assert result.status in (SolveStatus.OPTIMAL, SolveStatus.FEASIBLE)
    assert balance_errors(result.instance, result.solution) == []
    run_id = save_plan(demo, result, created_by=TESTER)
    run = get_plan_run(demo, "latest")
    assert run["run_id"] == run_id
    assert run["forecast_run"] == result.instance.forecast_run
    assert run["costs"]["total"] == pytest.approx(result.costs["total"])
    lines = load_plan_lines(demo, run_id)
    assert lines.height == len(result.lines) > 0
    first = lines.row(0, named=True)
    assert json.loads(first["alternatives"])
    assert first["reason"]
    actions = demo.query("SELECT * FROM actions WHERE plan_run = ?", [run_id])
    released = lines.filter(pl.col("release_now"))
    # only the lines due in the release window are proposed; the rest stay planned lines
    assert 0 < actions.height == released.height < lines.height
    assert sorted(actions["plan_line"]) == sorted(released["line_no"])
    last = result.as_of + timedelta(days=SETTINGS.actions.release_days)
    assert actions["ship_date"].max() <= last < lines["ship_date"].max()
    assert set(actions["status"]) == {"proposed"}
    assert set(actions["kind"]) <= {"transfer", "purchase_order"}
    events = demo.scalar(
        "SELECT count(*) FROM action_events e JOIN actions a USING (action_id) "
        "WHERE a.plan_run = ? AND e.to_status = 'proposed'",
        [run_id],
    )
    assert events == released.height
    projection = load_projection(demo, run_id)
    assert projection["served"].sum() == result.kpis["served_units"]
    assert plan_flows(demo, run_id)["units"].sum() == lines["quantity"].sum()


def test_a_new_plan_supersedes_the_proposals_of_the_one_before(demo):
    first = save_plan(demo, plan(demo, SETTINGS), created_by=TESTER)
    second = save_plan(demo, plan(demo, SETTINGS), created_by=TESTER)
    statuses = dict(
        demo.rows("SELECT plan_run, list(DISTINCT status) FROM actions GROUP BY ALL ORDER BY 1")
    )
    assert statuses[first] == ["superseded"]
    assert statuses[second] == ["proposed"]
    superseded = demo.scalar("SELECT count(*) FROM action_events WHERE to_status = 'superseded'")
    assert superseded == demo.scalar("SELECT count(*) FROM actions WHERE plan_run = ?", [first])


def test_a_what_if_is_stored_against_its_base_and_proposes_nothing(demo):
    base = save_plan(demo, plan(demo, SETTINGS), created_by=TESTER)
    central = demo.scalar("SELECT code FROM locations WHERE kind = 'central_dc'")
    what_if = WhatIf(service_level=0.995, closed_locations=(central,))
    other = save_plan(demo, plan(demo, SETTINGS, what_if=what_if), base_run=base, created_by=TESTER)
    assert demo.scalar("SELECT count(*) FROM actions WHERE plan_run = ?", [other]) == 0
    run = get_plan_run(demo, other)
    assert run["base_run"] == base
    assert run["what_if"]["closed_locations"] == [central]
    assert get_plan_run(demo, "latest")["run_id"] == base  # latest means the latest base plan
    table = compare_runs(demo, base, other)
    row = table.filter(table["measure"] == "transfers_from_central").row(0, named=True)
    assert row["what_if"] == 0  # the central DC ships nothing when closed
    assert row["base"] > 0


def test_what_if_inputs_are_checked(demo):
    with pytest.raises(NotFoundError, match="NOWHERE"):
        build_instance(demo, SETTINGS, what_if=WhatIf(closed_locations=("NOWHERE",)))
    with pytest.raises(NotFoundError, match="no such lane"):
        build_instance(demo, SETTINGS, what_if=WhatIf(lane_cost_factor={"A>B": 2.0}))
    with pytest.raises(NotFoundError, match="unknown supplier"):
        build_instance(demo, SETTINGS, what_if=WhatIf(supplier_delay_days={"NOPE": 3}))
    with pytest.raises(PlanInputError, match="between 0 and 1"):
        build_instance(demo, SETTINGS, what_if=WhatIf(service_level=1.5))
    with pytest.raises(NotFoundError, match="unknown SKU"):
        build_instance(demo, SETTINGS, skus=["NOT-A-SKU"])


def test_a_supplier_delay_pushes_its_arrivals_later(demo):
    supplier, sku = demo.rows("SELECT supplier, sku FROM supplier_products LIMIT 1")[0]
    base = build_instance(demo, SETTINGS, skus=[sku])
    late = build_instance(
        demo, SETTINGS, skus=[sku], what_if=WhatIf(supplier_delay_days={supplier: 5})
    )
    before = [o.lead_time_days for o in base.supply if o.supplier == supplier]
    after = [o.lead_time_days for o in late.supply if o.supplier == supplier]
    assert after == [d + 5 for d in before]


def test_the_plan_never_reads_a_forecast_made_after_its_as_of(demo):
    today = demo.as_of()
    earlier = today - timedelta(days=7)
    later_run = demo.scalar("SELECT max(run_id) FROM forecast_runs")
    early_run = demo.scalar("SELECT min(run_id) FROM forecast_runs")
    instance = build_instance(demo, SETTINGS, as_of=earlier)
    assert instance.forecast_run == early_run  # the run as of today is not seen
    with pytest.raises(PlanInputError, match="cannot use a forecast made later"):
        build_instance(demo, SETTINGS, as_of=earlier, forecast_run=later_run)


def test_a_state_replaces_the_stores_stock_and_inbound(demo):
    instance = build_instance(demo, SETTINGS)
    sku, loc = instance.skus[0], instance.locations[0]
    day = instance.as_of + timedelta(days=3)
    state = NetworkState(on_hand={(sku, loc): 7}, arrivals=[(sku, loc, day, 11)])
    replaced = build_instance(demo, SETTINGS, state=state)
    assert replaced.on_hand.sum() == 7
    assert replaced.arrivals.sum() == 11
    assert replaced.arrivals[0, 0, 2] == 11
    assert np.array_equal(replaced.demand, instance.demand)


def test_the_status_says_how_close_to_the_bound_the_plan_is():
    assert "within 0.40% of a lower bound" in status_text({"status": "optimal", "gap": 0.004})
    assert status_text({"status": "optimal", "gap": None}) == "Optimal for these inputs."
    feasible = status_text({"status": "feasible", "gap": 0.031})
    assert "at most 3.10% above the proven lower bound" in feasible
    assert status_text({"status": "infeasible", "message": "A holds at most 5"}).endswith(
        "A holds at most 5"
    )


def test_filling_to_the_max_level_is_a_setting_on_by_default(demo):
    """Off: no location's stock is held to its max level. On (the default): every stocking
    location a policy covers holds its max level in days of demand (the level over the
    policy's daily demand), and the plan keeps a regional DC's stock from what it sends
    within it."""
    import numpy as np

    from control_tower.optimize.network import max_level_ceiling

    assert SETTINGS.optimizer.fill_to_max_level
    off_settings = SETTINGS.model_copy(deep=True)
    off_settings.optimizer.fill_to_max_level = False
    off = build_instance(demo, off_settings)
    assert np.isinf(off.max_cover_days).all()
    on = build_instance(demo, SETTINGS)
    covered = np.isfinite(on.max_cover_days)
    assert covered.any() and (on.max_cover_days[covered] > 0).all()
    capped, _ceiling = max_level_ceiling(on, np.arange(len(on.skus)), np.arange(on.horizon))
    regional = [j for j, k in enumerate(on.location_kinds) if k == "regional_dc"]
    assert capped[:, regional].any()
