"""Building a space: train the embedder on the collection, embed every document, build the index.

A build writes one *generation* of the space: the first build generation 0
(the space is ``building`` meanwhile), a rebuild the next one while the current
generation stays ``ready`` and keeps serving. Files go to a temporary directory
renamed into place only when everything succeeded; the generation switch is one
SQL transaction (generation, built change id, dim/metric/index kind, the
previous generations' stored vectors dropped), and only then are the previous
generation's files removed. A failed or cancelled build leaves no files of the
new generation and the job row says why; a failed rebuild leaves the space as
it was.

Stored vectors (service.vector_store) are written under the new generation. A
trained family's rebuild learns a new vector space, so it reuses nothing and
its rows stay invisible to the served generation until the switch. A fixed
family (not trainable) maps a text to the same vector in every generation, so
the build embeds only texts with no stored vector in this space.
"""

from __future__ import annotations

import logging
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from embedders import registry
from embedders.bm25 import KeywordIndex
from embedders.capabilities import Capability
from embedders.registry import has
from embedders.base import (
    Embedder,
    EmbedderSpec,
    Progress,
    TrainingDocument,
    note_metrics,
)
from indexers.base import IndexSpec
from indexers import factory
from indexers.factory import EngineOptions, IndexLocation

from ..store.corpus import SqlCorpus
from ..store.db import Database
from ..store.interactions import interaction_sequences
from ..errors import SpaceNotFound, SpaceNotReady
from ..store.models import Collection, Space
from ..store.repository import content_hash, max_change_id
from .spaces import EMBEDDER_DIR, INDEX_DIR, destroy_index, save_index, space_dir
from .document_vectors import SpaceVectors, document_vectors
from .passage_build import passage_index
from ..store.vector_store import discard_vectors

EMBED_CHUNK_MIN = 64
"""Fewest documents embedded (and stored, one transaction) per progress step of a build's embed phase."""
EMBED_CHUNK_SECONDS = 2.0
"""About how long one embed step takes: the next step's size is the last step's rate times this."""

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class BuildPlan:
    """What a build job read from the space row when it started."""

    space_id: int
    collection_id: int
    generation: int  # the generation this build writes
    built_change_id: int
    spec: EmbedderSpec
    index_spec: IndexSpec
    store_vectors: bool
    rebuild: bool


@dataclass
class EmbedCounts:
    """How each document got its vector; reported as job metrics at the end of the embed phase."""

    embedded: int = 0  # texts sent to the embedder
    reused: int = 0  # vectors taken from the store
    from_training: int = 0  # per-document vectors learned in training (doc2vec)
    trained_family: bool = field(default=False, repr=False)

    def metrics(self) -> dict[str, Any]:
        out: dict[str, Any] = {"embedded": self.embedded, "reused": self.reused}
        if self.trained_family:
            out["from_training"] = self.from_training
        return out


def build_space(
    db: Database,
    spaces_root: Path,
    space_id: int,
    progress: Progress,
    *,
    make_default: bool = False,
    rebuild: bool = False,
    engine_options: EngineOptions | None = None,
) -> None:
    """Train + index one generation of a space; on success it is ``ready`` at that generation.

    The first build makes the space the collection's default if asked or if it is
    the first; a rebuild (``rebuild=True``) leaves the default alone.
    """
    plan = _plan(db, space_id, rebuild)
    final = space_dir(spaces_root, space_id, plan.generation)
    tmp = final.with_name(f"{final.name}.building")
    # Leftovers of an attempt that died (a killed worker's requeued job): nobody serves this generation yet.
    options = engine_options or EngineOptions()
    destroy_index(tmp, options)
    destroy_index(final, options)
    shutil.rmtree(tmp, ignore_errors=True)
    shutil.rmtree(final, ignore_errors=True)
    embedder = registry.create(plan.spec)
    if embedder.trainable and plan.store_vectors:
        with db.session() as session:
            discard_vectors(session, space_id, generation=plan.generation)
    try:
        corpus = SqlCorpus(db, plan.collection_id)
        if has(embedder, Capability.TRAIN_INTERACTIONS):
            embedder.fit_interactions(interaction_sequences(db, plan.collection_id, plan.spec), progress)
        elif embedder.trainable:
            embedder.fit(corpus, progress)
        if has(embedder, Capability.KEYWORD):
            index = _keyword_index(embedder, corpus, progress)
        else:
            location = IndexLocation(tmp / INDEX_DIR, f"vecdex_s{space_id}_g{plan.generation}", options)
            if plan.index_spec.chunking is not None:
                index = passage_index(plan.index_spec, embedder, corpus, location, progress)
            else:
                ids, vectors = _embed_corpus(db, plan, corpus, embedder, progress)
                index = factory.build(plan.index_spec, embedder.dim, embedder.metric, ids, vectors, location, progress)
        progress.start("snapshot", 1)
        embedder.save(tmp / EMBEDDER_DIR)
        save_index(index, tmp / INDEX_DIR, plan.built_change_id)
        progress.advance(1)
        tmp.rename(final)
        previous = _switch(db, plan, embedder, index, make_default)
    except BaseException:
        destroy_index(tmp, options)
        destroy_index(final, options)
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.rmtree(final, ignore_errors=True)
        _discard_new_vectors(db, plan, embedder)
        raise
    if previous is None:  # the space was deleted while building
        destroy_index(final, options)
        shutil.rmtree(final, ignore_errors=True)
    elif previous != plan.generation:
        destroy_index(space_dir(spaces_root, space_id, previous), options)
        shutil.rmtree(space_dir(spaces_root, space_id, previous), ignore_errors=True)


def _plan(db: Database, space_id: int, rebuild: bool) -> BuildPlan:
    """Read the space; a first build marks it ``building``, a rebuild leaves it ``ready`` and serving."""
    with db.session() as session:
        space = session.get(Space, space_id)
        if space is None:
            raise SpaceNotFound(f"space {space_id} no longer exists", field="space_id")
        if rebuild:
            if space.status != "ready":
                raise SpaceNotReady(
                    f"space {space.name!r} is {space.status}; only a ready space is rebuilt in place",
                    field="space",
                )
            generation = space.generation + 1
        else:
            space.status, space.error = "building", None
            generation = space.generation
        return BuildPlan(
            space_id=space_id,
            collection_id=space.collection_id,
            generation=generation,
            # Everything up to this change is in the corpus we read next; later changes are replayed on load.
            built_change_id=max_change_id(session, space.collection_id),
            spec=registry.parse_spec(space.embedder_spec),
            index_spec=IndexSpec.model_validate(space.index_spec),
            store_vectors=space.store_vectors,
            rebuild=rebuild,
        )


def _keyword_index(embedder: Any, corpus: SqlCorpus, progress: Progress) -> KeywordIndex:
    """A keyword space's index: every document's tokens (phase "tokenize"), BM25 statistics built on first search."""
    index: KeywordIndex = embedder.new_index()
    progress.start("tokenize", len(corpus))
    for page in corpus.pages():
        index.add_texts([d.id for d in page], [d.text for d in page])
        progress.advance(len(page))
    progress.start("index", 1)
    progress.advance(1)  # BM25 statistics are built on first search: nothing left to index here
    return index


def _embed_corpus(
    db: Database, plan: BuildPlan, corpus: SqlCorpus, embedder: Embedder, progress: Progress
) -> tuple[np.ndarray, np.ndarray]:
    """Every document's vector (documents with nothing embeddable left out), stored under the new generation."""
    progress.start("embed", len(corpus))
    counts = EmbedCounts(trained_family=has(embedder, Capability.TRAINED_VECTORS))
    all_ids: list[np.ndarray] = []
    all_vecs: list[np.ndarray] = []
    chunk = EMBED_CHUNK_MIN
    for page in corpus.pages():
        start = 0
        while start < len(page):
            # Chunks sized to take about EMBED_CHUNK_SECONDS each, so the bar moves steadily for a slow
            # family (bert: tens of documents a second) while a fast one (word2vec) runs whole pages, one
            # transaction each, as before.
            part = page[start : start + chunk]
            t0 = time.perf_counter()
            ids, vectors = _embed_page(db, plan, part, embedder, counts)
            rate = len(part) / max(time.perf_counter() - t0, 1e-6)
            chunk = int(min(len(page), max(EMBED_CHUNK_MIN, rate * EMBED_CHUNK_SECONDS)))
            all_ids.append(ids)
            all_vecs.append(vectors)
            progress.advance(len(part))
            start += len(part)
    note_metrics(progress, **counts.metrics())
    ids = np.concatenate(all_ids) if all_ids else np.zeros(0, dtype=np.int64)
    vectors = np.concatenate(all_vecs) if all_vecs else np.zeros((0, embedder.dim), dtype=np.float32)
    return ids, vectors


def _embed_page(
    db: Database, plan: BuildPlan, page: list[TrainingDocument], embedder: Embedder, counts: EmbedCounts
) -> tuple[np.ndarray, np.ndarray]:
    """One page through the one vector pipeline (service.document_vectors), stored under the new generation.

    Hashes are taken from the very text embedded, so a document edited while the
    build runs is stored under the hash of the text its vector really encodes.
    """
    target = SpaceVectors(plan.space_id, plan.generation, embedder, plan.store_vectors)
    hashes = [content_hash(d.text) for d in page]
    with db.session() as session:
        got = document_vectors(
            session, target, [d.id for d in page], [d.text for d in page], hashes, use_trained=True, store=True
        )
    counts.embedded += got.embedded
    counts.reused += got.reused
    counts.from_training += got.from_training
    return got.ids[got.ok], got.vectors[got.ok]


def _switch(db: Database, plan: BuildPlan, embedder: Embedder, index: Any, make_default: bool) -> int | None:
    """Make the new generation the served one, in one transaction; returns the generation it replaced.

    None when the space was deleted meanwhile. The space row is locked so a
    concurrent delete or default change waits for (or precedes) the switch.
    """
    with db.session() as session:
        space = session.get(Space, plan.space_id, with_for_update=True)
        if space is None:
            return None
        previous = space.generation
        space.generation = plan.generation
        space.status, space.error = "ready", None
        space.dim, space.metric = embedder.dim, embedder.metric
        space.index_kind = getattr(index, "kind", plan.index_spec.kind)
        space.built_change_id = plan.built_change_id
        # The previous generation's vectors go with the switch: from now on nothing may reuse them.
        discard_vectors(session, plan.space_id, keep=plan.generation)
        collection = session.get(Collection, plan.collection_id)
        if collection is not None and not plan.rebuild and (make_default or collection.default_space_id is None):
            collection.default_space_id = plan.space_id
        return previous


def _discard_new_vectors(db: Database, plan: BuildPlan, embedder: Embedder) -> None:
    """After a failed build: drop the vectors it stored, unless a fixed embedder made them (still valid, reusable)."""
    if not (plan.store_vectors and embedder.trainable):
        return
    try:
        with db.session() as session:
            discard_vectors(session, plan.space_id, generation=plan.generation)
    except Exception:  # the job's own error matters more; the next build of this generation clears them
        log.exception("could not discard the vectors of space %s generation %s", plan.space_id, plan.generation)
