"""What only the FAISS implementation has: auto sizing, IVF training, HNSW
tombstones and compaction, the exact fallback for filters, atomic snapshots."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import faiss
import numpy as np
import pytest

from indexers import (
    EngineOptions,
    FaissIndex,
    IndexerError,
    IndexFileError,
    IndexLocation,
    IndexSpec,
    InsufficientTrainingData,
    SearchParams,
    choose_kind,
    factory,
)
from indexers import atomic
from indexers.faiss import index as faiss_index
from indexers.faiss import kinds, snapshot, threads

from .data import DIM, KINDS, K, brute_force, clustered, doc_ids, queries_near, recall, spec_for

build_index = FaissIndex.build
load_index = FaissIndex.open

# --- choosing a kind ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("n", "kind"),
    [(0, "flat"), (9_999, "flat"), (10_000, "hnsw"), (999_999, "hnsw"), (1_000_000, "ivf"), (10**9, "ivf")],
)
def test_choose_kind_thresholds(n: int, kind: str) -> None:
    assert choose_kind(n) == kind


def test_choose_kind_rejects_negative_counts() -> None:
    with pytest.raises(ValueError):
        choose_kind(-1)


def test_auto_build_resolves_by_size() -> None:
    small = build_index(IndexSpec(), 8, "cosine", np.arange(500), clustered(500, 8))
    assert small.kind == "flat" and small.spec.kind == "auto"
    at_threshold = build_index(
        IndexSpec(hnsw_m=8, hnsw_ef_construction=16), 4, "l2", np.arange(10_000), clustered(10_000, 4)
    )
    assert at_threshold.kind == "hnsw"


@pytest.mark.parametrize("n", [1_000_000, 1_234_567, 10**8])
@pytest.mark.parametrize("nlist", [None, 10**6])
def test_auto_ivf_always_has_enough_training_data(n: int, nlist: int | None) -> None:
    """At every size auto picks IVF for, the (possibly capped) list count can be trained."""
    assert choose_kind(n) == "ivf"
    got = kinds.ivf_nlist(IndexSpec(ivf_nlist=nlist), n, auto=True)
    assert got >= 1 and n >= kinds.MIN_POINTS_PER_LIST * got
    if nlist is None:
        assert got == round(4 * np.sqrt(n))


def test_auto_ivf_caps_an_oversized_nlist(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(kinds, "FLAT_MAX_VECTORS", 100)
    monkeypatch.setattr(kinds, "HNSW_MAX_VECTORS", 1_000)
    vectors, ids = clustered(2_000), doc_ids(2_000)
    index = build_index(IndexSpec(ivf_nlist=500), DIM, "cosine", ids, vectors)  # 500 lists would need 19,500
    assert index.kind == "ivf" and index.nlist == 2_000 // kinds.MIN_POINTS_PER_LIST
    _, found = index.search(vectors[:20], 1)
    assert (found[:, 0] == ids[:20]).all()


class _Recorder:
    def __init__(self) -> None:
        self.events: list[tuple[str, int]] = []

    def start(self, phase: str, total: int) -> None:
        self.events.append(("start:" + phase, total))

    def advance(self, n: int = 1) -> None:
        self.events.append(("advance", n))


def test_bulk_build_reports_progress_per_chunk(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(faiss_index, "ADD_CHUNK", 400)
    progress = _Recorder()
    build_index(spec_for("flat"), DIM, "l2", np.arange(1_000), clustered(1_000), progress=progress)
    assert progress.events == [("start:index", 1_000), ("advance", 400), ("advance", 400), ("advance", 200)]


# --- IVF training ---------------------------------------------------------------------


def test_explicit_ivf_with_too_few_vectors_says_how_many() -> None:
    with pytest.raises(InsufficientTrainingData) as info:
        build_index(IndexSpec(kind="ivf", ivf_nlist=100), DIM, "l2", np.arange(1_000), clustered(1_000))
    assert info.value.field == "index.kind" and info.value.code == "insufficient_training_data"
    assert "3900" in info.value.message and "1000" in info.value.message and "at most 25" in info.value.message


def test_explicit_ivf_default_nlist_too_few() -> None:
    with pytest.raises(InsufficientTrainingData, match=r"4\*sqrt\(N\)=283 needs at least 11037"):
        build_index(IndexSpec(kind="ivf"), DIM, "l2", np.arange(5_000), clustered(5_000))
    with pytest.raises(InsufficientTrainingData):
        build_index(IndexSpec(kind="ivf"), DIM, "l2", np.zeros(0, np.int64), np.zeros((0, DIM)))


def test_empty_index_for_each_kind() -> None:
    assert FaissIndex.empty(IndexSpec(), DIM, "cosine").kind == "flat"  # nothing to size "auto" by
    assert FaissIndex.empty(spec_for("hnsw"), DIM, "cosine").kind == "hnsw"
    with pytest.raises(IndexerError):
        FaissIndex.empty(IndexSpec(), 0, "cosine")
    with pytest.raises(IndexerError):
        FaissIndex.empty(IndexSpec(), DIM, "hamming")  # type: ignore[arg-type]


def test_empty_ivf_trains_itself_once_it_has_enough_vectors(tmp_path: Path) -> None:
    index = FaissIndex.empty(spec_for("ivf", ivf_nlist=8, ivf_nprobe=2), DIM, "cosine")
    vectors, ids = clustered(400, seed=3), doc_ids(400, seed=3)
    index.add(ids[:300], vectors[:300])  # 8 lists need 312
    assert index.kind == "ivf" and not index.trained and index.nlist is None
    truth = brute_force(vectors[:300], ids[:300], vectors[:5], K, "cosine")[1]
    assert np.array_equal(index.search(vectors[:5], K)[1], truth)  # exact while untrained

    index.save(tmp_path / "untrained")
    assert not load_index(tmp_path / "untrained").trained

    index.add(ids[300:], vectors[300:])
    assert index.trained and index.nlist == 8 and len(index) == 400 and index.tombstones == 0
    _, found = index.search(vectors, 1)
    assert (found[:, 0] == ids).mean() > 0.95


# --- tombstones and compaction -------------------------------------------------------------


@pytest.fixture(scope="module")
def hnsw_snapshot(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, np.ndarray, np.ndarray]:
    vectors, ids = clustered(4_000, seed=4), doc_ids(4_000, seed=4)
    directory = tmp_path_factory.mktemp("hnsw") / "snap"
    build_index(spec_for("hnsw"), DIM, "cosine", ids, vectors).save(directory)
    return directory, ids, vectors


def test_hnsw_removal_leaves_tombstones_until_compaction(
    hnsw_snapshot: tuple[Path, np.ndarray, np.ndarray],
) -> None:
    directory, ids, vectors = hnsw_snapshot
    index = load_index(directory)
    assert index.remove(ids[:400]) == 400
    assert index.tombstones == 400 and len(index) == 3_600  # 10%: below the compaction threshold

    queries = queries_near(vectors, 50, seed=5)
    _, found = index.search(queries, K)
    assert not np.isin(found, ids[:400]).any()
    assert recall(found, brute_force(vectors[400:], ids[400:], queries, K, "cosine")[1]) >= 0.9

    assert index.remove(ids[400:1_100]) == 700  # 1,100 of 4,000 positions dead: past 25%
    assert index.tombstones == 0 and len(index) == 2_900
    assert np.array_equal(index.ids(), np.sort(ids[1_100:]))
    _, found = index.search(queries, K)
    assert recall(found, brute_force(vectors[1_100:], ids[1_100:], queries, K, "cosine")[1]) >= 0.9


def test_repeated_upserts_are_compacted(hnsw_snapshot: tuple[Path, np.ndarray, np.ndarray]) -> None:
    directory, ids, vectors = hnsw_snapshot
    index = load_index(directory)
    index.add(ids[:500], vectors[:500])
    assert index.tombstones == 500 and len(index) == 4_000
    index.add(ids[:1_000], vectors[:1_000])  # 1,500 dead of 5,000 positions
    assert index.tombstones == 0 and len(index) == 4_000
    _, found = index.search(vectors[:100], 1)
    assert (found[:, 0] == ids[:100]).mean() > 0.95


@pytest.mark.parametrize("kind", KINDS)
def test_compact_keeps_ids_and_results(kind: str) -> None:
    vectors, ids = clustered(3_000, seed=6), doc_ids(3_000, seed=6)
    index = build_index(spec_for(kind), DIM, "l2", ids, vectors)
    nlist = index.nlist
    index.remove(ids[:500])
    queries = queries_near(vectors, 30, seed=7)
    before = index.search(queries, K)
    index.compact()
    after = index.search(queries, K)
    assert index.tombstones == 0 and len(index) == 2_500 and index.nlist == nlist  # IVF not retrained
    if kind == "hnsw":  # a rebuilt graph is a different graph
        assert recall(after[1], before[1]) >= 0.9
    else:
        assert np.array_equal(before[1], after[1])
        np.testing.assert_allclose(before[0], after[0], rtol=1e-5)


# --- filtered search fallback ------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "spec"),
    [("hnsw", spec_for("hnsw", hnsw_ef_search=16)), ("ivf", spec_for("ivf", ivf_nprobe=1))],
)
def test_short_approximate_results_fall_back_to_exact(
    kind: str, spec: IndexSpec, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Force the approximate path for a 12-of-4000 filter; it comes back short, the fallback fills it."""
    vectors, ids = clustered(4_000, seed=8), doc_ids(4_000, seed=8)
    index = build_index(spec, DIM, "l2", ids, vectors)
    monkeypatch.setattr(faiss_index, "EXACT_MAX_CANDIDATES", 0)
    monkeypatch.setattr(faiss_index, "EXACT_MAX_FRACTION", 0.0)
    monkeypatch.setattr(faiss_index, "GATHER_MAX_FLOATS", 0)
    monkeypatch.setattr(faiss_index, "MAX_EF_SEARCH", 16)  # no widening: let HNSW fail on its own
    allowed = np.random.default_rng(9).choice(ids, 12, replace=False)
    queries = queries_near(vectors, 20, seed=10)

    raw = index._approximate(queries, K, index._candidates(allowed))[1]
    n_short = int(((raw >= 0).sum(axis=1) < K).sum())
    assert n_short, "precondition: the approximate search alone comes back short"

    calls: list[int] = []
    exhaustive = FaissIndex._exhaustive

    def spy(self: FaissIndex, q: np.ndarray, k: int, selector: object) -> tuple[np.ndarray, np.ndarray]:
        calls.append(len(q))
        return exhaustive(self, q, k, selector)

    monkeypatch.setattr(FaissIndex, "_exhaustive", spy)
    _, found = index.search(queries, K, allowed_ids=allowed)
    assert calls == [n_short]  # only the short rows were redone
    mask = np.isin(ids, allowed)
    assert np.array_equal(found, brute_force(vectors[mask], ids[mask], queries, K, "l2")[1])


def test_small_filters_go_straight_to_the_exact_path(monkeypatch: pytest.MonkeyPatch) -> None:
    vectors, ids = clustered(3_000, seed=11), doc_ids(3_000, seed=11)
    index = build_index(spec_for("ivf", ivf_nprobe=1), DIM, "ip", ids, vectors)
    monkeypatch.setattr(FaissIndex, "_approximate", lambda *a: pytest.fail("approximate path used"))
    allowed = ids[::300]
    _, found = index.search(vectors[:10], 5, allowed_ids=allowed)
    mask = np.isin(ids, allowed)
    assert np.array_equal(found, brute_force(vectors[mask], ids[mask], vectors[:10], 5, "ip")[1])


# --- atomic snapshots -------------------------------------------------------------------


@pytest.fixture
def saved(tmp_path: Path) -> tuple[FaissIndex, Path, np.ndarray]:
    vectors, ids = clustered(1_500, seed=12), doc_ids(1_500, seed=12)
    index = build_index(spec_for("flat"), DIM, "cosine", ids, vectors)
    index.save(tmp_path / "snap", checkpoint=1)
    return index, tmp_path / "snap", vectors


def _assert_v1_intact(directory: Path, vectors: np.ndarray) -> None:
    loaded = load_index(directory)
    assert len(loaded) == 1_500 and loaded.checkpoint == 1
    assert sorted(p.name for p in directory.parent.iterdir()) == ["snap"], "a temp or aside dir was left behind"


def test_failed_write_leaves_previous_snapshot_intact(
    saved: tuple[FaissIndex, Path, np.ndarray], monkeypatch: pytest.MonkeyPatch
) -> None:
    index, directory, vectors = saved
    index.add(np.array([1, 2]), vectors[:2])

    def broken_write(*args: object) -> None:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(faiss, "write_index", broken_write)
    with pytest.raises(IndexFileError, match="disk on fire"):
        index.save(directory, checkpoint=2)
    _assert_v1_intact(directory, vectors)
    assert index.checkpoint == 1


def test_failed_swap_puts_the_old_snapshot_back(
    saved: tuple[FaissIndex, Path, np.ndarray], monkeypatch: pytest.MonkeyPatch
) -> None:
    index, directory, vectors = saved
    real_rename = os.rename

    def rename(src: os.PathLike[str], dst: os.PathLike[str]) -> None:
        if ".tmp-" in Path(src).name:  # the new snapshot cannot be moved in
            raise OSError("rename refused")
        real_rename(src, dst)

    monkeypatch.setattr(os, "rename", rename)
    with pytest.raises(IndexFileError, match="rename refused"):
        index.save(directory, checkpoint=2)
    monkeypatch.setattr(os, "rename", real_rename)
    _assert_v1_intact(directory, vectors)


def test_successful_save_replaces_and_cleans_up(saved: tuple[FaissIndex, Path, np.ndarray]) -> None:
    index, directory, vectors = saved
    index.remove(index.ids()[:10])
    index.save(directory, checkpoint=2)
    assert sorted(p.name for p in directory.parent.iterdir()) == ["snap"]
    loaded = load_index(directory)
    assert len(loaded) == 1_490 and loaded.checkpoint == 2
    index.save(directory)  # checkpoint=None keeps the current checkpoint
    assert load_index(directory).checkpoint == 2

    manifest = json.loads((directory / snapshot.MANIFEST_FILE).read_text())
    assert manifest["format_version"] == snapshot.FORMAT_VERSION and manifest["faiss_version"] == faiss.__version__
    assert (manifest["kind"], manifest["dim"], manifest["metric"], manifest["count"]) == (
        "flat",
        DIM,
        "cosine",
        1_490,
    )
    assert manifest["spec"]["kind"] == "flat" and set(manifest["files"]) == {snapshot.INDEX_FILE, snapshot.IDS_FILE}


def test_load_recovers_from_a_crash_between_renames(saved: tuple[FaissIndex, Path, np.ndarray]) -> None:
    _, directory, vectors = saved
    os.rename(directory, directory.with_name(".snap.old-0123abcd"))  # the crash window
    _assert_v1_intact(directory, vectors)


def test_save_removes_stale_leftovers_only(saved: tuple[FaissIndex, Path, np.ndarray]) -> None:
    index, directory, _ = saved
    stale, fresh = directory.with_name(".snap.tmp-stale"), directory.with_name(".snap.tmp-fresh")
    stale.mkdir()
    fresh.mkdir()
    old = time.time() - 2 * atomic.STALE_SIBLING_SECONDS
    os.utime(stale, (old, old))
    index.save(directory)
    assert not stale.exists() and fresh.exists()  # a fresh one may belong to a save in progress
    assert directory.stat().st_mode & 0o777 == 0o777 & ~_umask()  # readable by whoever the umask allows


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current


def test_save_refuses_a_file_in_the_way_and_bad_checkpoint(tmp_path: Path) -> None:
    index = build_index(spec_for("flat"), DIM, "l2", np.arange(3), clustered(3))
    (tmp_path / "file").write_text("not a snapshot")
    with pytest.raises(IndexFileError):
        index.save(tmp_path / "file")
    for bad in (-1, 1.5, "3", True):
        with pytest.raises(IndexerError) as info:
            index.save(tmp_path / "snap", checkpoint=bad)  # type: ignore[arg-type]
        assert info.value.field == "checkpoint" and not (tmp_path / "snap").exists()


def test_manifest_names_the_backend_and_the_checkpoint(saved: tuple[FaissIndex, Path, np.ndarray]) -> None:
    _, directory, _ = saved
    manifest = json.loads((directory / snapshot.MANIFEST_FILE).read_text())
    assert manifest["backend"] == "faiss" and manifest["checkpoint"] == 1 and "extra" not in manifest
    assert factory.manifest_backend(directory) == "faiss"


def test_snapshots_from_before_checkpoint_still_open(saved: tuple[FaissIndex, Path, np.ndarray]) -> None:
    """Data dirs written when the marker was ``extra.last_change_id`` (and there was no backend key)."""
    _, directory, _ = saved
    path = directory / snapshot.MANIFEST_FILE
    manifest = json.loads(path.read_text())
    del manifest["backend"], manifest["checkpoint"]
    manifest["extra"] = {"last_change_id": 7}
    path.write_text(json.dumps(manifest))
    index = factory.open_index(directory)
    assert index.backend == "faiss" and index.checkpoint == 7 and len(index) == 1_500
    manifest["extra"] = {}
    path.write_text(json.dumps(manifest))
    assert factory.open_index(directory).checkpoint == 0


def test_factory_builds_faiss_with_the_default_spec(tmp_path: Path) -> None:
    location = IndexLocation(tmp_path / "index", "vecdex_s1_g0", EngineOptions())
    index = factory.build(IndexSpec(), DIM, "cosine", doc_ids(50), clustered(50), location)
    assert isinstance(index, FaissIndex) and index.backend == "faiss" and index.kind == "flat"
    index.save(location.directory, checkpoint=3)
    factory.destroy(location.directory)
    assert not location.directory.exists()
    factory.destroy(location.directory)  # nothing there: quiet


def test_load_refuses_another_format(tmp_path: Path) -> None:
    (tmp_path / "snap").mkdir()
    (tmp_path / "snap" / snapshot.MANIFEST_FILE).write_text(json.dumps({"format": "something-else"}))
    with pytest.raises(IndexFileError, match="does not hold"):
        load_index(tmp_path / "snap")


# --- package hygiene ------------------------------------------------------------------


def test_importing_the_package_does_not_import_faiss() -> None:
    code = (
        "import sys, indexers; assert 'faiss' not in sys.modules; "
        "assert 'pymilvus' not in sys.modules; indexers.backends(); assert 'faiss' not in sys.modules; "
        "indexers.FaissIndex; assert 'faiss' in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).parents[2])


def test_thread_budget(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VECDEX_FAISS_THREADS", "3")
    assert threads._detect_cpus() == 3
    with pytest.raises(ValueError):
        threads.set_faiss_threads(0)


# --- per-query search parameters ---------------------------------------------------------


def _hard(n: int = 6_000, dim: int = 32, seed: int = 21) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Unclustered Gaussian vectors: hard enough that a narrow beam / few probed lists miss neighbours."""
    rng = np.random.default_rng(seed)
    vectors = rng.standard_normal((n, dim)).astype(np.float32)
    return vectors, doc_ids(n, seed=seed), rng.standard_normal((50, dim)).astype(np.float32)


def test_ef_search_per_query_trades_recall_and_leaves_the_spec_alone() -> None:
    vectors, ids, queries = _hard()
    index = build_index(spec_for("hnsw", hnsw_m=8, hnsw_ef_construction=32, hnsw_ef_search=32), 32, "l2", ids, vectors)
    truth = brute_force(vectors, ids, queries, K, "l2")[1]
    default = index.search(queries, K)[1]
    narrow = index.search(queries, K, params=SearchParams(ef_search=1))[1]  # raised to k
    wide = index.search(queries, K, params=SearchParams(ef_search=1_024))[1]
    assert recall(narrow, truth) < recall(default, truth) < recall(wide, truth)
    assert recall(wide, truth) >= 0.97
    assert np.array_equal(index.search(queries, K)[1], default)  # nothing stuck to the index
    assert index.spec.hnsw_ef_search == 32
    # nprobe means nothing to HNSW and is ignored there.
    assert np.array_equal(index.search(queries, K, params=SearchParams(nprobe=1))[1], default)


def test_nprobe_per_query_and_all_lists_is_exact() -> None:
    vectors, ids, queries = _hard()
    index = build_index(spec_for("ivf", ivf_nlist=64, ivf_nprobe=4), 32, "ip", ids, vectors)
    truth = brute_force(vectors, ids, queries, K, "ip")[1]
    one = index.search(queries, K, params=SearchParams(nprobe=1))[1]
    default = index.search(queries, K)[1]
    everything = index.search(queries, K, params=SearchParams(nprobe=10_000))[1]  # capped at nlist
    assert recall(one, truth) < recall(default, truth) < 1.0
    assert np.array_equal(everything, truth)
    assert np.array_equal(index.search(queries, K, params=SearchParams(ef_search=4_096))[1], default)


@pytest.mark.parametrize("kind", ["hnsw", "ivf"])
def test_exact_param_gives_ground_truth_with_and_without_a_filter(kind: str) -> None:
    vectors, ids, queries = _hard()
    spec = spec_for(kind, hnsw_m=4, hnsw_ef_construction=8, hnsw_ef_search=8, ivf_nlist=64, ivf_nprobe=1)
    index = build_index(spec, 32, "cosine", ids, vectors)
    truth = brute_force(vectors, ids, queries, K, "cosine")[1]
    assert recall(index.search(queries, K)[1], truth) < 1.0  # precondition: the defaults miss some
    assert np.array_equal(index.search(queries, K, params=SearchParams(exact=True))[1], truth)
    allowed = ids[: len(ids) // 2]
    mask = np.isin(ids, allowed)
    found = index.search(queries, K, allowed_ids=allowed, params=SearchParams(exact=True))[1]
    assert np.array_equal(found, brute_force(vectors[mask], ids[mask], queries, K, "cosine")[1])


@pytest.mark.parametrize(
    "bad", [{"ef_search": 0}, {"ef_search": 5_000}, {"nprobe": 0}, {"nprobe": -3}, {"efSearch": 64}]
)
def test_search_params_are_validated(bad: dict[str, int]) -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError):
        SearchParams(**bad)


# --- FAISS at scale: 20k vectors, the exhaustive switch, tombstones, snapshot files ---------

BIG_N = 20_000
MIN_RECALL = 0.9
# FAISS's HNSW graph is built for a metric; inner product is not one, and a few
# percent of the true IP neighbours are unreachable from the entry point (0.97
# recall unfiltered here, ~0.8 under a 15% filter even with a 4096-wide beam).
# Cosine -- what the embedders use -- and l2 reach >= 0.99.
MIN_FILTERED_RECALL_HNSW_IP = 0.7
_COMBOS = [(kind, metric) for kind in KINDS for metric in ("cosine", "ip", "l2")]


@pytest.fixture(scope="module", params=_COMBOS, ids=lambda c: f"{c[0]}-{c[1]}")
def big(request: pytest.FixtureRequest) -> tuple[str, str, FaissIndex, np.ndarray, np.ndarray]:
    """20k vectors, built once per kind x metric; tests on it must not mutate it."""
    kind, metric = request.param
    vectors, ids = clustered(BIG_N, seed=1), doc_ids(BIG_N, seed=1)
    index = build_index(spec_for(kind), DIM, metric, ids, vectors)
    assert index.kind == kind
    return kind, metric, index, ids, vectors


def test_neighbours_match_brute_force_at_20k(big: tuple[str, str, FaissIndex, np.ndarray, np.ndarray]) -> None:
    kind, metric, index, ids, vectors = big
    queries = queries_near(vectors, 60, seed=3)
    scores, found = index.search(queries, K)
    true_scores, true_ids = brute_force(vectors, ids, queries, K, metric)
    if kind == "flat":  # exact: the very same neighbours and scores
        assert np.array_equal(found, true_ids)
        np.testing.assert_allclose(scores, true_scores, rtol=1e-4, atol=1e-4)
    else:
        assert recall(found, true_ids) >= MIN_RECALL


@pytest.mark.parametrize("n_allowed", [12, 300, 3_000, 10_000])
def test_filter_is_exact_on_the_exhaustive_path(
    big: tuple[str, str, FaissIndex, np.ndarray, np.ndarray], n_allowed: int
) -> None:
    """Up to EXACT_MAX_CANDIDATES allowed ids (or flat) the filtered search is exact; above, high recall."""
    kind, metric, index, ids, vectors = big
    allowed = np.random.default_rng(n_allowed).choice(ids, n_allowed, replace=False)
    queries = queries_near(vectors, 40, seed=5)
    _, found = index.search(queries, K, allowed_ids=allowed)
    assert (found >= 0).all() and np.isin(found, allowed).all()
    mask = np.isin(ids, allowed)
    true_ids = brute_force(vectors[mask], ids[mask], queries, K, metric)[1]
    if kind == "flat" or n_allowed <= faiss_index.EXACT_MAX_CANDIDATES:
        assert np.array_equal(found, true_ids)
    else:
        floor = MIN_FILTERED_RECALL_HNSW_IP if (kind, metric) == ("hnsw", "ip") else MIN_RECALL
        assert recall(found, true_ids) >= floor


def test_rejected_add_leaves_no_tombstone(big: tuple[str, str, FaissIndex, np.ndarray, np.ndarray]) -> None:
    _, _, index, _, _ = big
    for ids, vectors in (([1, 1], np.zeros((2, DIM))), ([1], np.full((1, DIM), np.nan))):
        with pytest.raises(IndexerError):
            index.add(np.asarray(ids), vectors)
        assert len(index) == BIG_N and index.tombstones == 0 and 1 not in index


def test_snapshot_keeps_tombstones(tmp_path: Path) -> None:
    vectors, ids = clustered(3_000, seed=2), doc_ids(3_000, seed=2)
    index = build_index(spec_for("hnsw"), DIM, "cosine", ids, vectors)
    index.remove(ids[:200])
    index.add(ids[200:250], clustered(50, seed=12))
    assert index.tombstones == 250
    index.save(tmp_path / "snap")
    loaded = load_index(tmp_path / "snap")
    assert loaded.tombstones == index.tombstones and len(loaded) == 2_800
    assert np.array_equal(loaded.search(vectors[:250], K)[1], index.search(vectors[:250], K)[1])


def test_missing_or_corrupt_snapshot_is_an_index_file_error(tmp_path: Path) -> None:
    index = build_index(spec_for("flat"), DIM, "l2", doc_ids(500), clustered(500))
    with pytest.raises(IndexFileError):
        load_index(tmp_path / "nothing-here")

    index.save(tmp_path / "snap")
    snap = tmp_path / "snap"
    manifest = json.loads((snap / snapshot.MANIFEST_FILE).read_text())

    (snap / snapshot.INDEX_FILE).write_bytes(b"\0" * manifest["files"][snapshot.INDEX_FILE])  # right size, garbage
    with pytest.raises(IndexFileError):
        load_index(snap)

    index.save(snap)
    with open(snap / snapshot.INDEX_FILE, "r+b") as fh:  # truncated
        fh.truncate(100)
    with pytest.raises(IndexFileError):
        load_index(snap)

    index.save(snap)
    np.save(snap / snapshot.IDS_FILE, np.arange(5, dtype=np.int64))
    manifest["files"][snapshot.IDS_FILE] = (snap / snapshot.IDS_FILE).stat().st_size
    (snap / snapshot.MANIFEST_FILE).write_text(json.dumps(manifest))
    with pytest.raises(IndexFileError):  # id array does not match the index
        load_index(snap)

    (snap / snapshot.MANIFEST_FILE).write_text("{not json")
    with pytest.raises(IndexFileError):
        load_index(snap)
