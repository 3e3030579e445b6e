"""The import's bad-input suite: every kind of bad row is reported with file, row, column,
value and reason, and a file with any bad row changes nothing."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime

import openpyxl
import polars as pl
import pytest

from control_tower.errors import ControlTowerError, ImportValidationError
from control_tower.ingest import freshness, ingest_bytes, ingest_file, ingest_frame, preview
from control_tower.ingest.reader import read_bytes

LEDGER_HEADER = "event_id,ts,sku,location,movement_type,quantity,owner,reference\n"


def snapshot(store) -> dict[str, int]:
    tables = [
        "locations",
        "products",
        "ledger",
        "demand_history",
        "purchase_orders",
        "transfers",
        "import_runs",
    ]
    return {t: store.scalar(f"SELECT count(*) FROM {t}") for t in tables}  # noqa: S608


def refused(store, entity, text: str, filename="upload.csv") -> ImportValidationError:
    before = snapshot(store)
    with pytest.raises(ImportValidationError) as info:
        ingest_bytes(store, entity, text.encode("utf-8"), filename)
    assert snapshot(store) == before, "a refused import must write nothing"
    return info.value


def only_problem(err: ImportValidationError, row, column, reason_part, value=None):
    matches = [
        p for p in err.problems if p.row == row and p.column == column and reason_part in p.reason
    ]
    assert matches, f"no problem at row {row} column {column} with {reason_part!r}: {err.problems}"
    if value is not None:
        assert matches[0].value == value
    return matches[0]


def test_a_good_demand_file_imports(network):
    result = ingest_bytes(
        network,
        "demand",
        b"sku,location,date,quantity\nA-100,CD-RDC,2024-01-01,5\nA-100,CD-RDC,2024-01-02,0\n",
        "demand.csv",
    )
    assert (result.rows_read, result.rows_written) == (2, 2)
    assert network.scalar("SELECT sum(quantity) FROM demand_history") == 5


def test_reimporting_a_demand_day_replaces_it_and_keys_stay_unique(network):
    header = b"sku,location,date,quantity\n"
    ingest_bytes(
        network,
        "demand",
        header + b"A-100,CD-RDC,2024-01-01,5\nA-100,CD-RDC,2024-01-02,1\n",
        "d1.csv",
    )
    ingest_bytes(network, "demand", header + b"A-100,CD-RDC,2024-01-01,7\n", "d2.csv")
    assert network.rows("SELECT date, quantity FROM demand_history ORDER BY date") == [
        (date(2024, 1, 1), 7),
        (date(2024, 1, 2), 1),
    ]


def test_unknown_sku_and_location(network):
    err = refused(
        network,
        "demand",
        "sku,location,date,quantity\n"
        "A-100,CD-RDC,2024-01-01,5\nNOPE,CD-RDC,2024-01-01,5\nA-100,MARS,2024-01-01,5\n",
    )
    only_problem(err, 3, "sku", "unknown SKU", "NOPE")
    only_problem(err, 4, "location", "unknown location", "MARS")
    assert err.total == 2
    assert all(p.file == "upload.csv" for p in err.problems)


def test_negative_and_non_numeric_quantity(network):
    err = refused(
        network,
        "demand",
        "sku,location,date,quantity\n"
        "A-100,CD-RDC,2024-01-01,-5\nA-100,CD-RDC,2024-01-02,lots\n"
        "A-100,CD-RDC,2024-01-03,2.5\n",
    )
    only_problem(err, 2, "quantity", "negative quantity", "-5")
    only_problem(err, 3, "quantity", "not a number", "lots")
    only_problem(err, 4, "quantity", "not a whole number", "2.5")


def test_bad_dates(network):
    err = refused(
        network,
        "demand",
        "sku,location,date,quantity\nA-100,CD-RDC,2024-02-30,1\nA-100,CD-RDC,yesterday,1\n",
    )
    only_problem(err, 2, "date", "not a date", "2024-02-30")
    only_problem(err, 3, "date", "not a date", "yesterday")


def test_duplicate_key_within_the_file(network):
    err = refused(
        network,
        "demand",
        "sku,location,date,quantity\n"
        "A-100,CD-RDC,2024-01-01,1\nB-200,CD-RDC,2024-01-01,1\nA-100,CD-RDC,2024-01-01,2\n",
    )
    problem = only_problem(err, 4, "sku, location, date", "duplicate key")
    assert "row 2" in problem.reason


def test_missing_column_names_the_expected_columns(network):
    err = refused(network, "demand", "sku,location,quantity\nA-100,CD-RDC,1\n")
    problem = only_problem(err, None, "date", "missing column")
    assert "sku, location, date, quantity" in problem.reason


def test_missing_value_in_a_required_column(network):
    err = refused(network, "demand", "sku,location,date,quantity\nA-100,,2024-01-01,1\n")
    only_problem(err, 2, "location", "missing value")


def test_wrong_type_for_other_columns(network):
    err = refused(
        network,
        "locations",
        "code,name,kind,lat,allow_negative\n"
        "WH9,Wuhan,regional_dc,north,maybe\nWH8,Wuhan 2,warehouse,95,yes\n",
    )
    only_problem(err, 2, "lat", "not a number", "north")
    only_problem(err, 2, "allow_negative", "not true/false", "maybe")
    only_problem(err, 3, "kind", "must be one of", "warehouse")
    only_problem(err, 3, "lat", "between -90 and 90")


def test_problems_are_capped_with_a_count_of_the_rest(network):
    rows = "".join(f"NOPE{i},CD-RDC,2024-01-01,1\n" for i in range(120))
    with pytest.raises(ImportValidationError) as info:
        ingest_bytes(
            network, "demand", ("sku,location,date,quantity\n" + rows).encode(), "big.csv", limit=10
        )
    assert len(info.value.problems) == 10
    assert info.value.total == 120
    assert "110 more problem(s)" in info.value.detail


def test_one_bad_row_among_good_ones_writes_nothing(network):
    good = "".join(f"A-100,CD-RDC,2024-01-{d:02d},3\n" for d in range(1, 29))
    refused(
        network, "demand", "sku,location,date,quantity\n" + good + "A-100,CD-RDC,2024-01-29,x\n"
    )


def test_ledger_bad_rows(network):
    err = refused(
        network,
        "ledger",
        LEDGER_HEADER
        + "e1,2024-01-01,A-100,SH-CDC,receipt,10,,\n"
        + "e2,2024-01-01,A-100,SH-CDC,sale,-3,,\n"
        + "e3,2024-01-01,A-100,SH-CDC,teleport,3,,\n"
        + "e4,2024-01-01,A-100,SH-CDC,transfer_out,3,,\n"
        + "e5,2024-01-01,A-100,SH-CDC,receipt,3,SOMEONE,\n"
        + "e1,2024-01-02,A-100,SH-CDC,receipt,1,,\n"
        + "e6,2024-01-01,A-100,SH-CDC,receipt,0,,\n",
    )
    only_problem(err, 3, "quantity", "only an adjustment may be negative")
    only_problem(err, 4, "movement_type", "must be one of", "teleport")
    only_problem(err, 5, "reference", "transfer leg needs")
    only_problem(err, 6, "owner", "supplier code", "SOMEONE")
    only_problem(err, 7, "event_id", "duplicate key")
    only_problem(err, 8, "quantity", "zero quantity")


def test_ledger_reimport_is_idempotent(network, tmp_path):
    path = tmp_path / "moves.csv"
    path.write_text(
        LEDGER_HEADER + "e1,2024-01-01,A-100,SH-CDC,receipt,10,,PO-1\n"
        "e2,2024-01-02 09:30:00,A-100,SH-CDC,sale,4,,\n"
        "e3,2024-01-03,A-100,SH-CDC,adjustment,-1,,count\n",
        encoding="utf-8",
    )
    first = ingest_file(network, "ledger", path)
    again = ingest_file(network, "ledger", path)
    assert (first.rows_written, first.rows_skipped) == (3, 0)
    assert (again.rows_written, again.rows_skipped) == (0, 3)
    assert network.scalar("SELECT sum(quantity) FROM ledger") == 5


def test_ledger_event_reused_with_other_content_is_refused(network):
    ingest_bytes(
        network,
        "ledger",
        (LEDGER_HEADER + "e1,2024-01-01,A-100,SH-CDC,receipt,10,,\n").encode(),
        "a.csv",
    )
    err = refused(network, "ledger", LEDGER_HEADER + "e1,2024-01-01,A-100,SH-CDC,receipt,12,,\n")
    only_problem(err, 2, "event_id", "different content", "e1")


def test_ledger_that_would_go_negative_is_refused(network):
    err = refused(
        network,
        "ledger",
        LEDGER_HEADER
        + "e1,2024-01-01,A-100,CD-RDC,receipt,5,,\n"
        + "e2,2024-01-02,A-100,CD-RDC,sale,7,,\n",
    )
    problem = only_problem(err, 3, "quantity", "would fall to -2")
    assert "CD-RDC" in problem.reason


def test_transfers_post_their_legs_and_in_transit_follows(network):
    ingest_bytes(
        network,
        "ledger",
        (LEDGER_HEADER + "r1,2024-01-01,A-100,SH-CDC,receipt,100,,\n").encode(),
        "r.csv",
    )
    ingest_bytes(
        network,
        "transfers",
        (
            b"transfer_id,sku,from_location,to_location,quantity,ship_date,expected_date,received_date,status\n"
            b"T1,A-100,SH-CDC,CD-RDC,30,2024-01-02,2024-01-06,2024-01-05,received\n"
            b"T2,A-100,SH-CDC,CQ-RDC,20,2024-01-03,2024-01-07,,in_transit\n"
            b"T3,A-100,SH-CDC,CQ-RDC,5,,2024-01-09,,planned\n"
        ),
        "t.csv",
    )
    on_hand = dict(network.rows("SELECT location, sum(quantity) FROM ledger GROUP BY 1"))
    assert on_hand == {"SH-CDC": 50, "CD-RDC": 30}
    legs = network.rows("SELECT event_id FROM ledger WHERE reference = 'T2'")
    assert legs == [("TR:T2:out",)]


def test_transfer_rules(network):
    err = refused(
        network,
        "transfers",
        "transfer_id,sku,from_location,to_location,quantity,ship_date,expected_date,status\n"
        "T1,A-100,SH-CDC,SH-CDC,3,2024-01-02,2024-01-05,in_transit\n"
        "T2,A-100,SH-CDC,CD-RDC,3,,2024-01-05,in_transit\n"
        "T3,A-100,SH-CDC,CD-RDC,3,2024-01-02,2024-01-05,in_transit\n",
    )
    only_problem(err, 2, "to_location", "same")
    only_problem(err, 3, "ship_date", "needs a ship_date")
    # T3 alone is fine but SH-CDC has no stock: refused as a whole all the same
    assert err.total >= 2


def test_references_resolve_within_one_multi_entity_import(store):
    from tests.conftest import tiny_network_frames

    results = ingest_frame(store, "locations", tiny_network_frames()["locations"])
    assert results.rows_written == 3
    err_before = snapshot(store)
    with pytest.raises(ImportValidationError):
        ingest_frame(store, "supplier_products", tiny_network_frames()["supplier_products"])
    assert snapshot(store) == err_before


def test_master_data_reimport_updates_in_place(network):
    ingest_bytes(
        network, "products", "sku,name,unit_cost\nA-100,绿茶 新包装,2.75\n".encode(), "p.csv"
    )
    row = network.rows("SELECT name, unit_cost, category FROM products WHERE sku = 'A-100'")[0]
    assert row[0] == "绿茶 新包装" and float(row[1]) == 2.75
    assert row[2] == "beverages", "a column absent from the file keeps its value"


def test_utf8_bom_and_chinese_text_are_fine(network):
    data = "\ufeffcode,name,kind,region\nWH-RDC,武汉区域仓,regional_dc,华中\n".encode()
    ingest_bytes(network, "locations", data, "locations.csv")
    assert network.scalar("SELECT name FROM locations WHERE code = 'WH-RDC'") == "武汉区域仓"


def test_wrong_encoding_gets_a_clear_error(network):
    with pytest.raises(ImportValidationError, match="not UTF-8.*GB18030"):
        ingest_bytes(
            network,
            "locations",
            "code,name,kind\nWH-RDC,武汉区域仓,regional_dc\n".encode("gbk"),
            "gbk.csv",
        )


@pytest.mark.parametrize(
    "content, message",
    [
        (b"", "empty"),
        (b"   \n", "empty"),
        (b"sku,location,date,quantity\n", "no data rows"),
        (b"sku,location,date,quantity\nA-100,CD-RDC,2024-01-01,1,9,9\n", "well-formed CSV"),
    ],
)
def test_empty_and_malformed_files(network, content, message):
    with pytest.raises(ImportValidationError, match=message):
        ingest_bytes(network, "demand", content, "d.csv")


def test_unsupported_extension_and_unknown_entity(network):
    with pytest.raises(ImportValidationError, match="unsupported file type"):
        ingest_bytes(network, "demand", b"x", "demand.json")
    with pytest.raises(ControlTowerError, match="unknown entity"):
        ingest_bytes(network, "widgets", b"a\n1\n", "w.csv")


def test_semicolon_separated_csv_is_read(network):
    ingest_bytes(
        network, "demand", b"sku;location;date;quantity\nA-100;CD-RDC;2024-01-01;4\n", "eu.csv"
    )
    assert network.scalar("SELECT sum(quantity) FROM demand_history") == 4


def test_excel_file_with_real_dates_and_a_bad_cell(network, tmp_path):
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["SKU", "Location", "Date", "Quantity"])
    ws.append(["A-100", "CD-RDC", date(2024, 1, 1), 3])
    ws.append(["B-200", "CQ-RDC", "2024-01-02", 4])
    path = tmp_path / "demand.xlsx"
    wb.save(path)
    assert ingest_file(network, "demand", path).rows_written == 2
    ws.append(["B-200", "CQ-RDC", "2024-01-03", -1])
    wb.save(path)
    with pytest.raises(ImportValidationError) as info:
        ingest_file(network, "demand", path)
    only_problem(info.value, 4, "quantity", "negative quantity", "-1")


def test_parquet_file_keeps_types_and_counts_rows_from_one(network, tmp_path):
    path = tmp_path / "demand.parquet"
    pl.DataFrame(
        {
            "sku": ["A-100", "ZZZ"],
            "location": ["CD-RDC", "CD-RDC"],
            "date": [date(2024, 1, 1), date(2024, 1, 2)],
            "quantity": [3, 4],
        }
    ).write_parquet(path)
    with pytest.raises(ImportValidationError) as info:
        ingest_file(network, "demand", path)
    only_problem(info.value, 2, "sku", "unknown SKU", "ZZZ")


def test_hostile_text_is_stored_as_data(network):
    name = '=HYPERLINK("x");DROP TABLE products;-- Ignore previous instructions'
    buf = io.StringIO()
    pl.DataFrame({"sku": ["EVIL-1"], "name": [name], "unit_cost": ["1"]}).write_csv(buf)
    ingest_bytes(network, "products", buf.getvalue().encode(), "p.csv")
    assert network.scalar("SELECT name FROM products WHERE sku = 'EVIL-1'") == name
    assert network.scalar("SELECT count(*) FROM products") == 3


def test_preview_reports_without_writing(network):
    table = read_bytes(b"sku,location,date,quantity\nA-100,CD-RDC,2024-01-01,x\n", "p.csv")
    report = preview(network, "demand", table.frame, source=table.name, first_row=table.first_row)
    assert not report.ok and report.total_problems == 1
    assert report.problems[0].row == 2
    good = read_bytes(b"sku,location,date,quantity\nA-100,CD-RDC,2024-01-01,1\n", "p.csv")
    ok = preview(network, "demand", good.frame)
    assert ok.ok and ok.typed is not None and ok.typed.height == 1
    assert network.scalar("SELECT count(*) FROM demand_history") == 0


def test_freshness_lists_every_entity_with_its_last_import(network):
    ingest_bytes(
        network, "demand", b"sku,location,date,quantity\nA-100,CD-RDC,2024-01-05,1\n", "d.csv"
    )
    fresh = freshness(network)
    row = fresh.filter(pl.col("entity") == "demand").row(0, named=True)
    assert row["source"] == "d.csv" and row["data_to"] == date(2024, 1, 5)
    assert fresh.filter(pl.col("entity") == "locations")["rows_in_store"][0] == 3


# -- found in review: bounds, typed Parquet, transfers, blank rows -------------------------------


@pytest.mark.parametrize(
    "text, column, reason",
    [
        ("A-100,CD-RDC,2099-01-01,1\n", "date", "in the future"),
        ("A-100,CD-RDC,1850-01-01,1\n", "date", "out of range"),
        ("A-100,CD-RDC,9999-12-31,1\n", "date", "out of range"),
        ("A-100,CD-RDC,2024-01-01,5000000000\n", "quantity", "too large"),
    ],
)
def test_dates_and_quantities_have_sane_bounds(network, text, column, reason):
    err = refused(network, "demand", "sku,location,date,quantity\n" + text)
    only_problem(err, 2, column, reason)


def test_a_ledger_movement_in_the_future_is_refused(network):
    err = refused(network, "ledger", LEDGER_HEADER + "e1,9999-12-31,A-100,SH-CDC,receipt,10,,\n")
    only_problem(err, 2, "ts", "out of range")
    err = refused(network, "ledger", LEDGER_HEADER + "e1,2099-01-01,A-100,SH-CDC,receipt,10,,\n")
    only_problem(err, 2, "ts", "in the future")


def test_a_day_already_begun_east_of_the_server_is_not_in_the_future(network):
    """Issue 17: at 23:30 UTC it is the next morning in Shanghai, so that day's demand is
    imported whatever the time of day; a day begun nowhere yet is still refused."""
    import time_machine

    with time_machine.travel(datetime(2026, 12, 7, 23, 30, tzinfo=UTC).timestamp()):
        ingest_bytes(
            network, "demand", b"sku,location,date,quantity\nA-100,CD-RDC,2026-12-08,1\n", "d.csv"
        )
        err = refused(network, "demand", "sku,location,date,quantity\nA-100,CD-RDC,2026-12-09,1\n")
    only_problem(err, 2, "date", "in the future (after 2026-12-08)")


@pytest.mark.parametrize(
    "entity, text, column",
    [
        ("products", "sku,name,unit_cost\nX-1,x,1e20\n", "unit_cost"),
        ("products", "sku,name,unit_cost,shelf_life_days\nX-1,x,1,9999999999\n", "shelf_life_days"),
        (
            "lanes",
            "from_location,to_location,transit_days,cost_per_unit\nSH-CDC,CD-RDC,3000000000,1\n",
            "transit_days",
        ),
    ],
)
def test_values_beyond_the_columns_range_are_reported_not_raised(network, entity, text, column):
    err = refused(network, entity, text)
    only_problem(err, 2, column, "too large")


def test_parquet_typed_values_are_checked_too(network, tmp_path):
    path = tmp_path / "ledger.parquet"
    pl.DataFrame(
        {
            "event_id": ["e1", "e2", "e3"],
            "ts": [date(2024, 1, 1)] * 3,
            "sku": ["A-100"] * 3,
            "location": ["SH-CDC"] * 3,
            "movement_type": ["receipt"] * 3,
            "quantity": pl.Series([2**62, 2**63 + 5, 3], dtype=pl.UInt64),
        }
    ).write_parquet(path)
    with pytest.raises(ImportValidationError) as info:
        ingest_file(network, "ledger", path)
    only_problem(info.value, 1, "quantity", "too large")  # Parquet has no header row
    only_problem(info.value, 2, "quantity", "too large")
    listed = tmp_path / "demand.parquet"
    pl.DataFrame(
        {"sku": [["A-100"]], "location": ["CD-RDC"], "date": [date(2024, 1, 1)], "quantity": [1]}
    ).write_parquet(listed)
    with pytest.raises(ImportValidationError) as info:
        ingest_file(network, "demand", listed)
    only_problem(info.value, 1, "sku", "wrong type of column")
    assert network.scalar("SELECT count(*) FROM ledger") == 0


TRANSFER_HEADER = (
    "transfer_id,sku,from_location,to_location,quantity,ship_date,expected_date,"
    "received_date,status\n"
)


@pytest.fixture
def shipped(network):
    ingest_bytes(
        network,
        "ledger",
        (LEDGER_HEADER + "r1,2024-01-01,A-100,SH-CDC,receipt,100,,\n").encode(),
        "r.csv",
    )
    ingest_bytes(
        network,
        "transfers",
        (
            TRANSFER_HEADER + "T2,A-100,SH-CDC,CD-RDC,40,2024-01-02,2024-01-06,,in_transit\n"
        ).encode(),
        "t.csv",
    )
    return network


def network_total(store) -> int:
    on_hand = store.scalar("SELECT sum(quantity) FROM ledger")
    in_transit = store.scalar(
        "SELECT -sum(quantity) FROM ledger WHERE movement_type IN ('transfer_out', 'transfer_in')"
    )
    return on_hand + in_transit


@pytest.mark.parametrize("status", ["cancelled", "planned"])
def test_a_shipped_transfer_cannot_be_set_back_to_unshipped(shipped, status):
    err = refused(
        shipped,
        "transfers",
        TRANSFER_HEADER + f"T2,A-100,SH-CDC,CD-RDC,40,2024-01-02,2024-01-06,,{status}\n",
    )
    only_problem(err, 2, "transfer_id", "already shipped", "T2")
    assert network_total(shipped) == 100


def test_a_transfer_leg_at_the_wrong_location_or_too_large_is_refused(shipped):
    err = refused(
        shipped, "ledger", LEDGER_HEADER + "x1,2024-01-05,A-100,CQ-RDC,transfer_in,40,,T2\n"
    )
    only_problem(err, 2, "reference", "not at the transfer's to_location", "T2")
    err = refused(
        shipped, "ledger", LEDGER_HEADER + "x1,2024-01-05,A-100,CD-RDC,transfer_in,70,,T2\n"
    )
    only_problem(err, 2, "reference", "70 received but only 40 shipped", "T2")
    assert (
        ingest_bytes(
            shipped,
            "ledger",
            (LEDGER_HEADER + "x1,2024-01-05,A-100,CD-RDC,transfer_in,40,,T2\n").encode(),
            "ok.csv",
        ).rows_written
        == 1
    )
    assert network_total(shipped) == 100


def test_row_numbers_count_blank_rows_in_csv_and_excel(network, tmp_path):
    err = refused(
        network,
        "demand",
        "sku,location,date,quantity\nA-100,CD-RDC,2024-01-01,1\n"
        "\n,,,\nA-100,CD-RDC,2024-01-02,bad\n",
    )
    only_problem(err, 5, "quantity", "not a number")
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["sku", "location", "date", "quantity"])
    ws.append(["A-100", "CD-RDC", "2024-01-01", 1])
    ws.append([None, None, None, None])
    ws.append(["A-100", "CD-RDC", "2024-01-02", "bad"])
    path = tmp_path / "blank.xlsx"
    wb.save(path)
    with pytest.raises(ImportValidationError) as info:
        ingest_file(network, "demand", path)
    only_problem(info.value, 4, "quantity", "not a number")


def test_dependent_files_import_together(network):
    from control_tower.ingest import ingest_tables
    from control_tower.ingest.reader import read_bytes

    tables = {
        "products": read_bytes(b"sku,name,unit_cost\nC-300,new item,1\n", "products.csv"),
        "ledger": read_bytes(
            (LEDGER_HEADER + "c1,2024-01-01,C-300,CD-RDC,receipt,5,,\n").encode(), "ledger.csv"
        ),
    }
    with pytest.raises(ImportValidationError):  # alone, the ledger names an unknown SKU
        ingest_bytes(
            network,
            "ledger",
            tables["ledger"].frame.drop("__file_row__").write_csv().encode(),
            "ledger.csv",
        )
    results = ingest_tables(network, tables)
    assert results["ledger"].rows_written == 1


def test_preview_tables_resolves_references_between_files_and_writes_nothing(network):
    from control_tower.ingest import preview_tables
    from control_tower.ingest.reader import read_bytes

    tables = {
        "products": read_bytes(
            b"sku,name,unit_cost\nC-300,new item,1\nC-301,bad,x\n", "products.csv"
        ),
        "demand": read_bytes(
            b"sku,location,date,quantity\nC-300,CD-RDC,2024-01-01,5\n"
            b"C-301,CD-RDC,2024-01-01,5\nZ-9,CD-RDC,2024-01-01,5\n",
            "demand.csv",
        ),
    }
    reports = preview_tables(network, tables)
    assert [(p.row, p.column) for p in reports["products"].problems] == [(3, "unit_cost")]
    # C-301's row is bad, but its key still resolves; only Z-9 is unknown everywhere
    assert [(p.file, p.row, p.value) for p in reports["demand"].problems] == [
        ("demand.csv", 4, "Z-9")
    ]
    assert network.scalar("SELECT count(*) FROM products") == 2
