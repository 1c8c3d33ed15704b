"""Who a Slack user is, as a page shows them: "@ada in Acme".

The connect pages name the person a link was made for and their workspace, so that whoever
opened the link can see whether it is theirs. The Slack app reads the names from Slack
(`bot.people`); a name that cannot be read is shown as its id, never guessed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class SlackPerson:
    """A Slack user's handle and their workspace's name, cleaned for showing."""

    team_id: str
    user_id: str
    handle: str | None
    workspace: str | None

    @property
    def shown_handle(self) -> str:
        return f"@{self.handle}" if self.handle else self.user_id

    @property
    def shown_workspace(self) -> str:
        return self.workspace or self.team_id


class People(Protocol):
    async def describe(self, team_id: str, user_id: str) -> SlackPerson:
        """The person's handle and workspace name (ids where Slack cannot say)."""
        ...


class UnnamedPeople:
    """`People` where nothing can be asked: ids only."""

    async def describe(self, team_id: str, user_id: str) -> SlackPerson:
        return SlackPerson(team_id, user_id, None, None)
