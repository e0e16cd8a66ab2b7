"""Part 3 of bench_request_path.py: a big HNSW index under 8 concurrent clients, beside raw FAISS.

Four ways of asking the same graph (vecdex's own snapshot, read by
``faiss.read_index`` for the raw sides) the same queries, interleaved per round:

- raw FAISS searched by 8 Python threads, one query per call (the issue's reference);
- raw FAISS behind a bare FastAPI route (bench/faiss_app.py) with 8 HTTP clients:
  what any HTTP service around this index pays on this machine (the load generator
  shares its two cores);
- vecdex over HTTP, 8 clients;
- vecdex embedded (the facade the HTTP routes call, ``Vecdex.queries.search``), 8 threads.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import faiss
import numpy as np

from loadgen import latencies_ms, post_request, throughput
from servers import Server, med


def threaded_qps(search: Callable[[int], Any], seconds: float, threads: int = 8) -> float:
    """Calls per second of ``search(i)`` from ``threads`` threads, each cycling through its own queries."""
    stop = time.perf_counter() + seconds
    counts = [0] * threads

    def worker(slot: int) -> None:
        i = slot
        while time.perf_counter() < stop:
            search(i)
            counts[slot] += 1
            i += threads

    t0 = time.perf_counter()
    pool = [threading.Thread(target=worker, args=(s,)) for s in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    return sum(counts) / (time.perf_counter() - t0)


def concurrency(
    data: Path, raw: Any, index_file: Path, qv: np.ndarray, ef_search: int, rounds: int, seconds: float
) -> dict[str, Any]:
    from service.facade import Vecdex
    from service.schemas import SearchRequest
    from service.settings import Settings

    params = faiss.SearchParametersHNSW(efSearch=ef_search)

    def raw_search(i: int) -> None:
        faiss.omp_set_num_threads(1)  # per thread
        raw.search(qv[i % len(qv)][None, :], 10, params=params)

    vx = Vecdex(Settings(data_dir=data, embedded_worker=False))
    bodies = [SearchRequest(vector=q.tolist(), k=10, snippet_chars=100) for q in qv]

    def embedded_search(i: int) -> None:
        vx.queries.search(collection="big", body=bodies[i % len(bodies)])

    embedded_search(0)  # loads the space
    server = Server(data)
    faiss_http = Server(None, ["faiss_app.py", str(index_file), str(ef_search)])
    reqs = [post_request("/collections/big/search", {"vector": q.tolist(), "k": 10, "snippet_chars": 100}) for q in qv]
    freqs = [post_request("/search", {"vector": q.tolist(), "k": 10}) for q in qv]
    runs: dict[str, list[float]] = {"raw": [], "raw_http": [], "vecdex_http": [], "vecdex_embedded": []}
    p50 = []
    try:
        latencies_ms(server.port, reqs[:20])
        latencies_ms(faiss_http.port, freqs[:20])
        for _ in range(rounds):
            runs["raw"].append(threaded_qps(raw_search, seconds))
            runs["raw_http"].append(throughput(faiss_http.port, freqs, clients=8, seconds=seconds).qps)
            t = throughput(server.port, reqs, clients=8, seconds=seconds)
            runs["vecdex_http"].append(t.qps)
            p50.append(t.p50_ms)
            runs["vecdex_embedded"].append(threaded_qps(embedded_search, seconds))
    finally:
        server.stop()
        faiss_http.stop()
        vx.close()
    qps = {k: med(v) for k, v in runs.items()}
    return {
        "raw_faiss_qps_8_threads": qps["raw"],
        "raw_faiss_http_qps_8_clients": qps["raw_http"],
        "vecdex_http_qps_8_clients": qps["vecdex_http"],
        "vecdex_embedded_qps_8_threads": qps["vecdex_embedded"],
        "vecdex_p50_ms_8_clients": med(p50),
        "runs": runs,
        "ratio": qps["vecdex_http"] / qps["raw"],
        "embedded_ratio": qps["vecdex_embedded"] / qps["raw"],
        "http_ratio_same_stack": qps["vecdex_http"] / qps["raw_http"],
    }


def markdown(c: dict[str, Any]) -> list[str]:
    raw = c["raw_faiss_qps_8_threads"]
    return [
        f"| HNSW {c['documents']:,}, 8 clients | QPS | of raw FAISS |",
        "|---|---|---|",
        f"| raw FAISS, 8 threads | {raw:.0f} | 100% |",
        f"| vecdex embedded (facade), 8 threads | {c['vecdex_embedded_qps_8_threads']:.0f} | {c['embedded_ratio']:.0%} |",
        f"| raw FAISS behind a bare FastAPI route, 8 HTTP clients | {c['raw_faiss_http_qps_8_clients']:.0f} "
        f"| {c['raw_faiss_http_qps_8_clients'] / raw:.0%} |",
        f"| vecdex over HTTP, 8 clients (p50 {c['vecdex_p50_ms_8_clients']:.1f} ms) | {c['vecdex_http_qps_8_clients']:.0f} "
        f"| {c['ratio']:.0%} ({c['http_ratio_same_stack']:.0%} of the bare route's) |",
    ]
