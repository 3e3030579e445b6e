"""Demand classes of a daily series.

Syntetos, Boylan & Croston (2005), "On the categorization of demand patterns", JORS 56:
ADI (average inter-demand interval) against CV² (squared coefficient of variation of the
non-zero demand sizes), with the cut-offs ADI = 1.32 and CV² = 0.49:

- smooth: ADI < 1.32 and CV² < 0.49      - erratic: ADI < 1.32 and CV² >= 0.49
- intermittent: ADI >= 1.32, CV² < 0.49  - lumpy: ADI >= 1.32 and CV² >= 0.49

Two classes come before the matrix: ``new`` (first demand too recent to judge) and
``too_short`` (not enough history for a backtest).
"""

from __future__ import annotations

from enum import StrEnum

import numpy as np

ADI_CUTOFF = 1.32
CV2_CUTOFF = 0.49
CLASS_WINDOW_DAYS = 365


class DemandClass(StrEnum):
    SMOOTH = "smooth"
    ERRATIC = "erratic"
    INTERMITTENT = "intermittent"
    LUMPY = "lumpy"
    TOO_SHORT = "too_short"
    NEW = "new"


def adi_cv2(y: np.ndarray) -> tuple[float, float]:
    """ADI and CV² of a daily series. ADI is days per non-zero day (inf without demand);
    CV² is 0 with fewer than two non-zero days."""
    nonzero = y[y > 0]
    if len(nonzero) == 0:
        return float("inf"), 0.0
    adi = len(y) / len(nonzero)
    if len(nonzero) < 2 or nonzero.mean() == 0:
        return float(adi), 0.0
    cv2 = float((nonzero.std() / nonzero.mean()) ** 2)
    return float(adi), cv2


def classify(
    y: np.ndarray, *, min_history_days: int = 84, new_item_days: int = 28
) -> tuple[DemandClass, float, float]:
    """The class of ``y`` (daily demand from its first record to the as-of date), with its ADI
    and CV² over the last year."""
    nonzero = np.flatnonzero(y > 0)
    days_since_first_demand = len(y) - nonzero[0] if len(nonzero) else 0
    adi, cv2 = adi_cv2(y[-CLASS_WINDOW_DAYS:])
    if len(nonzero) and days_since_first_demand < new_item_days:
        return DemandClass.NEW, adi, cv2
    if len(y) < min_history_days:
        return DemandClass.TOO_SHORT, adi, cv2
    if adi < ADI_CUTOFF:
        return (DemandClass.SMOOTH if cv2 < CV2_CUTOFF else DemandClass.ERRATIC), adi, cv2
    return (DemandClass.INTERMITTENT if cv2 < CV2_CUTOFF else DemandClass.LUMPY), adi, cv2
