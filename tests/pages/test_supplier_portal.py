"""The supplier portal and the suppliers page through AppTest: a supplier user sees only its
own supplier, whatever it asks; staff pick any supplier; what is recorded reaches the store."""

from __future__ import annotations

from pathlib import Path

import pytest

from control_tower.actions import Actor
from tests.conftest import copy_of
from tests.pages._support import page, run, store_query, table

JNB = Actor("wang.jnb", "supplier", "SUP-JNB")
MNF = Actor("chen.mnf", "supplier", "SUP-MNF")
PLANNER = Actor("li.planner", "planner")


def portal(actor: Actor | None):
    at = page("supplier_portal")
    if actor is not None:
        at.session_state["actor"] = actor
    return run(at)


def skus_of(db: Path, supplier: str) -> set[str]:
    return set(
        store_query(db, "SELECT sku FROM supplier_products WHERE supplier = ?", [supplier])["sku"]
    )


def test_signed_out_the_portal_shows_nothing(on_demo: Path) -> None:
    at = portal(None)
    assert any("Sign in" in i.value for i in at.info)
    assert not at.tabs


def test_a_supplier_sees_only_its_own_items_everywhere(on_demo: Path) -> None:
    at = portal(JNB)
    assert "sp_supplier" not in [s.key for s in at.selectbox]
    # an upload is as of the end of a data day, never of the wall clock's time when it rendered
    assert not at.time_input
    assert (
        at.date_input(key="sp_asof_day").value
        == store_query(on_demo, "SELECT max(date) AS d FROM demand_history")["d"][0]
    )
    own = skus_of(on_demo, "SUP-JNB")
    assert set(table(at, "sp_editor_SUP-JNB")["sku"]) == own
    for key in ("sp_reports", "sp_orders", "sp_levels", "sp_statements", "sp_payables"):
        frame = table(at, key)
        if "sku" in frame.columns:
            assert set(frame["sku"]) <= own, key
    levels = table(at, "sp_levels")
    assert len(levels) > 0 and set(levels["location"]) == {"VMI-KS"}
    payables = table(at, "sp_payables")
    assert set(payables["sku"]) <= own
    # the other supplier: none of SUP-JNB's items, no VMI levels
    other = portal(MNF)
    mine = skus_of(on_demo, "SUP-MNF")
    for key in ("sp_reports", "sp_orders"):
        frame = table(other, key)
        if "sku" in frame.columns:
            assert set(frame["sku"]) <= mine, key
    assert any("No VMI levels" in i.value for i in other.info)
    assert any("No statement" in i.value for i in other.info)


def test_the_app_gives_a_supplier_user_the_portal_only(on_demo: Path) -> None:
    at = page("app")
    at.session_state["actor"] = JNB
    run(at)
    assert [t.value for t in at.title] == ["Supplier portal"]
    staff = page("app")
    staff.session_state["actor"] = PLANNER
    run(staff)
    assert staff.title[0].value != "Supplier portal"


def test_staff_pick_any_supplier(on_demo: Path) -> None:
    at = portal(PLANNER)
    codes = at.selectbox(key="sp_supplier").options
    assert len(codes) == 5
    at.selectbox(key="sp_supplier").select_index(
        [i for i, c in enumerate(codes) if c.startswith("SUP-MNF")][0]
    )
    run(at)
    assert set(table(at, "sp_orders")["sku"]) <= skus_of(on_demo, "SUP-MNF")


@pytest.fixture
def on_copy(demo_db_path: Path, tmp_path: Path, monkeypatch, fresh_caches) -> Path:
    path = copy_of(demo_db_path, tmp_path)
    monkeypatch.setenv("CONTROL_TOWER_DB", str(path))
    monkeypatch.delenv("CONTROL_TOWER_CONFIG", raising=False)
    return path


def test_a_supplier_records_a_shipment_and_changes_a_level(on_copy: Path) -> None:
    at = portal(JNB)
    line = at.selectbox(key="sp_ship_line").value
    po, sku = line.split(" · ")
    at.number_input(key="sp_ship_qty").set_value(1)
    [b for b in at.button if b.label == "Record the shipment"][0].click()
    run(at)
    assert any("Shipment #" in s.value for s in at.success)
    shipped = store_query(
        on_copy, "SELECT supplier, po_number, sku, quantity, recorded_by FROM supplier_shipments"
    )
    assert shipped.rows() == [("SUP-JNB", po, sku, 1, "wang.jnb")]

    # a level change needs a reason: refused, nothing written
    before = store_query(on_copy, "SELECT count(*) AS n FROM vmi_level_events")["n"][0]
    choice = at.selectbox(key="sp_level_pick").value
    at.number_input(key=f"sp_min_{choice}").set_value(10)
    at.number_input(key=f"sp_max_{choice}").set_value(500)
    [b for b in at.button if b.label == "Change"][0].click()
    run(at)
    assert at.error
    assert store_query(on_copy, "SELECT count(*) AS n FROM vmi_level_events")["n"][0] == before
    at.text_input(key="sp_level_reason").input("new filling line, smaller batches")
    [b for b in at.button if b.label == "Change"][0].click()
    run(at)
    last = store_query(
        on_copy,
        "SELECT actor, min_after, max_after, reason FROM vmi_level_events ORDER BY event_id DESC "
        "LIMIT 1",
    ).row(0, named=True)
    assert (last["actor"], last["min_after"], last["max_after"]) == ("wang.jnb", 10, 500)


def test_the_suppliers_page_shows_the_scorecard_and_settlement(on_demo: Path) -> None:
    at = page("suppliers")
    run(at)
    card = table(at, "sup_card")
    assert len(card) == 5
    jnb = card[card["supplier"] == "SUP-JNB"].iloc[0]
    assert 0 <= jnb["on_time_rate"] <= 1 and jnb["lead_time_mean_days"] > 0
    statements = table(at, "sup_statements")
    # every full month is settled; only the last one's count differs, on two SKUs
    assert set(statements["supplier"]) == {"SUP-JNB"} and len(statements) >= 2
    assert statements["reported"].all()
    assert list(statements["differing_lines"]) == [2] + [0] * (len(statements) - 1)
    stock = table(at, "sup_stock")
    assert set(stock["supplier"]) == {"SUP-BYC", "SUP-HQE", "SUP-JNB", "SUP-MNF", "SUP-YZC"}


def test_once_suppliers_can_sign_in_nobody_reads_signed_out(on_copy: Path) -> None:
    from control_tower import users
    from control_tower.store import Store

    open_app = run(page("app"))
    assert open_app.title[0].value == "Overview"  # an internal demo: reading needs no sign-in
    with Store(on_copy) as store:
        users.add_user(
            store, "wang.jnb", "supplier", "a long password", by="admin", supplier="SUP-JNB"
        )
    at = run(page("app"))
    assert [t.value for t in at.title] == ["Control Tower"]
    assert any("Sign in" in i.value for i in at.info)
    assert not at.dataframe  # no data on the page a signed-out visitor gets
    # signed in as staff, the network again
    staff = page("app")
    staff.session_state["actor"] = PLANNER
    assert run(staff).title[0].value == "Overview"


def test_staff_issue_a_statement_on_the_suppliers_page(on_copy: Path) -> None:
    """October is settled in the demo; a consumption posted late for October goes on a
    further statement of it, issued from the page; a viewer cannot issue one."""
    from datetime import datetime

    from control_tower import ledger
    from control_tower.ledger import Movement, MovementType
    from control_tower.store import Store

    with Store(on_copy) as store:
        sku = store.scalar("SELECT min(sku) FROM vmi_levels")
        ledger.post(
            store,
            [
                Movement(
                    "late-rc",
                    datetime(2026, 10, 20, 8),
                    sku,
                    "VMI-KS",
                    MovementType.RECEIPT,
                    1,
                    "SUP-JNB",
                    "PO-LATE",
                ),
                Movement(
                    "late-oct", datetime(2026, 10, 20, 9), sku, "VMI-KS", MovementType.ISSUE, -1
                ),
            ],
        )
    at = page("suppliers")
    at.session_state["actor"] = Actor("sun.viewer", "viewer")
    run(at)
    at.selectbox(key="sup_issue_supplier").select("SUP-JNB")
    [b for b in at.button if b.label == "Issue"][0].click()
    run(at)
    assert at.error  # a viewer may not
    at.session_state["actor"] = PLANNER
    [b for b in at.button if b.label == "Issue"][0].click()
    run(at)
    assert any("Issued statement ST-" in s.value for s in at.success)
    last = store_query(
        on_copy,
        "SELECT period_start, quantity, issued_by FROM settlement_statements "
        "ORDER BY statement_id DESC LIMIT 1",
    ).row(0)
    assert (str(last[0]), last[1], last[2]) == ("2026-10-01", 1, "li.planner")
