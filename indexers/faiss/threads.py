"""The OpenMP thread budget FAISS may use per call.

Why not just leave OpenMP's default: it counts the machine's cores, not the
container's CPU quota, and every Python thread that calls FAISS gets its own
team, so a threaded server oversubscribes quickly.
"""

from __future__ import annotations

import math
import os
import threading
from pathlib import Path

import faiss

__all__ = ["PARALLEL_MIN_QUERIES", "set_faiss_threads", "use_threads"]

PARALLEL_MIN_QUERIES = 16  # fewer queries than this run on one OpenMP thread

_thread_budget: int | None = None
_set_here = threading.local()  # the team size this thread last gave OpenMP (see use_threads)


def set_faiss_threads(n: int | None) -> None:
    """Cap the OpenMP threads FAISS may use per call (None: detect again).

    Why not just leave OpenMP's default: it counts the machine's cores, not the
    container's CPU quota, and every Python thread that calls FAISS gets its own
    team, so a threaded server oversubscribes quickly.
    """
    global _thread_budget
    if n is not None and n < 1:
        raise ValueError(f"thread count must be >= 1, got {n}")
    _thread_budget = n


def _detect_cpus() -> int:
    for var in ("VECDEX_FAISS_THREADS", "OMP_NUM_THREADS"):
        value = os.environ.get(var, "").strip()
        if value.isdigit() and int(value) > 0:
            return int(value)
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cpus = os.cpu_count() or 1
    quota = _cgroup_cpu_quota()
    return max(1, min(cpus, quota) if quota else cpus)


def _cgroup_cpu_quota() -> int | None:
    try:
        quota, period = Path("/sys/fs/cgroup/cpu.max").read_text().split()[:2]
        return None if quota == "max" else max(1, math.ceil(int(quota) / int(period)))
    except (OSError, ValueError):
        return None


def use_threads(n_queries: int | None = None) -> None:
    """Set this thread's OpenMP team size for the FAISS call that follows.

    Builds (``n_queries`` None) and large query batches use every CPU in the
    budget; small batches use one thread: FAISS parallelises HNSW and IVF over
    queries anyway, and concurrent single-query requests each spawning a team
    is exactly the oversubscription to avoid. ``omp_set_num_threads`` is
    per-thread, which is why it is checked on every call.

    For searches it is called only when this thread's size changes: like
    every SWIG call it gives up the GIL, and getting it back under 8
    concurrent searches cost a tenth of each one's time (py-spy). Builds set
    it every time (cheap beside a build), so a size someone else gave this
    thread behind our back never slows a build down.
    """
    global _thread_budget
    if _thread_budget is None:
        _thread_budget = _detect_cpus()
    small = n_queries is not None and n_queries < PARALLEL_MIN_QUERIES
    size = 1 if small else _thread_budget
    if n_queries is None or getattr(_set_here, "size", None) != size:
        faiss.omp_set_num_threads(size)
        _set_here.size = size

