"""A partial update of one document (``PATCH .../documents/{id}``), made into an ordinary upsert.

Why an upsert: the patch is applied to the stored row (metadata merged as a JSON merge patch,
RFC 7396; text replaced) and the result written by :func:`~.repository.upsert_documents`, the
one write path. So a patch gets every check an upsert makes (metadata limits, schema growth,
type conflicts with the collection's schema, blank text), the same single transaction and the
same change row, hence loaded spaces and the filter columns catch up as after any write, and a
crash between the commit and the index update is replayed like any other change. The content
hash decides re-embedding there: a metadata-only patch leaves it as it was, so every space
reuses the stored vector rather than embedding the text again.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from sqlalchemy import update
from sqlalchemy.orm import Session

from ..errors import VecdexError
from ..schemas import DocumentIn
from .models import Collection, Document
from .repository import get_collection

PATCH_PREFIX = "document"
"""The ``field_prefix`` the write path's checks get; :func:`patch_fields` strips it from their errors."""

_PREFIXED = re.compile(rf"^{PATCH_PREFIX}(\[0\])?\.")


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7396 JSON merge patch: an object merges key by key (recursively), a null removes its key, and
    anything else (a scalar, an array) replaces the target's value whole."""
    if not isinstance(patch, Mapping):
        return patch
    out = dict(target) if isinstance(target, Mapping) else {}
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = merge_patch(out.get(key), value)
    return out


def lock_for_patch(session: Session, collection: str) -> Collection:
    """The collection row, locked for the read-modify-write of a patch (two patches of one collection
    never both merge into the same old metadata and lose one's keys).

    PostgreSQL: ``SELECT ... FOR UPDATE``. SQLite ignores that, and its transaction only takes the
    write lock at the first write, after the document was read; a no-op UPDATE of the collection row
    takes it first, so the read that follows sees the latest committed row and no other writer can
    commit until this one does.
    """
    if session.get_bind().dialect.name == "sqlite":
        session.execute(update(Collection).where(Collection.name == collection).values(name=Collection.name))
    return get_collection(session, collection, lock=True)


def patched_document(doc: Document, metadata: Mapping[str, Any] | None, text: str | None) -> DocumentIn:
    """The document as it will be stored: its metadata with ``metadata`` merged in, ``text`` if given.

    Built without validation: the patch was validated as a request, the rest is the stored row, and
    the upsert path checks the result against the collection (limits, schema, blank text).
    """
    merged = merge_patch(doc.meta or {}, metadata) if metadata is not None else dict(doc.meta or {})
    return DocumentIn.model_construct(
        external_id=doc.external_id, text=doc.text if text is None else text, metadata=merged, vectors=None
    )


@contextmanager
def patch_fields() -> Iterator[None]:
    """Errors of the write path name the patch's own fields: ``metadata.year``, ``text`` (not
    ``document[0].metadata.year``), the message alike."""
    try:
        yield
    except VecdexError as exc:
        field = exc.field
        if field and _PREFIXED.match(field):
            renamed = _PREFIXED.sub("", field)
            exc.field = renamed
            exc.message = exc.message.replace(field, renamed)
            exc.args = (exc.message, *exc.args[1:])
        raise
