"""Shared fixtures: a clean environment per test, and the clock."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from scrumy.clock import FakeClock

# Every variable our settings read; removed before each test so the machine's environment or a
# developer's .env can never leak into a test.
SETTINGS_ENV = (
    "DATABASE_URL",
    "APP_BASE_URL",
    "PORT",
    "SLACK_SIGNING_SECRET",
    "SLACK_BOT_TOKEN",
    "SLACK_CLIENT_ID",
    "SLACK_CLIENT_SECRET",
    "SLACK_APP_TOKEN",
    "CLICKUP_CLIENT_ID",
    "CLICKUP_CLIENT_SECRET",
    "NOTION_CLIENT_ID",
    "NOTION_CLIENT_SECRET",
    "SCRUMY_ENCRYPTION_KEYS",
    "SLACK_API_URL",
    "CLICKUP_API_URL",
    "CLICKUP_AUTH_URL",
    "NOTION_API_URL",
    "LOG_LEVEL",
)


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    for name in SETTINGS_ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    yield


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()
