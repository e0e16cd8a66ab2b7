"""Use cases on collections and their documents."""

from __future__ import annotations

import re
from collections.abc import Sequence

from ..batch_schemas import DocumentIds, DocumentsDeleted, DocumentsFetched
from ..errors import BatchTooLarge, InvalidCursor, InvalidRequest
from ..patch_schemas import DocumentPatch
from ..quotas import check_metadata, check_schema_growth
from ..store.document_patch import PATCH_PREFIX, lock_for_patch, patch_fields, patched_document
from ..store.repository import (
    UpsertResult as UpsertCounts,
    create_collection,
    delete_collection_rows,
    delete_document,
    delete_documents,
    documents_by_external_ids,
    get_collection,
    get_document,
    list_collections,
    list_documents,
    upsert_documents,
)
from ..schemas import (
    CollectionCreate,
    CollectionPublic,
    DocumentIn,
    DocumentPage,
    DocumentPublic,
    DocumentsUpsert,
    UpsertResult,
)
from ..store.views import collection_view, document_view
from .core import Core


_CURSOR = re.compile(r"[0-9]{1,19}")  # ASCII digits only: str.isdigit() also takes '²'
MAX_ID = 2**63 - 1  # a cursor is a document id: a signed 64-bit integer in SQL


class Collections:
    """Create, read and delete collections (a delete takes its spaces' files along)."""

    def __init__(self, core: Core) -> None:
        self._core = core

    def create(self, *, body: CollectionCreate) -> CollectionPublic:
        with self._core.db.session() as session:
            return collection_view(session, create_collection(session, body.name, body.kind, body.description))

    def list(self) -> list[CollectionPublic]:
        with self._core.db.session() as session:
            return [collection_view(session, c) for c in list_collections(session)]

    def get(self, *, name: str) -> CollectionPublic:
        with self._core.db.session() as session:
            return collection_view(session, get_collection(session, name))

    def delete(self, *, name: str) -> None:
        """The collection, its documents, spaces, change log, and every file of its spaces."""
        with self._core.db.session() as session:
            collection = get_collection(session, name)
            collection_id = collection.id
            space_ids = delete_collection_rows(session, collection)
        self._core.searcher.path.filters.forget(collection_id)  # SQLite may give a new collection this id
        for space_id in space_ids:
            self._core.runtimes.forget(space_id, delete_files=True)


class Documents:
    """Upsert, page through, read and delete documents; writes bring loaded spaces up to date."""

    def __init__(self, core: Core) -> None:
        self._core = core

    def upsert(self, *, collection: str, body: DocumentsUpsert) -> UpsertResult:
        """One request's batch, all or nothing; at most ``VECDEX_MAX_BATCH`` documents."""
        limit = self._core.settings.max_batch
        if len(body.documents) > limit:
            raise BatchTooLarge(
                f"{len(body.documents)} documents in one request; the limit is {limit} (VECDEX_MAX_BATCH)",
                field="documents",
            )
        counts = self.write(collection=collection, documents=body.documents)
        return UpsertResult(created=counts.created, updated=counts.updated, unchanged=counts.unchanged)

    def write(
        self, *, collection: str, documents: Sequence[DocumentIn], field_prefix: str | None = None
    ) -> UpsertCounts:
        """A batch of any size in one transaction (file ingest); ``field_prefix`` names a lone record's
        fields in errors (``document.metadata.x`` rather than ``documents[0].metadata.x``).

        Metadata beyond the ``VECDEX_MAX_METADATA_*`` limits, or a batch that would grow the collection's
        schema past ``VECDEX_MAX_SCHEMA_FIELDS``, is refused whole (``metadata_too_large``) before any write.
        """
        settings = self._core.settings
        with self._core.db.session() as session:
            # Locked, so two batches cannot both find room for their new fields and together overfill the schema.
            row = get_collection(session, collection, lock=True)
            collection_id = row.id
            check_metadata(settings, documents, field_prefix=field_prefix)
            check_schema_growth(settings, row.metadata_schema or {}, documents, field_prefix=field_prefix)
            extra = {"field_prefix": field_prefix} if field_prefix else {}
            # The row read (and locked) once: upsert_documents would read it again, and so did the id lookup.
            counts = upsert_documents(session, collection, documents, collection=row, **extra)
        self._core.runtimes.sync_collection(collection_id)
        return counts

    def list(self, *, collection: str, cursor: str | None = None, limit: int = 100) -> DocumentPage:
        """A page of documents in id order; ``cursor`` is the previous page's ``next_cursor``."""
        after: int | None = None
        if cursor is not None:
            if not _CURSOR.fullmatch(cursor) or int(cursor) > MAX_ID:
                raise InvalidCursor(
                    f"cursor {cursor!r} is not one this API returned", field="cursor"
                )
            after = int(cursor)
        with self._core.db.session() as session:
            docs = list_documents(session, get_collection(session, collection), after, limit + 1)
        more = len(docs) > limit
        docs = docs[:limit]
        return DocumentPage(
            items=[document_view(d) for d in docs], next_cursor=str(docs[-1].id) if more and docs else None
        )

    def get(self, *, collection: str, external_id: str) -> DocumentPublic:
        with self._core.db.session() as session:
            return document_view(get_document(session, get_collection(session, collection), external_id))

    def patch(self, *, collection: str, external_id: str, body: DocumentPatch) -> DocumentPublic:
        """Merge ``body.metadata`` into one document's metadata (RFC 7396) and/or replace its text.

        Written as an upsert of the patched document (:mod:`service.store.document_patch`): the same
        checks, one transaction and one change row, so loaded spaces and filter columns catch up, and a
        metadata-only patch keeps the content hash, so no space embeds the text again. A refused patch
        (422 naming ``metadata...`` or ``text``) changes nothing.
        """
        if body.metadata is None and body.text is None:
            raise InvalidRequest(
                "empty patch: give metadata (merged into the stored metadata), text (replacing it), or both",
                field="metadata",
            )
        settings = self._core.settings
        with self._core.db.session() as session:
            row = lock_for_patch(session, collection)
            collection_id = row.id
            doc = get_document(session, row, external_id)
            patched = patched_document(doc, body.metadata, body.text)
            with patch_fields():
                check_metadata(settings, [patched], field_prefix=PATCH_PREFIX)
                check_schema_growth(settings, row.metadata_schema or {}, [patched], field_prefix=PATCH_PREFIX)
                upsert_documents(
                    session, collection, [patched], PATCH_PREFIX, require_vectors=False, collection=row
                )
            view = document_view(doc)  # the row as written (the write expired it, so this reads it back)
        self._core.runtimes.sync_collection(collection_id)
        return view

    def delete(self, *, collection: str, external_id: str) -> None:
        with self._core.db.session() as session:
            delete_document(session, collection, external_id)
            collection_id = get_collection(session, collection).id
        self._core.runtimes.sync_collection(collection_id)

    def fetch(self, *, collection: str, body: DocumentIds) -> DocumentsFetched:
        """Several documents by external id in one read; ids not there are listed, not an error."""
        asked = list(dict.fromkeys(body.ids))
        with self._core.db.session() as session:
            found = documents_by_external_ids(session, get_collection(session, collection), asked)
            items = [document_view(found[i]) for i in asked if i in found]
        return DocumentsFetched(items=items, missing=[i for i in asked if i not in found])

    def delete_many(self, *, collection: str, body: DocumentIds) -> DocumentsDeleted:
        """Delete several documents in one transaction; ids not there are listed, not an error."""
        asked = list(dict.fromkeys(body.ids))
        with self._core.db.session() as session:
            collection_id = get_collection(session, collection).id
            found = delete_documents(session, collection, asked)
        if found:
            self._core.runtimes.sync_collection(collection_id)
        return DocumentsDeleted(deleted=[i for i in asked if i in found], missing=[i for i in asked if i not in found])
