"""Wake-ups reach other workers: in process, and across processes through PostgreSQL."""

from __future__ import annotations

import asyncio

import pytest

from routing.wake import LocalWakeSignal, PostgresWakeSignal


async def test_a_local_notify_ends_the_wait() -> None:
    signal = LocalWakeSignal()
    signal.notify()
    await asyncio.wait_for(signal.wait(3600), timeout=5)


async def test_notify_on_one_connection_wakes_a_listener_on_another(
    backend: str, database_url: str
) -> None:
    if backend != "postgresql":
        pytest.skip("LISTEN/NOTIFY is PostgreSQL's")
    sender, listener = PostgresWakeSignal(database_url), PostgresWakeSignal(database_url)
    await sender.start()
    await listener.start()
    try:
        sender.notify()
        # Without the NOTIFY this would wait an hour; the test's own timeout would fail it.
        await asyncio.wait_for(listener.wait(3600), timeout=10)
    finally:
        await sender.close()
        await listener.close()
