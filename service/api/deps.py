"""Annotated dependencies (the full-stack FastAPI template's habit): handlers declare what they use.

Handlers get the one :class:`~service.facade.Vecdex` and call its use cases;
none reaches the repository or the space runtimes itself.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from ..facade import Vecdex


async def get_vecdex(request: Request) -> Vecdex:
    """The app's one service object (``create_app`` puts it on ``app.state.vecdex``).

    ``async`` although it does no I/O: FastAPI runs a plain ``def`` dependency in the thread pool, and
    on a shared machine each such hop waits for a thread to be scheduled (measured: milliseconds under
    load, more than a whole search).
    """
    return request.app.state.vecdex


VecdexDep = Annotated[Vecdex, Depends(get_vecdex)]
