"""Run an evaluation task over the spaces of a collection, through the service's own query path.

Retrieval goes through :meth:`Searcher.search` and document similarity through
the space's stored vectors (else its embedder), so the figures measure what
users of the service get, not a model in isolation. Each space's result is
stored as one row of ``evaluations``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sqlalchemy import select, update

from embedders.capabilities import Capability
from embedders.registry import has
from embedders.errors import NotSupported

from ..store.db import Database
from ..errors import InvalidFile, SpaceNotFound, UnknownPairDocuments
from ..store.models import Collection, Document, Evaluation
from ..store.repository import SpaceRef, get_collection, list_spaces, max_change_id, resolve_space
from ..query.search import Searcher, check_k
from ..runtime.spaces import SpaceRuntime
from . import metrics as m
from .combine import Combination, combine
from .formats import Query
from .keyword_similarity import keyword_pair_scores

OK = "ok"
NOT_APPLICABLE = "not applicable"
NOT_READY = "not ready"


@dataclass
class SpaceResult:
    """One space's outcome; ``metrics`` is None unless ``status`` is ok."""

    space: str
    embedder_type: str
    status: str
    metrics: dict[str, Any] | None = None
    reason: str | None = None
    evaluation_id: int | None = None
    params: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "space": self.space,
            "embedder_type": self.embedder_type,
            "status": self.status,
            "metrics": self.metrics,
            "reason": self.reason,
            "evaluation_id": self.evaluation_id,
        }


def clean(value: Any) -> Any:
    """NaN/inf become None (PostgreSQL's JSONB refuses them; JSON has no NaN)."""
    if isinstance(value, dict):
        return {k: clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [clean(v) for v in value]
    if isinstance(value, (float, np.floating)):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, np.integer):
        return int(value)
    return value


class Evaluator:
    """Runs tasks over spaces and stores one ``evaluations`` row per evaluated space."""

    def __init__(self, db: Database, searcher: Searcher) -> None:
        self.db = db
        self.searcher = searcher

    # -- spaces --------------------------------------------------------------------

    def _spaces(self, collection: str, names: Sequence[str] | None) -> list[tuple[SpaceRef, bool]]:
        """(space, named explicitly) in creation order; unknown names are a 404."""
        with self.db.sessions() as session:
            row = get_collection(session, collection)
            known = [s.name for s in list_spaces(session, row)]
            wanted = list(dict.fromkeys(names)) if names else known
            for name in wanted:
                if name not in known:
                    raise SpaceNotFound(
                        f"space {name!r} not found in collection {collection!r}", field="space"
                    )
            if not wanted:
                raise SpaceNotFound(f"collection {collection!r} has no space to evaluate", field="space")
            return [(resolve_space(session, collection, name), bool(names)) for name in wanted]

    def _each(self, collection: str, names: Sequence[str] | None):  # type: ignore[no-untyped-def]
        """Yield (space, runtime) for ready spaces; a space not named and not ready is reported and skipped."""
        for ref, named in self._spaces(collection, names):
            if ref.status != "ready" and not named:
                yield ref, None
                continue
            with self.db.sessions() as session:
                head = max_change_id(session, ref.collection_id)
            yield ref, self.searcher.runtimes.get(ref, head)

    def _store(
        self,
        task: str,
        dataset: str,
        done: Sequence[tuple[SpaceRef, SpaceResult]],
        also: Callable[[Any], None] | None = None,
    ) -> None:
        """One transaction for every evaluated space, written after all of them ran.

        A failure in a later space (named but not ready, no text queries, an
        embedder error) then leaves no partial run behind: the request or
        command that failed has changed nothing.
        """
        with self.db.session() as session:
            for ref, result in done:
                result.metrics = clean(result.metrics)
                row = Evaluation(
                    collection_id=ref.collection_id,
                    space_id=ref.id,
                    task=task,
                    dataset=dataset[:256],
                    metrics=result.metrics,
                    params=clean(result.params),
                )
                session.add(row)
                session.flush()
                result.evaluation_id = row.id
            if also is not None:  # e.g. fitted similarity weights: in the same transaction as the runs
                also(session)

    def _over_spaces(
        self,
        task: str,
        dataset: str,
        collection: str,
        spaces: Sequence[str] | None,
        evaluate: Callable[[SpaceRef, SpaceRuntime], SpaceResult],
        also: Callable[[Any], None] | None = None,
    ) -> list[SpaceResult]:
        """``evaluate`` each ready space (a space still building is reported "not ready"), then store
        the results that are ok, all in one transaction once every space has run."""
        out: list[SpaceResult] = []
        done: list[tuple[SpaceRef, SpaceResult]] = []
        for ref, runtime in self._each(collection, spaces):
            result = (
                evaluate(ref, runtime)
                if runtime is not None
                else SpaceResult(ref.name, ref.embedder_type, NOT_READY, reason=f"space is {ref.status}")
            )
            out.append(result)
            if result.status == OK:
                done.append((ref, result))
        self._store(task, dataset, done, also)
        return out

    # -- retrieval -----------------------------------------------------------------

    def retrieval(
        self,
        collection: str,
        queries: Sequence[Query],
        qrels: dict[str, dict[str, int]],
        ks: Sequence[int] = (10,),
        spaces: Sequence[str] | None = None,
        dataset: str = "retrieval",
    ) -> list[SpaceResult]:
        """Search every query with k = max(ks) and score the ranking against the qrels."""
        ks = sorted(set(ks)) or [10]
        for k in ks:
            check_k(k, self.searcher.max_k)
        depth = max(ks + [10])
        depth = min(depth, self.searcher.max_k)
        judged = [q for q in queries if q.id in qrels]
        if not judged:
            raise InvalidFile("no query id of the queries file appears in the qrels", field="qrels")
        judged_docs = {d for q in judged for d in qrels[q.id]}
        unknown = len(judged_docs) - len(set(self._existing(collection, judged_docs)))
        def evaluate(ref: SpaceRef, runtime: SpaceRuntime) -> SpaceResult:
            runs = {}
            try:
                for q in judged:
                    _, hits = self.searcher.search(collection, q.text, depth, {}, ref.name, 1)
                    runs[q.id] = [h.external_id for h in hits]
            except NotSupported as exc:  # e.g. item2vec: no text queries
                if spaces:
                    raise
                return SpaceResult(ref.name, ref.embedder_type, NOT_APPLICABLE, reason=exc.message)
            return SpaceResult(
                ref.name,
                ref.embedder_type,
                OK,
                metrics=m.retrieval_metrics(runs, qrels, ks),
                params={
                    "k": ks,
                    "depth": depth,
                    "queries": len(queries),
                    "judged_queries": len(judged),
                    # Judged external ids the collection lacks (a typo or another corpus): they cap recall.
                    "unknown_judged_documents": unknown,
                },
            )

        return self._over_spaces("retrieval", dataset, collection, spaces, evaluate)

    def _existing(self, collection: str, external_ids: set[str]) -> list[str]:
        with self.db.sessions() as session:
            row = get_collection(session, collection)
            wanted = sorted(external_ids)
            found: list[str] = []
            for start in range(0, len(wanted), 500):
                found += session.scalars(
                    select(Document.external_id).where(
                        Document.collection_id == row.id, Document.external_id.in_(wanted[start : start + 500])
                    )
                )
            return found

    # -- document similarity -------------------------------------------------------

    def collection_ids(self, collection: str) -> list[str]:
        """External ids in collection (SQL id) order: the rows of a matrix file without a header."""
        with self.db.sessions() as session:
            row = get_collection(session, collection)
            return list(
                session.scalars(
                    select(Document.external_id).where(Document.collection_id == row.id).order_by(Document.id)
                )
            )

    def similarity(
        self,
        collection: str,
        pairs: Sequence[tuple[str, str, float]],
        spaces: Sequence[str] | None = None,
        dataset: str = "similarity",
        fit_weights: bool = False,
    ) -> list[SpaceResult]:
        """Pearson and Spearman between the gold scores and the cosine of the two documents' vectors
        (in a keyword space: their symmetric BM25 similarity, :mod:`.keyword_similarity`).

        With two or more spaces scored, one more result (space ``a+b+...``, embedder_type
        ``combination``, not an ``evaluations`` row) scores their combined similarity
        (:mod:`.combine`): equal weights, or with ``fit_weights`` the weights fitted to the gold
        scores, given in its params beside a held-out Pearson and stored on the collection (in the
        runs' transaction) for ``.../similar/combined`` to use when a request gives none.
        """
        wanted = sorted({a for a, _, _ in pairs} | {b for _, b, _ in pairs})
        with self.db.sessions() as session:
            row = get_collection(session, collection)
            docs = {
                r.external_id: r
                for r in session.execute(
                    select(Document.id, Document.external_id, Document.text, Document.content_hash).where(
                        Document.collection_id == row.id, Document.external_id.in_(wanted)
                    )
                )
            }
        missing = [d for d in wanted if d not in docs]
        if missing:
            shown = ", ".join(repr(d) for d in missing[:5]) + (" ..." if len(missing) > 5 else "")
            raise UnknownPairDocuments(
                f"{len(missing)} document(s) of the pairs are not in collection {collection!r}: {shown}",
                field="pairs",
            )
        index = {d: i for i, d in enumerate(wanted)}
        scored: dict[str, list[float | None]] = {}

        def evaluate(ref: SpaceRef, runtime: SpaceRuntime) -> SpaceResult:
            if runtime.keyword:  # the symmetric BM25 similarity of /similar; kept out of the combination
                served = keyword_pair_scores(runtime.index, pairs, {d: docs[d].id for d in wanted})
                return SpaceResult(
                    ref.name,
                    ref.embedder_type,
                    OK,
                    metrics=m.similarity_metrics([s for _, _, s in pairs], served),
                    params={"pairs": len(pairs), "documents": len(wanted), "similarity": "bm25 symmetric"},
                )
            vectors = self._document_vectors(ref, runtime, [docs[d] for d in wanted])
            predicted: list[float | None] = []
            for a, b, _ in pairs:
                va, vb = vectors[index[a]], vectors[index[b]]
                predicted.append(None if va is None or vb is None else float(np.dot(va, vb)))
            scored[ref.name] = predicted
            return SpaceResult(
                ref.name,
                ref.embedder_type,
                OK,
                metrics=m.similarity_metrics([s for _, _, s in pairs], predicted),
                params={"pairs": len(pairs), "documents": len(wanted)},
            )

        combined: list[Combination] = []

        def also(session: Any) -> None:
            """Combine the scored spaces; fitted weights are stored on the collection with the runs."""
            combination = combine(pairs, scored, fit=fit_weights)
            if combination is None:
                return
            combined.append(combination)
            if fit_weights:
                session.execute(
                    update(Collection).where(Collection.name == collection).values(similarity_weights=combination.weights)
                )

        results = self._over_spaces("similarity", dataset, collection, spaces, evaluate, also)
        for combination in combined:
            results.append(
                SpaceResult(
                    "+".join(combination.spaces),
                    "combination",
                    OK,
                    metrics=clean(combination.metrics),
                    params=clean(
                        {
                            "spaces": combination.spaces,
                            "weights": combination.weights,
                            "fitted": combination.fitted,
                            "held_out": combination.held_out,
                        }
                    ),
                )
            )
        return results

    def _document_vectors(self, ref: SpaceRef, runtime: SpaceRuntime, docs: Sequence[Any]) -> list[np.ndarray | None]:
        """Unit vectors of the documents (stored ones first, else embedded now); None for an all-zero vector."""
        with self.db.sessions() as session:
            got = runtime.vectors_of(
                session, [d.id for d in docs], [d.text for d in docs], [d.content_hash for d in docs]
            )
        vectors = got.vectors
        norms = np.linalg.norm(vectors, axis=1)
        return [vectors[i] / norms[i] if norms[i] > 0 else None for i in range(len(docs))]

    # -- words ---------------------------------------------------------------------

    def words(
        self,
        collection: str,
        word_pairs: Sequence[tuple[str, str, float]] | None,
        analogies: Sequence[tuple[str, str, str, str, str]] | None,
        spaces: Sequence[str] | None = None,
        dataset: str = "words",
    ) -> list[SpaceResult]:
        """Word-pair Spearman (with OOV rate) and analogy accuracy per section, for spaces with word vectors."""

        def evaluate(ref: SpaceRef, runtime: SpaceRuntime) -> SpaceResult:
            kv = getattr(runtime.embedder, "keyed_vectors", None)
            if not has(runtime.embedder, Capability.WORD_VECTORS) or kv is None:
                return SpaceResult(
                    ref.name, ref.embedder_type, NOT_APPLICABLE, reason=f"{ref.embedder_type} has no static word vectors"
                )
            metrics: dict[str, Any] = {}
            if word_pairs:
                words = WordTable(kv)
                predicted = [words.similarity(a, b) for a, b, _ in word_pairs]
                ws = m.word_similarity_metrics([s for _, _, s in word_pairs], predicted)
                metrics.update({f"wordsim_{k}": v for k, v in ws.items()})
            if analogies:
                sections = m.analogy_accuracy(WordTable(kv).analogies(analogies))
                total = sections.pop("total")
                metrics.update(
                    {
                        "analogy_accuracy": total["accuracy"],
                        "analogy_questions": total["total"],
                        "analogy_oov": total["oov"],
                        "sections": sections,
                    }
                )
            return SpaceResult(
                ref.name,
                ref.embedder_type,
                OK,
                metrics=metrics,
                params={"word_pairs": len(word_pairs or []), "analogies": len(analogies or [])},
            )

        return self._over_spaces("words", dataset, collection, spaces, evaluate)


class WordTable:
    """Unit word vectors of a gensim KeyedVectors, looked up lower-cased (the shared tokenizer lower-cases).

    Analogies use 3CosAdd over the whole vocabulary with the three question
    words excluded, as gensim's ``evaluate_word_analogies`` does; questions with
    an out-of-vocabulary word are counted as OOV, not as wrong.
    """

    def __init__(self, kv: Any) -> None:
        self.index: dict[str, int] = kv.key_to_index
        vectors = np.asarray(kv.vectors, dtype=np.float32)
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        self.unit = vectors / np.where(norms > 0, norms, 1.0)

    def _id(self, word: str) -> int | None:
        return self.index.get(word.lower())

    def similarity(self, a: str, b: str) -> float | None:
        ia, ib = self._id(a), self._id(b)
        if ia is None or ib is None:
            return None
        return float(self.unit[ia] @ self.unit[ib])

    def analogies(self, questions: Sequence[tuple[str, str, str, str, str]], batch: int = 128) -> list[tuple[str, bool | None]]:
        results: list[tuple[str, bool | None]] = [(q[0], None) for q in questions]
        known = []
        for n, (_, a, b, c, d) in enumerate(questions):
            ids = [self._id(w) for w in (a, b, c, d)]
            if None not in ids:
                known.append((n, ids))
        for start in range(0, len(known), batch):
            chunk = known[start : start + batch]
            ids = np.asarray([i for _, i in chunk], dtype=np.int64)
            target = self.unit[ids[:, 1]] - self.unit[ids[:, 0]] + self.unit[ids[:, 2]]
            scores = target @ self.unit.T
            rows = np.arange(len(chunk))
            for col in range(3):
                scores[rows, ids[:, col]] = -np.inf
            best = scores.argmax(axis=1)
            for (n, qids), guess in zip(chunk, best):
                results[n] = (questions[n][0], bool(guess == qids[3]))
        return results
