"""Understanding a question: a typed plan (intent, subjects with their roles, slots, language).

A question is read in three steps, each a small pure function:

1. **Mentions.** The store's entities are found by name (:class:`Catalogue`): SKU codes,
   product names (full, short, Chinese), location codes, short codes ("KS", "BJ"), cities in
   both scripts (typos of one letter forgiven), regions, suppliers, categories. Each mention
   keeps its span, so a location's role comes from the words around it ("from X", "X → Y",
   "从X调到Y", "发往Y").
2. **Intent.** A multinomial naive Bayes classifier over character 1-4-grams and words of the
   text with the mentions masked to type tokens and digits folded, trained on the corpus's
   train part only (:func:`agents.corpus.load`), at first use. A few rules over general
   phrasings override it where they measurably pay on the dev part (requests to write, bare
   follow-ups, an under-specified first turn).
3. **Slots.** Metric, period, horizon, top-N, order, group-by, quantity, action number and
   filters are read by patterns in English and Chinese (Chinese numerals included).

With ``previous`` (the plan of the turn before), a turn that only names what changes ("and in
Wuhan?", "那武汉呢？", "last month?") keeps the previous intent and subjects and replaces what
it names. The answer's language is Chinese when the question's own words, the entity names
masked out, hold Chinese. Nothing here touches the database after :meth:`Catalogue.from_store`.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from collections import Counter
from dataclasses import dataclass, field, replace
from functools import lru_cache

import numpy as np
import polars as pl

from control_tower import reference
from control_tower.errors import ControlTowerError
from control_tower.store import Store

log = logging.getLogger(__name__)

MAX_QUESTION = 2000
INTENTS = (
    "stock_level",
    "stockouts_upcoming",
    "stockout_item",
    "top_risks",
    "kpi",
    "ranking",
    "compare",
    "transfer_suggest",
    "transfer_cost",
    "plan_why",
    "order_suggest",
    "vmi",
    "supplier_owed",
    "settlement",
    "late_inbound",
    "excess_dead",
    "forecast",
    "policy",
    "supplier_performance",
    "action_status",
    "what_if",
    "decline_write",
    "out_of_scope",
    "ambiguous",
)
METRICS = (
    "fill_rate",
    "turnover",
    "inventory_value",
    "health_index",
    "on_time_rate",
    "forecast_bias",
    "forecast_error",
    "safety_stock",
    "reorder_point",
    "max_level",
    "eoq",
    "lead_time",
    "days_of_cover",
    "excess_value",
    "dead_value",
    "stockouts",
    "value_at_risk",
    "sales_at_risk",
    "late_lines",
    "on_hand",
)
PERIODS = ("this_week", "this_month", "last_month", "last_30_days", "current")
GOOD_WHEN_HIGH = {"fill_rate", "turnover", "health_index", "on_time_rate", "days_of_cover"}

# mask tokens: one character per entity type, never in a question's own words
MASK = {
    "product": "π",
    "location": "λ",
    "region": "ρ",
    "supplier": "σ",
    "category": "κ",
}
CJK = re.compile(r"[\u3400-\u9fff]")


def _rx(pattern: str) -> re.Pattern:
    """Patterns see only ASCII as word characters: "多少units" has a word boundary at "u"."""
    return re.compile(pattern, re.ASCII)


class UnderstandError(ControlTowerError, ValueError):
    """A question that cannot be read: empty, or longer than :data:`MAX_QUESTION`."""

    title = "Question not accepted"


# -- the plan ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Plan:
    """What a question asks, typed. Codes are the store's (SKU, location, supplier codes)."""

    intent: str
    lang: str  # en | zh: the language the answer must be in
    products: tuple[str, ...] = ()
    locations: tuple[str, ...] = ()  # in the order the question names them
    source: str | None = None
    destination: str | None = None
    region: str | None = None  # English region name, e.g. "South China"
    category: str | None = None  # English category name, e.g. "Beverages"
    supplier: str | None = None
    suppliers: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    regions: tuple[str, ...] = ()
    metric: str | None = None
    unit: str | None = None  # value | units (excess and dead stock)
    period: str | None = None
    compare: bool = False
    horizon_days: int | None = None
    group_by: str | None = None
    top_n: int | None = None
    order: str | None = None  # best | worst
    quantity: int | None = None
    action_id: int | None = None
    filters: dict = field(default_factory=dict, hash=False)  # dimension -> value
    follow_up: bool = False
    confidence: float = 1.0
    alternatives: tuple[str, ...] = ()
    unknown_skus: tuple[str, ...] = ()  # SKU-like codes the store does not hold
    text: str = ""  # the question as read (normalised), for the next turn
    # the fields the answer's first row filled, not the question (products, source,
    # destination): a follow-up asking for more of the list drops them
    from_answer: tuple[str, ...] = ()
    # the subjects of the rows the answer listed, in order (sku, location, source,
    # destination, supplier, action_id, rule): what "the second one" points at next turn
    rows: tuple = field(default=(), hash=False, compare=False)


# -- the catalogue of names -------------------------------------------------------------------
@dataclass(frozen=True)
class Mention:
    kind: str  # product | location | region | supplier | category
    values: tuple[str, ...]  # codes (several when a name is shared, e.g. two sizes)
    start: int
    end: int
    surface: str


SKU_CODE = _rx(r"(?<![A-Za-z0-9])[A-Za-z]{2,5}-\d{2,5}(?![0-9])")
PACKING = _rx(r"^(x\d+|\d+(\.\d+)?(g|kg|ml|l|pcs|pc|mm|cm|m)|case|pack|packs|box)$")
SUFFIX_ZH = _rx(r"^(区域仓|中心仓|仓库|仓|区域|区)")


def _keep_case(text: str) -> str:
    """NFKC (full-width to ASCII), typographic quotes and arrows straightened."""
    text = unicodedata.normalize("NFKC", text)
    return text.replace("\u2019", "'").replace("\u2018", "'").replace("\u2192", "→")


# words a pinyin keyboard or voice input often gets wrong for the domain's own words (the
# same length, so offsets carry over): 酷存 for 库存, 缺获 for 缺货, 调波 for 调拨...
HOMOPHONES = {
    "酷存": "库存",
    "裤存": "库存",
    "缺获": "缺货",
    "却货": "缺货",
    "调波": "调拨",
    "掉拨": "调拨",
    "段货": "断货",
    "预侧": "预测",
    "补获": "补货",
    "到获": "到货",
}
# "3段货架": a stage number's 段 before 货 is no typo
HOMOPHONE_RE = re.compile(
    "|".join(("(?<![0-9一二三四五六七八九十])" if k == "段货" else "") + k for k in HOMOPHONES)
)


def _norm(text: str) -> str:
    """:func:`_keep_case`, lower case, the domain's common homophone typos mended (the same
    length: offsets carry over)."""
    text = HOMOPHONE_RE.sub(lambda m: HOMOPHONES[m.group(0)], _keep_case(text))
    lowered = text.lower()
    return lowered if len(lowered) == len(text) else text


def _is_latin(name: str) -> bool:
    return not CJK.search(name)


@dataclass
class Catalogue:
    """Every name the store's entities go by, lower case -> (kind, codes). Built once per store;
    :meth:`mentions` finds them in a question."""

    names: dict[str, tuple[str, tuple[str, ...]]]
    upper_codes: dict[str, str]  # "KS" -> "CDC-KS": short codes, matched in capitals only
    skus: frozenset[str]
    regions: dict[str, str]  # English region name -> Chinese
    central: str | None = None
    vmi: str | None = None
    fuzzy: dict[str, str] = field(default_factory=dict)  # latin city name -> code
    by_first_char: dict[str, list[str]] = field(default_factory=dict)
    # names the central DC shares with the VMI store beside it ("Kunshan", "昆山")
    twin_names: frozenset[str] = frozenset()

    @classmethod
    def from_store(cls, store: Store) -> Catalogue:
        return cls.from_frames(
            reference.locations(store), reference.products(store), reference.suppliers(store)
        )

    @classmethod
    def from_frames(
        cls,
        locations: pl.DataFrame,
        products: pl.DataFrame,
        suppliers: pl.DataFrame,
        categories: list[tuple[str, str]] | None = None,
    ) -> Catalogue:
        names: dict[str, set[str]] = {}
        kinds: dict[str, str] = {}

        def add(name: str, kind: str, code: str) -> None:
            name = _norm(name).strip()
            if len(name) < 2 or (kind != "product" and len(name) < 2):
                return
            if name in kinds and kinds[name] != kind:
                # a name two kinds share (a city that is also a supplier's word): first wins
                return
            kinds[name] = kind
            names.setdefault(name, set()).add(code)

        upper: dict[str, str] = {}
        fuzzy: dict[str, str] = {}
        regions: dict[str, str] = {}
        central = vmi = None
        for row in locations.iter_rows(named=True):
            code, kind = row["code"], row["kind"]
            if kind == "supplier":
                continue
            regions[row["region_en"]] = row["region_zh"]
            add(code, "location", code)
            short = code.split("-", 1)[-1]
            if kind == "vmi":
                vmi = code
                for n in ("vmi store", "vmi site", "vmi warehouse", "vmi仓", "vmi 仓", "vmi hub"):
                    add(n, "location", code)
                add(row["name_zh"], "location", code)
                add("kunshan vmi", "location", code)
                add("kunshan vmi store", "location", code)
                continue
            upper[code] = code
            if kind == "central_dc":
                central = code
                upper["CDC"] = code
                for n in ("central dc", "central warehouse", "the cdc", "中心仓", "总仓", "cdc"):
                    add(n, "location", code)
            upper[short] = code
            city = reference.split_name(row["name_en"])[0]
            for cut in (" RDC", " Central", " VMI", " DC"):
                city = city.split(cut)[0]
            city = city.strip()
            for variant in {city, city.replace("'", ""), city.replace("'", " ")}:
                add(variant, "location", code)
                fuzzy[_norm(variant)] = code
            add(row["name_en"], "location", code)
            zh = row["name_zh"]
            if zh:
                add(zh, "location", code)
                add(re.sub(r"(?a)(区域仓|中心仓|VMI仓|仓)$", "", zh), "location", code)
        for region_en, region_zh in regions.items():
            add(region_en, "region", region_en)
            if region_zh:
                add(region_zh, "region", region_en)
                add(region_zh + "区", "region", region_en)
                add(region_zh + "区域", "region", region_en)
        for row in suppliers.iter_rows(named=True):
            code = row["code"]
            add(code, "supplier", code)
            upper[code.split("-", 1)[-1]] = code
            en = row["name_en"].replace(" Co.", "").strip()
            add(en, "supplier", code)
            add(row["name_en"], "supplier", code)
            add(en.split()[0], "supplier", code)
            zh = row["name_zh"]
            if zh:
                add(zh, "supplier", code)
                bare = re.sub(r"(?a)有限公司$", "", zh)
                add(bare, "supplier", code)
                add(bare[:4], "supplier", code)
                add(bare[:2], "supplier", code)
        if categories is None:
            categories = sorted(
                {
                    (r["category_en"], r["category_zh"])
                    for r in products.iter_rows(named=True)
                    if r["category_en"]
                }
            )
        for en, zh in categories:
            add(en, "category", en)
            add(en.replace("&", "and"), "category", en)
            for word in re.split(r"\s*&\s*|\s+", en):
                if len(word) > 4:
                    add(word, "category", en)
            if en.endswith("s"):
                add(en[:-1], "category", en)
            if zh:
                add(zh, "category", en)
                if len(zh) > 2:
                    add(zh[-2:], "category", en)
        skus = set()
        for row in products.iter_rows(named=True):
            sku = row["sku"]
            skus.add(sku)
            add(sku, "product", sku)
            name_en = row["name_en"] or ""
            add(name_en, "product", sku)
            words = [w for w in name_en.lower().split() if not PACKING.match(w)]
            add(" ".join(words[:5]), "product", sku)
            zh = row["name_zh"] or ""
            if zh:
                add(zh, "product", sku)
                add(zh.split()[0], "product", sku)
        table = {n: (kinds[n], tuple(sorted(codes))) for n, codes in names.items()}
        first: dict[str, list[str]] = {}
        for name in table:
            first.setdefault(name[0], []).append(name)
        twins: set[str] = set()
        if central and vmi:
            central_names = {n for n, (k, codes) in table.items() if codes == (central,)}
            vmi_text = " ".join(n for n, (k, codes) in table.items() if codes == (vmi,))
            twins = {
                n for n in central_names if n in vmi_text and n not in ("cdc", central.lower())
            }
        return cls(
            table, upper, frozenset(skus), regions, central, vmi, fuzzy, first, frozenset(twins)
        )

    def mentions(self, text: str, original: str) -> list[Mention]:
        """Non-overlapping mentions in ``text`` (normalised), longest first; short codes are
        matched in ``original`` (same offsets), in capitals only."""
        found: list[Mention] = []
        for start in range(len(text)):
            ch = text[start]
            if start > 0 and ch.isascii() and ch.isalnum() and text[start - 1].isalnum():
                if text[start - 1].isascii():
                    continue  # inside a latin word
            for name in self.by_first_char.get(ch, ()):
                end = start + len(name)
                if text.startswith(name, start):
                    if name[-1].isascii() and name[-1].isalnum():
                        if end < len(text) and text[end].isascii() and text[end].isalnum():
                            continue
                    kind, codes = self.names[name]
                    found.append(Mention(kind, codes, start, end, name))
        for m in re.finditer(r"(?a)(?<![A-Za-z0-9-])([A-Z]{2,4})(?![A-Za-z0-9])", original):
            code = self.upper_codes.get(m.group(1))
            if code:
                kind = "supplier" if code.startswith("SUP-") else "location"
                found.append(Mention(kind, (code,), m.start(), m.end(), m.group(1)))
        for m in re.finditer(r"(?a)(?<![a-z0-9'])([a-z][a-z']{4,})(?![a-z0-9])", text):
            word = m.group(1)
            if word in self.names:
                continue
            for city, code in self.fuzzy.items():
                if abs(len(city) - len(word)) <= 1 and _within_one_edit(word, city):
                    found.append(Mention("location", (code,), m.start(), m.end(), word))
                    break
        found.sort(key=lambda m: (-(m.end - m.start), m.start))
        taken = [False] * (len(text) + 1)
        chosen = []
        for m in found:
            if any(taken[m.start : m.end]):
                continue
            for i in range(m.start, m.end):
                taken[i] = True
            chosen.append(m)
        chosen.sort(key=lambda m: m.start)
        return chosen


def _within_one_edit(a: str, b: str) -> bool:
    if a == b:
        return True
    if len(a) == len(b):
        diff = [i for i in range(len(a)) if a[i] != b[i]]
        if len(diff) == 1:
            return True
        return len(diff) == 2 and diff[1] == diff[0] + 1 and a[diff[0]] == b[diff[1]]
    if len(a) > len(b):
        a, b = b, a
    return any(b[:i] + b[i + 1 :] == a for i in range(len(b)))


@lru_cache(maxsize=1)
def training_catalogue() -> Catalogue:
    """The names of the demo network's places, suppliers and categories, to mask the literal
    names of the training corpus the way a store's names are masked in a question."""
    from control_tower.ingest import demo

    cities = [demo.CENTRAL, *demo.CITIES[:7]]
    rows = []
    for i, c in enumerate(cities):
        central = i == 0
        rows.append(
            (
                demo.CENTRAL_CODE if central else f"RDC-{c.code}",
                "central_dc" if central else "regional_dc",
                f"{c.name} Central DC" if central else f"{c.name} RDC",
                f"{c.name_zh}中心仓" if central else f"{c.name_zh}区域仓",
                *reference.split_name(demo.REGIONS[c.region]),
            )
        )
    rows.append((demo.VMI_CODE, "vmi", "Kunshan VMI store", "昆山VMI仓", "East China", "华东"))
    locations = pl.DataFrame(
        rows,
        schema=["code", "kind", "name_en", "name_zh", "region_en", "region_zh"],
        orient="row",
    )
    suppliers = pl.DataFrame(
        [(s.code, *reference.split_name(s.name), s.vmi) for s in demo.SUPPLIERS],
        schema=["code", "name_en", "name_zh", "vmi"],
        orient="row",
    )
    products = pl.DataFrame(
        schema={"sku": pl.String, "name_en": pl.String, "name_zh": pl.String}
    ).with_columns(category_en=pl.lit(None, pl.String), category_zh=pl.lit(None, pl.String))
    categories = [reference.split_name(c.label) for c in demo.CATEGORIES]
    return Catalogue.from_frames(locations, products, suppliers, categories)


# -- masking and features ---------------------------------------------------------------------
PLACEHOLDER_MASK = {
    "sku": "product",
    "product": "product",
    "product_short": "product",
    "product_zh": "product",
    "loc": "location",
    "city": "location",
    "city_zh": "location",
    "loc2": "location",
    "city2": "location",
    "city2_zh": "location",
    "region": "region",
    "region_zh": "region",
    "supplier": "supplier",
    "supplier_name": "supplier",
    "supplier_short": "supplier",
    "supplier_zh": "supplier",
    "category": "category",
    "category_zh": "category",
}


def _masked(text: str, mentions: list[Mention]) -> str:
    out, last = [], 0
    for m in mentions:
        out.append(text[last : m.start])
        out.append(f" {MASK[m.kind]} ")
        last = m.end
    out.append(text[last:])
    masked = "".join(out)
    masked = re.sub(r"(?a)\d+(?:[.,]\d+)*", "0", masked)
    return re.sub(r"(?a)\s+", " ", masked).strip()


WORD = _rx(r"[a-z][a-z'\-]*|[πλρσκ0]")

# Concepts: the domain's words in English and Chinese (with common abbreviations), one token
# per concept, so that a phrasing the corpus never used still lands on what it means.
CONCEPTS: dict[str, str] = {
    "stock": r"how (much|many)|have we got|\bleft\b|sitting|\bstock\b|inventory|invetory|\binv\b|on[- ]hand|\bqty\b|available|holding|库存|现有|可用|还有多少|还剩|多少货|几箱",
    "cover": r"\bcover\b|\bwos\b|\bwoc\b|\bdoh\b|days? on hand|weeks? of supply|how long (?:will|would|does|can) (?:it|that|the stock|stock|we) last|撑多久|撑几天|能撑|够卖|够用几天|可售天数|能卖几天",
    "stockout": r"stock[- ]?outs?|stocking out|run(s|ning)? (out|dry)|go(?:ing|es)? out of stock|hit(s)? zero|\boos\b|out of stock|shortage|\bshort\b|断货|缺货|卖断|断了|缺|断(?:哪些|什么|啥|几个)货|会不会断|会断|断不断|怎么断|咋断|怎么缺|咋缺",
    "future": r"\bnext\b|coming|upcoming|projected|\bwill\b|going to|gonna|about to|未来|下周|即将|预计|within|内",
    "risk": r"先处理|处理什么|focus on|risks?|riskiest|危险|exceptions?|alerts?|issues?|problems?|urgent|fires|worr|attention|severe|scariest|风险|异常|预警|问题|紧急|要紧|严重|要命|关注",
    "kpi": r"fill?[- ]?rate|填充率|履约率|\binv\.? value|turnover|\bturns\b|health|on[- ]?time|\botif\b|\bbias\b|inventory value|stock value|满足率|周转|健康|准时|偏差|库存金额|库存总金额|\bkpi",
    "period": r"this (week|month)|last (week|month)|past 0|last 0|本周|这周|本月|这个月|上个?月|上周|近0|最近0",
    "rank": r"排个名|\brank|ranking|\btop\b|bottom|worst|\bbest\b|\bmost\b|highest|lowest|fastest|slowest|排名|排序|排一下|排个序|最|从高到低|从低到高|前0|前[一二三四五六七八九十]",
    "compare": r"\bvs\b|versus|compar|against|stack up|side[- ]by[- ]side|next to|alongside|\bor\b|对比|比较|相比|比一比|哪个更|谁的|谁高|哪家更",
    "transfer": r"transfer|tranfer|tranfser|trasnfer|transfr|tansfer|\bmov(?:e|ing)|\bpull (?:from|some|stock)|挪|\bship|rebalanc|lateral|spare|调拨|调货|调过去|调去|调到|调给|调|移|发过去|运",
    "suggest": r"suggest|recommend|should|propose|ideas?|would you|建议|应该|合适|该|最好|要不要",
    "cost": r"how much (?:to|would it|will it|does it|for) (?:move|ship|send|transfer|cost)|\bcost|freight|price|expensive|cheap|便宜|划算|省钱|\bbill\b|fee|charge|运费|成本|费用|多少钱|物流费|花|贵",
    "why": r"\bwhy\b|reason|explain|how come|rationale|为什么|为啥|原因|理由|依据|怎么来的|解释|怎么回事|怎么会",
    "plan": r"\bplan\b|planned|optimi[sz]er|proposal|\baction\b|计划|优化器|方案|安排|\barranged?\b|\bscheduled?\b|系统",
    "order": r"\border|\bpos?\b|purchase|\bbuy|reorder|replenish|\braise|\bplace\b|采购|补货|补多少|补单|订多少|订几|要订|下单|下.{0,2}单|订货|购买|买",
    "vmi": r"\bvmi|代管|供应商管理库存|最低水位|低水位|low[- ]water|consign|call-off|call off|min/max|min and max|寄售|叫货|先用后结|上下限",
    "owe": r"\bowe|得付|要付|该付|付他们|付.{0,3}多少钱?|outstanding|payable|balance|\bbill\b|liability|amount due|unpaid|not paid|欠|应付|付给|付人家|货款|账上",
    "settle": r"settle|statement|reconcil|tolerance|match|结算|对账|差异|对得上|对上",
    "late": r"\blate\b|overdue|delay|behind schedule|past (their )?due|stuck|holding up|arrived yet|延迟|逾期|超期|晚到|迟交|迟到|延误|没到|未到|还没到|超时|晚了|晚交|拖期|拖了",
    "inbound": r"inbound|deliver|shipment|in transit|arriv|入库|到货|在途|再途|到了",
    "excess": r"excess|overstock|\bdead\b|aging|ageing|slow[- ]moving|ha(?:ve|s)n'?t (?:moved|sold)|not (?:moved|sold) (?:in|for)|no movement|surplus|too much|积压|呆滞|滞销|超储|库龄|没动|压太多|压得最多|压货|压了|压着|压在|多余|多出",
    "forecast": r"forecast|forcast|demand|expect(ed)? to sell|projected sales|sell|预测|需求|预计.{0,3}卖|销量|卖多少",
    "policy": r"safety stock|saftey|\bss\b|reorder point|\brop\b|max(imum)? (level|lvl)|\beoq\b|order-up-to|安全库存|再订货点|补货点|最高库存|库存上限|经济订货|经济批量|最大库存",
    "formula": r"calculat|formula|worked out|how is it|怎么算|公式|算出来",
    "supplier": r"supplier|vendor|供应商|σ",
    "perf": r"on[- ]?time|及时|准不准时|按时到|reliab|lead[- ]?time|scorecard|\botif\b|delivery (dates|performance)|准时|交期|交货|提前期|表现",
    "status": r"status|approved|posted|rejected|pending|waiting for|audit|who approved|received|queue|状态|审批|批了|批的|过账|驳回|待审批|收货|批准|拒绝",
    "whatif": r"what if|what-if|\bif\b|^\W*(?:ok |so |and )?say (?:the |we |our |demand|sales)|suppose(?!d)|hypothetical|scenario|simulat|what happens|what would break|impact|如果|假如|假设|要是|模拟|会怎样|影响",
    "write": r"^(?:pls |please |just |can you |帮我|请)?(?:approve|reject|delete|change|update|post|send|email|cancel|submit|mark|snooze|bump|批准|驳回|删|修改|改|过账|发|取消|提交|把)",
    "offtopic": r"weather|joke|news|stock market|exchange rate|\brate today|movie|film|restaurant|hotpot|translat|python|script|scrape|football|\bnba\b|vacation|\bhr\b|salary|payslip|hotel|天气|笑话|新闻|股价|汇率|电影|翻译|爬虫|代码|年假|工资|总结|高铁|机票|竞争对手|competitor|\bbook\b|吃什么|大盘|行情",
    "vague": r"how are we doing|anything new|status\?|情况如何|怎么样|咋样|check|有问题吗",
}
CONCEPT_RE = {name: _rx(pattern) for name, pattern in CONCEPTS.items()}
CONCEPT_WEIGHT = 20


def features(masked: str) -> Counter:
    """Character 1-4-grams (within a padded string) and latin words and word pairs."""
    padded = f"^{masked}$"
    grams: Counter = Counter()
    for n in (1, 2, 3, 4):
        for i in range(len(padded) - n + 1):
            gram = padded[i : i + n]
            if gram.strip():
                grams["c" + gram] += 1
    words = WORD.findall(masked)
    for w in words:
        grams["w" + w] += 1
    for a, b in zip(words, words[1:], strict=False):
        grams["b" + a + " " + b] += 1
    for name, pattern in CONCEPT_RE.items():
        if pattern.search(masked):
            for k in range(CONCEPT_WEIGHT):
                grams[f"k{name}{k}"] += 1
    return grams


@dataclass
class NaiveBayes:
    """Multinomial naive Bayes with Laplace-Lidstone smoothing ``alpha``; token counts are
    capped at 1 per question (binarised), which helps short texts."""

    classes: tuple[str, ...]
    vocab: dict[str, int]
    log_prob: np.ndarray  # (classes, vocab)
    log_prior: np.ndarray

    @classmethod
    def fit(cls, texts: list[str], labels: list[str], alpha: float = 0.1) -> NaiveBayes:
        classes = tuple(sorted(set(labels)))
        index = {c: i for i, c in enumerate(classes)}
        feats = [features(t) for t in texts]
        vocab: dict[str, int] = {}
        for f in feats:
            for g in f:
                vocab.setdefault(g, len(vocab))
        counts = np.zeros((len(classes), len(vocab)))
        for f, label in zip(feats, labels, strict=True):
            row = index[label]
            for g in f:
                counts[row, vocab[g]] += 1
        smoothed = counts + alpha
        log_prob = np.log(smoothed / smoothed.sum(axis=1, keepdims=True))
        prior = np.bincount([index[x] for x in labels], minlength=len(classes)) + 1.0
        return cls(classes, vocab, log_prob, np.log(prior / prior.sum()))

    def scores(self, masked: str) -> np.ndarray:
        cols = [self.vocab[g] for g in features(masked) if g in self.vocab]
        return self.log_prior + self.log_prob[:, cols].sum(axis=1)

    def posterior(self, masked: str, temperature: float = 8.0) -> np.ndarray:
        s = self.scores(masked) / temperature
        s = np.exp(s - s.max())
        return s / s.sum()


def mask_template(text: str, cat: Catalogue) -> str:
    """A corpus question with its placeholders and literal names masked."""
    marks = {kind: f"\x00{kind}\x00" for kind in MASK}
    filled = re.sub(
        r"\{([a-z_0-9]+)\}",
        lambda m: marks[PLACEHOLDER_MASK[m.group(1)]] if m.group(1) in PLACEHOLDER_MASK else "0",
        text,
    )
    out = []
    for i, piece in enumerate(_keep_case(filled).split("\x00")):
        if i % 2 == 1:
            out.append(f" {MASK[piece]} ")
        else:
            lowered = _norm(piece)
            out.append(_masked(lowered, cat.mentions(lowered, piece)))
    return _masked("".join(out), [])


@lru_cache(maxsize=1)
def model() -> NaiveBayes:
    """The intent classifier, trained on the corpus's train part (never dev or test)."""
    from agents import corpus

    cat = training_catalogue()
    questions = [q for part in corpus.TRAINING for q in corpus.load(part)]
    texts = [mask_template(q.text, cat) for q in questions]
    return NaiveBayes.fit(texts, [q.kind for q in questions])


# -- numbers ----------------------------------------------------------------------------------
CN_DIGITS = {"零": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7}
CN_DIGITS |= {"八": 8, "九": 9}
EN_NUMBERS = {
    "one": 1,
    "a": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "twelve": 12,
    "fifteen": 15,
    "twenty": 20,
    "thirty": 30,
}
NUM = r"(\d+|[零一二两三四五六七八九十百]+|one|two|three|four|five|six|seven|eight|nine|ten|twelve|fifteen|twenty|thirty)"


EN_UNITS = {k: v for k, v in EN_NUMBERS.items() if k != "a"} | {
    "eleven": 11, "thirteen": 13, "fourteen": 14, "sixteen": 16, "seventeen": 17,
    "eighteen": 18, "nineteen": 19, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70,
    "eighty": 80, "ninety": 90, "a": 1,
}  # fmt: skip
SPELLED_EN = re.compile(
    r"(?i)\b(" + "|".join(sorted(EN_UNITS, key=len, reverse=True)) + r")(?:[ -](one|two|three|four|"
    r"five|six|seven|eight|nine))?\s+(hundred|thousand|grand)(?:\s+(?:and\s+)?("
    + "|".join(sorted(EN_UNITS, key=len, reverse=True))
    + r"))?\b"
)
# "1.5k" only where a quantity ends ("move 2k", "2k units"): "4K cable" and "65W charger"
# are product names
THOUSANDS = re.compile(
    r"(?i)(?<![\w.])(\d+(?:\.\d+)?)\s*(?:(千|万)|(k)(?=\s*(?:units?|pcs|pieces|cases?|boxes|"
    r"cartons?|件|箱|个|of\b|more|extra|instead|then|$|[?？,，.。!！;；)])))"
)
SPELLED_ZH = re.compile(
    r"[一二两三四五六七八九十][零一二两三四五六七八九十]*[百千万][零一二两三四五六七八九十百千万]*"
)
ZH_SCALE = {"十": 10, "百": 100, "千": 1000}
# "过去三十天", "两周": a count of days, weeks or months (not "星期一", "第一天")
DAYS_ZH = re.compile(r"(?<![第星期礼拜周])([一二两三四五六七八九十]{1,3})(天|日|周|个星期|个月)")


def _zh_number(token: str) -> int | None:
    """A Chinese numeral with 百, 千 or 万: 一千五百 1500, 两千 2000, 一千五 1500 (the
    spoken short form: a last digit after a scale counts a tenth of it), 三万 30000."""
    if token.count("万") > 1:
        return None
    high, _, low = token.rpartition("万")
    total = 0
    for part, scale in ((high, 10000), (low, 1)):
        if not part and scale == 10000 and "万" in token:
            return None
        value, digit, last = 0, None, None
        for ch in part:
            if ch in CN_DIGITS:
                digit = CN_DIGITS[ch]
            elif ch in ZH_SCALE:
                value += (1 if digit is None else digit) * ZH_SCALE[ch]
                digit, last = None, ZH_SCALE[ch]
        if digit is not None:
            value += digit * (last // 10) if last and last >= 100 else digit
        total += value * scale
    return total or None


def _spell_numbers(text: str) -> str:
    """Quantities in words as digits: "eight hundred" 800, "two thousand" 2000, "1.5k" 1500,
    "两千" 2000, "一千五" 1500, "八百" 800, "3万" 30000 (other numerals stay as written)."""

    def en(m: re.Match) -> str:
        value = EN_UNITS[m.group(1).lower()] + (EN_UNITS[m.group(2).lower()] if m.group(2) else 0)
        value *= 100 if m.group(3).lower() == "hundred" else 1000
        return str(value + (EN_UNITS[m.group(4).lower()] if m.group(4) else 0))

    def short(m: re.Match) -> str:
        scale = {"k": 1000, "千": 1000, "万": 10000}[(m.group(2) or m.group(3)).lower()]
        return str(int(round(float(m.group(1)) * scale)))

    def zh(m: re.Match) -> str:
        value = _zh_number(m.group(0))
        return m.group(0) if value is None else str(value)

    text = SPELLED_EN.sub(en, text)
    text = THOUSANDS.sub(short, text)
    text = SPELLED_ZH.sub(zh, text)
    return DAYS_ZH.sub(lambda m: f"{number(m.group(1))}{m.group(2)}", text)


def number(token: str) -> int | None:
    """An integer written in digits, English words or Chinese numerals (十五, 二十, 一百)."""
    token = token.strip().lower()
    if token.isdigit():
        return int(token)
    if token in EN_NUMBERS:
        return EN_NUMBERS[token]
    if not token or any(ch not in CN_DIGITS and ch not in "十百" for ch in token):
        return None
    total, current = 0, 0
    for ch in token:
        if ch in CN_DIGITS:
            current = CN_DIGITS[ch]
        elif ch == "十":
            total += (current or 1) * 10
            current = 0
        elif ch == "百":
            total += (current or 1) * 100
            current = 0
    return total + current


# -- slots ------------------------------------------------------------------------------------
METRIC_PATTERNS: tuple[tuple[str, str], ...] = (
    ("eoq", r"\beoq\b|economic|经济订货|经济批量|每次订多少|最划算|how big should .{0,30}order"),
    (
        "reorder_point",
        r"\brop\b|re-?order (?:point|pt|lvl|level)|再订货点|补货点|订货点|at what point do we reorder|"
        r"降到多少.{0,4}补货",
    ),
    (
        "max_level",
        r"\bmax(imum)?\.? ?(level|lvl|stock)|order-up-to|order up to|最高库存|库存上限|最大库存",
    ),
    ("safety_stock", r"safe?ty stock|saftey stock|safety-stock|\bss\b|安全库存"),
    (
        "forecast_bias",
        r"\bbias|偏差|偏高|偏低|报高|报低|over-? ?or under|over-?forecast|under-?forecast",
    ),
    ("forecast_error", r"forecast error|forecast accuracy|\bmape\b|预测误差|准不准|accura"),
    ("health_index", r"health|健康"),
    (
        "on_time_rate",
        r"on-? ?time|\botif\b|准时|punctual|delivery dates|交货表现|按时|及时|靠谱|reliab|守时",
    ),
    (
        "lead_time",
        r"lead-? ?times?|交期|交货周期|提前期|交货天数|how long .{0,30}deliver|po to receipt|"
        r"下单到收货|days from po",
    ),
    (
        "fill_rate",
        r"fill?-? ?(?:rate|right|rt)\b|\bfil\b|\bfill ?%|满足率|满足比例|订单满足|填充率|履约率",
    ),
    (
        "turnover",
        r"turnover|\bturns\b|周转|turn over|turning (?:its |their |our |the )?(?:inventory|stock)|"
        r"\bturns? (?:the )?(?:slow|fast)|(?:slow|fast)(?:est)?[- ]turning",
    ),
    (
        "days_of_cover",
        r"days? of cover|\bcover\b|可售天数|撑多久|够卖几天|\bwos\b|weeks? of supply|\bdoh\b|"
        r"days? on hand|库存天数|周转天数|\bwoc\b|weeks? (?:of|on) (?:cover|hand)|可售周数|库存周数",
    ),
    ("sales_at_risk", r"sales at risk|revenue at risk|受影响(?:的)?销售额|销售额风险|风险销售额"),
    ("value_at_risk", r"value at risk|风险金额|money at risk"),
    ("dead_value", r"\bdead\b|呆滞|滞销|aging|ageing|库龄|ha(?:ve|s)n'?t moved|没动"),
    ("excess_value", r"excess|overstock|积压|超储|压货|压着|压了|压在"),
    (
        "inventory_value",
        r"inventory value|stock value|\binv\.? (?:value|val)\b|\bstock val\b|库存金额|库存总金额|库存价值|"
        r"库存总值|value of (our )?inventory|"
        r"inventory worth|库存.{0,2}金额|tie[sd]? up more inventory",
    ),
    ("stockouts", r"stock-? ?outs?|stockouts?|断货|缺货|run (out|dry)|\boos\b"),
    ("late_lines", r"\blate\b|延迟|逾期|overdue|迟到|晚到|迟交"),
    ("on_hand", r"on hand|on-hand|库存|\bstock\b|\bunits\b|更多|多少货"),
)
PERIOD_PATTERNS: tuple[tuple[str, str], ...] = (
    (
        "last_30_days",
        r"(last|past|previous) (0|30) days|近 ?30 ?天|最近 ?30 ?天|过去 ?30 ?天|last month-ish|"
        r"最近(?![的0-9一二三四五六七八九十几]|仓|一|那)|\blately\b|\brecently\b",
    ),
    ("last_month", r"last month|previous month|上个月|上月|last mth"),
    (
        "this_month",
        r"this month|本月|这个月|month to date|mtd|当月|month so far|so far this month|\bmonthly\b|月度",
    ),
    ("last_week", r"last week|last wk|上周|上个星期"),
    (
        "this_week",
        r"this week|this wk|本周|这周|这个星期|本星期|wtd|week so far|so far this week|\bweekly\b|周度|"
        r"(?<!last )(?<!next )(?<!per )\bwk\b(?!\s*\d)",
    ),
    (
        "current",
        r"right now|\bnow\b|\brn\b|\batm\b|current|today|at the moment|as of today|现在|目前|当前|今天",
    ),
)
METRIC_PATTERNS = tuple((name, _rx(p)) for name, p in METRIC_PATTERNS)
PERIOD_PATTERNS = tuple((name, _rx(p)) for name, p in PERIOD_PATTERNS)
COMPARE = _rx(
    r"升了还是降了|涨了还是跌了|升还是降|是升是降|\bup or down\b|\bup\s*还是\s*down\b|涨还是跌|"
    r"上升还是下降|higher or lower|\btrend|趋势|"
    r"\bvs\.?\b|versus|compared|compare|comparison|than last|than the|month before|week before|better or worse|"
    r"against (?:the )?(?:last|previous|prior) (?:week|month)|"
    r"improv|gotten (worse|better)|跟.{0,14}比|和.{0,14}比|比上|跟上.{0,3}比|和上.{0,3}比|比一比|对比|环比|变化|比呢"
)


RELIABLE = _rx(r"reliab|靠谱|稳定|consisten")


def _metric(text: str) -> str | None:
    for metric, pattern in METRIC_PATTERNS:
        if re.search(pattern, text):
            if metric == "on_time_rate" and not re.search(
                r"(?a)on-? ?time|\botif\b|准时|按时|及时|守时|punctual", text
            ):
                # "how reliable has Jiangnan been on lead times?": the lead time's record
                if RELIABLE.search(text) and re.search(dict(METRIC_PATTERNS)["lead_time"], text):
                    return "lead_time"
            if metric in POLICY_METRICS:
                # "max level too pls. is that just ROP plus something?": the one asked first
                at = {
                    m: hit.start()
                    for m, p in METRIC_PATTERNS
                    if m in POLICY_METRICS and (hit := re.search(p, text))
                }
                return min(at, key=at.get)
            return metric
    return None


def _period(text: str) -> tuple[str | None, bool]:
    """(period, compared with the previous one)."""
    found = [(m.start(), p) for p, pat in PERIOD_PATTERNS for m in re.finditer(pat, text)]
    found.sort()
    compare = bool(COMPARE.search(text))
    names = [p for _s, p in found]
    if compare and names:
        # "this month vs last": the current period is the one not compared against
        if "this_month" in names or "this_week" in names:
            return ("this_month" if "this_month" in names else "this_week"), True
        if names[0] == "last_month" and re.search(
            r"(?a)month before|previous month|前一个月", text
        ):
            return "last_month", True
        if names[0] == "last_week":
            return "this_week", True
        if re.search(r"(?a)(vs|versus|比|对比)\W*(上|last)", text):
            return ("this_week" if "week" in names[0] else "this_month"), True
        return names[0], True
    if names:
        period = names[0]
        return ("this_week" if period == "last_week" else period), period == "last_week"
    return None, compare  # "跟再前一个月比呢": the period asked before, against the one before it


HORIZON_PATTERNS: tuple[tuple[str, int], ...] = (
    (rf"(?<!last )(?<!past )(?<!近){NUM}\s*[+-]?\s*(?:days?|天|日)", 1),
    (r"(?<![\w-])(\d{1,3})d\b", 1),  # "next 30d"
    (rf"{NUM}\s*-?\s*(?:weeks?|wks?|周|个星期|星期)", 7),
    (r"(?<![\w-])(\d{1,2})w\b", 7),  # "next 2w"
    (rf"{NUM}\s*-?\s*(?:months?|个月)", 30),
    (r"fortnight", 14),
    (r"next quarter|下个?季度|coming quarter", 90),
    (r"next month|下个?月|a month|coming month|this month|本月|一个月", 30),
    (r"next week|下周|a week|coming week|一周|下个星期|this week|本周|这周", 7),
)


HORIZON_PATTERNS = tuple((_rx(p), unit) for p, unit in HORIZON_PATTERNS)


def _horizon(text: str) -> int | None:
    for pattern, unit in HORIZON_PATTERNS:
        m = re.search(pattern, text)
        if m and text[: m.start()].endswith("前") and m.group(0).startswith(("一", "1")):
            continue  # "和前一个月比": the month before, not a span
        if m:
            if m.groups():
                n = number(m.group(1))
                if n is None:
                    continue
                if (
                    re.search(r"(?a)(last|past|近|最近|过去|in|over)\s*$", text[: m.start()])
                    and unit == 1
                ):
                    if re.search(r"(?a)(last|past|近|最近|过去)\s*$", text[: m.start()]):
                        continue
                return n * unit
            return unit
    return None


TOP_PATTERNS = (
    rf"(?:top|bottom|first|worst|best|biggest|largest|highest|lowest|smallest|前|排名前)\s*{NUM}"
    r"(?!\s*(?:个)?\s*(?:月|周|天|日|年|星期|季度|期))",
    rf"\b{NUM}\s+(?:\w+\s+){{0,3}}?(?:skus?|products?|items?|dcs?|rdcs?|warehouses?|suppliers?|"
    rf"regions?|categories|exceptions?|risks?|things|issues|problems|alerts?|locations?|sites?|"
    rf"places|cities|fires|headaches|lines|pos|orders|transfers)\b",
    rf"最\S{{1,4}}?的\s*{NUM}\s*(?:个|条|家|名|项|大)",
    rf"{NUM}\s*(?:个|条|家|项)\s*(?:品|商品|仓|区域|供应商|异常|问题|sku|高风险|风险)",
    rf"列前\s*{NUM}",
    rf"列\s*{NUM}\s*(?:个|条|项|家)",
    rf"哪\s*{NUM}\s*(?:个|家|条|项)",
    r"\bthe (one) (?:thing|item|issue|risk|problem|sku|product)\b",
    r"最\S{1,4}的(一)个",
    # "give me 10", "给我来10个": as many as that
    rf"^\W{{0,3}}(?:ok\s+|and\s+)?(?:give me|show me|gimme|list|给我来?|来|要)\s*{NUM}\s*(?:个|条|ones?|please|pls)?[\s,.!?;:，。！？；：、~…]*$",
    # "make it 10", "改成 8 个": the list before, that long
    rf"^\W{{0,3}}(?:ok\s+|okay\s+)?(?:make it|make that|改成|换成|变成)\s*{NUM}\s*(?:个|条|rows?|lines?|ones?|please|pls)?[\s,.!?;:，。！？；：、~…]*$",
)
TOP_PATTERNS = tuple(_rx(p) for p in TOP_PATTERNS)
SINGULAR_WHICH = _rx(
    r"wh?ich (?:dc|rdc|warehouse|region|category|supplier|sku|product|one)\b(?!s)|哪个|哪家|哪一个|哪一家|"
    r"^\W*(?:and\s+|so\s+)?(?:the\s+)?(?:worst|best|biggest|top)\s+(?:dc|rdc|warehouse|region|category|"
    r"supplier|sku|product|site|location)\b(?!s)|\bwhere(?:'s| is| are)? (?:most|the most|the bulk)\b|"
    r"哪里最多|在哪最多|大部分在哪|主要在哪"
)


def _top_n(text: str) -> int | None:
    for pattern in TOP_PATTERNS:
        for m in re.finditer(pattern, text):
            n = number(m.group(1))
            if n and n < 1000 and not (m.group(1) == "a"):
                return n
    return None


# "top" names no direction: the top of a list by its measure, as the default orders it
HIGH = _rx(
    r"most|highest|biggest|largest|greatest|longest|fastest|best|从高到低|最多|最高|最大|最快|最长|最好|降序"
)
LOW = _rx(
    r"least|lowest|smallest|bottom|shortest|slowest|worst|dragg?(?:ed|ing|s)? (?:it |us |them )?down|"
    r"pull(?:ed|ing|s)? (?:it |us |them )?down|hurt|拖后腿|拉低|从低到高|最少|最低|最小|最慢|最短|最差|升序"
)


def _order(text: str, metric: str | None) -> str | None:
    if re.search(r"(?a)worst|最差|bottom|最慢|slowest|least reliable|最不", text):
        return "worst"
    # lagging behind the rest is worst whichever way the measure runs
    if re.search(
        r"(?a)拖后腿|拉低|\b(?:dragg?|pull)(?:ed|ing|s)?\b.{0,25}\bdown\b|lagg(?:ing|ards?)", text
    ):
        return "worst"
    if re.search(r"(?a)\bbest\b|最好|最快|fastest|most reliable", text):
        return "best"
    high = HIGH.search(text)
    low = LOW.search(text)
    if not high and not low:
        return None
    direction_high = bool(high) and (not low or high.start() < low.start())
    good_high = metric in GOOD_WHEN_HIGH
    return "best" if direction_high == good_high else "worst"


GROUPS = (
    (
        "location",
        r"regional dcs?|\brdcs?\b|\bdcs?\b|\bd c'?s?\b|warehouses?|\bcity\b|\bcities\b|城市|区域仓|各仓|哪些仓|哪个仓|"
        r"几个仓|按仓|仓库|\d*个仓|仓",
    ),
    ("region", r"\bregions?\b|区域|大区|各区|按区"),
    ("category", r"categor|品类|类别"),
    ("supplier", r"suppliers?|vendors?|供应商"),
    (
        "product",
        r"\bskus?\b|products?|items?|商品|个品(?!类|牌)|品(?=$|[^\w\u3400-\u9fff])|单品|\bby sku",
    ),
)


GROUPS = tuple((group, _rx(p)) for group, p in GROUPS)


def _group_by(text: str) -> str | None:
    for explicit in re.finditer(
        r"(?a)(?:\bby|\bper|按|各|group by)\s*([a-z]+(?:\s[a-z]+)?|[\u3400-\u9fff]{1,3})", text
    ):
        word = explicit.group(1)
        for group, pattern in GROUPS:
            if pattern.match(word):
                return group
    best: tuple[int, str] | None = None
    for group, pattern in GROUPS:
        m = re.search(pattern, text)
        if m and (best is None or m.start() < best[0]):
            best = (m.start(), group)
    if best:
        return best[1]
    if re.search(r"(?a)\bwhere\b|哪里|哪儿", text):
        return "location"
    return None


QUANTITY = _rx(
    r"(\d[\d,]*)\s*(?:units?|pcs|pieces|cases?|件|箱|个|ctns?|cartons?)(?![a-z])|"
    r"(?:move|transfer|ship|send|调|调拨|移|raise to|to)\s*(\d[\d,]*)(?!\s*(?:days?|天|%|周|weeks?))"
)
ACTION = _rx(
    r"(?:action|动作|行动|建议|proposal|transfer|调拨单?|#)\s*(?:no\.?|number|#|号)?\s*(\d{1,9})(?![\d%])|"
    r"(?<![\d.])(\d{1,9})\s*号"
)


def _quantity(text: str) -> int | None:
    for m in QUANTITY.finditer(text):
        raw = m.group(1) or m.group(2)
        if raw:
            value = int(raw.replace(",", ""))
            if value > 0:
                return value
    return None


def _action_id(text: str, intent: str) -> int | None:
    if m := ACTION.search(text):
        return int(m.group(1) or m.group(2))
    if intent in ("action_status", "decline_write", "plan_why"):
        bare = [
            m
            for m in re.finditer(r"(?a)(?<![\w.,-])(\d{2,9})(?![\w%]|[.,]\d)", text)
            if not re.match(r"(?a)\s*(?:units?|pcs|件|箱|个|days?|天|周|k\b|%)", text[m.end() :])
        ]
        if len(bare) == 1:
            return int(bare[0].group(1))
    return None


SOURCE_BEFORE = _rx(r"(?:\bfrom|\bfrm|\bex|\bout of|从|由|自)\s*(?:the\s+)?$")
DEST_BEFORE = _rx(
    r"(?:\binto|\bto|\btowards|\bfor|->|→|-|到|至|去|往|调给|发往|运往|送往|补给|给)\s*(?:the\s+)?$"
)
SOURCE_AFTER = _rx(
    r"^\s*(?:->|→|-(?!\w*\d)|到|调|发|运|送|\bto\b|'s\s+(?:excess|surplus)|\s*(?:can\s+)?spare|"
    r"多出|多余|压|积压|超储|过剩|has too much|as the source|\s*excess|\s*surplus|有多)"
)
DEST_AFTER = _rx(
    r"^\s*(?:的\S{0,12})?(?:缺|短缺|需要|要货|快断货|要断货|快没货|is short|short of|runs? out|断货)|"
    r"^\s*(?:is|are) (?:about|going) to run (?:out|dry)|^\s*(?:is|are) running (?:out|low|dry)"
)
EXCESS_WORDS = _rx(r"too much|excess|overstock|surplus|spare|多余|多出|压太多|积压|超储|过剩")


def _roles(text: str, spans: list[Mention]) -> tuple[str | None, str | None]:
    """(source, destination) among the location mentions, from the words around each."""
    source = destination = None
    unmarked = []
    for m in spans:
        code = m.values[0]
        before = text[max(0, m.start - 14) : m.start]
        after = text[m.end : m.end + 28]
        if SOURCE_BEFORE.search(before):
            source = source or code
        elif DEST_BEFORE.search(before) and not re.search(r"(?a)\b(at|in)\s*$", before):
            destination = destination or code
        elif SOURCE_AFTER.search(after):
            source = source or code
        elif DEST_AFTER.search(after):
            destination = destination or code
        else:
            unmarked.append(code)
    if unmarked and (source or destination):
        if source and not destination and unmarked[0] != source:
            destination = unmarked[0]
        elif destination and not source and unmarked[0] != destination:
            source = unmarked[0]
    return source, destination


# -- rules --------------------------------------------------------------------------------------
FOLLOW_START = _rx(
    r"^(?:ok[.,!]?\s*|okay[.,!]?\s*|fine[.,!]?\s*|so\s+|hmm+[.,]?\s*)?"
    r"(?:and\b|& |also\b|what about\b|how about\b|same\b|only\b|just\b|but\b|then\b|"
    r"now\b|forget (?:the|about)\b|那(?!些|批|个|笔|张|边)|换成|换个|再看|只算|只看|只要|只列|只显示|"
    r"那么|改看|同样|是不是|是因为|is it because\b|was it because\b|because of\b)"
)
# punctuation and space only: with re.ASCII, \W also matches every Chinese character
PUNCT = r"[\s,.!?;:，。！？；：、~…]*"
END = PUNCT + "$"
SMALL = (
    r"(?:0|[一二两三四五六七八九十]{1,2}|one|two|three|four|five|six|seven|eight|nine|ten|twenty)"
)
RESIZE = _rx(
    rf"^(?:ok[.,]?\s*|[^,，.。?？]{{0,12}}[,，]\s*)?(?:(?:just|only|show|give me|list)\s+|(?:列|列出|只列|给我)\s*)?(?:the\s+)?(?:top|first|前)\s*{SMALL}\s*"
    rf"(?:only|please|pls|个|名|条)?\s*(?:(?:by|on) (?:value|units|qty|quantity|cost|amount)|按(?:金额|数量|件数|价值))?\s*"
    rf"(?:only|please|pls)?\s*(?:就行|就好|就可以|即可|吧|is enough|will do)?{END}|"
    # "give me 10", "给我来10个": the list before, that many rows
    rf"^{PUNCT}(?:ok\s+|and\s+)?(?:give me|show me|gimme|list|给我来?|来|要)\s*"
    rf"{SMALL}\s*(?:个|条|ones?|please|pls)?{END}|"
    rf"^{PUNCT}(?:ok\s+|okay\s+)?(?:make it|make that|改成|换成|变成)\s*{SMALL}\s*"
    rf"(?:个|条|rows?|lines?|ones?|please|pls)?{END}|"
    # "最严重的三个是哪些", "the worst 3?": the list before, its first rows
    rf"^{PUNCT}(?:那|and\s+|so\s+)?(?:the\s+)?(?:最严重|最急|最紧急|最大|最差|worst|most severe|most urgent|"
    rf"biggest)\s*的?\s*{SMALL}\s*(?:个|条|项|ones?)?\s*"
    rf"(?:是哪些|是什么|有哪些|是哪几个|呢)?{END}"
)
PRONOUN = _rx(
    r"\b(?:it|its|they|them|their|theirs|theyre|they're|those|these|that one|this one|the other(?: one)?)\b|"
    r"\bthe \w+(?:est|ed) one\b|\bthat\W*$|他们|她们|它们|它|他家|这家|那家|"
    r"\bmy (?:dc|rdc|warehouse|site|location)\b|这个仓|那个仓|我(?:的|们|这边的?)仓|那边|那里|那儿|"
    r"\b(?:over there|(?:to|into|from|at|in) there|that (?:dc|site|place|warehouse|region))\b|"
    r"这些|那些|这几(?:个|家|条|样)|那几(?:个|家|条|样)|这俩|这两(?:个|家)|"
    r"(?:这|那)(?:单|张|笔|条|批|趟)(?:调拨|调货|采购|订单|货|po|单子)?"
)
# "不要金额，给我看件数", "in units instead": the same list in another unit
UNIT_SWITCH = _rx(
    r"^\W*(?:不要|别|not|no)\s*(?:看)?(?:金额|value|件数|units?)|"
    r"^\W*(?:给我|show|in|用|按)\s*(?:看)?(?:件数|数量|units?|金额|value)\s*(?:instead|吧|呢)?[\s,.!?;:，。！？；：、~…]*$|"
    r"\bin (?:units?|value|rmb) (?:rather than|instead of|not) (?:in )?(?:units?|value|rmb|money)\b|"
    r"\b(?:restate|redo|show|give|put) (?:that|it|this|them|those)(?: again)? in (?:units?|value|rmb)\b|"
    r"(?:换成|改成|改为|换算成)(?:件数|金额|数量)"
)
FOLLOW_END = _rx(r"(?:呢|呢\?|呢。|呢吗)\s*$|\binstead\?*$")
ANAPHORA = _rx(
    r"\bso (?:much|many|high|big|low|large)\b|这么|那么多|\b(?:that|this|it|there|those|these|them|they|the same)\b|那边|那个|这个|那批|这批|这笔|那笔|它|他们"
)
WRITE = _rx(
    r"^(?:(?:hey|hi|ok|okay|yes|please|pls|plz|just|can you|could you|would you|go ahead and|"
    r"ugh|great|alright|right|so|well|sure|fine|好的|好|嗯|行|"
    r"i want you to|帮我|请|麻烦|给我|直接|you)\W*\s*)*"
    r"(?:approve|reject|decline|delete|remove|cancel|change|update|set|edit|modify|bump|increase|"
    r"decrease|post|send(?! me)|email(?! me)|e-mail|submit|mark|snooze|"
    r"override|write off|place|raise|create|issue|release|kill|scrap|void|reverse|undo|unpost|"
    r"roll ?back)(?![a-z])|^(?:帮我|请|麻烦|给我|直接)*(?:批准|审批通过|驳回|删掉|删除|取消|"
    r"修改|改成|改为|改一下|过账|发个|发送|发邮件|提交|确认收货|标记)(?![了的过])"
)
WRITE_ANYWHERE = _rx(
    r"把.{1,20}?\s*(?:email|e-mail|mail|send|发|转发|抄送)\s*给|(?:改成|改为|改到|直接过账|给我通过|都给我|发个邮件|发邮件|发个催|\bsubmit\b|帮我\s*post|"
    r"approve (?:all|everything|it|them|action|#|\d)|\bapprove\b.*\bfor me\b|"
    r"\bchange\b.*\bto\s+\d|\bset\b.*\bto\s+\d|\bbump\b|\bdelete\b|\bsnooze\b|确认收货|删掉|删除|"
    r"驳回(?![了的过])|发给(?! ?λ)|批准(?![了的没过])|\bpost (?:action|it|#|\d)|mark .* as|"
    r"帮我(?:把.{0,16})?(?:过账|取消|删|批掉|批了|通过|驳回|提交|改掉|关掉)|(?:直接|帮我)\S{0,4}下\s*(?:po|单|采购单|订单)|\bpush\b.{0,30}\bthrough\b|"
    r"\bcancel (?:the|those|these|that|this|it|them|all|po|pos|order|orders)\b|"
    r"\bsend (?:them|him|her|it|a|an|the)\b.{0,30}\b(?:email|reminder|message|note|chaser)|"
    r"(?:发|写)(?:一?封|个)?(?:催货|提醒)?(?:邮件|消息)给|"
    r"\b(?:would|could|will) you (?:please |kindly |just )?mind (?:approving|rejecting|posting|"
    r"sending|deleting|removing|cancel+ing|changing|updating|submitting|releasing|marking)\b|"
    r"\b(?:i need you to|i'd like you to|i want you to|go ahead and|do me a favou?r and|let's|lets)"
    r"\s+(?:\w+\s+)?(?:approve|reject|post|delete|remove|cancel|send|release|submit|change|update)\b|"
    r"帮我(?:给|向|跟).{0,16}?下(?:个|一?张|一?笔)?\s*(?:单|po|订单|采购单)|今天就发出去|"
    r"把.{0,24}?(?:都|全部|全)?(?:给我)?(?:过账|过了账|批了|批掉|批准|审批通过|驳回|删了|删掉|删除|"
    r"取消掉|取消了|过一下账|过个账|改成|改为|发出去|提交|上调|下调|调高|调低|调到|调整为|提高到|降低到|降到|设为|设成|设置为)(?!.{0,12}(?:会|吗|么|\?|？|的话))|不用等审批|不用审批|跳过审批)"
)
STATUS_QUESTION = _rx(
    r"\b(?:has|have|was|were|is|did|who|when|whether)\b.*\b(?:approved?|reject(?:ed)?|posted?)\b|"
    r"\b(?:rejected|approved|posted) (?:actions?|proposals?|transfers?|orders?)\b|审批了|"
    r"了没|了吗|没有|是谁|谁批|批了|吗[?？]?$|waiting for approval|pending"
)
FIRST_TURN_REFERENCE = _rx(
    r"^(?:is|was|are|were|has|did) (?:it|that|this|they|those)\b|"
    r"^(?:帮我看下|看下|看一下)?(?:那个|那批|那笔|那张)|\bthe other one\b|^(?:what about|how about) the\b"
)
VAGUE = _rx(
    r"\bnumbers\b|咋样|怎么样|how(?: are|'re| r) (?:we|things|u)\b.{0,12}(?:doing|looking|going)|"
    r"how's it going|how are things|情况如何|^(?:what'?s |whats |what is )?(?:the )?status[\s,.!?;:，。！？；：、~…]*$|"
    r"^(?:现在)?(?:什么|啥)?(?:状态|进展|进度)(?:如何|怎么样|呢)?[\s,.!?;:，。！？；：、~…]*$|"
    r"^(?:pls |please )?(?:give me |show me |send me |pull |帮我看一下|帮我看下|看一下|看看|给我)?"
    r"(?:the |a |our )?(?:report|报告|报表|dashboard|overview|summary|汇总)[\s,.!?;:，。！？；：、~…]*$|"
    r"^\S{1,12}\s*(?:那块|这块|那一块|这一块|方面)\s*(?:帮我|你)?(?:看一下|看下|看看|check一下|查一下)"
    r"[\s,.!?;:，。！？；：、~…]*$"
)
NEEDS_PRODUCT = ("policy",)
# a first turn of these kinds naming nothing, in a few words, asks of what or where
BARE_KINDS = ("stock_level",)
BARE = 12  # characters of its own words
WHOLE = _rx(
    r"\btotal|overall|whole|entire|network|everything|\ball\b|across|company|整体|全网|总共|一共|"
    r"(?<!汇)总|全部|所有|合计|整个"
)
# kinds that are about something: asked without naming it, a turn continues the one before
NEEDS_SUBJECT = frozenset(
    {
        "stock_level",
        "stockout_item",
        "forecast",
        "policy",
        "transfer_cost",
        "plan_why",
        "what_if",
        "compare",
    }
)
SWITCH = 0.6  # a follow-up asking this surely another kind, in words of its own, asks that
SURE = 0.85  # a classifier this sure of another kind outweighs a weak follow-up sign
TINY = 6  # a turn's own words this short ("ROP?", "fill rate") only make sense after another
# a question of its own asks something: a fragment without one continues the turn before
INTERROGATIVE = _rx(
    r"多少|什么|哪|吗|几|怎么|如何|是否|有没有|是不是|列|排|给我|查|看看|\b(?:what|which|how|when|"
    r"where|who|why|is|are|do|does|did|can|could|show|list|give|tell|rank|compare)\b"
)
# "this month", "这个月": time, not a pointer to the turn before
TIME_WORDS = _rx(
    r"\b(?:this|that|these) (?:month|week|year|quarter|period|time)s?\b|这个月|这周|这个星期|这季度|"
    r"这一?年|这段时间"
)
RULED = 0.6  # the confidence of a reading a rule made
UNSURE = 0.4  # below this confidence a first turn is ambiguous (best in 5-fold CV on train)


def _lacks_subject(intent, products, locations, categories, suppliers, regions, action) -> bool:
    """Whether a turn of this kind leaves out what the kind is about (so it continues the turn
    before): a product (its stock, stock-out, forecast, policy, why the plan moves it, what
    if), two things to compare, both ends of a move; stock and forecasts may be about a place
    or a category instead."""
    if intent == "stock_level":
        return not (products or locations or regions or categories)
    if intent == "forecast":
        return not (products or categories)
    if intent in ("stockout_item", "policy"):
        return not products
    if intent == "plan_why":  # a product, an action, a lane or a supplier the plan chose
        return not (products or action or len(locations) >= 2 or suppliers)
    if intent == "what_if":  # a product or action, or a supplier's or a place's scenario
        return not (products or action or suppliers or locations)
    if intent == "compare":
        return max(len(products), len(locations), len(suppliers), len(categories), len(regions)) < 2
    if intent == "transfer_cost":
        return len(locations) < 2 and not products
    if intent == "action_status":  # "has it shipped yet?": the action of the turn before
        return not (action or products)
    return False


SUPPLIER_KINDS = ("supplier_performance", "supplier_owed", "settlement", "vmi", "late_inbound")
TOPIC_KINDS = ("ranking", "compare", "kpi")


def _same_topic(intent: str, previous: Plan, masked: str) -> bool:
    """Whether a turn with no subject of its own asks about the subject of the turn before:
    the same kind of question ("平均提前期是多少天？" after a supplier's on-time rate), a
    supplier's question after a supplier's ("这个月的结算什么时候出？" after what we owe
    them), or a ranking of the figure the turn before listed ("哪三个仓压得最多" after a
    category's excess and dead stock)."""
    if previous.intent in ("decline_write", "out_of_scope", "ambiguous"):
        return False
    filters = previous.suppliers or previous.categories or previous.regions
    if not (filters or previous.products or previous.locations):
        return False
    if intent == previous.intent and intent not in ("top_risks", "stockouts_upcoming"):
        return True
    if intent in ("transfer_suggest", "order_suggest") and (
        previous.products or previous.locations
    ):
        return previous.intent not in MOVE_KINDS + ("order_suggest",)  # "能transfer去哪里消化？"
    if previous.suppliers and intent in SUPPLIER_KINDS:
        # a supplier's question after a supplier's (its on-time rate as a KPI included)
        return previous.intent in SUPPLIER_KINDS or previous.metric in ("on_time_rate", "lead_time")
    if previous.intent == "forecast" and intent == "kpi":
        # "how biased has our forecast been?" after a product's forecast: that forecast's
        return _metric(masked) in ("forecast_bias", "forecast_error")
    concept = KIND_CONCEPT.get(previous.intent)
    return bool(
        filters and intent in TOPIC_KINDS and concept and CONCEPT_RE[concept].search(masked)
    )


def _bare(masked: str) -> str:
    """A turn's own words, with follow-up markers, masks, numbers, punctuation and the words
    that only set a slot removed: what is left says whether it asks something new."""
    rest = FOLLOW_START.sub("", masked)
    # periods and figures first, while their numbers are there ("last 0 days")
    for _metric_name, pattern in METRIC_PATTERNS[:-1]:
        rest = re.sub(pattern, " ", rest)
    for _period_name, pattern in PERIOD_PATTERNS:
        rest = re.sub(pattern, " ", rest)
    rest = re.sub(r"(?a)[πλρσκ0]|[^\w\u3400-\u9fff]+", " ", rest)
    rest = re.sub(
        r"\b(?:and|in|at|for|the|on|of|vs|versus|over|next|days?|weeks?|months?|units?|value|"
        r"what|about|how|instead|only|ones|one|same|again|but|out|please|pls|too|it|that|total|"
        r"in rmb|rmb|by|just|then|so|ok|okay|fine|is|are|was|a|to date|yet|far)\b",
        " ",
        rest,
    )
    rest = re.sub(r"(?a)[呢那的吗呀啊吧了里只算看看换成区域一下个天周月多少仓呢]", "", rest)
    return rest.strip()


NOT_READINGS = ("ambiguous", "decline_write", "out_of_scope")  # nothing to offer as an answer


def _alternatives(
    posterior: np.ndarray, classes: tuple[str, ...], k: int = 3, first: str | None = None
) -> tuple[str, ...]:
    """The ``k`` likeliest readings (``first`` leading), each once: questions it can answer,
    not a refusal."""
    order = [classes[i] for i in np.argsort(-posterior)]
    ranked = dict.fromkeys(x for x in (first, *order) if x and x not in NOT_READINGS)
    return tuple(ranked)[:k]


AMBIGUOUS_BY_SUBJECT = {
    "location": ("stock_level", "stockouts_upcoming", "kpi"),
    "product": ("stock_level", "stockout_item", "forecast"),
    "supplier": ("supplier_performance", "late_inbound", "supplier_owed"),
    "region": ("stock_level", "stockouts_upcoming", "kpi"),
    "category": ("stock_level", "stockouts_upcoming", "excess_dead"),
}


# -- pointing into the list the turn before showed -----------------------------------------------
ORDINAL_WORDS = {
    "first": 1, "1st": 1, "second": 2, "2nd": 2, "third": 3, "3rd": 3, "fourth": 4, "4th": 4,
    "fifth": 5, "5th": 5, "sixth": 6, "6th": 6, "seventh": 7, "7th": 7, "eighth": 8, "8th": 8,
    "ninth": 9, "9th": 9, "tenth": 10, "10th": 10, "top": 1, "last": -1, "bottom": -1,
    "worst": 1, "best": 1, "biggest": 1, "largest": 1,
}  # fmt: skip
_ORD = r"first|second|third|fourth|fifth|sixth|seventh|eighth|ninth|tenth|\d{1,2}(?:st|nd|rd|th)"
POINTER = (
    # "the 2nd one", "the third sku", "the last one", "the top one"
    _rx(
        rf"\b(?:the\s+)?({_ORD}|last|bottom|top|worst|best|biggest)\s+(?:one|item|row|line|entry|listed)\b|"
        rf"\b(?:the\s+)?({_ORD})\s+(?:exception|risk|sku|product|transfer|move|order|po|supplier|"
        r"vendor|warehouse|dc|rdc|location|site|place|line|proposal|action)s?\b"
    ),
    # "number 2 on the list", "item 3", "row 2", "#2 on the list"
    _rx(
        r"\b(?:number|no\.?|item|row|line|entry)\s*(\d{1,2})\b(?!\s*(?:units?|pcs|days?|%))|"
        r"#\s*(\d{1,2})(?!\d)"
    ),
    # "the second?", "and the 3rd?" at the end of a turn
    _rx(rf"\bthe\s+({_ORD}|last)\s*(?:one)?\s*[?.!,]*\s*$"),
    # "第二个", "第3条", "排第二的", "最后一个"
    _rx(
        r"第\s*([一二三四五六七八九十\d]{1,3})\s*(?!周|天|次|季|个?月|年|批|期|步)"
        r"(?:个\s*(?:仓|品|sku)?|条|项|行|名|笔|张|家|位|种|款|仓|品|sku|\s*one)?"
    ),
    _rx(r"(最后|最下面|最上面|头)\s*(?:一|那)\s*(?:个|条|项|行|名|笔|张|家)"),
    # "里面最急的那个品", "最严重的那一条": the list's first row, as it is sorted
    _rx(
        r"([\u3400-\u9fff]{0,4}最[\u3400-\u9fff]{1,3}|[\u3400-\u9fff]{1,3}得最厉害)"
        r"\s*的?\s*(?:那|这)\s*(?:一)?\s*"
        r"(?:个|条|项|行|款|家|笔|张|位)"
    ),
    _rx(
        r"\bthe (most urgent|most critical|riskiest|most at risk|urgent|worst|best|biggest|largest) "
        r"(?:[\w-]+ ){0,2}?(?:one|item|sku|line|dc|rdc|warehouse|site|location|supplier|vendor|category|region)\b"
    ),
    # "the worst of those three", "the biggest of them": the list's first row, as it is sorted
    _rx(
        r"\bthe (worst|best|biggest|largest|top|first|last) (?:one )?of (?:those|these|them|the)\b"
    ),
)
POINTER_WORDS = _rx(
    r"tell me more|more (?:info|information|detail|details) (?:on|about)|details? (?:on|of|about|for)|"
    r"drill (?:into|down)|dig into|what about|how about|look at|open|zoom in|explain|"
    r"详细|具体|展开|说说|讲讲|看看|看下|介绍|呢"
)
# the question a turn pointing at a row asks when it asks nothing else, by the list's kind
DETAIL_OF = {
    "stockouts_upcoming": "stockout_item",
    "stockout_item": "stockout_item",
    "transfer_suggest": "plan_why",
    "order_suggest": "plan_why",
}
DETAIL_OF_RULE = {
    "stockout": "stockout_item",
    "below_safety_stock": "stockout_item",
    "excess": "excess_dead",
    "dead_stock": "excess_dead",
    "late_inbound": "late_inbound",
    "supplier_low_water": "vmi",
    "demand_anomaly": "forecast",
    "data_quality": "stock_level",
}
LIST_KINDS = ("top_risks", "stockouts_upcoming", "ranking", "ambiguous")


def _pointer(text: str, rows: tuple) -> tuple[int, dict, str] | None:
    """(position, row, the text with the pointer removed) when a turn points at a row of the
    list the turn before showed ("the 2nd one", "第三个"), else None."""
    if not rows:
        return None
    for pattern in POINTER:
        m = pattern.search(text)
        if not m:
            continue
        token = next(g for g in m.groups() if g)
        if token in ("最后", "最下面"):
            k = -1
        elif (
            token in ("最上面", "头")
            or "最" in token
            or token.startswith(("most", "risk", "urgent", "worst", "best", "biggest", "largest"))
        ):
            k = 1
        else:
            k = ORDINAL_WORDS.get(token.lower()) or number(re.sub(r"(?a)(st|nd|rd|th)$", "", token))
        if not k or k > len(rows):
            return None
        index = len(rows) - 1 if k == -1 else k - 1
        return index + 1, dict(rows[index]), text[: m.start()] + " " + text[m.end() :]
    return None


def _detail_intent(intent: str, confidence: float, previous: Plan, row: dict, rest: str) -> str:
    """What a turn pointing at a row asks: its own question when it asks one of another kind
    ("when does it run out?"), else the detail of what the list showed."""
    rest = POINTER_WORDS.sub(" ", rest)
    own = _bare(rest)
    if (
        row.get("sku")
        and WHY.search(rest)
        and (CONCEPT_RE["plan"].search(rest) or CONCEPT_RE["stockout"].search(rest))
    ):
        return "plan_why"  # "the third item on that list, why does the plan show it going short?"
    if intent == "stockouts_upcoming" and row.get("sku"):
        return "stockout_item"  # "no 3 on that list, when exactly does it run out": that row's
    # "top risks" in a pointer turn is the pointer's own word ("the top one") unless the turn
    # asks for a list of risks in words of its own ("第一个仓风险最大的5个SKU")
    listed = intent == "top_risks" and _top_n(rest) is not None and len(own) > TINY
    # a figure named of the row ("最惨的那个仓 这个月 fill rate 多少"): that figure of it
    if intent == "kpi" and _metric(rest) in KPI_METRICS and intent != previous.intent:
        return intent
    if own and (intent not in ("ambiguous", "top_risks") or listed) and intent != previous.intent:
        # a short list asked in its own words ("最差的那个仓现在缺哪些货"): that list of the row
        named = (
            intent in LISTS
            and intent != "ranking"
            and bool(CONCEPT_RE[KIND_CONCEPT[intent]].search(rest))
        )
        if confidence >= 0.5 and (intent not in LIST_KINDS or len(own) > TINY or named):
            return intent
    if intent == previous.intent in LINE_KINDS and confidence >= SURE and len(own) > TINY:
        return intent  # "里面最急的那个品建议订多少": the list's question, asked of one row
    if previous.intent == "top_risks" or row.get("rule"):
        return DETAIL_OF_RULE.get(row.get("rule") or "", "stockout_item")
    if previous.intent == "ranking":
        if row.get("supplier"):
            return "supplier_performance"
        return _ranked_detail(previous)
    return DETAIL_OF.get(previous.intent, previous.intent)


OTHER_SUPPLIERS = _rx(
    r"\b(?:the )?other (?:suppliers|vendors)\b|\bthe rest of (?:them|the suppliers)\b|"
    r"\ball (?:the )?suppliers\b|其他(?:供应商|几家|家)|别的供应商|其余(?:供应商|几家)|所有供应商"
)
CORRECTION = _rx(
    r"不对|不是这个|我是说|我说的是|我指的是|\bi meant\b|\bi mean\b|\bmeant\b|\bsorry\b|\boops\b|\bno,? i\b|"
    r"\bnot that one\b|不是刚才那个|搞错了|说错了"
)
SAME_FOR = _rx(
    r"^\W*(?:ok\s+|and\s+)?same (?:for|but|with|on|again for)\b|^(?:那)?同样(?:的)?(?:看|算|比)"
)
SORTABLE = ("excess_dead", "late_inbound", "stockouts_upcoming", "top_risks")
SORT = _rx(
    r"从高到低|从低到高|降序|升序|\bsort(?:ed)? by\b|\border(?:ed)? by\b|按.{1,6}排(?:序|一下|个序)?"
)
# a conversation about a place as a whole (its stock, its stock-outs, its KPIs...) and the
# lists that a question naming no place asks of that place
PLACE_TOPICS = (
    "stock_level",
    "stockouts_upcoming",
    "kpi",
    "excess_dead",
    "late_inbound",
    "top_risks",
)
PLACE_LISTS = (
    "stockouts_upcoming",
    "late_inbound",
    "excess_dead",
    "top_risks",
    "order_suggest",
    "transfer_suggest",
)
LISTS = ("stockouts_upcoming", "top_risks", "ranking", "excess_dead", "late_inbound")
# "by region 拆一下", "按仓看呢", "break it down by DC": the answer before, grouped another way
REGROUP = _rx(
    rf"^{PUNCT}(?:and\s+|then\s+|ok\s+|那)?(?:split |break (?:it |that |this )?down |group(?:ed)? |sort(?:ed)? )?"
    r"(?:by|per|按|分)\s*"
    r"(?:regions?|dcs?|rdcs?|warehouses?|locations?|sites?|categor(?:y|ies)|suppliers?|skus?|products?|"
    r"区域|大区|仓库?|品类|供应商|sku|产品|商品)\s*(?:拆一下|拆开|分一下|拆分|分开|看看?|看一下|呢|列一下|"
    r"split|break ?down|please|pls|\s)*"
    rf"(?:{END}|[,，\s]+[^?？]{{0,12}}{END})|^{PUNCT}break (?:it |that |this )?down by \w+{END}"
)
RANKABLE = ("stockouts_upcoming", "ranking", "excess_dead", "late_inbound", "kpi", "compare")
INSIDE = _rx(
    r"里面|里头|其中|当中|之中|(?:among|of|in|inside|within) (?:them|those|these|that one|it)"
)


def _drills_into(previous: Plan, mentions: list, masked: str) -> bool:
    """Whether a turn after a ranking asks what lies inside one group it ranked ("饮料里面
    具体是哪些 SKU"): it names one subject of the kind ranked, points inside and asks a list."""
    kinds = [m.kind for m in mentions]
    ranked = {
        "location": "location",
        "category": "category",
        "region": "region",
        "supplier": "supplier",
    }.get(previous.group_by or "")
    return (
        ranked is not None
        and kinds == [ranked]
        and bool(INSIDE.search(masked) or DRILL.search(masked))
        and bool(LIST_WORDS.search(masked))
    )


WHERE = _rx(r"\banywhere\b|\bwhere\b|\bwhich\b|哪里|哪儿|哪些|哪个仓|哪几个")
# whether the one thing the conversation is on runs out ("会不会断", "will it run out?")
WHETHER_OUT = _rx(
    r"会不会(?:断|缺)|会断吗|会缺货吗|断不断|缺不缺|\b(?:will|would|does|do) (?:it|that|they|this|we) "
    r"(?:run out|stock out|go out of stock)|\b(?:is|are) (?:it|that|they) (?:going to|gonna) run out|"
    r"它\S{0,6}(?:断货|缺货|断)|(?:哪天|什么时候|啥时候|几号)(?:会)?(?:断|缺)|"
    r"\bwhen (?:will|does|do|would) (?:it|that|this) (?:run out|stock out|go out)"
)
TOP_END = _rx(r"\btop\b|前\s*(?:0|[一二三四五六七八九十])")
BOTTOM_END = _rx(r"\bbottom\b|倒数|后\s*(?:0|[一二三四五六七八九十])")
SHARE = _rx(
    r"占了?多少|占比|占几成|占多大|占百分之几|what share|how much of (?:it|that|this|those|the total)|"
    r"what (?:part|portion|percentage) of"
)
SHARE_KINDS = ("excess_dead", "stockouts_upcoming", "late_inbound", "stock_level", "top_risks")
DRILL = _rx(r"具体|详细|明细|\bspecifically\b|\bexactly\b|\bin detail\b|那家|那个")


def _ranked_detail(previous: Plan) -> str:
    """What one group of a ranking holds, by the ranking's measure: its stock-outs, its excess
    or dead stock, its late lines, else its stock."""
    metric = previous.metric
    if metric in (None, "stockouts", "units_short", "sales_at_risk"):
        return "stockouts_upcoming"
    if metric and ("excess" in metric or "dead" in metric):
        return "excess_dead"
    if metric in ("late_lines", "late_value"):
        return "late_inbound"
    return "stock_level"


def _pointed(
    plan: Plan, row: dict, rest: str, named: tuple[str, ...] = (), spare: bool = False
) -> Plan:
    """The plan about the row pointed at: its product, places, supplier and action (a row of
    excess stock, ``spare``, is where a move asked of it starts)."""
    changes: dict = {"top_n": None, "group_by": None}
    if (
        plan.intent in LIST_KINDS and _top_n(rest) is not None
    ):  # "its top 5 SKUs": a list of its own
        changes = {"top_n": _top_n(rest), "group_by": _group_by(rest)}
    if row.get("sku"):
        changes["products"] = (row["sku"],)
    places = [p for p in (row.get("source"), row.get("destination") or row.get("location")) if p]
    if places and plan.intent == "compare":  # "把最差的那个DC跟广州对比一下": the row against
        changes |= {
            "locations": tuple(dict.fromkeys((*places, *plan.locations))),
            "source": None,
            "destination": None,
        }
    elif (
        places
        and spare
        and plan.intent in ("transfer_suggest", "transfer_cost")
        and not row.get("source")
    ):
        # "top one - can we push some of it to where it's short": from where it sits
        changes |= {"locations": tuple(places), "source": places[0], "destination": None}
    elif places:
        # "第一个为啥从那边调，不直接从昆山发？": the row's ends, and the place set against them
        others = tuple(p for p in named if p not in places) if plan.intent == "plan_why" else ()
        changes |= {
            "locations": tuple(dict.fromkeys((*places, *others))),
            "source": row.get("source"),
            "destination": row.get("destination") or row.get("location"),
        }
    if row.get("supplier"):
        changes |= {"supplier": row["supplier"], "suppliers": (row["supplier"],)}
    if row.get("action_id"):
        changes["action_id"] = int(row["action_id"])
    if row.get("category"):
        changes |= {"category": row["category"], "categories": (row["category"],)}
    if row.get("region"):
        changes |= {"region": row["region"], "regions": (row["region"],)}
    return replace(plan, **changes)


# -- understanding ------------------------------------------------------------------------------
def _language(text: str, mentions: list[Mention]) -> str:
    """zh when the question's own words (entity names and a 仓 after them masked) hold
    Chinese."""
    keep = list(text)
    for m in mentions:
        end = m.end
        if suffix := SUFFIX_ZH.match(text[end:]):
            if m.kind in ("location", "region"):
                end += suffix.end()
        for i in range(m.start, end):
            keep[i] = " "
    return "zh" if CJK.search("".join(keep)) else "en"


def understand(
    text: str,
    catalogue: Catalogue,
    previous: Plan | None = None,
    *,
    classifier: NaiveBayes | None = None,
    earlier: tuple[Plan, ...] = (),
) -> Plan:
    """The plan of one question (and of a follow-up, given the plan of the turn before).
    ``earlier``: the conversation's turns before that one, newest first (what "going back to
    the item from the start" or a product two turns back means). ``classifier`` replaces the
    trained intent model (cross-validation)."""
    if text is None or not text.strip():
        raise UnderstandError("ask a question")
    if len(text) > MAX_QUESTION:
        raise UnderstandError(f"a question has at most {MAX_QUESTION} characters, not {len(text)}")
    original = _keep_case(_spell_numbers(text)).strip()
    lowered = _norm(original)
    if len(lowered) != len(original):
        original = lowered
    mentions = catalogue.mentions(lowered, original)
    masked = _masked(lowered, mentions)
    lang = _language(lowered, mentions)
    slot_text = _slot_text(lowered, mentions)

    nb = classifier or model()
    posterior = nb.posterior(masked)
    best = int(np.argmax(posterior))
    intent, confidence = nb.classes[best], float(posterior[best])
    alternatives: tuple[str, ...] = ()
    vmi_site = any(m.kind == "location" and catalogue.vmi in m.values for m in mentions)
    ranked = tuple(nb.classes[i] for i in np.argsort(-posterior))
    intent = _refine(intent, masked, slot_text, mentions, vmi_site, ranked)
    if intent != nb.classes[best]:  # a rule read what the question asks
        confidence = max(confidence, RULED)

    products = _codes(mentions, "product")
    locations = _codes(mentions, "location")
    suppliers = _codes(mentions, "supplier")
    categories = _codes(mentions, "category")
    regions = _codes(mentions, "region")
    unknown = tuple(
        c.upper()
        for c in SKU_CODE.findall(lowered)
        if c.upper() not in catalogue.skus and not re.match(r"(?a)(rdc|cdc|vmi|sup|po|tr|act)-", c)
    )
    subjects = bool(products or locations or suppliers or categories or regions)
    bare = _bare(masked)

    follow_up = False
    marked = bool(FOLLOW_START.search(masked) or FOLLOW_END.search(masked))
    pointed = _pointer(slot_text, previous.rows) if previous is not None else None
    if pointed is not None and previous is not None:
        # "tell me more about the 2nd one": the row of the list the turn before showed
        follow_up = True
        # what the turn asks besides pointing: read without the pointer's own words ("最急的")
        rest = re.sub(r"(?a)\d+(?:[.,]\d+)*", "0", pointed[2]).strip()
        if _bare(rest) or _metric(rest) not in (None, "on_hand"):  # "这个月 fill rate 多少"
            own = nb.posterior(rest)
            top = int(np.argmax(own))
            ranked_rest = tuple(nb.classes[i] for i in np.argsort(-own))
            asked = _refine(nb.classes[top], rest, pointed[2], mentions, vmi_site, ranked_rest)
            named = asked in LISTS and asked not in ("ranking", "top_risks")
            named = named and bool(CONCEPT_RE[KIND_CONCEPT[asked]].search(rest))
            if asked not in LIST_KINDS or named:  # a list asked of a row: of the row's place
                intent = asked
                confidence = float(own[top]) if asked == nb.classes[top] else RULED
        intent = _detail_intent(intent, confidence, previous, pointed[1], pointed[2])
        confidence = max(confidence, RULED)
    elif previous is not None:
        # a follow-up says so ("and ...", "那...", "what about"), points back ("that one",
        # "他们"), asks why, is a bare fragment ("ROP?"), or asks what needs a subject it does
        # not name; a complete question of its own (a network KPI, a ranking) starts anew
        # even in the same conversation
        own = subjects or bool(_action_id(slot_text, intent))
        asks = bool(INTERROGATIVE.search(masked))
        tiny = len(bare) <= TINY and not asks and not own  # "fill rate", "last month?"
        why = bool(CONCEPT_RE["why"].search(masked)) and not subjects
        pointing = ANAPHORA.search(TIME_WORDS.sub(" ", masked))
        anaphora = bool(pointing and len(bare) <= 40 and not own)
        scenario = intent == "what_if" and bool(re.search(r"\d+(?:\.\d+)?\s*%", masked))
        incomplete = not scenario and _lacks_subject(
            intent,
            products,
            locations,
            categories,
            suppliers,
            regions,
            bool(_action_id(slot_text, intent)),
        )
        starts = bool(FOLLOW_START.search(masked))
        ends = bool(FOLLOW_END.search(masked)) and (len(bare) <= 2 * TINY or not own)
        only_subject = subjects and not _residue(masked)  # "华南区域的，整体看一下"
        fragment = not bare.strip() and not own  # only a period or a figure: "last month?"
        resize = bool(RESIZE.search(masked))  # "top 3 就行", "just the top 5": the same list
        # "跟再前一个月比是升了还是降了" after a KPI: the same figure against another period
        trend = previous.intent in ("kpi", "supplier_performance") and not own
        trend = trend and bool(COMPARE.search(slot_text))
        trend = trend and _metric(slot_text) in (None, previous.metric)
        resize = resize or trend or bool(UNIT_SWITCH.search(slot_text))
        # the same subject asked about again: a question of the kind before (or naming its
        # concept, or a supplier's after a supplier's) that names no subject of its own
        same = not own and not WHOLE.search(masked) and _same_topic(intent, previous, masked)
        # "跟成都比呢, which one has more units": one subject set against the one before
        against = bool(COMPARE_START.search(masked)) and len(mentions) == 1
        # "要是改从武汉调过去呢": the move before, from (or to) another place
        redirect = previous.intent in MOVE_KINDS and bool(REDIRECT.search(masked))
        # "turnover days呢，也比一下", "any of them carrying X?": the turn before, again
        also = not own and bool(ALSO.search(masked))
        # "饮料里面具体是哪些 SKU" after a ranking of categories: inside one of the groups ranked
        inside = _drills_into(previous, mentions, masked)
        inside = inside or (bool(INSIDE.search(masked)) and not own)  # "其中 excess 有多少"
        redirect = redirect or also or bool(FILTER_BACK.search(masked))
        strong = starts or why or incomplete or only_subject or fragment or resize or same
        # "worst DC?" after a list of stock-outs: a ranking by the figure the turn before showed
        measureless = (
            intent == "ranking"
            and not own
            and _metric(slot_text) is None
            and previous.intent in RANKABLE
        )
        regroup = bool(REGROUP.search(masked)) and not own
        # the classifier cannot tell what a turn asks: the conversation's topic goes on
        # ("Jiangnan 那份的 details 发我看看" after a settlement)
        unsure = confidence < UNSURE and previous.intent not in (
            "ambiguous",
            "decline_write",
            "out_of_scope",
        )
        # after a question asked back, a turn that is not surely a new question answers it
        answers_ask = previous.intent == "ambiguous" and confidence < SURE
        # "帮我看下沈阳" then "主要想知道接下来三天会不会断货": the place asked about
        answers_ask = answers_ask or (
            previous.intent == "ambiguous"
            and not subjects
            and bool(previous.locations or previous.products or previous.suppliers)
        )
        # "如果实际需求比预测高20%，会不会断货？" after a product's forecast: that product's
        answers_ask = answers_ask or (
            scenario
            and not subjects
            and bool(
                previous.products or previous.locations or previous.region or previous.category
            )
        )
        strong = strong or against or redirect or inside or measureless or regroup or unsure
        strong = strong or answers_ask
        # "一周内要缺货的有哪些" after "西安仓现在库存什么情况": a list that names no place,
        # asked about the place the conversation is on
        place_topic = (
            not subjects
            and not (previous.products and "products" not in previous.from_answer)
            and bool(previous.locations or previous.region or previous.category)
            and previous.intent in PLACE_TOPICS
            and (
                intent in PLACE_LISTS
                # "按 DC 汇总一下 哪个 DC 缺货最多" in a conversation on a region: its DCs
                or (intent == "ranking" and bool(previous.region or previous.category))
            )
            and not NETWORK_WIDE.search(masked)
            and not WHOLE.search(masked)
        )
        # "不对 我说的是江南饮品", "sorry 我是说 RDC-HZ": the question before, of another subject
        corrected = (
            bool(CORRECTION.search(masked))
            and (subjects or _period(slot_text)[0] is not None)
            and len(_bare(CORRECTION.sub(" ", masked))) <= TINY
        )
        # "顺便看下next week会不会断" after a product's stock: whether it runs out
        whether = bool(WHETHER_OUT.search(masked)) and bool(previous.products) and not subjects
        whether = whether and not WHERE.search(masked)
        strong = strong or whether
        # "家居清洁 这个 category 占了多少" after the excess: that figure's share of one part
        share = bool(SHARE.search(masked)) and previous.intent in SHARE_KINDS
        strong = strong or place_topic or corrected or share
        weak = ends or anaphora or tiny
        # a weak sign alone does not turn a question the classifier is sure of, and that
        # names what its kind needs, into the previous turn's
        sure = confidence >= SURE and intent != previous.intent
        # a pronoun ("their", "他们", "it") points back even in a question of its own kind
        pronoun = bool(PRONOUN.search(TIME_WORDS.sub(" ", masked))) and not own
        follow_up = strong or pronoun or (weak and not sure)
        if follow_up and previous.intent == "ambiguous":
            combined = previous.text + " " + masked
            joint = nb.posterior(combined)
            best = int(np.argmax(joint))
            intent, confidence = nb.classes[best], float(joint[best])
            joint_ranked = tuple(nb.classes[i] for i in np.argsort(-joint))
            intent = _refine(
                intent, combined, previous.text + " " + slot_text, mentions, vmi_site, joint_ranked
            )
        elif follow_up:
            intent, confidence = _follow_intent(
                intent, confidence, previous, masked, nb, _quantity(slot_text)
            )
    elif subjects and not _residue(masked):
        # "what about Chengdu?", "江南饮品呢" as a first turn: nothing asked yet
        kind = next(m.kind for m in mentions)
        intent, alternatives, confidence = "ambiguous", AMBIGUOUS_BY_SUBJECT[kind], 0.5
    elif intent in ("out_of_scope", "decline_write"):
        pass
    elif not subjects and (
        FIRST_TURN_REFERENCE.search(masked)  # "is it late?" with nothing before: what is?
        or (not _specific(slot_text) and (marked or VAGUE.search(masked)))
    ):
        # "what about the transfer?", "那批货到了没", "show me the numbers" with nothing
        # before: which one, which figure?
        intent, confidence = "ambiguous", min(confidence, 0.5)
        alternatives = _alternatives(posterior, nb.classes)
    elif intent in BARE_KINDS and not subjects and len(bare) <= BARE and not WHOLE.search(masked):
        # "stock?", "帮我查一下库存": of what, where?
        alternatives = _alternatives(posterior, nb.classes, 3, first=intent)
        intent, confidence = "ambiguous", min(confidence, 0.5)
    elif intent in NEEDS_PRODUCT and not products:
        # "SS够不够?": the safety stock of what?
        alternatives = _alternatives(posterior, nb.classes, 3, first=intent)
        intent, confidence = "ambiguous", min(confidence, 0.5)
    elif confidence < UNSURE and intent != "ambiguous":
        intent, alternatives = "ambiguous", _alternatives(posterior, nb.classes)

    offtopic = intent == "out_of_scope" and STRONG_OFFTOPIC.search(masked)
    if intent != "decline_write" and not offtopic and _asks_to_write(masked, intent):
        intent, confidence = "decline_write", max(confidence, 0.9)
    if intent == "ambiguous" and not alternatives:
        alternatives = _alternatives(posterior, nb.classes)

    metric = _metric(slot_text)
    period, compare = _period(slot_text)
    plan = Plan(
        intent=intent,
        lang=lang,
        products=products,
        locations=locations,
        region=regions[0] if regions else None,
        regions=regions,
        category=categories[0] if categories else None,
        categories=categories,
        supplier=suppliers[0] if suppliers else None,
        suppliers=suppliers,
        metric=metric,
        unit=_unit(slot_text),
        period=period,
        compare=compare,
        horizon_days=_horizon(slot_text),
        group_by=_group_by(slot_text),
        top_n=_top_n(slot_text),
        order=None,
        quantity=_quantity(slot_text),
        action_id=_action_id(slot_text, intent),
        follow_up=follow_up,
        confidence=round(confidence, 3),
        alternatives=alternatives,
        unknown_skus=unknown,
        text=masked,
    )
    source, destination = _roles(lowered, [m for m in mentions if m.kind == "location"])
    plan = replace(plan, source=source, destination=destination)
    plan = _twin_sites(plan, mentions, catalogue, lowered)
    if (
        plan.intent == "decline_write"
        and previous is not None
        and previous.action_id
        and plan.action_id is None
        and not subjects
    ):
        # "你直接帮我批了吧" after action 431's status: that action is the one to decline
        follow_up = True
        plan = replace(plan, action_id=previous.action_id, follow_up=True)
    if follow_up and previous is not None:
        plan = _merge(previous, plan, mentions)
        plan = _compared_with_before(previous, plan, mentions, masked)
    if follow_up and previous is not None and (page := NEXT_PAGE.search(slot_text)):
        # "next 5 呢", "再往后五个": the list before, that many rows further
        more = number(next(g for g in page.groups() if g))
        shown = previous.top_n or len(previous.rows) or 0
        if more and shown:
            plan = _list_again(replace(plan, top_n=shown + more), previous, mentions)
    elif follow_up and previous is not None and RESIZE.search(masked):
        plan = _list_again(plan, previous, mentions)  # "最严重的三个是哪些": the same list
    elif (
        follow_up
        and previous is not None
        and pointed is None
        and (
            (plan.intent in LISTS and previous.intent in LISTS)
            # "白云日化家的先列出来" after the orders: the same list, narrowed
            or (
                plan.intent == previous.intent in ("order_suggest", "transfer_suggest")
                and bool({m.kind for m in mentions} & {"supplier", "category", "region"})
            )
            # "只看沈阳 DC 的" after the orders: the orders there
            or (
                plan.intent == previous.intent == "order_suggest"
                and any(m.kind == "location" for m in mentions)
            )
        )
    ):
        plan = _list_again(plan, previous, mentions)  # "by DC", "worst DC?": the list again
    if (
        previous is not None
        and plan.intent in ("compare", "ranking")
        and plan.metric is None
        and previous.metric
        and previous.intent in ("kpi", "ranking", "compare", "supplier_performance")
    ):
        # "北京仓和昆山仓比一下" after the health index: that figure, compared or ranked
        plan = replace(plan, metric=previous.metric)
    if pointed is not None:
        spare = previous is not None and (
            previous.intent == "excess_dead" or pointed[1].get("rule") in ("excess", "dead_stock")
        )
        plan = _pointed(plan, pointed[1], pointed[2], locations, spare)
    if (
        follow_up
        and previous is not None
        and pointed is None
        and not products
        and plan.intent in PER_PRODUCT
        and PLURAL.search(slot_text)
    ):
        # "这几个 SKU 的 EOQ 分别多少" after a list of orders: the products the list showed
        shown = previous.rows[: previous.top_n or PLURAL_ROWS]
        skus = tuple(dict.fromkeys(r["sku"] for r in shown if r.get("sku")))
        if skus:
            plan = replace(plan, products=skus[:PLURAL_ROWS])
    if follow_up and previous is not None:  # "and the third one?" after "the second one"
        plan = replace(plan, rows=previous.rows)
    if (
        follow_up
        and previous is not None
        and plan.intent in ("kpi", "ranking")
        and "products" in previous.from_answer
        and plan.products == previous.products
        and not any(m.kind == "product" for m in mentions)
    ):
        # "also what is the fill rate this month" after a list: not the list's first product's
        plan = replace(plan, products=())
    if (
        follow_up
        and previous is not None
        and plan.intent == "policy"
        and "destination" in previous.from_answer
        and not any(m.kind == "location" for m in mentions)
        and plan.destination == previous.destination
    ):
        # a policy is a place's: not where the line the answer before led with ended
        plan = replace(plan, destination=None)
    if (
        follow_up
        and previous is not None
        and earlier
        and "product" not in {m.kind for m in mentions}
    ):
        plan = _back_to(plan, previous, earlier, masked)
    if previous is not None and plan.intent in MOVE_KINDS:
        plan = _from_the_twin(plan, previous, mentions, catalogue)
    plan = _finish(plan, slot_text, mentions)
    if (
        follow_up
        and previous is not None
        and plan.intent == previous.intent == "ranking"
        and previous.order
        and _order(slot_text, plan.metric) is None
    ):
        # "top 5 instead" after the bottom five: the other end
        ends = (bool(TOP_END.search(slot_text)), bool(BOTTOM_END.search(slot_text)))
        before = (bool(TOP_END.search(previous.text)), bool(BOTTOM_END.search(previous.text)))
        flip = {"best": "worst", "worst": "best"}[previous.order]
        if (
            ends == (True, False)
            and before == (False, True)
            or ends == (False, True)
            and before == (True, False)
        ):
            plan = replace(plan, order=flip)
    if plan.intent == "stockouts_upcoming" and _caused_by_late_before(previous, masked):
        plan = replace(plan, filters={**plan.filters, "cause": "late_inbound"})
    log.debug("understood %r as %s (%.2f) %s", masked, plan.intent, plan.confidence, plan.lang)
    return plan


PER_PRODUCT = ("policy", "stock_level", "forecast")  # kinds answered product by product
PLURAL_ROWS = 10  # the products of the first ten rows at most


# a second question joined to the first: "…还有多少库存？顺便看下下周会不会断", "fill rate this
# month? also what's the turnover"
JOINED = _rx(
    r"(?:(?<=[?？。!！;；,，])|(?<=[\u3400-\u9fff]))\s*(?=顺便|另外|还有就是|再顺便)|"
    r"[?？。!！;；,，]\s*(?:and\s+)?(?=(?:also|btw|by the way|plus|oh and)\b)"
)
PART = 4  # characters a part of a joined question holds at least


def compound(text: str) -> list[str]:
    """The question, or its two questions when a second is joined to the first by a word
    that adds one ("顺便", "另外", "also", "btw") after words of its own."""
    for m in JOINED.finditer(text):
        first, second = text[: m.start()].strip(), text[m.end() :].strip()
        if len(re.sub(r"[\W_]", "", first)) >= PART and len(second) >= PART + 2:
            return [first, second]
    return [text]


# a turn that goes back past the one before: "going back to the promo item from the start",
# "回到刚才那个", "the one we started with"
BACK = _rx(
    r"\bgo(?:ing)? back to\b|\bback to (?:the|that|our)\b|\bfrom (?:the )?(?:start|beginning)\b|"
    r"\b(?:we )?(?:started|began) with\b|\bearlier\b|\bbefore that\b|\boriginal\b|"
    r"回到|一开始|最开始|开头|最早那个|之前那个|前面那个|刚开始"
)
FIRST_ONE = _rx(r"\bstart|\bbegin|\bstarted|\bbegan|\boriginal|一开始|最开始|开头|最早|刚开始")
NEEDS_ONE_PRODUCT = ("policy", "stockout_item", "forecast", "what_if", "order_suggest", "plan_why")


def _back_to(plan: Plan, previous: Plan, earlier: tuple[Plan, ...], masked: str) -> Plan:
    """A follow-up about a product the conversation named before the turn before: asked in so
    many words ("going back to the promo item from the start": the first one named, "回到刚才
    那个": the latest), or asked of a kind that needs one product when the turn before had
    none ("is the safety stock on it even sized for a promo?")."""
    named = [p for p in earlier if p.products and "products" not in p.from_answer]
    if not named:
        return plan
    back = bool(BACK.search(masked))
    if back:
        chosen = named[-1] if FIRST_ONE.search(masked) else named[0]
    elif plan.intent in NEEDS_ONE_PRODUCT and not plan.products and not previous.products:
        chosen = named[0]
    else:
        return plan
    changes: dict = {"products": chosen.products}
    if back:  # that turn's places and scope with it
        changes |= {
            "locations": chosen.locations,
            "source": chosen.source,
            "destination": chosen.destination,
            "region": chosen.region,
            "regions": chosen.regions,
        }
    return replace(plan, **changes)


def _from_the_twin(plan: Plan, previous: Plan, mentions: list[Mention], cat: Catalogue) -> Plan:
    """ "从昆山调300件过来" in a conversation on the central DC at Kunshan: the city it shares
    with the VMI store names that store, the move's source, into the central DC."""
    if cat.vmi is None or not cat.twin_names or plan.source != cat.central:
        return plan
    before = previous.destination or (previous.locations[0] if previous.locations else None)
    named = [m for m in mentions if m.kind == "location"]
    if before != cat.central or len(named) != 1 or named[0].surface not in cat.twin_names:
        return plan
    return replace(
        plan,
        source=cat.vmi,
        destination=cat.central,
        locations=(cat.vmi, cat.central),
    )


def _list_again(plan: Plan, previous: Plan, mentions: list[Mention]) -> Plan:
    """The list of the turn before asked again (resized, or further): without the subjects
    its answer's first row filled in."""
    named = {m.kind for m in mentions}
    dropped = {
        f: () if f == "products" else None
        for f in previous.from_answer
        if (f == "products" and "product" not in named)
        or (f in ("source", "destination") and "location" not in named)
        or (f == "action_id" and plan.action_id == previous.action_id)
    }
    return replace(plan, **dropped)


NEXT_PAGE = _rx(
    rf"\b(?:the )?next\s+{NUM}\b(?!\s*(?:days?|weeks?|months?|d\b|wks?))|\b{NUM} more\b(?!\s*(?:days?|weeks?))|"
    rf"\banother\s+{NUM}\b(?!\s*(?:days?|weeks?|months?))|"
    rf"(?:再往后|往后|后面|接下来|再来|再看|再多给|多给|再给)\s*(?:我\s*)?{NUM}\s*(?:个|条|名|家|行)"
)
CENTRAL_WORDS = _rx(r"central|\bcdc\b|\bdc\b|中心仓|总仓|中央仓|大仓")


def _twin_sites(plan: Plan, mentions: list[Mention], cat: Catalogue, text: str) -> Plan:
    """ "from Kunshan to Kunshan", "from Kunshan or from the CDC": a city named twice where the
    central DC and the VMI store share it names both; the VMI store is the one that supplies
    (consigned stock flows from it into the central DC)."""
    if not cat.twin_names or cat.vmi is None:
        return plan
    if (
        plan.intent == "vmi"
        and cat.central in plan.locations
        and cat.vmi not in plan.locations
        and not CENTRAL_WORDS.search(text)
        and any(
            m.kind == "location" and m.values == (cat.central,) and m.surface in cat.twin_names
            for m in mentions
        )
    ):
        # "江南饮品放在我们昆山仓的VMI库存": the consigned stock is at the VMI store there
        swap = {cat.central: cat.vmi}
        return replace(
            plan,
            locations=tuple(swap.get(x, x) for x in plan.locations),
            source=swap.get(plan.source, plan.source),
            destination=swap.get(plan.destination, plan.destination),
        )
    named: list[Mention] = []
    for m in mentions:
        if m.kind != "location" or m.values != (cat.central,):
            continue
        if named and not text[named[-1].end : m.start].strip():
            continue  # "昆山总仓", "Kunshan central DC": one name in two parts
        named.append(m)
    if len(named) < 2 or not any(m.surface in cat.twin_names for m in named):
        return plan
    locations = (*plan.locations, cat.vmi) if cat.vmi not in plan.locations else plan.locations
    source = cat.vmi if plan.source in (None, cat.central) else plan.source
    return replace(plan, locations=locations, source=source)


def _codes(mentions: list[Mention], kind: str) -> tuple[str, ...]:
    out: list[str] = []
    for m in mentions:
        if m.kind == kind:
            out += [v for v in m.values if v not in out]
    return tuple(out)


def _slot_text(text: str, mentions: list[Mention]) -> str:
    """The text with mentions masked (digits kept), a 仓 after a place taken with it."""
    out, last = [], 0
    for m in mentions:
        if m.start < last:
            continue
        out.append(text[last : m.start])
        out.append(f" {MASK[m.kind]} ")
        last = m.end
        if m.kind == "location" and (suffix := SUFFIX_ZH.match(text[last:])):
            last += suffix.end()
    out.append(text[last:])
    return re.sub(r"(?a)\s+", " ", "".join(out)).strip()


def _unit(text: str) -> str | None:
    text = re.sub(
        r"(?a)\b(?:not|rather than|instead of)\s+(?:in\s+)?(?:units|value)|不要\S{0,2}(?:件数|金额)",
        " ",
        text,
    )
    if re.search(r"(?a)\bunits?\b|件|数量|\bqty\b|how many|pieces|\bpcs\b|箱|多少个", text):
        return "units"
    if re.search(r"(?a)value|worth|金额|多少钱|值多少|capital|\brmb\b|¥|\d+k\b|money|钱", text):
        return "value"
    return None


# "你直接帮我批了吧": an order even beside status words ("还没批的话")
IMPERATIVE = _rx(
    r"(?:直接|你)\S{0,6}(?:帮我)?(?:批|过账|驳回|删|取消|下\s*(?:po|单|采购单|订单))|(?:批|过账|驳回|删|取消)(?:了|掉)?吧|"
    r"\b(?:just|go ahead and|please) (?:approve|post|reject|delete|cancel)\b"
)
# "要是把那笔调拨取消了，成都会不会断货？": a scenario asked about, not an order
CONDITIONAL = _rx(
    r"^\W*(?:要是|如果|假如|假设|万一|what if\b|what happens if\b|suppose\b|if we\b).*"
    r"(?:会不会|会怎样|会怎么样|会.{0,6}吗|\?|？|\bwould\b|\bwill\b)"
)


# a request ("can you", "帮我", "麻烦", "你直接", "那就...吧") to do something that writes: in any
# words around it ("ok 那就book吧，直接安排调拨", "Can you just lower the SS to half of that?")
REQUEST = (
    r"(?:\b(?:can|could|would|will) you\b|\bpls\b|\bplease\b|\bplz\b|\bjust\b|\bgo ahead\b|\bkindly\b|"
    r"\bi need you to\b|\bi want you to\b|\blet'?s\b|帮我|麻烦|你直接|直接|那就|就给我|给我)"
)
WRITE_VERB = (
    r"(?:(?<![a-z])(?:approve|reject|post|send(?! me\b)|email(?! me\b)|delete|remove|cancel|change|update|set|lower|raise|"
    r"increase|decrease|reduce|bump|book|arrange|place|create|issue|release|submit|mark|snooze|kill|"
    r"scrap|void|reverse|undo|unpost|roll ?back|"
    r"override|confirm|push|forward)(?![a-z])|批准|批了|批掉|审批通过|驳回|过账|过一?下账|过个账|发出去|发到|发给|发送|删|"
    r"调成|调整成|调整为|撤回|撤销|冲销|回滚|新建|创建|批一下|批下|审批一下|通过一下|建一?(?:个|张|笔)|开一?(?:个|张|笔)\S{0,4}单|发一?(?:个|封|条)|"
    r"取消|修改|改成|改为|改一下|调低|调高|降低|提高|下了|下单|下个单|下\s*(?:po|采购单|订单)|安排|提交|确认收货|标记|标成|标为|设为|设成|转发|"
    r"把\S{1,12}?(?:建|开|批|发|提交|改|删|取消|下|过账)(?:了|掉|好|出去))"
)
WRITE_REQUEST = _rx(rf"{REQUEST}.{{0,40}}?{WRITE_VERB}|{WRITE_VERB}.{{0,20}}(?:吧|for me\b)")
# advice or a scenario asked, not an order: "要不要下单", "should we raise a PO", "会怎样"
ADVICE = _rx(
    r"要不要|该不该|需不需要|是否|要的话|(?<!这个)(?<!那个)(?<!这条)(?<!那条)(?<!这些)(?<!那些)建议|多少|几|哪些|哪个|\bshould\b|\bhow (?:much|many)\b|"
    r"\bwhat\b|\bwhich\b|\bwhether\b|\bif\b|\bwhere\b|\bwhen\b|会怎样|会不会|what happens|\bwould it\b|"
    r"哪里|哪儿|哪边|什么时候|"
    r"\bshow\b|\btell\b|\blist\b|看看|看一下|看下|查"
)


def _asks_to_write(text: str, intent: str) -> bool:
    if CONDITIONAL.search(text):
        return False
    if WRITE_REQUEST.search(text) and not ADVICE.search(text):
        return True
    if STATUS_QUESTION.search(text) and not re.search(r"(?a)改成|改为|改到", text):
        if not IMPERATIVE.search(text):
            return False
    if WRITE_ANYWHERE.search(text):
        return True
    # an order in any sentence: "Looks fine. Reject the PO suggestion for Yangtze."
    return any(WRITE.search(part.strip()) for part in re.split(r"[.!;。！；\n]+", text))


OTHER_OPTIONS = _rx(
    r"\bother (?:options?|sources?|ways?)|alternatives?|其他方案|别的方案|其他来源|别的仓|其他选择"
)
# the kinds whose answer is a plan's line (a "why?" after one asks why the plan suggests it)
LINE_KINDS = ("transfer_suggest", "order_suggest", "transfer_cost", "plan_why")
# concepts that, named in a follow-up, ask that kind's question of the same subject
NAMED_TURNS = (("settle", "settlement"), ("owe", "supplier_owed"), ("cover", "stockout_item"))


def _follow_intent(
    intent: str,
    confidence: float,
    previous: Plan,
    masked: str,
    nb: NaiveBayes,
    quantity: int | None = None,
) -> tuple[str, float]:
    """A follow-up keeps the previous intent unless it plainly asks something else: why the
    plan suggests what the turn before showed, what it costs, what if it is not done."""
    if previous.intent in ("decline_write", "out_of_scope"):
        return intent, confidence
    if intent == "out_of_scope" and STRONG_OFFTOPIC.search(masked):
        return intent, confidence  # "also can u check my leave balance": not the turn before's
    if (
        _metric(masked) in ("dead_value", "excess_value")
        and CONCEPT_RE["excess"].search(masked)
        and previous.intent not in ("excess_dead", "ranking", "compare", "kpi")
    ):
        return "excess_dead", max(confidence, RULED)  # "anything sitting there not moving?"
    if (
        WHY.search(masked)
        and (CONCEPT_RE["suggest"].search(masked) or CONCEPT_RE["order"].search(masked))
        and previous.intent not in ("plan_why", "transfer_cost")
        and not CONCEPT_RE["cost"].search(masked)
    ):
        return "plan_why", max(confidence, RULED)  # "系统为什么还没建议补货"
    if _metric(masked) in POLICY_METRICS and previous.intent != "policy":
        return "policy", max(confidence, RULED)  # "按EOQ算的话一次应该订多少": that figure
    if previous.intent == "kpi" and previous.metric == "forecast_bias" and _metric(masked) is None:
        if CONCEPT_RE["future"].search(masked) and not CONCEPT_RE["kpi"].search(masked):
            # "只看杭州，next 2 weeks" after a forecast's bias: a bias looks back, this ahead
            return "forecast", max(confidence, RULED)
    if intent == "ranking" and EXPLICIT_RANK.search(masked):
        return intent, confidence  # "rank the DCs by how many of those they have"
    if ORDER_INSTEAD.search(masked):
        return "order_suggest", max(confidence, RULED)  # "and if we order instead, how much"
    if (
        STATUS_WORDS.search(masked)
        and (previous.action_id or previous.products or previous.source)
        and previous.intent in LINE_KINDS + ("what_if",)
        and not WRITE_ANYWHERE.search(masked)
        and not WHY.search(masked)
    ):
        return "action_status", max(confidence, RULED)  # "那个 transfer 批了没": the one shown
    if CORRECTION.search(masked) and len(_bare(CORRECTION.sub(" ", masked))) <= TINY:
        return previous.intent, max(confidence, RULED)  # "不对 我说的是江南饮品"
    if previous.intent == "supplier_performance" and OTHER_SUPPLIERS.search(masked):
        return "ranking", max(confidence, RULED)  # "where do they sit vs the other suppliers?"
    if previous.intent in SORTABLE and SORT.search(masked) and not DIMENSION.search(masked):
        return previous.intent, max(confidence, RULED)  # "按金额从高到低": the list, sorted
    if previous.intent == "ranking" and INSIDE.search(masked) and LIST_WORDS.search(masked):
        return _ranked_detail(previous), max(confidence, RULED)
    if previous.intent == "top_risks" and LATE.search(masked) and INSIDE.search(masked):
        return "late_inbound", max(confidence, RULED)  # "其中哪些是因为供应商到货晚造成的？"
    if SAME_FOR.search(masked) and previous.intent in ("compare", "ranking", "kpi"):
        return previous.intent, max(confidence, RULED)  # "same for stockouts": that figure
    if (REGROUP.search(masked) or RESIZE.search(masked)) and previous.intent == "kpi":
        # "by category, lowest 3", "哪几个仓拖后腿了，列前三个": the KPI per group
        return "ranking", max(confidence, RULED)
    if (
        previous.products
        and WHETHER_OUT.search(masked)
        and not LIST_WORDS.search(masked)
        and not WHERE.search(masked)
        and not WHAT_IF.search(masked)
    ):
        return "stockout_item", max(confidence, RULED)  # "会不会断": whether that one runs out
    if _list_of_its_own(intent, confidence, previous.intent, masked):
        return intent, confidence  # "top 3 risks in that region rn" after a ranking
    if RESIZE.search(masked) or FILTER_BACK.search(masked) or REGROUP.search(masked):
        # "算了太多了，前三个就行", "any of them carrying X?", "by region": the same answer,
        # resized, narrowed or grouped another way
        return previous.intent, max(confidence, RULED)
    if previous.intent == "plan_why" and OTHER_OPTIONS.search(masked):
        return previous.intent, max(confidence, RULED)  # "那其他方案呢？各贵多少": its options
    if (
        WHY.search(masked)
        and previous.intent == "stockout_item"
        and (CONCEPT_RE["order"].search(masked) or CONCEPT_RE["plan"].search(masked))
    ):
        return "plan_why", max(confidence, RULED)  # "怎么会断的？系统没有提前补货吗"
    if WHY.search(masked) and previous.intent in LINE_KINDS and previous.intent != "plan_why":
        return "plan_why", max(confidence, RULED)  # why the plan suggests what was shown
    if intent == "plan_why" and previous.intent in ("transfer_suggest", "order_suggest"):
        return intent, confidence
    if previous.intent == "transfer_cost" and not WHY.search(masked):
        if quantity or HALF.search(masked) or ("λ" in masked and CONCEPT_RE["cost"].search(masked)):
            # "what if we moved 800 instead?", "要是改从武汉调过去呢？会不会便宜点"
            return previous.intent, max(confidence, RULED)
    if (
        TRANSFER_ASK.search(masked)
        and previous.intent != "transfer_suggest"
        and not CONCEPT_RE["cost"].search(masked)
        and not CONCEPT_RE["whatif"].search(masked)
        and not WHY.search(masked)
    ):
        return "transfer_suggest", max(confidence, RULED)  # "can we pull some from another DC?"
    if (
        ORDER_ASK.search(masked)
        and previous.intent not in ("order_suggest", "policy")
        and not CONCEPT_RE["whatif"].search(masked)
        and not WHY.search(masked)
        and _metric(masked) not in POLICY_METRICS
    ):
        return "order_suggest", max(confidence, RULED)  # "那要订多少货才能顶住这些缺口？"
    for concept, kind in NAMED_TURNS:  # a follow-up that names another kind's subject
        if CONCEPT_RE[concept].search(masked) and previous.intent != kind:
            if kind != "stockout_item" or (
                previous.intent in ("stock_level", "forecast") and previous.products
            ):
                return kind, max(confidence, RULED)
    if intent == "transfer_cost" and CONCEPT_RE["cost"].search(masked):
        if previous.intent != "plan_why" or not OTHER_OPTIONS.search(masked):
            return intent, confidence  # (the other options of a plan line: its why)
    if CONCEPT_RE["cost"].search(masked) and previous.intent == "transfer_suggest":
        return "transfer_cost", max(confidence, RULED)  # what the suggested move costs
    if intent == "what_if" and CONCEPT_RE["whatif"].search(masked):
        return intent, confidence
    if intent == "stockouts_upcoming" and _caused_by_late(masked):
        return intent, max(confidence, RULED)  # the stock-outs the late lines before leave
    if _caused_by_late_before(previous, masked):
        return "stockouts_upcoming", max(confidence, RULED)  # "anything stocking out bc of it?"
    if intent in ("decline_write", "out_of_scope") and confidence > 0.9:
        return intent, confidence
    if _switches(intent, confidence, previous.intent, masked):
        return intent, confidence  # its own question about the same subjects
    return previous.intent, max(confidence, 0.6)


# the concept a question of each kind names ("when does it run out" names a stock-out)
KIND_CONCEPT = {
    "stock_level": "stock",
    "stockouts_upcoming": "stockout",
    "stockout_item": "stockout",
    "top_risks": "risk",
    "kpi": "kpi",
    "ranking": "rank",
    "transfer_suggest": "transfer",
    "transfer_cost": "cost",
    "plan_why": "why",
    "order_suggest": "order",
    "vmi": "vmi",
    "supplier_owed": "owe",
    "settlement": "settle",
    "late_inbound": "late",
    "excess_dead": "excess",
    "forecast": "forecast",
    "policy": "policy",
    "supplier_performance": "perf",
    "action_status": "status",
    "what_if": "whatif",
}


def _switches(intent: str, confidence: float, before: str, masked: str) -> bool:
    """Whether a follow-up asks a question of another kind about the same subjects: the
    classifier reads that kind surely, the turn names its concept ("and the SS?", "他们的准时
    率呢") and not the concept of the kind before. A "why" asks why the plan suggests
    something only when the turn names a suggestion or follows a plan line."""
    concept = KIND_CONCEPT.get(intent)
    if intent == before or concept is None or confidence < SWITCH:
        return False
    if intent == "kpi" and before in ("compare", "ranking"):
        return False  # "库存金额呢？" after a comparison: the same comparison, of that figure
    if intent == "kpi" and _metric(masked) in KPI_METRICS and _metric(masked) != "inventory_value":
        return True  # "这个区这个月的库存周转怎么样" after its stock: that KPI of it
    if not CONCEPT_RE[concept].search(masked):
        return False
    if intent == "ranking" and SUPERLATIVE.search(masked) and DIMENSION.search(masked):
        return True  # "哪三个仓压得最多": the figure before, ranked
    asked = {"transfer_suggest": TRANSFER_ASK, "order_suggest": ORDER_ASK}.get(intent)
    if asked is not None and asked.search(masked):
        return True  # "这些多出来的货能不能调到别的 RDC 去": a move asked in so many words
    if before in KIND_CONCEPT and CONCEPT_RE[KIND_CONCEPT[before]].search(masked):
        return False
    if intent == "plan_why" and before not in LINE_KINDS:
        return bool(CONCEPT_RE["suggest"].search(masked) or CONCEPT_RE["plan"].search(masked))
    return True


def _list_of_its_own(intent: str, confidence: float, before: str, masked: str) -> bool:
    """A follow-up that surely asks for another list, naming what it lists ("top 3 risks in
    that region", "下周那个区还会断哪些货"), and not what the list before was of: that list,
    however it is sized or grouped."""
    if intent == before or intent not in LISTS or intent == "ranking" or confidence < SURE:
        return False
    if not CONCEPT_RE[KIND_CONCEPT[intent]].search(masked):
        return False
    concept = KIND_CONCEPT.get(before) if before != "ranking" else None
    return not (concept and CONCEPT_RE[concept].search(masked))


def _specific(text: str) -> bool:
    """Whether a turn names a figure (beyond plain stock)."""
    metric = _metric(text)
    return bool(metric and metric != "on_hand")


STRONG_OFFTOPIC = _rx(
    r"weather|天气|\bjokes?\b|笑话|translat|翻译|competitor|竞争对手|other compan|python|\bscript\b|"
    r"scrape|爬虫|代码|\bnews\b|新闻|stock market|股价|大盘|exchange rate|汇率|movies?\b|电影|"
    r"hotel|restaurant|hotpot|vacation|年假|salary|工资|payslip|\bnba\b|football|高铁|机票|"
    r"draft (?:an? |the )?e-?mail|write (?:an? |the )?e-?mail|写.{0,20}?(?:email|e-mail|邮件)|邮件草稿|e-?mail 草稿|"
    r"\bget(?:s)? paid\b|薪资|薪水|馆子|好吃的|饭店|餐厅|share price|stock price|market cap|市值|股票价格|年终总结|请假条|请.{0,3}假|\bhr\b|performance review|\bbook (?:a|an|me)\b(?! ?(?:write|provision|adjust|journal|entry|reserve|credit|debit))|book一|吃什么|"
    r"\brain\b|raining|\bsnow|下雨|下雪|暴雨|大雨|气温|刮风|台风|linkedin|social media|朋友圈|公众号|微博|"
    r"\b(?:a|an) (?:post|tweet|poem|speech)\b|a股|港股|美股|股市|基金|彩票|lottery|"
    r"bitcoin|crypto|比特币|nasdaq|s&p|dow jones|diesel|fuel pric|oil pric|油价|柴油|\bwms vendor|"
    r"\b(?:wms|tms|erp) (?:system|software|vendor)|software vendor|系统选型|\bpoem|\bpoetry|写诗|一首诗|\bsong\b|\bpassword|密码|"
    r"\blog ?in\b|登录不了|登不上|\bvpn\b|\bprinter|打印机|\bwifi\b|"
    r"leave balance|annual leave|sick leave|\bjob (?:ad|advert|posting|description|opening)|招聘|\brecruit|"
    r"\bhiring\b|简历|\bresume\b|\binterview|面试|社保|公积金|报销|expense claim|reimburse|"
    r"手机号|电话号码|联系方式|家庭住址|住址|home address|phone number|mobile number|"
    r"credit (?:rating|score|check|report)|信用评级|信用等级|征信|"
    r"(?:draft|renew|write|prepare|sign)\w* (?:up )?(?:the |a |an |our )?contracts?\b|contract renewal|"
    r"(?:起草|续签|拟|写|签)\S{0,4}合同|合同续签|\bppt\b|powerpoint|slide deck|幻灯片|闲鱼|淘宝|拼多多|ebay|amazon|"
    r"\bsell (?:them|it|those|these) (?:on|online|via)\b|挂到.{0,6}(?:卖|上)"
)
CHITCHAT = _rx(
    r"^(?:hi|hello|hey|thanks|thank you|你好|谢谢|who are you|你是谁|what are you)[\s,.!?;:，。！？；：、~…]*$"
)
TOPICS = ("stockout", "risk", "kpi", "transfer", "cost", "order", "vmi", "owe", "settle", "late")
TOPICS += ("excess", "forecast", "policy", "perf", "status", "whatif")
WHAT_IF = _rx(
    r"what[- ]if|\bsuppose(?!d)|scenario|simulat|hypothetic|如果|假如|假设|要是|模拟|会怎样|会怎么样|"
    r"^\W*(?:ok |so |and )?say (?:the |we |our |demand|sales|it)|"
    r"what would (?:happen|break)|what happens (?:to|if)|翻倍|doubles\b|减半|"
    r"\bif\b.{0,40}\b(?:doubled|tripled|halved|went up|goes up|rose|rises|jumps?|jumped|spikes?|dropped|"
    r"drops?|fell|falls|lifts?|lifted|boosts?|boosted|increases?|increased|grows?|grew|cuts?)\b|"
    r"(?:运费|成本|费用|cost|freight|rate)\S{0,8}(?:变成|变为|涨到|涨了|上涨|x\s*0|0(?:\.0)?\s*倍)|"
    r"(?:再加|多加|加上|追加|补上)\s*0\s*(?:件|个|箱)?.{0,12}(?:撑|够|卖|多久|几天)|"
    r"\badd(?:ed)? 0 (?:more )?units?\b.{0,30}\b(?:last|cover|enough|hold)"
)
WHAT_IF_WEAK = _rx(
    r"\bif we\b|\bif (?!this\b|that\b|it\b|you\b|i\b|there\b)[a-z]+ (?:slips|delivers|is|goes)|"
    r"(?:提到|提高|降到|下调|上调|涨|减|停|关|不)\S{0,12}(?<!要)的话"
)
STATUS_WORDS = _rx(
    r"rejected|approved|posted|shipped|被拒绝|驳回了|审批|批了|批准了|过账|发货了|发出了|发了吗|到了吗|收到了|"
    r"哪一步|什么状态|啥状态|进度|\bstatus\b|what stage|which stage|批下来|执行了没|执行了吗|执行没|"
    r"\b(?:an? |any )?(?:action|proposal)s? (?:raised|created|open|proposed|already)|already (?:an? )?(?:action|proposal)|"
    r"(?:已经|有没有)(?:有|提|建|发起)了?(?:行动|提议|审批)"
)
KPI_METRICS = ("fill_rate", "turnover", "inventory_value", "health_index", "on_time_rate")
KPI_METRICS += ("forecast_bias", "forecast_error")
POLICY_TERMS = _rx(r"最高库存|最低库存|最大库存|库存上限|库存下限")
WHY = _rx(
    r"\bwhy\b|reason|justif|rationale|how come|为什么|为啥|理由|原因|依据|算出来|怎么来的|怎么会"
)
RANK_WORDS = r"\brank|排名|排序|排一下|排个序|排个名"  # asking for a ranking in so many words
SUPERLATIVE = _rx(
    RANK_WORDS + r"|\btop\s*\d|\bbottom\b|\bworst\b|\bbest\b|\bmost\b|\bleast\b|"
    r"highest|lowest|fastest|slowest|longest|shortest|biggest|最[多少高低快慢长短好差大小不]|从高到低|从低到高"
)
STRONG_RANK = _rx(
    RANK_WORDS + r"|\btop\b|\bbottom\b|\d|前[一二三四五六七八九十]|从高到低|从低到高|"
    r"哪几个|最长|最短|slowest|fastest|longest|shortest|最不|\bwhich \w+ is (?:the )?(?:most|least)"
)
DIMENSION = _rx(
    r"\b(?:regional )?(?:dcs?|rdcs?|warehouses?|regions?|categories|category|suppliers|skus|products|"
    r"items)\b|wh?ich (?:dc|rdc|warehouse|region|supplier|category|sku|product)\b|仓|区域|品类|"
    r"供应商|商品|单品|哪家|哪几家|\bsku"
)
LIST_WORDS = _rx(
    r"什么货|哪些|\bwhich\b|\bwhat (?:items|skus|products)|\banything\b|\bany\b|清单|\blist\b"
)
COMPARE_WORDS = _rx(
    r"\bvs\b|versus|compar|against|stack up|side[- ]by[- ]side|next to|alongside|\bor\b|哪个|哪家|谁|对比|比较|相比|比一比|"
    r"放一起|放在一起|并排|"
    r"\bbetter\b|\bmore\b|更|差多少|哪边|哪里多|哪个多"
)
ABOVE_MAX = _rx(
    r"(?:above|over|exceed\w*|超过|超出|高于)\s*(?:their |the )?(?:max|最高库存|库存上限|上限)"
)
LIST_ALL = _rx(r"都|各|\beach\b|\ball\b|列一下|列出来|list (?:them|all)")
NETWORK_WIDE = _rx(r"whole network|network[- ]wide|across the network|全网|整个网络|整体")
PER_SUPPLIER = _rx(r"各|each|\bby supplier|per supplier|\ball\b|都|列|\bcompare\b|对比")
POLICY_METRICS = ("eoq", "reorder_point", "safety_stock", "max_level")
COMPARE_EXPLICIT = _rx(
    r"\bvs\b|versus|compar|against|stack up|side[- ]by[- ]side|next to|alongside|对比|比较|相比|比一比|\bor\b|哪个|谁|哪边|"
    r"放一起|放在一起|并排"
)
LATE_LOOKALIKES = (
    "stock_level",
    "transfer_suggest",
    "settlement",
    "order_suggest",
    "kpi",
    "top_risks",
)
LATE_LOOKALIKES += ("stockouts_upcoming",)
TRANSFER_LOOKALIKES = (
    "compare",
    "excess_dead",
    "stock_level",
    "order_suggest",
    "stockouts_upcoming",
)
TRANSFER_LOOKALIKES += ("transfer_cost", "decline_write", "stockout_item")
LATE = _rx(
    r"\blate\b|overdue|delay|behind schedule|past (?:their )?due|stuck|holding up|延迟|逾期|超期|"
    r"晚到|迟交|迟到|延误|晚了|超时|还没到|仲未到|到货晚|交货晚|送货晚|来得晚|晚送"
)
# "这些迟到的会导致哪些商品断货", "which stock-outs are down to late POs": the stock-outs late
# deliveries leave
CAUSE = _rx(
    r"导致|造成|引起|害得|影响到|因为|由于|\bcaus|\blead(?:s|ing)? to\b|\bresult(?:s|ing)? in\b|"
    r"\bdue to\b|\bbecause\b|\bdown to\b|\bknock[- ]on\b|\bbc\b|\bb/c\b|\bcuz\b|\bcoz\b|\bthanks to\b"
)


ORDER_INSTEAD = _rx(
    r"(?:\bif we|要是|如果|假如)\s*(?:\w+\s+)?(?:order|buy|reorder|place (?:an|a) (?:order|po)|下单|订货|采购|补货)"
    r".{0,30}(?:how (?:much|many)|\bfrom who|which supplier|多少|哪家|找谁)"
)


def _caused_by_late_before(previous: Plan | None, masked: str) -> bool:
    """A turn after late inbound asking the stock-outs it causes ("anything stocking out there
    bc of it?")."""
    return (
        previous is not None
        and previous.intent == "late_inbound"
        and bool(CONCEPT_RE["stockout"].search(masked) and CAUSE.search(masked))
    )


def _caused_by_late(masked: str) -> bool:
    return bool(
        LATE.search(masked) and CONCEPT_RE["stockout"].search(masked) and CAUSE.search(masked)
    )


TRANSFER_ASK = _rx(
    r"\b(?:should|shall|can|could|do) (?:we|i) (?:move|transfer|shift|rebalance|pull)\b|"
    r"\bpush (?:them |it |those |these |the \w+ )?(?:to|into|over to) (?:other|another|the) |"
    r"\b(?:push|send|ship|move) (?:some|part|a bit|a few)(?: of)?(?: it| them| that| those)? (?:to|into|over)\b|"
    r"\b(?:could|can|should) (?:any|some|part) of (?:it|them|that|those|this) (?:go|be (?:sent|moved|shipped))\b|"
    r"(?:要不要|该不该|能不能|可不可以|是否|可以|能否)\s*(?:把.{0,16}?)?(?:调|挪|移)|"
    r"(?:transfer|\bmoves?\b|rebalanc|调拨|调去|调到|调给|调过去|从哪个仓调|调).{0,30}"
    r"(?:哪|where|\bwhich\b|recommend|suggest|ideas|\bhelp|需要|should|吗|合适|最好|最快)|"
    r"(?:recommend|suggest|propose)\w* (?:a )?(?:transfers?|moves?)|where could it go|come from|调去哪|"
    r"\bmove (?:some|stock|units|it|them)\b.{0,20}\bover\b|\bwho (?:should|could|can) (?:ship|send|supply)|"
    r"\b(?:from |is there )?(?:another|other|a different|an?(?:y|other)? (?:nearby|neighbou?ring|closer)|the (?:nearest|closest)|nearby) "
    r"(?:dc|rdc|warehouse|site|location)s?\b.{0,40}"
    r"\b(?:spare|pull|send|ship|move|transfer|cover)|(?:别的|其他|其它|另外的?)\s*(?:仓|dc|rdc|地方|λ).{0,8}(?:调|挪|发|支援|消化)|(?:调|挪|发)到(?:别的|其他|其它)|"
    r"挪到|挪去|\bfrom another (?:dc|rdc|warehouse|site)|从哪(?:里|个|边|家)?\s*\S{0,6}?\s*(?:调|发|补|支援)|"
    r"\bwhere (?:could|can|should|would|do) (?:we|i|you) (?:send|move|ship|put|push|transfer)\b|"
    r"(?:调|发|运)(?:到|去|往)哪|往哪(?:调|发|运)|调哪去|\b(?:has|have|got|with|can) (?:any |some )?spare\b.{0,20}"
    r"\b(?:send|ship|move|give|lend|transfer)|哪个仓.{0,6}(?:有多|富余|多的|多出).{0,8}(?:调|发|支援)|谁(?:来)?(?:发|调|补)|从哪(?:里|个仓|边)?(?:调|发|补)|哪个仓(?:能|可以)?(?:调|发|支援)"
)
ORDER_ASK = _rx(
    r"(?:suggest|recommend|propose|draft|what should we|which|what do we need to)\w*\s.{0,25}"
    r"(?:\bpos?\b|\borders?\b|purchase|\bbuy\b|reorder)|"
    r"\bhow (?:much|many)\b.{0,25}\b(?:order|buy|reorder|replenish)\b|"
    r"\bquantity\b.{0,25}\border\b|\bshould (?:i|we) order\b|"
    r"(?:要下|该下|需要下|下哪些|要订|该订|需要订|订啥|订什么|订哪些|买什么|要买|该买|补哪些|补什么|"
    r"要不要订|要不要下单|要不要补|需不需要订|需不需要补)|"
    r"要不要.{0,20}(?:补|订|下)(?:一|个)?单|\bwhat (?:qty|quantity|amount) (?:would|should|do) (?:you|we) "
    r"(?:suggest|recommend|order)"
)
ORDER_LOOKALIKES = ("ambiguous", "policy", "stock_level", "stockouts_upcoming", "late_inbound")
VMI_LOOKALIKES = ("policy", "stock_level", "order_suggest", "late_inbound", "kpi", "ambiguous")
VMI_LOOKALIKES += ("supplier_owed",)


def _refine(
    intent: str,
    masked: str,
    slot_text: str,
    mentions: list[Mention],
    vmi_site: bool = False,
    ranked: tuple[str, ...] = (),
) -> str:
    """Rules over general phrasings where the classifier's reading is weaker (each one
    measured on the dev part and in cross-validation on train). ``ranked``: the classifier's
    intents, most likely first."""
    scenario = WHAT_IF.search(masked) and any(m.kind == "location" for m in mentions)
    if (STRONG_OFFTOPIC.search(masked) and not scenario) or CHITCHAT.search(masked):
        return "out_of_scope"
    runner_up = next((i for i in ranked if i != intent), intent)
    if intent == "ambiguous" and any(CONCEPT_RE[c].search(masked) for c in TOPICS):
        intent = runner_up  # the classifier hesitates, but the question names its topic
    if (
        intent == "ambiguous"
        and CONCEPT_RE["stock"].search(masked)
        and any(m.kind in ("location", "region", "product", "category") for m in mentions)
    ):
        intent = "stock_level"  # "北京仓今天库存水位咋样，整体看一下": that place's stock
    asks = WRITE.search(masked) or WRITE_ANYWHERE.search(masked)
    if intent == "decline_write" and not (
        asks or (WRITE_REQUEST.search(masked) and not ADVICE.search(masked))
    ):
        # nothing is asked to be written: the classifier's next reading
        intent = runner_up
    if intent == "decline_write" and STATUS_QUESTION.search(masked):
        if not WRITE_ANYWHERE.search(masked):
            intent = "action_status"
    if intent in ("decline_write", "out_of_scope"):
        return intent
    if intent == "excess_dead" and not (
        CONCEPT_RE["excess"].search(masked) or ABOVE_MAX.search(masked)
    ):
        intent = runner_up  # excess or dead stock is asked for in its own words
    if ORDER_INSTEAD.search(masked):
        return "order_suggest"  # "if we order instead, how much and from who": an order's size
    if WHAT_IF.search(masked):
        return "what_if"
    if WHAT_IF_WEAK.search(masked) and not CONCEPT_RE["cost"].search(masked):
        return "what_if"
    metric = _metric(slot_text)
    if intent == "kpi" and metric not in KPI_METRICS and CONCEPT_RE["stock"].search(masked):
        intent = "stock_level"
    if intent == "forecast" and metric == "forecast_bias":
        intent = "kpi"
    if intent == "compare" and not COMPARE_EXPLICIT.search(masked):
        if sum(m.kind != "product" for m in mentions) < 2:
            intent = runner_up
    late = LATE.search(masked)
    if _caused_by_late(masked) and intent in (*LATE_LOOKALIKES, "late_inbound", "stockout_item"):
        return "stockouts_upcoming"
    if late and intent in LATE_LOOKALIKES and not CONCEPT_RE["settle"].search(masked):
        intent = "late_inbound"
    names_product = any(m.kind == "product" for m in mentions)
    if (
        names_product
        and CONCEPT_RE["stockout"].search(masked)
        and not LIST_WORDS.search(masked)
        and intent in ("stockouts_upcoming", "transfer_suggest", "stock_level")
        and not TRANSFER_ASK.search(masked)
    ):
        intent = "stockout_item"
    if (
        TRANSFER_ASK.search(masked)
        and not CONCEPT_RE["cost"].search(masked)
        and not WHY.search(masked)
        and not late
        and intent in TRANSFER_LOOKALIKES
    ):
        intent = "transfer_suggest"
    kinds = Counter(m.kind for m in mentions if m.kind != "product")
    if intent in ("stock_level", "policy", "kpi", "ranking") and ABOVE_MAX.search(masked):
        return "excess_dead"
    if metric in POLICY_METRICS and intent in ("order_suggest", "stock_level", "ranking"):
        intent = "policy"
    vmi_named = vmi_site or CONCEPT_RE["vmi"].search(masked)
    if intent == "vmi" and not vmi_named:
        intent = "stock_level" if CONCEPT_RE["stock"].search(masked) else intent
    elif vmi_named and intent in VMI_LOOKALIKES:
        if not CONCEPT_RE["owe"].search(masked) and not CONCEPT_RE["settle"].search(masked):
            intent = "vmi"
    if (
        ORDER_ASK.search(masked)
        and intent in ORDER_LOOKALIKES
        and metric != "eoq"  # "按EOQ算的话一次应该订多少": the EOQ
        and not late
        and not WHY.search(masked)
        and not STATUS_WORDS.search(masked)
    ):
        intent = "order_suggest"
    if (
        intent in ("decline_write", "order_suggest")
        and metric == "lead_time"
        and not (intent == "order_suggest" and ORDER_ASK.search(masked))
    ):
        intent = "supplier_performance"
    if STATUS_WORDS.search(masked) and _action_id(slot_text, "action_status"):
        if not WRITE_ANYWHERE.search(masked) and not WHY.search(masked):
            return "action_status"  # "transfer 203 发货了吗？"
    if intent == "action_status" and STATUS_WORDS.search(masked):
        pass
    elif intent in ("action_status", "transfer_cost") and WHY.search(masked):
        if not CONCEPT_RE["cost"].search(masked) or intent == "action_status":
            intent = "plan_why"
    pair = any(
        n >= 2 for k, n in kinds.items() if k in ("location", "supplier", "category", "region")
    )
    if (
        pair
        and COMPARE_WORDS.search(masked)
        and intent not in ("transfer_cost", "transfer_suggest", "plan_why", "what_if")
        and not CONCEPT_RE["transfer"].search(masked)
    ):
        return "compare"
    plain = POLICY_TERMS.sub(" ", masked)
    if (
        intent == "ranking"
        and CONCEPT_RE["excess"].search(masked)
        and not SUPERLATIVE.search(plain)
        and not _top_n(slot_text)
    ):
        intent = "excess_dead"  # "呆滞的按金额排一下", "dead stock value by category?": the list
    if SUPERLATIVE.search(plain) and DIMENSION.search(slot_text) and not pair:
        if intent in ("kpi", "stockouts_upcoming", "late_inbound", "excess_dead"):
            return "ranking"
        if intent == "supplier_performance" and STRONG_RANK.search(masked):
            return "ranking"
        if intent == "top_risks" and _group_by(slot_text) == "product":
            return "ranking"
        if intent == "top_risks" and not CONCEPT_RE["risk"].search(masked):
            return "ranking"  # "全网哪个仓最好": places ranked, no risk named
    if intent == "supplier_performance" and "supplier" not in kinds:
        if (_top_n(slot_text) or 0) >= 2 and not LIST_ALL.search(masked):
            return (
                "ranking"  # "哪三家供应商的准时交货率最差？" (but "五家...都列一下": all of them)
            )
        asked = _period(slot_text)[0] or NETWORK_WIDE.search(masked)
        if asked and not PER_SUPPLIER.search(masked) and not PRONOUN.search(masked):
            return "kpi"
    if (
        intent == "stockout_item"
        and CONCEPT_RE["stock"].search(masked)
        and not CONCEPT_RE["stockout"].search(masked)
        and not CONCEPT_RE["cover"].search(masked)
    ):
        intent = "stock_level"  # "西安 DC 的香辣辣条还有多少 stock？": how much, not until when
    if intent == "stockout_item" and metric == "days_of_cover" and not LIST_WORDS.search(masked):
        if not CONCEPT_RE["stockout"].search(masked):
            intent = "stock_level"  # "PCA-0028在RDC-GZ的DOH还有几天": its days of cover
    if intent == "stockout_item" and "product" not in {m.kind for m in mentions}:
        if LIST_WORDS.search(masked):
            return "stockouts_upcoming"
    located = names_product and any(m.kind == "location" for m in mentions)
    if (
        intent == "top_risks"
        and located
        and not LIST_WORDS.search(masked)
        and not _top_n(slot_text)
    ):
        return "stockout_item"  # "BBY-0014 @ CDC-KS is showing red, what's going on?"
    return intent


def _residue(masked: str) -> str:
    """What a first turn asks beyond naming something: empty for "what about Chengdu?"."""
    rest = FOLLOW_START.sub("", masked)
    rest = re.sub(r"(?a)(?<=λ)\s*(?:区域仓|中心仓|仓库|仓|区域|区|dc|rdc)", " ", rest)  # "成都仓的"
    rest = re.sub(r"(?a)[πλρσκ0]|[^\w\u3400-\u9fff]+", " ", rest)
    rest = re.sub(
        r"(?a)\b(?:and|what|about|how|the|for|me|check|please|pls|is|it|ok|in|at|only|just)\b",
        " ",
        rest,
    )
    rest = re.sub(
        r"列出来|列一下|列出|拉出来|发我|给我|帮我|帮忙|麻烦|先|家|就行|\bshow me\b|\blist\b",
        " ",
        rest,
    )
    rest = re.sub(r"[呢那的吗呀啊吧了里看下一个]", "", rest)
    return rest.strip()


MOVE_KINDS = ("transfer_cost", "transfer_suggest", "plan_why")
EXPLICIT_RANK = _rx(RANK_WORDS)
ALSO = _rx(r"也(?:比|看|算|查|对比|列|排)|\balso\b|\bas well\b|\btoo\W*$|同样的|一样的")
FILTER_BACK = _rx(
    r"\b(?:any|which|how many|are any|is any|none) of (?:them|those|these|the above)\b|这些里|"
    r"那些里|其中(?:有|哪)|里面有没有|里头有没有"
)
REDIRECT = _rx(
    r"(?:改|换|改成|换成)(?:从|由|到|去|往)\s*λ|\bfrom λ instead\b|\binstead of λ\b|"
    r"\b(?:ship|send|move|source) (?:it |them )?from λ instead\b|\bwhat if (?:we )?(?:ship|send|move) "
    r"(?:it |them )?from λ\b"
)
COMPARE_START = _rx(
    r"^\W*(?:(?:ok|and|so|then)[,.]?\s+)?(?:跟|和|与|同|对比|相比|比起|vs\.?\s|versus|"
    r"compared? (?:to|with)|how (?:does|do) (?:that|it|this) compare (?:to|with))\s*[λσκρπ]"
)
AGAINST = _rx(r"比|\bvs\.?\b|versus|compar|against|对比|相比|stack up")
# the plan's fields of one kind of subject: (one, all)
SUBJECT_FIELDS = {
    "supplier": ("supplier", "suppliers"),
    "location": (None, "locations"),
    "category": ("category", "categories"),
    "region": ("region", "regions"),
}


def _compared_with_before(previous: Plan, plan: Plan, mentions: list[Mention], masked: str) -> Plan:
    """ "跟白云日化比呢？" after a supplier's figures: the two compared. A follow-up that names
    one subject against the one the turn before was about compares them."""
    if not AGAINST.search(masked) or plan.intent in ("ranking", "what_if"):
        return plan
    if plan.intent == "kpi" and any(re.search(p, masked) for _n, p in PERIOD_PATTERNS):
        return plan  # "跟上个月比呢": the same place against another period
    named = Counter(m.kind for m in mentions)
    for kind, (one, many) in SUBJECT_FIELDS.items():
        if named[kind] != 1 or sum(named.values()) != 1:
            continue
        before, now = getattr(previous, many), getattr(plan, many)
        if len(before) != 1 or len(now) != 1 or before == now:
            continue
        changes: dict = {"intent": "compare", many: (*before, *now)}
        if one:
            changes[one] = before[0]
        if kind == "location":
            changes |= {"source": None, "destination": None}
        metric = plan.metric or previous.metric
        if metric is None and previous.intent == "supplier_performance":
            metric = "on_time_rate"
        changes["metric"] = metric
        return replace(plan, **changes)
    return plan


ONE_PRODUCT_KINDS = ("stockout_item", "policy", "forecast", "stock_level", "what_if")
PLURAL = _rx(
    r"这几(?:个|家|条|样|款)|那几(?:个|家|条|样|款)|这些|那些|它们|其中|"
    r"\b(?:these|those|them|they|all of them|each of|any of (?:that|this|it))\b"
)


def _merge(previous: Plan, plan: Plan, mentions: list[Mention]) -> Plan:
    """The follow-up ``plan`` with what it does not name taken from ``previous``."""
    kinds = {m.kind for m in mentions}
    changes: dict = {}
    if "product" not in kinds:
        changes["products"] = previous.products
        first = previous.rows[0] if previous.rows else {}
        if (
            len(previous.rows) > 1
            and PLURAL.search(plan.text)
            and previous.products == (first.get("sku"),)
            and plan.intent not in ONE_PRODUCT_KINDS
        ):
            # "这几个建议补多少？" after a list: all of them, not the first row the answer
            # was about (the list's own filters carry)
            changes["products"] = ()
            if "location" not in kinds:
                row_places = {first.get(k) for k in ("location", "source", "destination")}
                changes |= {
                    "source": None if previous.source in row_places else previous.source,
                    "destination": (
                        None if previous.destination in row_places else previous.destination
                    ),
                }
    if "location" not in kinds:
        changes = {
            "locations": previous.locations,
            "source": previous.source,
            "destination": previous.destination,
        } | changes
    elif plan.intent in MOVE_KINDS and bool(plan.source) != bool(plan.destination):
        # "what would it cost to ship 500 over from Wuhan?" after Kunshan's shortage: the
        # place of the turn before is the other end
        ends = (previous.destination, previous.source, *previous.locations)
        other = next((p for p in ends if p and p != plan.source), None)
        if plan.source and other:
            changes |= {"destination": other, "locations": (*plan.locations, other)}
        elif plan.destination and previous.source and previous.source != plan.destination:
            changes |= {"source": previous.source, "locations": (previous.source, *plan.locations)}
    if plan.intent == previous.intent == "vmi" and "levels" in previous.filters:
        # "白云日化那家具体是哪些品" after the lines below their min: that supplier's of them
        changes["filters"] = {**plan.filters, "levels": previous.filters["levels"]}
    if plan.quantity is None and previous.quantity and HALF.search(plan.text):
        changes["quantity"] = previous.quantity // 2  # "and if we only send half that?"
    if plan.intent == previous.intent == "supplier_performance" and (
        "window_days" in previous.filters
    ):
        # "lead time平均几天？" after their on-time rate over the last three months: that span
        changes["filters"] = {"window_days": previous.filters["window_days"], **plan.filters}
    if plan.intent == "what_if" and previous.intent == "what_if":
        # "and if it's two weeks instead?": the same scenario, changed where the turn says
        scenario = previous.filters.get("scenario") or previous.text
        changes["filters"] = {**plan.filters, "scenario": scenario}
    if "supplier" not in kinds:
        changes |= {"supplier": previous.supplier, "suppliers": previous.suppliers}
    if "category" not in kinds:
        changes |= {"category": previous.category, "categories": previous.categories}
    if "region" not in kinds:
        changes |= {"region": previous.region, "regions": previous.regions}
    names = (
        "metric",
        "unit",
        "horizon_days",
        "top_n",
        "group_by",
        "quantity",
        "action_id",
        "order",
    )
    for name in names:
        if getattr(plan, name) is None:
            changes[name] = getattr(previous, name)
    if plan.period is None and not (plan.horizon_days and plan.intent in BACKWARD):
        changes["period"] = previous.period
    elif (
        plan.compare
        and previous.period
        and plan.period != previous.period
        and not (previous.period == "current" and plan.period == "this_week")
    ):
        # "and vs last month?" after this month, "比上个月多了还是少了？" after a figure as of
        # now (its 30 days): the period before (but after a figure as of now, "and vs last
        # week?" asks this week against the week before)
        named = sum(bool(re.search(pattern, plan.text)) for _name, pattern in PERIOD_PATTERNS)
        if named == 1 and re.search(r"(?a)\bvs\b|versus|比|compared|\bthan\b", plan.text):
            changes["period"] = previous.period
    if plan.intent == previous.intent == "kpi" and previous.compare and not plan.compare:
        changes["compare"] = True
    if plan.metric == "on_hand" and previous.metric and previous.metric != "on_hand":
        changes["metric"] = previous.metric
    if plan.intent == "compare" and "location" in kinds and len(plan.locations) == 1:
        changes["locations"] = plan.locations
    if NETWORK_WIDE.search(plan.text) and not kinds & {"location", "region"}:
        # "全网哪个仓最好", "and across the whole network?": no place of the turn before
        changes |= {"locations": (), "source": None, "destination": None}
        changes |= {"region": None, "regions": ()}
    return replace(plan, **changes)


# "能不能调到别的仓去消化掉", "where could we send it": the place named is where stock leaves
ELSEWHERE = _rx(
    r"(?:别的|其他|其它)\s*(?:仓|rdc|dc|区域仓|地方)|别处|消化|\bother (?:dcs?|rdcs?|warehouses?|locations?|sites?)\b|"
    r"\belsewhere\b|\boffload|\bclear (?:it|them|out)\b|\bget rid of\b|\bwhere (?:could|can|should) "
    r"(?:we|i) (?:send|move|ship|put|push)"
)
# consigned lines against their agreed VMI levels
LEVELS = (
    (
        "below min",
        _rx(
            r"below (?:the |their |its )?(?:agreed )?min|under (?:the |their )?min|低于(?:最低|下限)|"
            r"不到(?:最低|下限)|跌破|低水位|below the floor|快低于"
        ),
    ),
    (
        "above max",
        _rx(
            r"above (?:the |their |its )?(?:agreed )?max|over (?:the )?max|超过(?:最高|上限)|高于(?:最高|上限)|超上限"
        ),
    ),
    (
        "outside",
        _rx(
            r"outside (?:the |their )?(?:agreed )?(?:min|band|levels?|range)|超出(?:约定的)?上下限|不在上下限"
        ),
    ),
)
FROM_ELSEWHERE = _rx(
    r"从(?:别的|其他|其它|别)(?:仓|地方|处|rdc|dc|\s)|\bfrom (?:another|other|elsewhere|somewhere)\b|"
    r"\bpull (?:some )?(?:stock )?(?:in )?from\b|\btop (?:it |them )?up from\b"
)
FILTERED = (
    "late_inbound",
    "excess_dead",
    "stockouts_upcoming",
    "top_risks",
    "kpi",
    "order_suggest",
)


AGAINST_NETWORK = _rx(
    r"(?:against|\bvs\.?|versus|compared? (?:to|with)|relative to|stack up|measure up|跟|和|与|比|对比|相比)"
    r".{0,30}(?:network|whole|overall|company|average|\bavg\b|全网|整体|全国|平均|大盘)|"
    r"(?:全网|整体|全国|平均)\s*(?:水平|均值)?.{0,8}(?:比|相比|对比|高|低)"
)
# what is ordered or shipped and not yet received, late or not
OPEN_LINES = _rx(
    r"\bopen (?:pos?|purchase orders?|orders|lines|inbound)\b|\bnot (?:yet )?(?:been )?delivered\b|"
    r"\bundelivered\b|\boutstanding (?:pos?|orders|deliveries|lines)\b|\bstill (?:to come|to arrive)\b|"
    r"还没送|没送到|未送达|未交(?:货)?|没交(?:货)?|未到货|还没到货|已下单没|下了单还没"
)
HALF = _rx(r"\bhalf (?:that|of that|of it|the (?:qty|quantity|amount)|as much)\b|一半|减半")
# money we have not settled with a supplier: what we owe it
UNSETTLED = _rx(r"not (?:yet )?(?:been )?settled|unsettled|未结算|没结算|没结的|还没结|未结的")
MONEY = _rx(r"多少钱|how much|金额|amount|\$|rmb|¥|钱")
BACKWARD = ("kpi", "supplier_performance")  # a span of days these name looks back
LOOKBACK = _rx(
    r"最近|过去|近\s*[0-9一二两三四五六七八九十半]|\blast\b|\bpast\b|\bprevious\b|trailing|rolling"
)


def _finish(plan: Plan, slot_text: str, mentions: list[Mention]) -> Plan:
    """Intent-dependent slots: order, defaults, filters."""
    changes: dict = {}
    intent = plan.intent
    metric = plan.metric
    window = _horizon(slot_text) if LOOKBACK.search(slot_text) else None
    if intent == "kpi" and plan.suppliers and metric in ("on_time_rate", "lead_time"):
        # "他们最近三个月的准时交货率", "whats the real number, last 30 days": the supplier's
        # record (over a KPI's period, the answer is that KPI's)
        if window or plan.period is not None:
            intent = changes["intent"] = "supplier_performance"
    subjects = len(plan.locations) + len(plan.regions) + len(plan.categories)
    own = [m for m in mentions if m.kind in ("location", "region", "category", "supplier")]
    if (
        intent in ("compare", "ranking", "kpi")
        and AGAINST_NETWORK.search(slot_text)
        and (len(own) == 1 or subjects == 1 or (subjects == 0 and len(plan.suppliers) == 1))
    ):
        # "How does East China stack up against the network average?": one against the whole
        intent = changes["intent"] = "compare"
        changes["filters"] = {**plan.filters, "against": "network"}
    if intent == "supplier_performance" and window and plan.period is None:
        changes["filters"] = {**plan.filters, "window_days": window}
    if intent == "supplier_performance" and metric not in ("on_time_rate", "lead_time"):
        metric = "on_time_rate"
    if intent == "kpi" and plan.period is None:
        changes["period"] = "current"
    if intent == "compare" and metric is None and plan.products:
        metric = "on_hand"
    changes["metric"] = metric
    if (
        intent == "ranking"
        and plan.group_by in (None, "product")
        and metric in (None, "stockouts")
        and CONCEPT_RE["risk"].search(slot_text)
    ):
        intent = changes["intent"] = "top_risks"
    if intent == "ranking" and plan.group_by == "supplier" and metric is None:
        metric = changes["metric"] = "on_time_rate"  # "which suppliers were the worst?"
    if intent in ("ranking",):
        changes["order"] = (
            _order(slot_text, metric)
            or plan.order  # a follow-up's, from the turn before
            or ("best" if metric in GOOD_WHEN_HIGH else "worst")
        )
        if _top_n(slot_text) is None and SINGULAR_WHICH.search(slot_text):
            changes["top_n"] = 1  # "哪个 DC": one, whatever the turn before listed
    if intent == "stockouts_upcoming" and plan.group_by is None:
        changes["group_by"] = "product"
    if (
        intent == "stock_level"
        and plan.unit == "value"
        and not (plan.products or plan.locations or plan.categories or plan.regions)
    ):
        # "how much inventory are we carrying in total, in RMB": the network's inventory value
        intent = changes["intent"] = "kpi"
        changes |= {"metric": "inventory_value", "period": plan.period or "current"}
    if intent in FILTERED:
        filters = {}
        if plan.locations:
            filters["location"] = plan.locations[0]
        if plan.region:
            filters["region"] = plan.region
        if plan.category:
            filters["category"] = plan.category
        if plan.supplier:
            filters["supplier"] = plan.supplier
        if plan.products and intent != "stockouts_upcoming":
            filters["product"] = plan.products[0]
        if intent == "stockouts_upcoming" and _caused_by_late(slot_text):
            filters["cause"] = "late_inbound"
        changes["filters"] = filters
    if (
        intent in ("late_inbound", "supplier_owed", "order_suggest", "stock_level")
        and OPEN_LINES.search(slot_text)
        and not LATE.search(OPEN_LINES.sub(" ", slot_text))
        and not (intent == "order_suggest" and ORDER_ASK.search(OPEN_LINES.sub(" ", slot_text)))
    ):
        # "what do they still owe us? open POs not delivered yet": every open line
        intent = changes["intent"] = "late_inbound"
        filters = {**changes.get("filters", plan.filters), "open": True}
        if plan.supplier:
            filters["supplier"] = plan.supplier
        changes["filters"] = filters
    if intent in ("settlement", "vmi") and UNSETTLED.search(slot_text) and MONEY.search(slot_text):
        intent = changes["intent"] = "supplier_owed"  # "还有多少钱 not settled yet"
    if intent == "vmi":
        levels = next((name for name, pattern in LEVELS if pattern.search(slot_text)), None)
        levels = levels or plan.filters.get("levels")
        if levels:
            changes["filters"] = {**changes.get("filters", plan.filters), "levels": levels}
    if intent == "what_if" and "scenario" not in plan.filters:
        # the scenario in the question's own figures ("delayed by 10 days"), for a follow-up
        # that changes only part of it
        changes["filters"] = {**plan.filters, "scenario": slot_text}
    if intent == "transfer_suggest" and plan.locations and len(plan.locations) == 1:
        if FROM_ELSEWHERE.search(slot_text):
            # "能从别的仓调过来吗" about a place's shortage: it is where stock arrives
            changes |= {"destination": plan.locations[0], "source": None}
        elif ELSEWHERE.search(slot_text) and plan.source is None:
            # "能不能调一些去别的 RDC" about a place's excess: it is where stock leaves
            changes |= {"source": plan.locations[0], "destination": None}
    ends_set = "source" in changes or "destination" in changes
    if (
        intent == "transfer_suggest"
        and plan.locations
        and not (plan.source or plan.destination or ends_set)
    ):
        where = plan.locations[0]
        if EXCESS_WORDS.search(slot_text) or ELSEWHERE.search(slot_text):
            changes["source"] = where
        else:
            changes["destination"] = where
    if intent not in (
        "transfer_cost",
        "transfer_suggest",
        "what_if",
        "decline_write",
        "order_suggest",
    ):
        if intent not in ("plan_why",):
            changes["quantity"] = None
    return replace(plan, **changes)
