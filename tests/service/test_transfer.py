"""Export and import of whole collections: a round trip gives the same answers without re-embedding anything;
a truncated, altered or newer file changes nothing; an interrupted import is completed by ``--resume``."""

from __future__ import annotations

import gzip
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from embedders.tfidf import TfidfEmbedder
from embedders.word2vec import Word2VecEmbedder
from service.cli import app
from service.facade.collections import Documents
from service.transfer import importer
from tests.service.conftest import FAST_D2V, FAST_W2V
from tests.service.corpus import topical_documents
from tests.service.test_cli import env, run  # noqa: F401 - the CLI fixture

SPACES = (("w2v", FAST_W2V), ("tf", {"type": "tfidf", "min_count": 1}), ("kw", {"type": "bm25"}))
QUERIES = ("striker scored a goal", "interest rates and the bank", "fans in the stadium", "investors bought shares")
NO_VECTOR = {"external_id": "odd", "text": "zzyzx qwxq", "metadata": {"topic": "none", "n": 99, "even": False}}
"""A document whose words no model knows: it has no vector in the vector spaces (a null vector record)."""


def _seed(client: TestClient, jobs: Callable[[], int]) -> None:
    assert client.post("/collections", json={"name": "topics", "description": "two topics"}).status_code == 201
    r = client.post("/collections/topics/documents", json={"documents": [*topical_documents(), NO_VECTOR]})
    assert r.status_code == 200, r.text
    for name, spec in SPACES:
        r = client.post("/collections/topics/spaces", json={"name": name, "embedder": spec})
        assert r.status_code == 202, r.text
    assert jobs() == len(SPACES)
    assert client.post("/collections/topics/spaces/tf/default").status_code == 200


def _hits(client: TestClient, collection: str, space: str, query: str) -> list[tuple[str, float]]:
    r = client.post(f"/collections/{collection}/search", json={"query": query, "k": 8, "space": space})
    assert r.status_code == 200, r.text
    return [(h["external_id"], h["score"]) for h in r.json()["hits"]]


def _documents(client: TestClient, collection: str) -> dict[str, tuple[str, dict[str, Any]]]:
    items = client.get(f"/collections/{collection}/documents", params={"limit": 1000}).json()["items"]
    return {d["external_id"]: (d["text"], d["metadata"]) for d in items}


def _no_embedding(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(self: object, texts: object) -> None:
        raise AssertionError("the import embedded documents")

    for family in (Word2VecEmbedder, TfidfEmbedder):
        monkeypatch.setattr(family, "embed_documents", refuse)


def _assert_same(client: TestClient, a: str, b: str) -> None:
    for name, _ in SPACES:
        for query in QUERIES:
            left, right = _hits(client, a, name, query), _hits(client, b, name, query)
            assert [i for i, _ in left] == [i for i, _ in right], (name, query)
            assert all(abs(x - y) <= 1e-6 for (_, x), (_, y) in zip(left, right)), (name, query, left, right)
    assert _documents(client, a) == _documents(client, b)
    one, two = client.get(f"/collections/{a}").json(), client.get(f"/collections/{b}").json()
    for key in ("document_count", "metadata_schema", "default_space", "kind", "description"):
        assert one[key] == two[key], key


def test_round_trip_over_http_reuses_models_and_vectors(
    client: TestClient, jobs: Callable[[], int], monkeypatch: pytest.MonkeyPatch
) -> None:
    _seed(client, jobs)
    r = client.get("/collections/topics/export", params={"gzip": "true"})
    assert r.status_code == 200 and r.headers["content-type"] == "application/gzip"
    lines = [json.loads(line) for line in gzip.decompress(r.content).splitlines()]
    assert lines[0]["type"] == "header" and lines[-1]["type"] == "trailer"
    carries = {s["name"]: s["carries"] for s in lines[0]["spaces"]}
    assert carries == {"w2v": "model", "tf": "model", "kw": "model"}
    nulls = [x for x in lines if x["type"] == "vector" and x["vector"] is None]
    assert {(x["space"], x["external_id"]) for x in nulls} >= {("w2v", "odd")}

    with monkeypatch.context() as m:
        _no_embedding(m)
        r = client.post("/collections/copy/import", content=r.content)
        assert r.status_code == 201, r.text
    body = r.json()
    assert body["collection"] == "copy" and body["documents"] == 21
    assert {s["name"]: (s["status"], s["embedded"]) for s in body["spaces"]} == {
        "w2v": ("ready", 0), "tf": ("ready", 0), "kw": ("ready", 0)
    }
    assert jobs() == 0  # nothing was queued: no space is trained again
    _assert_same(client, "topics", "copy")
    # the imported collection is a normal one: a new document is embedded by the imported model
    r = client.post("/collections/copy/documents", json={"documents": [{"external_id": "new", "text": "the striker"}]})
    assert r.status_code == 200
    assert "new" in [i for i, _ in _hits(client, "copy", "w2v", "striker scored a goal")]


def test_items_collection_interactions_travel(client: TestClient) -> None:
    assert client.post("/collections", json={"name": "shop", "kind": "items"}).status_code == 201
    events = [
        {"user": f"u{u}", "item": f"i{(u * 3 + k) % 7}", "timestamp": f"2024-01-0{1 + k}T10:00:00Z", "event": "view"}
        for u in range(4)
        for k in range(3)
    ]
    r = client.post("/collections/shop/interactions", json={"interactions": events, "unknown_items": "create"})
    assert r.status_code == 200, r.text
    exported = client.get("/collections/shop/export").content
    r = client.post("/collections/shop2/import", content=exported)
    assert r.status_code == 201, r.text
    assert r.json()["interactions"] == 12
    for user in ("u0", "u3"):
        assert client.get(f"/collections/shop/users/{user}/history").json() == (
            client.get(f"/collections/shop2/users/{user}/history").json()
        )
    # the same file again is refused (the name is taken), unless resumed: then nothing is written twice
    r = client.post("/collections/shop2/import", content=exported)
    assert r.status_code == 409 and r.json()["error"]["field"] == "name"
    r = client.post("/collections/shop2/import", params={"resume": "true"}, content=exported)
    assert r.status_code == 201 and r.json()["interactions_skipped"] == 12 and r.json()["documents_skipped"] == 7


def test_a_model_keyed_by_document_ids_is_trained_again(client: TestClient, jobs: Callable[[], int]) -> None:
    """doc2vec's model holds a vector per source document id: ids differ after import, so only its spec
    travels and the import queues a build (the file says so: ``carries`` is ``spec``)."""
    assert client.post("/collections", json={"name": "topics"}).status_code == 201
    assert client.post("/collections/topics/documents", json={"documents": topical_documents()}).status_code == 200
    assert client.post("/collections/topics/spaces", json={"name": "d2v", "embedder": FAST_D2V}).status_code == 202
    assert jobs() == 1
    exported = client.get("/collections/topics/export").content
    header = json.loads(exported.splitlines()[0])
    assert [(s["name"], s["carries"]) for s in header["spaces"]] == [("d2v", "spec")]
    assert b'"type":"vector"' not in exported and b'"type":"model"' not in exported
    r = client.post("/collections/copy/import", content=exported)
    assert r.status_code == 201, r.text
    (space,) = r.json()["spaces"]
    assert space["carries"] == "spec" and space["job_id"] is not None
    assert jobs() == 1
    assert client.get("/collections/copy/spaces/d2v").json()["status"] == "ready"


def test_given_vectors_travel_with_their_documents(client: TestClient, jobs: Callable[[], int]) -> None:
    assert client.post("/collections", json={"name": "vec"}).status_code == 201
    r = client.post("/collections/vec/spaces", json={"name": "v", "embedder": {"type": "vectors", "dim": 3}})
    assert r.status_code == 202, r.text
    assert jobs() == 1
    docs = [
        {"external_id": f"d{i}", "text": f"doc {i}", "vectors": {"v": [1.0, i / 7, (i % 3) / 3 + 0.1]}}
        for i in range(12)
    ]
    assert client.post("/collections/vec/documents", json={"documents": docs}).status_code == 200
    exported = client.get("/collections/vec/export").content
    r = client.post("/collections/vec2/import", content=exported)
    assert r.status_code == 201, r.text
    for vector in ([1.0, 0.5, 0.2], [0.1, 1.0, 0.9]):
        a, b = (
            client.post(f"/collections/{c}/search", json={"vector": vector, "k": 5}).json()["hits"]
            for c in ("vec", "vec2")
        )
        assert [h["external_id"] for h in a] == [h["external_id"] for h in b]
        assert all(abs(x["score"] - y["score"]) <= 1e-6 for x, y in zip(a, b))
    one, two = (client.get(f"/collections/{c}/documents/d3/vectors") for c in ("vec", "vec2"))
    assert one.status_code == two.status_code == 200 and one.json() == two.json(), one.text


def _refused(client: TestClient, content: bytes, line: int | None = None) -> dict[str, Any]:
    r = client.post("/collections/copy/import", content=content)
    assert r.status_code == 422, r.text
    err = r.json()["error"]
    assert err["code"] == "invalid_file", err
    if line is not None:
        assert err["field"] == f"line {line}", err
    assert client.get("/collections/copy").status_code == 404  # nothing was imported
    return err


def test_damaged_files_change_nothing(client: TestClient, jobs: Callable[[], int]) -> None:
    _seed(client, jobs)
    raw = client.get("/collections/topics/export").content
    lines = raw.splitlines(keepends=True)
    n = len(lines)
    # cut before the trailer, or in the middle of a line; gzip cut short
    assert "without its trailer" in _refused(client, b"".join(lines[:-1]), line=n)["message"]
    assert "truncated" in _refused(client, b"".join(lines[:-3]) + lines[-3][:40], line=n - 2)["message"]
    _refused(client, gzip.compress(raw)[:-200])
    # a lost line, an altered byte
    vector = next(i for i, line in enumerate(lines) if b'"type":"vector"' in line)
    lost = b"".join(lines[:vector] + lines[vector + 1 :])
    assert "trailer counts" in _refused(client, lost, line=n - 1)["message"]
    orphan = b"".join(lines[:5] + lines[6:])  # a document lost: its vector no longer follows it
    assert "not a document of the page" in _refused(client, orphan)["message"]
    altered = raw.replace(b"goalkeeper", b"goalkeeper!", 1)
    assert "checksum" in _refused(client, altered, line=n)["message"]
    # a record the write path would refuse: named by its line before anything is written
    doc = next(i for i, line in enumerate(lines) if b'"type":"document"' in line)
    bad = json.loads(lines[doc])
    bad["text"] = ""
    broken = lines[:doc] + [json.dumps(bad).encode() + b"\n"] + lines[doc + 1 :]
    _refused(client, b"".join(broken), line=doc + 1)


def test_a_newer_format_version_is_refused(client: TestClient, jobs: Callable[[], int]) -> None:
    assert client.post("/collections", json={"name": "topics"}).status_code == 201
    assert client.post("/collections/topics/documents", json={"documents": topical_documents()}).status_code == 200
    lines = client.get("/collections/topics/export").content.splitlines(keepends=True)
    header = json.loads(lines[0])
    header["version"] = 2
    header["something_new"] = {"a": 1}
    err = _refused(client, json.dumps(header).encode() + b"\n" + b"".join(lines[1:]), line=1)
    assert "newer" in err["message"]
    assert client.get("/collections/nope/export").status_code == 404


def test_cli_export_import_and_resume(env: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: F811
    assert run("db", "upgrade")[0] == 0
    src = env / "docs.jsonl"
    src.write_text("\n".join(json.dumps(d) for d in [*topical_documents(), NO_VECTOR]) + "\n")
    assert run("ingest", str(src), "--collection", "topics", "--create")[0] == 0
    params = [f"-p{k}={v}" for k, v in FAST_W2V.items() if k != "type"]
    code, out = run("space", "create", "topics", "w2v", "-e", "word2vec", *params)
    assert code == 0, out
    assert run("space", "create", "topics", "kw", "-e", "bm25")[0] == 0

    file = env / "topics.jsonl.gz"
    code, out = run("collection", "export", "topics", str(file))
    assert code == 0 and "exported collection topics" in out and "gzip" in out, out
    assert gzip.decompress(file.read_bytes()).startswith(b'{"type":"header"')

    # an import that fails after its first batches leaves a prefix; a plain re-run is refused, --resume completes
    monkeypatch.setattr(importer, "BATCH", 5)
    real_write = Documents.write
    calls = {"n": 0}

    def failing_write(self: Documents, **kwargs: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 3:
            raise OSError("disk went away")
        return real_write(self, **kwargs)

    monkeypatch.setattr(Documents, "write", failing_write)
    result = runner_invoke(["collection", "import", str(file), "--name", "copy"])
    assert result.exit_code != 0 and isinstance(result.exception, OSError)
    monkeypatch.setattr(Documents, "write", real_write)
    code, out = run("collection", "import", str(file), "--name", "copy")
    assert code == 2 and "error [already_exists] name:" in out and "--resume" in out
    _no_embedding(monkeypatch)
    code, out = run("collection", "import", str(file), "--name", "copy", "--resume", "--json")
    assert code == 0, out
    result_json = json.loads(out[out.index("{") :])
    assert result_json["documents_skipped"] == 10 and result_json["documents"] == 21
    assert {s["name"]: s["status"] for s in result_json["spaces"]} == {"w2v": "ready", "kw": "ready"}
    assert "import: " in out  # progress lines (stderr, not a terminal)
    monkeypatch.undo()

    for space in ("w2v", "kw"):
        for query in QUERIES:
            a = json.loads(run("search", "topics", query, "-k", "8", "--space", space, "--json")[1])["hits"]
            b = json.loads(run("search", "copy", query, "-k", "8", "--space", space, "--json")[1])["hits"]
            assert [h["external_id"] for h in a] == [h["external_id"] for h in b]
            assert all(abs(x["score"] - y["score"]) <= 1e-6 for x, y in zip(a, b))

    # a truncated file: one error line naming the line, exit 2, nothing imported
    cut = env / "cut.jsonl"
    cut.write_bytes(b"".join(gzip.decompress(file.read_bytes()).splitlines(keepends=True)[:-1]))
    code, out = run("collection", "import", str(cut), "--name", "other")
    assert code == 2 and "error [invalid_file] line " in out and "truncated" in out
    assert "other" not in run("collection", "list")[1]


def runner_invoke(args: list[str]) -> Any:
    from typer.testing import CliRunner

    return CliRunner().invoke(app, args)
