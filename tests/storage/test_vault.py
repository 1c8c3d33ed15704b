"""Tokens are encrypted at rest, and key rotation leaves nothing on an old key."""

from __future__ import annotations

import logging
import stat
from datetime import UTC, datetime
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from primitives.enums import ProviderName
from primitives.ids import new_id
from storage.connections import NewTokens, load_connection, save_connection
from storage.models import SlackInstallation, ToolWebhook
from storage.rotation import audit_encryption, rotate_keys
from storage.vault import TokenVault, VaultError, load_or_create_local_key, new_key

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
CLICKUP_TOKEN = "61681706_dc747044a6fd2a2f3e0a6ee3b5b8d9c0d21f2c85"
NOTION_TOKEN = "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"
NOTION_REFRESH = "nrt_4991846320926WQ3CXlnE5g2yG0fCmvU8IXtrl5rO8jdpZ"


def test_round_trip_and_ciphertext_differs() -> None:
    vault = TokenVault([new_key()])
    sealed = vault.encrypt(CLICKUP_TOKEN)
    assert CLICKUP_TOKEN not in sealed
    assert vault.decrypt(sealed) == CLICKUP_TOKEN
    assert vault.encrypt(CLICKUP_TOKEN) != sealed  # random IV each time


def test_a_foreign_ciphertext_gives_a_clear_error_without_the_token() -> None:
    sealed = TokenVault([new_key()]).encrypt(CLICKUP_TOKEN)
    with pytest.raises(VaultError, match="cannot be decrypted") as raised:
        TokenVault([new_key()]).decrypt(sealed)
    assert CLICKUP_TOKEN not in str(raised.value)
    assert sealed not in str(raised.value)


def test_a_vault_needs_a_valid_key() -> None:
    with pytest.raises(VaultError):
        TokenVault([])
    with pytest.raises(VaultError):
        TokenVault(["not-a-key"])


async def test_tokens_are_stored_encrypted(sessions: async_sessionmaker[AsyncSession]) -> None:
    vault = TokenVault([new_key()])
    async with sessions() as session, session.begin():
        await save_connection(
            session,
            vault,
            team_id="T1",
            user_id="U1",
            provider=ProviderName.NOTION,
            tokens=NewTokens(NOTION_TOKEN, NOTION_REFRESH),
            now=NOW,
            workspace_name="Acme",
        )
    async with sessions() as session:
        raw = (
            await session.execute(
                text("SELECT encrypted_access_token, encrypted_refresh_token FROM user_auth_tokens")
            )
        ).one()
        for value in raw:
            assert NOTION_TOKEN not in value and NOTION_REFRESH not in value
            assert value.startswith("gAAAAA")  # a Fernet token
        loaded = await load_connection(
            session, vault, team_id="T1", user_id="U1", provider=ProviderName.NOTION
        )
    assert loaded is not None
    assert (loaded.access_token, loaded.refresh_token) == (NOTION_TOKEN, NOTION_REFRESH)
    assert NOTION_TOKEN not in repr(loaded)


async def test_reconnecting_replaces_the_one_row(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    vault = TokenVault([new_key()])
    for access in ("pk_first_AAAAAAAAAAAA", "pk_second_BBBBBBBBBBB"):
        async with sessions() as session, session.begin():
            await save_connection(
                session, vault, team_id="T1", user_id="U1", provider=ProviderName.CLICKUP,
                tokens=NewTokens(access), now=NOW,
            )  # fmt: skip
    async with sessions() as session:
        count = await session.scalar(text("SELECT count(*) FROM user_auth_tokens"))
        loaded = await load_connection(
            session, vault, team_id="T1", user_id="U1", provider=ProviderName.CLICKUP
        )
    assert count == 1
    assert loaded is not None and loaded.access_token == "pk_second_BBBBBBBBBBB"


async def seed_tokens(
    sessions: async_sessionmaker[AsyncSession], vault: TokenVault, count: int
) -> dict[str, str]:
    expected: dict[str, str] = {}
    async with sessions() as session, session.begin():
        for n in range(count):
            access = f"{CLICKUP_TOKEN}{n}"
            await save_connection(
                session, vault, team_id="T1", user_id=f"U{n}", provider=ProviderName.CLICKUP,
                tokens=NewTokens(access, f"refresh-{n}"), now=NOW,
            )  # fmt: skip
            expected[f"U{n}"] = access
        session.add(
            SlackInstallation(
                id=new_id("ins"), team_id="T1", encrypted_bot_token=vault.encrypt("xoxb-1-2-abc"),
                encrypted_user_token=vault.encrypt("xoxp-1-2-def"), created_at=NOW, updated_at=NOW,
            )
        )  # fmt: skip
        session.add(
            ToolWebhook(
                id=new_id("whk"), team_id="T1", user_id="U0", provider=ProviderName.CLICKUP,
                workspace_id="9001", remote_id="wh-1", endpoint="https://scrumy.example/webhooks/clickup",
                encrypted_secret=vault.encrypt("clickup-webhook-secret"), created_at=NOW,
                updated_at=NOW,
            )
        )  # fmt: skip
    return expected


async def test_rotation_leaves_no_row_on_the_old_key(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    old_key, newest_key = new_key(), new_key()
    expected = await seed_tokens(sessions, TokenVault([old_key]), 7)

    both = TokenVault([newest_key, old_key])
    before = await audit_encryption(sessions, both)
    assert (before.total, before.stale, before.unreadable) == (17, 17, 0)

    report = await rotate_keys(sessions, both, batch_size=3)  # several batches
    assert report.rotated == 17
    rotated = {table: n for table, n in report.by_table.items() if n}  # tables with none: 0
    assert rotated == {"user_auth_tokens": 14, "slack_installations": 2, "tool_webhooks": 1}
    assert (await rotate_keys(sessions, both)).rotated == 0  # a second run has nothing to do

    # Drop the old key: everything must still read back.
    newest_only = TokenVault([newest_key])
    after = await audit_encryption(sessions, newest_only)
    assert (after.total, after.stale, after.unreadable) == (17, 0, 0)
    async with sessions() as session:
        for user_id, access in expected.items():
            loaded = await load_connection(
                session, newest_only, team_id="T1", user_id=user_id, provider=ProviderName.CLICKUP
            )
            assert loaded is not None and loaded.access_token == access
        bot = await session.execute(text("SELECT encrypted_bot_token FROM slack_installations"))
        assert newest_only.decrypt(bot.scalar_one()) == "xoxb-1-2-abc"
        secret = await session.execute(text("SELECT encrypted_secret FROM tool_webhooks"))
        assert newest_only.decrypt(secret.scalar_one()) == "clickup-webhook-secret"


async def test_audit_reports_values_no_key_can_read(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    await seed_tokens(sessions, TokenVault([new_key()]), 1)
    audit = await audit_encryption(sessions, TokenVault([new_key()]))
    assert audit.unreadable == 5


def test_local_key_is_created_once_with_mode_0600(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "scrumy.key"
    with caplog.at_level(logging.WARNING):
        key = load_or_create_local_key(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    Fernet(key)
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "\n" not in warnings[0].getMessage()
    assert key not in caplog.text
    caplog.clear()
    assert load_or_create_local_key(path) == key
    assert caplog.records == []


def test_a_local_key_readable_by_others_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "scrumy.key"
    load_or_create_local_key(path)
    path.chmod(0o644)
    with pytest.raises(VaultError, match="chmod 600"):
        load_or_create_local_key(path)
