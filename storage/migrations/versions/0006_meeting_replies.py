"""The meeting message's thread replies and why it could not be posted; each item's position

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-25
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("meetings", schema=None) as batch_op:
        batch_op.add_column(sa.Column("message_reply_ts", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("message_error", sa.String(length=255), nullable=True))
    with op.batch_alter_table("tasks", schema=None) as batch_op:
        batch_op.add_column(sa.Column("position", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("tasks", schema=None) as batch_op:
        batch_op.drop_column("position")
    with op.batch_alter_table("meetings", schema=None) as batch_op:
        batch_op.drop_column("message_error")
        batch_op.drop_column("message_reply_ts")
