"""What the API's request handlers share: built once per app, handed out by dependencies."""

from __future__ import annotations

from dataclasses import dataclass

from ..db import Database
from ..search import Searcher
from ..settings import Settings
from ..spaces import SpaceRuntimes


@dataclass
class AppState:
    settings: Settings
    db: Database
    runtimes: SpaceRuntimes
    searcher: Searcher

    @classmethod
    def build(cls, settings: Settings) -> "AppState":
        db = Database(settings.resolved_database_url)
        runtimes = SpaceRuntimes(db, settings.spaces_dir, settings.snapshot_every)
        return cls(settings=settings, db=db, runtimes=runtimes, searcher=Searcher(db, runtimes, settings.max_k))
