"""Jobs: batch work queued in the ``jobs`` table and run by workers.

The table is the queue: a worker claims a job with a conditional UPDATE, so
several workers (threads or processes, SQLite or PostgreSQL) never run the
same job. A running job's heartbeat is refreshed by a monitor thread; a job
whose heartbeat goes stale (its worker died) is put back in the queue.
Cancellation is cooperative: the monitor notices ``cancel_requested`` and the
job's progress sink raises at the next unit of work.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from sqlalchemy import select, update

from embedders.base import NullProgress, Progress
from indexers.factory import EngineOptions

from .build import build_space
from ..store.db import Database
from ..errors import JobCancelled, JobFinished, JobNotFound, SpaceNotFound, VecdexError
from ..errors import error_payload as vecdex_error_payload
from ..observability import metrics
from ..store.models import Collection, Job, Space, utcnow
from .progress import FanOut

# In the vecdex logger hierarchy, which `vecdex serve` and `vecdex worker` configure (VECDEX_LOG_*).
log = logging.getLogger("vecdex.jobs")

ACTIVE = ("queued", "running")
FINISHED = ("succeeded", "failed", "cancelled")
HEARTBEAT_SECONDS = 5.0
FLUSH_SECONDS = 0.5


def error_payload(exc: BaseException) -> dict[str, Any]:
    """The {code, message, field} shape every error takes in a job row and over HTTP."""
    if isinstance(exc, VecdexError):
        return vecdex_error_payload(exc)
    return {"code": "internal_error", "message": f"{type(exc).__name__}: {exc}", "field": None}


def enqueue(session, kind: str, *, collection_id: int | None, space_id: int | None, params: dict | None = None) -> Job:  # type: ignore[no-untyped-def]
    job = Job(kind=kind, status="queued", collection_id=collection_id, space_id=space_id, params=params or {}, done=0)
    session.add(job)
    session.flush()
    return job


def get_job(session, job_id: int) -> Job:  # type: ignore[no-untyped-def]
    job = session.get(Job, job_id)
    if job is None:
        raise JobNotFound(f"job {job_id} not found", field="job_id")
    return job


def cancel_job(session, job_id: int) -> Job:  # type: ignore[no-untyped-def]
    """A queued job is cancelled at once; a running one is asked to stop; a finished one is a 409."""
    job = get_job(session, job_id)
    if job.status in FINISHED:
        raise JobFinished(f"job {job_id} already {job.status}", field="job_id")
    if job.status == "queued":
        job.status, job.finished_at = "cancelled", utcnow()
        job.error = {"code": "cancelled", "message": "cancelled before it started", "field": None}
        _mark_space(session, job, "cancelled", job.error)
    else:
        job.cancel_requested = True
    return job


def is_rebuild(job: Job) -> bool:
    """A build job for a space that is already built (``params.rebuild``): it writes the next generation."""
    return job.kind == "build_space" and bool((job.params or {}).get("rebuild"))


def _mark_space(session, job: Job, status: str, error: dict[str, Any] | None) -> None:  # type: ignore[no-untyped-def]
    """A first build that ends badly marks its space; a failed rebuild leaves the space ready at its generation."""
    if job.kind == "build_space" and job.space_id is not None and not is_rebuild(job):
        space = session.get(Space, job.space_id)
        if space is not None:
            space.status, space.error = status, error


def requeue_stale(db: Database, timeout: float) -> int:
    """Put back jobs whose worker stopped heart-beating (crashed or killed)."""
    cutoff = datetime.now(timezone.utc) - timedelta(seconds=timeout)
    with db.session() as session:
        result = session.execute(
            update(Job)
            .where(Job.status == "running", Job.heartbeat_at < cutoff)
            .values(status="queued", worker=None, phase=None, done=0)
        )
        return result.rowcount or 0


def claim(db: Database, job_id: int, worker: str) -> bool:
    """Atomically take one queued job (a conditional UPDATE: two claimants, one winner)."""
    with db.session() as session:
        now = utcnow()
        return bool(
            session.execute(
                update(Job)
                .where(Job.id == job_id, Job.status == "queued")
                .values(status="running", worker=worker, started_at=now, heartbeat_at=now)
            ).rowcount
        )


def claim_next(db: Database, worker: str) -> int | None:
    """Take the oldest queued job; None when the queue is empty."""
    with db.session() as session:
        candidates = list(session.scalars(select(Job.id).where(Job.status == "queued").order_by(Job.id).limit(5)))
    for job_id in candidates:
        if claim(db, job_id, worker):
            return job_id
    return None


class JobProgress:
    """Writes phase/done/total to the job row (throttled) and raises JobCancelled when asked to stop.

    Also times each phase (wall seconds from its ``start`` to the next one's, or to the end of the
    job): ``metrics.phases`` on the job, ``[{"phase": "vocabulary", "seconds": 0.4}, {"phase": "train",
    "seconds": 12.1}, ...]`` in the order they ran, so a slow build says where its time went. A phase
    started twice (an embedder training in several rounds) adds up."""

    def __init__(self, db: Database, job_id: int, cancelled: threading.Event) -> None:
        self._db = db
        self._job_id = job_id
        self._cancelled = cancelled
        self._done = 0
        self._last_flush = 0.0
        self._metrics: dict[str, Any] = {}
        self._phase: str | None = None
        self._phase_started = 0.0
        self._phase_seconds: dict[str, float] = {}

    def start(self, phase: str, total: int) -> None:
        self._check()
        self._close_phase()
        self._phase, self._phase_started = phase, time.perf_counter()
        self._done = 0
        self._write(phase=phase, total=total, done=0)

    def _close_phase(self) -> None:
        if self._phase is not None:
            spent = self._phase_seconds.get(self._phase, 0.0) + time.perf_counter() - self._phase_started
            self._phase_seconds[self._phase] = round(spent, 3)
            # a list, in the order the phases ran: PostgreSQL's JSONB does not keep an object's key order
            self._metrics["phases"] = [{"phase": p, "seconds": s} for p, s in self._phase_seconds.items()]
            self._phase = None

    def advance(self, n: int = 1) -> None:
        self._check()
        self._done += n
        now = datetime.now().timestamp()
        if now - self._last_flush >= FLUSH_SECONDS:
            self._write(done=self._done)

    def note(self, **metrics: float | int | str) -> None:
        """Live figures (tokens/s, perplexity, ...) shown on the job; merged, newest value wins."""
        self._check()
        self._metrics.update(metrics)
        now = datetime.now().timestamp()
        if now - self._last_flush >= FLUSH_SECONDS:
            self._write(done=self._done, metrics=dict(self._metrics))

    def flush(self) -> None:
        """The last figures, the running phase's time included (called once the job's work ended, well or not)."""
        self._close_phase()
        self._write(done=self._done, **({"metrics": dict(self._metrics)} if self._metrics else {}))

    def _check(self) -> None:
        if self._cancelled.is_set():
            raise JobCancelled(f"job {self._job_id} was cancelled")

    def _write(self, **values: Any) -> None:
        self._last_flush = datetime.now().timestamp()
        with self._db.session() as session:
            session.execute(update(Job).where(Job.id == self._job_id).values(heartbeat_at=utcnow(), **values))


class _Monitor(threading.Thread):
    """Heartbeat + cancel watcher for one running job."""

    def __init__(self, db: Database, job_id: int, cancelled: threading.Event) -> None:
        super().__init__(name=f"job-{job_id}-monitor", daemon=True)
        self._db, self._job_id, self._cancelled = db, job_id, cancelled
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.wait(HEARTBEAT_SECONDS):
            try:
                with self._db.session() as session:
                    session.execute(update(Job).where(Job.id == self._job_id).values(heartbeat_at=utcnow()))
                    if session.scalar(select(Job.cancel_requested).where(Job.id == self._job_id)):
                        self._cancelled.set()
            except Exception:  # a missed heartbeat is not fatal; the next one retries
                log.exception("heartbeat of job %s failed", self._job_id)


Runner = Callable[[Database, Path, Job, Progress, EngineOptions], None]


def _run_build_space(db: Database, spaces_root: Path, job: Job, progress: Progress, options: EngineOptions) -> None:
    if job.space_id is None:
        raise SpaceNotFound("the space of this job was deleted", field="space_id")
    build_space(
        db,
        spaces_root,
        job.space_id,
        progress,
        make_default=bool(job.params.get("make_default")),
        rebuild=is_rebuild(job),
        engine_options=options,
    )


RUNNERS: dict[str, Runner] = {"build_space": _run_build_space}


def run_job(
    db: Database,
    spaces_root: Path,
    job_id: int,
    echo: Progress | None = None,
    engine_options: EngineOptions | None = None,
) -> Job:
    """Run a claimed job to completion and record how it ended; never raises for the job's own errors.

    ``engine_options`` say where index engines with storage of their own (Milvus) keep it.
    """
    start = time.perf_counter()
    cancelled = threading.Event()
    with db.session() as session:
        job = get_job(session, job_id)
        if job.cancel_requested:
            cancelled.set()
        where = _job_names(session, job)
    log.info("job %s started", job_id, extra={"job_id": job_id, "job_type": job.kind, **where})
    progress = JobProgress(db, job_id, cancelled)
    monitor = _Monitor(db, job_id, cancelled)
    monitor.start()
    status, error, unexpected = "succeeded", None, None
    try:
        try:
            RUNNERS[job.kind](db, spaces_root, job, FanOut(progress, echo or NullProgress()), engine_options or EngineOptions())
        finally:
            progress.flush()  # the phase timings of a failed or cancelled job too
    except JobCancelled as exc:
        status, error = "cancelled", error_payload(exc)
    except Exception as exc:
        status, error = "failed", error_payload(exc)
        unexpected = None if isinstance(exc, VecdexError) else exc  # a bug: its traceback goes in the log
    finally:
        monitor.stop.set()
        monitor.join()
    with db.session() as session:
        job = get_job(session, job_id)
        job.status, job.error, job.finished_at = status, error, utcnow()
        if status != "succeeded":
            _mark_space(session, job, "failed" if status == "failed" else "cancelled", error)
    _log_end(job, status, error, unexpected, time.perf_counter() - start, where)
    return job


def _job_names(session, job: Job) -> dict[str, str]:  # type: ignore[no-untyped-def]
    """The collection and space a job works on, by name, for its log lines (ids mean little to a reader)."""
    names: dict[str, str] = {}
    collection = session.get(Collection, job.collection_id) if job.collection_id is not None else None
    space = session.get(Space, job.space_id) if job.space_id is not None else None
    if collection is not None:
        names["collection"] = collection.name
    if space is not None:
        names["space"] = space.name
    return names


def _log_end(
    job: Job,
    status: str,
    error: dict[str, Any] | None,
    unexpected: BaseException | None,
    seconds: float,
    where: dict[str, str],
) -> None:
    """Record how a job ended: the job metrics, and one log line (WARNING for a failure, INFO otherwise)."""
    metrics.observe_job(job.kind, status, seconds)
    extra: dict[str, Any] = {"job_id": job.id, "job_type": job.kind, "outcome": status, **where}
    extra["duration_ms"] = round(seconds * 1000, 1)
    if error is not None:
        extra["error_code"] = error["code"]
    message = "job %s %s in %.2fs" + (": %s" if error is not None else "")
    args: tuple[Any, ...] = (job.id, status, seconds) + ((error["message"],) if error is not None else ())
    log.log(logging.WARNING if status == "failed" else logging.INFO, message, *args, exc_info=unexpected, extra=extra)


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}"


class Worker(threading.Thread):
    """Polls the queue and runs jobs one at a time until stopped."""

    def __init__(
        self,
        db: Database,
        spaces_root: Path,
        poll_seconds: float,
        stale_after: float,
        engine_options: EngineOptions | None = None,
    ) -> None:
        super().__init__(name="vecdex-worker", daemon=True)
        self._db, self._spaces_root = db, spaces_root
        self._engine_options = engine_options
        self._poll, self._stale_after = poll_seconds, stale_after
        self.stopping = threading.Event()

    def run(self) -> None:
        name = worker_name()
        while not self.stopping.is_set():
            try:
                requeue_stale(self._db, self._stale_after)
                job_id = claim_next(self._db, name)
            except Exception:
                log.exception("worker could not poll the job queue")
                job_id = None
            if job_id is None:
                self.stopping.wait(self._poll)
                continue
            run_job(self._db, self._spaces_root, job_id, engine_options=self._engine_options)

    def stop(self, timeout: float | None = 10.0) -> None:
        self.stopping.set()
        self.join(timeout)
