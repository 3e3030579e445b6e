"""Explanations of drafted actions, on a copy of the demo with a stored plan: every proposal
gets one, and its figures are the plan line's and the stock-out projection's."""

from __future__ import annotations

import json

import pytest

from control_tower import exceptions
from control_tower.explain import explain_actions
from control_tower.store import Store
from tests.conftest import copy_of


@pytest.fixture(scope="module")
def planned(planned_demo_path, tmp_path_factory):
    with Store(copy_of(planned_demo_path, tmp_path_factory.mktemp("explain"))) as store:
        yield store


def test_saving_a_plan_explains_every_proposal(planned):
    missing = planned.scalar(
        "SELECT count(*) FROM actions WHERE status = 'proposed' AND plan_run IS NOT NULL "
        "AND explanation IS NULL"
    )
    assert missing == 0
    assert planned.scalar("SELECT count(*) FROM actions WHERE explanation LIKE 'Why: %'") > 0


def test_an_explanation_states_the_plan_lines_and_the_projections_figures(planned):
    rows = planned.query(
        "SELECT a.action_id, a.sku, a.to_location, a.quantity, a.arrival_date, a.explanation, "
        "l.reason, l.cost, l.alternatives FROM actions a JOIN plan_lines l ON "
        "l.run_id = a.plan_run AND l.line_no = a.plan_line WHERE a.kind = 'transfer' "
        "ORDER BY a.arrival_date, a.action_id LIMIT 5"
    ).to_dicts()
    assert rows
    for a in rows:
        text = a["explanation"]
        assert text.startswith(f"Why: {a['reason']}.")
        assert f"Cost: {a['cost']:,.2f} ({a['quantity']:,} from" in text
        without = exceptions.project(planned, a["sku"], a["to_location"])
        with_it = exceptions.project(
            planned, a["sku"], a["to_location"], extra=[(a["arrival_date"], a["quantity"])]
        )
        for case in (without, with_it):
            if case.stockout_date is None:
                assert "no stock-out" in text
            elif case.units_short <= 0:
                assert f"runs out on {case.stockout_date}, after an order placed today" in text
            else:
                assert (
                    f"runs out on {case.stockout_date}, {case.units_short:,.0f} units short" in text
                )
        others = [x for x in json.loads(a["alternatives"]) if not x["chosen"]]
        for other in others[:3]:
            assert f"{other['source']} (" in text and other["verdict"] in text
        assert f"Safety stock at {a['to_location']}: SS = " in text


def test_explaining_again_rewrites_only_what_is_asked(planned):
    one = planned.scalar("SELECT min(action_id) FROM actions WHERE plan_run IS NOT NULL")
    planned.cursor().execute("UPDATE actions SET explanation = 'x' WHERE action_id = ?", [one])
    assert explain_actions(planned) == 0  # every proposal has one already
    assert explain_actions(planned, [one]) == 1
    assert planned.scalar("SELECT explanation FROM actions WHERE action_id = ?", [one]) != "x"
