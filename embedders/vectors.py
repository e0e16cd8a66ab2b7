"""Family "vectors": the user's own embeddings, computed elsewhere and sent with the documents.

There is no model: the family only knows the width and the metric, and checks
what it is given, so a bad vector is refused with an error naming the field
instead of corrupting an index (a NaN in a FAISS index poisons every search it
takes part in; a zero vector has no cosine). Text in is not supported: queries
come as vectors too.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar, Literal

import numpy as np
from pydantic import Field

from embedders.base import Corpus, EmbedderSpec, Metric, Progress
from embedders.capabilities import Capability, trains
from embedders.errors import InvalidVectors, NotSupported
from embedders.storage import read_manifest, spec_from_manifest, write_manifest

MAX_DIM = 8192


class VectorsSpec(EmbedderSpec):
    """The shape of the vectors the user will send: nothing else is needed to index them."""

    type: Literal["vectors"] = "vectors"
    dim: int = Field(..., ge=1, le=MAX_DIM, description="Length of every supplied vector.")
    metric: Metric = Field("cosine", description="What the vectors are compared with: cosine, ip or l2.")


class VectorsEmbedder:
    """Accepts supplied vectors (GIVEN_VECTORS); embeds no text and trains nothing."""

    type: ClassVar[str] = "vectors"
    capabilities: ClassVar[frozenset[Capability]] = frozenset({Capability.GIVEN_VECTORS})
    trainable: ClassVar[bool] = trains(capabilities)
    spec_class: ClassVar[type[EmbedderSpec]] = VectorsSpec

    def __init__(self, spec: VectorsSpec) -> None:
        self.spec: VectorsSpec = spec

    @property
    def dim(self) -> int:
        return self.spec.dim

    @property
    def metric(self) -> Metric:
        return self.spec.metric

    def fit(self, corpus: Corpus, progress: Progress | None = None) -> VectorsEmbedder:
        """Nothing to learn: the vectors are given."""
        return self

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        raise NotSupported(
            "a 'vectors' space does not embed text: send each document's vector with it", field="vectors"
        )

    def embed_query(self, text: str) -> np.ndarray:
        raise NotSupported(
            f"a 'vectors' space does not embed text: send the query as a vector of {self.dim} numbers",
            field="query",
        )

    def check_vectors(self, vectors: Sequence[Sequence[float]] | np.ndarray, *, field: str) -> np.ndarray:
        """The supplied vectors as float32 (n, dim), or InvalidVectors naming ``field`` (and the row).

        A single flat vector (as a query is sent) is accepted as one row. Refused:
        a row of the wrong length, a non-number (a string, a bool, null), NaN,
        infinity or a value float32 cannot hold, and for cosine an all-zero row.
        """
        rows = self._rows(vectors, field)
        flat = _is_flat(vectors)
        out = np.zeros((len(rows), self.dim), dtype=np.float32)
        for i, row in enumerate(rows):
            out[i] = self._row(row, field if flat else f"{field}[{i}]", field)
        return out

    def save(self, directory: Path) -> None:
        """A manifest only: there is nothing else to keep."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        write_manifest(directory, spec=self.spec, dim=self.dim, metric=self.metric, files={})

    @classmethod
    def load(cls, directory: Path) -> VectorsEmbedder:
        manifest = read_manifest(Path(directory), expected_type=cls.type)
        return cls(spec_from_manifest(VectorsSpec, manifest, Path(directory)))

    # -- internals ------------------------------------------------------------------

    def _rows(self, vectors: Any, field: str) -> Sequence[Any]:
        if isinstance(vectors, np.ndarray):
            if vectors.ndim == 1:
                return [vectors]
            if vectors.ndim == 2:
                return list(vectors)
            raise InvalidVectors(f"{field} must be a list of vectors, got a {vectors.ndim}-d array", field=field)
        if isinstance(vectors, (str, bytes)) or not isinstance(vectors, Sequence):
            raise InvalidVectors(f"{field} must be a list of numbers or of vectors", field=field)
        return [vectors] if _is_flat(vectors) else list(vectors)

    def _row(self, row: Any, where: str, field: str) -> np.ndarray:
        """One checked row; ``where`` (the field and row) goes in the message, ``field`` on the error."""
        if not _is_sequence(row):
            raise InvalidVectors(f"{where} must be a list of {self.dim} numbers", field=field)
        if len(row) != self.dim:
            raise InvalidVectors(f"{where} has {len(row)} numbers; this space needs {self.dim}", field=field)
        if isinstance(row, np.ndarray):
            if not (np.issubdtype(row.dtype, np.floating) or np.issubdtype(row.dtype, np.integer)):
                raise InvalidVectors(f"{where} must hold numbers, got dtype {row.dtype}", field=field)
            values = row.astype(np.float64)
        else:
            bad = next((j for j, x in enumerate(row) if not _is_number(x)), None)
            if bad is not None:
                raise InvalidVectors(f"{where}[{bad}] is {row[bad]!r}, not a number", field=field)
            try:
                values = np.asarray(row, dtype=np.float64)
            except OverflowError:
                raise InvalidVectors(f"{where} holds a number beyond float32's range", field=field) from None
        if np.isnan(values).any():
            raise InvalidVectors(f"{where}[{int(np.flatnonzero(np.isnan(values))[0])}] is NaN", field=field)
        with np.errstate(over="ignore"):
            vec = values.astype(np.float32)
        if not np.isfinite(vec).all():
            j = int(np.flatnonzero(~np.isfinite(vec))[0])
            raise InvalidVectors(f"{where}[{j}] is infinite or beyond float32's range", field=field)
        if self.metric == "cosine" and not vec.any():
            raise InvalidVectors(f"{where} is all zeros: it has no direction to compare by cosine", field=field)
        return vec


def _is_number(x: object) -> bool:
    # bool is an int subclass, but True is not a coordinate.
    return isinstance(x, (int, float, np.integer, np.floating)) and not isinstance(x, (bool, np.bool_))


def _is_flat(vectors: Any) -> bool:
    """One vector (no element is itself a list) rather than a list of vectors."""
    if isinstance(vectors, np.ndarray):
        return vectors.ndim == 1
    return len(vectors) > 0 and not any(_is_sequence(x) for x in vectors)


def _is_sequence(x: object) -> bool:
    return isinstance(x, (Sequence, np.ndarray)) and not isinstance(x, (str, bytes))
