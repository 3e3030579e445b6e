"""Data page: the expected columns of each entity, a preview that validates an upload before
anything is written, the import itself (one file, or several that depend on each other at
once), and the freshness of each source."""

from __future__ import annotations

from control_tower.ingest import ENTITIES, entity_columns, ingest_frames
from control_tower.store import Store
from tests.conftest import tiny_network_frames

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


# -- several files at once ---------------------------------------------------------------------

NEW_PRODUCTS = "sku,name,category,unit_cost\nN-1,新品 乌龙茶,饮料,3.10\nN-2,Plum candy,snacks,1.5\n"
DEMAND_OF_NEW = "sku,location,date,quantity\nN-1,CD-RDC,2024-01-05,12\nN-2,CQ-RDC,2024-01-05,7\n"
BAD_DEMAND = "sku,location,date,quantity\nN-1,CD-RDC,2024-01-05,12\nN-2,CQ-RDC,2024-01-05,lots\n"


def _with_locations(path) -> None:
    """The database at ``path`` holds the tiny network's locations and nothing else."""
    with Store(path) as store:
        ingest_frames(store, {"locations": tiny_network_frames()["locations"]}, source="fixture")


def _upload_many(at, files: dict[str, str]):
    at.segmented_control(key="data_mode").set_value("Several files at once")
    run(at)
    uploader = at.file_uploader(key="data_files")
    assert uploader.accept_multiple_files
    uploader.set_value([(name, text.encode("utf-8"), "text/csv") for name, text in files.items()])
    return run(at)


def _count(path, table_name: str) -> int:
    return int(store_query(path, f"SELECT count(*) AS n FROM {table_name}")["n"][0])  # noqa: S608


def test_files_that_depend_on_each_other_import_together(on_empty):
    _with_locations(on_empty)
    at = _upload_many(
        run(page("data")), {"demand.csv": DEMAND_OF_NEW, "products.csv": NEW_PRODUCTS}
    )
    files = table(at, "import_files")
    assert list(files["entity"]) == ["products", "demand"]  # import order, not upload order
    assert list(files["rows"]) == [2, 2]
    # Checked together, as the import will: the demand's SKUs come from products.csv.
    check = dict(zip(files["entity"], files["check"], strict=True))
    assert check == {"products": "valid", "demand": "valid"}
    assert list(table(at, "import_preview_demand")["sku"]) == ["N-1", "N-2"]
    button = at.button(key="data_import_many")
    assert not button.disabled
    assert _count(on_empty, "products") == 0

    button.click()
    run(at)
    assert not at.error
    assert any("Imported 2 file(s)" in s.value for s in at.success)
    results = table(at, "import_results")
    assert list(results.columns) == ["entity", "file", "read", "written", "skipped"]
    assert list(results["entity"]) == ["products", "demand"]
    assert list(results["file"]) == ["products.csv", "demand.csv"]
    assert list(results["written"]) == [2, 2]
    assert _count(on_empty, "products") == 2
    assert _count(on_empty, "demand_history") == 2


def test_one_bad_row_in_a_set_is_shown_with_its_file_and_blocks_the_import(on_empty):
    _with_locations(on_empty)
    at = _upload_many(run(page("data")), {"products.csv": NEW_PRODUCTS, "demand.csv": BAD_DEMAND})
    check = dict(
        zip(table(at, "import_files")["entity"], table(at, "import_files")["check"], strict=True)
    )
    assert check == {"products": "valid", "demand": "1 problem(s)"}
    problems = table(at, "preview_problems_demand")
    assert [
        (f, int(r), c) for f, r, c in problems[["file", "row", "column"]].itertuples(index=False)
    ] == [("demand.csv", 3, "quantity")]
    assert at.button(key="data_import_many").disabled
    assert _count(on_empty, "products") == 0
    assert _count(on_empty, "demand_history") == 0


def test_a_file_not_named_after_an_entity_is_reported(on_empty):
    at = _upload_many(run(page("data")), {"products.csv": GOOD_PRODUCTS, "stock.csv": "a,b\n1,2\n"})
    assert any("cannot be imported" in e.value for e in at.error)
    problems = table(at, "problems")
    assert list(problems["file"]) == ["stock.csv"]
    reason = problems["reason"][0]
    assert "locations.csv" in reason and "ledger.csv" in reason and "transfers.csv" in reason
    assert at.button(key="data_import_many").disabled
    assert _count(on_empty, "products") == 0


def test_two_files_for_one_entity_are_reported(on_empty):
    at = _upload_many(
        run(page("data")), {"products.csv": GOOD_PRODUCTS, "Products.xlsx": GOOD_PRODUCTS}
    )
    problems = table(at, "problems")
    assert list(problems["file"]) == ["Products.xlsx"]
    assert "second products file" in problems["reason"][0]
    assert at.button(key="data_import_many").disabled
