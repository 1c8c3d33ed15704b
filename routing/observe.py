"""What the worker reports for metrics: how long dispatches take and which errors providers give.

The HTTP side implements `DispatchObserver` with Prometheus metrics; without one, nothing is
recorded.
"""

from __future__ import annotations

from typing import Protocol

from primitives.enums import ProviderName
from providers.base import AuthRevoked, Permanent, ProviderError, RateLimited, Transient


class DispatchObserver(Protocol):
    def dispatched(self, provider: ProviderName | None, outcome: str, seconds: float) -> None:
        """One task was handled; `outcome` is its new state ("created", "retrying", …)."""
        ...

    def provider_error(self, provider: ProviderName, kind: str) -> None:
        """A provider call failed; `kind` is one of `error_kind`'s names."""
        ...


class NoObserver:
    def dispatched(self, provider: ProviderName | None, outcome: str, seconds: float) -> None:
        return None

    def provider_error(self, provider: ProviderName, kind: str) -> None:
        return None


def error_kind(error: ProviderError) -> str:
    """The branch of the provider error tree an error belongs to."""
    for kind, cls in (
        ("auth_revoked", AuthRevoked),
        ("rate_limited", RateLimited),
        ("transient", Transient),
        ("permanent", Permanent),
    ):
        if isinstance(error, cls):
            return kind
    return "other"
