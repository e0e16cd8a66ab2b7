"""Rebuilding a space in place: a new generation replaces the served one atomically.

While the rebuild job runs the space stays ready and keeps answering from its
current generation; on success every process moves to the new generation and
the old files and vectors are gone; on failure nothing of the new generation
remains and the space serves on as before.
"""

from __future__ import annotations

import dataclasses
import json
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select, update
from typer.testing import CliRunner

from embedders.base import NullProgress
from embedders.capabilities import Capability
from indexers.base import IndexSpec
from service.runtime.build import BuildPlan, _embed_corpus
from service.store.corpus import SqlCorpus
from service.store.db import Database
from service.errors import Conflict, JobCancelled
from service.runtime.jobs import claim, run_job
from service.store.models import Job, Space, StoredVector
from service.store.repository import content_hash, create_collection, resolve_space, upsert_documents
from service.schemas import DocumentIn
from service.query.search import Searcher
from service.settings import Settings
from service.runtime.space_admin import create_space, rebuild_space
from service.space_schemas import SpaceCreate
from service.runtime.spaces import SpaceRuntimes, space_dir
from service.store.vector_store import save_vectors
from tests.service.conftest import FAST_W2V
from tests.service.corpus import topical_documents

JSON = dict[str, Any]
LATE = [
    {"external_id": "late-0", "text": "the goalkeeper and the coach celebrated the late goal in the stadium"},
    {"external_id": "late-1", "text": "the striker scored a penalty as the football fans cheered the team"},
]


@pytest.fixture
def db(settings: Settings) -> Iterator[Database]:
    database = Database(settings.resolved_database_url)
    yield database
    database.dispose()


@pytest.fixture
def built(client: TestClient, jobs: Callable[[], int]) -> TestClient:
    """The topical collection with a built word2vec space ``w2v`` (generation 0)."""
    assert client.post("/collections", json={"name": "topics"}).status_code == 201
    assert client.post("/collections/topics/documents", json={"documents": topical_documents()}).status_code == 200
    assert client.post("/collections/topics/spaces", json={"name": "w2v", "embedder": FAST_W2V}).status_code == 202
    assert jobs() == 1
    assert client.get("/collections/topics/spaces/w2v").json()["status"] == "ready"
    return client


def _error(resp: Any, status: int, code: str) -> JSON:
    assert resp.status_code == status, resp.text
    err = resp.json()["error"]
    assert err["code"] == code and err["message"], err
    return err


def _space_id(db: Database, name: str = "w2v") -> int:
    with db.sessions() as s:
        return s.scalar(select(Space.id).where(Space.name == name))


def _vector_generations(db: Database, space_id: int) -> dict[int, int]:
    with db.sessions() as s:
        rows = s.execute(
            select(StoredVector.generation, func.count())
            .where(StoredVector.space_id == space_id)
            .group_by(StoredVector.generation)
        )
        return {g: n for g, n in rows}


def _search(client: TestClient, query: str, k: int = 30) -> list[JSON]:
    r = client.post("/collections/topics/search", json={"query": query, "k": k})
    assert r.status_code == 200, r.text
    return r.json()["hits"]


def _rebuild(client: TestClient) -> JSON:
    r = client.post("/collections/topics/spaces/w2v/rebuild")
    assert r.status_code == 202, r.text
    return r.json()


class DuringRebuild:
    """A progress echo that acts once the rebuild reaches its embed phase (the old generation still serves)."""

    def __init__(self, action: Callable[[], None]) -> None:
        self.action = action
        self.phase = ""
        self.ran = False

    def start(self, phase: str, total: int) -> None:
        self.phase = phase

    def advance(self, n: int = 1) -> None:
        if self.phase == "embed" and not self.ran:
            self.ran = True
            self.action()


def test_rebuild_switches_generation_while_serving(built: TestClient, db: Database, settings: Settings) -> None:
    client = built
    space_id = _space_id(db)
    assert client.get("/collections/topics/spaces/w2v").json()["generation"] == 0
    assert {h["metadata"].get("topic") for h in _search(client, "the striker scored a goal", 5)} == {"sport"}
    # Added before the rebuild: part of its corpus.
    client.post("/collections/topics/documents", json={"documents": LATE[:1]}).raise_for_status()

    body = _rebuild(client)
    assert body["space"]["status"] == "ready" and body["space"]["generation"] == 0
    assert body["job"]["status"] == "queued" and body["job"]["kind"] == "build_space"
    _error(client.post("/collections/topics/spaces/w2v/rebuild"), 409, "space_busy")

    def while_rebuilding() -> None:
        space = client.get("/collections/topics/spaces/w2v").json()
        assert (space["status"], space["generation"]) == ("ready", 0)
        hits = _search(client, "the striker scored a goal", 5)
        assert len(hits) == 5 and {h["metadata"].get("topic") for h in hits} == {"sport"}
        # Written while the rebuild runs: after its corpus, replayed by the new generation.
        client.post("/collections/topics/documents", json={"documents": LATE[1:]}).raise_for_status()

    hook = DuringRebuild(while_rebuilding)
    assert claim(db, body["job"]["id"], "test")
    job = run_job(db, settings.spaces_dir, body["job"]["id"], echo=hook)
    assert hook.ran and job.status == "succeeded", job.error
    assert {k: v for k, v in job.metrics.items() if k != "phases"} == {"embedded": 21, "reused": 0}  # trained: reuses nothing

    space = client.get("/collections/topics/spaces/w2v").json()
    assert (space["status"], space["generation"], space["dim"], space["is_default"]) == ("ready", 1, 48, True)
    assert not space_dir(settings.spaces_dir, space_id, 0).exists()
    assert space_dir(settings.spaces_dir, space_id, 1).is_dir()
    assert sorted(p.name for p in settings.spaces_dir.iterdir()) == [f"{space_id}-g1"]

    hits = _search(client, "the striker scored a goal")
    assert {"late-0", "late-1"} <= {h["external_id"] for h in hits} and len(hits) == 22
    own = client.get("/collections/topics/documents/market-4").json()["text"]
    top = _search(client, own, 1)[0]
    assert top["external_id"] == "market-4" and top["score"] == pytest.approx(1.0, abs=1e-4)
    # Only the new generation's vectors are stored: the 21 built plus late-1, embedded on catch-up.
    assert _vector_generations(db, space_id) == {1: 22}

    # A second rebuild goes on to generation 2 and removes generation 1's files.
    second = _rebuild(client)
    assert claim(db, second["job"]["id"], "test")
    assert run_job(db, settings.spaces_dir, second["job"]["id"]).status == "succeeded"
    assert client.get("/collections/topics/spaces/w2v").json()["generation"] == 2
    assert sorted(p.name for p in settings.spaces_dir.iterdir()) == [f"{space_id}-g2"]
    assert len(_search(client, "goal")) == 22


def test_rebuild_not_found_cancel_and_retry_of_failed_first_build(client: TestClient, jobs: Callable[[], int]) -> None:
    _error(client.post("/collections/nope/spaces/w2v/rebuild"), 404, "collection_not_found")
    assert client.post("/collections", json={"name": "topics"}).status_code == 201
    _error(client.post("/collections/topics/spaces/w2v/rebuild"), 404, "space_not_found")
    client.post("/collections/topics/documents", json={"documents": topical_documents()}).raise_for_status()

    # A first build cancelled before it ran: a rebuild is that first build again.
    created = client.post("/collections/topics/spaces", json={"name": "w2v", "embedder": FAST_W2V}).json()
    _error(client.post("/collections/topics/spaces/w2v/rebuild"), 409, "space_busy")
    assert client.post(f"/jobs/{created['job']['id']}/cancel").json()["status"] == "cancelled"
    assert client.get("/collections/topics/spaces/w2v").json()["status"] == "cancelled"
    retry = _rebuild(client)
    assert retry["space"]["status"] == "pending" and retry["space"]["error"] is None
    assert jobs() == 1
    space = client.get("/collections/topics/spaces/w2v").json()
    assert (space["status"], space["generation"], space["is_default"]) == ("ready", 0, True)

    # A queued rebuild cancelled: the space is untouched and can be rebuilt again.
    job = _rebuild(client)["job"]
    assert client.post(f"/jobs/{job['id']}/cancel").json()["status"] == "cancelled"
    space = client.get("/collections/topics/spaces/w2v").json()
    assert (space["status"], space["generation"], space["error"]) == ("ready", 0, None)
    assert len(_search(client, "goal", 5)) == 5
    _rebuild(client)


def test_failed_rebuild_keeps_the_old_generation(built: TestClient, db: Database, settings: Settings) -> None:
    client = built
    space_id = _space_id(db)
    job = _rebuild(client)["job"]
    for doc in topical_documents():  # after the request was accepted: training will find no corpus
        assert client.delete(f"/collections/topics/documents/{doc['external_id']}").status_code == 204
    assert claim(db, job["id"], "test")
    failed = run_job(db, settings.spaces_dir, job["id"])
    assert failed.status == "failed" and failed.error["code"] == "corpus_too_small", failed.error
    assert client.get(f"/jobs/{job['id']}").json()["error"]["code"] == "corpus_too_small"

    space = client.get("/collections/topics/spaces/w2v").json()
    assert (space["status"], space["generation"], space["error"]) == ("ready", 0, None)
    assert sorted(p.name for p in settings.spaces_dir.iterdir()) == [str(space_id)]
    assert 1 not in _vector_generations(db, space_id)
    # The old generation serves on and keeps following the collection.
    assert _search(client, "goal") == []
    client.post("/collections/topics/documents", json={"documents": LATE}).raise_for_status()
    assert {h["external_id"] for h in _search(client, "goal")} == {"late-0", "late-1"}


def test_rebuild_cancelled_while_running_leaves_nothing_of_it(
    built: TestClient, db: Database, settings: Settings
) -> None:
    """Cancelled after the first page of new vectors was stored: those vectors and the new files go."""
    space_id = _space_id(db)
    job = _rebuild(built)["job"]

    def cancel() -> None:
        raise JobCancelled(f"job {job['id']} was cancelled")  # what JobProgress raises once a cancel is seen

    assert claim(db, job["id"], "test")
    cancelled = run_job(db, settings.spaces_dir, job["id"], echo=DuringRebuild(cancel))
    assert cancelled.status == "cancelled" and cancelled.error["code"] == "cancelled"
    space = built.get("/collections/topics/spaces/w2v").json()
    assert (space["status"], space["generation"], space["error"]) == ("ready", 0, None)
    assert sorted(p.name for p in settings.spaces_dir.iterdir()) == [str(space_id)]
    assert _vector_generations(db, space_id) == {0: 20}
    assert len(_search(built, "goal")) == 20


def test_concurrent_rebuild_requests_queue_one_job(db: Database) -> None:
    with db.session() as s:
        create_collection(s, "topics")
        upsert_documents(s, "topics", [DocumentIn(**d) for d in topical_documents()])
    space_id, job_id = create_space(db, "topics", SpaceCreate.model_validate({"name": "w2v", "embedder": FAST_W2V}))
    with db.session() as s:  # as if its first build had succeeded
        s.execute(update(Job).where(Job.id == job_id).values(status="succeeded"))
        s.execute(update(Space).where(Space.id == space_id).values(status="ready"))
    barrier = threading.Barrier(3)
    outcomes: list[str] = []

    def request() -> None:
        barrier.wait()
        try:
            rebuild_space(db, "topics", "w2v")
            outcomes.append("queued")
        except Conflict as exc:
            outcomes.append(exc.code)

    threads = [threading.Thread(target=request) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["queued", "space_busy", "space_busy"]
    with db.sessions() as s:
        assert s.scalar(select(func.count()).select_from(Job).where(Job.status == "queued")) == 1


def test_another_process_reloads_the_new_generation(built: TestClient, db: Database, settings: Settings) -> None:
    """A second SpaceRuntimes (as in another API process) holding generation 0 moves to 1 on its next request."""
    other = SpaceRuntimes(db, settings.spaces_dir, snapshot_every=1)
    searcher = Searcher(db, other, max_k=100)
    searcher.search("topics", "goal", 5, {}, None, 0)
    old = other._cache[_space_id(db)]
    assert old.generation == 0

    job = _rebuild(built)["job"]
    assert claim(db, job["id"], "test")
    assert run_job(db, settings.spaces_dir, job["id"]).status == "succeeded"
    old_dir = old.directory
    assert not old_dir.exists()

    # A write seen by the stale process: its old runtime is dropped, not caught up (nor snapshotted).
    with db.session() as s:
        upsert_documents(s, "topics", [DocumentIn(**LATE[0])])
    other.sync_collection(old.collection_id)
    assert _space_id(db) not in other._cache
    old.save()
    assert not old_dir.exists()

    name, hits = searcher.search("topics", LATE[0]["text"], 1, {}, None, 0)
    runtime = other._cache[_space_id(db)]
    assert runtime.generation == 1 and runtime is not old
    assert hits[0].external_id == "late-0" and hits[0].score == pytest.approx(1.0, abs=1e-4)
    # A request that read generation 0 before the switch keeps the newer runtime.
    with db.sessions() as s:
        ref = resolve_space(s, "topics", "w2v")
    assert other.get(dataclasses.replace(ref, generation=0)) is runtime


class FixedEmbedder:
    """A stand-in for a family that is not trained (like bert): the same text always gives the same vector."""

    capabilities = frozenset({Capability.EMBED_TEXT})  # what the pipeline asks before embedding
    type = "fixed"  # the family name, as every embedder declares it (metrics are labelled with it)
    trainable = False
    dim = 4
    metric = "cosine"

    def __init__(self) -> None:
        self.texts: list[str] = []

    def embed_documents(self, texts: list[str]) -> np.ndarray:
        self.texts += texts
        return np.array([[len(t), t.count("e") + 1, t.count("a") + 1, 1.0] for t in texts], dtype=np.float32)


def test_build_of_a_fixed_embedder_embeds_only_unstored_texts(db: Database) -> None:
    """The reuse path for families that are not trained: stored vectors of this space, by content hash."""
    with db.session() as s:
        collection = create_collection(s, "topics")
        upsert_documents(s, "topics", [DocumentIn(**d) for d in topical_documents()])
        space = Space(
            collection_id=collection.id,
            name="fixed",
            embedder_type="fixed",
            embedder_spec={},
            index_spec={},
            status="ready",
        )
        s.add(space)
        s.flush()
        space_id, collection_id = space.id, collection.id
    corpus = SqlCorpus(db, collection_id)
    docs = [d for page in corpus.pages() for d in page]
    embedder = FixedEmbedder()
    stored = docs[:15]  # as a previous generation stored them; the other 5 "changed" since
    with db.session() as s:
        texts = [d.text for d in stored]
        save_vectors(s, space_id, 0, [d.id for d in stored], [content_hash(t) for t in texts], embedder.embed_documents(texts))
    embedder.texts.clear()

    plan = BuildPlan(space_id, collection_id, 1, 0, None, IndexSpec(), True, True)  # type: ignore[arg-type]
    metrics: dict[str, Any] = {}

    class Sink(NullProgress):
        def note(self, **values: Any) -> None:
            metrics.update(values)

    ids, vectors = _embed_corpus(db, plan, corpus, embedder, Sink())  # type: ignore[arg-type]
    assert metrics == {"embedded": 5, "reused": 15}
    assert embedder.texts == [d.text for d in docs[15:]]
    assert ids.tolist() == [d.id for d in docs]
    np.testing.assert_array_equal(vectors, FixedEmbedder().embed_documents([d.text for d in docs]))
    assert _vector_generations(db, space_id) == {0: 15, 1: 20}


# ----------------------------------------------------------------------------- command line

runner = CliRunner()


@pytest.fixture
def cli_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    from service.settings import get_settings

    monkeypatch.setenv("VECDEX_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("VECDEX_DATABASE_URL", raising=False)
    get_settings.cache_clear()
    yield tmp_path
    get_settings.cache_clear()


def test_cli_space_rebuild_wait(cli_env: Path) -> None:
    from service.cli import app

    def run(*args: str) -> tuple[int, str]:
        result = runner.invoke(app, list(args))
        return result.exit_code, result.output

    assert run("db", "upgrade")[0] == 0
    src = cli_env / "docs.jsonl"
    src.write_text("\n".join(json.dumps(d) for d in topical_documents()) + "\n")
    assert run("ingest", str(src), "--collection", "topics", "--create")[0] == 0
    params = [f"-p{k}={v}" for k, v in FAST_W2V.items() if k != "type"]
    code, out = run("space", "create", "topics", "w2v", "-e", "word2vec", *params)
    assert code == 0 and "space w2v ready (generation 0; embedded 20, reused 0; " in out, out
    # where the build's time went, phase by phase
    phases = out.split("reused 0; ", 1)[1].split(")", 1)[0].split()
    assert phases[0::2] == ["vocabulary", "train", "embed", "index", "snapshot"], phases
    assert all(seconds.endswith("s") and float(seconds[:-1]) >= 0 for seconds in phases[1::2])

    code, out = run("space", "rebuild", "topics", "w2v", "--wait")
    assert code == 0, out
    assert "rebuild queued as job 2" in out and "space w2v ready (generation 1; embedded 20, reused 0; vocabulary " in out
    code, out = run("space", "list", "topics")
    assert "* w2v\tword2vec\tready\tdim=48" in out and "generation=1" in out
    code, out = run("search", "topics", "striker scored a goal", "-k", "3", "--json")
    assert code == 0 and all(h["metadata"]["topic"] == "sport" for h in json.loads(out)["hits"])

    code, out = run("space", "rebuild", "topics", "nope")
    assert code == 2 and "space_not_found" in out
    code, out = run("space", "rebuild", "topics", "w2v", "--no-wait")
    assert code == 0 and "rebuild queued as job 3" in out
    code, out = run("space", "rebuild", "topics", "w2v")
    assert code == 2 and "space_busy" in out
