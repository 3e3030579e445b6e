"""The agent's evaluation on its corpus (:mod:`agents.corpus`): questions written the way
managers ask, filled with the entities of whatever store is given, asked turn by turn (a
follow-up in its conversation's session), and scored per question:

- **understood**: the kind of question (intent) is the one the corpus gives, every entity the
  question names (product, location, the other location, supplier, category, action; a
  transfer's source and destination in their roles) is in the plan, and the slots the corpus
  states for the kind (metric, period, horizon, group, top N, order, comparison) are read as
  stated;
- **answered**: the first sentence is an answer (no tool refused, not "could not find"), a
  decline changes nothing in the store and says who decides, an out-of-scope question says
  what the agent can do, an unclear one is asked back;
- **in the question's language**: a Chinese question gets a Chinese answer, an English one an
  English answer (a mixed one either);
- **grounded**: every figure the answer shows is in a tool result of the turn, never in data
  text.

A question is **correct** when it is understood and answered. Used by
``bench/agent_eval.py`` (the table by kind and language, and the latency) and
``tests/agent/test_eval.py`` (floors on the dev part).
"""

from __future__ import annotations

import re
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from agents import corpus
from agents.agent import Answer, ask
from agents.answers import MEASURE_OF
from control_tower.actions import Actor
from control_tower.config import Settings
from control_tower.store import Store

CJK = re.compile(r"[\u3400-\u9fff]")
LATIN_WORD = re.compile(r"[A-Za-z]{2,}")
FAILED = re.compile(r"could not find|没有找到相关数据|can't simulate that|还无法模拟")
DECLINED = re.compile(r"can't do that|不能做")
APPROVER = re.compile(r"approver|审批")
OUT_OF_SCOPE = re.compile(r"outside what I can answer|超出了我的范围")
ASKED_BACK = re.compile(r"[?？]\s*$")


@dataclass
class Outcome:
    realised: corpus.Realised
    answer: Answer
    understood: bool
    answered: bool
    language_ok: bool
    unsupported: list[str]
    problems: list[str] = field(default_factory=list)

    @property
    def correct(self) -> bool:
        return self.understood and self.answered


@dataclass
class Report:
    part: str
    outcomes: list[Outcome] = field(default_factory=list)

    def rate(self, what: str, outcomes: list[Outcome] | None = None) -> float:
        rows = self.outcomes if outcomes is None else outcomes
        if not rows:
            return 0.0
        if what == "grounded":
            return sum(not o.unsupported for o in rows) / len(rows)
        return sum(bool(getattr(o, what)) for o in rows) / len(rows)

    def latency(self, q: float) -> float:
        values = sorted(o.answer.seconds for o in self.outcomes)
        if not values:
            return 0.0
        if len(values) == 1:
            return values[0]
        return statistics.quantiles(values, n=100, method="inclusive")[int(q * 100) - 1]

    def by(self, key: Callable[[Outcome], str]) -> dict[str, list[Outcome]]:
        out: dict[str, list[Outcome]] = {}
        for o in self.outcomes:
            out.setdefault(key(o), []).append(o)
        return dict(sorted(out.items()))


def answer_language(text: str) -> str:
    """zh when the answer's own words are Chinese (more Chinese characters than Latin words
    outside codes and tables), else en."""
    head = text.split("\n\n")[0]
    head = re.sub(r"\b[A-Z]{2,5}-[A-Z0-9-]+\b", " ", head)
    return "zh" if len(CJK.findall(head)) > len(LATIN_WORD.findall(head)) else "en"


def _expected_entities(r: corpus.Realised) -> dict[str, str]:
    """What the plan must hold: role group -> code (or name, for a category or region)."""
    e = r.entities
    text = r.question.text
    out: dict[str, str] = {}
    if "product" in e:
        out["product"] = e["product"]["sku"]
    if "location" in e:
        if "{region" in text and not re.search(r"\{(loc|city|city_zh)\}", text):
            out["region"] = e["location"]["region"]
        else:
            out["location"] = e["location"]["loc"]
    if "location2" in e:
        out["location2"] = e["location2"]["loc2"]
    if "supplier" in e:
        out["supplier"] = e["supplier"]["supplier"]
    if "category" in e:
        out["category"] = e["category"]["category"]
    if "action" in e:
        out["action"] = e["action"]["action"]
    return out


def _inherited(r: corpus.Realised, turns: dict[str, corpus.Realised]) -> dict[str, str]:
    """A follow-up without placeholders of its own is about its conversation's entities,
    except a place it names literally ("and Chengdu?") or the network it turns to."""
    q = r.question
    if not q.follows or corpus.PLACEHOLDER.search(q.text):
        return _expected_entities(r)
    out = dict(_inherited(turns[q.follows], turns)) if q.follows in turns else {}
    if r.literal_places or q.slots.get("scope") in ("network", "region"):
        out.pop("location", None)
        out.pop("location2", None)
        out.pop("region", None)
    return out


def _places_read(plan, r: corpus.Realised) -> list[str]:
    """Places named literally that the plan did not read (any code a name may mean will do)."""
    if plan is None or plan.intent in ("decline_write", "out_of_scope", "ambiguous"):
        return []
    places = set(plan.locations) | {plan.source, plan.destination}
    return [
        f"location {'/'.join(sorted(codes))} not read ({plan.locations})"
        for codes in r.literal_places[:1]
        if not codes & places
    ]


def _understood(plan, kind: str, slots: dict, expected: dict[str, str]) -> list[str]:
    problems = []
    if plan is None:
        return ["no plan"]
    if plan.intent != kind:
        problems.append(f"intent {plan.intent}, not {kind}")
        return problems
    if kind in ("decline_write", "out_of_scope", "ambiguous"):
        return problems
    places = set(plan.locations) | {plan.source, plan.destination}
    for group, value in expected.items():
        if group == "product" and value not in plan.products:
            problems.append(f"product {value} not read ({plan.products})")
        elif group in ("location", "location2") and value not in places:
            problems.append(f"location {value} not read ({plan.locations})")
        elif group == "supplier" and value != plan.supplier and value not in plan.suppliers:
            problems.append(f"supplier {value} not read ({plan.supplier})")
        elif group == "category" and value != plan.category and value not in plan.categories:
            problems.append(f"category {value} not read ({plan.category})")
        elif group == "region" and value != plan.region and value not in plan.regions:
            problems.append(f"region {value} not read ({plan.region})")
        elif group == "action" and str(plan.action_id) != str(value):
            problems.append(f"action {value} not read ({plan.action_id})")
    for name in ("metric", "period", "horizon_days", "group_by", "top_n", "order"):
        if name in slots and slots[name] is not None:
            got = getattr(plan, name, None)
            want = slots[name]
            if name == "metric" and kind in ("ranking", "compare"):
                want, got = MEASURE_OF.get(str(want), want), MEASURE_OF.get(str(got), got)
            if got != want:
                problems.append(f"{name} {got!r}, not {want!r}")
    if "measure" in slots and kind in ("ranking", "compare", "supplier_performance"):
        want = MEASURE_OF.get(slots["measure"], slots["measure"])
        got = MEASURE_OF.get(str(plan.metric), plan.metric)
        if got != want:
            problems.append(f"measure {plan.metric!r}, not {slots['measure']!r}")
    if slots.get("compare") and not plan.compare and kind == "kpi":
        problems.append("not read as a comparison with the period before")
    return problems


def _answered(kind: str, answer: Answer, changed: bool) -> list[str]:
    text = answer.text
    lead = text.split("\n")[0]
    problems = []
    errors = [c for c in answer.calls if c.error]
    if kind == "decline_write":
        if changed:
            problems.append("the store changed")
        if not DECLINED.search(lead) or not APPROVER.search(text):
            problems.append("not declined, or without who decides")
        return problems
    if kind == "out_of_scope":
        if not OUT_OF_SCOPE.search(lead):
            problems.append("not said to be out of scope")
        return problems
    if kind == "ambiguous":
        if not ASKED_BACK.search(lead):
            problems.append("not asked back")
        return problems
    if FAILED.search(lead):
        problems.append(f"no answer: {lead[:120]}")
    elif errors and not answer.calls[-1].facts:
        problems.append(f"a tool refused: {errors[0].error[:120]}")
    if ASKED_BACK.search(lead) and kind != "ambiguous":
        problems.append("asked back instead of answering")
    return problems


def _actions_state(store: Store) -> tuple:
    return tuple(store.rows("SELECT action_id, status, quantity FROM actions ORDER BY action_id"))


def evaluate(
    store: Store,
    part: str,
    *,
    settings: Settings | None = None,
    actor: Actor | None = None,
    progress: Callable[[int, int], None] | None = None,
    questions: list[corpus.Question] | None = None,
    one_session: bool = False,
) -> Report:
    """Ask every question of ``part`` (in order: a follow-up in its conversation's session)
    and score it (see the module docstring). ``one_session``: every question in one session,
    as a manager asks one after another: a new question must not be taken for a follow-up
    of the unrelated one before it."""
    settings = settings or Settings()
    actor = actor or Actor("eval.viewer", "viewer")
    asked = corpus.realise(store, questions if questions is not None else corpus.load(part))
    turns = {r.question.id: r for r in asked}
    report = Report(part)
    for i, r in enumerate(asked):
        q = r.question
        before = _actions_state(store) if q.kind == "decline_write" else None
        started = time.perf_counter()
        answer = ask(
            store,
            r.text,
            settings=settings,
            actor=actor,
            session=f"eval-{part}" if one_session else f"eval-{part}-{r.conversation}",
            log_run=True,
        )
        answer.seconds = time.perf_counter() - started
        changed = before is not None and _actions_state(store) != before
        expected = _inherited(r, turns)
        understood = _understood(answer.plan, q.kind, q.slots, expected)
        if not understood:
            understood = _places_read(answer.plan, r)
        answered = _answered(q.kind, answer, changed)
        lang_ok = q.lang == "mixed" or answer_language(answer.text) == q.lang
        unsupported = list(answer.unsupported)
        report.outcomes.append(
            Outcome(
                r,
                answer,
                not understood,
                not answered,
                lang_ok,
                unsupported,
                understood + answered + ([] if lang_ok else ["answered in the other language"]),
            )
        )
        if progress:
            progress(i + 1, len(asked))
    return report


__all__ = ["Outcome", "Report", "answer_language", "evaluate"]
