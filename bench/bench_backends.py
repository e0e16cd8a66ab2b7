"""FAISS vs Milvus (milvus-lite) behind the same VectorIndex API, on the same vectors.

    nice .venv/bin/python bench/bench_backends.py [--n 100000] [--dim 384] [--kinds hnsw flat]

Both engines get the SAME seeded random unit vectors (cosine), the same
IndexSpec (kind, M, efConstruction, efSearch) and the same queries, through
``indexers.factory`` exactly as the service calls them, so the numbers are what
a space on either backend costs. Per kind and backend:

* build seconds: ``factory.build`` (Milvus: insert + flush, which seals the
  segment and builds its index before the first search);
* p50 / p95 search latency of one query (k=10) over ``--queries`` queries;
* filtered p50 with allowed ids = 1% and 50% of the ids (``--filtered-queries``);
* recall@10 against exact numpy brute force (unfiltered, and for each filter);
* the engine's own client doing the same unfiltered search (``raw engine p50``),
  so vecdex's wrapper cost shows apart from the engine's.

Queries alternate between the engines (FAISS, Milvus, FAISS, ...) so load from
other users of the machine hits both alike; ratios are Milvus / FAISS.
``--data clustered`` (the default) draws the vectors around 2,000 seeded
centres, as embeddings of a corpus cluster by topic, and the queries near
held-out members of those clusters; ``--data random`` uses structureless
random unit vectors instead, on which HNSW's recall collapses for both engines
(a lower bound, not what real embeddings see). Writes
bench/results/backends.json (``--out`` to write elsewhere).
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from indexers import EngineOptions, IndexLocation, IndexSpec, factory  # noqa: E402
from indexers.base import VectorIndex  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results" / "backends.json"
K = 10
BACKENDS = ("faiss", "milvus")
FILTERS = {"1%": 0.01, "50%": 0.5}


def unit_vectors(n: int, dim: int, seed: int) -> np.ndarray:
    x = np.random.default_rng(seed).standard_normal((n, dim)).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    return x


CENTRES = 2_000
SPREAD = 0.6  # noise norm relative to the unit centre: members of a cluster sit at cosine ~0.85 to it


def clustered_vectors(n: int, dim: int, seed: int, centres: np.ndarray) -> np.ndarray:
    """Unit vectors around ``centres`` (each a random centre plus isotropic noise), like topic clusters."""
    rng = np.random.default_rng(seed)
    x = centres[rng.integers(0, len(centres), n)] + rng.standard_normal((n, dim)).astype(np.float32) * (SPREAD / np.sqrt(dim))
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    return x.astype(np.float32)


def dataset(kind: str, n: int, n_queries: int, dim: int) -> tuple[np.ndarray, np.ndarray]:
    """(vectors, queries) of the chosen shape, seeded."""
    if kind == "random":
        return unit_vectors(n, dim, seed=1), unit_vectors(n_queries, dim, seed=2)
    centres = unit_vectors(CENTRES, dim, seed=4)
    return clustered_vectors(n, dim, 1, centres), clustered_vectors(n_queries, dim, 2, centres)


def exact_top_k(vectors: np.ndarray, ids: np.ndarray, queries: np.ndarray, k: int, mask: np.ndarray | None) -> np.ndarray:
    """Ground truth by numpy: inner product of unit vectors = cosine."""
    scores = queries @ vectors.T
    if mask is not None:
        scores[:, ~mask] = -np.inf
    top = np.argpartition(-scores, k, axis=1)[:, :k]
    order = np.argsort(-np.take_along_axis(scores, top, axis=1), axis=1)
    return ids[np.take_along_axis(top, order, axis=1)]


def recall(found: np.ndarray, truth: np.ndarray) -> float:
    return float(np.mean([len(set(f.tolist()) & set(t.tolist())) / len(t) for f, t in zip(found, truth)]))


def timed_queries(
    indexes: dict[str, VectorIndex], queries: np.ndarray, allowed: np.ndarray | None
) -> tuple[dict[str, list[float]], dict[str, np.ndarray]]:
    """One query at a time, engines interleaved; returns latencies (s) and result ids per engine."""
    lat: dict[str, list[float]] = {b: [] for b in indexes}
    found: dict[str, list[np.ndarray]] = {b: [] for b in indexes}
    for i, q in enumerate(queries):
        order = list(indexes) if i % 2 == 0 else list(reversed(indexes))
        for backend in order:
            t = time.perf_counter()
            _, ids = indexes[backend].search(q, K, allowed_ids=allowed)
            lat[backend].append(time.perf_counter() - t)
            found[backend].append(ids[0])
    return lat, {b: np.stack(v) for b, v in found.items()}


def raw_latencies(indexes: dict[str, VectorIndex], queries: np.ndarray, kind: str) -> dict[str, list[float]]:
    """The same unfiltered queries sent to each engine's own client, bypassing vecdex (interleaved):
    ``faiss.Index.search`` on the normalised query, ``MilvusClient.search`` with the same params."""
    import faiss

    faiss_index = indexes["faiss"]._index  # type: ignore[attr-defined]
    milvus = indexes["milvus"]
    params = {"params": {"ef": 128}} if kind == "hnsw" else {"params": {}}
    lat: dict[str, list[float]] = {b: [] for b in BACKENDS}
    for i, q in enumerate(queries):
        x = q[None, :].copy()
        for backend in (BACKENDS if i % 2 == 0 else tuple(reversed(BACKENDS))):
            t = time.perf_counter()
            if backend == "faiss":
                faiss.normalize_L2(x)
                faiss_index.search(x, K)
            else:
                milvus._client.search(  # type: ignore[attr-defined]
                    milvus.name, data=x, limit=K, anns_field="vector", search_params=params  # type: ignore[attr-defined]
                )
            lat[backend].append(time.perf_counter() - t)
    return lat


def pct(values: list[float], p: float) -> float:
    return float(np.percentile(values, p)) * 1000.0


def run_kind(
    kind: str, args: argparse.Namespace, vectors: np.ndarray, queries: np.ndarray, ids: np.ndarray, root: Path
) -> dict[str, Any]:
    options = EngineOptions(milvus_uri=str(root / "milvus.db"))
    indexes: dict[str, VectorIndex] = {}
    out: dict[str, Any] = {"kind": kind, "backends": {b: {} for b in BACKENDS}}
    for backend in BACKENDS:  # builds one after the other: each gets the machine to itself
        spec = IndexSpec(backend=backend, kind=kind, hnsw_m=32, hnsw_ef_construction=64, hnsw_ef_search=128)
        location = IndexLocation(root / f"{backend}-{kind}" / "index", f"bench_{kind}", options)
        t = time.perf_counter()
        indexes[backend] = factory.build(spec, args.dim, "cosine", ids, vectors, location)
        out["backends"][backend]["build_s"] = round(time.perf_counter() - t, 3)
        print(f"  {kind}/{backend}: built in {out['backends'][backend]['build_s']} s", flush=True)
        for index in indexes.values():  # warm-up (first Milvus search loads the segment)
            index.search(queries[0], K)

    truth = exact_top_k(vectors, ids, queries, K, None)
    lat, found = timed_queries(indexes, queries, None)
    raw = raw_latencies(indexes, queries, kind)
    for b in BACKENDS:
        out["backends"][b].update(
            p50_ms=round(pct(lat[b], 50), 3),
            p95_ms=round(pct(lat[b], 95), 3),
            raw_p50_ms=round(pct(raw[b], 50), 3),
            recall_at_10=round(recall(found[b], truth), 4),
        )
    rng = np.random.default_rng(3)
    fq = queries[: args.filtered_queries]
    for label, fraction in FILTERS.items():
        allowed = rng.choice(ids, int(len(ids) * fraction), replace=False)
        mask = np.isin(ids, allowed)
        ftruth = exact_top_k(vectors, ids, fq, K, mask)
        lat, found = timed_queries(indexes, fq, allowed)
        for b in BACKENDS:
            out["backends"][b][f"filtered_{label}_p50_ms"] = round(pct(lat[b], 50), 3)
            out["backends"][b][f"filtered_{label}_recall_at_10"] = round(recall(found[b], ftruth), 4)
            assert np.isin(found[b], allowed).all() and (found[b] >= 0).all()
        print(f"  {kind}: filter {label} done", flush=True)
    faiss_r, milvus_r = out["backends"]["faiss"], out["backends"]["milvus"]
    out["ratio_milvus_over_faiss"] = {
        key: round(milvus_r[key] / faiss_r[key], 2) if faiss_r[key] else None
        for key in faiss_r
        if "recall" not in key
    }
    for backend in BACKENDS:
        indexes[backend].save(root / f"{backend}-{kind}" / "index")
        factory.destroy(root / f"{backend}-{kind}" / "index", options)
    return out


def table(results: list[dict[str, Any]]) -> str:
    cols = [
        ("build s", "build_s"), ("p50 ms", "p50_ms"), ("p95 ms", "p95_ms"), ("raw engine p50 ms", "raw_p50_ms"),
        ("recall@10", "recall_at_10"),
        ("filt 1% p50 ms", "filtered_1%_p50_ms"), ("filt 1% recall", "filtered_1%_recall_at_10"),
        ("filt 50% p50 ms", "filtered_50%_p50_ms"), ("filt 50% recall", "filtered_50%_recall_at_10"),
    ]
    lines = ["| kind | backend | " + " | ".join(c for c, _ in cols) + " |", "|---|---|" + "---|" * len(cols)]
    for r in results:
        for b in BACKENDS:
            lines.append(f"| {r['kind']} | {b} | " + " | ".join(str(r["backends"][b][k]) for _, k in cols) + " |")
        ratios = r["ratio_milvus_over_faiss"]
        lines.append(
            f"| {r['kind']} | milvus/faiss | " + " | ".join(str(ratios.get(k, "")) if k in ratios else "" for _, k in cols) + " |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--dim", type=int, default=384)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--filtered-queries", type=int, default=100)
    parser.add_argument("--kinds", nargs="+", default=["hnsw", "flat"])
    parser.add_argument("--data", choices=["clustered", "random"], default="clustered")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    reason = factory.get_backend("milvus").available()
    if reason:
        sys.exit(f"milvus backend unavailable: {reason}")
    vectors, queries = dataset(args.data, args.n, args.queries, args.dim)
    ids = (np.arange(args.n, dtype=np.int64) * 3 + 1000)  # sparse SQL-like ids, not positions
    results = []
    started = time.time()
    with tempfile.TemporaryDirectory(prefix="vecdex-bench-backends-") as tmp:
        for kind in args.kinds:
            print(f"{kind}: {args.n} x {args.dim}", flush=True)
            results.append(run_kind(kind, args, vectors, queries, ids, Path(tmp)))
    import faiss
    import milvus_lite
    import pymilvus

    report = {
        "n": args.n, "dim": args.dim, "k": K, "metric": "cosine", "data": args.data, "queries": args.queries,
        "filtered_queries": args.filtered_queries, "spec": {"hnsw_m": 32, "hnsw_ef_construction": 64, "hnsw_ef_search": 128},
        "milvus": "milvus-lite (in-process gRPC server, local .db file)",
        "versions": {"faiss": faiss.__version__, "pymilvus": pymilvus.__version__, "milvus_lite": milvus_lite.__version__},
        "machine": {"python": platform.python_version(), "cpus": __import__("os").cpu_count()},
        "seconds": round(time.time() - started, 1), "results": results,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(table(results))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
