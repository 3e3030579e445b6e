"""A real server and a real browser (headless Chromium over the DevTools protocol): a bookmark
opened as a freshly started server's first request shows the page inside the app (its
sections in the sidebar, the data date), not Streamlit's legacy list of the ``pages/`` files.

Run with ``pytest -m e2e``; they fail where ``/usr/bin/chromium`` is missing (the README's
test command installs it: tests/e2e/install-chromium).
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.e2e.conftest import CHROMIUM

ROOT = Path(__file__).resolve().parents[2]
NAV = [
    "Overview",
    "Inventory",
    "Forecasts",
    "Policies",
    "Plan",
    "Exceptions",
    "Actions and audit",
    "Reports",
    "Ask the agent",
    "Suppliers and VMI",
    "Supplier portal",
    "Data",
]  # app.py's navigation, in order

pytestmark = pytest.mark.e2e


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(url: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise TimeoutError(f"{url} did not answer within {timeout} s")


def started(command: list[str], **kwargs) -> subprocess.Popen:
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, **kwargs)


def stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()


async def page_state(debug_port: int, url: str, timeout: float = 60) -> dict:
    """Open ``url`` in the browser's page and return what the sidebar and the main area show
    once the app has finished running."""
    import websockets

    with urllib.request.urlopen(f"http://127.0.0.1:{debug_port}/json") as response:
        targets = json.load(response)
    address = next(t["webSocketDebuggerUrl"] for t in targets if t["type"] == "page")
    async with websockets.connect(address, max_size=50_000_000) as ws:
        ids = iter(range(1, 1_000_000))

        async def call(method: str, **params) -> dict:
            my = next(ids)
            await ws.send(json.dumps({"id": my, "method": method, "params": params}))
            while True:
                message = json.loads(await ws.recv())
                if message.get("id") == my:
                    return message.get("result", {})

        await call("Page.navigate", url=url)
        probe = """JSON.stringify({
            running: !!document.querySelector('[data-testid="stStatusWidget"]'),
            title: (document.querySelector('[data-testid="stMain"] h1') || {}).innerText || '',
            nav: [...document.querySelectorAll('[data-testid="stSidebarNavLink"]')]
                   .map(e => e.innerText.trim().split('\\n').pop()),
            sidebar: (document.querySelector('[data-testid="stSidebar"]') || {}).innerText || '',
            errors: document.querySelectorAll('[data-testid="stException"]').length,
        })"""
        deadline = time.monotonic() + timeout
        settled, state = 0, {}
        while time.monotonic() < deadline:
            result = await call("Runtime.evaluate", expression=probe, returnByValue=True)
            state = json.loads(result["result"]["value"])
            settled = settled + 1 if state["title"] and not state["running"] else 0
            if settled >= 4:
                return state
            await asyncio.sleep(0.5)
        raise TimeoutError(f"{url} never finished rendering: {state}")


@pytest.mark.parametrize(("path", "title"), [("forecasts", "Forecasts"), ("data", "Data")])
def test_a_bookmark_as_the_servers_first_request_opens_inside_the_app(
    demo_db_path, tmp_path, path, title
):
    port, debug_port = free_port(), free_port()
    env = dict(os.environ, CONTROL_TOWER_DB=str(demo_db_path))
    server = started(
        [sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port)]
        + ["--server.headless", "true", "--browser.gatherUsageStats", "false"],
        cwd=ROOT,
        env=env,
    )
    browser = started(
        [str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run"]
        + [f"--user-data-dir={tmp_path / 'profile'}", f"--remote-debugging-port={debug_port}"]
        + ["about:blank"]
    )
    try:
        wait_for(f"http://127.0.0.1:{port}/_stcore/health")
        wait_for(f"http://127.0.0.1:{debug_port}/json/version")
        state = asyncio.run(page_state(debug_port, f"http://127.0.0.1:{port}/{path}"))
    finally:
        stop(browser)
        stop(server)
    assert state["title"] == title
    assert state["nav"] == NAV  # the app's navigation, not the files of pages/ (app, data, ...)
    assert "Stock visibility" in state["sidebar"] and "Planning" in state["sidebar"]
    assert "Data as of" in state["sidebar"]  # app.py's own sidebar ran
    assert state["errors"] == 0
