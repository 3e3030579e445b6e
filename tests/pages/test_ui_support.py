"""The pages' support package: number formats, table filters, figures and error tables."""

from __future__ import annotations

from datetime import date

import polars as pl

from control_tower.errors import RowProblem
from ui import charts, tables
from ui.errors import problems_frame
from ui.format import is_flat, kpi_delta, kpi_delta_color, kpi_value

POSITIONS = pl.DataFrame(
    {
        "sku": ["SKU-0001", "SKU-0001", "SKU-0002", "SKU-0003"],
        "name": ["矿泉水 500ml", "矿泉水 500ml", "Power bank", None],
        "category": ["饮料", "饮料", "Electronics", "日化"],
        "location": ["CDC", "RDC-BJ", "CDC", "RDC-BJ"],
        "location_name": ["上海中心仓", "北京区域仓", "上海中心仓", "北京区域仓"],
        "abc": ["A", "A", "B", None],
        "xyz": ["X", "X", "Z", None],
        "status": ["ok", "short", "no_stock", "dead"],
    }
)


def test_kpi_values_carry_their_units():
    assert kpi_value(1_234_567.0, "CNY") == "1.23M CNY"
    assert kpi_value(0.962, "%") == "96.2%"
    assert kpi_value(96.2, "%") == "96.2%"
    assert kpi_value(32.64, "days") == "32.6 days"
    assert kpi_value(17, "") == "17"
    assert kpi_value(None, "CNY") == "—"


def test_kpi_deltas_are_signed_and_coloured_by_what_is_better():
    assert kpi_delta(0.962, 0.971, "%") == "-0.9 pp"
    assert kpi_delta(12.0, 10.0, "") == "+2"
    assert kpi_delta(1_000_000.0, 1_500_000.0, "CNY") == "-500k CNY"
    assert kpi_delta(5.0, None, "") is None
    assert kpi_delta(3.0, 3.0, "days") == "±0 days"
    assert kpi_delta(0.9621, 0.9622, "%") == "±0.0 pp"
    assert is_flat("±0 days") and not is_flat("+1 days") and not is_flat(None)
    assert kpi_delta_color("higher") == "normal"
    assert kpi_delta_color("lower") == "inverse"
    assert kpi_delta_color(None) == "off"


def test_filters_combine_and_search_ignores_case_and_reads_chinese():
    frame = tables.with_class(POSITIONS)
    assert frame["abc_xyz"].to_list() == ["AX", "AX", "BZ", tables.NO_CLASS]
    assert tables.filter_positions(frame).height == 4
    assert tables.filter_positions(frame, locations=["CDC"]).height == 2
    assert tables.filter_positions(frame, locations=["CDC"], classes=["BZ"]).height == 1
    assert tables.filter_positions(frame, categories=["饮料"]).height == 2
    assert tables.filter_positions(frame, search="  sku-0002 ").height == 1
    assert tables.filter_positions(frame, search="矿泉").get_column("sku").unique().to_list() == [
        "SKU-0001"
    ]
    assert tables.filter_positions(frame, search="POWER").height == 1
    assert tables.filter_positions(frame, search="(").height == 0  # literal, not a regex


def test_status_is_shown_in_words():
    shown = tables.pick_columns(POSITIONS, ("sku", "status", "not_a_column"))
    assert shown.columns == ["sku", "status"]
    assert shown["status"].to_list() == ["ok", "short", "no stock", "dead"]


def test_network_figure_is_a_plain_scatter_with_lanes():
    locations = pl.DataFrame(
        {
            "location": ["CDC", "RDC-BJ", "RDC-GZ", "NOWHERE"],
            "location_name": ["上海中心仓", "北京区域仓", "广州区域仓", "no coordinates"],
            "kind": ["central_dc", "regional_dc", "regional_dc", "regional_dc"],
            "region": ["East", "North", "South", None],
            "lat": [31.2, 39.9, 23.1, None],
            "lon": [121.5, 116.4, 113.3, None],
            "stock_value": [1000.0, 500.0, 0.0, 10.0],
            "health_index": [80.0, 40.0, None, 50.0],
        }
    )
    fig = charts.network_figure(locations)
    layout = fig.to_plotly_json()["layout"]
    assert not {"mapbox", "map", "geo"} & set(layout)
    assert {t.type for t in fig.data} == {"scatter"}
    lines = [t for t in fig.data if t.mode == "lines"]
    assert len(lines) == 1 and list(lines[0].x).count(None) == 2  # central -> each regional
    markers = [t for t in fig.data if "markers" in t.mode][0]
    assert len(markers.x) == 3  # the location without coordinates is left out

    lanes = pl.DataFrame(
        {"from_location": ["RDC-BJ", "RDC-GZ"], "to_location": ["RDC-GZ", "RDC-BJ"]}
    )
    lateral = [t for t in charts.network_figure(locations, lanes).data if t.mode == "lines"]
    assert len(lateral) == 1 and lateral[0].line.dash == "dot"  # both directions, one line


def test_ledger_history_has_a_line_per_location():
    history = pl.DataFrame(
        {
            "date": [date(2025, 1, 1), date(2025, 1, 2), date(2025, 1, 1)],
            "location": ["CDC", "CDC", "RDC-BJ"],
            "on_hand": [10, 7, 3],
        }
    )
    fig = charts.ledger_history_figure(history, {"CDC": "上海中心仓"})
    assert [t.name for t in fig.data] == ["上海中心仓", "RDC-BJ"]
    assert list(fig.data[0].y) == [10, 7]


def test_preview_rows_carry_the_file_row_numbers():
    raw = pl.DataFrame({"sku": ["A", "B"], "row": ["x", "y"]})
    shown = tables.preview_rows(raw, 2)
    assert shown.columns == ["file row", "sku", "row"]
    assert shown["file row"].to_list() == [2, 3]
    typed = pl.DataFrame({"_row": [5, 9], "sku": ["A", "B"]})
    shown = tables.preview_rows(typed)
    assert shown.columns == ["row", "sku"] and shown["row"].to_list() == [5, 9]


def test_problems_table_has_the_report_columns():
    frame = problems_frame([RowProblem("a.csv", 2, "qty", "x", "not a number")])
    assert frame.columns == ["file", "row", "column", "value", "reason"]
    assert frame.row(0) == ("a.csv", 2, "qty", "x", "not a number")
    assert problems_frame([]).height == 0
