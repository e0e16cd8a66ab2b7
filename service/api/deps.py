"""Annotated dependencies (the full-stack FastAPI template's habit): handlers declare what they use.

Handlers get the one :class:`~service.facade.Vecdex` and call its use cases;
none reaches the repository or the space runtimes itself.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from ..facade import Vecdex


def get_vecdex(request: Request) -> Vecdex:
    """The app's one service object (``create_app`` puts it on ``app.state.vecdex``)."""
    return request.app.state.vecdex


VecdexDep = Annotated[Vecdex, Depends(get_vecdex)]
