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

DATE = re.compile(r"(?<!\d)\d{4}-\d{2}-\d{2}(?!\d)")
# a code: letters joined to letters or digits by - or _ (BBY-0015, PO-20261027-MNF)
CODE = re.compile(r"(?<![0-9A-Za-z])[A-Za-z]+(?:[-_][A-Za-z0-9]+)+")
# digits glued to Latin letters (500ml, x24, 3days): a name's part when the facts write it so
GLUED = re.compile(r"(?<![0-9A-Za-z])(?:\d+(?:\.\d+)?[A-Za-z]+|[A-Za-z]+\d+)[A-Za-z0-9]*")
NUMBER = re.compile(
    r"(?<![0-9A-Za-z.,])[-+]?\d{1,3}(?:,\d{3})+(?:\.\d+)?|(?<![0-9A-Za-z.,])[-+]?\d+(?:\.\d+)?"
)
# figures written in words: never in the facts, so never checkable
NUMBER_WORDS = re.compile(
    r"(?i)\b(?:zero|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|thirteen|"
    r"fifteen|twenty|thirty|forty|fifty|sixty|hundreds?|thousands?|millions?|billions?|dozens?|"
    r"half|double|twice|triple)\b|[零一二三四五六七八九十百千万亿两]"
)


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


def stated_numbers(text: str, names: str | None = None) -> list[str]:
    """Dates and numbers as the text writes them, codes left out. A token of digits glued to
    letters (``500ml``) is a name's part, left out too, when ``names`` is None or holds it;
    otherwise its number counts (``3days`` states 3)."""
    dates = DATE.findall(text)
    rest = CODE.sub(" ", DATE.sub(" ", text))
    if names is None:
        rest = GLUED.sub(" ", rest)
    else:
        kept = names.casefold()
        rest = GLUED.sub(lambda m: " " if m.group(0).casefold() in kept else m.group(0), rest)
        rest = re.sub(r"(\d)([A-Za-z])", r"\1 \2", rest)  # 3days -> 3 days
        rest = re.sub(r"([A-Za-z])(\d)", r"\1 \2", rest)
    return dates + NUMBER.findall(rest)


# words with a numeral character that state no figure ("the period before", "consistent")
NOT_FIGURES = re.compile(
    r"上一|下一|一下|一共|一个|统一|唯一|一起|之一|一致|一直|一些|一般|进一步|一旦|万一|一样|"
    r"第一|一段|一次性|一览|逐一|两者|两个仓|前一天|后一天|同一"
)


def words_for_figures(text: str, names: str) -> list[str]:
    """Figures written in words (``twenty``, ``五百``) that the facts do not write."""
    kept = names.casefold()
    text = NOT_FIGURES.sub(" ", text)
    return [w for w in NUMBER_WORDS.findall(text) if w.casefold() not in kept]


def _value(token: str) -> tuple[float, int]:
    clean = token.replace(",", "").lstrip("+")
    decimals = len(clean.split(".")[1]) if "." in clean else 0
    return float(clean), decimals


def _known(texts: Iterable[str]) -> tuple[set[str], list[float]]:
    dates: set[str] = set()
    values: list[float] = []
    for text in texts:
        dates.update(DATE.findall(text))
        plain = re.sub(r"(\d)([A-Za-z])", r"\1 \2", CODE.sub(" ", DATE.sub(" ", text)))
        for token in NUMBER.findall(re.sub(r"([A-Za-z])(\d)", r"\1 \2", plain)):
            values.append(_value(token)[0])
    return dates, values


# fields of a tool's rows that hold text from the data (names people typed or imported,
# notes, messages): what they say is shown as data and never supports a figure
DATA_TEXT_KEYS = frozenset(
    {
        "name",
        "name_en",
        "name_zh",
        "product",
        "product_name",
        "supplier_name",
        "location_name",
        "category",
        "region",
        "note",
        "notes",
        "message",
        "comment",
        "rejection_reason",
        "decision_reason",
    }
)
# fields the project's own code writes as sentences (an explanation, a rule's detail): their
# figures come from the same computation as the rows' numbers and may be quoted
CODE_TEXT_KEYS = frozenset(
    {
        "why",
        "if_nothing_done",
        "with_it",
        "title",
        "detail",
        "describe",
        "basis",
        "definition",
        "quantity_basis",
        "text",
        "formula",
    }
)
MILLIONS = re.compile(r"(\d[\d,]*(?:\.\d+)?) ?M\b")


def source_texts(results: Iterable) -> list[str]:
    """What the answer may quote: each result's facts and the rows behind them."""
    texts = []
    for r in results:
        texts.extend(r.facts)
        texts.append(json.dumps(r.data, default=str, ensure_ascii=False))
    return texts


def _walk(data, key: str | None, numbers: list[float], dates: set[str], texts: set[str]) -> None:
    if isinstance(data, bool) or data is None:
        return
    if isinstance(data, int | float):
        numbers.append(float(data))
    elif isinstance(data, str):
        if key in DATA_TEXT_KEYS:
            if any(ch.isdigit() for ch in data):
                texts.add(data)
        elif key in CODE_TEXT_KEYS:
            found_dates, found = _known([data])
            dates.update(found_dates)
            numbers.extend(found)
        else:
            dates.update(DATE.findall(data))
    elif isinstance(data, dict):
        for k, v in data.items():
            _walk(v, str(k), numbers, dates, texts)
    elif isinstance(data, list | tuple):
        for v in data:
            _walk(v, key, numbers, dates, texts)
    else:  # a date, a Decimal
        text = str(data)
        if DATE.fullmatch(text):
            dates.add(text)
        else:
            try:
                numbers.append(float(text))
            except ValueError:
                pass


def _without(text: str, names: Iterable[str]) -> str:
    for name in sorted(set(names), key=len, reverse=True):
        if len(name) >= 2:
            text = text.replace(name, " ")
    return text


def supported(
    results: Iterable, names: Iterable[str] = ()
) -> tuple[set[str], list[float], set[str]]:
    """The dates and values a turn's tool results state, and the data texts among them.
    Values come from the rows' numbers and from the facts with every data text (a name, a
    note) taken out first: a product called "... stock is 999999" grounds nothing."""
    numbers: list[float] = []
    dates: set[str] = set()
    texts: set[str] = set(names)
    facts: list[str] = []
    for r in results:
        _walk(r.data, None, numbers, dates, texts)
        facts.extend(r.facts)
    fact_dates, fact_values = _known([_without(f, texts) for f in facts])
    return dates | fact_dates, numbers + fact_values, texts


def check(answer: str, results: Iterable, names: Iterable[str] = ()) -> Check:
    """The answer's numbers, and those not found in the turn's tool results. ``names``: the
    data texts the answer shows as names (products, locations, suppliers): the digits inside
    them state nothing, and neither they nor any data text in the results support a figure.
    ``1.23 M`` states 1,230,000 to the nearest 10,000."""
    results = list(results)
    texts = source_texts(results)
    dates, values, data_texts = supported(results, names)
    shown = _without(answer, data_texts)
    millions = [(m.group(0), m.group(1)) for m in MILLIONS.finditer(shown)]
    shown = MILLIONS.sub(" ", shown)
    stated = stated_numbers(shown, "\n".join(texts))
    missing = []
    for token, figure in millions:
        value, decimals = _value(figure)
        if not any(_same(value, decimals, v / 1_000_000) for v in values):
            missing.append(token)
    for token in stated:
        if DATE.fullmatch(token):
            if token not in dates:
                missing.append(token)
            continue
        value, decimals = _value(token)
        if not any(_same(value, decimals, v) for v in values):
            missing.append(token)
    stated = [t for t, _ in millions] + stated
    answer = shown
    # a code the facts do not name (a mangled SKU, an invented PO or action number)
    named = "\n".join(texts).casefold()
    missing += words_for_figures(answer, named)
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
