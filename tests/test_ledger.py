"""Ledger invariants: on hand is the sum of movements, transfers conserve stock, replays are
no-ops, and stock never goes negative where a location does not allow it."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from control_tower import ledger
from control_tower.errors import DuplicateEventError, LedgerError, NegativeStockError, NotFoundError
from control_tower.ingest import ingest_frames
from control_tower.ledger import Movement, MovementType
from control_tower.store import Store
from tests.conftest import tiny_network_frames

LOCATIONS = ["SH-CDC", "CD-RDC", "CQ-RDC"]
SKUS = ["A-100", "B-200"]
T0 = datetime(2024, 1, 1, 8, 0)


def fresh_network(allow_negative_at: str | None = None) -> Store:
    frames = tiny_network_frames()
    if allow_negative_at:
        import polars as pl

        frames["locations"] = frames["locations"].with_columns(
            allow_negative=pl.col("code") == allow_negative_at
        )
    s = Store(":memory:")
    ingest_frames(s, frames, source="fixture")
    return s


def total_on_hand(s: Store) -> int:
    return int(s.scalar("SELECT coalesce(sum(quantity), 0) FROM ledger"))


def in_transit(s: Store) -> int:
    return int(
        s.scalar(
            "SELECT coalesce(-sum(quantity) FILTER (movement_type = 'transfer_out'), 0) "
            "- coalesce(sum(quantity) FILTER (movement_type = 'transfer_in'), 0) FROM ledger"
        )
    )


operation = st.one_of(
    st.tuples(
        st.just("receipt"), st.sampled_from(SKUS), st.sampled_from(LOCATIONS), st.integers(1, 50)
    ),
    st.tuples(
        st.just("sale"), st.sampled_from(SKUS), st.sampled_from(LOCATIONS), st.integers(1, 60)
    ),
    st.tuples(
        st.just("adjust"),
        st.sampled_from(SKUS),
        st.sampled_from(LOCATIONS),
        st.integers(-20, 20).filter(bool),
    ),
    st.tuples(
        st.just("move"),
        st.sampled_from(SKUS),
        st.sampled_from(LOCATIONS),
        st.integers(1, 40),
        st.sampled_from(LOCATIONS),
    ),
    st.tuples(st.just("replay"), st.integers(0, 1000)),
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(operation, min_size=1, max_size=25))
def test_on_hand_is_the_sum_of_accepted_movements(ops):
    s = fresh_network()
    expected: dict[tuple[str, str], int] = {}
    posted: list[Movement] = []
    for i, op in enumerate(ops):
        ts = T0 + timedelta(days=i)
        before = total_on_hand(s)
        if op[0] == "replay":
            if not posted:
                continue
            m = posted[op[1] % len(posted)]
            assert ledger.post(s, [m]) == ledger.PostResult(0, 1)
            assert total_on_hand(s) == before
            continue
        kind, sku, loc, qty = op[:4]
        if kind == "move":
            dest = op[4]
            if dest == loc:
                with pytest.raises(LedgerError):
                    ledger.move_stock(s, f"T{i}", sku, loc, dest, qty, when=ts)
                continue
            have = expected.get((sku, loc), 0)
            if qty > have:
                with pytest.raises(NegativeStockError):
                    ledger.move_stock(s, f"T{i}", sku, loc, dest, qty, when=ts)
                assert (
                    s.scalar("SELECT count(*) FROM transfers WHERE transfer_id = ?", [f"T{i}"]) == 0
                )
            else:
                ledger.move_stock(s, f"T{i}", sku, loc, dest, qty, when=ts)
                expected[(sku, loc)] = have - qty
                expected[(sku, dest)] = expected.get((sku, dest), 0) + qty
            # a transfer moves stock, it never makes or loses any
            assert total_on_hand(s) == before
            continue
        signed = {"receipt": qty, "sale": -qty, "adjust": qty}[kind]
        mtype = {
            "receipt": MovementType.RECEIPT,
            "sale": MovementType.SALE,
            "adjust": MovementType.ADJUSTMENT,
        }[kind]
        m = Movement(f"E{i}", ts, sku, loc, mtype, signed)
        new = expected.get((sku, loc), 0) + signed
        if new < 0:
            with pytest.raises(NegativeStockError):
                ledger.post(s, [m])
            assert total_on_hand(s) == before
        else:
            assert ledger.post(s, [m]) == ledger.PostResult(1, 0)
            expected[(sku, loc)] = new
            posted.append(m)
    assert s.scalar("SELECT count(*) - count(DISTINCT event_id) FROM ledger") == 0
    for sku in SKUS:
        for loc in LOCATIONS:
            assert ledger.on_hand(s, sku, loc) == expected.get((sku, loc), 0)
            assert ledger.on_hand(s, sku, loc) >= 0


@settings(max_examples=25, deadline=None)
@given(st.lists(st.tuples(st.integers(1, 30), st.booleans()), min_size=1, max_size=10))
def test_dispatch_and_receive_conserve_stock_including_in_transit(transfers):
    s = fresh_network()
    ledger.post(s, [Movement("R0", T0, "A-100", "SH-CDC", MovementType.RECEIPT, 1000)])
    for i, (qty, receive) in enumerate(transfers):
        ledger.dispatch_transfer(
            s,
            f"T{i}",
            "A-100",
            "SH-CDC",
            "CD-RDC",
            qty,
            ship_date=date(2024, 1, 2 + i),
            expected_date=date(2024, 1, 9 + i),
        )
        if receive:
            ledger.receive_transfer(s, f"T{i}", received=date(2024, 1, 5 + i))
        assert total_on_hand(s) + in_transit(s) == 1000
    shipped_not_received = sum(q for q, r in transfers if not r)
    assert in_transit(s) == shipped_not_received
    assert ledger.on_hand(s, "A-100", "CD-RDC") == sum(q for q, r in transfers if r)


def test_replaying_a_posting_is_a_no_op(network):
    batch = [
        Movement("R1", T0, "A-100", "CD-RDC", MovementType.RECEIPT, 10),
        Movement("S1", T0 + timedelta(hours=1), "A-100", "CD-RDC", MovementType.SALE, -4),
    ]
    assert ledger.post(network, batch) == ledger.PostResult(2, 0)
    assert ledger.post(network, batch) == ledger.PostResult(0, 2)
    assert ledger.on_hand(network, "A-100", "CD-RDC") == 6


def test_an_event_id_reused_for_a_different_movement_is_refused(network):
    ledger.post(network, [Movement("R1", T0, "A-100", "CD-RDC", MovementType.RECEIPT, 10)])
    with pytest.raises(DuplicateEventError, match="R1"):
        ledger.post(network, [Movement("R1", T0, "A-100", "CD-RDC", MovementType.RECEIPT, 11)])
    assert ledger.on_hand(network, "A-100", "CD-RDC") == 10


def test_a_posting_is_all_or_nothing(network):
    good = Movement("R1", T0, "A-100", "CD-RDC", MovementType.RECEIPT, 10)
    bad = Movement("S1", T0, "B-200", "CD-RDC", MovementType.SALE, -1)
    with pytest.raises(NegativeStockError, match="B-200 at CD-RDC"):
        ledger.post(network, [good, bad])
    assert network.scalar("SELECT count(*) FROM ledger") == 0


def test_a_back_dated_sale_that_breaks_later_history_is_refused(network):
    ledger.post(
        network,
        [
            Movement("R1", T0, "A-100", "CD-RDC", MovementType.RECEIPT, 10),
            Movement("S1", T0 + timedelta(days=5), "A-100", "CD-RDC", MovementType.SALE, -8),
        ],
    )
    with pytest.raises(NegativeStockError):
        ledger.post(
            network,
            [Movement("S0", T0 + timedelta(days=1), "A-100", "CD-RDC", MovementType.SALE, -5)],
        )
    assert ledger.on_hand(network, "A-100", "CD-RDC") == 2


def test_a_location_that_allows_negative_stock_accepts_it():
    s = fresh_network(allow_negative_at="CQ-RDC")
    ledger.post(s, [Movement("S1", T0, "A-100", "CQ-RDC", MovementType.SALE, -3)])
    assert ledger.on_hand(s, "A-100", "CQ-RDC") == -3
    with pytest.raises(NegativeStockError):
        ledger.post(s, [Movement("S2", T0, "A-100", "CD-RDC", MovementType.SALE, -3)])


def test_supplier_owned_stock_is_kept_apart_from_ours(network):
    ledger.post(
        network, [Movement("V1", T0, "A-100", "CD-RDC", MovementType.RECEIPT, 5, owner="SUP1")]
    )
    assert ledger.on_hand(network, "A-100", "CD-RDC", owner="company") == 0
    assert ledger.on_hand(network, "A-100", "CD-RDC", owner="SUP1") == 5
    with pytest.raises(NegativeStockError, match="owned by SUP1"):
        ledger.post(
            network, [Movement("V3", T0, "A-100", "CD-RDC", MovementType.SALE, -6, owner="SUP1")]
        )


def test_unknown_sku_or_location_is_refused_clearly(network):
    with pytest.raises(NotFoundError, match="ZZZ"):
        ledger.post(network, [Movement("X", T0, "ZZZ", "CD-RDC", MovementType.RECEIPT, 1)])
    with pytest.raises(NotFoundError, match="NOWHERE"):
        ledger.post(network, [Movement("X", T0, "A-100", "NOWHERE", MovementType.RECEIPT, 1)])


def test_movement_direction_and_zero_are_checked():
    with pytest.raises(LedgerError, match="remove stock"):
        Movement("X", T0, "A-100", "CD-RDC", MovementType.SALE, 3)
    with pytest.raises(LedgerError, match="add stock"):
        Movement("X", T0, "A-100", "CD-RDC", MovementType.RECEIPT, -3)
    with pytest.raises(LedgerError, match="zero"):
        Movement("X", T0, "A-100", "CD-RDC", MovementType.ADJUSTMENT, 0)


def test_receiving_more_than_is_in_transit_is_refused(network):
    ledger.post(network, [Movement("R1", T0, "A-100", "SH-CDC", MovementType.RECEIPT, 10)])
    ledger.dispatch_transfer(
        network,
        "T1",
        "A-100",
        "SH-CDC",
        "CD-RDC",
        6,
        ship_date=date(2024, 1, 2),
        expected_date=date(2024, 1, 6),
    )
    with pytest.raises(LedgerError, match="6 unit"):
        ledger.receive_transfer(network, "T1", received=date(2024, 1, 6), quantity=7)
    ledger.receive_transfer(network, "T1", received=date(2024, 1, 6), quantity=2)
    ledger.receive_transfer(network, "T1", received=date(2024, 1, 7))
    assert ledger.on_hand(network, "A-100", "CD-RDC") == 6
    assert network.scalar("SELECT status FROM transfers WHERE transfer_id = 'T1'") == "received"
    with pytest.raises(LedgerError, match="received"):
        ledger.receive_transfer(network, "T1", received=date(2024, 1, 8))


def test_an_old_negative_balance_does_not_lock_the_sku_but_cannot_deepen():
    import polars as pl

    s = fresh_network(allow_negative_at="CD-RDC")
    ledger.post(s, [Movement("S1", T0, "A-100", "CD-RDC", MovementType.SALE, -5)])
    frames = tiny_network_frames()
    ingest_frames(s, {"locations": frames["locations"].with_columns(allow_negative=pl.lit(False))})
    ledger.post(
        s, [Movement("R1", T0 + timedelta(days=1), "A-100", "CD-RDC", MovementType.RECEIPT, 100)]
    )
    assert ledger.on_hand(s, "A-100", "CD-RDC") == 95
    with pytest.raises(NegativeStockError):  # back-dated before the receipt: deeper below zero
        ledger.post(
            s, [Movement("S0", T0 + timedelta(hours=1), "A-100", "CD-RDC", MovementType.SALE, -1)]
        )


def test_a_leg_that_disagrees_with_its_transfer_is_refused(network):
    ledger.post(network, [Movement("R1", T0, "A-100", "SH-CDC", MovementType.RECEIPT, 10)])
    ledger.dispatch_transfer(
        network,
        "T1",
        "A-100",
        "SH-CDC",
        "CD-RDC",
        6,
        ship_date=date(2024, 1, 2),
        expected_date=date(2024, 1, 6),
    )
    with pytest.raises(LedgerError, match="to_location"):
        ledger.post(
            network,
            [
                Movement(
                    "X",
                    T0 + timedelta(days=3),
                    "A-100",
                    "CQ-RDC",
                    MovementType.TRANSFER_IN,
                    6,
                    reference="T1",
                )
            ],
        )
    with pytest.raises(LedgerError, match="does not exist"):
        ledger.post(
            network,
            [
                Movement(
                    "Y",
                    T0 + timedelta(days=3),
                    "A-100",
                    "CQ-RDC",
                    MovementType.TRANSFER_IN,
                    6,
                    reference="NOPE",
                )
            ],
        )
    assert ledger.on_hand(network, "A-100", "CQ-RDC") == 0
