"""Answers written in code, in the question's language: the first sentence answers (the
figure, the top items, the recommendation), at most three short sentences support it, and a
list is a table that says how many more rows there are, never cut without saying so.

This module holds the parts every answer shares: figures formatted one way (``1,234``,
``98.7%``, ``2026-11-16``), entities named as a reader of each language knows them, tables,
and the answers that need no data (a declined request, a question out of scope, a
clarifying question). The answers of each kind of question are in :mod:`agents.answers`.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from datetime import date

import polars as pl

from control_tower import insights, reference
from control_tower.store import Store

LANGS = ("en", "zh")
MAX_SUPPORT = 3  # sentences after the first
TABLE_ROWS = 10  # rows a table shows; the rest are counted, never dropped silently
DIGITS = re.compile(r"\d")


def num(value: float | int | None, digits: int = 0) -> str:
    """``1,234`` (``digits`` decimals, thousands separated); "-" for a missing value."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "-"
    if digits == 0:
        return f"{round(float(value)):,.0f}"
    return f"{float(value):,.{digits}f}"


def pct(share: float | None, digits: int = 1) -> str:
    """A share as a percentage: 0.9873 -> ``98.7%``."""
    if share is None or not math.isfinite(share):
        return "-"
    return f"{100.0 * share:.{digits}f}%"


def money(value: float | None) -> str:
    """Money at cost, whole units under a million, ``1.23 M`` above (the KPI tiles' style)."""
    if value is None or not math.isfinite(value):
        return "-"
    if abs(value) >= 1_000_000:
        return f"{value / 1_000_000:,.2f} M"
    return f"{value:,.0f}"


def day(value: date | None) -> str:
    return value.isoformat() if value else "-"


def plural(n: int, word: str, lang: str, zh_unit: str = "个") -> str:
    """``3 locations`` / ``1 location`` / ``3 个``."""
    if lang == "zh":
        return f"{n:,} {zh_unit}"
    return f"{n:,} {word}{'' if n == 1 else 's'}"


def pick(lang: str, en: str, zh: str) -> str:
    return zh if lang == "zh" else en


@dataclass
class Names:
    """How each language names the network's entities, read once per store. A name from the
    data is shown as data: its digits cannot state a figure (see :func:`inert`)."""

    locations: dict[str, tuple[str, str]] = field(default_factory=dict)  # code -> (en, zh)
    products: dict[str, tuple[str, str]] = field(default_factory=dict)
    suppliers: dict[str, tuple[str, str]] = field(default_factory=dict)
    categories: dict[str, str] = field(default_factory=dict)  # en -> zh
    regions: dict[str, str] = field(default_factory=dict)  # en -> zh
    location_regions: dict[str, str] = field(default_factory=dict)  # code -> region (en)
    kinds: dict[str, str] = field(default_factory=dict)  # location code -> kind
    product_category: dict[str, str] = field(default_factory=dict)  # sku -> category (en)
    supplier_skus: dict[str, list[str]] = field(default_factory=dict)
    vmi_supplier: str | None = None
    central: str | None = None
    _texts: list[str] | None = field(default=None, repr=False)

    @property
    def stocking(self) -> list[str]:
        """The locations that hold stock for sale (central and regional DCs, stores)."""
        return [
            code
            for code, kind in self.kinds.items()
            if kind in ("regional_dc", "store", "central_dc")
        ]

    @classmethod
    def read(cls, store: Store) -> Names:
        locs = reference.locations(store)
        prods = reference.products(store)
        sups = reference.suppliers(store)
        supplied: dict[str, list[str]] = {}
        for sku, supplier in insights.sku_suppliers(store).select("sku", "supplier").iter_rows():
            supplied.setdefault(supplier, []).append(sku)
        vmi = sups.filter(pl.col("vmi"))["code"].to_list()
        return cls(
            location_regions={r["code"]: r["region_en"] for r in locs.iter_rows(named=True)},
            kinds={r["code"]: r["kind"] for r in locs.iter_rows(named=True)},
            product_category={r["sku"]: r["category_en"] for r in prods.iter_rows(named=True)},
            supplier_skus=supplied,
            vmi_supplier=vmi[0] if vmi else None,
            central=next(
                (r["code"] for r in locs.iter_rows(named=True) if r["kind"] == "central_dc"), None
            ),
            locations={
                r["code"]: (r["name_en"] or r["code"], r["name_zh"] or r["name_en"] or r["code"])
                for r in locs.iter_rows(named=True)
            },
            products={
                r["sku"]: (r["name_en"] or r["sku"], r["name_zh"] or r["name_en"] or r["sku"])
                for r in prods.iter_rows(named=True)
            },
            suppliers={
                r["code"]: (r["name_en"] or r["code"], r["name_zh"] or r["name_en"] or r["code"])
                for r in sups.iter_rows(named=True)
            },
            categories={
                r["category_en"]: r["category_zh"] or r["category_en"]
                for r in prods.select("category_en", "category_zh").unique().iter_rows(named=True)
                if r["category_en"]
            },
            regions={
                r["region_en"]: r["region_zh"] or r["region_en"]
                for r in locs.select("region_en", "region_zh").unique().iter_rows(named=True)
                if r["region_en"]
            },
        )

    def texts(self) -> list[str]:
        """Every name as an answer shows it: data, whose digits state no figure."""
        if self._texts is None:
            found: set[str] = set()
            for table in (self.locations, self.products, self.suppliers):
                for en, zh in table.values():
                    found.update((inert(en), inert(zh)))
            found.update(inert(n) for n in self.categories)
            found.update(inert(n) for n in self.categories.values())
            found.update(inert(n) for n in self.regions)
            found.update(inert(n) for n in self.regions.values())
            self._texts = sorted(found)
        return self._texts

    def location(self, code: str | None, lang: str) -> str:
        """``Chengdu RDC (RDC-CD)`` / ``成都区域仓（RDC-CD）``."""
        if not code:
            return "-"
        en, zh = self.locations.get(code, (code, code))
        name = inert(zh if lang == "zh" else en)
        if name == code:
            return code
        return f"{name}（{code}）" if lang == "zh" else f"{name} ({code})"

    def product(self, sku: str | None, lang: str) -> str:
        """``SNK-0003 Dried Mango 200g`` / ``SNK-0003 芒果干``."""
        if not sku:
            return "-"
        en, zh = self.products.get(sku, (sku, sku))
        name = inert(zh if lang == "zh" else en)
        return sku if name == sku else f"{sku} {name}"

    def supplier(self, code: str | None, lang: str) -> str:
        if not code:
            return "-"
        en, zh = self.suppliers.get(code, (code, code))
        name = inert(zh if lang == "zh" else en)
        if name == code:
            return code
        return f"{name}（{code}）" if lang == "zh" else f"{name} ({code})"

    def category(self, name: str | None, lang: str) -> str:
        return _bilingual(name, self.categories, lang)

    def region(self, name: str | None, lang: str) -> str:
        return _bilingual(name, self.regions, lang)


def _bilingual(name: str | None, names: dict[str, str], lang: str) -> str:
    """A category's or region's name in ``lang``, given its English name or the store's
    spelling of both ("North China 华北")."""
    if not name:
        return "-"
    en, zh = reference.split_name(name)
    en = en or name
    return inert(names.get(en, zh or en) if lang == "zh" else en)


def clean(text: str) -> str:
    """Text the code wrote (a plan line's reason, an explanation): one line, control
    characters and markup out, never cut."""
    text = re.sub(r"[\x00-\x1f\x7f<>`|*\[\]]", " ", str(text))
    return " ".join(text.split())


def inert(text: str) -> str:
    """A name from the data, made safe to show: control characters and markup out, and no
    longer than 60 characters."""
    text = re.sub(r"[\x00-\x1f\x7f<>`|*_\[\]]", " ", str(text))
    text = " ".join(text.split())
    return text if len(text) <= 60 else text[:59] + "…"


@dataclass(frozen=True)
class Table:
    """Rows to show under an answer: ``columns`` (header per language), the rows shown and
    how many there are in all."""

    columns: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    total: int

    @property
    def more(self) -> int:
        return max(self.total - len(self.rows), 0)


# a table's column headings in Chinese, by their English
COLUMN_WORDS = {
    "actions": "行动",
    "arrives": "到货日",
    "consigned": "寄售",
    "days late": "逾期天数",
    "days of cover": "可售天数",
    "due": "应到日",
    "exception": "异常",
    "inbound delayed": "延迟收货",
    "kind": "类型",
    "lead time (days)": "交期（天）",
    "location": "仓",
    "lost sales": "损失销售额",
    "more sales at risk": "新增受影响销售额",
    "more units short": "新增缺口",
    "not served": "无法满足",
    "on hand": "现有",
    "available": "可用",
    "in transit": "在途",
    "on time": "准时率",
    "order date": "下单日",
    "product": "产品",
    "quantity": "数量",
    "reference": "单号",
    "runs out": "断货日",
    "sales": "销售额",
    "spread": "波动",
    "supplier": "供应商",
    "units": "件数",
    "units short": "缺口",
    "value": "金额",
    "value at risk": "影响金额",
}


def columns(lang: str, *names: str | tuple[str, str]) -> list[str]:
    """A table's headings in ``lang``: each an English heading of :data:`COLUMN_WORDS`, or an
    (English, Chinese) pair for one said otherwise in that table."""
    out = []
    for name in names:
        en, zh = name if isinstance(name, tuple) else (name, COLUMN_WORDS[name])
        out.append(pick(lang, en, zh))
    return out


def table(columns: list[str], rows: list[list[str]], total: int | None = None) -> Table:
    for row in rows:
        if len(row) != len(columns):  # a heading for every cell, or the table reads wrong
            raise ValueError(f"a row of {len(row)} cells under {len(columns)} headings")
    shown = [tuple(str(c) for c in r) for r in rows[:TABLE_ROWS]]
    return Table(tuple(columns), tuple(shown), len(rows) if total is None else total)


def markdown(t: Table, lang: str) -> str:
    """The table as Markdown, then "10 of 22 shown" / "共 22 条，显示 10 条" when rows were
    left out (both figures as the tools gave them)."""
    if not t.rows:
        return ""
    head = "| " + " | ".join(t.columns) + " |"
    rule = "|" + "---|" * len(t.columns)
    body = ["| " + " | ".join(c.replace("|", "/") for c in r) + " |" for r in t.rows]
    out = "\n".join([head, rule, *body])
    if t.more:
        out += "\n" + pick(
            lang,
            f"{len(t.rows):,} of {t.total:,} shown",
            f"共 {t.total:,} 条，显示 {len(t.rows):,} 条",
        )
    return out


@dataclass(frozen=True)
class Composed:
    """An answer as code wrote it: the first sentence, the supporting ones, a table."""

    lead: str
    support: tuple[str, ...] = ()
    table: Table | None = None

    def text(self, lang: str) -> str:
        parts = [self.lead, *self.support[:MAX_SUPPORT]]
        sep = "" if lang == "zh" else " "
        out = sep.join(p.strip() for p in parts if p and p.strip())
        if self.table is not None and self.table.rows:
            out += "\n\n" + markdown(self.table, lang)
        return out


def list_words(items: list[str], lang: str, limit: int = 3) -> str:
    """``A, B and C`` / ``A、B和C``; past ``limit``, the first ones and "of 7" / "等 7 个"."""
    shown = items[:limit]
    more = len(items) - len(shown)
    if lang == "zh":
        text = "、".join(shown)
        return f"{text}等 {len(items):,} 个" if more else text
    if more:
        return f"{', '.join(shown)} (of {len(items):,})"
    if len(shown) <= 1:
        return "".join(shown)
    return f"{', '.join(shown[:-1])} and {shown[-1]}"


def frame_rows(frame: pl.DataFrame, limit: int = TABLE_ROWS) -> list[dict]:
    return frame.head(limit).to_dicts()


# what each kind of question asks, as a clarifying question offers it
READINGS = {
    "stock_level": ("the stock on hand", "现有库存"),
    "stockouts_upcoming": ("the stock-outs coming up", "即将缺货的情况"),
    "stockout_item": ("when it runs out", "什么时候断货"),
    "top_risks": ("the most urgent risks", "最紧急的风险"),
    "kpi": ("a KPI (fill rate, turnover, inventory value)", "KPI（满足率、周转、库存金额）"),
    "ranking": ("a ranking", "排名"),
    "compare": ("a comparison", "对比"),
    "transfer_suggest": ("the transfer the plan suggests", "计划建议的调拨"),
    "transfer_cost": ("what a transfer costs", "调拨成本"),
    "plan_why": ("why the plan does it", "计划为什么这样安排"),
    "order_suggest": ("the order the plan suggests", "计划建议的采购"),
    "vmi": ("the VMI (consigned) stock", "VMI 寄售库存"),
    "supplier_owed": ("what we owe the supplier", "应付供应商的金额"),
    "settlement": ("the settlement status", "结算状态"),
    "late_inbound": ("late deliveries", "逾期未到的入库"),
    "excess_dead": ("excess and dead stock", "积压和呆滞库存"),
    "forecast": ("the demand forecast", "需求预测"),
    "policy": ("the safety stock and reorder point", "安全库存和再订货点"),
    "supplier_performance": ("the supplier's on-time rate and lead time", "供应商准时率和交期"),
    "action_status": ("the status of an action", "行动的状态"),
    "what_if": ("what happens if nothing is done", "如果不采取行动会怎样"),
}
CAN_DO = (
    "I can tell you stock, stock-outs coming up, KPIs, rankings, the plan's transfers and "
    "orders and why, VMI stock and what we owe suppliers, late deliveries, excess and dead "
    "stock, forecasts and policies",
    "我可以回答库存、即将缺货、KPI、排名、计划中的调拨和采购及原因、VMI 寄售库存和应付供应商金额、"
    "逾期入库、积压和呆滞库存、预测和库存策略等问题",
)


def clarify(alternatives: list[str], lang: str, subject: str = "") -> Composed:
    """One short clarifying question offering the likely readings."""
    readings = [READINGS[a][1 if lang == "zh" else 0] for a in alternatives if a in READINGS]
    if not readings:
        readings = [READINGS[k][1 if lang == "zh" else 0] for k in ("stock_level", "top_risks")]
    readings = readings[:3]
    if lang == "zh":
        about = f"关于{subject}，" if subject else ""
        options = "，还是".join(readings)
        return Composed(f"{about}您想了解{options}？")
    about = f" about {subject}" if subject else ""
    options = (
        ", or ".join(readings)
        if len(readings) <= 2
        else (f"{', '.join(readings[:-1])}, or {readings[-1]}")
    )
    return Composed(f"Do you mean{about}: {options}?")


def out_of_scope(lang: str) -> Composed:
    return Composed(
        pick(
            lang,
            "That is outside what I can answer: I only know this supply network's data.",
            "这个问题超出了我的范围：我只了解本供应链网络的数据。",
        ),
        (pick(lang, CAN_DO[0] + ".", CAN_DO[1] + "。"),),
    )


ACTION_KINDS_ZH = {
    "transfer": "调拨",
    "purchase_order": "采购",
    "expedite": "催货",
    "request_allocation": "请求分配",
}


def action_words(x: dict, names: Names, lang: str) -> str:
    """What an action does, in ``lang``, from its fields (a tool's row: kind, sku, quantity,
    from_location, to_location, supplier, ship_date, arrival_date); English as the core
    describes it."""
    if lang != "zh" or not x.get("sku") or x.get("quantity") is None:
        return clean(x.get("describe") or x.get("kind") or "")
    kind = x.get("kind") or ""
    what = f"{num(x['quantity'])} 件 {names.product(x['sku'], lang)}"
    to = names.location(x.get("to_location"), lang)
    if kind == "request_allocation":
        return (
            f"请{names.supplier(x.get('supplier'), lang)}为我们分配 {what}，"
            f"{x.get('arrival_date')} 前备好"
        )
    source = (
        names.location(x["from_location"], lang)
        if x.get("from_location")
        else names.supplier(x.get("supplier"), lang)
    )
    if kind == "expedite":
        return f"催货：{what}，从{source}到{to}，要求 {x.get('arrival_date')} 前到货"
    return (
        f"{ACTION_KINDS_ZH.get(kind, kind)} {what}，从{source}到{to}，"
        f"{x.get('ship_date')} 发出、{x.get('arrival_date')} 到达"
    )


def declined(lang: str, waiting: list[tuple[int, str]], total: int) -> Composed:
    """A write request declined: nothing is changed; who decides, and where, with the
    numbers of the actions that wait (``waiting``: (number, what it is), ``total`` of them)."""
    lead = pick(
        lang,
        "I can't do that: I only read the data and never approve, reject, post, change or "
        "delete anything.",
        "这个我不能做：我只读取数据，不会批准、驳回、过账、修改或删除任何内容。",
    )
    if total:
        shown = list_words(
            [f"#{n}（{what}）" if lang == "zh" else f"#{n} ({what})" for n, what in waiting], lang
        )
        if total == 1:
            where = pick(
                lang,
                f"An approver decides in the Actions inbox, where it waits: {shown}.",
                f"审批人在“行动”收件箱中决定，它在那里待处理：{shown}。",
            )
        else:
            where = pick(
                lang,
                f"An approver decides in the Actions inbox, where {total:,} matching actions "
                f"wait: {shown}.",
                f"审批人在“行动”收件箱中决定，那里有 {total:,} 个相关行动待处理：{shown}。",
            )
    else:
        where = pick(
            lang,
            "An approver decides in the Actions inbox; no matching action waits there now.",
            "审批人在“行动”收件箱中决定；目前没有相关的待处理行动。",
        )
    return Composed(lead, (where,))
