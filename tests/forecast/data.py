"""Small, documented demand data for the forecasting tests.

``crafted_frames()`` is a network (the tiny network of tests/conftest.py) whose series were
drawn, with a fixed seed, to fall in one demand class each (Syntetos-Boylan on the last year):

| sku          | location | days | drawn as                                   | class        |
|--------------|----------|------|--------------------------------------------|--------------|
| SMOOTH       | CD-RDC   | 730  | Poisson(30) every day                      | smooth       |
| SMOOTH       | SH-CDC   | 730  | Poisson(12) every day                      | smooth       |
| ERRATIC      | CD-RDC   | 701  | ceil(lognormal(2.5, 1.0)) every day        | erratic      |
| INTERMITTENT | CD-RDC   | 730  | 30% of days, 1 + Poisson(9)                | intermittent |
| LUMPY        | CQ-RDC   | 730  | 25% of days, ceil(lognormal(2, 1.2))       | lumpy        |
| SHORT        | CD-RDC   | 60   | Poisson(8) every day                       | too_short    |
| NEW          | CD-RDC   | 20   | 1 + Poisson(5) every day                   | new          |
| SEASONAL     | CQ-RDC   | 730  | Poisson(40 x weekly x yearly profile)      | smooth       |

Every series ends at ``AS_OF`` and starts with a demand day, so its start is its first demand.
ERRATIC alone starts on ``FAILING_START``: the stubs in ``stubs.py`` recognise it by that.
Intermittent and lumpy series are imported without their zero days (the loader fills them).
"""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import polars as pl

from tests.conftest import tiny_network_frames

AS_OF = date(2026, 9, 30)  # the last demand day of the crafted store (late September:
# the yearly profile of SEASONAL falls steeply there, which baselines cannot follow)
FAILING_START = AS_OF - timedelta(days=700)
EXPECTED_CLASS = {
    ("SMOOTH", "CD-RDC"): "smooth",
    ("SMOOTH", "SH-CDC"): "smooth",
    ("ERRATIC", "CD-RDC"): "erratic",
    ("INTERMITTENT", "CD-RDC"): "intermittent",
    ("LUMPY", "CQ-RDC"): "lumpy",
    ("SHORT", "CD-RDC"): "too_short",
    ("NEW", "CD-RDC"): "new",
    ("SEASONAL", "CQ-RDC"): "smooth",
}
PROPHET_SERIES = {k for k, c in EXPECTED_CLASS.items() if c in ("smooth", "erratic")}
CATEGORY = {
    "SMOOTH": "drinks",
    "ERRATIC": "drinks",
    "INTERMITTENT": "spares",
    "LUMPY": "spares",
    "SHORT": "snacks",
    "NEW": "snacks",
    "SEASONAL": "snacks",
    "IDLE": "spares",  # a product without any demand
}


def seasonal_profile(start: date, n: int) -> np.ndarray:
    """A strong weekly and yearly pattern: weekday factors 0.6..1.8 times 1 + 0.6 sin(year)."""
    days = [start + timedelta(days=i) for i in range(n)]
    weekly = np.array([0.6, 0.8, 1.0, 1.0, 1.2, 1.6, 1.8])[[d.weekday() for d in days]]
    day_of_year = np.array([d.timetuple().tm_yday for d in days])
    yearly = 1 + 0.6 * np.sin(2 * np.pi * (day_of_year - 80) / 365.25)
    return weekly * yearly


def draw(kind: str, rng: np.random.Generator, n: int, start: date | None = None) -> np.ndarray:
    """One series of ``n`` days of a kind named in the module table (integers >= 0, day 0 > 0)."""
    if kind == "smooth":
        y = rng.poisson(30, n)
    elif kind == "smooth_small":
        y = rng.poisson(12, n)
    elif kind == "erratic":
        y = np.ceil(rng.lognormal(2.5, 1.0, n))
    elif kind == "intermittent":
        y = (rng.random(n) < 0.3) * (1 + rng.poisson(9, n))
    elif kind == "lumpy":
        y = (rng.random(n) < 0.25) * np.ceil(rng.lognormal(2.0, 1.2, n))
    elif kind == "short":
        y = rng.poisson(8, n)
    elif kind == "new":
        y = 1 + rng.poisson(5, n)
    elif kind == "seasonal":
        y = rng.poisson(40 * seasonal_profile(start or date(2024, 1, 1), n))
    else:  # pragma: no cover - a typo in a test
        raise ValueError(kind)
    y = np.asarray(y, dtype=np.int64)
    y[0] = max(int(y[0]), 5)  # the first day is a demand day: start == first demand
    return y


CRAFTED = (
    # sku, location, kind, days, seed
    ("SMOOTH", "CD-RDC", "smooth", 730, 1),
    ("SMOOTH", "SH-CDC", "smooth_small", 730, 2),
    ("ERRATIC", "CD-RDC", "erratic", 701, 3),
    ("INTERMITTENT", "CD-RDC", "intermittent", 730, 4),
    ("LUMPY", "CQ-RDC", "lumpy", 730, 5),
    ("SHORT", "CD-RDC", "short", 60, 6),
    ("NEW", "CD-RDC", "new", 20, 7),
    ("SEASONAL", "CQ-RDC", "seasonal", 730, 8),
)


def crafted_series() -> dict[tuple[str, str], tuple[date, np.ndarray]]:
    """(sku, location) -> (first day, daily values up to AS_OF)."""
    out = {}
    for sku, location, kind, days, seed in CRAFTED:
        start = AS_OF - timedelta(days=days - 1)
        out[(sku, location)] = (start, draw(kind, np.random.default_rng(seed), days, start))
    return out


def demand_frame(
    series: dict[tuple[str, str], tuple[date, np.ndarray]], *, keep_zero_days: bool = True
) -> pl.DataFrame:
    rows: dict[str, list] = {"sku": [], "location": [], "date": [], "quantity": []}
    for (sku, location), (start, values) in series.items():
        sparse = not keep_zero_days or EXPECTED_CLASS.get((sku, location)) in (
            "intermittent",
            "lumpy",
        )
        for i, v in enumerate(values):
            if sparse and v == 0:
                continue
            rows["sku"].append(sku)
            rows["location"].append(location)
            rows["date"].append(start + timedelta(days=i))
            rows["quantity"].append(int(v))
    return pl.DataFrame(rows, schema_overrides={"date": pl.Date, "quantity": pl.Int64})


def product_frame(skus: list[str]) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "sku": skus,
            "name": [f"{s.title()} 产品" for s in skus],
            "category": [CATEGORY.get(s, "other") for s in skus],
            "unit_cost": [2.0 + i for i in range(len(skus))],
            "price": [3.0 + i for i in range(len(skus))],
        }
    )


def crafted_frames() -> dict[str, pl.DataFrame]:
    frames = tiny_network_frames()
    return {
        "locations": frames["locations"],
        "products": product_frame(list(CATEGORY)),
        "demand": demand_frame(crafted_series()),
    }
