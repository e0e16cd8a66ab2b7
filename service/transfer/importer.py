"""Import: a collection file checked whole, then written in batches through the normal write path.

Two passes over the file. The first reads every line (:func:`.format.read_records`)
and validates every record as the write path will (documents as ``DocumentIn``,
interactions as ``InteractionIn``, vectors against their space's dimension, model
chunks in order): a truncated, damaged, newer or invalid file is refused with the
line named, before anything is written. The second writes: the collection, the
space rows, then batches of :data:`BATCH` documents through
``Documents.write`` (so the change log, content hashes, schema checks and quotas
apply as to any upsert), each page's stored vectors, interactions through
``Interactions.write``; last, each space whose model travelled is installed
(:mod:`.install`) and each other space gets a build job.

Resume: batches commit one by one, so an import that stopped (killed, a database
error) leaves a prefix of the file written. Without ``resume`` an existing
collection is refused; with it the same file is imported again into that
collection and every step is idempotent and cheap where done:

- a document batch whose documents all exist with the same text hash and
  metadata is skipped (one read, no write); others are upserted (by external id);
- vectors already stored for a document with that hash are not written again;
- interactions have no key, but are written in file order, in batches that each
  commit whole: the number the collection already has is the prefix to skip;
- a space already ``ready`` is not installed again; a ``pending`` one is.

Nothing else may write to the collection while it is being imported (the
interaction prefix count relies on it).
"""

from __future__ import annotations

import base64
import re
import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import ValidationError
from sqlalchemy import select

from embedders import registry
from indexers.factory import EngineOptions

from ..errors import AlreadyExists, InvalidRequest, VecdexError
from ..schemas import CollectionCreate, DocumentIn, InteractionIn
from ..space_schemas import SpaceCreate
from ..store.db import Database
from ..store.document_writes import content_hash, stored_text
from ..store.interactions import count_interactions
from ..store.models import Collection, Document, Space, StoredVector
from ..store.repository import create_collection
from ..store.vector_store import save_vectors
from .check import Checked, check_file, document_in, interaction_in
from .format import (
    DocumentRecord,
    Header,
    InteractionRecord,
    ModelRecord,
    SpaceEntry,
    Trailer,
    VectorRecord,
    decode_vector,
    read_records,
)
from .install import install_space
from .results import ImportResult, SpaceImported

BATCH = 500
"""Documents (or interactions, or vectors of one space) per write transaction."""

Progress = Callable[[int, int], None]
"""``progress(records done, records in the file)``, called after every batch."""


@dataclass(frozen=True)
class Writers:
    """The facade's write paths the import goes through (so it never bypasses their checks)."""

    documents: Callable[[str, list[DocumentIn]], object]
    interactions: Callable[[str, list[InteractionIn]], object]
    create_space: Callable[[str, SpaceCreate], int]
    """Queue a build of a space (quotas and preflight apply); returns the job id."""


class _Import:
    """Pass 2: the writes, in batches, each one idempotent (see the module docstring)."""

    def __init__(
        self, db: Database, spaces_root: Path, writers: Writers, checked: Checked, target: str, resume: bool,
        progress: Progress | None, engine_options: EngineOptions | None,
    ) -> None:
        self.db, self.spaces_root, self.writers = db, spaces_root, writers
        self.checked, self.target, self.resume = checked, target, resume
        self.progress, self.engine_options = progress, engine_options
        self.entries = {e.name: e for e in checked.header.spaces}
        self.space_ids: dict[str, int] = {}
        self.ready: set[str] = set()
        self.empty: dict[str, set[str]] = {name: set() for name in self.entries}
        self.docs: list[tuple[int, DocumentIn]] = []
        self.vectors: dict[str, list[VectorRecord]] = {}
        self.interactions: list[tuple[int, InteractionIn]] = []
        self.interactions_to_skip = 0
        self.done = 0
        self.result = ImportResult(
            collection=target, resumed=resume, records=checked.records,
            documents=checked.counts.get("document", 0), documents_skipped=0,
            vectors=checked.counts.get("vector", 0), interactions=checked.counts.get("interaction", 0),
            interactions_skipped=0, spaces=[],
        )

    # ------------------------------------------------------------------ setup

    def prepare(self) -> None:
        """The collection and the rows of spaces whose model travels (family ``vectors`` needs them before
        documents arrive); a resume reuses what is there."""
        entry = self.checked.header.collection
        try:
            CollectionCreate(name=self.target, kind=entry.kind, description=entry.description)
        except ValidationError as exc:
            raise InvalidRequest(f"collection name {self.target!r}: {exc.errors()[0]['msg']}", field="name") from exc
        with self.db.session() as session:
            row = session.scalar(select(Collection).where(Collection.name == self.target).with_for_update())
            if row is not None and not self.resume:
                raise AlreadyExists(
                    f"collection {self.target!r} already exists: import under another name "
                    "(--name, or another {name} in POST /collections/{name}/import), "
                    "or add --resume (?resume=true) to continue an interrupted import of this file into it",
                    field="name",
                )
            if row is None:
                row = create_collection(session, self.target, entry.kind, entry.description)
                row.similarity_weights = entry.similarity_weights
            elif row.kind != entry.kind:
                raise InvalidRequest(
                    f"collection {self.target!r} is of kind {row.kind}, the file's of kind {entry.kind}", field="name"
                )
            existing = {s.name: s for s in session.scalars(select(Space).where(Space.collection_id == row.id))}
            for space in self.checked.header.spaces:
                found = existing.get(space.name)
                if found is not None:
                    if registry.parse_spec(found.embedder_spec) != registry.parse_spec(space.embedder):
                        raise InvalidRequest(
                            f"space {space.name!r} exists in {self.target!r} with another spec than the file's",
                            field=f"spaces.{space.name}",
                        )
                    self.space_ids[space.name] = found.id
                    if found.status == "ready":
                        self.ready.add(space.name)
                elif space.carries == "model":
                    self.space_ids[space.name] = self._space_row(session, row.id, space)
            self.interactions_to_skip = count_interactions(session, row.id) if self.resume else 0

    @staticmethod
    def _space_row(session: Any, collection_id: int, entry: SpaceEntry) -> int:
        spec = registry.parse_spec(entry.embedder)
        space = Space(
            collection_id=collection_id, name=entry.name, embedder_type=spec.type,
            embedder_spec=spec.model_dump(mode="json"), index_spec=entry.index, store_vectors=entry.store_vectors,
            status="pending",
            error={"code": "importing", "message": "being imported; if the import stopped, run it again with --resume"},
        )
        session.add(space)
        session.flush()
        return space.id

    # ------------------------------------------------------------------ pass 2

    def run(self, path: Path) -> ImportResult:
        for line_no, record in read_records(path):
            if isinstance(record, (Header, Trailer)):
                continue
            if isinstance(record, ModelRecord):
                self._model(record)
            elif isinstance(record, DocumentRecord):
                self._flush_vectors()
                self.docs.append((line_no, document_in(record, line_no, self.entries)))
                if len(self.docs) >= BATCH:
                    self._flush_docs()
            elif isinstance(record, VectorRecord):
                self._flush_docs()
                if record.vector is None:
                    self.empty[record.space].add(record.external_id)
                else:
                    pending = self.vectors.setdefault(record.space, [])
                    pending.append(record)
                    if len(pending) >= BATCH:
                        self._flush_vectors()
            elif isinstance(record, InteractionRecord):
                self._flush_docs()
                self._flush_vectors()
                self.interactions.append((line_no, interaction_in(record, line_no)))
                if len(self.interactions) >= BATCH:
                    self._flush_interactions()
            self.done = line_no
        self._flush_docs()
        self._flush_vectors()
        self._flush_interactions()
        self._spaces()
        return self.result

    def _staging(self, space: str) -> Path:
        """Where a space's model archive is reassembled: under ``<id>.import/``, a directory deleting the
        space removes with its generations (:func:`~service.runtime.spaces.space_paths`)."""
        return self.spaces_root / f"{self.space_ids[space]}.import" / "model.tar.gz"

    def _model(self, record: ModelRecord) -> None:
        if record.space in self.ready:
            return
        path = self._staging(record.space)
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "wb" if record.seq == 0 else "ab") as out:
            out.write(base64.b64decode(record.data))

    def _flush_docs(self) -> None:
        if not self.docs:
            return
        lines, docs = [n for n, _ in self.docs], [d for _, d in self.docs]
        self.docs = []
        if self.resume and self._already_there(docs):
            self.result.documents_skipped += len(docs)
        else:
            try:
                self.writers.documents(self.target, docs)
            except VecdexError as exc:
                raise _at_line(exc, lines) from exc
        self._report()

    def _already_there(self, docs: Sequence[DocumentIn]) -> bool:
        """Whether every document of the batch is stored with this text and metadata (a resume's cheap skip)."""
        with self.db.sessions() as session:
            rows = session.execute(
                select(Document.external_id, Document.content_hash, Document.meta)
                .join(Collection, Collection.id == Document.collection_id)
                .where(Collection.name == self.target, Document.external_id.in_([d.external_id for d in docs]))
            ).all()
        stored = {r[0]: (r[1], r[2]) for r in rows}
        return all(stored.get(d.external_id) == (content_hash(stored_text(d)), d.metadata) for d in docs)

    def _flush_vectors(self) -> None:
        """Each space's pending vectors, stored under generation 0 for the documents whose text they encode."""
        if not any(self.vectors.values()):
            return
        for name, records in list(self.vectors.items()):
            if not records:
                continue
            self.vectors[name] = []
            if name in self.ready:
                continue
            entry, space_id = self.entries[name], self.space_ids[name]
            with self.db.session() as session:
                docs = dict(
                    (r[0], (r[1], r[2]))
                    for r in session.execute(
                        select(Document.external_id, Document.id, Document.content_hash)
                        .join(Collection, Collection.id == Document.collection_id)
                        .where(
                            Collection.name == self.target,
                            Document.external_id.in_([v.external_id for v in records]),
                        )
                    )
                )
                have = dict(
                    session.execute(
                        select(StoredVector.document_id, StoredVector.content_hash).where(
                            StoredVector.space_id == space_id, StoredVector.generation == 0,
                            StoredVector.document_id.in_([d[0] for d in docs.values()]),
                        )
                    ).all()
                )
                rows = [
                    (docs[v.external_id][0], v)
                    for v in records
                    if v.external_id in docs and docs[v.external_id][1] == v.content_hash
                    and have.get(docs[v.external_id][0]) != v.content_hash
                ]
                if rows:
                    save_vectors(
                        session, space_id, 0, [doc_id for doc_id, _ in rows], [v.content_hash for _, v in rows],
                        np.stack([decode_vector(v.vector or "", entry.dim, "vector") for _, v in rows]),
                    )
        self._report()

    def _flush_interactions(self) -> None:
        if not self.interactions:
            return
        batch, self.interactions = self.interactions, []
        skip = min(self.interactions_to_skip, len(batch))
        self.interactions_to_skip -= skip
        self.result.interactions_skipped += skip
        batch = batch[skip:]
        if batch:
            try:
                self.writers.interactions(self.target, [r for _, r in batch])
            except VecdexError as exc:
                raise _at_line(exc, [n for n, _ in batch]) from exc
        self._report()

    def _report(self) -> None:
        if self.progress is not None:
            self.progress(self.done, self.checked.records)

    def _spaces(self) -> None:
        """Install each space whose model travelled; queue a build of each other one (missing on a resume)."""
        for entry in self.checked.header.spaces:
            if entry.carries == "model":
                status, counts = "ready", None
                if entry.name not in self.ready:
                    staging = self._staging(entry.name)
                    counts = install_space(
                        self.db, self.spaces_root, self.space_ids[entry.name], staging, self.empty[entry.name],
                        make_default=entry.default, engine_options=self.engine_options,
                    )
                    shutil.rmtree(staging.parent, ignore_errors=True)
                self.result.spaces.append(
                    SpaceImported(
                        name=entry.name, carries="model", status=status,
                        reused=counts.reused if counts else 0, embedded=counts.embedded if counts else 0,
                    )
                )
                continue
            job_id, status = None, "pending"
            if entry.name in self.space_ids:  # a resume: queued by the run that stopped
                with self.db.sessions() as session:
                    found = session.scalar(select(Space.status).where(Space.id == self.space_ids[entry.name]))
                    status = found or status
            else:
                spec = SpaceCreate.model_validate(
                    {"name": entry.name, "embedder": entry.embedder, "index": entry.index,
                     "store_vectors": entry.store_vectors, "make_default": entry.default}
                )
                job_id = self.writers.create_space(self.target, spec)
            self.result.spaces.append(SpaceImported(name=entry.name, carries="spec", status=status, job_id=job_id))
        self._report()


_ITEM = re.compile(r"^[a-z_]+\[(\d+)\](.*)$")


def _at_line(exc: VecdexError, lines: Sequence[int]) -> VecdexError:
    """The write path's error for ``documents[i]...`` (or ``interactions[i]``) renamed after the file's line."""
    match = _ITEM.match(exc.field or "")
    if match is None or int(match.group(1)) >= len(lines):
        return exc
    line = lines[int(match.group(1))]
    renamed = type(exc)(f"line {line}: {exc.message}", field=f"line {line}{match.group(2)}")
    return renamed


def import_file(
    db: Database, spaces_root: Path, path: Path, writers: Writers, *, name: str | None = None, resume: bool = False,
    progress: Progress | None = None, engine_options: EngineOptions | None = None,
) -> ImportResult:
    """Check the whole file, then import it as collection ``name`` (the file's own name by default)."""
    checked = check_file(path)
    target = name or checked.header.collection.name
    job = _Import(db, spaces_root, writers, checked, target, resume, progress, engine_options)
    job.prepare()
    return job.run(path)


__all__ = ["BATCH", "Writers", "check_file", "import_file"]
