"""Data page: the expected columns of each entity, a preview that validates an upload before
anything is written, the import itself, and the freshness of each source."""

from __future__ import annotations

from control_tower.ingest import ENTITIES, entity_columns

from ._support import page, run, store_query, table

GOOD_PRODUCTS = "sku,name,category,unit_cost\nT-1,矿泉水 550ml,饮料,1.20\nT-2,绿茶,饮料,2.5\n"
BAD_PRODUCTS = "sku,name,category,unit_cost\nT-1,矿泉水,饮料,abc\n,绿茶,饮料,2.5\n"


def _upload(at, name: str, text: str, entity: str = "products"):
    at.selectbox(key="data_entity").set_value(entity)
    at.file_uploader(key="data_file").set_value((name, text.encode("utf-8"), "text/csv"))
    return run(at)


def test_data_page_has_entity_picker_uploader_and_expected_columns(on_demo):
    at = run(page("data"))
    assert list(at.selectbox(key="data_entity").options) == [e.replace("_", " ") for e in ENTITIES]
    uploader = at.file_uploader(key="data_file")
    assert {"csv", "parquet", "xlsx"} <= {t.lstrip(".") for t in uploader.allowed_type}
    at.selectbox(key="data_entity").set_value("lanes")
    run(at)
    expected = table(at, "expected_columns")
    assert list(expected["column"]) == [c.name for c in entity_columns("lanes")]


def test_a_bad_file_shows_its_problems_and_cannot_be_imported(on_demo):
    before = store_query(on_demo, "SELECT count(*) AS n FROM products")["n"][0]
    at = _upload(run(page("data")), "bad.csv", BAD_PRODUCTS)
    assert any("problem" in e.value for e in at.error)
    problems = table(at, "problems")
    assert list(problems.columns) == ["file", "row", "column", "value", "reason"]
    assert set(problems["file"]) == {"bad.csv"}
    assert {(int(r), c) for r, c in zip(problems["row"], problems["column"], strict=True)} >= {
        (2, "unit_cost"),
        (3, "sku"),
    }
    assert at.button(key="data_import").disabled
    after = store_query(on_demo, "SELECT count(*) AS n FROM products")["n"][0]
    assert after == before


def test_problems_beyond_the_listing_limit_are_counted(on_demo):
    rows = "".join(f"X-{i},name {i},cat,not-a-number\n" for i in range(80))
    at = _upload(run(page("data")), "many.csv", "sku,name,category,unit_cost\n" + rows)
    listed = table(at, "problems")
    assert len(listed) < 80
    assert any(f"{80 - len(listed)} more problem" in c.value for c in at.caption)


def test_an_unreadable_file_is_an_error_not_a_traceback(on_demo):
    at = _upload(run(page("data")), "empty.csv", "")
    assert at.error, "no error shown"
    assert "empty" in " ".join(str(x) for x in table(at, "problems")["reason"])


def test_a_good_file_previews_then_imports(on_empty):
    at = _upload(run(page("data")), "products.csv", GOOD_PRODUCTS)
    preview = table(at, "import_preview")
    assert list(preview["sku"]) == ["T-1", "T-2"]
    assert list(preview["row"]) == [2, 3]  # as the file's user counts them
    assert any("valid" in s.value for s in at.success)
    assert store_query(on_empty, "SELECT count(*) AS n FROM products")["n"][0] == 0

    at.button(key="data_import").click()
    run(at)
    assert any("Imported 2" in s.value for s in at.success)
    names = store_query(on_empty, "SELECT name FROM products ORDER BY sku")["name"].to_list()
    assert names == ["矿泉水 550ml", "绿茶"]
    fresh = table(at, "freshness")
    row = fresh[fresh["entity"] == "products"].iloc[0]
    assert row["source"] == "products.csv" and row["rows_written"] == 2


def test_freshness_lists_every_source(on_demo):
    at = run(page("data"))
    fresh = table(at, "freshness")
    assert set(ENTITIES) <= set(fresh["entity"])


def test_empty_database_says_so(on_empty):
    at = run(page("data"))
    assert "No data yet" in at.info[0].value
    assert at.file_uploader(key="data_file")
