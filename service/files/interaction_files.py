"""Streaming reader for ``vecdex ingest-interactions FILE``: CSV/TSV or JSONL user events.

The same contract as :mod:`service.ingest_files` (whose line helpers it
reuses): one record in memory at a time, and a bad record comes back as a
value naming its 1-based line and field instead of ending the run. Records are
validated through :class:`service.schemas.InteractionIn`, so a file is refused
with the API's messages.

CSV (``.csv``; ``.tsv`` means tab-separated)
    A header row is required: ``user``, ``item`` and ``timestamp`` columns,
    optionally ``event`` and ``weight``, in any order; any other column is an
    error (most likely a typo that would otherwise be dropped silently). An
    empty ``event`` cell means none, an empty ``weight`` cell means 1.0.

JSONL (``.jsonl``, ``.ndjson``)
    One object per line with the same keys; integer user and item ids are
    taken as strings. ``NaN``/``Infinity`` are not JSON and are refused.

Timestamps are ISO 8601 date-times (naive means UTC) or epoch seconds.
With ``auto``, an unknown extension is decided by the first non-blank byte
(``{`` means JSONL).
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import ValidationError

from ..errors import InvalidInput, NotFound
from .file_lines import _csv_rows, _ensure_csv_field_limit, _iter_byte_lines, _json_type, _reject_constant, count_lines
from .ingest_files import _ESCAPED_BYTE, _describe
from ..schemas import InteractionIn

__all__ = ["COLUMNS", "InteractionFormat", "ParsedInteraction", "count_lines", "read_interactions"]

InteractionFormat = Literal["csv", "jsonl"]
FORMATS = ("auto", "csv", "jsonl")
REQUIRED = ("user", "item", "timestamp")
COLUMNS = (*REQUIRED, "event", "weight")
_EXTENSIONS: dict[str, InteractionFormat] = {".csv": "csv", ".tsv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl"}


@dataclass(frozen=True, slots=True)
class ParsedInteraction:
    """One record of an interactions file: a valid interaction or why it is not one.

    Attributes:
        line: 1-based physical line where the record starts.
        interaction: The validated interaction, when the record is valid.
        error: What is wrong, naming the field (no line prefix: the caller
            prints ``FILE:LINE: error``).
    """

    line: int
    interaction: InteractionIn | None = None
    error: str | None = None

    def __post_init__(self) -> None:
        if (self.interaction is None) == (self.error is None):
            raise ValueError("a ParsedInteraction holds exactly one of interaction or error")


def detect_interaction_format(path: Path) -> InteractionFormat:
    """By extension, else by the first non-blank byte (``{`` is JSONL, anything else CSV)."""
    known = _EXTENSIONS.get(path.suffix.lower())
    if known is not None:
        return known
    with path.open("rb") as fh:
        head = fh.read(4096).lstrip(b"\xef\xbb\xbf \t\r\n")
    return "jsonl" if head.startswith(b"{") else "csv"


def read_interactions(path: Path, fmt: str = "auto") -> Iterator[ParsedInteraction]:
    """Stream the records of an interactions file, valid or not, in file order.

    The argument checks run at call time so the command line can report them
    before it starts a progress bar.

    Raises:
        InvalidInput: ``fmt`` is not auto, csv or jsonl (field ``format``).
        NotFound: ``path`` is not an existing file (field ``path``).
    """
    if fmt not in FORMATS:
        raise InvalidInput(f"unknown format {fmt!r}; expected one of {', '.join(FORMATS)}", field="format")
    path = Path(path)
    if not path.is_file():
        raise NotFound(f"no such file: {path}", field="path")
    resolved = detect_interaction_format(path) if fmt == "auto" else fmt
    if resolved == "jsonl":
        return _read_jsonl(path)
    return _read_csv(path, "\t" if path.suffix.lower() == ".tsv" else ",")


def _build(line: int, record: dict[str, Any]) -> ParsedInteraction:
    try:
        return ParsedInteraction(line=line, interaction=InteractionIn.model_validate(record))
    except ValidationError as exc:
        return ParsedInteraction(line=line, error=_describe(exc, {}))


# --------------------------------------------------------------------------- JSONL


def _read_jsonl(path: Path) -> Iterator[ParsedInteraction]:
    with path.open("rb") as fh:
        for number, raw in _iter_byte_lines(fh):
            if raw is None:
                yield ParsedInteraction(line=number, error="line too long")
                continue
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                bad = exc.object[exc.start]
                message = f"invalid UTF-8: byte 0x{bad:02x} at position {exc.start + 1}"
                yield ParsedInteraction(line=number, error=message)
                continue
            if line.strip():
                yield _json_line(number, line)


def _json_line(number: int, line: str) -> ParsedInteraction:
    try:
        obj = json.loads(line, parse_constant=_reject_constant)
    except json.JSONDecodeError as exc:
        return ParsedInteraction(line=number, error=f"malformed JSON: {exc.msg} (col {exc.colno})")
    except ValueError as exc:
        return ParsedInteraction(line=number, error=f"malformed JSON: {exc}")
    if not isinstance(obj, dict):
        return ParsedInteraction(line=number, error=f"expected a JSON object, got {_json_type(obj)}")
    return _build(number, obj)


# --------------------------------------------------------------------------- CSV


def _read_csv(path: Path, delimiter: str) -> Iterator[ParsedInteraction]:
    _ensure_csv_field_limit()
    with path.open("r", encoding="utf-8-sig", errors="surrogateescape", newline="") as fh:
        rows = _csv_rows(csv.reader(fh, delimiter=delimiter, strict=True))
        first = next(rows, None)
        if first is None:
            return
        start, header = first
        problem = header if isinstance(header, str) else _header_problem(header)
        if problem is not None:
            yield ParsedInteraction(line=start, error=problem if problem.startswith("header") else f"header: {problem}")
            return
        assert not isinstance(header, str)
        for start, row in rows:
            if isinstance(row, str):
                yield ParsedInteraction(line=start, error=row)
            else:
                yield _csv_record(start, row, header)


def _header_problem(header: list[str]) -> str | None:
    names = [name.strip() for name in header]
    header[:] = names
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        return "header: duplicate column " + ", ".join(f"'{d}'" for d in duplicates)
    missing = [c for c in REQUIRED if c not in names]
    if missing:
        return "header: missing column " + ", ".join(f"'{c}'" for c in missing) + f" (columns: {', '.join(COLUMNS)})"
    unknown = [n for n in names if n not in COLUMNS]
    if unknown:
        return "header: unknown column " + ", ".join(f"'{c}'" for c in unknown) + f" (columns: {', '.join(COLUMNS)})"
    return None


def _csv_record(start: int, row: list[str], header: list[str]) -> ParsedInteraction:
    if len(row) != len(header):
        return ParsedInteraction(line=start, error=f"expected {len(header)} fields (as in the header), got {len(row)}")
    record: dict[str, Any] = {}
    for name, cell in zip(header, row):
        if match := _ESCAPED_BYTE.search(cell):
            byte = ord(match.group()) - 0xDC00
            return ParsedInteraction(line=start, error=f"field '{name}': invalid UTF-8: byte 0x{byte:02x}")
        if name == "weight" and not cell.strip():
            continue  # the default weight
        record[name] = cell
    return _build(start, record)
