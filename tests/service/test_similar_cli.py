"""``vecdex similar``: the CLI door to more-like-this (one space, or several combined) answers what the facade does."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from service.schemas import SimilarRequest
from service.similar_schemas import CombinedSimilarRequest
from tests.service.conftest import FAST_W2V
from tests.service.corpus import topical_documents
from tests.service.test_cli import env, run  # noqa: F401  (the fixture)


@pytest.fixture
def topics(env: Path) -> Path:  # noqa: F811
    assert run("db", "upgrade")[0] == 0
    src = env / "docs.jsonl"
    src.write_text("\n".join(json.dumps(d) for d in topical_documents()) + "\n")
    assert run("ingest", str(src), "--collection", "topics", "--create")[0] == 0
    params = [f"-p{k}={v}" for k, v in FAST_W2V.items() if k != "type"]
    code, out = run("space", "create", "topics", "w2v", "-e", "word2vec", *params)
    assert code == 0, out
    code, out = run("space", "create", "topics", "tf", "-e", "tfidf", "-pmin_count=1")
    assert code == 0, out
    code, out = run("space", "create", "topics", "kw", "-e", "bm25")
    assert code == 0, out
    return env


def _facade():  # type: ignore[no-untyped-def]
    from service.cli.common import vecdex

    return vecdex()


def test_one_space_is_the_facades_answer(topics: Path) -> None:
    code, out = run("similar", "topics", "sport-0", "-s", "tf", "-k", "4", "--json")
    assert code == 0, out
    got = json.loads(out)
    expected = _facade().queries.similar(
        collection="topics", external_id="sport-0", body=SimilarRequest(k=4, space="tf")
    )
    assert got["space"] == "tf"
    assert [h["external_id"] for h in got["hits"]] == [h.external_id for h in expected.hits]
    assert "sport-0" not in [h["external_id"] for h in got["hits"]]
    assert all(h["metadata"]["topic"] == "sport" for h in got["hits"])
    code, out = run("similar", "topics", "sport-0", "-k", "3", "-f", "topic=markets")
    assert code == 0, out
    assert out.startswith("space w2v:") and out.count(" market-") == 3  # the default space, filtered


def test_several_spaces_combine_with_the_given_weights(topics: Path) -> None:
    code, out = run("similar", "topics", "sport-0", "-s", "w2v", "-s", "tf", "-w", "tf=3", "-w", "w2v=1", "--json")
    assert code == 0, out
    got = json.loads(out)
    expected = _facade().queries.similar_combined(
        collection="topics", external_id="sport-0",
        body=CombinedSimilarRequest(spaces=["w2v", "tf"], weights={"w2v": 1.0, "tf": 3.0}),
    )
    assert got["weights"] == {"w2v": 1.0, "tf": 3.0} and got["weights_from"] == "request"
    assert [h["external_id"] for h in got["hits"]] == [h.external_id for h in expected.hits]
    code, out = run("similar", "topics", "sport-0", "-s", "w2v", "-s", "tf", "-k", "2")
    assert code == 0, out
    assert out.splitlines()[0] == "combined w2v+tf (weights equal: w2v 1, tf 1):"
    assert len(out.splitlines()) == 3 and "[w2v " in out


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["-s", "w2v", "-s", "kw"], "spaces[1]"),  # a keyword space has no cosine to combine
        (["-s", "w2v", "-s", "tf", "-w", "ghost=1"], "weights"),
        (["-s", "w2v", "-s", "tf", "-w", "tf=-1"], "weights"),
        (["-w", "tf=1"], "spaces"),  # weights without two spaces
    ],
)
def test_bad_input_is_an_error_line_naming_the_field(topics: Path, args: list[str], expected: str) -> None:
    code, out = run("similar", "topics", "sport-0", *args)
    assert code == 2 and out.startswith("error [") and expected in out, out


def test_an_unknown_document_is_an_error(topics: Path) -> None:
    code, out = run("similar", "topics", "nope", "-s", "w2v")
    assert code == 2 and "document_not_found" in out and "nope" in out, out
