"""OpenAI-compatible embeddings: ``POST /v1/embeddings`` and ``GET /v1/models`` over vecdex's text spaces.

So that an unchanged OpenAI client (``OpenAI(base_url=".../v1", api_key=<vecdex key>)``)
embeds with a vecdex space; the key travels as ``Authorization: Bearer``, which
is what vecdex reads anyway.

Errors keep vecdex's body and status and add OpenAI's two fields, ``{"error": {"code",
"message", "field", "type", "param"}}`` (``param`` = ``field``; ``type`` is
``invalid_request_error``, or ``server_error`` for a 5xx), which the OpenAI SDK
reads into its exception's ``code`` / ``param`` / ``type``. Statuses map to the
SDK's classes: 400 (malformed JSON) -> ``BadRequestError``, 404 -> ``NotFoundError``,
401 -> ``AuthenticationError``, 422 (a refused input) -> ``UnprocessableEntityError``.
OpenAI itself answers 400 for a refused input; :data:`INPUT_STATUS` is where to
switch to that, once the schemathesis run (``tests/service/test_openapi.py``)
expects 400 for these operations (it treats a 400 to schema-valid data as a bug,
and a bare ``model`` can name a space it created, e.g. a bm25 one).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute

from ..errors import VecdexError
from ..openai_schemas import EmbeddingsRequest, EmbeddingsResponse, ModelList
from .deps import VecdexDep
from .openapi import errors
from .responses import ModelResponse, answer

HIDDEN = ("content-length", "content-type")
INPUT_STATUS = 422
"""The status of a refused input on /v1 (vecdex's 422; OpenAI's would be 400, see the module docstring)."""


async def openai_error(request: Request, exc: Exception) -> Response:
    """The app's own error response for ``exc``, with OpenAI's ``type`` / ``param`` added (422 as :data:`INPUT_STATUS`).

    The app's handlers are reused (looked up by the exception's class, most specific first) so the
    message, code, ``details`` and headers (``WWW-Authenticate``) stay exactly vecdex's.
    """
    handlers = request.app.exception_handlers
    handler = next((handlers[c] for c in type(exc).__mro__ if c in handlers), None)
    if handler is None:  # pragma: no cover - create_app installs both handlers
        raise exc
    response = await handler(request, exc)
    body = json.loads(bytes(response.body))
    status = INPUT_STATUS if response.status_code == 422 else response.status_code
    error = body.get("error") or {}
    error["type"] = "server_error" if status >= 500 else "invalid_request_error"
    error["param"] = error.get("field")
    headers = {k: v for k, v in response.headers.items() if k.lower() not in HIDDEN}
    return JSONResponse(body, status_code=status, headers=headers or None)


class OpenAIRoute(APIRoute):
    """A route whose refusals are answered in the OpenAI-compatible form (:func:`openai_error`).

    Request validation runs inside the route handler, so catching here covers a body that does not
    validate as well as the use case's own errors, and no other route of the app is affected.
    """

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        inner = super().get_route_handler()

        async def handler(request: Request) -> Response:
            try:
                return await inner(request)
            except (RequestValidationError, VecdexError) as exc:
                return await openai_error(request, exc)

        return handler


router = APIRouter(prefix="/v1", tags=["openai"], route_class=OpenAIRoute)

EMBEDDINGS_ERRORS = errors(404, 409)
"""Unknown model (404: ``collection_not_found`` / ``space_not_found``, ``param: "model"``); space not ready (409).
422 (documented for every route): token-id ``input``, ``dimensions``, an ambiguous bare ``model``, ``not_supported``
(the model embeds no text), ``empty_text``, ``batch_too_large``."""


@router.post("/embeddings", response_model=EmbeddingsResponse, operation_id="openai_create_embeddings", responses=EMBEDDINGS_ERRORS)
async def create_embeddings(body: EmbeddingsRequest, vx: VecdexDep) -> ModelResponse:
    """OpenAI's embeddings API: `{"model": "<collection>/<space>", "input": ["..."]}` -> `{"object": "list",
    "data": [{"object": "embedding", "index": 0, "embedding": [...]}], "model", "usage"}`. Texts are embedded as
    queries (as search embeds them); `encoding_format` `base64` gives little-endian float32 bytes; `usage` counts
    the space's own tokens. A bare `<space>` works when one collection alone has a space of that name."""
    return await answer(vx.vectors.openai_embeddings, body=body)


@router.get("/models", response_model=ModelList, operation_id="openai_list_models")
async def list_models(vx: VecdexDep) -> ModelResponse:
    """OpenAI's model list: each ready space that embeds text, as `<collection>/<space>` (bm25, item2vec and
    given-vector spaces are not models)."""
    return await answer(vx.vectors.openai_models)
