"""The VectorIndex contract, run over every registered backend x kind x metric.

Whatever engine sits behind ``VectorIndex``, the service relies on exactly
these semantics: upsert never duplicates, removed ids never come back, a
filter with at least k allowed ids yields exactly k of them, padding is -1 and
+-inf, bad input is refused with the field named, and the checkpoint survives
save + reopen. Only the protocol and :mod:`indexers.factory` are used, so a new
engine runs this file unchanged: backends come from ``factory.backends()``,
their kinds and metrics from the backend's capabilities, and one that cannot
run here (``available()`` gives a reason) is skipped with that reason. Each
assertion compares with numpy ground truth so that it can actually fail.

Sizes are small on purpose (3k vectors shared, 1k per mutating test), so a
slower engine runs it quickly; FAISS at 20k is in test_faiss_specific.py.
Set ``VECDEX_TEST_MILVUS_URI`` to run Milvus against a server instead of a
milvus-lite file.
"""

from __future__ import annotations

import itertools
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from indexers import (
    BackendUnavailable,
    DimensionMismatch,
    EngineOptions,
    IndexerError,
    IndexFileError,
    IndexLocation,
    InvalidIds,
    InvalidK,
    InvalidVectors,
    VectorIndex,
    factory,
)

from .data import DIM, K, brute_force, clustered, doc_ids, queries_near, recall, score_matrix, spec_for

SHARED_N = 3_000  # above FAISS's exhaustive threshold, so HNSW/IVF take the approximate path
MUT_N = 1_000
MIN_RECALL = 0.9
MIN_FILTERED_RECALL_HNSW_IP = 0.7  # an HNSW graph under inner product (not a metric) misses some
SPEC = {"ivf_nlist": 16}  # trainable from MUT_N vectors (39 per list)
_names = itertools.count()


FULL = os.environ.get("VECDEX_FULL_CONTRACT") == "1"


def _pairs(kinds: list[str], metrics: list[str]) -> list[tuple[str, str]]:
    """Which (kind, metric) pairs of a backend to run: every kind under cosine (what the embedders
    use) and every metric on the first kind, so each kind and each metric is exercised; the full
    cross product with ``VECDEX_FULL_CONTRACT=1``. An engine maps the metric the same way whatever
    the kind, and the full product doubles a slower engine's run (Milvus: ~2 minutes); FAISS's kinds
    x metrics are checked against brute force at 20k in test_faiss_specific.py."""
    if FULL:
        return list(itertools.product(kinds, metrics))
    base = "cosine" if "cosine" in metrics else metrics[0]
    first = "flat" if "flat" in kinds else kinds[0]
    return [(k, base) for k in kinds] + [(first, m) for m in metrics if m != base]


REQUIRED = {b for b in os.environ.get("VECDEX_REQUIRE_BACKENDS", "").split(",") if b}
"""Backends that must run (CI sets it): for them "unavailable here" is a failure, not a skip."""


def _unavailable(name: str, reason: str) -> list[pytest.MarkDecorator]:
    """Skip with the reason, unless the backend is required: then the cases run and fail on the engine's error."""
    return [] if name in REQUIRED else [pytest.mark.skip(reason=f"{name}: {reason}")]


def _combos() -> list[object]:
    """(backend, kind, metric) for every backend, as its capabilities say; unavailable ones skip."""
    out: list[object] = []
    for name in factory.backends():
        try:
            backend = factory.get_backend(name)
            reason = backend.available()
        except BackendUnavailable as exc:
            out.append(pytest.param((name, "-", "-"), id=name, marks=_unavailable(name, exc.message)))
            continue
        for kind, metric in _pairs(sorted(backend.kinds), sorted(backend.metrics)):
            marks = _unavailable(name, reason) if reason else []
            out.append(pytest.param((name, kind, metric), id=f"{name}-{kind}-{metric}", marks=marks))
    return out


COMBOS = _combos()


@dataclass
class Case:
    backend: str
    kind: str
    metric: str
    index: VectorIndex
    ids: np.ndarray
    vectors: np.ndarray
    location: IndexLocation

    @property
    def pad(self) -> float:
        return np.inf if self.metric == "l2" else -np.inf

    def truth(self, queries: np.ndarray, k: int = K, allowed: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        mask = np.ones(len(self.ids), bool) if allowed is None else np.isin(self.ids, allowed)
        return brute_force(self.vectors[mask], self.ids[mask], queries, k, self.metric)


@pytest.fixture(scope="module")
def options(tmp_path_factory: pytest.TempPathFactory) -> EngineOptions:
    uri = os.environ.get("VECDEX_TEST_MILVUS_URI") or str(tmp_path_factory.mktemp("engines") / "milvus.db")
    return EngineOptions(milvus_uri=uri)


def _location(root: Path, options: EngineOptions) -> IndexLocation:
    return IndexLocation(root / "index", f"vecdex_test_{os.getpid()}_{next(_names)}", options)


def _build(combo: tuple[str, str, str], n: int, seed: int, root: Path, options: EngineOptions) -> Case:
    backend, kind, metric = combo
    vectors, ids = clustered(n, seed=seed), doc_ids(n, seed=seed)
    location = _location(root, options)
    spec = spec_for(kind, backend=backend, **SPEC)
    index = factory.build(spec, DIM, metric, ids, vectors, location)  # type: ignore[arg-type]
    return Case(backend, kind, metric, index, ids, vectors, location)


def _cleanup(case: Case) -> None:
    case.index.save(case.location.directory)  # so destroy finds the manifest and drops external storage
    factory.destroy(case.location.directory, case.location.options)


@pytest.fixture(scope="module", params=COMBOS)
def shared(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, options: EngineOptions
) -> Iterator[Case]:
    """3k vectors per backend x kind x metric, built once; tests on it must not mutate it."""
    case = _build(request.param, SHARED_N, 1, tmp_path_factory.mktemp("shared"), options)
    yield case
    _cleanup(case)


@pytest.fixture(params=COMBOS)
def fresh(request: pytest.FixtureRequest, tmp_path: Path, options: EngineOptions) -> Iterator[Case]:
    """1k vectors, built per test, free to mutate."""
    case = _build(request.param, MUT_N, 2, tmp_path, options)
    yield case
    _cleanup(case)


def assert_well_formed(case: Case, scores: np.ndarray, found: np.ndarray, k: int) -> None:
    """Shapes, dtypes, best-first order, no duplicate id in a row, padding only at the end."""
    assert scores.dtype == np.float32 and found.dtype == np.int64
    assert scores.shape == found.shape and scores.shape[1] == k
    for row_scores, row_ids in zip(scores, found, strict=True):
        valid = row_ids >= 0
        n = int(valid.sum())
        assert valid[:n].all(), "padding must come after every real result"
        assert len(set(row_ids[:n].tolist())) == n, "an id appears twice in one result row"
        assert (row_scores[n:] == case.pad).all()
        real = row_scores[:n]
        assert (np.diff(real) >= -1e-5).all() if case.metric == "l2" else (np.diff(real) <= 1e-5).all()


# --- shape of the API ------------------------------------------------------------


def test_is_a_vector_index(shared: Case) -> None:
    index = shared.index
    assert isinstance(index, VectorIndex)
    assert (index.backend, index.kind, index.dim, index.metric) == (shared.backend, shared.kind, DIM, shared.metric)
    assert len(index) == SHARED_N and index.checkpoint == 0
    assert int(shared.ids[5]) in index and 12345 not in index and -1 not in index and "x" not in index
    live = index.ids()
    assert live.dtype == np.int64 and np.array_equal(live, np.sort(shared.ids))


def test_unknown_backend_names_the_field(tmp_path: Path) -> None:
    with pytest.raises(IndexerError) as info:
        factory.get_backend("no-such-engine")
    assert info.value.field == "index.backend"
    with pytest.raises(IndexFileError):
        factory.open_index(tmp_path / "nothing-here")


# --- search quality -------------------------------------------------------------


def test_neighbours_match_brute_force(shared: Case) -> None:
    queries = queries_near(shared.vectors, 40, seed=3)
    scores, found = shared.index.search(queries, K)
    assert_well_formed(shared, scores, found, K)
    true_scores, true_ids = shared.truth(queries)
    if shared.kind == "flat":  # exact: the very same neighbours and scores
        assert np.array_equal(found, true_ids)
        np.testing.assert_allclose(scores, true_scores, rtol=1e-4, atol=1e-4)
    else:
        assert recall(found, true_ids) >= MIN_RECALL


def test_scores_are_the_documented_metric(shared: Case) -> None:
    """cosine -> cosine similarity, ip -> inner product, l2 -> Euclidean (not squared) distance."""
    queries = queries_near(shared.vectors, 20, seed=4)
    scores, found = shared.index.search(queries, K)
    position = {int(i): p for p, i in enumerate(shared.ids)}
    full = score_matrix(shared.vectors, queries, shared.metric)
    expected = np.array([[full[r, position[int(i)]] for i in row] for r, row in enumerate(found)])
    np.testing.assert_allclose(scores, expected, rtol=1e-4, atol=1e-4)


def test_returns_document_ids_not_positions(shared: Case) -> None:
    _, found = shared.index.search(shared.vectors[:50], K)
    assert np.isin(found, shared.ids).all()
    assert (found >= 10**10).all()  # every test id is >= 1e10; a position would be < 3k


def test_single_query_vector(shared: Case) -> None:
    scores, found = shared.index.search(shared.vectors[7], 3)
    assert scores.shape == found.shape == (1, 3)
    if shared.metric != "ip":  # under ip a longer vector can outscore the query itself
        assert found[0, 0] == shared.ids[7]


# --- filtering ------------------------------------------------------------------


@pytest.mark.parametrize("n_allowed", [12, 300, 1_500])
def test_filter_returns_exactly_k_allowed(shared: Case, n_allowed: int) -> None:
    allowed = np.random.default_rng(n_allowed).choice(shared.ids, n_allowed, replace=False)
    queries = queries_near(shared.vectors, 30, seed=5)
    scores, found = shared.index.search(queries, K, allowed_ids=allowed)
    assert_well_formed(shared, scores, found, K)
    assert (found >= 0).all(), "at least k allowed ids exist, so exactly k must come back"
    assert np.isin(found, allowed).all()
    true_ids = shared.truth(queries, allowed=allowed)[1]
    if shared.kind == "flat":
        assert np.array_equal(found, true_ids)
    else:
        floor = MIN_FILTERED_RECALL_HNSW_IP if (shared.kind, shared.metric) == ("hnsw", "ip") else MIN_RECALL
        assert recall(found, true_ids) >= floor


def test_filter_with_fewer_than_k_allowed_pads(shared: Case) -> None:
    live = shared.ids[[3, 500, 900, 2500]]
    unknown = np.array([1, 2, 999], dtype=np.int64)
    scores, found = shared.index.search(shared.vectors[:5], K, allowed_ids=np.concatenate([live, unknown, live]))
    assert_well_formed(shared, scores, found, K)
    assert (np.sort(found[:, :4], axis=1) == np.sort(live)).all()
    assert (found[:, 4:] == -1).all() and (scores[:, 4:] == shared.pad).all()


def test_empty_filter_returns_only_padding(shared: Case) -> None:
    scores, found = shared.index.search(shared.vectors[:3], K, allowed_ids=np.array([], dtype=np.int64))
    assert (found == -1).all() and (scores == shared.pad).all()


# --- padding and k ---------------------------------------------------------------


@pytest.mark.parametrize("combo", COMBOS)
def test_empty_index_pads_then_fills(combo: tuple[str, str, str], tmp_path: Path, options: EngineOptions) -> None:
    backend, kind, metric = combo
    location = _location(tmp_path, options)
    index = factory.create(spec_for(kind, backend=backend, **SPEC), DIM, metric, location)  # type: ignore[arg-type]
    try:
        assert len(index) == 0 and index.checkpoint == 0 and index.ids().dtype == np.int64
        pad = np.inf if metric == "l2" else -np.inf
        scores, found = index.search(np.ones(DIM, np.float32), 4)
        assert (found == -1).all() and (scores == pad).all() and found.shape == (1, 4)

        vectors, ids = clustered(5, seed=6), doc_ids(5, seed=6)
        index.add(ids, vectors)
        scores, found = index.search(vectors, 8)
        assert (found[:, 5:] == -1).all() and (scores[:, 5:] == pad).all()
        assert (np.sort(found[:, :5], axis=1) == np.sort(ids)).all()
    finally:
        index.save(location.directory)
        factory.destroy(location.directory, options)


@pytest.mark.parametrize("k", [0, -1, 2.5, True, "3"])
def test_k_must_be_a_positive_integer(shared: Case, k: object) -> None:
    with pytest.raises(InvalidK) as info:
        shared.index.search(shared.vectors[:1], k)  # type: ignore[arg-type]
    assert info.value.field == "k"


def test_large_k_is_padding_not_an_error(fresh: Case) -> None:
    scores, found = fresh.index.search(fresh.vectors[:2], MUT_N + 50)
    assert (found[:, :MUT_N] >= 0).all() and (found[:, MUT_N:] == -1).all()
    assert np.array_equal(np.sort(found[0, :MUT_N]), np.sort(fresh.ids))


# --- upsert and remove -------------------------------------------------------------


def test_add_replaces_existing_ids(fresh: Case) -> None:
    moved = fresh.ids[:40]
    new_vectors = clustered(40, seed=99)  # other cluster centres: somewhere else entirely
    fresh_ids = np.array([1, 2, 3], dtype=np.int64)
    fresh.index.add(np.concatenate([moved, fresh_ids]), np.concatenate([new_vectors, clustered(3, seed=7)]))
    assert len(fresh.index) == MUT_N + 3 and 2 in fresh.index

    _, at_new = fresh.index.search(new_vectors, K)
    _, at_old = fresh.index.search(fresh.vectors[:40], K)
    for i, doc in enumerate(moved):
        assert doc in at_new[i], "a replaced vector must be found at its new place"
        assert doc not in at_old[i], "a replaced vector must not be found at its old place"
    _, everything = fresh.index.search(fresh.vectors[:1], MUT_N + 10)
    assert len(set(everything[0][everything[0] >= 0].tolist())) == MUT_N + 3 == (everything[0] >= 0).sum()


def test_remove_counts_present_ids_and_they_never_return(fresh: Case) -> None:
    gone = fresh.ids[:300]
    unknown = np.array([4, 5, 6], dtype=np.int64)
    assert fresh.index.remove(np.concatenate([gone, unknown, gone[:10]])) == 300
    assert fresh.index.remove(gone) == 0
    assert len(fresh.index) == MUT_N - 300
    assert int(gone[0]) not in fresh.index
    assert np.array_equal(fresh.index.ids(), np.sort(fresh.ids[300:]))

    _, found = fresh.index.search(fresh.vectors[:300], K)  # each removed vector's own place
    assert not np.isin(found, gone).any()
    assert (found >= 0).all()
    allowed = np.concatenate([gone, fresh.ids[300:320]])
    _, filtered = fresh.index.search(fresh.vectors[:50], K, allowed_ids=allowed)
    assert np.isin(filtered, fresh.ids[300:320]).all() and (filtered >= 0).all()


def test_remove_everything_then_add_again(fresh: Case) -> None:
    assert fresh.index.remove(fresh.ids) == MUT_N
    assert len(fresh.index) == 0
    _, found = fresh.index.search(fresh.vectors[:2], K)
    assert (found == -1).all()
    fresh.index.add(fresh.ids[:20], fresh.vectors[:20])
    _, found = fresh.index.search(fresh.vectors[:20], 1)
    assert set(found[:, 0].tolist()) <= set(fresh.ids[:20].tolist()) and len(fresh.index) == 20


@pytest.mark.parametrize(
    ("ids", "vectors", "error"),
    [
        ([1, 1], np.zeros((2, DIM)), InvalidIds),  # repeated within one call
        ([-1], np.zeros((1, DIM)), InvalidIds),
        ([1.0], np.zeros((1, DIM)), InvalidIds),
        ([[1], [2]], np.zeros((2, DIM)), InvalidIds),
        ([1, 2, 3], np.zeros((2, DIM)), InvalidIds),  # count mismatch
        ([1], np.zeros((1, DIM + 1)), DimensionMismatch),
        ([1], np.zeros(DIM), DimensionMismatch),
        ([1], np.full((1, DIM), np.nan), InvalidVectors),
        ([1], np.full((1, DIM), 1e300), InvalidVectors),  # overflows float32
        ([1], np.full((1, DIM), "a"), InvalidVectors),
    ],
)
def test_add_rejects_bad_input_and_changes_nothing(shared: Case, ids: object, vectors: np.ndarray, error: type) -> None:
    with pytest.raises(error) as info:
        shared.index.add(np.asarray(ids), vectors)
    assert info.value.message and info.value.field in {"ids", "vectors"}
    assert len(shared.index) == SHARED_N and 1 not in shared.index


def test_remove_rejects_bad_ids(shared: Case) -> None:
    for bad in (np.array([-3]), np.array([1.5]), np.array([[1]])):
        with pytest.raises(InvalidIds) as info:
            shared.index.remove(bad)
        assert info.value.field == "ids"
    assert len(shared.index) == SHARED_N


def test_add_copies_and_converts_vectors(fresh: Case) -> None:
    vectors = clustered(10, seed=11).astype(np.float64)
    ids = np.arange(10, dtype=np.int32)
    fresh.index.add(ids, vectors)
    before = fresh.index.search(vectors, 3)
    vectors[:] = 0  # mutating the caller's array must not reach into the index
    after = fresh.index.search(clustered(10, seed=11), 3)
    assert np.array_equal(before[1], after[1])


def test_search_rejects_bad_queries(shared: Case) -> None:
    with pytest.raises(DimensionMismatch) as info:
        shared.index.search(np.zeros((2, DIM + 1)), K)
    assert info.value.field == "queries"
    with pytest.raises(DimensionMismatch):
        shared.index.search(np.zeros((2, 2, DIM)), K)
    with pytest.raises(InvalidVectors):
        shared.index.search(np.full(DIM, np.inf), K)
    with pytest.raises(InvalidVectors):
        shared.index.search(np.full(DIM, np.nan), K)
    with pytest.raises(InvalidIds) as info:
        shared.index.search(shared.vectors[:1], K, allowed_ids=np.array([1.5]))
    assert info.value.field == "allowed_ids"


# --- persistence: save, checkpoint, reopen, destroy ------------------------------------


def test_checkpoint_survives_save_and_reopen(fresh: Case) -> None:
    directory, options = fresh.location.directory, fresh.location.options
    fresh.index.remove(fresh.ids[:100])
    fresh.index.add(fresh.ids[100:150], clustered(50, seed=12))
    assert fresh.index.checkpoint == 0
    fresh.index.save(directory, checkpoint=42)
    assert fresh.index.checkpoint == 42
    fresh.index.save(directory)  # None keeps the checkpoint
    assert fresh.index.checkpoint == 42
    with pytest.raises(IndexerError) as info:
        fresh.index.save(directory, checkpoint=-1)
    assert info.value.field == "checkpoint" and fresh.index.checkpoint == 42

    loaded = factory.open_index(directory, options)
    assert (loaded.backend, loaded.kind, loaded.dim, loaded.metric) == (fresh.backend, fresh.kind, DIM, fresh.metric)
    assert loaded.checkpoint == 42 and len(loaded) == MUT_N - 100
    assert np.array_equal(loaded.ids(), fresh.index.ids())
    queries = fresh.vectors[:150]
    for kwargs in ({}, {"allowed_ids": fresh.ids[::7]}):
        expected, got = fresh.index.search(queries, K, **kwargs), loaded.search(queries, K, **kwargs)
        assert np.array_equal(expected[1], got[1])
        np.testing.assert_allclose(expected[0], got[0], rtol=1e-5, atol=1e-5)
    assert not np.isin(loaded.search(queries, K)[1], fresh.ids[:100]).any()


def test_reopened_index_stays_writable(fresh: Case) -> None:
    directory, options = fresh.location.directory, fresh.location.options
    fresh.index.save(directory, checkpoint=5)
    loaded = factory.open_index(directory, options)
    loaded.add(np.array([7], dtype=np.int64), fresh.vectors[:1])
    assert loaded.remove(fresh.ids[250:260]) == 10
    assert 7 in loaded and len(loaded) == MUT_N + 1 - 10
    assert 7 in loaded.search(fresh.vectors[:1], K)[1][0]
    loaded.save(directory, checkpoint=9)
    again = factory.open_index(directory, options)
    assert again.checkpoint == 9 and len(again) == MUT_N - 9 and 7 in again
    fresh.index = again  # the fixture saves and destroys the live handle


def test_destroy_removes_the_index(fresh: Case) -> None:
    directory, options = fresh.location.directory, fresh.location.options
    fresh.index.save(directory, checkpoint=1)
    factory.destroy(directory, options)
    assert not directory.exists()
    with pytest.raises(IndexFileError):
        factory.open_index(directory, options)
    factory.destroy(directory, options)  # already gone: quiet
    rebuilt = factory.build(
        spec_for(fresh.kind, backend=fresh.backend, **SPEC), DIM, fresh.metric,  # type: ignore[arg-type]
        fresh.ids, fresh.vectors, fresh.location,
    )
    assert len(rebuilt) == MUT_N  # the name is free again, nothing of the old index is left
    fresh.index = rebuilt


@pytest.mark.parametrize("combo", COMBOS)
def test_bulk_build_reports_index_progress(combo: tuple[str, str, str], tmp_path: Path, options: EngineOptions) -> None:
    class Recorder:
        def __init__(self) -> None:
            self.phases: list[tuple[str, int]] = []
            self.done = 0

        def start(self, phase: str, total: int) -> None:
            self.phases.append((phase, total))

        def advance(self, n: int = 1) -> None:
            self.done += n

    backend, kind, metric = combo
    progress, location = Recorder(), _location(tmp_path, options)
    vectors, ids = clustered(MUT_N, seed=3), doc_ids(MUT_N, seed=3)
    index = factory.build(spec_for(kind, backend=backend, **SPEC), DIM, metric, ids, vectors, location, progress)  # type: ignore[arg-type]
    try:
        assert ("index", MUT_N) in progress.phases and progress.done == MUT_N
    finally:
        index.save(location.directory)
        factory.destroy(location.directory, options)


# --- concurrency -----------------------------------------------------------------


def test_concurrent_searches_and_writes(fresh: Case) -> None:
    """Readers run while a writer upserts and removes; nobody crashes, every row stays well-formed."""
    errors: list[BaseException] = []
    stop = threading.Event()
    queries = queries_near(fresh.vectors, 8, seed=13)
    stable = fresh.ids[500:]  # never touched by the writer

    def reader() -> None:
        try:
            while not stop.is_set():
                scores, found = fresh.index.search(queries, K)
                assert_well_formed(fresh, scores, found, K)
                assert (found >= 0).all()
                _, filtered = fresh.index.search(queries, K, allowed_ids=stable[:50])
                assert np.isin(filtered, stable[:50]).all() and (filtered >= 0).all()
        except BaseException as exc:  # noqa: BLE001 - handed to the main thread
            errors.append(exc)

    threads = [threading.Thread(target=reader) for _ in range(3)]
    for t in threads:
        t.start()
    expected = set(fresh.ids.tolist())
    try:
        rng = np.random.default_rng(14)
        for step in range(6):
            batch = fresh.ids[rng.choice(500, 60, replace=False)]
            fresh.index.add(batch, clustered(60, seed=100 + step))
            fresh.index.remove(batch[:20])
            expected -= set(batch[:20].tolist())
            expected |= set(batch[20:].tolist())
    finally:
        stop.set()
        for t in threads:
            t.join()
    assert not errors, errors[0]
    assert fresh.index.ids().tolist() == sorted(expected) and len(fresh.index) == len(expected)
