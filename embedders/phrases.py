"""Phrases learned from the corpus: frequent word pairs become one token (Mikolov et al. 2013).

Why: the word2vec paper's own answer to "New York" or, in Chinese, jieba cutting
语言模型 into 语言 / 模型 — a pair that occurs together far more often than its
parts would by chance is one unit of meaning, and a model learns it better as
one token. gensim's :class:`~gensim.models.phrases.Phrases` finds the pairs
(its default scorer: ``(count(ab) - min_count) * N / (count(a) * count(b))``
above ``threshold``; or normalised PMI); this module keeps only what it found,
the list of pairs with their scores, and joins them in token lists itself, so
a saved model holds a plain JSON file rather than a pickle.

A pair is joined left to right and greedily, as gensim's frozen phrases do:
in "a b c" with both "a_b" and "b_c" learned, "a_b" wins and "c" stays alone.
The joined token is ``a_b``; the shared tokenizer turns every ``_`` of a text
into a space, so no token of the text itself can look like a phrase.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from embedders.tokenizer import Tokenizer

__all__ = ["DELIMITER", "PhrasedTokenizer", "PhrasesSpec", "learn_phrases", "read_phrases", "write_phrases"]

DELIMITER = "_"


class PhrasesSpec(BaseModel):
    """How pairs are found (gensim ``Phrases`` arguments); null in a family's spec means no phrases."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    min_count: int = Field(5, ge=1, description="Ignore pairs seen fewer times than this.")
    threshold: float = Field(
        10.0, description="Score a pair must exceed: gensim's default scorer 10 (its default); npmi in (-1, 1]."
    )
    scoring: Literal["default", "npmi"] = Field("default", description="gensim's scorer: 'default' or 'npmi'.")

    @model_validator(mode="after")
    def _threshold_fits_scorer(self) -> PhrasesSpec:
        if self.scoring == "npmi" and not -1.0 < self.threshold <= 1.0:
            raise ValueError(f"threshold must be in (-1, 1] for npmi scoring, got {self.threshold}")
        if self.scoring == "default" and self.threshold <= 0:
            raise ValueError(f"threshold must be positive for the default scoring, got {self.threshold}")
        return self


def learn_phrases(token_lists: Iterable[list[str]], spec: PhrasesSpec) -> dict[str, float]:
    """The pairs gensim finds in these token lists, as ``{"a_b": score}``."""
    from gensim.models.phrases import Phrases

    found = Phrases(
        token_lists,
        min_count=spec.min_count,
        threshold=spec.threshold,
        scoring=spec.scoring,
        delimiter=DELIMITER,
        connector_words=frozenset(),  # stop words are the tokenizer's business, not the phrase finder's
    )
    return {str(k): float(v) for k, v in found.freeze().phrasegrams.items()}


class PhrasedTokenizer:
    """The shared tokenizer, then learned pairs joined: what a family with phrases trains and queries on."""

    def __init__(self, base: Tokenizer, phrasegrams: dict[str, float]) -> None:
        self.base = base
        self.spec = base.spec
        self.phrasegrams = phrasegrams
        self._pairs = frozenset(phrasegrams)

    def join(self, tokens: list[str]) -> list[str]:
        pairs = self._pairs
        if not pairs or len(tokens) < 2:
            return tokens
        out: list[str] = []
        i, n = 0, len(tokens)
        while i < n:
            if i + 1 < n and (joined := f"{tokens[i]}{DELIMITER}{tokens[i + 1]}") in pairs:
                out.append(joined)
                i += 2
            else:
                out.append(tokens[i])
                i += 1
        return out

    def tokenize(self, text: str) -> list[str]:
        return self.join(self.base.tokenize(text))

    def tokenize_many(self, texts: Iterable[str]) -> list[list[str]]:
        return [self.tokenize(t) for t in texts]


def write_phrases(directory: Path, name: str, phrasegrams: dict[str, float]) -> None:
    (Path(directory) / name).write_text(
        json.dumps({"delimiter": DELIMITER, "phrases": phrasegrams}, ensure_ascii=False, sort_keys=True), encoding="utf-8"
    )


def read_phrases(directory: Path, name: str) -> dict[str, float]:
    """The saved pairs; raises ValueError/OSError/KeyError on a garbled file (the caller names the model)."""
    data = json.loads((Path(directory) / name).read_text(encoding="utf-8"))
    if data["delimiter"] != DELIMITER:
        raise ValueError(f"phrases joined with {data['delimiter']!r}, expected {DELIMITER!r}")
    return {str(k): float(v) for k, v in data["phrases"].items()}
