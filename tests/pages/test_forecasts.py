"""Forecasts page: the empty state, one SKU x location (method and why, chart, lead-time demand),
aggregates, the leaderboards against the services, hostile names shown as text, and a run
started from the page. The runs are real but small: two SKUs of the test demo, one worker."""

from __future__ import annotations

import json
import shutil
from datetime import date, timedelta
from pathlib import Path

import polars as pl
import pytest

from control_tower import forecast as fc
from control_tower.actions import Actor
from control_tower.config import ForecastSettings
from control_tower.ingest import ingest_frames
from control_tower.store import Store
from ui import tables
from ui.format import plain

from ._support import page, run, store_query, table

PLANNER = Actor("li.planner", "planner")
HOSTILE = "<b>bold</b> **stars** [link](https://example.com) :red[red] $x^2$ _under_ #1"


def _copy(source: Path, target: Path) -> Path:
    shutil.copy(source, target)
    wal = Path(f"{source}.wal")
    if wal.exists():
        shutil.copy(wal, Path(f"{target}.wal"))
    return target


@pytest.fixture(scope="module")
def forecast_db(demo_db: Path, tmp_path_factory) -> dict:
    """A copy of the demo with one product renamed to hostile text and one stored run of two
    SKUs (every location they have demand at)."""
    path = _copy(demo_db, tmp_path_factory.mktemp("forecasts") / "forecasts.duckdb")
    with Store(path) as store:
        skus = [r[0] for r in store.rows("SELECT DISTINCT sku FROM demand_history ORDER BY sku")]
        renamed = store.query(
            "SELECT sku, name, category, unit_cost, price FROM products WHERE sku = ?", [skus[0]]
        ).with_columns(pl.lit(HOSTILE).alias("name"))
        ingest_frames(store, {"products": renamed}, source="hostile")
        made = fc.forecast(
            store,
            ForecastSettings(workers=1, tuning_sample=4),
            skus=skus[:2],
            show_bar=False,
        )
    return {"path": path, "run_id": made.run_id, "skus": skus[:2], "other_sku": skus[2]}


@pytest.fixture
def on_forecast(forecast_db: dict, monkeypatch: pytest.MonkeyPatch, fresh_caches: None) -> dict:
    monkeypatch.setenv("CONTROL_TOWER_DB", str(forecast_db["path"]))
    monkeypatch.delenv("CONTROL_TOWER_CONFIG", raising=False)
    return forecast_db


@pytest.fixture
def on_forecast_copy(
    forecast_db: dict, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fresh_caches: None
) -> dict:
    """A private copy, for tests that write a new run."""
    path = _copy(forecast_db["path"], tmp_path / "copy.duckdb")
    monkeypatch.setenv("CONTROL_TOWER_DB", str(path))
    monkeypatch.delenv("CONTROL_TOWER_CONFIG", raising=False)
    return forecast_db | {"path": path}


def _with_store(path: Path, read):
    with Store(path) as store:
        return read(store)


def _figure(at, key: str) -> dict:
    charts = [c for c in at.get("plotly_chart") if c.proto.id and key in c.proto.id]
    assert charts, f"no chart {key}"
    return json.loads(charts[0].proto.spec)


def _trace(figure: dict, name: str) -> dict:
    found = [t for t in figure["data"] if t.get("name") == name]
    assert found, f"no trace {name!r} in {[t.get('name') for t in figure['data']]}"
    return found[0]


def test_no_run_yet_says_so_and_offers_the_run_button(on_demo):
    at = run(page("forecasts"))
    assert at.title[0].value == "Forecasts"
    assert any("No forecast run yet" in i.value for i in at.info)
    assert not at.error
    button = at.button(key="fc_start")
    assert button.label == "Forecast the whole network"
    assert at.multiselect(key="fc_new_skus").value == []
    # Before a whole-network run the page says how big it is.
    assert any("whole network" in w.value and "series" in w.value for w in at.warning)
    assert not at.get("plotly_chart")
    # Signed out, nobody starts a run: it is stored under the signed-in planner's name.
    assert button.disabled
    assert any("Sign in as a planner" in c.value for c in at.caption)


def test_the_run_picker_lists_runs_with_their_settings(on_forecast):
    at = run(page("forecasts"))
    picker = at.selectbox(key="fc_run")
    assert picker.value == on_forecast["run_id"]
    runs = table(at, "fc_runs")
    stored = _with_store(on_forecast["path"], lambda s: fc.get_run(s, on_forecast["run_id"]))
    row = runs[runs["run_id"] == stored.run_id].iloc[0]
    assert row["series_count"] == stored.series_count
    assert row["prophet_setting"] == stored.settings["prophet"]["name"]
    assert row["scope"] == "SKUs " + ", ".join(on_forecast["skus"])
    assert any(
        stored.settings["prophet"]["name"].replace("_", "\\_") in c.value for c in at.caption
    )


def test_one_series_shows_its_method_reason_chart_and_lead_time_demand(on_forecast):
    run_id, sku = on_forecast["run_id"], on_forecast["skus"][1]
    summary = _with_store(on_forecast["path"], lambda s: fc.series_summary(s, run_id))
    expected = summary.filter(pl.col("sku") == sku).sort("location").row(-1, named=True)

    at = run(page("forecasts"))
    at.selectbox(key="fc_sku").set_value(sku)
    run(at)
    at.selectbox(key="fc_location").set_value(expected["location"])
    run(at)

    box = at.container(key="fc_method").info[0].value
    assert f"Method: {tables.method_label(expected['method'])}" in box
    assert tables.demand_class_label(expected["demand_class"]) in box
    assert plain(expected["reason"]) in box
    if expected["rmsse"] is not None:
        assert f"RMSSE {expected['rmsse']:.3f}" in box
    if expected["failure"]:
        assert at.container(key="fc_method").warning

    figure = _figure(at, "fc_chart")
    daily = _with_store(
        on_forecast["path"],
        lambda s: fc.load_forecasts(s, run_id, sku=sku, location=expected["location"]),
    )
    assert _trace(figure, "forecast mean")["y"] == pytest.approx(daily["mean"].to_list())
    assert _trace(figure, "p50 (median)")["y"] == pytest.approx(daily["p50"].to_list())
    assert _trace(figure, "demand")["x"]  # history drawn
    assert any(s.get("type") == "line" for s in figure["layout"]["shapes"])  # the as-of line

    lead = table(at, "fc_lead_times")
    assert lead["lead_time_days"].tolist() == [7, 14, 28, 56]
    for days, p95, mean in zip(
        lead["lead_time_days"], lead["cum_p95"], lead["cum_mean"], strict=True
    ):
        assert p95 == pytest.approx(daily["cum_p95"][days - 1])
        assert mean == pytest.approx(daily["cum_mean"][days - 1])


def test_holidays_are_marked_on_the_chart(on_forecast):
    at = run(page("forecasts"))
    at.select_slider(key="fc_history_days").set_value(365)  # the demo's history spans festivals
    run(at)
    figure = _figure(at, "fc_chart")
    marks = _trace(figure, "holiday / festival")
    assert marks["x"] and all(name for name in marks["customdata"])
    assert any(s.get("type") == "rect" for s in figure["layout"]["shapes"])


def test_leaderboards_match_the_services(on_forecast):
    run_id = on_forecast["run_id"]
    by_method, by_class = _with_store(
        on_forecast["path"],
        lambda s: (
            fc.leaderboard(s, run_id, by="method"),
            fc.leaderboard(s, run_id, by="demand_class"),
        ),
    )
    at = run(page("forecasts"))

    shown = table(at, "fc_leaderboard_method")
    assert shown["method"].tolist() == [tables.method_label(m) for m in by_method["method"]]
    assert shown["series"].tolist() == by_method["series"].to_list()
    assert shown["chosen"].tolist() == by_method["chosen"].to_list()
    assert shown["weighted_rmsse"].tolist() == pytest.approx(by_method["weighted_rmsse"].to_list())
    assert (shown["median_wape"] / 100).tolist() == pytest.approx(
        by_method["median_wape"].to_list()
    )

    shown = table(at, "fc_leaderboard_class")
    assert shown["demand_class"].tolist() == [
        tables.demand_class_label(c) for c in by_class["demand_class"]
    ]
    assert shown["series"].sum() == _with_store(
        on_forecast["path"], lambda s: fc.get_run(s, run_id).series_count
    )
    assert shown["weighted_rmsse"].tolist() == pytest.approx(
        by_class["weighted_rmsse"].fill_null(float("nan")).to_list(), nan_ok=True
    )
    assert shown["failures"].tolist() == by_class["failures"].to_list()

    summary = _with_store(on_forecast["path"], lambda s: fc.series_summary(s, run_id))
    failed = summary.filter(pl.col("failure").is_not_null())
    if failed.is_empty():
        assert any("No series failed" in c.value for c in at.caption)
    else:
        assert len(table(at, "fc_failures")) == failed.height
    assert len(table(at, "fc_series")) == summary.height


def test_the_runs_festival_lifts_are_shown_by_category(on_forecast):
    """The lifts table shows what the run stored: one column per category plus all products,
    the phases that move demand (the test demo's 180 days hold 618: its day above 1, the lull
    after it below)."""
    settings = _with_store(
        on_forecast["path"], lambda s: fc.get_run(s, on_forecast["run_id"]).settings
    )
    record = settings["calendar_lifts"]
    expected = tables.lifts_table(record)
    at = run(page("forecasts"))
    shown = table(at, "fc_lifts")
    assert shown.columns.tolist() == expected.columns
    assert shown["phase"].tolist() == expected["phase"].to_list()
    all_products = dict(zip(shown["phase"], shown[tables.ALL_PRODUCTS], strict=True))
    assert all_products["618 day"] > 1.5
    assert all_products["618 lull"] < 0.95
    categories = {g["category"] for g in record["groups"]} - {"*"}
    assert categories and categories <= set(shown.columns)
    assert any(record["estimated_as_of"] in c.value for c in at.caption)


def test_hostile_product_names_are_shown_as_text(on_forecast):
    sku = on_forecast["skus"][0]
    at = run(page("forecasts"))
    at.selectbox(key="fc_sku").set_value(sku)
    run(at)
    heading = next(m.value for m in at.markdown if sku.replace("-", "\\-") in m.value)
    assert plain(HOSTILE) in heading
    assert "**stars**" not in heading and "<b>" not in heading and "[link](" not in heading
    # Tables and pickers show the name as it is.
    assert HOSTILE in table(at, "fc_series")["name"].tolist()
    assert HOSTILE in at.selectbox(key="fc_sku").format_func(sku)


@pytest.mark.parametrize(("view", "level"), [("Region", "region"), ("Category", "category")])
def test_aggregate_views_sum_the_run(on_forecast, view, level):
    run_id = on_forecast["run_id"]
    at = run(page("forecasts"))
    at.segmented_control(key="fc_view").set_value(view)
    run(at)
    group = at.selectbox(key=f"fc_{level}").value
    figure = _figure(at, "fc_aggregate_chart")
    expected = _with_store(
        on_forecast["path"], lambda s: fc.aggregate_forecast(s, run_id, level=level, key=group)
    )
    assert _trace(figure, "forecast mean")["y"] == pytest.approx(expected["mean"].to_list())
    assert _trace(figure, "p90–p95")["y"] == pytest.approx(expected["p95"].to_list())
    assert any("series summed" in m.value for m in at.markdown)


def test_network_view_history_covers_only_the_runs_series(on_forecast):
    """A run of two SKUs: the history line sums those series, not the whole network."""
    run_id = on_forecast["run_id"]
    at = run(page("forecasts"))
    at.segmented_control(key="fc_view").set_value("Network")
    run(at)
    figure = _figure(at, "fc_aggregate_chart")
    history = _trace(figure, "demand")
    last = date.fromisoformat(history["x"][-1][:10])
    rows = store_query(
        on_forecast["path"],
        "SELECT sum(quantity)::DOUBLE AS q FROM demand_history WHERE date = ? AND sku IN (?, ?)",
        [last, *on_forecast["skus"]],
    )
    assert history["y"][-1] == pytest.approx(rows["q"][0] or 0.0)
    expected = _with_store(on_forecast["path"], lambda s: fc.aggregate_forecast(s, run_id))
    assert _trace(figure, "forecast mean")["y"] == pytest.approx(expected["mean"].to_list())


def test_the_run_button_stores_a_run_of_the_chosen_skus(on_forecast_copy):
    sku = on_forecast_copy["other_sku"]
    locations = store_query(
        on_forecast_copy["path"],
        "SELECT count(DISTINCT location) AS n FROM demand_history WHERE sku = ?",
        [sku],
    )["n"][0]
    before = store_query(on_forecast_copy["path"], "SELECT max(run_id) AS r FROM forecast_runs")
    at = page("forecasts")
    at.session_state["actor"] = PLANNER
    run(at)
    at.multiselect(key="fc_new_skus").set_value([sku])
    at.number_input(key="fc_new_workers").set_value(1)
    at.number_input(key="fc_new_horizon").set_value(28)
    run(at)
    assert at.button(key="fc_start").label == "Forecast 1 SKU(s)"
    at.button(key="fc_start").click()
    run(at)

    assert not at.error
    new_id = int(before["r"][0]) + 1
    assert f"Run {new_id} stored" in at.success[0].value
    stored = store_query(
        on_forecast_copy["path"],
        "SELECT series_count, horizon, workers, scope, created_by FROM forecast_runs "
        "WHERE run_id = ?",
        [new_id],
    ).row(0, named=True)
    assert stored["created_by"] == PLANNER.name  # who started it, from the sign-in
    assert stored["series_count"] == locations
    assert stored["horizon"] == 28 and stored["workers"] == 1
    assert json.loads(stored["scope"])["skus"] == [sku]
    # The page now shows the new run.
    assert at.selectbox(key="fc_run").value == new_id
    assert at.selectbox(key="fc_sku").value == sku


def test_a_run_the_service_refuses_is_an_error_message(on_forecast_copy):
    at = page("forecasts")
    at.session_state["actor"] = PLANNER
    run(at)
    at.multiselect(key="fc_new_skus").set_value([on_forecast_copy["other_sku"]])
    at.number_input(key="fc_new_workers").set_value(1)
    first = store_query(on_forecast_copy["path"], "SELECT min(date) AS d FROM demand_history")
    before_any_demand = first["d"][0] - timedelta(days=30)
    at.date_input(key="fc_new_as_of").set_value(before_any_demand)
    run(at)
    assert at.date_input(key="fc_new_as_of").value == before_any_demand
    at.button(key="fc_start").click()
    run(at)
    assert at.error[0].value == "Nothing to forecast"
    assert at.text and "no demand history" in at.text[0].value
    assert (
        store_query(on_forecast_copy["path"], "SELECT count(*) AS n FROM forecast_runs")["n"][0]
        == 1
    )
