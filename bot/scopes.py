"""The Slack scopes the code relies on, and which a bot token was granted (`auth.test`).

Slack names a token's scopes in the `X-OAuth-Scopes` header of every Web API answer; `auth.test`
is the cheapest call to read it (through `bot.slack_api`, like every other call). docs/setup.md
says what breaks without each scope.
"""

from __future__ import annotations

from bot.slack_api import SlackRefused, SlackWebApi
from routing.errors import DirectoryUnavailable

# Scope -> what stops working without it: logged at start-up and reported by `scrumy check`.
REQUIRED_BOT_SCOPES = {
    "users:read": "users.info: nobody can be checked, so every task is its meeting owner's",
    "users:read.email": "users.lookupByEmail: owners and assignees given by e-mail are not found",
    "team:read": "team.info: the connect confirmation page names the workspace by its id",
    "chat:write": "chat.postMessage: no meeting message, private reply or direct message is sent",
    "commands": "/tasks and the Create task shortcut are not offered",
    "im:write": "conversations.open: nobody is told of a flush, a reconnect or a new connection",
}


class ScopeCheckFailed(Exception):
    """Slack could not tell the token's scopes; `str(error)` says why, without the token."""


async def granted_scopes(api: SlackWebApi, *, token: str) -> frozenset[str]:
    """The scopes granted to `token`, from `auth.test`'s `X-OAuth-Scopes` header."""
    try:
        answer = await api.call(token, "auth.test", {})
    except SlackRefused as refused:
        raise ScopeCheckFailed(f"Slack refused the bot token: {refused.error}") from None
    except DirectoryUnavailable as error:
        raise ScopeCheckFailed(str(error)) from None
    return answer.scopes or frozenset()
