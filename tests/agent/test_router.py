"""Routing in code: what a question names (codes, product names in English and Chinese,
cities and their Chinese names, categories, references, action numbers, horizons) and the
tool calls its wording asks for, over the demo's names."""

from __future__ import annotations

import pytest

from agents import router
from control_tower.store import Store


@pytest.fixture(scope="module")
def catalogue(demo_db_path, tmp_path_factory):
    import shutil

    path = tmp_path_factory.mktemp("router") / "demo.duckdb"
    shutil.copy(demo_db_path, path)
    with Store(path) as store:
        return router.Catalogue.read(store)


def first_sku(catalogue, prefix: str) -> tuple[str, str]:
    return next((s, n) for s, n, _c in catalogue.products if s.startswith(prefix))


def test_entities_by_code_name_city_and_chinese(catalogue):
    sku, name = first_sku(catalogue, "BBY")
    e = router.find_entities(f"有多少{sku}库存在成都?", catalogue)  # a code glued to Chinese
    assert e.skus == [sku] and e.locations == ["RDC-CD"]
    english = router.CJK.sub(" ", name).split()[:2]
    by_name = router.find_entities(f"stock of {' '.join(english)} in Guangzhou", catalogue)
    assert sku in by_name.skus and by_name.locations == ["RDC-GZ"]
    han = router.CJK.findall(name)[0]
    assert sku in router.find_entities(f"{han}什么时候缺货", catalogue).skus
    e = router.find_entities("overstock at the central warehouse in snacks", catalogue)
    assert e.locations == ["CDC-KS"] and e.category.startswith("Snacks")
    e = router.find_entities("Is PO-20261027-MNF late? see action #58 within 3 weeks", catalogue)
    assert (e.reference, e.action_id, e.days) == ("PO-20261027-MNF", 58, 21)
    assert router.find_entities("下周北京", catalogue).days == 7
    assert router.find_entities("what's short next week in Beijing", catalogue).days == 7


@pytest.mark.parametrize(
    ("question", "intent", "tools"),
    [
        ("Which DCs run out of {sku} in the next two weeks?", "stockout", ["list_exceptions"]),
        ("北京下周会缺什么货?", "stockout", ["list_exceptions"]),
        ("Why is {sku} flagged in Chengdu?", "why", ["list_exceptions", "get_position"]),
        (
            "What happens if we don't transfer {sku} to Chengdu?",
            "what_if",
            ["simulate_what_if", "drafted_actions"],
        ),
        ("Where is excess in snacks?", "excess", ["list_exceptions"]),
        ("Compare supplier lead times", "suppliers", ["compare_suppliers"]),
        ("What would you move to Guangzhou?", "moves", ["drafted_actions"]),
        ("Where can we get more {sku} for Beijing?", "sources", ["compare_sources"]),
        ("What is the safety stock of {sku} at RDC-CD?", "policy", ["explain_policy"]),
        ("What will we sell of {sku} in Chengdu next week?", "forecast", ["get_forecast"]),
        ("Should we expedite anything?", "expedite", ["drafted_actions", "list_exceptions"]),
        ("Explain action #40", "explain", ["explain_action"]),
        ("Show me the biggest risks right now", "exceptions", ["list_exceptions"]),
        ("find diapers", "search", ["search_products"]),
        ("hello", "exceptions", ["list_exceptions"]),
    ],
)
def test_intents_route_to_their_tools(catalogue, question, intent, tools):
    sku, _name = first_sku(catalogue, "SNK")
    route = router.route(question.format(sku=sku), catalogue)
    assert route.intent == intent
    assert [name for name, _args in route.calls] == tools


def test_quantities_references_and_unknown_codes_are_kept(catalogue):
    sku, _name = first_sku(catalogue, "SNK")
    what_if = router.route(f"what if we ship 100 units of {sku} to Beijing", catalogue)
    assert what_if.calls[0] == (
        "simulate_what_if",
        {"sku": sku, "location": "RDC-BJ", "units": 100},
    )
    why = router.route("Why is PO-20261028-JNB late?", catalogue)
    assert why.calls[0][1]["reference"] == "PO-20261028-JNB"
    unknown = router.route("stock of BEV-9999?", catalogue)
    assert unknown.calls == [("get_position", {"sku": "BEV-9999"})]
