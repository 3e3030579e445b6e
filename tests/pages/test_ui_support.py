"""The pages' support package: number formats, table filters, figures and error tables."""

from __future__ import annotations

import re
from datetime import date, timedelta

import polars as pl
import pytest

from control_tower.errors import RowProblem
from ui import charts, forecast_charts, tables
from ui.errors import problems_frame
from ui.forecast_charts import holiday_label
from ui.format import formatted, is_flat, kpi_delta, kpi_delta_color, kpi_value, plain

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


# -- forecasts ------------------------------------------------------------------------------
def test_plain_shows_data_text_literally_in_markdown():
    hostile = "**bold** <b>x</b> [a](https://e.com) :red[r] $x$ #1\nsecond line"
    shown = plain(hostile)
    assert "\n" not in shown
    for raw in ("**", "<b>", "[a](", ":red[", "$x$"):
        assert raw not in shown
    # Removing the escapes gives the text back (newlines as spaces).
    assert re.sub(r"\\(.)", r"\1", shown) == hostile.replace("\n", " ")
    assert plain("矿泉水 500ml") == "矿泉水 500ml"
    assert plain(None) == "—" and plain("") == "—"


def test_formatted_numbers_show_a_dash_when_missing():
    assert formatted(0.4671, ".1%") == "46.7%"
    assert formatted(None, ".3f") == "—"
    assert formatted(float("inf"), ".3f") == "—"
    assert formatted(float("nan"), ".3f") == "—"


def test_lead_time_table_reads_the_cumulative_columns_at_each_window():
    days = 30
    forecast = pl.DataFrame(
        {
            "date": [date(2025, 1, 1) + timedelta(days=i) for i in range(days)],
            **{
                column: [float(i + 1) * factor for i in range(days)]
                for column, factor in (
                    ("cum_mean", 10),
                    ("cum_p50", 9),
                    ("cum_p90", 13),
                    ("cum_p95", 14),
                    ("cum_p99", 16),
                )
            },
        }
    )
    table = tables.lead_time_table(forecast)
    assert table["lead_time_days"].to_list() == [7, 14, 28, 30]  # 56 is past the horizon
    assert table["cum_mean"].to_list() == [70.0, 140.0, 280.0, 300.0]
    assert table["cum_p95"].to_list() == [98.0, 196.0, 392.0, 420.0]
    assert table["through"].to_list()[0] == date(2025, 1, 7)


def test_run_scope_and_label_in_words():
    assert tables.scope_text(None) == "all series"
    assert tables.scope_text('{"skus": ["A", "B"], "locations": []}') == "SKUs A, B"
    scope = '{"skus": ["A", "B", "C", "D", "E"], "locations": ["RDC-BJ"]}'
    assert tables.scope_text(scope) == "SKUs A, B, C +2 more · locations RDC-BJ"
    run = {"run_id": 3, "as_of": date(2025, 6, 30), "series_count": 1200, "scope": None}
    assert tables.run_label(run, latest=True) == (
        "Run 3 · as of 2025-06-30 · 1,200 series · all series (latest)"
    )


def test_method_and_class_labels():
    assert tables.method_label("weekday_average") == "weekday average"
    assert tables.method_label("prophet") == "Prophet"
    assert tables.method_label("a_new_method") == "a new method"
    assert tables.demand_class_label("too_short") == "too short to backtest"
    frame = tables.with_labels(
        pl.DataFrame({"method": ["sba", None], "demand_class": ["new", "x"]})
    )
    assert frame["method"].to_list() == ["SBA (Syntetos-Boylan)", None]
    assert frame["demand_class"].to_list() == ["new item", "x"]


def test_run_time_estimate_uses_earlier_runs():
    positions = pl.DataFrame(
        {
            "sku": ["A", "A", "B", "B"],
            "location": ["CDC", "RDC", "CDC", "RDC"],
            "demand_source": ["outbound", "demand", "outbound", "demand"],
        }
    )
    assert tables.estimated_series(positions) == 2
    assert tables.estimated_series(positions, ["A"]) == 1
    runs = pl.DataFrame(
        {
            "series_count": [100, 100, 5],
            "reused": [0, 100, 0],  # the second computed nothing, the third too little
            "duration_s": [30.0, 0.1, 100.0],
            "workers": [2, 0, 1],
        }
    )
    assert tables.seconds_per_series(runs) == pytest.approx(0.6)
    assert tables.seconds_per_series(runs.head(0)) == tables.DEFAULT_SECONDS_PER_SERIES
    assert tables.duration_text(20) == "under a minute"
    assert tables.duration_text(600) == "about 10 min"
    assert tables.duration_text(3 * 3600) == "about 3.0 h"


def test_series_groups_pick_the_series_of_a_region_or_category():
    summary = pl.DataFrame({"sku": ["A", "A", "B"], "location": ["RDC-BJ", "RDC-GZ", "RDC-BJ"]})
    positions = pl.DataFrame(
        {
            "sku": ["A", "A", "B"],
            "location": ["RDC-BJ", "RDC-GZ", "RDC-BJ"],
            "region": ["North", "South", "North"],
            "category": ["drinks", "drinks", "snacks"],
        }
    )
    groups = tables.series_groups(summary, positions)
    assert tables.group_series(groups, "region", "North") == (("A", "RDC-BJ"), ("B", "RDC-BJ"))
    assert tables.group_series(groups, "category", "drinks") == (("A", "RDC-BJ"), ("A", "RDC-GZ"))
    assert len(tables.group_series(groups, "network", None)) == 3


def test_holiday_days_merge_into_named_spans():
    holidays = pl.DataFrame(
        {
            "date": [date(2025, 11, 9), date(2025, 11, 10), date(2025, 11, 11), date(2025, 11, 13)],
            "holiday": ["double_11_run_up", "double_11_run_up", "double_11_day", "new_years_day"],
        }
    )
    assert holiday_label("double_11_run_up") == "Double 11 双十一: run up"
    assert holiday_label("spring_festival_week") == "Spring Festival 春节: week"
    assert forecast_charts.holiday_spans(holidays) == [
        ("Double 11 双十一: run up", date(2025, 11, 9), date(2025, 11, 10)),
        ("Double 11 双十一: day", date(2025, 11, 11), date(2025, 11, 11)),
        ("new years day", date(2025, 11, 13), date(2025, 11, 13)),
    ]


def test_forecast_figure_draws_history_bands_as_of_and_holidays():
    as_of = date(2025, 11, 8)
    history = pl.DataFrame(
        {
            "date": [as_of - timedelta(days=i) for i in range(3, -3, -1)],
            "quantity": [1.0, 2.0, 3.0, 4.0, 5.0, 6.0],
        }
    )
    forecast = pl.DataFrame(
        {
            "date": [as_of + timedelta(days=i) for i in (1, 2)],
            "mean": [4.0, 4.5],
            "p50": [4.0, 4.0],
            "p90": [7.0, 7.5],
            "p95": [8.0, 8.5],
        }
    )
    holidays = pl.DataFrame({"date": [as_of + timedelta(days=1)], "holiday": ["<b>x</b>"]})
    fig = forecast_charts.forecast_figure(history, forecast, as_of=as_of, holidays=holidays)
    names = [t.name for t in fig.data]
    assert names[:2] == ["demand", "actual after as-of"]
    assert {"p50–p90", "p90–p95", "p50 (median)", "forecast mean", "holiday / festival"} <= set(
        names
    )
    demand = fig.data[0]
    assert list(demand.y) == [1.0, 2.0, 3.0, 4.0]  # up to and including the as-of day
    assert list(fig.data[names.index("holiday / festival")].customdata) == ["&lt;b&gt;x&lt;/b&gt;"]
    shapes = fig.to_plotly_json()["layout"]["shapes"]
    assert {s["type"] for s in shapes} == {"line", "rect"}
    # An aggregate has no p50: its band starts at the mean.
    aggregate = forecast_charts.forecast_figure(
        history, forecast.drop("p50"), as_of=as_of, holidays=None
    )
    assert "mean–p90" in [t.name for t in aggregate.data]


def test_lifts_table_has_a_column_per_category_even_for_hostile_names():
    record = {
        "estimated_as_of": "2026-10-01",
        "groups": [
            {"country": "CN", "category": "*", "lifts": {"double_11_day": 2.5, "618_day": 1.02}},
            {"country": "CN", "category": "All products", "lifts": {"double_11_day": 3.0}},
            {"country": "CN", "category": "phase", "lifts": {"double_11_day": 1.5}},
            {"country": "CN", "category": "<b>x</b>/'\"", "lifts": {"spring_festival_week": 0.2}},
        ],
    }
    frame = tables.lifts_table(record)
    # all products first, then the categories by name, each in a column of its own
    assert frame.columns == [
        "phase",
        "All products",
        "<b>x</b>/'\"",
        "All products (2)",
        "phase (2)",
    ]
    # phases within 5% of 1 in every category are left out; a category without the phase: null
    assert frame["phase"].to_list() == ["double 11 day", "spring festival week"]
    assert frame["All products"].to_list() == [2.5, None]
    assert frame["<b>x</b>/'\""].to_list() == [None, 0.2]
    assert tables.lifts_table(None).is_empty() and tables.lifts_table({"groups": []}).is_empty()


def test_edited_rows_are_the_changed_ones_as_text():
    before = pl.DataFrame(
        {
            "sku": ["A", "B", "C"],
            "available_quantity": [10, None, 5],
            "available_date": [date(2026, 3, 1), None, None],
        }
    )
    after = pl.from_pandas(before.to_pandas())  # what st.data_editor hands back, unchanged
    assert tables.edited_rows(before, after, "available_quantity").height == 0
    edited = before.with_columns(
        pl.when(pl.col("sku") == "C")
        .then(7)
        .otherwise(pl.col("available_quantity"))
        .alias("available_quantity")
    ).to_pandas()
    changed = tables.edited_rows(before, pl.from_pandas(edited), "available_quantity")
    assert changed.rows() == [("C", "7", None)]
    # a row left without a quantity is not recorded
    blank = before.with_columns(pl.lit(None, pl.Int64).alias("available_quantity")).to_pandas()
    assert tables.edited_rows(before, pl.from_pandas(blank), "available_quantity").height == 0
