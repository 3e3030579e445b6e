"""The evaluation set with the embedded model over a copy of the demo: at least 40 managers'
questions (stock-outs, why flagged, what if we don't move it, excess by category, dead stock,
late orders, supplier lead times, what to move where, stock, policy, forecast, product search;
English and Chinese), each with facts computed from the store. Targets: at least 90%
correct, and no answer ever shows a figure no tool gave. (Latency: bench/agent_eval.py.)"""

from __future__ import annotations

from collections import Counter

import pytest

from agents.evaluation import build_cases, evaluate
from control_tower.store import Store
from tests.conftest import copy_of


@pytest.fixture(scope="module")
def store(planned_demo_path, tmp_path_factory):
    path = copy_of(planned_demo_path, tmp_path_factory.mktemp("eval"), exception_run=True)
    with Store(path) as s:  # the plan's drafted transfers: "what would you move to ..."
        yield s


def test_the_cases_cover_the_kinds_managers_ask(store):
    cases = build_cases(store)
    assert len(cases) >= 40
    kinds = Counter(c.kind.removesuffix("_zh") for c in cases)
    for kind in ("stockout", "why", "what_if", "excess", "suppliers", "moves", "position"):
        assert kinds[kind] >= 1, kind
    assert sum(c.kind.endswith("_zh") for c in cases) >= 5
    assert all(c.expected for c in cases)


def test_the_embedded_model_meets_the_targets(store):
    cases = build_cases(store)
    report = evaluate(store, cases)
    wrong = [(o.case.question, o.missing) for o in report.outcomes if not o.correct]
    assert report.correct_rate >= 0.9, wrong
    shown = [(o.case.question, o.unsupported) for o in report.outcomes if o.unsupported]
    assert shown == []
    assert {o.answer.model for o in report.outcomes} == {report.outcomes[0].answer.model}
    assert "SmolLM2" in report.outcomes[0].answer.model
