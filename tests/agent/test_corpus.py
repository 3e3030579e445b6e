"""The evaluation corpus loads, and its roles fill from a real demo store: both parts, every
placeholder, follow-ups in their conversations; the parts are apart and varied as the issue
asks (Chinese and mixed questions, every kind, follow-ups, requests to decline)."""

from __future__ import annotations

from collections import Counter

import polars as pl
import pytest

from agents import corpus
from control_tower import actions
from control_tower.actions import Actor
from control_tower.store import Store
from tests.conftest import copy_of


@pytest.fixture(scope="module")
def realised(planned_demo_path, tmp_path_factory):
    from control_tower import exceptions

    path = copy_of(planned_demo_path, tmp_path_factory.mktemp("corpus"))
    with Store(path) as store:
        exceptions.run_exceptions(store, created_by="test.planner", auto_approve=True)
        # an action carried out, as the demo's users leave one
        order = actions.list_actions(store, statuses=["approved"]).filter(
            pl.col("kind") == "purchase_order"
        )["action_id"][0]
        actions.post(store, order, Actor("test.approver", "approver"))
        return {part: corpus.realise(store, corpus.load(part)) for part in corpus.PARTS}


def test_both_parts_fill_every_placeholder_from_the_store(realised):
    for part, questions in realised.items():
        least = {"train": 700, "train_more": 230, "train3": 300, "dev": 150, "dev2": 150}
        least |= {"dev3": 150, "dev5": 150, "dev6": 150, "train4": 380, "test": 100, "dev14": 100}
        assert len(questions) >= least.get(part, 120)
        for r in questions:
            assert "{" not in r.text and "}" not in r.text, (r.question.id, r.text)
            for group, fields in r.entities.items():
                assert all(str(v) for v in fields.values()), (r.question.id, group)


def test_a_follow_up_joins_the_conversation_of_the_turn_it_follows(realised):
    for part in corpus.PARTS:
        if part in corpus.TRAINING:
            continue
        questions = realised[part]
        by_id = {r.question.id: r for r in questions}
        follow_ups = [r for r in questions if r.question.follows]
        assert len(follow_ups) >= 12
        for r in follow_ups:
            assert r.conversation == by_id[r.question.follows].conversation


def test_the_parts_are_separate_and_as_varied_as_the_issue_asks(realised):
    texts = {
        part: {" ".join(r.question.text.lower().split()) for r in qs}
        for part, qs in realised.items()
    }
    assert not texts["dev"] & texts["test"]
    trained = set().union(*(texts[part] for part in corpus.TRAINING))
    assert not trained & (
        texts["dev"]
        | texts["dev2"]
        | texts["dev3"]
        | texts["dev4"]
        | texts["dev5"]
        | texts["dev6"]
        | texts["dev7"]
        | texts["dev8"]
        | texts["dev9"]
        | texts["dev10"]
        | texts["dev11"]
        | texts["dev12"]
        | texts["dev13"]
        | texts["dev14"]
    )
    assert not trained & (texts["test"] | texts["holdout"])
    assert not texts["holdout"] & (texts["dev"] | texts["dev2"] | texts["test"])
    assert not texts["dev2"] & (texts["dev"] | texts["test"])
    seen = trained | texts["dev"] | texts["dev2"] | texts["dev3"] | texts["dev4"] | texts["test"]
    assert not texts["holdout2"] & (seen | texts["holdout"])
    assert not texts["holdout3"] & (seen | texts["holdout"] | texts["holdout2"])
    earlier = seen | texts["holdout"] | texts["holdout2"] | texts["holdout3"]
    assert not texts["dev5"] & earlier
    assert not texts["dev6"] & (earlier | texts["dev5"])
    assert not texts["dev7"] & (earlier | texts["dev5"] | texts["dev6"])
    assert not texts["holdout4"] & (earlier | texts["dev5"] | texts["dev6"] | texts["dev7"])
    fourth = earlier | texts["dev5"] | texts["dev6"] | texts["dev7"] | texts["holdout4"]
    assert not texts["dev8"] & fourth
    assert not texts["dev9"] & (fourth | texts["dev8"])
    fifth = fourth | texts["dev8"] | texts["dev9"]
    assert not texts["dev10"] & fifth
    assert not texts["holdout5"] & (fifth | texts["dev10"])
    sixth = fifth | texts["dev10"] | texts["holdout5"]
    assert not texts["dev11"] & sixth
    assert not texts["dev12"] & (sixth | texts["dev11"])
    assert not texts["dev13"] & (sixth | texts["dev11"] | texts["dev12"])
    assert not texts["holdout6"] & (sixth | texts["dev11"] | texts["dev12"] | texts["dev13"])
    sixth |= texts["dev11"] | texts["dev12"] | texts["dev13"] | texts["holdout6"]
    assert not texts["dev14"] & sixth
    for questions in realised.values():
        langs = Counter(r.question.lang for r in questions)
        assert (langs["zh"] + langs["mixed"]) / len(questions) >= 0.35
        kinds = Counter(r.question.kind for r in questions)
        assert min(kinds.values()) >= 3 and len(kinds) >= 20
        assert kinds["decline_write"] + kinds["out_of_scope"] >= 8


def test_a_second_location_of_the_same_kind_is_never_the_first(realised):
    pairs = [
        r for qs in realised.values() for r in qs if {"location", "location2"} <= r.entities.keys()
    ]
    assert pairs  # the corpus asks about pairs of places (transfers, comparisons)
    for r in pairs:
        if r.question.roles["location2"] == "rdc_any":  # any other regional DC
            assert r.entities["location"]["loc"] != r.entities["location2"]["loc2"], r.text


def test_an_unknown_placeholder_or_part_is_refused(tmp_path, monkeypatch):
    with pytest.raises(
        corpus.CorpusError,
        match="parts train, train_more, train3, train4, dev, dev2, dev3, dev4, dev5, dev6, dev7, "
        "dev8, dev9, dev10, dev11, dev12, dev13, dev14, test, holdout, holdout2, holdout3, "
        "holdout4, holdout5, holdout6",
    ):
        corpus.load("validation")
    (tmp_path / "dev.toml").write_text(
        '[[q]]\nid = "x1"\nlang = "en"\nkind = "kpi"\ntext = "{colour}?"\nroles = {}\n'
        'follows = ""\nslots = {}\n',
        encoding="utf-8",
    )
    monkeypatch.setattr(corpus, "CORPUS_DIR", tmp_path)
    with pytest.raises(corpus.CorpusError, match="unknown placeholder"):
        corpus.load("dev")
