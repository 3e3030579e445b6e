"""No behaviour or test depends on the time of day (issue 17): the tests that come near the
wall clock pass with it just after midnight and just before the next one, in the test process
and in the dashboard server the browser test starts (``pytest --clock HH:MM``, see
tests/conftest.py and tests/clock/sitecustomize.py). Before the portal's reports were dated in
data time, the browser test failed here at 00:30: its upload was older than the demo's report
of 07:30 that day."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import CLOCK_ENV

ROOT = Path(__file__).resolve().parents[1]
CLOCK_SENSITIVE = (
    "tests/test_collab.py",
    "tests/test_actions.py",
    "tests/pages/test_supplier_portal.py",
    "tests/e2e/test_supplier_portal.py",
)


@pytest.mark.parametrize("clock", ["00:30", "23:30"])
def test_the_clock_sensitive_tests_pass_at_any_time_of_day(
    clock: str, request: pytest.FixtureRequest
) -> None:
    # the markers this run selects (-m 'not e2e' leaves the browser test out there too)
    marks = request.config.option.markexpr
    env = {name: value for name, value in os.environ.items() if name != CLOCK_ENV}
    out = subprocess.run(
        [sys.executable, "-m", "pytest", "--clock", clock, "-m", marks, *CLOCK_SENSITIVE],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=1200,
    )
    print(out.stdout, out.stderr, sep="\n")  # the whole run, shown when this fails
    assert re.search(rf"^clock: wall clock travelled to \S+ {clock}$", out.stdout, re.M)
    assert out.returncode == 0, "the run above failed at " + clock
