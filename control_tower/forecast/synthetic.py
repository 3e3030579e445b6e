"""Store-level retail sales as they really look, for backtests and benchmarks.

The demo network's regional DCs see smooth, aggregated demand. Shelves do not: most SKU x store
series sell a few units a week, stores close on Sundays or for the Spring Festival, shelves
run empty for days (sales 0 while people wanted to buy), a bulk order or a keying error puts a
single day at fifty times the usual, unannounced promotions lift a week, a competitor opening
shifts the level, items launch and are delisted mid-history. Only days with sales are written,
as sales feeds do. Deterministic by seed.
"""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import polars as pl

from control_tower.forecast.holidays import holiday_frame

CATEGORIES = (
    # name, weekly profile Mon..Sun, yearly amplitude, festival sensitivity
    ("grocery", (0.9, 0.85, 0.9, 0.95, 1.1, 1.3, 1.2), 0.10, 0.6),
    ("beverages", (0.9, 0.9, 0.9, 1.0, 1.1, 1.25, 1.2), 0.35, 0.4),
    ("personal_care", (0.95, 0.95, 0.95, 1.0, 1.05, 1.1, 1.0), 0.05, 1.0),
    ("electronics", (0.8, 0.8, 0.85, 0.9, 1.1, 1.5, 1.4), 0.15, 2.0),
    ("apparel", (0.8, 0.8, 0.85, 0.9, 1.1, 1.5, 1.4), 0.40, 1.5),
)
FESTIVAL_LIFT = {  # phase of the China calendar -> multiplier at sensitivity 1
    "double_11_day": 2.5,
    "double_11_run_up": 1.4,
    "double_11_after": 1.3,
    "double_11_lull": 0.85,
    "618_day": 1.8,
    "618_run_up": 1.25,
    "double_12_day": 1.4,
    "spring_festival_stocking": 1.3,
    "spring_festival_rush": 1.5,
    "spring_festival_wind_down": 0.6,
    "spring_festival_week": 0.3,
    "spring_festival_return": 0.7,
    "national_day_golden_week": 1.3,
}


def retail_frames(
    *, series: int = 200, days: int = 730, end_date: date = date(2026, 11, 15), seed: int = 11
) -> dict[str, pl.DataFrame]:
    """Frames for the ``locations``, ``products`` and ``demand`` imports: about ``series``
    SKU x store series of ``days`` days, about seven stores per SKU."""
    rng = np.random.default_rng(seed)
    stores = max(3, min(12, series // 10))
    skus = max(1, int(np.ceil(series / min(stores, 7))))
    start = end_date - timedelta(days=days - 1)
    dates = np.array([start + timedelta(days=i) for i in range(days)])
    t = np.arange(days)
    weekday = np.array([d.weekday() for d in dates])
    doy = np.array([d.timetuple().tm_yday for d in dates])
    calendar = holiday_frame("CN", start.year, end_date.year)
    phase_days: dict[str, np.ndarray] = {}
    for phase in FESTIVAL_LIFT:
        hits = set(calendar.loc[calendar["holiday"] == phase, "ds"].dt.date)
        phase_days[phase] = np.array([d in hits for d in dates])
    spring_closed = np.zeros(days, dtype=bool)
    for d in calendar.loc[calendar["holiday"] == "spring_festival_week", "ds"].dt.date:
        offset = (d - start).days
        if 0 <= offset < days:
            spring_closed[offset] = True  # some stores close the whole holiday week

    locations = pl.DataFrame(
        {
            "code": [f"ST-{i:03d}" for i in range(stores)],
            "name": [f"Store {i:03d}" for i in range(stores)],
            "kind": ["store"] * stores,
            "region": [("east", "north", "south", "west")[i % 4] for i in range(stores)],
            "country": ["CN"] * stores,
        }
    )
    category_of = rng.integers(0, len(CATEGORIES), size=skus)
    unit_cost = np.round(rng.lognormal(3.0, 0.8, size=skus), 2)
    products = pl.DataFrame(
        {
            "sku": [f"RT-{i:05d}" for i in range(skus)],
            "name": [f"Retail item {i:05d}" for i in range(skus)],
            "category": [CATEGORIES[c][0] for c in category_of],
            "unit_cost": unit_cost,
            "price": np.round(unit_cost * rng.uniform(1.2, 2.0, size=skus), 2),
        }
    )
    closes_sunday = rng.uniform(size=stores) < 0.25
    closes_spring = rng.uniform(size=stores) < 0.5
    store_size = rng.lognormal(0.0, 0.5, size=stores)

    rows_sku, rows_loc, rows_date, rows_qty = [], [], [], []
    made = 0
    for s in range(skus):
        name, weekly, amplitude, sensitivity = CATEGORIES[category_of[s]]
        # a long tail: most items are slow movers
        base_rate = float(
            rng.choice(
                [rng.uniform(0.05, 0.6), rng.uniform(0.6, 4), rng.uniform(4, 40)],
                p=[0.45, 0.35, 0.2],
            )
        )
        peak = rng.uniform(0, 365)
        seasonal = 1 + amplitude * np.cos(2 * np.pi * (doy - peak) / 365.25)
        festival = np.ones(days)
        for phase, lift in FESTIVAL_LIFT.items():
            festival[phase_days[phase]] *= max(1 + (lift - 1) * sensitivity, 0.05)
        launch = int(rng.integers(0, days - 60)) if rng.uniform() < 0.1 else 0
        delist = int(rng.integers(days // 2, days)) if rng.uniform() < 0.05 else days
        for loc in rng.permutation(stores)[: min(stores, 7)]:
            if made >= series:
                break
            made += 1
            rate = base_rate * store_size[loc] * seasonal * festival * np.array(weekly)[weekday]
            trend = 1 + rng.normal(0, 0.15) * t / 365
            shift_at = int(rng.integers(days // 3, days)) if rng.uniform() < 0.15 else days
            rate = (
                rate
                * np.clip(trend, 0.3, None)
                * np.where(t >= shift_at, rng.uniform(0.6, 1.4), 1.0)
            )
            for _ in range(rng.poisson(days / 120)):  # unannounced promotions
                p0 = int(rng.integers(0, days - 7))
                rate[p0 : p0 + 7] *= rng.uniform(1.4, 2.5)
            dispersion = rng.uniform(0.8, 6.0)
            qty = rng.negative_binomial(dispersion, dispersion / (dispersion + rate)).astype(
                np.int64
            )
            qty[(t < launch) | (t >= delist)] = 0
            if closes_sunday[loc]:
                qty[weekday == 6] = 0
            if closes_spring[loc]:
                qty[spring_closed] = 0
            for _ in range(rng.poisson(days / 200)):  # empty shelf for a few days
                o0 = int(rng.integers(0, days - 10))
                qty[o0 : o0 + int(rng.integers(2, 10))] = 0
            spikes = rng.uniform(size=days) < 0.003  # bulk orders, keying errors
            qty[spikes] += (rng.uniform(10, 50, size=spikes.sum()) * max(base_rate, 1)).astype(
                np.int64
            )
            sold = np.flatnonzero(qty > 0)
            rows_sku.extend([f"RT-{s:05d}"] * len(sold))
            rows_loc.extend([f"ST-{loc:03d}"] * len(sold))
            rows_date.extend(dates[sold])
            rows_qty.extend(qty[sold])
    demand = pl.DataFrame(
        {"sku": rows_sku, "location": rows_loc, "date": rows_date, "quantity": rows_qty},
        schema={"sku": pl.String, "location": pl.String, "date": pl.Date, "quantity": pl.Int64},
    )
    used = demand["sku"].unique()
    return {
        "locations": locations,
        "products": products.filter(pl.col("sku").is_in(used.implode())),
        "demand": demand,
    }
