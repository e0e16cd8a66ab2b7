"""Use cases of ``items`` collections: user interactions, recommendations, item2vec evaluation and tuning."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timezone
from typing import Any, Literal

from sqlalchemy import select

from embedders.base import Progress

from ..errors import BatchTooLarge
from ..quotas import check_spec
from ..store.interactions import IngestResult, UnknownItems, ingest_interactions, known_items, require_items, user_history
from ..evaluation.item2vec import EvaluationReport, Source, TuneReport, evaluate_source, load_source, tune_source
from ..store.models import Document
from ..query.recommend import Recommender
from ..recommend_schemas import RecommendRequest, RecommendResponse, UserRecommendRequest
from ..store.repository import get_collection
from ..schemas import HistoryEntry, InteractionIn, InteractionsIngest, InteractionsIngested
from .core import Core


class Interactions:
    """Record user events on items and read a user's history."""

    def __init__(self, core: Core) -> None:
        self._core = core

    def ingest(self, *, collection: str, body: InteractionsIngest) -> InteractionsIngested:
        """One request's batch, all or nothing; at most ``VECDEX_MAX_BATCH`` events."""
        limit = self._core.settings.max_batch
        if len(body.interactions) > limit:
            raise BatchTooLarge(
                f"{len(body.interactions)} interactions in one request; the limit is {limit} (VECDEX_MAX_BATCH)",
                field="interactions",
            )
        result = self.write(collection=collection, records=body.interactions, unknown_items=body.unknown_items)
        return InteractionsIngested(inserted=result.inserted, created_items=result.created_items)

    def write(
        self,
        *,
        collection: str,
        records: Sequence[InteractionIn],
        unknown_items: UnknownItems = "reject",
        field_prefix: str = "interactions",
    ) -> IngestResult:
        """A batch of any size in one transaction (file ingest). Items it creates are documents, so the
        collection's loaded spaces catch up as after an upsert."""
        with self._core.db.session() as session:
            result = ingest_interactions(session, collection, records, unknown_items, field_prefix=field_prefix)
            collection_id = get_collection(session, collection).id
        if result.created_items:
            self._core.runtimes.sync_collection(collection_id)
        return result

    def require_items(self, *, collection: str) -> None:
        """Raise unless the collection exists and is of kind items."""
        with self._core.db.sessions() as session:
            require_items(get_collection(session, collection))

    def known_items(self, *, collection: str, external_ids: Iterable[str]) -> set[str]:
        """Which of these item ids the collection holds (file ingest rejects the rest line by line)."""
        with self._core.db.sessions() as session:
            return set(known_items(session, get_collection(session, collection).id, external_ids))

    def history(self, *, collection: str, user: str, limit: int = 50) -> list[HistoryEntry]:
        """A user's most recent interactions, oldest first (``user_not_found`` for a user with none)."""
        with self._core.db.session() as session:
            row = get_collection(session, collection)
            require_items(row)
            events = user_history(session, row.id, user, limit)
            ids = list({e.item for e in events})
            rows = session.execute(select(Document.id, Document.external_id).where(Document.id.in_(ids)))
            external = {r.id: r.external_id for r in rows}
        return [
            HistoryEntry(
                item=external[e.item],
                timestamp=datetime.fromtimestamp(e.ts, tz=timezone.utc),
                event=e.event,
                weight=e.weight,
            )
            for e in events
        ]


class Recommendations:
    """item2vec queries, and item2vec's offline evaluation and tuning on the collection's own log."""

    def __init__(self, core: Core) -> None:
        self._core = core
        self._recommender = Recommender(core.searcher.path)

    def from_examples(self, *, collection: str, body: RecommendRequest) -> RecommendResponse:
        """Items like the positives and unlike the negatives (``average`` or ``best_score``)."""
        return self._recommender.recommend(collection, body)

    def for_user(self, *, collection: str, user: str, body: UserRecommendRequest) -> RecommendResponse:
        """From the user's latest interactions, recent ones weighing more; seen items left out by default."""
        return self._recommender.for_user(collection, user, body)

    def similar_item(
        self, *, collection: str, item: str, k: int = 10, space: str | None = None, snippet_chars: int = 300
    ) -> RecommendResponse:
        """An item's nearest items (through the cold-start text space when it has no interactions)."""
        return self._recommender.similar_item(collection, item, k, {}, space, snippet_chars)

    def evaluate(
        self,
        *,
        collection: str,
        space: str | None = None,
        overrides: Mapping[str, Any] | None = None,
        k: int = 10,
        test_fraction: float = 0.1,
        progress: Progress | None = None,
        protocol: Literal["time", "last"] = "time",
    ) -> EvaluationReport:
        """Next-item HR/MRR/nDCG@k of a fresh item2vec model vs popularity and co-occurrence, on a time split
        (``time``: one cutoff) or holding out each user's latest event (``last``, per-user leave-last-out)."""
        source = self._source(collection, space, overrides)
        return evaluate_source(source, k, test_fraction, progress, protocol=protocol)

    def tune(
        self,
        *,
        collection: str,
        space: str | None = None,
        overrides: Mapping[str, Any] | None = None,
        budget_seconds: float = 60.0,
        k: int = 10,
        seed: int = 0,
        progress: Progress | None = None,
    ) -> TuneReport:
        """Local search of item2vec's training parameters from the space's spec within a time budget, scored by
        nDCG@k on each user's second-to-last event (:mod:`embedders.item2vec.tune`)."""
        source = self._source(collection, space, overrides)
        return tune_source(source, budget_seconds, k, progress, seed=seed)

    def _source(self, collection: str, space: str | None, overrides: Mapping[str, Any] | None) -> Source:
        """The log and spec to train on, refused (``quota_exceeded``) if the spec with its overrides asks for
        more than the server's quotas allow; a value that came from an override is named ``overrides.<key>``."""
        source = load_source(self._core.db, collection, space, overrides)
        renamed = {key: f"overrides.{key}" for key in overrides or {}}
        check_spec(self._core.settings, source.spec, fields=renamed)
        return source
