"""Supplier collaboration: stock reports (upload and inline edit, all or nothing), a supplier
seeing and changing only its own data, shipments, low-water exceptions and their requests for
allocation, VMI call-offs received as the supplier's stock."""

from __future__ import annotations

import io
from datetime import date, datetime, timedelta

import polars as pl
import pytest

from control_tower import actions, collab, exceptions, ledger, vmi
from control_tower.actions import Actor
from control_tower.collab import CollabError, SupplierAccessError
from control_tower.config import Settings
from control_tower.errors import ImportValidationError, NotFoundError
from control_tower.ledger import Movement
from control_tower.ledger import MovementType as T
from control_tower.store import Store
from tests.conftest import TESTER
from tests.test_vmi import JNB, OTHER, PLANNER, vmi_frames

APPROVER = Actor("zhao.approver", "approver")
MNF = OTHER
TODAY = date(2026, 3, 10)


@pytest.fixture
def collab_store(store: Store) -> Store:
    from control_tower.ingest import ingest_frames

    ingest_frames(store, vmi_frames(), source="fixture")
    # demand for the low-water threshold, and the data's today
    days = [TODAY - timedelta(days=d) for d in range(28)]
    ingest_frames(
        store,
        {
            "demand": pl.DataFrame(
                {
                    "sku": ["S"] * 28 + ["A"] * 28,
                    "location": ["CDC"] * 56,
                    "date": [d.isoformat() for d in days] * 2,
                    "quantity": ["10"] * 28 + ["50"] * 28,
                }
            )
        },
        source="fixture",
    )
    return store


def counts(store: Store) -> tuple[int, int, int]:
    return (
        store.scalar("SELECT count(*) FROM supplier_stock_reports"),
        store.scalar("SELECT count(*) FROM supplier_stock"),
        store.scalar("SELECT count(*) FROM supplier_capacity"),
    )


def test_an_upload_is_kept_with_its_as_of_and_becomes_the_current_figure(
    collab_store: Store,
) -> None:
    first = b"sku,available_quantity,available_date,capacity_week_1,capacity_week_2\nS,500,2026-03-11,300,200\n"
    one = collab.upload_stock(
        collab_store, MNF, "SUP-MNF", first, "mnf.csv", as_of=datetime(2026, 3, 9, 8)
    )
    later = pl.DataFrame({"sku": ["S"], "available_quantity": ["420"]})
    two = collab.record_stock(collab_store, MNF, "SUP-MNF", later, as_of=datetime(2026, 3, 10, 9))
    reports = collab.stock_reports(collab_store, MNF, "SUP-MNF")
    assert reports["report_id"].to_list() == [two, one]
    assert reports["source"].to_list() == ["inline edit", "mnf.csv"]
    now = collab.supplier_stock(collab_store).row(0, named=True)
    assert (now["available_qty"], now["available_date"], now["report_id"]) == (420, TODAY, two)
    # as of the day before, the first report was the current one, capacity week by week
    before = collab.supplier_stock(collab_store, as_of=date(2026, 3, 9)).row(0, named=True)
    assert (before["available_qty"], before["capacity"], before["capacity_total"]) == (
        500,
        [300, 200],
        500,
    )
    weeks = collab.supplier_capacity(collab_store, as_of=date(2026, 3, 9))
    assert weeks["week_start"].to_list() == [date(2026, 3, 9), date(2026, 3, 16)]
    # the SKU's network view shows it
    assert collab.stock_of_sku(collab_store, "S")["available_qty"].to_list() == [420]


def test_an_excel_upload_is_read(collab_store: Store) -> None:
    import openpyxl

    book = openpyxl.Workbook()
    sheet = book.active
    for row in (("sku", "available_quantity"), ("A", 120), ("B", 80)):
        sheet.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    report = collab.upload_stock(collab_store, JNB, "SUP-JNB", buffer.getvalue(), "jnb.xlsx")
    stock = collab.supplier_stock(collab_store, supplier="SUP-JNB")
    assert stock["available_qty"].to_list() == [120, 80]
    assert set(stock["report_id"]) == {report}


@pytest.mark.parametrize(
    ("content", "why"),
    [
        (b"sku,available_quantity\nS,12x\n", "available_quantity"),
        (b"sku,available_quantity\nS,-3\n", "negative"),
        (b"sku,available_quantity\nA,3\n", "unknown SKU"),  # A is SUP-JNB's, not SUP-MNF's
        (b"sku,available_quantity\nNOPE,3\n", "unknown SKU"),
        (b"sku,available_quantity\nS,3\nS,4\n", "duplicate"),
        (b"sku,qty\nS,3\n", "unexpected column"),
        (b"sku,available_quantity,available_date\nS,3,next week\n", "available_date"),
        (b"", "empty"),
    ],
)
def test_a_bad_upload_changes_nothing(collab_store: Store, content: bytes, why: str) -> None:
    collab.record_stock(
        collab_store, MNF, "SUP-MNF", pl.DataFrame({"sku": ["S"], "available_quantity": ["7"]})
    )
    before = counts(collab_store)
    with pytest.raises(ImportValidationError, match=why):
        collab.upload_stock(collab_store, MNF, "SUP-MNF", content, "mnf.csv")
    assert counts(collab_store) == before
    assert collab.supplier_stock(collab_store)["available_qty"].to_list() == [7]


def test_a_report_cannot_be_dated_after_the_data_or_before_the_last_one(
    collab_store: Store,
) -> None:
    frame = pl.DataFrame({"sku": ["S"], "available_quantity": ["7"]})
    with pytest.raises(CollabError, match="after the data's"):
        collab.record_stock(collab_store, MNF, "SUP-MNF", frame, as_of=datetime(2026, 3, 11, 9))
    collab.record_stock(collab_store, MNF, "SUP-MNF", frame, as_of=datetime(2026, 3, 10, 9))
    with pytest.raises(CollabError, match="older"):
        collab.record_stock(collab_store, MNF, "SUP-MNF", frame, as_of=datetime(2026, 3, 9, 9))


@pytest.mark.parametrize("clock", ["00:05", "12:00", "23:55"])
def test_a_report_made_in_the_portal_is_as_of_the_end_of_the_data_day_at_any_hour(
    collab_store: Store, clock: str
) -> None:
    """Issue 17: whatever the wall clock reads, an inline edit and an upload right after it
    are both as of the end of the data's today (the upload, newer, wins by its id); a file
    counted on an earlier day is as of that day's end, refused only once a newer report
    exists. recorded_at stays the wall clock's, for the audit."""
    import time_machine

    hour, minute = map(int, clock.split(":"))
    end = datetime(2026, 3, 10, 23, 59, 59)
    with time_machine.travel(datetime(2026, 3, 10, hour, minute).timestamp(), tick=False):
        counted = collab.upload_stock(
            collab_store,
            MNF,
            "SUP-MNF",
            b"sku,available_quantity\nS,30\n",
            "mnf.csv",
            as_of=date(2026, 3, 9),
        )
        edit = collab.record_stock(
            collab_store, MNF, "SUP-MNF", pl.DataFrame({"sku": ["S"], "available_quantity": ["40"]})
        )
        upload = collab.upload_stock(
            collab_store, MNF, "SUP-MNF", b"sku,available_quantity\nS,50\n", "mnf.csv"
        )
        with pytest.raises(CollabError, match="older"):
            collab.upload_stock(
                collab_store,
                MNF,
                "SUP-MNF",
                b"sku,available_quantity\nS,60\n",
                "mnf.csv",
                as_of=date(2026, 3, 9),
            )
    reports = collab.stock_reports(collab_store, MNF, "SUP-MNF")
    assert reports["report_id"].to_list() == [upload, edit, counted]
    assert reports["as_of"].to_list() == [end, end, datetime(2026, 3, 9, 23, 59, 59)]
    assert {(t.hour, t.minute) for t in reports["recorded_at"]} == {(hour, minute)}
    now = collab.supplier_stock(collab_store).row(0, named=True)
    assert (now["available_qty"], now["report_id"], now["reported_at"]) == (50, upload, end)
    before = collab.supplier_stock(collab_store, as_of=date(2026, 3, 9)).row(0, named=True)
    assert (before["available_qty"], before["report_id"]) == (30, counted)


def test_a_supplier_never_sees_or_changes_another_suppliers_data(collab_store: Store) -> None:
    """Every portal service refuses a supplier user who asks for another supplier's data;
    and nothing is written by a refused change."""
    frame = pl.DataFrame({"sku": ["A"], "available_quantity": ["5"]})
    collab.record_stock(collab_store, JNB, "SUP-JNB", frame)
    before = counts(collab_store)
    reads = [
        lambda a: collab.supplier_items(collab_store, a, "SUP-JNB"),
        lambda a: collab.own_stock(collab_store, a, "SUP-JNB"),
        lambda a: collab.stock_reports(collab_store, a, "SUP-JNB"),
        lambda a: collab.open_orders(collab_store, a, "SUP-JNB"),
        lambda a: collab.shipments(collab_store, a, "SUP-JNB"),
        lambda a: collab.allocation_requests(collab_store, a, "SUP-JNB"),
        lambda a: collab.stock_template(collab_store, a, "SUP-JNB"),
    ]
    writes = [
        lambda a: collab.record_stock(collab_store, a, "SUP-JNB", frame),
        lambda a: collab.upload_stock(
            collab_store, a, "SUP-JNB", b"sku,available_quantity\nA,1\n", "x.csv"
        ),
        lambda a: collab.record_shipment(
            collab_store, a, "SUP-JNB", "PO-1", "A", 1, shipped_on=TODAY, expected_date=TODAY
        ),
        lambda a: collab.answer_allocation(collab_store, a, "SUP-JNB", 1, 1, TODAY),
    ]
    for call in reads + writes:
        with pytest.raises(SupplierAccessError, match="cannot see or change another"):
            call(MNF)
        with pytest.raises(SupplierAccessError):
            call(None)
    for call in writes:
        with pytest.raises(SupplierAccessError):
            call(Actor("sun.viewer", "viewer"))
    assert counts(collab_store) == before
    assert collab.suppliers_for(collab_store, MNF)["code"].to_list() == ["SUP-MNF"]
    assert collab.suppliers_for(collab_store, PLANNER)["code"].to_list() == ["SUP-JNB", "SUP-MNF"]
    # its own data, and staff, are served
    assert collab.own_stock(collab_store, JNB, "SUP-JNB")["sku"].to_list() == ["A", "B"]
    assert collab.own_stock(collab_store, PLANNER, "SUP-JNB")["sku"].to_list() == ["A", "B"]


def test_a_shipment_is_recorded_beside_the_promise_and_is_bounded(collab_store: Store) -> None:
    with collab_store.transaction() as cur:
        cur.execute(
            "INSERT INTO purchase_orders VALUES ('PO-1', 'S', 'SUP-MNF', 'CDC', 100, "
            "'2026-03-01', '2026-03-12', 'open')"
        )
    collab.record_shipment(
        collab_store,
        MNF,
        "SUP-MNF",
        "PO-1",
        "S",
        60,
        shipped_on=TODAY,
        expected_date=date(2026, 3, 14),
    )
    line = collab.open_orders(collab_store, MNF, "SUP-MNF").row(0, named=True)
    # the promise stands (on-time rate is measured against it); the shipment's date shows
    assert (line["shipped"], line["to_ship"], line["expected_date"], line["shipment_eta"]) == (
        60,
        40,
        date(2026, 3, 12),
        date(2026, 3, 14),
    )
    with pytest.raises(CollabError, match="40 of S left to ship"):
        collab.record_shipment(
            collab_store, MNF, "SUP-MNF", "PO-1", "S", 41, shipped_on=TODAY, expected_date=TODAY
        )
    with pytest.raises(NotFoundError):
        collab.record_shipment(
            collab_store, JNB, "SUP-JNB", "PO-1", "S", 1, shipped_on=TODAY, expected_date=TODAY
        )
    with pytest.raises(CollabError, match="before it ships"):
        collab.record_shipment(
            collab_store,
            MNF,
            "SUP-MNF",
            "PO-1",
            "S",
            1,
            shipped_on=TODAY,
            expected_date=TODAY - timedelta(days=1),
        )
    assert collab_store.scalar("SELECT count(*) FROM supplier_shipments") == 1


def test_low_water_raises_an_exception_and_a_request_the_supplier_answers(
    collab_store: Store,
) -> None:
    # S sells 10 a day: 14 days make a low-water mark of 140; SUP-MNF holds 90
    collab.record_stock(
        collab_store, MNF, "SUP-MNF", pl.DataFrame({"sku": ["S"], "available_quantity": ["90"]})
    )
    run = exceptions.run_exceptions(collab_store, Settings(), created_by=TESTER)
    item = run.items.filter(pl.col("rule") == "supplier_low_water").row(0, named=True)
    assert (item["sku"], item["reference"], item["units"]) == ("S", "SUP-MNF", 50.0)
    drafted = actions.list_actions(collab_store).filter(pl.col("kind") == "request_allocation")
    assert drafted.height == 1
    request = drafted.row(0, named=True)
    assert (request["supplier"], request["quantity"], request["status"]) == (
        "SUP-MNF",
        140,
        "proposed",
    )
    assert item["action_ids"] == f"[{request['action_id']}]"
    # a second run drafts no second request while one is live
    exceptions.run_exceptions(collab_store, Settings(), created_by=TESTER)
    assert (
        actions.list_actions(collab_store).filter(pl.col("kind") == "request_allocation").height
        == 1
    )
    # the supplier sees nothing until it is approved and sent
    assert collab.allocation_requests(collab_store, MNF, "SUP-MNF").height == 0
    actions.approve(collab_store, request["action_id"], APPROVER)
    with pytest.raises(actions.ActionRefused, match="answers"):
        actions.post(collab_store, request["action_id"], PLANNER) and actions.receive(
            collab_store, request["action_id"], PLANNER
        )
    assert collab.allocation_requests(collab_store, MNF, "SUP-MNF")["action_id"].to_list() == [
        request["action_id"]
    ]
    with pytest.raises(NotFoundError):
        collab.answer_allocation(collab_store, JNB, "SUP-JNB", request["action_id"], 10, TODAY)
    collab.answer_allocation(
        collab_store,
        MNF,
        "SUP-MNF",
        request["action_id"],
        150,
        TODAY + timedelta(days=2),
        "from line 2",
    )
    assert actions.get_action(collab_store, request["action_id"])["status"] == "closed"
    now = collab.supplier_stock(collab_store).row(0, named=True)
    assert (now["available_qty"], now["available_date"]) == (150, TODAY + timedelta(days=2))
    assert now["reported_at"] == datetime(2026, 3, 10, 23, 59, 59)  # the data's today, at its end
    assert (
        exceptions.detect(collab_store, Settings())
        .items.filter(pl.col("rule") == "supplier_low_water")
        .height
        == 0
    )
    with pytest.raises(CollabError, match="not waiting"):
        collab.answer_allocation(collab_store, MNF, "SUP-MNF", request["action_id"], 1, TODAY)


def test_a_threshold_in_config_wins_per_sku_then_per_supplier(collab_store: Store) -> None:
    collab.record_stock(
        collab_store, MNF, "SUP-MNF", pl.DataFrame({"sku": ["S"], "available_quantity": ["90"]})
    )
    cfg = Settings()
    cfg.suppliers.low_water = {"SUP-MNF": 50}
    assert (
        exceptions.detect(collab_store, cfg)
        .items.filter(pl.col("rule") == "supplier_low_water")
        .height
        == 0
    )
    cfg.suppliers.low_water = {"SUP-MNF": 50, "SUP-MNF/S": 100}
    found = exceptions.detect(collab_store, cfg).items.filter(
        pl.col("rule") == "supplier_low_water"
    )
    assert found["units"].to_list() == [10.0]


def test_a_stale_report_is_a_data_problem(collab_store: Store) -> None:
    collab.record_stock(
        collab_store,
        MNF,
        "SUP-MNF",
        pl.DataFrame({"sku": ["S"], "available_quantity": ["900"]}),
        as_of=datetime(2026, 3, 1, 8),
    )
    found = exceptions.detect(collab_store, Settings()).items.filter(
        pl.col("reference") == "supplier-report:SUP-MNF"
    )
    assert found["rule"].to_list() == ["data_quality"]


def test_vmi_below_min_drafts_a_call_off_received_as_the_suppliers_stock(
    collab_store: Store,
) -> None:
    ledger.post(
        collab_store,
        [Movement("r1", datetime(2026, 3, 9), "A", "VMI", T.RECEIPT, 10, "SUP-JNB", "CO-0")],
    )
    vmi.set_level(collab_store, PLANNER, "SUP-JNB", "A", "VMI", 50, 200, "contract")
    run = exceptions.run_exceptions(collab_store, Settings(), created_by=TESTER)
    item = run.items.filter(pl.col("rule") == "vmi_level").row(0, named=True)
    assert (item["sku"], item["location"], item["units"]) == ("A", "VMI", 40.0)
    call_off = (
        actions.list_actions(collab_store)
        .filter(pl.col("kind") == "purchase_order")
        .row(0, named=True)
    )
    # up to the max of 200 from 10 held, in whole packs of 6
    assert (call_off["supplier"], call_off["to_location"], call_off["quantity"]) == (
        "SUP-JNB",
        "VMI",
        186,
    )
    assert str(call_off["action_id"]) in item["action_ids"]
    actions.approve(collab_store, call_off["action_id"], APPROVER)
    actions.post(collab_store, call_off["action_id"], PLANNER)
    po = actions.reference(call_off["action_id"])
    assert collab.open_orders(collab_store, JNB, "SUP-JNB").filter(pl.col("po_number") == po)[
        "call_off"
    ].to_list() == [True]
    collab.record_shipment(
        collab_store,
        JNB,
        "SUP-JNB",
        po,
        "A",
        186,
        shipped_on=TODAY,
        expected_date=TODAY + timedelta(days=1),
    )
    actions.receive(collab_store, call_off["action_id"], PLANNER, when=datetime(2026, 3, 10, 14))
    own = vmi.ownership(collab_store).filter(pl.col("location") == "VMI").row(0, named=True)
    assert (own["owned"], own["consigned"]) == (0, 196)
    assert vmi.levels(collab_store)["status"].to_list() == ["within"]
    # consumption then passes ownership and is owed
    ledger.post(
        collab_store, [Movement("use", datetime(2026, 3, 10, 18), "A", "VMI", T.ISSUE, -52)]
    )
    assert vmi.payables(collab_store, JNB, "SUP-JNB")["quantity"].to_list() == [52]


def test_an_allocation_keeps_the_capacity_and_a_refusal_lowers_nothing(collab_store: Store) -> None:
    collab.record_stock(
        collab_store,
        MNF,
        "SUP-MNF",
        pl.DataFrame(
            {
                "sku": ["S"],
                "available_quantity": ["100"],
                "capacity_week_1": ["200"],
                "capacity_week_2": ["200"],
            }
        ),
    )
    cfg = Settings()
    cfg.suppliers.low_water = {"SUP-MNF": 1000}
    exceptions.run_exceptions(collab_store, cfg, created_by=TESTER)
    ids = (
        actions.list_actions(collab_store)
        .filter(pl.col("kind") == "request_allocation")["action_id"]
        .to_list()
    )
    assert len(ids) == 1
    actions.approve(collab_store, ids[0], APPROVER)
    actions.post(collab_store, ids[0], PLANNER)
    collab.answer_allocation(collab_store, MNF, "SUP-MNF", ids[0], 0, TODAY, "sold out")
    now = collab.supplier_stock(collab_store).row(0, named=True)
    assert (now["available_qty"], now["capacity"]) == (100, [200, 200])
