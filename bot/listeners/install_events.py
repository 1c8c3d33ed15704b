"""What Slack tells the app about its own install: uninstalled, or its bot token revoked.

    register_install_events(app, store)

- `app_uninstalled`: the workspace removed the app, every token is gone: forget the install.
- `tokens_revoked`: tokens were revoked; only when the bot's is among them (`tokens.bot`) is
  the install useless, so only then is it forgotten. Revoked people's tokens (`tokens.oauth`)
  change nothing: the store keeps no person's token.

Bolt runs these without calling `auth.test` first (the token is already dead), so they work
after the fact; its own `enable_token_revocation_listeners` is not used alongside them.
"""

from __future__ import annotations

import logging
from typing import Any, Protocol

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.async_context import AsyncBoltContext

log = logging.getLogger(__name__)


class ForgetsWorkspaces(Protocol):
    """What the listeners need of the installation store."""

    async def forget_workspace(
        self, team_id: str | None, enterprise_id: str | None, *, is_enterprise_install: bool = False
    ) -> bool: ...


def register_install_events(app: AsyncApp, store: ForgetsWorkspaces) -> None:
    """Add the `app_uninstalled` and `tokens_revoked` listeners to `app`."""

    async def forget(context: AsyncBoltContext, why: str) -> None:
        forgotten = await store.forget_workspace(
            context.team_id,
            context.enterprise_id,
            is_enterprise_install=bool(context.is_enterprise_install),
        )
        log.info(
            "Slack workspace %s: %s; installation %s",
            context.team_id or context.enterprise_id,
            why,
            "forgotten" if forgotten else "already gone",
        )

    async def on_app_uninstalled(context: AsyncBoltContext) -> None:
        await forget(context, "app uninstalled")

    async def on_tokens_revoked(event: dict[str, Any], context: AsyncBoltContext) -> None:
        if (event.get("tokens") or {}).get("bot"):
            await forget(context, "bot token revoked")

    app.event("app_uninstalled")(on_app_uninstalled)
    app.event("tokens_revoked")(on_tokens_revoked)
