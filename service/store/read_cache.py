"""Values read from SQLite, remembered for as long as the database has not changed.

Why: on a cheap query the two reads of the query path (the space's state, the
hits' rows) were the largest share of the server's own CPU per request after
the HTTP stack (~12 % under concurrent load: pool checkout, statement,
rollback). SQLite says, for one cheap pragma, whether anything was committed
since it was last asked: ``PRAGMA data_version`` on a connection changes when
any *other* connection — another pool connection of this process, or another
process — commits. The watching connection never writes, so every write is
"another". While the number stays the same, what was read under it is still
what SQL would return.

A value is filed under the version read *before* the SQL that produced it. If
a commit lands between the two, the value may be newer than its tag, but the
tag is then already out of date (the version only grows) and the value is never
served. PostgreSQL has no such pragma: there the reads are made every time.
"""

from __future__ import annotations

import threading
from collections.abc import Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class VersionedCache(Generic[K, V]):
    """A bounded map that empties itself whenever it is used under a new data version."""

    def __init__(self, capacity: int) -> None:
        self._capacity = capacity
        self._version: int | None = None
        self._items: dict[K, V] = {}
        self._lock = threading.Lock()

    def get(self, version: int, key: K) -> V | None:
        """The value filed under ``key`` at exactly this version, or None."""
        if version != self._version:
            return None
        return self._items.get(key)

    def put(self, version: int, key: K, value: V) -> None:
        """File ``value``; a newer version than the one held starts the map afresh (an older one is dropped)."""
        with self._lock:
            if self._version is None or version > self._version:
                self._version, self._items = version, {}
            elif version < self._version:
                return  # read before a commit another reader has already seen: out of date
            if len(self._items) >= self._capacity:
                self._items.pop(next(iter(self._items)))  # the oldest entry: insertion order
            self._items[key] = value

    def clear(self) -> None:
        with self._lock:
            self._version, self._items = None, {}
