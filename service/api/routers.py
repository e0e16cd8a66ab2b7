"""Every route of the API, aggregated once: the app includes this one router.

A new endpoint goes into the ``routes_*`` module of its resource (or a new one
listed here); its handler calls one :class:`~service.facade.Vecdex` use case,
its decorator names an ``operation_id`` and the statuses particular to it
(``responses=errors(404, 409)``). The statuses every route shares are added
here (:func:`~service.api.openapi.document_common_errors`), one tag per module.
"""

from __future__ import annotations

from fastapi import APIRouter

from . import (
    routes_collections,
    routes_documents,
    routes_evaluations,
    routes_health,
    routes_interactions,
    routes_jobs,
    routes_recommend,
    routes_search,
    routes_spaces,
)
from .openapi import document_common_errors, operation_id

api_router = APIRouter(generate_unique_id_function=operation_id)
for _module in (
    routes_health,
    routes_collections,
    routes_documents,
    routes_interactions,
    routes_spaces,
    routes_jobs,
    routes_search,
    routes_recommend,
    routes_evaluations,
):
    document_common_errors(_module.router)
    api_router.include_router(_module.router)
