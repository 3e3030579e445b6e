"""Holiday and festival calendars: the Chinese phases fall on the right days of the year."""

from __future__ import annotations

from datetime import date, timedelta

import pandas as pd
import pytest

from control_tower.forecast.holidays import holiday_frame, holiday_indicators, holidays_between


def days_of(frame: pd.DataFrame, name: str) -> list[date]:
    return sorted(d.date() for d in frame.loc[frame["holiday"] == name, "ds"])


def span(first: date, last: date) -> list[date]:
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


def test_prophet_frame_shape():
    frame = holiday_frame("CN", 2024, 2025)
    assert list(frame.columns) == ["holiday", "ds", "lower_window", "upper_window"]
    assert not frame.duplicated(["holiday", "ds"]).any()
    assert frame["ds"].is_monotonic_increasing
    assert frame["ds"].dt.year.between(2024, 2025).all()


@pytest.mark.parametrize(
    ("year", "new_year"),
    [(2024, date(2024, 2, 10)), (2025, date(2025, 1, 29)), (2026, date(2026, 2, 17))],
)
def test_spring_festival_phases_follow_the_lunar_new_year(year, new_year):
    frame = holiday_frame("CN", year, year)
    d = lambda offset: new_year + timedelta(days=offset)  # noqa: E731
    assert days_of(frame, "spring_festival_week") == span(d(0), d(6))
    assert days_of(frame, "spring_festival_stocking") == span(d(-24), d(-12))
    assert days_of(frame, "spring_festival_rush") == span(d(-11), d(-4))
    assert days_of(frame, "spring_festival_wind_down") == span(d(-3), d(-1))
    assert days_of(frame, "spring_festival_return") == span(d(7), d(20))


def test_shopping_festivals_and_golden_week():
    frame = holiday_frame("CN", 2024, 2024)
    assert days_of(frame, "double_11_day") == [date(2024, 11, 11)]
    assert days_of(frame, "double_11_run_up") == span(date(2024, 10, 31), date(2024, 11, 10))
    assert days_of(frame, "618_day") == [date(2024, 6, 18)]
    assert days_of(frame, "double_12_day") == [date(2024, 12, 12)]
    assert days_of(frame, "national_day_golden_week") == span(date(2024, 10, 1), date(2024, 10, 7))
    assert days_of(frame, "mid_autumn") == [date(2024, 9, 17), date(2024, 9, 18)]
    assert days_of(frame, "labour_day_holiday") == span(date(2024, 5, 1), date(2024, 5, 5))


def test_other_countries_use_the_public_holidays_and_unknown_ones_none():
    us = holiday_frame("US", 2024, 2024)
    assert date(2024, 7, 4) in {d.date() for d in us["ds"]}
    unknown = holiday_frame("XX", 2024, 2024)
    assert unknown.empty
    assert list(unknown.columns) == ["holiday", "ds", "lower_window", "upper_window"]


def test_holidays_between_is_inclusive():
    found = holidays_between("CN", date(2024, 11, 11), date(2024, 11, 12))
    assert set(found["ds"].dt.date) == {date(2024, 11, 11), date(2024, 11, 12)}
    assert "double_11_day" in set(found["holiday"])


def test_indicators_are_one_column_per_phase_with_0_1_values():
    dates = pd.date_range("2024-01-01", "2024-12-31", freq="D")
    frame = holiday_frame("CN", 2024, 2024)
    table = holiday_indicators(frame, dates)
    assert len(table) == len(dates)
    assert set(table.columns) == {f"holiday_{h}" for h in frame["holiday"].unique()}
    assert set(pd.unique(table.to_numpy().ravel())) <= {0.0, 1.0}
    by_date = table.set_index(dates)
    assert by_date.loc["2024-11-11", "holiday_double_11_day"] == 1
    assert by_date["holiday_spring_festival_week"].sum() == 7
    assert by_date.loc["2024-03-20"].sum() == 0  # an ordinary day
    empty = holiday_indicators(holiday_frame("XX", 2024, 2024), dates)
    assert len(empty) == len(dates) and empty.shape[1] == 0
