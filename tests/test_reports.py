"""Exception reports: the rows and totals of the stored run in CSV and in a formatted Excel
workbook (opened with openpyxl), filters, and formula-injection strings kept inert."""

from __future__ import annotations

import csv

import polars as pl
import pytest
from openpyxl import load_workbook

from control_tower import exceptions, reports
from control_tower.cli import main
from control_tower.ingest import ingest_frame
from tests.conftest import TESTER
from tests.test_exceptions import _late_po_scenario, stock
from tests.test_position import AS_OF, add_demand, add_purchase_orders, daily_demand, day

HOSTILE = '=HYPERLINK("http://evil.example","click")'


@pytest.fixture
def reported(network):
    """Two late POs, a stock-out, and a product whose name is a formula."""
    ingest_frame(
        network,
        "products",
        pl.DataFrame({"sku": ["EVIL-1"], "name": [HOSTILE], "unit_cost": [3.0], "category": ["x"]}),
    )
    _late_po_scenario(network)
    add_purchase_orders(network, [("PO-EVIL", "EVIL-1", "SH-CDC", 10, day(-20), day(-2), "open")])
    stock(network, "A-100", "CD-RDC", 30, offset=0)
    add_demand(network, daily_demand("A-100", "CD-RDC", 10, 28))
    add_purchase_orders(network, [("PO-1", "A-100", "CD-RDC", 100, day(-2), day(6), "open")])
    exceptions.run_exceptions(network, as_of=AS_OF, created_by=TESTER)
    return network


def test_the_report_holds_the_runs_exceptions_most_severe_first(reported):
    report = reports.exception_report(reported)
    stored = exceptions.list_exceptions(reported, include_snoozed=True)
    assert report.height == stored.height
    assert report["Severity"].to_list() == sorted(report["Severity"].to_list(), reverse=True)
    assert report["Value at risk"].sum() == pytest.approx(stored["value_at_risk"].sum(), abs=0.05)
    assert set(report["State"]) == {"open"}
    evil = report.filter(report["SKU"] == "EVIL-1").row(0, named=True)
    assert evil["Product"] == HOSTILE  # the data itself is kept as it is


def test_excel_has_a_summary_a_sheet_per_rule_frozen_headers_filters_and_money(reported, tmp_path):
    path = tmp_path / "r.xlsx"
    report = reports.write_report(reported, path, "xlsx")
    book = load_workbook(path)
    rules = sorted(set(report["Rule"]))
    assert book.sheetnames[:2] == ["Summary", "Exceptions"] and sorted(book.sheetnames[2:]) == rules
    sheet = book["Exceptions"]
    assert sheet.freeze_panes == "A2"
    assert sheet.auto_filter.ref.startswith("A1:")
    assert sheet.max_row == report.height + 1
    header = [c.value for c in sheet[1]]
    money = header.index("Value at risk") + 1
    assert sheet.cell(row=2, column=money).number_format == reports.MONEY
    total = sum(sheet.cell(row=r, column=money).value for r in range(2, sheet.max_row + 1))
    assert total == pytest.approx(report["Value at risk"].sum())
    summary = book["Summary"]
    last = [c.value for c in summary[summary.max_row]]
    assert last[0] == "Total" and last[1] == report.height
    assert last[2] == pytest.approx(report["Value at risk"].sum())
    for rule in rules:
        assert book[rule].max_row == report.filter(report["Rule"] == rule).height + 1


def test_formula_strings_are_written_as_text(reported, tmp_path):
    path = tmp_path / "r.xlsx"
    reports.write_report(reported, path, "xlsx")
    sheet = load_workbook(path)["Exceptions"]
    header = [c.value for c in sheet[1]]
    product = header.index("Product") + 1
    cells = [sheet.cell(row=r, column=product) for r in range(2, sheet.max_row + 1)]
    evil = [c for c in cells if c.value and "HYPERLINK" in c.value]
    assert evil and all(c.data_type == "s" and c.value == "'" + HOSTILE for c in evil)
    csv_path = tmp_path / "r.csv"
    reports.write_report(reported, csv_path, "csv")
    rows = list(csv.DictReader(csv_path.open(encoding="utf-8")))
    assert any(r["Product"] == "'" + HOSTILE for r in rows)
    assert not any(v.startswith(("=", "+", "@")) for r in rows for v in r.values())
    assert reports.neutralise("-1+1") == "'-1+1" and reports.neutralise(-5) == -5


def test_filters_and_the_command(reported, tmp_path, capsys):
    only = reports.exception_report(reported, rules=["late_inbound"], locations=["SH-CDC"])
    assert set(only["Rule"]) == {"late_inbound"} and set(only["Location"]) == {"SH-CDC"}
    out = tmp_path / "cli.csv"
    db = str(reported.path)
    reported.close()
    assert (
        main(["report", "--db", db, "--format", "csv", "--out", str(out), "--rule", "stockout"])
        == 0
    )
    rows = list(csv.DictReader(out.open(encoding="utf-8")))
    assert rows and {r["Rule"] for r in rows} == {"stockout"}
    assert f"{len(rows):,} exceptions written" in capsys.readouterr().out


def test_a_report_without_a_run_is_refused(network, tmp_path):
    with pytest.raises(reports.ReportError, match="no exception run"):
        reports.write_report(network, tmp_path / "x.csv", "csv")
    assert not (tmp_path / "x.csv").exists()


def test_the_pdf_has_a_summary_page_with_totals_and_charts_then_every_exception(reported, tmp_path):
    from pypdf import PdfReader

    path = tmp_path / "r.pdf"
    report = reports.write_report(reported, path, "pdf")
    pages = PdfReader(path).pages
    first = pages[0].extract_text()
    assert "Exceptions as of 2024-03-01" in first
    assert (
        f"{report.height:,} exceptions, value at risk {report['Value at risk'].sum():,.0f}" in first
    )
    assert "Value at risk by rule" in first and "Value at risk by location" in first
    for rule in set(report["Rule"]):
        assert rule in first
    text = "\n".join(p.extract_text() for p in pages)
    for title in report["Exception"]:
        assert title in text


def test_the_pdf_draws_chinese_product_names_with_the_packaged_font(network, tmp_path):
    from pypdf import PdfReader

    ingest_frame(
        network,
        "products",
        pl.DataFrame(
            {"sku": ["TEA-1"], "name": ["臻选绿茶 500ml"], "unit_cost": [3.0], "category": ["x"]}
        ),
    )
    add_purchase_orders(network, [("PO-TEA", "TEA-1", "SH-CDC", 10, day(-20), day(-2), "open")])
    exceptions.run_exceptions(network, as_of=AS_OF, created_by=TESTER)
    path = tmp_path / "r.pdf"
    reports.write_report(network, path, "pdf")
    # pypdf reads the fallback font's glyphs with a NUL before each: drop both kinds of space
    text = "".join(PdfReader(path).pages[0].extract_text().replace("\x00", "").split())
    assert "臻选绿茶500ml" in text
    assert "Chinese text is left out" not in text


def test_the_pdf_explains_the_top_exceptions_drafted_actions(reported, tmp_path):
    from pypdf import PdfReader

    from control_tower import actions

    made = actions.propose_transfer(
        reported,
        "A-100",
        "SH-CDC",
        "CD-RDC",
        40,
        actions.Actor("li.planner", "planner"),
        reason="CD-RDC runs out on day 4: cover it from the central DC",
    )
    exceptions.run_exceptions(reported, as_of=AS_OF, created_by=TESTER)
    path = tmp_path / "r.pdf"
    report = reports.write_report(reported, path, "pdf")
    row = report.filter(pl.col("Explanation").str.contains(f"#{made['action_id']}")).row(
        0, named=True
    )
    assert row["Rule"] == "stockout"
    text = " ".join(" ".join(p.extract_text().split()) for p in PdfReader(path).pages)
    assert "Their drafted actions, explained" in text
    assert "cover it from the central DC" in text
