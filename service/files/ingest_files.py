"""Streaming readers for ``vecdex ingest FILE``: JSONL, CSV/TSV and plain text.

Why a reader per format instead of "load the file, then validate": ingest files
can be several gigabytes, and one bad line in the middle must neither crash the
run nor hide the other million good lines. So every reader

* streams: one line (or one CSV record) is in memory at a time, and a single
  line is capped at :data:`MAX_LINE_BYTES` so even a file without newlines
  cannot exhaust memory;
* never raises for bad *content*: each record comes back as a
  :class:`ParsedRecord` holding either a validated :class:`DocumentIn` or an
  error string that names the 1-based physical line and the offending field,
  e.g. ``"line 7: field 'text': text is empty"``;
* validates through :class:`service.schemas.DocumentIn`, so a file is rejected
  with the same messages as the HTTP API.

Format rules (see :func:`read_documents` for the parameters):

JSONL (``.jsonl``, ``.ndjson``)
    One JSON object per line; blank lines are skipped. The id is read from
    ``external_id`` (or ``id`` when ``external_id`` is absent); integer ids
    are accepted and turned into strings. Metadata: if the object has a
    ``metadata`` key, it must be a JSON object (or null) and it *is* the
    metadata; any other top-level key is then an error, because the record is
    in the API's exact shape and an extra key is most likely a typo that
    would otherwise be lost silently. Without a ``metadata`` key, every
    top-level key other than the id and the text becomes metadata, so flat
    exports (``{"id": 1, "text": "...", "lang": "en"}``) work as they are.
    ``NaN``/``Infinity`` are rejected: they are not JSON and PostgreSQL's
    JSONB refuses them.

CSV (``.csv``; ``.tsv`` means tab-separated)
    A header row is required and must name an id column (``external_id`` or
    ``id``) and a text column; a header without them yields one error record
    and nothing else. Every other column becomes a metadata key. Values stay
    strings, because CSV carries no types and guessing turns zip codes and
    ids like ``"007"`` into numbers; pass ``csv_infer_types=True`` to turn
    integer-, float- and ``true``/``false``-looking cells into JSON numbers
    and booleans and empty cells into null. Quoted fields may span lines; a
    record's ``line`` is the line it starts on. Rows whose cells are all
    blank are skipped. Quoting is parsed strictly (``a,"b"c`` is an error,
    not ``bc``), and a row with more or fewer cells than the header is an
    error, since that is what an unquoted delimiter inside a text looks like.

Plain text (``.txt`` and any other extension)
    Each non-blank line is one document; the line terminator is removed and
    the rest kept verbatim. Its id is ``"<file stem>:<line number>"``, so
    ingesting the same file again replaces the same documents instead of
    duplicating them. (Editing the file shifts the line numbers, and two
    files with the same stem share an id space: rename one or use JSONL.)

All formats accept UTF-8 with or without a byte-order mark. Bytes that are not
UTF-8 make an error record for their line (CSV: their record); the reading goes on.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from itertools import islice
from pathlib import Path
from typing import Any, Literal, TypeVar

from pydantic import ValidationError

from service.errors import InvalidInput, NotFound
from service.schemas import REQUIRE_TEXT, DocumentIn

from . import file_lines
from .file_lines import (
    MAX_LINE_BYTES,
    _csv_rows,
    _ensure_csv_field_limit,
    _iter_byte_lines,
    _json_type,
    _reject_constant,
    count_lines,
)

__all__ = [
    "MAX_LINE_BYTES",
    "FileFormat",
    "ParsedRecord",
    "batched",
    "count_lines",
    "detect_format",
    "read_documents",
]

FileFormat = Literal["jsonl", "csv", "text"]
"""A concrete file format; ``"auto"`` resolves to one of these."""

_EXTENSIONS: dict[str, FileFormat] = {
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".csv": "csv",
    ".tsv": "csv",
}
_FORMATS = ("auto", "jsonl", "csv", "text")
_ID_ALIAS = "id"
_METADATA_KEY = "metadata"
# Lone surrogates U+DC80..U+DCFF are how the "surrogateescape" handler keeps
# undecodable bytes; finding one in a CSV cell means that record was not UTF-8.
_ESCAPED_BYTE = re.compile("[\udc80-\udcff]")
_INT_RE = re.compile(r"[+-]?\d+")
_FLOAT_RE = re.compile(r"[+-]?(\d+\.\d*|\.\d+|\d+)([eE][+-]?\d+)?")

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class ParsedRecord:
    """One record of an ingest file: a valid document or the reason it is not.

    Errors are values rather than exceptions so a caller can count them,
    print them and carry on with the next record.

    Attributes:
        line: 1-based physical line where the record starts in the file.
        document: The validated document, when the record is valid.
        error: ``"line N: ..."`` naming the problem and field, when it is not.
    """

    line: int
    document: DocumentIn | None = None
    error: str | None = None

    def __post_init__(self) -> None:
        if (self.document is None) == (self.error is None):
            raise ValueError("a ParsedRecord holds exactly one of document or error")

    @property
    def ok(self) -> bool:
        """Whether the record holds a document (so callers need no None checks)."""
        return self.document is not None


# --------------------------------------------------------------------------- public API


def detect_format(path: Path) -> FileFormat:
    """Picks the format from the file extension; anything unknown is plain text.

    Plain text is the fallback because any file can be read as lines, whereas
    guessing JSON or CSV for an unknown extension would make every line an error.
    """
    return _EXTENSIONS.get(path.suffix.lower(), "text")


def read_documents(
    path: Path,
    fmt: Literal["auto", "jsonl", "csv", "text"] = "auto",
    *,
    id_field: str = "external_id",
    text_field: str = "text",
    csv_infer_types: bool = False,
    csv_delimiter: str | None = None,
    require_text: bool = True,
) -> Iterator[ParsedRecord]:
    """Streams the records of an ingest file, valid or not, in file order.

    The argument checks run at call time (not on first ``next``) so that the
    command line can report a missing file or an unknown format before it
    starts a progress bar.

    Args:
        path: The file to read.
        fmt: ``"auto"`` picks by extension (see :func:`detect_format`).
        id_field: JSON key / CSV column holding the document id. When left at
            ``"external_id"``, ``"id"`` is accepted in its place.
        text_field: JSON key / CSV column holding the text.
        csv_infer_types: Turn numeric/boolean-looking CSV cells into JSON
            numbers/booleans (default: keep every cell a string).
        csv_delimiter: Override the CSV delimiter (default: tab for ``.tsv``,
            comma otherwise).
        require_text: Refuse a record without a non-blank text. ``False`` for
            a collection of kind items, whose items may have only an id and
            metadata: a missing or blank text is then read as ``""``.

    Returns:
        An iterator of :class:`ParsedRecord`; blank lines produce nothing.

    Raises:
        InvalidInput: ``fmt`` is not a known format (field ``format``).
        NotFound: ``path`` is not an existing file (field ``path``).
    """
    if fmt not in _FORMATS:
        raise InvalidInput(f"unknown ingest format {fmt!r}; expected one of {', '.join(_FORMATS)}", field="format")
    path = Path(path)
    if not path.is_file():
        raise NotFound(f"no such file: {path}", field="path")
    resolved: FileFormat = detect_format(path) if fmt == "auto" else fmt
    if resolved == "jsonl":
        return _read_jsonl(path, id_field, text_field, require_text)
    if resolved == "csv":
        delimiter = csv_delimiter or ("\t" if path.suffix.lower() == ".tsv" else ",")
        return _read_csv(path, id_field, text_field, delimiter, csv_infer_types, require_text)
    return _read_text(path)




def batched(records: Iterable[T], size: int) -> Iterator[list[T]]:
    """Groups an iterable into lists of ``size`` (the last may be shorter).

    Ingest commits and embeds per batch, so it needs fixed-size chunks of a
    stream without materialising it; ``itertools.batched`` is Python 3.12+.

    Raises:
        ValueError: ``size`` is less than 1.
    """
    if size < 1:
        raise ValueError(f"batch size must be at least 1, got {size}")
    iterator = iter(records)
    while batch := list(islice(iterator, size)):
        yield batch


# --------------------------------------------------------------------------- shared helpers




def _decode_line(number: int, raw: bytes | None) -> str | ParsedRecord:
    """Decodes one raw line, or returns the error record that replaces it."""
    if raw is None:
        return _error(number, f"line longer than {file_lines.MAX_LINE_BYTES} bytes")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        bad = exc.object[exc.start]
        return _error(number, f"invalid UTF-8: byte 0x{bad:02x} at position {exc.start + 1}")


def _error(line: int, message: str) -> ParsedRecord:
    return ParsedRecord(line=line, error=f"line {line}: {message}")


def _build(
    line: int,
    external_id: Any,
    text: Any,
    metadata: dict[str, Any],
    names: dict[str, str],
    require_text: bool = True,
) -> ParsedRecord:
    """Validates through DocumentIn and names fields as the *file* calls them.

    Args:
        names: DocumentIn field -> name in the file (e.g. ``external_id`` -> ``id``),
            so a message points at the column or key the user actually wrote.
        require_text: Report a blank text here, per line (a documents collection
            would refuse it at write time, failing the whole batch).
    """
    try:
        document = DocumentIn.model_validate(
            {"external_id": external_id, "text": text, "metadata": metadata}, context={REQUIRE_TEXT: require_text}
        )
    except ValidationError as exc:
        return _error(line, _describe(exc, names))
    return ParsedRecord(line=line, document=document)


def _describe(exc: ValidationError, names: dict[str, str]) -> str:
    parts = []
    for err in exc.errors():
        message = err["msg"].removeprefix("Value error, ")
        if err["loc"]:
            field = str(err["loc"][0])
            parts.append(f"field '{names.get(field, field)}': {message}")
        else:
            parts.append(message)
    return "; ".join(parts)


def _coerce_id(value: Any) -> Any:
    """Accepts integer ids (common in JSON exports) as their decimal string.

    Booleans are ints in Python but never meant as ids, so they are left for
    DocumentIn to reject.
    """
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return value


def _pick_id_key(keys: Iterable[str], id_field: str) -> str | None:
    """Returns the key holding the id: ``id_field``, else the ``id`` alias."""
    keys = set(keys)
    if id_field in keys:
        return id_field
    if id_field == "external_id" and _ID_ALIAS in keys:
        return _ID_ALIAS
    return None


def _missing_id(id_field: str) -> str:
    alias = f" (or '{_ID_ALIAS}')" if id_field == "external_id" else ""
    return f"'{id_field}'{alias}"


# --------------------------------------------------------------------------- JSONL




def _read_jsonl(path: Path, id_field: str, text_field: str, require_text: bool = True) -> Iterator[ParsedRecord]:
    with path.open("rb") as fh:
        for number, raw in _iter_byte_lines(fh):
            decoded = _decode_line(number, raw)
            if isinstance(decoded, ParsedRecord):
                yield decoded
            elif decoded.strip():
                yield _parse_json_line(number, decoded, id_field, text_field, require_text)


def _parse_json_line(
    number: int, line: str, id_field: str, text_field: str, require_text: bool = True
) -> ParsedRecord:
    try:
        obj = json.loads(line, parse_constant=_reject_constant)
    except json.JSONDecodeError as exc:
        return _error(number, f"malformed JSON: {exc.msg} (col {exc.colno})")
    except ValueError as exc:
        return _error(number, f"malformed JSON: {exc}")
    except RecursionError:
        return _error(number, "malformed JSON: nested too deeply to read")
    if not isinstance(obj, dict):
        return _error(number, f"expected a JSON object, got {_json_type(obj)}")
    return _json_record(number, obj, id_field, text_field, require_text)


def _json_record(
    number: int, obj: dict[str, Any], id_field: str, text_field: str, require_text: bool = True
) -> ParsedRecord:
    id_key = _pick_id_key(obj, id_field)
    if id_key is None:
        return _error(number, f"missing field {_missing_id(id_field)}")
    if text_field not in obj and require_text:
        return _error(number, f"missing field '{text_field}'")
    rest = {k: v for k, v in obj.items() if k not in (id_key, text_field)}
    metadata = _json_metadata(rest)
    if isinstance(metadata, str):
        return _error(number, metadata)
    names = {"external_id": id_key, "text": text_field}
    return _build(number, _coerce_id(obj[id_key]), obj.get(text_field), metadata, names, require_text)


def _json_metadata(rest: dict[str, Any]) -> dict[str, Any] | str:
    """Metadata of a JSONL record, or an error message (see the module docstring)."""
    if _METADATA_KEY not in rest:
        return rest
    explicit = rest.pop(_METADATA_KEY)
    if rest:
        extra = ", ".join(f"'{k}'" for k in rest)
        return f"unexpected field {extra}: a record with a 'metadata' object must keep other fields inside it"
    if explicit is None:
        return {}
    if not isinstance(explicit, dict):
        return f"field 'metadata': expected a JSON object, got {_json_type(explicit)}"
    return explicit




# --------------------------------------------------------------------------- plain text


def _read_text(path: Path) -> Iterator[ParsedRecord]:
    names = {"external_id": "external_id", "text": "text"}
    with path.open("rb") as fh:
        for number, raw in _iter_byte_lines(fh):
            decoded = _decode_line(number, raw)
            if isinstance(decoded, ParsedRecord):
                yield decoded
            elif decoded.strip():
                text = decoded.rstrip("\r\n")
                yield _build(number, f"{path.stem}:{number}", text, {}, names)


# --------------------------------------------------------------------------- CSV




def _read_csv(
    path: Path, id_field: str, text_field: str, delimiter: str, infer_types: bool, require_text: bool = True
) -> Iterator[ParsedRecord]:
    _ensure_csv_field_limit()
    # utf-8-sig drops a BOM; surrogateescape keeps bad bytes as markers that
    # _csv_record reports per record, since the csv module needs a text stream.
    with path.open("r", encoding="utf-8-sig", errors="surrogateescape", newline="") as fh:
        reader = csv.reader(fh, delimiter=delimiter, strict=True)
        rows = _csv_rows(reader)
        header_row = next(rows, None)
        if header_row is None:
            return
        start, header = header_row
        if isinstance(header, str):
            yield _error(start, header)
            return
        columns = _csv_columns(header, id_field, text_field, require_text)
        if isinstance(columns, str):
            yield _error(start, columns)
            return
        convert = _infer_cell if infer_types else (lambda cell: cell)
        for start, row in rows:
            if isinstance(row, str):
                yield _error(start, row)
            else:
                yield _csv_record(start, row, header, columns, convert, require_text)




def _csv_columns(
    header: list[str], id_field: str, text_field: str, require_text: bool = True
) -> tuple[int, int | None] | str:
    """Returns the (id, text) column positions (text None: no text column), or why the header is unusable."""
    names = [name.strip() for name in header]
    header[:] = names
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        return "header: duplicate column " + ", ".join(f"'{d}'" for d in duplicates)
    id_key = _pick_id_key(names, id_field)
    if id_key is None:
        return f"header: missing column {_missing_id(id_field)}"
    if text_field not in names:
        if not require_text:
            return names.index(id_key), None
        return f"header: missing column '{text_field}'"
    return names.index(id_key), names.index(text_field)


def _csv_record(
    start: int,
    row: list[str],
    header: list[str],
    columns: tuple[int, int | None],
    convert: Callable[[str], Any],
    require_text: bool = True,
) -> ParsedRecord:
    if len(row) != len(header):
        return _error(start, f"expected {len(header)} fields (as in the header), got {len(row)}")
    for name, cell in zip(header, row):
        if match := _ESCAPED_BYTE.search(cell):
            byte = ord(match.group()) - 0xDC00
            return _error(start, f"field '{name}': invalid UTF-8: byte 0x{byte:02x}")
    id_col, text_col = columns
    metadata = {
        name: convert(cell) for i, (name, cell) in enumerate(zip(header, row)) if i not in columns
    }
    names = {"external_id": header[id_col], "text": header[text_col] if text_col is not None else "text"}
    text = row[text_col] if text_col is not None else ""
    return _build(start, row[id_col], text, metadata, names, require_text)


def _infer_cell(cell: str) -> Any:
    """Turns a CSV cell into int/float/bool/None when it unambiguously looks like one.

    Integers with a leading zero (``"007"``) stay strings: they are codes, and
    converting would lose the zeros.
    """
    value = cell.strip()
    if not value:
        return None
    lowered = value.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    if _INT_RE.fullmatch(value):
        digits = value.lstrip("+-")
        return cell if len(digits) > 1 and digits.startswith("0") else int(value)
    if _FLOAT_RE.fullmatch(value):
        return float(value)
    return cell
