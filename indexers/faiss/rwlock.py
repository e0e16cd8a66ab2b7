"""The readers-writer lock around a FAISS index: searches share it, mutations hold it alone.

Why not a mutex-guarded counter (what this was): every search entered and left
a ``threading.Condition`` twice, and with 8 threads searching one index a thread
often found that mutex held by one that Python had just switched away from. It
then blocked, gave up the GIL, and waited to get it back: a third of the
threads' time at 1M documents (py-spy), more than FAISS's search.

Readers here take no lock while no writer is about. A reader marks itself in a
dict keyed by its thread and only then looks for a writer; a writer raises its
flag and only then looks for readers. Each of those steps is one dict or
attribute operation, done whole under the GIL, so whichever of a reader and a
writer moves second sees the first (the Dekker handshake). The slow path — a
writer present or waiting — goes through one condition, as before: a raised
writer flag stops new readers, so a writer cannot starve.

This relies on the GIL making each of those single operations atomic and
ordered, as CPython's does.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["ReadWriteLock"]


class ReadWriteLock:
    """Many readers or one writer; a waiting writer blocks new readers so it cannot starve. Reentrant for readers."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._readers: dict[int, int] = {}  # thread id -> how many reads it holds
        self._writer = False  # a writer holds the lock or waits for readers to leave
        self._writers = threading.Lock()  # one writer at a time

    @contextmanager
    def read(self) -> Iterator[None]:
        me = threading.get_ident()
        held = self._readers.get(me, 0)
        if held:  # already reading: a writer waits for this thread anyway
            self._readers[me] = held + 1
        else:
            self._enter()
        try:
            yield
        finally:
            self._leave(me)

    def _enter(self) -> None:
        me = threading.get_ident()
        while True:
            self._readers[me] = 1
            if not self._writer:
                return
            self._leave(me)  # a writer is about: step back and wait for it
            with self._cond:
                while self._writer:
                    self._cond.wait()

    def _leave(self, me: int) -> None:
        held = self._readers[me] - 1
        if held:
            self._readers[me] = held
            return
        del self._readers[me]
        if self._writer:
            with self._cond:
                self._cond.notify_all()

    @contextmanager
    def write(self) -> Iterator[None]:
        with self._writers:
            with self._cond:
                self._writer = True
                while self._readers:
                    self._cond.wait()
            try:
                yield
            finally:
                with self._cond:
                    self._writer = False
                    self._cond.notify_all()
