"""Notion's webhook verification tokens, kept for the operator, and when the status poll last
read each task

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-26
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.types

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("tasks", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("status_checked_at", storage.types.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.create_index(
            "ix_tasks_status_poll", ["state", "provider", "status_checked_at"], unique=False
        )

    op.create_table(
        "webhook_verifications",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("provider", sa.String(length=16), nullable=False),
        sa.Column("encrypted_token", sa.Text(), nullable=False),
        sa.Column("received_at", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "provider IN ('clickup', 'notion')", name=op.f("ck_webhook_verifications_provider")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_verifications")),
    )
    op.create_index(
        op.f("ix_webhook_verifications_received_at"),
        "webhook_verifications",
        ["received_at"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_webhook_verifications_received_at"), table_name="webhook_verifications")
    op.drop_table("webhook_verifications")
    with op.batch_alter_table("tasks", schema=None) as batch_op:
        batch_op.drop_index("ix_tasks_status_poll")
        batch_op.drop_column("status_checked_at")
