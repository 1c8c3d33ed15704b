"""Pausing a provider during an outage, so an outage costs no attempts and ends quickly.

One `ProviderCircuits` per worker process, keyed by tool. A run of `threshold` consecutive
passing failures (5xx, no answer, unreachable — not 429s, which the rate limiter handles, and
not a person's token) pauses the tool: its tasks stay in line, untouched and with their
attempts intact, and nothing is sent to it. When the pause ends one task goes through as a
probe (the others wait a moment); a probe that works closes the circuit and every waiting task
is due at once, a probe that fails pauses again for twice as long (jittered, capped). So a
provider that comes back is used again within one pause, not after each task's own backoff.

Time is the injected clock's wall time, so a test moves it like everything else.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta

from primitives.enums import ProviderName


@dataclass(frozen=True)
class CircuitConfig:
    threshold: int = 5  # consecutive passing failures that pause a tool
    first_pause: float = 2.0  # seconds; doubles while probes keep failing
    max_pause: float = 60.0
    probe_wait: float = 1.0  # how long others wait for a probe's answer


@dataclass
class _State:
    failures: int = 0
    pause: float = 0.0
    paused_until: datetime | None = None
    probing: bool = False


class ProviderCircuits:
    """Whether each tool may be sent to now; fed with the outcome of every request."""

    def __init__(self, config: CircuitConfig | None = None, *, rng: random.Random) -> None:
        self._config = config or CircuitConfig()
        self._rng = rng
        self._states: dict[ProviderName, _State] = {}

    def _state(self, provider: ProviderName) -> _State:
        return self._states.setdefault(provider, _State())

    def paused(self, now: datetime) -> list[ProviderName]:
        """The tools nothing may be claimed for at `now`."""
        return [
            name
            for name, state in self._states.items()
            if state.paused_until is not None and now < state.paused_until
        ]

    def next_reopening(self, now: datetime) -> datetime | None:
        """When the earliest pause in force at `now` ends, None when no tool is paused."""
        ends = [
            state.paused_until
            for state in self._states.values()
            if state.paused_until is not None and now < state.paused_until
        ]
        return min(ends) if ends else None

    def admit(self, provider: ProviderName, now: datetime) -> datetime | None:
        """None: send. Otherwise the moment to try again (the tool is paused or probing)."""
        state = self._state(provider)
        if state.paused_until is None:
            return None
        if now < state.paused_until:
            return state.paused_until
        if state.probing:
            return now + timedelta(seconds=self._config.probe_wait)
        state.probing = True  # this caller is the probe
        return None

    def succeeded(self, provider: ProviderName) -> None:
        self._states[provider] = _State()

    def failed(self, provider: ProviderName, now: datetime) -> datetime | None:
        """A passing failure; returns when the tool may be tried again if it is now paused."""
        state = self._state(provider)
        state.failures += 1
        if state.paused_until is None and state.failures < self._config.threshold:
            return None
        if state.paused_until is not None and now < state.paused_until and not state.probing:
            return state.paused_until  # failures of requests sent before the pause began
        config = self._config
        state.pause = min(config.max_pause, state.pause * 2 if state.pause else config.first_pause)
        seconds = self._rng.uniform(state.pause / 2, state.pause)
        state.paused_until = now + timedelta(seconds=seconds)
        state.probing = False
        return state.paused_until
