"""Column settings of the supplier tables that both the Supplier portal and the Suppliers and
VMI page show (the same figures under the same names on both)."""

from __future__ import annotations

import streamlit as st

NUMBER = st.column_config.NumberColumn

STATEMENT_COLUMNS = {
    "quantity": NUMBER("quantity", format="localized"),
    "amount": NUMBER("amount", format="localized"),
    "difference_units": NUMBER("units in dispute", format="localized"),
    "issued_at": st.column_config.DatetimeColumn("issued", format="YYYY-MM-DD HH:mm"),
}

LEVEL_COLUMNS = {
    "min_qty": NUMBER("min", format="localized"),
    "max_qty": NUMBER("max", format="localized"),
    "consigned": NUMBER("consigned", format="localized"),
    "on_order": NUMBER("on call-off", format="localized"),
}
