"""Annotated dependencies (the full-stack FastAPI template's habit): handlers declare what they use."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from ..db import Database
from ..search import Searcher
from ..settings import Settings
from ..spaces import SpaceRuntimes
from .state import AppState


def get_state(request: Request) -> AppState:
    return request.app.state.vecdex


State = Annotated[AppState, Depends(get_state)]


def _db(state: State) -> Database:
    return state.db


def _settings(state: State) -> Settings:
    return state.settings


def _runtimes(state: State) -> SpaceRuntimes:
    return state.runtimes


def _searcher(state: State) -> Searcher:
    return state.searcher


Db = Annotated[Database, Depends(_db)]
SettingsDep = Annotated[Settings, Depends(_settings)]
Runtimes = Annotated[SpaceRuntimes, Depends(_runtimes)]
SearcherDep = Annotated[Searcher, Depends(_searcher)]
