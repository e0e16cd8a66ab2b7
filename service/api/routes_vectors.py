"""Vectors out: a space's embedding of texts, and the vector a stored document has in a space.

For clients that keep their own index, cache vectors, or send ``search`` a
``vector`` they computed once; each route delegates to one
:class:`~service.facade.vectors.Vectors` use case.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from ..vector_schemas import DocumentVector, EmbedRequest, EmbedResponse
from .deps import VecdexDep
from .openapi import errors
from .responses import ModelResponse, answer

router = APIRouter(tags=["vectors"])
VECTOR_ERRORS = errors(404, 409)
"""Unknown collection, space or document (404); a space not ready or not loadable here (409)."""


@router.post(
    "/collections/{name}/spaces/{space}/embed",
    response_model=EmbedResponse,
    operation_id="embed_texts",
    responses=VECTOR_ERRORS,
)
async def embed(name: str, space: str, body: EmbedRequest, vx: VecdexDep) -> ModelResponse:
    """The space's vectors for `{"texts": [...]}` (or one `{"text": ...}`), in order. `kind` `query` (default)
    embeds as search does, so a vector can go back to `search` as `vector`; `document` as a build does.
    Spaces that embed no text (bm25, item2vec, given vectors) answer 422 `not_supported`; a text with nothing
    embeddable, 422 `empty_text` naming it (`texts[2]`)."""
    return await answer(vx.vectors.embed, collection=name, space=space, body=body)


@router.get(
    "/collections/{name}/documents/{external_id}/vectors",
    response_model=DocumentVector,
    operation_id="get_document_vector",
    responses=VECTOR_ERRORS,
)
async def document_vector(
    name: str,
    external_id: str,
    vx: VecdexDep,
    space: Annotated[str | None, Query(description="The space; the collection's default when omitted.")] = None,
) -> ModelResponse:
    """The vector the document has in a space (its index's entry: given, stored, learned in training or embedded).
    A keyword (bm25) space holds no vectors: 422 `not_supported`."""
    return await answer(vx.vectors.document_vector, collection=name, external_id=external_id, space=space)
