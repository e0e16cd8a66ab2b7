"""The job queue: one winner per claim, cancellation, stale-job recovery, failure recorded with its code."""

from __future__ import annotations

import threading
import time
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import update

from embedders.base import Progress
from service.runtime import jobs as jobs_mod
from service.store.db import Database
from service.runtime.jobs import cancel_job, claim, claim_next, enqueue, get_job, requeue_stale, run_job
from service.store.models import Job, Space, utcnow
from service.store.repository import create_collection, upsert_documents
from service.schemas import DocumentIn
from service.runtime.space_admin import create_space
from service.space_schemas import SpaceCreate
from tests.service.conftest import FAST_W2V
from tests.service.corpus import topical_documents
from tests.conftest import migrate


@pytest.fixture
def db(database_url: str) -> Database:
    migrate(database_url)
    database = Database(database_url)
    yield database
    database.dispose()


def _collection_with_space(db: Database, spec: dict | None = None) -> tuple[int, int]:
    with db.session() as s:
        create_collection(s, "topics")
    with db.session() as s:
        upsert_documents(s, "topics", [DocumentIn(**d) for d in topical_documents()])
    return create_space(db, "topics", SpaceCreate.model_validate({"name": "w2v", "embedder": spec or FAST_W2V}))


def test_concurrent_claims_have_one_winner(db: Database) -> None:
    with db.session() as s:
        job_id = enqueue(s, "build_space", collection_id=None, space_id=None).id
    wins: list[bool] = []
    barrier = threading.Barrier(4)

    def contender() -> None:
        barrier.wait()
        wins.append(claim(db, job_id, threading.current_thread().name))

    threads = [threading.Thread(target=contender) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(wins) == [False, False, False, True]
    assert claim_next(db, "late") is None


def test_cancel_queued_job_marks_space(db: Database) -> None:
    space_id, job_id = _collection_with_space(db)
    with db.session() as s:
        assert cancel_job(s, job_id).status == "cancelled"
    with db.session() as s:
        assert s.get(Space, space_id).status == "cancelled"
        with pytest.raises(Exception, match="already cancelled"):
            cancel_job(s, job_id)
    assert claim_next(db, "w") is None


def test_cancel_running_job_stops_it_and_leaves_no_files(db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    space_id, job_id = _collection_with_space(db, {**FAST_W2V, "epochs": 50})
    assert claim(db, job_id, "w")

    class CancelAfterFirstEpoch:
        """Requests cancellation (as POST /jobs/{id}/cancel would) once training has started."""

        def start(self, phase: str, total: int) -> None:
            pass

        def advance(self, n: int = 1) -> None:
            with db.session() as s:
                if not get_job(s, job_id).cancel_requested:
                    cancel_job(s, job_id)
            time.sleep(0.2)  # several monitor periods: the request is seen before the next unit of work

    monkeypatch.setattr(jobs_mod, "HEARTBEAT_SECONDS", 0.05)
    echo: Progress = CancelAfterFirstEpoch()
    job = run_job(db, tmp_path / "spaces", job_id, echo=echo)
    assert job.status == "cancelled" and job.error["code"] == "cancelled"
    with db.session() as s:
        assert s.get(Space, space_id).status == "cancelled"
        assert get_job(s, job_id).done < 50
    assert not (tmp_path / "spaces" / str(space_id)).exists()
    assert not (tmp_path / "spaces" / f"{space_id}.building").exists()


def test_failed_job_records_code_and_field(db: Database, tmp_path: Path) -> None:
    space_id, job_id = _collection_with_space(db)
    with db.session() as s:  # make the build impossible after the preflight passed
        s.execute(update(Space).where(Space.id == space_id).values(embedder_spec={**FAST_W2V, "min_count": 10_000}))
    assert claim(db, job_id, "w")
    job = run_job(db, tmp_path / "spaces", job_id)
    assert job.status == "failed"
    assert job.error["code"] == "empty_vocabulary" and job.error["message"]
    with db.session() as s:
        space = s.get(Space, space_id)
        assert space.status == "failed" and space.error["code"] == "empty_vocabulary"
    assert not (tmp_path / "spaces" / str(space_id)).exists()
    assert not (tmp_path / "spaces" / f"{space_id}.building").exists()


def test_stale_running_job_is_requeued(db: Database) -> None:
    with db.session() as s:
        job_id = enqueue(s, "build_space", collection_id=None, space_id=None).id
    assert claim(db, job_id, "dead-worker")
    assert requeue_stale(db, timeout=60) == 0
    with db.session() as s:
        s.execute(update(Job).where(Job.id == job_id).values(heartbeat_at=utcnow() - timedelta(minutes=5)))
    assert requeue_stale(db, timeout=60) == 1
    assert claim_next(db, "new-worker") == job_id


def test_progress_metrics_reach_the_job_row(db: Database) -> None:
    from service.runtime.jobs import JobProgress

    with db.session() as s:
        job_id = enqueue(s, "build_space", collection_id=None, space_id=None).id
    progress = JobProgress(db, job_id, threading.Event())
    progress.start("train", 10)
    progress.advance(3)
    progress.note(tokens_per_s=1234.5, perplexity=88.0)
    progress.note(perplexity=80.0)
    progress.flush()
    with db.session() as s:
        job = get_job(s, job_id)
        assert (job.phase, job.done, job.total) == ("train", 3, 10)
        phases = job.metrics.pop("phases")
        assert job.metrics == {"tokens_per_s": 1234.5, "perplexity": 80.0}
        assert [p["phase"] for p in phases] == ["train"] and phases[0]["seconds"] >= 0
    cancelled = threading.Event()
    cancelled.set()
    with pytest.raises(Exception, match="cancelled"):
        JobProgress(db, job_id, cancelled).note(perplexity=1.0)


def test_a_build_reports_the_seconds_of_each_phase(tmp_path, database_url: str) -> None:  # type: ignore[no-untyped-def]
    """metrics.phases: every phase the build went through, timed, adding up to no more than the job took."""
    from service.facade import Vecdex
    from service.schemas import CollectionCreate, DocumentIn
    from service.settings import Settings
    from service.space_schemas import SpaceCreate
    from tests.service.conftest import FAST_W2V
    from tests.service.corpus import topical_documents

    migrate(database_url)
    vx = Vecdex(Settings(data_dir=tmp_path / "data", database_url=database_url, embedded_worker=False))  # type: ignore[call-arg]
    try:
        vx.collections.create(body=CollectionCreate(name="t"))
        vx.documents.write(collection="t", documents=[DocumentIn(**d) for d in topical_documents()])
        created = vx.spaces.create(collection="t", body=SpaceCreate.model_validate({"name": "w", "embedder": FAST_W2V}))
        job = vx.jobs.run_here(job_id=created.job.id, label="test")
        assert job is not None and job.status == "succeeded"
        phases = {p["phase"]: p["seconds"] for p in job.metrics["phases"]}
        assert list(phases) == ["vocabulary", "train", "embed", "index", "snapshot"]
        assert all(isinstance(s, float) and s >= 0 for s in phases.values())
        took = (job.finished_at - job.started_at).total_seconds()
        assert sum(phases.values()) <= took + 0.01 and phases["train"] > 0
    finally:
        vx.close()
