"""The command line, through typer's CliRunner against a real SQLite file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from service.cli import app
from tests.service.conftest import FAST_W2V
from tests.service.corpus import topical_documents

runner = CliRunner()


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    from service.settings import get_settings

    monkeypatch.setenv("VECDEX_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("VECDEX_DATABASE_URL", raising=False)
    get_settings.cache_clear()
    yield tmp_path
    get_settings.cache_clear()


def run(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.output


def test_commands_refuse_an_unmigrated_database(env: Path) -> None:
    code, out = run("collection", "list")
    assert code == 2 and "schema_out_of_date" in out and "vecdex db upgrade" in out


def test_ingest_space_search_jobs(env: Path) -> None:
    assert run("db", "upgrade")[0] == 0
    src = env / "docs.jsonl"
    lines = [json.dumps(d) for d in topical_documents()]
    lines.insert(3, '{"external_id": "broken", "text": ')  # line 4: malformed JSON
    lines.insert(7, json.dumps({"external_id": "empty", "text": " "}))  # line 8: empty text
    src.write_text("\n".join(lines) + "\n")

    code, out = run("ingest", str(src), "--collection", "topics")
    assert code == 2 and "collection_not_found" in out
    code, out = run("ingest", str(src), "--collection", "topics", "--create")
    assert code == 1, out  # some lines were rejected
    assert "docs.jsonl:4:" in out and "docs.jsonl:8:" in out
    assert "20 created, 0 updated, 0 unchanged, 2 rejected" in out
    code, out = run("ingest", str(src), "--collection", "topics")
    assert "0 created, 0 updated, 20 unchanged, 2 rejected" in out

    params = [f"-p{k}={v}" for k, v in FAST_W2V.items() if k != "type"]
    code, out = run("space", "create", "topics", "w2v", "-e", "word2vec", *params)
    assert code == 0, out and "space w2v ready" in out
    created = out
    code, out = run("space", "list", "topics")
    assert "* w2v\tword2vec\tready\tdim=48" in out

    code, out = run("search", "topics", "striker scored a goal", "-k", "3", "--json")
    assert code == 0, out
    hits = json.loads(out)["hits"]
    assert len(hits) == 3 and all(h["metadata"]["topic"] == "sport" for h in hits)
    code, out = run("search", "topics", "goal", "-k", "2", "--filter", "topic=markets", "--json")
    assert {h["metadata"]["topic"] for h in json.loads(out)["hits"]} == {"markets"}
    code, out = run("search", "topics", "goal", "--filter", "n=seven")
    assert code == 2 and "filter_type_mismatch" in out and "filter.n" in out
    # a JSON value takes the whole filter language: operators, and / or / not
    code, out = run("search", "topics", "goal", "-k", "20", "-f", 'n={"gte": 2, "lt": 4}', "-f", "topic=sport", "--json")
    assert code == 0, out
    assert sorted(h["metadata"]["n"] for h in json.loads(out)["hits"]) == [2, 3]
    code, out = run("search", "topics", "goal", "-k", "20", "-f", 'or=[{"n": 0}, {"n": {"gt": 100}}]', "--json")
    assert code == 0 and {h["metadata"]["n"] for h in json.loads(out)["hits"]} == {0}, out
    code, out = run("search", "topics", "goal", "-f", 'n={"gte": "two"}')
    assert code == 2 and "filter.n.gte" in out
    code, out = run("search", "topics", "striker scored a goal", "-k", "3", "--exact", "--ef-search", "256", "--json")
    assert code == 0, out
    assert [h["external_id"] for h in json.loads(out)["hits"]] == [h["external_id"] for h in hits]
    code, out = run("search", "topics", "goal", "--nprobe", "0")
    assert code == 2 and "nprobe" in out

    code, out = run("jobs", "list")
    assert "build_space\tsucceeded\ttopics/w2v\tsnapshot 1/1" in out  # the last phase: files written
    # the index phase reports real progress: every indexed vector, not 0/1 then 1/1
    documents = run("collection", "list")[1].split("\t")[2].split()[0]
    assert f"w2v index: {documents}/{documents} (100%)" in created, created
    code, out = run("jobs", "show", "1")
    assert json.loads(out)["status"] == "succeeded"
    code, out = run("jobs", "cancel", "1")
    assert code == 2 and "job_finished" in out


def test_space_create_errors(env: Path) -> None:
    run("db", "upgrade")
    run("collection", "create", "c")
    code, out = run("space", "create", "c", "s", "-e", "word2vec")
    assert code == 2 and "corpus_too_small" in out
    code, out = run("space", "create", "c", "s", "-e", "nope")
    assert code == 2 and "embedder" in out
    code, out = run("space", "create", "c", "s", "-e", "word2vec", "-p", "dim")
    assert code == 2 and "--param" in out
    code, out = run("space", "create", "c", "s", "-e", "word2vec", "-p", "dim=-4")
    assert code == 2 and "dim" in out
    code, out = run("space", "list", "c")
    assert out.strip() == ""
