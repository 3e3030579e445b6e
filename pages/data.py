"""Data: import a file for one entity (preview and validate first, then write), the columns
each entity expects, and how fresh each source is."""

from __future__ import annotations

import polars as pl
import streamlit as st

from control_tower.ingest import ENTITIES, entity_columns, ingest_bytes, preview, read_upload
from ui import cached, state, tables
from ui.errors import reported, show_problems
from ui.widgets import keyed_table

st.title("Data")

FILE_TYPES = ["csv", "parquet", "xlsx"]
PREVIEW_ROWS = 50

with reported():
    store = state.get_store()
    if not state.has_data(store):
        st.info(
            "**No data yet.** Import files below in this order: "
            + " → ".join(ENTITIES)
            + ". Or build the demo from the *Overview* page."
        )

    st.subheader("Import a file")
    pick, expected = st.columns([1, 2])
    with pick:
        entity = st.selectbox(
            "What the file holds",
            ENTITIES,
            key="data_entity",
            format_func=lambda name: name.replace("_", " "),
        )
        upload = st.file_uploader(
            "File (CSV, Parquet or Excel)",
            type=FILE_TYPES,
            key="data_file",
            help="The first row names the columns. Nothing is written until you press Import.",
        )
    with expected:
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

    if upload is not None:
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
        parsed = report.typed if report.typed is not None else table.frame
        shown = tables.preview_rows(parsed, table.first_row)
        st.markdown(
            f"**Preview of {upload.name}**: {report.rows:,} row(s)"
            + (f", first {PREVIEW_ROWS} shown" if shown.height > PREVIEW_ROWS else "")
        )
        keyed_table(shown.head(PREVIEW_ROWS), key="import_preview")
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
