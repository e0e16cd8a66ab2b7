"""Crash consistency: SQL is the source of truth and a restarted service replays the change log.

The service is a real ``vecdex serve`` process. Writes are acknowledged (SQL
committed, index updated in memory) but the index snapshot is deliberately not
saved (a huge VECDEX_SNAPSHOT_EVERY); then the process is killed with SIGKILL,
so nothing runs at shutdown. After a restart every committed document must be
searchable and no deleted one may be.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from service.store.migrate import upgrade
from tests.service.conftest import FAST_W2V
from tests.service.corpus import topical_documents
from tests.live_server import free_port as _free_port


def _start(env: dict[str, str], port: int) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "service.cli", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"server exited: {proc.stdout.read().decode() if proc.stdout else ''}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    proc.kill()
    raise AssertionError("server did not become ready in 60 s")


def _wait_job(base: str, job_id: int) -> dict:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        job = httpx.get(f"{base}/jobs/{job_id}").json()
        if job["status"] in ("succeeded", "failed", "cancelled"):
            return job
        time.sleep(0.3)
    raise AssertionError(f"job {job_id} did not finish")


def _ids(base: str, query: str, k: int = 30) -> list[str]:
    r = httpx.post(f"{base}/collections/topics/search", json={"query": query, "k": k})
    assert r.status_code == 200, r.text
    return [h["external_id"] for h in r.json()["hits"]]


@pytest.mark.slow
def test_killed_between_commit_and_snapshot_loses_nothing(tmp_path: Path, database_url: str) -> None:
    upgrade(database_url)
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "VECDEX_DATA_DIR": str(tmp_path / "data"),
        "VECDEX_DATABASE_URL": database_url,
        "VECDEX_SNAPSHOT_EVERY": "1000000",
        "VECDEX_WORKER_POLL_SECONDS": "0.2",
    }
    proc = _start(env, port)
    try:
        httpx.post(f"{base}/collections", json={"name": "topics"}).raise_for_status()
        httpx.post(f"{base}/collections/topics/documents", json={"documents": topical_documents()}).raise_for_status()
        job = httpx.post(f"{base}/collections/topics/spaces", json={"name": "w2v", "embedder": FAST_W2V}).json()["job"]
        assert _wait_job(base, job["id"])["status"] == "succeeded"
        assert len(_ids(base, "goal")) == 20

        # Acknowledged writes after the build snapshot: two new documents, one replaced, two deleted.
        new = [
            {"external_id": "late-1", "text": "the striker scored a penalty goal in the stadium"},
            {"external_id": "late-2", "text": "investors bought bank shares as inflation fell"},
            {"external_id": "sport-0", "text": "investors sold shares when the central bank raised rates"},
        ]
        httpx.post(f"{base}/collections/topics/documents", json={"documents": new}).raise_for_status()
        for gone in ("sport-5", "market-5"):
            assert httpx.delete(f"{base}/collections/topics/documents/{gone}").status_code == 204
        before_kill = set(_ids(base, "goal"))
        assert {"late-1", "late-2"} <= before_kill and not {"sport-5", "market-5"} & before_kill
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)

    snapshot = tmp_path / "data" / "spaces"
    assert snapshot.exists()
    proc = _start(env, port)
    try:
        after = _ids(base, "goal")
        assert len(after) == 20  # 20 + 2 new - 2 deleted
        assert {"late-1", "late-2"} <= set(after)
        assert not {"sport-5", "market-5"} & set(after)
        # The replaced document is found by its new text, as itself.
        top = httpx.post(
            f"{base}/collections/topics/search",
            json={"query": "investors sold shares when the central bank raised rates", "k": 1},
        ).json()["hits"][0]
        assert top["external_id"] == "sport-0" and top["score"] > 0.999
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)


def test_app_refuses_out_of_date_schema(tmp_path: Path, sqlite_url: str) -> None:
    from fastapi.testclient import TestClient

    from service.api import create_app
    from service.errors import SchemaOutOfDate
    from tests.service.conftest import make_settings

    app = create_app(make_settings(tmp_path, sqlite_url), run_worker=False)
    with pytest.raises(SchemaOutOfDate, match="vecdex db upgrade"):
        with TestClient(app):
            pass
