"""Typed bodies of ``POST /collections/{name}/evaluations``: the data of ``vecdex eval``, inline in JSON.

One model per task, told apart by ``task`` (a discriminated union), so the
OpenAPI schema documents each shape and pydantic refuses a malformed body with
the offending field before anything runs. Checks across fields (duplicate
query ids, qrels naming an unknown query, a ragged matrix) need the whole body
and live in each model's ``check``, which raises the service's own
:class:`~service.errors.InvalidInput` naming the field. Checks that need the
collection (unknown spaces or documents, k against VECDEX_MAX_K) stay in the
:class:`~service.evaluation.runner.Evaluator`, the same ones the CLI meets.

Each model also knows how to hand itself to the evaluator (``run``), so the
route stays one line per concern and the CLI's file parsers and these models
feed the same runner.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated, Any, Literal, Union

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, StrictBool, StringConstraints, WithJsonSchema

from ..errors import InvalidInput, InvalidRequest
from ..schemas import K_BOUNDS, NOT_BLANK
from .runner import Evaluator, SpaceResult

MAX_ITEMS = 10_000
"""Most queries, qrels entries per query, pairs, word pairs or analogies in one request.

The evaluation runs inside the request, so its size is what bounds its time.
"""
MAX_MATRIX = 1_000
"""Most documents of a similarity matrix (its upper triangle is n(n-1)/2 pairs, cosines of stored vectors)."""
MAX_TEXT = 100_000
MAX_ID = 256
MAX_WORD = 256


def _non_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be blank")
    return value


def _finite(value: float) -> float:
    if not math.isfinite(value):
        raise ValueError("must be a finite number")
    return value


_SAYS_NON_BLANK = Field(json_schema_extra={"pattern": NOT_BLANK})
Id = Annotated[str, StringConstraints(min_length=1, max_length=MAX_ID), AfterValidator(_non_blank), _SAYS_NON_BLANK]
Word = Annotated[str, StringConstraints(min_length=1, max_length=MAX_WORD), AfterValidator(_non_blank), _SAYS_NON_BLANK]
Score = Annotated[float, AfterValidator(_finite)]
ID_KEYS: dict[str, Any] = {"propertyNames": {"minLength": 1, "maxLength": MAX_ID, "pattern": NOT_BLANK}}
"""JSON-schema keywords saying that an object's keys are :data:`Id` s (qrels)."""
SpaceNames = Annotated[
    Union[list[Id], None],
    Field(
        None,
        min_length=1,
        max_length=100,
        description="Spaces to evaluate; every space of the collection when omitted (unknown names are a 404).",
    ),
]
Dataset = Annotated[
    Union[str, None],
    Field(
        None,
        min_length=1,
        max_length=256,
        description="Name stored with the runs (e.g. the benchmark's); defaults to the task's name.",
    ),
]


def _dataset(value: str | None, default: str) -> str:
    return value.strip() if value and value.strip() else default


def _refuse(field: str, message: str) -> InvalidRequest:
    """A body error worded like the schema layer's (``field: message``), with the same code."""
    return InvalidRequest(f"{field}: {message}", field=field)


# ----------------------------------------------------------------------------- retrieval


class QueryIn(BaseModel):
    """One query; the same shape as a line of the CLI's queries JSON lines file."""

    model_config = ConfigDict(extra="forbid")

    id: Id
    text: Annotated[
        str, StringConstraints(min_length=1, max_length=MAX_TEXT), AfterValidator(_non_blank), _SAYS_NON_BLANK
    ]


K_LIST_SCHEMA: dict[str, Any] = {
    "anyOf": [
        {"type": "integer", **K_BOUNDS},
        {"type": "array", "items": {"type": "integer", **K_BOUNDS}, "minItems": 1, "maxItems": 20},
    ]
}
"""What ``k`` accepts, as the schema shows it: one cutoff or a list; each 1..VECDEX_MAX_K (``invalid_k``)."""


def _one_k(value: Any) -> Any:
    # "k": 10 and "k": [5, 10] both read naturally; the CLI's -k is repeatable.
    # A number is one cutoff: 651.0 is an integer to JSON Schema, and list[int] then reads it as 651 (651.5 fails).
    return [value] if isinstance(value, (int, float)) and not isinstance(value, bool) else value


class RetrievalRequest(BaseModel):
    """Queries searched through the service, scored against graded (TREC-style) relevance judgements."""

    model_config = ConfigDict(extra="forbid")

    task: Literal["retrieval"]
    queries: list[QueryIn] = Field(min_length=1, max_length=MAX_ITEMS)
    qrels: dict[Id, Annotated[dict[Id, int], Field(min_length=1, max_length=MAX_ITEMS, json_schema_extra=ID_KEYS)]] = Field(
        min_length=1,
        max_length=MAX_ITEMS,
        json_schema_extra=ID_KEYS,
        description="Query id -> {document external id: grade}; grade > 0 is relevant, the grade is nDCG's gain.",
    )
    k: Annotated[list[int], BeforeValidator(_one_k), WithJsonSchema(K_LIST_SCHEMA)] = Field(
        default_factory=lambda: [10],
        min_length=1,
        max_length=20,
        description="Recall cutoff(s), each 1..VECDEX_MAX_K; every query is searched to max(k, 10).",
    )
    spaces: SpaceNames
    dataset: Dataset

    def check(self) -> None:
        """Query ids are unique and every judged query is one of the queries."""
        seen: set[str] = set()
        for i, query in enumerate(self.queries):
            if query.id in seen:
                raise _refuse(f"queries[{i}].id", f"query id {query.id!r} appears twice")
            seen.add(query.id)
        for qid in self.qrels:
            if qid not in seen:
                raise _refuse(f"qrels.{qid}", f"query {qid!r} is judged but is not one of the queries")

    def run(self, evaluator: Evaluator, collection: str) -> tuple[str, list[SpaceResult]]:
        from .formats import Query

        dataset = _dataset(self.dataset, "retrieval")
        queries = [Query(q.id, q.text) for q in self.queries]
        return dataset, evaluator.retrieval(collection, queries, self.qrels, self.k, self.spaces, dataset)


# ----------------------------------------------------------------------------- document similarity


class PairIn(BaseModel):
    """Two documents (external ids) and their gold similarity."""

    model_config = ConfigDict(extra="forbid")

    a: Id
    b: Id
    score: Score


class SimilarityRequest(BaseModel):
    """Gold document similarities, as pairs or as a square matrix; exactly one of the two."""

    model_config = ConfigDict(extra="forbid")

    task: Literal["similarity"]
    pairs: Union[list[PairIn], None] = Field(None, min_length=1, max_length=MAX_ITEMS)
    matrix: Union[list[list[Score]], None] = Field(
        None,
        min_length=2,
        max_length=MAX_MATRIX,
        description="n rows of n scores; the upper triangle (i < j) is used.",
    )
    ids: Union[list[Id], None] = Field(
        None,
        description="External ids naming the matrix's rows/columns; without them the rows are the collection's "
        "documents in insertion order.",
    )
    spaces: SpaceNames
    dataset: Dataset
    fit_weights: StrictBool = Field(
        False,
        description="Also fit the weights of the spaces' combined similarity to these scores (reported with a "
        "held-out Pearson); otherwise the combination weighs every scored space equally.",
    )

    def check(self) -> None:
        """One form of gold scores; a square matrix whose ids (if given) name its rows once each."""
        if (self.pairs is None) == (self.matrix is None):
            raise _refuse("pairs", "give exactly one of pairs or matrix")
        if self.ids is not None and self.matrix is None:
            raise _refuse("ids", "ids name the rows of a matrix; give matrix too")
        if self.matrix is None:
            return
        n = len(self.matrix)
        for i, row in enumerate(self.matrix):
            if len(row) != n:
                raise _refuse(f"matrix[{i}]", f"the matrix must be square: row {i} has {len(row)} scores, expected {n}")
        if self.ids is not None:
            if len(self.ids) != n:
                raise _refuse("ids", f"{len(self.ids)} ids for a matrix of {n} rows")
            seen: set[str] = set()
            for i, external_id in enumerate(self.ids):
                if external_id in seen:
                    raise _refuse(f"ids[{i}]", f"document {external_id!r} appears twice")
                seen.add(external_id)

    def gold(self, evaluator: Evaluator, collection: str) -> list[tuple[str, str, float]]:
        """The gold pairs, as the runner takes them (the matrix's upper triangle, as the CLI reads a matrix file)."""
        if self.pairs is not None:
            return [(p.a, p.b, p.score) for p in self.pairs]
        assert self.matrix is not None
        import numpy as np

        from .formats import matrix_pairs

        ids = self.ids
        if ids is None:
            ids = evaluator.collection_ids(collection)
            if len(ids) != len(self.matrix):
                raise InvalidInput(
                    f"the matrix has {len(self.matrix)} rows but collection {collection!r} has {len(ids)} documents "
                    "(name the rows with ids)",
                    field="matrix",
                )
        return matrix_pairs(list(ids), np.asarray(self.matrix, dtype=np.float64))

    def run(self, evaluator: Evaluator, collection: str) -> tuple[str, list[SpaceResult]]:
        dataset = _dataset(self.dataset, "similarity")
        gold = self.gold(evaluator, collection)
        return dataset, evaluator.similarity(collection, gold, self.spaces, dataset, fit_weights=self.fit_weights)


# ----------------------------------------------------------------------------- words


class WordPairIn(BaseModel):
    """Two words and their gold similarity (a WordSim353 / SimLex-999 line)."""

    model_config = ConfigDict(extra="forbid")

    a: Word
    b: Word
    score: Score


def _not_total(value: str) -> str:
    # The runner's per-section accuracies share one mapping with the overall "total".
    if value.strip() == "total":
        raise ValueError("'total' is reserved for the overall accuracy")
    return value


class AnalogyIn(BaseModel):
    """a is to b as c is to d (a line of Google's questions-words.txt), in a named section."""

    model_config = ConfigDict(extra="forbid")

    section: Annotated[
        str,
        StringConstraints(min_length=1, max_length=256),
        AfterValidator(_non_blank),
        AfterValidator(_not_total),
        Field(json_schema_extra={"pattern": NOT_BLANK, "not": {"pattern": r"^\s*total\s*$"}}),
    ] = "analogies"
    a: Word
    b: Word
    c: Word
    d: Word


class WordsRequest(BaseModel):
    """Word similarity and analogies, for spaces with static word vectors (word2vec); others are "not applicable"."""

    model_config = ConfigDict(extra="forbid")

    task: Literal["words"]
    word_pairs: Union[list[WordPairIn], None] = Field(None, min_length=1, max_length=MAX_ITEMS)
    analogies: Union[list[AnalogyIn], None] = Field(None, min_length=1, max_length=MAX_ITEMS)
    use_gensim_defaults: StrictBool = Field(
        False,
        description="Fill whichever of word_pairs / analogies is omitted from gensim's bundled wordsim353.tsv and "
        "questions-words.txt, as `vecdex eval words` does.",
    )
    spaces: SpaceNames
    dataset: Dataset

    def check(self) -> None:
        if self.word_pairs is None and self.analogies is None and not self.use_gensim_defaults:
            raise _refuse("word_pairs", "give word_pairs, analogies or both (or use_gensim_defaults: true)")

    def run(self, evaluator: Evaluator, collection: str) -> tuple[str, list[SpaceResult]]:
        from .formats import read_analogies, read_word_pairs

        pairs = [(p.a, p.b, p.score) for p in self.word_pairs] if self.word_pairs is not None else None
        analogies = (
            [(q.section, q.a, q.b, q.c, q.d) for q in self.analogies] if self.analogies is not None else None
        )
        names = ["word_pairs" if pairs is not None else "", "analogies" if analogies is not None else ""]
        if self.use_gensim_defaults:
            if pairs is None:
                path = _gensim_file("wordsim353.tsv")
                pairs, names[0] = read_word_pairs(path), path.name
            if analogies is None:
                path = _gensim_file("questions-words.txt")
                analogies, names[1] = read_analogies(path), path.name
        dataset = _dataset(self.dataset, "+".join(n for n in names if n) if self.use_gensim_defaults else "words")
        return dataset, evaluator.words(collection, pairs, analogies, self.spaces, dataset)


def _gensim_file(name: str) -> Path:
    """A data set gensim ships in its package (no download), the CLI's default for ``vecdex eval words``."""
    from gensim.test.utils import datapath

    return Path(datapath(name))


# ----------------------------------------------------------------------------- the union and the answer


EvaluationRequest = Annotated[Union[RetrievalRequest, SimilarityRequest, WordsRequest], Field(discriminator="task")]
TASKS = ("retrieval", "similarity", "words")


class SpaceEvaluation(BaseModel):
    """One space's outcome: metrics when ``status`` is ok, else the reason it was skipped (and nothing stored)."""

    space: str
    embedder_type: str
    status: Literal["ok", "not applicable", "not ready"]
    metrics: Union[dict[str, Any], None] = Field(description="Metric name -> value (null where undefined).")
    reason: Union[str, None] = None
    evaluation_id: Union[int, None] = Field(None, description="The stored run (GET .../evaluations); null if skipped.")
    params: dict[str, Any] = Field(
        default_factory=dict,
        description="How it ran, as stored: e.g. k, depth, judged_queries, unknown_judged_documents (cap recall).",
    )

    @classmethod
    def of(cls, result: SpaceResult) -> SpaceEvaluation:
        return cls(**result.as_dict(), params=result.params)


class EvaluationRun(BaseModel):
    """The answer of one evaluation request: what ran, on what, and each space's result."""

    task: Literal["retrieval", "similarity", "words"]
    dataset: str
    results: list[SpaceEvaluation]
