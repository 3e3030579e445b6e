"""VMI consignment: ownership passes on consumption in the same transaction as the
consumption, with a payable line; owned and consigned stock; levels; settlement statements
reconciled against what the supplier reports."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from control_tower import exceptions, ledger, vmi
from control_tower.actions import Actor
from control_tower.collab import CollabError, SupplierAccessError
from control_tower.config import Settings
from control_tower.errors import ImportValidationError, LedgerError, NegativeStockError
from control_tower.ingest import ingest_frames
from control_tower.ledger import Movement
from control_tower.ledger import MovementType as T
from control_tower.store import Store

PLANNER = Actor("li.planner", "planner")
JNB = Actor("wang.jnb", "supplier", "SUP-JNB")
OTHER = Actor("chen.mnf", "supplier", "SUP-MNF")
DAY0 = datetime(2026, 3, 2, 8)
PRICES = {"A": Decimal("2.5"), "B": Decimal("4.0")}


def vmi_frames() -> dict[str, pl.DataFrame]:
    """A central DC, a VMI site beside it, two beverages consigned by SUP-JNB, one snack of
    SUP-MNF (not consigned)."""
    return {
        "locations": pl.DataFrame(
            {
                "code": ["CDC", "VMI", "SUP-JNB-SITE"],
                "name": ["中心仓", "VMI仓", "江南工厂"],
                "kind": ["central_dc", "vmi", "supplier"],
            }
        ),
        "products": pl.DataFrame(
            {"sku": ["A", "B", "S"], "name": ["绿茶", "果汁", "米饼"], "unit_cost": [2.0, 3.0, 1.0]}
        ),
        "suppliers": pl.DataFrame(
            {
                "code": ["SUP-JNB", "SUP-MNF"],
                "name": ["Jiangnan", "Minnan"],
                "vmi": [True, False],
                "location": ["SUP-JNB-SITE", None],
            }
        ),
        "supplier_products": pl.DataFrame(
            {
                "supplier": ["SUP-JNB", "SUP-JNB", "SUP-MNF"],
                "sku": ["A", "B", "S"],
                "lead_time_mean_days": [3.0, 3.0, 10.0],
                "price": [2.5, 4.0, 1.2],
                "pack_size": [6, 6, 1],
            }
        ),
        "lanes": pl.DataFrame(
            {
                "from_location": ["VMI", "SUP-JNB-SITE"],
                "to_location": ["CDC", "VMI"],
                "transit_days": [0, 1],
                "cost_per_unit": [0.05, 0.1],
            }
        ),
    }


@pytest.fixture
def vmi_store(store: Store) -> Store:
    ingest_frames(store, vmi_frames(), source="fixture")
    return store


def receive(store: Store, event: str, sku: str, qty: int, at: datetime = DAY0) -> None:
    ledger.post(store, [Movement(event, at, sku, "VMI", T.RECEIPT, qty, "SUP-JNB", "CO-1")])


def test_a_sale_at_a_vmi_site_passes_ownership_and_creates_a_payable(vmi_store: Store) -> None:
    receive(vmi_store, "r1", "A", 100)
    ledger.post(vmi_store, [Movement("s1", DAY0 + timedelta(hours=5), "A", "VMI", T.SALE, -30)])
    rows = vmi_store.query(
        "SELECT event_id, movement_type, quantity, owner FROM ledger WHERE event_id LIKE 's1%' "
        "ORDER BY event_id"
    )
    assert rows.rows() == [
        ("s1", "sale", -30, "company"),
        ("s1:ours:SUP-JNB", "consignment_consume", 30, "company"),
        ("s1:own:SUP-JNB", "consignment_consume", -30, "SUP-JNB"),
    ]
    own = vmi.ownership(vmi_store).row(0, named=True)
    assert (own["physical"], own["owned"], own["consigned"]) == (70, 0, 70)
    pay = vmi_store.query("SELECT * FROM payables").row(0, named=True)
    assert pay["event_id"] == "s1:own:SUP-JNB" and pay["supplier"] == "SUP-JNB"
    assert pay["quantity"] == 30 and pay["amount"] == Decimal("75.0000")
    assert pay["price_source"] == "supplier price"
    # a replay of the same sale is a no-op: no second ownership pass, no second payable
    result = ledger.post(
        vmi_store, [Movement("s1", DAY0 + timedelta(hours=5), "A", "VMI", T.SALE, -30)]
    )
    assert result.written == 0
    assert vmi_store.scalar("SELECT count(*) FROM payables") == 1


def test_consuming_more_than_the_supplier_holds_writes_nothing(vmi_store: Store) -> None:
    receive(vmi_store, "r1", "A", 10)
    with pytest.raises(NegativeStockError, match="owned by SUP-JNB"):
        ledger.post(vmi_store, [Movement("s1", DAY0 + timedelta(hours=1), "A", "VMI", T.SALE, -11)])
    assert vmi_store.scalar("SELECT count(*) FROM ledger") == 1
    assert vmi_store.scalar("SELECT count(*) FROM payables") == 0


def test_a_transfer_out_of_the_vmi_site_arrives_as_ours(vmi_store: Store) -> None:
    receive(vmi_store, "r1", "B", 50)
    ledger.move_stock(
        vmi_store, "T1", "B", "VMI", "CDC", 20, when=DAY0 + timedelta(hours=2), owner="SUP-JNB"
    )
    own = {r["location"]: r for r in vmi.ownership(vmi_store).iter_rows(named=True)}
    assert (own["VMI"]["owned"], own["VMI"]["consigned"]) == (0, 30)
    assert (own["CDC"]["owned"], own["CDC"]["consigned"]) == (20, 0)
    assert vmi_store.scalar("SELECT sum(quantity) FROM payables WHERE sku = 'B'") == 20


def test_a_consignment_consume_posting_must_be_signed_by_its_owner() -> None:
    with pytest.raises(LedgerError, match="consignment_consume"):
        Movement("x", DAY0, "A", "VMI", T.CONSIGNMENT_CONSUME, 5, "SUP-JNB")
    with pytest.raises(LedgerError, match="consignment_consume"):
        Movement("x", DAY0, "A", "VMI", T.CONSIGNMENT_CONSUME, -5, "company")


def test_an_imported_sale_at_the_vmi_site_passes_ownership_and_is_checked(vmi_store: Store) -> None:
    receive(vmi_store, "r1", "A", 40)
    sales = pl.DataFrame(
        {
            "event_id": ["f1", "f2"],
            "ts": ["2026-03-03 10:00:00", "2026-03-03 11:00:00"],
            "sku": ["A", "A"],
            "location": ["VMI", "VMI"],
            "movement_type": ["sale", "sale"],
            "quantity": ["15", "30"],
        }
    )
    with pytest.raises(ImportValidationError, match="owned by SUP-JNB"):
        ingest_frames(vmi_store, {"ledger": sales}, source="pos.csv")
    assert vmi_store.scalar("SELECT count(*) FROM ledger") == 1
    assert vmi_store.scalar("SELECT count(*) FROM payables") == 0
    result = ingest_frames(vmi_store, {"ledger": sales.head(1)}, source="pos.csv")["ledger"]
    assert (result.rows_read, result.rows_written) == (1, 1)  # the file's row, not its pair
    assert vmi_store.scalar("SELECT sum(quantity) FROM payables") == 15
    assert vmi.ownership(vmi_store).row(0, named=True)["consigned"] == 25


OPS = st.lists(
    st.tuples(
        st.sampled_from(["receive", "sell_vmi", "call_off", "sell_dc", "issue_vmi", "replay"]),
        st.sampled_from(["A", "B"]),
        st.integers(min_value=1, max_value=60),
    ),
    min_size=1,
    max_size=14,
)


@settings(
    max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(ops=OPS)
def test_owned_plus_consigned_is_the_physical_stock_at_every_step(tmp_path_factory, ops) -> None:
    """Whatever happens, and whether each posting is taken or refused: the physical stock
    per site is what the operations taken imply; what we own plus what the supplier owns is
    that physical stock, neither is negative; every unit that left the supplier's ownership
    is on a payable line, at the supplier's price; a replayed posting changes nothing."""
    path = tmp_path_factory.mktemp("vmi") / "h.duckdb"
    with Store(path) as store:
        ingest_frames(store, vmi_frames(), source="fixture")
        physical = {("A", "VMI"): 0, ("B", "VMI"): 0, ("A", "CDC"): 0, ("B", "CDC"): 0}
        consigned = {"A": 0, "B": 0}
        received = {"A": 0, "B": 0}
        posted: list[list[Movement]] = []  # postings taken, to replay
        for step, (op, sku, qty) in enumerate(ops):
            at = DAY0 + timedelta(hours=step)
            try:
                if op == "replay":  # an earlier posting again: nothing may change
                    if posted:
                        again = posted[qty % len(posted)]
                        assert ledger.post(store, again).written == 0
                elif op == "receive":
                    receive(store, f"r{step}", sku, qty, at)
                    physical[(sku, "VMI")] += qty
                    consigned[sku] += qty
                    received[sku] += qty
                elif op in ("sell_vmi", "issue_vmi"):
                    kind = T.SALE if op == "sell_vmi" else T.ISSUE
                    sale = [Movement(f"s{step}", at, sku, "VMI", kind, -qty)]
                    ledger.post(store, sale)
                    posted.append(sale)
                    physical[(sku, "VMI")] -= qty
                    consigned[sku] -= qty
                elif op == "call_off":
                    ledger.move_stock(store, f"T{step}", sku, "VMI", "CDC", qty, when=at)
                    physical[(sku, "VMI")] -= qty
                    physical[(sku, "CDC")] += qty
                    consigned[sku] -= qty
                else:
                    sale = [Movement(f"d{step}", at, sku, "CDC", T.SALE, -qty)]
                    ledger.post(store, sale)
                    posted.append(sale)
                    physical[(sku, "CDC")] -= qty
            except NegativeStockError:
                pass  # refused: nothing of it may have been written (checked below)
            seen = {
                (r["sku"], r["location"]): r for r in vmi.ownership(store).iter_rows(named=True)
            }
            for key, units in physical.items():
                row = seen.get(key, {"physical": 0, "owned": 0, "consigned": 0})
                assert row["physical"] == units
                assert row["owned"] + row["consigned"] == row["physical"]
                assert row["owned"] >= 0 and row["consigned"] >= 0
                expected_consigned = consigned[key[0]] if key[1] == "VMI" else 0
                assert row["consigned"] == expected_consigned
            paid = dict(store.rows("SELECT sku, sum(quantity) FROM payables GROUP BY sku"))
            for s in ("A", "B"):
                assert int(paid.get(s, 0)) == received[s] - consigned[s]
            assert (
                store.scalar("SELECT count(*) FROM payables WHERE amount <> quantity * unit_price")
                == 0
            )


# -- levels --------------------------------------------------------------------------------------
def test_levels_are_set_audited_and_checked(vmi_store: Store) -> None:
    receive(vmi_store, "r1", "A", 5)
    vmi.set_level(vmi_store, PLANNER, "SUP-JNB", "A", "VMI", 10, 60, "contract")
    vmi.set_level(vmi_store, JNB, "SUP-JNB", "A", "VMI", 12, 72, "new packaging line")
    row = vmi.levels(vmi_store).row(0, named=True)
    assert (row["min_qty"], row["max_qty"], row["consigned"], row["status"]) == (
        12,
        72,
        5,
        "below min",
    )
    trail = vmi.level_history(vmi_store, JNB, "SUP-JNB")
    assert trail["actor"].to_list() == ["wang.jnb", "li.planner"]
    assert trail.row(0, named=True)["min_before"] == 10
    with pytest.raises(CollabError, match="reason"):
        vmi.set_level(vmi_store, JNB, "SUP-JNB", "A", "VMI", 1, 5, " ")
    with pytest.raises(CollabError, match="max"):
        vmi.set_level(vmi_store, JNB, "SUP-JNB", "A", "VMI", 10, 5, "oops")
    with pytest.raises(CollabError, match="VMI sites"):
        vmi.set_level(vmi_store, PLANNER, "SUP-JNB", "A", "CDC", 1, 5, "wrong site")
    with pytest.raises(SupplierAccessError):
        vmi.set_level(vmi_store, OTHER, "SUP-JNB", "A", "VMI", 0, 1, "not mine")
    with pytest.raises(SupplierAccessError):
        vmi.set_level(vmi_store, Actor("v", "viewer"), "SUP-JNB", "A", "VMI", 0, 1, "viewer")
    assert vmi_store.scalar("SELECT count(*) FROM vmi_level_events") == 2


# -- settlement ----------------------------------------------------------------------------------
def _consume(store: Store) -> None:
    receive(store, "r1", "A", 200, datetime(2026, 2, 20))
    receive(store, "r2", "B", 100, datetime(2026, 2, 20))
    for day, sku, qty in ((1, "A", 30), (5, "A", 12), (9, "B", 40), (28, "A", 7)):
        ledger.post(
            store, [Movement(f"s{day}", datetime(2026, 3, day, 18), sku, "VMI", T.SALE, -qty)]
        )
    ledger.post(store, [Movement("s-apr", datetime(2026, 4, 2, 18), "A", "VMI", T.SALE, -5)])
    # the data's today: after the period
    ledger.post(store, [Movement("r-today", datetime(2026, 4, 10), "S", "CDC", T.RECEIPT, 1)])


def test_a_statement_totals_consumed_quantity_times_price(vmi_store: Store) -> None:
    _consume(vmi_store)
    statement = vmi.issue_statement(
        vmi_store, PLANNER, "SUP-JNB", date(2026, 3, 1), date(2026, 3, 31)
    )
    head = vmi.statements(vmi_store, JNB, "SUP-JNB").row(0, named=True)
    assert head["statement_id"] == statement
    assert head["quantity"] == 30 + 12 + 40 + 7
    assert head["amount"] == pytest.approx(49 * 2.5 + 40 * 4.0)
    lines = {
        r["sku"]: r
        for r in vmi.statement_lines(vmi_store, JNB, "SUP-JNB", statement).iter_rows(named=True)
    }
    assert lines["A"]["quantity"] == 49 and lines["A"]["amount"] == pytest.approx(122.5)
    assert lines["B"]["quantity"] == 40 and lines["B"]["amount"] == pytest.approx(160.0)
    assert all(r["status"] == "not reported" for r in lines.values())
    # the period is claimed: nothing left to settle in it; April's consumption still open
    with pytest.raises(CollabError, match="no consumption to settle"):
        vmi.issue_statement(vmi_store, PLANNER, "SUP-JNB", date(2026, 3, 1), date(2026, 3, 31))
    open_lines = vmi.payables(vmi_store, JNB, "SUP-JNB", unsettled_only=True)
    assert open_lines["quantity"].to_list() == [5]
    with pytest.raises(CollabError, match="after the data's today"):
        vmi.issue_statement(vmi_store, PLANNER, "SUP-JNB", date(2026, 4, 1), date(2026, 4, 30))
    with pytest.raises(CollabError, match="staff"):
        vmi.issue_statement(vmi_store, JNB, "SUP-JNB", date(2026, 4, 1), date(2026, 4, 5))


def test_reported_consumption_is_reconciled_and_differences_are_exceptions(
    vmi_store: Store,
) -> None:
    _consume(vmi_store)
    statement = vmi.issue_statement(
        vmi_store, PLANNER, "SUP-JNB", date(2026, 3, 1), date(2026, 3, 31)
    )
    counted = pl.DataFrame({"sku": ["A", "B"], "quantity": ["49", "43"]})
    vmi.record_consumption(vmi_store, JNB, "SUP-JNB", date(2026, 3, 1), date(2026, 3, 31), counted)
    lines = {
        r["sku"]: r
        for r in vmi.statement_lines(vmi_store, JNB, "SUP-JNB", statement).iter_rows(named=True)
    }
    assert (lines["A"]["difference"], lines["A"]["status"]) == (0, "agrees")
    assert (lines["B"]["difference"], lines["B"]["status"]) == (3, "differs")
    run = exceptions.detect(vmi_store, Settings())
    found = run.items.filter(pl.col("rule") == "settlement_difference")
    assert found["sku"].to_list() == ["B"]
    assert found["reference"].to_list() == [f"ST-{statement}"]
    assert found["value_at_risk"][0] == pytest.approx(3 * 4.0)
    # within the tolerance: no exception
    lenient = Settings()
    lenient.suppliers.settlement_tolerance = 3
    assert (
        exceptions.detect(vmi_store, lenient)
        .items.filter(pl.col("rule") == "settlement_difference")
        .height
        == 0
    )
    # a corrected report replaces the first one
    vmi.record_consumption(
        vmi_store,
        JNB,
        "SUP-JNB",
        date(2026, 3, 1),
        date(2026, 3, 31),
        pl.DataFrame({"sku": ["A", "B"], "quantity": ["49", "40"]}),
    )
    assert set(vmi.statement_lines(vmi_store, JNB, "SUP-JNB", statement)["status"]) == {"agrees"}


def test_a_bad_consumption_report_records_nothing(vmi_store: Store) -> None:
    _consume(vmi_store)
    bad = [
        pl.DataFrame({"sku": ["A", "S"], "quantity": ["1", "2"]}),  # S is not theirs
        pl.DataFrame({"sku": ["A"], "quantity": ["-4"]}),
        pl.DataFrame({"sku": ["A", "A"], "quantity": ["1", "2"]}),
        pl.DataFrame({"sku": ["A"], "quantity": ["1"], "price": ["9"]}),
    ]
    for frame in bad:
        with pytest.raises(ImportValidationError):
            vmi.record_consumption(
                vmi_store, JNB, "SUP-JNB", date(2026, 3, 1), date(2026, 3, 31), frame
            )
    with pytest.raises(SupplierAccessError):
        vmi.record_consumption(
            vmi_store,
            OTHER,
            "SUP-JNB",
            date(2026, 3, 1),
            date(2026, 3, 31),
            pl.DataFrame({"sku": ["A"], "quantity": ["1"]}),
        )
    assert vmi_store.scalar("SELECT count(*) FROM supplier_consumption_reports") == 0
    assert vmi_store.scalar("SELECT count(*) FROM supplier_consumption") == 0


def test_a_supplier_reads_only_its_own_settlement(vmi_store: Store) -> None:
    _consume(vmi_store)
    statement = vmi.issue_statement(
        vmi_store, PLANNER, "SUP-JNB", date(2026, 3, 1), date(2026, 3, 31)
    )
    for read in (
        lambda a: vmi.statements(vmi_store, a, "SUP-JNB"),
        lambda a: vmi.statement_lines(vmi_store, a, "SUP-JNB", statement),
        lambda a: vmi.payables(vmi_store, a, "SUP-JNB"),
        lambda a: vmi.own_levels(vmi_store, a, "SUP-JNB"),
        lambda a: vmi.level_history(vmi_store, a, "SUP-JNB"),
    ):
        with pytest.raises(SupplierAccessError):
            read(OTHER)
        with pytest.raises(SupplierAccessError):
            read(None)
        read(JNB)
        read(PLANNER)
    # asking for SUP-JNB's statement as SUP-MNF's own is not found, not shown
    with pytest.raises(Exception, match="no statement"):
        vmi.statement_lines(vmi_store, OTHER, "SUP-MNF", statement)


def test_stock_we_own_at_a_vmi_site_is_sold_as_ours(vmi_store: Store) -> None:
    """A file that never said who owns what put company stock at the VMI site: its sales take
    that stock, pass no ownership and owe nothing."""
    ledger.post(vmi_store, [Movement("r0", DAY0, "A", "VMI", T.RECEIPT, 20)])
    ledger.post(vmi_store, [Movement("s0", DAY0 + timedelta(hours=1), "A", "VMI", T.SALE, -8)])
    own = vmi.ownership(vmi_store).row(0, named=True)
    assert (own["owned"], own["consigned"]) == (12, 0)
    assert vmi_store.scalar("SELECT count(*) FROM payables") == 0


def test_a_consumption_takes_our_stock_first_then_the_suppliers(vmi_store: Store) -> None:
    receive(vmi_store, "r1", "A", 100)
    ledger.post(vmi_store, [Movement("ours", DAY0, "A", "VMI", T.RECEIPT, 2)])  # a file's own
    ledger.post(vmi_store, [Movement("s1", DAY0 + timedelta(hours=1), "A", "VMI", T.SALE, -5)])
    own = vmi.ownership(vmi_store).row(0, named=True)
    assert (own["physical"], own["owned"], own["consigned"]) == (97, 0, 97)
    assert vmi_store.query("SELECT event_id, quantity FROM payables").rows() == [
        ("s1:own:SUP-JNB", 3)
    ]


def test_a_replay_passes_what_it_passed_the_first_time(vmi_store: Store) -> None:
    """A sale first posted from stock we owned is replayed after that stock is gone: still a
    no-op, no ownership passed, nothing owed (and the same for a replay after a pass)."""
    receive(vmi_store, "r1", "A", 10)
    ledger.post(vmi_store, [Movement("ours", DAY0, "A", "VMI", T.RECEIPT, 5)])
    sale = Movement("s1", DAY0 + timedelta(hours=1), "A", "VMI", T.SALE, -5)
    assert ledger.post(vmi_store, [sale]).written == 1  # ours: nothing passes
    ledger.post(vmi_store, [Movement("s2", DAY0 + timedelta(hours=2), "A", "VMI", T.SALE, -4)])
    before = vmi_store.query("SELECT * FROM ledger ORDER BY event_id")
    for again in ([sale], [Movement("s2", DAY0 + timedelta(hours=2), "A", "VMI", T.SALE, -4)]):
        result = ledger.post(vmi_store, again)
        assert result.written == 0
    assert vmi_store.query("SELECT * FROM ledger ORDER BY event_id").equals(before)
    assert vmi_store.query("SELECT event_id, quantity FROM payables").rows() == [
        ("s2:own:SUP-JNB", 4)
    ]
    own = vmi.ownership(vmi_store).row(0, named=True)
    assert (own["owned"], own["consigned"]) == (0, 6)


def test_an_imported_batch_splits_in_time_order(vmi_store: Store) -> None:
    """A file with a receipt of ours and two sales at the VMI site: the first sale takes ours,
    the second the supplier's; a re-import of the same file changes nothing."""
    receive(vmi_store, "r1", "A", 50)
    rows = pl.DataFrame(
        {
            "event_id": ["in1", "f1", "f2"],
            "ts": ["2026-03-03 07:00:00", "2026-03-03 10:00:00", "2026-03-03 11:00:00"],
            "sku": ["A", "A", "A"],
            "location": ["VMI", "VMI", "VMI"],
            "movement_type": ["receipt", "sale", "sale"],
            "quantity": ["8", "6", "6"],
        }
    )
    ingest_frames(vmi_store, {"ledger": rows}, source="pos.csv")
    ingest_frames(vmi_store, {"ledger": rows}, source="pos.csv")
    assert vmi_store.query("SELECT event_id, quantity FROM payables ORDER BY event_id").rows() == [
        ("f2:own:SUP-JNB", 4)
    ]
    own = vmi.ownership(vmi_store).row(0, named=True)
    assert (own["physical"], own["owned"], own["consigned"]) == (46, 0, 46)


def test_nobody_takes_over_another_suppliers_vmi_stock(vmi_store: Store) -> None:
    """Only a VMI supplier has levels; a supplier adjusts the levels agreed with it, never
    agrees new ones; while a supplier holds consigned stock there, nobody else gets levels."""
    with vmi_store.transaction() as cur:
        cur.execute(
            "INSERT INTO supplier_products (supplier, sku, lead_time_mean_days, price) "
            "VALUES ('SUP-MNF', 'A', 9, 1.0)"
        )
        cur.execute(
            "INSERT INTO suppliers (code, name, vmi) VALUES ('SUP-VX', 'Another VMI', true)"
        )
        cur.execute(
            "INSERT INTO supplier_products (supplier, sku, lead_time_mean_days, price) "
            "VALUES ('SUP-VX', 'A', 4, 2.0)"
        )
    receive(vmi_store, "r1", "A", 100)
    with pytest.raises(CollabError, match="not a VMI supplier"):
        vmi.set_level(vmi_store, PLANNER, "SUP-MNF", "A", "VMI", 0, 10, "they hold it now")
    with pytest.raises(CollabError, match="agrees them first"):
        vmi.set_level(vmi_store, JNB, "SUP-JNB", "B", "VMI", 0, 10, "my own idea")
    with pytest.raises(CollabError, match="SUP-JNB holds consigned stock"):
        vmi.set_level(vmi_store, PLANNER, "SUP-VX", "A", "VMI", 0, 10, "new consignor")
    assert vmi_store.scalar("SELECT count(*) FROM vmi_levels") == 0
    # our sale still takes SUP-JNB's stock, and owes SUP-JNB
    ledger.post(vmi_store, [Movement("s1", DAY0 + timedelta(hours=1), "A", "VMI", T.SALE, -10)])
    assert vmi_store.query("SELECT supplier, quantity FROM payables").rows() == [("SUP-JNB", 10)]


def test_a_late_statement_of_a_period_is_reconciled_with_the_first(vmi_store: Store) -> None:
    """Consumption posted after its period was settled goes on a second statement of that
    period; the supplier's count for the period is compared with both together."""
    _consume(vmi_store)
    first = vmi.issue_statement(vmi_store, PLANNER, "SUP-JNB", date(2026, 3, 1), date(2026, 3, 31))
    late = Movement("late", datetime(2026, 3, 30, 18), "B", "VMI", T.SALE, -5)
    ledger.post(vmi_store, [late])
    second = vmi.issue_statement(vmi_store, PLANNER, "SUP-JNB", date(2026, 3, 1), date(2026, 3, 31))
    vmi.record_consumption(
        vmi_store,
        JNB,
        "SUP-JNB",
        date(2026, 3, 1),
        date(2026, 3, 31),
        pl.DataFrame({"sku": ["A", "B"], "quantity": ["49", "45"]}),
    )
    rec = vmi.reconciliation(vmi_store)
    assert set(rec["status"]) == {"agrees"}
    assert rec["statement_ids"].to_list() == [[first, second], [first, second]]
    heads = vmi.statements(vmi_store, JNB, "SUP-JNB")
    assert heads["statement_id"].to_list() == [second, first]
    assert heads["quantity"].to_list() == [5, 89] and heads["differing_lines"].to_list() == [0, 0]
    assert (
        exceptions.detect(vmi_store, Settings())
        .items.filter(pl.col("rule") == "settlement_difference")
        .height
        == 0
    )


def test_an_event_id_holding_own_replays_cleanly(vmi_store: Store) -> None:
    receive(vmi_store, "r1", "A", 100)
    sale = [Movement("POS:owner-7", DAY0 + timedelta(hours=1), "A", "VMI", T.SALE, -30)]
    assert ledger.post(vmi_store, sale).written == 1  # the sale; its ownership rows besides
    before = vmi_store.query("SELECT * FROM ledger ORDER BY event_id")
    assert ledger.post(vmi_store, sale).written == 0
    assert vmi_store.query("SELECT * FROM ledger ORDER BY event_id").equals(before)


def test_a_late_arriving_sale_takes_what_was_there_at_its_time(vmi_store: Store) -> None:
    """The supplier's stock since day 0, ours only from day 2: a day-1 sale posted on day 3
    takes the supplier's, not ours that was not there yet."""
    receive(vmi_store, "r1", "A", 10)
    ledger.post(vmi_store, [Movement("ours", DAY0 + timedelta(days=2), "A", "VMI", T.RECEIPT, 5)])
    ledger.post(vmi_store, [Movement("late", DAY0 + timedelta(days=1), "A", "VMI", T.SALE, -5)])
    assert vmi_store.query("SELECT event_id, quantity FROM payables").rows() == [
        ("late:own:SUP-JNB", 5)
    ]
    own = vmi.ownership(vmi_store).row(0, named=True)
    assert (own["owned"], own["consigned"]) == (5, 5)


def test_a_holder_keeps_adjusting_its_levels_beside_another_suppliers_stock(
    vmi_store: Store,
) -> None:
    with vmi_store.transaction() as cur:
        cur.execute("INSERT INTO suppliers (code, name, vmi) VALUES ('SUP-VX', 'VX', true)")
        cur.execute(
            "INSERT INTO supplier_products (supplier, sku, lead_time_mean_days, price) "
            "VALUES ('SUP-VX', 'A', 4, 2.0)"
        )
    vmi.set_level(vmi_store, PLANNER, "SUP-JNB", "A", "VMI", 10, 60, "contract")
    ledger.post(vmi_store, [Movement("vx", DAY0, "A", "VMI", T.RECEIPT, 7, "SUP-VX", "CO-9")])
    vmi.set_level(vmi_store, JNB, "SUP-JNB", "A", "VMI", 12, 70, "bigger batches")
    vmi.set_level(vmi_store, PLANNER, "SUP-JNB", "A", "VMI", 12, 80, "peak")
    assert vmi.levels(vmi_store)["max_qty"].to_list() == [80]
