"""One document similarity from several spaces: the weighted mean of their cosines, each clipped at 0.

Why: on the Lee benchmark no single family reaches the human agreement that a combination
does (bench/eval_lee.py: bert 0.656, word2vec 0.648, tfidf 0.601 alone; their plain mean 0.753-0.758
over three word2vec seeds). Each family sees another side of "similar" - bert the sentence
meaning, word2vec the topic words, tfidf the rare names - and their errors are weakly correlated.

A cosine below 0 is read as "unrelated" (0), not as "less than unrelated": gold ratings run from
0 (unrelated) up, and bert's negative cosines would otherwise pull a pair below pairs that share
nothing. A pair that one space cannot score (no vector for a document) is the mean of the others.

Weights: equal by default, so a user gets the combination without tuning; ``fit`` learns
non-negative weights from the gold scores (least squares of the gold on the clipped cosines plus
an intercept, scipy's NNLS; Pearson does not care about scale, so the weights are rescaled to sum
to 1). Because fitting on the pairs it is scored on flatters it, a fitted combination also reports
``held_out``: fit on the pairs within one half of the documents, score on the pairs within the
other half, both ways, mean Pearson.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from ..query.fusion import clipped_mean
from . import metrics as m

Pair = tuple[str, str, float]


@dataclass(frozen=True)
class Combination:
    """The combined similarity of a run: which spaces, their weights, its figures."""

    spaces: list[str]
    weights: dict[str, float]
    fitted: bool
    metrics: dict[str, float]
    held_out: dict[str, float] | None = None


def fused(predicted: Mapping[str, Sequence[float | None]], weights: Mapping[str, float]) -> list[float | None]:
    """Per pair, the weighted mean of the spaces' clipped cosines over the spaces that scored it."""
    names = list(predicted)
    return [clipped_mean(dict(zip(names, row)), weights) for row in zip(*(predicted[s] for s in names))]


def fit_weights(gold: Sequence[float], predicted: Mapping[str, Sequence[float | None]]) -> dict[str, float]:
    """Non-negative weights (summing to 1) that best predict ``gold`` from the clipped cosines.

    Only pairs every space scored are used; with none, or when every weight fits to zero,
    the weights stay equal.
    """
    from scipy.optimize import nnls

    names = list(predicted)
    rows = [i for i in range(len(gold)) if all(predicted[s][i] is not None for s in names)]
    equal = {s: 1.0 / len(names) for s in names}
    if len(rows) < len(names) + 2:
        return equal
    x = np.array([[max(float(predicted[s][i]), 0.0) for s in names] for i in rows])  # type: ignore[arg-type]
    y = np.array([gold[i] for i in rows], dtype=np.float64)
    w, _ = nnls(np.c_[x, np.ones(len(rows))], y)
    w = w[:-1]
    if w.sum() <= 0:
        return equal
    return {s: float(v / w.sum()) for s, v in zip(names, w)}


def combine(pairs: Sequence[Pair], predicted: Mapping[str, Sequence[float | None]], fit: bool = False) -> Combination | None:
    """The combined similarity over two or more scored spaces (None with fewer)."""
    if len(predicted) < 2:
        return None
    gold = [g for _, _, g in pairs]
    names = list(predicted)
    weights = fit_weights(gold, predicted) if fit else {s: 1.0 / len(names) for s in names}
    metrics = m.similarity_metrics(gold, fused(predicted, weights))
    return Combination(names, weights, fit, metrics, _held_out(pairs, predicted) if fit else None)


def _held_out(pairs: Sequence[Pair], predicted: Mapping[str, Sequence[float | None]]) -> dict[str, float] | None:
    """Two-fold over documents: weights fitted inside one half scored inside the other, mean Pearson."""
    docs = sorted({d for a, b, _ in pairs for d in (a, b)}, key=lambda d: hashlib.sha1(d.encode()).hexdigest())
    half = set(docs[: len(docs) // 2])
    folds = [
        [i for i, (a, b, _) in enumerate(pairs) if (a in half) == side and (b in half) == side] for side in (True, False)
    ]
    if min(len(f) for f in folds) < len(predicted) + 2:
        return None
    scores = []
    for train, test in ((folds[0], folds[1]), (folds[1], folds[0])):
        w = fit_weights([pairs[i][2] for i in train], {s: [v[i] for i in train] for s, v in predicted.items()})
        got = fused({s: [v[i] for i in test] for s, v in predicted.items()}, w)
        scores.append(m.similarity_metrics([pairs[i][2] for i in test], got)["pearson"])
    return {"pearson": float(np.mean(scores)), "folds": 2, "pairs": sum(len(f) for f in folds)}
