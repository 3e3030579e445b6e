"""The only page a signed-out visitor gets when signing in is required (suppliers can sign
in to this dashboard, so nobody reads the network signed out)."""

from __future__ import annotations

import streamlit as st

from ui.entry import through_app

through_app()

st.title("Control Tower")
st.info("Sign in (sidebar) to continue: your role decides what you see.", icon=":material/login:")
