"""The family registry: ``type`` string -> embedder class, spec parsing, loading, capabilities.

Adding a family is one line in :data:`_FAMILIES`. Callers that need to know what a
family can do ask :func:`has` / :func:`capabilities` (declared on the class, see
:mod:`embedders.capabilities`) instead of comparing ``type`` strings. Family modules import their
model libraries (gensim, torch, ...) lazily inside methods, so importing them
here stays cheap and the HTTP schema (:data:`AnyEmbedderSpec`) can list every
family's spec without loading any model library.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, ClassVar, Protocol, Union

from pydantic import Field

from embedders.base import Embedder, EmbedderSpec
from embedders.bert import BertEmbedder
from embedders.bilstm import BiLSTMEmbedder
from embedders.bm25 import BM25Embedder
from embedders.capabilities import Capability
from embedders.doc2vec import Doc2VecEmbedder
from embedders.errors import ModelFileError, UnknownEmbedderType
from embedders.item2vec import Item2VecEmbedder
from embedders.lsa import LSAEmbedder
from embedders.storage import read_manifest
from embedders.tfidf import TfidfEmbedder
from embedders.vectors import VectorsEmbedder
from embedders.word2vec import Word2VecEmbedder


class RegisteredEmbedder(Protocol):
    """What the registry needs of a family class besides the :class:`Embedder` contract."""

    type: ClassVar[str]
    spec_class: ClassVar[type[EmbedderSpec]]
    capabilities: ClassVar[frozenset[Capability]]

    def __init__(self, spec: Any) -> None: ...

    @classmethod
    def load(cls, directory: Path) -> Embedder: ...


_FAMILIES: tuple[type[RegisteredEmbedder], ...] = (
    Word2VecEmbedder,
    Doc2VecEmbedder,
    BiLSTMEmbedder,
    BertEmbedder,
    Item2VecEmbedder,
    BM25Embedder,
    VectorsEmbedder,
    LSAEmbedder,
    TfidfEmbedder,
)

_REGISTRY: dict[str, type[RegisteredEmbedder]] = {cls.type: cls for cls in _FAMILIES}


def families() -> list[str]:
    """The registered ``type`` strings, in registration order."""
    return list(_REGISTRY)


def embedder_class(type_: str) -> type[RegisteredEmbedder]:
    """The class registered for ``type_``; UnknownEmbedderType otherwise."""
    try:
        return _REGISTRY[type_]
    except (KeyError, TypeError):
        known = ", ".join(repr(t) for t in _REGISTRY)
        raise UnknownEmbedderType(
            f"unknown embedder type {type_!r}; known types: {known}", field="embedder.type"
        ) from None


def capabilities(type_: str) -> frozenset[Capability]:
    """What family ``type_`` can do, read off its class: no model library is loaded.

    Raises:
        UnknownEmbedderType: ``type_`` names no registered family.
    """
    return embedder_class(type_).capabilities


def has(subject: str | EmbedderSpec | type | object, capability: Capability) -> bool:
    """Whether a family has ``capability``.

    ``subject`` is a ``type`` string (UnknownEmbedderType if unregistered), a spec,
    a family class or an embedder instance; anything without declared capabilities
    has none.
    """
    if isinstance(subject, str):
        declared: frozenset[Capability] = capabilities(subject)
    elif isinstance(subject, EmbedderSpec):
        declared = capabilities(subject.type)
    else:
        declared = getattr(subject, "capabilities", frozenset())
    return capability in declared


def spec_class(type_: str) -> type[EmbedderSpec]:
    """The spec model of a family."""
    return embedder_class(type_).spec_class


def parse_spec(data: dict[str, Any]) -> EmbedderSpec:
    """Validate a spec dict (e.g. a request body's ``embedder``) into its family's spec.

    Raises:
        UnknownEmbedderType: ``type`` is missing or names no registered family.
        pydantic.ValidationError: the family rejects a parameter.
    """
    type_ = data.get("type") if isinstance(data, dict) else None
    return spec_class(type_).model_validate(data)  # type: ignore[arg-type]


def create(spec: EmbedderSpec) -> Embedder:
    """A fresh (unfitted) embedder for a spec."""
    return embedder_class(spec.type)(spec)  # type: ignore[return-value]


def load(directory: Path) -> Embedder:
    """Load a saved embedder of any family (dispatching on its manifest's ``type``).

    Raises:
        ModelFileError: no manifest, a garbled one, or an unknown family.
    """
    manifest = read_manifest(Path(directory))
    try:
        cls = embedder_class(manifest["type"])
    except UnknownEmbedderType as exc:
        raise ModelFileError(f"{directory}: {exc.message}", field="directory") from exc
    return cls.load(Path(directory))


def _any_spec() -> Any:
    specs = tuple(cls.spec_class for cls in _FAMILIES)
    if len(specs) == 1:
        return specs[0]
    return Annotated[Union[specs], Field(discriminator="type")]  # noqa: UP007 - runtime-built union


AnyEmbedderSpec = _any_spec()
"""Discriminated union of every family's spec (on ``type``), for request/response schemas."""
