"""Lee document-similarity benchmark for the trainable embedders.

Trains each configuration on the Lee corpus that ships with gensim and reports
the Pearson correlation between the model's cosine similarities and human
ratings of the 50 rated documents (1225 pairs; Lee, Pincombe & Welsh 2005).
This is how the word2vec and doc2vec defaults were chosen.

Training data: by default the 300 background documents *plus the text of the 50
rated documents* (no ratings), as gensim's doc2vec tutorial does and as the demo
collection is built (``--train-on background`` leaves the 50 out, so every rated
document is unseen). doc2vec is scored twice: on vectors inferred for the 50
texts (what a new document or a query gets) and, when they were in training, on
the vectors learnt for them (what the indexing pipeline stores for known ids).

word2vec weightings are compared on the *same* trained vectors (one training
per seed, pooled three ways), so the comparison is not blurred by training noise.
Several seeds per configuration; training uses the spec's default worker threads,
so runs are not bit-reproducible - read mean and spread, not single digits.

Usage::

    python bench/eval_lee.py [--seeds 1 2 3] [--train-on demo|background] [--out PATH]

Writes bench/results/lee_eval.json. About 2-3 minutes on 2 cores.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script from anywhere
    sys.path.insert(0, str(ROOT))

from embedders import Doc2VecEmbedder, Doc2VecSpec, ListCorpus, Word2VecEmbedder, Word2VecSpec  # noqa: E402
from embedders.lsa import LSAEmbedder, LSASpec  # noqa: E402
from embedders.storage import library_versions  # noqa: E402
from embedders.datasets import evaluate_lee, lee_background, lee_test  # noqa: E402
from embedders.tokenizer import Tokenizer, TokenizerSpec  # noqa: E402

TEST_ID_BASE = 1_000_000  # ids of the 50 rated documents when they are trained on


def build_corpus(train_on: str) -> ListCorpus:
    docs = list(enumerate(lee_background()))
    if train_on == "demo":
        docs += [(TEST_ID_BASE + i, text) for i, text in enumerate(lee_test())]
    return ListCorpus(docs)


def bag_of_words_baseline() -> float:
    """Raw term counts over the 50 documents (stop words removed): the bar to clear."""
    tokenizer = Tokenizer(TokenizerSpec(stopwords="english"))
    tokens = [tokenizer.tokenize(d) for d in lee_test()]
    vocab = {w: i for i, w in enumerate(sorted({w for t in tokens for w in t}))}

    def embed(docs: Sequence[str]) -> np.ndarray:
        out = np.zeros((len(docs), len(vocab)))
        for row, doc in enumerate(docs):
            for w in tokenizer.tokenize(doc):
                if w in vocab:
                    out[row, vocab[w]] += 1
        return out

    return evaluate_lee(embed)


class Results:
    """Collects per-seed scores per named row and prints/serialises them."""

    def __init__(self) -> None:
        self.rows: dict[str, dict[str, Any]] = {}

    def add(self, name: str, spec: dict[str, Any], vectors: str, score: float, fit_s: float) -> None:
        row = self.rows.setdefault(name, {"name": name, "spec": spec, "vectors": vectors, "pearson": [], "fit_s": []})
        row["pearson"].append(round(score, 4))
        row["fit_s"].append(round(fit_s, 2))

    def table(self) -> list[dict[str, Any]]:
        out = []
        for row in self.rows.values():
            scores = row["pearson"]
            out.append(
                {
                    **row,
                    "mean": round(statistics.fmean(scores), 4),
                    "std": round(statistics.pstdev(scores), 4) if len(scores) > 1 else 0.0,
                    "min": min(scores),
                    "mean_fit_s": round(statistics.fmean(row["fit_s"]), 2),
                }
            )
        return out


def timed(fn: Callable[[], Any]) -> tuple[Any, float]:
    start = time.perf_counter()
    value = fn()
    return value, time.perf_counter() - start


def run(seeds: Sequence[int], train_on: str) -> dict[str, Any]:
    corpus = build_corpus(train_on)
    test_ids = [TEST_ID_BASE + i for i in range(50)]
    results = Results()

    w2v_configs = {
        "word2vec default": Word2VecSpec(),
        "word2vec, 20 epochs": Word2VecSpec(epochs=20),
        "word2vec, no stop-word removal": Word2VecSpec(tokenizer=TokenizerSpec(stopwords="none")),
        "word2vec, window 5, sample 1e-3, no stop words": Word2VecSpec(
            window=5, sample=1e-3, tokenizer=TokenizerSpec(stopwords="none")
        ),
    }
    d2v_configs = {
        "doc2vec default": Doc2VecSpec(),
        "doc2vec, sample 1e-3": Doc2VecSpec(sample=1e-3),
        "doc2vec pv-dm": Doc2VecSpec(mode="pv-dm"),
        "doc2vec pv-dbow + word training": Doc2VecSpec(mode="pv-dbow", dbow_words=True),
    }
    lsa_configs = {
        "lsa default": LSASpec(),
        "lsa, 100 axes": LSASpec(dim=100),
        "lsa, 200 axes": LSASpec(dim=200),
    }
    for seed in seeds:
        for label, base in w2v_configs.items():
            spec = base.model_copy(update={"seed": seed})
            model, fit_s = timed(lambda spec=spec: Word2VecEmbedder(spec).fit(corpus))
            for weighting in ("mean", "tfidf", "sif"):
                pooled = model if weighting == spec.weighting else model.reweighted(weighting, corpus)
                marker = " (default)" if weighting == Word2VecSpec().weighting and label.endswith("default") else ""
                spec_json = pooled.spec.model_dump(mode="json", exclude={"seed"})
                score = evaluate_lee(pooled.embed_documents)
                results.add(f"{label} / {weighting}{marker}", spec_json, "pooled", score, fit_s)
            print(f"seed {seed}: {label} done in {fit_s:.1f}s", file=sys.stderr, flush=True)
        for label, base in d2v_configs.items():
            spec = base.model_copy(update={"seed": seed})
            model, fit_s = timed(lambda spec=spec: Doc2VecEmbedder(spec).fit(corpus))
            spec_json = spec.model_dump(mode="json", exclude={"seed"})
            results.add(f"{label} / inferred", spec_json, "inferred", evaluate_lee(model.embed_documents), fit_s)
            if train_on == "demo":
                trained = evaluate_lee(lambda docs, m=model: m.trained_vectors(test_ids)[1])
                results.add(f"{label} / trained", spec_json, "trained", trained, fit_s)
            print(f"seed {seed}: {label} done in {fit_s:.1f}s", file=sys.stderr, flush=True)
        for label, lsa_spec in lsa_configs.items():  # LSA: TF-IDF through a truncated SVD (the lineage's step before word2vec)
            spec = lsa_spec.model_copy(update={"seed": seed})
            model, fit_s = timed(lambda spec=spec: LSAEmbedder(spec).fit(corpus))
            results.add(label, spec.model_dump(mode="json", exclude={"seed"}), "projected", evaluate_lee(model.embed_documents), fit_s)

    table = results.table()
    # Which pooling to default to: the mean r of each weighting over all word2vec
    # configurations above, i.e. how well it does across settings, not at one point.
    w2v_rows = [r for r in table if r["name"].startswith("word2vec")]
    weighting_means = {
        w: round(statistics.fmean(r["mean"] for r in w2v_rows if f"/ {w}" in r["name"]), 4)
        for w in ("mean", "tfidf", "sif")
    }
    table.append(
        {"name": "bag of words (term counts, stop words removed)", "spec": None, "vectors": "counts",
         "pearson": [round(bag_of_words_baseline(), 4)], "fit_s": [0.0]}
    )
    table[-1].update(mean=table[-1]["pearson"][0], std=0.0, min=table[-1]["pearson"][0], mean_fit_s=0.0)
    return {
        "benchmark": "Lee 50-document similarity (Pearson r, 1225 pairs)",
        "trained_on": "lee_background (300) + lee_test text (50)" if train_on == "demo" else "lee_background (300)",
        "seeds": list(seeds),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
            "versions": library_versions("gensim", "jieba"),
        },
        "defaults": {
            "word2vec": Word2VecSpec().model_dump(mode="json", exclude={"workers"}),
            "doc2vec": Doc2VecSpec().model_dump(mode="json", exclude={"workers"}),
            "lsa": LSASpec().model_dump(mode="json"),
        },
        "word2vec_weighting_mean_over_configs": weighting_means,
        "results": table,
    }


def print_table(report: dict[str, Any]) -> None:
    print(f"\n{report['benchmark']}; trained on {report['trained_on']}; seeds {report['seeds']}\n")
    width = max(len(r["name"]) for r in report["results"])
    print(f"{'configuration':<{width}}  {'mean r':>7}  {'std':>6}  {'min':>6}  {'fit s':>6}")
    for row in report["results"]:
        print(
            f"{row['name']:<{width}}  {row['mean']:>7.3f}  {row['std']:>6.3f}  {row['min']:>6.3f}"
            f"  {row['mean_fit_s']:>6.1f}"
        )
    ranking = ", ".join(f"{w} {r:.3f}" for w, r in report["word2vec_weighting_mean_over_configs"].items())
    print(f"\nword2vec weightings, mean r over the word2vec configurations: {ranking}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--train-on", choices=["demo", "background"], default="demo",
                        help="demo: background + the 50 rated texts (default); background: the 300 only")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "lee_eval.json")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    report = run(args.seeds, args.train_on)
    report["wall_s"] = round(time.perf_counter() - started, 1)
    print_table(report)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(f"\nwrote {args.out} ({report['wall_s']} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
