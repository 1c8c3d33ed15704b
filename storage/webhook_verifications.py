"""Verification tokens the tools sent to our webhook endpoints, kept encrypted for the operator.

Notion sends its subscription's verification token once, unsigned, to `/webhooks/notion`;
the operator needs it twice — in Notion's Verify dialog, and as
NOTION_WEBHOOK_VERIFICATION_TOKEN — and no log line may carry a secret. So the token is
stored through the vault, and `scrumy notion-webhook-token` prints it. Only the setting is
ever trusted as the signing key: anyone can POST a "verification request", so the one kept is
the last one received (if Notion's Verify dialog refuses it, Notion can send its token again).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from primitives.clock import Clock
from primitives.enums import ProviderName
from primitives.ids import new_id
from storage.models import WebhookVerification
from storage.vault import TokenVault


class WebhookVerifications:
    """The `webhook_verifications` table, through the vault."""

    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], vault: TokenVault, clock: Clock
    ) -> None:
        self._sessions = sessions
        self._vault = vault
        self._clock = clock

    async def keep(self, provider: ProviderName, token: str) -> None:
        """Store `token` (encrypted) as the tool's token, in place of any earlier one."""
        async with self._sessions() as session, session.begin():
            await session.execute(
                delete(WebhookVerification).where(WebhookVerification.provider == provider)
            )
            row = WebhookVerification(
                id=new_id("whv"), provider=provider,
                encrypted_token=self._vault.encrypt(token), received_at=self._clock.now(),
            )  # fmt: skip
            session.add(row)

    async def newest(self, provider: ProviderName) -> tuple[str, datetime] | None:
        """The token last received and when, None when none came."""
        async with self._sessions() as session:
            row = await session.scalar(
                select(WebhookVerification)
                .where(WebhookVerification.provider == provider)
                .order_by(WebhookVerification.received_at.desc(), WebhookVerification.id.desc())
                .limit(1)
            )
        if row is None:
            return None
        return self._vault.decrypt(row.encrypted_token), row.received_at
