"""Overview page: KPI tiles with formulas, the offline network picture, value charts, the
imbalances table, the health index formula, and the empty-database state."""

from __future__ import annotations

import json

from control_tower.ingest import ingest_frames
from control_tower.kpis import HEALTH_INDEX_FORMULA
from control_tower.store import Store
from tests.conftest import tiny_network_frames

from ._support import page, run, store_query, table


def _figures(at) -> list[dict]:
    return [json.loads(chart.proto.spec) for chart in at.get("plotly_chart")]


def test_overview_shows_kpi_tiles_with_formulas(on_demo):
    at = run(page("overview"))
    assert len(at.metric) >= 4
    for tile in at.metric:
        assert tile.label
        assert tile.value
        assert tile.help, f"KPI {tile.label!r} has no formula tooltip"


def test_overview_draws_the_network_without_map_tiles(on_demo):
    at = run(page("overview"))
    figures = _figures(at)
    assert len(figures) >= 3  # network, value by location, value by category
    network = figures[0]
    kinds = {trace.get("type", "scatter") for trace in network["data"]}
    assert kinds == {"scatter"}
    layout = network["layout"]
    assert not {"mapbox", "map", "geo"} & set(layout)
    markers = [t for t in network["data"] if "markers" in t.get("mode", "")]
    assert markers and len(markers[0]["x"]) >= 2
    assert any(t.get("mode") == "lines" for t in network["data"]), "no lanes drawn"


def test_overview_lists_imbalances_and_publishes_the_health_formula(on_demo):
    at = run(page("overview"))
    assert any(s.value == "Largest imbalances" for s in at.subheader)
    if at.success:  # a demo may have none; then the page says so
        assert "No imbalances" in at.success[0].value
    else:
        imbalances = table(at, "imbalances")
        assert len(imbalances) > 0
        expected = {"sku", "short_location_name", "excess_location_name", "movable_units"}
        assert expected <= set(imbalances.columns)
    formula = at.expander[0]
    assert "health index" in formula.label.lower()
    assert formula.markdown[0].value.strip() == HEALTH_INDEX_FORMULA.strip()


def test_empty_database_offers_to_build_the_demo(on_empty):
    at = run(page("overview"))
    assert "No data yet" in at.info[0].value
    assert at.button(key="build_demo").label.startswith("Build demo data")
    assert not at.metric


def test_master_data_without_movements_points_to_the_data_page_not_the_demo(on_empty):
    """The demo would overwrite the user's own locations and products: it is not offered."""
    frames = tiny_network_frames()
    with Store(on_empty) as store:
        ingest_frames(store, {e: frames[e] for e in ("locations", "products")}, source="mine")
    at = run(page("overview"))
    message = at.info[0].value
    assert "No stock movements" in message and "master data" in message
    assert "*Data* page" in message
    assert not [b for b in at.button if b.key == "build_demo"]
    assert not at.metric
    names = store_query(on_empty, "SELECT name FROM products ORDER BY sku")["name"].to_list()
    assert names == list(frames["products"].sort("sku")["name"])


def _demo_config(tmp_path, monkeypatch, skus: int, days: int) -> None:
    config = tmp_path / "control_tower.toml"
    config.write_text(
        f"[demo]\nskus = {skus}\nlocations = 3\ndays = {days}\nseed = 1\n", encoding="utf-8"
    )
    monkeypatch.setenv("CONTROL_TOWER_CONFIG", str(config))


def test_build_demo_button_fills_the_database(on_empty, tmp_path, monkeypatch):
    _demo_config(tmp_path, monkeypatch, skus=10, days=60)
    at = run(page("overview"))
    at.button(key="build_demo").click()
    run(at)
    assert not at.error
    assert len(at.metric) >= 4


def test_a_failed_demo_build_is_an_error_message_not_a_traceback(on_empty, tmp_path, monkeypatch):
    _demo_config(tmp_path, monkeypatch, skus=1, days=1)  # below the generator's minimum
    at = run(page("overview"))
    at.button(key="build_demo").click()
    run(at)
    assert at.error
    assert at.text and "skus" in at.text[0].value  # the detail under the title
