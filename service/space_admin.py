"""Creating, listing, defaulting and deleting spaces (the API and the CLI share these)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from embedders import registry
from embedders.errors import CorpusTooSmall

from .corpus import SqlCorpus
from .db import Database
from .errors import AlreadyExists, InvalidInput
from .jobs import enqueue
from .models import Collection, Job, Space
from .repository import get_collection, get_space
from .space_schemas import SpaceCreate

# Above this many documents the synchronous vocabulary check is skipped; the build job reports instead.
PREFLIGHT_MAX_DOCS = 20_000


def preflight(db: Database, collection: Collection, request: SpaceCreate) -> None:
    """Reject, before anything is written, a spec the collection cannot train.

    Families may offer ``preflight(corpus)`` (a vocabulary count without
    training); it runs here for collections small enough to scan in a request,
    so "corpus too small" and "empty vocabulary" are a 422 rather than a failed job.
    """
    embedder = registry.create(request.embedder)
    corpus = SqlCorpus(db, collection.id)
    if embedder.trainable and len(corpus) == 0:
        raise CorpusTooSmall(
            f"collection {collection.name!r} has no documents to train a {request.embedder.type} space on",
            field="collection",
        )
    check = getattr(embedder, "preflight", None)
    if check is not None and len(corpus) <= PREFLIGHT_MAX_DOCS:
        check(corpus)


def create_space(db: Database, collection_name: str, request: SpaceCreate) -> tuple[int, int]:
    """Validate, then insert the space row and its build job in one transaction; returns (space id, job id)."""
    with db.session() as session:
        collection = get_collection(session, collection_name)
        if session.scalar(select(Space.id).where(Space.collection_id == collection.id, Space.name == request.name)):
            raise AlreadyExists(
                f"space {request.name!r} already exists in collection {collection_name!r}",
                field="name",
                code="space_exists",
            )
    preflight(db, collection, request)
    with db.session() as session:
        collection = get_collection(session, collection_name, lock=True)
        space = Space(
            collection_id=collection.id,
            name=request.name,
            embedder_type=request.embedder.type,
            embedder_spec=request.embedder.model_dump(mode="json"),
            index_spec=request.index.model_dump(mode="json"),
            store_vectors=request.store_vectors,
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


def make_default(session: Session, collection_name: str, space_name: str) -> Space:
    collection = get_collection(session, collection_name, lock=True)
    space = get_space(session, collection, space_name)
    if space.status != "ready":
        raise InvalidInput(
            f"space {space_name!r} is {space.status}; only a ready space can be the default",
            field="space",
            code="space_not_ready",
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
