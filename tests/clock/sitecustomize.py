"""The wall clock of a test run under ``pytest --clock HH:MM``, in every Python process the
tests start (the dashboard server of the browser tests, a CLI run).

tests/conftest.py puts this folder first on ``PYTHONPATH`` and names the clock in
``TESTS_CLOCK_OFFSET``: seconds from the real clock to the travelled one. Python imports
``sitecustomize`` at start-up, so the process reads the same time of day as the tests from its
first line on. Without the variable this does nothing. Nothing outside tests/ knows of it.
"""

from __future__ import annotations

import os

_offset = os.environ.get("TESTS_CLOCK_OFFSET")
if _offset:
    import time

    import time_machine

    time_machine.travel(time.time() + float(_offset), tick=True).start()
