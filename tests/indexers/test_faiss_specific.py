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
    FaissIndex,
    IndexerError,
    IndexFileError,
    IndexSpec,
    InsufficientTrainingData,
    SearchParams,
    build_index,
    choose_kind,
    load_index,
)
from indexers import faiss_index as fi

from .data import DIM, KINDS, K, brute_force, clustered, doc_ids, queries_near, recall, spec_for

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
    got = fi._ivf_nlist(IndexSpec(ivf_nlist=nlist), n, auto=True)
    assert got >= 1 and n >= fi.MIN_POINTS_PER_LIST * got
    if nlist is None:
        assert got == round(4 * np.sqrt(n))


def test_auto_ivf_caps_an_oversized_nlist(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fi, "FLAT_MAX_VECTORS", 100)
    monkeypatch.setattr(fi, "HNSW_MAX_VECTORS", 1_000)
    vectors, ids = clustered(2_000), doc_ids(2_000)
    index = build_index(IndexSpec(ivf_nlist=500), DIM, "cosine", ids, vectors)  # 500 lists would need 19,500
    assert index.kind == "ivf" and index.nlist == 2_000 // fi.MIN_POINTS_PER_LIST
    _, found = index.search(vectors[:20], 1)
    assert (found[:, 0] == ids[:20]).all()


def test_bulk_build_reports_progress(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fi, "ADD_CHUNK", 400)
    seen: list[tuple[int, int]] = []
    build_index(
        spec_for("flat"),
        DIM,
        "l2",
        np.arange(1_000),
        clustered(1_000),
        progress=lambda d, t: seen.append((d, t)),
    )
    assert seen == [(400, 1_000), (800, 1_000), (1_000, 1_000)]


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
    assert fi.empty_index(IndexSpec(), DIM, "cosine").kind == "flat"  # nothing to size "auto" by
    assert fi.empty_index(spec_for("hnsw"), DIM, "cosine").kind == "hnsw"
    with pytest.raises(IndexerError):
        fi.empty_index(IndexSpec(), 0, "cosine")
    with pytest.raises(IndexerError):
        fi.empty_index(IndexSpec(), DIM, "hamming")  # type: ignore[arg-type]


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
    monkeypatch.setattr(fi, "EXACT_MAX_CANDIDATES", 0)
    monkeypatch.setattr(fi, "EXACT_MAX_FRACTION", 0.0)
    monkeypatch.setattr(fi, "MAX_EF_SEARCH", 16)  # no widening: let HNSW fail on its own
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
    index.save(tmp_path / "snap", extra={"last_change_id": 1})
    return index, tmp_path / "snap", vectors


def _assert_v1_intact(directory: Path, vectors: np.ndarray) -> None:
    loaded = load_index(directory)
    assert len(loaded) == 1_500 and loaded.extra == {"last_change_id": 1}
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
        index.save(directory, extra={"last_change_id": 2})
    _assert_v1_intact(directory, vectors)
    assert index.extra == {"last_change_id": 1}


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
        index.save(directory, extra={"last_change_id": 2})
    monkeypatch.setattr(os, "rename", real_rename)
    _assert_v1_intact(directory, vectors)


def test_successful_save_replaces_and_cleans_up(saved: tuple[FaissIndex, Path, np.ndarray]) -> None:
    index, directory, vectors = saved
    index.remove(index.ids()[:10])
    index.save(directory, extra={"last_change_id": 2})
    assert sorted(p.name for p in directory.parent.iterdir()) == ["snap"]
    loaded = load_index(directory)
    assert len(loaded) == 1_490 and loaded.extra == {"last_change_id": 2}
    index.save(directory)  # extra=None keeps the current extra
    assert load_index(directory).extra == {"last_change_id": 2}

    manifest = json.loads((directory / fi.MANIFEST_FILE).read_text())
    assert manifest["format_version"] == fi.FORMAT_VERSION and manifest["faiss_version"] == faiss.__version__
    assert (manifest["kind"], manifest["dim"], manifest["metric"], manifest["count"]) == (
        "flat",
        DIM,
        "cosine",
        1_490,
    )
    assert manifest["spec"]["kind"] == "flat" and set(manifest["files"]) == {fi.INDEX_FILE, fi.IDS_FILE}


def test_load_recovers_from_a_crash_between_renames(saved: tuple[FaissIndex, Path, np.ndarray]) -> None:
    _, directory, vectors = saved
    os.rename(directory, directory.with_name(".snap.old-0123abcd"))  # the crash window
    _assert_v1_intact(directory, vectors)


def test_save_removes_stale_leftovers_only(saved: tuple[FaissIndex, Path, np.ndarray]) -> None:
    index, directory, _ = saved
    stale, fresh = directory.with_name(".snap.tmp-stale"), directory.with_name(".snap.tmp-fresh")
    stale.mkdir()
    fresh.mkdir()
    old = time.time() - 2 * fi.STALE_SIBLING_SECONDS
    os.utime(stale, (old, old))
    index.save(directory)
    assert not stale.exists() and fresh.exists()  # a fresh one may belong to a save in progress
    assert directory.stat().st_mode & 0o777 == 0o777 & ~_umask()  # readable by whoever the umask allows


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current


def test_save_refuses_a_file_in_the_way_and_bad_extra(tmp_path: Path) -> None:
    index = build_index(spec_for("flat"), DIM, "l2", np.arange(3), clustered(3))
    (tmp_path / "file").write_text("not a snapshot")
    with pytest.raises(IndexFileError):
        index.save(tmp_path / "file")
    with pytest.raises(IndexerError) as info:
        index.save(tmp_path / "snap", extra={"when": object()})
    assert info.value.field == "extra" and not (tmp_path / "snap").exists()


def test_load_refuses_another_format(tmp_path: Path) -> None:
    (tmp_path / "snap").mkdir()
    (tmp_path / "snap" / fi.MANIFEST_FILE).write_text(json.dumps({"format": "something-else"}))
    with pytest.raises(IndexFileError, match="does not hold"):
        load_index(tmp_path / "snap")


# --- package hygiene ------------------------------------------------------------------


def test_importing_the_package_does_not_import_faiss() -> None:
    code = (
        "import sys, indexers; assert 'faiss' not in sys.modules; "
        "indexers.build_index; assert 'faiss' in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).parents[2])


def test_thread_budget(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VECDEX_FAISS_THREADS", "3")
    assert fi._detect_cpus() == 3
    with pytest.raises(ValueError):
        fi.set_faiss_threads(0)


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
