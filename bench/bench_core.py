"""Core benchmark: vecdex search over HTTP vs raw FAISS, and word2vec training via vecdex vs raw gensim.

One run measures both sides on the same machine at the same time, so the
ratios hold even when the machine is shared and noisy; absolute seconds are
recorded for context only.

    .venv/bin/python bench/bench_core.py [--sizes 10000 100000] [--queries 300]

Writes bench/results/core.json and prints a Markdown table for RESULTS.md.

Search: a collection of N documents (sentences of the Lee news corpus shipped
with gensim, recombined into N distinct documents) is ingested, a word2vec
space is built through the job pipeline, and the API is served by a real
uvicorn process. The same query texts are then sent (a) to POST /search over
HTTP (keep-alive client, one query at a time), (b) to vecdex's Searcher
in-process (no HTTP), and (c) as pre-computed vectors to a raw FAISS index of
the same kind holding the same vectors. (a)/(c) is the cost of everything
vecdex adds: query embedding, SQL filter/hydration, JSON and HTTP.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import faiss
import httpx
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from embedders.datasets import lee_background, lee_test  # noqa: E402
from embedders.tokenizer import Tokenizer  # noqa: E402

W2V = {"type": "word2vec", "dim": 100, "epochs": 10, "min_count": 2, "seed": 1}


def synthetic_documents(n: int, seed: int = 0) -> list[str]:
    """N distinct news-like documents: random runs of 2-5 real sentences from the Lee corpus."""
    sentences = [s.strip() for doc in lee_background() + lee_test() for s in re.split(r"(?<=[.!?])\s+", doc) if len(s.split()) > 4]
    rng = random.Random(seed)
    return [" ".join(rng.sample(sentences, rng.randint(2, 5))) for _ in range(n)]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def percentile(values: list[float], p: float) -> float:
    return float(np.percentile(np.asarray(values), p))


def timed(fn, repeats: int) -> list[float]:  # type: ignore[no-untyped-def]
    out = []
    for i in range(repeats):
        t = time.perf_counter()
        fn(i)
        out.append(time.perf_counter() - t)
    return out


def summary(latencies: list[float]) -> dict[str, float]:
    return {
        "median_ms": statistics.median(latencies) * 1000,
        "p95_ms": percentile(latencies, 95) * 1000,
        "qps": len(latencies) / sum(latencies),
    }


def bench_search(n: int, queries: int, k: int, workdir: Path) -> dict[str, Any]:
    from service.facade import Vecdex
    from service.store.migrate import upgrade
    from service.schemas import CollectionCreate, DocumentIn, SearchRequest
    from service.settings import Settings
    from service.space_schemas import SpaceCreate

    data = workdir / f"n{n}"
    settings = Settings(data_dir=data, embedded_worker=False)
    upgrade(settings.resolved_database_url)
    vx = Vecdex(settings)
    db = vx.db
    texts = synthetic_documents(n)
    t0 = time.perf_counter()
    vx.collections.create(body=CollectionCreate(name="bench"))
    for start in range(0, n, 2000):
        docs = [
            DocumentIn(external_id=f"d{i}", text=texts[i], metadata={"bucket": i % 10}) for i in range(start, min(n, start + 2000))
        ]
        vx.documents.write(collection="bench", documents=docs)
    ingest_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    created = vx.spaces.create(collection="bench", body=SpaceCreate.model_validate({"name": "w2v", "embedder": W2V}))
    job = vx.jobs.run_here(job_id=created.job.id, label="bench")
    assert job is not None and job.status == "succeeded", job
    build_s = time.perf_counter() - t0

    runtimes = vx.core.runtimes  # the facade's own cache: the raw side below embeds with the same model
    rng = random.Random(1)
    qtexts = [" ".join(texts[rng.randrange(n)].split()[:12]) for _ in range(queries)]
    # Request bodies built up front: the timed call is the use case itself (the HTTP route's call).
    bodies = [SearchRequest(query=q, k=k, snippet_chars=200) for q in qtexts]
    filtered = [SearchRequest(query=q, k=k, filter={"bucket": 3}, snippet_chars=200) for q in qtexts]

    # Raw FAISS: the very vectors vecdex indexed, in a fresh index of the same kind.
    from service.store.models import Space

    with db.session() as s:
        space = s.query(Space).one()
        kind = space.index_kind
    runtime = runtimes.get(space)
    from service.store.models import StoredVector

    with db.session() as s:
        rows = s.query(StoredVector.document_id, StoredVector.vector).filter(StoredVector.space_id == space.id).all()
    ids = np.array([r[0] for r in rows], dtype=np.int64)
    vecs = np.stack([np.frombuffer(r[1], dtype=np.float32) for r in rows])
    raw = raw_faiss(kind, vecs, ids)
    qvecs = np.stack([runtime.embedder.embed_query(q) for q in qtexts]).astype(np.float32)
    faiss.normalize_L2(qvecs)

    # Interleaved, query by query, so both sides see the same machine load. FAISS's OpenMP team is
    # pinned to 1 thread for the raw side as vecdex does for single queries (2 threads only add
    # synchronisation to a 0.1 ms search, and a busy machine makes that spin badly).
    raw_lat, inproc_lat, agree = [], [], []
    for _ in range(2):  # first pass warms caches; keep the second
        raw_lat, inproc_lat, agree = [], [], []
        for i, q in enumerate(qtexts):
            faiss.omp_set_num_threads(1)
            t = time.perf_counter()
            _, raw_ids = raw.search(qvecs[i : i + 1], k)
            raw_lat.append(time.perf_counter() - t)
            t = time.perf_counter()
            hits = vx.queries.search(collection="bench", body=bodies[i]).hits
            inproc_lat.append(time.perf_counter() - t)
            # Agreement: the same query vector must give the same neighbours on both sides.
            agree.append(len({h.id for h in hits} & set(raw_ids[0].tolist())) / k)
    filt_lat = timed(lambda i: vx.queries.search(collection="bench", body=filtered[i]), queries)
    vx.close()

    port = free_port()
    env = {**os.environ, "VECDEX_DATA_DIR": str(data), "VECDEX_EMBEDDED_WORKER": "false"}
    log = open(data / "server.log", "wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "service.cli", "serve", "--port", str(port), "--no-worker"],
        env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        with httpx.Client(base_url=base, timeout=60) as client:
            deadline = time.monotonic() + 300
            while True:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"server did not start: {(data / 'server.log').read_text()[-2000:]}")
                try:
                    if client.get("/readyz").status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                time.sleep(0.5)
            for q in qtexts[:20]:  # warm-up: loads the space, JIT-free but caches warm
                client.post("/collections/bench/search", json={"query": q, "k": k})
            http_lat, raw_during_http = [], []
            for i, q in enumerate(qtexts):
                faiss.omp_set_num_threads(1)
                t = time.perf_counter()
                raw.search(qvecs[i : i + 1], k)
                raw_during_http.append(time.perf_counter() - t)
                t = time.perf_counter()
                client.post("/collections/bench/search", json={"query": q, "k": k}).raise_for_status()
                http_lat.append(time.perf_counter() - t)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)

    result = {
        "n": n,
        "index_kind": kind,
        "k": k,
        "queries": queries,
        "ingest_s": ingest_s,
        "build_s": build_s,
        "raw_faiss": summary(raw_lat),
        "vecdex_in_process": summary(inproc_lat),
        "vecdex_in_process_filtered": summary(filt_lat),
        "vecdex_http": summary(http_lat),
        "raw_faiss_during_http": summary(raw_during_http),
        "neighbour_agreement": float(np.mean(agree)),
    }
    result["ratio_http_vs_raw_median"] = result["vecdex_http"]["median_ms"] / result["raw_faiss_during_http"]["median_ms"]
    result["ratio_in_process_vs_raw_median"] = result["vecdex_in_process"]["median_ms"] / result["raw_faiss"]["median_ms"]
    return result


def raw_faiss(kind: str, vecs: np.ndarray, ids: np.ndarray) -> Any:
    """The index raw FAISS users would build for the same kind and data (cosine = IP on unit vectors)."""
    dim = vecs.shape[1]
    vecs = vecs.copy()
    faiss.normalize_L2(vecs)
    if kind == "flat":
        index = faiss.IndexIDMap2(faiss.IndexFlatIP(dim))
    elif kind == "hnsw":
        base = faiss.IndexHNSWFlat(dim, 32, faiss.METRIC_INNER_PRODUCT)
        base.hnsw.efSearch = 128
        base.hnsw.efConstruction = 64
        index = faiss.IndexIDMap2(base)
    else:
        nlist = int(4 * np.sqrt(len(vecs)))
        base = faiss.IndexIVFFlat(faiss.IndexFlatIP(dim), dim, nlist, faiss.METRIC_INNER_PRODUCT)
        base.train(vecs)
        base.nprobe = 16
        index = faiss.IndexIDMap2(base)
    index.add_with_ids(vecs, ids)
    return index


def bench_word2vec_training(repeats: int = 3) -> dict[str, Any]:
    """Same corpus, same parameters: vecdex's fit (tokenising included) vs gensim on pre-tokenised text."""
    from gensim.models import Word2Vec

    from embedders import registry
    from embedders.base import ListCorpus

    texts = synthetic_documents(20_000, seed=3)
    corpus = ListCorpus(list(enumerate(texts)))
    spec = registry.parse_spec({**W2V, "workers": 2})
    tok = Tokenizer(spec.tokenizer)  # the very tokens vecdex trains on (stop words removed by default)
    params = dict(
        vector_size=spec.dim, window=spec.window, min_count=spec.min_count, epochs=spec.epochs, seed=spec.seed,
        workers=2, sg=1 if spec.architecture == "skipgram" else 0, hs=1 if spec.softmax == "hierarchical" else 0,
        negative=spec.negative if spec.softmax == "negative" else 0, sample=spec.sample,
    )
    t = time.perf_counter()
    sentences = [tok.tokenize(x) for x in texts]
    tokenize_s = time.perf_counter() - t
    raw, ours = [], []
    for _ in range(repeats):
        t = time.perf_counter()
        Word2Vec(sentences=sentences, **params)
        raw.append(time.perf_counter() - t)
        t = time.perf_counter()
        registry.create(spec).fit(corpus)
        ours.append(time.perf_counter() - t)
    words = sum(len(s) for s in sentences)
    return {
        "documents": len(texts),
        "tokens": words,
        "params": params,
        "tokenize_s": tokenize_s,
        "raw_gensim_s": statistics.median(raw),
        "vecdex_fit_s": statistics.median(ours),
        "ratio_vecdex_vs_raw": statistics.median(ours) / statistics.median(raw),
        "raw_words_per_s": words * spec.epochs / statistics.median(raw),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "core.json")
    args = parser.parse_args()
    faiss.omp_set_num_threads(1)  # single queries: threads only add overhead, on both sides alike
    results: dict[str, Any] = {
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "faiss": faiss.__version__},
        "search": [],
    }
    with tempfile.TemporaryDirectory() as tmp:
        for n in args.sizes:
            print(f"search benchmark, {n} documents ...", flush=True)
            results["search"].append(bench_search(n, args.queries, args.k, Path(tmp)))
            print(json.dumps(results["search"][-1]), flush=True)
    print("word2vec training benchmark ...", flush=True)
    results["word2vec_training"] = bench_word2vec_training()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2))
    print(markdown(results))


def markdown(r: dict[str, Any]) -> str:
    lines = [
        "| N | index | raw FAISS median ms | vecdex in-process median ms | vecdex HTTP median ms | HTTP p95 ms | HTTP / raw | in-process / raw | filtered in-process ms | same top-k |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for s in r["search"]:
        lines.append(
            f"| {s['n']:,} | {s['index_kind']} | {s['raw_faiss']['median_ms']:.3f} | {s['vecdex_in_process']['median_ms']:.2f} "
            f"| {s['vecdex_http']['median_ms']:.2f} | {s['vecdex_http']['p95_ms']:.2f} | {s['ratio_http_vs_raw_median']:.1f}x "
            f"| {s['ratio_in_process_vs_raw_median']:.1f}x | {s['vecdex_in_process_filtered']['median_ms']:.2f} | {s['neighbour_agreement']:.3f} |"
        )
    w = r["word2vec_training"]
    lines += [
        "",
        "| word2vec training | documents | tokens | raw gensim s | vecdex fit s | vecdex / raw |",
        "|---|---|---|---|---|---|",
        f"| {w['params']} | {w['documents']:,} | {w['tokens']:,} | {w['raw_gensim_s']:.2f} | {w['vecdex_fit_s']:.2f} | {w['ratio_vecdex_vs_raw']:.2f}x |",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
