from __future__ import annotations

import threading

import duckdb
import pytest

from control_tower.errors import SchemaVersionError, StoreError
from control_tower.store import SCHEMA_VERSION, Store


def test_a_new_file_is_migrated_to_the_current_version(tmp_path):
    path = tmp_path / "a.duckdb"
    with Store(path) as s:
        assert s.schema_version() == SCHEMA_VERSION
        tables = {r[0] for r in s.rows("SELECT table_name FROM information_schema.tables")}
    assert {
        "locations",
        "products",
        "suppliers",
        "supplier_products",
        "lanes",
        "ledger",
        "demand_history",
        "purchase_orders",
        "transfers",
        "import_runs",
    } <= tables
    with Store(path) as again:  # reopening applies nothing twice
        assert again.scalar("SELECT count(*) FROM schema_version") == SCHEMA_VERSION


def test_a_file_from_a_newer_version_is_refused(tmp_path):
    path = tmp_path / "newer.duckdb"
    Store(path).close()
    con = duckdb.connect(str(path))
    con.execute(
        "INSERT INTO schema_version (version, name) VALUES (?, 'from the future')",
        [SCHEMA_VERSION + 1],
    )
    con.close()
    with pytest.raises(SchemaVersionError, match="newer|knows only"):
        Store(path)


def test_a_transaction_is_all_or_nothing(store):
    with pytest.raises(RuntimeError):
        with store.transaction() as cur:
            cur.execute("INSERT INTO locations (code, name, kind) VALUES ('X', 'x', 'store')")
            raise RuntimeError("boom")
    assert store.scalar("SELECT count(*) FROM locations") == 0


def test_version_counts_committed_writes(store):
    before = store.version
    with store.transaction() as cur:
        cur.execute("INSERT INTO locations (code, name, kind) VALUES ('X', 'x', 'store')")
    assert store.version == before + 1


def test_threads_read_through_their_own_cursors(store):
    with store.transaction() as cur:
        cur.execute("INSERT INTO locations (code, name, kind) VALUES ('X', 'x', 'store')")
    seen = []
    threads = [
        threading.Thread(target=lambda: seen.append(store.scalar("SELECT count(*) FROM locations")))
        for _ in range(8)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert seen == [1] * 8


def test_a_read_only_store_refuses_writes(tmp_path):
    path = tmp_path / "ro.duckdb"
    Store(path).close()
    with Store(path, read_only=True) as ro, pytest.raises(StoreError, match="read-only"):
        with ro.transaction():
            pass
