"""The collaborators every use-case group shares (kept apart so groups and ``Vecdex`` import it, not each other)."""

from __future__ import annotations

from dataclasses import dataclass

from ..store.db import Database
from ..query.search import Searcher
from ..settings import Settings
from ..runtime.spaces import SpaceRuntimes


@dataclass(frozen=True)
class Core:
    """The collaborators every use-case group shares: built once, handed to each group.

    A group holds only this, never state of its own, so two doors over one
    ``Vecdex`` (an app and its embedded worker, a CLI command) see one cache of
    loaded spaces and one connection pool.
    """

    settings: Settings
    db: Database
    runtimes: SpaceRuntimes
    searcher: Searcher
