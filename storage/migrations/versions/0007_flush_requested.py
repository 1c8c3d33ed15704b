"""A connection's flush of waiting tasks, requested and not yet done

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-25
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.types

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("user_auth_tokens", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("flush_requested_at", storage.types.UTCDateTime(timezone=True), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("user_auth_tokens", schema=None) as batch_op:
        batch_op.drop_column("flush_requested_at")
