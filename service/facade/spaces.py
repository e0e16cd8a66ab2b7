"""Use cases on spaces (embedder + index over a collection) and on the jobs that build them."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from embedders.base import Progress

from ..quotas import check_queued_jobs, check_spec
from ..runtime.jobs import cancel_job, claim, get_job, run_job, worker_name
from ..store.models import Collection, Job
from ..store.repository import get_collection, get_space, list_spaces
from ..runtime.space_admin import create_space, delete_space, make_default, rebuild_space
from ..space_schemas import JobPublic, SpaceCreate, SpaceCreated, SpacePublic
from ..store.views import job_view, space_view
from .core import Core


class Spaces:
    """Create (a build job is queued), rebuild, list, read, default and delete spaces."""

    def __init__(self, core: Core) -> None:
        self._core = core

    def create(self, *, collection: str, body: SpaceCreate) -> SpaceCreated:
        """Validate and preflight the spec, then insert the space and its build job in one transaction.

        A spec beyond the server's quotas (``VECDEX_MAX_DIM``, ``_EPOCHS``, ...) is a 422 ``quota_exceeded``,
        and a collection whose queue is full a 429 ``too_many_jobs``, both before anything is written.
        """
        check_spec(self._core.settings, body.embedder)
        self._check_queue(collection)
        _, job_id = create_space(self._core.db, collection, body, admit=self._admit)
        return self._created(collection, body.name, job_id)

    def rebuild(self, *, collection: str, space: str) -> SpaceCreated:
        """Queue a new generation built from the space's own spec; the current one serves meanwhile.

        The stored spec was checked against the quotas when the space was created, so only the queue is
        checked here (a space created under higher limits can still be rebuilt as it is).
        """
        self._check_queue(collection)
        _, job_id = rebuild_space(self._core.db, collection, space, admit=self._admit)
        return self._created(collection, space, job_id)

    def _admit(self, session: Session, collection: Collection) -> None:
        """The queue quota again, on the locked collection in the transaction that queues (exact under races)."""
        check_queued_jobs(session, self._core.settings, collection_id=collection.id, collection=collection.name)

    def _check_queue(self, collection: str) -> None:
        """The queue quota before the preflight (which may read the whole corpus) is paid for."""
        with self._core.db.sessions() as session:
            row = get_collection(session, collection)
            check_queued_jobs(session, self._core.settings, collection_id=row.id, collection=collection)

    def _created(self, collection: str, space: str, job_id: int) -> SpaceCreated:
        with self._core.db.session() as session:
            row = get_collection(session, collection)
            return SpaceCreated(
                space=space_view(row, get_space(session, row, space)), job=job_view(session, get_job(session, job_id))
            )

    def row_id(self, *, collection: str, space: str) -> int:
        """The space's database id. Public schemas name spaces only; the CLI prints the id beside the
        name when it queues a build (``space w2v (id 3) queued as job 7``), as it always has."""
        with self._core.db.sessions() as session:
            return get_space(session, get_collection(session, collection), space).id

    def list(self, *, collection: str) -> list[SpacePublic]:
        with self._core.db.session() as session:
            row = get_collection(session, collection)
            return [space_view(row, s) for s in list_spaces(session, row)]

    def get(self, *, collection: str, space: str) -> SpacePublic:
        with self._core.db.session() as session:
            row = get_collection(session, collection)
            return space_view(row, get_space(session, row, space))

    def set_default(self, *, collection: str, space: str) -> SpacePublic:
        """Make a ready space the one queries use when they name none."""
        with self._core.db.session() as session:
            row = make_default(session, collection, space)
            return space_view(get_collection(session, collection), row)

    def delete(self, *, collection: str, space: str) -> None:
        """The row (stored vectors cascade) in one transaction, then every file of every generation."""
        with self._core.db.session() as session:
            space_id = delete_space(session, collection, space)
        self._core.runtimes.forget(space_id, delete_files=True)


class Jobs:
    """List, read, cancel jobs, and run one in the calling process (the CLI's ``--wait``)."""

    def __init__(self, core: Core) -> None:
        self._core = core

    def list(self, *, status: str | None = None, collection: str | None = None, limit: int = 100) -> list[JobPublic]:
        """Newest first."""
        with self._core.db.session() as session:
            stmt = select(Job).order_by(Job.id.desc()).limit(limit)
            if status:
                stmt = stmt.where(Job.status == status)
            if collection:
                stmt = stmt.join(Collection, Collection.id == Job.collection_id).where(Collection.name == collection)
            return [job_view(session, j) for j in session.scalars(stmt)]

    def get(self, *, job_id: int) -> JobPublic:
        with self._core.db.session() as session:
            return job_view(session, get_job(session, job_id))

    def cancel(self, *, job_id: int) -> JobPublic:
        """A queued job is cancelled at once; a running one stops at its next unit of work."""
        with self._core.db.session() as session:
            return job_view(session, cancel_job(session, job_id))

    def run_here(self, *, job_id: int, progress: Progress | None = None, label: str = "cli") -> JobPublic | None:
        """Claim a queued job and run it in this process, reporting to ``progress``.

        None when a worker claimed it first (follow it with :meth:`get`). The
        job's own failure does not raise: the returned job says how it ended.
        """
        db = self._core.db
        if not claim(db, job_id, f"{worker_name()}:{label}"):
            return None
        run_job(db, self._core.settings.spaces_dir, job_id, echo=progress, engine_options=self._core.settings.engine_options)
        return self.get(job_id=job_id)
