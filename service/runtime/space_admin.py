"""Creating, rebuilding, listing, defaulting and deleting spaces (the API and the CLI share these)."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from embedders import registry
from embedders.base import EmbedderSpec
from embedders.capabilities import Capability
from embedders.errors import CorpusTooSmall, NotSupported

from ..store.corpus import SqlCorpus
from ..store.db import Database
from ..store.interactions import count_interactions, interaction_sequences
from ..errors import DefaultSpaceNotReady, SpaceBusy, SpaceExists, SpaceNeedsItems, SpaceNotFound
from .jobs import ACTIVE, enqueue
from ..store.models import Collection, Job, Space, utcnow
from ..store.repository import get_collection, get_space
from ..space_schemas import SpaceCreate

Admit = Callable[[Session, Collection], None]
"""A last check on a locked collection, inside the transaction that queues the job (the queue quota):
raising there writes nothing, and two concurrent requests cannot both pass it."""


def _admit_all(session: Session, collection: Collection) -> None:
    return None


# Above this many documents the synchronous vocabulary check is skipped; the build job reports instead.
PREFLIGHT_MAX_DOCS = 20_000
PREFLIGHT_MAX_INTERACTIONS = 50_000


def _embeds_passages(embedder: object) -> bool:
    """Whether a family can embed passages: it turns free text into vectors (not bm25, which ranks
    texts; not item2vec, whose vectors come from interactions; not given vectors)."""
    return registry.has(embedder, Capability.EMBED_TEXT)


def preflight(db: Database, collection: Collection, spec: EmbedderSpec, *, chunked: bool = False) -> None:
    """Reject, before anything is written, a spec the collection cannot train.

    Families may offer ``preflight(corpus)`` (a vocabulary count without
    training); it runs here for collections small enough to scan in a request,
    so "corpus too small" and "empty vocabulary" are a 422 rather than a failed job.
    """
    embedder = registry.create(spec)
    if chunked and not _embeds_passages(embedder):
        raise NotSupported(
            f"a {spec.type} space cannot chunk documents into passages: chunking needs a family that embeds "
            "free text (word2vec, doc2vec, tfidf, lsa, bert, bilstm)",
            field="index.chunking",
        )
    if registry.has(embedder, Capability.TRAIN_INTERACTIONS):
        _preflight_interactions(db, collection, spec, embedder)
        return
    corpus = SqlCorpus(db, collection.id)
    if embedder.trainable and len(corpus) == 0:
        raise CorpusTooSmall(
            f"collection {collection.name!r} has no documents to train a {spec.type} space on",
            field="collection",
        )
    check = getattr(embedder, "preflight", None)
    if check is not None and len(corpus) <= PREFLIGHT_MAX_DOCS:
        check(corpus)


def _preflight_interactions(db: Database, collection: Collection, spec: EmbedderSpec, embedder: object) -> None:
    """item2vec learns from interactions: the collection must hold items, and sessions to learn from."""
    if getattr(collection, "kind", "documents") != "items":
        raise SpaceNeedsItems(
            f"a {spec.type} space learns from user interactions: collection {collection.name!r} is a "
            "documents collection; create one with kind 'items'",
            field="embedder.type",
        )
    with db.sessions() as session:
        count = count_interactions(session, collection.id)
    if count == 0:
        raise CorpusTooSmall(
            f"collection {collection.name!r} has no interactions to learn from: ingest some first "
            "(POST /collections/{c}/interactions or vecdex ingest-interactions)",
            field="interactions",
        )
    check = getattr(embedder, "preflight_interactions", None)
    # Sessionising a large log takes seconds; above this size the build job reports instead.
    if check is not None and count <= PREFLIGHT_MAX_INTERACTIONS:
        check(interaction_sequences(db, collection.id, spec))


def create_space(
    db: Database, collection_name: str, request: SpaceCreate, *, admit: Admit = _admit_all
) -> tuple[int, int]:
    """Validate, then insert the space row and its build job in one transaction; returns (space id, job id)."""
    with db.session() as session:
        collection = get_collection(session, collection_name)
        if session.scalar(select(Space.id).where(Space.collection_id == collection.id, Space.name == request.name)):
            raise SpaceExists(
                f"space {request.name!r} already exists in collection {collection_name!r}",
                field="name",
            )
    preflight(db, collection, request.embedder, chunked=request.index.chunking is not None)
    with db.session() as session:
        collection = get_collection(session, collection_name, lock=True)
        admit(session, collection)
        space = Space(
            collection_id=collection.id,
            name=request.name,
            embedder_type=request.embedder.type,
            embedder_spec=request.embedder.model_dump(mode="json"),
            index_spec=request.index.model_dump(mode="json"),
            # a chunked space's vectors are its passages', held by its index only
            store_vectors=request.store_vectors and request.index.chunking is None,
            status="pending",
        )
        session.add(space)
        session.flush()
        job = enqueue(
            session,
            "build_space",
            collection_id=collection.id,
            space_id=space.id,
            params={"make_default": request.make_default},
        )
        return space.id, job.id


def rebuild_space(
    db: Database, collection_name: str, space_name: str, *, admit: Admit = _admit_all
) -> tuple[int, int]:
    """Queue a build of an existing space with its own spec; returns (space id, job id).

    A ready space is rebuilt in place (``params.rebuild``): it stays ready and
    serving its current generation until the new one replaces it. A space whose
    first build failed or was cancelled gets that first build again. Refused with
    ``space_busy`` while a build of the space is queued or running.
    """
    with db.session() as session:
        collection = get_collection(session, collection_name)
        space = get_space(session, collection, space_name)
        space_id, spec = space.id, registry.parse_spec(space.embedder_spec)
    preflight(db, collection, spec)
    with db.session() as session:
        # Writing the space row first takes its lock (a row lock on PostgreSQL, the write lock on
        # SQLite), so two concurrent requests cannot both find the space idle and queue two builds.
        touched = session.execute(update(Space).where(Space.id == space_id).values(updated_at=utcnow()))
        if not touched.rowcount:
            raise SpaceNotFound(
                f"space {space_name!r} not found in collection {collection_name!r}",
                field="space",
            )
        busy = session.execute(
            select(Job.id, Job.status)
            .where(Job.space_id == space_id, Job.kind == "build_space", Job.status.in_(ACTIVE))
            .limit(1)
        ).first()
        if busy is not None:
            raise SpaceBusy(
                f"space {space_name!r} already has a build job ({busy.id}, {busy.status}); "
                f"wait for it or cancel it with POST /jobs/{busy.id}/cancel",
                field="space",
            )
        admit(session, get_collection(session, collection_name, lock=True))
        space = session.get(Space, space_id)
        params: dict[str, bool] = {}
        if space.status == "ready":
            params["rebuild"] = True
        else:
            space.status, space.error = "pending", None
        job = enqueue(session, "build_space", collection_id=space.collection_id, space_id=space_id, params=params)
        return space_id, job.id


def make_default(session: Session, collection_name: str, space_name: str) -> Space:
    collection = get_collection(session, collection_name, lock=True)
    space = get_space(session, collection, space_name)
    if space.status != "ready":
        raise DefaultSpaceNotReady(
            f"space {space_name!r} is {space.status}; only a ready space can be the default",
            field="space",
        )
    collection.default_space_id = space.id
    return space


def delete_space(session: Session, collection_name: str, space_name: str) -> int:
    """Delete the row (stored vectors cascade); the caller removes the files once committed."""
    collection = get_collection(session, collection_name, lock=True)
    space = get_space(session, collection, space_name)
    space_id = space.id
    if collection.default_space_id == space_id:
        others = session.scalars(
            select(Space).where(Space.collection_id == collection.id, Space.id != space_id, Space.status == "ready")
        ).first()
        collection.default_space_id = others.id if others else None
    for job in session.scalars(select(Job).where(Job.space_id == space_id, Job.status.in_(("queued", "running")))):
        job.cancel_requested = True
        if job.status == "queued":
            job.status = "cancelled"
    session.delete(space)
    return space_id
