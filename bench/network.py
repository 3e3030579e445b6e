"""The large demo network the optimizer and exception benchmarks run on."""

from __future__ import annotations

import time
from pathlib import Path


def ensure_demo(db: Path, skus: int, locations: int, days: int) -> None:
    """Build the demo at this size into ``db`` unless the file exists."""
    from control_tower.ingest.demo import build_demo
    from control_tower.store import Store

    if db.exists():
        return
    started = time.perf_counter()
    with Store(db) as store:
        build_demo(store, skus=skus, locations=locations, days=days)
    print(f"built the demo into {db} in {time.perf_counter() - started:.0f} s")


def size_problem(store, db: Path, skus: int, locations: int) -> str | None:
    """Why ``store`` is not the network asked for (None when it is)."""
    have_skus = store.scalar("SELECT count(*) FROM products")
    have_locations = store.scalar(
        "SELECT count(*) FROM locations WHERE kind IN ('central_dc', 'regional_dc', 'store')"
    )
    if (have_skus, have_locations) == (skus, locations):
        return None
    return f"{db} holds {have_skus} SKUs and {have_locations} locations, not {skus} and {locations}"
