"""Festival and holiday lifts estimated on a group of series pooled (group seasonal indices).

A shelf that sells two units a week cannot say what Double 11 does to it: one festival a year,
a handful of sales, and a per-series estimate is noise (measured: per-series lifts made the
baselines worse on store-level data). Summed over a category, the same days show the lift
clearly. So the lift of each holiday phase is estimated once per group (a product category in
a country), from the group's total daily demand, and the baselines of every series in the
group work on demand with the lifts divided out and multiply them back into the forecast
(Withycombe 1989, "Forecasting with combined seasonal indices"; Chen & Boylan 2007).

Estimation, on the group's daily total up to the as-of date:

1. the weekday profile of ordinary days (no holiday or festival phase), divided out;
2. the ordinary level around each day: the mean of the ordinary days within ``LEVEL_DAYS``
   on either side (so a trend or a yearly swing is not read as a lift), interpolated between
   the nearest such days inside a long run of phases;
3. a phase's raw lift: the mean ratio of its days to that level, over every year in the
   history, with the lifts of phases that share some of its days divided out (backfitting);
4. shrunk toward 1 by how far it stands out from the noise of ordinary days (the daily noise
   over the phase's days, plus the error of the level that weekly means of ordinary days
   show), and bounded to ``LIFT_BOUNDS``.

A day in several phases gets the product of their lifts. Phases the history has not seen get 1.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import pandas as pd

from control_tower.forecast.holidays import holiday_indicators

LEVEL_DAYS = 21
LIFT_BOUNDS = (0.1, 8.0)
BACKFIT_ROUNDS = 5
MIN_LEVEL_DAYS = 7  # ordinary days needed around a day to trust its level


@dataclass(frozen=True)
class GroupCalendar:
    """Lifts of one group, by phase name, and the multiplier of every day from ``start``."""

    start: date
    multipliers: np.ndarray  # one per day from ``start``
    lifts: dict[str, float]

    def path(self, first: date, days: int) -> np.ndarray:
        """The multipliers of ``days`` days from ``first`` (1 outside the known span)."""
        offset = (first - self.start).days
        out = np.ones(max(days, 0))
        lo, hi = max(0, -offset), min(days, len(self.multipliers) - offset)
        if hi > lo:
            out[lo:hi] = self.multipliers[offset + lo : offset + hi]
        return out


def _centered_mean(
    values: np.ndarray, mask: np.ndarray, half: int
) -> tuple[np.ndarray, np.ndarray]:
    """Mean of ``values`` where ``mask``, within ``half`` days on either side of each day, and
    the number of such days."""
    v = np.where(mask, values, 0.0)
    cv = np.concatenate(([0.0], np.cumsum(v)))
    cm = np.concatenate(([0], np.cumsum(mask.astype(int))))
    n = len(values)
    lo = np.clip(np.arange(n) - half, 0, n)
    hi = np.clip(np.arange(n) + half + 1, 0, n)
    count = cm[hi] - cm[lo]
    total = cv[hi] - cv[lo]
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(count > 0, total / np.maximum(count, 1), np.nan)
    return mean, count


def estimate_lifts(
    total: np.ndarray, start: date, holidays: pd.DataFrame | None
) -> dict[str, float]:
    """Lift per holiday phase from a group's daily total demand starting at ``start``. Days
    before the group's first demand say nothing (a category launched last spring did not
    sell nothing at last year's Double 11) and are left out."""
    total = np.asarray(total, dtype=float)
    selling = np.flatnonzero(total > 0)
    if not len(selling):
        return {}
    start = start + timedelta(days=int(selling[0]))
    total = total[selling[0] :]
    if holidays is None or holidays.empty or len(total) < 2 * LEVEL_DAYS:
        return {}
    dates = pd.date_range(pd.Timestamp(start), periods=len(total), freq="D")
    indicators = holiday_indicators(holidays, dates)
    names = [c.removeprefix("holiday_") for c in indicators.columns]
    h = indicators.to_numpy() > 0
    active = h.sum(axis=1)
    ordinary = active == 0
    weekday = dates.day_of_week.to_numpy()
    # weekday profile of ordinary days, from their ratio to the centred week
    week_mean, week_count = _centered_mean(total, np.ones(len(total), dtype=bool), 3)
    usable = ordinary & (week_count == 7) & (week_mean > 0)
    profile = np.ones(7)
    for d in range(7):
        sel = usable & (weekday == d)
        if sel.sum() >= 4:
            profile[d] = float(np.mean(total[sel] / week_mean[sel]))
    if profile.mean() <= 0 or np.any(profile <= 0):
        profile = np.ones(7)
    profile = profile / profile.mean()
    z = total / profile[weekday]
    level, count = _centered_mean(z, ordinary, LEVEL_DAYS)
    trusted = (count >= MIN_LEVEL_DAYS) & (level > 0)
    if trusted.sum() < 2:
        return {}
    # inside a long run of phases (the Spring Festival's 45 days) no day has enough ordinary
    # neighbours: the level there is interpolated between the nearest trusted days
    index = np.arange(len(z))
    level = np.interp(index, index[trusted], level[trusted])
    known = level > 0
    ratio = np.where(known, z / np.where(known, level, 1.0), np.nan)
    base = ratio[ordinary & known]
    if len(base) < 2 * LEVEL_DAYS:
        return {}
    day_var = float(np.var(base))
    # errors of the level itself (a yearly swing, a promotion) do not average out over a
    # phase's days: their share is the spread of weekly means beyond what daily noise explains
    ordinary_ratio = np.where(ordinary & known, ratio, np.nan)
    weeks = len(ordinary_ratio) // 7
    blocks = ordinary_ratio[: weeks * 7].reshape(weeks, 7)
    full_weeks = ~np.isnan(blocks).any(axis=1)
    level_var = 0.0
    if full_weeks.sum() >= 4:
        level_var = max(float(np.var(blocks[full_weeks].mean(axis=1))) - day_var / 7, 0.0)
    # backfitting: a phase's lift from its days with the other phases' lifts divided out
    columns = [j for j in range(len(names)) if (h[:, j] & known).any()]
    raw = dict.fromkeys(columns, 1.0)
    for _ in range(BACKFIT_ROUNDS):
        for j in columns:
            days = h[:, j] & known
            others = np.ones(int(days.sum()))
            for i in columns:
                if i != j:
                    others = np.where(h[days, i], others * raw[i], others)
            raw[j] = max(float(np.mean(ratio[days] / others)), LIFT_BOUNDS[0])
    lifts: dict[str, float] = {}
    for j in columns:
        count = int((h[:, j] & known).sum())
        gap2 = (raw[j] - 1.0) ** 2
        se2 = day_var / count + level_var
        shrink = gap2 / (gap2 + se2) if gap2 > 0 else 0.0
        lift = float(np.clip(1.0 + shrink * (raw[j] - 1.0), *LIFT_BOUNDS))
        lifts[names[j]] = round(lift, 4)  # as stored with the run, so a reuse is exact
    return lifts


def calendar_for(
    lifts: dict[str, float], holidays: pd.DataFrame | None, start: date, days: int
) -> GroupCalendar:
    """The multipliers of ``days`` days from ``start`` under ``lifts``."""
    multipliers = np.ones(max(days, 0))
    if lifts and days > 0 and holidays is not None and not holidays.empty:
        dates = pd.date_range(pd.Timestamp(start), periods=days, freq="D")
        indicators = holiday_indicators(holidays, dates)
        for column in indicators.columns:
            lift = lifts.get(column.removeprefix("holiday_"))
            if lift is not None and lift != 1.0:
                multipliers = np.where(
                    indicators[column].to_numpy() > 0, multipliers * lift, multipliers
                )
    # phases that overlap multiply; the product stays within the bounds of one lift
    return GroupCalendar(start, np.clip(multipliers, *LIFT_BOUNDS), dict(lifts))
