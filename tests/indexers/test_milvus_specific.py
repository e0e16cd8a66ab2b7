"""What only the Milvus backend has: data and checkpoint outside the directory, shared by every handle.

The contract (tests/indexers/test_contract.py) already holds Milvus to the
VectorIndex semantics. Here: the checkpoint lives in Milvus (it survives a
server restart and is readable by a client that never saw the manifest), two
handles on one collection see each other's writes, destroy drops the
collection, the URI precedence, an unreachable server is a 503, the
build parameters reach milvus-lite, and the paths that only large inputs take
(chunked filters, paged reads, k above Milvus's limit) are forced with small
limits. One lite file per module keeps milvus-lite start-ups to one.
"""

from __future__ import annotations

import itertools
import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from indexers import EngineOptions, IndexLocation, SearchParams, factory
from indexers.milvus import MilvusIndex, MilvusUnavailable
from indexers.milvus import collection as col
from indexers.milvus import connection, scan

from .data import DIM, K, brute_force, clustered, doc_ids, queries_near, spec_for
from tests.conftest import migrate

REASON = factory.get_backend("milvus").available()
REQUIRED = "milvus" in os.environ.get("VECDEX_REQUIRE_BACKENDS", "").split(",")  # CI: run, never skip
pytestmark = pytest.mark.skipif(REASON is not None and not REQUIRED, reason=f"milvus: {REASON}")

N = 600
_names = itertools.count()


@pytest.fixture(scope="module")
def options(tmp_path_factory: pytest.TempPathFactory) -> EngineOptions:
    return EngineOptions(milvus_uri=str(tmp_path_factory.mktemp("milvus") / "milvus.db"))


@pytest.fixture
def location(tmp_path: Path, options: EngineOptions) -> Iterator[IndexLocation]:
    loc = IndexLocation(tmp_path / "index", f"vecdex_specific_{next(_names)}", options)
    yield loc
    factory.destroy(loc.directory, options)


def _build(location: IndexLocation, kind: str = "hnsw", metric: str = "cosine", n: int = N) -> MilvusIndex:
    spec = spec_for(kind, backend="milvus", ivf_nlist=8)
    index = factory.build(spec, DIM, metric, doc_ids(n, seed=1), clustered(n, seed=1), location)  # type: ignore[arg-type]
    assert isinstance(index, MilvusIndex)
    return index


def _client(options: EngineOptions):  # type: ignore[no-untyped-def]
    return connection.client_for(options.milvus_uri or "")


# --- the checkpoint lives in Milvus --------------------------------------------------


def test_checkpoint_survives_a_server_restart(location: IndexLocation, options: EngineOptions) -> None:
    index = _build(location)
    index.add(np.array([5], dtype=np.int64), clustered(1, seed=9))
    index.save(location.directory, checkpoint=17)
    expected = index.search(clustered(4, seed=2), K)
    connection.release_lite(options.milvus_uri or "")  # what a process restart does to the lite server

    reopened = factory.open_index(location.directory, options)
    assert reopened.checkpoint == 17 and len(reopened) == N + 1 and 5 in reopened
    got = reopened.search(clustered(4, seed=2), K)
    assert np.array_equal(expected[1], got[1])


def test_checkpoint_is_readable_without_the_manifest(location: IndexLocation, options: EngineOptions) -> None:
    """Another process (here: a plain pymilvus client) reads it from the collection itself."""
    from pymilvus import MilvusClient

    index = _build(location, kind="flat")
    index.save(location.directory, checkpoint=123)
    other = MilvusClient(uri=options.milvus_uri or "")
    props = other.describe_collection(index.name)["properties"]
    assert props[col.CHECKPOINT_PROPERTY] == "123"
    manifest = json.loads((location.directory / "manifest.json").read_text())
    assert {k: manifest[k] for k in ("backend", "name", "dim", "metric", "kind")} == {
        "backend": "milvus", "name": index.name, "dim": DIM, "metric": "cosine", "kind": "flat",
    }
    assert manifest["spec"]["backend"] == "milvus" and manifest["uri"] == index.uri


def test_unsaved_checkpoint_does_not_move(location: IndexLocation, options: EngineOptions) -> None:
    index = _build(location, kind="flat")
    index.save(location.directory, checkpoint=3)
    index.add(np.array([1], dtype=np.int64), clustered(1, seed=3))  # written, not yet checkpointed
    assert factory.open_index(location.directory, options).checkpoint == 3


# --- one collection, many handles -------------------------------------------------------


def test_two_handles_see_each_others_writes(location: IndexLocation, options: EngineOptions) -> None:
    first = _build(location)
    first.save(location.directory, checkpoint=1)
    second = factory.open_index(location.directory, options)
    vec = clustered(1, seed=77)
    second.add(np.array([42], dtype=np.int64), vec)
    assert 42 in first and first.search(vec, 1)[1][0, 0] == 42
    assert first.remove(np.array([42])) == 1
    assert 42 not in second and second.remove(np.array([42])) == 0
    second.save(location.directory, checkpoint=8)
    assert factory.open_index(location.directory, options).checkpoint == 8
    assert first.checkpoint == 1  # a handle's own view until it saves or is reopened


def test_destroy_drops_the_collection_and_its_checkpoint(location: IndexLocation, options: EngineOptions) -> None:
    index = _build(location, kind="flat")
    index.save(location.directory, checkpoint=4)
    assert _client(options).has_collection(index.name)
    factory.destroy(location.directory, options)
    assert not location.directory.exists() and not _client(options).has_collection(index.name)
    rebuilt = factory.create(spec_for("flat", backend="milvus"), DIM, "cosine", location)
    assert len(rebuilt) == 0 and rebuilt.checkpoint == 0  # nothing of the old one came back


def test_a_build_replaces_a_leftover_collection_of_the_same_name(location: IndexLocation, options: EngineOptions) -> None:
    """A crashed build may leave its collection without a manifest; the next build must not inherit it."""
    _build(location, kind="flat", n=50)
    (location.directory / "manifest.json").unlink()  # destroy can no longer find it
    index = _build(location, kind="flat", n=20)
    assert len(index) == 20


def test_manifest_is_written_before_the_first_save(location: IndexLocation, options: EngineOptions) -> None:
    """So factory.destroy after a failed build (before any save) still drops the collection."""
    index = factory.create(spec_for("hnsw", backend="milvus"), DIM, "l2", location)
    factory.destroy(location.directory, options)
    assert not _client(options).has_collection(index.name)


# --- where the data goes and what happens when it cannot ---------------------------------


def test_uri_precedence(tmp_path: Path) -> None:
    directory = tmp_path / "space" / "index"
    assert connection.resolve_uri("http://a:19530", str(tmp_path / "b.db"), directory) == "http://a:19530"
    assert connection.resolve_uri(None, str(tmp_path / "b.db"), directory) == str((tmp_path / "b.db").resolve())
    assert connection.resolve_uri(None, None, directory) == str((tmp_path / "space" / "milvus.db").resolve())
    with pytest.raises(Exception) as info:
        connection.resolve_uri("/tmp/not-a-lite-file", None, directory)
    assert getattr(info.value, "field", None) == "index.milvus_uri"


def test_unreachable_server_is_a_503_naming_milvus(tmp_path: Path) -> None:
    spec = spec_for("flat", backend="milvus", milvus_uri="http://127.0.0.1:1")
    with pytest.raises(MilvusUnavailable) as info:
        factory.create(spec, DIM, "cosine", IndexLocation(tmp_path / "index", "vecdex_nowhere"))
    assert info.value.status == 503 and info.value.code == "index_unavailable"
    assert "127.0.0.1:1" in info.value.message and not (tmp_path / "index").exists()


def test_unavailable_when_pymilvus_cannot_be_imported(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pymilvus", None)  # what an uninstalled package looks like to import
    reason = connection._probe()
    assert reason is not None and "pymilvus" in reason


def test_build_parameters_reach_milvus(location: IndexLocation, options: EngineOptions) -> None:
    """pymilvus 3 flattens index params, milvus-lite reads a nested 'params': both must carry them."""
    spec = spec_for("ivf", backend="milvus", ivf_nlist=8)
    index = factory.build(spec, DIM, "l2", doc_ids(400, seed=4), clustered(400, seed=4), location)
    described = _client(options).describe_index(index.name, col.VECTOR_FIELD)
    assert int(described["params"]["nlist"]) == 8 and index.nlist == 8


# --- paths only big inputs take, forced with small limits -----------------------------------


def test_chunked_filter_equals_one_filter(location: IndexLocation, monkeypatch: pytest.MonkeyPatch) -> None:
    index = _build(location, kind="flat", metric="l2")
    ids, vectors = doc_ids(N, seed=1), clustered(N, seed=1)
    allowed = ids[::3]
    queries = queries_near(vectors, 6, seed=5)
    whole = index.search(queries, K, allowed_ids=allowed)
    monkeypatch.setattr(scan, "FILTER_CHUNK", 17)  # 200 allowed ids -> 12 expressions, merged
    chunked = index.search(queries, K, allowed_ids=allowed)
    assert np.array_equal(whole[1], chunked[1])
    mask = np.isin(ids, allowed)
    assert np.array_equal(chunked[1], brute_force(vectors[mask], ids[mask], queries, K, "l2")[1])


def test_paged_reads_return_every_id(location: IndexLocation, monkeypatch: pytest.MonkeyPatch) -> None:
    index = _build(location, kind="flat")
    monkeypatch.setattr(scan, "PAGE", 64)  # ids() bisects the id range into ~10 pages
    assert np.array_equal(index.ids(), np.sort(doc_ids(N, seed=1)))


def test_exact_search_and_k_above_the_milvus_limit(location: IndexLocation, monkeypatch: pytest.MonkeyPatch) -> None:
    index = _build(location, kind="hnsw", metric="ip")
    ids, vectors = doc_ids(N, seed=1), clustered(N, seed=1)
    queries = queries_near(vectors, 5, seed=6)
    true_scores, true_ids = brute_force(vectors, ids, queries, K, "ip")
    scores, found = index.search(queries, K, params=SearchParams(exact=True))
    assert np.array_equal(found, true_ids)
    np.testing.assert_allclose(scores, true_scores, rtol=1e-4, atol=1e-4)
    monkeypatch.setattr(col, "MAX_TOPK", 50)  # k=80 > the (pretended) limit: answered exactly in numpy
    scores, found = index.search(queries, 80)
    assert np.array_equal(found, brute_force(vectors, ids, queries, 80, "ip")[1])


# --- through the service ------------------------------------------------------------------


def test_a_milvus_space_answers_like_a_faiss_space(tmp_path: Path, database_url: str) -> None:
    """Same embedder, one space per backend, over the API: same top hits, and writes reach Milvus."""
    from fastapi.testclient import TestClient

    from service.api import create_app
    from service.store.db import Database
    from service.runtime.jobs import claim_next, run_job
    from tests.service.conftest import FAST_W2V, make_settings
    from tests.service.corpus import topical_documents

    migrate(database_url)
    settings = make_settings(tmp_path, database_url)  # VECDEX_MILVUS_URI unset: <data_dir>/milvus.db

    def run_jobs() -> None:
        db = Database(settings.resolved_database_url)
        try:
            while (job_id := claim_next(db, "test")) is not None:
                run_job(db, settings.spaces_dir, job_id, engine_options=settings.engine_options)
        finally:
            db.dispose()

    with TestClient(create_app(settings, run_worker=False)) as c:
        assert c.post("/collections", json={"name": "topics"}).status_code == 201
        assert c.post("/collections/topics/documents", json={"documents": topical_documents()}).status_code == 200
        for name, index in (("w2v_faiss", {"kind": "flat"}), ("w2v_milvus", {"backend": "milvus", "kind": "flat"})):
            r = c.post("/collections/topics/spaces", json={"name": name, "embedder": FAST_W2V, "index": index})
            assert r.status_code == 202, r.text
            run_jobs()
            space = c.get(f"/collections/topics/spaces/{name}").json()
            assert space["status"] == "ready", space
        assert c.get("/collections/topics/spaces/w2v_milvus").json()["index"]["backend"] == "milvus"
        assert (settings.data_dir / "milvus.db").exists()

        def top(query: str, space: str, k: int = 3) -> list[str]:
            r = c.post("/collections/topics/search", json={"query": query, "k": k, "space": space})
            assert r.status_code == 200, r.text
            return [h["external_id"] for h in r.json()["hits"]]

        for query in ("the striker scored a goal in the match", "investors fear inflation and interest rates"):
            assert top(query, "w2v_milvus")[0] == top(query, "w2v_faiss")[0]
        new = {"external_id": "sport-new", "text": "the goalkeeper saved a penalty in the league match"}
        c.post("/collections/topics/documents", json={"documents": [new]})
        assert top(new["text"], "w2v_milvus", 1) == ["sport-new"]
        c.delete("/collections/topics/documents/sport-new")
        assert "sport-new" not in top(new["text"], "w2v_milvus", 20)
