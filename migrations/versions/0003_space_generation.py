"""Space generations: a space can be rebuilt in place while its current generation keeps serving.

``spaces.generation`` counts successful rebuilds (the files of generation g live
under ``spaces/<id>`` for g = 0 and ``spaces/<id>-g<g>`` after). Stored vectors
are keyed by generation too, so a rebuild of a trainable family writes its new
vectors next to the served ones and the generation switch swaps them in.

Downgrading keeps only each space's current-generation vectors; a space rebuilt
since this revision (generation > 0) has its files under ``<id>-g<n>``, which
the older code does not look for: build it again as a new space.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

VECTORS_PK = ["space_id", "generation", "document_id"]


def _generation() -> sa.Column:
    return sa.Column("generation", sa.Integer(), server_default="0", nullable=False)


def _rebuilt_vectors():  # type: ignore[no-untyped-def]
    """SQLite: recreate ``vectors`` (nothing references it), its unnamed primary key named so it can be dropped."""
    return op.batch_alter_table(
        "vectors", schema=None, recreate="always", naming_convention={"pk": "pk_%(table_name)s"}
    )


def upgrade() -> None:
    # An added column needs no table rebuild on SQLite (a rebuild of `spaces` would cascade-delete vectors).
    with op.batch_alter_table("spaces", schema=None) as batch_op:
        batch_op.add_column(_generation())
    if op.get_bind().dialect.name == "sqlite":
        # SQLite cannot change a primary key in place.
        with _rebuilt_vectors() as batch_op:
            batch_op.add_column(_generation())
            batch_op.drop_constraint("pk_vectors", type_="primary")
            batch_op.create_primary_key("pk_vectors", VECTORS_PK)
    else:
        op.add_column("vectors", _generation())
        op.drop_constraint("vectors_pkey", "vectors", type_="primary")
        op.create_primary_key("vectors_pkey", "vectors", VECTORS_PK)


def downgrade() -> None:
    op.execute(
        "DELETE FROM vectors WHERE generation <> "
        "(SELECT spaces.generation FROM spaces WHERE spaces.id = vectors.space_id)"
    )
    if op.get_bind().dialect.name == "sqlite":
        with _rebuilt_vectors() as batch_op:
            batch_op.drop_constraint("pk_vectors", type_="primary")
            batch_op.create_primary_key("pk_vectors", ["space_id", "document_id"])
            batch_op.drop_column("generation")
        # Native DROP COLUMN (SQLite >= 3.35): a batch rebuild of `spaces` would cascade-delete its vectors.
        op.execute("ALTER TABLE spaces DROP COLUMN generation")
    else:
        op.drop_constraint("vectors_pkey", "vectors", type_="primary")
        op.create_primary_key("vectors_pkey", "vectors", ["space_id", "document_id"])
        op.drop_column("vectors", "generation")
        op.drop_column("spaces", "generation")
