"""Use cases that hand vectors out: a space's embedding of texts (vecdex's and OpenAI's form) and stored vectors.

Why here and not in :mod:`.queries`: these answer vectors, not rankings, and the
OpenAI-compatible form needs model-name resolution across collections that no
query has. The embedding itself is never reimplemented: a query text goes through
:meth:`~service.query.query_path.QueryPath.query_vector` (what search embeds), a
document text through the family's ``embed_documents`` (what a build embeds), and
a stored document through :meth:`~service.runtime.spaces.SpaceRuntime.vectors_of`
(given, stored, trained or embedded: the vector its index holds).
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from datetime import datetime, timezone

import numpy as np
from sqlalchemy import select

from embedders.capabilities import Capability
from embedders.errors import EmptyText, NotSupported
from embedders.registry import has

from ..errors import BatchTooLarge, CollectionNotFound, DocumentNotFound, InvalidRequest, SpaceNotFound
from ..openai_schemas import Embedding, EmbeddingsRequest, EmbeddingsResponse, Model, ModelList, Usage
from ..query.query_path import Query, QueryPath
from ..runtime.spaces import SpaceRuntime
from ..store.models import Collection, Document, Space
from ..store.repository import SpaceRef
from ..vector_schemas import DocumentVector, EmbedKind, EmbedRequest, EmbedResponse
from .core import Core


def embeds_text(embedder_type: str) -> bool:
    """Whether a family turns free text into a vector (not bm25, item2vec or given vectors)."""
    return has(embedder_type, Capability.EMBED_TEXT) and not has(embedder_type, Capability.KEYWORD)


def token_count(runtime: SpaceRuntime, text: str) -> int:
    """Tokens of ``text`` as the space cuts it (its ``analyze``: word pieces for bert, words after stop words
    and segmentation otherwise); white-space-separated words for a family without ``analyze``. Special and
    prompt tokens a model adds are not counted."""
    if has(runtime.embedder, Capability.ANALYZE_TEXT):
        return len(runtime.embedder.analyze(text))  # type: ignore[attr-defined]
    return len(text.split())


def field_of(name: str, index: int, many: bool) -> str:
    """How an error names one text: ``texts[2]`` in a list, ``text`` for a lone one."""
    return f"{name}[{index}]" if many else name


class Vectors:
    """Embeddings of texts in a space, stored documents' vectors, and the OpenAI-compatible embeddings API."""

    def __init__(self, core: Core) -> None:
        self._path = core.searcher.path
        self._db = core.db
        self._max_batch = core.settings.max_batch

    # --- vecdex's form ---------------------------------------------------------------------------

    def embed(self, *, collection: str, space: str, body: EmbedRequest) -> EmbedResponse:
        """The space's vectors for these texts (as queries unless ``kind`` is ``document``)."""
        texts = body.all_texts()
        field, many = ("texts", True) if body.texts is not None else ("text", False)
        self._check_batch(len(texts), field)
        ref, runtime = self._text_space(collection, space, "space")
        vectors = self._embed(runtime, texts, body.kind, field, many)
        return EmbedResponse(space=ref.name, dim=int(vectors.shape[1]), kind=body.kind, vectors=vectors.tolist())

    def document_vector(self, *, collection: str, external_id: str, space: str | None = None) -> DocumentVector:
        """A stored document's vector in a space (the collection's default when None), as its index holds it."""
        state = self._path.hot.space_state(collection, space)
        ref = state.ref
        with self._db.sessions() as session:
            doc = session.execute(
                select(Document.id, Document.text, Document.content_hash).where(
                    Document.collection_id == ref.collection_id, Document.external_id == external_id
                )
            ).first()
            if doc is None:
                raise DocumentNotFound(
                    f"document {external_id!r} not found in collection {collection!r}", field="external_id"
                )
            if has(ref.embedder_type, Capability.KEYWORD):
                raise NotSupported(
                    f"space {ref.name!r} ({ref.embedder_type}) scores keywords and holds no vectors; "
                    "name a vector space with ?space=",
                    field="space",
                )
            runtime = self._path.runtimes.get(ref, state.head)  # loaded and caught up, as a search would
            got = runtime.vectors_of(session, [doc.id], [doc.text], [doc.content_hash])
        if not got.ok[0]:
            raise EmptyText(
                f"document {external_id!r} has no vector in space {ref.name!r} (nothing in it is embeddable)",
                field="external_id",
            )
        vector = got.vectors[0].astype(np.float32)
        return DocumentVector(external_id=external_id, space=ref.name, dim=len(vector), vector=vector.tolist())

    # --- OpenAI's form ---------------------------------------------------------------------------

    def openai_embeddings(self, *, body: EmbeddingsRequest) -> EmbeddingsResponse:
        """``POST /v1/embeddings``: the texts embedded as queries by the space ``model`` names."""
        texts = body.texts()
        many = not isinstance(body.input, str)
        self._check_batch(len(texts), "input")
        collection, space = self._resolve_model(body.model)
        try:
            ref, runtime = self._text_space(collection, space, "model")
        except (CollectionNotFound, SpaceNotFound) as exc:
            raise type(exc)(f"model {body.model!r}: {exc.message}; GET /v1/models lists them", field="model") from exc
        if body.dimensions is not None and body.dimensions != runtime.embedder.dim:
            raise InvalidRequest(
                f"dimensions: model {body.model!r} has {runtime.embedder.dim} dimensions, got {body.dimensions} "
                "(vecdex does not shorten vectors; omit `dimensions` or send the model's)",
                field="dimensions",
            )
        vectors = self._embed(runtime, texts, "query", "input", many)
        tokens = sum(token_count(runtime, t) for t in texts)
        data = [
            Embedding(index=i, embedding=_base64(v) if body.encoding_format == "base64" else v.tolist())
            for i, v in enumerate(vectors)
        ]
        return EmbeddingsResponse(
            data=data, model=f"{ref.collection_name}/{ref.name}", usage=Usage(prompt_tokens=tokens, total_tokens=tokens)
        )

    def openai_models(self) -> ModelList:
        """``GET /v1/models``: every ready space that embeds text, as ``<collection>/<space>``."""
        with self._db.sessions() as session:
            rows = session.execute(
                select(Collection.name.label("collection"), Space.name, Space.embedder_type, Space.created_at)
                .join(Collection, Space.collection_id == Collection.id)
                .where(Space.status == "ready")
                .order_by(Collection.name, Space.name)
            ).all()
        return ModelList(
            data=[
                Model(id=f"{r.collection}/{r.name}", created=_unix(r.created_at))
                for r in rows
                if embeds_text(r.embedder_type)
            ]
        )

    def _resolve_model(self, model: str) -> tuple[str, str]:
        """``<collection>/<space>`` as it is (names hold no ``/``); a bare space name when exactly one collection
        has a space so named (404 when none does, 422 when several do: the client must say which)."""
        if "/" in model:
            collection, _, space = model.partition("/")
            return collection, space
        with self._db.sessions() as session:
            owners = list(
                session.scalars(
                    select(Collection.name)
                    .join(Space, Space.collection_id == Collection.id)
                    .where(Space.name == model)
                    .order_by(Collection.name)
                )
            )
        if not owners:
            raise SpaceNotFound(
                f"model {model!r}: no collection has a space of that name; GET /v1/models lists the models",
                field="model",
            )
        if len(owners) > 1:
            raise InvalidRequest(
                f"model {model!r} is ambiguous: collections {', '.join(owners)} each have a space of that name; "
                f"send '<collection>/{model}'",
                field="model",
            )
        return owners[0], model

    # --- shared steps ----------------------------------------------------------------------------

    def _text_space(self, collection: str, space: str | None, field: str) -> tuple[SpaceRef, SpaceRuntime]:
        """The space, refused (422 naming ``field``) before anything loads when its family embeds no text,
        then loaded and caught up (409 while it is not ready)."""
        state = self._path.hot.space_state(collection, space)
        self._check_embeds_text(state.ref, field)
        return state.ref, self._path.runtimes.get(state.ref, state.head)

    def _check_batch(self, n: int, field: str) -> None:
        if n > self._max_batch:
            raise BatchTooLarge(f"{field}: {n} texts, at most {self._max_batch} a request (VECDEX_MAX_BATCH)", field=field)

    @staticmethod
    def _check_embeds_text(ref: SpaceRef, field: str) -> None:
        """422 for a space whose family does not embed free text, saying what it does instead."""
        if embeds_text(ref.embedder_type):
            return
        if has(ref.embedder_type, Capability.KEYWORD):
            why = "it scores keywords (bm25) and has no vectors"
        elif has(ref.embedder_type, Capability.GIVEN_VECTORS):
            why = "its vectors are given with the documents, so it has no model to embed text with"
        else:
            why = "its vectors are learned from interactions, not text"
        raise NotSupported(f"space {ref.name!r} ({ref.embedder_type}) does not embed text: {why}", field=field)

    @staticmethod
    def _embed(runtime: SpaceRuntime, texts: Sequence[str], kind: EmbedKind, field: str, many: bool) -> np.ndarray:
        """(n, dim) float32: each text as search embeds a query, or the batch as a build embeds documents.
        A text with nothing embeddable is refused (``empty_text`` naming it) rather than given a zero vector."""
        if kind == "document":
            vectors = np.asarray(runtime.embedder.embed_documents(list(texts)), dtype=np.float32)
            empty = np.flatnonzero(~np.any(vectors != 0, axis=1))
            if len(empty):
                where = field_of(field, int(empty[0]), many)
                raise EmptyText(f"{where}: nothing in this text is embeddable in this space", field=where)
            return vectors
        rows = []
        for i, text in enumerate(texts):
            try:
                rows.append(QueryPath.query_vector(runtime, Query(text=text)))
            except EmptyText as exc:
                where = field_of(field, i, many)
                raise EmptyText(f"{where}: {exc.message}", field=where) from exc
        return np.vstack(rows).astype(np.float32)


def _base64(vector: np.ndarray) -> str:
    """OpenAI's ``encoding_format: base64``: the vector's little-endian float32 bytes, base64-encoded."""
    return base64.b64encode(np.asarray(vector, dtype="<f4").tobytes()).decode("ascii")


def _unix(created_at: datetime) -> int:
    """Unix seconds of a stored time (SQLite hands back naive UTC)."""
    if created_at.tzinfo is None:
        created_at = created_at.replace(tzinfo=timezone.utc)
    return int(created_at.timestamp())
