"""Forecast runs over a real store: what a run stores, reuse of unchanged series, as-of
without leaks, Prophet failures, bad input, and all-or-nothing writes."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import polars as pl
import pytest

from control_tower.errors import ControlTowerError, NotFoundError, StoreError
from control_tower.forecast import (
    forecast,
    get_run,
    latest_run,
    list_runs,
    load_forecasts,
    load_series,
    resolve_run,
)
from control_tower.forecast.pipeline import BASELINE_METHODS
from control_tower.forecast.prophet_model import PROPHET_GRID
from control_tower.ingest import ingest_frame
from control_tower.store import Store
from tests.forecast import stubs
from tests.forecast.conftest import BASELINES_ONLY, WITH_PROPHET, copy_db
from tests.forecast.data import AS_OF, EXPECTED_CLASS, PROPHET_SERIES, crafted_series

PROPHET_METHODS = {"prophet", "prophet_ma"}
QUANTILES = ["p50", "p90", "p95", "p99"]


def table(store: Store, name: str, run_id: int) -> pl.DataFrame:
    sql = {
        "forecast_series": "SELECT * FROM forecast_series WHERE run_id = ? ORDER BY sku, location",
        "forecast_candidates": "SELECT * FROM forecast_candidates WHERE run_id = ? "
        "ORDER BY sku, location, method",
        "forecasts": "SELECT * FROM forecasts WHERE run_id = ? ORDER BY sku, location, date",
    }[name]
    return store.query(sql, [run_id]).drop("run_id")


def count(store: Store, name: str) -> int:
    sql = {
        "forecast_runs": "SELECT count(*) FROM forecast_runs",
        "forecast_series": "SELECT count(*) FROM forecast_series",
        "forecast_candidates": "SELECT count(*) FROM forecast_candidates",
        "forecasts": "SELECT count(*) FROM forecasts",
    }[name]
    return store.scalar(sql)


def demand_rows(rows: list[tuple[str, str, object, int]]) -> pl.DataFrame:
    return pl.DataFrame(
        rows,
        schema={"sku": pl.String, "location": pl.String, "date": pl.Date, "quantity": pl.Int64},
        orient="row",
    )


# -- what a run stores ------------------------------------------------------------------------


def test_a_run_is_stored_with_its_settings_and_counts(crafted_run):
    store, run = crafted_run
    assert run == get_run(store, run.run_id) == latest_run(store)
    assert run.as_of == AS_OF and run.horizon == 28
    assert (run.executor, run.workers) == ("inline", 1)
    assert run.series_count == len(EXPECTED_CLASS) and run.failures == 0 and run.reused == 0
    assert run.scope is None and run.duration_s > 0 and run.created_at is not None
    assert run.settings["horizon"] == 28 and run.settings["max_bias"] == pytest.approx(0.15)
    assert run.settings["prophet"]["name"] in {c.name for c in PROPHET_GRID}
    listed = list_runs(store)
    assert listed["run_id"].to_list() == [run.run_id]
    assert listed["series_count"][0] == run.series_count


def test_each_series_is_stored_with_its_class_method_and_backtest(crafted_run):
    store, run = crafted_run
    series = table(store, "forecast_series", run.run_id)
    assert series.height == run.series_count
    got = {(r["sku"], r["location"]): r for r in series.iter_rows(named=True)}
    assert {k: r["demand_class"] for k, r in got.items()} == EXPECTED_CLASS
    assert not any(r["reused"] for r in got.values())
    assert all(r["failure"] is None and r["fit_key"] for r in got.values())
    assert got[("SEASONAL", "CQ-RDC")]["method"] in PROPHET_METHODS
    assert got[("NEW", "CD-RDC")]["method"] == "new_item"
    assert got[("SHORT", "CD-RDC")]["method"] in BASELINE_METHODS
    for key in [k for k, c in EXPECTED_CLASS.items() if c in ("intermittent", "lumpy")]:
        assert got[key]["method"] in BASELINE_METHODS
    for key in [k for k, c in EXPECTED_CLASS.items() if c in ("too_short", "new")]:
        assert got[key]["rmsse"] is None and got[key]["bias"] is None  # not backtested
    assert got[("SMOOTH", "CD-RDC")]["history_days"] == 730
    assert got[("NEW", "CD-RDC")]["history_days"] == 20


def test_candidates_hold_every_method_tried_and_the_chosen_ones_scores(crafted_run):
    store, run = crafted_run
    series = {
        (r["sku"], r["location"]): r
        for r in table(store, "forecast_series", run.run_id).iter_rows(named=True)
    }
    candidates = table(store, "forecast_candidates", run.run_id)
    for key, cls in EXPECTED_CLASS.items():
        rows = candidates.filter((pl.col("sku") == key[0]) & (pl.col("location") == key[1]))
        methods = set(rows["method"])
        if cls in ("too_short", "new"):
            assert rows.is_empty()
            continue
        if key in PROPHET_SERIES:
            assert {*BASELINE_METHODS, "prophet"} <= methods
        else:
            assert methods == set(BASELINE_METHODS)  # intermittent and lumpy: never Prophet
        chosen = rows.filter(pl.col("chosen"))
        assert chosen.height == 1 and chosen["method"][0] == series[key]["method"]
        for score in ("rmsse", "wape", "bias"):
            assert chosen[score][0] == pytest.approx(series[key][score])
        within = rows.filter(pl.col("bias").abs() <= run.settings["max_bias"])
        if within.height:  # the bias limit: never a too-biased method when one is within
            assert abs(chosen["bias"][0]) <= run.settings["max_bias"]


def test_forecasts_cover_the_horizon_from_the_day_after_as_of(crafted_run):
    store, run = crafted_run
    rows = table(store, "forecasts", run.run_id)
    assert rows.height == run.series_count * run.horizon
    per_series = rows.group_by("sku", "location").agg(
        pl.len().alias("days"),
        pl.col("date").min().alias("first"),
        pl.col("date").max().alias("last"),
    )
    assert set(per_series["days"]) == {run.horizon}
    assert set(per_series["first"]) == {run.as_of + timedelta(days=1)}
    assert set(per_series["last"]) == {run.as_of + timedelta(days=run.horizon)}
    for prefix in ("", "cum_"):
        q = rows.select([f"{prefix}{c}" for c in QUANTILES]).to_numpy()
        assert np.all(q >= 0) and np.all(np.diff(q, axis=1) >= 0)
    assert (rows["mean"] >= 0).all() and (rows["sd"] >= 0).all()
    for _, group in rows.group_by("sku", "location"):
        assert np.all(np.diff(group["cum_mean"].to_numpy()) >= -1e-9)
        np.testing.assert_allclose(group["cum_mean"], np.cumsum(group["mean"]), rtol=1e-9)


def test_load_series_reads_history_to_as_of_with_missing_days_as_zero(crafted_store):
    series = {(s.sku, s.location): s for s in load_series(crafted_store, as_of=AS_OF)}
    for key, (start, values) in crafted_series().items():
        s = series[key]
        assert s.start == start
        np.testing.assert_array_equal(s.values, values)  # zero days filled back in
        assert s.country == "CN"
    earlier = AS_OF - timedelta(days=40)
    cut = {(s.sku, s.location): s for s in load_series(crafted_store, as_of=earlier)}
    assert ("NEW", "CD-RDC") not in cut  # it started later
    start, values = crafted_series()[("SMOOTH", "CD-RDC")]
    np.testing.assert_array_equal(
        cut[("SMOOTH", "CD-RDC")].values, values[: (earlier - start).days + 1]
    )


# -- reuse ---------------------------------------------------------------------------------------


def test_a_second_identical_run_reuses_every_series(crafted_store):
    settings = WITH_PROPHET.model_copy(update={"tuning_sample": 1})
    skus = ["SEASONAL", "INTERMITTENT", "NEW"]

    def run_hearing_progress():
        heard: list[tuple[int, int, str]] = []
        run = forecast(
            crafted_store,
            settings,
            horizon=14,
            skus=skus,
            show_bar=False,
            progress=lambda *report: heard.append(report),
        )
        return run, heard

    first, heard = run_hearing_progress()
    assert first.settings["tuning"]  # Prophet's settings were tuned on the sample
    stages = [stage for _, _, stage in heard]
    assert stages[0] == "tuning" and stages[-1] == "forecast"  # tuning is reported, first
    assert stages == sorted(stages, key=lambda s: s != "tuning")
    assert heard[stages.index("forecast") - 1] == (1, 1, "tuning")  # the whole sample
    assert heard[-1] == (3, 3, "forecast")
    second, progress = run_hearing_progress()
    assert progress == [(3, 3, "forecast")]  # reported even when nothing had to be computed
    assert second.run_id == first.run_id + 1
    assert second.reused == second.series_count == first.series_count == 3
    assert second.executor == "none" and second.failures == 0
    assert "tuning" not in second.settings  # the last tuning was reused too
    assert second.settings["prophet"] == first.settings["prophet"]
    for name in ("forecasts", "forecast_candidates"):
        assert table(crafted_store, name, second.run_id).equals(
            table(crafted_store, name, first.run_id)
        )
    a = table(crafted_store, "forecast_series", first.run_id)
    b = table(crafted_store, "forecast_series", second.run_id)
    assert b["reused"].all() and not a["reused"].any()
    assert b.drop("reused").equals(a.drop("reused"))


def test_a_run_over_unchanged_data_is_not_made_again_when_asked_to_reuse_it(crafted_store):
    first = forecast(crafted_store, BASELINES_ONLY, horizon=14, show_bar=False, created_by="li")
    again = forecast(
        crafted_store, BASELINES_ONLY, horizon=14, show_bar=False, created_by="wang", reuse_run=True
    )
    assert again == first and count(crafted_store, "forecast_runs") == 1
    assert again.created_by == "li"  # the run that was made, by who made it
    # another horizon is another run, and so is any change in the history
    longer = forecast(crafted_store, BASELINES_ONLY, horizon=21, show_bar=False, reuse_run=True)
    assert longer.run_id == first.run_id + 1
    assert (
        forecast(crafted_store, BASELINES_ONLY, horizon=21, show_bar=False, reuse_run=True)
        == longer
    )
    ingest_frame(
        crafted_store,
        "demand",
        demand_rows([("SEASONAL", "CQ-RDC", AS_OF - timedelta(days=3), 999)]),
    )
    changed = forecast(crafted_store, BASELINES_ONLY, horizon=21, show_bar=False, reuse_run=True)
    assert changed.run_id == longer.run_id + 1
    assert changed.reused == changed.series_count - 1


def test_a_baselines_only_run_leaves_prophets_settings_to_be_tuned(crafted_store):
    """A run that tried no Prophet chose no Prophet setting: the next run with Prophet tunes."""
    forecast(crafted_store, BASELINES_ONLY, horizon=14, show_bar=False, note="baselines only")
    assert latest_run(crafted_store).note == "baselines only"
    tuned = forecast(
        crafted_store,
        WITH_PROPHET.model_copy(update={"tuning_sample": 1}),
        horizon=14,
        skus=["SEASONAL"],
        show_bar=False,
    )
    assert tuned.settings["tuning"]


def test_a_changed_history_recomputes_only_that_series(crafted_store):
    first = forecast(crafted_store, BASELINES_ONLY, horizon=14, show_bar=False)
    day = AS_OF - timedelta(days=3)
    ingest_frame(crafted_store, "demand", demand_rows([("INTERMITTENT", "CD-RDC", day, 40)]))
    second = forecast(crafted_store, BASELINES_ONLY, horizon=14, show_bar=False)
    assert second.reused == second.series_count - 1
    recomputed = table(crafted_store, "forecast_series", second.run_id).filter(~pl.col("reused"))
    assert recomputed.select("sku", "location").rows() == [("INTERMITTENT", "CD-RDC")]
    before = load_forecasts(crafted_store, first.run_id)
    after = load_forecasts(crafted_store, second.run_id)
    changed = (pl.col("sku") == "INTERMITTENT") & (pl.col("location") == "CD-RDC")
    assert after.filter(~changed).equals(before.filter(~changed))
    assert not after.filter(changed).equals(before.filter(changed))


def test_other_settings_or_horizon_recompute(crafted_store):
    forecast(crafted_store, BASELINES_ONLY, horizon=14, show_bar=False)
    other_horizon = forecast(crafted_store, BASELINES_ONLY, horizon=21, show_bar=False)
    stricter = forecast(
        crafted_store,
        BASELINES_ONLY.model_copy(update={"max_bias": 0.05}),
        horizon=21,
        show_bar=False,
    )
    assert other_horizon.reused == 0 and stricter.reused == 0


# -- as of ----------------------------------------------------------------------------------------


def test_demand_after_as_of_never_reaches_the_forecast(crafted_db, tmp_path):
    """Two copies of the store that agree up to as_of and differ after it (changed days, a
    series that starts later) give the same stored forecast as of that date."""
    as_of = AS_OF - timedelta(days=40)
    plain = Store(copy_db(crafted_db, tmp_path, "plain.duckdb"))
    edited = Store(copy_db(crafted_db, tmp_path, "edited.duckdb"))
    try:
        later = [as_of + timedelta(days=d) for d in (1, 2, 10, 40)]
        edits = [
            (sku, loc, d, 999)
            for sku, loc in [
                ("SEASONAL", "CQ-RDC"),
                ("SMOOTH", "CD-RDC"),
                ("INTERMITTENT", "CD-RDC"),
            ]
            for d in later
        ]
        edits += [("IDLE", "CD-RDC", d, 50) for d in later]  # a series that starts later
        ingest_frame(edited, "demand", demand_rows(edits))
        skus = ["SEASONAL", "SMOOTH", "INTERMITTENT", "IDLE"]
        runs = [
            forecast(store, WITH_PROPHET, as_of=as_of, horizon=14, skus=skus, show_bar=False)
            for store in (plain, edited)
        ]
        a, b = (load_forecasts(s, r.run_id) for s, r in zip((plain, edited), runs, strict=True))
        assert (
            runs[0].series_count == runs[1].series_count == 4
        )  # SEASONAL, SMOOTH x2, INTERMITTENT
        assert "IDLE" not in set(b["sku"])
        assert a.equals(b)
        assert a["date"].min() == as_of + timedelta(days=1)
        assert a["date"].max() == as_of + timedelta(days=14)
        assert runs[1].as_of == as_of and runs[1].reused == 0
        s_a = table(plain, "forecast_series", runs[0].run_id).drop("reused")
        s_b = table(edited, "forecast_series", runs[1].run_id).drop("reused")
        assert s_a.equals(s_b)
        # and in the edited store a rerun as of that date finds every series unchanged
        again = forecast(edited, WITH_PROPHET, as_of=as_of, horizon=14, skus=skus, show_bar=False)
        assert again.reused == again.series_count
    finally:
        plain.close()
        edited.close()


# -- failures ---------------------------------------------------------------------------------------


def test_a_series_that_makes_prophet_fail_gets_a_baseline_and_the_run_goes_on(crafted_store):
    run = forecast(
        crafted_store,
        WITH_PROPHET,
        horizon=14,
        skus=["ERRATIC", "SMOOTH", "INTERMITTENT"],
        prophet_fn=stubs.failing_prophet,
        show_bar=False,
    )
    assert run.failures == 1 and run.series_count == 4
    series = {
        (r["sku"], r["location"]): r
        for r in table(crafted_store, "forecast_series", run.run_id).iter_rows(named=True)
    }
    failed = series.pop(("ERRATIC", "CD-RDC"))
    assert failed["method"] in BASELINE_METHODS
    assert stubs.FAILURE_TEXT in failed["failure"] and "prophet" in failed["failure"].lower()
    assert all(r["failure"] is None for r in series.values())
    tried = table(crafted_store, "forecast_candidates", run.run_id)
    assert set(tried.filter(pl.col("sku") == "ERRATIC")["method"]) == set(BASELINE_METHODS)
    assert "prophet" in set(tried.filter(pl.col("sku") == "SMOOTH")["method"])
    erratic = load_forecasts(crafted_store, run.run_id, sku="ERRATIC")
    assert erratic.height == 14 and erratic["mean"].is_finite().all()


def forecast_failing_twice(store):
    """Two identical runs of the one series whose Prophet fails; the second reuses the first."""
    return [
        forecast(
            store,
            WITH_PROPHET,
            horizon=7,
            skus=["ERRATIC"],
            prophet_fn=stubs.failing_prophet,
            show_bar=False,
        )
        for _ in range(2)
    ]


def test_a_failure_stays_visible_in_the_next_identical_run(crafted_store):
    first, second = forecast_failing_twice(crafted_store)  # today: the second one reuses
    assert first.failures == 1
    failures = table(crafted_store, "forecast_series", second.run_id)["failure"]
    assert failures.is_not_null().sum() == 1


def test_the_runs_failure_count_matches_its_series(crafted_store):
    _first, second = forecast_failing_twice(crafted_store)
    failed = table(crafted_store, "forecast_series", second.run_id)["failure"].is_not_null().sum()
    assert second.failures == failed


# -- bad input -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "error", "named"),
    [
        ({"skus": ["SMOOTH", "NOPE-1"]}, NotFoundError, "NOPE-1"),
        ({"skus": ["NOPE-2", "NOPE-3"]}, NotFoundError, "NOPE-3"),
        ({"locations": ["XX-RDC"]}, NotFoundError, "XX-RDC"),
        ({"skus": ["IDLE"]}, NotFoundError, "IDLE"),  # known, but no demand to forecast
        ({"as_of": AS_OF + timedelta(days=1)}, ControlTowerError, str(AS_OF)),
        ({"horizon": 731}, ControlTowerError, "731"),
        ({"horizon": -1}, ControlTowerError, "-1"),
    ],
)
def test_bad_input_is_refused_clearly_and_writes_nothing(crafted_store, kwargs, error, named):
    with pytest.raises(error) as refused:
        forecast(crafted_store, BASELINES_ONLY, show_bar=False, **kwargs)
    if named != "IDLE":
        assert named in refused.value.detail
    assert refused.value.title and refused.value.title != ControlTowerError.title
    assert count(crafted_store, "forecast_runs") == 0


def test_horizon_zero_is_refused(crafted_store):
    with pytest.raises(ControlTowerError):
        forecast(crafted_store, BASELINES_ONLY, horizon=0, skus=["SMOOTH"], show_bar=False)


def test_an_empty_store_or_one_without_demand_has_nothing_to_forecast(tmp_path, network):
    with Store(tmp_path / "empty.duckdb") as empty:
        with pytest.raises(NotFoundError):
            forecast(empty, BASELINES_ONLY, show_bar=False)
        assert count(empty, "forecast_runs") == 0
    with pytest.raises(NotFoundError):  # master data, but no demand yet
        forecast(network, BASELINES_ONLY, show_bar=False)
    assert count(network, "forecast_runs") == 0


def test_nothing_is_half_written_when_the_write_fails(crafted_store):
    # a stray row (a crash of some other writer) sits where the next run's first forecast goes
    first_day = AS_OF + timedelta(days=1)
    crafted_store.rows(
        "INSERT INTO forecasts VALUES (1, 'INTERMITTENT', 'CD-RDC', ?, 1,1,1,1,1,1,1,1,1,1,1,1)",
        [first_day],
    )
    with pytest.raises(StoreError):
        forecast(crafted_store, BASELINES_ONLY, horizon=7, show_bar=False)
    assert count(crafted_store, "forecast_runs") == 0
    assert count(crafted_store, "forecast_series") == 0
    assert count(crafted_store, "forecast_candidates") == 0
    assert count(crafted_store, "forecasts") == 1  # only the stray row
    crafted_store.rows("DELETE FROM forecasts")
    run = forecast(crafted_store, BASELINES_ONLY, horizon=7, show_bar=False)
    assert run.run_id == 1 and count(crafted_store, "forecasts") == run.series_count * 7


# -- finding runs ---------------------------------------------------------------------------------------


def test_runs_are_found_by_id_or_latest(crafted_store):
    with pytest.raises(NotFoundError):
        resolve_run(crafted_store, "latest")
    assert latest_run(crafted_store) is None
    first = forecast(crafted_store, BASELINES_ONLY, horizon=7, skus=["SMOOTH"], show_bar=False)
    second = forecast(crafted_store, BASELINES_ONLY, horizon=7, show_bar=False)
    assert resolve_run(crafted_store, None) == resolve_run(crafted_store, "latest") == second
    assert (
        resolve_run(crafted_store, first.run_id)
        == resolve_run(crafted_store, str(first.run_id))
        == first
    )
    assert first.series_count == 2 and second.series_count == len(EXPECTED_CLASS)
    assert "SMOOTH" in first.scope and second.scope is None
    for bad in (99, "abc"):
        with pytest.raises(NotFoundError):
            resolve_run(crafted_store, bad)
    assert list_runs(crafted_store)["run_id"].to_list() == [second.run_id, first.run_id]
