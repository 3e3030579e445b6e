"""Reports: the latest exception run, filtered, to download as CSV, Excel (a summary sheet,
every exception, a sheet per rule) or PDF (a summary page with charts, then every exception),
as ``control-tower report`` writes them."""

from __future__ import annotations

import tempfile
from pathlib import Path

import polars as pl
import streamlit as st

from control_tower import exceptions, reports
from ui import state
from ui.entry import through_app
from ui.errors import reported
from ui.widgets import keyed_table

through_app()

st.title("Reports")

with reported():
    store = state.store_with_data()
    run = exceptions.latest_run(store)
    if run is None:
        st.info("**No exception run yet.** Run the rules on the *Exceptions* page first.")
        st.stop()
    everything = reports.exception_report(store)
    a, b, c = st.columns([2, 2, 1])
    rules = a.multiselect("Rule", list(exceptions.RULES), key="rep_rules")
    locations = b.multiselect(
        "Location", sorted(everything["Location"].drop_nulls().unique().to_list()), key="rep_locs"
    )
    severity = c.number_input("Severity at least", 0.0, value=0.0, step=100.0, key="rep_sev")
    report = everything.filter(pl.col("Severity") >= severity)
    if rules:
        report = report.filter(pl.col("Rule").is_in(rules))
    if locations:
        report = report.filter(pl.col("Location").is_in(locations))
    report = report.with_columns(Rank=pl.int_range(1, report.height + 1, dtype=pl.Int64))
    st.caption(
        f"Run {run['run_id']} as of **{run['as_of']}**: {report.height:,} exceptions, value at "
        f"risk {report['Value at risk'].sum():,.0f}"
    )
    keyed_table(report.head(500), key="rep_preview", height=360)
    title = f"Exceptions as of {run['as_of']} (run {run['run_id']}), {report.height:,} shown"
    with tempfile.TemporaryDirectory() as tmp:
        xlsx = reports.write_xlsx(report, Path(tmp) / "exceptions.xlsx", title=title)
        excel = xlsx.read_bytes()
        text = reports.write_csv(report, Path(tmp) / "exceptions.csv").read_bytes()
        pdf = reports.write_pdf(report, Path(tmp) / "exceptions.pdf", title=title).read_bytes()
    d1, d2, d3 = st.columns(3)
    d1.download_button(
        "Download Excel",
        excel,
        file_name=f"exceptions_{run['as_of']}.xlsx",
        mime="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        key="rep_xlsx",
    )
    d2.download_button(
        "Download CSV",
        text,
        file_name=f"exceptions_{run['as_of']}.csv",
        mime="text/csv",
        key="rep_csv",
    )
    d3.download_button(
        "Download PDF",
        pdf,
        file_name=f"exceptions_{run['as_of']}.pdf",
        mime="application/pdf",
        key="rep_pdf",
    )
