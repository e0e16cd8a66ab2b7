"""The collection file: JSON Lines (gzip-compressed when the name ends in ``.gz``), one record a line.

Line 1 is the :class:`Header` (format name and version, the collection row, its
spaces, expected record counts); then typed records, in this order:

1. ``model``: a space's embedder directory as a tar.gz, base64, in chunks of
   :data:`MODEL_CHUNK` bytes (``seq`` 0, 1, ...; ``last`` on the final one);
2. pages of ``document`` records, each page followed by the ``vector`` records of
   its documents in every space whose model travels (base64 little-endian float32,
   or null: the document embeds to nothing in that space);
3. ``interaction`` records (items collections), oldest first;
4. the :class:`Trailer`: counts per record type and the sha256 of every byte of
   the lines before it, so a file cut short (no trailer) or altered is refused.

Why a checksum over raw bytes and not per record: it costs one hash update per
line, and any damage (a lost line, a flipped byte) shows, without a second format
inside the first. A reader refuses a ``version`` newer than :data:`FORMAT_VERSION`
before reading anything else, since it cannot know what a newer file means.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
import zlib
from collections import Counter
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, BinaryIO, Literal, Union

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ..errors import InvalidFile

FORMAT = "vecdex-collection"
FORMAT_VERSION = 1
MODEL_CHUNK = 1 << 20
"""Raw bytes of model archive per ``model`` record (1.4 MB of base64 a line)."""
GZIP_MAGIC = b"\x1f\x8b"

Carries = Literal["model", "spec"]
"""What travels of a space: ``model`` (embedder files and stored vectors: installed, nothing re-embedded)
or ``spec`` (the spec only: a build job trains it afresh on import)."""


class _Record(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CollectionEntry(_Record):
    name: str
    kind: Literal["documents", "items"] = "documents"
    description: str | None = None
    metadata_schema: dict[str, str] = Field(default_factory=dict)
    similarity_weights: dict[str, float] | None = None


class SpaceEntry(_Record):
    """A space as exported: enough to recreate its row, and whether its model files follow."""

    name: str
    embedder: dict[str, Any]
    index: dict[str, Any]
    store_vectors: bool = True
    default: bool = False
    carries: Carries = "spec"
    dim: int | None = None
    metric: str | None = None


class Header(_Record):
    type: Literal["header"] = "header"
    format: Literal["vecdex-collection"] = FORMAT
    version: int = FORMAT_VERSION
    exported_at: str
    collection: CollectionEntry
    spaces: list[SpaceEntry] = Field(default_factory=list)
    expected: dict[str, int] = Field(
        default_factory=dict, description="Record counts at export start, per type (progress totals only)."
    )


class ModelRecord(_Record):
    type: Literal["model"]
    space: str
    seq: int = Field(ge=0)
    last: bool
    data: str


class DocumentRecord(_Record):
    type: Literal["document"]
    external_id: str
    text: str
    metadata: dict[str, Any] = Field(default_factory=dict)
    vectors: dict[str, str] | None = Field(None, description="Given vectors (family vectors), base64 float32.")


class VectorRecord(_Record):
    type: Literal["vector"]
    space: str
    external_id: str
    content_hash: str
    vector: str | None


class InteractionRecord(_Record):
    type: Literal["interaction"]
    user: str
    item: str
    timestamp: str
    event: str | None = None
    weight: float = 1.0


class Trailer(_Record):
    type: Literal["trailer"]
    counts: dict[str, int]
    sha256: str


Record = Union[ModelRecord, DocumentRecord, VectorRecord, InteractionRecord, Trailer]


def encode_vector(blob: bytes) -> str:
    """A stored vector (float32 bytes of this machine, little-endian everywhere vecdex runs) as base64."""
    return base64.b64encode(np.frombuffer(blob, dtype=np.float32).astype("<f4").tobytes()).decode("ascii")


def decode_vector(text: str, dim: int | None, where: str) -> np.ndarray:
    """base64 little-endian float32 -> a vector of ``dim`` numbers (InvalidFile naming ``where`` otherwise)."""
    try:
        raw = base64.b64decode(text, validate=True)
    except ValueError as exc:
        raise InvalidFile(f"{where}: vector is not base64 ({exc})", field=where) from exc
    if len(raw) % 4 or (dim is not None and len(raw) != dim * 4):
        raise InvalidFile(f"{where}: vector has {len(raw) // 4} numbers, the space has {dim}", field=where)
    vector = np.frombuffer(raw, dtype="<f4").astype(np.float32)
    if not np.isfinite(vector).all():
        raise InvalidFile(f"{where}: vector has a NaN or infinite number", field=where)
    return vector


def dumps(record: dict[str, Any]) -> bytes:
    """One line of the file (compact JSON, UTF-8, newline-terminated)."""
    return (json.dumps(record, ensure_ascii=False, separators=(",", ":"), allow_nan=False) + "\n").encode("utf-8")


class RecordWriter:
    """Serialises records while keeping the trailer's counts and checksum (the exporter's only writer)."""

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()
        self._sha = hashlib.sha256()

    def line(self, record: dict[str, Any]) -> bytes:
        data = dumps(record)
        self._sha.update(data)
        if record["type"] != "header":
            self.counts[record["type"]] += 1
        return data

    def trailer(self) -> bytes:
        return dumps({"type": "trailer", "counts": dict(self.counts), "sha256": self._sha.hexdigest()})


def gzip_chunks(chunks: Iterable[bytes]) -> Iterator[bytes]:
    """Compress a stream of bytes as one gzip member, yielding as it goes (the HTTP export's ``?gzip=true``)."""
    packer = zlib.compressobj(6, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    for chunk in chunks:
        out = packer.compress(chunk)
        if out:
            yield out
    yield packer.flush()


def open_binary(path: Path) -> BinaryIO:
    """The file's bytes, decompressed when it starts with the gzip magic (whatever its name)."""
    with open(path, "rb") as probe:
        magic = probe.read(2)
    if magic == GZIP_MAGIC:
        return gzip.open(path, "rb")  # type: ignore[return-value]
    return open(path, "rb")


def line_error(line: int, message: str) -> InvalidFile:
    return InvalidFile(f"line {line}: {message}", field=f"line {line}")


def parse_header(raw: bytes) -> Header:
    """Line 1; a newer ``version`` is refused before its other fields are looked at."""
    try:
        data = json.loads(raw)
    except ValueError as exc:
        raise line_error(1, f"not JSON ({exc.args[0]})") from exc
    if not isinstance(data, dict) or data.get("type") != "header" or data.get("format") != FORMAT:
        raise line_error(1, f"not a vecdex collection file (line 1 must be a {FORMAT!r} header)")
    version = data.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise line_error(1, f"format version {version!r} is not a positive integer")
    if version > FORMAT_VERSION:
        raise line_error(
            1, f"format version {version} is newer than this vecdex reads ({FORMAT_VERSION}); upgrade vecdex"
        )
    try:
        return Header.model_validate(data)
    except ValidationError as exc:
        raise line_error(1, _first_error(exc)) from exc


def _first_error(exc: ValidationError) -> str:
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first["loc"])
    return f"{where}: {first['msg']}" if where else str(first["msg"])


def read_records(path: Path) -> Iterator[tuple[int, Header | Record]]:
    """(line number, record) for every line, checked as it is read; the trailer's counts and checksum last.

    Raises :class:`InvalidFile` naming the line: bad JSON or record, a record after the
    trailer, a file that ends without one (truncated), or counts/checksum that disagree.
    """
    sha = hashlib.sha256()
    counts: Counter[str] = Counter()
    line_no = 0
    trailer: Trailer | None = None
    try:
        with open_binary(path) as stream:
            for raw in stream:
                line_no += 1
                if trailer is not None:
                    raise line_error(line_no, "a record after the trailer")
                if not raw.endswith(b"\n"):
                    raise line_error(line_no, "the file ends in the middle of a line (truncated)")
                if line_no == 1:
                    header = parse_header(raw)
                    sha.update(raw)
                    yield line_no, header
                    continue
                record = _parse(raw, line_no)
                if isinstance(record, Trailer):
                    trailer = record
                    _check_trailer(trailer, counts, sha.hexdigest(), line_no)
                    yield line_no, record
                    continue
                sha.update(raw)
                counts[record.type] += 1
                yield line_no, record
    except (EOFError, OSError, zlib.error) as exc:  # a cut gzip stream, an unreadable file
        raise line_error(line_no + 1, f"the file cannot be read past line {line_no} ({exc}): truncated?") from exc
    if line_no == 0:
        raise line_error(1, "the file is empty")
    if trailer is None:
        raise line_error(line_no + 1, f"the file ends after line {line_no} without its trailer (truncated)")


def _parse(raw: bytes, line_no: int) -> Record:
    try:
        data = json.loads(raw)
    except ValueError as exc:
        raise line_error(line_no, f"not JSON ({exc.args[0]})") from exc
    kind = data.get("type") if isinstance(data, dict) else None
    model = _TYPES.get(kind) if isinstance(kind, str) else None
    if model is None:
        raise line_error(line_no, f"unknown record type {kind!r}")
    try:
        return model.model_validate(data)  # type: ignore[return-value]
    except ValidationError as exc:
        raise line_error(line_no, _first_error(exc)) from exc


def _check_trailer(trailer: Trailer, counts: Counter[str], digest: str, line_no: int) -> None:
    if dict(counts) != {k: v for k, v in trailer.counts.items() if v}:
        raise line_error(line_no, f"the trailer counts {trailer.counts} records but the file holds {dict(counts)}")
    if trailer.sha256 != digest:
        raise line_error(line_no, "checksum mismatch: the file was altered or damaged")


_TYPES: dict[str, type[_Record]] = {
    "model": ModelRecord,
    "document": DocumentRecord,
    "vector": VectorRecord,
    "interaction": InteractionRecord,
    "trailer": Trailer,
}
