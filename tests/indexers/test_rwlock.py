"""The index's readers-writer lock: readers share it without a mutex, a writer holds it alone and is never starved."""

from __future__ import annotations

import threading
import time

from indexers.faiss.rwlock import ReadWriteLock


def test_a_writer_never_overlaps_a_reader_or_another_writer() -> None:
    lock = ReadWriteLock()
    inside = {"readers": 0, "writers": 0}
    guard = threading.Lock()  # only for the bookkeeping of this test
    bad: list[str] = []
    stop = threading.Event()

    def reader() -> None:
        while not stop.is_set():
            with lock.read():
                with guard:
                    inside["readers"] += 1
                    if inside["writers"]:
                        bad.append("reader beside a writer")
                time.sleep(0)  # let Python switch threads while the read is held
                with guard:
                    inside["readers"] -= 1

    def writer() -> None:
        for _ in range(300):
            with lock.write():
                with guard:
                    inside["writers"] += 1
                    if inside["readers"] or inside["writers"] > 1:
                        bad.append("writer beside another holder")
                time.sleep(0)
                with guard:
                    inside["writers"] -= 1

    readers = [threading.Thread(target=reader) for _ in range(6)]
    writers = [threading.Thread(target=writer) for _ in range(2)]
    for t in readers + writers:
        t.start()
    for t in writers:
        t.join(timeout=60)
    stop.set()
    for t in readers:
        t.join(timeout=60)
    assert not any(t.is_alive() for t in readers + writers), "deadlock"
    assert bad == []


def test_a_waiting_writer_stops_new_readers_and_a_nested_read_still_passes() -> None:
    lock = ReadWriteLock()
    order: list[str] = []
    first_in, writer_waiting = threading.Event(), threading.Event()
    release_first = threading.Event()

    def first_reader() -> None:
        with lock.read():
            first_in.set()
            release_first.wait(10)
            with lock.read():  # nested read while the writer waits: must not deadlock
                order.append("nested read")
        order.append("first reader out")

    def writer() -> None:
        first_in.wait(10)
        writer_waiting.set()
        with lock.write():
            order.append("writer")

    def late_reader() -> None:
        writer_waiting.wait(10)
        time.sleep(0.05)  # the writer's flag is up by now
        with lock.read():
            order.append("late reader")

    threads = [threading.Thread(target=f) for f in (first_reader, writer, late_reader)]
    for t in threads:
        t.start()
    time.sleep(0.2)
    assert order == []  # the writer waits for the first reader; the late reader waits for the writer
    release_first.set()
    for t in threads:
        t.join(timeout=10)
    assert order == ["nested read", "first reader out", "writer", "late reader"]
