"""Passages on real text (issue 15 part 5): long documents found by one of their paragraphs, whole-document
spaces vs chunked ones (``index.chunking``), with bm25 over whole documents as the baseline.

Data: gensim's Lee background corpus (300 news stories, shipped in gensim/test/test_data). Every 6
consecutive stories become one long document of 6 paragraphs (50 long documents). Each story's first
sentence is a query and is cut from its paragraph, so the query's words are not copied into the
document; the query's target is the long document holding the rest of that story (300 queries).

Spaces (through the in-process facade, as the API builds them): word2vec (default spec, trained on the
50 long documents) and bert (all-MiniLM-L6-v2, shipped offline, one thread), each once over whole
documents and once chunked by paragraphs; bm25 over whole documents. Metrics: MRR@10 and recall@1/@10
of the target document, and for chunked spaces how often the hit's best passage is the story's own
paragraph (when the target is in the top 10).

Usage::

    python bench/eval_passages.py [--families word2vec bert] [--workdir DIR] [--out PATH]

Writes bench/results/passages_lee.json. About two minutes on 2 cores (bert at one thread).
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from machine import write_report  # noqa: E402

COLLECTION = "lee_long"
GROUP = 6
_FIRST_SENTENCE = re.compile(r"^(.+?[.!?])\s+(.+)$", re.DOTALL)


def long_documents() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(50 long documents, 300 queries with their target document and paragraph span)."""
    from embedders.datasets import lee_background

    stories = [" ".join(s.split()) for s in lee_background()]
    docs, queries = [], []
    for g in range(0, len(stories) - GROUP + 1, GROUP):
        paragraphs, spans, text_len = [], [], 0
        for story in stories[g : g + GROUP]:
            m = _FIRST_SENTENCE.match(story)
            query, rest = (m.group(1), m.group(2)) if m else (story[:80], story)
            start = text_len + (2 if paragraphs else 0)
            paragraphs.append(rest)
            text_len = start + len(rest)
            spans.append((query, start, text_len))
        external_id = f"long-{g // GROUP:02d}"
        docs.append({"external_id": external_id, "text": "\n\n".join(paragraphs)})
        queries += [{"text": q, "target": external_id, "start": s, "end": e} for q, s, e in spans]
    return docs, queries


def evaluate(vx: Any, space: str, queries: list[dict[str, Any]]) -> dict[str, Any]:
    from service.schemas import SearchRequest

    rr, r1, r10, own, found_top10 = 0.0, 0, 0, 0, 0
    t0 = time.perf_counter()
    for q in queries:
        hits = vx.queries.search(collection=COLLECTION, body=SearchRequest(query=q["text"], k=10, space=space, snippet_chars=0)).hits
        ids = [h.external_id for h in hits]
        if q["target"] in ids:
            rank = ids.index(q["target"])
            rr += 1 / (rank + 1)
            r1 += rank == 0
            r10 += 1
            hit = hits[rank]
            if hit.passages:
                found_top10 += 1
                best = hit.passages[0]
                own += best.start < q["end"] and q["start"] < best.end
    n = len(queries)
    out: dict[str, Any] = {
        "mrr@10": round(rr / n, 4), "recall@1": round(r1 / n, 4), "recall@10": round(r10 / n, 4),
        "queries": n, "search_s": round(time.perf_counter() - t0, 2),
    }
    if found_top10:
        out["best_passage_is_the_story"] = round(own / found_top10, 4)
    return out


def run(families: list[str], workdir: Path) -> dict[str, Any]:
    from service.facade import Vecdex
    from service.schemas import CollectionCreate, DocumentIn
    from service.settings import Settings
    from service.space_schemas import SpaceCreate
    from service.store.migrate import upgrade

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    settings = Settings(data_dir=workdir, embedded_worker=False)
    upgrade(settings.resolved_database_url)
    vx = Vecdex(settings)
    docs, queries = long_documents()
    chunking = {"by": "paragraphs", "size": 256, "overlap": 32}
    specs: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {"bm25": ({"type": "bm25"}, {})}
    for family in families:
        embedder = {"type": family, "threads": 1} if family == "bert" else {"type": family, "workers": 1, "seed": 1}
        specs[family] = (embedder, {})
        specs[f"{family}-passages"] = (embedder, {"chunking": chunking})
    results: dict[str, Any] = {}
    try:
        vx.collections.create(body=CollectionCreate(name=COLLECTION))
        vx.documents.write(collection=COLLECTION, documents=[DocumentIn(**d) for d in docs])
        for name, (embedder, index) in specs.items():
            t0 = time.perf_counter()
            created = vx.spaces.create(collection=COLLECTION, body=SpaceCreate.model_validate(
                {"name": name, "embedder": embedder, "index": index}))
            job = vx.jobs.run_here(job_id=created.job.id, label=name)
            if job is None or job.status != "succeeded":
                raise RuntimeError(f"build of {name} failed: {job}")
            build_s = round(time.perf_counter() - t0, 2)
            results[name] = {"build_s": build_s, **evaluate(vx, name, queries)}
            print(name, results[name], flush=True)
    finally:
        vx.close()
    return {
        "data": "gensim lee_background.cor: 300 stories -> 50 documents of 6 paragraphs; 300 queries (each "
        "story's first sentence, cut from its paragraph), target = the document holding the story",
        "chunking": chunking,
        "results": results,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--families", nargs="+", default=["word2vec", "bert"])
    parser.add_argument("--workdir", type=Path)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "passages_lee.json")
    args = parser.parse_args()
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        report = run(args.families, args.workdir or Path(tmp))
    report.update(machine=platform.platform(), cpus=os.cpu_count(), wall_s=round(time.perf_counter() - started, 1))
    write_report(args.out, report)


if __name__ == "__main__":
    main()
