"""Stock position: small crafted scenarios posted through the real ledger and import paths,
with the expected figures worked out by hand in each test."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

import polars as pl
import pytest

from control_tower import ledger, position
from control_tower.config import PositionSettings
from control_tower.errors import NotFoundError
from control_tower.ingest import ingest_frame
from control_tower.ledger import Movement, MovementType
from control_tower.store import Store

AS_OF = date(2024, 3, 1)
SIGN = {
    "receipt": 1,
    "transfer_in": 1,
    "adjustment": 1,
    "sale": -1,
    "issue": -1,
    "transfer_out": -1,
    "consignment_consume": -1,
}


def day(offset: int) -> date:
    """A day relative to AS_OF (0 = AS_OF, -1 = the day before)."""
    return AS_OF + timedelta(days=offset)


def at(offset: int, hour: int = 12) -> datetime:
    return datetime.combine(day(offset), time(hour))


def mv(
    event_id: str,
    offset: int,
    sku: str,
    location: str,
    kind: str,
    units: int,
    *,
    owner: str = "company",
    reference: str | None = None,
    hour: int = 12,
) -> Movement:
    """A movement given as a magnitude (adjustments keep their sign)."""
    return Movement(
        event_id,
        at(offset, hour),
        sku,
        location,
        MovementType(kind),
        SIGN[kind] * units,
        owner,
        reference,
    )


def post(store: Store, *movements: Movement) -> None:
    ledger.post(store, list(movements))


def ship(
    store: Store, transfer_id: str, offset: int, sku: str, source: str, to: str, units: int
) -> None:
    """Dispatch a transfer (its header and outbound leg); it stays in transit."""
    ledger.dispatch_transfer(
        store,
        transfer_id,
        sku,
        source,
        to,
        units,
        ship_date=at(offset),
        expected_date=day(offset + 2),
    )


def add_demand(store: Store, rows: list[tuple[str, str, date, int]]) -> None:
    ingest_frame(
        store,
        "demand",
        pl.DataFrame(rows, schema=["sku", "location", "date", "quantity"], orient="row"),
    )


def add_products(store: Store, rows: list[tuple[str, str, float]]) -> None:
    ingest_frame(
        store,
        "products",
        pl.DataFrame(rows, schema=["sku", "name", "unit_cost"], orient="row").with_columns(
            category=pl.lit("extra")
        ),
    )


def add_purchase_orders(store: Store, rows: list[tuple]) -> None:
    """rows: (po_number, sku, location, quantity, order_date, expected_date, status)."""
    frame = pl.DataFrame(
        rows,
        schema=[
            "po_number",
            "sku",
            "location",
            "quantity",
            "order_date",
            "expected_date",
            "status",
        ],
        orient="row",
    ).with_columns(supplier=pl.lit("SUP1"))
    ingest_frame(store, "purchase_orders", frame)


def row(frame: pl.DataFrame, sku: str, location: str) -> dict:
    found = frame.filter((pl.col("sku") == sku) & (pl.col("location") == location))
    assert found.height == 1, f"expected one row for {sku} at {location}, got {found.height}"
    return found.row(0, named=True)


def daily_demand(sku: str, location: str, per_day: int, days: int, end: int = 0) -> list:
    """``per_day`` units on each of the ``days`` days ending ``end`` (offset)."""
    return [(sku, location, day(end - i), per_day) for i in range(days)]


# -- on hand ---------------------------------------------------------------------------------
def test_on_hand_is_the_ledger_sum_over_all_owners_and_consigned_is_the_supplier_part(network):
    post(
        network,
        mv("R1", -30, "A-100", "CD-RDC", "receipt", 100),
        mv("S1", -10, "A-100", "CD-RDC", "sale", 30),
        mv("ADJ1", -9, "A-100", "CD-RDC", "adjustment", -5),
        mv("V1", -8, "A-100", "CD-RDC", "receipt", 40, owner="SUP1"),
        mv("V2", -2, "A-100", "CD-RDC", "consignment_consume", 10, owner="SUP1"),
    )
    pos = position.stock_position(network, as_of=AS_OF)
    got = row(pos, "A-100", "CD-RDC")
    ledger_sum = network.scalar(
        "SELECT sum(quantity) FROM ledger WHERE sku = 'A-100' AND location = 'CD-RDC'"
    )
    assert got["on_hand"] == ledger_sum == 100 - 30 - 5 + 40 - 10
    assert got["consigned"] == 30
    assert got["reserved"] == 0
    assert got["available"] == 95
    assert got["stock_value"] == pytest.approx((95 - 30) * 2.5)
    assert got["last_outbound_date"] == day(-2)
    assert got["days_since_outbound"] == 2
    assert pos.height == 1  # only the (sku, location) with movements


def test_on_hand_as_of_an_earlier_day_counts_only_movements_up_to_its_end(network):
    post(
        network,
        mv("R1", -5, "A-100", "CD-RDC", "receipt", 10, hour=23),
        mv("S1", -4, "A-100", "CD-RDC", "sale", 3, hour=0),
        mv("S2", 0, "A-100", "CD-RDC", "sale", 4),
    )
    assert row(position.stock_position(network, as_of=day(-5)), "A-100", "CD-RDC")["on_hand"] == 10
    assert row(position.stock_position(network, as_of=day(-4)), "A-100", "CD-RDC")["on_hand"] == 7
    assert row(position.stock_position(network), "A-100", "CD-RDC")["on_hand"] == 3
    assert position.stock_position(network, as_of=day(-6)).height == 0


def test_default_as_of_is_the_datas_today_and_filters_keep_figures(network):
    post(
        network,
        mv("R1", -3, "A-100", "CD-RDC", "receipt", 10),
        mv("R2", -3, "B-200", "CQ-RDC", "receipt", 20),
    )
    everything = position.stock_position(network)
    assert network.as_of() == day(-3)
    assert everything.height == 2
    only_b = position.stock_position(network, skus=["B-200"])
    assert only_b["on_hand"].to_list() == [20]
    assert position.stock_position(network, locations=["CD-RDC"])["sku"].to_list() == ["A-100"]
    assert position.stock_position(network, category="snacks")["sku"].to_list() == ["B-200"]


def test_a_new_posting_shows_at_once_despite_the_cache(network):
    post(network, mv("R1", -3, "A-100", "CD-RDC", "receipt", 10))
    assert row(position.stock_position(network, as_of=AS_OF), "A-100", "CD-RDC")["on_hand"] == 10
    post(network, mv("S1", -1, "A-100", "CD-RDC", "sale", 4))
    assert row(position.stock_position(network, as_of=AS_OF), "A-100", "CD-RDC")["on_hand"] == 6


# -- in transit ------------------------------------------------------------------------------
def test_in_transit_is_dispatched_less_received_including_partial_receipts(network):
    post(network, mv("R1", -20, "A-100", "SH-CDC", "receipt", 200))
    ledger.dispatch_transfer(
        network,
        "T1",
        "A-100",
        "SH-CDC",
        "CD-RDC",
        50,
        ship_date=at(-4),
        expected_date=day(1),
    )
    ledger.receive_transfer(network, "T1", received=at(-2), quantity=20)

    now = position.stock_position(network, as_of=AS_OF)
    assert row(now, "A-100", "SH-CDC")["on_hand"] == 150
    assert row(now, "A-100", "SH-CDC")["in_transit_out"] == 30
    assert row(now, "A-100", "CD-RDC")["on_hand"] == 20
    assert row(now, "A-100", "CD-RDC")["in_transit_in"] == 30

    # Before the partial receipt, all 50 were on the way; CD-RDC has a row only for that.
    before_receipt = position.stock_position(network, as_of=day(-3))
    assert row(before_receipt, "A-100", "CD-RDC")["in_transit_in"] == 50
    assert row(before_receipt, "A-100", "CD-RDC")["on_hand"] == 0
    assert row(before_receipt, "A-100", "SH-CDC")["in_transit_out"] == 50

    # Before dispatch nothing was in transit.
    before_dispatch = position.stock_position(network, as_of=day(-5))
    assert row(before_dispatch, "A-100", "SH-CDC")["in_transit_out"] == 0
    assert row(before_dispatch, "A-100", "SH-CDC")["on_hand"] == 200

    # Receiving the rest completes it.
    ledger.receive_transfer(network, "T1", received=at(0))
    done = position.stock_position(network, as_of=AS_OF)
    assert row(done, "A-100", "CD-RDC")["in_transit_in"] == 0
    assert row(done, "A-100", "CD-RDC")["on_hand"] == 50
    # ... but as of the day before, 30 were still on the way.
    assert (
        row(position.stock_position(network, as_of=day(-1)), "A-100", "CD-RDC")["in_transit_in"]
        == 30
    )


def test_an_imported_in_transit_transfer_counts_and_a_planned_one_does_not(network):
    post(network, mv("R1", -20, "B-200", "CQ-RDC", "receipt", 40))
    transfers = pl.DataFrame(
        {
            "transfer_id": ["T7", "T8"],
            "sku": ["B-200", "B-200"],
            "from_location": ["CQ-RDC", "CQ-RDC"],
            "to_location": ["CD-RDC", "CD-RDC"],
            "quantity": [15, 5],
            "ship_date": [day(-1), None],
            "expected_date": [day(0), day(5)],
            "status": ["in_transit", "planned"],
        }
    )
    ingest_frame(network, "transfers", transfers)
    pos = position.stock_position(network, as_of=AS_OF)
    assert row(pos, "B-200", "CD-RDC")["in_transit_in"] == 15
    assert row(pos, "B-200", "CQ-RDC")["in_transit_out"] == 15
    assert row(pos, "B-200", "CQ-RDC")["on_hand"] == 25


# -- on order --------------------------------------------------------------------------------
def test_on_order_is_open_po_quantity_less_its_receipts_floored_at_zero(network):
    add_purchase_orders(
        network,
        [
            ("PO-1", "A-100", "CD-RDC", 100, day(-30), day(-5), "open"),
            ("PO-2", "B-200", "CD-RDC", 10, day(-30), day(-5), "open"),
            ("PO-3", "A-100", "CQ-RDC", 50, day(-30), day(-5), "closed"),
            ("PO-4", "A-100", "CQ-RDC", 70, day(-30), day(-5), "cancelled"),
        ],
    )
    post(
        network,
        mv("G1", -20, "A-100", "CD-RDC", "receipt", 30, reference="PO-1"),
        mv("G2", 0, "A-100", "CD-RDC", "receipt", 25, reference="PO-1"),
        # the same PO number at another location is not a receipt of this line
        mv("G3", -15, "A-100", "CQ-RDC", "receipt", 5, reference="PO-1"),
        # over-receipt: floored at 0
        mv("G4", -15, "B-200", "CD-RDC", "receipt", 15, reference="PO-2"),
    )
    now = position.stock_position(network, as_of=AS_OF)
    assert row(now, "A-100", "CD-RDC")["on_order"] == 100 - 30 - 25
    assert row(now, "B-200", "CD-RDC")["on_order"] == 0
    assert row(now, "A-100", "CQ-RDC")["on_order"] == 0  # closed / cancelled lines do not count

    earlier = position.stock_position(network, as_of=day(-10))  # second receipt not yet in
    assert row(earlier, "A-100", "CD-RDC")["on_order"] == 70
    assert row(earlier, "B-200", "CD-RDC")["on_order"] == 0

    before_order = position.stock_position(network, as_of=day(-31))
    assert before_order.height == 0


def test_a_closed_po_line_with_receipts_after_a_past_day_was_still_on_order_that_day(network):
    # The schema keeps no close date: a line's status is today's. A closed line that has a
    # receipt dated after as_of was still open on as_of, so it counts for that day.
    add_purchase_orders(
        network,
        [
            ("PO-5", "A-100", "CQ-RDC", 40, day(-30), day(-20), "closed"),
            # closed and never received after day -10: unknowable when it closed, not counted
            ("PO-6", "B-200", "CQ-RDC", 10, day(-30), day(-20), "closed"),
        ],
    )
    post(
        network,
        mv("G1", -20, "A-100", "CQ-RDC", "receipt", 15, reference="PO-5"),
        mv("G2", -3, "A-100", "CQ-RDC", "receipt", 25, reference="PO-5"),
        mv("G3", -15, "B-200", "CQ-RDC", "receipt", 4, reference="PO-6"),
        # a receipt of the same PO number at another location says nothing of this line
        mv("G4", -1, "B-200", "CD-RDC", "receipt", 1, reference="PO-6"),
    )
    assert row(position.stock_position(network, as_of=AS_OF), "A-100", "CQ-RDC")["on_order"] == 0
    assert row(position.stock_position(network, as_of=day(-2)), "A-100", "CQ-RDC")["on_order"] == 0
    assert (
        row(position.stock_position(network, as_of=day(-25)), "A-100", "CQ-RDC")["on_order"] == 40
    )
    then = position.stock_position(network, as_of=day(-10))
    assert row(then, "A-100", "CQ-RDC")["on_order"] == 40 - 15
    assert row(then, "B-200", "CQ-RDC")["on_order"] == 0
    lines = position.inbound(network, as_of=day(-10))
    assert lines.select("reference", "remaining").rows() == [("PO-5", 25)]
    assert position.inbound(network, as_of=AS_OF).height == 0


# -- demand and cover ------------------------------------------------------------------------
def test_days_of_cover_is_available_over_mean_daily_demand_of_the_window(network):
    # 3 a day over the last 14 days, 1 a day over the 14 before, 50 long before the window.
    add_demand(
        network,
        daily_demand("A-100", "CD-RDC", 3, 14)
        + daily_demand("A-100", "CD-RDC", 1, 14, end=-14)
        + [("A-100", "CD-RDC", day(-60), 50)],
    )
    post(network, mv("R1", -40, "A-100", "CD-RDC", "receipt", 44))
    got = row(position.stock_position(network, as_of=AS_OF), "A-100", "CD-RDC")
    assert got["avg_daily_demand"] == pytest.approx((14 * 3 + 14 * 1) / 28)  # 2.0
    assert got["days_of_cover"] == pytest.approx(44 / 2.0)
    assert got["demand_source"] == "demand"

    short_window = PositionSettings(demand_window_days=14)
    got14 = row(
        position.stock_position(network, as_of=AS_OF, settings=short_window), "A-100", "CD-RDC"
    )
    assert got14["avg_daily_demand"] == pytest.approx(3.0)
    assert got14["days_of_cover"] == pytest.approx(44 / 3.0)


def test_no_demand_means_null_cover_and_a_dc_without_demand_uses_its_outbound(network):
    add_demand(network, daily_demand("A-100", "CD-RDC", 1, 28))
    post(
        network,
        mv("R1", -40, "A-100", "SH-CDC", "receipt", 500),
        mv("R2", -40, "B-200", "CD-RDC", "receipt", 10),
    )
    ship(network, "X1", -10, "A-100", "SH-CDC", "CQ-RDC", 56)
    pos = position.stock_position(network, as_of=AS_OF)
    sh = row(pos, "A-100", "SH-CDC")
    assert sh["demand_source"] == "outbound"
    assert sh["avg_daily_demand"] == pytest.approx(56 / 28)
    assert sh["days_of_cover"] == pytest.approx(444 / 2.0)
    b = row(pos, "B-200", "CD-RDC")  # CD-RDC records demand, but none for B-200
    assert b["avg_daily_demand"] == 0
    assert b["days_of_cover"] is None


def test_status_classes(network):
    add_demand(
        network,
        daily_demand("A-100", "CD-RDC", 1, 28)
        + daily_demand("B-200", "CD-RDC", 1, 28)
        + daily_demand("A-100", "CQ-RDC", 1, 28)
        + daily_demand("B-200", "CQ-RDC", 1, 28),
    )
    post(
        network,
        # short: 3 on hand, 1 a day -> 3 days of cover (< 7)
        mv("R1", -20, "A-100", "CD-RDC", "receipt", 4),
        mv("S1", -1, "A-100", "CD-RDC", "sale", 1),
        # excess: 100 on hand -> 100 days (> 60)
        mv("R2", -20, "B-200", "CD-RDC", "receipt", 101),
        mv("S2", -1, "B-200", "CD-RDC", "sale", 1),
        # ok: 20 days
        mv("R3", -20, "A-100", "CQ-RDC", "receipt", 21),
        mv("S3", -1, "A-100", "CQ-RDC", "sale", 1),
        # no stock
        mv("R4", -20, "B-200", "CQ-RDC", "receipt", 5),
        mv("S4", -1, "B-200", "CQ-RDC", "sale", 5),
        # dead: 120 days without outbound (counted from its arrival: it never moved out)
        mv("R5", -120, "A-100", "SH-CDC", "receipt", 50),
        # not dead yet: last outbound 89 days ago
        mv("R6", -200, "B-200", "SH-CDC", "receipt", 30),
    )
    ship(network, "X6", -89, "B-200", "SH-CDC", "CD-RDC", 5)  # still in transit: no stock yet
    pos = position.stock_position(network, as_of=AS_OF)
    status = {(r["sku"], r["location"]): r["status"] for r in pos.iter_rows(named=True)}
    assert status == {
        ("A-100", "CD-RDC"): "short",
        ("B-200", "CD-RDC"): "excess",
        ("A-100", "CQ-RDC"): "ok",
        ("B-200", "CQ-RDC"): "no_stock",
        ("A-100", "SH-CDC"): "dead",
        ("B-200", "SH-CDC"): "excess",  # stock, no demand in the window, moved 89 days ago
    }
    assert row(pos, "A-100", "SH-CDC")["days_since_outbound"] is None
    assert row(pos, "A-100", "SH-CDC")["days_without_outbound"] == 120
    assert row(pos, "B-200", "SH-CDC")["days_since_outbound"] == 89


def test_abc_by_consumption_value_and_xyz_by_weekly_variation(network):
    add_products(network, [("C-300", "Cup", 1.0), ("D-400", "Desk lamp", 10.0)])
    # Four weeks of history ending AS_OF; one demand record in the middle of each week.
    weekly = {
        "A-100": [100, 100, 100, 100],  # value 400 x 2.5 = 1000, cv 0      -> A X
        "B-200": [20, 40, 20, 40],  # value 120 x 4 = 480, cv 10/30       -> A X
        "D-400": [10, 0, 10, 0],  # value 20 x 10 = 200, cv 5/5 = 1.0  -> B Y
        "C-300": [0, 0, 0, 40],  # value 40 x 1 = 40, cv 17.32/10     -> C Z
    }
    rows = [("A-100", "CD-RDC", day(-27), 0)]  # history starts 28 days before: 4 full weeks
    for sku, weeks in weekly.items():
        rows += [(sku, "CD-RDC", day(-7 * w - 3), q) for w, q in enumerate(weeks)]
    add_demand(network, rows)
    pos = position.stock_position(network, as_of=AS_OF)
    classes = {r["sku"]: r["abc"] + r["xyz"] for r in pos.iter_rows(named=True)}
    # value ranked above: B 1000/1720 = 58% (< 80%: A), D 1480/1720 = 86% (B), C 98% (C)
    assert classes == {"A-100": "AX", "B-200": "AX", "D-400": "BY", "C-300": "CZ"}
    cv = {r["sku"]: r["cv"] for r in pos.iter_rows(named=True)}
    assert cv["A-100"] == pytest.approx(0.0)
    assert cv["B-200"] == pytest.approx(10 / 30)
    assert cv["D-400"] == pytest.approx(1.0)
    assert cv["C-300"] == pytest.approx(3**0.5)
    assert row(pos, "A-100", "CD-RDC")["annual_value"] == pytest.approx(1000.0)


def test_a_dc_without_demand_is_classed_by_the_network_demand_of_each_sku(network):
    # Customer demand at the regional DCs only: A-100 steady, B-200 lumpy.
    add_demand(
        network,
        [("A-100", "CD-RDC", day(-27), 0)]
        + [("A-100", loc, day(-7 * w - 3), 50) for w in range(4) for loc in ("CD-RDC", "CQ-RDC")]
        + [("B-200", "CD-RDC", day(-3), 10)],
    )
    post(
        network,
        mv("R1", -20, "A-100", "SH-CDC", "receipt", 100),
        mv("R2", -20, "B-200", "SH-CDC", "receipt", 100),
    )
    pos = position.stock_position(network, as_of=AS_OF)
    a = row(pos, "A-100", "SH-CDC")
    b = row(pos, "B-200", "SH-CDC")
    assert a["demand_source"] == "outbound"
    assert a["annual_quantity"] == 400  # 4 weeks x 50 at two regional DCs
    assert (a["abc"], a["xyz"], a["cv"]) == ("A", "X", 0.0)
    assert b["annual_quantity"] == 10
    assert (b["abc"], b["xyz"]) == ("C", "Z")  # 40 of 1040 in value, one week in four


def test_without_any_demand_history_classes_come_from_outbound_movements(network):
    post(
        network,
        mv("R1", -40, "A-100", "CD-RDC", "receipt", 500),
        *[mv(f"S{w}", -7 * w - 3, "A-100", "CD-RDC", "sale", 20) for w in range(4)],
        mv("R2", -40, "B-200", "CD-RDC", "receipt", 500),
        mv("S9", -3, "B-200", "CD-RDC", "sale", 1),
    )
    pos = position.stock_position(network, as_of=AS_OF)
    a = row(pos, "A-100", "CD-RDC")
    assert a["demand_source"] == "outbound"
    assert a["annual_quantity"] == 80
    assert a["avg_daily_demand"] == pytest.approx(80 / 28)
    assert (a["abc"], a["xyz"]) == ("A", "X")
    assert row(pos, "B-200", "CD-RDC")["abc"] == "C"  # 4.0 of 204.0 in value


# -- one SKU ---------------------------------------------------------------------------------
def test_sku_network_lists_every_location_and_refuses_an_unknown_sku(network):
    post(network, mv("R1", -3, "A-100", "CD-RDC", "receipt", 10))
    add_purchase_orders(network, [("PO-9", "A-100", "CQ-RDC", 40, day(-2), day(5), "open")])
    net = position.sku_network(network, "A-100", as_of=AS_OF)
    assert net["location"].to_list() == ["CD-RDC", "CQ-RDC", "SH-CDC"]
    assert dict(net.select("location", "on_hand").iter_rows()) == {
        "CD-RDC": 10,
        "CQ-RDC": 0,
        "SH-CDC": 0,
    }
    assert dict(net.select("location", "on_order").iter_rows())["CQ-RDC"] == 40
    assert net.filter(pl.col("location") == "SH-CDC")["status"].item() == "no_stock"
    with pytest.raises(NotFoundError):
        position.sku_network(network, "NOPE-1")


def test_inbound_lists_open_po_lines_and_transfers_in_transit_with_days_late(network):
    post(network, mv("R1", -20, "A-100", "SH-CDC", "receipt", 100))
    add_purchase_orders(
        network,
        [
            ("PO-1", "A-100", "CD-RDC", 100, day(-30), day(-4), "open"),
            ("PO-2", "B-200", "CD-RDC", 10, day(-30), day(3), "open"),
        ],
    )
    post(network, mv("G1", -10, "A-100", "CD-RDC", "receipt", 60, reference="PO-1"))
    ledger.dispatch_transfer(
        network, "T1", "A-100", "SH-CDC", "CQ-RDC", 30, ship_date=at(-3), expected_date=day(-1)
    )
    got = position.inbound(network, as_of=AS_OF)
    summary = {
        (r["kind"], r["reference"]): (r["remaining"], r["days_late"], r["to_location"])
        for r in got.iter_rows(named=True)
    }
    assert summary == {
        ("purchase_order", "PO-1"): (40, 4, "CD-RDC"),
        ("purchase_order", "PO-2"): (10, 0, "CD-RDC"),
        ("transfer", "T1"): (30, 1, "CQ-RDC"),
    }
    sources = dict(got.select("reference", "from_location").iter_rows())
    assert sources == {"PO-1": "SUP1", "PO-2": "SUP1", "T1": "SH-CDC"}  # SUP1 has no site
    assert position.inbound(network, as_of=AS_OF, sku="B-200")["reference"].to_list() == ["PO-2"]
    assert position.inbound(network, as_of=AS_OF, location="CQ-RDC")["reference"].to_list() == [
        "T1"
    ]


def test_ledger_history_runs_on_hand_per_location_from_the_opening_balance(network):
    post(
        network,
        mv("R1", -10, "A-100", "CD-RDC", "receipt", 10),
        mv("S1", -5, "A-100", "CD-RDC", "sale", 3, hour=9),
        mv("S2", -5, "A-100", "CD-RDC", "sale", 2, hour=15),
        mv("R2", -5, "A-100", "CQ-RDC", "receipt", 7),
        mv("S3", -1, "A-100", "CD-RDC", "sale", 1),
    )
    daily = position.ledger_history(network, "A-100")
    cd = daily.filter(pl.col("location") == "CD-RDC")
    assert cd["date"].to_list() == [day(-10), day(-5), day(-1)]
    assert cd["on_hand"].to_list() == [10, 5, 4]
    assert cd["outbound"].to_list() == [0, 5, 1]
    started = position.ledger_history(network, "A-100", "CD-RDC", start=day(-4))
    assert started["on_hand"].to_list() == [4]  # the balance carries the earlier history
    raw = position.ledger_history(network, "A-100", "CD-RDC", raw=True)
    assert raw["on_hand"].to_list() == [10, 7, 5, 4]
    ended = position.ledger_history(network, "A-100", end=day(-5))
    assert ended.filter(pl.col("location") == "CD-RDC")["on_hand"].to_list() == [10, 5]
    with pytest.raises(NotFoundError):
        position.ledger_history(network, "NOPE-1")


def test_position_matches_a_plain_recomputation_on_the_demo(demo_db_path, tmp_path):
    pytest.importorskip("control_tower.ingest.demo")
    with Store(demo_db_path) as demo:
        pos = position.stock_position(demo)
        as_of = demo.as_of()
        cutoff = datetime.combine(as_of + timedelta(days=1), time())
        plain = demo.query(
            "SELECT sku, location, sum(quantity) AS on_hand, "
            "sum(quantity) FILTER (WHERE owner <> 'company') AS consigned "
            "FROM ledger WHERE ts < $cutoff GROUP BY ALL",
            {"cutoff": cutoff},
        )
        legs = demo.query(
            "SELECT reference, movement_type, location, sum(quantity) AS q FROM ledger "
            "WHERE movement_type IN ('transfer_out', 'transfer_in') AND ts < $cutoff GROUP BY ALL",
            {"cutoff": cutoff},
        )
        transfers = demo.query("SELECT transfer_id, sku, from_location, to_location FROM transfers")
    joined = plain.join(pos, on=["sku", "location"], how="left", suffix="_pos")
    assert joined.filter(pl.col("on_hand") != pl.col("on_hand_pos")).height == 0
    assert (joined["consigned"].fill_null(0) == joined["consigned_pos"]).all()

    # in transit, transfer by transfer in Python
    sums = {(r, m, loc): q for r, m, loc, q in legs.iter_rows()}
    expected_in: dict[tuple[str, str], int] = {}
    for tid, sku, src, dst in transfers.iter_rows():
        out = -sums.get((tid, "transfer_out", src), 0)
        back = sums.get((tid, "transfer_in", dst), 0)
        if out - back > 0:
            expected_in[(sku, dst)] = expected_in.get((sku, dst), 0) + out - back
    got_in = {
        (r["sku"], r["location"]): r["in_transit_in"]
        for r in pos.filter(pl.col("in_transit_in") > 0).iter_rows(named=True)
    }
    assert got_in == expected_in


def test_an_empty_store_reads_as_of_the_day_it_was_created_whatever_the_clock(tmp_path):
    import time_machine

    store = Store(tmp_path / "empty.duckdb")
    assert store.as_of() is None  # no movement and no demand: no data's today
    created = store.scalar("SELECT min(applied_at) FROM schema_version").date()
    assert store.created_on() == created
    for moment in (datetime(2031, 3, 11, 0, 30), datetime(2031, 7, 1, 23, 30)):
        with time_machine.travel(moment.timestamp(), tick=False):
            assert position.resolve_as_of(store, None) == created
            assert position.stock_position(store).height == 0
    store.close()
