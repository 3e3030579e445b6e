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


def _weekday_profile(total: np.ndarray, ordinary: np.ndarray, weekday: np.ndarray) -> np.ndarray:
    """Multipliers by weekday (mean 1) from ordinary days' ratio to their centred week."""
    week_mean, week_count = _centered_mean(total, np.ones(len(total), dtype=bool), 3)
    usable = ordinary & (week_count == 7) & (week_mean > 0)
    profile = np.ones(7)
    for d in range(7):
        sel = usable & (weekday == d)
        if sel.sum() >= 4:
            profile[d] = float(np.mean(total[sel] / week_mean[sel]))
    if profile.mean() <= 0 or np.any(profile <= 0):
        return np.ones(7)
    return profile / profile.mean()


def _ordinary_level(z: np.ndarray, ordinary: np.ndarray) -> np.ndarray | None:
    """The level of ordinary days around each day (see the module docstring, step 2); None
    when fewer than two days have enough ordinary neighbours."""
    level, count = _centered_mean(z, ordinary, LEVEL_DAYS)
    trusted = (count >= MIN_LEVEL_DAYS) & (level > 0)
    if trusted.sum() < 2:
        return None
    # inside a long run of phases (the Spring Festival's 45 days) no day has enough ordinary
    # neighbours: the level there is interpolated between the nearest trusted days
    index = np.arange(len(z))
    return np.interp(index, index[trusted], level[trusted])


def _noise(ratio: np.ndarray, ordinary: np.ndarray) -> tuple[float, float]:
    """Variance of ordinary days' ratio to their level, and the variance of the level's own
    error: a yearly swing or a promotion does not average out over a phase's days, and shows
    as a spread of weekly means beyond what daily noise explains."""
    day_var = float(np.var(ratio[ordinary]))
    weeks = len(ratio) // 7
    blocks = np.where(ordinary, ratio, np.nan)[: weeks * 7].reshape(weeks, 7)
    full_weeks = ~np.isnan(blocks).any(axis=1)
    if full_weeks.sum() < 4:
        return day_var, 0.0
    return day_var, max(float(np.var(blocks[full_weeks].mean(axis=1))) - day_var / 7, 0.0)


def _backfit(ratio: np.ndarray, h: np.ndarray) -> list[float]:
    """Raw lift of each phase (column of ``h``): the mean ratio of its days with the other
    phases' lifts on those days divided out, iterated."""
    raw = [1.0] * h.shape[1]
    for _ in range(BACKFIT_ROUNDS):
        for j in range(h.shape[1]):
            days = h[:, j]
            others = np.ones(int(days.sum()))
            for i in range(h.shape[1]):
                if i != j:
                    others = np.where(h[days, i], others * raw[i], others)
            raw[j] = max(float(np.mean(ratio[days] / others)), LIFT_BOUNDS[0])
    return raw


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
    h = indicators.to_numpy() > 0
    ordinary = h.sum(axis=1) == 0
    weekday = dates.day_of_week.to_numpy()
    z = total / _weekday_profile(total, ordinary, weekday)[weekday]
    level = _ordinary_level(z, ordinary)
    if level is None:
        return {}
    known = level > 0
    ratio = np.where(known, z / np.where(known, level, 1.0), np.nan)
    if (ordinary & known).sum() < 2 * LEVEL_DAYS:
        return {}
    day_var, level_var = _noise(ratio, ordinary & known)
    h = h & known[:, None]
    seen = [j for j in range(h.shape[1]) if h[:, j].any()]
    raw = _backfit(ratio, h[:, seen])
    lifts: dict[str, float] = {}
    for j, lift_raw in zip(seen, raw, strict=True):
        gap2 = (lift_raw - 1.0) ** 2
        se2 = day_var / int(h[:, j].sum()) + level_var
        shrink = gap2 / (gap2 + se2) if gap2 > 0 else 0.0
        lift = float(np.clip(1.0 + shrink * (lift_raw - 1.0), *LIFT_BOUNDS))
        name = indicators.columns[j].removeprefix("holiday_")
        lifts[name] = round(lift, 4)  # as stored with the run, so a reuse is exact
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
