"""Issue 13's fast paths, each beside its reference in the same run (ratios are the figures to read).

    .venv/bin/python bench/bench_request_path.py [--sizes 100000 1000000] [--quick]

1. Request path (350 Lee documents, word2vec): search p50 over HTTP one request at
   a time vs an empty FastAPI route on the same kind of server (bench/empty_app.py:
   uvicorn, one process), the server's CPU per request, and QPS at 8 concurrent
   clients (bench/loadgen.py: keep-alive sockets, requests encoded up front).
   Reference for the work itself: embed + FAISS in-process.
2. Filtered search (N documents with given 64-d vectors, HNSW): p50 unfiltered vs
   filtered at selectivities 0.1 % .. 90 %, in-process and over HTTP, and raw FAISS
   with an in-memory numpy mask (IDSelectorBitmap) over the same vectors.
3. Concurrency on the biggest N (bench/concurrency.py): QPS with 8 clients vs raw
   FAISS searched by 8 Python threads (one query per call, as clients send them):
   vecdex embedded (8 threads on the facade), vecdex over HTTP, and raw FAISS behind
   a bare FastAPI route (bench/faiss_app.py), the HTTP floor of this machine.

Writes bench/results/request_path.json and prints Markdown tables.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import faiss
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from concurrency import concurrency, markdown as concurrency_markdown  # noqa: E402
from loadgen import latencies_ms, post_request, throughput  # noqa: E402
from servers import Server, med  # noqa: E402

DIM = 64
W2V = {"type": "word2vec", "dim": 100, "epochs": 10, "min_count": 2, "seed": 1, "workers": 1}
HNSW = {"kind": "hnsw"}  # vecdex's defaults: M 32, efConstruction 64, efSearch 128
EF_SEARCH = 128
FILTERS: dict[str, dict[str, Any]] = {
    "0.1% contains": {"tags": {"contains": "g7"}},
    "1% eq": {"topic": "t3"},
    "10% bool": {"draft": True},
    "20% range": {"year": {"gte": 2000, "lt": 2007}},
    "50% contains": {"tags": {"contains": "hot"}},
    "90% ne": {"draft": {"ne": True}},
    "or/not": {"or": [{"topic": {"in": ["t1", "t2"]}}, {"not": {"year": {"lt": 2021}}}]},
}


# ----------------------------------------------------------------------------- 1. request path


def request_path(workdir: Path, rounds: int, seconds: float) -> dict[str, Any]:
    from embedders.datasets import lee_background, lee_test
    from service.facade import Vecdex
    from service.schemas import CollectionCreate, DocumentIn, SearchRequest
    from service.settings import Settings
    from service.space_schemas import SpaceCreate
    from service.store.migrate import upgrade

    data = workdir / "lee350"
    settings = Settings(data_dir=data, embedded_worker=False)
    upgrade(settings.resolved_database_url)
    vx = Vecdex(settings)
    texts = lee_background() + lee_test()
    topics = ["sport", "politics", "science", "arts", "world"]
    if not (data / "bench-built.json").exists():
        vx.collections.create(body=CollectionCreate(name="news"))
        docs = [
            DocumentIn(external_id=f"d{i}", text=t, metadata={"year": 2000 + i % 25, "topic": topics[i % 5]})
            for i, t in enumerate(texts)
        ]
        vx.documents.write(collection="news", documents=docs)
        space = SpaceCreate.model_validate({"name": "w2v", "embedder": W2V})
        job = vx.jobs.run_here(job_id=vx.spaces.create(collection="news", body=space).job.id, label="bench")
        assert job is not None and job.status == "succeeded", job
        (data / "bench-built.json").write_text("{}")
    rng = random.Random(3)
    queries = [" ".join(rng.choice(texts).split()[:8]) for _ in range(200)]
    # The work itself, in-process: embed the query + FAISS search on the loaded space.
    vx.queries.search(collection="news", body=SearchRequest(query=queries[0], k=10))
    runtime = next(iter(vx.core.runtimes._cache.values()))
    work = []
    for q in queries:
        t0 = time.perf_counter()
        runtime.index.search(runtime.embedder.embed_query(q)[None, :], 10)
        work.append((time.perf_counter() - t0) * 1000)
    inproc = []
    for q in queries:
        t0 = time.perf_counter()
        vx.queries.search(collection="news", body=SearchRequest(query=q, k=10, snippet_chars=200))
        inproc.append((time.perf_counter() - t0) * 1000)
    vx.close()

    vec, empty = Server(data), Server(None)
    try:
        vreq = [post_request("/collections/news/search", {"query": q, "k": 10, "snippet_chars": 200}) for q in queries]
        freq = [
            post_request("/collections/news/search", {"query": q, "k": 10, "snippet_chars": 200, "filter": {"topic": "sport"}})
            for q in queries
        ]
        ereq = [post_request("/search", {"query": q, "k": 10, "snippet_chars": 200}) for q in queries]
        latencies_ms(vec.port, vreq[:50])
        latencies_ms(empty.port, ereq[:50])
        lat: dict[str, list[float]] = {"empty": [], "vecdex": [], "vecdex filtered": []}
        cpu: dict[str, list[float]] = {"empty": [], "vecdex": []}
        for _ in range(rounds):  # interleaved: the same machine load for each side
            for name, server, reqs in (("empty", empty, ereq), ("vecdex", vec, vreq), ("vecdex filtered", vec, freq)):
                c0 = server.cpu()
                lat[name] += latencies_ms(server.port, reqs)
                if name in cpu:
                    cpu[name].append((server.cpu() - c0) / len(reqs) * 1000)
        qps: dict[str, list[float]] = {"empty": [], "vecdex": []}
        p50s: dict[str, list[float]] = {"empty": [], "vecdex": []}
        for _ in range(rounds):
            for name, server, reqs in (("empty", empty, ereq), ("vecdex", vec, vreq)):
                t = throughput(server.port, reqs, clients=8, seconds=seconds)
                qps[name].append(t.qps)
                p50s[name].append(t.p50_ms)
    finally:
        vec.stop()
        empty.stop()
    out = {
        "documents": len(texts),
        "embed_plus_faiss_inprocess_p50_ms": med(work),
        "vecdex_inprocess_p50_ms": med(inproc),
        "http_p50_ms": {k: med(v) for k, v in lat.items()},
        "server_cpu_ms_per_request": {k: med(v) for k, v in cpu.items()},
        "qps_8_clients": {k: med(v) for k, v in qps.items()},
        "p50_ms_8_clients": {k: med(v) for k, v in p50s.items()},
    }
    out["http_p50_over_empty_ms"] = out["http_p50_ms"]["vecdex"] - out["http_p50_ms"]["empty"]
    out["qps_ratio"] = out["qps_8_clients"]["vecdex"] / out["qps_8_clients"]["empty"]
    return out


# ----------------------------------------------------------------------------- 2. filtered search


def metadata(i: int) -> dict[str, Any]:
    tags = [f"g{i % 1000}"] + (["hot"] if i % 2 == 0 else [])
    return {"year": 1990 + (i * 7919) % 35, "topic": f"t{(i * 104729) % 100}", "draft": i % 10 == 0, "tags": tags}


def masks(n: int) -> dict[str, np.ndarray]:
    i = np.arange(n)
    year = 1990 + (i * 7919) % 35
    topic = (i * 104729) % 100
    draft = i % 10 == 0
    return {
        "0.1% contains": i % 1000 == 7,
        "1% eq": topic == 3,
        "10% bool": draft,
        "20% range": (year >= 2000) & (year < 2007),
        "50% contains": i % 2 == 0,
        "90% ne": ~draft,
        "or/not": np.isin(topic, [1, 2]) | (year >= 2021),
    }


def vectors(n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((256, DIM)).astype(np.float32)
    v = centres[rng.integers(0, 256, n)] + 0.6 * rng.standard_normal((n, DIM)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def build_vectors_collection(workdir: Path, n: int) -> tuple[Path, np.ndarray, dict[str, float]]:
    from service.facade import Vecdex
    from service.schemas import CollectionCreate, DocumentIn
    from service.settings import Settings
    from service.space_schemas import SpaceCreate
    from service.store.migrate import upgrade

    data = workdir / f"vec{n}"
    done_marker = data / "bench-built.json"
    if done_marker.exists():  # built by an earlier run with --workdir: reuse it
        return data, vectors(n), json.loads(done_marker.read_text())
    settings = Settings(data_dir=data, embedded_worker=False)
    upgrade(settings.resolved_database_url)
    vx = Vecdex(settings)
    vecs = vectors(n)
    timings: dict[str, float] = {}
    vx.collections.create(body=CollectionCreate(name="big"))
    space = SpaceCreate.model_validate(
        {"name": "v", "embedder": {"type": "vectors", "dim": DIM, "metric": "cosine"}, "index": HNSW}
    )
    created = vx.spaces.create(collection="big", body=space)
    vx.jobs.run_here(job_id=created.job.id, label="bench")
    t0 = time.perf_counter()
    for start in range(0, n, 2000):
        stop = min(n, start + 2000)
        vx.documents.write(
            collection="big",
            documents=[
                DocumentIn(external_id=f"d{i}", text=f"document {i}", metadata=metadata(i), vectors={"v": vecs[i].tolist()})
                for i in range(start, stop)
            ],
        )
        if start % 100_000 == 0:
            print(f"  ingested {stop:,} / {n:,}", flush=True)
    timings["ingest_s"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    job = vx.spaces.rebuild(collection="big", space="v")
    done = vx.jobs.run_here(job_id=job.job.id, label="bench")
    assert done is not None and done.status == "succeeded", done
    timings["build_s"] = time.perf_counter() - t0
    vx.close()
    done_marker.write_text(json.dumps(timings))
    return data, vecs, timings


def latest_snapshot(data: Path) -> Path:
    """The file of the HNSW graph vecdex built (its newest index snapshot)."""
    return sorted(data.glob("spaces/*/index/index.faiss"), key=lambda p: p.stat().st_mtime)[-1]


def raw_index(data: Path) -> Any:
    """The very HNSW graph vecdex built (its snapshot file), loaded by FAISS alone: the same work, no service."""
    return faiss.read_index(str(latest_snapshot(data)))


def raw_search(index: Any, q: np.ndarray, k: int, mask: np.ndarray | None) -> Any:
    """What vecdex asks FAISS for, given the mask (indexers.faiss.index): few allowed (2,048 ids or 2 %, or
    up to 2**20 floats of them) are compared in place by ``fvec_inner_products_by_idx``; more widen
    efSearch by the inverse selectivity under an IDSelectorBitmap."""
    if mask is None:
        return index.search(q[None, :], k, params=faiss.SearchParametersHNSW(efSearch=EF_SEARCH))
    count = int(mask.sum())
    if count <= max(2048, 0.02 * len(mask)) or count * DIM <= 1 << 20:
        storage = faiss.downcast_index(index.storage)
        positions = np.flatnonzero(mask)
        scores = np.empty(count, dtype=np.float32)
        qc = np.ascontiguousarray(q[None, :], dtype=np.float32)
        faiss.fvec_inner_products_by_idx(  # cosine space: inner product
            faiss.swig_ptr(scores), faiss.swig_ptr(qc), storage.get_xb(), faiss.swig_ptr(positions), DIM, 1, count
        )
        best = np.argpartition(-scores, k - 1)[:k]
        best = best[np.argsort(-scores[best], kind="stable")]
        return scores[best], positions[best]
    sel = faiss.IDSelectorBitmap(np.packbits(mask, bitorder="little"))
    ef = min(4096, int(np.ceil(EF_SEARCH * len(mask) / count)))
    return index.search(q[None, :], k, params=faiss.SearchParametersHNSW(efSearch=ef, sel=sel))


def filtered(data: Path, vecs: np.ndarray, n: int, queries: int) -> dict[str, Any]:
    from service.facade import Vecdex
    from service.schemas import SearchRequest
    from service.settings import Settings

    faiss.omp_set_num_threads(1)
    rng = np.random.default_rng(5)
    qv = vecs[rng.integers(0, n, queries)] + 0.05 * rng.standard_normal((queries, DIM)).astype(np.float32)
    qv /= np.linalg.norm(qv, axis=1, keepdims=True)
    raw = raw_index(data)
    mask_of = masks(n)
    vx = Vecdex(Settings(data_dir=data, embedded_worker=False))
    server = Server(data)
    rows: dict[str, dict[str, float]] = {}
    try:
        # Both sides load the collection's metadata columns first (the server in the background: 40 s at
        # 1M), so no row, the unfiltered one included, is measured while a load competes for the CPU.
        first = next(iter(FILTERS.values()))
        warm = {"vector": qv[0].tolist(), "k": 10, "snippet_chars": 100, "filter": first}
        latencies_ms(server.port, [post_request("/collections/big/search", warm)])  # starts the server's load
        vx.queries.search(collection="big", body=SearchRequest.model_validate(warm))  # loads here
        t0 = time.perf_counter()
        vx.queries.search(collection="big", body=SearchRequest.model_validate(warm))
        wait_for_columns(server.port, post_request("/collections/big/search", warm), (time.perf_counter() - t0) * 1000)
        for name, flt in [("unfiltered", None), *FILTERS.items()]:
            mask = None if flt is None else mask_of[name]
            bodies = [{"vector": q.tolist(), "k": 10, "snippet_chars": 100, **({"filter": flt} if flt else {})} for q in qv]
            reqs = [post_request("/collections/big/search", b) for b in bodies]
            typed = [SearchRequest.model_validate(b) for b in bodies]
            vx.queries.search(collection="big", body=typed[0])  # load + warm
            latencies_ms(server.port, reqs[:5])
            r_raw, r_in, r_http = [], [], []
            for i in range(queries):  # interleaved query by query
                t0 = time.perf_counter()
                raw_search(raw, qv[i], 10, mask)
                t1 = time.perf_counter()
                vx.queries.search(collection="big", body=typed[i])
                t2 = time.perf_counter()
                r_raw.append((t1 - t0) * 1000)
                r_in.append((t2 - t1) * 1000)
                r_http += latencies_ms(server.port, [reqs[i]])
            rows[name] = {
                "selectivity": 1.0 if mask is None else float(mask.mean()),
                "raw_p50_ms": med(r_raw),
                "inprocess_p50_ms": med(r_in),
                "http_p50_ms": med(r_http),
            }
            print(f"  {n:,} {name}: {rows[name]}", flush=True)
    finally:
        server.stop()
        vx.close()
    base = rows["unfiltered"]
    for row in rows.values():
        row["http_over_unfiltered_ms"] = row["http_p50_ms"] - base["http_p50_ms"]
        row["inprocess_over_unfiltered_ms"] = row["inprocess_p50_ms"] - base["inprocess_p50_ms"]
    return {"documents": n, "rows": rows, "_raw": raw, "_queries": qv}


def wait_for_columns(port: int, request: bytes, inprocess_ms: float, timeout: float = 300) -> None:
    """Until the server answers this filtered query about as fast as the in-process side (whose columns are
    loaded): then its own background load is done too."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        if med(latencies_ms(port, [request] * 5)) < 2 * inprocess_ms + 3:
            return
        time.sleep(1)
    print("  (the server's filter columns did not load in time: filtered HTTP figures include SQL)", flush=True)


# ----------------------------------------------------------------------------- report


def markdown(r: dict[str, Any]) -> str:
    lines = []
    a = r.get("request_path")
    if a:
        h, c, q = a["http_p50_ms"], a["server_cpu_ms_per_request"], a["qps_8_clients"]
        lines += [
            "| request path (350 docs, word2vec) | vecdex | empty route | difference / ratio |",
            "|---|---|---|---|",
            f"| search p50 over HTTP, 1 client | {h['vecdex']:.2f} ms | {h['empty']:.2f} ms | +{a['http_p50_over_empty_ms']:.2f} ms |",
            f"| filtered (topic, 20 %) p50 | {h['vecdex filtered']:.2f} ms | | +{h['vecdex filtered'] - h['empty']:.2f} ms |",
            f"| server CPU per request | {c['vecdex']:.2f} ms | {c['empty']:.2f} ms | {c['vecdex'] / c['empty']:.2f}x |",
            f"| QPS, 8 clients | {q['vecdex']:.0f} | {q['empty']:.0f} | {a['qps_ratio']:.0%} |",
            f"| in-process search p50 | {a['vecdex_inprocess_p50_ms']:.3f} ms | embed + FAISS {a['embed_plus_faiss_inprocess_p50_ms']:.3f} ms | |",
            "",
        ]
    for f in r.get("filtered", []):
        lines += [
            f"| {f['documents']:,} docs, HNSW | selectivity | raw FAISS + numpy mask p50 | vecdex in-process p50 | vecdex HTTP p50 | HTTP − unfiltered |",
            "|---|---|---|---|---|---|",
        ]
        for name, row in f["rows"].items():
            lines.append(
                f"| {name} | {row['selectivity']:.2%} | {row['raw_p50_ms']:.2f} ms | {row['inprocess_p50_ms']:.2f} ms "
                f"| {row['http_p50_ms']:.2f} ms | {row['http_over_unfiltered_ms']:+.2f} ms |"
            )
        lines.append("")
    c = r.get("concurrency")
    if c:
        lines += concurrency_markdown(c)
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="*", default=[100_000])
    parser.add_argument("--queries", type=int, default=150)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--skip-request-path", action="store_true")
    parser.add_argument("--quick", action="store_true", help="10k documents, fewer queries and rounds")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "request_path.json")
    parser.add_argument("--workdir", type=Path, help="keep the built collections here and reuse them (default: a temp dir)")
    parser.add_argument("--build-only", action="store_true", help="build the --sizes collections in --workdir and stop")
    args = parser.parse_args()
    if args.quick:
        args.sizes, args.queries, args.rounds, args.seconds = [10_000], 40, 1, 2.0
    result: dict[str, Any] = {
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "load": os.getloadavg()},
        "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    if args.build_only:
        assert args.workdir, "--build-only needs --workdir"
        for n in args.sizes:
            print(build_vectors_collection(args.workdir, n)[2])
        return
    with tempfile.TemporaryDirectory(prefix="vecdex-bench-") as tmp:
        workdir = args.workdir or Path(tmp)
        workdir.mkdir(parents=True, exist_ok=True)
        if not args.skip_request_path:
            print("request path ...", flush=True)
            result["request_path"] = request_path(workdir, args.rounds, args.seconds)
        result["filtered"] = []
        for n in args.sizes:
            print(f"building {n:,} documents ...", flush=True)
            data, vecs, timings = build_vectors_collection(workdir, n)
            part = filtered(data, vecs, n, args.queries)
            raw, qv = part.pop("_raw"), part.pop("_queries")
            part["build"] = timings
            result["filtered"].append(part)
            if n == max(args.sizes):
                print("concurrency ...", flush=True)
                index_file = latest_snapshot(data)
                result["concurrency"] = {
                    "documents": n,
                    **concurrency(data, raw, index_file, qv, EF_SEARCH, args.rounds, args.seconds),
                }
            del raw
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    print(markdown(result))


if __name__ == "__main__":
    main()
