"""Passages of a long document: where each one starts and ends in the text.

Why: one vector for a 20-page document is the average of everything in it, and
a query about one of its paragraphs finds it late or not at all; the hit, too,
cannot say where in the document the answer is. A space that chunks indexes
one vector per passage and answers with the document and its best passages.

Passages are character spans ``(start, end)`` of the original text, a pure
function of the text and the :class:`ChunkSpec`: nothing about them needs
storing, since the same text always cuts the same way, and a hit's passage
offsets are found again by cutting its text.

- ``by="tokens"``: windows of ``size`` tokens, each starting ``size - overlap``
  tokens after the previous one. A token is a run of word characters, or one
  Han character (as BERT's tokenizer and most Chinese models count them), so
  sizes mean about the same for English and Chinese and no segmenter runs.
- ``by="paragraphs"``: the text's paragraphs (split at blank lines), each one
  passage; a paragraph longer than ``size`` tokens is cut by tokens as above.

A document has at most :data:`MAX_PASSAGES` passages; the last one runs to the
end of the text.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from .cjk import HAN

__all__ = ["MAX_PASSAGES", "ChunkSpec", "passages"]

MAX_PASSAGES = 4096
"""Passages per document at most (the index key holds the passage number in 12 bits)."""

_TOKEN = re.compile(f"[{HAN}]|[^\\W{HAN}]+")
_PARAGRAPH_BREAK = re.compile(r"\n[ \t\r\f\v]*\n\s*")


class ChunkSpec(BaseModel):
    """How a space cuts documents into passages (part of the space's spec)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    by: Literal["tokens", "paragraphs"] = Field(
        "tokens", description="tokens: windows of `size` tokens; paragraphs: one passage per paragraph."
    )
    size: int = Field(200, ge=8, le=8192, description="Tokens per passage (at most, for paragraphs).")
    overlap: int = Field(40, ge=0, description="Tokens shared by neighbouring windows; less than `size`.")

    @model_validator(mode="after")
    def _overlap_below_size(self) -> ChunkSpec:
        if self.overlap >= self.size:
            raise ValueError(f"overlap ({self.overlap}) must be less than size ({self.size})")
        return self


def passages(text: str, spec: ChunkSpec) -> list[tuple[int, int]]:
    """The passages of ``text`` as ``(start, end)`` character offsets, in order; none for a text
    without a token. A passage starts at its first token and ends after its last one."""
    if spec.by == "paragraphs":
        spans: list[tuple[int, int]] = []
        start = 0
        for brk in _PARAGRAPH_BREAK.finditer(text):
            spans += _windows(text, start, brk.start(), spec)
            start = brk.end()
        spans += _windows(text, start, len(text), spec)
    else:
        spans = _windows(text, 0, len(text), spec)
    if len(spans) > MAX_PASSAGES:
        spans = spans[: MAX_PASSAGES - 1] + [(spans[MAX_PASSAGES - 1][0], spans[-1][1])]
    return spans


def _windows(text: str, lo: int, hi: int, spec: ChunkSpec) -> list[tuple[int, int]]:
    """Token windows over ``text[lo:hi]``: one for a stretch of at most ``size`` tokens."""
    tokens = [(m.start(), m.end()) for m in _TOKEN.finditer(text, lo, hi)]
    if not tokens:
        return []
    step = spec.size - spec.overlap
    out = []
    first = 0
    while True:
        last = min(first + spec.size, len(tokens)) - 1
        out.append((tokens[first][0], tokens[last][1]))
        if last == len(tokens) - 1:
            return out
        first += step
