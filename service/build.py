"""Building a space: train the embedder on the collection, embed every document, build the index.

The build writes into a temporary directory and renames it into place only
when everything succeeded, so a failed or cancelled build leaves no files and
the space's row says why.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
from sqlalchemy import select

from embedders import registry
from embedders.base import Progress
from indexers.base import IndexSpec
from indexers.faiss_index import build_index
from indexers.pipeline import embed_batches

from .corpus import SqlCorpus
from .db import Database
from .models import Collection, Document, Space
from .repository import max_change_id
from .spaces import EMBEDDER_DIR, INDEX_DIR, space_dir
from .vector_store import save_vectors


def build_space(
    db: Database, spaces_root: Path, space_id: int, progress: Progress, *, make_default: bool = False
) -> None:
    """Train + index one space; on success it is ``ready``, and the default if asked or if it is the first."""
    with db.session() as session:
        space = session.get(Space, space_id)
        if space is None:
            raise LookupError(f"space {space_id} no longer exists")
        space.status, space.error = "building", None
        collection_id = space.collection_id
        # Everything up to this change is in the corpus we read below; later changes are replayed on load.
        built_change_id = max_change_id(session, collection_id)
        spec = registry.parse_spec(space.embedder_spec)
        index_spec = IndexSpec.model_validate(space.index_spec)
        store = space.store_vectors

    final = space_dir(spaces_root, space_id)
    tmp = final.with_name(f"{final.name}.building")
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        corpus = SqlCorpus(db, collection_id)
        embedder = registry.create(spec)
        if embedder.trainable:
            embedder.fit(corpus, progress)

        progress.start("embed", len(corpus))
        all_ids: list[np.ndarray] = []
        all_vecs: list[np.ndarray] = []
        for batch in embed_batches(corpus.pages(), embedder, progress):
            all_ids.append(batch.ids)
            all_vecs.append(batch.vectors)
            if store and len(batch.ids):
                with db.session() as session:
                    rows = session.execute(
                        select(Document.id, Document.content_hash).where(Document.id.in_(batch.ids.tolist()))
                    )
                    hashes = {r.id: r.content_hash for r in rows}
                    save_vectors(session, space_id, batch.ids.tolist(), [hashes[i] for i in batch.ids.tolist()], batch.vectors)
        ids = np.concatenate(all_ids) if all_ids else np.zeros(0, dtype=np.int64)
        vectors = np.concatenate(all_vecs) if all_vecs else np.zeros((0, embedder.dim), dtype=np.float32)

        progress.start("index", 1)
        index = build_index(index_spec, embedder.dim, embedder.metric, ids, vectors)
        embedder.save(tmp / EMBEDDER_DIR)
        index.save(tmp / INDEX_DIR, extra={"last_change_id": built_change_id})
        progress.advance(1)
        shutil.rmtree(final, ignore_errors=True)
        tmp.rename(final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise

    with db.session() as session:
        space = session.get(Space, space_id)
        if space is None:  # deleted while building
            shutil.rmtree(final, ignore_errors=True)
            return
        space.status = "ready"
        space.dim, space.metric = embedder.dim, embedder.metric
        space.index_kind = getattr(index, "kind", index_spec.kind)
        space.built_change_id = built_change_id
        collection = session.get(Collection, collection_id)
        if collection is not None and (make_default or collection.default_space_id is None):
            collection.default_space_id = space_id
