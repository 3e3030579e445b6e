"""The answer to each kind of question, composed in code from the read-only tools
(:mod:`agents.tools`) in the question's language: the first sentence answers, at most three
short sentences support it, lists are tables that count what they do not show.

:func:`respond` takes the question's plan (:mod:`agents.understand`) and returns the
composed answer with the tool calls made and their results (the facts and sources a reader
can open). A plan that lacks what its kind needs (a product, a location) gets one short
clarifying question instead of a guess.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from agents import compose as c
from agents.compose import Composed, Names, num, pct, pick
from agents.tools import ToolContext, ToolResult, run_tool
from agents.understand import GOOD_WHEN_HIGH, Plan, number
from control_tower.errors import ControlTowerError
from control_tower.insights import PRODUCT_KPIS

log = logging.getLogger(__name__)


@dataclass
class Call:
    tool: str
    args: dict
    seconds: float
    error: str | None = None
    facts: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()


@dataclass
class Reply:
    composed: Composed
    calls: list[Call] = field(default_factory=list)
    results: list[ToolResult] = field(default_factory=list)
    action_ids: list[int] = field(default_factory=list)  # actions the answer names
    subject: dict = field(default_factory=dict)  # what the first line is about
    rows: tuple = ()  # the subjects of the rows listed, in order (what "the 2nd one" means)
    refusals: tuple[str, ...] = ()  # what the tools said when they refused (quoted as said)


LISTED = 20  # rows of a list a follow-up can point at
# a ranked group's key as a row's subject ("the second one" of a ranking by place: that place)
GROUP_KEY = {"location": "location", "supplier": "supplier", "product": "sku", "category": "category",
             "region": "region"}  # fmt: skip


class _Run:
    """The tools a reply calls, recorded; a tool's refusal is kept as the call's error."""

    def __init__(self, ctx: ToolContext) -> None:
        self.ctx = ctx
        self.calls: list[Call] = []
        self.results: list[ToolResult] = []
        self.errors: list[str] = []
        self.subject: dict = {}  # what the answer turned out to be about (for a follow-up)
        self.question = ""  # the words as asked
        self.rows: tuple = ()  # the subjects of the rows the answer lists, in order

    def listed(self, rows: list[dict]) -> None:
        """The answer lists these rows, in this order: a follow-up may point at one ("the
        second one"). Kept: the subjects of the first :data:`LISTED` rows."""
        if self.rows:
            return
        keys = ("sku", "location", "supplier", "rule", "category", "region")
        out = []
        for row in rows[:LISTED]:
            subject = {k: row[k] for k in keys if row.get(k)}
            for k in ("category", "region"):  # "East China 华东" as the catalogue keys it
                if k in subject:
                    subject[k] = re.sub(r"\s*[\u3400-\u9fff]+$", "", str(subject[k])).strip()
            if row.get("from_location"):
                subject["source"] = row["from_location"]
            if row.get("to_location"):
                subject["destination"] = row["to_location"]
            if row.get("action_id"):
                subject["action_id"] = int(row["action_id"])
            elif len(row.get("action_ids") or ()) == 1:
                subject["action_id"] = int(row["action_ids"][0])
            out.append(subject)
        self.rows = tuple(out)

    def about(self, row: dict) -> None:
        """The answer's first line is about this product and these places."""
        if self.subject:
            return
        self.subject = {
            "products": (row["sku"],) if row.get("sku") else (),
            "source": row.get("from_location"),
            "destination": row.get("to_location") or row.get("location"),
            "action_id": row.get("action_id"),
        }

    def __call__(self, tool: str, **args) -> ToolResult | None:
        args = {k: v for k, v in args.items() if v is not None}
        started = time.perf_counter()
        try:
            result = run_tool(self.ctx, tool, args)
        except ControlTowerError as exc:
            self.calls.append(Call(tool, args, time.perf_counter() - started, exc.detail))
            self.errors.append(exc.detail)
            return None
        self.results.append(result)
        self.calls.append(
            Call(tool, result.args, result.seconds, None, result.facts, result.sources)
        )
        return result


# -- helpers ------------------------------------------------------------------------------------
def _places(value: float | None) -> int:
    """Decimals that keep a small rate visible: 0.01 a day, not 0.0."""
    return 2 if value is not None and 0 < abs(value) < 1 else 1


def _loc(plan: Plan) -> str | None:
    return plan.destination or (plan.locations[0] if plan.locations else None)


def _region_locations(names: Names, region: str | None) -> list[str]:
    """The locations of a region, named in English or as the store writes it ("East China
    华东")."""
    if not region:
        return []
    key = _english(region)
    return [code for code, r in names.location_regions.items() if _english(r) == key]


def _english(name: str) -> str:
    return re.sub(r"\s*[\u3400-\u9fff]+$", "", name).strip().lower()


def _failed(run: _Run, lang: str) -> Composed:
    why = run.errors[-1] if run.errors else pick(lang, "no data", "没有数据")
    return Composed(
        pick(lang, f"I could not find that: {why}", f"没有找到相关数据：{why}"),
    )


def _scope_words(plan: Plan, names: Names, lang: str) -> str:
    """Where a figure is narrowed to: its place, and its category when it names one too."""
    place = (
        names.location(plan.locations[0], lang)
        if plan.locations
        else names.region(plan.region, lang)
        if plan.region
        else None
    )
    category = names.category(plan.category, lang) if plan.category else None
    if place and category:
        return pick(lang, f" at {place} in {category}", f"在{place}的{category}中")
    if place:
        return pick(lang, " at " if plan.locations else " in ", "在") + place
    if category:
        return pick(lang, " in ", "在") + category
    return ""


def _need(plan: Plan, lang: str, what: str) -> Composed:
    """A short question for the one thing the plan lacks."""
    ask = {
        "product": (
            "Which product do you mean (a SKU code or its name)?",
            "请问是哪个产品（SKU 编码或名称）？",
        ),
        "location": ("Which location do you mean?", "请问是哪个仓？"),
        "supplier": ("Which supplier do you mean?", "请问是哪个供应商？"),
        "action": ("Which action number do you mean?", "请问是哪个行动编号？"),
        "lane": ("From which location to which?", "请问是从哪个仓到哪个仓？"),
    }[what]
    return Composed(pick(lang, *ask))


# -- the kinds ----------------------------------------------------------------------------------
LOWEST = re.compile(r"(?i)\blowest\b|\bleast\b|\bfewest\b|最少|最低|最缺")
IN_WEEKS = re.compile(r"(?i)\bwoc\b|\bweeks?\b|\bwks?\b|周")


def _place_cover(run: _Run, plan: Plan, names: Names, lang: str) -> Composed | None:
    """How long a place's (a region's, a category's) whole stock lasts: its available units
    over its average daily demand, in weeks when the question counts in weeks."""
    if plan.locations:
        by, key = "location", plan.locations[0]
    elif plan.region:
        by, key = "region", plan.region
    elif plan.category:
        by, key = "category", plan.category
    else:
        return None
    r = run("rank", measure="days_of_cover", by=by, top_n=50, order="worst")
    if r is None:
        return _failed(run, lang)
    row = next((x for x in r.data["rows"] if x["key"] == key), None)
    label = _group_label(names, by, key, lang)
    if row is None or row["value"] is None:
        return Composed(
            pick(
                lang,
                f"{label} has no demand to measure its cover by.",
                f"{label}没有需求，无法计算可售天数。",
            )
        )
    days = row["value"]
    if IN_WEEKS.search(run.question or plan.text or ""):
        return Composed(
            pick(
                lang,
                f"Stock at {label} covers about {num(row['weeks'], 1)} weeks of demand "
                f"({num(days, 1)} days).",
                f"{label}的库存约可满足 {num(row['weeks'], 1)} 周的需求（{num(days, 1)} 天）。",
            )
        )
    return Composed(
        pick(
            lang,
            f"Stock at {label} covers about {num(days, 1)} days of demand.",
            f"{label}的库存约可满足 {num(days, 1)} 天的需求。",
        )
    )


def _stock_split(run: _Run, plan: Plan, names: Names, lang: str, scope: dict, by: str) -> Composed:
    """A place's (a region's, the network's) stock split by category, region or location:
    its value at cost and units per group, the largest first."""
    r = run("rank", measure="stock_value", by=by, top_n=50, order="worst", **scope)
    if r is None:
        return _failed(run, lang)
    rows = [x for x in r.data["rows"] if x["value"]]
    where = _scope_words(plan, names, lang) or pick(lang, " across the network", "全网")
    if not rows:
        return Composed(
            pick(lang, f"No stock is held{where}.", f"{where.strip().removeprefix('在')}没有库存。")
        )
    run.listed([{GROUP_KEY.get(by, by): x["key"]} for x in rows])
    top = rows[0]
    label = _group_label(names, by, top["key"], lang)
    lead = pick(
        lang,
        f"Of the stock{where}, {label} holds the most: {c.money(top['value'])} at cost.",
        f"{where.strip().removeprefix('在')}库存中{label}最多：按成本计 {c.money(top['value'])}。",
    )
    heads = {
        "category": ("category", "品类"),
        "region": ("region", "区域"),
        "location": ("location", "仓"),
    }
    tbl = c.table(
        c.columns(lang, heads[by], ("value at cost", "成本金额"), "units"),
        [
            [_group_label(names, by, x["key"], lang), c.money(x["value"]), num(x.get("units"))]
            for x in rows
        ],
    )
    return Composed(lead, (), tbl)


def stock_level(run: _Run, plan: Plan, names: Names, lang: str) -> Composed:
    if not plan.products and plan.metric == "days_of_cover":
        covered = _place_cover(run, plan, names, lang)
        if covered is not None:
            return covered
    if not plan.products:
        scope = {}
        if plan.locations:
            scope["location"] = plan.locations[0]
        elif plan.region:
            scope["region"] = plan.region
        elif plan.category:
            scope["category"] = plan.category
        split = plan.group_by if plan.group_by in ("category", "region", "location") else None
        if split and split not in scope and not (split == "region" and "location" in scope):
            return _stock_split(run, plan, names, lang, scope, split)
        r = run("kpi", metric="inventory_value", period="current", **scope)
        if r is None:
            return _failed(run, lang)
        d = r.data
        where = _scope_words(plan, names, lang) or pick(lang, " across the network", "全网")
        units = (d.get("parts") or {}).get("units")
        if units is not None and plan.unit == "units":  # "一共多少件": the units first
            return Composed(
                pick(
                    lang,
                    f"We hold {num(units)} units{where} as of {d['period']['today']}, worth "
                    f"{c.money(d['value'])} at cost.",
                    f"截至 {d['period']['today']}，{where.strip().removeprefix('在')}库存共 {num(units)} 件，"
                    f"按成本计 {c.money(d['value'])}。",
                )
            )
        lead = pick(
            lang,
            f"Stock{where} is worth {c.money(d['value'])} at cost"
            + (f" ({num(units)} units)" if units is not None else "")
            + f" as of {d['period']['today']}.",
            f"截至 {d['period']['today']}，{where.strip().removeprefix('在')}库存按成本计为 {c.money(d['value'])}"
            + (f"（{num(units)} 件）" if units is not None else "")
            + "。",
        )
        return Composed(lead)
    sku = plan.products[0]
    loc = _loc(plan)
    if loc:
        r = run("get_position", sku=sku, location=loc)
        if r is None or not r.data:
            return _failed(run, lang)
        p = r.data[0]
        cover = p.get("days_of_cover")
        lead = pick(
            lang,
            f"{names.location(loc, lang)} has {num(p['on_hand'])} units of "
            f"{names.product(sku, lang)} on hand ({num(p['available'])} available).",
            f"{names.location(loc, lang)}现有 {names.product(sku, lang)} {num(p['on_hand'])} 件"
            f"（可用 {num(p['available'])} 件）。",
        )
        if plan.metric == "days_of_cover" and cover is not None:  # "DOH还有几天": the days first
            days = pick(
                lang,
                f"{names.product(sku, lang)} at {names.location(loc, lang)} covers about "
                f"{num(cover, 1)} days of demand.",
                f"{names.product(sku, lang)}在{names.location(loc, lang)}约可满足 {num(cover, 1)} 天的需求。",
            )
            return Composed(days, (lead,))
        support = []
        if p.get("in_transit") or p.get("on_order"):
            support.append(
                pick(
                    lang,
                    f"{num(p['in_transit'])} more are in transit and {num(p['on_order'])} on order.",
                    f"另有在途 {num(p['in_transit'])} 件、在订 {num(p['on_order'])} 件。",
                )
            )
        if cover is not None:
            support.append(
                pick(
                    lang,
                    f"That covers about {num(cover, 1)} days of demand.",
                    f"约可满足 {num(cover, 1)} 天的需求。",
                )
            )
        return Composed(lead, tuple(support))
    if plan.group_by == "region" and not plan.region:  # "by region 拆一下": its stock by region
        ranked = run("rank", measure="on_hand", by="region", sku=sku, top_n=50, order="best")
        if ranked is None:
            return _failed(run, lang)
        parts = [x for x in ranked.data["rows"] if x["value"]]
        if parts:
            run.listed([{"region": x["key"]} for x in parts])
            top = parts[0]
            lead = pick(
                lang,
                f"{names.region(top['key'], lang)} holds the most {names.product(sku, lang)}: "
                f"{num(top['value'])} units on hand.",
                f"{names.product(sku, lang)}现有库存最多的区域是{names.region(top['key'], lang)}："
                f"{num(top['value'])} 件。",
            )
            tbl = c.table(
                c.columns(lang, ("region", "区域"), "on hand"),
                [[names.region(x["key"], lang), num(x["value"])] for x in parts],
            )
            return Composed(lead, (), tbl)
    r = run("get_position", sku=sku)
    if r is None or not r.data:
        return _failed(run, lang)
    rows = r.data
    if plan.region:
        keep = set(_region_locations(names, plan.region))
        rows = [p for p in rows if p["location"] in keep] or rows
    lowest = bool(LOWEST.search(run.question or ""))  # "where's it lowest, 5 locations"
    rows = sorted(rows, key=lambda p: p["available"] if lowest else -p["available"])
    if plan.top_n:
        rows = rows[: plan.top_n]
    run.listed([{"sku": sku, "location": p["location"]} for p in rows])
    if lowest and rows:
        low = [f"{names.location(p['location'], lang)} {num(p['available'])}" for p in rows[:3]]
        lead = pick(
            lang,
            f"{names.product(sku, lang)} is lowest at " + c.list_words(low, lang) + " available.",
            f"{names.product(sku, lang)}可用库存最少的是" + c.list_words(low, lang) + " 件。",
        )
    elif plan.region:
        top = [f"{names.location(p['location'], lang)} {num(p['available'])}" for p in rows[:3]]
        lead = pick(
            lang,
            f"Available {names.product(sku, lang)} in {names.region(plan.region, lang)}: "
            + c.list_words(top, lang)
            + ".",
            f"{names.region(plan.region, lang)}的{names.product(sku, lang)}可用库存："
            + c.list_words(top, lang)
            + "。",
        )
    else:
        lead = pick(
            lang,
            f"We have {num(sum(p['available'] for p in r.data))} units of "
            f"{names.product(sku, lang)} available across the network.",
            f"全网共有{names.product(sku, lang)}可用库存 "
            f"{num(sum(p['available'] for p in r.data))} 件。",
        )
    tbl = c.table(
        c.columns(lang, "location", "available", "on hand", "in transit", "days of cover"),
        [
            [
                names.location(p["location"], lang),
                num(p["available"]),
                num(p["on_hand"]),
                num(p["in_transit"]),
                num(p.get("days_of_cover"), 1),
            ]
            for p in rows
        ],
    )
    return Composed(lead, (), tbl)


def _exceptions(run: _Run, plan: Plan, names: Names, rule: str, days: int | None):
    args: dict = {"rule": rule, "top": 50, "within_days": days}
    if plan.products:
        if len(plan.products) == 1:
            args["sku"] = plan.products[0]
        else:
            args["skus"] = list(plan.products)[:500]
    if plan.locations:
        args["location"] = plan.locations[0] if len(plan.locations) == 1 else None
        if len(plan.locations) > 1:
            args["locations"] = list(plan.locations)
    elif plan.region:
        args["locations"] = _region_locations(names, plan.region) or None
    if plan.category:
        args["category"] = plan.category
    if plan.supplier and not plan.products:
        args["skus"] = names.supplier_skus.get(plan.supplier) or None
    if plan.filters.get("cause") == "late_inbound":
        args["with_late_inbound"] = True
    return run("list_exceptions", **args)


def stockouts_upcoming(run: _Run, plan: Plan, names: Names, lang: str) -> Composed:
    days = plan.horizon_days or 14
    r = _exceptions(run, plan, names, "stockout", days)
    if r is None:
        return _failed(run, lang)
    d = r.data
    rows = d["rows"]
    where = _scope_words(plan, names, lang)
    if plan.supplier and not plan.products:
        where += pick(
            lang,
            f" of {names.supplier(plan.supplier, lang)}'s products",
            f"（{names.supplier(plan.supplier, lang)}供货的产品）",
        )
    if plan.filters.get("cause") == "late_inbound":
        where += pick(lang, " where a late inbound line is awaited", "（有逾期未到的入库）")
    if not d["total"]:
        return Composed(
            pick(
                lang,
                f"No stock-out is projected{where} in the next {days} days.",
                f"未来 {days} 天{where}没有预计缺货。",
            )
        )
    group = plan.group_by
    if group == "location" and len(plan.locations) == 1:
        group = None  # one place asked about: its stock-outs, not a count by place
    if group in ("location", "category", "region"):
        args: dict = {"measure": "stockouts", "by": group, "top_n": 50, "order": "worst"}
        args["within_days"] = days
        if plan.products and len(plan.products) == 1:
            args["sku"] = plan.products[0]
        if plan.category and group != "category":
            args["category"] = plan.category
        if plan.region and group != "region":
            args["region"] = plan.region
        if plan.supplier:
            args["supplier"] = plan.supplier
        if group == "location" and REGIONAL_WORDS.search(run.question or plan.text or ""):
            args["location_kind"] = "regional_dc"
        ranked = run("rank", **args)
        counted = [x for x in (ranked.data["rows"] if ranked else []) if x["value"]]
        if counted:
            top = counted[0]
            label = _group_label(names, group, top["key"], lang)
            lead = pick(
                lang,
                f"{d['total']:,} stock-outs are projected{where} in the next {days} days; "
                f"{label} has the most ({num(top['value'])}).",
                f"未来 {days} 天{where}预计有 {d['total']:,} 个缺货；{label}最多"
                f"（{num(top['value'])} 个）。",
            )
            heads = {"location": "仓", "category": "品类", "region": "区域"}
            run.listed([{GROUP_KEY[group]: x["key"]} for x in counted])
            tbl = c.table(
                [pick(lang, group, heads[group]), pick(lang, "stock-outs", "缺货数")],
                [[_group_label(names, group, x["key"], lang), num(x["value"])] for x in counted],
            )
            return Composed(lead, (), tbl)
    if plan.top_n:  # "the worst three": that many of the list, as it is sorted
        rows = rows[: plan.top_n]
    first = rows[0]
    run.about(first)
    run.listed(rows)
    lead = pick(
        lang,
        f"{d['total']:,} stock-outs are projected{where} in the next {days} days; the most "
        f"severe: {names.product(first['sku'], lang)} at {names.location(first['location'], lang)} "
        f"on {first['due_date']}.",
        f"未来 {days} 天{where}预计有 {d['total']:,} 个缺货；最严重的是 "
        f"{names.product(first['sku'], lang)}在{names.location(first['location'], lang)}，"
        f"{first['due_date']} 断货。",
    )
    tbl = c.table(
        c.columns(lang, "product", "location", "runs out", "units short"),
        [
            [
                names.product(x["sku"], lang),
                names.location(x["location"], lang),
                str(x["due_date"]),
                num(x["units"]),
            ]
            for x in rows
        ],
        d["total"],
    )
    return Composed(lead, (), tbl)


def stockout_item(run: _Run, plan: Plan, names: Names, lang: str) -> Composed:
    if not plan.products and (plan.locations or plan.region or plan.category):
        # "具体哪天断" of a place or a category: its stock-outs, each with its day
        return stockouts_upcoming(run, plan, names, lang)
    if not plan.products:
        return _need(plan, lang, "product")
    sku = plan.products[0]
    loc = _loc(plan)
    if loc:
        r = run("simulate_what_if", sku=sku, location=loc)
        if r is None or not r.data:
            return _failed(run, lang)
        p = r.data[0]
        if p.get("stockout_date"):
            lead = pick(
                lang,
                f"{names.product(sku, lang)} runs out at {names.location(loc, lang)} on "
                f"{p['stockout_date']} as things stand.",
                f"按目前情况，{names.product(sku, lang)}在{names.location(loc, lang)}将于 "
                f"{p['stockout_date']} 断货。",
            )
            support = []
            if p.get("units_short"):
                support.append(
                    pick(
                        lang,
                        f"{num(p['units_short'])} units would be short ({c.money(p['sales_at_risk'])} of sales at risk).",
                        f"缺口 {num(p['units_short'])} 件（{c.money(p['sales_at_risk'])} 的销售额受影响）。",
                    )
                )
            return Composed(lead, tuple(support))
        return Composed(
            pick(
                lang,
                f"{names.product(sku, lang)} is not projected to run out at {names.location(loc, lang)} "
                "within the projection.",
                f"{names.product(sku, lang)}在{names.location(loc, lang)}在预测期内不会断货。",
            )
        )
    r = _exceptions(run, plan, names, "stockout", None)
    if r is None:
        return _failed(run, lang)
    rows = sorted(r.data["rows"], key=lambda x: str(x["due_date"]))
    if not rows:
        named = plan.products if len(plan.products) <= 5 else (sku,)
        what = pick(lang, ", ", "、").join(names.product(x, lang) for x in named)
        return Composed(
            pick(
                lang,
                f"No stock-out of {what} is projected anywhere.",
                f"{what}在各仓都没有预计缺货。",
            )
        )
    first = rows[0]
    run.about(first)
    run.listed(rows)
    lead = pick(
        lang,
        f"{names.product(sku, lang)} runs out first at {names.location(first['location'], lang)} "
        f"on {first['due_date']}"
        + (f", and at {len(rows) - 1} more locations" if len(rows) > 1 else "")
        + ".",
        f"{names.product(sku, lang)}最早在{names.location(first['location'], lang)}于 "
        f"{first['due_date']} 断货"
        + (f"，另有 {len(rows) - 1} 个仓也会断货" if len(rows) > 1 else "")
        + "。",
    )
    tbl = c.table(
        c.columns(lang, "location", "runs out", "units short"),
        [[names.location(x["location"], lang), str(x["due_date"]), num(x["units"])] for x in rows],
    )
    return Composed(lead, (), tbl)


STOCKOUT_RISKS = re.compile(
    r"(?i)^(?!.*(?:excess|overstock|dead|late|overdue|积压|呆滞|逾期|延迟|超储)).*"
    r"(?:stock-? ?outs?|run(?:ning)? (?:out|dry)|\boos\b|断货|缺货)"
)


def top_risks(run: _Run, plan: Plan, names: Names, lang: str) -> Composed:
    n = plan.top_n or 5
    args: dict = {"top": min(max(n, 1), 50)}
    if plan.locations:
        args["location"] = plan.locations[0]
    if plan.category:
        args["category"] = plan.category
    if STOCKOUT_RISKS.search(run.question or plan.text or ""):
        args["rule"] = "stockout"  # "the top stock-out risks": not late POs or excess
    r = run("list_exceptions", **args)
    if r is None:
        return _failed(run, lang)
    rows = r.data["rows"][:n]
    if not rows:
        return Composed(pick(lang, "No open exceptions.", "目前没有未处理的异常。"))
    first = rows[0]
    run.about(first)
    run.listed(rows)
    lead = pick(
        lang,
        f"The most urgent: {first['title']} ({c.money(first['value_at_risk'])} at risk).",
        f"最紧急的是：{names.product(first['sku'], lang)}"
        + (f"在{names.location(first['location'], lang)}" if first.get("location") else "")
        + f"（{_rule_zh(first['rule'])}，{c.money(first['value_at_risk'])} 受影响）。",
    )
    tbl = c.table(
        c.columns(lang, "exception", "value at risk", "actions"),
        [
            [
                x["title"]
                if lang == "en"
                else f"{names.product(x['sku'], lang)} {_rule_zh(x['rule'])}"
                + (f" @ {x['location']}" if x.get("location") else ""),
                c.money(x["value_at_risk"]),
                ", ".join(f"#{i}" for i in x["action_ids"]) or "-",
            ]
            for x in rows
        ],
        r.data["total"],
    )
    return Composed(lead, (), tbl)


RULES_ZH = {
    "stockout": "缺货",
    "below_safety_stock": "低于安全库存",
    "excess": "积压",
    "dead_stock": "呆滞",
    "late_inbound": "入库逾期",
    "demand_anomaly": "需求异常",
    "data_quality": "数据问题",
    "supplier_low_water": "供应商低水位",
}


def _rule_zh(rule: str) -> str:
    return RULES_ZH.get(rule, rule)


METRIC_WORDS = {
    "fill_rate": ("fill rate", "满足率"),
    "turnover": ("inventory turnover", "库存周转率"),
    "inventory_value": ("inventory value", "库存金额"),
    "health_index": ("health index", "健康指数"),
    "on_time_rate": ("on-time rate", "准时率"),
    "forecast_bias": ("forecast bias", "预测偏差"),
    "stockout_days": ("stock-out days", "缺货天数"),
    "days_of_inventory": ("days of inventory", "库存天数"),
    "dead_stock_value": ("dead stock value", "呆滞库存金额"),
}
PERIOD_WORDS = {
    "this_week": ("this week", "本周"),
    "this_month": ("this month", "本月"),
    "last_month": ("last month", "上月"),
    "last_30_days": ("the last 30 days", "近 30 天"),
    "current": ("now", "当前"),
}


def _kpi_value(metric: str, value: float | None) -> str:
    """A KPI as the rankings show the same figure (one format per figure)."""
    same = {"inventory_value": "stock_value", "days_of_inventory": "days_of_cover"}
    return _measure_value(same.get(metric, metric), value)


def kpi(run: _Run, plan: Plan, names: Names, lang: str) -> Composed:
    metric = plan.metric if plan.metric in METRIC_WORDS else "fill_rate"
    period = plan.period or (
        "current"
        if metric in ("inventory_value", "dead_stock_value", "health_index")
        else "this_month"
    )
    scope = _kpi_scope(plan)
    if plan.products and metric in PRODUCT_KPIS:  # "how biased has its forecast been?"
        scope["sku"] = plan.products[0]
    r = run("kpi", metric=metric, period=period, **scope)
    if r is None:
        return _failed(run, lang)
    d = r.data
    word = METRIC_WORDS[metric][1 if lang == "zh" else 0]
    cur = d["period"]["current"]
    prev = d["period"].get("previous") or {}
    when = PERIOD_WORDS.get(period, (period, period))[1 if lang == "zh" else 0]
    where = _scope_words(plan, names, lang)
    if scope.get("supplier"):  # "Baiyun on-time rate last 30 days": that supplier's
        where = pick(lang, " of ", "") + names.supplier(scope["supplier"], lang)
    if scope.get("sku"):
        where = (
            pick(lang, " of ", "")
            + names.product(scope["sku"], lang)
            + (where if lang == "en" else where.replace("在", "在", 1))
        )
    value = _kpi_value(metric, d["value"])
    if d["value"] is None and d.get("backtest_bias") is not None:
        # no forecast made before those days covers them: the latest run's own backtest
        bias = d["backtest_bias"]
        return Composed(
            pick(
                lang,
                f"No forecast made before {when} covers it, so the latest forecast run's "
                f"backtest is the measure: its bias{where} is {bias:+.1%}, "
                + (
                    "over-forecasting."
                    if bias > 0
                    else "under-forecasting."
                    if bias < 0
                    else "on the mark."
                ),
                f"{when}开始之前没有做过覆盖这段时间的预测，因此以最新预测运行的回测为准：{where}"
                f"预测偏差为 {bias:+.1%}，"
                + ("预测偏高。" if bias > 0 else "预测偏低。" if bias < 0 else "没有偏差。"),
            ),
            (
                pick(
                    lang,
                    "Bias = (Σ forecast − Σ actual) / Σ actual over the backtest's held-out days.",
                    "偏差 =（Σ预测 − Σ实际）/ Σ实际，按回测留出的天数计算。",
                ),
            ),
        )
    if d["value"] is None:
        return Composed(
            pick(
                lang,
                f"There is no {word} figure{where} for {when}: the data has none to compute it from.",
                f"{when}{where}没有可计算的{word}数据。",
            )
        )
    dates = (
        f"{cur['start']} – {cur['end']}"
        if cur.get("start") and cur["start"] != cur["end"]
        else cur.get("end", "")
    )
    lead = pick(
        lang,
        f"The {word}{where} {('is' if period in ('current', 'this_week', 'this_month') else 'was')} "
        f"{value} {when} ({dates}).",
        f"{where}{when}（{dates}）的{word}为 {value}。",
    )
    support = []
    if d.get("previous") is not None:
        prev_value = _kpi_value(metric, d["previous"])
        higher = d["value"] > d["previous"]
        same = abs(d["value"] - d["previous"]) < 1e-9
        if lang == "zh":
            trend = "持平" if same else ("上升" if higher else "下降")
            support.append(
                f"上期（{prev.get('start')} – {prev.get('end')}）为 {prev_value}，{trend}。"
            )
        else:
            trend = "level with" if same else ("up from" if higher else "down from")
            support.append(
                f"That is {trend} {prev_value} in the period before ({prev.get('start')} – {prev.get('end')})."
            )
    parts = d.get("parts") or {}
    if metric == "on_time_rate" and parts.get("received_lines"):
        place = bool(scope.get("location") or scope.get("region"))
        support.append(
            pick(
                lang,
                f"It counts the {num(parts['received_lines'])} "
                + (
                    "PO lines and transfers received there"
                    if place
                    else "PO lines received from it"
                    if scope.get("supplier")
                    else "suppliers' PO lines received"
                )
                + ", on time when they arrived by their expected date.",
                f"按已收货的 {num(parts['received_lines'])} 条"
                + ("入库采购行和调拨" if place else "供应商采购行")
                + "计算，按预计到货日前到货为准时。",
            )
        )
    if metric == "fill_rate" and "served" in parts:
        support.append(
            pick(
                lang,
                f"{num(parts['served'])} of {num(parts['demand'])} units of demand were served from stock.",
                f"{num(parts['demand'])} 件需求中有 {num(parts['served'])} 件由库存满足。",
            )
        )
    return Composed(lead, tuple(support))


MEASURE_OF = {  # the corpus's measures -> the rank tool's
    "stockouts": "stockouts",
    "stockout": "stockouts",
    "stockout_count": "stockouts",
    "stock": "on_hand",
    "excess_value": "excess_value",
    "excess": "excess_value",
    "excess_units": "excess_units",
    "dead_stock_value": "dead_stock_value",
    "dead_value": "dead_stock_value",
    "inventory_value": "stock_value",
    "stock_value": "stock_value",
    "stock_units": "stock_units",
    "fill_rate": "fill_rate",
    "turnover": "turnover",
    "forecast_bias": "forecast_bias",
    "health_index": "health_index",
    "late_lines": "late_lines",
    "late": "late_lines",
    "on_time_rate": "on_time_rate",
    "lead_time": "lead_time",
    "lead_time_spread": "lead_time_spread",
    "on_hand": "on_hand",
    "days_of_cover": "days_of_cover",
    "units_short": "units_short",
    "sales_at_risk": "sales_at_risk",
    "below_safety": "below_safety",
    "stockout_days": "stockout_days",
}
MEASURE_WORDS = {
    "stockouts": ("projected stock-outs", "预计缺货数"),
    "excess_value": ("excess stock value", "积压库存金额"),
    "excess_units": ("excess units", "积压件数"),
    "dead_stock_value": ("dead stock value", "呆滞库存金额"),
    "dead_stock_units": ("dead stock units", "呆滞件数"),
    "stock_value": ("inventory value", "库存金额"),
    "stock_units": ("units in stock", "库存件数"),
    "fill_rate": ("fill rate", "满足率"),
    "turnover": ("turnover", "周转率"),
    "forecast_bias": ("forecast bias", "预测偏差"),
    "health_index": ("health index", "健康指数"),
    "late_lines": ("late inbound lines", "逾期入库行数"),
    "late_value": ("late inbound value", "逾期入库金额"),
    "on_time_rate": ("on-time rate", "准时率"),
    "lead_time": ("average lead time (days)", "平均交期（天）"),
    "lead_time_spread": ("lead-time spread (days)", "交期波动（天）"),
    "on_hand": ("units on hand", "现有库存"),
    "days_of_cover": ("days of cover", "可售天数"),
    "units_short": ("units short", "缺口件数"),
    "sales_at_risk": ("sales at risk", "受影响销售额"),
    "below_safety": ("items below safety stock", "低于安全库存数"),
    "stockout_days": ("stock-out days", "缺货天数"),
}


def _measure_value(measure: str, value: float | None) -> str:
    if value is None:
        return "-"
    if measure in ("fill_rate", "on_time_rate"):
        return pct(value)
    if measure == "forecast_bias":
        return f"{100 * value:+.1f}%"
    if measure in (
        "excess_value",
        "dead_stock_value",
        "stock_value",
        "late_value",
        "sales_at_risk",
    ):
        return c.money(value)
    if measure in ("turnover", "lead_time", "lead_time_spread", "days_of_cover", "health_index"):
        return num(value, 1)
    return num(value)


def _group_label(names: Names, by: str, key: str, lang: str) -> str:
    if by == "location":
        return names.location(key, lang)
    if by == "supplier":
        return names.supplier(key, lang)
    if by == "product":
        return names.product(key, lang)
    if by == "category":
        return names.category(key, lang)
    if by == "region":
        return names.region(key, lang)
    return key


REGIONAL_WORDS = re.compile(r"(?i)regional|\brdcs?\b|区域仓|分仓")


# "换成按件数看", "in RMB?": the same figure counted in units or in money
IN_UNITS = {
    "excess_value": "excess_units",
    "dead_stock_value": "dead_stock_units",
    "stock_value": "stock_units",
}
IN_VALUE = {units: value for value, units in IN_UNITS.items()}


def _in_unit(measure: str, unit: str | None) -> str:
    if unit == "units":
        return IN_UNITS.get(measure, measure)
    if unit == "value":
        return IN_VALUE.get(measure, measure)
    return measure


def ranking(run: _Run, plan: Plan, names: Names, lang: str) -> Composed:
    measure = _in_unit(MEASURE_OF.get(plan.metric or "", "stockouts"), plan.unit)
    by = plan.group_by or (
        "supplier" if measure in ("on_time_rate", "lead_time", "lead_time_spread") else "location"
    )
    n = plan.top_n or 5
    order = plan.order or "worst"
    args: dict = {"measure": measure, "by": by, "top_n": min(max(n, 1), 50), "order": order}
    if plan.period and measure in (
        "fill_rate",
        "stockout_days",
        "turnover",
        "forecast_bias",
        "on_time_rate",
    ):
        args["period"] = plan.period
    if plan.products and measure in ("on_hand", "days_of_cover"):
        args["sku"] = plan.products[0]
    if by != "location" and plan.locations:
        args["location"] = plan.locations[0]
    if by != "category" and plan.category:
        args["category"] = plan.category
    if by != "region" and plan.region and not args.get("location"):
        args["region"] = plan.region  # "哪个 DC 缺货最多" in a conversation on a region: its DCs
    if plan.horizon_days and measure in ("stockouts", "units_short", "sales_at_risk"):
        args["within_days"] = plan.horizon_days
    if by == "location" and REGIONAL_WORDS.search(run.question or plan.text or ""):
        args["location_kind"] = "regional_dc"  # "which regional DC ...": the central DC is not one
    r = run("rank", **args)
    if r is None:
        return _failed(run, lang)
    d = r.data
    rows = d["rows"]
    if not rows:
        return Composed(pick(lang, "There is nothing to rank.", "没有可排名的数据。"))
    word = MEASURE_WORDS.get(measure, (measure, measure))[1 if lang == "zh" else 0]
    top = rows[0]
    run.listed([{GROUP_KEY.get(by, by): x["key"]} for x in rows])
    best = order == "best"
    label = _group_label(names, by, top["key"], lang)
    if lang == "zh":
        lead = f"按{word}，{'最好' if best else '最差'}的是{label}（{_measure_value(measure, top['value'])}）"
        if len(rows) > 1:
            lead += "，其次是" + "、".join(
                f"{_group_label(names, by, x['key'], lang)}（{_measure_value(measure, x['value'])}）"
                for x in rows[1:3]
            )
        lead += "。"
    else:
        lead = f"{label} {'leads' if best else 'is worst'} on {word} ({_measure_value(measure, top['value'])})"
        if len(rows) > 1:
            lead += ", then " + ", ".join(
                f"{_group_label(names, by, x['key'], lang)} ({_measure_value(measure, x['value'])})"
                for x in rows[1:3]
            )
        lead += "."
    tbl = c.table(
        [
            "#",
            pick(
                lang,
                by,
                {
                    "location": "仓",
                    "region": "区域",
                    "category": "品类",
                    "supplier": "供应商",
                    "product": "产品",
                }.get(by, by),
            ),
            word,
        ],
        [
            [str(i), _group_label(names, by, x["key"], lang), _measure_value(measure, x["value"])]
            for i, x in enumerate(rows, 1)
        ],
        d["total"],
    )
    return Composed(lead, (), tbl)


def _kpi_scope(plan: Plan) -> dict:
    """What a KPI is narrowed to: the place, else the region, category or supplier."""
    if plan.locations:
        return {"location": plan.locations[0]}
    if plan.region:
        return {"region": plan.region}
    if plan.category:
        return {"category": plan.category}
    if plan.supplier:
        return {"supplier": plan.supplier}
    return {}


def _against_network(run: _Run, plan: Plan, names: Names, lang: str) -> Composed | None:
    """One place, region, category or supplier against the whole network on a KPI ("how does
    East China stack up against the network average?"): both figures over the same period."""
    metric = plan.metric if plan.metric in NETWORK_RATES else "fill_rate"
    scope = _kpi_scope(plan)
    if "supplier" in scope and metric != "on_time_rate":
        scope = {}  # a supplier is kept by its on-time rate only
    if not scope:
        return None
    period = plan.period or ("current" if metric == "health_index" else "this_month")
    one = run("kpi", metric=metric, period=period, **scope)
    whole = run("kpi", metric=metric, period=period)
    if one is None or whole is None:
        return _failed(run, lang)
    mine, all_ = one.data["value"], whole.data["value"]
    label = (
        names.location(scope["location"], lang)
        if "location" in scope
        else names.region(scope["region"], lang)
        if "region" in scope
        else names.category(scope["category"], lang)
        if "category" in scope
        else names.supplier(scope["supplier"], lang)
    )
    word = METRIC_WORDS[metric][1 if lang == "zh" else 0]
    when = PERIOD_WORDS.get(period, (period, period))[1 if lang == "zh" else 0]
    if mine is None or all_ is None:
        return Composed(
            pick(
                lang,
                f"There is no {word} figure for {label} or the network for {when}.",
                f"{when}{label}或全网没有可计算的{word}数据。",
            )
        )
    if metric == "forecast_bias":
        worse = abs(mine) > abs(all_)
        better = pick(lang, "closer to zero than", "比全网更接近零")
    else:
        worse = mine < all_ if metric in GOOD_WHEN_HIGH else mine > all_
        better = pick(lang, "ahead of", "好于全网")
    verdict = (
        pick(lang, "on a par with", "与全网持平")
        if mine == all_
        else pick(lang, "behind", "落后于全网")
        if worse
        else better
    )
    lead = pick(
        lang,
        f"{label}'s {word} for {when} is {_kpi_value(metric, mine)}, {verdict} the network's "
        f"{_kpi_value(metric, all_)}.",
        f"{when}{label}的{word}为 {_kpi_value(metric, mine)}，全网为 {_kpi_value(metric, all_)}，"
        f"{verdict}。",
    )
    return Composed(lead)


NETWORK_RATES = ("fill_rate", "turnover", "health_index", "on_time_rate", "forecast_bias")


def compare(run: _Run, plan: Plan, names: Names, lang: str) -> Composed:
    if plan.filters.get("against") == "network":
        against = _against_network(run, plan, names, lang)
        if against is not None:
            return against
    measure = _in_unit(MEASURE_OF.get(plan.metric or "", "stock_value"), plan.unit)
    if plan.suppliers and len(plan.suppliers) >= 2:
        entities, by = list(plan.suppliers), "supplier"
    elif len(plan.locations) >= 2:
        entities, by = list(plan.locations), "location"
    elif plan.categories and len(plan.categories) >= 2:
        entities, by = list(plan.categories), "category"
    elif plan.regions and len(plan.regions) >= 2:
        entities, by = list(plan.regions), "region"
    elif len(plan.products) >= 2:
        entities, by = list(plan.products), "product"
    else:
        return Composed(pick(lang, "Which ones do you want to compare?", "请问要对比哪些对象？"))
    if by == "supplier" and measure not in (
        "on_time_rate",
        "lead_time",
        "lead_time_spread",
        "late_lines",
        "late_value",
    ):
        measure = "lead_time_spread" if plan.metric in (None, "lead_time") else measure
    args: dict = {"measure": measure, "entities": entities[:5], "by": by}
    if plan.period and measure in (
        "fill_rate",
        "stockout_days",
        "turnover",
        "forecast_bias",
        "on_time_rate",
    ):
        args["period"] = plan.period
    if plan.products and by != "product":
        args["sku"] = plan.products[0]
    r = run("compare", **args)
    if r is None:
        return _failed(run, lang)
    d = r.data
    rows = d["rows"]
    word = MEASURE_WORDS.get(measure, (measure, measure))[1 if lang == "zh" else 0]
    none = pick(lang, "no figure", "无数据")
    parts = [
        f"{_group_label(names, by, x['key'], lang)} "
        + (none if x["value"] is None else _measure_value(measure, x["value"]))
        for x in rows
    ]
    better = d.get("better_entity")
    verdict = (pick(lang, "is better", "更好"), better)
    if measure in AMOUNTS and rows:  # stock is neither good nor bad: who holds more
        top = max(rows, key=lambda x: x["value"] if x["value"] is not None else float("-inf"))
        more = top["key"] if sum(x["value"] == top["value"] for x in rows) == 1 else None
        verdict = (pick(lang, "has more", "更多"), more)
    words, winner = verdict
    if lang == "zh":
        lead = f"{word}：" + "，".join(parts) + "。"
        if winner:
            lead += f"{_group_label(names, by, winner, lang)}{words}。"
    else:
        lead = f"On {word}: " + " vs ".join(parts) + "."
        if winner:
            lead += f" {_group_label(names, by, winner, lang)} {words}."
    return Composed(lead)


AMOUNTS = ("on_hand", "stock_units", "stock_value")


def _line_words(x: dict, names: Names, lang: str) -> str:
    what = names.product(x["sku"], lang)
    src = (
        names.location(x["from_location"], lang)
        if x.get("from_location")
        else names.supplier(x.get("supplier"), lang)
    )
    number = f" #{x['action_id']}" if x.get("action_id") else ""
    status = x.get("status") or "planned"
    if lang == "zh":
        state = {"planned": "计划中", "proposed": "待审批", "approved": "已批准"}.get(
            status, status
        )
        verb = {"purchase_order": "采购", "request_allocation": "请求分配", "expedite": "催货"}
        return (
            f"从{src}{verb.get(x.get('kind'), '调')} {num(x['quantity'])} 件 {what} 到"
            f"{names.location(x['to_location'], lang)}，"
            f"{x['ship_date']} 发出、{x['arrival_date']} 到达（{state}{number}）"
        )
    return (
        f"{num(x['quantity'])} of {what} from {src} to {names.location(x['to_location'], lang)}, "
        f"leaving {x['ship_date']} and arriving {x['arrival_date']} ({status}{number})"
    )


def _short_elsewhere(run: _Run, sku: str, source: str, names: Names, lang: str) -> str:
    """Where else a product is projected to run out (what stock moved out of ``source`` could
    cover), or that nowhere is."""
    e = run("list_exceptions", rule="stockout", sku=sku, top=5)
    rows = [x for x in (e.data["rows"] if e is not None else []) if x["location"] != source]
    if not rows:
        return pick(
            lang,
            f"No other place is projected to run out of {names.product(sku, lang)}.",
            f"没有别的仓预计会断货{names.product(sku, lang)}。",
        )
    x = rows[0]
    return pick(
        lang,
        f"{names.location(x['location'], lang)} is projected to run out of it on {x['due_date']}.",
        f"{names.location(x['location'], lang)}预计 {x['due_date']} 断货。",
    )


def _between(run: _Run, plan: Plan, names: Names, lang: str) -> Composed | None:
    """The transfers the plan suggests between two places, either way ("can the overstocked
    one ship some across to the other?" after comparing them)."""
    a, b = plan.locations[:2]
    sku = plan.products[0] if plan.products else None
    rows: list[dict] = []
    total = 0
    for src, dst in ((a, b), (b, a)):
        r = run("suggested_transfers", sku=sku, from_location=src, to_location=dst, top=10)
        if r is None:
            return _failed(run, lang)
        rows += r.data["rows"]
        total += r.data["total"]
    if not rows:
        return Composed(
            pick(
                lang,
                f"The plan suggests no transfer between {names.location(a, lang)} and "
                f"{names.location(b, lang)} now.",
                f"计划目前没有{names.location(a, lang)}与{names.location(b, lang)}之间的调拨建议。",
            )
        )
    run.about(rows[0])
    run.listed(rows)
    lead = pick(
        lang,
        f"The plan suggests moving {_line_words(rows[0], names, lang)}.",
        f"计划建议{_line_words(rows[0], names, lang)}。",
    )
    tbl = None
    if total > 1:
        tbl = c.table(
            [pick(lang, "transfer", "调拨")], [[_line_words(x, names, lang)] for x in rows], total
        )
    return Composed(lead, (), tbl)


def transfer_suggest(run: _Run, plan: Plan, names: Names, lang: str) -> Composed:
    sku = plan.products[0] if plan.products else None
    places = list(dict.fromkeys(plan.locations))
    if len(places) == 2 and not (plan.source or plan.destination):
        return _between(run, plan, names, lang)
    if len(places) == 2 and bool(plan.source) != bool(plan.destination):
        # one end said, two places in the conversation: the other is the other end
        other = next(p for p in places if p != (plan.source or plan.destination))
        if plan.source:
            plan = replace(plan, destination=other)
        else:
            plan = replace(plan, source=other)
    dest = plan.destination or (plan.locations[0] if plan.locations and not plan.source else None)
    r = run(
        "suggested_transfers",
        sku=sku,
        to_location=dest,
        from_location=plan.source,
        category=plan.category if not sku else None,
        region=plan.region if not (sku or dest or plan.source) else None,
        top=10,
    )
    if r is None:
        return _failed(run, lang)
    d = r.data
    rows = sorted(d["rows"], key=lambda x: (x.get("action_id") is None, str(x["ship_date"])))
    sources = run("compare_sources", sku=sku, location=dest) if sku and dest else None
    spare = [o for o in (sources.data if sources else []) if o.get("spare")]
    if not rows and spare:  # nothing planned: where stock could come from, soonest first
        best = min(spare, key=lambda o: (not o["covers"], str(o["arrival_date"]), o["cost"]))
        lead = pick(
            lang,
            f"The plan moves no {names.product(sku, lang)} into {names.location(dest, lang)} "
            f"now; {names.location(best['source'], lang)} can spare {num(best['spare'])}, "
            f"arriving {best['arrival_date']}.",
            f"计划目前没有调往{names.location(dest, lang)}的{names.product(sku, lang)}；"
            f"{names.location(best['source'], lang)}可调出 {num(best['spare'])} 件，"
            f"{best['arrival_date']} 到达。",
        )
        return Composed(lead)
    if not rows:
        into = (
            pick(lang, f" into {names.location(dest, lang)}", f"调往{names.location(dest, lang)}")
            if dest
            else ""
        )
        why: tuple[str, ...] = ()
        sites = [o for o in (sources.data if sources else []) if o.get("kind") in SITE_KINDS]
        if sources is not None:  # every source was looked at: none has a lane, or any spare
            why = (_no_source_words(names, lang, dest, sku if sites else None),)
        elif sku and plan.source and not dest:  # "push some of it to where it's short"
            why = (_short_elsewhere(run, sku, plan.source, names, lang),)
        return Composed(
            pick(
                lang,
                f"The plan suggests no transfer{' of ' + names.product(sku, lang) if sku else ''}{into} now.",
                f"计划目前没有{into}{names.product(sku, lang) if sku else ''}的调拨建议。",
            ),
            why,
        )
    first = rows[0]
    run.about(first)
    run.listed(rows)
    lead = pick(
        lang,
        f"The plan suggests moving {_line_words(first, names, lang)}.",
        f"计划建议{_line_words(first, names, lang)}。",
    )
    support = []
    if first.get("total_cost") is not None:  # a proposal: its explanation's total
        support.append(
            pick(
                lang,
                f"It costs {num(first['total_cost'], 2)}.",
                f"成本 {num(first['total_cost'], 2)}。",
            )
        )
    elif first.get("cost") is not None:  # a planned line: what it adds to the plan
        support.append(
            pick(
                lang,
                f"It adds {num(first['cost'], 2)} to the plan's cost.",
                f"计入计划成本 {num(first['cost'], 2)}。",
            )
        )
    tbl = None
    if d["total"] > 1:
        tbl = c.table(
            [pick(lang, "transfer", "调拨")],
            [[_line_words(x, names, lang)] for x in rows],
            d["total"],
        )
    return Composed(lead, tuple(support), tbl)


SITE_KINDS = ("central DC", "neighbour")  # compare_sources' stock locations (not suppliers)


def _no_source_words(names: Names, lang: str, dest: str, sku: str | None) -> str:
    """Why nothing can be moved into ``dest``: no location has a lane into it (``sku`` None),
    or none with a lane holds spare ``sku`` above its safety stock."""
    where = names.location(dest, lang)
    if sku is None:
        return pick(
            lang,
            f"No location has a lane into {where}: its suppliers replenish it.",
            f"没有其他仓到{where}的调拨线路，由供应商直接补货。",
        )
    return pick(
        lang,
        f"No location with a lane into {where} holds spare {names.product(sku, lang)} above "
        "its safety stock today.",
        f"目前没有可调往{where}的仓有高于安全库存的{names.product(sku, lang)}可调。",
    )


BASIS_ZH = {"as asked": "按您给出的数量", "the plan's quantity": "计划中的数量"}


TOGETHER = re.compile(
    r"(?i)加起来|一共|总共|合计|\baltogether\b|\bin total\b|\ball of (?:them|these|those)\b|\bcombined\b|"
    r"\b(?:those|these|the) (?:moves|transfers)\b|\ball[- ]in\b|\btotal (?:cost|freight)\b|总运费|总成本|这些调拨|那些调拨"
)


def _listed_cost(run: _Run, plan: Plan, names: Names, lang: str) -> Composed | None:
    """What the transfers the turn before listed cost together ("这些加起来运费一共多少"):
    the same list asked again, its proposals' card totals summed by the tool."""
    if len(plan.rows) < 2:
        return None
    # the list as it was asked: its own filters, not what its answer's first row filled in
    filled = set(plan.from_answer)
    sku = plan.products[0] if plan.products and "products" not in filled else None
    dest = plan.destination if "destination" not in filled else None
    source = plan.source if "source" not in filled else None
    r = run(
        "suggested_transfers",
        sku=sku,
        to_location=dest,
        from_location=source,
        category=plan.category if not sku else None,
        region=plan.region if not (sku or dest or source) else None,
        top=min(len(plan.rows), 50),
    )
    if r is None or not (r.data.get("costed") or r.data.get("planned")):
        return None
    d = r.data
    parts = []  # two measures, said apart: a proposal's card total, a plan line's marginal cost
    if d.get("costed"):
        parts.append(
            pick(
                lang,
                f"the {d['costed']} proposals cost {num(d['shown_cost'], 2)} together (their "
                "cards' totals)",
                f"{d['costed']} 个已提议的合计 {num(d['shown_cost'], 2)}（按说明卡总成本）",
            )
        )
    if d.get("planned"):
        parts.append(
            pick(
                lang,
                f"the {d['planned']} planned lines add {num(d['planned_cost'], 2)} to the plan's "
                "transport cost",
                f"{d['planned']} 条计划行共使计划运输成本增加 {num(d['planned_cost'], 2)}",
            )
        )
    shown = d["costed"] + d["planned"]
    lead = pick(
        lang,
        f"Of the {shown} transfers listed, " + "; ".join(parts) + ".",
        f"列出的 {shown} 个调拨：" + "；".join(parts) + "。",
    )
    return Composed(lead)


def transfer_cost(run: _Run, plan: Plan, names: Names, lang: str) -> Composed:
    if TOGETHER.search(run.question or "") and plan.rows:
        listed = _listed_cost(run, plan, names, lang)
        if listed is not None:
            return listed
    src = plan.source or (plan.locations[0] if len(plan.locations) >= 2 else None)
    dest = plan.destination or (plan.locations[1] if len(plan.locations) >= 2 else None)
    sku = plan.products[0] if plan.products else None
    if plan.action_id and not (src or dest or sku):  # "203号调拨的运输成本是多少": its lane
        found = run("action_status", action_id=plan.action_id)
        action = found.data if found is not None else None
        if action is None:
            return _failed(run, lang)
        if action["kind"] != "transfer" or not action["from_location"]:
            return Composed(
                pick(
                    lang,
                    f"Action #{plan.action_id} is not a transfer "
                    f"({c.action_words(action, names, lang)}): it has no lane to price.",
                    f"行动 #{plan.action_id} 不是调拨（{c.action_words(action, names, lang)}），"
                    "没有线路可计价。",
                )
            )
        src, dest, sku = action["from_location"], action["to_location"], action["sku"]
        plan = replace(plan, products=(sku,), locations=(src, dest), source=src, destination=dest)
    note = None
    if not src and not dest and len(plan.locations) == 1:
        dest = plan.locations[0]  # "调300件过去运费多少" after a shortage there: into it
    if not src and dest and sku:  # "how much to send 500 there?": from the best source
        found = run("compare_sources", sku=sku, location=dest, quantity=plan.quantity)
        sites = [o for o in (found.data if found else []) if o.get("kind") in SITE_KINDS]
        spare = [o for o in sites if o.get("spare")]
        best = min(
            spare or sites,
            key=lambda o: (not o["covers"], o["cost"], str(o["arrival_date"])),
            default=None,
        )
        if found is not None and not sites:  # nothing can be moved in: say so
            return Composed(_no_source_words(names, lang, dest, None))
        if best is not None:
            src = best["source"]
            if not spare:
                note = _no_source_words(names, lang, dest, sku)
    if not src or not dest:
        return _need(plan, lang, "lane")
    if plan.action_id and sku and not plan.quantity:  # "what would that transfer cost us?"
        found = run("suggested_transfers", sku=sku, to_location=dest, from_location=src, top=10)
        line = next(
            (
                x
                for x in (found.data["rows"] if found else [])
                if x.get("action_id") == plan.action_id
            ),
            None,
        )
        if line is not None and line.get("total_cost") is not None:
            # the action's own cost, as its explanation counts it (the truck's fixed cost
            # shared with the plan's other lines on the lane that day)
            run.about(line)
            return Composed(
                pick(
                    lang,
                    f"Action #{plan.action_id}, {_line_words(line, names, lang)}, costs "
                    f"{num(line['total_cost'], 2)} as its explanation counts it.",
                    f"行动 #{plan.action_id}（{_line_words(line, names, lang)}）的成本为 "
                    f"{num(line['total_cost'], 2)}（按其说明卡计算）。",
                ),
                (
                    pick(
                        lang,
                        "It bears its share of the lane's fixed cost with the plan's other "
                        "lines on that truck; priced alone it would bear all of it.",
                        "车辆固定费用按同车的其他计划行分摊；单独发运则由它全额承担。",
                    ),
                ),
            )
    r = run("transfer_cost", from_location=src, to_location=dest, sku=sku, quantity=plan.quantity)
    if r is None:
        return _failed(run, lang)
    d = r.data
    if d.get("lane") is None:  # "沈阳调1000件去西安运费多少": there is no such lane
        into = [names.location(x, lang) for x in d.get("lanes_into") or []]
        there, here = names.location(src, lang), names.location(dest, lang)
        if not into:
            return Composed(_no_source_words(names, lang, dest, None))
        return Composed(
            pick(
                lang,
                f"There is no lane from {there} to {here}, so that move has no price.",
                f"{there}到{here}之间没有调拨线路，这笔调拨无法计价。",
            ),
            (
                pick(
                    lang,
                    f"Stock can reach {here} from {', '.join(into)}.",
                    f"能调入{here}的线路来自：{'、'.join(into)}。",
                ),
            ),
        )
    cost = d.get("cost") or {}
    lane = d.get("lane") or {}
    qty = d.get("quantity")
    what = f" {names.product(sku, lang)}" if sku else ""
    if qty and cost.get("total") is not None:
        lead = pick(
            lang,
            f"Moving {num(qty)}{what} from {names.location(src, lang)} to {names.location(dest, lang)} costs "
            f"{num(cost['total'], 2)} ({num(cost.get('per_unit_all_in'), 3)} a unit all in).",
            f"从{names.location(src, lang)}调 {num(qty)} 件{what} 到{names.location(dest, lang)}的成本为 "
            f"{num(cost['total'], 2)}（每件合计 {num(cost.get('per_unit_all_in'), 3)}）。",
        )
    else:
        lead = pick(
            lang,
            f"The lane {names.location(src, lang)} → {names.location(dest, lang)} costs "
            f"{num(lane.get('cost_per_unit'), 3)} a unit plus {num(lane.get('fixed_cost'), 2)} a truck.",
            f"{names.location(src, lang)}到{names.location(dest, lang)}的线路每件 {num(lane.get('cost_per_unit'), 3)}，"
            f"每车固定 {num(lane.get('fixed_cost'), 2)}。",
        )
    support = []
    if lane.get("transit_days") is not None:
        support.append(
            pick(
                lang,
                f"It takes {num(lane['transit_days'])} days in transit; shipped tomorrow it arrives {d.get('arrival_if_shipped_tomorrow')}.",
                f"运输 {num(lane['transit_days'])} 天；明天发出则 {d.get('arrival_if_shipped_tomorrow')} 到达。",
            )
        )
    if d.get("quantity_basis"):
        support.append(
            pick(
                lang,
                f"Quantity: {d['quantity_basis']}.",
                "数量依据："
                + BASIS_ZH.get(d["quantity_basis"], c.clean(d["quantity_basis"]))
                + "。",
            )
        )
    if note:
        support.insert(0, note)
    return Composed(lead, tuple(support))


def _outlook_zh(o: dict | None, days: int, arrives: str) -> str:
    """An explanation's outlook (:class:`control_tower.explain.Outlook`) in Chinese."""
    if o is None:
        return f"{days} 天内没有变化（{arrives} 才到货）"
    if not o.get("stockout_date"):
        return f"{days} 天内不会断货（最低库存 {num(o['lowest_stock'])} 件）"
    if not o.get("units_short"):
        return f"{o['stockout_date']} 断货，但今天下单可在此之前到货"
    until = f"到 {o['short_until']} " if o.get("short_until") else ""
    return (
        f"{o['stockout_date']} 断货，{until}缺 {num(o['units_short'])} 件"
        f"（{c.money(o['sales_at_risk'])} 的销售额受影响）"
    )


LOW_WATER = re.compile(r"reports ([\d,]+) units .*?low-water mark of ([\d,]+)")


def _why_zh(x: dict, names: Names) -> tuple[str, list[str]]:
    """Why the plan suggests line ``x``, in Chinese, from the explanation's figures (the
    stored prose is English)."""
    need = x.get("need")
    line = _line_words(x, names, "zh")
    if need is None and x.get("action_id"):  # an action the plan did not make (a supplier rule)
        low = LOW_WATER.search(x.get("why") or "")
        if x.get("kind") == "request_allocation" and low:
            return (
                f"行动 #{x['action_id']}：{c.action_words(x, names, 'zh')}，原因："
                f"{names.supplier(x.get('supplier'), 'zh')}报告可供我们的 {low.group(1)} 件，"
                f"低于低水位 {low.group(2)} 件。",
                [],
            )
        return f"行动 #{x['action_id']}：{c.action_words(x, names, 'zh')}。", []
    if need is None:  # a planned line, not yet released: its figures only
        return f"计划{line}（计划行，尚未下达为行动）。", []
    where = names.location(need["destination"], "zh")
    onward = f"，另需向下游发 {num(need['onward'])} 件" if need.get("onward") else ""
    lead = (
        f"计划{line}，原因：{where}自 {need['window_start']} 起 {need['window_days']} 天需求 "
        f"{num(need['demand'])} 件{onward}，前一天预计库存 {num(need['stock_before'])} 件，"
        f"安全库存 {num(need['safety_stock'])} 件。"
    )
    days = x.get("projection_days") or 28
    support = [
        f"不执行：{where}{_outlook_zh(x.get('without'), days, str(x.get('arrival_date')))}。",
        f"执行后：{_outlook_zh(x.get('with_outlook'), days, str(x.get('arrival_date')))}。",
    ]
    return lead, support


def _why_not_moved(run: _Run, plan: Plan, names: Names, lang: str) -> Composed | None:
    """Why the plan leaves excess or dead stock where it is ("为什么这些货没被安排transfer
    out？"): which of the lines listed it moves, where another place runs short of them, and
    the rule it follows."""
    kind = {"dead_value": "dead", "excess_value": "excess"}.get(plan.metric or "", "both")
    r = run("excess_dead", kind=kind, top=10, **_stock_scope(plan))
    if r is None or not r.data["rows"]:
        return None
    listed = {(x["sku"], x["location"]) for x in r.data["rows"]}
    moves, wanted = [], []
    for loc in list(dict.fromkeys(x["location"] for x in r.data["rows"]))[:5]:
        t = run("suggested_transfers", from_location=loc, top=50)
        if t is None:
            return _failed(run, lang)
        moves += [x for x in t.data["rows"] if (x["sku"], loc) in listed]
    if not moves:  # where else each product is projected to run out
        for sku in list(dict.fromkeys(x["sku"] for x in r.data["rows"])):
            e = run("list_exceptions", rule="stockout", sku=sku, top=3)
            if e is None:
                return _failed(run, lang)
            held = {loc for s_, loc in listed if s_ == sku}
            wanted += [(x, held) for x in e.data["rows"] if x["location"] not in held]
    rule = pick(
        lang,
        "The plan moves stock out of a place only where another place is projected to run short "
        "of it and the move costs less than the shortage it prevents; other excess waits for "
        "demand, or a person decides to mark it down or return it.",
        "计划只在别的仓预计缺货、且调拨成本低于缺货损失时才把货调出；其余积压等待需求消化，"
        "或由人决定降价清理或退货。",
    )
    if moves:
        run.listed(moves)
        first = moves[0]
        lead = pick(
            lang,
            f"The plan does move some of them: {_line_words(first, names, lang)}.",
            f"计划确有调出其中一部分：{_line_words(first, names, lang)}。",
        )
        tbl = c.table(
            [pick(lang, "transfer", "调拨")], [[_line_words(x, names, lang)] for x in moves]
        )
        return Composed(lead, (rule,), tbl)
    if wanted:
        o, held = wanted[0]
        where = "、".join(names.location(h, lang) for h in sorted(held))
        lead = pick(
            lang,
            f"The plan moves none of them yet, though {names.location(o['location'], lang)} is "
            f"projected to run out of {names.product(o['sku'], lang)} on {o['due_date']} while "
            f"{where.replace('、', ', ')} holds it idle: check the lane and lead time between them.",
            f"计划目前没有调出这些货，但{names.location(o['location'], lang)}预计 {o['due_date']} "
            f"断货{names.product(o['sku'], lang)}，而{where}有闲置库存：请检查两地之间的线路和时效。",
        )
        return Composed(lead, (rule,))
    lead = pick(
        lang,
        "The plan moves none of them because no other place is projected to run out of them.",
        "计划没有调出这些货，因为没有别的仓预计会断货这些产品。",
    )
    return Composed(lead, (rule,))


GOING_SHORT = re.compile(
    r"(?i)\bshort\b|run(?:s|ning)? out|stock(?:s|ing)? out|out of stock|断货|缺货|断了|怎么会断|会断"
)


def _why_short(run: _Run, sku: str, loc: str, names: Names, lang: str) -> Composed | None:
    """Why a product runs out at a place the plan sends nothing to: when it runs out, and
    when the next order the plan suggests for it arrives (after that day, or none yet)."""
    e = run("simulate_what_if", sku=sku, location=loc)  # the projection as things stand now
    if e is None or not e.data or not e.data[0].get("stockout_date"):
        return None
    x = {"due_date": e.data[0]["stockout_date"]}
    o = run("suggested_orders", sku=sku, location=loc, top=5)
    orders = sorted(
        (
            y
            for y in (o.data["rows"] if o is not None else [])
            if (y.get("status") or "planned") in ("planned", "proposed", "approved")
        ),
        key=lambda y: str(y["arrival_date"]),
    )
    what, where = names.product(sku, lang), names.location(loc, lang)
    lead = pick(
        lang,
        f"{what} runs out at {where} on {x['due_date']} because its stock there does not last "
        "until the next delivery.",
        f"{what}在{where}将于 {x['due_date']} 断货，因为现有库存撑不到下一批到货。",
    )
    support = []
    p = run("get_position", sku=sku, location=loc)
    if p is not None and p.data:
        z = p.data[0]
        support.append(
            pick(
                lang,
                f"It has {num(z['available'])} available and sells "
                f"{num(z['avg_daily_demand'], _places(z['avg_daily_demand']))} a day; "
                f"{num(z['in_transit'])} are in transit and {num(z['on_order'])} on order.",
                f"现有可用 {num(z['available'])} 件，每天销售 "
                f"{num(z['avg_daily_demand'], _places(z['avg_daily_demand']))} 件；在途 "
                f"{num(z['in_transit'])} 件，在订 {num(z['on_order'])} 件。",
            )
        )
    if orders:
        y = orders[0]
        number = f" #{y['action_id']}" if y.get("action_id") else ""
        support.append(
            pick(
                lang,
                f"The plan's next order of it, {num(y['quantity'])} from "
                f"{names.supplier(y['supplier'], lang)}, is placed {y['ship_date']} and arrives "
                f"{y['arrival_date']} ({y.get('status') or 'planned'}{number}).",
                f"计划中下一笔采购：向{names.supplier(y['supplier'], lang)}订 {num(y['quantity'])} 件，"
                f"{y['ship_date']} 下单、{y['arrival_date']} 到货（{y.get('status') or 'planned'}{number}）。",
            )
        )
    else:
        support.append(
            pick(
                lang,
                f"The plan suggests no order of it into {where} yet.",
                f"计划目前没有向{where}补这个产品的采购建议。",
            )
        )
    return Composed(lead, tuple(support))


def _no_line(run: _Run, plan: Plan, names: Names, lang: str) -> Composed:
    """Why the plan suggests nothing for a product: it has no line for it; where it stands."""
    sku = plan.products[0]
    loc = plan.destination or (plan.locations[0] if plan.locations else None)
    what = names.product(sku, lang)
    lead = pick(
        lang,
        f"The plan has no order or transfer of {what} now"
        + (f" into {names.location(loc, lang)}" if loc else "")
        + ": the plan orders or moves stock only where the projected stock falls short of "
        "demand or safety stock within its horizon.",
        f"计划目前没有{('调往' + names.location(loc, lang) + '的') if loc else ''}{what}的采购或调拨："
        "只有预计库存会在计划期内不足以满足需求或低于安全库存时，计划才会补货或调拨。",
    )
    support = []
    p = run("get_position", sku=sku, location=loc) if loc else None
    if p is not None and p.data:
        z = p.data[0]
        support.append(
            pick(
                lang,
                f"It has {num(z['available'])} available there and sells "
                f"{num(z['avg_daily_demand'], _places(z['avg_daily_demand']))} a day; "
                f"{num(z['on_order'])} are on order.",
                f"该仓现有可用 {num(z['available'])} 件，每天销售 "
                f"{num(z['avg_daily_demand'], _places(z['avg_daily_demand']))} 件；在订 "
                f"{num(z['on_order'])} 件。",
            )
        )
    return Composed(lead, tuple(support))


def plan_why(run: _Run, plan: Plan, names: Names, lang: str) -> Composed:
    if (
        plan.action_id is None
        and not plan.products
        and plan.metric in ("dead_value", "excess_value")
        and (plan.locations or plan.region or plan.category)
    ):
        why = _why_not_moved(run, plan, names, lang)
        if why is not None:
            return why
    if plan.action_id is not None:
        r = run("plan_why", action_id=plan.action_id)
    else:
        sku = plan.products[0] if plan.products else None
        src = plan.source or (plan.locations[0] if len(plan.locations) >= 2 else None)
        dest = plan.destination or (plan.locations[-1] if plan.locations else None)
        if dest == src:
            dest = None
        if sku is None and src and dest:
            # "why does the plan move stock from Wuhan to Chengdu?": its largest line there
            found = run("suggested_transfers", from_location=src, to_location=dest, top=10)
            lines = found.data["rows"] if found is not None else []
            if lines:
                sku = max(lines, key=lambda x: x.get("quantity") or 0)["sku"]
        if sku is None:
            return _need(plan, lang, "product")
        if dest and not src and GOING_SHORT.search(run.question or ""):
            short = _why_short(run, sku, dest, names, lang)  # "why does it go short?"
            if short is not None:
                return short
        r = run("plan_why", sku=sku, from_location=src, to_location=dest)
        if r is not None and not r.data["rows"] and dest and not src:
            short = _why_short(run, sku, dest, names, lang)  # "怎么会断的？没有提前补货吗"
            if short is not None:
                return short
        if r is not None and not r.data["rows"] and (src or dest):
            r = run("plan_why", sku=sku)  # the lane was read wrong, or the line is an order
    if r is None:
        return _failed(run, lang)
    rows = r.data["rows"]
    if not rows and plan.products:
        return _no_line(run, plan, names, lang)
    if not rows:
        return Composed(pick(lang, "The plan has no such line.", "计划中没有这条线。"))
    x = rows[0]
    run.about(x)
    if lang == "zh":
        lead, support = _why_zh(x, names)
    else:
        lead = f"The plan sends {_line_words(x, names, lang)} because {c.clean(x.get('why') or x.get('reason') or '')}."
        support = [
            f"{label}: {c.clean(str(x[key])).rstrip('.')}."
            for key, label in (("if_nothing_done", "If nothing is done"), ("with_it", "With it"))
            if x.get(key)
        ]
    if x.get("total_cost") is not None:
        support.append(
            pick(lang, f"Cost: {num(x['total_cost'], 2)}.", f"成本：{num(x['total_cost'], 2)}。")
        )
    return Composed(lead, tuple(support[:3]))


def order_suggest(run: _Run, plan: Plan, names: Names, lang: str) -> Composed:
    sku = plan.products[0] if plan.products else None
    by_value = plan.unit == "value"  # "the top three by value": the largest at cost first
    if len(plan.products) > 1:  # a name several products share: the orders of each
        found = [run("suggested_orders", sku=x, top=10) for x in plan.products[:5]]
        if any(x is None for x in found):
            return _failed(run, lang)
        d = {
            "total": sum(x.data["total"] for x in found),
            "rows": [row for x in found for row in x.data["rows"]],
        }
    else:
        r = run(  # nothing named: every suggested order, the earliest first
            "suggested_orders",
            sku=sku,
            supplier=plan.supplier if not sku else None,
            location=plan.locations[0] if plan.locations and not sku else None,
            category=plan.category if not sku else None,
            top=plan.top_n or 10,
            sort="value" if by_value else "date",
        )
        if r is None:
            return _failed(run, lang)
        d = r.data
    rows = d["rows"]
    if not by_value:
        rows = sorted(rows, key=lambda x: (x.get("action_id") is None, str(x["ship_date"])))
    if not rows:
        what = pick(lang, ", ", "、").join(names.product(x, lang) for x in plan.products[:5])
        sup = names.supplier(plan.supplier, lang) if plan.supplier and not what else ""
        place = names.location(plan.locations[0], lang) if plan.locations and not what else ""
        zh = "".join([place, f"向{sup}" if sup else "", "采购", what])
        return Composed(
            pick(
                lang,
                "The plan suggests no order"
                + (f" of {what}" if what else "")
                + (f" from {sup}" if sup else "")
                + (f" for {place}" if place else "")
                + " now.",
                f"计划目前没有{zh}的建议。",
            )
        )
    x = rows[0]
    run.about(x)
    run.listed(rows)
    number = f" #{x['action_id']}" if x.get("action_id") else ""
    lead = pick(
        lang,
        f"The plan suggests ordering {num(x['quantity'])} of {names.product(x['sku'], lang)} from "
        f"{names.supplier(x['supplier'], lang)}, placed {x['ship_date']}, arriving {x['arrival_date']} "
        f"({x.get('status') or 'planned'}{number}).",
        f"计划建议向{names.supplier(x['supplier'], lang)}采购 {names.product(x['sku'], lang)} {num(x['quantity'])} 件，"
        f"{x['ship_date']} 下单、{x['arrival_date']} 到货（{x.get('status') or 'planned'}{number}）。",
    )
    support = []
    if x.get("value") is not None:
        support.append(
            pick(
                lang,
                f"Its value at cost is {num(x['value'], 2)}.",
                f"采购金额 {num(x['value'], 2)}。",
            )
        )
    tbl = None
    if d["total"] > 1:
        tbl = c.table(
            c.columns(lang, "product", "supplier", "quantity", "value", "order date", "arrives"),
            [
                [
                    names.product(y["sku"], lang),
                    names.supplier(y["supplier"], lang),
                    num(y["quantity"]),
                    num(y["value"], 2) if y.get("value") is not None else "",
                    str(y["ship_date"]),
                    str(y["arrival_date"]),
                ]
                for y in rows
            ],
            d["total"],
        )
    return Composed(lead, tuple(support), tbl)


def _vmi_levels(
    run: _Run, plan: Plan, names: Names, lang: str, loc: str | None, sku: str | None, levels: str
) -> Composed:
    """The consigned lines below their agreed min, above their max, or either."""
    r = run("consigned_stock", location=loc, supplier=plan.supplier, sku=sku, levels=levels, top=10)
    if r is None:
        return _failed(run, lang)
    d = r.data
    words = {
        "below min": ("below their agreed min", "低于约定最低水位"),
        "above max": ("above their agreed max", "高于约定最高水位"),
        "outside": ("outside their agreed min/max", "超出约定上下限"),
    }[levels]
    whose = f"{names.supplier(plan.supplier, lang)}" if plan.supplier else ""
    if not d["total"]:
        return Composed(
            pick(
                lang,
                f"No consigned line{' of ' + whose if whose else ''} is {words[0]}.",
                f"{whose + '的' if whose else ''}寄售库存没有{words[1]}的。",
            )
        )
    run.listed(d["rows"])
    first = d["rows"][0]
    lead = pick(
        lang,
        f"{d['total']:,} consigned line{'' if d['total'] == 1 else 's'}"
        f"{' of ' + whose if whose else ''} {'is' if d['total'] == 1 else 'are'} {words[0]}; "
        f"the farthest out: {names.product(first['sku'], lang)} at "
        f"{names.location(first['location'], lang)}, {num(first['consigned'])} units against "
        f"{num(first['min_qty'])} to {num(first['max_qty'])}.",
        f"{whose + '的' if whose else ''}寄售库存有 {d['total']:,} 行{words[1]}；偏离最多的是"
        f"{names.product(first['sku'], lang)}在{names.location(first['location'], lang)}："
        f"{num(first['consigned'])} 件，约定 {num(first['min_qty'])} 至 {num(first['max_qty'])} 件。",
    )
    tbl = c.table(
        c.columns(lang, "product", "location", "consigned", ("min", "最低"), ("max", "最高")),
        [
            [
                names.product(x["sku"], lang),
                names.location(x["location"], lang),
                num(x["consigned"]),
                num(x["min_qty"]),
                num(x["max_qty"]),
            ]
            for x in d["rows"]
        ],
        d["total"],
    )
    return Composed(lead, (), tbl)


def vmi(run: _Run, plan: Plan, names: Names, lang: str) -> Composed:
    sku = plan.products[0] if plan.products else None
    loc = (
        plan.locations[0]
        if plan.locations and names.kinds.get(plan.locations[0]) == "vmi"
        else None
    )
    levels = plan.filters.get("levels")  # "哪些低于最低水位了": the lines outside their levels
    if levels:
        return _vmi_levels(run, plan, names, lang, loc, sku, levels)
    r = run("consigned_stock", location=loc, supplier=plan.supplier, sku=sku, top=10)
    if r is None:
        return _failed(run, lang)
    d = r.data
    where = names.location(loc, lang) if loc else pick(lang, "The VMI sites", "VMI 仓")
    whose = f" ({names.supplier(plan.supplier, lang)})" if plan.supplier else ""
    what = f" {names.product(sku, lang)}" if sku else ""
    lead = pick(
        lang,
        f"{where}{whose} hold{'s' if loc else ''} {num(d['units'])} consigned units{what} worth {c.money(d['value'])} at cost, "
        "the supplier's until we consume them.",
        f"{where}{whose}共有寄售库存{what} {num(d['units'])} 件，按成本计 {c.money(d['value'])}，消耗前归供应商所有。",
    )
    support = []
    if d.get("outside_levels"):
        n = (
            d["outside_levels"]
            if isinstance(d["outside_levels"], int)
            else len(d["outside_levels"])
        )
        support.append(
            pick(
                lang,
                f"{n:,} lines are outside their agreed min/max.",
                f"有 {n:,} 行超出约定的上下限。",
            )
        )
    tbl = c.table(
        c.columns(lang, "product", "consigned", "value"),
        [
            [names.product(x["sku"], lang), num(x["consigned"]), c.money(x["value"])]
            for x in d["rows"]
        ],
        d["total"],
    )
    return Composed(lead, tuple(support), tbl)


def supplier_owed(run: _Run, plan: Plan, names: Names, lang: str) -> Composed:
    sup = plan.supplier or (plan.suppliers[0] if plan.suppliers else None) or names.vmi_supplier
    if sup is None:
        return _need(plan, lang, "supplier")
    period = (
        plan.period
        if plan.period in ("this_week", "this_month", "last_month", "last_30_days")
        else "unsettled"
    )
    r = run("supplier_owed", supplier=sup, period=period)
    if r is None:
        return _failed(run, lang)
    d = r.data
    lead = pick(
        lang,
        f"We owe {names.supplier(sup, lang)} {num(d['owed'], 2)} for consigned stock consumed"
        + (" and not yet settled." if period == "unsettled" else f" {PERIOD_WORDS[period][0]}."),
        f"我们应付{names.supplier(sup, lang)} {num(d['owed'], 2)}（已消耗的寄售库存"
        + ("，尚未结算）。" if period == "unsettled" else f"，{PERIOD_WORDS[period][1]}）。"),
    )
    support = []
    if d.get("basis") and lang == "en":  # the tool states its basis in English
        support.append(f"Basis: {c.clean(str(d['basis']))}.")
    return Composed(lead, tuple(support))


def settlement(run: _Run, plan: Plan, names: Names, lang: str) -> Composed:
    sup = plan.supplier or names.vmi_supplier
    r = run(
        "settlement", supplier=sup, period="last_month" if plan.period == "last_month" else "latest"
    )
    if r is None:
        return _failed(run, lang)
    d = r.data
    statements = d.get("statements") or []
    if not statements:
        return Composed(
            pick(
                lang,
                f"No settlement statement has been issued{' for ' + names.supplier(sup, lang) if sup else ''} yet.",
                f"{names.supplier(sup, lang) if sup else ''}还没有出具结算单。",
            )
        )
    s = statements[0]
    reported = s.get("reported")
    lead = pick(
        lang,
        f"The latest statement for {names.supplier(s.get('supplier', sup), lang)} covers "
        f"{s.get('period_start')} – {s.get('period_end')}"
        + (f": {num(s.get('amount'), 2)}" if s.get("amount") is not None else "")
        + (f" for {num(s.get('quantity'))} units" if s.get("quantity") is not None else "")
        + "; the supplier has "
        + ("reported back its figures." if reported else "not reported back yet."),
        f"{names.supplier(s.get('supplier', sup), lang)}最新结算单（{s.get('period_start')} – {s.get('period_end')}）"
        + (f"金额 {num(s.get('amount'), 2)}" if s.get("amount") is not None else "")
        + (f"，共 {num(s.get('quantity'))} 件" if s.get("quantity") is not None else "")
        + ("；供应商已回传对账数据。" if reported else "；供应商尚未回传对账数据。"),
    )
    support = []
    diffs = d.get("differences") or []
    if diffs:
        support.append(
            pick(
                lang,
                f"{len(diffs):,} lines differ from the supplier's figures.",
                f"有 {len(diffs):,} 行与供应商数据不一致。",
            )
        )
    return Composed(lead, tuple(support))


def late_inbound(run: _Run, plan: Plan, names: Names, lang: str) -> Composed:
    args: dict = {"top": min(plan.top_n or 10, 50)}
    if plan.filters.get("open"):  # "what's still open from Baiyun": every open line
        args["open"] = True
    if plan.supplier:
        args["supplier"] = plan.supplier
    if plan.locations:
        args["location"] = plan.locations[0]
    elif plan.region:
        args["region"] = plan.region
    if plan.category:
        args["category"] = plan.category
    if len(plan.products) > 1:  # "any of them carrying fresh hand cream?": each one of the name
        found = [run("late_inbound", **args, sku=sku) for sku in plan.products[:5]]
        if any(x is None for x in found):
            return _failed(run, lang)
        d = {
            "total": sum(x.data["total"] for x in found),
            "units": sum(x.data["units"] for x in found),
            "value": sum(x.data["value"] for x in found),
            "rows": [row for x in found for row in x.data["rows"]][:10],
        }
    else:
        if plan.products:
            args["sku"] = plan.products[0]
        r = run("late_inbound", **args)
        if r is None:
            return _failed(run, lang)
        d = r.data
    what = pick(lang, ", ", "、").join(names.product(x, lang) for x in plan.products[:5])
    if lang == "zh":  # "成都区域仓（RDC-CD）白云日化的 X 的入库": place, supplier, product
        owner = "".join(
            [
                names.location(plan.locations[0], lang)
                if plan.locations
                else f"发往{names.region(plan.region, lang)}的"
                if plan.region
                else "",
                f"{names.supplier(plan.supplier, lang)}的" if plan.supplier else "",
                f"{what}的" if plan.products else "",
            ]
        )
        if args.get("open"):
            if not d["total"]:
                return Composed(f"{owner}没有未到货的入库。")
            return _open_lines(run, d, names, lang, f"{owner}入库有 {d['total']:,} 条未到货")
        if not d["total"]:
            return Composed(f"{owner}入库没有逾期未到的。" if owner else "没有逾期未到的入库。")
        lead = (
            f"{owner}入库有 {d['total']:,} 条逾期未到"
            if owner
            else f"共有 {d['total']:,} 条入库逾期未到"
        ) + f"：共 {num(d['units'])} 件，按成本计 {c.money(d['value'])}。"
    else:
        where = "".join(
            [
                f" of {what}" if plan.products else "",
                f" from {names.supplier(plan.supplier, lang)}" if plan.supplier else "",
                f" for {names.location(plan.locations[0], lang)}" if plan.locations else "",
                f" into {names.region(plan.region, lang)}"
                if plan.region and not plan.locations
                else "",
            ]
        )
        if args.get("open"):
            if not d["total"]:
                return Composed(f"Nothing inbound{where} is open.")
            return _open_lines(run, d, names, lang, f"{d['total']:,} inbound lines{where} are open")
        if not d["total"]:
            return Composed(f"Nothing inbound{where} is late.")
        lead = (
            f"{d['total']:,} inbound lines{where} are late: {num(d['units'])} units, "
            f"{c.money(d['value'])} at cost."
        )
    return Composed(lead, (), _inbound_table(run, d, names, lang, "quantity"))


def _open_lines(run: _Run, d: dict, names: Names, lang: str, head: str) -> Composed:
    """Open inbound lines: how many, units and value, how many late, the soonest due."""
    lead = head + pick(
        lang,
        f": {num(d['units'])} units, {c.money(d['value'])} at cost; {d['late']:,} of them late.",
        f"：共 {num(d['units'])} 件，按成本计 {c.money(d['value'])}；其中 {d['late']:,} 条已逾期。",
    )
    return Composed(lead, (), _inbound_table(run, d, names, lang, "remaining"))


def _inbound_table(run: _Run, d: dict, names: Names, lang: str, units: str) -> c.Table:
    """Inbound lines as a table (the rows a follow-up may point at), ``units`` the column of
    the quantity shown."""
    rows = d["rows"]
    run.listed(rows)
    return c.table(
        c.columns(lang, "reference", "product", ("units", "数量"), "due", "days late"),
        [
            [
                str(x.get("reference") or "-"),
                names.product(x.get("sku"), lang),
                num(x.get(units) or x.get("units")),
                str(x.get("expected_date") or x.get("due_date") or "-"),
                num(x.get("days_late")),
            ]
            for x in rows
        ],
        d["total"],
    )


EXCESS_WORDS = re.compile(r"(?i)excess|overstock|too much|积压|超储|库存过多")
DEAD_WORDS = re.compile(
    r"(?i)dead|obsolete|slow[- ]mov|ha(?:ve|s)n'?t moved|not moved|no movement|呆滞|滞销|不动销|没动"
)


def _stock_scope(plan: Plan) -> dict:
    """Where excess and dead stock is looked for: the place (else the region), the category."""
    scope: dict = {}
    if plan.locations:
        scope["location"] = plan.locations[0]
    elif plan.region:
        scope["region"] = plan.region
    if plan.category:
        scope["category"] = plan.category
    return scope


def excess_dead(run: _Run, plan: Plan, names: Names, lang: str) -> Composed:
    kind = plan.filters.get("kind")
    if kind not in ("excess", "dead", "both"):
        text = run.question or plan.text or ""
        excess = bool(EXCESS_WORDS.search(text))
        dead = bool(DEAD_WORDS.search(text))
        if not (excess or dead):  # a follow-up ("只看个人护理"): the kind the turn before asked
            excess, dead = plan.metric == "excess_value", plan.metric == "dead_value"
        kind = "excess" if excess and not dead else "dead" if dead and not excess else "both"
    measure = plan.unit if plan.unit in ("value", "units") else "value"
    args: dict = {"kind": kind, "measure": measure, "top": min(plan.top_n or 10, 50)}
    r = run("excess_dead", **args, **_stock_scope(plan))
    if r is None:
        return _failed(run, lang)
    d = r.data
    where = _scope_words(plan, names, lang)
    word = {
        "excess": ("excess", "积压"),
        "dead": ("dead", "呆滞"),
        "both": ("excess and dead", "积压和呆滞"),
    }[kind]
    if not d["total"]:
        return Composed(pick(lang, f"No {word[0]} stock{where}.", f"{where}没有{word[1]}库存。"))
    figure = f"{num(d['units'])} units" if measure == "units" else f"{c.money(d['value'])} at cost"
    figure_zh = f"{num(d['units'])} 件" if measure == "units" else f"按成本计 {c.money(d['value'])}"
    lead = pick(
        lang,
        f"There is {figure} of {word[0]} stock{where} in {d['total']:,} SKU x location lines.",
        f"{where}{word[1]}库存共 {d['total']:,} 行，{figure_zh}。",
    )
    support = []
    for t in d.get("totals") or []:
        if kind == "both":
            support.append(
                pick(
                    lang,
                    f"{t['kind'].capitalize()}: {t['lines']:,} lines, {num(t['units'])} units, {c.money(t['value'])}.",
                    f"{ {'excess': '积压', 'dead': '呆滞'}.get(t['kind'], t['kind']) }：{t['lines']:,} 行，{num(t['units'])} 件，{c.money(t['value'])}。",
                )
            )
    run.listed(d["rows"])
    tbl = c.table(
        c.columns(lang, "product", "location", "kind", "units", "value"),
        [
            [
                names.product(x["sku"], lang),
                names.location(x["location"], lang),
                x["kind"]
                if lang == "en"
                else {"excess": "积压", "dead": "呆滞"}.get(x["kind"], x["kind"]),
                num(x["units"]),
                c.money(x["value"]),
            ]
            for x in d["rows"]
        ],
        d["total"],
    )
    return Composed(lead, tuple(support[:2]), tbl)


def forecast(run: _Run, plan: Plan, names: Names, lang: str) -> Composed:
    if not plan.products and not plan.category and not (plan.locations or plan.region):
        return _need(plan, lang, "product")
    sku = plan.products[0] if plan.products else None
    days = min(max(plan.horizon_days or 14, 1), FORECAST_DAYS)
    args: dict = {"sku": sku, "days": days}
    if sku is None:
        args["category"] = plan.category
    if plan.locations:
        args["location"] = plan.locations[0]
    elif plan.region:
        args["locations"] = _region_locations(names, plan.region) or None
    r = run("get_forecast", **args)
    if r is None:
        return _failed(run, lang)
    d = r.data
    if sku:
        subject = names.product(sku, lang)
    elif plan.category:
        subject = pick(
            lang,
            f"{names.category(plan.category, lang)} ({d['skus']} SKUs)",
            f"{names.category(plan.category, lang)}（{d['skus']} 个 SKU）",
        )
    else:
        subject = pick(lang, f"all {d['skus']} SKUs", f"全部 {d['skus']} 个 SKU")
    where = (
        names.location(d["parts"][0]["location"], lang)
        if d["locations"] == 1
        else (names.region(plan.region, lang) if plan.region else pick(lang, "the network", "全网"))
    )
    lead = pick(
        lang,
        f"Demand for {subject} at {where} is forecast at {num(d['total'])} units "
        f"from {d['first']} to {d['last']}, {num(d['per_day'], 1)} a day.",
        f"预计 {d['first']} 至 {d['last']}，{where}对{subject}的需求为 "
        f"{num(d['total'])} 件，每天 {num(d['per_day'], 1)} 件。",
    )
    support = []
    if (plan.horizon_days or 0) > FORECAST_DAYS:
        support.append(
            pick(
                lang,
                f"The forecast the plan uses reaches {d['last']}; beyond it there is none yet.",
                f"计划使用的预测只到 {d['last']}，之后暂无预测。",
            )
        )
    support.append(
        pick(
            lang,
            f"Recent demand: {num(d['recent_per_day'], 1)} a day.",
            f"近期需求：每天 {num(d['recent_per_day'], 1)} 件。",
        )
    )
    tbl = None
    if d["locations"] > 1:
        tbl = c.table(
            [pick(lang, "location", "仓"), pick(lang, "forecast", "预测")],
            [
                [names.location(x["location"], lang), num(x["demand"])]
                for x in sorted(d["parts"], key=lambda x: -x["demand"])
            ],
        )
    elif d["daily"] and plan.group_by in ("day", "date"):
        tbl = c.table(
            [pick(lang, "date", "日期"), pick(lang, "forecast", "预测")],
            [[str(x["date"]), num(x["demand"], 1)] for x in d["daily"]],
        )
    return Composed(lead, tuple(support), tbl)


FORECAST_DAYS = 28  # the tools' forecast horizon (the projection the plan uses)


POLICY_WORDS = {
    "safety_stock": ("safety stock", "安全库存"),
    "reorder_point": ("reorder point", "再订货点"),
    "max_level": ("max level", "最高库存"),
    "eoq": ("economic order quantity", "经济订货量"),
}


def policy(run: _Run, plan: Plan, names: Names, lang: str) -> Composed:
    if not plan.products:
        return _need(plan, lang, "product")
    # the place asked about (not one an earlier answer's line happened to end at), else the
    # region's first place, else the central DC
    asked = plan.locations[0] if plan.locations else None
    if "destination" not in plan.from_answer:
        asked = plan.destination or asked
    loc = asked or next(iter(_region_locations(names, plan.region)), None) or names.central
    if loc is None:
        return _need(plan, lang, "location")
    metric = plan.metric if plan.metric in POLICY_WORDS else "safety_stock"
    word = POLICY_WORDS[metric][1 if lang == "zh" else 0]
    if len(plan.products) > 1:
        return _policies(run, plan, names, lang, loc, metric)
    sku = plan.products[0]
    r = run("explain_policy", sku=sku, location=loc)
    if r is None:
        return _failed(run, lang)
    d = r.data
    lead = pick(
        lang,
        f"The {word} of {names.product(sku, lang)} at {names.location(loc, lang)} is {num(d[metric])} units.",
        f"{names.product(sku, lang)}在{names.location(loc, lang)}的{word}为 {num(d[metric])} 件。",
    )
    support = [
        pick(
            lang,
            f"It holds a {pct(d['service_level'])} service level over a {num(d['lead_time_days'], 1)}-day lead time "
            f"at {num(d['daily_demand'], _places(d['daily_demand']))} units a day.",
            f"按 {pct(d['service_level'])} 服务水平、{num(d['lead_time_days'], 1)} 天提前期、"
            f"每天 {num(d['daily_demand'], _places(d['daily_demand']))} 件需求计算。",
        )
    ]
    others = [k for k in ("safety_stock", "reorder_point", "max_level") if k != metric]
    support.append(
        pick(
            lang,
            " ".join(f"{POLICY_WORDS[k][0].capitalize()}: {num(d[k])}." for k in others),
            "".join(f"{POLICY_WORDS[k][1]}：{num(d[k])}。" for k in others),
        )
    )
    return Composed(lead, tuple(support))


def _policies(run: _Run, plan: Plan, names: Names, lang: str, loc: str, metric: str) -> Composed:
    """One policy figure for several products at one place ("这几个 SKU 的 EOQ 分别多少"):
    a row each, the highest and lowest said first."""
    found = []
    for sku in plan.products[:POLICY_ROWS]:
        r = run("explain_policy", sku=sku, location=loc)
        if r is not None:
            found.append((sku, r.data))
    if not found:
        return _failed(run, lang)
    word = POLICY_WORDS[metric][1 if lang == "zh" else 0]
    place = names.location(loc, lang)
    if len(found) <= LISTED_IN_LEAD:  # "fresh hand cream" names four products: each said
        lead = pick(
            lang,
            f"The {word} at {place}: "
            + "; ".join(f"{names.product(sku, lang)}: {num(d[metric])} units" for sku, d in found)
            + ".",
            f"{place}的{word}："
            + "；".join(f"{names.product(sku, lang)} {num(d[metric])} 件" for sku, d in found)
            + "。",
        )
    else:
        high = max(found, key=lambda x: x[1][metric])
        low = min(found, key=lambda x: x[1][metric])
        lead = pick(
            lang,
            f"The {word} of {c.plural(len(found), 'product', lang)} at {place}: highest "
            f"{names.product(high[0], lang)} at {num(high[1][metric])} units, lowest "
            f"{names.product(low[0], lang)} at {num(low[1][metric])}.",
            f"{place}的 {len(found)} 个产品的{word}：最高为{names.product(high[0], lang)}，"
            f"{num(high[1][metric])} 件；最低为{names.product(low[0], lang)}，"
            f"{num(low[1][metric])} 件。",
        )
    shown = [metric] + [
        k for k in ("safety_stock", "reorder_point", "max_level", "eoq") if k != metric
    ]
    tbl = c.table(
        [pick(lang, "product", "产品")]
        + [POLICY_WORDS[k][1 if lang == "zh" else 0] for k in shown],
        [[names.product(sku, lang)] + [num(d[k]) for k in shown] for sku, d in found],
        len(plan.products),
    )
    missed = [sku for sku in plan.products[:POLICY_ROWS] if sku not in dict(found)]
    support = ()
    if missed:
        support = (
            pick(
                lang,
                f"No policy for {', '.join(missed)} there.",
                f"{'、'.join(missed)} 在该仓没有库存策略。",
            ),
        )
    return Composed(lead, support, tbl)


POLICY_ROWS = 10  # products a policy question answers at once
LISTED_IN_LEAD = 4  # up to this many, each product's figure is said in the first sentence


PERIOD_KPIS = ("this_week", "this_month", "last_month", "last_30_days")


def supplier_performance(run: _Run, plan: Plan, names: Names, lang: str) -> Composed:
    measure = (
        plan.metric
        if plan.metric in ("on_time_rate", "lead_time", "lead_time_spread")
        else "on_time_rate"
    )
    sup = plan.supplier or (plan.suppliers[0] if plan.suppliers else None)
    if sup and measure == "on_time_rate" and plan.period in PERIOD_KPIS:
        # "白云日化最近的准时交货率": that period's rate (the KPI's), not the year's scorecard
        return kpi(
            run, replace(plan, metric="on_time_rate", locations=(), region=None), names, lang
        )
    r = run(
        "supplier_performance",
        supplier=sup,
        measure=measure,
        order=plan.order or "worst",
        days=plan.filters.get("window_days") or (30 if plan.period == "last_30_days" else None),
    )
    if r is None:
        return _failed(run, lang)
    d = r.data
    rows = d["rows"]
    if not rows:
        return _failed(run, lang)
    # the scorecard's window, said with every figure of it (a period's rate is the kpi's)
    span = pick(
        lang,
        f"Over PO lines ordered in the last {d['window_days']} days, ",
        f"按近 {d['window_days']} 天下单的采购行，",
    )
    if sup:
        x = next((y for y in rows if y["key"] == sup), rows[0])
        who = names.supplier(x["key"], lang)
        if measure == "on_time_rate":
            lead = pick(
                lang,
                f"{span}{who} delivered {pct(x['on_time_rate'])} of its lines on time, with an "
                f"average lead time of {num(x['lead_time_mean_days'], 1)} days (spread "
                f"{num(x['lead_time_sd_days'], 1)}).",
                f"{span}{who}的准时交货率为 {pct(x['on_time_rate'])}，平均交期 "
                f"{num(x['lead_time_mean_days'], 1)} 天（波动 {num(x['lead_time_sd_days'], 1)} 天）。",
            )
        else:  # the lead time asked first
            lead = pick(
                lang,
                f"{span}{who}'s average lead time is {num(x['lead_time_mean_days'], 1)} days "
                f"(spread {num(x['lead_time_sd_days'], 1)}), with {pct(x['on_time_rate'])} of "
                "its lines on time.",
                f"{span}{who}的平均交期为 {num(x['lead_time_mean_days'], 1)} 天（波动 "
                f"{num(x['lead_time_sd_days'], 1)} 天），准时交货率 {pct(x['on_time_rate'])}。",
            )
        support = []
        if x.get("stated_lead_time_days") is not None:
            support.append(
                pick(
                    lang,
                    f"Its stated lead time is {num(x['stated_lead_time_days'], 1)} days.",
                    f"其承诺交期为 {num(x['stated_lead_time_days'], 1)} 天。",
                )
            )
        return Composed(lead, tuple(support))
    key = d["best"] if (plan.order == "best") else d["worst"]
    x = next(y for y in rows if y["key"] == key)
    word = MEASURE_WORDS[measure][1 if lang == "zh" else 0]
    best = plan.order == "best"
    lead = pick(
        lang,
        f"{span}{names.supplier(key, lang)} is the {'best' if best else 'worst'} on {word}: "
        f"{_measure_value(measure, x['value'])}.",
        f"{span}{word}{'最好' if best else '最差'}的是{names.supplier(key, lang)}：{_measure_value(measure, x['value'])}。",
    )
    tbl = c.table(
        c.columns(lang, "supplier", "on time", "lead time (days)", "spread"),
        [
            [
                names.supplier(y["key"], lang),
                pct(y["on_time_rate"]),
                num(y["lead_time_mean_days"], 1),
                num(y["lead_time_sd_days"], 1),
            ]
            for y in rows
        ],
        d["total"],
    )
    return Composed(lead, (), tbl)


STATUS_WORDS = {
    "proposed": ("proposed, waiting for an approver", "已提议，等待审批"),
    "approved": ("approved, waiting to be posted", "已批准，等待过账"),
    "rejected": ("rejected", "已驳回"),
    "posted": ("posted", "已过账"),
    "closed": ("closed (received)", "已关闭（已收货）"),
    "superseded": ("superseded by a newer plan", "已被新计划取代"),
}


OPEN_STATUSES = ("proposed", "approved", "posted", "rejected")


def _status_of_subject(run: _Run, plan: Plan, names: Names, lang: str) -> Composed:
    """Where the actions for a product, place or supplier stand ("那个 transfer 批了没" after a
    plan line): how many wait, were approved, posted or rejected, and which; none when the
    plan's lines for it have not been proposed."""
    sku = plan.products[0] if plan.products else None
    supplier = plan.suppliers[0] if plan.suppliers else None
    where: dict = {}
    if plan.source and plan.destination:  # "this transfer": that lane's
        where = {"from_location": plan.source, "to_location": plan.destination}
        place = pick(
            lang,
            f"from {names.location(plan.source, lang)} to {names.location(plan.destination, lang)}",
            f"从{names.location(plan.source, lang)}到{names.location(plan.destination, lang)}",
        )
    elif _loc(plan) or plan.source:
        where = {"location": _loc(plan) or plan.source}
        place = pick(lang, "at ", "在") + names.location(where["location"], lang)
    else:
        place = ""
    found: dict[str, dict] = {}
    for status in OPEN_STATUSES:
        r = run("action_status", status=status, sku=sku, supplier=supplier, **where)
        if r is None:
            return _failed(run, lang)
        found[status] = r.data
    who = " ".join(n for n in (names.product(sku, lang) if sku else "",
                               names.supplier(supplier, lang) if supplier else "") if n)  # fmt: skip
    words = [pick(lang, "for ", "") + who if who else "", place]
    subject = pick(lang, " ", "").join(w for w in words if w) or pick(lang, "it", "该对象")
    if not any(d["total"] for d in found.values()):
        return Composed(
            pick(
                lang,
                f"No action {subject} has been proposed, approved, posted or rejected: "
                "the plan's lines for it are suggestions until a planner proposes them.",
                f"{subject}没有任何已提议、已批准、已过账或已驳回的行动：计划中的建议要由计划员"
                "提议后才进入审批。",
            )
        )
    counts = [
        pick(lang, f"{d['total']:,} {STATUS_WORDS[s][0]}", f"{d['total']:,} 个{STATUS_WORDS[s][1]}")
        for s, d in found.items()
        if d["total"]
    ]
    lead = pick(
        lang,
        f"Actions {subject}: {'; '.join(counts)}.",
        f"{subject}的行动：{'；'.join(counts)}。",
    )
    rows = [
        [
            str(x["action_id"]),
            STATUS_WORDS[s][1 if lang == "zh" else 0].split(",")[0].split("，")[0],
            c.action_words(x, names, lang),
        ]
        for s, d in found.items()
        for x in d["rows"]
    ]
    tbl = c.table(
        ["#", pick(lang, "status", "状态"), pick(lang, "action", "行动")],
        rows,
        sum(d["total"] for d in found.values()),
    )
    return Composed(lead, (), tbl)


def action_status(run: _Run, plan: Plan, names: Names, lang: str) -> Composed:
    if plan.action_id is None and (plan.products or plan.suppliers or _loc(plan) or plan.source):
        return _status_of_subject(run, plan, names, lang)
    if plan.action_id is None:
        r = run("action_status", status="proposed", top=10)
        if r is None:
            return _failed(run, lang)
        d = r.data
        lead = pick(
            lang,
            f"{d['total']:,} actions wait for an approver.",
            f"有 {d['total']:,} 个行动等待审批。",
        )
        tbl = c.table(
            ["#", pick(lang, "action", "行动")],
            [[str(x["action_id"]), c.action_words(x, names, lang)] for x in d["rows"]],
            d["total"],
        )
        return Composed(lead, (), tbl)
    r = run("action_status", action_id=plan.action_id)
    if r is None:
        return _failed(run, lang)
    d = r.data
    status = STATUS_WORDS.get(d["status"], (d["status"], d["status"]))[1 if lang == "zh" else 0]
    lead = pick(
        lang,
        f"Action #{d['action_id']} ({c.action_words(d, names, lang)}) is {status}.",
        f"行动 #{d['action_id']}（{c.action_words(d, names, lang)}）{status}。",
    )
    support = []
    if d.get("proposed_by"):
        support.append(
            pick(
                lang,
                f"Proposed by {c.inert(d['proposed_by'])} on the data of {d.get('as_of')}.",
                f"由 {c.inert(d['proposed_by'])} 基于 {d.get('as_of')} 的数据提议。",
            )
        )
    if d.get("approved_by"):
        support.append(
            pick(
                lang,
                f"Approved by {c.inert(d['approved_by'])}.",
                f"由 {c.inert(d['approved_by'])} 批准。",
            )
        )
    if d.get("posted_by"):
        support.append(
            pick(
                lang,
                f"Posted by {c.inert(d['posted_by'])}.",
                f"由 {c.inert(d['posted_by'])} 过账。",
            )
        )
    return Composed(lead, tuple(support))


UNSIMULATED = re.compile(
    r"(?i)slip|delay|late by|推迟|延迟|晚到|clos|shut|停|关闭|service level|服务水平|"
    r"cost (doubles|rises|goes up)|成本.*(翻倍|上涨)|lane cost|运费.*(翻倍|上涨)"
)


def _cannot(lang: str) -> Composed:
    return Composed(
        pick(
            lang,
            "I can't simulate that yet: I can project a product's stock at a location as things "
            "stand, with extra units, or with or without a drafted action; a supplier's "
            "deliveries coming late; or another service level.",
            "这个情景我还无法模拟：我可以预测某个产品在某个仓的库存走势（按现状、加上一定数量，"
            "或加上/不加某个待审批行动）、供应商到货延迟的影响，或调整服务水平的影响。",
        )
    )


def _outcome_words(x: dict, lang: str) -> str:
    if x.get("stockout_date") and x.get("units_short"):
        return pick(
            lang,
            f"runs out on {x['stockout_date']}, {num(x['units_short'])} units short "
            f"({c.money(x['sales_at_risk'])} of sales at risk)",
            f"{x['stockout_date']} 断货，缺口 {num(x['units_short'])} 件"
            f"（{c.money(x['sales_at_risk'])} 的销售额受影响）",
        )
    if x.get("stockout_date"):
        return pick(
            lang,
            f"runs out on {x['stockout_date']}, after an order placed today could arrive",
            f"{x['stockout_date']} 断货，但今天下单可在此之前到货",
        )
    return pick(lang, "does not run out within the projection", "预测期内不会断货")


DELAY_WORDS = re.compile(
    r"(?i)slip|delay|late|behind|推迟|延迟|延误|晚到|晚|断供|停供|can't deliver|stops? (?:supplying|delivering)|"
    r"\bgo(?:es)? down\b|\bdown for\b|outage|offline|shut(?:s)? down|停产|停工|停摆|罢工|\bstrike\b|"
    r"lead[- ]?time.{0,20}(?:longer|extend|stretch|grow|goes up|increase|up by)|"
    r"(?:longer|extended) lead[- ]?time|(?:交期|提前期|lead[- ]?time).{0,8}(?:拉长|延长|加长|变长|多|增加|拖)|"
    r"拖(?:一|两|三|\d)|再拖|拖延|(?:还)?不补|没补|不(?:到货|发货|送货|交货)|\bdon'?t (?:deliver|ship|replenish)|"
    r"\bdoesn'?t (?:deliver|ship)|\bno deliver"
)
SERVICE_WORDS = re.compile(r"(?i)service level|服务水平|服务率|\bsl\b")
PERCENT = re.compile(r"(\d{2}(?:\.\d+)?)\s*%")
DAYS = re.compile(r"(?i)(\d+)\s*(?:days?|天)")
DAYS_ZH = re.compile(r"([一两二三四五六七八九十]+)\s*(?:天|日)")
WEEKS = re.compile(r"(?i)(\d+|a|one|two|three|一|两|二|三|四)\s*(?:-\s*)?(?:weeks?|个?星期|周)")
MONTHS = re.compile(r"(?i)(\d+|a|one|two|three|一|两|二|三)\s*(?:-\s*)?(?:months?|个月)")
NUMERALS = {"a": 1, "one": 1, "two": 2, "three": 3, "一": 1, "两": 2, "二": 2, "三": 3, "四": 4}


def _delay_days(text: str) -> int | None:
    found = DAYS.search(text)
    if found:
        return int(found.group(1))
    found = DAYS_ZH.search(text)
    if found and number(found.group(1)):
        return number(found.group(1))
    found = WEEKS.search(text)
    if found:
        n = found.group(1).lower()
        return 7 * (int(n) if n.isdigit() else NUMERALS.get(n, 1))
    found = MONTHS.search(text)
    if found:  # "断供一个月", "for a month": 30 days a month
        n = found.group(1).lower()
        return 30 * (int(n) if n.isdigit() else NUMERALS.get(n, 1))
    return None


EARLIEST = re.compile(r"(?i)\bfirst\b|earliest|soonest|最先|最早|先断|先缺|先没")


def _supplier_delay(run: _Run, plan: Plan, names: Names, lang: str, days: int) -> Composed:
    loc = plan.locations[0] if len(plan.locations) == 1 else None
    first = "date" if EARLIEST.search(run.question or plan.text or "") else "impact"
    args = {
        "supplier": plan.supplier,
        "days": min(days, 60),
        "first": first,
        "top": min(plan.top_n or 10, 50),
    }
    r = run("supplier_delay_what_if", **args, location=loc)
    if r is None:
        return _failed(run, lang)
    d = r.data
    who = names.supplier(plan.supplier, lang)
    support = []
    if d.get("no_lines_to"):
        # the supplier ships nothing straight to that place: its deliveries where they go
        support.append(
            pick(
                lang,
                f"{who} has no open deliveries to {names.location(loc, lang)}: a delay reaches it "
                "only through the DCs it delivers to.",
                f"{who}没有发往{names.location(loc, lang)}的在途采购：延迟只会经由其送货的仓间接影响该仓。",
            )
        )
        loc = None
    whose = pick(
        lang,
        f"{who}'s open deliveries" + (f" to {names.location(loc, lang)}" if loc else ""),
        f"{who}" + (f"发往{names.location(loc, lang)}的" if loc else "所有") + "在途采购",
    )
    if not d["hit"]:
        lead = pick(
            lang,
            f"If {whose} came {d['days']} days late, no stock-out would start or deepen "
            f"({d['lines']:,} open PO lines checked).",
            f"如果{whose}晚到 {d['days']} 天，不会造成新的或更严重的断货"
            f"（共核查 {d['lines']:,} 条在途采购行）。",
        )
        return Composed(support[0], (lead,)) if support else Composed(lead)
    lead = pick(
        lang,
        f"If {whose} came {d['days']} days late, {d['hit']:,} SKU x locations "
        f"would run out or go shorter: {num(d['extra_units_short'])} more units short, "
        f"{c.money(d['extra_sales_at_risk'])} more sales at risk.",
        f"如果{whose}晚到 {d['days']} 天，将有 {d['hit']:,} 个 SKU x 仓断货或缺口扩大："
        f"多缺 {num(d['extra_units_short'])} 件，多 {c.money(d['extra_sales_at_risk'])} 销售额受影响。",
    )
    if support:  # the place asked about first, then what the delay does where it lands
        lead, support = support[0], [lead]
    if first == "date" and d["rows"]:
        x = d["rows"][0]
        support.append(
            pick(
                lang,
                f"The first to run out: {names.product(x['sku'], lang)} at "
                f"{names.location(x['location'], lang)} on {x['stockout_date_delayed'] or '-'}.",
                f"最先断货的是{names.product(x['sku'], lang)}在{names.location(x['location'], lang)}，"
                f"{x['stockout_date_delayed'] or '-'}。",
            )
        )
    run.listed(d["rows"])
    tbl = c.table(
        c.columns(
            lang, "product", "location", "runs out", "more units short", "more sales at risk"
        ),
        [
            [
                names.product(x["sku"], lang),
                names.location(x["location"], lang),
                str(x["stockout_date_delayed"] or "-"),
                num(x["extra_units_short"]),
                c.money(x["extra_sales_at_risk"]),
            ]
            for x in d["rows"]
        ],
        d["hit"],
    )
    return Composed(lead, tuple(support), tbl)


def _service_level(run: _Run, plan: Plan, names: Names, lang: str, level: float) -> Composed:
    sku = plan.products[0] if plan.products else None
    loc = plan.locations[0] if plan.locations else None
    r = run("service_level_what_if", service_level=level, sku=sku, location=loc, top=10)
    if r is None:
        return _failed(run, lang)
    d = r.data
    scope = names.product(sku, lang) if sku else pick(lang, "the network", "全网")
    if loc:
        scope += pick(lang, f" at {names.location(loc, lang)}", f"在{names.location(loc, lang)}")
    lead = pick(
        lang,
        f"At a {pct(d['service_level'])} service level, the safety stock of {scope} changes by "
        f"{num(d['difference'])} units ({c.money(d['difference_value'])} at cost), from "
        f"{num(d['safety_stock_now'])} units.",
        f"服务水平为 {pct(d['service_level'])} 时，{scope}的安全库存变化 {num(d['difference'])} 件"
        f"（按成本计 {c.money(d['difference_value'])}），目前为 {num(d['safety_stock_now'])} 件。",
    )
    return Composed(lead)


CLOSE_WORDS = re.compile(
    r"(?i)\bclos(?:e|ed|es|ing|ure)\b|\bshut|\b(?:goes|went|is|were|was) down\b|\boffline\b|"
    r"停(?:工|运|业|摆|用|掉|了|一|两|三|\d)|关闭|关门|关停|封控|歇业|瘫痪|"
    r"关(?:掉|仓)?\s*(?:\d+|[一两二三四五六七八九十几半]+)\s*(?:天|周|个?星期|日)"
)
LANE_WORDS = re.compile(
    r"(?i)\blane|freight|transport|shipping|trucking|haulage|运费|运输|干线|线路|物流(?:费|成本)"
)
FACTOR_WORDS = (
    (re.compile(r"(?i)\btripl|三倍|翻两番"), 3.0),
    (
        re.compile(
            r"(?i)\bdoubl|\btwice\b|翻倍|翻番|翻一倍|翻一番|涨一倍|多一倍|贵一倍|两倍|2\s*倍"
        ),
        2.0,
    ),
    (re.compile(r"(?i)\bhalv|\bhalf\b|减半|一半"), 0.5),
)
TIMES = re.compile(r"(?i)(?:\bx\s*(\d+(?:\.\d+)?)\b|(\d+(?:\.\d+)?)\s*(?:x\b|倍))")
PERCENT_CHANGE = re.compile(
    r"(?i)(up|rise|rises|increase|increases|higher|more|\+|上涨|涨|增加|提高|"
    r"down|fall|falls|drop|drops|lower|less|cut|-|下降|降|减少|降低)\D{0,12}?(\d+(?:\.\d+)?)\s*%"
)
DOWN = re.compile(r"(?i)down|fall|drop|lower|less|cut|-|下降|降|减少|降低")


def _multiple(text: str) -> float | None:
    """A multiple named in words or figures: "doubles" 2, "x1.5" or "1.5倍" 1.5; else None."""
    for words, factor in FACTOR_WORDS:
        if words.search(text):
            return factor
    found = TIMES.search(text)
    return float(found.group(1) or found.group(2)) if found else None


def _lane_factor(text: str) -> float | None:
    """The factor a question puts on a cost: "doubles" 2, "x1.5" or "1.5倍" 1.5, "up 30%"
    1.3, "down 20%" 0.8; None when it names none."""
    factor = _multiple(text)
    if factor is not None:
        return factor
    found = PERCENT_CHANGE.search(text)
    if found:
        share = float(found.group(2)) / 100
        return 1 - share if DOWN.fullmatch(found.group(1)) else 1 + share
    return None


DEMAND_WORDS = re.compile(
    r"(?i)\bdemand|\bsales\b|\bsell|\bconsumption|\bofftake|\bvolume|需求|销量|销售|卖|走量|动销"
)
# a demand change: "jumps 20%", "20% more", "涨三成", "翻倍"; words before or after the figure
DEMAND_UP = r"jump|spike|surge|grow|climb|rise|rose|increase|up\b|higher|more|boost|lift|\+|暴涨|激增|增长|增加|提高|上涨|涨|多|高"
DEMAND_DOWN = (
    r"drop|fall|fell|decline|down\b|lower|less|shrink|cut|-|下降|下滑|减少|降低|降|跌|少|低"
)
DEMAND_BEFORE = re.compile(
    rf"(?i)({DEMAND_UP}|{DEMAND_DOWN})\D{{0,14}}?(\d+(?:\.\d+)?)\s*(%|percent|成)"
)
DEMAND_AFTER = re.compile(
    rf"(?i)(\d+(?:\.\d+)?)\s*(%|percent|成)\s*(?:of\s+)?({DEMAND_UP}|{DEMAND_DOWN})"
)
CHINESE_TENTHS = re.compile(r"(一|两|二|三|四|五|六|七|八|九)成")
TENTHS = {"一": 1, "两": 2, "二": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}


def _demand_factor(text: str) -> float | None:
    """The factor a question puts on demand: "jumps 20%" 1.2, "drops 10%" 0.9, "涨三成" 1.3,
    "doubles" 2; None when it names none."""
    text = CHINESE_TENTHS.sub(lambda m: f"{TENTHS[m.group(1)]}成", text)
    factor = _multiple(text)
    if factor is not None:
        return factor
    before, after = DEMAND_BEFORE.search(text), DEMAND_AFTER.search(text)
    if before:
        word, figure, unit = before.group(1), float(before.group(2)), before.group(3)
    elif after:
        figure, unit, word = float(after.group(1)), after.group(2), after.group(3)
    else:
        return None
    share = figure / (10 if unit == "成" else 100)
    return 1 - share if re.fullmatch(DEMAND_DOWN, word, re.I) else 1 + share


def _demand_change(run: _Run, plan: Plan, names: Names, lang: str, factor: float) -> Composed:
    text = " ".join(filter(None, [run.question or plan.text, plan.filters.get("scenario")]))
    days = plan.horizon_days or _delay_days(text)  # None: the whole projection
    sku = plan.products[0] if plan.products else None
    loc = _loc(plan)
    region = plan.region if not loc else None
    r = run(
        "demand_change_what_if",
        factor=round(factor, 4),
        days=max(1, min(days, 366)) if days else None,
        sku=sku,
        category=plan.category if not sku else None,
        location=loc,
        region=region,
        top=10,
    )
    if r is None:
        return _failed(run, lang)
    d = r.data
    run.about({"sku": sku, "location": loc})
    if sku:
        what = names.product(sku, lang)
    elif plan.category:
        what = names.category(plan.category, lang)
    else:
        what = pick(lang, "everything", "全部产品")
    where = names.location(loc, lang) if loc else (names.region(region, lang) if region else None)
    change = d["factor"] - 1
    share = f"{abs(change):.0%}" if round(abs(change) * 100, 6).is_integer() else pct(abs(change))
    change_en = f"{'up' if change >= 0 else 'down'} {share}"
    change_zh = f"{'增加' if change >= 0 else '减少'} {share}"
    scope_en = what + (f" at {where}" if where else "")
    scope_zh = (f"{where}的" if where else "") + what
    if not d["run_out"]:
        lead = pick(
            lang,
            f"If demand for {scope_en} were {change_en} over the next {d['days']} days, nothing "
            f"would run out by {d['by']} ({d['series']:,} SKU x locations projected).",
            f"如果未来 {d['days']} 天{scope_zh}需求{change_zh}，到 {d['by']} 都不会断货"
            f"（共测算 {d['series']:,} 个 SKU x 仓）。",
        )
        return Composed(lead)
    first = d["rows"][0]
    lead = pick(
        lang,
        f"If demand for {scope_en} were {change_en} over the next {d['days']} days, "
        f"{names.product(first['sku'], lang)} at {names.location(first['location'], lang)} "
        f"would run out first, on {first['stockout_date_changed']}; {d['run_out']:,} SKU x "
        f"locations would run out by {d['by']}, {d['earlier']:,} of them sooner than as things "
        "stand.",
        f"如果未来 {d['days']} 天{scope_zh}需求{change_zh}，最先断货的是"
        f"{names.location(first['location'], lang)}的{names.product(first['sku'], lang)}"
        f"（{first['stockout_date_changed']}）；到 {d['by']} 共有 {d['run_out']:,} 个 SKU x 仓断货，"
        f"其中 {d['earlier']:,} 个比现在更早断货。",
    )
    units, value = d["extra_units_short"], d["extra_sales_at_risk"]
    more = units >= 0 and value >= 0
    support = [
        pick(
            lang,
            f"The change {'adds' if more else 'takes away'} {num(abs(units))} units short and "
            f"{c.money(abs(value))} of sales at risk.",
            f"需求变化使缺口{'增加' if more else '减少'} {num(abs(units))} 件，受影响销售额"
            f"{'增加' if more else '减少'} {c.money(abs(value))}。",
        )
    ]
    if d["asked_days"] > d["days"]:
        support.append(
            pick(
                lang,
                f"The projection covers {d['days']} days, not {d['asked_days']}.",
                f"库存预测只覆盖 {d['days']} 天，而不是 {d['asked_days']} 天。",
            )
        )
    tbl = c.table(
        c.columns(
            lang,
            "product",
            "location",
            "runs out",
            ("as things stand", "现状断货日"),
            "units short",
            "more sales at risk",
        ),  # fmt: skip
        [
            [
                names.product(x["sku"], lang),
                names.location(x["location"], lang),
                str(x["stockout_date_changed"]),
                str(x["stockout_date_now"] or "-"),
                num(x["units_short_changed"]),
                c.money(x["extra_sales_at_risk"]),
            ]
            for x in d["rows"]
        ],
        d["run_out"],
    )
    return Composed(lead, tuple(support), tbl)


def _closure(run: _Run, plan: Plan, names: Names, lang: str, days: int) -> Composed:
    loc = _loc(plan)
    r = run("location_closure_what_if", location=loc, days=days, top=10)
    if r is None:
        return _failed(run, lang)
    d = r.data
    run.about({"sku": None, "location": loc})
    where = names.location(loc, lang)
    lead = pick(
        lang,
        f"If {where} closed for {d['days']} days from tomorrow, about "
        f"{num(d['unserved_units'])} units of demand would go unserved "
        f"({c.money(d['unserved_sales'])} of sales) and lost sales would come to "
        f"{c.money(d['lost_sales'])}.",
        f"如果{where}从明天起停 {d['days']} 天，约 {num(d['unserved_units'])} 件需求无法满足"
        f"（销售额 {c.money(d['unserved_sales'])}），损失销售额合计 {c.money(d['lost_sales'])}。",
    )
    support = [
        pick(
            lang,
            f"{num(d['inbound_delayed'])} inbound units would wait for it to reopen"
            + (
                f", and {d['shorter_after']:,} SKUs would be shorter after it."
                if d["shorter_after"]
                else "."
            ),
            f"{num(d['inbound_delayed'])} 件在途货物要等重新开仓后才能收货"
            + (
                f"，重新开仓后有 {d['shorter_after']:,} 个 SKU 缺口扩大。"
                if d["shorter_after"]
                else "。"
            ),
        )
    ]
    if d["held_transfers"]:
        support.append(
            pick(
                lang,
                f"{d['held_transfers']:,} transfers from it ({num(d['held_units'])} units) "
                "could not leave.",
                f"从该仓发出的 {d['held_transfers']:,} 笔调拨（{num(d['held_units'])} 件）无法发货。",
            )
        )
    support.append(
        pick(
            lang,
            f"A re-plan around it: control-tower plan --close {loc}.",
            f"按停仓重新规划：control-tower plan --close {loc}。",
        )
    )
    tbl = c.table(
        c.columns(lang, "product", "not served", "sales", "inbound delayed", "lost sales"),
        [
            [
                names.product(x["sku"], lang),
                num(x["unserved_units"]),
                c.money(x["unserved_sales"]),
                num(x["inbound_delayed"]),
                c.money(x["lost_sales"]),
            ]
            for x in d["rows"]
        ],
        d["series"],
    )
    return Composed(lead, tuple(support), tbl)


def _lane_ends(plan: Plan, names: Names) -> tuple[str | None, str | None]:
    origin, dest = plan.source, plan.destination
    rest = [x for x in plan.locations if x not in (origin, dest)]
    if origin is None and rest:
        origin = rest.pop(0)
    if dest is None and rest:
        dest = rest.pop(0)
    if origin and not dest:  # one place named: the lane into it from the central DC
        origin, dest = None, origin
    if dest and not origin:
        origin = names.central
    return origin, dest


def _lane_cost(run: _Run, plan: Plan, names: Names, lang: str, factor: float) -> Composed:
    origin, dest = _lane_ends(plan, names)
    if not origin or not dest or origin == dest:
        return _need(plan, lang, "lane")
    r = run("lane_cost_what_if", from_location=origin, to_location=dest, factor=factor)
    if r is None:
        return _failed(run, lang)
    d = r.data
    run.about({"sku": None, "location": dest})
    lane = f"{names.location(origin, lang)} → {names.location(dest, lang)}"
    if d["plan_run"] is None:
        return Composed(
            pick(
                lang,
                f"There is no plan yet to price: the {lane} lane costs {d['cost_per_unit']:.3f} "
                f"a unit, {d['cost_per_unit_new']:.3f} at {d['factor']:g} times. Run a plan first.",
                f"还没有计划可供测算：{lane} 线路每件运费 {d['cost_per_unit']:.3f}，变为 "
                f"{d['factor']:g} 倍后为 {d['cost_per_unit_new']:.3f}。请先运行一次计划。",
            )
        )
    extra = d["cost_new"] - d["cost_now"]
    change_en = f"{c.money(abs(extra))} {'more' if extra >= 0 else 'less'}"
    change_zh = f"{'多' if extra >= 0 else '少'} {c.money(abs(extra))}"
    lead = pick(
        lang,
        f"If the {lane} lane's costs were {d['factor']:g} times what they are, what the plan "
        f"sends on it ({num(d['units'])} units over {d['departures']:,} departures) would cost "
        f"{c.money(d['cost_new'])} instead of {c.money(d['cost_now'])} ({change_en}).",
        f"如果 {lane} 线路成本变为现在的 {d['factor']:g} 倍，计划在该线路上的运量"
        f"（{num(d['units'])} 件，{d['departures']:,} 个发运日）运费将从 {c.money(d['cost_now'])} "
        f"变为 {c.money(d['cost_new'])}（{change_zh}）。",
    )
    cheaper = [a for a in d["alternatives"] if a["cheaper"]]
    support = [
        pick(
            lang,
            f"A unit would cost {d['cost_per_unit_new']:.3f} instead of {d['cost_per_unit']:.3f}.",
            f"每件运费从 {d['cost_per_unit']:.3f} 变为 {d['cost_per_unit_new']:.3f}。",
        )
    ]
    if cheaper:
        best = cheaper[0]
        support.append(
            pick(
                lang,
                f"{len(cheaper):,} other lanes into {names.location(dest, lang)} would then be "
                f"cheaper a unit, the cheapest from {names.location(best['origin'], lang)} at "
                f"{best['cost_per_unit']:.3f} ({c.plural(best['transit_days'], 'day', lang)}), where it has stock "
                "to spare.",
                f"届时有 {len(cheaper):,} 条其他线路到{names.location(dest, lang)}每件更便宜，"
                f"最便宜的是从{names.location(best['origin'], lang)}发货，每件 "
                f"{best['cost_per_unit']:.3f}（{best['transit_days']} 天），前提是该仓有余量。",
            )
        )
    support.append(
        pick(
            lang,
            f"A re-plan with it: control-tower plan --lane-cost '{origin}>{dest}={d['factor']:g}'.",
            f"按新运费重新规划：control-tower plan --lane-cost '{origin}>{dest}={d['factor']:g}'。",
        )
    )
    return Composed(lead, tuple(support))


def _first(read: Callable[[str], float | None], *texts: str) -> float | None:
    """The first of ``texts`` that ``read`` finds a figure in, read."""
    return next((x for x in map(read, texts) if x is not None), None)


def what_if(run: _Run, plan: Plan, names: Names, lang: str) -> Composed:
    # a follow-up changes the scenario before ("and if it's two weeks instead?"): its own
    # words first, then the scenario's
    own = run.question or plan.text
    text = " ".join(filter(None, [own, plan.filters.get("scenario")]))
    if plan.action_id is None:
        # a figure of the turn's own comes first ("what about just +30%?" after "doubled")
        days = _delay_days(own) or _delay_days(text)
        if plan.supplier and DELAY_WORDS.search(text):
            return _supplier_delay(run, plan, names, lang, days or 7)
        demand = _first(_demand_factor, own, text) if DEMAND_WORDS.search(text) else None
        if demand is not None and not LANE_WORDS.search(text) and demand != 1.0:
            return _demand_change(run, plan, names, lang, demand)
        factor = _first(_lane_factor, own, text)
        if LANE_WORDS.search(text) and factor is not None and plan.locations:
            return _lane_cost(run, plan, names, lang, factor)
        if CLOSE_WORDS.search(text) and _loc(plan) and not plan.products:
            return _closure(run, plan, names, lang, min(days or 7, 28))
        level = PERCENT.search(text)
        if level and SERVICE_WORDS.search(text) and 50 <= float(level.group(1)) < 100:
            return _service_level(run, plan, names, lang, float(level.group(1)) / 100)
        if UNSIMULATED.search(text):
            return _cannot(lang)
    action_id = plan.action_id
    loc = _loc(plan)
    if action_id is None and not plan.products and loc:
        found = run("suggested_transfers", to_location=loc, top=10)
        proposed = [x for x in (found.data["rows"] if found else []) if x.get("action_id")]
        if proposed:
            action_id = proposed[0]["action_id"]
    r = run("simulate_what_if", action_id=action_id) if action_id is not None else None
    if action_id is not None and (r is None or not r.data) and not (plan.products and loc):
        return _failed(run, lang)
    # an action that cannot be replayed alone (an expedite adds no units): the item as it is
    if r is not None and r.data:
        rows = r.data
        without = next((x for x in rows if x["case"] == "without it"), rows[0])
        with_it = next((x for x in rows if x["case"] == "with it"), None)
        run.about({"sku": None, "location": without["location"]})
        lead = pick(
            lang,
            f"Without action #{action_id}, {names.location(without['location'], lang)} "
            f"{_outcome_words(without, lang)}.",
            f"如果不执行行动 #{action_id}，{names.location(without['location'], lang)}"
            f"{_outcome_words(without, lang)}。",
        )
        support = []
        if with_it is not None:
            support.append(
                pick(
                    lang,
                    f"With it, it {_outcome_words(with_it, lang)}.",
                    f"执行后：{_outcome_words(with_it, lang)}。",
                )
            )
        return Composed(lead, tuple(support))
    if not plan.products:
        return _need(plan, lang, "product")
    sku = plan.products[0]
    if loc is None:
        found = run("list_exceptions", rule="stockout", sku=sku, top=1)
        rows = found.data["rows"] if found else []
        if not rows:
            return _need(plan, lang, "location")
        loc = rows[0]["location"]
    units = plan.quantity or 0
    if units and plan.source and not plan.destination:
        # "pull 1000 units of X out of Kunshan": that many fewer there
        loc, units = plan.source, -units
    r = run("simulate_what_if", sku=sku, location=loc, units=units)
    if r is None or not r.data:
        return _failed(run, lang)
    rows = r.data
    base = rows[0]
    lead = pick(
        lang,
        f"If nothing is done, {names.product(sku, lang)} at {names.location(loc, lang)} "
        f"{_outcome_words(base, lang)}.",
        f"如果不采取行动，{names.product(sku, lang)}在{names.location(loc, lang)}"
        f"{_outcome_words(base, lang)}。",
    )
    support = []
    if len(rows) > 1:
        support.append(
            pick(
                lang,
                f"With {num(abs(units))} {'fewer' if units < 0 else 'more'} units, it "
                f"{_outcome_words(rows[1], lang)}.",
                f"{'减少' if units < 0 else '增加'} {num(abs(units))} 件后：{_outcome_words(rows[1], lang)}。",
            )
        )
    return Composed(lead, tuple(support))


ACTION_KINDS = (
    ("transfer", re.compile(r"(?i)transfer|\bmove|调拨|调货|移库")),
    ("purchase_order", re.compile(r"(?i)\bpo\b|\bpos\b|purchase|\border|采购|订单")),
    ("expedite", re.compile(r"(?i)expedite|chase|催货|加急")),
)


SEND_WORDS = re.compile(
    r"(?i)\be-?mail|\bsend\b|\bforward|\bmessage\b|\bwechat|发邮件|邮件|转发|发给|抄送|微信|通知"
)
DECIDE_WORDS = re.compile(r"(?i)approv|reject|\bpost|批|驳回|过账|审批")


def decline_write(run: _Run, plan: Plan, names: Names, lang: str) -> Composed:
    text = run.question or plan.text or ""
    declined = _declined(run, plan, names, lang, text)
    if SEND_WORDS.search(text) and not DECIDE_WORDS.search(text):
        # "email Baiyun and tell them to expedite": no message is sent; the actions an
        # approver decides on (its expedites) and how to send a list oneself
        return Composed(
            pick(
                lang,
                "I can't do that: I only read the data and never send e-mails or messages.",
                "这个我不能做：我只读取数据，不会发送邮件或消息。",
            ),
            (
                pick(
                    lang,
                    "Each list on the dashboard downloads as a file to send, and reports export "
                    "from the Reports page.",
                    "仪表盘上的每个列表都可以下载为文件发送，报告可在“报告”页面导出。",
                ),
                *declined.support,
            ),
        )
    return declined


def _declined(run: _Run, plan: Plan, names: Names, lang: str, text: str) -> Composed:
    """A write request declined, with where an approver decides and the actions it names."""
    if plan.action_id is not None:
        r = run("action_status", action_id=plan.action_id)
        if r is not None:
            d = r.data
            return c.declined(lang, [(d["action_id"], c.action_words(d, names, lang))], 1)
    kind = next((k for k, pattern in ACTION_KINDS if pattern.search(text)), None)
    # the actions the request names: of its kind, supplier, product and place
    narrowed = {
        "supplier": plan.supplier,
        "sku": plan.products[0] if len(plan.products) == 1 else None,
        "location": plan.locations[0] if len(plan.locations) == 1 else None,
    }
    r = run("action_status", status="proposed", kind=kind, top=3, **narrowed)
    if r is None:
        return c.declined(lang, [], 0)
    d = r.data
    return c.declined(
        lang, [(x["action_id"], _action_words(x, names, lang)) for x in d["rows"][:3]], d["total"]
    )


KIND_WORDS = {
    "transfer": ("transfer", "调拨"),
    "purchase_order": ("purchase order", "采购"),
    "expedite": ("expedite", "催货"),
    "request_allocation": ("allocation request", "请求分配"),
}


def _action_words(x: dict, names: Names, lang: str) -> str:
    kind = x.get("kind", "")
    word = KIND_WORDS.get(kind, (kind, kind))[1 if lang == "zh" else 0]
    sku = x.get("sku")
    return f"{word} {names.product(sku, lang) if sku else ''}".strip()


def out_of_scope(run: _Run, plan: Plan, names: Names, lang: str) -> Composed:
    return c.out_of_scope(lang)


def ambiguous(run: _Run, plan: Plan, names: Names, lang: str) -> Composed:
    subject = ""
    if plan.products:
        # the product as the master data names it (the code shown comes from a tool)
        run("search_products", query=plan.products[0], limit=1)
        subject = names.product(plan.products[0], lang)
    elif plan.locations:
        subject = names.location(plan.locations[0], lang)
    elif plan.supplier:
        subject = names.supplier(plan.supplier, lang)
    alternatives = list(plan.alternatives) or (
        ["stock_level", "stockouts_upcoming", "excess_dead"]
        if (plan.locations or plan.products)
        else ["top_risks", "kpi"]
    )
    return c.clarify(alternatives, lang, subject)


KINDS: dict[str, Callable[[_Run, Plan, Names, str], Composed]] = {
    "stock_level": stock_level,
    "stockouts_upcoming": stockouts_upcoming,
    "stockout_item": stockout_item,
    "top_risks": top_risks,
    "kpi": kpi,
    "ranking": ranking,
    "compare": compare,
    "transfer_suggest": transfer_suggest,
    "transfer_cost": transfer_cost,
    "plan_why": plan_why,
    "order_suggest": order_suggest,
    "vmi": vmi,
    "supplier_owed": supplier_owed,
    "settlement": settlement,
    "late_inbound": late_inbound,
    "excess_dead": excess_dead,
    "forecast": forecast,
    "policy": policy,
    "supplier_performance": supplier_performance,
    "action_status": action_status,
    "what_if": what_if,
    "decline_write": decline_write,
    "out_of_scope": out_of_scope,
    "ambiguous": ambiguous,
}


def respond(ctx: ToolContext, plan: Plan, names: Names, question: str = "") -> Reply:
    """The composed answer to ``plan`` (``question``: its words as asked, for what a plan
    does not type: a scenario's percentage, the kind of action a request names) and the
    tool calls behind it."""
    run = _Run(ctx)
    run.question = question
    lang = plan.lang if plan.lang in c.LANGS else "en"
    kind = KINDS.get(plan.intent, ambiguous)
    composed = kind(run, plan, names, lang)
    ids = sorted({int(i) for r in run.results for i in _ids(r.data)})
    return Reply(composed, run.calls, run.results, ids, run.subject, run.rows, tuple(run.errors))


def _ids(data) -> list[int]:
    rows = (
        data.get("rows", []) if isinstance(data, dict) else data if isinstance(data, list) else []
    )
    out = []
    for x in rows[:10]:
        if isinstance(x, dict) and x.get("action_id"):
            out.append(x["action_id"])
    if isinstance(data, dict) and data.get("action_id"):
        out.append(data["action_id"])
    return out
