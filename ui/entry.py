"""Every page runs inside ``app.py``'s navigation, even when a server's first request is a
deep link.

Streamlit keeps the legacy multipage mode (a sidebar listing the files of ``pages/``, each run
on its own) until some session has called ``st.navigation``. So the first visitor of a freshly
started server who opens a bookmark such as ``/forecasts`` would get the page script alone:
no sections in the sidebar, no data date, no page settings. :func:`through_app`, called at the
top of every page, notices that mode and runs ``app.py`` in its place (its ``st.navigation``
ends the legacy mode for the whole server and picks the same page from the URL), then stops
the direct run. Under ``app.py``, or in a page test (``AppTest`` of one page file, where there
is no ``pages/`` folder next to the script), it does nothing.
"""

from __future__ import annotations

import runpy
from pathlib import Path

import streamlit as st
from streamlit.runtime.pages_manager import PagesManager

APP = Path(__file__).resolve().parent.parent / "app.py"


def through_app() -> None:
    if not PagesManager.uses_pages_directory:
        return
    runpy.run_path(str(APP), run_name="__main__")
    st.stop()
