"""BERT threads benchmark: 1 vs 2 (all) threads per query and per batch, on an idle machine and with one core busy.

Why: torch's default (every core) made a query 20x slower when another process
held one of the two cores, and ``torch.set_num_threads`` is process-wide. This
measures what the per-space thread setting (embedders/bert/backends.py) and its
default rule should be, against raw sentence-transformers at each thread count.

    .venv/bin/python bench/bench_threads.py [--queries 40] [--docs 64] [--reps 2] [--quick]

Writes bench/results/threads.json and prints a Markdown section for RESULTS.md.
Progress goes to stderr.

Conditions, in this order in every repetition: ``idle`` (nothing of ours running
besides the benchmark; the machine may be shared with others, the load average is
recorded) and ``busy`` (a subprocess running a Python busy loop, ``while True:
pass``, started before and killed after the measurements: it holds one core
while the scheduler lets it).

Sides, interleaved per condition (raw 1, raw 2, vecdex 1, vecdex 2, vecdex default):

* raw: ``SentenceTransformer(default_model_path(), device="cpu")`` with
  ``torch.set_num_threads(n)`` before its calls; queries ``encode([text])``,
  batch ``encode(texts, batch_size=32)``;
* vecdex: ``BertEmbedder(BertSpec(threads=n))`` (n = 1, all cores, or the spec's
  default ``None``); queries ``embed_query(text)``, batch ``embed_documents(texts)``.

Work: queries are the first ``--queries`` Lee sentences (one timed call each;
p50 and p90 reported); the batch is ``--docs`` documents of 2-4 Lee sentences that
each fit one window (``bench_bert.bert_documents``, seed 11), one timed call.
Each vecdex query vector is checked against raw's (cosine > 0.99999).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from bench_bert import _sentences, bert_documents, log, machine_info, quiet_libraries  # noqa: E402


@contextmanager
def busy_core() -> Iterator[subprocess.Popen[bytes]]:
    """A process spinning on one core for the duration of the block."""
    proc = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    time.sleep(0.5)  # let it get scheduled
    try:
        yield proc
    finally:
        proc.kill()
        proc.wait()


def timed(fn: Callable[[], Any]) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q))


def measure(encode_one: Callable[[str], Any], encode_batch: Callable[[list[str]], Any], queries: list[str],
            docs: list[str]) -> dict[str, Any]:
    """Per-query seconds (one warm-up call untimed) and one batch call's seconds."""
    encode_one(queries[0])
    per_query = [timed(lambda q=q: encode_one(q)) for q in queries]
    batch_s = timed(lambda: encode_batch(docs))
    return {"query_s": per_query, "batch_s": batch_s}


def bench(n_queries: int, n_docs: int, reps: int) -> dict[str, Any]:
    import torch
    from sentence_transformers import SentenceTransformer

    from embedders.bert import BertEmbedder, BertSpec
    from embedders.bert.backends import all_cores
    from embedders.bert.source import default_model_path

    cores = all_cores()
    counts = sorted({1, cores})
    raw_model = SentenceTransformer(str(default_model_path()), device="cpu")
    vecdex = {str(n): BertEmbedder(BertSpec(threads=n)) for n in counts}
    vecdex["default"] = BertEmbedder(BertSpec())
    for e in vecdex.values():
        e.model()
    queries = _sentences()[:n_queries]
    checker = vecdex["default"]
    docs = bert_documents(n_docs, seed=11, fits=lambda texts: [len(w) == 1 for w in checker.windows(texts)])

    # Same vectors: vecdex's query path against raw's, on a few queries.
    ref = raw_model.encode(queries[:5], normalize_embeddings=True)
    got = np.stack([vecdex["default"].embed_query(q) for q in queries[:5]])
    assert float(np.min(np.sum(ref * got, axis=1))) > 0.99999

    def raw_side(n: int) -> tuple[Callable[[str], Any], Callable[[list[str]], Any]]:
        def one(q: str) -> Any:
            torch.set_num_threads(n)
            return raw_model.encode([q])

        def batch(texts: list[str]) -> Any:
            torch.set_num_threads(n)
            return raw_model.encode(texts, batch_size=32)

        return one, batch

    sides: dict[str, tuple[Callable[[str], Any], Callable[[list[str]], Any]]] = {}
    for n in counts:
        sides[f"raw {n}"] = raw_side(n)
    for name, e in vecdex.items():
        sides[f"vecdex {name}"] = (e.embed_query, e.embed_documents)

    runs: dict[str, dict[str, list[dict[str, Any]]]] = {"idle": {s: [] for s in sides}, "busy": {s: [] for s in sides}}
    load: dict[str, list[list[float]]] = {"idle": [], "busy": []}
    initial = torch.get_num_threads()
    for rep in range(reps):
        for condition in ("idle", "busy"):
            ctx = busy_core() if condition == "busy" else _nothing()
            with ctx:
                load[condition].append(list(os.getloadavg()))
                for side, (one, batch) in sides.items():
                    r = measure(one, batch, queries, docs)
                    runs[condition][side].append(r)
                    log(f"rep {rep + 1}/{reps} {condition:4} {side:15} query p50 {1000 * statistics.median(r['query_s']):7.1f} ms"
                        f"  batch {n_docs / r['batch_s']:6.1f} docs/s")
        torch.set_num_threads(initial)

    summary: dict[str, Any] = {}
    for condition, per_side in runs.items():
        summary[condition] = {}
        for side, rs in per_side.items():
            q = [x for r in rs for x in r["query_s"]]
            summary[condition][side] = {
                "query_p50_ms": 1000 * percentile(q, 50),
                "query_p90_ms": 1000 * percentile(q, 90),
                "batch_docs_per_s": n_docs / statistics.median(r["batch_s"] for r in rs),
            }
    busy = summary["busy"]
    raw_best = min((v["query_p50_ms"], k) for k, v in busy.items() if k.startswith("raw"))
    raw_best_batch = max((v["batch_docs_per_s"], k) for k, v in busy.items() if k.startswith("raw"))
    return {
        "cores": cores,
        "queries": n_queries,
        "docs": n_docs,
        "reps": reps,
        "load_average": load,
        "summary": summary,
        "runs": runs,
        "busy_query": {
            "raw_best": raw_best[1],
            "raw_best_p50_ms": raw_best[0],
            "vecdex_default_p50_ms": busy["vecdex default"]["query_p50_ms"],
            "ratio": busy["vecdex default"]["query_p50_ms"] / raw_best[0],
        },
        "busy_batch": {
            "raw_best": raw_best_batch[1],
            "raw_best_docs_per_s": raw_best_batch[0],
            "vecdex_default_docs_per_s": busy["vecdex default"]["batch_docs_per_s"],
            "ratio": raw_best_batch[0] / busy["vecdex default"]["batch_docs_per_s"],
        },
    }


@contextmanager
def _nothing() -> Iterator[None]:
    yield


def markdown(r: dict[str, Any]) -> str:
    t, m = r["threads"], r["machine"]
    lines = [
        f"{t['queries']} queries (one Lee sentence each, p50/p90 over {t['reps']} reps) and one batch of {t['docs']} "
        f"one-window documents per side and condition; {m['cpu_model']}, {t['cores']} cores, torch {m['torch']}, "
        f"sentence-transformers {m['sentence_transformers']}. busy: a Python busy loop in a subprocess. "
        f"Load average at the idle runs: {', '.join(f'{x[0]:.2f}' for x in t['load_average']['idle'])}.",
        "",
        "| side | threads | idle query p50 ms | idle p90 | busy query p50 ms | busy p90 | idle batch docs/s | busy batch docs/s |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for side in t["summary"]["idle"]:
        i, b = t["summary"]["idle"][side], t["summary"]["busy"][side]
        who, threads = side.split(" ", 1)
        if threads == "default":
            threads = f"default (1 per query, {t['cores']} per batch)"
        lines.append(
            f"| {who} | {threads} | {i['query_p50_ms']:.1f} | {i['query_p90_ms']:.1f} | {b['query_p50_ms']:.1f} "
            f"| {b['query_p90_ms']:.1f} | {i['batch_docs_per_s']:.1f} | {b['batch_docs_per_s']:.1f} |"
        )
    bq, bb = t["busy_query"], t["busy_batch"]
    lines += [
        "",
        f"One core busy: vecdex default query p50 {bq['vecdex_default_p50_ms']:.1f} ms vs raw sentence-transformers at its "
        f"best ({bq['raw_best']} threads) {bq['raw_best_p50_ms']:.1f} ms: **{bq['ratio']:.2f}x**. Batch: vecdex default "
        f"{bb['vecdex_default_docs_per_s']:.1f} docs/s vs raw best ({bb['raw_best']}) {bb['raw_best_docs_per_s']:.1f}: "
        f"raw/vecdex {bb['ratio']:.2f}x.",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--queries", type=int, default=None, help="queries per side and condition (default 40; --quick 10)")
    parser.add_argument("--docs", type=int, default=None, help="documents in the batch (default 64; --quick 16)")
    parser.add_argument("--reps", type=int, default=None, help="repetitions (default 2; --quick 1)")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "threads.json")
    args = parser.parse_args()
    quiet_libraries()
    results: dict[str, Any] = {"machine": machine_info(), "command": " ".join(sys.argv[1:])}
    started = time.time()
    results["threads"] = bench(args.queries or (10 if args.quick else 40), args.docs or (16 if args.quick else 64),
                               args.reps or (1 if args.quick else 2))
    results["elapsed_s"] = time.time() - started
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2))
    log(f"wrote {args.out}")
    print(markdown(results))


if __name__ == "__main__":
    main()
