"""Service fixtures: settings, a migrated database, an API client, and a synchronous job runner."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from service.api import create_app
from service.store.db import Database
from service.runtime.jobs import claim_next, run_job
from service.settings import Settings
from tests.conftest import migrate

# Small, quick specs: tests assert behaviour, not embedding quality (bench/ measures that).
FAST_W2V = {"type": "word2vec", "dim": 48, "epochs": 8, "min_count": 2, "seed": 7, "workers": 1}
FAST_D2V = {"type": "doc2vec", "dim": 32, "epochs": 150, "min_count": 2, "seed": 7, "workers": 1}


def make_settings(tmp_path: Path, url: str, **overrides: object) -> Settings:
    return Settings(data_dir=tmp_path / "data", database_url=url, embedded_worker=False, **overrides)  # type: ignore[arg-type]


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    migrate(database_url)
    return make_settings(tmp_path, database_url)


@pytest.fixture(scope="module")
def module_settings(tmp_path_factory: pytest.TempPathFactory, module_database_url: str) -> Settings:
    """Settings over the module's shared database (see ``module_database_url``)."""
    migrate(module_database_url)
    return make_settings(tmp_path_factory.mktemp("module"), module_database_url)


@pytest.fixture(scope="module")
def module_client(module_settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(module_settings, run_worker=False)) as c:
        yield c


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings, run_worker=False)) as c:
        yield c


def run_jobs(settings: Settings) -> int:
    """Run every queued job now, in this thread (what the worker would do); returns how many ran."""
    db = Database(settings.resolved_database_url)
    ran = 0
    try:
        while (job_id := claim_next(db, "test")) is not None:
            run_job(db, settings.spaces_dir, job_id, engine_options=settings.engine_options)
            ran += 1
    finally:
        db.dispose()
    return ran


@pytest.fixture
def jobs(settings: Settings) -> Callable[[], int]:
    return lambda: run_jobs(settings)


def post_log(client: TestClient, log: Iterable[Any], collection: str = "shop") -> None:
    """Upload a planted interaction log (``embedders.item2vec.synthetic``; items ``i<id>``), 1,000 events a request."""
    events = [
        {"user": e.user, "item": f"i{e.item}", "timestamp": datetime.fromtimestamp(e.ts, timezone.utc).isoformat()}
        for e in log
    ]
    for start in range(0, len(events), 1000):
        r = client.post(f"/collections/{collection}/interactions", json={"interactions": events[start : start + 1000]})
        assert r.status_code == 200, r.text
