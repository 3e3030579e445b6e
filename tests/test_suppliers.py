"""Supplier performance from actual receipts, on crafted PO lines: on time or late against
the expected date (with a grace), lead time from order to first receipt, fill rate over the
lines already due, and receipts after the as-of date not seen. Measured lead times: per SKU
with enough lines, scaled from the supplier's record without, stated without either, and
nothing after the as-of date seen."""

from __future__ import annotations

import math
import statistics

import pytest

from control_tower.config import SupplierSettings
from control_tower.suppliers import lead_times, supplier_performance
from tests.test_position import AS_OF, add_purchase_orders, day, mv, post


def receipt(store, event: str, offset: int, po: str, units: int) -> None:
    post(store, mv(event, offset, "A-100", "SH-CDC", "receipt", units, reference=po))


@pytest.fixture
def history(network):
    """SUP1's four lines of A-100 to SH-CDC, ordered 40, 30, 20 and 10 days ago:
    PO-A due day -30, in full on day -31 (lead 9, on time);
    PO-B due day -20, in full on day -16 (lead 14, 4 days late);
    PO-C due day -5, 60 of 100 on day -4 (lead 16, 1 day late);
    PO-D due day +5, not yet due, nothing received; and a receipt after AS_OF for PO-C."""
    add_purchase_orders(
        network,
        [
            ("PO-A", "A-100", "SH-CDC", 50, day(-40), day(-30), "closed"),
            ("PO-B", "A-100", "SH-CDC", 80, day(-30), day(-20), "closed"),
            ("PO-C", "A-100", "SH-CDC", 100, day(-20), day(-5), "open"),
            ("PO-D", "A-100", "SH-CDC", 70, day(-10), day(5), "open"),
        ],
    )
    receipt(network, "R-A", -31, "PO-A", 50)
    receipt(network, "R-B", -16, "PO-B", 80)
    receipt(network, "R-C", -4, "PO-C", 60)
    receipt(network, "R-C2", 2, "PO-C", 40)  # after AS_OF: not seen
    return network


def test_on_time_lead_time_and_fill_rate_from_the_receipts(history):
    row = supplier_performance(history, as_of=AS_OF).row(0, named=True)
    assert (row["supplier"], row["lines"], row["received_lines"]) == ("SUP1", 4, 3)
    assert row["on_time_rate"] == pytest.approx(1 / 3)
    assert row["lead_time_mean_days"] == pytest.approx((9 + 14 + 16) / 3)
    assert row["lead_time_sd_days"] == pytest.approx(3.6055, abs=1e-3)
    # due by AS_OF: A, B and C: (50 + 80 + 60) of (50 + 80 + 100)
    assert row["fill_rate"] == pytest.approx(190 / 230)


def test_a_grace_window_and_a_shorter_window(history):
    graced = supplier_performance(history, as_of=AS_OF, grace_days=1).row(0, named=True)
    assert graced["on_time_rate"] == pytest.approx(2 / 3)  # PO-C's one day late is forgiven
    recent = supplier_performance(history, as_of=AS_OF, days=25).row(0, named=True)
    assert recent["lines"] == 2  # PO-C and PO-D, ordered within 25 days
    later = supplier_performance(history, as_of=day(3)).row(0, named=True)
    assert later["fill_rate"] == pytest.approx(230 / 230)  # PO-C's rest came on day 2
    with pytest.raises(ValueError, match="days must be at least 1"):
        supplier_performance(history, days=0)


# -- measured lead times -------------------------------------------------------------------------
def lead(frame, sku: str) -> dict:
    return frame.filter(frame["sku"] == sku).row(0, named=True)


def test_a_sku_with_enough_received_lines_plans_with_its_measured_lead_time(history):
    """A-100's received lines took 9, 14 and 16 days (stated 7 +- 1.5)."""
    three = lead_times(history, SupplierSettings(lead_time_min_lines=3), as_of=AS_OF)
    row = lead(three, "A-100")
    assert (row["lines"], row["lead_time_source"]) == (3, "measured: 3 lines")
    assert row["lead_time_mean_days"] == pytest.approx(13.0)
    assert row["lead_time_sd_days"] == pytest.approx(statistics.stdev([9, 14, 16]), abs=0.01)
    assert (row["stated_mean_days"], row["stated_sd_days"]) == (7.0, 1.5)
    # B-200 has no line of its own and the supplier has 3: enough for min 3, so it is scaled
    b = lead(three, "B-200")
    assert b["lead_time_source"] == "measured for the supplier: 3 lines"
    assert b["lead_time_mean_days"] == pytest.approx(10.0 * 39 / 21, abs=0.01)


def test_too_few_lines_fall_back_to_the_stated_figure(history):
    default = lead_times(history, as_of=AS_OF)  # 5 lines needed, 3 received
    for sku, mean, sd in (("A-100", 7.0, 1.5), ("B-200", 10.0, 2.0)):
        row = lead(default, sku)
        assert row["lead_time_source"] == "stated"
        assert (row["lead_time_mean_days"], row["lead_time_sd_days"]) == (mean, sd)


def test_the_stated_setting_ignores_the_receipts(history):
    stated = lead_times(
        history, SupplierSettings(lead_times="stated", lead_time_min_lines=1), as_of=AS_OF
    )
    assert set(stated["lead_time_source"]) == {"stated"}
    assert lead(stated, "A-100")["lead_time_mean_days"] == 7.0


def test_a_supplier_with_enough_lines_scales_the_stated_figures_of_a_sku_without(history):
    """B-200 (stated 10 +- 2) has two lines, 12 and 14 days: with 4 lines needed neither SKU
    has enough, the supplier's 5 lines do. Mean: stated x 65 / 41 (measured over stated days
    of its lines); spread: stated x the spread around the scaled means over the stated spreads'
    root mean square."""
    add_purchase_orders(
        history,
        [
            ("PO-E", "B-200", "SH-CDC", 50, day(-50), day(-40), "closed"),
            ("PO-F", "B-200", "SH-CDC", 50, day(-35), day(-25), "closed"),
        ],
    )
    post(
        history,
        mv("R-E", -38, "B-200", "SH-CDC", "receipt", 50, reference="PO-E"),
        mv("R-F", -21, "B-200", "SH-CDC", "receipt", 50, reference="PO-F"),
    )
    frame = lead_times(history, SupplierSettings(lead_time_min_lines=4), as_of=AS_OF)
    ratio = (9 + 14 + 16 + 12 + 14) / (7 * 3 + 10 * 2)
    residuals = [a - ratio * st for a, st in ((9, 7), (14, 7), (16, 7), (12, 10), (14, 10))]
    spread = math.sqrt(sum(r * r for r in residuals) / 4)
    stated_spread = math.sqrt((3 * 1.5**2 + 2 * 2.0**2) / 5)
    for sku, mean, sd in (("A-100", 7.0, 1.5), ("B-200", 10.0, 2.0)):
        row = lead(frame, sku)
        assert row["lead_time_source"] == "measured for the supplier: 5 lines"
        assert row["supplier_lines"] == 5
        assert row["lead_time_mean_days"] == pytest.approx(mean * ratio, abs=0.01)
        assert row["lead_time_sd_days"] == pytest.approx(sd * spread / stated_spread, abs=0.01)


def test_no_lookahead_receipts_after_the_as_of_day_do_not_count(history):
    """PO-D (ordered day -10) arrives on day +1: not seen as of AS_OF, seen from day +1. As of
    day -10 only PO-A (9 days) and PO-B (14) had arrived; PO-C came on day -4."""
    post(history, mv("R-D", 1, "A-100", "SH-CDC", "receipt", 70, reference="PO-D"))
    two = SupplierSettings(lead_time_min_lines=2)
    now = lead(lead_times(history, two, as_of=AS_OF), "A-100")
    assert now["lines"] == 3 and now["lead_time_mean_days"] == pytest.approx(13.0)
    later = lead(lead_times(history, two, as_of=day(1)), "A-100")
    assert later["lines"] == 4 and later["lead_time_mean_days"] == pytest.approx(50 / 4, abs=0.01)
    before = lead(lead_times(history, two, as_of=day(-10)), "A-100")
    assert before["lines"] == 2 and before["lead_time_mean_days"] == pytest.approx(11.5)
    assert before["lead_time_source"] == "measured: 2 lines"
    # a window that ends before any line was ordered: stated
    none = lead(lead_times(history, two, as_of=day(-45)), "A-100")
    assert (none["lines"], none["lead_time_source"]) == (0, "stated")
