"""Data: import one file for one entity, or several entity files at once (preview and
validate first, then write), the columns each entity expects, and how fresh each source is."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import streamlit as st
from streamlit.runtime.uploaded_file_manager import UploadedFile

from control_tower.errors import ImportValidationError, RowProblem
from control_tower.ingest import (
    ENTITIES,
    ImportResult,
    ValidationReport,
    entity_columns,
    ingest_bytes,
    ingest_tables,
    preview,
    preview_tables,
    read_upload,
)
from control_tower.ingest.reader import Table
from control_tower.store import Store
from ui import cached, state, tables
from ui.entry import through_app
from ui.errors import reported, show_error, show_problems
from ui.widgets import keyed_table

through_app()  # a deep link as a server's first request: run the app around it

st.title("Data")

FILE_TYPES = ["csv", "parquet", "xlsx"]
PREVIEW_ROWS = 50
ONE_FILE = "One file"
SEVERAL_FILES = "Several files at once"
EXPECTED_NAMES = ", ".join(f"`{entity}.csv`" for entity in ENTITIES)


def entity_label(name: str) -> str:
    return name.replace("_", " ")


def expected_columns(entity: str) -> None:
    """The columns of ``entity`` (required ones marked) and an empty template to download."""
    specs = entity_columns(entity)
    st.markdown(f"**Columns of `{entity}`** (required ones must be present and filled)")
    keyed_table(
        pl.DataFrame(
            {
                "column": [c.name for c in specs],
                "type": [str(c.dtype) for c in specs],
                "required": [bool(c.required) for c in specs],
                "description": [tables.describe_column(c) for c in specs],
            }
        ),
        key="expected_columns",
        column_config={
            "column": st.column_config.TextColumn("column", width="small"),
            "type": st.column_config.TextColumn("type", width="small"),
            "required": st.column_config.CheckboxColumn("required", width="small"),
            "description": st.column_config.TextColumn("description", width="large"),
        },
    )
    st.download_button(
        f"Download an empty {entity} template (CSV)",
        data=(",".join(c.name for c in specs) + "\n").encode("utf-8"),
        file_name=f"{entity}.csv",
        mime="text/csv",
        key="data_template",
        icon=":material/download:",
        on_click="ignore",
    )


def show_preview(table: Table, report: ValidationReport, key: str) -> None:
    """The first rows of a read file, numbered as in the file."""
    parsed = report.typed if report.typed is not None else table.frame
    shown = tables.preview_rows(parsed, table.first_row)
    st.markdown(
        f"**Preview of {table.name}**: {report.rows:,} row(s)"
        + (f", first {PREVIEW_ROWS} shown" if shown.height > PREVIEW_ROWS else "")
    )
    keyed_table(shown.head(PREVIEW_ROWS), key=key)


def one_file(store: Store) -> None:
    """One file for one chosen entity: preview, validate, then import."""
    pick, expected = st.columns([1, 2])
    with pick:
        entity = st.selectbox(
            "What the file holds", ENTITIES, key="data_entity", format_func=entity_label
        )
        upload = st.file_uploader(
            "File (CSV, Parquet or Excel)",
            type=FILE_TYPES,
            key="data_file",
            help="The first row names the columns. Nothing is written until you press Import.",
        )
    with expected:
        expected_columns(entity)

    if upload is None:
        return
    data = upload.getvalue()
    # Check a file once per (upload, entity, store state), not on every rerun.
    checked_key = (upload.file_id, entity, store.path, store.version)
    checked = st.session_state.get("data_checked")
    if checked is None or checked[0] != checked_key:
        with st.spinner(f"Reading and checking {upload.name}…"):
            table = read_upload(data, upload.name)
            report = preview(
                store, entity, table.frame, source=table.name, first_row=table.first_row
            )
        st.session_state["data_checked"] = (checked_key, table, report)
    else:
        _, table, report = checked
    show_preview(table, report, key="import_preview")
    if report.ok:
        st.success(f"All {report.rows:,} row(s) are valid for `{entity}`.")
    else:
        st.error(
            f"{report.total_problems:,} problem(s) found: fix the file and upload it again. "
            "Nothing has been written.",
            icon=":material/error:",
        )
        show_problems(report.problems, report.total_problems)
    if st.button(
        f"Import {report.rows:,} row(s) into {entity}",
        key="data_import",
        type="primary",
        disabled=not report.ok,
        icon=":material/upload:",
    ):
        with st.spinner(f"Importing {upload.name}…"):
            result = ingest_bytes(store, entity, data, upload.name)
        st.success(
            f"Imported {result.rows_written:,} of {result.rows_read:,} row(s) into "
            f"`{result.entity}` from {result.source}"
            + (
                f"; {result.rows_skipped:,} already present, skipped."
                if result.rows_skipped
                else "."
            )
        )


def entity_of(filename: str) -> str | None:
    """The entity a file is named after (``Ledger.parquet`` -> ``ledger``), or None."""
    stem = Path(filename).stem.lower()
    return stem if stem in ENTITIES else None


Checked = dict[str, tuple[Table, ValidationReport]]


def check_files(store: Store, uploads: list[UploadedFile]) -> tuple[Checked, list[RowProblem]]:
    """The uploads read and checked together, by entity in import order (references between
    them resolve, as in the import), and the problems of the files that cannot be imported at
    all (misnamed, duplicated, unreadable)."""
    refused: list[RowProblem] = []
    named: dict[str, UploadedFile] = {}
    for upload in uploads:
        entity = entity_of(upload.name)
        if entity is None:
            refused.append(
                RowProblem(
                    upload.name,
                    None,
                    None,
                    None,
                    "not named after what it holds: name each file after its entity, one of "
                    + ", ".join(f"{e}.csv" for e in ENTITIES)
                    + " (or .parquet, .xlsx)",
                )
            )
        elif entity in named:
            refused.append(
                RowProblem(
                    upload.name,
                    None,
                    None,
                    None,
                    f"a second {entity} file (the first is {named[entity].name}): "
                    "upload one file per entity",
                )
            )
        else:
            named[entity] = upload
    tables: dict[str, Table] = {}
    for entity in ENTITIES:
        if entity not in named:
            continue
        upload = named[entity]
        try:
            tables[entity] = read_upload(upload.getvalue(), upload.name)
        except ImportValidationError as exc:
            refused.extend(exc.problems)
    # Checked together, as the import will: references between the files resolve.
    reports = preview_tables(store, tables)
    checked: Checked = {entity: (tables[entity], reports[entity]) for entity in reports}
    return checked, refused


def results_frame(results: dict[str, ImportResult]) -> pl.DataFrame:
    ordered = sorted(results.values(), key=lambda r: ENTITIES.index(r.entity))
    return pl.DataFrame(
        {
            "entity": [r.entity for r in ordered],
            "file": [r.source for r in ordered],
            "read": [r.rows_read for r in ordered],
            "written": [r.rows_written for r in ordered],
            "skipped": [r.rows_skipped for r in ordered],
        },
        schema={
            "entity": pl.String,
            "file": pl.String,
            "read": pl.Int64,
            "written": pl.Int64,
            "skipped": pl.Int64,
        },
    )


def several_files(store: Store) -> None:
    """Several entity files, named after their entity, imported together in one transaction,
    so files that depend on each other (transfers and the ledger) load at once."""
    pick, expected = st.columns([1, 2])
    with pick:
        uploads = st.file_uploader(
            "Files (CSV, Parquet or Excel), one per entity",
            type=FILE_TYPES,
            accept_multiple_files=True,
            key="data_files",
            help="Name each file after what it holds, e.g. locations.csv, ledger.parquet. "
            "Nothing is written until you press Import; then every file is written, or none.",
        )
        st.caption(
            f"Name each file after what it holds: {EXPECTED_NAMES} (or `.parquet`, `.xlsx`). "
            "The files are imported together, all or nothing, and may refer to each other: "
            "a ledger's sales may use the stock its transfers bring, and the transfers the "
            "stock the ledger's receipts bring."
        )
    with expected:
        entity = st.selectbox(
            "Show the columns of", ENTITIES, key="data_columns_of", format_func=entity_label
        )
        expected_columns(entity)

    if not uploads:
        return
    # Check the files once per (set of uploads, store state), not on every rerun.
    checked_key = (tuple(u.file_id for u in uploads), store.path, store.version)
    cache = st.session_state.get("data_checked_many")
    if cache is None or cache[0] != checked_key:
        with st.spinner(f"Reading and checking {len(uploads)} file(s)…"):
            checked, refused = check_files(store, uploads)
        st.session_state["data_checked_many"] = (checked_key, checked, refused)
    else:
        _, checked, refused = cache

    if refused:
        st.error(
            f"{len({p.file for p in refused}):,} file(s) cannot be imported as they are: "
            "rename, fix or remove them. Nothing has been written.",
            icon=":material/error:",
        )
        show_problems(refused)
    if checked:
        keyed_table(
            pl.DataFrame(
                {
                    "entity": list(checked),
                    "file": [t.name for t, _ in checked.values()],
                    "rows": [r.rows for _, r in checked.values()],
                    "check": [
                        "valid" if r.ok else f"{r.total_problems:,} problem(s)"
                        for _, r in checked.values()
                    ],
                }
            ),
            key="import_files",
        )
        if any(not r.ok for _, r in checked.values()):
            st.error(
                "Some files have problems (checked together with the others of this upload): "
                "the import would refuse them. Stock balances are checked at import.",
                icon=":material/error:",
            )
        for tab, (entity, (table, report)) in zip(
            st.tabs([f"{entity_label(e)} ({t.name})" for e, (t, _) in checked.items()]),
            checked.items(),
            strict=True,
        ):
            with tab:
                show_preview(table, report, key=f"import_preview_{entity}")
                if not report.ok:
                    st.caption("Problems:")
                    show_problems(
                        report.problems, report.total_problems, key=f"preview_problems_{entity}"
                    )

    rows = sum(r.rows for _, r in checked.values())
    if st.button(
        f"Import {len(checked)} file(s), {rows:,} row(s), together",
        key="data_import_many",
        type="primary",
        disabled=bool(refused) or not checked or any(not r.ok for _, r in checked.values()),
        icon=":material/upload:",
    ):
        try:
            with st.spinner(f"Importing {len(checked)} file(s)…"):
                results = ingest_tables(store, {e: t for e, (t, _) in checked.items()})
        except ImportValidationError as exc:
            show_error(exc)
        else:
            written = sum(r.rows_written for r in results.values())
            st.success(
                f"Imported {len(results)} file(s): {written:,} row(s) written.",
                icon=":material/check_circle:",
            )
            keyed_table(
                results_frame(results),
                key="import_results",
                column_config={
                    name: st.column_config.NumberColumn(name, format="localized")
                    for name in ("read", "written", "skipped")
                },
            )


with reported():
    store = state.get_store()
    if not state.has_data(store):
        st.info(
            "**No data yet.** Import files below in this order: "
            + " → ".join(ENTITIES)
            + " (or several at once: files that depend on each other, such as transfers and "
            "the ledger, must come together). Or build the demo from the *Overview* page."
        )

    st.subheader("Import")
    mode = st.segmented_control(
        "How many files",
        [ONE_FILE, SEVERAL_FILES],
        default=ONE_FILE,
        required=True,
        key="data_mode",
        help="Several files at once: each named after its entity, imported together in one "
        "go, so files that depend on each other (transfers and the ledger) load at once.",
    )
    if mode == SEVERAL_FILES:
        several_files(store)
    else:
        one_file(store)

    st.subheader("Freshness of each source")
    fresh = cached.freshness(store)
    if fresh.is_empty():
        st.caption("Nothing imported yet.")
    else:
        keyed_table(
            fresh,
            key="freshness",
            column_config={
                "last_import": st.column_config.DatetimeColumn(
                    "last import", format="YYYY-MM-DD HH:mm"
                ),
                "rows_in_store": st.column_config.NumberColumn("rows in store", format="localized"),
                "rows_read": st.column_config.NumberColumn("rows read", format="localized"),
                "rows_written": st.column_config.NumberColumn("rows written", format="localized"),
                "rows_skipped": st.column_config.NumberColumn("rows skipped", format="localized"),
                "data_from": st.column_config.DateColumn("data from"),
                "data_to": st.column_config.DateColumn("data to"),
            },
        )
