"""slack_install_states: the pending OAuth states of "Add to Slack" installs

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-25
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.types

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "slack_install_states",
        sa.Column("state_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("state_hash", name=op.f("pk_slack_install_states")),
    )
    with op.batch_alter_table("slack_install_states", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_slack_install_states_expires_at"), ["expires_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("slack_install_states", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_slack_install_states_expires_at"))
    op.drop_table("slack_install_states")
