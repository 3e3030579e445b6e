"""Inventory page: filters and search narrow the positions table; one SKU's detail shows
numbers straight from the ledger."""

from __future__ import annotations

import re

from ._support import page, run, store_query, table


def _rows(at) -> int:
    return len(at.dataframe(key="positions").value)


def test_inventory_has_filters_search_and_table(on_demo):
    at = run(page("inventory"))
    keys = {w.key for w in at.multiselect}
    assert {"inv_locations", "inv_categories", "inv_classes"} <= keys
    assert at.text_input(key="inv_search")
    total = store_query(on_demo, "SELECT count(*) AS n FROM products")["n"][0]
    assert _rows(at) >= total  # every SKU at least once


def test_location_filter_narrows_the_table(on_demo):
    at = run(page("inventory"))
    everything = _rows(at)
    location = store_query(on_demo, "SELECT min(code) AS code FROM locations")["code"][0]
    at.multiselect(key="inv_locations").set_value([location])
    run(at)
    narrowed = at.dataframe(key="positions").value
    assert 0 < len(narrowed) < everything
    assert set(narrowed["location"]) == {location}


def test_category_and_class_filters_narrow_the_table(on_demo):
    at = run(page("inventory"))
    everything = _rows(at)
    at.multiselect(key="inv_categories").set_value(at.multiselect(key="inv_categories").options[:1])
    run(at)
    by_category = _rows(at)
    assert 0 < by_category < everything
    at.multiselect(key="inv_categories").set_value([])
    klass = at.multiselect(key="inv_classes").options[0]
    at.multiselect(key="inv_classes").set_value([klass])
    run(at)
    assert set(at.dataframe(key="positions").value["abc_xyz"]) == {klass}


def test_search_finds_skus_by_code_and_by_chinese_name(on_demo):
    products = store_query(on_demo, "SELECT sku, name FROM products ORDER BY sku")
    at = run(page("inventory"))
    sku = products["sku"][0]
    at.text_input(key="inv_search").input(sku.lower())
    run(at)
    found = at.dataframe(key="positions").value
    assert len(found) > 0 and all(sku.lower() in s.lower() for s in found["sku"])

    cjk = [n for n in products["name"] if re.search(r"[\u4e00-\u9fff]", n or "")]
    if cjk:  # the demo names products in Chinese; search by one character of a name
        char = re.search(r"[\u4e00-\u9fff]", cjk[0]).group(0)
        at.text_input(key="inv_search").input(char)
        run(at)
        found = at.dataframe(key="positions").value
        assert len(found) > 0 and all(char in n for n in found["name"])


def test_no_match_says_so(on_demo):
    at = run(page("inventory"))
    at.text_input(key="inv_search").input("no-such-sku-anywhere")
    run(at)
    assert _rows(at) == 0
    assert any("No position matches" in i.value for i in at.info)


def test_sku_detail_on_hand_equals_the_ledger_sum(on_demo):
    at = run(page("inventory"))
    sku = sorted(set(at.dataframe(key="positions").value["sku"]))[3]
    at.selectbox(key="inv_sku").set_value(sku)
    run(at)
    network = table(at, "sku_network")
    ledger = store_query(
        on_demo,
        "SELECT location, sum(quantity)::BIGINT AS on_hand FROM ledger WHERE sku = ? "
        "GROUP BY location",
        [sku],
    )
    expected = dict(ledger.iter_rows())
    shown = dict(zip(network["location"], network["on_hand"], strict=True))
    for location, on_hand in shown.items():
        assert on_hand == expected.get(location, 0), location
    assert set(expected) <= set(shown)
    assert at.get("plotly_chart"), "no ledger history chart"


def test_selecting_a_table_row_opens_that_sku(on_demo):
    at = run(page("inventory"))
    table = at.dataframe(key="positions").value
    row = len(table) - 1
    at.session_state["positions"] = {"selection": {"rows": [row], "columns": [], "cells": []}}
    run(at)
    assert at.selectbox(key="inv_sku").value == table["sku"].iloc[row]


def test_a_stale_selection_after_filtering_is_harmless(on_demo):
    at = run(page("inventory"))
    last = len(at.dataframe(key="positions").value) - 1
    at.session_state["positions"] = {"selection": {"rows": [last], "columns": [], "cells": []}}
    run(at)
    chosen = at.selectbox(key="inv_sku").value
    at.text_input(key="inv_search").input(chosen)  # far fewer rows than the selected index
    run(at)
    assert at.selectbox(key="inv_sku").value == chosen


def test_empty_database_says_so(on_empty):
    at = run(page("inventory"))
    assert "No data yet" in at.info[0].value
    assert not at.dataframe
