"""Pass 1 of an import: every line of the file read and validated before anything is written.

The records are checked as the write path will check them (documents as
``DocumentIn`` plus the collection-level rules the upsert applies: blank text
outside an items collection, a metadata field changing JSON type; interactions
as ``InteractionIn``; vectors against their space's dimension and following
their document's page; model chunks complete and in order), so a bad file is
refused with its line named and changes nothing. What only the database can
refuse (quotas, a dropped connection) surfaces in pass 2, which resume handles.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import ValidationError

from embedders import registry
from indexers.base import IndexSpec

from ..errors import VecdexError
from ..schemas import EMPTY_TEXT, DocumentIn, InteractionIn
from ..store.repository import ITEMS, json_type
from .format import (
    DocumentRecord,
    Header,
    InteractionRecord,
    ModelRecord,
    SpaceEntry,
    Trailer,
    VectorRecord,
    decode_vector,
    line_error,
    read_records,
)


@dataclass
class Checked:
    """What the first pass learned."""

    header: Header
    records: int = 0
    counts: dict[str, int] = field(default_factory=dict)


def check_file(path: Path) -> Checked:
    """Pass 1: every line read and validated; raises :class:`InvalidFile` naming the first bad line."""
    header: Header | None = None
    spaces: dict[str, SpaceEntry] = {}
    schema: dict[str, str] = {}  # metadata field -> JSON type, as the write path will grow it
    next_seq: dict[str, int] = {}
    page: set[str] = set()  # external ids of the latest run of documents (vectors follow their page)
    in_docs = False
    checked: Checked | None = None
    for line_no, record in read_records(path):
        if isinstance(record, Header):
            header = record
            spaces = _check_header(record)
            schema = dict(record.collection.metadata_schema)
            checked = Checked(header=record)
            continue
        assert checked is not None
        checked.records = line_no
        if isinstance(record, Trailer):
            checked.counts = dict(record.counts)
            continue
        if isinstance(record, ModelRecord):
            entry = spaces.get(record.space)
            if entry is None or entry.carries != "model":
                raise line_error(line_no, f"model of space {record.space!r}, which the header lists without one")
            if record.seq != next_seq.get(record.space, 0):
                raise line_error(line_no, f"model chunk {record.seq} of space {record.space!r} is out of order")
            next_seq[record.space] = -1 if record.last else record.seq + 1
            _b64(record.data, line_no)
        elif isinstance(record, DocumentRecord):
            if not in_docs:
                page, in_docs = set(), True
            _check_document(document_in(record, line_no, spaces), line_no, header, schema)
            page.add(record.external_id)
        elif isinstance(record, VectorRecord):
            in_docs = False
            entry = spaces.get(record.space)
            if entry is None or entry.carries != "model":
                raise line_error(line_no, f"vector for space {record.space!r}, which the header lists without a model")
            if record.external_id not in page:
                raise line_error(line_no, f"vector of {record.external_id!r}, not a document of the page before it")
            if record.vector is not None:
                decode_vector(record.vector, entry.dim, f"line {line_no}")
        elif isinstance(record, InteractionRecord):
            in_docs = False
            interaction_in(record, line_no)
    assert checked is not None  # read_records raises on an empty file
    unfinished = [name for name, seq in next_seq.items() if seq != -1]
    unfinished += [n for n, e in spaces.items() if e.carries == "model" and n not in next_seq]
    if unfinished:
        raise line_error(checked.records, f"the model of space {unfinished[0]!r} is incomplete")
    return checked


def _check_header(header: Header) -> dict[str, SpaceEntry]:
    """The spaces' specs must be ones this server knows (line 1 otherwise)."""
    out: dict[str, SpaceEntry] = {}
    for i, entry in enumerate(header.spaces):
        try:
            registry.parse_spec(entry.embedder)
            IndexSpec.model_validate(entry.index)
        except (VecdexError, ValidationError) as exc:
            message = exc.message if isinstance(exc, VecdexError) else exc.errors()[0]["msg"]
            raise line_error(1, f"spaces[{i}] ({entry.name!r}): {message}") from exc
        if entry.name in out:
            raise line_error(1, f"spaces[{i}]: space {entry.name!r} listed twice")
        out[entry.name] = entry
    return out


def _b64(data: str, line_no: int) -> bytes:
    try:
        return base64.b64decode(data, validate=True)
    except ValueError as exc:
        raise line_error(line_no, f"data is not base64 ({exc})") from exc


def document_in(record: DocumentRecord, line_no: int, spaces: dict[str, SpaceEntry]) -> DocumentIn:
    given: dict[str, list[float]] | None = None
    if record.vectors:
        given = {}
        for name, text in record.vectors.items():
            entry = spaces.get(name)
            given[name] = decode_vector(text, entry.dim if entry else None, f"line {line_no}").tolist()
    try:
        return DocumentIn(external_id=record.external_id, text=record.text, metadata=record.metadata, vectors=given)
    except ValidationError as exc:
        first = exc.errors()[0]
        raise line_error(line_no, f"{'.'.join(str(p) for p in first['loc'])}: {first['msg']}") from exc


def _check_document(doc: DocumentIn, line_no: int, header: Header | None, schema: dict[str, str]) -> None:
    """What the write path would refuse of a valid ``DocumentIn``: blank text outside an items collection,
    and a metadata field whose JSON type contradicts the one the file fixed earlier."""
    assert header is not None
    if header.collection.kind != ITEMS and not doc.text.strip():
        raise line_error(
            line_no, f"text: {EMPTY_TEXT} (only a collection of kind items accepts documents without text)"
        )
    for key, value in doc.metadata.items():
        kind = json_type(value)
        if kind is None:
            continue
        known = schema.setdefault(key, kind)
        if known != kind:
            raise line_error(line_no, f"metadata.{key}: a {kind} here but a {known} in this collection")


def interaction_in(record: InteractionRecord, line_no: int) -> InteractionIn:
    try:
        return InteractionIn.model_validate(record.model_dump(exclude={"type"}))
    except ValidationError as exc:
        first = exc.errors()[0]
        raise line_error(line_no, f"{'.'.join(str(p) for p in first['loc'])}: {first['msg']}") from exc
