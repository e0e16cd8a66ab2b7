"""Evaluation metrics, pure functions over plain Python/numpy values (no SQL, no models).

Retrieval metrics follow trec_eval's conventions: a document is relevant when
its qrels grade is > 0; nDCG uses graded gains (the grade itself) with the
log2(rank + 1) discount, and the ideal DCG is computed from the judged
documents of the query; average precision divides by the number of relevant
documents, retrieved or not.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence

import numpy as np


def _relevant(qrels: Mapping[str, int]) -> set[str]:
    return {d for d, rel in qrels.items() if rel > 0}


def recall_at_k(ranked: Sequence[str], qrels: Mapping[str, int], k: int) -> float:
    """Share of the relevant documents found in the top ``k``."""
    relevant = _relevant(qrels)
    if not relevant:
        return 0.0
    return len(relevant.intersection(ranked[:k])) / len(relevant)


def reciprocal_rank(ranked: Sequence[str], qrels: Mapping[str, int], k: int = 10) -> float:
    """1 / rank of the first relevant document within the top ``k`` (0 when none)."""
    relevant = _relevant(qrels)
    for rank, doc in enumerate(ranked[:k], 1):
        if doc in relevant:
            return 1.0 / rank
    return 0.0


def dcg(gains: Sequence[float]) -> float:
    """Discounted cumulative gain: sum of gain / log2(rank + 1), ranks from 1."""
    return float(sum(g / math.log2(rank + 1) for rank, g in enumerate(gains, 1)))


def ndcg_at_k(ranked: Sequence[str], qrels: Mapping[str, int], k: int = 10) -> float:
    """nDCG@k with graded relevance (gain = grade; unjudged or negative grades count 0)."""
    gains = [max(qrels.get(doc, 0), 0) for doc in ranked[:k]]
    ideal = dcg(sorted((max(r, 0) for r in qrels.values()), reverse=True)[:k])
    return dcg(gains) / ideal if ideal > 0 else 0.0


def average_precision(ranked: Sequence[str], qrels: Mapping[str, int], k: int | None = None) -> float:
    """Mean of precision@rank over the ranks of relevant documents, divided by all relevant documents."""
    relevant = _relevant(qrels)
    if not relevant:
        return 0.0
    hits, total = 0, 0.0
    for rank, doc in enumerate(ranked[:k] if k else ranked, 1):
        if doc in relevant:
            hits += 1
            total += hits / rank
    return total / len(relevant)


def retrieval_metrics(
    runs: Mapping[str, Sequence[str]], qrels: Mapping[str, Mapping[str, int]], ks: Iterable[int] = (10,)
) -> dict[str, float]:
    """Mean recall@k (each k), MRR@10, nDCG@10 and MAP over the queries that have a relevant document.

    Queries without any relevant judgement are left out (trec_eval does the
    same); ``queries`` says how many were scored.
    """
    ks = sorted(set(ks))
    scored = [q for q in runs if _relevant(qrels.get(q, {}))]
    out: dict[str, float] = {}
    for k in ks:
        out[f"recall@{k}"] = _mean(recall_at_k(runs[q], qrels[q], k) for q in scored)
    out["mrr@10"] = _mean(reciprocal_rank(runs[q], qrels[q], 10) for q in scored)
    out["ndcg@10"] = _mean(ndcg_at_k(runs[q], qrels[q], 10) for q in scored)
    out["map"] = _mean(average_precision(runs[q], qrels[q]) for q in scored)
    out["queries"] = len(scored)
    return out


def _mean(values: Iterable[float]) -> float:
    values = list(values)
    return float(np.mean(values)) if values else 0.0


# ----------------------------------------------------------------------------- similarity


def pearson(x: Sequence[float], y: Sequence[float]) -> float:
    """Pearson's r; NaN when fewer than two pairs or a constant side."""
    a, b = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    if len(a) < 2 or a.std() == 0 or b.std() == 0:
        return float("nan")
    return float(np.corrcoef(a, b)[0, 1])


def spearman(x: Sequence[float], y: Sequence[float]) -> float:
    """Spearman's rho: Pearson's r of the ranks (ties get their average rank)."""
    from scipy.stats import rankdata

    if len(x) < 2:
        return float("nan")
    return pearson(rankdata(x), rankdata(y))


def similarity_metrics(gold: Sequence[float], predicted: Sequence[float | None]) -> dict[str, float]:
    """Pearson and Spearman between gold scores and model cosines; pairs with no prediction are counted as missing."""
    kept = [(g, p) for g, p in zip(gold, predicted) if p is not None]
    gs, ps = [g for g, _ in kept], [p for _, p in kept]
    total = len(gold)
    return {
        "pearson": pearson(gs, ps),
        "spearman": spearman(gs, ps),
        "pairs": len(kept),
        "missing_rate": (total - len(kept)) / total if total else 0.0,
    }


def word_similarity_metrics(gold: Sequence[float], predicted: Sequence[float | None]) -> dict[str, float]:
    """Spearman (and Pearson) over in-vocabulary pairs, with the out-of-vocabulary rate (gensim's convention)."""
    m = similarity_metrics(gold, predicted)
    return {"spearman": m["spearman"], "pearson": m["pearson"], "pairs": m["pairs"], "oov_rate": m["missing_rate"]}


def analogy_accuracy(results: Iterable[tuple[str, bool | None]]) -> dict[str, dict[str, float | None]]:
    """Accuracy per section and in total, from (section, correct) with None for an out-of-vocabulary question.

    Like gensim's ``evaluate_word_analogies``, accuracy is over the questions whose
    four words are all in the vocabulary; ``oov`` counts the others. Accuracy is
    None where no question could be asked (every one was out of vocabulary).
    """
    sections: dict[str, dict[str, float | None]] = {}
    for section, correct in results:
        s = sections.setdefault(section, {"correct": 0, "total": 0, "oov": 0})
        if correct is None:
            s["oov"] += 1
        else:
            s["total"] += 1
            s["correct"] += int(bool(correct))
    total: dict[str, float | None] = {"correct": 0, "total": 0, "oov": 0}
    for s in sections.values():
        for key in total:
            total[key] += s[key]
        s["accuracy"] = s["correct"] / s["total"] if s["total"] else None
    total["accuracy"] = total["correct"] / total["total"] if total["total"] else None
    sections["total"] = total
    return sections
