"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-24
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.types

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "api_keys",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("team_id", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("prefix", sa.String(length=16), nullable=False),
        sa.Column("key_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_used_at", storage.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", storage.types.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_keys")),
        sa.UniqueConstraint("key_hash", name=op.f("uq_api_keys_key_hash")),
    )
    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_api_keys_team_id"), ["team_id"], unique=False)

    op.create_table(
        "integration_preferences",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("team_id", sa.String(length=32), nullable=False),
        sa.Column("user_id", sa.String(length=32), nullable=False),
        sa.Column("routing_mode", sa.String(length=16), server_default="smart", nullable=False),
        sa.Column("default_provider", sa.String(length=16), nullable=True),
        sa.Column("default_clickup_list_id", sa.String(length=64), nullable=True),
        sa.Column("default_clickup_list_name", sa.String(length=255), nullable=True),
        sa.Column("default_notion_database_id", sa.String(length=64), nullable=True),
        sa.Column("default_notion_database_name", sa.String(length=255), nullable=True),
        sa.Column("created_at", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "default_provider IS NULL OR default_provider IN ('clickup', 'notion')",
            name=op.f("ck_integration_preferences_default_provider"),
        ),
        sa.CheckConstraint(
            "routing_mode IN ('smart', 'user_choice', 'default')",
            name=op.f("ck_integration_preferences_routing_mode"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_integration_preferences")),
        sa.UniqueConstraint(
            "team_id", "user_id", name=op.f("uq_integration_preferences_team_id_user_id")
        ),
    )
    op.create_table(
        "meetings",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("team_id", sa.String(length=32), nullable=False),
        sa.Column("external_id", sa.String(length=255), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("summary", sa.Text(), nullable=True),
        sa.Column("channel_id", sa.String(length=32), nullable=True),
        sa.Column("owner_user_id", sa.String(length=32), nullable=True),
        sa.Column("owner_email", sa.String(length=320), nullable=True),
        sa.Column("participants", sa.JSON(), nullable=True),
        sa.Column("message_channel_id", sa.String(length=32), nullable=True),
        sa.Column("message_ts", sa.String(length=32), nullable=True),
        sa.Column("created_at", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_meetings")),
        sa.UniqueConstraint("team_id", "external_id", name=op.f("uq_meetings_team_id_external_id")),
    )
    op.create_table(
        "oauth_states",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("state_hash", sa.String(length=64), nullable=False),
        sa.Column("browser_hash", sa.String(length=64), nullable=False),
        sa.Column("team_id", sa.String(length=32), nullable=False),
        sa.Column("user_id", sa.String(length=32), nullable=False),
        sa.Column("provider", sa.String(length=16), nullable=False),
        sa.Column("created_at", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("consumed_at", storage.types.UTCDateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "provider IN ('clickup', 'notion')", name=op.f("ck_oauth_states_provider")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_oauth_states")),
        sa.UniqueConstraint("state_hash", name=op.f("uq_oauth_states_state_hash")),
    )
    with op.batch_alter_table("oauth_states", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_oauth_states_expires_at"), ["expires_at"], unique=False
        )

    op.create_table(
        "provider_catalog",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("team_id", sa.String(length=32), nullable=False),
        sa.Column("user_id", sa.String(length=32), nullable=False),
        sa.Column("provider", sa.String(length=16), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("fetched_at", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "provider IN ('clickup', 'notion')", name=op.f("ck_provider_catalog_provider")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_provider_catalog")),
        sa.UniqueConstraint(
            "team_id",
            "user_id",
            "provider",
            name=op.f("uq_provider_catalog_team_id_user_id_provider"),
        ),
    )
    op.create_table(
        "slack_installations",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("enterprise_id", sa.String(length=32), server_default="", nullable=False),
        sa.Column("team_id", sa.String(length=32), server_default="", nullable=False),
        sa.Column("enterprise_name", sa.String(length=255), nullable=True),
        sa.Column("team_name", sa.String(length=255), nullable=True),
        sa.Column("app_id", sa.String(length=32), nullable=True),
        sa.Column("is_enterprise_install", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("bot_id", sa.String(length=32), nullable=True),
        sa.Column("bot_user_id", sa.String(length=32), nullable=True),
        sa.Column("encrypted_bot_token", sa.Text(), nullable=False),
        sa.Column("encrypted_bot_refresh_token", sa.Text(), nullable=True),
        sa.Column("bot_token_expires_at", storage.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("bot_scopes", sa.Text(), nullable=True),
        sa.Column("installer_user_id", sa.String(length=32), nullable=True),
        sa.Column("encrypted_user_token", sa.Text(), nullable=True),
        sa.Column("user_scopes", sa.Text(), nullable=True),
        sa.Column("created_at", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_slack_installations")),
        sa.UniqueConstraint(
            "enterprise_id", "team_id", name=op.f("uq_slack_installations_enterprise_id_team_id")
        ),
    )
    op.create_table(
        "user_auth_tokens",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("team_id", sa.String(length=32), nullable=False),
        sa.Column("user_id", sa.String(length=32), nullable=False),
        sa.Column("provider", sa.String(length=16), nullable=False),
        sa.Column("encrypted_access_token", sa.Text(), nullable=False),
        sa.Column("encrypted_refresh_token", sa.Text(), nullable=True),
        sa.Column("expires_at", storage.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("scope", sa.String(length=500), nullable=True),
        sa.Column("workspace_id", sa.String(length=64), nullable=True),
        sa.Column("workspace_name", sa.String(length=255), nullable=True),
        sa.Column("account_id", sa.String(length=64), nullable=True),
        sa.Column("account_email", sa.String(length=320), nullable=True),
        sa.Column("needs_reconnect", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("created_at", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "provider IN ('clickup', 'notion')", name=op.f("ck_user_auth_tokens_provider")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_user_auth_tokens")),
        sa.UniqueConstraint(
            "team_id",
            "user_id",
            "provider",
            name=op.f("uq_user_auth_tokens_team_id_user_id_provider"),
        ),
    )
    op.create_table(
        "tasks",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("team_id", sa.String(length=32), nullable=False),
        sa.Column("meeting_id", sa.String(length=40), nullable=True),
        sa.Column("item_id", sa.String(length=255), nullable=True),
        sa.Column("idempotency_key", sa.String(length=255), nullable=True),
        sa.Column("request_fingerprint", sa.String(length=64), nullable=True),
        sa.Column("marker", sa.String(length=64), nullable=False),
        sa.Column("owner_user_id", sa.String(length=32), nullable=False),
        sa.Column("assignee_name", sa.String(length=255), nullable=True),
        sa.Column("assignee_email", sa.String(length=320), nullable=True),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("description", sa.Text(), server_default="", nullable=False),
        sa.Column("priority", sa.String(length=16), nullable=True),
        sa.Column("due_date", sa.Date(), nullable=True),
        sa.Column("due_at", storage.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("project_name", sa.String(length=255), nullable=True),
        sa.Column("routing_mode", sa.String(length=16), server_default="smart", nullable=False),
        sa.Column("provider", sa.String(length=16), nullable=True),
        sa.Column("destination_id", sa.String(length=64), nullable=True),
        sa.Column("destination_name", sa.String(length=255), nullable=True),
        sa.Column("route_reason", sa.Text(), nullable=True),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("next_attempt_at", storage.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("lease_owner", sa.String(length=64), nullable=True),
        sa.Column("lease_expires_at", storage.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("first_sent_at", storage.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("provider_task_id", sa.String(length=128), nullable=True),
        sa.Column("provider_task_url", sa.Text(), nullable=True),
        sa.Column("finished_at", storage.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "priority IS NULL OR priority IN ('urgent', 'high', 'medium', 'low')",
            name=op.f("ck_tasks_priority"),
        ),
        sa.CheckConstraint(
            "provider IS NULL OR provider IN ('clickup', 'notion')", name=op.f("ck_tasks_provider")
        ),
        sa.CheckConstraint(
            "routing_mode IN ('smart', 'user_choice', 'default')",
            name=op.f("ck_tasks_routing_mode"),
        ),
        sa.CheckConstraint(
            "state IN ('pending_auth', 'awaiting_choice', 'queued', 'in_flight', 'retrying', "
            "'created', 'failed', 'dismissed')",
            name=op.f("ck_tasks_state"),
        ),
        sa.ForeignKeyConstraint(
            ["meeting_id"],
            ["meetings.id"],
            name=op.f("fk_tasks_meeting_id_meetings"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tasks")),
        sa.UniqueConstraint("marker", name=op.f("uq_tasks_marker")),
        sa.UniqueConstraint(
            "team_id", "idempotency_key", name=op.f("uq_tasks_team_id_idempotency_key")
        ),
        sa.UniqueConstraint(
            "team_id", "meeting_id", "item_id", name=op.f("uq_tasks_team_id_meeting_id_item_id")
        ),
    )
    with op.batch_alter_table("tasks", schema=None) as batch_op:
        batch_op.create_index("ix_tasks_due", ["state", "next_attempt_at"], unique=False)
        batch_op.create_index("ix_tasks_lease", ["state", "lease_expires_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_tasks_meeting_id"), ["meeting_id"], unique=False)
        batch_op.create_index(
            "ix_tasks_owner_state", ["team_id", "owner_user_id", "state"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("tasks", schema=None) as batch_op:
        batch_op.drop_index("ix_tasks_owner_state")
        batch_op.drop_index(batch_op.f("ix_tasks_meeting_id"))
        batch_op.drop_index("ix_tasks_lease")
        batch_op.drop_index("ix_tasks_due")

    op.drop_table("tasks")
    op.drop_table("user_auth_tokens")
    op.drop_table("slack_installations")
    op.drop_table("provider_catalog")
    with op.batch_alter_table("oauth_states", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_oauth_states_expires_at"))

    op.drop_table("oauth_states")
    op.drop_table("meetings")
    op.drop_table("integration_preferences")
    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_api_keys_team_id"))

    op.drop_table("api_keys")
