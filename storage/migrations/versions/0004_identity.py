"""Connect flows in steps (sign in with Slack, confirm, the tool), their link, and spent links

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.types

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("oauth_states", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("step", sa.String(length=16), server_default="provider", nullable=False)
        )
        batch_op.add_column(sa.Column("link_hash", sa.String(length=64), nullable=True))
        batch_op.add_column(
            sa.Column("first_step", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
        batch_op.create_check_constraint("step", "step IN ('sign_in', 'confirm', 'provider')")
        batch_op.create_index(
            "ix_oauth_states_person", ["team_id", "user_id", "created_at"], unique=False
        )
    op.create_table(
        "spent_links",
        sa.Column("link_hash", sa.String(length=64), nullable=False),
        sa.Column("team_id", sa.String(length=32), nullable=False),
        sa.Column("user_id", sa.String(length=32), nullable=False),
        sa.Column("spent_at", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("link_hash", name=op.f("pk_spent_links")),
    )
    with op.batch_alter_table("spent_links", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_spent_links_expires_at"), ["expires_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("spent_links", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_spent_links_expires_at"))
    op.drop_table("spent_links")
    with op.batch_alter_table("oauth_states", schema=None) as batch_op:
        batch_op.drop_index("ix_oauth_states_person")
        batch_op.drop_constraint("ck_oauth_states_step", type_="check")
        batch_op.drop_column("first_step")
        batch_op.drop_column("link_hash")
        batch_op.drop_column("step")
