"""Queries about a space's words and tokens: neighbours, analogies, contextual token vectors, analysis.

Which spaces answer them is a capability of the family (WORD_VECTORS,
CONTEXTUAL_TOKENS, ANALYZE_TEXT), never its type name.
"""

from __future__ import annotations

from embedders.capabilities import Capability
from embedders.errors import EmptyText, NotSupported
from embedders.registry import has

from .query_path import QueryPath, check_k
from ..schemas import TokenVector, WordScore


class WordQueries:
    """Word neighbours and analogies (word vectors), contextual token vectors (bilstm-like families)."""

    def __init__(self, path: QueryPath) -> None:
        self._path = path

    def _model(self, collection: str, space: str, capability: Capability, what: str):  # type: ignore[no-untyped-def]
        ref, runtime, _ = self._path.resolve(collection, space)
        if not has(runtime.embedder, capability):
            raise NotSupported(
                f"space {ref.name!r} ({ref.embedder_type}) has no {what}; use a space whose family has {capability}",
                field="space",
            )
        return ref, runtime.embedder

    def word_neighbors(self, collection: str, space: str, word: str, k: int) -> tuple[str, list[WordScore]]:
        check_k(k, self._path.max_k)
        ref, model = self._model(collection, space, Capability.WORD_VECTORS, "word vectors")
        return ref.name, [WordScore(word=w, score=s) for w, s in model.word_neighbors(word, k)]

    def analogy(
        self, collection: str, space: str, positive: list[str], negative: list[str], k: int
    ) -> tuple[str, list[WordScore]]:
        check_k(k, self._path.max_k)
        ref, model = self._model(collection, space, Capability.WORD_VECTORS, "word vectors")
        return ref.name, [WordScore(word=w, score=s) for w, s in model.analogy(positive, negative, k)]

    def analyze(self, collection: str, space: str, text: str) -> tuple[str, list[str]]:
        """The tokens the space trains and queries on for this text (the family's ANALYZE_TEXT)."""
        ref, model = self._model(collection, space, Capability.ANALYZE_TEXT, "text analysis")
        return ref.name, model.analyze(text)

    def contextual_tokens(
        self, collection: str, space: str, text: str, neighbors: int, with_vectors: bool
    ) -> tuple[str, list[TokenVector]]:
        """Each token's vector in its sentence (and its nearest vocabulary words): the context effect, visible."""
        ref, model = self._model(collection, space, Capability.CONTEXTUAL_TOKENS, "contextual token vectors")
        tokens, vectors = model.token_vectors(text)
        if not tokens:
            raise EmptyText("text has no tokens", field="text")
        near = model.contextual_neighbors(text, neighbors) if neighbors else None
        return ref.name, [
            TokenVector(
                token=tok,
                vector=vectors[i].tolist() if with_vectors else None,
                neighbors=[WordScore(word=w, score=s) for w, s in near[i][1]] if near else None,
            )
            for i, tok in enumerate(tokens)
        ]
