"""The Slack app's listeners, one module per entry point, each with a `register(app, deps)`.

    register_listeners(app, ListenerDeps(utility, tools, links, clock)) adds them all.

Every listener acknowledges Slack first and does the work after (Bolt answers Slack at the
ack), and every error a person can cause reads as one short sentence saying what to do.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from slack_bolt.async_app import AsyncApp

from bot.listeners import options, shortcuts
from primitives.clock import Clock, SystemClock
from primitives.enums import ProviderName
from routing.results import ConnectLinks
from routing.utility import IntegrationUtility


@dataclass(frozen=True)
class ListenerDeps:
    """What the listeners act through: the utility (the domain's façade), the tools this
    installation offers, the personal connect links, and the clock."""

    utility: IntegrationUtility
    tools: Sequence[ProviderName]
    links: ConnectLinks | None = None
    clock: Clock = field(default_factory=SystemClock)


def register_listeners(app: AsyncApp, deps: ListenerDeps) -> None:
    """Add every listener of Scrumy Tasks to `app`."""
    shortcuts.register(app, deps)
    options.register(app, deps)
