"""The grounding check: numbers and dates as written, codes left out of the numbers but
checked as names, rounding only to the precision written, and figures that must come from
one fact line together."""

from __future__ import annotations

from agents import grounding
from agents.tools import ToolResult


def result(*facts: str, data=None) -> ToolResult:
    return ToolResult("t", {}, tuple(facts), data or [], ())


FACTS = result(
    "BBY-0015 at CDC-KS: 12 available, sells 32.1 a day; runs out on 2026-11-16; "
    "149 x 654.92 = 97,279.01 of sales at risk.",
    "SUP-MNF: 58 SKUs, lead time 11.0 days, on time 83%.",
)


def test_numbers_are_read_as_written_and_codes_are_not_numbers():
    text = "BBY-0015 (500ml x24, PO-20261027-MNF) has 1,234.5 units, -25 on 2026-11-16, 99%."
    assert grounding.stated_numbers(text) == ["2026-11-16", "1,234.5", "-25", "99"]


def test_supported_numbers_rounded_to_the_precision_written():
    ok = grounding.check("BBY-0015 runs out on 2026-11-16 with 97,279 of sales at risk.", [FACTS])
    assert ok.grounded and ok.numbers == ("2026-11-16", "97,279")
    assert grounding.check("It sells 32 a day.", [FACTS]).grounded  # 32.1 at 0 decimals
    wrong = grounding.check("97,280 at risk from 2026-11-17, 150 short.", [FACTS])
    assert wrong.unsupported == ("2026-11-17", "97,280", "150")


def test_invented_codes_are_unsupported():
    bad = grounding.check("Beverly-0015 at CDC-KS and PO-1234 are late.", [FACTS])
    assert set(bad.unsupported) == {"Beverly-0015", "PO-1234"}
    assert grounding.check("BBY-0015 and SUP-MNF.", [FACTS]).grounded


def test_figures_must_come_from_one_fact_line():
    assert grounding.mixed_sentences("BBY-0015 runs out on 2026-11-16.", [FACTS]) == []
    mixed = "BBY-0015 has a lead time of 11.0 days."  # 11.0 is SUP-MNF's
    assert grounding.mixed_sentences(mixed, [FACTS]) == [mixed]
    assert grounding.mixed_sentences("Nothing else is short.", [FACTS]) == []


def test_numbers_beside_chinese_units_and_words_are_checked_too():
    bad = grounding.check("BBY-0015 在CDC-KS 还有999件，需要补货800件，5天后到货。", [FACTS])
    assert set(bad.unsupported) == {"999", "800", "5"}
    assert grounding.check("need 97,279units within 3days", [FACTS]).unsupported == ("3",)
    assert set(grounding.check("twenty units, 五百件", [FACTS]).unsupported) == {
        "twenty",
        "五",
        "百",
    }
    assert grounding.check("BBY-0015 在CDC-KS 有12件可用。", [FACTS]).grounded
