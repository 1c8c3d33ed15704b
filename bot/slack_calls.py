"""How the notifier calls Slack: each workspace with its own bot token, paced within Slack's
rate limits, every refusal turned into Slack's error code.

    calls = SlackCalls(client, tokens=..., clock=...)
    token = await calls.token(team_id)             None (said once) for a workspace without one
    answer = await calls.call("chat.update", token, pace=("update", team_id), channel=…, …)

One `AsyncWebClient` (`bot.slack_client`: it waits out a 429's `Retry-After`) serves every
workspace: the token goes with each call. Per workspace `chat.update` goes at most once every
`UPDATE_INTERVAL` (Tier 3, 50 a minute; counted per minute by Slack, so no bursts), and per
channel or person `chat.postMessage` about once a `POST_INTERVAL` (one a second) after a burst
of `POST_BURST` at once, as Slack allows ("generous burst behavior"); both on the injected
clock. No token ever reaches a log line or an error: only Slack's code does.
"""

from __future__ import annotations

import logging
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.web.async_client import AsyncWebClient

from bot.directory import TokenSource
from primitives.clock import Clock

log = logging.getLogger(__name__)

UPDATE_INTERVAL = 1.25  # seconds between chat.update calls of one workspace: 48 a minute
POST_INTERVAL = 1.0  # seconds between chat.postMessage calls to one channel or person
POST_BURST = 3  # chat.postMessage calls one channel or person takes at once before that pace
UNREACHABLE = "slack_unreachable"  # no answer from Slack (connection, timeout)
# Refusals worth another try later; any other one would only be repeated.
TRANSIENT = frozenset(
    {"ratelimited", "internal_error", "fatal_error", "service_unavailable", "request_timeout",
     UNREACHABLE}
)  # fmt: skip


class SlackRefusal(Exception):
    """Slack did not do what was asked; `error` is its code (`not_in_channel` …)."""

    def __init__(self, error: str) -> None:
        super().__init__(error)
        self.error = error

    @property
    def transient(self) -> bool:
        return self.error in TRANSIENT


class Pace:
    """One call per `interval` seconds for each key on average, `burst` of them at once, on
    the injected clock (a virtual schedule: each key's next slot is taken before sleeping,
    so callers queue in order)."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._next: dict[tuple[str, str], float] = {}

    async def wait(self, key: tuple[str, str], interval: float, burst: int = 1) -> None:
        now = self._clock.monotonic()
        scheduled = max(now, self._next.get(key, now))
        self._next[key] = scheduled + interval
        # Up to `burst` calls may run ahead of the schedule; the next one waits its slot.
        at = max(now, scheduled - (burst - 1) * interval)
        if at > now:
            await self._clock.sleep(at - now)


class SlackCalls:
    """Web API calls with each workspace's token, paced; see the module docstring."""

    def __init__(self, client: AsyncWebClient, *, tokens: TokenSource, clock: Clock) -> None:
        self._client = client
        self._tokens = tokens
        self._pace = Pace(clock)
        self._untokened: set[str] = set()

    async def token(self, team_id: str) -> str | None:
        """The workspace's bot token; None, logged the first time, when it has none."""
        token = await self._tokens(team_id)
        if token is None and team_id not in self._untokened:
            self._untokened.add(team_id)
            log.warning("no Slack bot token for workspace %s: nothing is posted there", team_id)
        return token

    async def call(
        self, method: str, token: str, *, pace: tuple[str, str], **arguments: Any
    ) -> dict[str, Any]:
        """One call, once its turn under `pace` came; Slack's answer, else `SlackRefusal`."""
        if method == "chat.update":
            await self._pace.wait(pace, UPDATE_INTERVAL)
        else:
            await self._pace.wait(pace, POST_INTERVAL, POST_BURST)
        try:
            response = await self._client.api_call(method, json={**arguments, "token": token})
        except SlackApiError as error:
            raise SlackRefusal(str(error.response.get("error") or "unknown_error")) from None
        except (SlackClientError, aiohttp.ClientError, TimeoutError):
            raise SlackRefusal(UNREACHABLE) from None
        return dict(response.data) if isinstance(response.data, dict) else {}
