"""Python client for the vecdex HTTP API: ``Client`` (sync) and ``AsyncClient`` with the same methods,
typed answers, and one exception tree (:class:`VecdexError`).

    from vecdex_client import Client
    with Client("http://127.0.0.1:8000", api_key="...") as vx:
        hits = vx.search("news", "interest rates", k=5).hits

The LangChain vector store is :mod:`vecdex_client.langchain` (extra ``langchain``).
"""

from ._calls import Call
from ._client import AsyncClient, Client
from ._errors import (
    APIConnectionError,
    APIError,
    AuthenticationError,
    BadRequestError,
    ConflictError,
    JobFailedError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    ServerError,
    UnprocessableEntityError,
    VecdexError,
    WaitTimeout,
)
from ._models import (
    CollectionPublic,
    CompareResponse,
    DocumentPage,
    DocumentPublic,
    DocumentsDeleted,
    DocumentsFetched,
    DocumentVector,
    EmbedResponse,
    Highlight,
    Hit,
    PassageHit,
    HybridHit,
    HybridResponse,
    InteractionsIngested,
    JobPublic,
    RecommendHit,
    RecommendResponse,
    SearchResponse,
    SpaceCreated,
    SpacePublic,
    SpaceRank,
    UpsertResult,
)

__all__ = [
    "APIConnectionError", "APIError", "AsyncClient", "AuthenticationError", "BadRequestError", "Call", "Client",
    "CollectionPublic", "CompareResponse", "ConflictError", "DocumentPage", "DocumentPublic", "DocumentVector",
    "DocumentsDeleted", "DocumentsFetched", "EmbedResponse", "Highlight", "Hit", "HybridHit", "PassageHit", "HybridResponse",
    "InteractionsIngested", "JobFailedError", "JobPublic", "NotFoundError", "PermissionDeniedError",
    "RateLimitError", "RecommendHit", "RecommendResponse", "SearchResponse", "ServerError", "SpaceCreated",
    "SpacePublic", "SpaceRank", "UnprocessableEntityError", "UpsertResult", "VecdexError", "WaitTimeout",
]
