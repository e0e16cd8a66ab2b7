"""Query responses serialised once, by pydantic-core, and handed to the server as they are.

Why not return the model and let FastAPI serialise it: for a route declared with
``response_model`` FastAPI validates the returned object against that model again
and then serialises it, and for a plain ``def`` route it does that in the thread
pool — a second thread hop per request after the handler's own. On a shared
machine each hop waits for a thread to be scheduled (measured: a search's whole
in-process cost was 0.7 ms, the two hops added more). The handlers that use this
build their response from the same schema (``response_model`` stays on the
route, so OpenAPI says the same), so the bytes are those FastAPI would send.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import Response
from starlette.concurrency import run_in_threadpool
from pydantic import BaseModel


class ModelResponse(Response):
    """A pydantic model's JSON (by alias, as FastAPI writes it), ``application/json``."""

    media_type = "application/json"

    def __init__(self, model: BaseModel, status_code: int = 200) -> None:
        super().__init__(model.model_dump_json(by_alias=True), status_code=status_code)


async def answer(use_case: Callable[..., BaseModel], **kwargs: Any) -> ModelResponse:
    """Run a query use case in the thread pool and hand its response over serialised (one hop in all)."""
    return ModelResponse(await run_in_threadpool(use_case, **kwargs))
