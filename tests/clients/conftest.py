"""One live vecdex server (uvicorn in a thread, its embedded worker running) per test module, for the
client package and the adapters on it; SQLite (the server's dialects are covered by tests/service)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from service.api import create_app
from service.facade import Vecdex
from service.key_schemas import KeyCreate
from service.settings import Settings
from service.store.migrate import upgrade
from tests.live_server import serving


@dataclass(frozen=True)
class Server:
    url: str
    admin_key: str
    vx: Vecdex


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    root = tmp_path_factory.mktemp("live")
    url = f"sqlite:///{root / 'vecdex.db'}"
    upgrade(url)
    # A short poll: each space build is a job the embedded worker picks up. The epoch quota is raised
    # so that a test can start a build long enough to be cancelled while it runs.
    settings = Settings(  # type: ignore[call-arg]
        data_dir=root / "data", database_url=url, embedded_worker=True, worker_poll_seconds=0.05, max_epochs=100_000,
        log_level="WARNING",  # the request log of a module-long server would flood the test output
    )
    app = create_app(settings, run_worker=True)
    vx: Vecdex = app.state.vecdex
    key = vx.keys.create(body=KeyCreate(name="client-tests", scope="admin")).secret
    with serving(app) as port:
        yield Server(f"http://127.0.0.1:{port}", key, vx)
