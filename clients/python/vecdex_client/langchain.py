"""A LangChain ``VectorStore`` on a vecdex collection, through :class:`Client` / :class:`AsyncClient`.

Two ways to embed, chosen by whether an ``embedding`` is given:

- **LangChain embeds** (``embedding=`` any LangChain ``Embeddings``): texts and queries are embedded
  in the application and vecdex stores and searches the vectors in a space of family ``vectors``
  (made by :meth:`VecdexVectorStore.create` with the embedding's dimension).
- **vecdex embeds** (``embedding=None``): the collection's ``space`` is a text space of vecdex
  (bert, word2vec, bm25 ...); documents are embedded on write by the server, queries at search time.
  This is what vecdex adds: the same LangChain code over any generation of embedding.

Documents keep their LangChain id as vecdex ``external_id`` (a uuid4 when none is given), their
``page_content`` as text and their metadata as metadata; ``filter`` is vecdex's filter language
(``{"year": {"gte": 2020}}``, ``{"or": [...]}``). Requires the ``langchain`` extra.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterable, Sequence
from typing import Any

from langchain_core.documents import Document
from langchain_core.embeddings import Embeddings
from langchain_core.vectorstores import VectorStore

from ._client import AsyncClient, Client
from ._errors import ConflictError

DEFAULT_SPACE = "langchain"
BATCH = 500
"""Documents per upsert / ids per delete or fetch request (the server takes up to 1,000)."""


class VecdexVectorStore(VectorStore):
    """``collection`` on the server of ``client`` (and ``async_client`` for the ``a*`` methods; made
    from the sync client's URL and key when not given). ``space`` is the space searched: with an
    ``embedding``, the ``vectors`` space holding its vectors; without, a text space of the server
    (None: the collection's default space)."""

    def __init__(
        self,
        collection: str,
        *,
        client: Client,
        async_client: AsyncClient | None = None,
        embedding: Embeddings | None = None,
        space: str | None = None,
    ) -> None:
        self.collection = collection
        self.client = client
        self._async_client = async_client
        self._embedding = embedding
        self.space = space if space is not None or embedding is None else DEFAULT_SPACE

    # ------------------------------------------------------------------ setup

    @classmethod
    def create(
        cls,
        collection: str,
        *,
        client: Client,
        embedding: Embeddings,
        space: str = DEFAULT_SPACE,
        metric: str = "cosine",
        async_client: AsyncClient | None = None,
        timeout: float = 600.0,
    ) -> VecdexVectorStore:
        """The store for ``embedding`` on ``collection``, creating the collection and its ``vectors``
        space (dimension probed from the embedding, ``metric`` cosine, ip or l2) when they do not exist."""
        with contextlib.suppress(ConflictError):  # already there: use it
            client.create_collection(collection)
        if space not in {s.name for s in client.list_spaces(collection)}:
            dim = len(embedding.embed_query("dimension probe"))
            created = client.create_space(collection, space, {"type": "vectors", "dim": dim, "metric": metric})
            client.wait_for_job(created.job.id, timeout=timeout)
        return cls(collection, client=client, async_client=async_client, embedding=embedding, space=space)

    @classmethod
    def from_texts(
        cls,
        texts: list[str],
        embedding: Embeddings,
        metadatas: list[dict] | None = None,
        *,
        ids: list[str] | None = None,
        collection: str = "langchain",
        client: Client | None = None,
        **kwargs: Any,
    ) -> VecdexVectorStore:
        """LangChain's constructor: :meth:`create` (``client`` defaults to ``VECDEX_URL`` /
        ``VECDEX_API_KEY``), then :meth:`add_texts`."""
        store = cls.create(collection, client=client or Client(), embedding=embedding, **kwargs)
        store.add_texts(texts, metadatas, ids=ids)
        return store

    @property
    def embeddings(self) -> Embeddings | None:
        return self._embedding

    @property
    def async_client(self) -> AsyncClient:
        """The client of the ``a*`` methods: the one given, else one on the sync client's server and key."""
        if self._async_client is None:
            self._async_client = self.client.to_async()
        return self._async_client

    # ------------------------------------------------------------------ writes

    def _batch(self, texts: Sequence[str], metadatas: Sequence[dict] | None, ids: Sequence[str | None] | None,
               vectors: Sequence[Sequence[float]] | None) -> tuple[list[str], list[dict[str, Any]]]:
        n = len(texts)
        if metadatas is not None and len(metadatas) != n:
            raise ValueError(f"{len(metadatas)} metadatas for {n} texts")
        if ids is not None and len(ids) != n:
            raise ValueError(f"{len(ids)} ids for {n} texts")
        out_ids = [i if i else str(uuid.uuid4()) for i in (ids or [None] * n)]
        docs = []
        for j, (text, doc_id) in enumerate(zip(texts, out_ids)):
            doc: dict[str, Any] = {"external_id": doc_id, "text": text, "metadata": dict(metadatas[j]) if metadatas else {}}
            if vectors is not None:
                doc["vectors"] = {self.space: list(vectors[j])}
            docs.append(doc)
        return out_ids, docs

    def add_texts(
        self, texts: Iterable[str], metadatas: list[dict] | None = None, *, ids: list[str] | None = None, **kwargs: Any
    ) -> list[str]:
        """Upsert by id (an existing id is replaced), in batches of ``BATCH``; returns the ids."""
        texts = list(texts)
        vectors = self._embedding.embed_documents(texts) if self._embedding is not None and texts else None
        out_ids, docs = self._batch(texts, metadatas, ids, vectors)
        for start in range(0, len(docs), BATCH):
            self.client.upsert_documents(self.collection, docs[start:start + BATCH])
        return out_ids

    async def aadd_texts(
        self, texts: Iterable[str], metadatas: list[dict] | None = None, *, ids: list[str] | None = None, **kwargs: Any
    ) -> list[str]:
        texts = list(texts)
        vectors = await self._embedding.aembed_documents(texts) if self._embedding is not None and texts else None
        out_ids, docs = self._batch(texts, metadatas, ids, vectors)
        for start in range(0, len(docs), BATCH):
            await self.async_client.upsert_documents(self.collection, docs[start:start + BATCH])
        return out_ids

    def delete(self, ids: list[str] | None = None, **kwargs: Any) -> bool | None:
        """Delete by id (ids not held are no error); ``ids`` is required: vecdex does not empty a
        collection through a vector store (delete the collection for that)."""
        for chunk in _chunks(_required(ids)):
            self.client.delete_documents(self.collection, chunk)
        return True

    async def adelete(self, ids: list[str] | None = None, **kwargs: Any) -> bool | None:
        for chunk in _chunks(_required(ids)):
            await self.async_client.delete_documents(self.collection, chunk)
        return True

    # ------------------------------------------------------------------ reads

    def get_by_ids(self, ids: Sequence[str], /) -> list[Document]:
        """The documents held among ``ids``, in that order (missing ids are left out)."""
        return [_document(d) for chunk in _chunks(ids) for d in self.client.fetch_documents(self.collection, chunk).items]

    async def aget_by_ids(self, ids: Sequence[str], /) -> list[Document]:
        out: list[Document] = []
        for chunk in _chunks(ids):
            out += [_document(d) for d in (await self.async_client.fetch_documents(self.collection, chunk)).items]
        return out

    def _query(self, query: str) -> dict[str, Any]:
        if self._embedding is None:
            return {"query": query}
        return {"vector": self._embedding.embed_query(query)}

    async def _aquery(self, query: str) -> dict[str, Any]:
        if self._embedding is None:
            return {"query": query}
        return {"vector": await self._embedding.aembed_query(query)}

    def _search_args(self, k: int, filter: dict | None) -> dict[str, Any]:
        # snippet_chars=0: whole texts, so page_content is the document as stored
        return {"k": k, "filter": filter, "space": self.space, "snippet_chars": 0}

    def similarity_search_with_score(
        self, query: str, k: int = 4, filter: dict | None = None, **kwargs: Any
    ) -> list[tuple[Document, float]]:
        """The ``k`` best with the space's score (cosine similarity for the default ``vectors`` space;
        higher is closer)."""
        found = self.client.search(self.collection, **self._query(query), **self._search_args(k, filter))
        return [(_document(h), h.score) for h in found.hits]

    async def asimilarity_search_with_score(
        self, query: str, k: int = 4, filter: dict | None = None, **kwargs: Any
    ) -> list[tuple[Document, float]]:
        found = await self.async_client.search(self.collection, **await self._aquery(query), **self._search_args(k, filter))
        return [(_document(h), h.score) for h in found.hits]

    def similarity_search(self, query: str, k: int = 4, filter: dict | None = None, **kwargs: Any) -> list[Document]:
        return [d for d, _ in self.similarity_search_with_score(query, k, filter)]

    async def asimilarity_search(
        self, query: str, k: int = 4, filter: dict | None = None, **kwargs: Any
    ) -> list[Document]:
        return [d for d, _ in await self.asimilarity_search_with_score(query, k, filter)]

    def similarity_search_by_vector(
        self, embedding: list[float], k: int = 4, filter: dict | None = None, **kwargs: Any
    ) -> list[Document]:
        found = self.client.search(self.collection, vector=embedding, **self._search_args(k, filter))
        return [_document(h) for h in found.hits]

    async def asimilarity_search_by_vector(
        self, embedding: list[float], k: int = 4, filter: dict | None = None, **kwargs: Any
    ) -> list[Document]:
        found = await self.async_client.search(self.collection, vector=embedding, **self._search_args(k, filter))
        return [_document(h) for h in found.hits]

    def _select_relevance_score_fn(self) -> Any:
        """Scores to [0, 1] for ``similarity_search_with_relevance_scores``: cosine (and the inner
        product of unit vectors) maps ``(1 + s) / 2``; other scores (l2, bm25) have no fixed range."""
        space = self.space or self.client.get_collection(self.collection).default_space
        metric = self.client.get_space(self.collection, space).metric if space else None
        if metric in ("cosine", "ip"):
            return lambda score: max(0.0, min(1.0, (1.0 + score) / 2.0))
        raise NotImplementedError(f"no relevance scale for metric {metric!r}; use similarity_search_with_score")


def _document(hit: Any) -> Document:
    return Document(id=hit.external_id, page_content=hit.text, metadata=dict(hit.metadata))


def _required(ids: list[str] | None) -> list[str]:
    if ids is None:
        raise ValueError("delete needs ids (vecdex does not empty a collection through a vector store)")
    return list(ids)


def _chunks(ids: Sequence[str]) -> list[list[str]]:
    return [list(ids[i:i + BATCH]) for i in range(0, len(ids), BATCH)]


__all__ = ["VecdexVectorStore"]
