"""`scrumy check` names the Slack scopes and Notion capabilities it can see are missing."""

from __future__ import annotations

import httpx
import pytest

from primitives.enums import ProviderName
from sandbox.notion import NotionSandbox
from sandbox.slack import SlackSandbox
from scrumy.checks import run_checks
from storage.connections import NewTokens, save_connection
from storage.engine import create_engine, session_factory
from storage.vault import TokenVault, new_key
from tests.emulators import NOTION_CLIENT_ID, NOTION_CLIENT_SECRET, NOTION_URL
from tests.fakes import FakeClock


async def check(http: httpx.AsyncClient) -> tuple[bool, dict[str, str]]:
    lines: list[str] = []
    ok = await run_checks(lines.append, http=http)
    return ok, {line[6:18].strip(): line for line in lines}


@pytest.fixture
def slack_env(monkeypatch: pytest.MonkeyPatch, slack_served: str) -> None:
    monkeypatch.setenv("SLACK_SIGNING_SECRET", "signing-secret")
    monkeypatch.setenv("SLACK_API_URL", f"{slack_served}/api/")


@pytest.mark.usefixtures("slack_env")
async def test_a_bot_token_without_users_read_email_is_named(
    monkeypatch: pytest.MonkeyPatch, slack_world: SlackSandbox, http: httpx.AsyncClient
) -> None:
    slack_world.add_workspace("T0LESS", "xoxb-less", scopes={"users:read", "chat:write"})
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-less")
    ok, lines = await check(http)
    assert not ok
    assert lines["slack scopes"].startswith("FAIL")
    assert "users:read.email (users.lookupByEmail" in lines["slack scopes"]
    assert "xoxb-less" not in "".join(lines.values())


@pytest.mark.usefixtures("slack_env")
async def test_a_bot_token_with_every_scope_passes(
    monkeypatch: pytest.MonkeyPatch, http: httpx.AsyncClient
) -> None:
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-acme-bot")
    ok, lines = await check(http)
    assert ok and lines["slack scopes"].startswith("ok")


@pytest.mark.usefixtures("slack_env")
async def test_a_refused_bot_token_fails_the_check(
    monkeypatch: pytest.MonkeyPatch, http: httpx.AsyncClient
) -> None:
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-not-issued")
    ok, lines = await check(http)
    assert not ok and "invalid_auth" in lines["slack scopes"]


@pytest.mark.parametrize("user_information", ["with_email", "without_email", "none"])
async def test_a_notion_integration_that_may_not_read_people_is_named(
    monkeypatch: pytest.MonkeyPatch,
    notion_world: NotionSandbox,
    http: httpx.AsyncClient,
    clock: FakeClock,
    user_information: str,
) -> None:
    key = new_key()
    monkeypatch.setenv("SCRUMY_ENCRYPTION_KEYS", key)
    monkeypatch.setenv("NOTION_CLIENT_ID", NOTION_CLIENT_ID)
    monkeypatch.setenv("NOTION_CLIENT_SECRET", NOTION_CLIENT_SECRET)
    monkeypatch.setenv("NOTION_API_URL", NOTION_URL)
    ok, lines = await check(http)  # creates and migrates the default database
    assert ok and "notion caps" not in lines  # no connection yet: nothing to tell from
    engine = create_engine("sqlite+aiosqlite:///./scrumy.db")
    try:
        async with session_factory(engine)() as session, session.begin():
            await save_connection(
                session, TokenVault([key]), team_id="T1", user_id="U1",
                provider=ProviderName.NOTION, now=clock.now(),
                tokens=NewTokens(*notion_world.issue_tokens("u-ana"), None, None),
                workspace_id="ws-acme",
            )  # fmt: skip
    finally:
        await engine.dispose()
    notion_world.user_information = user_information
    ok, lines = await check(http)
    assert ok  # assignees unmatched is a warning: tasks are still created
    if user_information == "with_email":
        assert lines["notion caps"].startswith("ok")
    else:
        assert lines["notion caps"].startswith("warn")
        assert "Read user information including email addresses" in lines["notion caps"]


@pytest.mark.usefixtures("slack_env")
async def test_notions_webhook_token_and_the_status_poll_are_reported(
    monkeypatch: pytest.MonkeyPatch, http: httpx.AsyncClient
) -> None:
    monkeypatch.setenv("NOTION_CLIENT_ID", NOTION_CLIENT_ID)
    monkeypatch.setenv("NOTION_CLIENT_SECRET", NOTION_CLIENT_SECRET)
    monkeypatch.setenv("NOTION_API_URL", NOTION_URL)
    ok, lines = await check(http)
    assert ok  # a warning: the poll still follows Notion
    assert lines["notion hook"].startswith("warn")
    assert "NOTION_WEBHOOK_VERIFICATION_TOKEN: not set" in lines["notion hook"]
    assert lines["status poll"].startswith("ok") and "every 300 s" in lines["status poll"]

    token = "secret_checked-verification-token-77"
    monkeypatch.setenv("NOTION_WEBHOOK_VERIFICATION_TOKEN", token)
    monkeypatch.setenv("STATUS_POLL_ENABLED", "false")
    ok, lines = await check(http)
    assert lines["notion hook"].startswith("ok") and "/webhooks/notion" in lines["notion hook"]
    assert token not in "".join(lines.values())
    assert lines["status poll"].startswith("off")
