"""The names of a Slack user and of their workspace (`routing.people.People`), read with the
bot token from `users.info` and `team.info` (through `bot.slack_api`, within Slack's tiers).

Names are shown on the connect pages; one that Slack does not give (no token, an error, a
missing scope) is left out and the page shows the id instead. Names are cleaned of control and
bidi characters before anyone sees them.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from bot.directory import TokenSource
from bot.slack_api import SlackRefused, SlackWebApi
from primitives.text import clean_optional
from routing.errors import DirectoryUnavailable
from routing.people import SlackPerson

# A page is not held for a name: past this wait (Slack's tiers, a 429) the page shows the id.
NAME_MAX_WAIT = timedelta(seconds=2)


class SlackPeople:
    def __init__(self, api: SlackWebApi, *, tokens: TokenSource) -> None:
        self._api = api
        self._tokens = tokens

    async def describe(self, team_id: str, user_id: str) -> SlackPerson:
        token = await self._tokens(team_id)
        if token is None:
            return SlackPerson(team_id, user_id, None, None)
        user = await self._call(token, "users.info", {"user": user_id})
        team = await self._call(token, "team.info", {"team": team_id})
        handle = None
        if (
            user is not None
            and isinstance(user.get("user"), dict)
            and (user["user"].get("team_id") in (None, team_id))
        ):
            profile = user["user"].get("profile") or {}
            handle = clean_optional(
                str(profile.get("display_name") or user["user"].get("name") or "")
            )
        workspace = None
        if team is not None and isinstance(team.get("team"), dict):
            workspace = clean_optional(str(team["team"].get("name") or ""))
        return SlackPerson(team_id, user_id, handle, workspace)

    async def _call(self, token: str, method: str, params: dict[str, str]) -> dict[str, Any] | None:
        try:
            return (await self._api.call(token, method, params, max_wait=NAME_MAX_WAIT)).body
        except (SlackRefused, DirectoryUnavailable):
            return None
