"""Evaluation runs of a collection: run one (``POST``) or list the stored ones (``GET``).

``POST`` is ``vecdex eval`` over HTTP: the same :class:`Evaluator`, fed from
a JSON body instead of files, storing the same ``evaluations`` rows.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Annotated, Any

from fastapi import APIRouter, Body, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute

from ..evaluation.requests import TASKS, EvaluationRequest, EvaluationRun
from ..evaluation.store import EvaluationPublic
from .deps import VecdexDep
from .openapi import errors


def _untagged(error: dict[str, Any]) -> dict[str, Any]:
    """The error's location as the client wrote the body: without the union tag, a missing/wrong tag at ``task``.

    pydantic puts the matched tag in the location of errors inside a tagged
    union (``body.retrieval.queries.3.text``); the client sent
    ``queries[3].text``. A body whose tag is missing or unknown is located at
    the root; the culprit is ``task``.
    """
    loc = tuple(error.get("loc", ()))
    if loc[:1] != ("body",):
        return error
    if error.get("type") in ("union_tag_not_found", "union_tag_invalid") and len(loc) == 1:
        return {**error, "loc": ("body", "task")}
    if len(loc) > 1 and loc[1] in TASKS:
        return {**error, "loc": ("body", *loc[2:])}
    return error


class _BodyErrorsAsSent(APIRoute):
    """Rewrites validation error locations with :func:`_untagged` before the app's handler reports them."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def route(request: Request) -> Response:
            try:
                return await handler(request)
            except RequestValidationError as exc:
                raise RequestValidationError([_untagged(e) for e in exc.errors()], body=exc.body) from None

        return route


router = APIRouter(tags=["evaluations"], route_class=_BodyErrorsAsSent)


@router.post("/collections/{name}/evaluations", response_model=EvaluationRun, operation_id="run_evaluation", responses=errors(404, 409))
def run(name: str, body: Annotated[EvaluationRequest, Body()], vx: VecdexDep) -> EvaluationRun:
    """Evaluate the collection's spaces on the data in the body; store and return one run per evaluated space.

    The evaluation runs synchronously, inside the request (in FastAPI's thread
    pool, as a plain ``def``), through the service's own query path: a
    retrieval run costs one search per judged query and space. Request sizes
    are capped (10,000 queries, pairs, word pairs or analogies; a 1,000-row
    matrix) so a run stays within a request's time; larger benchmarks belong
    to ``vecdex eval``. Bad input is refused before anything runs, and a space
    failing mid-run (e.g. named but not ready) stores nothing for any space.
    """
    return vx.evaluations.run(collection=name, body=body)


@router.get("/collections/{name}/evaluations", response_model=list[EvaluationPublic], operation_id="list_evaluations", responses=errors(404))
def list_all(
    name: str,
    vx: VecdexDep,
    space: Annotated[str | None, Query(description="Only this space's runs.")] = None,
    task: Annotated[str | None, Query(description="Only this task: retrieval, similarity or words.")] = None,
) -> list[EvaluationPublic]:
    """Evaluation runs of a collection, oldest first; 404 for an unknown collection or space."""
    return vx.evaluations.list(collection=name, space=space, task=task)
