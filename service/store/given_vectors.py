"""Vectors that documents bring with them (``"vectors": {"<space>": [...]}``) for spaces of family ``vectors``.

Checked whole before anything is written (so a bad vector leaves the
collection untouched), then stored in SQL like every other vector, under
:data:`~service.vector_store.GIVEN_GENERATION`; the change log does the rest:
the index catches up from SQL, a rebuild reads them back, crash replay works
unchanged. A document whose text and metadata are the same but whose vector
changed counts as updated, so its space re-indexes it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from embedders import registry
from embedders.capabilities import Capability

from ..errors import MissingVector, UnknownVectorSpace
from .models import Space
from ..schemas import DocumentIn
from .vector_store import GIVEN_GENERATION, given_vectors, save_vectors


@dataclass
class GivenVectors:
    """The checked vectors of one batch: ``per_doc[i]`` maps space id -> float32 vector of ``docs[i]``."""

    dims: dict[int, int] = field(default_factory=dict)
    per_doc: list[dict[int, np.ndarray]] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.dims)

    def changed(self, session: Session, positions: Sequence[int], doc_ids: Sequence[int]) -> set[int]:
        """Which of these existing documents (batch positions) get a vector other than the stored one."""
        out: set[int] = set()
        for space_id, dim in self.dims.items():
            known, stored = given_vectors(session, space_id, list(doc_ids), dim)
            for j, i in enumerate(positions):
                new = self.per_doc[i].get(space_id)
                if new is not None and (not known[j] or not np.array_equal(stored[j], new)):
                    out.add(i)
        return out

    def write(self, session: Session, doc_ids: Sequence[int], hashes: Sequence[str]) -> None:
        """Store every document's given vectors (replacing what it had)."""
        for space_id in self.dims:
            rows = [i for i, vectors in enumerate(self.per_doc) if space_id in vectors]
            if rows:
                save_vectors(
                    session,
                    space_id,
                    GIVEN_GENERATION,
                    [doc_ids[i] for i in rows],
                    [hashes[i] for i in rows],
                    np.stack([self.per_doc[i][space_id] for i in rows]),
                )


def check_given_vectors(
    session: Session,
    collection_id: int,
    docs: Sequence[DocumentIn],
    field_prefix: str = "documents",
    *,
    require: bool = True,
) -> GivenVectors:
    """Validate the batch's vectors against the collection's ``vectors`` spaces.

    Every document needs a vector for every such space (``missing_vector``), of
    its length and finite (``invalid_vectors``); a vector for a space that does
    not exist or embeds its own (``unknown_vector_space``) is refused too. Errors
    name ``documents[i].vectors.<space>``. With ``require=False`` (items created on the fly by an
    interactions batch, which cannot carry vectors) a document may lack them: it is then left out
    of those spaces until it is sent with one.
    """
    rows = session.execute(
        select(Space.id, Space.name, Space.embedder_type, Space.embedder_spec).where(Space.collection_id == collection_id)
    ).all()
    by_name = {r.name: r for r in rows}
    spaces = {r.name: r for r in rows if registry.has(r.embedder_type, Capability.GIVEN_VECTORS)}
    if not spaces and not any(d.vectors for d in docs):
        return GivenVectors()
    checkers = {name: registry.create(registry.parse_spec(r.embedder_spec)) for name, r in spaces.items()}
    out = GivenVectors(dims={r.id: checkers[name].dim for name, r in spaces.items()})
    for i, doc in enumerate(docs):
        given = doc.vectors or {}
        for name in given:
            if name not in spaces:
                where = f"{field_prefix}[{i}].vectors.{name}"
                reason = (
                    f"space {name!r} embeds its own vectors ({by_name[name].embedder_type}); only spaces of family "
                    "'vectors' take vectors with the documents"
                    if name in by_name
                    else f"the collection has no space {name!r}"
                )
                raise UnknownVectorSpace(f"{where}: {reason}", field=where)
        mine: dict[int, np.ndarray] = {}
        for name, space in spaces.items():
            where = f"{field_prefix}[{i}].vectors.{name}"
            if name not in given:
                if not require:
                    continue
                raise MissingVector(
                    f"{where}: document {doc.external_id!r} has no vector for space {name!r} "
                    f"(family 'vectors', {checkers[name].dim} numbers)",
                    field=where,
                )
            mine[space.id] = checkers[name].check_vectors(given[name], field=where)[0]  # type: ignore[attr-defined]
        out.per_doc.append(mine)
    return out
