"""Inventory policies: the formulas on hand-worked inputs, and every stocking SKU x location
of the test demo (classes, lead-time sources, the central DC facing its regions' demand); the
supplier's lead time measured from receipts up to the policy's day, or stated."""

from __future__ import annotations

import math
import shutil
from dataclasses import replace

import pytest
from pydantic import ValidationError

from control_tower.config import ForecastSettings, PolicySettings, SupplierSettings
from control_tower.errors import ControlTowerError, NotFoundError
from control_tower.forecast import forecast
from control_tower.policies import (
    LANE_FROM,
    PolicyInputs,
    class_matrix,
    compute_policy,
    explain_policy,
    override_history,
    policies,
    policy_table,
    set_override,
)
from control_tower.store import Store
from control_tower.suppliers import lead_times
from tests.test_position import (
    AS_OF,
    add_demand,
    add_purchase_orders,
    daily_demand,
    day,
    mv,
    post,
)

INPUTS = PolicyInputs(
    sku="S",
    location="L",
    abc="A",
    xyz="X",
    annual_value=36500.0,
    unit_cost=10.0,
    service_level=0.95,
    lead_time_days=4.0,
    lead_time_sd_days=1.0,
    source="supplier SUP",
    daily_demand=10.0,
    daily_demand_sd=3.0,
    demand_source="test",
    order_cost=200.0,
    holding_rate=0.25,
    moq=100,
    pack_size=12,
)


def test_the_formulas_on_hand_worked_inputs():
    p = compute_policy(INPUTS)
    z = 1.6448536
    assert p.z == pytest.approx(z)
    assert p.safety_stock == pytest.approx(z * math.sqrt(4 * 9 + 100 * 1))  # 19.18
    assert p.reorder_point == pytest.approx(40 + p.safety_stock)
    # sqrt(2 * 3650 * 200 / 2.5) = 764.2, rounded up to packs of 12
    assert p.eoq == 768
    assert p.max_level == pytest.approx(p.reorder_point + 768)
    shown = p.formulas()
    assert "1.645 * sqrt(4 * 3.000^2 + 10.000^2 * 1^2) = 19.2" in shown["safety_stock"]
    assert shown["eoq"].endswith("= 768") and "packs of 12" in shown["eoq"]


def test_a_slow_seller_orders_the_moq_and_no_demand_orders_nothing():
    slow = compute_policy(replace(INPUTS, daily_demand=0.05, daily_demand_sd=0.2))
    assert slow.eoq == 100  # EOQ 44 rounds to 48, below the MOQ
    idle = compute_policy(replace(INPUTS, daily_demand=0.0, daily_demand_sd=0.0))
    assert idle.eoq == 0 and idle.safety_stock == 0 and idle.reorder_point == 0


def test_service_levels_outside_zero_to_one_are_refused():
    with pytest.raises(ValidationError, match="between 0 and 1"):
        PolicySettings(service_levels={"AX": 1.0})


@pytest.fixture(scope="module")
def demo_with_run(demo_db_path, tmp_path_factory):
    path = tmp_path_factory.mktemp("policies") / "demo.duckdb"
    shutil.copy(demo_db_path, path)
    with Store(path) as store:
        forecast(
            store,
            ForecastSettings(workers=1, tuning_sample=0, prophet_classes=[]),
            horizon=28,
            show_bar=False,
        )
    return path


def test_every_stocking_location_gets_a_policy_from_its_source(demo_with_run):
    with Store(demo_with_run) as store:
        items = policies(store)
        kinds = dict(store.rows("SELECT code, kind FROM locations"))
        central = store.scalar("SELECT code FROM locations WHERE kind = 'central_dc'")
        run = store.scalar("SELECT max(run_id) FROM forecast_runs")
    table = policy_table(items)
    assert table.height == len(items) > 0
    assert {kinds[loc] for loc in table["location"]} <= {"central_dc", "regional_dc", "store"}
    settings = PolicySettings()
    for p in items:
        i = p.inputs
        assert i.service_level == settings.service_levels[f"{i.abc}{i.xyz}"]
        assert p.safety_stock >= 0 and p.reorder_point >= i.daily_demand * i.lead_time_days
        if kinds[i.location] == "regional_dc" and i.source.startswith(LANE_FROM):
            assert i.source == f"{LANE_FROM}{central}" and i.lead_time_sd_days == 0
            assert i.demand_source == f"forecast run {run}"
        if i.location == central:
            assert i.source.startswith("supplier ")
            assert i.lead_time_source.startswith(("measured", "stated"))
        elif i.source.startswith(LANE_FROM):
            assert i.lead_time_source == "lane transit"


def test_the_central_dc_faces_the_demand_of_the_locations_it_supplies(demo_with_run):
    with Store(demo_with_run) as store:
        items = policies(store)
        central = store.scalar("SELECT code FROM locations WHERE kind = 'central_dc'")
    by_sku: dict[str, list] = {}
    for p in items:
        by_sku.setdefault(p.inputs.sku, []).append(p.inputs)
    checked = 0
    for rows in by_sku.values():
        served = [i for i in rows if i.source == f"{LANE_FROM}{central}"]
        hub = [i for i in rows if i.location == central]
        if not served or not hub:
            continue
        assert hub[0].daily_demand >= sum(i.daily_demand for i in served) - 1e-9
        assert hub[0].daily_demand_sd >= math.sqrt(sum(i.daily_demand_sd**2 for i in served)) - 1e-9
        assert f"{len(served)} locations it supplies" in hub[0].demand_source
        checked += 1
    assert checked > 0


def test_one_policy_explained_is_the_one_in_the_table(demo_with_run):
    with Store(demo_with_run) as store:
        items = policies(store)
        central = store.scalar("SELECT code FROM locations WHERE kind = 'central_dc'")
        for p in (items[0], next(p for p in items if p.inputs.location == central)):
            one = explain_policy(store, p.inputs.sku, p.inputs.location)
            assert one == p
            assert set(one.formulas()) == {
                "lead_time",
                "z",
                "safety_stock",
                "reorder_point",
                "eoq",
                "max_level",
            }
        with pytest.raises(NotFoundError, match="NO-SUCH"):
            explain_policy(store, "NO-SUCH", central)


def test_the_class_matrix_adds_up_to_the_table(demo_with_run):
    with Store(demo_with_run) as store:
        table = policy_table(policies(store))
    matrix = class_matrix(table)
    assert matrix["series"].sum() == table.height
    assert matrix["value_share"].sum() == pytest.approx(1.0)
    settings = PolicySettings()
    for row in matrix.iter_rows(named=True):
        assert row["service_level"] == settings.service_levels[row["class"]]
    assert class_matrix(table.head(0)).is_empty()


# -- overrides ----------------------------------------------------------------------------------


@pytest.fixture
def demo_copy(demo_with_run, tmp_path):
    path = tmp_path / "copy.duckdb"
    shutil.copy(demo_with_run, path)
    with Store(path) as store:
        yield store


def _one(store, sku, location):
    return explain_policy(store, sku, location)


def test_an_override_replaces_the_value_and_keeps_the_policy_ordered(demo_copy):
    p = policies(demo_copy)[1]
    sku, loc = p.inputs.sku, p.inputs.location
    set_override(demo_copy, sku, loc, "safety_stock", 500, reason="launch cover", changed_by="li")
    after = _one(demo_copy, sku, loc)
    assert after.safety_stock == 500
    assert after.reorder_point == pytest.approx(p.reorder_point - p.safety_stock + 500)
    assert after.max_level >= after.reorder_point >= after.safety_stock
    shown = after.formulas()
    assert shown["safety_stock"] == p.formulas()["safety_stock"]  # the computed formula stays
    assert "override: safety_stock = 500 (by li" in shown["override safety_stock"]
    assert "launch cover" in shown["override safety_stock"] and "SS = 500.0" in shown["in_force"]
    # a service level enters the formulas
    set_override(demo_copy, sku, loc, "service_level", 0.5, reason="end of life", changed_by="li")
    low = _one(demo_copy, sku, loc)
    assert low.inputs.service_level == 0.5 and low.z == pytest.approx(0.0)
    # the latest override is in force; a cleared one is gone, and both stay in the audit
    set_override(demo_copy, sku, loc, "safety_stock", None, reason="launch over", changed_by="wu")
    set_override(demo_copy, sku, loc, "service_level", None, reason="back", changed_by="wu")
    assert _one(demo_copy, sku, loc) == p
    history = override_history(demo_copy, sku, loc)
    assert history.height == 4 and history["changed_by"].to_list() == ["wu", "wu", "li", "li"]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"field": "eoq"}, "cannot override 'eoq'"),
        ({"value": -1}, "at least 0"),
        ({"value": float("nan")}, "at least 0"),
        ({"field": "service_level", "value": 1.2}, "between 0 and 1"),
        ({"reason": "  "}, "needs a reason"),
        ({"reason": "x" * 501}, "at most 500"),
        ({"changed_by": ""}, "who made it"),
        ({"sku": "NO-SUCH"}, "unknown SKU"),
        ({"location": "NO-SUCH"}, "unknown location"),
    ],
)
def test_bad_overrides_are_refused_and_nothing_is_written(demo_copy, change, message):
    p = policies(demo_copy)[0]
    args = {
        "sku": p.inputs.sku,
        "location": p.inputs.location,
        "field": "safety_stock",
        "value": 10.0,
        "reason": "r",
        "changed_by": "li",
    } | change
    with pytest.raises(ControlTowerError, match=message):
        set_override(
            demo_copy,
            args["sku"],
            args["location"],
            args["field"],
            args["value"],
            reason=args["reason"],
            changed_by=args["changed_by"],
        )
    assert override_history(demo_copy).is_empty()


def test_a_supplier_site_takes_no_override(demo_copy):
    site = demo_copy.scalar("SELECT code FROM locations WHERE kind = 'supplier' LIMIT 1")
    sku = policies(demo_copy)[0].inputs.sku
    with pytest.raises(ControlTowerError, match="policies are for"):
        set_override(demo_copy, sku, site, "safety_stock", 1, reason="r", changed_by="li")
    assert override_history(demo_copy).is_empty()


def test_each_series_takes_the_latest_run_that_forecast_it(demo_copy):
    """A later run over one SKU updates that SKU's policies; the others keep the full run."""
    full = demo_copy.scalar("SELECT max(run_id) FROM forecast_runs")
    sku = policies(demo_copy)[0].inputs.sku
    later = forecast(
        demo_copy,
        ForecastSettings(workers=1, tuning_sample=0, prophet_classes=[]),
        horizon=14,
        skus=[sku],
        show_bar=False,
    ).run_id
    sources = {
        (p.inputs.sku, p.inputs.location): p.inputs.demand_source for p in policies(demo_copy)
    }
    ran = {k for k, v in sources.items() if v == f"forecast run {later}"}
    assert ran and {k[0] for k in ran} == {sku}
    assert any(v == f"forecast run {full}" for k, v in sources.items() if k[0] != sku)
    only_full = policies(demo_copy, forecast_run=full)
    assert all("run " + str(later) not in p.inputs.demand_source for p in only_full)


# -- lead times from receipts -------------------------------------------------------------------
@pytest.fixture
def received(network):
    """SUP1's A-100 lines to the central DC SH-CDC: five received (7, 9, 11, 13 and 15 days;
    stated 7 +- 1.5), one ordered day -12 and received on day +1 (after AS_OF); 3 units of
    demand a day."""
    orders = [(f"PO-{n}", -60 + 8 * n, lead) for n, lead in enumerate((7, 9, 11, 13, 15))]
    add_purchase_orders(
        network,
        [(po, "A-100", "SH-CDC", 20, day(o), day(o + 7), "closed") for po, o, _ in orders]
        + [("PO-LATE", "A-100", "SH-CDC", 20, day(-12), day(-5), "open")],
    )
    post(
        network,
        *[
            mv(f"R-{po}", o + lead, "A-100", "SH-CDC", "receipt", 20, reference=po)
            for po, o, lead in orders
        ],
        mv("S-1", -1, "A-100", "SH-CDC", "sale", 30),
    )
    add_demand(network, daily_demand("A-100", "SH-CDC", 3, 91))
    return network


def test_a_supplier_replenished_location_plans_with_the_measured_lead_time(received):
    measured = explain_policy(received, "A-100", "SH-CDC", as_of=AS_OF)
    i = measured.inputs
    assert i.source == "supplier SUP1" and i.lead_time_source == "measured: 5 lines"
    assert i.lead_time_days == pytest.approx(11.0)
    assert i.lead_time_sd_days == pytest.approx(3.16, abs=0.01)  # sd of 7, 9, ..., 15
    assert "measured: 5 lines" in measured.formulas()["lead_time"]
    stated = explain_policy(
        received, "A-100", "SH-CDC", as_of=AS_OF, suppliers=SupplierSettings(lead_times="stated")
    )
    assert (stated.inputs.lead_time_days, stated.inputs.lead_time_sd_days) == (7.0, 1.5)
    assert stated.inputs.lead_time_source == "stated"
    assert measured.safety_stock > stated.safety_stock  # longer and less certain
    # lead times read once by a caller are the same as read by the policies themselves
    given = lead_times(received, as_of=AS_OF)
    assert explain_policy(received, "A-100", "SH-CDC", as_of=AS_OF, lead_times=given) == measured


def test_the_late_line_counts_only_once_it_arrived(received):
    post(received, mv("R-LATE", 1, "A-100", "SH-CDC", "receipt", 20, reference="PO-LATE"))
    then = explain_policy(received, "A-100", "SH-CDC", as_of=AS_OF).inputs
    assert then.lead_time_source == "measured: 5 lines" and then.lead_time_days == 11.0
    after = explain_policy(received, "A-100", "SH-CDC", as_of=day(1)).inputs
    assert after.lead_time_source == "measured: 6 lines"
    assert after.lead_time_days == pytest.approx((7 + 9 + 11 + 13 + 15 + 13) / 6, abs=0.01)


def test_too_few_received_lines_keep_the_stated_lead_time(received):
    few = SupplierSettings(lead_time_min_lines=6)
    p = explain_policy(received, "A-100", "SH-CDC", as_of=AS_OF, suppliers=few)
    assert p.inputs.lead_time_source == "stated" and p.inputs.lead_time_days == 7.0
