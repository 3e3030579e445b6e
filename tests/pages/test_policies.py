"""Policies page: the ABC-XYZ matrix and the policy table against the service, the class
filter, one policy's inputs and formulas, and the empty states."""

from __future__ import annotations

import shutil

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


@pytest.fixture
def on_demo_copy(demo_db, tmp_path, monkeypatch, fresh_caches):
    """A private copy of the demo, for tests that write."""
    path = tmp_path / "copy.duckdb"
    shutil.copy(demo_db, path)
    monkeypatch.setenv("CONTROL_TOWER_DB", str(path))
    monkeypatch.delenv("CONTROL_TOWER_CONFIG", raising=False)
    return path


def _override(at, field, value, reason, who):
    at.selectbox(key="pol_field").set_value(field)
    at.number_input(key="pol_value").set_value(value)
    at.text_input(key="pol_reason").set_value(reason)
    at.text_input(key="pol_who").set_value(who)
    at.button[-1].click()  # the form's submit button
    return run(at)


def test_an_override_from_the_page_is_in_force_and_audited(on_demo_copy):
    at = run(page("policies"))
    sku, location = at.selectbox(key="pol_sku").value, at.selectbox(key="pol_location").value
    at = _override(at, "safety_stock", 123.0, "<b>promo</b> **cover**", "Li Wei")
    assert any("set to 123" in s.value for s in at.success)
    with Store(on_demo_copy) as store:
        policy = explain_policy(store, sku, location)
    assert policy.safety_stock == 123
    audit = table(at, "pol_overrides")
    assert audit["reason"].tolist() == ["<b>promo</b> **cover**"]  # text, as typed
    assert audit["changed_by"].tolist() == ["Li Wei"]
    assert "override: safety_stock = 123 (by Li Wei" in at.code[0].value


def test_an_override_without_a_reason_is_refused_and_nothing_is_written(on_demo_copy):
    at = run(page("policies"))
    at = _override(at, "safety_stock", 5.0, "", "Li Wei")
    assert any("Bad override" in e.value for e in at.error)
    with Store(on_demo_copy) as store:
        assert store.scalar("SELECT count(*) FROM policy_overrides") == 0
