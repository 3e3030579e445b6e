"""The exception rules on crafted scenarios in real DuckDB files: each fires exactly when it
should, with the figures worked out by hand; runs are stored with first and last seen;
acknowledging and snoozing take a reason and are audited."""

from __future__ import annotations

import json
import shutil
from datetime import timedelta

import polars as pl
import pytest

from control_tower import exceptions as exc
from control_tower.config import ForecastSettings, Settings
from control_tower.errors import NotFoundError
from control_tower.forecast import forecast
from control_tower.policies import set_override
from control_tower.store import Store
from tests.conftest import TESTER
from tests.test_position import (
    AS_OF,
    add_demand,
    add_purchase_orders,
    at,
    daily_demand,
    day,
    mv,
    post,
    ship,
)


def items(store, rule: str, sku: str | None = None, location: str | None = None) -> list[dict]:
    found = exc.detect(store, as_of=AS_OF).items.filter(pl.col("rule") == rule)
    if sku:
        found = found.filter(pl.col("sku") == sku)
    if location:
        found = found.filter(pl.col("location") == location)
    return found.to_dicts()


def stock(store, sku: str, location: str, units: int, offset: int = -30) -> None:
    post(store, mv(f"R-{sku}-{location}-{offset}", offset, sku, location, "receipt", units))


def test_a_stockout_before_the_next_delivery_is_raised_with_units_short_and_value(network):
    """CD-RDC holds 30 of A-100 and sells 10 a day; 100 arrive on day 6. Stock ends day 3
    and runs out on day 4; days 4 and 5 go short: 20 units at 4.00 = 80.00, urgency
    7 / (7 + 4)."""
    stock(network, "A-100", "CD-RDC", 30, offset=0)
    add_demand(network, daily_demand("A-100", "CD-RDC", 10, 28))
    add_purchase_orders(network, [("PO-1", "A-100", "CD-RDC", 100, day(-2), day(6), "open")])
    [item] = items(network, "stockout", "A-100", "CD-RDC")
    assert item["due_date"] == day(4)
    assert item["units"] == pytest.approx(20)
    assert item["value_at_risk"] == pytest.approx(80.0)
    assert item["urgency"] == pytest.approx(7 / 11)
    assert item["severity"] == pytest.approx(80.0 * 7 / 11)
    facts = json.loads(item["facts"])
    assert facts["next_arrival"] == str(day(6))
    assert facts["demand_source"] == "recent demand"
    # and none for the same SKU where the delivery comes first
    assert items(network, "below_safety_stock", "A-100", "CD-RDC") == []


def test_one_series_projection_matches_the_rule_and_answers_what_ifs(network):
    """The same scenario through ``project``: the stock-out day, units short and the next
    arrival agree with the rule; 20 more units arriving on day 2 carry it past the delivery
    (150 units last 15 days: it runs out on day 16, with nothing more on order), and taking 25 out on day 1
    brings it forward to day 1 with 45 short."""
    stock(network, "A-100", "CD-RDC", 30, offset=0)
    add_demand(network, daily_demand("A-100", "CD-RDC", 10, 28))
    add_purchase_orders(network, [("PO-1", "A-100", "CD-RDC", 100, day(-2), day(6), "open")])
    base = exc.project(network, "A-100", "CD-RDC", as_of=AS_OF)
    assert (base.stockout_date, base.next_arrival) == (day(4), day(6))
    assert base.units_short == pytest.approx(20) and base.sales_at_risk == pytest.approx(80)
    assert base.available == 30 and base.demand_source == "recent demand"
    assert base.days.row(5, named=True)["arrivals"] == 100  # day 6
    saved = exc.project(network, "A-100", "CD-RDC", as_of=AS_OF, extra=[(day(2), 20)])
    assert saved.stockout_date == day(16) and saved.next_arrival is None
    worse = exc.project(network, "A-100", "CD-RDC", as_of=AS_OF, extra=[(day(1), -25)])
    assert worse.stockout_date == day(1) and worse.units_short == pytest.approx(45)
    with pytest.raises(NotFoundError, match="no product with SKU 'NOPE'"):
        exc.project(network, "NOPE", "CD-RDC", as_of=AS_OF)
    with pytest.raises(NotFoundError, match="no location 'XX'"):
        exc.project(network, "A-100", "XX", as_of=AS_OF)


def test_the_projection_agrees_with_every_stockout_the_demo_raises(demo_db_path, tmp_path):
    copy = tmp_path / "demo.duckdb"  # the pages' tests may hold the shared file open
    shutil.copy(demo_db_path, copy)
    with Store(copy) as store:
        run = exc.detect(store)
        found = run.items.filter(pl.col("rule") == "stockout").to_dicts()
        checked = 0
        for item in found:
            facts = json.loads(item["facts"])
            one = exc.project(store, item["sku"], item["location"], as_of=run.as_of)
            assert one.stockout_date == item["due_date"]
            assert one.units_short == pytest.approx(item["units"])
            assert (str(one.next_arrival) if one.next_arrival else None) == facts["next_arrival"]
            checked += facts["next_arrival"] is None  # short until an order today could arrive
    assert len(found) >= 5 and checked >= 1


def test_no_stockout_when_the_delivery_comes_first_or_an_order_today_is_in_time(network):
    """The same stock and demand with the PO due on day 3: covered. CQ-RDC without anything
    on order runs out on day 9, after the 4-day lane from the central DC: the normal
    reorder's business, not an exception."""
    stock(network, "A-100", "CD-RDC", 30, offset=0)
    add_demand(network, daily_demand("A-100", "CD-RDC", 10, 28))
    add_purchase_orders(network, [("PO-1", "A-100", "CD-RDC", 100, day(-2), day(3), "open")])
    stock(network, "A-100", "CQ-RDC", 80, offset=0)
    add_demand(network, daily_demand("A-100", "CQ-RDC", 10, 28))
    assert items(network, "stockout", "A-100") == []


def test_below_safety_stock_needs_the_buffer_short_without_a_stockout(network):
    """A-100 at CD-RDC: safety stock set to 200, 150 available, 10 a day (15 days of
    cover): 50 units short of the buffer, 125.00 at cost, urgency 7 / (7 + 15). B-200 above
    its buffer raises nothing."""
    stock(network, "A-100", "CD-RDC", 150, offset=0)
    stock(network, "B-200", "CD-RDC", 150, offset=0)
    add_demand(network, daily_demand("A-100", "CD-RDC", 10, 28))
    add_demand(network, daily_demand("B-200", "CD-RDC", 10, 28))
    for sku, units in (("A-100", 200), ("B-200", 100)):
        set_override(
            network, sku, "CD-RDC", "safety_stock", units, reason="test", changed_by="planner"
        )
    [item] = items(network, "below_safety_stock", location="CD-RDC")
    assert item["sku"] == "A-100"
    assert item["units"] == pytest.approx(50)
    assert item["value_at_risk"] == pytest.approx(125.0)
    assert item["urgency"] == pytest.approx(7 / 22)


def test_excess_is_stock_above_the_max_level_beyond_the_excess_cover(network):
    """Max level 100 at both regional DCs, 1 a day: CD-RDC holds 500 (500 days of cover): 400
    units above the max, 1,000.00 tied up, urgency 0.25. CQ-RDC holds 55 (55 days, under
    the 60-day excess cover): not flagged."""
    for location, units in (("CD-RDC", 500), ("CQ-RDC", 55)):
        stock(network, "A-100", location, units, offset=0)
        add_demand(network, daily_demand("A-100", location, 1, 28))
        set_override(
            network, "A-100", location, "max_level", 50, reason="test", changed_by="planner"
        )
    set_override(network, "A-100", "CD-RDC", "max_level", 100, reason="test", changed_by="p")
    [item] = items(network, "excess", "A-100")
    assert item["location"] == "CD-RDC"
    assert item["units"] == pytest.approx(400)
    assert item["value_at_risk"] == pytest.approx(1000.0)
    assert item["severity"] == pytest.approx(250.0)


def test_dead_stock_with_its_age_bucket_and_where_it_still_sells(network):
    """CQ-RDC received 100 of B-200 120 days ago and has shipped none since; CD-RDC sells it
    (5 a day) and sold one yesterday. Dead at CQ-RDC: 400.00 at cost, aged 120 days
    (90-180 bucket), move it to CD-RDC. CD-RDC's B-200 is alive."""
    stock(network, "B-200", "CQ-RDC", 100, offset=-120)
    stock(network, "B-200", "CD-RDC", 100, offset=-120)
    post(network, mv("S-1", -1, "B-200", "CD-RDC", "sale", 5))
    add_demand(network, daily_demand("B-200", "CD-RDC", 5, 28))
    [item] = items(network, "dead_stock", "B-200")
    assert item["location"] == "CQ-RDC"
    assert item["value_at_risk"] == pytest.approx(400.0)
    facts = json.loads(item["facts"])
    assert facts["age_days"] == 120
    assert facts["age_bucket"] == "91-180 days"
    assert "CD-RDC" in item["suggestion"]


def test_late_purchase_orders_and_transfers_are_raised_and_one_due_today_is_not(network):
    stock(network, "A-100", "SH-CDC", 500, offset=-30)
    add_purchase_orders(
        network,
        [
            ("PO-LATE", "A-100", "SH-CDC", 120, day(-20), day(-3), "open"),
            ("PO-TODAY", "B-200", "SH-CDC", 50, day(-20), day(0), "open"),
        ],
    )
    ship(network, "T-LATE", -6, "A-100", "SH-CDC", "CD-RDC", 40)  # expected day -4
    late = {i["reference"]: i for i in items(network, "late_inbound")}
    assert set(late) == {"PO-LATE", "T-LATE"}
    assert late["PO-LATE"]["value_at_risk"] == pytest.approx(120 * 2.5)
    assert json.loads(late["PO-LATE"]["facts"])["days_late"] == 3
    assert json.loads(late["T-LATE"]["facts"])["days_late"] == 4


def test_demand_beyond_the_forecasts_p99_is_an_anomaly(network):
    """Ten a day for 91 days up to day -5, a forecast as of day -5, then 10 a day again
    except 400 on day -1: one anomaly, on day -1, above the p99 of that forecast."""
    add_demand(network, daily_demand("A-100", "CD-RDC", 10, 91, end=-5))
    settings = ForecastSettings(workers=1, tuning_sample=0, prophet_classes=[])
    run = forecast(network, settings, as_of=day(-5), horizon=14, show_bar=False)
    later = [("A-100", "CD-RDC", day(d), 400 if d == -1 else 10) for d in range(-4, 1)]
    add_demand(network, later)
    [item] = items(network, "demand_anomaly", "A-100", "CD-RDC")
    facts = json.loads(item["facts"])
    assert [d["date"] for d in facts["days"]] == [str(day(-1))]
    p99 = facts["days"][0]["p99"]
    assert facts["days"][0]["forecast_run"] == run.run_id
    assert 10 <= p99 < 400
    assert item["units"] == pytest.approx(400 - p99)
    assert item["value_at_risk"] == pytest.approx((400 - p99) * 4.0)


def test_data_problems_stale_feed_negative_stock_po_dates_and_a_count_off_the_ledger(network):
    stock(network, "A-100", "CD-RDC", 100, offset=0)
    add_demand(network, daily_demand("A-100", "CD-RDC", 10, 10, end=-10))  # ends 10 days early
    cur = network.cursor()
    # a corrupted store: rows no write path of ours would accept
    cur.execute(
        "INSERT INTO ledger (event_id, ts, sku, location, movement_type, quantity) "
        "VALUES ('BAD-1', ?, 'B-200', 'CQ-RDC', 'sale', -7)",
        [at(-1)],
    )
    cur.execute(
        "INSERT INTO purchase_orders VALUES ('PO-BACK', 'A-100', 'SUP1', 'SH-CDC', 10, ?, ?, "
        "'open')",
        [day(-1), day(-9)],
    )
    exc.record_count(network, "A-100", "CD-RDC", 90, at(0, 18), "counter")  # ledger: 100
    exc.record_count(network, "A-100", "SH-CDC", 0, at(0, 18), "counter")  # ledger: 0
    found = {i["reference"]: i for i in items(network, "data_quality")}
    assert set(found) == {"stale:demand", "negative:company", "po-dates:PO-BACK", "count"}
    assert found["negative:company"]["value_at_risk"] == pytest.approx(7 * 4.0)
    assert found["count"]["location"] == "CD-RDC"
    assert found["count"]["units"] == pytest.approx(10)
    assert found["count"]["value_at_risk"] == pytest.approx(25.0)


def test_a_count_refuses_bad_input(network):
    with pytest.raises(exc.ExceptionInputError):
        exc.record_count(network, "A-100", "CD-RDC", -1, at(0), "counter")
    with pytest.raises(NotFoundError):
        exc.record_count(network, "NOPE", "CD-RDC", 1, at(0), "counter")
    assert network.scalar("SELECT count(*) FROM stock_counts") == 0


def _late_po_scenario(store) -> None:
    stock(store, "A-100", "SH-CDC", 500, offset=-30)
    add_purchase_orders(store, [("PO-LATE", "A-100", "SH-CDC", 120, day(-20), day(-3), "open")])


def test_runs_keep_one_item_per_exception_with_first_and_last_seen(network):
    _late_po_scenario(network)
    first = exc.run_exceptions(network, as_of=AS_OF, created_by=TESTER)
    second = exc.run_exceptions(network, as_of=AS_OF, created_by=TESTER)
    key = "late_inbound|A-100|SH-CDC|PO-LATE"
    row = network.query("SELECT * FROM exceptions WHERE exception_key = ?", [key]).row(
        0, named=True
    )
    assert (row["first_seen_run"], row["last_seen_run"], row["open"]) == (
        first.run_id,
        second.run_id,
        True,
    )
    assert (
        network.scalar("SELECT count(*) FROM exception_run_items WHERE exception_key = ?", [key])
        == 2
    )
    # the PO arrives: the next run no longer raises it, and the exception is closed
    network.cursor().execute("UPDATE purchase_orders SET status = 'closed'")
    exc.run_exceptions(network, as_of=AS_OF, created_by=TESTER)
    assert network.scalar("SELECT open FROM exceptions WHERE exception_key = ?", [key]) is False
    inbox = exc.list_exceptions(network)
    assert key not in inbox["exception_key"].to_list()


def test_acknowledge_and_snooze_need_a_reason_and_are_audited(network):
    _late_po_scenario(network)
    run = exc.run_exceptions(network, as_of=AS_OF, created_by=TESTER)
    key = "late_inbound|A-100|SH-CDC|PO-LATE"
    with pytest.raises(exc.ExceptionInputError, match="reason"):
        exc.acknowledge(network, key, "planner", "  ")
    with pytest.raises(NotFoundError):
        exc.acknowledge(network, "late_inbound|X|Y|Z", "planner", "seen")
    with pytest.raises(exc.ExceptionInputError, match="after"):
        exc.snooze(network, key, "planner", "waiting", run.as_of)
    exc.acknowledge(network, key, "planner", "supplier confirmed Friday")
    exc.snooze(network, key, "planner", "supplier confirmed Friday", run.as_of + timedelta(days=3))
    assert key not in exc.list_exceptions(network)["exception_key"].to_list()
    shown = exc.list_exceptions(network, include_snoozed=True)
    row = shown.filter(pl.col("exception_key") == key).row(0, named=True)
    assert row["acknowledged_by"] == "planner"
    assert row["snoozed_until"] == run.as_of + timedelta(days=3)
    history = exc.exception_history(network, key)
    assert history["kind"].to_list() == ["acknowledge", "snooze"]
    assert history["reason"].to_list() == ["supplier confirmed Friday"] * 2
    # a snooze ends: a run after its day shows the exception again
    later = exc.run_exceptions(network, as_of=AS_OF + timedelta(days=3), created_by=TESTER)
    assert key in exc.list_exceptions(network, later.run_id)["exception_key"].to_list()


def test_the_inbox_filters_by_rule_and_location_and_refuses_unknown_rules(network):
    _late_po_scenario(network)
    stock(network, "A-100", "CD-RDC", 30, offset=0)
    add_demand(network, daily_demand("A-100", "CD-RDC", 10, 28))
    add_purchase_orders(network, [("PO-1", "A-100", "CD-RDC", 100, day(-2), day(6), "open")])
    exc.run_exceptions(network, as_of=AS_OF, created_by=TESTER)
    assert set(exc.list_exceptions(network, rules=["late_inbound"])["rule"]) == {"late_inbound"}
    assert set(exc.list_exceptions(network, locations=["CD-RDC"])["location"]) == {"CD-RDC"}
    severities = exc.list_exceptions(network)["severity"].to_list()
    assert severities == sorted(severities, reverse=True)
    with pytest.raises(NotFoundError, match="unknown rule"):
        exc.list_exceptions(network, rules=["nonsense"])


def test_thresholds_come_from_config(network):
    """A line 3 days late is not late with 5 days of grace."""
    _late_po_scenario(network)
    settings = Settings()
    settings.exceptions.late_grace_days = 5
    found = exc.detect(network, settings, as_of=AS_OF).items
    assert found.filter(pl.col("rule") == "late_inbound").height == 0


def test_a_stockout_links_to_the_drafted_transfer_of_the_latest_plan(network):
    """CD-RDC runs out of A-100 on day 4, inside the 4-day lane from the central DC, which
    holds 500: the plan drafts a transfer to CD-RDC (leaving on day 2: released with a
    window of a week), and the exception lists it."""
    from control_tower.config import ActionSettings
    from control_tower.optimize import plan, save_plan

    stock(network, "A-100", "SH-CDC", 500, offset=0)
    stock(network, "A-100", "CD-RDC", 30, offset=0)
    add_demand(network, daily_demand("A-100", "CD-RDC", 10, 91))
    result = plan(network, Settings(actions=ActionSettings(release_days=7)), as_of=AS_OF)
    save_plan(network, result, created_by=TESTER)
    drafted = network.query(
        "SELECT action_id FROM actions WHERE status = 'proposed' AND sku = 'A-100' "
        "AND to_location = 'CD-RDC'"
    )["action_id"].to_list()
    assert drafted
    run = exc.run_exceptions(network, as_of=AS_OF, created_by=TESTER)
    assert run.plan_run == result.run_id
    [item] = run.items.filter(
        (pl.col("rule") == "stockout") & (pl.col("location") == "CD-RDC")
    ).to_dicts()
    assert json.loads(item["action_ids"]) == sorted(drafted)
