"""SQLite persistence, the embedded default: registrations, observations, last values, settings.

Every write is its own short transaction (WAL, synchronous=NORMAL), so whatever a call has returned
from survives a `kill -9` of the gateway. Reads happen once, at start-up.
"""

from __future__ import annotations

import fcntl
import functools
import json
import logging
import os
import sqlite3
import threading
import uuid
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from .server.persistence import PersistenceError

_LOGGER = logging.getLogger(__name__)

FILE_NAME = "gateway.sqlite3"
LOCK_NAME = "gateway.lock"


class StoreError(Exception):
    """The database cannot be used; the message names the file and what to do."""


class DataDirectoryLock:
    """One gateway per data directory: a second one would split the devices' state."""

    def __init__(self, data_dir: Path) -> None:
        self.path = data_dir / LOCK_NAME
        self._file: int | None = None

    def acquire(self) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as err:
            raise StoreError(f"cannot write {self.path}: {err.strerror}") from err
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            raise StoreError(
                f"another gateway is using {self.path.parent}: stop it, or use another --data-dir"
            ) from None
        self._file = fd

    def release(self) -> None:
        if self._file is not None:
            os.close(self._file)  # closing the descriptor releases the lock
            self._file = None


def _schema_1(db: sqlite3.Connection) -> None:
    db.executescript(
        """
        CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
        CREATE TABLE registrations (endpoint TEXT PRIMARY KEY, data TEXT NOT NULL);
        CREATE TABLE observations (
            endpoint TEXT NOT NULL, key TEXT NOT NULL, data TEXT NOT NULL,
            PRIMARY KEY (endpoint, key));
        CREATE TABLE resource_values (
            endpoint TEXT NOT NULL, path TEXT NOT NULL, value TEXT NOT NULL,
            timestamp REAL NOT NULL, PRIMARY KEY (endpoint, path));
        """
    )


def _schema_2(db: sqlite3.Connection) -> None:
    """Security: per-endpoint PSK credentials and the owner's decisions on unknown endpoints."""
    db.executescript(
        """
        CREATE TABLE credentials (
            endpoint TEXT PRIMARY KEY, identity TEXT NOT NULL UNIQUE, key BLOB NOT NULL);
        CREATE TABLE admissions (endpoint TEXT PRIMARY KEY, decision TEXT NOT NULL);
        """
    )


def _schema_3(db: sqlite3.Connection) -> None:
    """Inventories: a device registering again with the same links keeps its inventory."""
    db.executescript(
        """
        CREATE TABLE inventories (
            endpoint TEXT PRIMARY KEY, signature TEXT NOT NULL, at REAL NOT NULL);
        """
    )


def _schema_4(db: sqlite3.Connection) -> None:
    """Last values in a table without rowid: keyed by (endpoint, path) alone, one B-tree
    instead of two, so each value written behind costs SQLite about a quarter less. Single
    statements, so the copy is in the migration's transaction."""
    db.execute(
        "CREATE TABLE resource_values_4 (endpoint TEXT NOT NULL, path TEXT NOT NULL, "
        "value TEXT NOT NULL, timestamp REAL NOT NULL, PRIMARY KEY (endpoint, path)) "
        "WITHOUT ROWID"
    )
    db.execute(
        "INSERT INTO resource_values_4 (endpoint, path, value, timestamp) "
        "SELECT endpoint, path, value, timestamp FROM resource_values"
    )
    db.execute("DROP TABLE resource_values")
    db.execute("ALTER TABLE resource_values_4 RENAME TO resource_values")


# Index i migrates user_version i to i + 1; later features append here, never edit old steps.
MIGRATIONS: list[Callable[[sqlite3.Connection], None]] = [
    _schema_1, _schema_2, _schema_3, _schema_4,
]  # fmt: skip


def _reads[**P, R](method: Callable[P, R]) -> Callable[P, R]:
    """One call at a time on the connection, which the value writer's thread shares: a read
    waits for a write in that thread to end."""

    @functools.wraps(method)
    def read(*args: P.args, **kwargs: P.kwargs) -> R:
        lock: threading.RLock = args[0]._lock  # type: ignore[attr-defined]
        with lock:
            return method(*args, **kwargs)

    return read


def _writes[**P, R](method: Callable[P, R]) -> Callable[P, R]:
    """Like _reads; and a write that fails (disk full, read-only, locked) raises
    PersistenceError, which the roles answer with 5.03 before changing anything in memory."""
    locked = _reads(method)

    @functools.wraps(method)
    def write(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return locked(*args, **kwargs)
        except sqlite3.Error as err:
            _LOGGER.error("Cannot write the database: %s", err)
            raise PersistenceError(str(err)) from err

    return write


class Store:
    def __init__(self, db: sqlite3.Connection, path: Path) -> None:
        self._db = db
        self.path = path
        self._lock = threading.RLock()  # one transaction at a time on the shared connection

    @classmethod
    def open(cls, data_dir: Path) -> Store:
        try:
            data_dir.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise StoreError(
                f"cannot create the data directory {data_dir}: {err.strerror}"
            ) from err
        path = data_dir / FILE_NAME
        try:
            # it holds device keys: readable by the gateway's user only (WAL files inherit it)
            os.close(os.open(path, os.O_RDWR | os.O_CREAT, 0o600))
            os.chmod(path, 0o600)
        except OSError as err:
            raise StoreError(f"cannot write {path}: {err.strerror}") from err
        try:
            db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            db.execute("PRAGMA busy_timeout=5000")
            version = db.execute("PRAGMA user_version").fetchone()[0]
        except sqlite3.DatabaseError as err:
            raise StoreError(f"{path} is not a usable SQLite database: {err}") from err
        if version > len(MIGRATIONS):
            db.close()
            raise StoreError(
                f"{path} has schema version {version}, newer than this gateway knows "
                f"({len(MIGRATIONS)}): upgrade the gateway, or point --data-dir elsewhere"
            )
        for step in range(version, len(MIGRATIONS)):
            with db:
                db.execute("BEGIN")
                MIGRATIONS[step](db)
                db.execute(f"PRAGMA user_version={step + 1}")
        store = cls(db, path)
        if store.get_meta("gateway_id") is None:
            store.set_meta("gateway_id", uuid.uuid4().hex)
        return store

    def close(self) -> None:
        self._db.close()

    @property
    def gateway_id(self) -> str:
        value = self.get_meta("gateway_id")
        assert value is not None
        return value

    @_reads
    def get_meta(self, key: str) -> str | None:
        row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    @_writes
    def set_meta(self, key: str, value: str) -> None:
        self._db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value))

    @_writes
    def save_registration(self, endpoint: str, data: Mapping[str, Any]) -> None:
        self._db.execute(
            "INSERT OR REPLACE INTO registrations (endpoint, data) VALUES (?, ?)",
            (endpoint, json.dumps(data)),
        )

    @_reads
    def load_registrations(self) -> dict[str, dict[str, Any]]:
        out = {}
        for endpoint, data in self._db.execute("SELECT endpoint, data FROM registrations"):
            if (parsed := _json(data, f"registration of {endpoint}")) is not None:
                out[endpoint] = parsed
        return out

    @_writes
    def delete_registration(self, endpoint: str) -> None:
        """Forget a registration but keep its observations and values for when it comes back."""
        self._db.execute("DELETE FROM registrations WHERE endpoint = ?", (endpoint,))

    @_writes
    def delete_endpoint(self, endpoint: str) -> None:
        with self._db:
            self._db.execute("BEGIN")
            for table in ("registrations", "observations", "resource_values", "inventories"):
                self._db.execute(f"DELETE FROM {table} WHERE endpoint = ?", (endpoint,))

    @_writes
    def save_observation(self, endpoint: str, key: str, data: Mapping[str, Any]) -> None:
        self._db.execute(
            "INSERT OR REPLACE INTO observations (endpoint, key, data) VALUES (?, ?, ?)",
            (endpoint, key, json.dumps(data)),
        )

    @_writes
    def delete_observation(self, endpoint: str, key: str) -> None:
        self._db.execute("DELETE FROM observations WHERE endpoint = ? AND key = ?", (endpoint, key))

    @_reads
    def load_observations(self) -> dict[str, dict[str, dict[str, Any]]]:
        out: dict[str, dict[str, dict[str, Any]]] = {}
        for endpoint, key, data in self._db.execute("SELECT endpoint, key, data FROM observations"):
            if (parsed := _json(data, f"observation {key} of {endpoint}")) is not None:
                out.setdefault(endpoint, {})[key] = parsed
        return out

    @_reads
    def load_observations_of(self, endpoint: str) -> dict[str, dict[str, Any]]:
        """One endpoint's observations (the primary key makes this an index lookup)."""
        rows = self._db.execute(
            "SELECT key, data FROM observations WHERE endpoint = ?", (endpoint,)
        )
        return {
            key: parsed
            for key, data in rows
            if (parsed := _json(data, f"observation {key} of {endpoint}")) is not None
        }

    @_writes
    def save_credential(self, endpoint: str, identity: str, key: bytes) -> None:
        self._db.execute(
            "INSERT OR REPLACE INTO credentials (endpoint, identity, key) VALUES (?, ?, ?)",
            (endpoint, identity, key),
        )

    @_writes
    def delete_credential(self, endpoint: str) -> None:
        self._db.execute("DELETE FROM credentials WHERE endpoint = ?", (endpoint,))

    @_reads
    def load_credentials(self) -> list[tuple[str, str, bytes]]:
        rows = self._db.execute("SELECT endpoint, identity, key FROM credentials")
        return [(str(e), str(i), bytes(k)) for e, i, k in rows]

    @_writes
    def save_inventory(self, endpoint: str, signature: str, at: float) -> None:
        self._db.execute(
            "INSERT OR REPLACE INTO inventories (endpoint, signature, at) VALUES (?, ?, ?)",
            (endpoint, signature, at),
        )

    @_reads
    def load_inventories(self) -> dict[str, tuple[str, float]]:
        rows = self._db.execute("SELECT endpoint, signature, at FROM inventories")
        return {str(endpoint): (str(sig), float(at)) for endpoint, sig, at in rows}

    @_writes
    def save_admission(self, endpoint: str, decision: str) -> None:
        self._db.execute(
            "INSERT OR REPLACE INTO admissions (endpoint, decision) VALUES (?, ?)",
            (endpoint, decision),
        )

    @_writes
    def delete_admission(self, endpoint: str) -> None:
        self._db.execute("DELETE FROM admissions WHERE endpoint = ?", (endpoint,))

    @_reads
    def load_admissions(self) -> dict[str, str]:
        rows = self._db.execute("SELECT endpoint, decision FROM admissions")
        return {str(endpoint): str(decision) for endpoint, decision in rows}

    def save_values(self, endpoint: str, values: Iterable[tuple[str, Any, float]]) -> None:
        self.save_value_batch({endpoint: {path: (value, stamp) for path, value, stamp in values}})

    @_writes
    def save_value_batch(self, batch: Mapping[str, Mapping[str, tuple[Any, float]]]) -> None:
        """Last values of many endpoints in one transaction (called from the value writer's
        thread: SQLite works without the GIL, so the event loop goes on meanwhile)."""
        rows = [
            (endpoint, path, json.dumps(value), stamp)
            for endpoint, values in batch.items()
            for path, (value, stamp) in values.items()
        ]
        if not rows:
            return
        with self._db:
            self._db.execute("BEGIN")
            self._db.executemany(
                "INSERT OR REPLACE INTO resource_values (endpoint, path, value, timestamp) "
                "VALUES (?, ?, ?, ?)",
                rows,
            )

    @_writes
    def delete_values(self, endpoint: str, path_prefix: str) -> None:
        """Forget the values at and below a path (after a Delete of an instance)."""
        self._db.execute(
            "DELETE FROM resource_values WHERE endpoint = ? AND (path = ? OR path LIKE ?)",
            (endpoint, path_prefix, path_prefix.rstrip("/") + "/%"),
        )

    @_reads
    def load_values(self) -> dict[str, dict[str, tuple[Any, float]]]:
        out: dict[str, dict[str, tuple[Any, float]]] = {}
        rows = self._db.execute("SELECT endpoint, path, value, timestamp FROM resource_values")
        for endpoint, path, value, stamp in rows:
            try:
                parsed = json.loads(value)
            except ValueError:
                _LOGGER.warning("Skipping an unreadable stored value of %s %s", endpoint, path)
                continue
            out.setdefault(endpoint, {})[path] = (parsed, float(stamp))
        return out


def _json(text: str, what: str) -> dict[str, Any] | None:
    try:
        value = json.loads(text)
    except ValueError:
        _LOGGER.warning("Skipping the unreadable stored %s", what)
        return None
    if not isinstance(value, dict):
        _LOGGER.warning("Skipping the stored %s: not an object", what)
        return None
    return value
