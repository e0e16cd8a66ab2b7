"""Live spaces: an embedder and an index in memory, kept in step with SQL's change log.

SQL is the source of truth. A space's index snapshot on disk records the last
change id it contains; loading it and replaying the changes after that id
(``catch_up``) rebuilds exactly the state SQL describes, whatever crashed
where. Every process (API or worker) catches up before it searches, so several
API processes over one PostgreSQL agree with each other.

A space is rebuilt in place as a new *generation* (``Space.generation``) in its
own directory; the build bumps the number in SQL when it is done. A process
notices on its next request (``get`` compares generations) and loads the new
generation, so the old one keeps serving until then and nobody serves a
half-built one.

Snapshot cadence (:func:`snapshot_due`): a snapshot is a full save of the index,
so its cost grows with the index while a catch-up's work does not. A runtime
saves once at least ``snapshot_every`` changes are unsaved *and* either those
changes reach ``snapshot_fraction`` of the index's size or ``snapshot_seconds``
have passed since its last save (and always at shutdown). Saves then cost a
bounded share of ingest at any size (a save of n entries per n * fraction
changes, at most one per ``snapshot_seconds`` beyond that) instead of a full
1M-entry write per 1,000 changes. Crash safety is unchanged: the snapshot
records its change id and SQL replays whatever it lacks; the cadence only
bounds how much a crash replays: under steady writes, the larger of
``snapshot_every`` changes and the smaller of a fraction of the index and
``snapshot_seconds`` worth of writes (plus the catch-up in progress).
"""

from __future__ import annotations

import logging
import shutil
import threading
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from sqlalchemy import select

from embedders import registry
from embedders.base import Embedder
from embedders.capabilities import Capability
from embedders.registry import has
from embedders.bm25 import KeywordIndex
from indexers.base import VectorIndex
from indexers import factory
from indexers.passages import PassageIndex
from indexers.factory import EngineOptions

from ..store.db import Database
from ..errors import Conflict, SpaceNotReady, SpaceUnavailable
from ..store.models import Space
from ..store.repository import SpaceRef
from .document_vectors import DocumentVectors, SpaceVectors, document_vectors
from .passage_build import passage_matrices
from .replay_reads import changes_page, document_states

log = logging.getLogger(__name__)

EMBEDDER_DIR = "embedder"
INDEX_DIR = "index"
REPLAY_PAGE = 1000
SNAPSHOT_FRACTION = 0.25
"""Unsaved changes, as a share of the index's entries, that make a snapshot due (with ``snapshot_every``)."""
SNAPSHOT_SECONDS = 60.0
"""Seconds since the last save after which ``snapshot_every`` unsaved changes make a snapshot due anyway."""


def snapshot_due(
    unsaved: int, index_size: int, since_save_s: float, *, every: int, fraction: float, seconds: float
) -> bool:
    """Whether a runtime should save its snapshot now (the rule in the module docstring)."""
    if unsaved < every:
        return False
    return unsaved >= fraction * index_size or since_save_s >= seconds


def space_dir(spaces_root: Path, space_id: int, generation: int = 0) -> Path:
    """Where one generation of a space lives: ``<id>`` for generation 0 (so data dirs
    written before rebuilds existed keep working), ``<id>-g<generation>`` after."""
    return spaces_root / (str(space_id) if generation == 0 else f"{space_id}-g{generation}")


def save_index(index: VectorIndex | KeywordIndex | PassageIndex, directory: Path, change_id: int) -> None:
    """Make ``index`` durable with the change id it reflects (a keyword index keeps its ``extra`` marker)."""
    if isinstance(index, KeywordIndex):
        index.save(directory, extra={"last_change_id": change_id})
    else:
        index.save(directory, checkpoint=change_id)


def destroy_index(generation_dir: Path, options: EngineOptions) -> None:
    """Drop what a generation's index keeps outside its directory, before the directory is removed.

    Quiet when there is no index manifest; a failure is logged, not raised, because
    it runs in cleanup paths whose own outcome (or original error) must stand.
    """
    try:
        factory.destroy(generation_dir / INDEX_DIR, options)
    except Exception:
        log.exception("could not drop the index storage of %s", generation_dir)


def space_paths(spaces_root: Path, space_id: int) -> list[Path]:
    """Every directory a space owns: each generation and any unfinished build (``<dir>.building``)."""
    if not spaces_root.is_dir():
        return []
    name = str(space_id)
    return [
        p for p in spaces_root.iterdir() if p.name == name or p.name.startswith((f"{name}-g", f"{name}."))
    ]


class SpaceRuntime:
    """One loaded space. All index mutation goes through ``catch_up`` under the lock."""

    def __init__(
        self,
        *,
        space_id: int,
        collection_id: int,
        embedder: Embedder,
        index: VectorIndex | KeywordIndex | PassageIndex,
        applied_change_id: int,
        store_vectors: bool,
        directory: Path,
        snapshot_every: int,
        generation: int = 0,
        snapshot_fraction: float = SNAPSHOT_FRACTION,
        snapshot_seconds: float = SNAPSHOT_SECONDS,
    ) -> None:
        self.space_id = space_id
        self.generation = generation
        self.collection_id = collection_id
        self.embedder = embedder
        self.index = index
        self.applied_change_id = applied_change_id
        self.store_vectors = store_vectors
        self.directory = directory
        self.snapshot_every = snapshot_every
        self.snapshot_fraction = snapshot_fraction
        self.snapshot_seconds = snapshot_seconds
        self.unsaved_changes = 0
        self.saved_at = time.monotonic()
        """When the snapshot on disk was loaded or last written (the clock of ``snapshot_seconds``)."""
        self.skipped_ids: set[int] = set()
        self.lock = threading.RLock()
        self.writer_applying = False
        """A write of this process holds ``lock`` to apply its changes (see ``catch_up``'s ``reading``)."""

    def catch_up(self, db: Database, *, reading: bool = False) -> int:
        """Apply every change committed after ``applied_change_id``; returns how many were applied.

        ``reading``: the caller is a query. It does not wait while a write of this process is applying
        its own changes (embedding them, perhaps for seconds): that write has not been acknowledged
        yet, so the query may answer from the state before it, as it would have a moment earlier. Any
        other catch-up in progress (another query's, bringing in other processes' acknowledged
        writes) is waited for, so a query still sees every write acknowledged before it started.
        """
        if reading and self.writer_applying:
            if not self.lock.acquire(blocking=False):
                return 0
            self.lock.release()
        applied = 0
        with self.lock:
            while True:
                with db.session() as session:
                    changes = changes_page(session, self.collection_id, self.applied_change_id, REPLAY_PAGE)
                    if not changes:
                        break
                    self._apply(session, [doc_id for _, doc_id in changes])
                    self.applied_change_id = changes[-1][0]
                    applied += len(changes)
            if applied:
                self.unsaved_changes += applied
                if snapshot_due(
                    self.unsaved_changes, len(self.index), time.monotonic() - self.saved_at,
                    every=self.snapshot_every, fraction=self.snapshot_fraction, seconds=self.snapshot_seconds,
                ):
                    self.save()
        return applied

    def _apply(self, session, doc_ids: Sequence[int]) -> None:  # type: ignore[no-untyped-def]
        """Bring these documents' index entries to their current SQL state (present -> upsert, gone -> remove)."""
        unique_ids = list(dict.fromkeys(doc_ids))
        docs = document_states(session, unique_ids)
        gone = np.array([i for i in unique_ids if i not in docs], dtype=np.int64)
        if len(gone):
            self.index.remove(gone)
            self.skipped_ids.difference_update(gone.tolist())
        present = [docs[i] for i in unique_ids if i in docs]
        if not present:
            return
        if self.keyword:
            # A keyword space re-tokenizes the new text; BM25 statistics are rebuilt on the next search.
            empty = self.index.add_texts([d.id for d in present], [d.text for d in present])  # type: ignore[union-attr]
            self.skipped_ids.difference_update(d.id for d in present)
            self.skipped_ids.update(empty)
            return
        if self.passages is not None:  # a chunked space: the new texts' passages replace the old ones
            chunking = self.passages.chunking
            self.passages.put([d.id for d in present], passage_matrices(self.embedder, [d.text for d in present], chunking))
            self.skipped_ids.difference_update(d.id for d in present)
            self.skipped_ids.update(d.id for d in present if d.id not in self.passages)
            return
        got = self.vectors_of(
            session, [d.id for d in present], [d.text for d in present], [d.content_hash for d in present], store=True
        )
        # A document whose new text embeds to nothing (or that lost its given vector) must lose its old entry too.
        if (~got.ok).any():
            self.index.remove(got.ids[~got.ok])
            self.skipped_ids.update(got.ids[~got.ok].tolist())
        if got.ok.any():
            self.index.add(got.ids[got.ok], got.vectors[got.ok])
            self.skipped_ids.difference_update(got.ids[got.ok].tolist())

    @property
    def passages(self) -> PassageIndex | None:
        """The passage index of a chunked space (several vectors per document), else None."""
        return self.index if isinstance(self.index, PassageIndex) else None

    @property
    def keyword(self) -> bool:
        """A keyword-scored space (bm25): its index ranks texts, not vectors."""
        return has(self.embedder, Capability.KEYWORD)

    def vectors_of(
        self, session, ids: Sequence[int], texts: Sequence[str], hashes: Sequence[str], *, store: bool = False
    ) -> DocumentVectors:  # type: ignore[no-untyped-def]
        """These documents' vectors in this space, through the one pipeline (given, stored, else the family's)."""
        target = SpaceVectors(self.space_id, self.generation, self.embedder, self.store_vectors)
        return document_vectors(session, target, ids, texts, hashes, store=store)

    def save(self) -> None:
        """Write the index snapshot with the change id it reflects (atomic: temp dir + rename).

        Skipped once the directory is gone: a rebuild replaced this generation and
        removed its files, and writing would only resurrect an orphan directory.
        """
        with self.lock:
            if not self.directory.is_dir():
                log.info("space %s generation %s was replaced; not saving its snapshot", self.space_id, self.generation)
                self.unsaved_changes = 0
                return
            save_index(self.index, self.directory / INDEX_DIR, self.applied_change_id)
            self.unsaved_changes = 0
            self.saved_at = time.monotonic()


def _refilled_keyword_index(db: Database, collection_id: int, directory: Path) -> KeywordIndex:
    """A keyword space's index, refilled from SQL (its snapshot keeps only the change id).

    The documents read here are at least as new as that change id, and replaying
    the changes after it re-applies each document's *current* SQL state, so the
    result is exact whatever happened in between.
    """
    from ..store.corpus import SqlCorpus

    index = KeywordIndex.load(directory / INDEX_DIR)
    for page in SqlCorpus(db, collection_id).pages():
        index.add_texts([d.id for d in page], [d.text for d in page])
    return index


class SpaceRuntimes:
    """Loads spaces lazily, caches them per process, and saves them on shutdown.

    The cache is keyed by space id and remembers each runtime's generation; a
    request that reads a newer generation from SQL replaces the cached runtime,
    which is how every API and worker process moves to a rebuilt space.
    """

    def __init__(
        self,
        db: Database,
        spaces_root: Path,
        snapshot_every: int,
        engine_options: EngineOptions | None = None,
        *,
        snapshot_fraction: float = SNAPSHOT_FRACTION,
        snapshot_seconds: float = SNAPSHOT_SECONDS,
    ) -> None:
        self.db = db
        self.snapshot_fraction = snapshot_fraction
        self.snapshot_seconds = snapshot_seconds
        self.engine_options = engine_options or EngineOptions()
        self.spaces_root = spaces_root
        self.snapshot_every = snapshot_every
        self._cache: dict[int, SpaceRuntime] = {}
        self._lock = threading.Lock()

    def get(self, space: Space | SpaceRef, head_change_id: int | None = None) -> SpaceRuntime:
        """The live space, loaded from its snapshot and caught up with SQL.

        ``head_change_id`` (the collection's latest change, if the caller already read it)
        skips the replay query when nothing happened since the last catch-up. A cached
        runtime of an older generation is replaced; a ``space`` read before a rebuild
        finished (older than the cache) keeps the newer runtime rather than going back.
        """
        if space.status != "ready":
            raise SpaceNotReady(
                f"space {space.name!r} is {space.status}"
                + (f": {space.error.get('message')}" if space.error else "; wait for its build job to finish"),
                field="space",
            )
        with self._lock:
            runtime = self._cache.get(space.id)
            if runtime is None or runtime.generation < space.generation:
                runtime = self._load_current(space)
                self._cache[space.id] = runtime
        if head_change_id is None or head_change_id > runtime.applied_change_id:
            runtime.catch_up(self.db, reading=head_change_id is not None)
        return runtime

    def loaded(self, space: SpaceRef, head_change_id: int) -> SpaceRuntime | None:
        """The runtime if this process has it loaded, of ``space``'s generation, ready and caught up to
        ``head_change_id``: what a query may use without loading or replaying anything. None otherwise."""
        runtime = self._cache.get(space.id)
        if (
            runtime is None
            or space.status != "ready"
            or runtime.generation != space.generation
            or runtime.applied_change_id < head_change_id
        ):
            return None
        return runtime

    def _load_current(self, space: Space | SpaceRef) -> SpaceRuntime:
        """Load the generation ``space`` names; if a rebuild removed it in the meantime, the newer one."""
        try:
            return self._load(space, space.generation, space.built_change_id)
        except Conflict:
            with self.db.sessions() as session:
                row = session.execute(
                    select(Space.generation, Space.built_change_id).where(Space.id == space.id)
                ).first()
            if row is None or row.generation == space.generation:
                raise
            return self._load(space, row.generation, row.built_change_id)

    def _load(self, space: Space | SpaceRef, generation: int, built_change_id: int | None) -> SpaceRuntime:
        directory = space_dir(self.spaces_root, space.id, generation)
        try:
            embedder = registry.load(directory / EMBEDDER_DIR)
            if has(embedder, Capability.KEYWORD):
                index: VectorIndex | KeywordIndex | PassageIndex = _refilled_keyword_index(self.db, space.collection_id, directory)
            else:
                inner = factory.open_index(directory / INDEX_DIR, self.engine_options)
                index = PassageIndex.wrap_saved(inner, directory / INDEX_DIR) or inner
        except Exception as exc:  # a missing or damaged snapshot: say which space and what to do
            log.exception("cannot load space %s generation %s", space.id, generation)
            # The directory and the library's message stay in the server log: clients (and job rows they
            # can read) learn which space and what to do, not the server's file layout.
            raise SpaceUnavailable(
                f"space {space.name!r} (generation {generation}) cannot be loaded on this server (details in the "
                f"server log); rebuild it (POST .../spaces/{space.name}/rebuild or `vecdex space rebuild`)",
                field="space",
            ) from exc
        if isinstance(index, KeywordIndex):
            last = int(index.extra.get("last_change_id", built_change_id or 0))
        else:
            last = index.checkpoint or (built_change_id or 0)
        return SpaceRuntime(
            space_id=space.id,
            collection_id=space.collection_id,
            embedder=embedder,
            index=index,
            applied_change_id=last,
            store_vectors=space.store_vectors,
            directory=directory,
            snapshot_every=self.snapshot_every,
            generation=generation,
            snapshot_fraction=self.snapshot_fraction,
            snapshot_seconds=self.snapshot_seconds,
        )

    def sync_collection(self, collection_id: int) -> None:
        """After a write: bring this process's loaded spaces of the collection up to date.

        Runtimes of a replaced generation (or of a deleted space) are dropped instead:
        catching them up would embed with a retired model, and the next request loads
        the current generation anyway.
        """
        loaded = [r for r in list(self._cache.values()) if r.collection_id == collection_id]
        if not loaded:
            return
        with self.db.sessions() as session:
            rows = session.execute(select(Space.id, Space.generation).where(Space.collection_id == collection_id))
            current = {r.id: r.generation for r in rows}
        for runtime in loaded:
            if current.get(runtime.space_id) != runtime.generation:
                self._drop(runtime)
                continue
            with runtime.lock:  # queries arriving meanwhile answer from the state before this write
                runtime.writer_applying = True
                try:
                    runtime.catch_up(self.db)
                finally:
                    runtime.writer_applying = False

    def _drop(self, runtime: SpaceRuntime) -> None:
        with self._lock:
            if self._cache.get(runtime.space_id) is runtime:
                del self._cache[runtime.space_id]

    def forget(self, space_id: int, *, delete_files: bool = False) -> None:
        """Drop the space from this process; with ``delete_files``, every generation's files too."""
        with self._lock:
            self._cache.pop(space_id, None)
        if delete_files:
            for path in space_paths(self.spaces_root, space_id):
                destroy_index(path, self.engine_options)
                shutil.rmtree(path, ignore_errors=True)

    def save_all(self) -> None:
        for runtime in list(self._cache.values()):
            if runtime.unsaved_changes:
                try:
                    runtime.save()
                except Exception:  # shutdown must go on; SQL replay covers an unsaved snapshot
                    log.exception("could not save space %s", runtime.space_id)
