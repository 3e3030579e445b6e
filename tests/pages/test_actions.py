"""The Actions page's explanation card, through AppTest on a copy of the demo with a stored
plan: a drafted transfer or order shows why, if nothing is done, with it, its cost parts and
alternatives as tables (figures as the record holds them); an action without a record (drafted
otherwise, or explained before records were kept) shows its stored text."""

from __future__ import annotations

import pytest

from control_tower.explain import Explanation, money
from control_tower.store import Store
from tests.conftest import copy_of
from ui.format import plain

from ._support import page, run, store_query, table


@pytest.fixture
def db(planned_demo_path, tmp_path, monkeypatch, fresh_caches):
    path = copy_of(planned_demo_path, tmp_path)
    monkeypatch.setenv("CONTROL_TOWER_DB", str(path))
    monkeypatch.delenv("CONTROL_TOWER_CONFIG", raising=False)
    return path


def _show(action_id: int):
    at = run(page("actions"))
    at.text_input(key="act_number").set_value(str(action_id))
    return run(at)


def test_a_drafted_order_shows_its_card_with_the_cost_parts_and_alternatives(db):
    action_id, text = store_query(
        db,
        "SELECT action_id, explanation_record FROM actions WHERE kind = 'purchase_order' "
        "AND explanation_record IS NOT NULL ORDER BY action_id LIMIT 1",
    ).row(0)
    record = Explanation.from_json(text)
    at = _show(action_id)
    card = at.container(key="act_explanation")
    said = " ".join(m.value for m in card.markdown)
    for label in ("**Why**", "**If nothing is done**", "**With it**", "**Cost**"):
        assert label in said
    assert f"**Cost**: {plain(money(record.total_cost))}" in said
    costs = table(at, "act_explanation_cost")
    assert list(costs["part"]) == [p.label for p in record.costs] + ["total"]
    assert list(costs["amount"])[-1] == money(record.total_cost)
    amounts = [float(a.replace(",", "")) for a in costs["amount"]]
    assert round(sum(amounts[:-1]), 2) == amounts[-1]
    alternatives = table(at, "act_explanation_alternatives")
    assert list(alternatives["source"]) == [a.source for a in record.alternatives]
    assert list(alternatives.columns) == ["source", "kind", "cost a unit", "arrives", "verdict"]


def test_an_action_explained_before_records_were_kept_shows_its_text(db):
    with Store(db) as store:
        action_id = store.scalar(
            "SELECT min(action_id) FROM actions WHERE explanation_record IS NOT NULL"
        )
        store.cursor().execute(
            "UPDATE actions SET explanation_record = NULL, explanation = 'Why: an old text.' "
            "WHERE action_id = ?",
            [action_id],
        )
    at = _show(action_id)
    with pytest.raises(KeyError):
        at.container(key="act_explanation")
    assert plain("Why: an old text.") in [c.value for c in at.caption]
