"""Lee 2005 document similarity of a bm25 space through the service (issue 14): symmetric vs asymmetric.

The in-process facade (``service.facade.Vecdex``) writes the Lee corpus (300 background documents +
the 50 rated ones, as bench/bench_lee_combined.py does, so the term statistics are the same) into
one collection, builds one bm25 space per scoring variant (default spec: ``lucene``, k1 1.5, b 0.75,
the shared tokenizer's defaults), and runs the service's similarity evaluation (``POST
.../evaluations``, what ``vecdex eval similarity`` runs) on the 50 rated documents' human matrix
(1225 pairs). That figure is the symmetric, self-normalised similarity ``/similar`` now ranks by:

    sim(a, b) = ( bm25(a->b) / bm25(a->a) + bm25(b->a) / bm25(b->b) ) / 2.

For comparison, computed here from the same index (the space's own ``KeywordIndex``) by the
asymmetric route ``/similar`` took before - a document's text as a BM25 query: the raw
bm25(a->b) with a the first of the pair (i < j); the same with a the second; the mean of the two
raw directions (symmetric but unnormalised); each direction alone, self-normalised; and the
cosine of the two documents' BM25 weight vectors (Whissell & Clarke 2011).

Usage::

    python bench/eval_lee_bm25.py [--methods lucene ...] [--workdir DIR] [--out PATH]

Writes bench/results/lee_bm25_symmetric.json. Well under a minute on 2 cores.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from machine import write_report  # noqa: E402

COLLECTION = "lee"


def pearson(x: np.ndarray, y: np.ndarray) -> dict[str, float]:
    from scipy.stats import spearmanr

    return {"pearson": round(float(np.corrcoef(x, y)[0, 1]), 4), "spearman": round(float(spearmanr(x, y).statistic), 4)}


def alternatives(index: Any, ids: list[int], human: np.ndarray) -> dict[str, dict[str, float]]:
    """The asymmetric and other forms, from the space's index, over the same 1225 pairs."""
    from embedders.bm25 import KeywordIndex

    assert isinstance(index, KeywordIndex)
    state, _ = index._state_of(ids[0])  # the index's own matrices (what the symmetric form uses)
    rows = state.positions(np.asarray(ids, dtype=np.int64))
    counts = state.count_rows[rows]
    weights = state.weight_rows[rows]
    raw = np.asarray((counts @ weights.T).todense(), dtype=np.float64)  # raw[i, j] = bm25(i -> j)
    if state.nonocc_as_query is not None:
        raw += state.nonocc_as_query[rows][:, None]
    own = np.diag(raw)
    ratio = raw / own[:, None]
    norms = np.sqrt(np.asarray(weights.multiply(weights).sum(axis=1)).ravel())
    cosine = np.asarray((weights @ weights.T).todense()) / np.outer(norms, norms)
    i, j = np.triu_indices(len(ids), k=1)
    gold = human[i, j]
    return {
        "asymmetric raw bm25(a->b), a = first of the pair": pearson(raw[i, j], gold),
        "asymmetric raw bm25(b->a), b = second of the pair": pearson(raw[j, i], gold),
        "raw, mean of both directions (symmetric, unnormalised)": pearson((raw[i, j] + raw[j, i]) / 2, gold),
        "self-normalised, one direction (a->b)": pearson(ratio[i, j], gold),
        "self-normalised, mean of both directions (the served form)": pearson((ratio[i, j] + ratio[j, i]) / 2, gold),
        "cosine of bm25 weight vectors": pearson(cosine[i, j], gold),
    }


def run(methods: Sequence[str], workdir: Path) -> dict[str, Any]:
    from pydantic import TypeAdapter

    from embedders.datasets import lee_background, lee_human_similarity, lee_test
    from service.evaluation.requests import EvaluationRequest
    from service.facade import Vecdex
    from service.schemas import CollectionCreate, DocumentIn
    from service.settings import Settings
    from service.space_schemas import SpaceCreate
    from service.store.migrate import upgrade
    from service.store.models import Document
    from sqlalchemy import select

    settings = Settings(data_dir=workdir, embedded_worker=False)
    upgrade(settings.resolved_database_url)
    vx = Vecdex(settings)
    rated = [f"lee-{i:02d}" for i in range(50)]
    human = lee_human_similarity()
    out: dict[str, Any] = {}
    try:
        vx.collections.create(body=CollectionCreate(name=COLLECTION))
        docs = [DocumentIn(external_id=f"bg-{i:03d}", text=t) for i, t in enumerate(lee_background())]
        docs += [DocumentIn(external_id=rated[i], text=t) for i, t in enumerate(lee_test())]
        vx.documents.write(collection=COLLECTION, documents=docs)
        names = {m: "bm25" if m == "lucene" else f"bm25_{m.replace('+', 'plus')}" for m in methods}
        for method, name in names.items():
            spec = {"type": "bm25", "method": method}
            body = SpaceCreate.model_validate({"name": name, "embedder": spec})
            created = vx.spaces.create(collection=COLLECTION, body=body)
            job = vx.jobs.run_here(job_id=created.job.id, label="bench")
            if job is None or job.status != "succeeded":
                raise RuntimeError(f"build of {name} failed: {job}")
        request = TypeAdapter(EvaluationRequest).validate_python(
            {"task": "similarity", "ids": rated, "matrix": human.round(6).tolist(), "spaces": list(names.values()),
             "dataset": "lee-2005"}
        )
        t0 = time.perf_counter()
        result = vx.evaluations.run(collection=COLLECTION, body=request)
        eval_s = round(time.perf_counter() - t0, 2)
        by_space = {r.space: r for r in result.results}
        if any("+" in s for s in by_space):
            raise RuntimeError("a keyword space was folded into a combination")
        with vx.db.sessions() as session:
            query = select(Document.external_id, Document.id).where(Document.external_id.in_(rated))
            internal = dict(session.execute(query).all())
        ids = [internal[d] for d in rated]
        for method, name in names.items():
            r = by_space[name]
            _, runtime, _ = vx.core.searcher.path.resolve(COLLECTION, name)  # the space's loaded, caught-up index
            out[name] = {
                "method": method,
                "status": r.status,
                "service_pearson": r.metrics["pearson"] if r.metrics else None,
                "service_spearman": r.metrics["spearman"] if r.metrics else None,
                "pairs": r.metrics["pairs"] if r.metrics else None,
                "forms": alternatives(runtime.index, ids, human),
            }
        out["_eval_s"] = eval_s
        return out
    finally:
        vx.close()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--methods", nargs="+", default=["lucene", "robertson", "atire", "bm25l", "bm25+"])
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "lee_bm25_symmetric.json")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        spaces = run(args.methods, args.workdir or Path(tmp))
    eval_s = spaces.pop("_eval_s")
    from embedders.storage import library_versions

    report = {
        "benchmark": "Lee 2005 50-document similarity (Pearson r, 1225 pairs), bm25 spaces through the service",
        "collection": "lee_background (300) + lee_test (50): the term statistics of bench/bench_lee_combined.py",
        "served_similarity": "sim(a,b) = (bm25(a->b)/bm25(a->a) + bm25(b->a)/bm25(b->b)) / 2",
        "spaces": spaces,
        "evaluation_s": eval_s,
        "wall_s": round(time.perf_counter() - started, 1),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform(),
                    "versions": library_versions("bm25s", "jieba")},
    }
    for name, row in spaces.items():
        print(f"{name} ({row['method']}): service (symmetric) r = {row['service_pearson']:.3f}, "
              f"spearman {row['service_spearman']:.3f}")
        for form, r in row["forms"].items():
            print(f"    {form:<62} r {r['pearson']:.3f}  spearman {r['spearman']:.3f}")
    write_report(args.out, report)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
