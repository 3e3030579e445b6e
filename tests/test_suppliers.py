"""Supplier performance from actual receipts, on crafted PO lines: on time or late against
the expected date (with a grace), lead time from order to first receipt, fill rate over the
lines already due, and receipts after the as-of date not seen."""

from __future__ import annotations

import pytest

from control_tower.suppliers import supplier_performance
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
