"""Every route of the API, aggregated once: the app includes this one router.

A new endpoint goes into the ``routes_*`` module of its resource (or a new one
listed here); its handler calls one :class:`~service.facade.Vecdex` use case.
"""

from __future__ import annotations

from fastapi import APIRouter

from . import (
    routes_collections,
    routes_evaluations,
    routes_health,
    routes_interactions,
    routes_recommend,
    routes_search,
    routes_spaces,
)

api_router = APIRouter()
for _module in (
    routes_health,
    routes_collections,
    routes_interactions,
    routes_spaces,
    routes_search,
    routes_recommend,
    routes_evaluations,
):
    api_router.include_router(_module.router)
