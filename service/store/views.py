"""Rows -> public schemas. One place, so the API and the CLI show the same fields."""

from __future__ import annotations

from sqlalchemy.orm import Session

from .models import Collection, Document, Job, Space
from .repository import count_documents
from ..schemas import CollectionPublic, DocumentPublic
from ..space_schemas import JobPublic, SpacePublic


def collection_view(session: Session, collection: Collection) -> CollectionPublic:
    default = session.get(Space, collection.default_space_id) if collection.default_space_id else None
    return CollectionPublic(
        name=collection.name,
        kind=collection.kind,
        description=collection.description,
        document_count=count_documents(session, collection.id),
        default_space=default.name if default else None,
        metadata_schema=collection.metadata_schema or {},
        created_at=collection.created_at,
    )


def document_view(doc: Document) -> DocumentPublic:
    return DocumentPublic(
        id=doc.id,
        external_id=doc.external_id,
        text=doc.text,
        metadata=doc.meta or {},
        content_hash=doc.content_hash,
        created_at=doc.created_at,
        updated_at=doc.updated_at,
    )


def space_view(collection: Collection, space: Space) -> SpacePublic:
    return SpacePublic(
        name=space.name,
        collection=collection.name,
        status=space.status,  # type: ignore[arg-type]
        is_default=collection.default_space_id == space.id,
        embedder=space.embedder_spec,
        index=space.index_spec,
        index_kind=space.index_kind,
        generation=space.generation,
        dim=space.dim,
        metric=space.metric,
        error=space.error,
        created_at=space.created_at,
    )


def job_view(session: Session, job: Job) -> JobPublic:
    collection = session.get(Collection, job.collection_id) if job.collection_id else None
    space = session.get(Space, job.space_id) if job.space_id else None
    return JobPublic(
        id=job.id,
        kind=job.kind,
        status=job.status,  # type: ignore[arg-type]
        collection=collection.name if collection else None,
        space=space.name if space else None,
        phase=job.phase,
        done=job.done,
        total=job.total,
        error=job.error,
        metrics=job.metrics,
        cancel_requested=job.cancel_requested,
        created_at=job.created_at,
        started_at=job.started_at,
        finished_at=job.finished_at,
    )
