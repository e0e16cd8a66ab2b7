"""bilstm benchmark on the Lee corpus: training and inference speed, perplexity, doc-similarity quality.

One run trains, on the same 350-document demo corpus (Lee background + the
text of the 50 rated documents) and on this machine:

* the bilstm family with its default spec: wall time, training tokens/second,
  held-out perplexity against a unigram model on the same split;
* word2vec and doc2vec with their defaults, for the quality comparison;

then measures bilstm inference tokens/second (embedding all 350 documents, as
indexing does) and the Lee benchmark (Pearson r of cosine similarities against
human ratings, 1225 pairs, :func:`embedders.datasets.evaluate_lee`) of every
space. The bilstm representation options (layer weighting x pooling) are scored
on the *same* trained weights (:meth:`BiLSTMEmbedder.with_representation`), so
their comparison is not blurred by training noise; that table is what the
defaults were picked from.

Usage::

    .venv/bin/python bench/bench_bilstm.py [--seed 1] [--out bench/results/bilstm.json]

Writes the JSON results and prints a Markdown table. Timings are wall-clock on
a possibly shared machine: they are recorded with the CPU count and load
average at the start, and are meant for orders of magnitude, not decimals.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script from anywhere
    sys.path.insert(0, str(ROOT))

from embedders import (  # noqa: E402
    BiLSTMEmbedder,
    BiLSTMSpec,
    Doc2VecEmbedder,
    Doc2VecSpec,
    ListCorpus,
    Word2VecEmbedder,
    Word2VecSpec,
)
from embedders.storage import library_versions  # noqa: E402
from embedders.bilstm.sentences import sentence_tokens  # noqa: E402
from embedders.datasets import evaluate_lee, lee_background, lee_test  # noqa: E402

sys.path.insert(0, str(ROOT / "bench"))
from eval_lee import bag_of_words_baseline  # noqa: E402

REPRESENTATIONS: list[dict[str, Any]] = [
    {"layers": layers, "pooling": pooling, "center": center}
    for center in (True, False)
    for layers in ("average", "top", [2.0, 0.0, 0.0], [0.0, 2.0, 0.0])
    for pooling in ("mean", "max", "mean+max")
]
"""Layer weighting x pooling x centring. [2, 0, 0] leans on x_k (softmax: 0.79/0.11/0.11), [0, 2, 0] on layer 1."""


def demo_corpus() -> ListCorpus:
    texts = lee_background() + lee_test()
    return ListCorpus((1000 + i, t) for i, t in enumerate(texts))


def timed_fit(embedder: Any, corpus: ListCorpus) -> tuple[Any, float]:
    start = time.perf_counter()
    embedder.fit(corpus)
    return embedder, time.perf_counter() - start


def inference_speed(model: BiLSTMEmbedder, texts: list[str]) -> dict[str, float]:
    """Tokens/second embedding ``texts`` one call (as the indexing pipeline does)."""
    tokens = sum(len(s) for t in texts for s in sentence_tokens(t, model.tokenizer))
    model.embed_documents(texts[:5])  # warm-up: first-call allocations
    start = time.perf_counter()
    model.embed_documents(texts)
    seconds = time.perf_counter() - start
    return {"documents": len(texts), "tokens": tokens, "seconds": seconds, "tokens_per_second": tokens / seconds}


def label(rep: dict[str, Any]) -> str:
    layers = rep["layers"] if isinstance(rep["layers"], str) else "w=" + ",".join(f"{w:g}" for w in rep["layers"])
    return f"layers={layers} pooling={rep['pooling']} center={rep['center']}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "bilstm.json")
    args = parser.parse_args()

    corpus = demo_corpus()
    load_before = os.getloadavg()
    results: dict[str, Any] = {
        "benchmark": "bilstm on the Lee demo corpus (350 documents): speed, perplexity, Lee Pearson r",
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
            "load_average_at_start": load_before,
            "versions": library_versions("torch", "safetensors", "gensim"),
        },
        "seed": args.seed,
    }

    spec = BiLSTMSpec(seed=args.seed)
    bilstm, fit_s = timed_fit(BiLSTMEmbedder(spec), corpus)
    report = bilstm.training_report or {}
    results["bilstm"] = {
        "spec": spec.model_dump(mode="json"),
        "fit_seconds": fit_s,
        "training": report,
        "perplexity_ratio_vs_unigram": report["heldout_perplexity"] / report["unigram_perplexity"],
        "inference": inference_speed(bilstm, lee_background() + lee_test()),
    }
    print(f"bilstm trained in {fit_s:.0f} s", flush=True)

    quality: dict[str, float] = {}
    for rep in REPRESENTATIONS:
        quality[label(rep)] = evaluate_lee(bilstm.with_representation(**rep).embed_documents)
    results["bilstm"]["lee_by_representation"] = quality
    results["bilstm"]["lee_pearson"] = evaluate_lee(bilstm.embed_documents)

    results["bag_of_words"] = {"lee_pearson": bag_of_words_baseline(), "note": "raw counts, stop words removed"}
    w2v, w2v_s = timed_fit(Word2VecEmbedder(Word2VecSpec(seed=args.seed)), corpus)
    d2v, d2v_s = timed_fit(Doc2VecEmbedder(Doc2VecSpec(seed=args.seed)), corpus)
    results["word2vec"] = {"fit_seconds": w2v_s, "lee_pearson": evaluate_lee(w2v.embed_documents)}
    results["doc2vec"] = {"fit_seconds": d2v_s, "lee_pearson": evaluate_lee(d2v.embed_documents)}
    results["load_average_at_end"] = os.getloadavg()

    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    print(markdown(results))


def markdown(results: dict[str, Any]) -> str:
    b = results["bilstm"]
    t = b["training"]
    lines = [
        f"bilstm on Lee (350 docs, {t['train_tokens']} training tokens), {results['machine']['cpus']} CPUs, "
        f"load average at start {results['machine']['load_average_at_start'][0]:.1f}",
        "",
        "| | value |",
        "|---|---|",
        f"| training wall time (defaults, incl. tokenizing) | {b['fit_seconds']:.0f} s |",
        f"| epochs run (best) | {len(t['epochs'])} ({t['best_epoch']}) |",
        f"| training tokens/s | {t['tokens_per_second']:.0f} |",
        f"| inference tokens/s (embed 350 docs) | {b['inference']['tokens_per_second']:.0f} |",
        f"| held-out perplexity (biLM) | {t['heldout_perplexity']:.1f} |",
        f"| held-out perplexity (unigram, same split) | {t['unigram_perplexity']:.1f} |",
        "",
        "| space (defaults) | Lee Pearson r | fit s |",
        "|---|---|---|",
        f"| bilstm | {b['lee_pearson']:.3f} | {b['fit_seconds']:.0f} |",
        f"| word2vec | {results['word2vec']['lee_pearson']:.3f} | {results['word2vec']['fit_seconds']:.0f} |",
        f"| doc2vec | {results['doc2vec']['lee_pearson']:.3f} | {results['doc2vec']['fit_seconds']:.0f} |",
        f"| bag of words (raw counts, no stop words) | {results['bag_of_words']['lee_pearson']:.3f} | - |",
        "",
        "| bilstm representation (same weights) | Lee Pearson r |",
        "|---|---|",
    ]
    lines += [f"| {name} | {r:.3f} |" for name, r in sorted(b["lee_by_representation"].items(), key=lambda kv: -kv[1])]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
