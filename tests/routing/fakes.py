"""In-memory implementations of the routing seams (Directory, Notifier) for tests."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from providers.base import ProviderName
from routing.notify import TaskChange


class StaticDirectory:
    """A Slack workspace with a fixed set of members: {team: {user_id: email}}."""

    def __init__(self, members: Mapping[str, Mapping[str, str]]) -> None:
        self.members = {team: dict(users) for team, users in members.items()}
        self.lookups = 0

    async def is_member(self, team_id: str, user_id: str) -> bool:
        self.lookups += 1
        return user_id in self.members.get(team_id, {})

    async def user_by_email(self, team_id: str, email: str) -> str | None:
        self.lookups += 1
        wanted = email.casefold()
        for user_id, address in self.members.get(team_id, {}).items():
            if address.casefold() == wanted:
                return user_id
        return None


class RecordingNotifier:
    """Keeps every notification, in order."""

    def __init__(self) -> None:
        self.batches: list[tuple[str, str | None, list[TaskChange]]] = []
        self.reconnects: list[tuple[str, str, ProviderName]] = []

    async def tasks_changed(
        self, team_id: str, meeting_id: str | None, changes: Sequence[TaskChange]
    ) -> None:
        self.batches.append((team_id, meeting_id, list(changes)))

    async def reconnect_needed(self, team_id: str, user_id: str, provider: ProviderName) -> None:
        self.reconnects.append((team_id, user_id, provider))

    @property
    def changes(self) -> list[TaskChange]:
        return [change for _, _, changes in self.batches for change in changes]
