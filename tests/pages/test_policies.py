"""Policies page: the ABC-XYZ matrix and the policy table against the service, the class
filter, one policy's inputs and formulas, and the empty states."""

from __future__ import annotations

import pytest

from control_tower.config import PolicySettings
from control_tower.policies import class_matrix, explain_policy, policies, policy_table
from control_tower.store import Store

from ._support import page, run, table


@pytest.fixture
def expected(on_demo) -> dict:
    with Store(on_demo) as store:
        items = policies(store, PolicySettings())
        frame = policy_table(items)
        first = items[0].inputs
        worked = explain_policy(store, first.sku, first.location)
    return {"table": frame, "matrix": class_matrix(frame), "worked": worked}


def test_the_matrix_and_the_table_match_the_service(expected):
    at = run(page("policies"))
    assert at.title[0].value == "Policies"
    matrix = table(at, "pol_matrix")
    want = expected["matrix"]
    assert matrix["class"].tolist() == want["class"].to_list()
    assert matrix["series"].tolist() == want["series"].to_list()
    assert (matrix["service_level"] / 100).tolist() == pytest.approx(
        want["service_level"].to_list()
    )
    shown = table(at, "pol_table")
    assert len(shown) == expected["table"].height
    assert shown["safety_stock"].sum() == pytest.approx(expected["table"]["safety_stock"].sum())


def test_the_class_filter_keeps_only_those_classes(expected):
    at = run(page("policies"))
    cls = expected["matrix"]["class"][0]
    at.multiselect(key="pol_classes").set_value([cls])
    run(at)
    shown = table(at, "pol_table")
    assert set(shown["class"]) == {cls}
    assert len(shown) == expected["matrix"]["series"][0]


def test_show_your_work_gives_the_inputs_and_the_formulas_with_values(expected):
    worked = expected["worked"]
    at = run(page("policies"))
    at.selectbox(key="pol_sku").set_value(worked.inputs.sku)
    run(at)
    at.selectbox(key="pol_location").set_value(worked.inputs.location)
    run(at)
    inputs = dict(zip(*(table(at, "pol_inputs")[c] for c in ("input", "value")), strict=True))
    assert inputs["sku"] == worked.inputs.sku and inputs["location"] == worked.inputs.location
    assert float(inputs["lead_time_days"]) == pytest.approx(worked.inputs.lead_time_days)
    code = at.code[0].value
    for formula in worked.formulas().values():
        assert formula in code


def test_an_empty_database_says_so(on_empty):
    at = run(page("policies"))
    assert any("No data yet" in i.value for i in at.info)
