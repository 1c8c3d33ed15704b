"""Fixtures for the HTTP side: the app in process, at the address a real deployment would have."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from tests.fakes import FakeClock
from tests.sidecar.harness import Harness, browser_client, running_sidecar

BASE_URL = "http://127.0.0.1:8000"


@pytest.fixture
async def harness(database_url: str, clock: FakeClock) -> AsyncIterator[Harness]:
    async with running_sidecar(database_url, clock, BASE_URL) as harness:
        yield harness


@pytest.fixture
async def browser(harness: Harness) -> AsyncIterator[httpx.AsyncClient]:
    """One person's browser: keeps its cookies between requests."""
    async with browser_client(harness) as client:
        yield client
