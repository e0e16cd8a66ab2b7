"""Collections keep the weights of their combined document similarity, as fitted by an evaluation.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

_json = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    # Nullable, no default: a collection that never fitted weights combines its spaces equally.
    with op.batch_alter_table("collections") as batch:
        batch.add_column(sa.Column("similarity_weights", _json, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("collections") as batch:
        batch.drop_column("similarity_weights")
