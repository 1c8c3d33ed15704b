"""What every listener acts through (`ListenerDeps`), in its own module so that the listener
modules and `bot.listeners` can both import it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from bot.background import AckGate
from primitives.clock import Clock, SystemClock
from primitives.enums import ProviderName
from routing.results import ConnectLinks
from routing.utility import IntegrationUtility


@dataclass(frozen=True)
class ListenerDeps:
    """What the listeners act through: the utility (the domain's façade), the tools this
    installation offers, the personal connect links, the clock, and the gate that work after
    an ack waits at (`AckGate.after_acks`: the other requests' acks go first)."""

    utility: IntegrationUtility
    tools: Sequence[ProviderName]
    links: ConnectLinks | None = None
    clock: Clock = field(default_factory=SystemClock)
    acks: AckGate = field(default_factory=AckGate)
