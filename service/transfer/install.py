"""A space made ready from the files that travelled with it: its model, and the vectors stored at import.

What a build job does, less the training and the embedding: the embedder is the
exported one (loaded from its archive, not fitted), and every vector comes from
the ``vectors`` rows the import wrote under generation 0 (or, for family
``vectors``, the user's vectors that came with the documents). Only a document
with no vector in the file (see :mod:`.exporter`: one changed in the source after
its last catch-up) is embedded, by the imported model, so it is the vector the
source would have computed. Documents the file marks as embedding to nothing
are left out, as the source's build left them out.

Files are assembled in ``<space>.building`` and renamed into place, and the space
row turns ``ready`` in one transaction, as in :mod:`service.runtime.build`; an
interrupted install leaves the space ``pending``, and a resumed import installs it
again from scratch.
"""

from __future__ import annotations

import shutil
import tarfile
from collections.abc import Iterator, Set
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sqlalchemy import select

from embedders import registry
from embedders.capabilities import Capability
from embedders.registry import has
from indexers import factory
from indexers.base import IndexSpec
from indexers.factory import EngineOptions, IndexLocation

from ..errors import InvalidFile
from ..store.db import Database
from ..store.models import Collection, Document, Space
from ..store.repository import max_change_id
from ..runtime.document_vectors import SpaceVectors, document_vectors
from ..runtime.spaces import EMBEDDER_DIR, INDEX_DIR, destroy_index, save_index, space_dir

PAGE = 1000


@dataclass
class Installed:
    """How the installed space's entries got their vectors."""

    reused: int = 0
    embedded: int = 0
    empty: int = 0  # marked in the file as embedding to nothing: left out


def install_space(
    db: Database,
    spaces_root: Path,
    space_id: int,
    archive: Path,
    empty: Set[str],
    *,
    make_default: bool,
    engine_options: EngineOptions | None = None,
) -> Installed:
    """Unpack ``archive`` (the exported embedder directory) as generation 0 of the space, index its documents
    from the stored vectors, and mark it ready (the collection's default if ``make_default``)."""
    options = engine_options or EngineOptions()
    final = space_dir(spaces_root, space_id, 0)
    tmp = final.with_name(f"{final.name}.building")
    for path in (tmp, final):
        destroy_index(path, options)
        shutil.rmtree(path, ignore_errors=True)
    tmp.mkdir(parents=True)
    try:
        with tarfile.open(archive, "r:gz") as tar:
            tar.extractall(tmp, filter="data")
        embedder = registry.load(tmp / EMBEDDER_DIR)
        with db.sessions() as session:
            space = session.get(Space, space_id)
            assert space is not None
            collection_id, store, spec = space.collection_id, space.store_vectors, space.index_spec
            if embedder.type != space.embedder_type:
                raise InvalidFile(
                    f"the model of space {space.name!r} is a {embedder.type} model, its spec a {space.embedder_type}",
                    field="model",
                )
            built_change_id = max_change_id(session, collection_id)
        counts = Installed()
        if has(embedder, Capability.KEYWORD):
            index = embedder.new_index()  # type: ignore[attr-defined]
            for page in _pages(db, collection_id):
                index.add_texts([r.id for r in page], [r.text for r in page])
        else:
            target = SpaceVectors(space_id, 0, embedder, store)
            all_ids: list[np.ndarray] = []
            all_vectors: list[np.ndarray] = []
            for page in _pages(db, collection_id):
                rows = [r for r in page if r.external_id not in empty]
                counts.empty += len(page) - len(rows)
                with db.session() as session:
                    got = document_vectors(
                        session, target, [r.id for r in rows], [r.text for r in rows],
                        [r.content_hash for r in rows], store=True,
                    )
                counts.reused += got.reused
                counts.embedded += got.embedded
                all_ids.append(got.ids[got.ok])
                all_vectors.append(got.vectors[got.ok])
            ids = np.concatenate(all_ids) if all_ids else np.zeros(0, dtype=np.int64)
            vectors = np.concatenate(all_vectors) if all_vectors else np.zeros((0, embedder.dim), dtype=np.float32)
            location = IndexLocation(tmp / INDEX_DIR, f"vecdex_s{space_id}_g0", options)
            index = factory.build(IndexSpec.model_validate(spec), embedder.dim, embedder.metric, ids, vectors, location)
        save_index(index, tmp / INDEX_DIR, built_change_id)
        tmp.rename(final)
        with db.session() as session:
            space = session.get(Space, space_id, with_for_update=True)
            assert space is not None
            space.status, space.error, space.generation = "ready", None, 0
            space.dim, space.metric = embedder.dim, embedder.metric
            space.index_kind = getattr(index, "kind", spec.get("kind"))
            space.built_change_id = built_change_id
            collection = session.get(Collection, collection_id)
            if collection is not None and (make_default or collection.default_space_id is None):
                collection.default_space_id = space_id
    except BaseException:
        for path in (tmp, final):
            destroy_index(path, options)
            shutil.rmtree(path, ignore_errors=True)
        raise
    return counts


@dataclass(frozen=True)
class _Row:
    id: int
    external_id: str
    text: str
    content_hash: str


def _pages(db: Database, collection_id: int) -> Iterator[list[_Row]]:
    """The collection's documents in id pages (keyset, one short session each): what the index is built over."""
    after = 0
    while True:
        with db.sessions() as session:
            rows = session.execute(
                select(Document.id, Document.external_id, Document.text, Document.content_hash)
                .where(Document.collection_id == collection_id, Document.id > after)
                .order_by(Document.id)
                .limit(PAGE)
            ).all()
        if not rows:
            return
        after = rows[-1].id
        yield [_Row(r.id, r.external_id, r.text, r.content_hash) for r in rows]
