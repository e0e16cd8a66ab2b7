"""``Vecdex``: settings in, every use case out (see the package docstring)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..store.db import Database
from ..store.migrate import check_schema
from ..query.search import Searcher
from ..settings import Settings, get_settings
from ..runtime.spaces import SpaceRuntimes
from .collections import Collections, Documents
from .core import Core
from .evaluations import Evaluations
from .items import Interactions, Recommendations
from .keys import Keys
from .queries import Queries
from .spaces import Jobs, Spaces
from .vectors import Vectors
from .transfer import Transfer

if TYPE_CHECKING:
    from ..runtime.jobs import Worker


class Vecdex:
    """The service as one object: collections, documents, spaces, jobs, queries, items, evaluations.

    Build it with :meth:`from_settings` (the doors do) or from a ``Settings``
    object (tests, benchmarks); :meth:`close` saves loaded spaces and releases
    the database. Each attribute is a use-case group whose methods are
    keyword-only and speak the public schemas::

        vx = Vecdex.from_settings()
        vx.collections.create(body=CollectionCreate(name="news"))
        vx.documents.upsert(collection="news", body=DocumentsUpsert(documents=[...]))
        vx.spaces.create(collection="news", body=SpaceCreate(name="w2v", embedder={"type": "word2vec"}))
        vx.queries.search(collection="news", body=SearchRequest(query="bushfires", k=5))
    """

    def __init__(self, settings: Settings, *, db: Database | None = None) -> None:
        db = db or Database(settings.resolved_database_url)
        runtimes = SpaceRuntimes(db, settings.spaces_dir, settings.snapshot_every, settings.engine_options)
        self.core = Core(settings=settings, db=db, runtimes=runtimes, searcher=Searcher(db, runtimes, settings.max_k))
        self.collections = Collections(self.core)
        self.documents = Documents(self.core)
        self.spaces = Spaces(self.core)
        self.jobs = Jobs(self.core)
        self.queries = Queries(self.core)
        self.interactions = Interactions(self.core)
        self.recommend = Recommendations(self.core)
        self.evaluations = Evaluations(self.core)
        self.keys = Keys(self.core)
        self.vectors = Vectors(self.core)
        self.transfer = Transfer(self.core, self.documents, self.interactions, self.spaces)

    @classmethod
    def from_settings(cls, settings: Settings | None = None) -> Vecdex:
        """The process's service (``VECDEX_*`` environment variables when no settings are given)."""
        return cls(settings or get_settings())

    @property
    def settings(self) -> Settings:
        return self.core.settings

    @property
    def db(self) -> Database:
        return self.core.db

    def check_schema(self) -> None:
        """Refuse to serve a database whose schema is not the code's (SchemaOutOfDate, 503)."""
        check_schema(self.core.db.engine, self.core.db.url)

    def worker(self) -> Worker:
        """A job worker thread over this service's database and data directory (not started)."""
        from ..runtime.jobs import Worker

        s = self.core.settings
        return Worker(self.core.db, s.spaces_dir, s.worker_poll_seconds, s.job_heartbeat_timeout, s.engine_options)

    def close(self) -> None:
        """Save the snapshots of loaded spaces with unsaved changes, then release the database."""
        self.core.searcher.queue.stop()
        self.core.runtimes.save_all()
        self.core.searcher.path.hot.close()
        self.core.db.dispose()
