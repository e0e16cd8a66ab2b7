"""Documents searched through their passages over a real FAISS index: ranked by their best passage, k
distinct documents guaranteed (deepening past documents with many strong passages), filters by document
id, replacement and removal of every passage, and the counts saved and read back."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from indexers import IndexLocation, factory
from indexers.base import IndexSpec
from indexers.errors import IndexerError
from embedders.chunking import ChunkSpec
from indexers.passages import PassageIndex, doc_of, passage_key

DIM = 8


def _unit(v: np.ndarray) -> np.ndarray:
    return (v / np.linalg.norm(v, axis=-1, keepdims=True)).astype(np.float32)


@pytest.fixture
def index(tmp_path: Path) -> PassageIndex:
    inner = factory.create(IndexSpec(kind="flat"), DIM, "cosine", IndexLocation(tmp_path / "ix", "t"))
    return PassageIndex(inner, ChunkSpec(size=50, overlap=10))


def test_keys_carry_the_document() -> None:
    keys = passage_key(np.array([5, 5, 123456789]), np.array([0, 7, 4095]))
    assert doc_of(keys).tolist() == [5, 5, 123456789] and (keys & 4095).tolist() == [0, 7, 4095]


def test_a_document_ranks_by_its_best_passage(index: PassageIndex) -> None:
    rng = np.random.default_rng(0)
    target = _unit(rng.normal(size=DIM))
    # document 1: nine unrelated passages and one on the target; document 2: all middling
    doc1 = _unit(rng.normal(size=(10, DIM)))
    doc1[6] = target
    doc2 = _unit(np.stack([target + rng.normal(scale=0.9, size=DIM) for _ in range(4)]))
    index.put([1, 2], [doc1, doc2])
    hits = index.search_documents(target, k=2)
    assert [h.doc_id for h in hits] == [1, 2]
    assert hits[0].passages[0][0] == 6 and hits[0].score == pytest.approx(1.0, abs=1e-5)
    assert len(hits[1].passages) == 3 and [s for _, s in hits[1].passages] == sorted((s for _, s in hits[1].passages), reverse=True)


def test_k_documents_even_when_one_holds_the_best_passages(index: PassageIndex) -> None:
    rng = np.random.default_rng(1)
    q = _unit(rng.normal(size=DIM))
    crowd = _unit(np.stack([q + rng.normal(scale=0.05, size=DIM) for _ in range(200)]))
    others = [_unit(rng.normal(size=(2, DIM))) for _ in range(5)]
    index.put([10, 11, 12, 13, 14, 15], [crowd, *others])
    hits = index.search_documents(q, k=4)
    assert len(hits) == 4 and hits[0].doc_id == 10 and len({h.doc_id for h in hits}) == 4
    assert len(index.search_documents(q, k=50)) == 6  # all there are


def test_filters_replacement_and_removal(index: PassageIndex, tmp_path: Path) -> None:
    rng = np.random.default_rng(2)
    q = _unit(rng.normal(size=DIM))
    index.put([1, 2, 3], [np.stack([q]), _unit(rng.normal(size=(3, DIM))), _unit(rng.normal(size=(2, DIM)))])
    assert [h.doc_id for h in index.search_documents(q, k=1, allowed_doc_ids=np.array([2, 3]))][0] in (2, 3)
    assert index.search_documents(q, k=3, allowed_doc_ids=np.array([99])) == []
    # new text, new passages: the old ones are gone, not mixed in
    index.put([1], [_unit(rng.normal(size=(2, DIM)))])
    assert index.counts[1] == 2 and len(index.inner) == 2 + 3 + 2
    assert index.search_documents(q, k=1)[0].score < 0.999
    assert index.remove(np.array([2, 77])) == 1 and 2 not in index and len(index.inner) == 4
    index.put([3], [np.empty((0, DIM), dtype=np.float32)])
    assert 3 not in index and len(index.inner) == 2
    index.save(tmp_path / "ix", checkpoint=9)
    reopened = PassageIndex.wrap_saved(factory.open_index(tmp_path / "ix"), tmp_path / "ix")
    assert reopened is not None and reopened.counts == {1: 2} and reopened.chunking == index.chunking
    assert [h.doc_id for h in reopened.search_documents(q, k=5)] == [1] and reopened.checkpoint == 9


def test_the_vector_index_shaped_search_answers_documents(index: PassageIndex) -> None:
    rng = np.random.default_rng(3)
    q = _unit(rng.normal(size=DIM))
    index.put([4, 5], [np.stack([_unit(rng.normal(size=DIM)), q]), _unit(rng.normal(size=(3, DIM)))])
    scores, ids = index.search(np.stack([q, q]), 3)
    assert ids.shape == (2, 3) and ids[0].tolist()[:2] == [4, 5] and ids[0, 2] == -1 and scores[0, 2] == -np.inf
    assert scores[0, 0] == pytest.approx(1.0, abs=1e-5) and index.ids().tolist() == [4, 5] and index.kind == "flat"
    # a passage with nothing embeddable (a zero row) keeps its number but is not indexed
    index.put([6], [np.stack([np.zeros(DIM, dtype=np.float32), q])])
    assert index.counts[6] == 2 and len(index.inner) == 2 + 3 + 1
    assert {h.doc_id: h.passages[0][0] for h in index.search_documents(q, 3)}[6] == 1


def test_bad_input_is_refused_and_changes_nothing(index: PassageIndex) -> None:
    index.put([1], [np.ones((2, DIM), dtype=np.float32)])
    with pytest.raises(IndexerError):
        index.put([1, 2], [np.zeros((1, DIM), dtype=np.float32)])
    with pytest.raises(IndexerError):
        index.put([2, 1], [np.ones((1, DIM), dtype=np.float32), np.ones((4097, DIM), dtype=np.float32)])
    assert index.counts == {1: 2} and len(index.inner) == 2


def _backends() -> list[object]:
    from indexers.errors import BackendUnavailable
    from tests.indexers.test_contract import _unavailable

    out: list[object] = []
    for name in factory.backends():
        try:
            reason = factory.get_backend(name).available()
        except BackendUnavailable as exc:
            reason = exc.message
        out.append(pytest.param(name, id=name, marks=_unavailable(name, reason) if reason else []))
    return out


@pytest.mark.parametrize("backend", _backends())
def test_every_engine_holds_passages(backend: str, tmp_path: Path) -> None:
    """The wrapper asks only the VectorIndex protocol of its inner index: Milvus serves passages as FAISS does."""
    from indexers.factory import EngineOptions

    options = EngineOptions(milvus_uri=str(tmp_path / "milvus.db"))
    location = IndexLocation(tmp_path / "ix", f"vecdex_passages_{backend}", options)
    inner = factory.create(IndexSpec(kind="flat", backend=backend), DIM, "cosine", location)  # type: ignore[arg-type]
    index = PassageIndex(inner, ChunkSpec(size=50, overlap=10))
    try:
        rng = np.random.default_rng(4)
        q = _unit(rng.normal(size=DIM))
        big = 9_000_000_000  # a document id far past 32 bits: its keys need all of int64
        index.put([big, 3], [np.stack([_unit(rng.normal(size=DIM)), q]), _unit(rng.normal(size=(2, DIM)))])
        hits = index.search_documents(q, 2, allowed_doc_ids=np.array([3, big]))
        assert [h.doc_id for h in hits] == [big, 3] and hits[0].passages[0][0] == 1
        index.remove(np.array([big]))
        assert [h.doc_id for h in index.search_documents(q, 2)] == [3]
    finally:
        factory.destroy(tmp_path / "ix", options)
