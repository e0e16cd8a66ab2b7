"""What a family can do, declared once per class instead of inferred from its ``type`` string.

The service used to special-case families by name (``type != "item2vec"``) and by
``isinstance`` checks scattered over its modules. Each family class now declares
``capabilities: ClassVar[frozenset[Capability]]`` and callers ask
:func:`embedders.registry.has` (for a spec's ``type`` string, a class or an
instance) - so a new family is handled by what it declares, with no edit to the
service.

A capability with a typed interface is backed by a runtime protocol of
:mod:`embedders.base` (:data:`PROTOCOLS`); the contract tests check that a class
declares exactly the capabilities whose protocols it implements, so a declaration
cannot lie. EMBED_TEXT, TRAIN_CORPUS and GIVEN_VECTORS' absence are checked by
behaviour instead (every family has ``embed_query`` and ``fit``; those without the
capability raise :class:`~embedders.errors.NotSupported` or do no training).
"""

from __future__ import annotations

from enum import StrEnum

from embedders.base import (
    AcceptsVectors,
    AnalyzesText,
    ContextualTokens,
    HasTrainedVectors,
    KeywordScoring,
    SupportsPreflight,
    TrainsOnInteractions,
    WordVectors,
)


class Capability(StrEnum):
    """One thing a family can do; the value is the stable string shown in the API."""

    EMBED_TEXT = "embed_text"
    """``embed_documents`` / ``embed_query`` turn free text into vectors."""

    TRAIN_CORPUS = "train_corpus"
    """``fit(corpus)`` learns from the collection's texts (a build trains a new generation)."""

    TRAIN_INTERACTIONS = "train_interactions"
    """``fit_interactions(sequences)`` learns from user item sequences (:class:`TrainsOnInteractions`)."""

    TRAINED_VECTORS = "trained_vectors"
    """A vector was learned per training document/item (:class:`HasTrainedVectors`)."""

    WORD_VECTORS = "word_vectors"
    """Word neighbours and analogies (:class:`WordVectors`)."""

    CONTEXTUAL_TOKENS = "contextual_tokens"
    """Per-token vectors that depend on the sentence (:class:`ContextualTokens`)."""

    KEYWORD = "keyword_scoring"
    """A text-scored index instead of vectors (:class:`KeywordScoring`, bm25)."""

    GIVEN_VECTORS = "given_vectors"
    """Vectors come with the documents and queries (:class:`AcceptsVectors`, family ``vectors``)."""

    PREFLIGHT = "preflight"
    """``preflight(corpus)`` raises cheaply what a build would fail with (:class:`SupportsPreflight`)."""

    ANALYZE_TEXT = "analyze_text"
    """``analyze(text)`` shows the tokens the family trains and queries on (:class:`AnalyzesText`)."""


TRAINING: frozenset[Capability] = frozenset({Capability.TRAIN_CORPUS, Capability.TRAIN_INTERACTIONS})
"""Either way of training; a family with one of them is ``trainable`` (builds produce generations)."""

PROTOCOLS: dict[Capability, type] = {
    Capability.TRAIN_INTERACTIONS: TrainsOnInteractions,
    Capability.TRAINED_VECTORS: HasTrainedVectors,
    Capability.WORD_VECTORS: WordVectors,
    Capability.CONTEXTUAL_TOKENS: ContextualTokens,
    Capability.KEYWORD: KeywordScoring,
    Capability.GIVEN_VECTORS: AcceptsVectors,
    Capability.PREFLIGHT: SupportsPreflight,
    Capability.ANALYZE_TEXT: AnalyzesText,
}
"""The typed interface behind each capability that has one (runtime-checkable protocols)."""


def trains(capabilities: frozenset[Capability]) -> bool:
    """Whether a family with these capabilities is trainable (the ``trainable`` class attribute)."""
    return bool(capabilities & TRAINING)


def implemented(cls: type) -> frozenset[Capability]:
    """The protocol-backed capabilities a class actually implements (by its methods).

    Protocols are checked on the class (``issubclass`` of a runtime protocol with
    methods only), so nothing is instantiated and no model library is loaded.
    """
    return frozenset(cap for cap, protocol in PROTOCOLS.items() if issubclass(cls, protocol))
