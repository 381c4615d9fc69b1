"""SQLite persistence: everything round-trips, survives reopen and kill -9, and bad files are named."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from lwm2m_gateway.store import FILE_NAME, MIGRATIONS, Store, StoreError


def test_every_kind_of_state_round_trips_through_a_reopen(tmp_path: Path) -> None:
    store = Store.open(tmp_path)
    gateway_id = store.gateway_id
    store.save_registration("dev", {"lifetime": 60, "objects": [3, 3303]})
    store.save_observation("dev", "/3303/0", {"attributes": {"pmin": 1}})
    store.save_values("dev", [("/3303/0/5700", 21.5, 100.0), ("/3/0/0", "ACME", 101.0)])
    store.set_meta("firmware.images", "[]")
    store.close()

    again = Store.open(tmp_path)
    assert again.gateway_id == gateway_id
    assert again.load_registrations() == {"dev": {"lifetime": 60, "objects": [3, 3303]}}
    assert again.load_observations() == {"dev": {"/3303/0": {"attributes": {"pmin": 1}}}}
    assert again.load_observations_of("dev") == {"/3303/0": {"attributes": {"pmin": 1}}}
    assert again.load_observations_of("other") == {}
    assert again.load_values() == {
        "dev": {"/3303/0/5700": (21.5, 100.0), "/3/0/0": ("ACME", 101.0)}
    }
    assert again.get_meta("firmware.images") == "[]"


def test_delete_endpoint_forgets_registration_observations_and_values(tmp_path: Path) -> None:
    store = Store.open(tmp_path)
    for name in ("a", "b"):
        store.save_registration(name, {})
        store.save_observation(name, "/3/0", {})
        store.save_values(name, [("/3/0/0", 1, 1.0)])
    store.delete_endpoint("a")
    assert list(store.load_registrations()) == ["b"]
    assert list(store.load_observations()) == ["b"]
    assert list(store.load_values()) == ["b"]


def test_delete_values_removes_an_instance_subtree_only(tmp_path: Path) -> None:
    store = Store.open(tmp_path)
    store.save_values("d", [("/3303/1/5700", 1, 1.0), ("/3303/10/5700", 2, 1.0)])
    store.delete_values("d", "/3303/1")
    assert store.load_values() == {"d": {"/3303/10/5700": (2, 1.0)}}


def test_what_a_call_returned_from_survives_kill_9(tmp_path: Path) -> None:
    script = f"""
import os, signal
from pathlib import Path
from lwm2m_gateway.store import Store
store = Store.open(Path({str(tmp_path)!r}))
store.save_registration("dev", {{"lifetime": 300}})
store.save_values("dev", [("/3303/0/5700", 19.0, 5.0)])
os.kill(os.getpid(), signal.SIGKILL)
"""
    result = subprocess.run([sys.executable, "-c", script], check=False, timeout=60)
    assert result.returncode == -9
    store = Store.open(tmp_path)
    assert store.load_registrations() == {"dev": {"lifetime": 300}}
    assert store.load_values() == {"dev": {"/3303/0/5700": (19.0, 5.0)}}


def test_a_newer_schema_is_refused_not_overwritten(tmp_path: Path) -> None:
    Store.open(tmp_path).close()
    db = sqlite3.connect(tmp_path / FILE_NAME)
    db.execute(f"PRAGMA user_version={len(MIGRATIONS) + 1}")
    db.close()
    with pytest.raises(StoreError, match="upgrade the gateway"):
        Store.open(tmp_path)


def test_values_stored_by_schema_3_survive_the_move_to_a_table_without_rowid(
    tmp_path: Path,
) -> None:
    """Schema 4 rebuilds resource_values; a gateway upgraded in place keeps every value."""
    db = sqlite3.connect(tmp_path / FILE_NAME, isolation_level=None)
    for step in MIGRATIONS[:3]:
        step(db)
    db.execute("PRAGMA user_version=3")
    db.executemany("INSERT INTO resource_values VALUES (?, ?, ?, ?)",
                   [("dev", "/3303/0/5700", "21.5", 100.0), ("dev", "/3/0/0", '"ACME"', 101.0)])  # fmt: skip
    db.close()

    store = Store.open(tmp_path)
    assert store.load_values() == {
        "dev": {"/3303/0/5700": (21.5, 100.0), "/3/0/0": ("ACME", 101.0)}
    }
    store.save_values("dev", [("/3303/0/5700", 22.0, 102.0)])
    assert store.load_values()["dev"]["/3303/0/5700"] == (22.0, 102.0)
    store.close()
    db = sqlite3.connect(tmp_path / FILE_NAME)
    (sql,) = db.execute("SELECT sql FROM sqlite_master WHERE name = 'resource_values'").fetchone()
    assert "WITHOUT ROWID" in sql
    assert db.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS) == 4
    db.close()


def test_a_file_that_is_not_a_database_is_named(tmp_path: Path) -> None:
    (tmp_path / FILE_NAME).write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StoreError, match=FILE_NAME):
        Store.open(tmp_path)


def test_a_corrupt_row_is_skipped_and_the_rest_loads(tmp_path: Path) -> None:
    store = Store.open(tmp_path)
    store.save_registration("good", {"lifetime": 1})
    store.close()
    db = sqlite3.connect(tmp_path / FILE_NAME)
    db.execute("INSERT INTO registrations VALUES ('bad', '{not json')")
    db.commit()
    db.close()
    assert Store.open(tmp_path).load_registrations() == {"good": {"lifetime": 1}}


def test_many_small_value_writes_complete(tmp_path: Path) -> None:
    store = Store.open(tmp_path)
    for index in range(2000):
        store.save_values("d", [("/3303/0/5700", float(index), float(index))])
    assert store.load_values()["d"]["/3303/0/5700"] == (1999.0, 1999.0)
