"""The agent's evaluation set: questions of the kinds managers ask, over whatever store is
given, each with the facts a right answer contains, computed from the core services directly
(not through the agent's tools), so a routing or tool mistake shows as a wrong answer.

Used by ``tests/agent/test_eval.py`` (the targets, with the embedded model) and
``bench/agent_eval.py`` (the rates and latencies, as a table).
"""

from __future__ import annotations

import re
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import polars as pl

from agents import grounding
from agents.agent import Answer, ask
from agents.router import CJK, Catalogue
from agents.tools import ToolResult
from control_tower import actions, exceptions, policies, position
from control_tower.config import Settings
from control_tower.store import Store


@dataclass(frozen=True)
class Case:
    kind: str
    question: str
    expected: tuple[str, ...]  # each must appear in the answer, as the facts write it


@dataclass
class Outcome:
    case: Case
    answer: Answer
    missing: list[str]
    unsupported: list[str]

    @property
    def correct(self) -> bool:
        return not self.missing


@dataclass
class Report:
    outcomes: list[Outcome] = field(default_factory=list)

    @property
    def correct_rate(self) -> float:
        return sum(o.correct for o in self.outcomes) / max(len(self.outcomes), 1)

    @property
    def unsupported_rate(self) -> float:
        """Answers shown with a number (or code) no tool result of the turn holds."""
        return sum(bool(o.unsupported) for o in self.outcomes) / max(len(self.outcomes), 1)

    @property
    def model_rate(self) -> float:
        """Answers shown as the model phrased them (the rest are the fact sheet)."""
        return sum(not o.answer.fallback for o in self.outcomes) / max(len(self.outcomes), 1)

    def latency(self, q: float) -> float:
        values = sorted(o.answer.seconds for o in self.outcomes)
        if not values:
            return 0.0
        if len(values) == 1:
            return values[0]
        return statistics.quantiles(values, n=100, method="inclusive")[int(q * 100) - 1]


def _n(value: float, digits: int = 0) -> str:
    return f"{value:,.{digits}f}"


def _city(store: Store, code: str) -> tuple[str, str]:
    name = store.scalar("SELECT name FROM locations WHERE code = ?", [code]) or code
    latin = CJK.split(name)[0].strip()
    city = latin.split(" RDC")[0].split(" Central")[0]
    han = CJK.findall(name)
    return city, (han[0][:2] if han else city)


def _latin_name(name: str) -> str:
    return CJK.sub(" ", name).split("  ")[0].strip()


def build_cases(store: Store, settings: Settings | None = None) -> list[Case]:
    """At least 40 questions over this store, with their expected facts."""
    settings = settings or Settings()
    if exceptions.latest_run(store) is None:
        raise ValueError("run the exception rules first (control-tower exceptions)")
    items = exceptions.list_exceptions(store)
    cases: list[Case] = []
    add = cases.append

    stockouts = items.filter(pl.col("rule") == "stockout").head(6).to_dicts()
    for i, it in enumerate(stockouts):
        sku, loc, due = it["sku"], it["location"], str(it["due_date"])
        city, han = _city(store, loc)
        name = _latin_name(store.scalar("SELECT name FROM products WHERE sku = ?", [sku]))
        templates = [
            ("stockout", f"Which locations run out of {sku} in the next two weeks?"),
            ("stockout", f"When does {sku} run out at {loc}?"),
            ("stockout", f"When will we run out of {name} in {city}?"),
            ("stockout_zh", f"{han}的{sku}什么时候缺货?"),
            ("why", f"Why is {sku} flagged in {city}?"),
            ("stockout", f"Is {sku} going to be short at {loc} this month?"),
        ]
        kind, question = templates[i % len(templates)]
        add(Case(kind, question, (sku, loc, due)))

    for it in items.filter(pl.col("rule") == "stockout").head(4).to_dicts():
        sku, loc = it["sku"], it["location"]
        city, han = _city(store, loc)
        proj = exceptions.project(store, sku, loc, settings=settings)
        add(
            Case(
                "what_if",
                f"What happens if we don't transfer {sku} to {city}?",
                (sku, loc, str(proj.stockout_date)),
            )
        )

    for it in items.filter(pl.col("rule") == "below_safety_stock").head(2).to_dicts():
        city, han = _city(store, it["location"])
        add(Case("why", f"Why is {it['sku']} flagged in {city}?", (it["sku"], it["location"])))

    excess = items.filter(pl.col("rule") == "excess")
    cats = dict(store.rows("SELECT sku, category FROM products"))
    seen: set[str] = set()
    for it in excess.to_dicts():
        cat = cats.get(it["sku"])
        if not cat or cat in seen:
            continue
        seen.add(cat)
        latin = CJK.split(cat)[0].strip()
        add(Case("excess", f"Where is excess in {latin.lower()}?", (it["sku"], it["location"])))
        if len(seen) >= 3:
            break
    for loc in excess["location"].unique(maintain_order=True).head(2).to_list():
        top = excess.filter(pl.col("location") == loc).row(0, named=True)
        city, han = _city(store, loc)
        add(Case("excess_zh", f"{han}有哪些积压库存?", (top["sku"], loc)))

    dead = items.filter(pl.col("rule") == "dead_stock")
    for loc in dead["location"].unique(maintain_order=True).head(2).to_list():
        top = dead.filter(pl.col("location") == loc).row(0, named=True)
        city, _han = _city(store, loc)
        add(Case("dead", f"Any dead stock in {city}?", (top["sku"], loc)))

    late = items.filter(pl.col("rule") == "late_inbound").head(1).to_dicts()
    for it in late:
        add(Case("late", "Which purchase orders are late?", (it["reference"],)))
        add(Case("late_zh", "哪些采购订单延迟了?", (it["reference"],)))

    lead = store.query(
        "SELECT supplier, avg(lead_time_mean_days) AS lead FROM supplier_products "
        "GROUP BY supplier ORDER BY lead, supplier"
    )
    if lead.height:
        fastest, slowest = lead.row(0, named=True), lead.row(-1, named=True)
        add(
            Case(
                "suppliers",
                "Compare supplier lead times",
                (fastest["supplier"], _n(fastest["lead"], 1)),
            )
        )
        add(
            Case(
                "suppliers_zh", "哪些供应商交期最长?", (slowest["supplier"], _n(slowest["lead"], 1))
            )
        )
    by_cat = store.query(
        "SELECT p.category, sp.supplier, avg(sp.lead_time_mean_days) AS lead FROM "
        "supplier_products sp JOIN products p USING (sku) GROUP BY ALL ORDER BY p.category, lead"
    )
    for cat in by_cat["category"].unique(maintain_order=True).head(2).to_list():
        row = by_cat.filter(pl.col("category") == cat).row(0, named=True)
        latin = CJK.split(cat)[0].strip().lower()
        add(Case("suppliers", f"Compare supplier lead times for {latin}", (row["supplier"],)))

    live = actions.list_actions(store, statuses=["proposed", "approved"])
    transfers = live.filter(pl.col("kind") == "transfer")
    for loc in transfers["to_location"].unique(maintain_order=True).sort().head(3).to_list():
        top = transfers.filter(pl.col("to_location") == loc).sort(
            ["quantity", "action_id"], descending=[True, True]
        )
        top = top.row(0, named=True)
        city, han = _city(store, loc)
        add(Case("moves", f"What would you move to {city}?", (f"#{top['action_id']}", top["sku"])))

    pairs = (
        position.stock_position(store, settings=settings.position)
        .filter(pl.col("location_kind") == "regional_dc")
        .filter(pl.col("available") > 0)
        .sort(["stock_value", "sku"], descending=[True, False])
        .head(4)
        .to_dicts()
    )
    for i, r in enumerate(pairs):
        sku, loc = r["sku"], r["location"]
        city, han = _city(store, loc)
        if i % 2 == 0:
            add(Case("position", f"How much {sku} do we have at {loc}?", (_n(r["available"]),)))
        else:
            add(Case("position_zh", f"{han}有多少{sku}库存?", (_n(r["available"]),)))
        policy = policies.explain_policy(
            store, sku, loc, settings.policies, position_settings=settings.position
        )
        add(
            Case(
                "policy",
                f"What is the safety stock of {sku} at {loc}?",
                (_n(policy.safety_stock, 1),),
            )
        )
        days = exceptions.project(store, sku, loc, settings=settings).days.head(14)
        add(
            Case(
                "forecast",
                f"What is the forecast for {sku} at {loc} for the next 14 days?",
                (_n(float(days["demand"].sum())),),
            )
        )
    network = position.sku_network(store, pairs[0]["sku"]).filter(
        pl.col("location_kind").is_in(["central_dc", "regional_dc", "store"])
    )
    add(
        Case(
            "position",
            f"How much {pairs[0]['sku']} is in stock across the network?",
            (_n(network["available"].sum()),),
        )
    )

    products = store.rows("SELECT sku, name FROM products ORDER BY sku")
    for sku, name in products[:: max(len(products) // 3, 1)][:3]:
        han = CJK.findall(name)
        if han:
            add(Case("search_zh", f"查找 {han[0]}", (sku,)))
    return cases


def _shown_unsupported(answer: Answer) -> list[str]:
    results = [ToolResult(c.tool, c.args, c.facts, [], c.sources) for c in answer.calls]
    return list(grounding.check(answer.text, results).unsupported)


def _present(token: str, text: str) -> bool:
    if re.fullmatch(r"[\d,]+(?:\.\d+)?", token):
        return re.search(rf"(?<![\d,.]){re.escape(token)}(?![\d])", text) is not None
    return token in text


def evaluate(
    store: Store,
    cases: list[Case],
    *,
    settings: Settings | None = None,
    use_model: bool = True,
    progress: Callable[[int, int], None] | None = None,
) -> Report:
    """Ask every case (once), then score: the expected facts present, and no figure shown
    that no tool gave."""
    catalogue = Catalogue.read(store)
    report = Report()
    for i, case in enumerate(cases):
        started = time.perf_counter()
        answer = ask(
            store,
            case.question,
            settings=settings,
            use_model=use_model,
            catalogue=catalogue,
            log_run=False,
        )
        answer.seconds = time.perf_counter() - started
        missing = [t for t in case.expected if not _present(t, answer.text)]
        report.outcomes.append(Outcome(case, answer, missing, _shown_unsupported(answer)))
        if progress:
            progress(i + 1, len(cases))
    return report
