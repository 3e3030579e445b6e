"""A real server, a real browser and a real (local) OpenID Connect provider: with an ``[auth]``
section in ``.streamlit/secrets.toml`` the sidebar offers Streamlit's ``st.login``; someone
signing in at the provider as an e-mail listed in ``[auth] oidc_roles`` comes back with that
role (and the services record their e-mail), someone not listed gets ``oidc_default_role``,
and signing out ends the session.

The provider is ``oidc-provider-mock`` in a thread of the test process: its authorize page
asks for a subject and signs that subject in with it as their e-mail. Run with
``pytest -m e2e``; they fail where ``/usr/bin/chromium`` is missing (tests/e2e/install-chromium).
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from control_tower.store import Store
from tests.conftest import TESTER
from tests.e2e.test_deep_link import CHROMIUM, ROOT, free_port, stop, wait_for

pytestmark = pytest.mark.e2e

APPROVER = "boss@example.com"  # listed in oidc_roles
STRANGER = "someone@example.com"  # not listed: the default role


def _write_config(workdir, port: int, provider: str) -> None:
    """The server's working directory: Streamlit's secrets (the OIDC client) and the Control
    Tower config (who gets which role)."""
    (workdir / ".streamlit").mkdir()
    (workdir / ".streamlit" / "secrets.toml").write_text(
        "[auth]\n"
        f'redirect_uri = "http://localhost:{port}/oauth2callback"\n'
        'cookie_secret = "a-long-random-string-for-the-test-only"\n'
        'client_id = "control-tower"\n'
        'client_secret = "not-a-secret"\n'
        f'server_metadata_url = "{provider}/.well-known/openid-configuration"\n',
        encoding="utf-8",
    )
    (workdir / "control_tower.toml").write_text(
        f'[auth]\noidc_roles = {{ "{APPROVER}" = "approver" }}\noidc_default_role = "viewer"\n',
        encoding="utf-8",
    )


def test_oidc_users_sign_in_with_their_configured_role_and_sign_out(planned, tmp_path):
    from oidc_provider_mock import run_server_in_thread
    from playwright.sync_api import expect, sync_playwright

    path, action_id, _top = planned
    expect.set_options(timeout=60_000)  # a loaded CI machine reruns the app slowly
    port = free_port()
    workdir = tmp_path / "server"
    workdir.mkdir()
    env = dict(os.environ, CONTROL_TOWER_DB=str(path))
    for name in ("CONTROL_TOWER_CONFIG", "CONTROL_TOWER_DEMO_USERS"):
        env.pop(name, None)  # the working directory's control_tower.toml, no demo users
    log = tmp_path / "streamlit.log"
    with (
        run_server_in_thread() as provider,
        log.open("w") as output,
    ):
        _write_config(workdir, port, f"http://localhost:{provider.server_port}")
        server = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", str(ROOT / "app.py")]
            + ["--server.port", str(port), "--server.headless", "true"]
            + ["--browser.gatherUsageStats", "false"],
            cwd=workdir,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
        try:
            wait_for(f"http://127.0.0.1:{port}/_stcore/health")
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
                page = browser.new_page(viewport={"width": 1400, "height": 1600})
                page.set_default_timeout(60_000)
                sidebar = page.get_by_test_id("stSidebar")

                def sign_in(email: str) -> None:
                    """From the app's sidebar to the provider's page and back, as ``email``."""
                    expect(sidebar.get_by_text("Data as of")).to_be_visible()
                    expect(page.get_by_test_id("stStatusWidget")).to_have_count(0)
                    sidebar.locator("summary", has_text="Sign in").click()
                    sidebar.get_by_role("button", name="Sign in with your company account").click()
                    expect(page.get_by_role("heading", name="Authorize Client")).to_be_visible()
                    page.get_by_placeholder("sub").fill(email)
                    page.get_by_role("button", name="Authorize", exact=True).click()
                    page.wait_for_url(f"http://localhost:{port}/**")

                # the redirect URI names localhost: the sign-in cookie belongs to that host
                page.goto(f"http://localhost:{port}/exceptions")
                sign_in(APPROVER)
                expect(sidebar.get_by_text(f"Signed in as {APPROVER}, approver")).to_be_visible()

                page.goto(f"http://localhost:{port}/exceptions")  # a new session, same cookie
                expect(sidebar.get_by_text(f"Signed in as {APPROVER}, approver")).to_be_visible()
                expect(page.locator(".st-key-exc_inbox")).to_be_visible()
                expect(page.get_by_test_id("stStatusWidget")).to_have_count(0)
                expect(page.get_by_role("button", name="Acknowledge")).to_be_visible()
                page.get_by_text("Only with a drafted action").click()
                expect(page.get_by_text(f"Action {action_id}:")).to_be_visible()
                page.locator(f".st-key-exc_approve_{action_id} button").click()
                expect(page.get_by_text(f"Action {action_id} approved.")).to_be_visible()

                sidebar.get_by_role("button", name="Sign out").click()
                expect(page.get_by_role("heading", name="End Session")).to_be_visible()
                page.get_by_role("button", name="End session").click()  # the provider's too
                page.wait_for_url(f"http://localhost:{port}/**")
                expect(sidebar.locator("summary", has_text="Sign in")).to_be_visible()
                page.goto(f"http://localhost:{port}/exceptions")  # the cookie is gone too
                expect(page.get_by_text("Sign in (sidebar) to acknowledge")).to_be_visible()
                expect(sidebar.get_by_text("Signed in as")).to_have_count(0)

                sign_in(STRANGER)
                expect(sidebar.get_by_text(f"Signed in as {STRANGER}, viewer")).to_be_visible()
                page.goto(f"http://localhost:{port}/exceptions")
                expect(sidebar.get_by_text(f"Signed in as {STRANGER}, viewer")).to_be_visible()
                expect(page.get_by_role("heading", name="Drafted actions")).to_be_visible()
                expect(page.get_by_test_id("stStatusWidget")).to_have_count(0)
                # signed in, but a viewer may not acknowledge, snooze or decide
                expect(page.get_by_text("Sign in (sidebar) to acknowledge")).to_have_count(0)
                expect(page.get_by_role("button", name="Acknowledge")).to_have_count(0)
                browser.close()
        finally:
            stop(server)
    with Store(path) as store:
        trail = store.rows(
            "SELECT actor, to_status FROM action_events WHERE action_id = ? ORDER BY event_id",
            [action_id],
        )
    assert trail == [(TESTER, "proposed"), (APPROVER, "approved")], log.read_text()
