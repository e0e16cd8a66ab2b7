"""Items and interactions: collections of kind ``items`` and the user events item2vec learns from.

``collections.kind`` ("documents" or "items") existed since 0001; it now gets
the server default 'documents'. On SQLite the default is left out: SQLite can
only change a column default by rebuilding the table, and dropping
``collections`` during a rebuild (foreign keys are on) would cascade-delete
every document, space and job. The models set ``kind`` on every insert, so the
server default only matters to hand-written SQL.

``interactions`` rows reference the item's document row, so deleting an item
deletes its interactions.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def _is_sqlite() -> bool:
    return op.get_bind().dialect.name == "sqlite"


def upgrade() -> None:
    if not _is_sqlite():
        op.alter_column("collections", "kind", existing_type=sa.String(length=16), server_default="documents")
    op.create_table(
        "interactions",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("collection_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.String(length=256), nullable=False),
        sa.Column("item_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("ts", sa.DateTime(timezone=True), nullable=False),
        sa.Column("event", sa.String(length=64), nullable=True),
        sa.Column("weight", sa.Float(), server_default="1.0", nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["collection_id"], ["collections.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["item_id"], ["documents.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("interactions", schema=None) as batch_op:
        batch_op.create_index("ix_interactions_collection_user_ts", ["collection_id", "user_id", "ts"], unique=False)
        batch_op.create_index("ix_interactions_item_id", ["item_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("interactions", schema=None) as batch_op:
        batch_op.drop_index("ix_interactions_item_id")
        batch_op.drop_index("ix_interactions_collection_user_ts")
    op.drop_table("interactions")
    if not _is_sqlite():
        op.alter_column("collections", "kind", existing_type=sa.String(length=16), server_default=None)
