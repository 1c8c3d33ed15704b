"""Stand-ins for the seams of Scrumy Tasks in tests: the clock, the Slack directory, the notifier.

Only our own protocols are stood in for here; providers and Slack's Web API are faked at the
HTTP boundary by the emulators in `sandbox/`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from primitives.enums import ProviderName
from routing.notify import TaskChange
from routing.owners import Lookups, Membership


class FakeClock:
    """A clock for tests: time moves only when `advance` or `sleep` is called."""

    def __init__(self, start: datetime | None = None) -> None:
        self._now = start or datetime(2026, 1, 15, 9, 0, tzinfo=UTC)
        self._monotonic = 1000.0
        self.slept: list[float] = []

    def now(self) -> datetime:
        return self._now

    def monotonic(self) -> float:
        return self._monotonic

    def advance(self, seconds: float) -> None:
        self._now += timedelta(seconds=seconds)
        self._monotonic += seconds

    async def sleep(self, seconds: float) -> None:
        seconds = max(0.0, seconds)
        self.slept.append(seconds)
        self.advance(seconds)
        # Let other tasks run, as a real sleep would.
        await asyncio.sleep(0)


class StaticDirectory:
    """A Slack workspace with a fixed set of members: {team: {user_id: email}}, and the time
    zones of those who have one: {user_id: zone}."""

    def __init__(
        self,
        members: Mapping[str, Mapping[str, str]],
        time_zones: Mapping[str, str] | None = None,
    ) -> None:
        self.members = {team: dict(users) for team, users in members.items()}
        self.time_zones = dict(time_zones or {})  # user id -> IANA time zone
        self.lookups = 0

    async def serves(self, team_id: str) -> bool:
        return team_id in self.members

    async def look_up(
        self, team_id: str, *, user_ids: Collection[str] = (), emails: Collection[str] = ()
    ) -> Lookups:
        by_id = {u: Membership(u if await self.is_member(team_id, u) else None) for u in user_ids}
        by_email = {e.casefold(): Membership(await self.user_by_email(team_id, e)) for e in emails}
        return Lookups(by_id=by_id, by_email=by_email)

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

    async def time_zone(self, team_id: str, user_id: str) -> str | None:
        return self.time_zones.get(user_id)


@dataclass(frozen=True)
class ConnectionChange:
    """One `connection_changed` notification."""

    team_id: str
    user_id: str
    provider: ProviderName
    account_name: str | None
    replaced: bool


class RecordingNotifier:
    """Keeps every notification, in order."""

    def __init__(self) -> None:
        self.batches: list[tuple[str, str | None, list[TaskChange]]] = []
        self.reconnects: list[tuple[str, str, ProviderName]] = []
        self.connections: list[ConnectionChange] = []
        self.flushes: list[tuple[str, str, list[str]]] = []
        self.reminders: list[tuple[str, str, str, int]] = []

    async def tasks_changed(
        self, team_id: str, meeting_id: str | None, changes: Sequence[TaskChange]
    ) -> None:
        self.batches.append((team_id, meeting_id, list(changes)))

    async def reconnect_needed(self, team_id: str, user_id: str, provider: ProviderName) -> None:
        self.reconnects.append((team_id, user_id, provider))

    async def connection_changed(
        self, team_id: str, user_id: str, provider: ProviderName, account_name: str | None,
        *, replaced: bool,
    ) -> None:  # fmt: skip
        self.connections.append(
            ConnectionChange(team_id, user_id, provider, account_name, replaced=replaced)
        )

    async def tasks_flushed(self, team_id: str, user_id: str, task_ids: Sequence[str]) -> None:
        self.flushes.append((team_id, user_id, list(task_ids)))

    async def review_reminder(
        self, team_id: str, meeting_id: str, user_id: str, waiting: int
    ) -> None:
        self.reminders.append((team_id, meeting_id, user_id, waiting))

    @property
    def changes(self) -> list[TaskChange]:
        return [change for _, _, changes in self.batches for change in changes]
