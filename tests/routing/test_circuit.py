"""Pausing a tool during an outage (routing/circuit.py): pause, probe, resume."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from primitives.enums import ProviderName
from routing.circuit import CircuitConfig, ProviderCircuits

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
CLICKUP, NOTION = ProviderName.CLICKUP, ProviderName.NOTION
CONFIG = CircuitConfig(threshold=3, first_pause=2.0, max_pause=8.0, probe_wait=1.0)


def circuits() -> ProviderCircuits:
    return ProviderCircuits(CONFIG, rng=random.Random(5))


def test_a_run_of_failures_pauses_the_tool_and_only_that_tool() -> None:
    c = circuits()
    assert c.failed(CLICKUP, NOW) is None and c.failed(CLICKUP, NOW) is None
    until = c.failed(CLICKUP, NOW)
    assert until is not None and NOW + timedelta(seconds=1) <= until <= NOW + timedelta(seconds=2)
    assert c.paused(NOW) == [CLICKUP]
    assert c.admit(CLICKUP, NOW) == until and c.admit(NOTION, NOW) is None
    # Requests sent before the pause began and failing now do not lengthen it.
    assert c.failed(CLICKUP, NOW) == until


def test_a_success_in_between_resets_the_run() -> None:
    c = circuits()
    c.failed(CLICKUP, NOW)
    c.failed(CLICKUP, NOW)
    c.succeeded(CLICKUP)
    assert c.failed(CLICKUP, NOW) is None and c.paused(NOW) == []


def test_after_the_pause_one_probe_goes_and_the_others_wait_for_it() -> None:
    c = circuits()
    for _ in range(3):
        until = c.failed(CLICKUP, NOW)
    assert until is not None
    later = until + timedelta(seconds=0.1)
    assert c.paused(later) == []
    assert c.admit(CLICKUP, later) is None  # the probe
    assert c.admit(CLICKUP, later) == later + timedelta(seconds=1)  # waits for the probe
    c.succeeded(CLICKUP)
    assert c.admit(CLICKUP, later) is None  # back: everyone goes


def test_a_failed_probe_pauses_again_for_longer_up_to_the_cap() -> None:
    c = circuits()
    for _ in range(3):
        until = c.failed(CLICKUP, NOW)
    pauses = []
    moment = NOW
    for _ in range(5):
        assert until is not None
        moment = until + timedelta(seconds=0.1)
        assert c.admit(CLICKUP, moment) is None  # probe
        until = c.failed(CLICKUP, moment)
        assert until is not None
        pauses.append((until - moment).total_seconds())
    assert pauses[0] >= 1.0 and pauses[1] >= 2.0  # doubling: 2 s, 4 s, 8 s ceilings
    assert all(p <= CONFIG.max_pause for p in pauses)
