"""Evaluation: metrics against hand-computed values, parsers, and `vecdex eval` end to end (stored runs, CLI + HTTP)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update
from typer.testing import CliRunner

from service.cli import app
from service.store.db import Database
from service.evaluation import metrics as m
from service.evaluation.formats import (
    FormatError,
    matrix_pairs,
    read_analogies,
    read_matrix,
    read_pairs,
    read_qrels,
    read_queries,
    read_word_pairs,
)
from service.evaluation.runner import WordTable
from service.store.models import Document, Space
from tests.service.conftest import FAST_D2V, FAST_W2V
from tests.service.corpus import topical_documents

runner = CliRunner()

# ----------------------------------------------------------------------------- metrics

# q1: relevant d2 (grade 2), d4, d5 (grade 1); retrieved d1 d2 d3 d4. q2: one relevant, found first.
# q3 has only a grade-0 judgement: left out of the means.
RUNS = {"q1": ["d1", "d2", "d3", "d4"], "q2": ["a", "b"], "q3": ["x"]}
QRELS = {"q1": {"d2": 2, "d4": 1, "d5": 1, "d1": 0}, "q2": {"a": 1}, "q3": {"x": 0}}


def test_retrieval_metrics_by_hand() -> None:
    q1, rels = RUNS["q1"], QRELS["q1"]
    assert m.recall_at_k(q1, rels, 2) == pytest.approx(1 / 3)
    assert m.recall_at_k(q1, rels, 4) == pytest.approx(2 / 3)
    assert m.reciprocal_rank(q1, rels) == 0.5
    assert m.reciprocal_rank(q1, rels, k=1) == 0.0
    # DCG = 2/log2(3) + 1/log2(5); ideal = 2/log2(2) + 1/log2(3) + 1/log2(4)
    dcg = 2 / math.log2(3) + 1 / math.log2(5)
    ideal = 2 + 1 / math.log2(3) + 0.5
    assert m.ndcg_at_k(q1, rels, 10) == pytest.approx(dcg / ideal)
    assert m.ndcg_at_k(q1, rels, 10) == pytest.approx(0.540586, abs=1e-6)
    # relevant at ranks 2 and 4: (1/2 + 2/4) / 3 relevant
    assert m.average_precision(q1, rels) == pytest.approx(1 / 3)

    out = m.retrieval_metrics(RUNS, QRELS, ks=[2, 10])
    assert out["queries"] == 2
    assert out["recall@2"] == pytest.approx((1 / 3 + 1) / 2)
    assert out["recall@10"] == pytest.approx((2 / 3 + 1) / 2)
    assert out["mrr@10"] == pytest.approx(0.75)
    assert out["ndcg@10"] == pytest.approx((dcg / ideal + 1) / 2)
    assert out["map"] == pytest.approx(2 / 3)


def test_similarity_metrics_by_hand() -> None:
    x, y = [1, 2, 3, 4], [2, 4, 5, 4]
    # r = 3.5 / sqrt(5 * 4.75); ranks of y = 1, 2.5, 4, 2.5 -> rho = 3 / sqrt(5 * 4.5)
    assert m.pearson(x, y) == pytest.approx(3.5 / math.sqrt(5 * 4.75))
    assert m.spearman(x, y) == pytest.approx(3 / math.sqrt(5 * 4.5))
    ws = m.word_similarity_metrics(x + [9], y + [None])
    assert ws["oov_rate"] == pytest.approx(0.2) and ws["pairs"] == 4
    assert ws["spearman"] == pytest.approx(3 / math.sqrt(5 * 4.5))


def test_analogy_accuracy_per_section(tmp_path: Path) -> None:
    from gensim.models import KeyedVectors

    path = tmp_path / "analogies.txt"
    path.write_text(
        "# tiny\n: gender\nman woman king queen\nman woman king other\n: mixed\nman woman king zebra\nMAN WOMAN KING QUEEN\n"
    )
    questions = read_analogies(path)
    assert questions[0] == ("gender", "man", "woman", "king", "queen") and len(questions) == 4
    kv = KeyedVectors(vector_size=4)
    e = np.eye(4, dtype=np.float32)
    queen = np.array([-1, 1, 1, 0], dtype=np.float32) / np.sqrt(3)
    kv.add_vectors(["man", "woman", "king", "queen", "other"], np.stack([e[0], e[1], e[2], queen, e[3]]))
    acc = m.analogy_accuracy(WordTable(kv).analogies(questions))
    assert acc["gender"] == {"correct": 1, "total": 2, "oov": 0, "accuracy": 0.5}
    assert acc["mixed"] == {"correct": 1, "total": 1, "oov": 1, "accuracy": 1.0}
    assert acc["total"]["accuracy"] == pytest.approx(2 / 3) and acc["total"]["oov"] == 1


# ----------------------------------------------------------------------------- parsers


@pytest.mark.parametrize(
    ("name", "content", "reader", "where", "says"),
    [
        ("q.jsonl", '{"id": 1, "text": "a"}\n{"id": 2, "text": \n', read_queries, "q.jsonl:2", "invalid JSON"),
        ("q.jsonl", '{"id": 1, "text": "a"}\n\n{"id": 1, "text": "b"}\n', read_queries, "q.jsonl:3", "twice"),
        ("qrels.txt", "q1 0 d1 1\n# note\nq1 0 d2\n", read_qrels, "qrels.txt:3", "4 fields"),
        ("qrels.txt", "q1 0 d1 high\n", read_qrels, "qrels.txt:1", "integer"),
        ("pairs.csv", "a,b,score\nd1,d2,0.5\nd1,d3,much\n", read_pairs, "pairs.csv:3", "number"),
        ("ws.tsv", "# c\nw1\tw2\t3\nw1\tw3\n", read_word_pairs, "ws.tsv:3", "3 fields"),
        ("an.txt", "a b c d\n", read_analogies, "an.txt:1", "first ': section'"),
        ("an.txt", ": s\na b c\n", read_analogies, "an.txt:2", "4 words"),
        ("an.txt", ": s\na b c d\n: total\ne f g h\n", read_analogies, "an.txt:3", "reserved"),
        ("m.txt", "1 0.5\n0.5 1 3\n", read_matrix, "m.txt:2", "2 numbers"),
        ("m.txt", "a b c\n1 0 0\n0 1 0\n", read_matrix, "m.txt:2", "square"),
    ],
)
def test_parse_errors_name_file_and_line(tmp_path: Path, name: str, content: str, reader, where: str, says: str) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / name
    path.write_text(content)
    with pytest.raises(FormatError) as info:
        reader(path)
    assert where in info.value.message and says in info.value.message
    assert info.value.code == "invalid_file"


def test_parsers_read_the_standard_files(tmp_path: Path) -> None:
    from gensim.test.utils import datapath

    ws = read_word_pairs(Path(datapath("wordsim353.tsv")))
    assert len(ws) == 353 and ws[0] == ("love", "sex", 6.77)
    assert len(read_word_pairs(Path(datapath("simlex999.txt")))) == 999
    questions = read_analogies(Path(datapath("questions-words.txt")))
    assert questions[0] == ("capital-common-countries", "Athens", "Greece", "Baghdad", "Iraq")
    path = tmp_path / "m.csv"
    path.write_text("x,y,z\n1,0.2,0.9\n0.2,1,0.1\n0.9,0.1,1\n")
    ids, matrix = read_matrix(path)
    assert ids == ["x", "y", "z"] and matrix.shape == (3, 3)
    assert matrix_pairs(ids, matrix) == [("x", "y", 0.2), ("x", "z", 0.9), ("y", "z", 0.1)]


# ----------------------------------------------------------------------------- end to end


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, database_url: str) -> Path:
    from service.settings import get_settings

    monkeypatch.setenv("VECDEX_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("VECDEX_DATABASE_URL", database_url)
    get_settings.cache_clear()
    yield tmp_path
    get_settings.cache_clear()


def run(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.output


def test_eval_commands_store_and_list_runs(env: Path) -> None:
    from service.api import create_app
    from service.settings import get_settings

    assert run("db", "upgrade")[0] == 0
    docs = env / "docs.jsonl"
    docs.write_text("".join(json.dumps(d) + "\n" for d in topical_documents()))
    assert run("ingest", str(docs), "--collection", "topics", "--create")[0] == 0
    w2v = [f"-p{k}={v}" for k, v in FAST_W2V.items() if k != "type"]
    assert run("space", "create", "topics", "w2v", "-e", "word2vec", *w2v)[0] == 0
    d2v = [f"-p{k}={v}" for k, v in {**FAST_D2V, "epochs": 40}.items() if k != "type"]
    assert run("space", "create", "topics", "d2v", "-e", "doc2vec", *d2v)[0] == 0

    queries = env / "queries.jsonl"
    queries.write_text(
        json.dumps({"id": "q1", "text": "the striker scored a goal for the football team"})
        + "\n"
        + json.dumps({"id": "q2", "text": "the bank raised interest rates and shares fell"})
        + "\n"
    )
    qrels = env / "qrels.txt"
    qrels.write_text(
        "".join(f"q1 0 sport-{i} {2 if i < 3 else 1}\n" for i in range(10))
        + "".join(f"q2 0 market-{i} 1\n" for i in range(10))
    )
    plot = env / "out" / "retrieval.png"
    code, out = run("eval", "retrieval", "topics", "--queries", str(queries), "--qrels", str(qrels), "-k", "5", "-k", "10", "--plot", str(plot))
    assert code == 0, out
    lines = out.splitlines()
    assert lines[0] == "retrieval on queries.jsonl+qrels.txt:"
    assert all(c in lines[1] for c in ("space", "recall@5", "recall@10", "mrr@10", "ndcg@10", "map"))
    assert lines[2].startswith("w2v") and lines[3].startswith("d2v")
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    code, out = run("eval", "retrieval", "topics", "--queries", str(queries), "--qrels", str(qrels), "--space", "w2v", "--json")
    assert code == 0, out
    report = json.loads(out)
    (w2v_result,) = report["results"]
    assert w2v_result["space"] == "w2v" and w2v_result["status"] == "ok"
    assert w2v_result["metrics"]["mrr@10"] == 1.0 and w2v_result["metrics"]["queries"] == 2
    assert 0 < w2v_result["metrics"]["ndcg@10"] <= 1

    pairs = env / "pairs.tsv"
    pairs.write_text(
        "id_a\tid_b\tscore\nsport-0\tsport-1\t1\nsport-0\tmarket-0\t0\nmarket-1\tmarket-2\t1\n"
        "sport-2\tmarket-3\t0\nsport-4\tsport-5\t0.9\nmarket-5\tsport-6\t0.1\n"
    )
    code, out = run("eval", "similarity", "topics", "--pairs", str(pairs), "--json")
    assert code == 0, out
    results = {r["space"]: r for r in json.loads(out)["results"]}
    assert set(results) == {"w2v", "d2v", "w2v+d2v"}  # the two spaces, and their combined similarity
    assert results["w2v+d2v"]["params"]["weights"] == {"w2v": 0.5, "d2v": 0.5}
    # Tiny models: the figures are checked for shape, not quality (bench/ measures quality).
    assert results["w2v"]["metrics"]["pairs"] == 6 and results["w2v"]["metrics"]["missing_rate"] == 0
    assert -1 <= results["w2v"]["metrics"]["spearman"] <= 1 and -1 <= results["d2v"]["metrics"]["pearson"] <= 1
    matrix = env / "matrix.txt"
    matrix.write_text("sport-0 sport-1 market-0\n1 0.9 0.1\n0.9 1 0.2\n0.1 0.2 1\n")
    code, out = run("eval", "similarity", "topics", "--matrix", str(matrix), "--space", "w2v")
    assert code == 0, out and "pearson" in out
    code, out = run("eval", "similarity", "topics", "--pairs", str(pairs), "--matrix", str(matrix))
    assert code == 2 and "exactly one" in out
    bad = env / "bad.tsv"
    bad.write_text("sport-0\tnope\t1\n")
    code, out = run("eval", "similarity", "topics", "--pairs", str(bad))
    assert code == 2 and "document_not_found" in out and "'nope'" in out

    wordsim = env / "ws.tsv"
    wordsim.write_text("# word1 word2 score\nstriker goal 8\nstadium fans 7\nbank shares 7\nstriker inflation 1\nzebra unicorn 5\n")
    analogies = env / "an.txt"
    analogies.write_text(": sport\nstriker goal goalkeeper penalty\n: markets\nbank shares zebra unicorn\nbank rates market shares\n")
    code, out = run("eval", "words", "topics", "--wordsim", str(wordsim), "--analogies", str(analogies))
    assert code == 0, out
    assert "d2v" in out and "not applicable" in out
    assert "w2v markets: " in out and "(1 oov)" in out
    code, out = run("eval", "words", "topics", "--wordsim", str(wordsim), "--analogies", str(analogies), "--json")
    words = {r["space"]: r for r in json.loads(out)["results"]}
    assert words["d2v"]["status"] == "not applicable" and words["d2v"]["metrics"] is None
    wm = words["w2v"]["metrics"]
    assert wm["wordsim_oov_rate"] == pytest.approx(0.2) and wm["wordsim_pairs"] == 4
    assert wm["analogy_questions"] == 2 and wm["analogy_oov"] == 1
    assert set(wm["sections"]) == {"sport", "markets"}
    bad_ws = env / "bad_ws.txt"
    bad_ws.write_text("striker goal 8\nstadium fans\n")
    code, out = run("eval", "words", "topics", "--wordsim", str(bad_ws), "--analogies", str(analogies))
    assert code == 2 and "bad_ws.txt:2" in out

    # Stored runs: 2 + 1 retrieval, 2 + 1 similarity, 2 words (the --json run) + 1 = w2v only has words rows.
    code, out = run("eval", "list", "topics", "--json")
    runs = json.loads(out)
    tasks = [(r["space"], r["task"]) for r in runs]
    assert tasks.count(("w2v", "retrieval")) == 2 and tasks.count(("d2v", "retrieval")) == 1
    assert tasks.count(("w2v", "similarity")) == 2 and tasks.count(("w2v", "words")) == 2
    assert ("d2v", "words") not in tasks
    assert runs[0]["dataset"] == "queries.jsonl+qrels.txt" and runs[0]["params"]["k"] == [5, 10]
    code, out = run("eval", "list", "topics", "--space", "d2v")
    assert code == 0 and len(out.splitlines()) == 2 and all("\td2v\t" in line for line in out.splitlines())
    assert run("eval", "list", "topics", "--space", "nope")[1].count("space_not_found") == 1

    code, out = run("eval", "retrieval", "topics", "--queries", str(queries), "--qrels", str(qrels), "-k", "100000")
    assert code == 2 and "invalid_k" in out

    with TestClient(create_app(get_settings(), run_worker=False)) as client:
        # Similarity uses the vectors the service searches with: its cosine is the "more like this" score.
        from service.evaluation.runner import Evaluator
        from service.store.repository import resolve_space

        state = client.app.state.vecdex.core
        evaluator = Evaluator(state.db, state.searcher)
        hits = client.post("/collections/topics/documents/sport-0/similar", json={"k": 19, "space": "w2v"}).json()["hits"]
        served = {h["external_id"]: h["score"] for h in hits}
        with state.db.sessions() as session:
            ref = resolve_space(session, "topics", "w2v")
            rows = {
                r.external_id: r
                for r in session.execute(
                    select(Document.id, Document.external_id, Document.text, Document.content_hash).where(
                        Document.external_id.in_(["sport-0", "market-4"])
                    )
                )
            }
        a, b = evaluator._document_vectors(ref, state.runtimes.get(ref), [rows["sport-0"], rows["market-4"]])
        assert float(a @ b) == pytest.approx(served["market-4"], abs=1e-5)

        r = client.get("/collections/topics/evaluations", params={"space": "w2v"})
        assert r.status_code == 200
        body = r.json()
        assert len(body) == 6 and {e["space"] for e in body} == {"w2v"}
        assert body[0]["metrics"]["mrr@10"] == 1.0 and body[0]["embedder_type"] == "word2vec"
        assert len(client.get("/collections/topics/evaluations").json()) == 8
        assert client.get("/collections/topics/evaluations", params={"space": "nope"}).status_code == 404
        assert client.get("/collections/nope/evaluations").status_code == 404

    # A space that is not ready is skipped when not named, refused when named; deleting a space deletes its runs.
    db = Database(get_settings().resolved_database_url)
    try:
        with db.session() as session:
            session.execute(update(Space).where(Space.name == "d2v").values(status="building"))
    finally:
        db.dispose()
    code, out = run("eval", "similarity", "topics", "--pairs", str(pairs))
    assert code == 0 and "d2v" in out and "not ready (space is building)" in out
    code, out = run("eval", "similarity", "topics", "--pairs", str(pairs), "--space", "d2v")
    assert code == 2 and "space_not_ready" in out
    assert run("space", "delete", "topics", "d2v")[0] == 0
    assert {r["space"] for r in json.loads(run("eval", "list", "topics", "--json")[1])} == {"w2v"}
