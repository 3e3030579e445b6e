"""A real server and a real browser (Playwright driving Debian's headless Chromium) on the Ask
the agent page: a question about a product at one regional DC, then a follow-up that names
only another DC ("and at ...?"), then the same in Chinese. Each answer's figures are checked
against the ledger, so the follow-up is right only if it kept the product of the turn before.

Run with ``pytest -m e2e``.
"""

from __future__ import annotations

import pytest

from control_tower.store import Store
from tests.conftest import copy_of
from tests.e2e.conftest import demo_dashboard

pytestmark = pytest.mark.e2e


def _pair(path) -> tuple[str, str, str, dict]:
    with Store(path) as store:
        sku, first, second = store.rows(
            "SELECT sku, min(location), max(location) FROM ledger JOIN locations l "
            "ON l.code = location WHERE l.kind = 'regional_dc' GROUP BY sku "
            "HAVING count(DISTINCT location) > 1 AND min(location) <> max(location) "
            "ORDER BY sku LIMIT 1"
        )[0]
        held = dict(
            store.rows("SELECT location, sum(quantity) FROM ledger WHERE sku = ? GROUP BY 1", [sku])
        )
    return sku, first, second, held


def test_the_agent_page_answers_a_follow_up_in_a_browser(planned_demo_path, tmp_path):
    from playwright.sync_api import expect

    path = copy_of(planned_demo_path, tmp_path, exception_run=True)
    sku, first, second, held = _pair(path)
    with demo_dashboard(path) as page:
        page.goto(f"{page.base_url}/agent")
        expect(page.get_by_role("heading", name="Ask the agent")).to_be_visible()
        expect(page.get_by_test_id("stStatusWidget")).to_have_count(0)
        box = page.get_by_test_id("stChatInputTextArea")

        def asked(question: str, n: int):
            box.fill(question)
            box.press("Enter")
            answers = page.get_by_test_id("stChatMessage").filter(
                has=page.get_by_test_id("stChatMessageAvatarAssistant")
            )
            expect(answers).to_have_count(n)
            expect(page.get_by_test_id("stStatusWidget")).to_have_count(0)
            return answers.nth(n - 1)

        one = asked(f"how much {sku} do we have at {first}?", 1)
        expect(one).to_contain_text(f"{held[first]:,} units of {sku}")
        two = asked(f"and at {second}?", 2)
        expect(two).to_contain_text(second)
        expect(two).to_contain_text(f"{held[second]:,} units of {sku}")
        three = asked(f"那{first}呢？", 3)
        expect(three).to_contain_text(f"{sku}")
        expect(three).to_contain_text(f"{held[first]:,} 件")
    with Store(path) as store:
        sessions = store.rows("SELECT DISTINCT session FROM agent_runs")
    assert len(sessions) == 1 and sessions[0][0].startswith("page-")
