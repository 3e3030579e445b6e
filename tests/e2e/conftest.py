"""The browser tests need Debian's Chromium: the README's test command installs it first
(tests/e2e/install-chromium), so a missing browser fails these tests instead of skipping them."""

from __future__ import annotations

from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")


@pytest.fixture(autouse=True)
def chromium_installed() -> Path:
    if not CHROMIUM.exists():
        pytest.fail(
            f"{CHROMIUM} is missing: run tests/e2e/install-chromium (Debian's chromium), "
            "or leave the browser tests out with -m 'not slow and not e2e'",
            pytrace=False,
        )
    return CHROMIUM
