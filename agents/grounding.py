"""Every number an answer states must come from a tool result of the same turn, and every
code it names (a SKU, a PO, an action number) must be one the results name.

Numbers are read from the answer as written (``1,234``, ``97,279.01``, ``99%``, ``-25``,
dates ``2026-11-16``), leaving out the digits inside codes (``BBY-0015``, ``PO-20261027-MNF``,
``500ml``), which name things rather than state figures. A number is supported when a tool
result holds the same value, or a value that rounds to it at the precision the answer wrote
(``97,279`` for 97,279.01; never ``97,280``). A date must appear as that date.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass

DATE = re.compile(r"\b\d{4}-\d{2}-\d{2}\b")
# a code: letters joined to digits by - or _, or digits glued to letters (500ml, x24, 4包)
CODE = re.compile(
    r"\b[A-Za-z]+(?:[-_][A-Za-z0-9]+)+\b|\b\d+[A-Za-z\u4e00-\u9fff]+\w*|\b[A-Za-z]+\d+\w*"
)
NUMBER = re.compile(r"(?<![\w.])[-+]?\d{1,3}(?:,\d{3})+(?:\.\d+)?|(?<![\w.])[-+]?\d+(?:\.\d+)?")


IDENTIFIER = re.compile(r"\b[A-Za-z]+(?:[-_][A-Za-z0-9]+)+\b|#\d+\b")
CODE_NAME = re.compile(r"\b[A-Z][A-Z0-9]*(?:-[A-Z0-9]+)+\b|#\d+\b")  # BBY-0015, RDC-CD, #12
SENTENCE = re.compile(r"(?<=[.!?。！？])\s+|\n+")


@dataclass(frozen=True)
class Check:
    numbers: tuple[str, ...]  # the numbers the answer states
    unsupported: tuple[str, ...]  # those no tool result holds, and codes none names

    @property
    def grounded(self) -> bool:
        return not self.unsupported


def stated_numbers(text: str) -> list[str]:
    """Dates and numbers as the text writes them, codes left out."""
    dates = DATE.findall(text)
    rest = DATE.sub(" ", text)
    rest = CODE.sub(" ", rest)
    return dates + [n for n in NUMBER.findall(rest)]


def _value(token: str) -> tuple[float, int]:
    clean = token.replace(",", "").lstrip("+")
    decimals = len(clean.split(".")[1]) if "." in clean else 0
    return float(clean), decimals


def _known(texts: Iterable[str]) -> tuple[set[str], list[float]]:
    dates: set[str] = set()
    values: list[float] = []
    for text in texts:
        dates.update(DATE.findall(text))
        for token in NUMBER.findall(DATE.sub(" ", text)):
            values.append(_value(token)[0])
    return dates, values


def source_texts(results: Iterable) -> list[str]:
    """What the answer may quote: each result's facts and the rows behind them."""
    texts = []
    for r in results:
        texts.extend(r.facts)
        texts.append(json.dumps(r.data, default=str, ensure_ascii=False))
    return texts


def check(answer: str, results: Iterable) -> Check:
    """The answer's numbers, and those not found in the turn's tool results."""
    stated = stated_numbers(answer)
    dates, values = _known(source_texts(results))
    missing = []
    for token in stated:
        if DATE.fullmatch(token):
            if token not in dates:
                missing.append(token)
            continue
        value, decimals = _value(token)
        if not any(_same(value, decimals, v) for v in values):
            missing.append(token)
    # a code the facts do not name (a mangled SKU, an invented PO or action number)
    named = "\n".join(source_texts(results)).casefold()
    for code in IDENTIFIER.findall(answer):
        if any(ch.isdigit() for ch in code) and code.casefold() not in named:
            missing.append(code)
    return Check(tuple(stated), tuple(missing))


def _same(value: float, decimals: int, known: float) -> bool:
    if abs(value - known) <= 1e-9 * max(1.0, abs(known)):
        return True
    if abs(known) < 10 ** (-decimals) and value == 0:  # 0.004 is not "0" short of something
        return False
    return f"{known:.{decimals}f}" == f"{value:.{decimals}f}" or (
        f"{abs(known):.{decimals}f}" == f"{abs(value):.{decimals}f}" and known * value > 0
    )


def _fits(token: str, line: str, line_values: list[float]) -> bool:
    if DATE.fullmatch(token) or CODE_NAME.fullmatch(token):
        return token in line
    value, decimals = _value(token)
    return any(_same(value, decimals, v) for v in line_values)


def mixed_sentences(answer: str, results: Iterable) -> list[str]:
    """Sentences whose figures no single fact line holds together: a date, number or code
    taken from one fact and put with another's (each is in the results, but the pairing is
    invented). A sentence without figures passes."""
    lines = [f for r in results for f in r.facts]
    parsed = [(line, _known([line])[1]) for line in lines]
    bad = []
    for sentence in filter(None, (s.strip() for s in SENTENCE.split(answer))):
        tokens = CODE_NAME.findall(sentence) + stated_numbers(CODE_NAME.sub(" ", sentence))
        if tokens and not any(all(_fits(t, line, vals) for t in tokens) for line, vals in parsed):
            bad.append(sentence)
    return bad
