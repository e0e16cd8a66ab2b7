"""Export: a collection read from SQL in pages and written as records (:mod:`.format`) as it goes.

Memory stays flat whatever the collection's size: documents are read by keyset
pages of :data:`PAGE` (each page with its stored vectors, in the same session),
interactions likewise, and a model archive is spooled to a temporary file and
sent in chunks.

What travels of each space (``carries``):

- ``model``: a ready space whose model does not name the source's document ids:
  its embedder directory, and its stored vectors of the served generation;
  the importer installs both and builds the index without training or embedding.
- ``spec``: everything else: a space not ready, and the families whose model is
  keyed by document ids (doc2vec's and item2vec's trained vectors; ids differ in
  the importing database, so those files would point at the wrong documents):
  the importer queues a build job, which trains the space afresh. A chunked space
  (``index.chunking``) too: its passage vectors are held by its index alone.

Not a point-in-time snapshot: each page is read in its own transaction. Writes
during an export land in the file or not depending on the page they touch; a
rebuild of a space during the export makes it fail before the trailer (the file
is then refused on import). Stop writes for an exact copy.
"""

from __future__ import annotations

import math
import tarfile
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from embedders.capabilities import Capability
from embedders.registry import has

from ..errors import Conflict
from ..store.db import Database
from ..store.models import Change, Collection, Document, Interaction, Space, StoredVector
from ..store.repository import get_collection, list_spaces
from ..store.vector_store import GIVEN_GENERATION
from ..runtime.spaces import EMBEDDER_DIR, space_dir
from .format import MODEL_CHUNK, CollectionEntry, Header, RecordWriter, SpaceEntry, encode_vector

PAGE = 500
"""Documents (or interactions) per read; each page's vectors are read with it."""

Progress = Callable[[int, int], None]
"""``progress(records done, records expected)``, called after every page."""

KEYED_BY_DOCUMENT_ID = (Capability.TRAINED_VECTORS, Capability.TRAIN_INTERACTIONS)
"""Families whose model files hold per-document (per-item) vectors keyed by the source's SQL ids."""


@dataclass(frozen=True)
class SpacePlan:
    """One space as the export reads it (fixed at the start, checked again before the trailer)."""

    entry: SpaceEntry
    space_id: int
    generation: int
    model_dir: Path | None
    vectors: bool  # stored vectors of the served generation travel as vector records
    given: bool  # family vectors: the user's vectors travel inside the document records
    recent: frozenset[int]  # documents changed after the build: a missing vector is "not caught up", not "none"


def open_export(db: Database, spaces_root: Path, name: str, progress: Progress | None = None) -> Iterator[bytes]:
    """The file's lines for collection ``name``. The collection is looked up now (CollectionNotFound before
    any byte is produced, so the HTTP door can still answer 404); the rest is read as the iterator is consumed."""
    with db.sessions() as session:
        collection = get_collection(session, name)
        plans = [_plan(session, spaces_root, collection, s) for s in list_spaces(session, collection)]
        documents = _count(session, Document, collection.id)
        expected = {
            "model": sum(_chunks_of(p.model_dir) for p in plans),
            "document": documents,
            "vector": documents * sum(1 for p in plans if p.vectors),
            "interaction": _count(session, Interaction, collection.id),
        }
        header = Header(
            exported_at=datetime.now(timezone.utc).isoformat(),
            collection=CollectionEntry(
                name=collection.name,
                kind=collection.kind,  # type: ignore[arg-type]
                description=collection.description,
                metadata_schema=dict(collection.metadata_schema or {}),
                similarity_weights=collection.similarity_weights,
            ),
            spaces=[p.entry for p in plans],
            expected={k: v for k, v in expected.items() if v},
        )
        collection_id = collection.id
    return _lines(db, collection_id, header, plans, progress)


def _count(session: Session, table: type[Document] | type[Interaction], collection_id: int) -> int:
    return session.scalar(select(func.count()).select_from(table).where(table.collection_id == collection_id)) or 0


def _plan(session: Session, spaces_root: Path, collection: Collection, space: Space) -> SpacePlan:
    model_dir = space_dir(spaces_root, space.id, space.generation) / EMBEDDER_DIR
    movable = space.status == "ready" and model_dir.is_dir()
    movable = movable and not any(has(space.embedder_type, c) for c in KEYED_BY_DOCUMENT_ID)
    movable = movable and not space.index_spec.get("chunking")  # its passages live in its index only
    keyword = has(space.embedder_type, Capability.KEYWORD)
    given = movable and has(space.embedder_type, Capability.GIVEN_VECTORS)  # its row exists before documents
    vectors = movable and space.store_vectors and not keyword and not given
    recent: frozenset[int] = frozenset()
    if vectors:
        recent = frozenset(
            session.scalars(
                select(Change.document_id)
                .where(Change.collection_id == collection.id, Change.id > (space.built_change_id or 0))
                .distinct()
            )
        )
    entry = SpaceEntry(
        name=space.name,
        embedder=dict(space.embedder_spec),
        index=dict(space.index_spec),
        store_vectors=space.store_vectors,
        default=collection.default_space_id == space.id,
        carries="model" if movable else "spec",
        dim=space.dim,
        metric=space.metric,
    )
    return SpacePlan(entry, space.id, space.generation, model_dir if movable else None, vectors, given, recent)


def _chunks_of(directory: Path | None) -> int:
    """About how many model records a directory makes (compression ignored: a progress total only)."""
    if directory is None:
        return 0
    size = sum(p.stat().st_size for p in directory.rglob("*") if p.is_file())
    return max(1, math.ceil(size / MODEL_CHUNK))


def _lines(
    db: Database, collection_id: int, header: Header, plans: list[SpacePlan], progress: Progress | None
) -> Iterator[bytes]:
    writer = RecordWriter()
    total = sum(header.expected.values())
    done = 0
    yield writer.line(header.model_dump(mode="json"))
    for plan in plans:
        if plan.model_dir is not None:
            for record in _model_records(plan):
                yield writer.line(record)
                done += 1
    after = 0
    while True:
        with db.sessions() as session:
            docs = session.execute(
                select(Document.id, Document.external_id, Document.text, Document.meta, Document.content_hash)
                .where(Document.collection_id == collection_id, Document.id > after)
                .order_by(Document.id)
                .limit(PAGE)
            ).all()
            if not docs:
                break
            lines = list(_page_records(session, docs, plans, writer))
        after = docs[-1].id
        yield from lines
        done += len(lines)
        if progress is not None:
            progress(done, total)
    for page in _interaction_pages(db, collection_id):
        for record in page:
            yield writer.line(record)
        done += len(page)
        if progress is not None:
            progress(done, total)
    _check_unchanged(db, plans)
    yield writer.trailer()


def _model_records(plan: SpacePlan) -> Iterator[dict[str, Any]]:
    """The embedder directory as tar.gz (spooled to a temporary file), base64 in :data:`MODEL_CHUNK` pieces."""
    import base64

    assert plan.model_dir is not None
    with tempfile.TemporaryFile() as spool:
        with tarfile.open(fileobj=spool, mode="w:gz") as tar:
            tar.add(plan.model_dir, arcname=EMBEDDER_DIR)
        size = spool.tell()
        spool.seek(0)
        seq = 0
        while True:
            chunk = spool.read(MODEL_CHUNK)
            last = spool.tell() >= size
            yield {
                "type": "model",
                "space": plan.entry.name,
                "seq": seq,
                "last": last,
                "data": base64.b64encode(chunk).decode("ascii"),
            }
            seq += 1
            if last:
                return


def _page_records(session: Session, docs: list[Any], plans: list[SpacePlan], writer: RecordWriter) -> Iterator[bytes]:
    """One page: its documents (given vectors inside), then their vectors in each space whose model travels."""
    ids = [d.id for d in docs]
    given = {p.entry.name: _stored(session, p.space_id, GIVEN_GENERATION, ids) for p in plans if p.given}
    for d in docs:
        record: dict[str, Any] = {"type": "document", "external_id": d.external_id, "text": d.text, "metadata": d.meta}
        mine = {name: encode_vector(rows[d.id][1]) for name, rows in given.items() if d.id in rows}
        if mine:
            record["vectors"] = mine
        yield writer.line(record)
    for plan in plans:
        if not plan.vectors:
            continue
        stored = _stored(session, plan.space_id, plan.generation, ids)
        for d in docs:
            row = stored.get(d.id)
            if row is None:
                if d.id in plan.recent:
                    continue  # not caught up yet in the source: the importer embeds it (with the same model)
                vector: str | None = None  # the build stored none: the document embeds to nothing here
            elif row[0] != d.content_hash:
                continue  # a vector of an older text: the importer embeds the current one
            else:
                vector = encode_vector(row[1])
            yield writer.line(
                {
                    "type": "vector",
                    "space": plan.entry.name,
                    "external_id": d.external_id,
                    "content_hash": d.content_hash,
                    "vector": vector,
                }
            )


def _stored(session: Session, space_id: int, generation: int, ids: list[int]) -> dict[int, tuple[str, bytes]]:
    rows = session.execute(
        select(StoredVector.document_id, StoredVector.content_hash, StoredVector.vector).where(
            StoredVector.space_id == space_id,
            StoredVector.generation == generation,
            StoredVector.document_id.in_(ids),
        )
    )
    return {r[0]: (r[1], r[2]) for r in rows}


def _interaction_pages(db: Database, collection_id: int) -> Iterator[list[dict[str, Any]]]:
    after = 0
    while True:
        with db.sessions() as session:
            rows = session.execute(
                select(
                    Interaction.id, Interaction.user_id, Document.external_id, Interaction.ts,
                    Interaction.event, Interaction.weight,
                )
                .join(Document, Document.id == Interaction.item_id)
                .where(Interaction.collection_id == collection_id, Interaction.id > after)
                .order_by(Interaction.id)
                .limit(PAGE)
            ).all()
        if not rows:
            return
        after = rows[-1].id
        yield [
            {
                "type": "interaction",
                "user": r.user_id,
                "item": r.external_id,
                "timestamp": _utc(r.ts).isoformat(),
                "event": r.event,
                "weight": r.weight,
            }
            for r in rows
        ]


def _utc(ts: datetime) -> datetime:
    return ts.replace(tzinfo=timezone.utc) if ts.tzinfo is None else ts.astimezone(timezone.utc)


def _check_unchanged(db: Database, plans: list[SpacePlan]) -> None:
    """Refuse to finish (no trailer: the file is unusable) when a space moved to another generation meanwhile."""
    ids = [p.space_id for p in plans if p.model_dir is not None]
    if not ids:
        return
    with db.sessions() as session:
        now = dict(session.execute(select(Space.id, Space.generation).where(Space.id.in_(ids))).all())
    for plan in plans:
        if plan.model_dir is not None and now.get(plan.space_id) != plan.generation:
            raise Conflict(
                f"space {plan.entry.name!r} was rebuilt or deleted during the export; export again",
                field="space",
            )
