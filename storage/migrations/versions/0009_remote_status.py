"""Status flowing back from the tools: a task's status there, the webhooks registered at the
tools, and the deliveries they sent

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-26
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.types

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PROVIDER_CHECK = "provider IN ('clickup', 'notion')"


def upgrade() -> None:
    with op.batch_alter_table("tasks", schema=None) as batch_op:
        batch_op.add_column(sa.Column("remote_status", sa.String(length=16), nullable=True))
        batch_op.add_column(
            sa.Column("remote_status_at", storage.types.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.create_check_constraint(
            op.f("ck_tasks_remote_status"),
            "remote_status IS NULL OR remote_status IN ('open', 'done', 'closed', 'deleted')",
        )
        batch_op.create_index("ix_tasks_provider_task", ["provider", "provider_task_id"])

    op.create_table(
        "webhook_deliveries",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("provider", sa.String(length=16), nullable=False),
        sa.Column("delivery_key", sa.String(length=255), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=True),
        sa.Column("received_at", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("processed_at", storage.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.CheckConstraint(PROVIDER_CHECK, name=op.f("ck_webhook_deliveries_provider")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_deliveries")),
        sa.UniqueConstraint(
            "provider", "delivery_key", name=op.f("uq_webhook_deliveries_provider_delivery_key")
        ),
    )
    op.create_index(
        "ix_webhook_deliveries_pending",
        "webhook_deliveries",
        ["processed_at", "received_at"],
        unique=False,
    )

    op.create_table(
        "tool_webhooks",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("team_id", sa.String(length=32), nullable=False),
        sa.Column("user_id", sa.String(length=32), nullable=False),
        sa.Column("provider", sa.String(length=16), nullable=False),
        sa.Column("workspace_id", sa.String(length=64), nullable=True),
        sa.Column("remote_id", sa.String(length=128), nullable=True),
        sa.Column("endpoint", sa.Text(), nullable=False),
        sa.Column("encrypted_secret", sa.Text(), nullable=True),
        sa.Column("health", sa.String(length=32), nullable=True),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("next_attempt_at", storage.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(PROVIDER_CHECK, name=op.f("ck_tool_webhooks_provider")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tool_webhooks")),
        sa.UniqueConstraint(
            "provider", "remote_id", name=op.f("uq_tool_webhooks_provider_remote_id")
        ),
        sa.UniqueConstraint(
            "team_id", "user_id", "provider", name=op.f("uq_tool_webhooks_team_id_user_id_provider")
        ),
    )


def downgrade() -> None:
    op.drop_table("tool_webhooks")
    op.drop_index("ix_webhook_deliveries_pending", table_name="webhook_deliveries")
    op.drop_table("webhook_deliveries")
    with op.batch_alter_table("tasks", schema=None) as batch_op:
        batch_op.drop_index("ix_tasks_provider_task")
        batch_op.drop_constraint("ck_tasks_remote_status", type_="check")
        batch_op.drop_column("remote_status_at")
        batch_op.drop_column("remote_status")
