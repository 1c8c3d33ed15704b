"""Review before creating: the preference, the `review` task state, and the review messages

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-26
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.types

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

STATES_BEFORE = (
    "state IN ('pending_auth', 'awaiting_choice', 'queued', 'in_flight', 'retrying', "
    "'created', 'failed', 'dismissed')"
)
STATES_AFTER = (
    "state IN ('pending_auth', 'awaiting_choice', 'review', 'queued', 'in_flight', "
    "'retrying', 'created', 'failed', 'dismissed')"
)


def upgrade() -> None:
    with op.batch_alter_table("integration_preferences", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("review_first", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
    with op.batch_alter_table("tasks", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_tasks_state"), type_="check")
        batch_op.create_check_constraint(op.f("ck_tasks_state"), sa.text(STATES_AFTER))
    op.create_table(
        "review_messages",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("team_id", sa.String(length=32), nullable=False),
        sa.Column("meeting_id", sa.String(length=40), nullable=False),
        sa.Column("owner_user_id", sa.String(length=32), nullable=False),
        sa.Column("channel_id", sa.String(length=32), nullable=True),
        sa.Column("message_ts", sa.String(length=32), nullable=True),
        sa.Column("remind_at", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("reminded_at", storage.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["meeting_id"],
            ["meetings.id"],
            name=op.f("fk_review_messages_meeting_id_meetings"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_review_messages")),
        sa.UniqueConstraint(
            "meeting_id", "owner_user_id", name=op.f("uq_review_messages_meeting_id_owner_user_id")
        ),
    )
    with op.batch_alter_table("review_messages", schema=None) as batch_op:
        batch_op.create_index(
            "ix_review_messages_remind", ["reminded_at", "remind_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("review_messages", schema=None) as batch_op:
        batch_op.drop_index("ix_review_messages_remind")
    op.drop_table("review_messages")
    # Tasks still in review are dismissed first: the older schema has no such state.
    op.execute(sa.text("UPDATE tasks SET state = 'dismissed' WHERE state = 'review'"))
    with op.batch_alter_table("tasks", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_tasks_state"), type_="check")
        batch_op.create_check_constraint(op.f("ck_tasks_state"), sa.text(STATES_BEFORE))
    with op.batch_alter_table("integration_preferences", schema=None) as batch_op:
        batch_op.drop_column("review_first")
