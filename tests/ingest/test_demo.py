"""The demo network generator: contract shapes, determinism, a consistent ledger, and the
stories a supply-chain manager should find on the dashboard (festivals, stock-outs, late POs,
goods in transit, regional imbalance, dead stock)."""

from __future__ import annotations

import random
import time
from datetime import date, datetime, timedelta
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from control_tower.errors import ControlTowerError
from control_tower.ingest import ENTITIES, entity_columns, ingest_frames, read_table
from control_tower.ingest.demo import (
    MID_AUTUMN,
    SPRING_FESTIVAL,
    build_demo,
    generate_demo,
    write_demo_files,
)
from control_tower.store import Store

SMALL = {"skus": 40, "locations": 4, "days": 120, "seed": 11}
END = date(2026, 11, 15)
OUTBOUND = ("sale", "issue", "transfer_out", "consignment_consume")
CHINA = {"lat": (18.0, 54.0), "lon": (73.0, 135.0)}


@pytest.fixture(scope="module")
def frames() -> dict[str, pl.DataFrame]:
    return generate_demo(**SMALL)


@pytest.fixture(scope="module")
def year_frames() -> dict[str, pl.DataFrame]:
    """Long enough to hold a Spring Festival, a 618 and two Double 11s."""
    return generate_demo(skus=20, locations=3, days=400, seed=5)


# -- helpers: a plain re-implementation of what the ingest and the position do ---------------


def movements(f: dict[str, pl.DataFrame]) -> pl.DataFrame:
    """Signed movements: the ledger rows plus the transfer legs the ingest posts."""
    ledger = f["ledger"].select(
        "event_id",
        "ts",
        "sku",
        "location",
        "owner",
        "movement_type",
        pl.when(pl.col("movement_type").is_in(OUTBOUND))
        .then(-pl.col("quantity"))
        .otherwise(pl.col("quantity"))
        .alias("quantity"),
    )
    t = f["transfers"]
    out = t.filter(pl.col("status").is_in(["in_transit", "received"])).select(
        pl.format("TR:{}:out", "transfer_id").alias("event_id"),
        pl.col("ship_date").cast(pl.Datetime("us")).alias("ts"),
        "sku",
        pl.col("from_location").alias("location"),
        pl.lit("company").alias("owner"),
        pl.lit("transfer_out").alias("movement_type"),
        (-pl.col("quantity")).alias("quantity"),
    )
    inbound = t.filter(pl.col("status") == "received").select(
        pl.format("TR:{}:in", "transfer_id").alias("event_id"),
        pl.col("received_date").cast(pl.Datetime("us")).alias("ts"),
        "sku",
        pl.col("to_location").alias("location"),
        pl.lit("company").alias("owner"),
        pl.lit("transfer_in").alias("movement_type"),
        pl.col("quantity"),
    )
    return pl.concat([ledger, out, inbound])


def on_hand(f: dict[str, pl.DataFrame]) -> pl.DataFrame:
    return (
        movements(f)
        .group_by("sku", "location", "owner")
        .agg(pl.col("quantity").sum().alias("on_hand"))
    )


def cover(f: dict[str, pl.DataFrame], window: int = 28) -> pl.DataFrame:
    """Days of cover per SKU x regional DC against the last ``window`` days' average demand."""
    end = f["demand"]["date"].max()
    daily = (
        f["demand"]
        .filter(pl.col("date") > end - timedelta(days=window))
        .group_by("sku", "location")
        .agg((pl.col("quantity").sum() / window).alias("daily"))
    )
    stock = on_hand(f).filter(pl.col("owner") == "company").drop("owner")
    return (
        stock.join(daily, on=["sku", "location"], how="full", coalesce=True)
        .with_columns(pl.col("on_hand").fill_null(0), pl.col("daily").fill_null(0.0))
        .with_columns((pl.col("on_hand") / pl.col("daily")).alias("cover"))
    )


# -- shape and determinism ----------------------------------------------------------------------


def test_frames_have_exactly_the_contract_file_columns(frames):
    assert tuple(frames) == ENTITIES
    for entity, frame in frames.items():
        assert frame.columns == [c.name for c in entity_columns(entity)], entity
        assert frame.height > 0, entity


def test_same_seed_gives_identical_frames_and_another_seed_does_not(frames):
    again = generate_demo(**SMALL)
    for entity in ENTITIES:
        assert frames[entity].equals(again[entity]), entity
    other = generate_demo(**{**SMALL, "seed": SMALL["seed"] + 1})
    assert not frames["demand"].equals(other["demand"])


def test_global_random_state_is_neither_used_nor_changed():
    np.random.seed(123)
    random.seed(123)
    numpy_before, python_before = np.random.get_state(), random.getstate()
    first = generate_demo(skus=10, locations=3, days=60, seed=5)
    after = np.random.get_state()
    assert all(np.array_equal(x, y) for x, y in zip(numpy_before, after, strict=True))
    assert random.getstate() == python_before
    np.random.seed(999)
    random.seed(999)
    second = generate_demo(skus=10, locations=3, days=60, seed=5)
    assert all(first[e].equals(second[e]) for e in ENTITIES)


def test_keys_are_unique(frames):
    assert frames["ledger"]["event_id"].is_unique().all()
    assert frames["transfers"]["transfer_id"].is_unique().all()
    assert not frames["purchase_orders"].select("po_number", "sku").is_duplicated().any()
    assert not frames["demand"].select("sku", "location", "date").is_duplicated().any()
    assert not frames["supplier_products"].select("supplier", "sku").is_duplicated().any()
    assert not frames["lanes"].select("from_location", "to_location").is_duplicated().any()


def test_every_reference_exists(frames):
    skus = set(frames["products"]["sku"])
    codes = set(frames["locations"]["code"])
    suppliers = set(frames["suppliers"]["code"])
    for entity, columns in {
        "supplier_products": ("sku",),
        "transfers": ("sku",),
        "purchase_orders": ("sku",),
        "ledger": ("sku",),
        "demand": ("sku",),
    }.items():
        for c in columns:
            assert set(frames[entity][c]) <= skus, entity
    for entity, columns in {
        "lanes": ("from_location", "to_location"),
        "transfers": ("from_location", "to_location"),
        "purchase_orders": ("location",),
        "ledger": ("location",),
        "demand": ("location",),
        "suppliers": ("location",),
    }.items():
        for c in columns:
            assert set(frames[entity][c]) <= codes, (entity, c)
    assert set(frames["supplier_products"]["supplier"]) <= suppliers
    assert set(frames["purchase_orders"]["supplier"]) <= suppliers
    assert set(frames["ledger"]["owner"]) <= suppliers | {"company"}
    # every receipt that names a PO names a line of it at that location
    receipts = frames["ledger"].filter(pl.col("reference").str.starts_with("PO-"))
    lines = frames["purchase_orders"].select(
        pl.col("po_number").alias("reference"), "sku", "location"
    )
    assert receipts.join(lines, on=["reference", "sku", "location"], how="anti").height == 0
    assert set(frames["supplier_products"]["sku"]) == skus


def test_quantities_are_positive_whole_units_except_signed_adjustments(frames):
    ledger = frames["ledger"]
    assert ledger["quantity"].dtype == pl.Int64
    assert (ledger.filter(pl.col("movement_type") != "adjustment")["quantity"] > 0).all()
    assert (ledger["quantity"] != 0).all()
    assert (frames["transfers"]["quantity"] > 0).all()
    assert (frames["purchase_orders"]["quantity"] > 0).all()
    assert (frames["demand"]["quantity"] >= 0).all()
    assert "transfer_out" not in set(ledger["movement_type"])  # the ingest posts those legs
    assert "transfer_in" not in set(ledger["movement_type"])


# -- the network and the master data -----------------------------------------------------------


def test_network_has_a_central_dc_regional_dcs_in_real_cities_suppliers_and_a_vmi_store(frames):
    loc = frames["locations"]
    kinds = loc["kind"].value_counts().to_dict(as_series=False)
    kinds = dict(zip(kinds["kind"], kinds["count"], strict=True))
    assert kinds["central_dc"] == 1
    assert kinds["regional_dc"] == SMALL["locations"] - 1
    assert kinds["vmi"] == 1
    assert kinds["supplier"] == frames["suppliers"].height
    assert 3 <= frames["suppliers"].height <= 5
    assert frames["suppliers"]["vmi"].sum() == 1
    assert (loc["country"] == "CN").all()
    assert loc["lat"].is_between(*CHINA["lat"]).all()
    assert loc["lon"].is_between(*CHINA["lon"]).all()
    central = loc.filter(pl.col("kind") == "central_dc").row(0, named=True)
    assert "Kunshan" in central["name"] and "昆山" in central["name"]
    regional = loc.filter(pl.col("kind") == "regional_dc")
    assert regional["name"].str.contains("区域仓").all()
    assert regional["region"].n_unique() == regional.height  # the first DCs span regions
    assert (loc.filter(pl.col("kind") != "supplier")["capacity"] > 0).all()


def test_twenty_locations_use_nineteen_distinct_real_cities():
    f = generate_demo(skus=10, locations=20, days=60, seed=1)
    regional = f["locations"].filter(pl.col("kind") == "regional_dc")
    assert regional.height == 19
    assert regional.select("lat", "lon").n_unique() == 19
    assert regional["region"].n_unique() == 7


def test_products_have_bilingual_names_margins_and_sourcing(frames):
    products = frames["products"]
    assert products["name"].str.contains(r"[\u4e00-\u9fff]").all()
    assert products["category"].n_unique() >= 4
    assert (products["price"] > products["unit_cost"]).all()
    assert (products["unit_volume"] > 0).all()
    sourcing = frames["supplier_products"]
    assert sourcing["lead_time_mean_days"].is_between(5, 30).all()
    assert (sourcing["lead_time_std_days"] > 0).all()
    assert (sourcing["moq"] >= sourcing["pack_size"]).all()
    assert (sourcing["moq"] % sourcing["pack_size"] == 0).all()
    primary = sourcing.join(
        frames["purchase_orders"].select("supplier", "sku").unique(), on=["supplier", "sku"]
    ).join(products.select("sku", "unit_cost"), on="sku")
    assert primary.height > 0
    assert (primary["price"] == primary["unit_cost"]).all()  # the purchase price is the cost


def test_lanes_join_central_to_every_regional_dc_neighbours_and_suppliers(frames):
    lanes = frames["lanes"]
    loc = frames["locations"]
    regional = set(loc.filter(pl.col("kind") == "regional_dc")["code"])
    central = loc.filter(pl.col("kind") == "central_dc")["code"][0]
    assert set(lanes.filter(pl.col("from_location") == central)["to_location"]) == regional
    lateral = lanes.filter(
        pl.col("from_location").is_in(list(regional)) & pl.col("to_location").is_in(list(regional))
    )
    assert lateral.height >= len(regional)
    reverse = lateral.select(
        pl.col("to_location").alias("from_location"), pl.col("from_location").alias("to_location")
    )
    assert reverse.join(lateral, on=["from_location", "to_location"], how="anti").height == 0
    sites = set(loc.filter(pl.col("kind") == "supplier")["code"])
    assert sites <= set(lanes["from_location"])
    assert (lanes["transit_days"] >= 0).all() and (lanes["cost_per_unit"] > 0).all()
    # farther means slower and dearer
    out = lanes.filter(pl.col("from_location") == central).sort("transit_days")
    assert out["cost_per_unit"][0] <= out["cost_per_unit"][-1]


# -- the ledger is consistent ------------------------------------------------------------------


def test_running_stock_never_goes_negative_even_with_outflows_first_at_equal_times(frames):
    running = (
        movements(frames)
        .sort("sku", "location", "owner", "ts", "quantity")  # worst case within a moment
        .with_columns(
            pl.col("quantity").cum_sum().over("sku", "location", "owner").alias("balance")
        )
    )
    assert running["balance"].min() >= 0


def test_sales_never_exceed_demand_and_a_shortfall_empties_the_shelf(frames):
    """sales = min(demand, stock): a day with unmet demand ends the sale with zero stock."""
    demand = frames["demand"].rename({"quantity": "demand"})
    running = (
        movements(frames)
        .sort("sku", "location", "owner", "ts", "event_id")
        .with_columns(
            pl.col("quantity").cum_sum().over("sku", "location", "owner").alias("balance")
        )
    )
    sales = running.filter(pl.col("movement_type") == "sale").select(
        "sku",
        "location",
        pl.col("ts").dt.date().alias("date"),
        (-pl.col("quantity")).alias("sold"),
        "balance",
    )
    joined = sales.join(demand, on=["sku", "location", "date"], how="left")
    assert joined["demand"].null_count() == 0
    assert (joined["sold"] <= joined["demand"]).all()
    short = joined.filter(pl.col("sold") < pl.col("demand"))
    assert short.height > 0, "no stock-outs at all is not realistic"
    assert (short["balance"] == 0).all()
    # demand on a day without a sale means nothing was on the shelf at all
    unserved = demand.join(sales, on=["sku", "location", "date"], how="anti").filter(
        pl.col("demand") > 0
    )
    assert unserved.height > 0


def test_a_dispatch_never_exceeds_the_senders_stock_of_the_day_before(frames):
    mv = movements(frames)
    day_end = (
        mv.with_columns(pl.col("ts").dt.date().alias("date"))
        .group_by("sku", "location", "owner", "date")
        .agg(pl.col("quantity").sum())
        .sort("date")
        .with_columns(
            pl.col("quantity").cum_sum().over("sku", "location", "owner").alias("closing")
        )
    )
    shipped = (
        frames["transfers"]
        .group_by(
            "sku", pl.col("from_location").alias("location"), pl.col("ship_date").alias("ship")
        )
        .agg(pl.col("quantity").sum().alias("shipped"))
        .sort("ship")
    )
    # closing stock of the last day with movements before the ship date (both sides are
    # sorted by date, which polars cannot verify within the by-groups)
    before = shipped.join_asof(
        day_end.filter(pl.col("owner") == "company")
        .with_columns((pl.col("date") + timedelta(days=1)).alias("ship"))
        .sort("ship"),
        on="ship",
        by=["sku", "location"],
        strategy="backward",
        check_sortedness=False,
    )
    assert before.height == shipped.height
    assert (before["closing"].fill_null(0) >= before["shipped"]).all()


# -- what the manager should see ---------------------------------------------------------------


def test_spring_festival_trough_stocking_up_and_double_11_peak(year_frames):
    daily = year_frames["demand"].group_by("date").agg(pl.col("quantity").sum())

    def mean(first: date, last: date) -> float:
        return daily.filter(pl.col("date").is_between(first, last))["quantity"].mean()

    sf = SPRING_FESTIVAL[2026]
    around = mean(sf - timedelta(days=60), sf + timedelta(days=60))
    assert mean(sf, sf + timedelta(days=6)) < 0.5 * around  # the holiday week
    assert mean(sf - timedelta(days=20), sf - timedelta(days=5)) > 1.1 * around  # 年货
    october = mean(date(2025, 10, 8), date(2025, 10, 31))
    assert mean(date(2025, 11, 11), date(2025, 11, 11)) > 1.8 * october
    may = mean(date(2026, 5, 15), date(2026, 6, 5))
    assert mean(date(2026, 6, 18), date(2026, 6, 18)) > 1.4 * may


def test_weekly_pattern_is_visible(year_frames):
    by_weekday = (
        year_frames["demand"]
        .group_by(pl.col("date").dt.weekday().alias("wd"))
        .agg(pl.col("quantity").sum())
        .sort("wd")
    )
    q = dict(zip(by_weekday["wd"], by_weekday["quantity"], strict=True))
    assert q[5] > q[7]  # Friday busier than Sunday


def test_some_series_are_intermittent(frames):
    start = frames["demand"]["date"].min()
    days = (END - start).days + 1
    per_series = (
        frames["demand"]
        .filter(pl.col("quantity") > 0)
        .group_by("sku", "location")
        .agg(pl.len().alias("days_with_demand"), pl.col("date").min().alias("first"))
    )
    active = per_series.with_columns(
        ((pl.lit(END) - pl.col("first")).dt.total_days() + 1).alias("active_days")
    )
    sparse = active.filter(pl.col("days_with_demand") < 0.5 * pl.col("active_days"))
    assert sparse.height > 0
    busy = active.filter(pl.col("days_with_demand") > 0.95 * days)
    assert busy.height > 0


def test_new_launches_start_late_and_end_of_life_items_stop(frames):
    per_sku = (
        frames["demand"]
        .group_by("sku")
        .agg(pl.col("date").min().alias("first"), pl.col("date").max().alias("last"))
    )
    start = frames["demand"]["date"].min()
    assert per_sku.filter(pl.col("first") > start + timedelta(days=20)).height > 0
    assert per_sku.filter(pl.col("last") < END - timedelta(days=60)).height > 0


def test_open_and_late_purchase_orders_at_the_end(frames):
    po = frames["purchase_orders"]
    received = (
        frames["ledger"]
        .filter(pl.col("reference").str.starts_with("PO-"))
        .group_by(pl.col("reference").alias("po_number"), "sku")
        .agg(pl.col("quantity").sum().alias("received"))
    )
    lines = po.join(received, on=["po_number", "sku"], how="left").with_columns(
        pl.col("received").fill_null(0)
    )
    closed = lines.filter(pl.col("status") == "closed")
    assert (closed["received"] == closed["quantity"]).all()
    open_ = lines.filter(pl.col("status") == "open")
    assert open_.height > 0
    assert (open_["received"] < open_["quantity"]).all()
    assert open_.filter(pl.col("expected_date") < END).height > 0, "some should be late"
    assert (po["expected_date"] >= po["order_date"]).all()
    assert po["order_date"].max() <= END


def test_transfers_in_transit_at_the_end(frames):
    t = frames["transfers"]
    moving = t.filter(pl.col("status") == "in_transit")
    assert moving.height > 0
    assert moving["received_date"].null_count() == moving.height
    assert (moving["ship_date"] <= END).all()
    done = t.filter(pl.col("status") == "received")
    assert (done["received_date"] <= END).all()
    assert (done["received_date"] >= done["ship_date"]).all()
    assert set(t["status"]) == {"received", "in_transit"}


def test_a_region_is_short_of_skus_a_neighbour_holds_in_excess(frames):
    c = cover(frames)
    lanes = frames["lanes"].filter(
        pl.col("from_location").str.starts_with("RDC-")
        & pl.col("to_location").str.starts_with("RDC-")
    )
    short = c.filter((pl.col("cover") < 7) & (pl.col("daily") >= 1)).select(
        "sku", pl.col("location").alias("to_location")
    )
    long_ = c.filter(pl.col("cover") > 60).select("sku", pl.col("location").alias("from_location"))
    pairs = lanes.join(short, on="to_location").join(long_, on=["sku", "from_location"])
    assert pairs.height > 0


def test_dead_stock_of_items_that_stopped_selling(frames):
    mv = movements(frames)
    last_out = (
        mv.filter(pl.col("movement_type").is_in(OUTBOUND))
        .group_by("sku", "location")
        .agg(pl.col("ts").max().alias("last_out"))
    )
    stock = on_hand(frames).filter((pl.col("owner") == "company") & (pl.col("on_hand") >= 10))
    dead = stock.join(last_out, on=["sku", "location"]).filter(
        pl.col("last_out") < datetime.combine(END, datetime.min.time()) - timedelta(days=90)
    )
    assert dead.height > 0


def test_vmi_stock_belongs_to_the_supplier_until_consumed(frames):
    vmi_supplier = frames["suppliers"].filter(pl.col("vmi"))["code"][0]
    vmi_site = frames["locations"].filter(pl.col("kind") == "vmi")["code"][0]
    at_vmi = frames["ledger"].filter(pl.col("location") == vmi_site)
    assert at_vmi.height > 0
    assert (at_vmi["owner"] == vmi_supplier).all()
    consumed = at_vmi.filter(pl.col("movement_type") == "consignment_consume")
    assert consumed.height > 0
    # each consumption is matched by a receipt of ours at the central DC
    receipts = frames["ledger"].filter(
        pl.col("reference").is_in(consumed["reference"].unique().implode())
        & (pl.col("movement_type") == "receipt")
    )
    assert receipts["quantity"].sum() == consumed["quantity"].sum()
    assert (receipts["owner"] == "company").all()


def test_dense_demand_adds_the_zero_days():
    sparse = generate_demo(skus=15, locations=3, days=60, seed=2)
    dense = generate_demo(skus=15, locations=3, days=60, seed=2, dense_demand=True)
    assert dense["demand"].height > sparse["demand"].height
    assert dense["demand"].filter(pl.col("quantity") > 0).equals(sparse["demand"])


def test_bad_sizes_are_refused_with_a_clear_message():
    with pytest.raises(ControlTowerError, match="locations"):
        generate_demo(locations=2)
    with pytest.raises(ControlTowerError, match="locations"):
        generate_demo(locations=27)
    with pytest.raises(ControlTowerError, match="days"):
        generate_demo(days=10)


def test_lunar_holiday_tables_agree_with_the_holidays_package():
    holidays = pytest.importorskip("holidays")
    china = holidays.China(years=range(2016, 2036))
    for year, day in SPRING_FESTIVAL.items():
        assert "Spring Festival" in china.get(day, ""), year
    for year, day in MID_AUTUMN.items():
        assert "Mid-Autumn" in china.get(day, ""), year


def test_progress_bar_goes_to_stderr_not_stdout(capsys):
    generate_demo(skus=10, locations=3, days=60, seed=1, progress=True)
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "simulating" in captured.err


# -- through the real import -------------------------------------------------------------------


def test_build_demo_imports_everything_and_the_store_agrees_with_the_frames(tmp_path: Path):
    size = {"skus": 30, "locations": 4, "days": 150, "seed": 4}
    expected = generate_demo(**size)
    with Store(tmp_path / "demo.duckdb") as store:
        results = build_demo(store, **size)
        assert set(results) == set(ENTITIES)
        for entity, result in results.items():
            assert result.rows_written == expected[entity].height, entity
        assert store.as_of() == END
        stored = store.query(
            "SELECT sku, location, owner, sum(quantity)::BIGINT AS on_hand FROM ledger GROUP BY ALL"
        )
        mine = on_hand(expected)
        compare = stored.join(mine, on=["sku", "location", "owner"], how="full", coalesce=True)
        assert compare.filter(pl.col("on_hand") != pl.col("on_hand_right")).height == 0
        assert compare["on_hand"].null_count() == 0 and compare["on_hand_right"].null_count() == 0
        legs = store.scalar("SELECT count(*) FROM ledger WHERE movement_type LIKE 'transfer_%'")
        t = expected["transfers"]
        assert legs == t.height + t.filter(pl.col("status") == "received").height
        in_transit = store.scalar(
            "SELECT -sum(quantity)"
            " FROM ledger WHERE movement_type IN ('transfer_out', 'transfer_in')"
        )
        assert in_transit == t.filter(pl.col("status") == "in_transit")["quantity"].sum()
        # importing the same demo again changes nothing (event ids are deterministic)
        again = build_demo(store, **size)
        assert again["ledger"].rows_written == 0
        assert again["ledger"].rows_skipped == expected["ledger"].height


def test_demo_csv_files_import_together_as_text(tmp_path: Path):
    """The files parse back from text. They go in as one batch: the transfer legs need the
    ledger's opening balances and the regional sales need the transfer legs, and each import
    refuses a negative balance."""
    f = generate_demo(skus=12, locations=3, days=60, seed=9)
    paths = write_demo_files(f, tmp_path / "files", fmt="csv")
    assert [p.stem for p in paths] == list(ENTITIES)
    tables = {p.stem: read_table(p) for p in paths}
    assert all(dtype == pl.String for t in tables.values() for dtype in t.schema.values())
    with Store(tmp_path / "files.duckdb") as store:
        results = ingest_frames(store, tables, source="files")
        for entity, result in results.items():
            assert result.rows_written == f[entity].height, entity
        assert store.scalar("SELECT sum(quantity) FROM ledger") == on_hand(f)["on_hand"].sum()
    with pytest.raises(ControlTowerError):
        write_demo_files(f, tmp_path, fmt="xml")


# -- size --------------------------------------------------------------------------------------


@pytest.mark.slow
def test_default_size_is_quick_and_serves_most_demand():
    started = time.perf_counter()
    f = generate_demo()
    elapsed = time.perf_counter() - started
    assert elapsed < 30
    sales = f["ledger"].filter(pl.col("movement_type") == "sale")["quantity"].sum()
    fill_rate = sales / f["demand"]["quantity"].sum()
    assert 0.95 < fill_rate < 0.999
    assert f["products"].height == 300
    assert f["locations"].filter(pl.col("kind") == "regional_dc").height == 7
    c = cover(f).filter(pl.col("location").str.starts_with("RDC-") & (pl.col("daily") > 0))
    assert 7 < c["cover"].median() < 30


@pytest.mark.slow
def test_benchmark_size_generates_within_a_minute():
    started = time.perf_counter()
    f = generate_demo(skus=2000, locations=20, days=730)
    assert time.perf_counter() - started < 90
    assert f["products"].height == 2000
    assert f["products"]["sku"].is_unique().all()
    assert f["products"]["name"].is_unique().all()
