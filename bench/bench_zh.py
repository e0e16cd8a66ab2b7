"""Chinese retrieval quality: bm25, word2vec, doc2vec and bert on a Chinese corpus, through vecdex itself.

The evaluation set is bench/data/zh_eval/ (398 paragraphs of 三国演义 from ten story
arcs, 33 Chinese queries with graded judgements written before any system was run;
see its README.md). Every space is built and searched the way a user's would be: the
in-process facade (``service.facade.Vecdex``) creates a collection, writes the
documents, creates each space and runs its build job, and scores the spaces with the
service's own retrieval evaluation (``vecdex eval retrieval`` / ``POST
.../evaluations``: MRR@10, nDCG@10 with graded gains, recall@10, MAP).

Spaces: each family with its default settings (only ``workers=1`` for
reproducibility; ``seed`` is 1 by default), then bm25, word2vec and doc2vec with the
Chinese tokenizer options of README "Chinese text" - ``stopwords: "chinese"``,
``user_words`` (bench/data/zh_eval/user_words.txt), and both. word2vec and doc2vec
are also trained with more epochs than their defaults (``--epochs``), because the
defaults were chosen on a 350-document English corpus; all rows are reported, the
default-epoch rows are the headline. word2vec's out-of-vocabulary back-off
(``oov_backoff``, default "pieces") is also run as ``"none"`` (the behaviour before it
existed, spaces ``w2v_*bo_none*``) and ``"search"``, on identically trained vectors (the
field changes only how an unknown Han word is embedded, not training).

Usage::

    python bench/bench_zh.py [--epochs 100 200] [--seeds 1 2 3] [--no-bert] [--out PATH]

Writes bench/results/zh_eval.json and prints a Markdown table. About 7 minutes on 2
busy cores (bert ~2-3 min to encode 398 paragraphs; word2vec 15-50 s a space, doc2vec
5-15 s); ``--seeds 1 2 3 --no-bert`` about 9 minutes.
Everything is read from the repository: no network, no model download.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script from anywhere
    sys.path.insert(0, str(ROOT))

DATA = ROOT / "bench" / "data" / "zh_eval"
COLLECTION = "zh"


def load_set(data: Path = DATA) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[str]]:
    """corpus rows, query rows (id, text, relevance) and the user words, as committed."""
    corpus = [json.loads(line) for line in (data / "corpus.jsonl").read_text(encoding="utf-8").splitlines() if line.strip()]
    queries = [json.loads(line) for line in (data / "queries.jsonl").read_text(encoding="utf-8").splitlines() if line.strip()]
    words = [
        w.strip()
        for w in (data / "user_words.txt").read_text(encoding="utf-8").splitlines()
        if w.strip() and not w.lstrip().startswith("#")
    ]
    return corpus, queries, words


def configurations(
    user_words: list[str], epochs: Sequence[int], bert: bool, seeds: Sequence[int] = (1,)
) -> list[tuple[str, str, dict[str, Any]]]:
    """(space name, label, embedder spec) for every space the bench builds (word2vec/doc2vec once per seed)."""
    zh_stop = {"stopwords": "chinese"}
    zh_words = {"user_words": user_words}
    zh_both = {"stopwords": "chinese", "user_words": user_words}
    out: list[tuple[str, str, dict[str, Any]]] = []
    for tag, label, tok in (
        ("", "default", None),
        ("_stop", "stopwords chinese", zh_stop),
        ("_words", "user_words", zh_words),
        ("_zh", "stopwords chinese + user_words", zh_both),
        ("_search", "segment_mode search", {"segment_mode": "search"}),
        ("_zh_search", "stopwords chinese + user_words + segment_mode search", {**zh_both, "segment_mode": "search"}),
    ):
        out.append((f"bm25{tag}", f"bm25, {label}", {"type": "bm25", **({"tokenizer": tok} if tok else {})}))
    for seed in seeds:
        suffix = "" if len(seeds) == 1 else f"_s{seed}"
        for family in ("word2vec", "doc2vec"):
            short = "w2v" if family == "word2vec" else "d2v"
            for tag, label, tok in (
                ("", "default", None),
                ("_stop", "stopwords chinese", zh_stop),
                ("_words", "user_words", zh_words),
                ("_zh", "stopwords chinese + user_words", zh_both),
            ):
                spec: dict[str, Any] = {"type": family, "workers": 1, "seed": seed}
                if tok:
                    spec["tokenizer"] = tok
                out.append((f"{short}{tag}{suffix}", f"{family}, {label}", spec))
            for tag, label, extra in (  # phrases learned from the corpus (gensim Phrases, default thresholds)
                ("_ph", "phrases", {"phrases": {}}),
                ("_stop_ph", "stopwords chinese + phrases", {"phrases": {}, "tokenizer": zh_stop}),
                ("_search", "segment_mode search", {"tokenizer": {"segment_mode": "search"}}),
                ("_stop_search", "stopwords chinese + segment_mode search",
                 {"tokenizer": {**zh_stop, "segment_mode": "search"}}),
            ):
                out.append((f"{short}{tag}{suffix}", f"{family}, {label}", {"type": family, "workers": 1, "seed": seed, **extra}))
            if family == "word2vec":  # the out-of-vocabulary back-off (default "pieces") against the old behaviour
                for tag, label, extra in (
                    ("_bo_none", "oov_backoff none (before the back-off)", {"oov_backoff": "none"}),
                    ("_bo_search", "oov_backoff search", {"oov_backoff": "search"}),
                    ("_stop_bo_none", "stopwords chinese, oov_backoff none", {"oov_backoff": "none", "tokenizer": zh_stop}),
                    ("_seg_bo_none", "segment_mode search, oov_backoff none",
                     {"oov_backoff": "none", "tokenizer": {"segment_mode": "search"}}),
                ):
                    out.append((f"w2v{tag}{suffix}", f"word2vec, {label}", {"type": family, "workers": 1, "seed": seed, **extra}))
                for n in epochs:
                    out.append((f"w2v_bo_none_e{n}{suffix}", f"word2vec, oov_backoff none, {n} epochs",
                                {"type": family, "workers": 1, "seed": seed, "epochs": n, "oov_backoff": "none"}))
            for n in epochs:
                base = {"type": family, "workers": 1, "seed": seed, "epochs": n}
                out.append((f"{short}_e{n}{suffix}", f"{family}, default, {n} epochs", base))
                out.append(
                    (f"{short}_zh_e{n}{suffix}", f"{family}, stopwords chinese + user_words, {n} epochs",
                     {**base, "tokenizer": zh_both})
                )
    if bert:
        out.append(("bert", "bert (all-MiniLM-L6-v2, English), default", {"type": "bert"}))
    return out


def run(
    epochs: Sequence[int], bert: bool, workdir: Path, seeds: Sequence[int] = (1,), only: Sequence[str] = ()
) -> dict[str, Any]:
    from pydantic import TypeAdapter

    from embedders.storage import library_versions
    from service.evaluation.requests import EvaluationRequest
    from service.facade import Vecdex
    from service.schemas import CollectionCreate, DocumentIn
    from service.settings import Settings
    from service.space_schemas import SpaceCreate
    from service.store.migrate import upgrade

    corpus, queries, user_words = load_set()
    settings = Settings(data_dir=workdir, embedded_worker=False)
    upgrade(settings.resolved_database_url)
    vx = Vecdex(settings)
    try:
        vx.collections.create(body=CollectionCreate(name=COLLECTION))
        vx.documents.write(
            collection=COLLECTION,
            documents=[DocumentIn(external_id=r["external_id"], text=r["text"], metadata={"arc": r["arc"]}) for r in corpus],
        )
        rows: list[dict[str, Any]] = []
        for name, label, spec in configurations(user_words, epochs, bert, seeds):
            if only and not any(name.startswith(prefix) for prefix in only):
                continue
            t0 = time.perf_counter()
            created = vx.spaces.create(collection=COLLECTION, body=SpaceCreate.model_validate({"name": name, "embedder": spec}))
            job = vx.jobs.run_here(job_id=created.job.id, label="bench")
            build_s = time.perf_counter() - t0
            if job is None or job.status != "succeeded":
                raise RuntimeError(f"build of {name} failed: {job}")
            print(f"built {name} in {build_s:.1f}s", file=sys.stderr, flush=True)
            rows.append({"space": name, "label": label, "embedder": spec, "build_s": round(build_s, 2)})

        request = TypeAdapter(EvaluationRequest).validate_python(
            {
                "task": "retrieval",
                "k": [10],
                "spaces": [r["space"] for r in rows],
                "dataset": "zh_eval-sanguo-v1",
                "queries": [{"id": q["id"], "text": q["text"]} for q in queries],
                "qrels": {q["id"]: q["relevance"] for q in queries},
            }
        )
        t0 = time.perf_counter()
        result = vx.evaluations.run(collection=COLLECTION, body=request)
        eval_s = time.perf_counter() - t0
        by_space = {r.space: r for r in result.results}
        for row in rows:
            r = by_space[row["space"]]
            if r.status != "ok":
                raise RuntimeError(f"{row['space']}: {r.status} {r.reason}")
            row["metrics"] = {k: (round(v, 4) if isinstance(v, float) else v) for k, v in r.metrics.items()}
        for row in rows:  # per query, through the search path (the evaluation stores only the means)
            row["per_query_rr@10"] = per_query_rr(vx, row["space"], queries)
            mean = sum(row["per_query_rr@10"].values()) / len(queries)
            assert abs(mean - row["metrics"]["mrr@10"]) < 1e-3, (row["space"], mean, row["metrics"]["mrr@10"])
        analyzed = analyze_queries(vx, queries, [r["space"] for r in rows])  # what the tokenizer makes of each query (the analyze endpoint)
    finally:
        vx.close()
    return {
        "benchmark": "Chinese retrieval (三国演义 paragraphs, bench/data/zh_eval), MRR@10 / nDCG@10 via vecdex's retrieval evaluation",
        "corpus_paragraphs": len(corpus),
        "queries": len(queries),
        "judgements": sum(len(q["relevance"]) for q in queries),
        "user_words": user_words,
        "epochs_tried": {"word2vec": [40, *epochs], "doc2vec": [60, *epochs]},
        "seeds": list(seeds),
        "summary": summarise(rows),
        "evaluation_s": round(eval_s, 1),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
            "versions": library_versions("gensim", "jieba", "bm25s", "sentence-transformers", "stopwordsiso"),
        },
        "results": rows,
        "query_tokens": analyzed,
    }


def per_query_rr(vx: Any, space: str, queries: list[dict[str, Any]]) -> dict[str, float]:
    """Reciprocal rank at 10 of each query in one space, from a plain search."""
    from service.evaluation.metrics import reciprocal_rank
    from service.schemas import SearchRequest

    out: dict[str, float] = {}
    for q in queries:
        hits = vx.queries.search(collection=COLLECTION, body=SearchRequest(query=q["text"], k=10, space=space, snippet_chars=0)).hits
        out[q["id"]] = round(reciprocal_rank([h.external_id for h in hits], q["relevance"], 10), 4)
    return out


def summarise(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Mean, min and max over seeds per configuration label (one row per label when there is one seed)."""
    by_label: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        by_label.setdefault(r["label"], []).append(r)
    out = []
    for label, group in by_label.items():
        entry: dict[str, Any] = {"label": label, "spaces": [r["space"] for r in group], "n": len(group)}
        for metric in ("mrr@10", "ndcg@10", "recall@10"):
            values = [r["metrics"][metric] for r in group]
            entry[metric] = {"mean": round(sum(values) / len(values), 4), "min": min(values), "max": max(values)}
        entry["build_s_mean"] = round(sum(r["build_s"] for r in group) / len(group), 1)
        out.append(entry)
    return out


def analyze_queries(vx: Any, queries: list[dict[str, Any]], built: Sequence[str]) -> dict[str, dict[str, list[str]]]:
    """Each query's tokens under the default tokenizer and the Chinese settings (bm25 spaces' analyze, those built)."""
    from service.schemas import AnalyzeRequest

    spaces = [s for s in ("bm25", "bm25_zh", "bm25_zh_search") if s in built]
    out: dict[str, dict[str, list[str]]] = {}
    for q in queries:
        out[q["id"]] = {
            space: list(vx.queries.analyze(collection=COLLECTION, space=space, body=AnalyzeRequest(text=q["text"])).tokens)
            for space in spaces
        }
    return out


def markdown(report: dict[str, Any]) -> str:
    several = len(report["seeds"]) > 1
    head = "MRR@10 mean (min-max)" if several else "MRR@10"
    lines = [
        f"| configuration | {head} | nDCG@10 | recall@10 | build s |",
        "|---|---:|---:|---:|---:|",
    ]
    for r in report["summary"]:
        mrr = r["mrr@10"]
        spread = f" ({mrr['min']:.3f}-{mrr['max']:.3f})" if several and r["n"] > 1 else ""
        lines.append(
            f"| {r['label']} | {mrr['mean']:.3f}{spread} | {r['ndcg@10']['mean']:.3f} | {r['recall@10']['mean']:.3f}"
            f" | {r['build_s_mean']:.1f} |"
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, nargs="*", default=[100],
                        help="extra epoch counts for word2vec and doc2vec (default: 100; none: --epochs alone)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[1],
                        help="word2vec/doc2vec seeds; with several, the table shows mean (min-max) per configuration")
    parser.add_argument("--no-bert", action="store_true", help="skip the bert space (the slowest build)")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "zh_eval.json")
    parser.add_argument("--only", nargs="*", default=[], help="build only the spaces whose names start with these (e.g. bm25 w2v_ph)")
    args = parser.parse_args(argv)
    for name in ("jieba", "gensim", "bm25s", "sentence_transformers", "httpx"):
        logging.getLogger(name).setLevel(logging.WARNING)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="vecdex-zh-") as tmp:
        report = run(args.epochs, not args.no_bert, Path(tmp), args.seeds, args.only)
    report["wall_s"] = round(time.perf_counter() - started, 1)
    print()
    print(markdown(report))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    print(f"\nwrote {args.out} ({report['wall_s']} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
