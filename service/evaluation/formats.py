"""Parsers for evaluation data sets; every error names ``file:line``.

Formats (blank lines and lines starting with ``#`` are skipped everywhere):

- queries: JSON lines ``{"id": "q1", "text": "..."}``.
- qrels: TREC ``qid iteration docid relevance`` (whitespace separated); ``docid``
  is a document's external id, relevance an integer grade (> 0 is relevant).
- similarity pairs: CSV or TSV ``id_a, id_b, score`` (delimiter sniffed from the
  first line: tab, else comma, else whitespace); a first line whose score does not
  parse as a number is a header.
- similarity matrix: n rows of n numbers (comma or whitespace separated). If the
  first line does not parse as numbers it is a header naming the n documents'
  external ids in column order; without a header the rows are the collection's
  documents in insertion (SQL id) order. The upper triangle (i < j) becomes pairs.
- word pairs (WordSim353, SimLex-999): ``word1 word2 score`` separated by tabs or
  whitespace; a line whose score is not a number is a header.
- analogies (Google ``questions-words.txt``): ``: section`` lines, then ``a b c d``
  questions (a is to b as c is to d).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import InvalidFile


class FormatError(InvalidFile):
    """A line of an evaluation file that does not parse; ``field`` is ``path:line`` (code ``invalid_file``)."""

    def __init__(self, path: Path, line: int, message: str) -> None:
        super().__init__(f"{path}:{line}: {message}", field=f"{path}:{line}")
        self.path = path
        self.line = line


@dataclass(frozen=True)
class Query:
    id: str
    text: str


def _lines(path: Path) -> Iterator[tuple[int, str]]:
    """(line number, stripped line) of the lines that carry data."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise InvalidFile(f"cannot read {path}: {exc.strerror or exc}", field=str(path)) from exc
    except UnicodeDecodeError as exc:
        raise InvalidFile(f"{path}: not UTF-8 text ({exc.reason})", field=str(path)) from exc
    for number, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if line and not line.startswith("#"):
            yield number, line


def _number(path: Path, line: int, value: str, what: str) -> float:
    try:
        x = float(value)
    except ValueError:
        raise FormatError(path, line, f"{what} must be a number, got {value!r}") from None
    if not np.isfinite(x):
        raise FormatError(path, line, f"{what} must be finite, got {value!r}")
    return x


def _nonempty(path: Path, items: list | dict, what: str) -> None:
    if not items:
        raise FormatError(path, 0, f"no {what} in the file")


def read_queries(path: Path) -> list[Query]:
    queries: list[Query] = []
    seen: set[str] = set()
    for number, line in _lines(path):
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise FormatError(path, number, f"invalid JSON: {exc.msg}") from None
        if not isinstance(obj, dict) or "id" not in obj or not isinstance(obj.get("text"), str):
            raise FormatError(path, number, 'expected {"id": ..., "text": "..."}')
        qid = str(obj["id"])
        if not obj["text"].strip():
            raise FormatError(path, number, f"query {qid!r} has an empty text")
        if qid in seen:
            raise FormatError(path, number, f"query id {qid!r} appears twice")
        seen.add(qid)
        queries.append(Query(qid, obj["text"]))
    _nonempty(path, queries, "queries")
    return queries


def read_qrels(path: Path) -> dict[str, dict[str, int]]:
    qrels: dict[str, dict[str, int]] = {}
    for number, line in _lines(path):
        parts = line.split()
        if len(parts) != 4:
            raise FormatError(path, number, f"expected 'qid 0 docid relevance' (4 fields), got {len(parts)}")
        qid, _, doc, rel = parts
        try:
            grade = int(rel)
        except ValueError:
            raise FormatError(path, number, f"relevance must be an integer, got {rel!r}") from None
        qrels.setdefault(qid, {})[doc] = grade
    _nonempty(path, qrels, "judgements")
    return qrels


def _split(line: str, delimiter: str | None) -> list[str]:
    return [p.strip() for p in (line.split(delimiter) if delimiter else line.split())]


def _delimiter(line: str) -> str | None:
    return "\t" if "\t" in line else "," if "," in line else None


def _triples(path: Path, what: str, names: str) -> list[tuple[str, str, float]]:
    rows: list[tuple[str, str, float]] = []
    delimiter: str | None = None
    for i, (number, line) in enumerate(_lines(path)):
        if i == 0:
            delimiter = _delimiter(line)
        parts = _split(line, delimiter)
        if len(parts) != 3:
            raise FormatError(path, number, f"expected '{names}' (3 fields), got {len(parts)}")
        if i == 0:
            try:
                float(parts[2])
            except ValueError:
                continue  # header
        rows.append((parts[0], parts[1], _number(path, number, parts[2], "score")))
    _nonempty(path, rows, what)
    return rows


def read_pairs(path: Path) -> list[tuple[str, str, float]]:
    """Document similarity pairs (external ids and a gold score)."""
    return _triples(path, "pairs", "id_a, id_b, score")


def read_word_pairs(path: Path) -> list[tuple[str, str, float]]:
    """WordSim353 / SimLex-999 style word pairs."""
    return _triples(path, "word pairs", "word1 word2 score")


def read_matrix(path: Path) -> tuple[list[str] | None, np.ndarray]:
    """(external ids or None for collection order, n x n matrix)."""
    ids: list[str] | None = None
    rows: list[list[float]] = []
    first_number = 0
    for i, (number, line) in enumerate(_lines(path)):
        parts = [p for p in re.split(r"[,\s]+", line) if p]
        if i == 0:
            try:
                [float(p) for p in parts]
            except ValueError:
                ids = parts
                continue
        if not first_number:
            first_number = number
        rows.append([_number(path, number, p, "matrix cell") for p in parts])
        width = len(ids) if ids is not None else len(rows[0])
        if len(parts) != width:
            raise FormatError(path, number, f"expected {width} numbers in every row, got {len(parts)}")
    _nonempty(path, rows, "matrix rows")
    n = len(rows[0])
    if len(rows) != n:
        raise FormatError(path, first_number, f"the matrix must be square: {len(rows)} rows of {n} numbers")
    if ids is not None and len(set(ids)) != len(ids):
        raise FormatError(path, first_number - 1 if first_number > 1 else 1, "the header names a document twice")
    return ids, np.asarray(rows, dtype=np.float64)


def matrix_pairs(ids: list[str], matrix: np.ndarray) -> list[tuple[str, str, float]]:
    """The upper triangle (i < j) as pairs."""
    n = len(ids)
    return [(ids[i], ids[j], float(matrix[i, j])) for i in range(n) for j in range(i + 1, n)]


def read_analogies(path: Path) -> list[tuple[str, str, str, str, str]]:
    """(section, a, b, c, d) questions."""
    section: str | None = None
    out: list[tuple[str, str, str, str, str]] = []
    for number, line in _lines(path):
        if line.startswith(":"):
            section = line[1:].strip()
            if not section:
                raise FormatError(path, number, "a section line needs a name (': name')")
            if section == "total":  # the per-section results share one mapping with the overall total
                raise FormatError(path, number, "section name 'total' is reserved for the overall accuracy")
            continue
        parts = line.split()
        if len(parts) != 4:
            raise FormatError(path, number, f"expected 4 words 'a b c d', got {len(parts)}")
        if section is None:
            raise FormatError(path, number, "question before the first ': section' line")
        out.append((section, *parts))  # type: ignore[arg-type]
    _nonempty(path, out, "analogy questions")
    return out
