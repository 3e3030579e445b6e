"""A supplier in a real browser: the demo supplier of SUP-JNB signs in, sees the portal and
nothing else, uploads a stock file (a bad one first: refused, nothing written), and the
report lands in the store as of the end of the data's today (after the demo's reports of that
morning, whatever the time of day: tests/test_clock.py runs this at 00:30 and 23:30).

Run with ``pytest -m e2e``; they fail where ``/usr/bin/chromium`` is missing."""

from __future__ import annotations

from datetime import datetime, time

import pytest

from control_tower.store import Store
from tests.conftest import copy_of
from tests.e2e.conftest import click_until, demo_dashboard

pytestmark = pytest.mark.e2e

SUPPLIER = "demo.supplier"


def choose_file(page, path, attempts: int = 3) -> None:
    """Put ``path`` in the stock uploader until the uploader shows it and the app is idle. A
    file set while the app is still rerunning is sometimes dropped (seen on a loaded machine:
    the next click sent the file before it again); a person would choose it again."""
    from playwright.sync_api import expect

    uploader = page.locator(".st-key-sp_upload input[type=file]")
    shown = page.locator(".st-key-sp_upload").get_by_text(path.name)
    for attempt in range(attempts):
        uploader.set_input_files(str(path))
        try:
            expect(shown).to_be_visible(timeout=20_000)
            break
        except AssertionError:
            if attempt == attempts - 1:
                raise
    expect(page.get_by_test_id("stStatusWidget")).to_have_count(0)


def test_a_supplier_uploads_its_stock_in_the_portal(demo_db_path, tmp_path):
    from playwright.sync_api import expect

    path = copy_of(demo_db_path, tmp_path)
    with Store(path) as store:
        skus = [
            r[0]
            for r in store.rows(
                "SELECT sku FROM supplier_products WHERE supplier = 'SUP-JNB' ORDER BY sku LIMIT 2"
            )
        ]
        reports = store.scalar("SELECT count(*) FROM supplier_stock_reports")
        today = store.as_of()
    good = tmp_path / "jnb-stock.csv"
    good.write_text(
        "sku,available_quantity,available_date,capacity_week_1\n"
        f"{skus[0]},1234,,500\n{skus[1]},0,,\n",
        encoding="utf-8",
    )
    bad = tmp_path / "jnb-bad.csv"
    bad.write_text(f"sku,available_quantity\n{skus[0]},lots\n", encoding="utf-8")

    with demo_dashboard(path) as page:
        page.goto(f"{page.base_url}/")
        expect(page.get_by_role("heading", name="Overview")).to_be_visible()
        expect(page.get_by_test_id("stStatusWidget")).to_have_count(0)
        sidebar = page.get_by_test_id("stSidebar")
        sidebar.locator("summary", has_text="Sign in").click()
        click_until(
            sidebar.get_by_role("button", name=f"{SUPPLIER} (supplier of SUP-JNB)"),
            page.get_by_role("heading", name="Supplier portal"),
        )
        # the portal only: no other page in the navigation
        expect(sidebar.get_by_role("link", name="Overview")).to_have_count(0)
        expect(sidebar.get_by_role("link", name="Inventory")).to_have_count(0)
        page.get_by_text("Upload a stock file (CSV or Excel)").click()
        record = page.get_by_role("button", name="Record the upload")
        choose_file(page, bad)
        click_until(record, page.get_by_text("Import refused: nothing was written"))
        choose_file(page, good)
        click_until(record, page.get_by_text("Recorded jnb-stock.csv as report #"))
    with Store(path) as store:
        assert store.scalar("SELECT count(*) FROM supplier_stock_reports") == reports + 1
        rows = store.rows(
            "SELECT r.supplier, r.recorded_by, r.source, r.as_of, s.sku, s.available_qty "
            "FROM supplier_stock s JOIN supplier_stock_reports r USING (report_id) "
            "WHERE r.report_id = (SELECT max(report_id) FROM supplier_stock_reports) ORDER BY s.sku"
        )
        capacity = store.rows(
            "SELECT sku, capacity FROM supplier_capacity "
            "WHERE report_id = (SELECT max(report_id) FROM supplier_stock_reports)"
        )
    end = datetime.combine(today, time(23, 59, 59))
    assert rows == [
        ("SUP-JNB", SUPPLIER, "jnb-stock.csv", end, skus[0], 1234),
        ("SUP-JNB", SUPPLIER, "jnb-stock.csv", end, skus[1], 0),
    ]
    assert capacity == [(skus[0], 500)]
