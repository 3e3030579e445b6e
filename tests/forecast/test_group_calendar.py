"""Festival lifts pooled over a group: recovered from a known total, applied to the baselines,
estimated per category in a run, stored with it and reused."""

from __future__ import annotations

import shutil
from dataclasses import replace
from datetime import date, timedelta

import numpy as np
import pandas as pd
import polars as pl
import pytest

from control_tower.config import ForecastSettings
from control_tower.forecast import forecast, load_forecasts
from control_tower.forecast.group_calendar import LIFT_BOUNDS, calendar_for, estimate_lifts
from control_tower.forecast.holidays import holiday_frame
from control_tower.forecast.pipeline import (
    SeriesInput,
    Spec,
    _adjust,
    forecast_series,
    from_first_demand,
    prophet_path,
)
from control_tower.forecast.prophet_model import PROPHET_GRID, prophet_forecast
from control_tower.forecast.service import (
    ALL_CATEGORIES,
    attach_calendars,
    estimate_group_lifts,
    load_series,
)
from control_tower.forecast.synthetic import CATEGORIES, FESTIVAL_LIFT, retail_frames
from control_tower.ingest import ingest_frame, ingest_frames
from control_tower.store import Store

END = date(2026, 10, 31)
DAYS = 730
START = END - timedelta(days=DAYS - 1)
TRUE_LIFTS = {  # mid-autumn 2025 falls inside golden week: it must not take golden week's lift
    "double_11_day": 3.0,
    "double_11_run_up": 1.4,
    "national_day_golden_week": 1.5,
    "618_day": 2.0,
    # 45 days of phases in a row: no day in the middle has ordinary days around it
    "spring_festival_stocking": 1.3,
    "spring_festival_rush": 1.5,
    "spring_festival_wind_down": 0.6,
    "spring_festival_week": 0.3,
    "spring_festival_return": 0.7,
}


def pooled_total(lifts: dict[str, float], level: float, seed: int = 3) -> np.ndarray:
    """Poisson daily totals of a group: a weekly profile, a slow trend and the given lifts."""
    holidays = holiday_frame("CN", START.year, END.year)
    multipliers = calendar_for(lifts, holidays, START, DAYS).multipliers
    dates = pd.date_range(pd.Timestamp(START), periods=DAYS, freq="D")
    weekly = np.array([0.9, 0.85, 0.9, 0.95, 1.1, 1.3, 1.0])[dates.day_of_week.to_numpy()]
    trend = np.linspace(0.8, 1.2, DAYS)
    rate = level * weekly * trend * multipliers
    return np.random.default_rng(seed).poisson(rate).astype(float)


def test_lifts_of_a_pooled_total_are_recovered():
    holidays = holiday_frame("CN", START.year, END.year)
    lifts = estimate_lifts(pooled_total(TRUE_LIFTS, level=400), START, holidays)
    dates = pd.date_range(pd.Timestamp(START), periods=DAYS, freq="D")
    seen = set(holidays[holidays["ds"].isin(dates)]["holiday"])
    assert set(lifts) == seen  # every phase the history holds gets a lift
    for phase, truth in TRUE_LIFTS.items():
        assert lifts[phase] == pytest.approx(truth, rel=0.1), phase
    # phases with no effect stay near 1, overlapping ones included (backfitting)
    others = {p: v for p, v in lifts.items() if p not in TRUE_LIFTS}
    assert others["mid_autumn"] == pytest.approx(1.0, abs=0.08)
    assert max(abs(v - 1.0) for v in others.values()) < 0.12


def test_days_before_a_group_first_sold_are_not_read_as_festivals():
    """A category launched after last year's Double 11: its zeros before launch are not a
    Double 11 that sold nothing; the lifts come from the days since, the same as for a
    group that sold from the start."""
    holidays = holiday_frame("CN", START.year, END.year)
    total = pooled_total(TRUE_LIFTS, level=400)
    launch = (date(2025, 12, 1) - START).days
    late = total.copy()
    late[:launch] = 0.0
    from_launch = estimate_lifts(late, START, holidays)
    same = estimate_lifts(total[launch:], START + timedelta(days=launch), holidays)
    assert from_launch == same
    assert from_launch["618_day"] == pytest.approx(2.0, rel=0.1)
    assert "double_11_day" not in from_launch  # not seen since the launch


def test_noise_alone_is_shrunk_towards_no_lift():
    holidays = holiday_frame("CN", START.year, END.year)
    lifts = estimate_lifts(pooled_total({}, level=3), START, holidays)
    deviations = np.array([abs(v - 1.0) for v in lifts.values()])
    assert np.median(deviations) < 0.05 and deviations.max() < 0.5


def test_too_little_history_or_no_calendar_gives_no_lifts():
    holidays = holiday_frame("CN", START.year, END.year)
    assert estimate_lifts(np.full(30, 5.0), START, holidays) == {}
    assert estimate_lifts(np.full(400, 5.0), START, None) == {}


def test_a_day_in_two_phases_gets_both_lifts_and_days_outside_the_span_none():
    holidays = holiday_frame("CN", 2025, 2025)
    # 2025-10-06 is both Mid-Autumn and a Golden Week day
    calendar = calendar_for(
        {"mid_autumn": 1.2, "national_day_golden_week": 1.5}, holidays, date(2025, 10, 1), 10
    )
    assert calendar.multipliers[5] == pytest.approx(1.8)
    assert calendar.multipliers[0] == pytest.approx(1.5)
    path = calendar.path(date(2025, 9, 29), 5)
    assert path.tolist() == pytest.approx([1.0, 1.0, 1.5, 1.5, 1.5])
    assert calendar.path(date(2025, 9, 29), -3).size == 0  # a span that ends before it starts
    # overlapping phases multiply, but stay within the bounds of one lift
    low = calendar_for(
        {"mid_autumn": 0.2, "national_day_golden_week": 0.2}, holidays, date(2025, 10, 6), 1
    )
    assert low.multipliers[0] == pytest.approx(LIFT_BOUNDS[0])


# -- in the pipeline -------------------------------------------------------------------------


def lumpy(days: int, seed: int = 5) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.where(rng.uniform(size=days) < 0.3, np.ceil(rng.lognormal(1.0, 1.0, days)), 0.0)


def test_baselines_multiply_the_calendar_into_the_horizon():
    """History without festivals and one festival day ahead: the forecast of that day is the
    lift times the forecast without the calendar, every other day the same."""
    horizon = 14
    y = lumpy(400)
    start = date(2025, 1, 6)
    spec = Spec(horizon=horizon)
    plain = forecast_series(SeriesInput("S", "L", start, y), spec)
    ones = forecast_series(SeriesInput("S", "L", start, y, calendar=np.ones(414)), spec)
    calendar = np.ones(len(y) + horizon)
    calendar[len(y) + 3] = 2.5
    lifted = forecast_series(SeriesInput("S", "L", start, y, calendar=calendar), spec)
    assert plain.demand_class == "lumpy" and lifted.method == plain.method
    assert np.array_equal(ones.mean, plain.mean)
    expected = plain.mean.copy()
    expected[3] *= 2.5
    assert lifted.mean == pytest.approx(expected)


def test_festival_days_in_history_are_divided_out_of_the_level():
    """A year of flat demand that doubled on marked days: with those days' lift known, the
    baselines see flat demand, and the level ahead is the ordinary one."""
    horizon = 7
    rng = np.random.default_rng(2)
    y = rng.poisson(10.0, 365).astype(float)
    calendar = np.ones(365 + horizon)
    marked = np.arange(330, 365, 3)  # the recent days the level is read from
    y[marked] *= 2.0
    calendar[marked] = 2.0
    spec = Spec(horizon=horizon, prophet=None)
    with_lifts = forecast_series(
        SeriesInput("S", "L", date(2025, 1, 6), y, calendar=calendar), spec
    )
    without = forecast_series(SeriesInput("S", "L", date(2025, 1, 6), y), spec)
    assert with_lifts.mean.mean() == pytest.approx(10.0, rel=0.1)
    assert without.mean.mean() > with_lifts.mean.mean() * 1.15


def test_skipping_the_days_before_first_demand_skips_their_multipliers():
    y = np.concatenate([np.zeros(5), np.ones(20)])
    calendar = np.arange(30, dtype=float) + 1.0
    trimmed = from_first_demand(SeriesInput("S", "L", date(2025, 1, 1), y, calendar=calendar))
    assert trimmed.start == date(2025, 1, 6)
    assert trimmed.calendar.tolist() == calendar[5:].tolist()


# -- in a run ----------------------------------------------------------------------------------

SETTINGS = ForecastSettings(workers=1, tuning_sample=0, prophet_classes=[])


@pytest.fixture(scope="module")
def retail_db(tmp_path_factory):
    path = tmp_path_factory.mktemp("retail") / "retail.duckdb"
    with Store(path) as store:
        ingest_frames(store, retail_frames(series=200, days=730), source="test")
    return path


@pytest.fixture
def retail_store(retail_db, tmp_path):
    target = tmp_path / "retail.duckdb"
    shutil.copy(retail_db, target)
    with Store(target) as store:
        yield store


def test_each_category_gets_lifts_close_to_the_ones_its_sales_were_drawn_with(retail_store):
    """The generator lifts Double 11 by 1 + 1.5 x the category's sensitivity."""
    lifts = estimate_group_lifts(retail_store, as_of=date(2026, 10, 31), country="CN")
    categories = {c for _, c in lifts}
    assert ALL_CATEGORIES in categories and len(categories) >= 4
    for name, _, _, sensitivity in CATEGORIES:
        if ("CN", name) not in lifts:
            continue
        truth = 1 + (FESTIVAL_LIFT["double_11_day"] - 1) * sensitivity
        assert lifts[("CN", name)]["double_11_day"] == pytest.approx(truth, rel=0.35), name


def test_a_run_stores_its_lifts_and_the_next_run_reuses_them_and_every_series(retail_store):
    as_of = date(2026, 10, 25)  # Double 11 in the horizon
    first = forecast(retail_store, SETTINGS, as_of=as_of, horizon=28, show_bar=False)
    record = first.settings["calendar_lifts"]
    assert record["estimated_as_of"] == as_of.isoformat()
    groups = {(g["country"], g["category"]): g["lifts"] for g in record["groups"]}
    assert groups[("CN", ALL_CATEGORIES)]["double_11_day"] > 1.5
    second = forecast(retail_store, SETTINGS, as_of=as_of, horizon=28, show_bar=False)
    assert second.settings["calendar_lifts"] == record
    assert second.reused == second.series_count
    # a week later the lifts are still those of the first run (retune_days), so a series
    # whose history has not changed keeps its inputs
    later = forecast(
        retail_store, SETTINGS, as_of=as_of + timedelta(days=7), horizon=28, show_bar=False
    )
    assert later.settings["calendar_lifts"]["estimated_as_of"] == as_of.isoformat()


def test_lifts_older_than_retune_days_are_estimated_again(retail_store):
    as_of = date(2026, 9, 1)
    forecast(retail_store, SETTINGS, as_of=as_of, horizon=14, show_bar=False)
    later = as_of + timedelta(days=SETTINGS.retune_days + 1)
    run = forecast(retail_store, SETTINGS, as_of=later, horizon=14, show_bar=False)
    assert run.settings["calendar_lifts"]["estimated_as_of"] == later.isoformat()


def test_the_festival_day_is_forecast_higher_with_lifts_than_without(retail_store):
    as_of = date(2026, 10, 25)
    with_lifts = forecast(retail_store, SETTINGS, as_of=as_of, horizon=28, show_bar=False)
    without = forecast(
        retail_store,
        SETTINGS.model_copy(update={"group_lifts": False}),
        as_of=as_of,
        horizon=28,
        show_bar=False,
    )
    assert "calendar_lifts" not in without.settings
    day = pl.col("date") == date(2026, 11, 11)
    a = load_forecasts(retail_store, with_lifts.run_id).filter(day)["mean"].sum()
    b = load_forecasts(retail_store, without.run_id).filter(day)["mean"].sum()
    assert a > 1.5 * b


def test_prophet_with_a_calendar_fits_the_adjusted_series_without_holiday_regressors():
    """A real Prophet fit: with the group's calendar, Prophet sees demand with the lifts
    divided out and no holidays, and the lift of a festival day ahead is multiplied back."""
    horizon = 14
    rng = np.random.default_rng(4)
    y = rng.poisson(20.0, 200).astype(float)
    start = date(2025, 3, 3)
    calendar = np.ones(len(y) + horizon)
    calendar[len(y) + 5] = 3.0
    seen: list = []

    def recording(start, train, days, origin, config, holidays):
        seen.append((config.holidays, holidays, train.copy()))
        return prophet_forecast(start, train, days, origin, config, holidays)

    spec = Spec(
        horizon=horizon,
        prophet=PROPHET_GRID[0],
        holidays={"CN": holiday_frame("CN", 2025, 2025)},
        prophet_fn=recording,
    )
    series = SeriesInput("S", "L", start, y, calendar=calendar)
    path = prophet_path(series, _adjust(series, horizon), spec, spec.prophet, len(y) - 1, horizon)
    assert seen[-1][0] is False and seen[-1][1] is None  # no holiday regressors
    without = SeriesInput("S", "L", start, y)
    plain = prophet_path(
        without, _adjust(without, horizon), spec, spec.prophet, len(y) - 1, horizon
    )
    assert seen[-1][0] is True and seen[-1][1] is spec.holidays["CN"]  # its country's holidays
    # the history's multipliers are all 1, so the fits agree but for the festival day
    assert path[5] == pytest.approx(3.0 * plain[5], rel=0.05)
    assert np.delete(path, 5) == pytest.approx(np.delete(plain, 5), rel=0.05)


def test_a_category_takes_its_countrys_lift_for_the_phases_it_has_none_of(retail_store):
    sku = retail_store.scalar("SELECT sku FROM products WHERE category = 'apparel' LIMIT 1")
    as_of = date(2026, 10, 25)
    series = [s for s in load_series(retail_store, as_of=as_of, skus=[sku])][:1]
    lifts = {
        ("CN", ALL_CATEGORIES): {"double_11_day": 2.0, "618_day": 1.2},
        ("CN", "apparel"): {"double_11_run_up": 1.5, "618_day": 1.6},
    }
    until = date(2026, 11, 15)
    (attached,) = attach_calendars(retail_store, series, lifts, until)
    path = attached.calendar
    at = lambda d: path[(d - attached.start).days]  # noqa: E731
    assert len(path) == (until - attached.start).days + 1
    assert at(date(2026, 11, 11)) == pytest.approx(2.0)  # the country's
    assert at(date(2026, 11, 5)) == pytest.approx(1.5)  # the category's
    assert at(date(2026, 6, 18)) == pytest.approx(1.6)  # the category's over the country's
    assert at(date(2026, 7, 15)) == 1.0
    # a series that starts after the span gets no calendar rather than an error
    later = replace(series[0], start=until + timedelta(days=3))
    (untouched,) = attach_calendars(retail_store, [later], lifts, until)
    assert untouched.calendar is None


def test_the_lifts_never_read_demand_after_as_of(retail_db, tmp_path):
    """Two stores that agree up to as-of and differ after it, for every series: the same
    lifts and the same forecasts."""
    as_of = date(2026, 10, 1)
    paths = [tmp_path / "a.duckdb", tmp_path / "b.duckdb"]
    for path in paths:
        shutil.copy(retail_db, path)
    with Store(paths[0]) as a, Store(paths[1]) as b:
        after = b.query(
            "SELECT sku, location, date, quantity * 5 + 3 AS quantity FROM demand_history "
            "WHERE date > ?",
            [as_of],
        )
        ingest_frame(b, "demand", after)
        assert estimate_group_lifts(a, as_of=as_of, country="CN") == estimate_group_lifts(
            b, as_of=as_of, country="CN"
        )
        skus = [r[0] for r in a.rows("SELECT DISTINCT sku FROM products ORDER BY sku LIMIT 5")]
        runs = [
            forecast(s, SETTINGS, as_of=as_of, horizon=21, skus=skus, show_bar=False)
            for s in (a, b)
        ]
        assert runs[0].settings["calendar_lifts"] == runs[1].settings["calendar_lifts"]
        assert load_forecasts(a, runs[0].run_id).equals(load_forecasts(b, runs[1].run_id))
