"""The `scrumy` command line, as a person uses it."""

from __future__ import annotations

import asyncio
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from cryptography.fernet import Fernet
from sqlalchemy import text

from primitives.enums import ProviderName
from scrumy.cli import cli
from storage.api_keys import authenticate
from storage.connections import NewTokens, save_connection
from storage.engine import create_engine, session_factory
from storage.vault import TokenVault, new_key
from storage.webhook_verifications import WebhookVerifications
from tests.fakes import FakeClock
from tests.storage.test_vault import NOW


def run_cli(*args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args), env=env, catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def run_process(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run the real console script, as a shell would."""
    return subprocess.run(
        [sys.executable, "-m", "scrumy", *args],
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_keys_new_prints_a_fresh_fernet_key() -> None:
    code, out, _ = run_cli("keys", "new")
    assert code == 0
    Fernet(out.strip())
    assert run_cli("keys", "new")[1] != out


def test_check_on_a_fresh_default_database_says_what_it_checked() -> None:
    code, out, _ = run_cli("check")
    assert code == 0, out
    for name in ("settings", "keys", "database", "migrations", "tokens", "slack", "clickup"):
        assert name in out
    assert "FAIL" not in out
    assert Path("scrumy.db").exists()
    assert stat.S_IMODE(Path("scrumy.key").stat().st_mode) == 0o600


def test_check_fails_when_another_database_has_no_key(empty_database_url: str) -> None:
    code, out, _ = run_cli("check", env={"DATABASE_URL": empty_database_url})
    assert code == 1
    assert "FAIL  keys         SCRUMY_ENCRYPTION_KEYS: not set" in out
    assert not Path("scrumy.key").exists()


def test_db_upgrade_and_the_api_key_lifecycle(empty_database_url: str) -> None:
    env = {"DATABASE_URL": empty_database_url, "SCRUMY_ENCRYPTION_KEYS": new_key()}
    code, out, _ = run_cli("db", "upgrade", env=env)
    assert code == 0 and "upgraded from empty to" in out
    assert "already at migration" in run_cli("db", "upgrade", env=env)[1]
    assert "(current)" in run_cli("db", "current", env=env)[1]

    code, out, err = run_cli("api-key", "create", "--team", "T1", "--name", "ai service", env=env)
    assert code == 0
    secret = out.strip()
    assert secret.startswith("sct_") and len(secret) > 40
    assert "only time the key is shown" in err
    key_id = err.split()[1]

    listing = run_cli("api-key", "list", env=env)[1]
    assert key_id in listing and "ai service" in listing and "active" in listing
    assert secret not in listing

    async def inspect() -> tuple[bool, list[str]]:
        engine = create_engine(empty_database_url)
        try:
            async with session_factory(engine)() as session:
                found = await authenticate(session, secret, now=NOW) is not None
                rows = (await session.execute(text("SELECT * FROM api_keys"))).all()
        finally:
            await engine.dispose()
        return found, [str(value) for row in rows for value in row]

    found, raw_values = asyncio.run(inspect())
    assert found
    assert all(secret not in value for value in raw_values)  # only the hash is stored

    assert run_cli("api-key", "revoke", key_id, env=env)[0] == 0
    assert "revoked" in run_cli("api-key", "list", "--team", "T1", env=env)[1]
    assert asyncio.run(inspect())[0] is False
    code, _, err = run_cli("api-key", "revoke", key_id, env=env)
    assert code == 1 and f"no active API key with id {key_id}" in err


def test_keys_rotate_then_the_old_key_can_go(empty_database_url: str) -> None:
    old, newest = new_key(), new_key()
    assert run_cli("db", "upgrade", env={"DATABASE_URL": empty_database_url,
                                         "SCRUMY_ENCRYPTION_KEYS": old})[0] == 0  # fmt: skip

    async def seed() -> None:
        engine = create_engine(empty_database_url)
        vault = TokenVault([old])
        try:
            async with session_factory(engine)() as session, session.begin():
                for user in ("U1", "U2", "U3"):
                    await save_connection(
                        session, vault, team_id="T1", user_id=user, provider=ProviderName.NOTION,
                        tokens=NewTokens(f"ntn_token_for_{user}_abcdef", "nrt_refresh"), now=NOW,
                    )  # fmt: skip
        finally:
            await engine.dispose()

    asyncio.run(seed())
    env = {"DATABASE_URL": empty_database_url, "SCRUMY_ENCRYPTION_KEYS": f"{newest},{old}"}
    code, out, _ = run_cli("keys", "rotate", "--batch-size", "2", env=env)
    assert code == 0, out
    assert "re-encrypted 6 value(s)" in out and "all 6 stored value(s) are on the newest key" in out

    code, out, _ = run_cli("check", env={**env, "SCRUMY_ENCRYPTION_KEYS": newest})
    assert "ok    tokens       6 stored token(s) readable" in out
    code, out, _ = run_cli("check", env={**env, "SCRUMY_ENCRYPTION_KEYS": new_key()})
    assert code == 1 and "6 of 6 stored token(s) cannot be decrypted" in out


def test_postgres_behind_says_to_run_db_upgrade(backend: str, empty_database_url: str) -> None:
    env = {"DATABASE_URL": empty_database_url, "SCRUMY_ENCRYPTION_KEYS": new_key()}
    code, out, err = run_cli("api-key", "list", env=env)
    if backend == "sqlite":
        assert code == 0 and "no API keys" in out  # SQLite is migrated on first start
    else:
        assert code == 1
        assert err.strip().endswith("run `scrumy db upgrade`")
        assert len(err.strip().splitlines()) == 1


@pytest.mark.parametrize(
    ("env", "dotenv", "expected"),
    [
        ({"DATABASE_URL": "mysql://root@127.0.0.1/scrumy"}, None, "DATABASE_URL: unknown scheme"),
        ({"SCRUMY_ENCRYPTION_KEYS": "not-a-fernet-key"}, None, "is not a Fernet key"),
        ({}, "GOOD=1\nbroken line here\n", ".env line 2: cannot parse it"),
        (
            {"DATABASE_URL": "postgresql+asyncpg://postgres@127.0.0.1:1/none",
             "SCRUMY_ENCRYPTION_KEYS": new_key()},
            None,
            "cannot reach the database at postgresql+asyncpg://postgres@127.0.0.1:1/none",
        ),
    ],
)  # fmt: skip
def test_a_person_error_is_one_line_and_no_traceback(
    env: dict[str, str], dotenv: str | None, expected: str
) -> None:
    if dotenv is not None:
        Path(".env").write_text(dotenv)
    result = run_process("api-key", "list", env=env)
    assert result.returncode != 0
    assert "Traceback" not in result.stderr + result.stdout
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert expected in lines[0]
    secret = env.get("SCRUMY_ENCRYPTION_KEYS")
    assert secret is None or secret not in result.stderr


def test_a_database_from_a_newer_release_is_one_line_and_untouched(database_url: str) -> None:
    async def set_version(version: str) -> None:
        engine = create_engine(database_url)
        try:
            async with engine.begin() as connection:
                await connection.execute(
                    text(f"UPDATE alembic_version SET version_num = '{version}'")
                )
        finally:
            await engine.dispose()

    asyncio.run(set_version("9999_future"))
    env = {"DATABASE_URL": database_url, "SCRUMY_ENCRYPTION_KEYS": new_key()}
    for command in (("db", "upgrade"), ("api-key", "list")):
        result = run_process(*command, env=env)
        assert result.returncode == 1
        assert "Traceback" not in result.stderr
        assert "9999_future" in result.stderr and "upgrade Scrumy Tasks" in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1


async def test_two_upgrades_at_once_say_truly_which_one_migrated(empty_database_url: str) -> None:
    """Two `scrumy db upgrade` on one empty database: one migrates and says so, the other finds
    it done (it reads the state only once it holds the migration lock)."""
    env = {**os.environ, "DATABASE_URL": empty_database_url, "SCRUMY_ENCRYPTION_KEYS": new_key()}
    command = (sys.executable, "-m", "scrumy", "db", "upgrade")
    pipe = asyncio.subprocess.PIPE
    processes = [
        await asyncio.create_subprocess_exec(*command, env=env, stdout=pipe, stderr=pipe)
        for _ in range(2)
    ]
    said = [(await p.communicate())[0].decode() for p in processes]
    assert [p.returncode for p in processes] == [0, 0]
    assert sorted("upgraded from empty" in s for s in said) == [False, True], said
    assert any("already at migration" in s for s in said)


def test_notion_webhook_token_prints_the_newest_token_notion_sent(empty_database_url: str) -> None:
    key = new_key()
    env = {"DATABASE_URL": empty_database_url, "SCRUMY_ENCRYPTION_KEYS": key}
    assert run_cli("db", "upgrade", env=env)[0] == 0
    code, _, err = run_cli("notion-webhook-token", env=env)
    assert code == 1 and "Notion has sent no verification token yet" in err
    assert "/webhooks/notion" in err

    async def received(*tokens: str) -> None:
        engine = create_engine(empty_database_url)
        try:
            kept = WebhookVerifications(session_factory(engine), TokenVault([key]), FakeClock())
            for token in tokens:
                await kept.keep(ProviderName.NOTION, token)
        finally:
            await engine.dispose()

    asyncio.run(received("secret_the-first-one-0001", "secret_the-newest-one-0002"))
    code, out, err = run_cli("notion-webhook-token", env=env)
    assert code == 0 and out.strip() == "secret_the-newest-one-0002"
    assert "received" in err and "secret_" not in err
