"""Holiday and festival calendars for Prophet, by country.

Public holidays come from the ``holidays`` package. For China the calendar adds what moves
retail demand there, each as phases rather than single days, so one coefficient covers a phase
(a dummy per day of a three-week window would overfit two years of history):

- Spring Festival (春节): stocking up for the New Year (年货) in the three weeks before, the wind
  down, the holiday week, the slow return of shops and carriers;
- the e-commerce festivals 618 and Double 11 (双十一): pre-sales, the run-up, the day itself, the
  days after and the lull; Double 12 (双十二);
- Golden Week (National Day), Labour Day, Mid-Autumn (gifts and mooncakes before it).
"""

from __future__ import annotations

from datetime import date, timedelta
from functools import lru_cache

import holidays as holiday_lib
import numpy as np
import pandas as pd

# (name, first offset, last offset) around an anchor day
SPRING_FESTIVAL_PHASES = (
    ("spring_festival_stocking", -24, -12),
    ("spring_festival_rush", -11, -4),
    ("spring_festival_wind_down", -3, -1),
    ("spring_festival_week", 0, 6),
    ("spring_festival_return", 7, 20),
)
SHOPPING_FESTIVAL_PHASES = (
    ("presale", -20, -12),
    ("run_up", -11, -1),
    ("day", 0, 0),
    ("after", 1, 3),
    ("lull", 4, 12),
)
FIXED_CN_EVENTS = (
    # (name, month, day, phases)
    ("double_11", 11, 11, SHOPPING_FESTIVAL_PHASES),
    ("618", 6, 18, SHOPPING_FESTIVAL_PHASES),
    ("double_12", 12, 12, (("day", 0, 0),)),
    ("national_day", 10, 1, (("eve", -6, -1), ("golden_week", 0, 6))),
    ("labour_day", 5, 1, (("holiday", 0, 4),)),
)
MID_AUTUMN_PHASES = (("mid_autumn_gifts", -14, -1), ("mid_autumn", 0, 1))
CN_LUNAR_FROM_PACKAGE = {
    "Chinese New Year (Spring Festival)": SPRING_FESTIVAL_PHASES,
    "Mid-Autumn Festival": MID_AUTUMN_PHASES,
}
CN_OTHER_HOLIDAYS = ("New Year's Day", "Tomb-Sweeping Day", "Dragon Boat Festival")


def _phases(anchor: date, phases: tuple[tuple[str, int, int], ...], prefix: str = "") -> list:
    rows = []
    for name, first, last in phases:
        for offset in range(first, last + 1):
            rows.append((f"{prefix}{name}", anchor + timedelta(days=offset)))
    return rows


def _china(years: range) -> list[tuple[str, date]]:
    rows: list[tuple[str, date]] = []
    calendar = holiday_lib.country_holidays("CN", years=list(years), language="en_US")
    first_day: dict[tuple[str, int], date] = {}
    for day, name in sorted(calendar.items()):
        for label in name.split("; "):
            key = (label, day.year)
            if label in CN_LUNAR_FROM_PACKAGE and key not in first_day:
                first_day[key] = day
            elif label in CN_OTHER_HOLIDAYS:
                rows.append((label.lower().replace(" ", "_").replace("'", ""), day))
    for (label, _), day in first_day.items():
        rows.extend(_phases(day, CN_LUNAR_FROM_PACKAGE[label]))
    for year in years:
        for name, month, day, phases in FIXED_CN_EVENTS:
            rows.extend(_phases(date(year, month, day), phases, prefix=f"{name}_"))
    return rows


def _generic(country: str, years: range) -> list[tuple[str, date]]:
    try:
        calendar = holiday_lib.country_holidays(country, years=list(years), language="en_US")
    except (NotImplementedError, KeyError):
        return []
    return [(name, day) for day, name in sorted(calendar.items())]


@lru_cache(maxsize=32)
def holiday_frame(country: str, first_year: int, last_year: int) -> pd.DataFrame:
    """Prophet's ``holidays`` frame (``holiday``, ``ds``) for ``country`` over the years; an
    unknown country gives an empty frame (seasonality only)."""
    years = range(first_year, last_year + 1)
    rows = _china(years) if country.upper() == "CN" else _generic(country.upper(), years)
    frame = pd.DataFrame(rows, columns=["holiday", "ds"]).drop_duplicates()
    frame["ds"] = pd.to_datetime(frame["ds"])
    frame["lower_window"] = 0
    frame["upper_window"] = 0
    return frame.sort_values(["ds", "holiday"]).reset_index(drop=True)


def holidays_between(country: str, start: date, end: date) -> pd.DataFrame:
    """The holiday days between two dates (inclusive), for marking charts."""
    frame = holiday_frame(country, start.year, end.year)
    mask = (frame["ds"] >= pd.Timestamp(start)) & (frame["ds"] <= pd.Timestamp(end))
    return frame.loc[mask, ["ds", "holiday"]].reset_index(drop=True)


_TABLES: dict[int, tuple[pd.DataFrame, np.datetime64, np.ndarray, list[str]]] = {}


def _table(frame: pd.DataFrame) -> tuple[np.datetime64, np.ndarray, list[str]]:
    """The frame as a (days x holidays) 0/1 matrix from its first day, built once per frame
    object (a worker sees the same frame for every series of a batch)."""
    cached = _TABLES.get(id(frame))
    if cached is not None and cached[0] is frame:
        return cached[1], cached[2], cached[3]
    names = sorted(frame["holiday"].unique())
    first = frame["ds"].min().to_datetime64().astype("datetime64[D]")
    days = (frame["ds"].to_numpy().astype("datetime64[D]") - first).astype(np.int64)
    matrix = np.zeros((int(days.max()) + 1, len(names)))
    column = {name: j for j, name in enumerate(names)}
    matrix[days, [column[h] for h in frame["holiday"]]] = 1.0
    if len(_TABLES) > 16:
        _TABLES.clear()
    _TABLES[id(frame)] = (frame, first, matrix, names)
    return first, matrix, names


def holiday_indicators(frame: pd.DataFrame, dates: pd.DatetimeIndex) -> pd.DataFrame:
    """One 0/1 column per holiday or festival phase over ``dates`` (Prophet regressors: built
    in one vectorised step rather than Prophet's per-date holiday loop)."""
    if frame is None or frame.empty:
        return pd.DataFrame(index=range(len(dates)))
    first, matrix, names = _table(frame)
    offsets = (dates.to_numpy().astype("datetime64[D]") - first).astype(np.int64)
    inside = (offsets >= 0) & (offsets < len(matrix))
    values = np.zeros((len(dates), len(names)))
    values[inside] = matrix[offsets[inside]]
    return pd.DataFrame(values, columns=[f"holiday_{n}" for n in names])
