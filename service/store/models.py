"""SQLAlchemy 2 models: the source of truth (design.md, "Data model").

Document ids are int64 primary keys and double as the FAISS ids. The change
table is the append-only outbox that index snapshots are measured against.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

# SQLite only auto-increments an "INTEGER PRIMARY KEY"; PostgreSQL gets a real BIGINT.
BigId = BigInteger().with_variant(Integer(), "sqlite")
Json = JSON().with_variant(JSONB(), "postgresql")


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class Base(DeclarativeBase):
    pass


class Collection(Base):
    """A named corpus; ``metadata_schema`` maps each metadata field to its JSON type
    (string, number, boolean, object, array), fixed by the first document that uses it,
    so a filter can be type-checked before it reaches SQL."""

    __tablename__ = "collections"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(128), unique=True)
    # "documents" (text to embed) or "items" (things users interact with; text optional).
    kind: Mapped[str] = mapped_column(String(16), default="documents", server_default="documents")
    description: Mapped[str | None] = mapped_column(Text, nullable=True)
    metadata_schema: Mapped[dict[str, str]] = mapped_column(Json, default=dict)
    default_space_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    # Space name -> weight of the combined document similarity, written by a similarity evaluation
    # run with fit_weights; None: the spaces are combined equally.
    similarity_weights: Mapped[dict[str, float] | None] = mapped_column(Json, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Space(Base):
    """One embedder + one index over a collection. Its model and index live on disk under
    ``<data_dir>/spaces/<id>`` (generation 0) or ``<id>-g<generation>`` (after rebuilds);
    ``built_change_id`` is the last change the build of the current generation saw.

    ``generation`` counts successful rebuilds. A rebuild writes the next generation beside
    the current one and bumps this number in the same transaction that records the build,
    so every process can tell from one column that its loaded copy is out of date."""

    __tablename__ = "spaces"
    __table_args__ = (UniqueConstraint("collection_id", "name", name="uq_spaces_collection_name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    collection_id: Mapped[int] = mapped_column(ForeignKey("collections.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(128))
    embedder_type: Mapped[str] = mapped_column(String(32))
    embedder_spec: Mapped[dict[str, Any]] = mapped_column(Json)
    index_spec: Mapped[dict[str, Any]] = mapped_column(Json)
    store_vectors: Mapped[bool] = mapped_column(Boolean, default=True)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    dim: Mapped[int | None] = mapped_column(Integer, nullable=True)
    metric: Mapped[str | None] = mapped_column(String(8), nullable=True)
    index_kind: Mapped[str | None] = mapped_column(String(16), nullable=True)
    built_change_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    generation: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    error: Mapped[dict[str, Any] | None] = mapped_column(Json, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)


class Document(Base):
    """A document; ``content_hash`` (sha256 of the text) lets unchanged text skip re-embedding."""

    __tablename__ = "documents"
    __table_args__ = (UniqueConstraint("collection_id", "external_id", name="uq_documents_collection_external"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    collection_id: Mapped[int] = mapped_column(ForeignKey("collections.id", ondelete="CASCADE"))
    external_id: Mapped[str] = mapped_column(String(256))
    text: Mapped[str] = mapped_column(Text)
    meta: Mapped[dict[str, Any]] = mapped_column("metadata", Json, default=dict)
    content_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)


class Interaction(Base):
    """One user event on an item of an ``items`` collection: what item2vec learns from.

    ``item_id`` is the SQL id of the item's document, so deleting an item deletes
    its interactions (ON DELETE CASCADE) and sequences speak the index's ids.
    ``ts`` is stored in UTC (SQLite keeps no offset, so it is normalised on write).
    """

    __tablename__ = "interactions"
    __table_args__ = (
        Index("ix_interactions_collection_user_ts", "collection_id", "user_id", "ts"),
        Index("ix_interactions_item_id", "item_id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    collection_id: Mapped[int] = mapped_column(ForeignKey("collections.id", ondelete="CASCADE"))
    user_id: Mapped[str] = mapped_column(String(256))
    item_id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer(), "sqlite"), ForeignKey("documents.id", ondelete="CASCADE")
    )
    ts: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    event: Mapped[str | None] = mapped_column(String(64), nullable=True)
    weight: Mapped[float] = mapped_column(Float, default=1.0, server_default="1.0")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Change(Base):
    """Append-only outbox of upserts and deletes; its id orders everything an index replays."""

    __tablename__ = "changes"
    __table_args__ = (Index("ix_changes_collection_id_id", "collection_id", "id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    collection_id: Mapped[int] = mapped_column(ForeignKey("collections.id", ondelete="CASCADE"))
    document_id: Mapped[int] = mapped_column(BigInteger)
    op: Mapped[str] = mapped_column(String(8))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class StoredVector(Base):
    """A document's float32 vector in a space, so an index can be rebuilt without re-embedding.

    ``generation`` is the space generation whose embedder produced the vector. A rebuild
    of a trainable family writes the next generation's vectors next to the served ones;
    switching ``Space.generation`` then swaps them in atomically, and a process still
    serving the old generation neither reads nor overwrites the new rows.
    """

    __tablename__ = "vectors"
    __table_args__ = (Index("ix_vectors_space_hash", "space_id", "content_hash"),)

    space_id: Mapped[int] = mapped_column(ForeignKey("spaces.id", ondelete="CASCADE"), primary_key=True)
    generation: Mapped[int] = mapped_column(Integer, primary_key=True, default=0, server_default="0")
    document_id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer(), "sqlite"),
        ForeignKey("documents.id", ondelete="CASCADE"),
        primary_key=True,
    )
    content_hash: Mapped[str] = mapped_column(String(64))
    vector: Mapped[bytes] = mapped_column(LargeBinary)


class Job(Base):
    """Batch work; the table is the queue (claimed by an UPDATE ... WHERE status='queued')."""

    __tablename__ = "jobs"
    __table_args__ = (Index("ix_jobs_status_id", "status", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16), default="queued")
    collection_id: Mapped[int | None] = mapped_column(
        ForeignKey("collections.id", ondelete="SET NULL"), nullable=True, index=True
    )
    space_id: Mapped[int | None] = mapped_column(ForeignKey("spaces.id", ondelete="SET NULL"), nullable=True)
    params: Mapped[dict[str, Any]] = mapped_column(Json, default=dict)
    phase: Mapped[str | None] = mapped_column(String(32), nullable=True)
    done: Mapped[int] = mapped_column(BigInteger, default=0)
    total: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    error: Mapped[dict[str, Any] | None] = mapped_column(Json, nullable=True)
    # Latest figures the job reported (e.g. tokens_per_s, perplexity, heldout_perplexity).
    metrics: Mapped[dict[str, Any] | None] = mapped_column(Json, nullable=True)
    cancel_requested: Mapped[bool] = mapped_column(Boolean, default=False)
    worker: Mapped[str | None] = mapped_column(String(128), nullable=True)
    heartbeat_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class Evaluation(Base):
    """A stored evaluation run of one space on one task (retrieval, similarity, words).

    ``dataset`` names what it was measured on (file names or a label), ``metrics``
    holds the figures and ``params`` the settings (k values, file paths), so runs
    can be listed and compared over time and across spaces.
    """

    __tablename__ = "evaluations"
    __table_args__ = (Index("ix_evaluations_collection_space", "collection_id", "space_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    collection_id: Mapped[int] = mapped_column(ForeignKey("collections.id", ondelete="CASCADE"))
    space_id: Mapped[int] = mapped_column(ForeignKey("spaces.id", ondelete="CASCADE"))
    task: Mapped[str] = mapped_column(String(32))
    dataset: Mapped[str] = mapped_column(String(256))
    metrics: Mapped[dict[str, Any]] = mapped_column(Json)
    params: Mapped[dict[str, Any]] = mapped_column(Json, default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class ApiKey(Base):
    """An API key: a name, a scope (read, write or admin) and the sha256 of its secret, never the secret.

    ``prefix`` (the first characters of the secret) is what ``vecdex keys list``
    shows so an operator can tell keys apart; ``collections`` (a list of names,
    or null for all) limits the key to those collections. A revoked key keeps its
    row (``revoked_at``), so its name stays taken and enforcement stays on.
    """

    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(128), unique=True)
    scope: Mapped[str] = mapped_column(String(8))
    secret_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))
    collections: Mapped[list[str] | None] = mapped_column(Json, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
