"""KPIs, classifications, aging, dead stock, imbalances and the health index on small crafted
scenarios, with the expected figures worked out by hand in each test."""

from __future__ import annotations

import polars as pl
import pytest

from control_tower import kpis, position
from control_tower.config import PositionSettings
from control_tower.errors import ControlTowerError
from control_tower.ingest import ingest_frame
from tests.test_position import (
    AS_OF,
    add_demand,
    add_products,
    daily_demand,
    day,
    mv,
    post,
    row,
    ship,
)


# -- fill rate, stock-outs, turnover ---------------------------------------------------------
def test_fill_rate_stockout_days_and_turnover_over_the_period_and_the_one_before(network):
    # Period: the 5 days ending AS_OF; previous period: the 5 days before.
    add_demand(
        network,
        daily_demand("A-100", "CD-RDC", 10, 10)  # 10 a day over both periods
        + [("B-200", "CQ-RDC", day(0), 5)],
    )
    post(
        network,
        mv("R1", -10, "A-100", "CD-RDC", "receipt", 100, hour=8),
        mv("R2", -10, "B-200", "CQ-RDC", "receipt", 10, hour=8),
        # previous period: every day served in full (5 x 10)
        *[mv(f"P{i}", -9 + i, "A-100", "CD-RDC", "sale", 10) for i in range(5)],
        # current period: 10, 10, 4, 0, 10 -> served 34 of 50, two stock-out days
        mv("C0", -4, "A-100", "CD-RDC", "sale", 10),
        mv("C1", -3, "A-100", "CD-RDC", "sale", 10),
        mv("C2", -2, "A-100", "CD-RDC", "sale", 4),
        mv("C4", 0, "A-100", "CD-RDC", "sale", 10),
        # sold 8 against a demand of 5: serves 5, not more
        mv("C5", 0, "B-200", "CQ-RDC", "sale", 8),
    )
    tiles = kpis.network_kpis(network, as_of=AS_OF, period_days=5)

    assert tiles["fill_rate"].value == pytest.approx((34 + 5) / (50 + 5))
    assert tiles["fill_rate"].previous == pytest.approx(1.0)
    assert tiles["stockout_days"].value == 2
    assert tiles["stockout_days"].previous == 0

    # Inventory value at the end of each period: A 16 x 2.5 + B 2 x 4; A 50 x 2.5 + B 10 x 4.
    assert tiles["inventory_value"].value == pytest.approx(16 * 2.5 + 2 * 4.0)
    assert tiles["inventory_value"].previous == pytest.approx(50 * 2.5 + 10 * 4.0)

    # Turnover = COGS x 365/5 / average daily inventory value over the period.
    # Current: COGS 34 x 2.5 + 8 x 4 = 117; A ends the days at 40, 30, 26, 26, 16 (avg 27.6),
    # B at 10, 10, 10, 10, 2 (avg 8.4): average value 27.6 x 2.5 + 8.4 x 4 = 102.6.
    assert tiles["turnover"].value == pytest.approx(117 * 365 / 5 / 102.6)
    # Previous: COGS 50 x 2.5 = 125; A 90, 80, 70, 60, 50 (avg 70), B 10: 175 + 40 = 215.
    assert tiles["turnover"].previous == pytest.approx(125 * 365 / 5 / 215)
    assert tiles["days_of_inventory"].value == pytest.approx(365 / tiles["turnover"].value)

    for tile in tiles.values():
        assert tile.formula and tile.better in ("higher", "lower")
    assert list(tiles) == [
        "inventory_value",
        "turnover",
        "days_of_inventory",
        "fill_rate",
        "stockout_days",
        "dead_stock_value",
        "health_index",
    ]


# -- dead stock and aging --------------------------------------------------------------------
def test_dead_stock_is_stock_without_outbound_for_the_dead_stock_days(network):
    post(
        network,
        mv("R1", -120, "A-100", "SH-CDC", "receipt", 50),  # never moved out: dead
        mv("R2", -200, "B-200", "SH-CDC", "receipt", 30),
        mv("R3", -200, "A-100", "CD-RDC", "receipt", 30),
        mv("S3", -89, "A-100", "CD-RDC", "sale", 1),  # 89 days: not yet
        mv("R4", -200, "B-200", "CD-RDC", "receipt", 3),
        mv("S4", -150, "B-200", "CD-RDC", "sale", 3),  # nothing left: not dead stock
    )
    ship(network, "X2", -100, "B-200", "SH-CDC", "CQ-RDC", 5)  # 100 days: dead (at SH-CDC)
    dead = kpis.dead_stock(network, as_of=AS_OF)
    assert dead.select("sku", "location", "on_hand", "stock_value").rows() == [
        ("A-100", "SH-CDC", 50, 125.0),
        ("B-200", "SH-CDC", 25, 100.0),
    ]
    assert dead["days_without_outbound"].to_list() == [120, 100]
    tiles = kpis.network_kpis(network, as_of=AS_OF)
    assert tiles["dead_stock_value"].value == pytest.approx(225.0)
    # 30 days earlier B-200 had been idle 70 days only, A-100 for 90: dead already.
    assert tiles["dead_stock_value"].previous == pytest.approx(125.0)
    # a longer threshold clears both
    assert (
        kpis.dead_stock(network, as_of=AS_OF, settings=PositionSettings(dead_stock_days=121)).height
        == 0
    )


def test_aging_buckets_by_days_since_the_last_inbound_or_outbound(network):
    post(
        network,
        mv("R1", -50, "A-100", "CD-RDC", "receipt", 10),
        mv("S1", -10, "A-100", "CD-RDC", "sale", 2),  # age 10 -> 0-30, 8 units, 20.0
        mv("R2", -45, "B-200", "CD-RDC", "receipt", 5),  # age 45 -> 31-60, 5 units, 20.0
        mv("R3", -100, "A-100", "CQ-RDC", "receipt", 4),  # age 100 -> 91-180, 4 units, 10.0
        mv("R4", -200, "B-200", "CQ-RDC", "receipt", 1),  # age 200 -> > 180, 1 unit, 4.0
        mv("R5", -30, "A-100", "SH-CDC", "receipt", 2),  # age 30 -> 0-30 (edge), 2 units, 5.0
        mv("R6", -300, "B-200", "SH-CDC", "receipt", 7, owner="SUP1"),  # consigned: units only
    )
    table = kpis.aging(network, as_of=AS_OF)
    assert table["bucket"].to_list() == [
        "0-30 days",
        "31-60 days",
        "61-90 days",
        "91-180 days",
        "> 180 days",
    ]
    assert table["units"].to_list() == [10, 5, 0, 4, 8]
    assert table["value"].to_list() == pytest.approx([25.0, 20.0, 0.0, 10.0, 4.0])
    assert table["sku_locations"].to_list() == [2, 1, 0, 1, 2]
    assert table["stock_value"].to_list() == table["value"].to_list()


# -- imbalances ------------------------------------------------------------------------------
def test_imbalances_pair_a_short_location_with_a_neighbour_in_excess(network):
    add_demand(
        network,
        daily_demand("A-100", "CD-RDC", 10, 28) + daily_demand("A-100", "CQ-RDC", 1, 28),
    )
    post(
        network,
        mv("R1", -40, "A-100", "CD-RDC", "receipt", 300),
        mv("S1", -1, "A-100", "CD-RDC", "sale", 280),  # 20 left, 10 a day: 2 days of cover
        mv("R2", -40, "A-100", "CQ-RDC", "receipt", 501),
        mv("S2", -1, "A-100", "CQ-RDC", "sale", 1),  # 500 left, 1 a day: 500 days
        mv("R3", -5, "A-100", "SH-CDC", "receipt", 1000),  # the DC has plenty too
    )
    found = kpis.imbalances(network, as_of=AS_OF)
    assert found.height == 1
    got = found.row(0, named=True)
    # CD-RDC needs 21 days x 10 - 20 = 190; CQ-RDC can spare 500 - 21 = 479 and is the nearer
    # neighbour (1 day against 4 from the DC), so all 190 come from there.
    assert (got["sku"], got["short_location"], got["excess_location"]) == (
        "A-100",
        "CD-RDC",
        "CQ-RDC",
    )
    assert got["short_cover_days"] == pytest.approx(2.0)
    assert got["excess_cover_days"] == pytest.approx(500.0)
    assert got["movable_units"] == 190
    assert got["value"] == pytest.approx(190 * 2.5)
    assert got["transit_days"] == 1
    assert got["lane_cost"] == pytest.approx(190 * 0.2 + 80.0)
    assert got["has_lane"] is True


def test_imbalances_split_a_need_over_sources_without_moving_more_than_they_spare(network):
    add_demand(
        network,
        daily_demand("A-100", "CD-RDC", 10, 28) + daily_demand("A-100", "CQ-RDC", 1, 28),
    )
    post(
        network,
        mv("R2", -40, "A-100", "CQ-RDC", "receipt", 101),
        mv("S2", -1, "A-100", "CQ-RDC", "sale", 1),  # 100 days, spares 100 - 21 = 79
        mv("R3", -5, "A-100", "SH-CDC", "receipt", 1000),
    )
    found = kpis.imbalances(network, as_of=AS_OF)
    moves = {r["excess_location"]: r["movable_units"] for r in found.iter_rows(named=True)}
    assert moves == {"CQ-RDC": 79, "SH-CDC": 210 - 79}


def add_location(store, code: str, kind: str) -> None:
    ingest_frame(
        store,
        "locations",
        pl.DataFrame({"code": [code], "name": [f"{kind} {code}"], "kind": [kind]}),
    )


def test_imbalances_leave_out_vmi_and_supplier_sites(network):
    # The supplier's VMI site runs short of its consigned stock; moving company stock there
    # would be wrong, so only the regional DC that is short gets a proposal.
    add_location(network, "VMI-1", "vmi")
    add_demand(
        network,
        daily_demand("A-100", "CD-RDC", 10, 28) + daily_demand("A-100", "CQ-RDC", 1, 28),
    )
    post(
        network,
        mv("R1", -40, "A-100", "CD-RDC", "receipt", 300),
        mv("S1", -1, "A-100", "CD-RDC", "sale", 280),  # 20 left, 10 a day: short, needs 190
        mv("R2", -40, "A-100", "CQ-RDC", "receipt", 1001),
        mv("S2", -1, "A-100", "CQ-RDC", "sale", 1),  # 1000 left, 1 a day: spares 979
        # the VMI site: 20 consigned left, 280 consumed in the window (10 a day): 2 days
        mv("V1", -40, "A-100", "VMI-1", "receipt", 300, owner="SUP1"),
        mv("C1", -1, "A-100", "VMI-1", "consignment_consume", 280, owner="SUP1"),
    )
    vmi = row(position.stock_position(network, as_of=AS_OF), "A-100", "VMI-1")
    assert vmi["status"] == "short"  # short by the position's measure, yet not a destination
    found = kpis.imbalances(network, as_of=AS_OF)
    assert found.select("short_location", "excess_location", "movable_units").rows() == [
        ("CD-RDC", "CQ-RDC", 190)
    ]


def test_imbalances_move_only_company_owned_stock_between_company_sites(network):
    # B-200: the supplier's consigned stock idle at the central DC is no source, so only
    # CQ-RDC's own 100 units go to CD-RDC, though it needs 190. A-100: stock at a supplier's
    # site is no source either, so CQ-RDC's shortage gets no proposal.
    add_location(network, "SUP1-SITE", "supplier")
    add_demand(
        network,
        daily_demand("B-200", "CD-RDC", 10, 28) + daily_demand("A-100", "CQ-RDC", 10, 28),
    )
    post(
        network,
        mv("R1", -40, "B-200", "CD-RDC", "receipt", 300),
        mv("S1", -1, "B-200", "CD-RDC", "sale", 280),  # 20 left: needs 210 - 20 = 190
        mv("R2", -40, "B-200", "SH-CDC", "receipt", 1000, owner="SUP1"),  # consigned, idle
        mv("R3", -40, "B-200", "CQ-RDC", "receipt", 100),  # company stock without demand
        mv("R4", -40, "A-100", "CQ-RDC", "receipt", 300),
        mv("S4", -1, "A-100", "CQ-RDC", "sale", 280),  # 20 left: short
        mv("R5", -40, "A-100", "SUP1-SITE", "receipt", 1000),  # at the supplier's site
    )
    found = kpis.imbalances(network, as_of=AS_OF)
    assert found.select("sku", "short_location", "excess_location", "movable_units").rows() == [
        ("B-200", "CD-RDC", "CQ-RDC", 100)
    ]
    assert found["excess_cover_days"].to_list() == [None]  # no demand at CQ-RDC
    assert found["value"].to_list() == [pytest.approx(100 * 4.0)]
    assert kpis.IMBALANCE_LOCATION_KINDS == ("central_dc", "regional_dc", "store")


# -- health index ----------------------------------------------------------------------------
def _tiny_health_case(network) -> None:
    """A-100 at CD-RDC: 2 a day asked over the 28-day window, served on 21 days only; B-200
    there: dead, no demand."""
    add_demand(network, daily_demand("A-100", "CD-RDC", 2, 28))
    sales = [mv(f"S{i}", -i, "A-100", "CD-RDC", "sale", 2) for i in range(1, 22)]
    post(
        network,
        mv("R1", -30, "A-100", "CD-RDC", "receipt", 63),
        *sales,
        mv("R2", -200, "B-200", "CD-RDC", "receipt", 10),
    )


def test_health_index_follows_its_published_formula_on_a_tiny_case(network):
    _tiny_health_case(network)
    detail = kpis.health_detail(network, as_of=AS_OF)
    a = row(detail, "A-100", "CD-RDC")
    # 21 on hand, 2 a day: cover 10.5 of a 21-day target; 42 of 56 units served.
    assert (a["coverage_score"], a["excess_score"], a["aging_score"], a["service_score"]) == (
        pytest.approx(0.5),
        1.0,
        1.0,
        pytest.approx(0.75),
    )
    assert a["health_score"] == pytest.approx(25 * (0.5 + 1 + 1 + 0.75))  # 81.25
    assert a["health_weight"] == pytest.approx(2.5 * max(21, 2 * 21))  # 105
    b = row(detail, "B-200", "CD-RDC")
    assert (b["coverage_score"], b["excess_score"], b["aging_score"], b["service_score"]) == (
        1.0,
        0.0,
        0.0,
        1.0,
    )
    assert b["health_score"] == pytest.approx(50.0)
    assert b["health_weight"] == pytest.approx(4.0 * 10)

    expected = (105 * 81.25 + 40 * 50.0) / (105 + 40)
    by_location = kpis.health_by_location(network, as_of=AS_OF)
    cd = by_location.filter(by_location["location"] == "CD-RDC").row(0, named=True)
    assert cd["health_index"] == pytest.approx(expected)
    assert cd["dead_count"] == 1
    assert cd["stock_value"] == pytest.approx(21 * 2.5 + 10 * 4.0)
    assert kpis.network_kpis(network, as_of=AS_OF)["health_index"].value == pytest.approx(expected)
    # locations without a position are listed (for the map) with no index
    assert by_location["location"].to_list() == ["CD-RDC", "CQ-RDC", "SH-CDC"]
    assert by_location.filter(by_location["location"] == "SH-CDC")["health_index"].item() is None
    assert "coverage" in kpis.HEALTH_INDEX_FORMULA and "weight" in kpis.HEALTH_INDEX_FORMULA


def test_the_health_index_of_any_group_is_the_same_weighted_mean_of_its_rows(network):
    _tiny_health_case(network)
    scored = kpis.scored_position(network, as_of=AS_OF)
    # by product: each SKU's one row here, its own score (81.25 and 50, as worked out above)
    by_sku = kpis.health_by_key(scored.with_columns(pl.col("sku").alias("key")))
    values = dict(zip(by_sku["key"], by_sku["value"], strict=True))
    assert values["A-100"] == pytest.approx(81.25)
    assert values["B-200"] == pytest.approx(50.0)
    # all rows together: the location's index and the network's
    assert kpis.health_index_of(scored) == pytest.approx((105 * 81.25 + 40 * 50.0) / 145)


def test_health_scores_stay_between_0_and_100(network):
    add_demand(
        network, daily_demand("A-100", "CD-RDC", 5, 28) + daily_demand("B-200", "CQ-RDC", 1, 3)
    )
    post(
        network,
        mv("R1", -60, "A-100", "CD-RDC", "receipt", 3),
        mv("R2", -60, "B-200", "CQ-RDC", "receipt", 5000),
        mv("R3", -400, "A-100", "SH-CDC", "receipt", 9),
        mv("R4", -2, "B-200", "CD-RDC", "receipt", 9),
    )
    detail = kpis.health_detail(network, as_of=AS_OF)
    assert detail["health_score"].min() >= 0.0
    assert detail["health_score"].max() <= 100.0
    index = kpis.network_kpis(network, as_of=AS_OF)["health_index"].value
    assert 0.0 <= index <= 100.0


# -- ABC-XYZ and value views -----------------------------------------------------------------
def test_abc_xyz_reports_class_value_and_cv_per_sku_location(network):
    add_products(network, [("C-300", "Cup", 1.0)])
    add_demand(
        network,
        [("A-100", "CD-RDC", day(-27), 0)]
        + [("A-100", "CD-RDC", day(-7 * w - 3), 100) for w in range(4)]  # value 1000
        + [("C-300", "CD-RDC", day(-3), 40)],  # value 40
    )
    table = kpis.abc_xyz(network, as_of=AS_OF)
    assert table.select("sku", "abc", "xyz", "abc_xyz").rows() == [
        ("A-100", "A", "X", "AX"),
        ("C-300", "C", "Z", "CZ"),
    ]
    assert table["annual_value"].to_list() == pytest.approx([1000.0, 40.0])
    assert table["value_share"].to_list() == pytest.approx([1000 / 1040, 40 / 1040])


def test_stock_value_by_groups_on_an_allowed_dimension(network):
    post(
        network,
        mv("R1", -3, "A-100", "CD-RDC", "receipt", 10),  # beverages 25.0
        mv("R2", -3, "B-200", "CD-RDC", "receipt", 5),  # snacks 20.0
        mv("R3", -3, "A-100", "CQ-RDC", "receipt", 2),  # beverages 5.0
    )
    by_category = kpis.stock_value_by(network, "category", as_of=AS_OF)
    assert by_category.select("category", "stock_value", "units").rows() == [
        ("beverages", 30.0, 12),
        ("snacks", 20.0, 5),
    ]
    assert by_category["share"].to_list() == pytest.approx([0.6, 0.4])
    by_location = kpis.stock_value_by(network, "location", as_of=AS_OF)
    assert by_location.select("location", "location_name", "stock_value").rows() == [
        ("CD-RDC", "成都区域仓", 45.0),
        ("CQ-RDC", "重庆区域仓", 5.0),
    ]
    assert kpis.stock_value_by(network, "region", as_of=AS_OF)["region"].to_list() == ["Southwest"]
    assert set(kpis.stock_value_by(network, "abc", as_of=AS_OF)["abc"].to_list()) == {"C"}


@pytest.mark.parametrize("dimension", ["supplier", "location; DROP TABLE ledger", ""])
def test_stock_value_by_refuses_an_unknown_dimension_with_a_clear_error(network, dimension):
    with pytest.raises(kpis.UnknownDimensionError) as caught:
        kpis.stock_value_by(network, dimension)
    assert isinstance(caught.value, ControlTowerError)
    assert isinstance(caught.value, ValueError)
    assert "location, category, region, abc" in caught.value.detail
    assert network.scalar("SELECT count(*) FROM ledger") == 0  # still there


# -- overview --------------------------------------------------------------------------------
def test_overview_data_bundles_the_page_in_one_cached_call(network):
    add_demand(network, daily_demand("A-100", "CD-RDC", 2, 28))
    post(
        network,
        mv("R1", -30, "A-100", "CD-RDC", "receipt", 100),
        mv("S1", -1, "A-100", "CD-RDC", "sale", 2),
    )
    first = kpis.overview_data(network)
    assert first.as_of == network.as_of()
    assert set(first.kpis) >= {"inventory_value", "fill_rate", "health_index"}
    assert first.value_by_location["stock_value"].sum() == pytest.approx(98 * 2.5)
    assert first.value_by_category["category"].to_list() == ["beverages"]
    assert first.aging.columns[0] == "bucket"
    assert {"from_location", "to_location"} <= set(first.lanes.columns)
    assert {"lat", "lon", "health_index", "stock_value", "kind"} <= set(
        first.health_by_location.columns
    )
    assert kpis.overview_data(network) is first  # warm: served from the cache
    post(network, mv("S2", 0, "A-100", "CD-RDC", "sale", 2))
    second = kpis.overview_data(network)
    assert second is not first
    assert second.value_by_location["stock_value"].sum() == pytest.approx(96 * 2.5)


def test_an_empty_store_gives_empty_views_not_errors(store):
    assert kpis.stock_value_by(store, "location").height == 0
    assert kpis.imbalances(store).height == 0
    assert kpis.aging(store)["units"].sum() == 0
    overview = kpis.overview_data(store)
    assert overview.kpis["fill_rate"].value is None
    assert overview.kpis["health_index"].value is None
