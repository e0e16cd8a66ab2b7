"""Gauges read at scrape time: documents per collection, vectors and index bytes per space, jobs by status.

These describe stored state, which every process shares through SQL and the
data directory, so they are read when Prometheus asks rather than counted as
things happen: any API process answers the same, whichever process wrote the
documents or ran the build. A scrape costs three SQL queries (documents
grouped by collection; spaces with a correlated count of their stored
vectors; jobs grouped by type and status) and a ``stat`` of each space's
index files; requests and searches never pay for it.

Vectors are counted in SQL, where a space keeps every vector it embedded
(current generation, plus the vectors users gave): that is what its index
holds once a process has caught up with the change log. A space made with
``store_vectors: false`` keeps none there and reports no vector gauge, and a
keyword (bm25) space has no vectors at all. Index bytes are the files of the
current generation's index directory: the whole index for FAISS, only the
manifest for Milvus (its data lives in Milvus).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from pathlib import Path

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.metrics_core import Metric
from sqlalchemy import func, or_, select

from embedders.capabilities import Capability
from embedders.registry import has

from ..runtime.spaces import INDEX_DIR, space_dir
from ..store.db import Database
from ..store.models import Collection, Document, Job, Space, StoredVector
from ..store.vector_store import GIVEN_GENERATION

log = logging.getLogger("vecdex.metrics")


def directory_bytes(directory: Path) -> int:
    """Total size of the files under ``directory`` (0 when it does not exist, e.g. a space still building)."""
    if not directory.is_dir():
        return 0
    total = 0
    for path in directory.rglob("*"):
        try:
            if path.is_file():
                total += path.stat().st_size
        except OSError:  # removed while we looked (a rebuild swapping generations): not there any more
            continue
    return total


def _has_vector_rows(embedder_type: str, store_vectors: bool) -> bool:
    """Whether SQL holds this space's vectors: stored ones, or given ones (kept whatever store_vectors says)."""
    if has(embedder_type, Capability.KEYWORD):
        return False
    return store_vectors or has(embedder_type, Capability.GIVEN_VECTORS)


class StoredStateCollector:
    """One app's scrape-time gauges over its database and data directory."""

    def __init__(self, db: Database, spaces_root: Path) -> None:
        self._db = db
        self._spaces_root = spaces_root

    def collect(self) -> Iterable[Metric]:
        """The gauges; if the database cannot be read, none of them (logged), so /metrics still answers."""
        try:
            families = self._families()
        except Exception:
            log.exception("could not read the stored state for /metrics")
            return []
        return families

    def _families(self) -> list[Metric]:
        documents = GaugeMetricFamily("vecdex_documents", "Documents per collection.", labels=["collection"])
        vectors = GaugeMetricFamily(
            "vecdex_space_vectors",
            "Vectors a space keeps in SQL (what its index holds once caught up).",
            labels=["collection", "space"],
        )
        index_bytes = GaugeMetricFamily(
            "vecdex_space_index_bytes",
            "Bytes of the current generation's index files on disk.",
            labels=["collection", "space"],
        )
        jobs = GaugeMetricFamily(
            "vecdex_jobs_by_status",
            "Jobs in the queue table by type and status, whichever worker ran them.",
            labels=["type", "status"],
        )
        vector_count = (
            select(func.count())
            .where(
                StoredVector.space_id == Space.id,
                or_(StoredVector.generation == Space.generation, StoredVector.generation == GIVEN_GENERATION),
            )
            .correlate(Space)
            .scalar_subquery()
        )
        with self._db.sessions() as session:
            doc_rows = session.execute(
                select(Collection.name, func.count(Document.id))
                .select_from(Collection)
                .outerjoin(Document, Document.collection_id == Collection.id)
                .group_by(Collection.id, Collection.name)
            ).all()
            space_rows = session.execute(
                select(
                    Space.id,
                    Space.name,
                    Collection.name.label("collection"),
                    Space.generation,
                    Space.embedder_type,
                    Space.store_vectors,
                    vector_count.label("vectors"),
                ).join(Collection, Collection.id == Space.collection_id)
            ).all()
            job_rows = session.execute(select(Job.kind, Job.status, func.count()).group_by(Job.kind, Job.status)).all()
        for name, count in doc_rows:
            documents.add_metric([name], count)
        for row in space_rows:
            labels = [row.collection, row.name]
            if _has_vector_rows(row.embedder_type, row.store_vectors):
                vectors.add_metric(labels, row.vectors)
            index_dir = space_dir(self._spaces_root, row.id, row.generation) / INDEX_DIR
            index_bytes.add_metric(labels, directory_bytes(index_dir))
        for kind, status, count in job_rows:
            jobs.add_metric([kind, status], count)
        return [documents, vectors, index_bytes, jobs]
