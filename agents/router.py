"""Routing a question in code, for the embedded model, which cannot choose tools reliably.

What the question names is found by matching against the store (SKU codes and product names
in English or Chinese, location codes, cities and their Chinese names, categories, supplier
codes and names, action numbers) and how far ahead it looks ("next two weeks", "7 days",
"两周"); what it asks for, by keywords in English and Chinese. The route is a list of tool
calls; the agent runs them and the model only phrases the result.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from control_tower.store import Store

CJK = re.compile(r"[\u3400-\u9fff]+")
SKU_CODE = re.compile(r"(?<![A-Za-z0-9])[A-Za-z]{2,5}-\d{2,5}(?![0-9])")  # 有多少BEV-0022库存
REFERENCE = re.compile(r"(?<![A-Za-z0-9])(?:PO|TR|ACT)-[A-Za-z0-9][A-Za-z0-9-]*[A-Za-z0-9]")
ACTION = re.compile(r"(?:#|action\s*#?|动作\s*#?|行动\s*#?)(\d{1,9})\b", re.IGNORECASE)
GENERIC = {"case", "pack", "pcs", "the", "and", "of", "for", "with"}  # packaging, not product

# intent -> keywords (lower case; Chinese as is); the first intent with a hit wins, in order
INTENTS: list[tuple[str, tuple[str, ...]]] = [
    ("draft", ("draft a", "draft the", "create a transfer", "propose a transfer", "起草")),
    (
        "what_if",
        ("what if", "what happens", "don't", "do not", "dont", "without the", "如果不", "不调拨"),
    ),
    ("explain", ("explain", "tell me about action", "解释")),
    ("why", ("why", "为什么", "为何", "原因")),
    ("expedite", ("expedite", "chase", "hurry", "加急", "催货", "催单")),
    ("late", ("late", "overdue", "delayed", "延迟", "逾期", "迟到")),
    ("suppliers", ("lead time", "lead-time", "supplier", "vendor", "交期", "供应商", "提前期")),
    ("dead", ("dead", "aging", "ageing", "slow mov", "no movement", "呆滞", "滞销")),
    ("excess", ("excess", "overstock", "too much", "surplus", "积压", "过剩", "超储")),
    (
        "moves",
        (
            "move to",
            "move into",
            "transfer to",
            "send to",
            "ship to",
            "调拨",
            "调到",
            "调往",
            "would you move",
            "should we move",
            "rebalance",
        ),
    ),  # fmt: skip
    ("sources", ("where can", "where could", "source", "get more", "from where", "哪里补", "来源")),
    (
        "stockout",
        (
            "run out",
            "runs out",
            "running out",
            "stock out",
            "stockout",
            "stock-out",
            "short",
            "缺货",
            "断货",
            "不够",
            "缺",
        ),
    ),  # fmt: skip
    ("forecast", ("forecast", "expect to sell", "demand next", "will we sell", "预测", "需求")),
    ("policy", ("safety stock", "reorder point", "reorder", "policy", "eoq", "安全库存", "补货点")),
    ("exceptions", ("flagged", "exception", "problem", "risk", "alert", "异常", "风险", "预警")),
    (
        "position",
        ("how much", "how many", "stock", "inventory", "on hand", "available", "库存", "多少"),
    ),
    ("search", ("find", "search", "which product", "look up", "查找", "搜索", "哪些产品")),
]
HORIZONS = [
    (re.compile(r"(\d+)\s*(?:days?|天)"), 1),
    (re.compile(r"(\d+)\s*(?:weeks?|周)"), 7),
    (re.compile(r"\b(one|a)\s+week|this week|next week|一周|本周|下周"), 7),
    (re.compile(r"two weeks|fortnight|两周|二周"), 14),
    (re.compile(r"three weeks|三周"), 21),
    (re.compile(r"four weeks|a month|next month|一个月|下个月|四周"), 28),
]


@dataclass
class Catalogue:
    """Names in the store, to find what a question is about."""

    products: list[tuple[str, str, str | None]]  # sku, name, category
    locations: dict[str, list[str]]  # code -> names it goes by (city, Chinese name, code)
    categories: dict[str, list[str]]  # category -> names it goes by
    suppliers: dict[str, list[str]]  # code -> names
    central: str | None = None

    @classmethod
    def read(cls, store: Store) -> Catalogue:
        products = store.rows("SELECT sku, name, category FROM products ORDER BY sku")
        locations: dict[str, list[str]] = {}
        central = None
        for code, name, kind in store.rows("SELECT code, name, kind FROM locations"):
            names = [code.lower()]
            latin = CJK.split(name)[0].strip()
            if latin:
                city = latin.split(" RDC")[0].split(" Central")[0].split(" VMI")[0]
                names.append(city.lower())
            han = CJK.findall(name)
            if han:
                names.append(han[0])
                names.append(han[0][:2])  # 成都区域仓 -> 成都
            if kind == "central_dc":
                central = central or code
                names += ["central dc", "central warehouse", "cdc", "中心仓", "总仓"]
            locations[code] = [n for n in names if n]
        categories: dict[str, list[str]] = {}
        for (cat,) in store.rows(
            "SELECT DISTINCT category FROM products WHERE category IS NOT NULL"
        ):
            latin = CJK.split(cat)[0].strip().lower()
            names = [latin] + [w for w in re.split(r"\s*&\s*|\s+", latin) if len(w) > 4]
            names += CJK.findall(cat)
            han = CJK.findall(cat)
            if han and len(han[0]) > 2:
                names.append(han[0][-2:])  # 休闲零食 -> 零食
            categories[cat] = [n for n in names if n]
        suppliers: dict[str, list[str]] = {}
        for code, name in store.rows("SELECT code, name FROM suppliers"):
            latin = CJK.split(name)[0].replace(" Co.", "").strip().lower()
            suppliers[code] = [code.lower(), latin] + [h for h in CJK.findall(name)[:1]]
        return cls(products, locations, categories, suppliers, central)


@dataclass
class Entities:
    skus: list[str] = field(default_factory=list)
    locations: list[str] = field(default_factory=list)
    category: str | None = None
    suppliers: list[str] = field(default_factory=list)
    action_id: int | None = None
    reference: str | None = None  # a PO number or transfer id
    unknown_skus: list[str] = field(default_factory=list)  # SKU-like codes the store lacks
    days: int | None = None
    quantity: int | None = None


def _contains(text: str, name: str) -> bool:
    if CJK.search(name):
        return name in text
    return re.search(rf"(?<![a-z0-9]){re.escape(name)}(?![a-z0-9])", text) is not None


def find_entities(question: str, cat: Catalogue) -> Entities:
    text = question.lower()
    found = Entities()
    codes = {s.lower(): s for s, _n, _c in cat.products}
    named = [c for c in SKU_CODE.findall(question) if not REFERENCE.fullmatch(c)]
    found.skus = [codes[c.lower()] for c in named if c.lower() in codes]
    found.unknown_skus = [c for c in named if c.lower() not in codes]
    if not found.skus:
        found.skus = _products_by_name(text, cat)
    for code, names in cat.locations.items():
        if any(_contains(text, n) for n in names):
            found.locations.append(code)
    # "Kunshan" names both the central DC and the VMI store: keep the central DC
    if len(found.locations) > 1 and cat.central in found.locations:
        found.locations = [c for c in found.locations if not c.startswith("VMI") or "vmi" in text]
    for category, names in cat.categories.items():
        if any(_contains(text, n) for n in names):
            found.category = category
            break
    for code, names in cat.suppliers.items():
        if any(_contains(text, n) for n in names):
            found.suppliers.append(code)
    if m := ACTION.search(question):
        found.action_id = int(m.group(1))
    if m := REFERENCE.search(question):
        found.reference = m.group(0)
    for pattern, unit in HORIZONS:
        if m := pattern.search(text):
            number = m.group(1) if m.groups() else None
            found.days = int(number) * unit if number and number.isdigit() else unit
            break
    if m := re.search(r"(\d[\d,]*)\s*(?:units|pcs|件|个)", text):
        found.quantity = int(m.group(1).replace(",", ""))
    return found


def _products_by_name(text: str, cat: Catalogue) -> list[str]:
    """Products whose name the question quotes: two distinctive English words of the name in
    the question, or three Chinese characters in a row; the best-covered names win."""
    best: list[tuple[float, str]] = []
    han_text = "".join(CJK.findall(text))
    for sku, name, _category in cat.products:
        lowered = name.lower()
        words = [
            w for w in re.findall(r"\b[a-z][a-z\-]+\b", CJK.sub(" ", lowered)) if w not in GENERIC
        ]
        hits = [w for w in words if _contains(text, w)]
        score = 0.0
        if len(hits) >= 2 or (len(hits) == 1 and len(words) == 1):
            score = len(hits) / max(len(words), 1) + 0.01 * len(hits)
            # "stage 2", "500ml", "1l": the name's sizes and numbers the question repeats
            sizes = re.findall(r"(?<![\w-])\d+(?:\.\d+)?(?:ml|l|g|kg|gb)?(?![\w-])", lowered)
            score += 0.05 * sum(_contains(text, n) for n in sizes)
        for chunk in CJK.findall(name):
            longest = _longest_common(han_text, chunk)
            if longest >= 3 or (longest >= 2 and longest == len(chunk)):
                score = max(score, longest / len(chunk) + 0.01 * longest)
        if score > 0:
            best.append((score, sku))
    if not best:
        return []
    best.sort(key=lambda r: (-r[0], r[1]))
    top = best[0][0]
    return [sku for score, sku in best if score >= top - 1e-9][:5]


def _longest_common(a: str, b: str) -> int:
    if not a or not b:
        return 0
    longest = 0
    for i in range(len(b)):
        for j in range(i + longest + 1, len(b) + 1):
            if b[i:j] in a:
                longest = j - i
            else:
                break
    return longest


def intent_of(question: str) -> str:
    text = question.lower()
    for intent, words in INTENTS:
        if any(w in text for w in words):
            return intent
    return "position" if SKU_CODE.search(question) else "exceptions"


@dataclass(frozen=True)
class Route:
    intent: str
    entities: Entities
    calls: list[tuple[str, dict]]


def route(question: str, cat: Catalogue) -> Route:
    """The tool calls that answer the question."""
    e = find_entities(question, cat)
    intent = intent_of(question)
    sku = e.skus[0] if e.skus else None
    loc = e.locations[0] if e.locations else None
    calls: list[tuple[str, dict]] = []

    def exc(rule: str | None, **more) -> None:
        args = {"rule": rule, "location": loc, "sku": sku if len(e.skus) == 1 else None}
        if len(e.skus) > 1:
            args["skus"] = e.skus
        args |= {"category": e.category} | more
        calls.append(("list_exceptions", {k: v for k, v in args.items() if v is not None}))

    if e.action_id and intent in ("explain", "why", "exceptions", "moves", "position"):
        calls.append(("explain_action", {"action_id": e.action_id}))
    elif intent == "explain":
        exc(None)
    elif intent == "expedite":
        calls.append(("drafted_actions", {"kind": "expedite"} | ({"location": loc} if loc else {})))
        exc("late_inbound")
    elif intent == "what_if":
        if e.action_id:
            calls.append(("simulate_what_if", {"action_id": e.action_id}))
        elif sku and loc:
            units = e.quantity or 0
            calls.append(("simulate_what_if", {"sku": sku, "location": loc, "units": units}))
            calls.append(("drafted_actions", {"sku": sku, "location": loc, "kind": "transfer"}))
        else:
            exc("stockout", within_days=e.days or 14)
    elif e.unknown_skus and not e.skus:  # let the tool say there is no such product
        calls.append(("get_position", {"sku": e.unknown_skus[0]}))
    elif intent == "why":
        exc(None, reference=e.reference)
        if sku and loc:
            calls.append(("get_position", {"sku": sku, "location": loc}))
    elif intent == "late":
        exc("late_inbound", reference=e.reference)
    elif intent == "suppliers":
        args = {"sku": sku} if sku else {"category": e.category} if e.category else {}
        calls.append(("compare_suppliers", args))
    elif intent == "dead":
        exc("dead_stock")
    elif intent == "excess":
        exc("excess")
    elif intent == "moves":
        calls.append(
            ("drafted_actions", {k: v for k, v in {"location": loc, "sku": sku}.items() if v})
        )
        if sku and loc:
            calls.append(("compare_sources", {"sku": sku, "location": loc}))
    elif intent == "sources" and sku and loc:
        args = {"sku": sku, "location": loc} | ({"quantity": e.quantity} if e.quantity else {})
        calls.append(("compare_sources", args))
    elif intent == "stockout":
        exc("stockout", within_days=e.days or 14)
        for one in e.skus[:2] if loc else []:  # and the projection itself, short or not
            calls.append(("simulate_what_if", {"sku": one, "location": loc, "units": 0}))
    elif intent == "forecast" and sku and loc:
        calls.append(("get_forecast", {"sku": sku, "location": loc, "days": min(e.days or 14, 28)}))
    elif intent == "policy" and sku and loc:
        calls.append(("explain_policy", {"sku": sku, "location": loc}))
    elif intent in ("position", "forecast", "policy", "sources") and sku:
        calls.append(("get_position", {"sku": sku} | ({"location": loc} if loc else {})))
    elif intent == "search":
        calls.append(("search_products", {"query": _search_text(question)}))
    elif intent == "draft":
        if sku and loc:
            calls.append(("compare_sources", {"sku": sku, "location": loc}))
        else:
            exc("stockout", within_days=e.days or 14)
    else:
        exc(None)
    return Route(intent, e, calls)


def _search_text(question: str) -> str:
    words = re.sub(
        r"(?i)\b(find|search|for|look up|which|products?|is|are|the|a|an|what|show me)\b|[?？。!]",
        " ",
        question,
    )
    words = re.sub(r"查找|搜索|哪些产品|产品", " ", words)
    return " ".join(words.split())[:120] or question[:120]
