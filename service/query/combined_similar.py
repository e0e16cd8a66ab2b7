"""Combined "more like this": a stored document's neighbours by the combined similarity of several spaces.

Why: for "which documents are like this one" no single family does as well as bert, word2vec and
tfidf together (README "Combined document similarity": Lee 2005, 0.656 for the best one alone,
0.758 combined). Each space proposes its ``candidates`` nearest neighbours through the one query
path (filter applied inside the index); every proposed document is then scored in every space by
the exact cosine of the two documents' vectors (stored, else embedded), and ranked by
:func:`~service.query.fusion.clipped_mean` of those cosines - the same combination the similarity
evaluation measures, so the figure there is what this returns.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from sqlalchemy import select

from embedders.errors import EmptyText

from ..errors import DocumentNotFound, InvalidRequest, InvalidWeights
from ..similar_schemas import CombinedHit
from ..store.models import Collection, Document
from .fusion import clipped_mean
from .query_path import QueryPath, check_k, check_offset


def combined_similar(
    path: QueryPath,
    collection: str,
    external_id: str,
    k: int,
    spaces: Sequence[str],
    weights: Mapping[str, float],
    candidates: int | None,
    where: dict[str, Any],
    snippet: int,
    offset: int = 0,
) -> tuple[list[str], dict[str, float], str, list[CombinedHit]]:
    """(spaces, weights used, where they came from, hits best first after the best ``offset``); the document
    itself is never a hit.

    Weights: the request's; else the collection's fitted ones (``vecdex eval similarity --fit-weights``)
    when they cover every space combined here; else equal.
    """
    check_k(k, path.max_k)
    want = check_offset(k, offset, path.max_k)
    names = list(dict.fromkeys(spaces))
    unknown = [w for w in weights if w not in names]
    if unknown:
        raise InvalidWeights(f"weights name spaces not combined here: {', '.join(unknown)}", field="weights")
    depth = min(max(want, candidates or 50), path.max_k)
    resolved = []
    for i, name in enumerate(names):
        ref, runtime, allowed = path.resolve(collection, name, where)
        if runtime.keyword:
            raise InvalidRequest(
                f"space {name!r} is a keyword space: it has no vectors to combine", field=f"spaces[{i}]"
            )
        resolved.append((ref, runtime, allowed))
    with path.db.sessions() as session:
        fitted = session.scalar(select(Collection.similarity_weights).where(Collection.id == resolved[0][0].collection_id))
        if weights:
            used, source = {s: float(weights.get(s, 1.0)) for s in names}, "request"
        elif fitted and all(s in fitted for s in names):
            used, source = {s: float(fitted[s]) for s in names}, "collection"
        else:
            used, source = {s: 1.0 for s in names}, "equal"
        if not any(w > 0 for w in used.values()):
            raise InvalidWeights("at least one space needs a positive weight", field="weights")
        doc = session.execute(
            select(Document.id, Document.text, Document.content_hash).where(
                Document.collection_id == resolved[0][0].collection_id, Document.external_id == external_id
            )
        ).first()
        if doc is None:
            raise DocumentNotFound(f"document {external_id!r} not found in collection {collection!r}", field="external_id")
        own: dict[str, np.ndarray] = {}
        proposed: dict[int, None] = {}
        for ref, runtime, allowed in resolved:
            got = runtime.vectors_of(session, [doc.id], [doc.text], [doc.content_hash])
            if got.ok[0]:
                own[ref.name] = _unit(got.vectors[0])
                for doc_id, _ in path.nearest(runtime, got.vectors[0], depth, allowed, exclude=doc.id):
                    proposed.setdefault(doc_id, None)
        if not own:
            raise EmptyText(f"document {external_id!r} has no vector in any of these spaces", field="external_id")
        ids = list(proposed)
        rows = {
            r.id: r
            for r in session.execute(
                select(Document.id, Document.text, Document.content_hash).where(Document.id.in_(ids))
            )
        } if ids else {}
        ids = [i for i in ids if i in rows]
        cosines: dict[str, list[float | None]] = {}
        for ref, runtime, _ in resolved:
            if ref.name not in own:
                continue
            got = runtime.vectors_of(
                session, ids, [rows[i].text for i in ids], [rows[i].content_hash for i in ids]
            )
            unit = np.stack([_unit(v) for v in got.vectors]) if ids else np.zeros((0, 1), dtype=np.float32)
            values = unit @ own[ref.name] if ids else np.zeros(0)
            cosines[ref.name] = [float(v) if ok else None for v, ok in zip(values, got.ok)]
    scored = []
    for n, doc_id in enumerate(ids):
        per_space = {s: c[n] for s, c in cosines.items()}
        score = clipped_mean(per_space, used)
        if score is not None:
            scored.append((doc_id, score, {s: v for s, v in per_space.items() if v is not None}))
    scored.sort(key=lambda t: (-t[1], t[0]))
    top = scored[offset:want]
    hits = path.hydrate([(d, s) for d, s, _ in top], snippet)
    by_id = {d: per for d, _, per in top}
    return names, used, source, [CombinedHit(**h.model_dump(), scores=by_id[h.id]) for h in hits]


def _unit(vector: np.ndarray) -> np.ndarray:
    v = np.asarray(vector, dtype=np.float32)
    norm = float(np.linalg.norm(v))
    return v / norm if norm > 0 else v
