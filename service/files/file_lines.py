"""Reading line-oriented files safely: line counts, size-capped byte lines, CSV rows, JSON helpers.

Shared by document ingest (:mod:`service.ingest_files`) and interaction ingest
(:mod:`service.interaction_files`), which parse records on top of these.
"""

from __future__ import annotations

import codecs
import csv
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from ..schemas import MAX_TEXT_CHARS

MAX_LINE_BYTES = 16 * 1024 * 1024
"""Longest physical line (JSONL/text) read into memory; longer ones become an error.

16 MiB leaves room for a maximal text (1,000,000 characters, up to 4 bytes
each in UTF-8, more when JSON-escaped) plus metadata, while still bounding
memory when a file has no newlines at all.
"""

_BOM = codecs.BOM_UTF8
_COUNT_CHUNK = 1024 * 1024


def count_lines(path: Path) -> int:
    """Counts physical lines fast, as the total of an ingest progress bar.

    Reads fixed-size binary chunks and counts newlines, which is far faster
    than decoding and parsing. The count matches :attr:`ParsedRecord.line`,
    so ``record.line`` is the progress position for every format (a CSV
    header or multi-line record just advances it by more than one).
    """
    lines = 0
    last = b"\n"
    with Path(path).open("rb") as fh:
        while chunk := fh.read(_COUNT_CHUNK):
            lines += chunk.count(b"\n")
            last = chunk[-1:]
    return lines + (last != b"\n")


def _iter_byte_lines(fh: IO[bytes]) -> Iterator[tuple[int, bytes | None]]:
    """Yields ``(line number, raw line)``; ``None`` for a line over the size cap.

    ``readline(limit)`` keeps memory bounded; the rest of an oversized line is
    drained in capped pieces so the following lines keep their numbers.
    """
    limit = MAX_LINE_BYTES
    number = 0
    while raw := fh.readline(limit):
        number += 1
        if number == 1 and raw.startswith(_BOM):
            raw = raw[len(_BOM) :]
        if len(raw) >= limit and not raw.endswith(b"\n"):
            while (rest := fh.readline(limit)) and not rest.endswith(b"\n"):
                pass
            yield number, None
        else:
            yield number, raw


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _json_type(value: Any) -> str:
    names = {dict: "object", list: "array", str: "string", bool: "boolean", type(None): "null"}
    return names.get(type(value), "number")


def _ensure_csv_field_limit() -> None:
    """Lets a CSV cell hold a maximal text so DocumentIn, not csv, judges its length.

    The csv module's default cap (131,072 characters) is below MAX_TEXT_CHARS.
    The cap is process-wide, so it is only ever raised; keeping *a* cap (twice
    the text limit) still bounds memory when an unterminated quote would
    otherwise swallow the rest of a multi-gigabyte file.
    """
    wanted = 2 * MAX_TEXT_CHARS
    if csv.field_size_limit() < wanted:
        csv.field_size_limit(min(wanted, sys.maxsize))


def _csv_rows(reader: Any) -> Iterator[tuple[int, list[str] | str]]:
    """Yields ``(start line, cells)`` or ``(start line, error)``, skipping blank rows.

    ``reader.line_num`` counts physical lines consumed so far, so a record
    starts one line after the previous record ended. In strict mode the csv
    module discards the rest of a bad line and resumes on the next one,
    which is what lets one malformed record not end the run.
    """
    consumed = 0
    while True:
        start = consumed + 1
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            consumed = reader.line_num
            yield start, f"malformed CSV: {exc}"
            continue
        consumed = reader.line_num
        if any(cell.strip() for cell in row):
            yield start, row
