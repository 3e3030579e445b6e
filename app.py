"""Control Tower dashboard: `streamlit run app.py`.

Builds the navigation over the pages in ``pages/``; each page is a thin script that reads
its widgets, calls a ``control_tower`` service and renders the result.
"""

from __future__ import annotations

import streamlit as st

from control_tower import users
from control_tower.errors import ControlTowerError
from ui import auth, state
from ui.errors import reported

st.set_page_config(
    page_title="Control Tower",
    page_icon=":material/cell_tower:",
    layout="wide",
    initial_sidebar_state="expanded",
)

PAGES = {
    "Stock visibility": [
        st.Page("pages/overview.py", title="Overview", icon=":material/dashboard:", default=True),
        st.Page("pages/inventory.py", title="Inventory", icon=":material/inventory_2:"),
    ],
    "Planning": [
        st.Page("pages/forecasts.py", title="Forecasts", icon=":material/query_stats:"),
        st.Page("pages/policies.py", title="Policies", icon=":material/rule:"),
        st.Page("pages/plan.py", title="Plan", icon=":material/local_shipping:"),
    ],
    "Act": [
        st.Page(
            "pages/exceptions.py", title="Exceptions", icon=":material/notification_important:"
        ),
        st.Page("pages/actions.py", title="Actions and audit", icon=":material/fact_check:"),
        st.Page("pages/reports.py", title="Reports", icon=":material/summarize:"),
        st.Page("pages/agent.py", title="Ask the agent", icon=":material/forum:"),
    ],
    "Suppliers": [
        st.Page("pages/suppliers.py", title="Suppliers and VMI", icon=":material/handshake:"),
        st.Page("pages/supplier_portal.py", title="Supplier portal", icon=":material/storefront:"),
    ],
    "Data": [
        st.Page("pages/data.py", title="Data", icon=":material/upload_file:"),
    ],
}
# a supplier user reaches its portal and nothing else (every other page reads the whole network)
SUPPLIER_PAGES = {
    "Supplier": [
        st.Page(
            "pages/supplier_portal.py",
            title="Supplier portal",
            icon=":material/storefront:",
            default=True,
        )
    ]
}


SIGN_IN_PAGES = {
    "": [st.Page("pages/sign_in.py", title="Sign in", icon=":material/login:", default=True)]
}


def _pages() -> dict:
    """What this session may open: a supplier user its portal; a signed-out visitor, when
    signing in is required, the sign-in page; a sign-in that failed, the sign-in page
    (never the network)."""
    try:
        actor = auth.current_actor()
    except ControlTowerError:
        return SIGN_IN_PAGES
    if actor is None:
        store = state.get_store()
        return SIGN_IN_PAGES if users.sign_in_required(store, state.get_settings().auth) else PAGES
    return SUPPLIER_PAGES if actor.role == "supplier" else PAGES


page = st.navigation(_pages())

with st.sidebar, reported():
    store = state.get_store()
    as_of = state.data_as_of(store)
    st.caption(f"Data as of **{as_of}**" if as_of else "No data loaded yet")
    if page.title not in ("Supplier portal", "Sign in"):
        st.caption(f"Database: `{store.path}`")
    auth.sign_in_panel(store)

page.run()
