"""Support for the Streamlit pages: the one place long-lived objects are built (`state`),
cached service calls (`cached`), figure builders (`charts`), table helpers (`tables`), KPI
number formats (`format`), small rendering helpers (`widgets`) and the way errors are shown
(`errors`).

Nothing here runs SQL or opens DuckDB: every figure comes from a `control_tower` service.
"""
