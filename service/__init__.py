"""vecdex's service layer: SQL, space runtimes, jobs, the HTTP API and the CLI over one core.

``service.Vecdex`` (:mod:`service.facade`) is that core; it loads on first use
(PEP 562) so that ``import service.settings`` stays cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .facade import Vecdex

__all__ = ["Vecdex"]


def __getattr__(name: str) -> Any:
    if name == "Vecdex":
        from .facade import Vecdex

        return Vecdex
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
