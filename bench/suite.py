"""Benchmark suite: vecdex next to the raw libraries, same data, same run, interleaved, ratios reported.

    make bench                      # .venv/bin/python bench/suite.py
    make bench QUICK=1              # .venv/bin/python bench/suite.py --quick  (a few minutes)

Writes bench/results/suite.json, bench/RESULTS_SUITE.md and bench/results/suite_recall_qps.png.

What is measured (also written into RESULTS_SUITE.md):

* Search. The HTTP API has no vector query (POST /collections/{c}/search takes
  text), so each collection holds N short texts (8 words drawn from the Lee
  corpus vocabulary) and a word2vec space of dimension 384 (1 epoch, window 2:
  cheap to train and to embed) per index kind (flat, hnsw, ivf), each built
  through the normal job pipeline (create_space + build job). vecdex is a real
  `vecdex serve` subprocess queried with text over keep-alive httpx clients
  (concurrency 1: one client; concurrency 8: a pool of 8 threads, one client
  each). Raw FAISS gets an index of the same kind and parameters holding the
  very vectors vecdex stored for that space, and the query vectors
  pre-computed (vecdex's own embed_query), searched one query per call
  (concurrency 8: 8 threads calling index.search). The query-embedding cost
  vecdex pays (and raw FAISS does not) is measured in-process and reported
  separately. Raw and HTTP runs alternate (query by query at concurrency 1,
  block by block at concurrency 8).
* recall@10 of HNSW / IVF against exact search (IndexFlatIP over the same
  vectors), for raw FAISS and for the hits vecdex returned over HTTP.
* Index memory: bytes of the serialised raw index, bytes of vecdex's index
  file(s) in the space directory, the RSS growth of this process while the raw
  index was built, and the FAISS formula (flat n*d*4; HNSW n*(d*4 + M*2*4);
  IVF-flat n*(d*4 + 8) + nlist*d*4).
* Recall vs QPS at several efSearch / nprobe values, single queries, a PNG plot:
  raw FAISS (one thread, the parameter set on the index) next to vecdex over
  HTTP (the same value sent as the search request's ``params``), interleaved.
* HTTP baseline: bench/empty_app.py (one trivial FastAPI route, uvicorn.run with
  the same arguments as `vecdex serve`), same clients, same concurrency.
* Training: word2vec and doc2vec fit through vecdex (tokenising included) vs raw
  gensim on the same tokens with identical parameters and workers, alternating.
  Ingest (documents/s into a ready word2vec, doc2vec, bilstm and bert space vs
  the raw embedding call), bert build vs raw sentence-transformers and item2vec
  build vs raw gensim come from bench_ingest.py / bench_bert.py /
  bench_item2vec.py: run as subprocesses in the full run, read from their last
  saved results under --quick or --saved-sub (dated in the output).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import random
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from importlib import metadata
from pathlib import Path
from typing import Any, Callable

import faiss
import httpx
import numpy as np
from tqdm import tqdm

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from bench_core import free_port, synthetic_documents  # noqa: E402

from embedders.datasets import lee_background, lee_test  # noqa: E402

DIM = 384
K = 10
HNSW_M = 32
W2V_SEARCH = {"type": "word2vec", "dim": DIM, "epochs": 1, "window": 2, "min_count": 1, "seed": 1}
RESULTS = ROOT / "bench" / "results"


# ----------------------------------------------------------------------------- helpers


def rss_bytes() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


def stats(lat: list[float], wall: float | None = None) -> dict[str, float]:
    a = np.asarray(lat) * 1000
    return {
        "n": len(lat),
        "p50_ms": float(np.percentile(a, 50)),
        "p99_ms": float(np.percentile(a, 99)),
        "qps": len(lat) / (wall if wall is not None else sum(lat)),
    }


def machine_info() -> dict[str, Any]:
    cpu = platform.processor()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = 0
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem = int(line.split()[1]) * 1024
    except OSError:
        pass
    versions = {}
    for pkg in ["faiss-cpu", "numpy", "gensim", "torch", "sentence-transformers", "fastapi", "uvicorn", "httpx", "sqlalchemy"]:
        try:
            versions[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            versions[pkg] = None
    versions["faiss"] = faiss.__version__
    return {
        "cpu_model": cpu,
        "cores": os.cpu_count(),
        "sched_affinity": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "memory_bytes": mem,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "load_avg_at_start": list(os.getloadavg()),
        "versions": versions,
    }


class Server:
    """A subprocess serving HTTP on a free port; waits for /readyz."""

    def __init__(self, argv: list[str], env: dict[str, str], log: Path) -> None:
        self.port = free_port()
        self.log = log
        self.proc = subprocess.Popen(
            [a if a != "PORT" else str(self.port) for a in argv],
            env={**os.environ, **env}, cwd=ROOT, stdout=open(log, "wb"), stderr=subprocess.STDOUT,
        )
        self.base = f"http://127.0.0.1:{self.port}"
        deadline = time.monotonic() + 300
        with httpx.Client(base_url=self.base, timeout=10) as c:
            while True:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"server did not start: {log.read_text()[-2000:]}")
                try:
                    if c.get("/readyz").status_code == 200:
                        return
                except httpx.HTTPError:
                    pass
                time.sleep(0.3)

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()


_CLIENTS = threading.local()


def http_run(base: str, path: str, bodies: list[dict[str, Any]], conc: int, collect: Callable[[int, Any], None] | None = None) -> tuple[list[float], float]:
    """Send every body once; returns per-request latencies and the wall time."""
    lat = [0.0] * len(bodies)

    def one(i: int) -> None:
        # One keep-alive client per thread and server, kept across calls: the query-by-query
        # interleaving at c=1 calls this once per query and must not reconnect each time.
        per_thread = _CLIENTS.__dict__.setdefault("by_base", {})
        c = per_thread.get(base)
        if c is None:
            c = per_thread[base] = httpx.Client(base_url=base, timeout=300)
        t = time.perf_counter()
        r = c.post(path, json=bodies[i])
        lat[i] = time.perf_counter() - t
        r.raise_for_status()
        if collect is not None:
            collect(i, r.json())

    t0 = time.perf_counter()
    if conc == 1:
        for i in range(len(bodies)):
            one(i)
    else:
        with ThreadPoolExecutor(conc) as pool:
            list(pool.map(one, range(len(bodies))))
    wall = time.perf_counter() - t0
    return lat, wall


def raw_run(index: Any, q: np.ndarray, conc: int) -> tuple[list[float], float]:
    lat = [0.0] * len(q)

    def one(i: int) -> None:
        t = time.perf_counter()
        index.search(q[i : i + 1], K)
        lat[i] = time.perf_counter() - t

    faiss.omp_set_num_threads(1)
    t0 = time.perf_counter()
    if conc == 1:
        for i in range(len(q)):
            one(i)
    else:
        with ThreadPoolExecutor(conc) as pool:
            list(pool.map(one, range(len(q))))
    return lat, time.perf_counter() - t0


# ----------------------------------------------------------------------------- search


def short_texts(n: int, seed: int = 0, words: int = 8) -> list[str]:
    vocab = sorted({w for d in lee_background() + lee_test() for w in re.findall(r"[a-z]{3,}", d.lower())})
    rng = random.Random(seed)
    return [" ".join(rng.choices(vocab, k=words)) for _ in range(n)]


def nlist_for(n: int) -> int:
    # vecdex's default 4*sqrt(N), capped so every list gets >= 39 training points (FAISS's warning threshold).
    return max(1, min(int(4 * np.sqrt(n)), n // 39))


def raw_index(kind: str, vecs: np.ndarray, ids: np.ndarray, nlist: int) -> Any:
    d = vecs.shape[1]
    if kind == "flat":
        base = faiss.IndexFlatIP(d)
    elif kind == "hnsw":
        base = faiss.IndexHNSWFlat(d, HNSW_M, faiss.METRIC_INNER_PRODUCT)
        base.hnsw.efConstruction = 64
        base.hnsw.efSearch = 128
    else:
        base = faiss.IndexIVFFlat(faiss.IndexFlatIP(d), d, nlist, faiss.METRIC_INNER_PRODUCT)
        faiss.omp_set_num_threads(os.cpu_count() or 1)
        base.train(vecs)
        base.nprobe = min(16, nlist)
    faiss.omp_set_num_threads(os.cpu_count() or 1)
    index = faiss.IndexIDMap2(base)
    index.add_with_ids(vecs, ids)
    faiss.omp_set_num_threads(1)
    return index


def formula_bytes(kind: str, n: int, d: int, nlist: int) -> int:
    if kind == "flat":
        return n * d * 4
    if kind == "hnsw":
        return n * (d * 4 + HNSW_M * 2 * 4)
    return n * (d * 4 + 8) + nlist * d * 4


def recall(found: np.ndarray, truth: np.ndarray) -> float:
    return float(np.mean([len(set(f.tolist()) & set(t.tolist())) / K for f, t in zip(found, truth)]))


def build_collection(n: int, workdir: Path) -> tuple[Any, Any, Path, list[str], dict[str, Any]]:
    """Ingest ``n`` documents and build a flat, an hnsw and an ivf space through the facade; returns its Vecdex."""
    from service.facade import Vecdex
    from service.store.migrate import upgrade
    from service.schemas import CollectionCreate, DocumentIn
    from service.settings import Settings
    from service.space_schemas import SpaceCreate

    data = workdir / f"n{n}"
    settings = Settings(data_dir=data, embedded_worker=False)
    upgrade(settings.resolved_database_url)
    vx = Vecdex(settings)
    texts = short_texts(n)
    timings: dict[str, Any] = {}
    t0 = time.perf_counter()
    vx.collections.create(body=CollectionCreate(name="bench"))
    for start in tqdm(range(0, n, 5000), desc=f"ingest {n:,} docs", unit="batch"):
        docs = [DocumentIn(external_id=f"d{i}", text=texts[i]) for i in range(start, min(n, start + 5000))]
        vx.documents.write(collection="bench", documents=docs)
    timings["ingest_s"] = time.perf_counter() - t0
    for kind in tqdm(["flat", "hnsw", "ivf"], desc=f"build spaces ({n:,})", unit="space"):
        index = {"kind": kind}
        if kind == "ivf":
            index["ivf_nlist"] = nlist_for(n)
        t0 = time.perf_counter()
        body = SpaceCreate.model_validate({"name": kind, "embedder": W2V_SEARCH, "index": index})
        created = vx.spaces.create(collection="bench", body=body)
        job = vx.jobs.run_here(job_id=created.job.id, label="bench")
        assert job is not None and job.status == "succeeded", job
        timings[f"build_{kind}_s"] = time.perf_counter() - t0
    return vx, settings, data, texts, timings


def space_vectors(db: Any, kind: str) -> tuple[Any, np.ndarray, np.ndarray]:
    from service.store.models import Space, StoredVector

    with db.session() as s:
        space = s.query(Space).filter(Space.name == kind).one()
        rows = s.query(StoredVector.document_id, StoredVector.vector).filter(StoredVector.space_id == space.id).all()
        s.expunge(space)
    ids = np.array([r[0] for r in rows], dtype=np.int64)
    vecs = np.stack([np.frombuffer(r[1], dtype=np.float32) for r in rows]).copy()
    faiss.normalize_L2(vecs)
    return space, ids, vecs


def bench_search(n: int, queries: int, rounds: int, workdir: Path, empty: dict[str, Any]) -> dict[str, Any]:
    vx, settings, data, texts, timings = build_collection(n, workdir)
    db, runtimes = vx.db, vx.core.runtimes
    rng = random.Random(1)
    qtexts = [" ".join(texts[rng.randrange(n)].split()[:4]) + " " + " ".join(texts[rng.randrange(n)].split()[:4]) for _ in range(queries)]
    out: dict[str, Any] = {"n": n, "dim": DIM, "queries": queries, "rounds": rounds, **timings, "kinds": {}}
    raws: dict[str, Any] = {}
    qvec_by_kind: dict[str, np.ndarray] = {}
    for kind in ["flat", "hnsw", "ivf"]:
        space, ids, vecs = space_vectors(db, kind)
        runtime = runtimes.get(space)
        embed_lat = []
        qv = []
        for q in qtexts:
            t = time.perf_counter()
            v = runtime.embedder.embed_query(q)
            embed_lat.append(time.perf_counter() - t)
            qv.append(v)
        qvecs = np.stack(qv).astype(np.float32)
        faiss.normalize_L2(qvecs)
        nlist = nlist_for(n)
        import gc

        gc.collect()
        rss0 = rss_bytes()
        t0 = time.perf_counter()
        raw = raw_index(kind, vecs, ids, nlist)
        raw_build_s = time.perf_counter() - t0
        rss_delta = rss_bytes() - rss0
        exact = faiss.IndexFlatIP(DIM)
        exact.add(vecs)
        faiss.omp_set_num_threads(os.cpu_count() or 1)
        _, truth_pos = exact.search(qvecs, K)
        faiss.omp_set_num_threads(1)
        truth = ids[truth_pos]
        _, raw_found = raw.search(qvecs, K)
        space_dir = settings.spaces_dir
        vec_files = [p for p in space_dir.rglob("*") if p.is_file() and f"{space.id}" in str(p.relative_to(space_dir)).split("/")[0]]
        out["kinds"][kind] = {
            "space_id": space.id,
            "index_kind_vecdex": space.index_kind,
            "nlist": nlist if kind == "ivf" else None,
            "embed_query": stats(embed_lat),
            "raw_build_s": raw_build_s,
            "recall_raw": recall(raw_found, truth),
            "memory": {
                "serialised_raw_bytes": int(faiss.serialize_index(raw).nbytes),
                "rss_delta_raw_build_bytes": int(rss_delta),
                "formula_bytes": formula_bytes(kind, n, DIM, nlist),
                "vecdex_space_files": {str(p.relative_to(space_dir)): p.stat().st_size for p in vec_files},
            },
        }
        raws[kind] = (raw, truth, None)  # the exact index is not needed again: free its memory (1M: 1.5 GB)
        qvec_by_kind[kind] = qvecs
        del exact

    server = Server(
        [sys.executable, "-m", "service.cli", "serve", "--port", "PORT", "--no-worker"],
        {"VECDEX_DATA_DIR": str(data), "VECDEX_EMBEDDED_WORKER": "false"},
        data / "server.log",
    )
    try:
        for kind in ["flat", "hnsw", "ivf"]:
            raw, truth, _ = raws[kind]
            qvecs = qvec_by_kind[kind]
            bodies = [{"query": q, "k": K, "space": kind, "snippet_chars": 0} for q in qtexts]
            http_run(server.base, "/collections/bench/search", bodies[:20], 1)  # warm-up: loads the space
            raw_run(raw, qvecs[:20], 1)
            res: dict[str, Any] = {}
            http_ids: dict[int, list[int]] = {}

            def keep(i: int, js: Any) -> None:
                http_ids[i] = [h["id"] for h in js["hits"]]

            for conc in (1, 8):
                rl, hl, rw, hw = [], [], 0.0, 0.0
                for _ in tqdm(range(rounds), desc=f"search {kind} n={n:,} c={conc}", unit="round"):
                    if conc == 1:  # query by query: raw then HTTP, same query
                        for i in range(queries):
                            a, wa = raw_run(raw, qvecs[i : i + 1], 1)
                            b, wb = http_run(server.base, "/collections/bench/search", bodies[i : i + 1], 1, lambda _, js, i=i: keep(i, js))
                            rl += a
                            hl += b
                            rw += wa
                            hw += wb
                    else:  # block by block
                        a, wa = raw_run(raw, qvecs, conc)
                        b, wb = http_run(server.base, "/collections/bench/search", bodies, conc, keep)
                        rl += a
                        hl += b
                        rw += wa
                        hw += wb
                r_s = stats(rl, rw if conc > 1 else None)
                h_s = stats(hl, hw if conc > 1 else None)
                res[f"c{conc}"] = {
                    "raw_faiss": r_s,
                    "vecdex_http": h_s,
                    "ratio_p50": h_s["p50_ms"] / r_s["p50_ms"],
                    "ratio_qps": r_s["qps"] / h_s["qps"],
                }
            found = np.array([(http_ids[i] + [-1] * K)[:K] for i in range(queries)])
            out["kinds"][kind]["search"] = res
            out["kinds"][kind]["recall_vecdex_http"] = recall(found, truth)
        out["recall_qps_curve"] = recall_qps_curve(n, server.base, raws, qvec_by_kind, qtexts)
    finally:
        server.stop()
    vx.close()
    return out


CURVE = {"hnsw": ("efSearch", "ef_search", [16, 32, 64, 128, 256, 512]), "ivf": ("nprobe", "nprobe", [1, 2, 4, 8, 16, 32, 64])}


def recall_qps_curve(
    n: int, base: str, raws: dict[str, Any], qvec_by_kind: dict[str, np.ndarray], qtexts: list[str]
) -> dict[str, list[dict[str, float]]]:
    """Recall@10 and single-query QPS at several efSearch / nprobe values, raw FAISS (one thread)
    and vecdex over HTTP (the same value sent as the request's ``params``), query by query interleaved."""
    curve: dict[str, list[dict[str, float]]] = {"hnsw": [], "ivf": []}
    for kind, (faiss_name, param, values) in CURVE.items():
        raw, truth, _ = raws[kind]
        inner = faiss.downcast_index(raw.index)
        qvecs = qvec_by_kind[kind]
        for value in tqdm(values, desc=f"recall/QPS {kind} n={n:,}"):
            if kind == "ivf" and value > inner.nlist:
                continue
            if kind == "hnsw":
                inner.hnsw.efSearch = value
            else:
                inner.nprobe = value
            bodies = [{"query": q, "k": K, "space": kind, "snippet_chars": 0, "params": {param: value}} for q in qtexts]
            http_ids: dict[int, list[int]] = {}

            def keep(i: int, js: Any) -> None:
                http_ids[i] = [h["id"] for h in js["hits"]]

            rl: list[float] = []
            hl: list[float] = []
            for i in range(len(qtexts)):
                rl += raw_run(raw, qvecs[i : i + 1], 1)[0]
                hl += http_run(base, "/collections/bench/search", bodies[i : i + 1], 1, lambda _, js, i=i: keep(i, js))[0]
            _, f = raw.search(qvecs, K)
            found = np.array([(http_ids[i] + [-1] * K)[:K] for i in range(len(qtexts))])
            curve[kind].append(
                {
                    faiss_name: value,
                    "recall": recall(f, truth),
                    "qps": len(rl) / sum(rl),
                    "vecdex_recall": recall(found, truth),
                    "vecdex_qps": len(hl) / sum(hl),
                }
            )
        if kind == "hnsw":
            inner.hnsw.efSearch = 128
        else:
            inner.nprobe = min(16, inner.nlist)
    return curve


def bench_empty(queries: int, rounds: int, workdir: Path) -> dict[str, Any]:
    server = Server([sys.executable, str(ROOT / "bench" / "empty_app.py"), "PORT"], {}, workdir / "empty.log")
    try:
        bodies = [{"query": f"q {i}", "k": K} for i in range(queries)]
        http_run(server.base, "/search", bodies[:20], 1)
        res = {}
        for conc in (1, 8):
            lat, wall = [], 0.0
            for _ in tqdm(range(rounds), desc=f"empty endpoint c={conc}", unit="round"):
                a, w = http_run(server.base, "/search", bodies, conc)
                lat += a
                wall += w
            res[f"c{conc}"] = stats(lat, wall if conc > 1 else None)
        return res
    finally:
        server.stop()


# ----------------------------------------------------------------------------- training


def bench_training(n_docs: int, repeats: int, workers: int) -> dict[str, Any]:
    from gensim.models import Word2Vec
    from gensim.models.doc2vec import Doc2Vec, TaggedDocument

    from embedders import registry
    from embedders.base import ListCorpus
    from embedders.tokenizer import Tokenizer

    texts = synthetic_documents(n_docs, seed=3)
    corpus = ListCorpus(list(enumerate(texts)))
    out: dict[str, Any] = {}

    w2v = registry.parse_spec({"type": "word2vec", "dim": 100, "epochs": 5, "min_count": 2, "seed": 1, "workers": workers})
    tok = Tokenizer(w2v.tokenizer)
    t = time.perf_counter()
    sentences = [tok.tokenize(x) for x in texts]
    tokenize_s = time.perf_counter() - t
    words = sum(len(s) for s in sentences)
    w2v_params = dict(
        vector_size=w2v.dim, window=w2v.window, min_count=w2v.min_count, epochs=w2v.epochs, seed=w2v.seed,
        workers=workers, sg=1 if w2v.architecture == "skipgram" else 0, hs=1 if w2v.softmax == "hierarchical" else 0,
        negative=w2v.negative if w2v.softmax == "negative" else 0, sample=w2v.sample,
    )
    raw, ours = [], []
    for _ in tqdm(range(repeats), desc="word2vec fit vs raw gensim", unit="pair"):
        t = time.perf_counter()
        Word2Vec(sentences=sentences, **w2v_params)
        raw.append(time.perf_counter() - t)
        t = time.perf_counter()
        registry.create(w2v).fit(corpus)
        ours.append(time.perf_counter() - t)
    out["word2vec"] = {
        "documents": n_docs, "tokens": words, "params": w2v_params, "tokenize_s": tokenize_s,
        "raw_gensim_s": statistics.median(raw), "vecdex_fit_s": statistics.median(ours),
        "raw_words_per_s": words * w2v.epochs / statistics.median(raw),
        "vecdex_words_per_s": words * w2v.epochs / statistics.median(ours),
        "ratio_vecdex_vs_raw": statistics.median(ours) / statistics.median(raw),
    }

    d2v = registry.parse_spec({"type": "doc2vec", "epochs": 5, "min_count": 2, "seed": 1, "workers": workers})
    tok = Tokenizer(d2v.tokenizer)
    tagged = [TaggedDocument(tok.tokenize(x), [i]) for i, x in enumerate(texts)]
    words = sum(len(d.words) for d in tagged)
    d2v_params = dict(
        vector_size=d2v.dim, dm=1 if d2v.mode == "pv-dm" else 0, dm_mean=1, dbow_words=int(d2v.dbow_words),
        window=d2v.window, min_count=d2v.min_count, negative=d2v.negative, hs=int(d2v.hs), sample=d2v.sample,
        alpha=d2v.alpha, min_alpha=d2v.min_alpha, seed=d2v.seed, workers=workers, epochs=d2v.epochs,
    )
    raw, ours = [], []
    for _ in tqdm(range(repeats), desc="doc2vec fit vs raw gensim", unit="pair"):
        t = time.perf_counter()
        m = Doc2Vec(**d2v_params)
        m.build_vocab(tagged)
        m.train(tagged, total_examples=len(tagged), epochs=m.epochs)
        raw.append(time.perf_counter() - t)
        t = time.perf_counter()
        registry.create(d2v).fit(corpus)
        ours.append(time.perf_counter() - t)
    out["doc2vec"] = {
        "documents": n_docs, "tokens": words, "params": d2v_params,
        "raw_gensim_s": statistics.median(raw), "vecdex_fit_s": statistics.median(ours),
        "raw_words_per_s": words * d2v.epochs / statistics.median(raw),
        "vecdex_words_per_s": words * d2v.epochs / statistics.median(ours),
        "ratio_vecdex_vs_raw": statistics.median(ours) / statistics.median(raw),
    }
    return out


def measured_at(path: Path) -> str:
    """When a saved result was written: its commit date when committed unchanged (a fresh checkout
    gives every file the checkout time as mtime), else the file's mtime."""
    git = ["git", "-C", str(ROOT)]
    try:
        dirty = subprocess.run([*git, "status", "--porcelain", "--", str(path)], capture_output=True, text=True, check=True).stdout.strip()
        committed = subprocess.run([*git, "log", "-1", "--format=%cI", "--", str(path)], capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        dirty, committed = "?", ""
    if committed and not dirty:
        return f"{committed}, committed"
    return dt.datetime.fromtimestamp(path.stat().st_mtime, dt.timezone.utc).isoformat(timespec="seconds")


def sub_benchmarks(quick: bool, run: bool) -> dict[str, Any]:
    """Ingest per family vs the raw embedding call; bert build vs raw sentence-transformers; item2vec
    build vs raw gensim (their own scripts, each writing its own JSON)."""
    out: dict[str, Any] = {}
    for name in tqdm(["ingest", "bert", "item2vec"], desc="sub-benchmarks", unit="script"):
        saved = RESULTS / f"{name}.json"
        entry: dict[str, Any] = {}
        if run and (ROOT / "bench" / f"bench_{name}.py").exists():
            target = RESULTS / f"suite_{name}.json"
            cmd = [sys.executable, str(ROOT / "bench" / f"bench_{name}.py"), "--out", str(target)] + (["--quick"] if quick else [])
            t = time.perf_counter()
            proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
            entry["command"] = " ".join(cmd[1:])
            entry["elapsed_s"] = time.perf_counter() - t
            if proc.returncode != 0:
                entry["error"] = proc.stderr[-2000:]
            saved = target
            entry["source"] = "run by this suite"
        else:
            entry["source"] = "read from the last saved run (not re-run by this suite)"
        if saved.exists():
            r = json.loads(saved.read_text())
            entry["file"] = str(saved.relative_to(ROOT))
            entry["file_mtime"] = measured_at(saved)
            try:
                if name == "ingest":
                    entry["headline"] = {
                        fam: {key: f[key] for key in ("documents", "raw_docs_per_s", "vecdex_docs_per_s", "ratio_vecdex_vs_raw", "raw_is")}
                        for fam, f in r["families"].items()
                    }
                elif name == "bert":
                    tp = r["throughput"]
                    entry["headline"] = {
                        "documents": tp["documents"],
                        "raw_st_docs_per_s": tp["raw"]["docs_per_s"],
                        "vecdex_build_docs_per_s": tp["vecdex_build"]["docs_per_s"],
                        "ratio_vecdex_vs_raw_throughput": tp["vecdex_build"]["ratio_vs_raw"],
                    }
                else:
                    tr = r["training"]
                    entry["headline"] = {
                        "interactions": tr["interactions"],
                        "raw_gensim_s": tr["raw_gensim_s"],
                        "vecdex_job_s": tr["vecdex_job_s"],
                        "ratio_job_vs_raw": tr["ratio_job_vs_raw"],
                    }
            except (KeyError, TypeError) as exc:
                entry["headline_error"] = repr(exc)
        out[name] = entry
    return out


# ----------------------------------------------------------------------------- output


def plot(results: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(11, 5.5))
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    line = 0
    for s in results["search"]:
        c = s["recall_qps_curve"]
        for kind, name, marker in (("hnsw", "efSearch", "o"), ("ivf", "nprobe", "s")):
            points = c[kind]
            colour = colours[line % len(colours)]
            line += 1
            label = f"{'HNSW M=32' if kind == 'hnsw' else 'IVF-flat'} n={s['n']:,} ({name})"
            ax.plot([p["recall"] for p in points], [p["qps"] for p in points], marker + "-", color=colour, label=f"raw FAISS {label}")
            for p in points:
                ax.annotate(str(p[name]), (p["recall"], p["qps"]), fontsize=6)
            if points and "vecdex_qps" in points[0]:
                ax.plot([p["vecdex_recall"] for p in points], [p["vecdex_qps"] for p in points], marker + ":", color=colour, alpha=0.7, label=f"vecdex HTTP {label}")
    ax.set_yscale("log")
    ax.set_xlabel("recall@10 vs exact")
    ax.set_ylabel("QPS (single queries; raw FAISS 1 thread)")
    ax.set_title(f"Recall vs QPS, d={DIM}")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def fmt_bytes(b: float) -> str:
    return f"{b / 2**20:.1f} MiB"


def markdown(r: dict[str, Any]) -> str:
    m = r["machine"]
    v = ", ".join(f"{k} {x}" for k, x in m["versions"].items() if x)
    L = [
        "# Benchmark suite results",
        "",
        f"Generated by `{r['command']}` on {r['started']} ({r['elapsed_s']:.0f} s). Raw JSON: `bench/results/suite.json`.",
        f"Hand-written context and older runs: [RESULTS.md](RESULTS.md).",
        "",
        f"Machine: {m['cpu_model']}, {m['cores']} cores, {m['memory_bytes'] / 2**30:.1f} GiB RAM, "
        f"load average {m['load_avg_at_start'][0]:.1f} at start / {r['load_avg_at_end'][0]:.1f} at end "
        f"(shared machine: read the ratios, not the absolute times). Python {m['python']}; {v}.",
        "",
        "## Search: vecdex HTTP vs raw FAISS",
        "",
        "What is measured: N short texts (8 words), one word2vec space of dimension 384 per index kind, built through",
        "the normal job pipeline. vecdex = a real `vecdex serve` process, POST /collections/bench/search with a",
        "**text** query (the API has no vector query), k = 10, keep-alive httpx clients (c=8: 8 threads, one client",
        "each). Raw FAISS = an index of the same kind and parameters holding the very vectors vecdex stored, queried",
        "with the pre-computed query vector, one query per `search` call (c=8: 8 threads), OpenMP 1 thread.",
        "Interleaved (c=1 query by query, c=8 block by block). The query embedding vecdex does in each request is",
        "timed separately in-process (embed ms column). HNSW M=32, efConstruction 64, efSearch 128; IVF-flat nprobe 16.",
        "Queries per figure: " + ", ".join(f"{s['n']:,}: {s['queries']} x {s['rounds']} round(s)" for s in r["search"]) + ".",
        "",
        "| N | index | c | raw p50 ms | raw p99 ms | raw QPS | vecdex p50 ms | vecdex p99 ms | vecdex QPS | p50 ratio | QPS ratio (raw/vecdex) | embed ms | empty endpoint p50 ms / QPS |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    e = r["empty_endpoint"]
    for s in r["search"]:
        for kind, k in s["kinds"].items():
            for c in ("c1", "c8"):
                x = k["search"][c]
                L.append(
                    f"| {s['n']:,} | {kind} | {c[1:]} | {x['raw_faiss']['p50_ms']:.3f} | {x['raw_faiss']['p99_ms']:.3f} | {x['raw_faiss']['qps']:,.0f} "
                    f"| {x['vecdex_http']['p50_ms']:.2f} | {x['vecdex_http']['p99_ms']:.2f} | {x['vecdex_http']['qps']:,.0f} "
                    f"| {x['ratio_p50']:.1f}x | {x['ratio_qps']:.1f}x | {k['embed_query']['p50_ms']:.3f} "
                    f"| {e[c]['p50_ms']:.2f} / {e[c]['qps']:,.0f} |"
                )
    L += [
        "",
        "Reading the table: the embed ms column (the query embedding vecdex does and raw FAISS does not) is small",
        "here by construction (word2vec mean, 8 words); the empty endpoint is the HTTP floor (uvicorn + FastAPI +",
        "JSON + loopback); the rest of vecdex's time is SQL (space lookup, hit hydration) and the response.",
        "At c=8 all threads (clients, server, raw FAISS) share the same 2 cores, so c=8 figures measure",
        "contention as much as the code: raw flat search at 100k with 8 threads oversubscribes the cores and",
        "comes out slower than vecdex, whose HTTP pipeline staggers the searches.",
        "The vectors (means of 8 random words in 384 dimensions) are nearly unstructured, a hard case for",
        "approximate indexes: hence HNSW's and IVF's low recall at the default efSearch / nprobe. vecdex's recall",
        "equals raw FAISS's on the same vectors, which is the point of the comparison.",
        "",
        f"Empty endpoint (bench/empty_app.py: one trivial FastAPI POST route, `uvicorn.run` as `vecdex serve` calls it): "
        f"c=1 p50 {e['c1']['p50_ms']:.2f} ms, p99 {e['c1']['p99_ms']:.2f} ms, {e['c1']['qps']:,.0f} QPS; "
        f"c=8 p50 {e['c8']['p50_ms']:.2f} ms, p99 {e['c8']['p99_ms']:.2f} ms, {e['c8']['qps']:,.0f} QPS.",
        "",
        "### Recall@10 against exact search, and index memory",
        "",
        "| N | index | recall raw FAISS | recall vecdex HTTP | serialised raw index | vecdex index files | RSS growth (raw build) | FAISS formula |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for s in r["search"]:
        for kind, k in s["kinds"].items():
            mem = k["memory"]
            vf = sum(b for f, b in mem["vecdex_space_files"].items() if "/index/" in f)
            L.append(
                f"| {s['n']:,} | {kind}{' nlist ' + str(k['nlist']) if k['nlist'] else ''} | {k['recall_raw']:.3f} | {k['recall_vecdex_http']:.3f} "
                f"| {fmt_bytes(mem['serialised_raw_bytes'])} | {fmt_bytes(vf)} | {fmt_bytes(mem['rss_delta_raw_build_bytes'])} | {fmt_bytes(mem['formula_bytes'])} |"
            )
    L += [
        "",
        "Serialised raw index includes IndexIDMap2's id array (8 bytes per vector); vecdex index files = the files in",
        "the space's index/ directory (index.faiss, ids.npy, manifest; the word2vec model is listed in suite.json, not counted).",
        f"vecdex searches exhaustively when a space holds at most {r['exact_max_candidates']:,} live vectors (indexers/faiss/index.py",
        "EXACT_MAX_CANDIDATES), so below that its HNSW / IVF recall is exact by design.",
        "RSS growth is noisy (allocator reuse); the serialised size is the reliable figure.",
        "",
        "Build time: vecdex's space build job (train a 1-epoch word2vec, embed every document, store the vectors in",
        "SQL, build and save the index; all cores) next to raw FAISS building the same index from vectors already in",
        "memory (all cores). The two are not the same work: the difference is what the pipeline around the index costs.",
        "",
        "| N | ingest documents (SQL) | vecdex build flat / hnsw / ivf | raw FAISS index build flat / hnsw / ivf |",
        "|---|---|---|---|",
    ]
    for s in r["search"]:
        kinds = s["kinds"]
        L.append(
            f"| {s['n']:,} | {s['ingest_s']:.1f} s | {s['build_flat_s']:.1f} / {s['build_hnsw_s']:.1f} / {s['build_ivf_s']:.1f} s "
            f"| {kinds['flat']['raw_build_s']:.1f} / {kinds['hnsw']['raw_build_s']:.1f} / {kinds['ivf']['raw_build_s']:.1f} s |"
        )
    L += [
        "",
        "Recall vs QPS, single queries: raw FAISS (one thread, parameter set on the index) and vecdex over HTTP",
        "(the same value sent per request as `params`), query by query interleaved:",
        "",
        "![recall vs QPS](results/suite_recall_qps.png)",
        "",
        "| N | index | parameter | recall@10 raw | QPS raw | recall@10 vecdex | QPS vecdex | QPS raw / vecdex |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for s in r["search"]:
        for kind, name in (("hnsw", "efSearch"), ("ivf", "nprobe")):
            for p in s["recall_qps_curve"][kind]:
                if "vecdex_qps" in p:
                    tail = f"{p['vecdex_recall']:.3f} | {p['vecdex_qps']:,.0f} | {p['qps'] / p['vecdex_qps']:.1f}x"
                else:
                    tail = "| | (not measured: older run)"
                L.append(f"| {s['n']:,} | {kind} | {name} {p[name]} | {p['recall']:.3f} | {p['qps']:,.0f} | {tail} |")
    t = r["training"]
    L += [
        "",
        "## Ingest and training: vecdex vs raw library",
        "",
        "| what | data | raw | vecdex | vecdex / raw (time) | source |",
        "|---|---|---|---|---|---|",
    ]
    for name in ("word2vec", "doc2vec"):
        w = t[name]
        L.append(
            f"| {name} fit vs raw gensim (identical params, {w['params']['workers']} workers, {w['params']['epochs']} epochs) "
            f"| {w['documents']:,} docs, {w['tokens']:,} tokens | {w['raw_gensim_s']:.2f} s, {w['raw_words_per_s']:,.0f} words/s "
            f"| {w['vecdex_fit_s']:.2f} s, {w['vecdex_words_per_s']:,.0f} words/s | {w['ratio_vecdex_vs_raw']:.2f}x | this run |"
        )
    sub = r["sub_benchmarks"]
    b = sub.get("bert", {})
    if "headline" in b:
        h = b["headline"]
        L.append(
            f"| bert space build vs raw sentence-transformers encode | {h['documents']:,} docs | {h['raw_st_docs_per_s']:.1f} docs/s "
            f"| {h['vecdex_build_docs_per_s']:.1f} docs/s | {1 / h['ratio_vecdex_vs_raw_throughput']:.2f}x | {b['source']}: `{b['file']}` ({b['file_mtime']}) |"
        )
    else:
        L.append(f"| bert | | | | | not available: {b.get('error', b.get('headline_error', 'no results file'))[:200]} |")
    it = sub.get("item2vec", {})
    if "headline" in it:
        h = it["headline"]
        L.append(
            f"| item2vec space build (job) vs raw gensim | {h['interactions']:,} interactions | {h['raw_gensim_s']:.2f} s "
            f"| {h['vecdex_job_s']:.2f} s | {h['ratio_job_vs_raw']:.2f}x | {it['source']}: `{it['file']}` ({it['file_mtime']}) |"
        )
    ing = sub.get("ingest", {})
    if "headline" in ing:
        for fam, h in ing["headline"].items():
            L.append(
                f"| {fam} ingest (POST documents into a ready space) vs {h['raw_is']} | {h['documents']:,} docs | {h['raw_docs_per_s']:,.1f} docs/s "
                f"| {h['vecdex_docs_per_s']:,.1f} docs/s | {1 / h['ratio_vecdex_vs_raw']:.2f}x | {ing['source']}: `{ing['file']}` ({ing['file_mtime']}) |"
            )
    else:
        L.append(f"| ingest | | | | | not available: {ing.get('error', ing.get('headline_error', 'no results file'))[:200]} |")
    L += ["", "## Skipped", ""] + [f"* {x}" for x in r["skipped"]] + [""]
    return "\n".join(L)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="10k and 100k vectors, fewer queries; sub-benchmarks read from saved results")
    parser.add_argument("--sizes", type=int, nargs="+", help="collection sizes (default 10k 100k, plus 1M without --quick)")
    parser.add_argument("--queries", type=int, help="queries per figure (default 300; quick 150)")
    parser.add_argument("--rounds", type=int, help="interleaved rounds (default 3; quick 1)")
    parser.add_argument("--budget-s", type=float, default=3 * 3600, help="skip the 1M size if the run is already past this")
    parser.add_argument("--train-docs", type=int, help="documents for the word2vec / doc2vec fit (default 20,000; quick 3,000)")
    parser.add_argument("--run-sub", action="store_true", help="with --quick, also run bench_ingest.py / bench_bert.py / bench_item2vec.py --quick")
    parser.add_argument("--saved-sub", action="store_true", help="read the sub-benchmarks' last saved results instead of running them")
    parser.add_argument("--from-partial", action="store_true", help="take the search part from bench/results/suite.partial.json (a run stopped after it) and run the rest")
    parser.add_argument("--large-rounds", type=int, default=1, help="interleaved rounds at 1M vectors and above (default 1)")
    parser.add_argument("--render", action="store_true", help="only re-write RESULTS_SUITE.md and the PNG from suite.json (with --saved-sub: re-read the sub-benchmarks' saved results first)")
    args = parser.parse_args()
    if args.render:
        saved = json.loads((RESULTS / "suite.json").read_text())
        if args.saved_sub:  # pick up sub-benchmarks saved since the run (e.g. bench_ingest.py run on its own)
            saved["sub_benchmarks"] = sub_benchmarks(saved["quick"], False)
            (RESULTS / "suite.json").write_text(json.dumps(saved, indent=2))
        plot(saved, RESULTS / "suite_recall_qps.png")
        (ROOT / "bench" / "RESULTS_SUITE.md").write_text(markdown(saved))
        return
    quick = args.quick
    sizes = args.sizes or ([10_000, 100_000] if quick else [10_000, 100_000, 1_000_000])
    queries = args.queries or (150 if quick else 300)
    rounds = args.rounds or (1 if quick else 3)
    started = time.time()
    faiss.omp_set_num_threads(1)
    results: dict[str, Any] = {
        "command": "python " + " ".join(["bench/suite.py", *sys.argv[1:]]),
        "started": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "quick": quick,
        "machine": machine_info(),
        "search": [],
        "skipped": [],
        "exact_max_candidates": __import__("indexers.faiss.index", fromlist=["x"]).EXACT_MAX_CANDIDATES,
    }
    if quick:
        results["skipped"].append("1M vectors: not run under --quick.")
    if args.from_partial:
        # Finish a run stopped after its search part (each size is saved as it completes).
        partial = json.loads((RESULTS / "suite.partial.json").read_text())
        results.update({key: partial[key] for key in ("started", "machine", "search", "empty_endpoint", "skipped")})
        results["command"] = partial["command"] + " (search part), then " + results["command"]
        started = dt.datetime.fromisoformat(partial["started"]).timestamp()  # elapsed counts both parts
        sizes = []
    with tempfile.TemporaryDirectory() as tmp:
        if not args.from_partial:
            results["empty_endpoint"] = bench_empty(queries, rounds, Path(tmp))
        for n in sizes:
            if n >= 1_000_000 and time.time() - started > args.budget_s / 3:
                results["skipped"].append(f"{n:,} vectors: skipped, the run was already {time.time() - started:.0f} s in (budget {args.budget_s:.0f} s).")
                continue
            n_rounds = min(rounds, args.large_rounds) if n >= 1_000_000 else rounds
            results["search"].append(bench_search(n, queries, n_rounds, Path(tmp), results["empty_endpoint"]))
            (RESULTS / "suite.partial.json").write_text(json.dumps(results, indent=2))
    results["training"] = bench_training(args.train_docs or (3000 if quick else 20_000), 1 if quick else 3, os.cpu_count() or 1)
    run_sub = (args.run_sub or not quick) and not args.saved_sub
    results["sub_benchmarks"] = sub_benchmarks(quick, run_sub)
    if not run_sub:
        results["skipped"].append("ingest, bert and item2vec were not re-run by this command: their figures are read from the last saved bench/results/*.json, dated in the table.")
    results["load_avg_at_end"] = list(os.getloadavg())
    results["elapsed_s"] = time.time() - started
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "suite.json").write_text(json.dumps(results, indent=2))
    (RESULTS / "suite.partial.json").unlink(missing_ok=True)
    plot(results, RESULTS / "suite_recall_qps.png")
    md = markdown(results)
    (ROOT / "bench" / "RESULTS_SUITE.md").write_text(md)
    print(md)


if __name__ == "__main__":
    main()
