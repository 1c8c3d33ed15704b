"""What every listener acts through (`ListenerDeps`), in its own module so that the listener
modules and `bot.listeners` can both import it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from primitives.enums import ProviderName
from routing.results import ConnectLinks
from routing.utility import IntegrationUtility


@dataclass(frozen=True)
class ListenerDeps:
    """What the listeners act through: the utility (the domain's façade), the tools this
    installation offers, and the personal connect links."""

    utility: IntegrationUtility
    tools: Sequence[ProviderName]
    links: ConnectLinks | None = None
