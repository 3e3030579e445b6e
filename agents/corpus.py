"""The agent's evaluation corpus: questions written the way managers ask, in English, Chinese
and both mixed, by three authors apart (``data/agent_eval/train.toml``, what a classifier of
intents learns from; ``dev.toml``, tuned on; ``test.toml``, held out and scored only at the
end). A question names its entities through placeholders ("how many {product_short} in
{city}?") and roles ("the product of the top stock-out"); :func:`realise` fills them from a
store, so the same corpus runs on a demo built with any seed.

Roles are resolved from the core services (the latest exception run, the drafted actions,
positions, VMI levels), never from the agent's own tools, so a mistake of the agent cannot
hide in its test data. Where a role names "any" entity, the question's id picks one, so the
questions spread over the network instead of all asking about one place.
"""

from __future__ import annotations

import json
import re
import tomllib
import zlib
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from control_tower import actions, exceptions, position, reference
from control_tower.store import Store

CORPUS_DIR = Path(__file__).resolve().parent.parent / "data" / "agent_eval"
# train (and train_more, train3 and train4, written blind in the second to fourth rounds): the intent
# classifier's; dev: tuned on; dev2: tuned on, written blind in the second
# round (from dev.toml's format notes only); dev3, dev4: the same, third round (dev4 scored
# once, at its end, then seen); test: held out, scored once at the end of issue
# 18's first round (and seen since); holdout: written blind, scored once at the end of the
# second round (and seen since); holdout2: written blind, scored once at the end of the third
# round; holdout3: written blind for the end of a later round; dev5 to dev7 (tuned on) and
# holdout4 (held out for a round after holdout3's), written blind in the fourth round; dev8
# and dev9 (follow-up heavy, tuned on after their first score), written blind in the fifth;
# dev10 (the same) and holdout5 (held out for a round after holdout4's), written blind in the
# fifth round too; dev11 to dev14 (tuned on after their first score) and holdout6 (held out
# for a round after holdout5's), written blind in the sixth
PARTS = ("train", "train_more", "train3", "train4", "dev", "dev2", "dev3", "dev4", "dev5", "dev6",
         "dev7", "dev8", "dev9", "dev10", "dev11", "dev12", "dev13", "dev14", "test", "holdout", "holdout2",
         "holdout3", "holdout4", "holdout5", "holdout6")  # fmt: skip
TRAINING = ("train", "train_more", "train3", "train4")  # what the intent classifier learns from
PLACEHOLDER = re.compile(r"\{([a-z_0-9]+)\}")
# placeholder -> the role key whose entity fills it
GROUP_OF = {
    "sku": "product",
    "product": "product",
    "product_short": "product",
    "product_zh": "product",
    "loc": "location",
    "city": "location",
    "city_zh": "location",
    "region": "location",
    "region_zh": "location",
    "loc2": "location2",
    "city2": "location2",
    "city2_zh": "location2",
    "supplier": "supplier",
    "supplier_name": "supplier",
    "supplier_short": "supplier",
    "supplier_zh": "supplier",
    "category": "category",
    "category_zh": "category",
    "action": "action",
}
PACKING = re.compile(r"^(x\d+|\d+(\.\d+)?(g|kg|ml|l|pcs|pc|mm|cm|m)|case|pack|packs)$")


class CorpusError(ValueError):
    """The corpus or its roles cannot be used as written."""


@dataclass(frozen=True)
class Question:
    id: str
    lang: str  # en | zh | mixed
    kind: str
    text: str  # with placeholders
    roles: dict[str, str]
    follows: str
    slots: dict


@dataclass(frozen=True)
class Realised:
    question: Question
    text: str  # placeholders filled
    entities: dict[str, dict]  # role key -> the entity's fields (code, names)
    conversation: str  # the id of the conversation's first turn
    # places named literally ("and Chengdu?", "那杭州呢"): per place the codes it may mean
    # ("Kunshan": the central DC and the VMI site)
    literal_places: tuple[frozenset[str], ...] = ()


def load(part: str) -> list[Question]:
    """The questions of one part, in file order, checked: ids unique, every placeholder
    known and its role given, follow-ups after the turn they follow."""
    if part not in PARTS:
        raise CorpusError(f"the corpus has parts {', '.join(PARTS)}, not {part!r}")
    with open(CORPUS_DIR / f"{part}.toml", "rb") as handle:
        raw = tomllib.load(handle)["q"]
    seen: set[str] = set()
    out = []
    for q in raw:
        question = Question(
            id=q["id"],
            lang=q["lang"],
            kind=q["kind"],
            text=q["text"],
            roles=dict(q.get("roles", {})),
            follows=q.get("follows", ""),
            slots=dict(q.get("slots", {})),
        )
        if question.id in seen:
            raise CorpusError(f"{part}: question id {question.id} twice")
        if question.follows and question.follows not in seen:
            raise CorpusError(f"{question.id} follows {question.follows}, not an earlier turn")
        for name in PLACEHOLDER.findall(question.text):
            group = GROUP_OF.get(name)
            if group is None:
                raise CorpusError(f"{question.id}: unknown placeholder {{{name}}}")
            if group not in question.roles:
                raise CorpusError(f"{question.id}: {{{name}}} has no {group} role")
        seen.add(question.id)
        out.append(question)
    return out


# -- entities ---------------------------------------------------------------------------------
def _short_product(name_en: str) -> str:
    words = [w for w in name_en.lower().split() if not PACKING.match(w)]
    return " ".join(words[:5])


def _city(name_en: str) -> str:
    for cut in (" RDC", " Central", " VMI", " DC"):
        name_en = name_en.split(cut)[0]
    return name_en.strip()


def _city_zh(name_zh: str) -> str:
    return re.sub(r"(区域仓|中心仓|VMI仓|仓)$", "", name_zh.split()[0]) if name_zh else ""


@dataclass
class Network:
    """What the roles pick from, read once per store."""

    locations: pl.DataFrame
    products: pl.DataFrame
    suppliers: pl.DataFrame
    items: pl.DataFrame  # the latest exception run
    proposed: pl.DataFrame  # live drafted actions
    decided: pl.DataFrame  # posted or closed actions
    waiting: pl.DataFrame  # decisions left to people, most money at risk first
    vmi_stock: pl.DataFrame  # position at VMI sites
    cache: dict = field(default_factory=dict)

    @classmethod
    def read(cls, store: Store) -> Network:
        locations = reference.locations(store)
        vmi = locations.filter(pl.col("kind") == "vmi")["code"].to_list()
        return cls(
            locations=locations,
            products=reference.products(store),
            suppliers=reference.suppliers(store),
            items=exceptions.list_exceptions(store, include_snoozed=True),
            proposed=actions.list_actions(store, statuses=["proposed", "approved"]),
            decided=actions.list_actions(store, statuses=["posted", "closed"]),
            waiting=exceptions.decisions(store, "exception"),
            vmi_stock=position.stock_position(store, locations=vmi) if vmi else pl.DataFrame(),
        )


def _pick(options: list, key: str) -> object:
    """One of ``options`` chosen by ``key`` (a question id), the same every run."""
    if not options:
        raise CorpusError(f"no entity to fill a role of {key}")
    return sorted(options, key=str)[zlib.crc32(key.encode()) % len(options)]


def _top(items: pl.DataFrame, rule: str) -> dict:
    rows = items.filter(pl.col("rule") == rule).sort("severity", descending=True)
    if rows.height == 0:
        raise CorpusError(f"the latest exception run has no {rule} item")
    return rows.row(0, named=True)


def _transfer(net: Network) -> dict:
    rows = net.proposed.filter(
        (pl.col("kind") == "transfer") & pl.col("from_location").is_not_null()
    ).sort("quantity", "action_id", descending=[True, False])
    if rows.height == 0:
        raise CorpusError("no live drafted transfer")
    return rows.row(0, named=True)


def _product(net: Network, role: str, key: str) -> str:
    if role in ("top_stockout", "below_safety", "excess", "dead", "late_inbound"):
        rule = {
            "top_stockout": "stockout",
            "below_safety": "below_safety_stock",
            "excess": "excess",
            "dead": "dead_stock",
            "late_inbound": "late_inbound",
        }[role]
        return _top(net.items, rule)["sku"]
    if role == "planned_transfer":
        return _transfer(net)["sku"]
    if role == "vmi_product":
        held = net.vmi_stock.filter(pl.col("available") > 0).sort(
            ["available", "sku"], descending=[True, False]
        )
        if held.height == 0:
            raise CorpusError("no stock at a VMI site")
        return held["sku"][0]
    if role == "any_active":
        active = net.items["sku"].drop_nulls().unique().to_list()
        return str(_pick(active, key))
    raise CorpusError(f"{key}: unknown product role {role!r}")


def _location(net: Network, role: str, key: str, avoid: str | None = None) -> str:
    kinds = dict(net.locations.select("code", "kind").iter_rows())
    if role == "top_stockout":
        return _top(net.items, "stockout")["location"]
    if role == "excess":
        return _top(net.items, "excess")["location"]
    if role == "cdc":
        return next(c for c, k in kinds.items() if k == "central_dc")
    if role == "vmi":
        return next(c for c, k in kinds.items() if k == "vmi")
    if role == "transfer_from":
        return _transfer(net)["from_location"]
    if role == "transfer_to":
        return _transfer(net)["to_location"]
    if role == "rdc_any":
        rdcs = [c for c, k in kinds.items() if k == "regional_dc" and c != avoid]
        return str(_pick(rdcs, key))
    raise CorpusError(f"{key}: unknown location role {role!r}")


def _supplier(net: Network, role: str, key: str) -> str:
    if role == "vmi_supplier":
        return net.suppliers.filter(pl.col("vmi"))["code"][0]
    if role == "most_late":
        late = net.items.filter(pl.col("rule") == "late_inbound")
        counts = Counter(json.loads(f).get("from") for f in late["facts"])
        known = set(net.suppliers["code"])
        ranked = sorted(
            ((n, s) for s, n in counts.items() if s in known), key=lambda x: (-x[0], x[1])
        )
        if not ranked:
            raise CorpusError("no late purchase order line")
        return ranked[0][1]
    if role == "low_water":
        return _top(net.items, "supplier_low_water")["reference"]
    if role == "any":
        return str(_pick(net.suppliers["code"].to_list(), key))
    raise CorpusError(f"{key}: unknown supplier role {role!r}")


def _category(net: Network, role: str, key: str) -> str:
    if role == "top_stockouts":
        outs = net.items.filter(pl.col("rule") == "stockout").join(
            net.products.select("sku", "category_en"), on="sku"
        )
        ranked = (
            outs.group_by("category_en")
            .len()
            .sort(["len", "category_en"], descending=[True, False])
        )
        return ranked["category_en"][0]
    if role == "any":
        return str(_pick(net.products["category_en"].unique().to_list(), key))
    raise CorpusError(f"{key}: unknown category role {role!r}")


def _action(net: Network, role: str, key: str) -> int:
    if role == "top_proposed":
        if net.waiting.height == 0:
            raise CorpusError("no decision waits for people")
        return int(net.waiting["action_id"][0])
    if role == "a_transfer":
        return int(_transfer(net)["action_id"])
    if role == "a_posted":
        if net.decided.height == 0:
            raise CorpusError("no posted action")
        return int(net.decided.sort("action_id")["action_id"][0])
    raise CorpusError(f"{key}: unknown action role {role!r}")


def entity(net: Network, group: str, role: str, key: str, avoid: str | None = None) -> dict:
    """The fields of the entity a role names, by placeholder."""
    if group == "product":
        sku = _product(net, role, key)
        row = net.products.filter(pl.col("sku") == sku).row(0, named=True)
        return {
            "sku": sku,
            "product": row["name_en"],
            "product_short": _short_product(row["name_en"]),
            "product_zh": row["name_zh"].split()[0] if row["name_zh"] else row["name_en"],
        }
    if group in ("location", "location2"):
        code = _location(net, role, key, avoid)
        if avoid and code == avoid:  # the second place of a comparison is another one
            others = net.locations.filter(
                (pl.col("kind") == "regional_dc") & (pl.col("code") != avoid)
            )["code"].to_list()
            code = str(_pick(others, key))
        row = net.locations.filter(pl.col("code") == code).row(0, named=True)
        suffix = "2" if group == "location2" else ""
        return {
            f"loc{suffix}": code,
            f"city{suffix}": _city(row["name_en"]),
            f"city{suffix}_zh": _city_zh(row["name_zh"]),
            "region": row["region_en"],
            "region_zh": row["region_zh"],
        }
    if group == "supplier":
        code = _supplier(net, role, key)
        row = net.suppliers.filter(pl.col("code") == code).row(0, named=True)
        name = row["name_en"].replace(" Co.", "").strip()
        return {
            "supplier": code,
            "supplier_name": name,
            "supplier_short": name.split()[0],
            "supplier_zh": re.sub(r"有限公司$", "", row["name_zh"]) or name,
        }
    if group == "category":
        name = _category(net, role, key)
        zh = net.products.filter(pl.col("category_en") == name)["category_zh"][0]
        return {"category": name, "category_zh": zh}
    if group == "action":
        return {"action": str(_action(net, role, key))}
    raise CorpusError(f"{key}: unknown role key {group!r}")


def realise(store: Store, questions: list[Question]) -> list[Realised]:
    """Each question with its placeholders filled from ``store``, and the conversation it
    belongs to (a follow-up joins the one of the turn it follows)."""
    net = Network.read(store)
    conversation: dict[str, str] = {}
    out = []
    for q in questions:
        conversation[q.id] = conversation[q.follows] if q.follows else q.id
        fields: dict[str, str] = {}
        entities: dict[str, dict] = {}
        # the first location first: a second one of the same role must differ from it
        for group in sorted(q.roles, key=lambda g: g != "location"):
            avoid = entities.get("location", {}).get("loc") if group == "location2" else None
            got = entity(net, group, q.roles[group], q.id, avoid)
            entities[group] = got
            fields.update(got)
        text = PLACEHOLDER.sub(lambda m, f=fields: str(f[m.group(1)]), q.text)
        literal = PLACEHOLDER.sub(" ", q.text)
        out.append(Realised(q, text, entities, conversation[q.id], _places(net, literal)))
    return out


def _places(net: Network, text: str) -> tuple[frozenset[str], ...]:
    """The network's places a question names literally, by city in either script (English
    case-insensitive, as a word), in the order they appear."""
    found: dict[str, set[str]] = {}
    at: dict[str, int] = {}
    lowered = text.casefold()
    for row in net.locations.iter_rows(named=True):
        for name in (_city(row["name_en"]).casefold(), _city_zh(row["name_zh"] or "")):
            if not name:
                continue
            hit = (
                re.search(rf"(?<![a-z]){re.escape(name)}(?![a-z])", lowered)
                if name.isascii()
                else re.search(re.escape(name), text)
            )
            if hit:
                found.setdefault(name, set()).add(row["code"])
                at[name] = min(at.get(name, hit.start()), hit.start())
    return tuple(frozenset(found[n]) for n in sorted(found, key=at.get))
