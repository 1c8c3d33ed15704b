"""Settings: defaults, .env, and one clear line for every bad value."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from scrumy.settings import DEFAULT_DATABASE_URL, SettingsError, load_settings
from storage.vault import new_key


def test_defaults_without_any_configuration() -> None:
    settings = load_settings()
    assert settings.database_url == DEFAULT_DATABASE_URL
    assert settings.is_sqlite and settings.uses_default_database
    assert settings.base_url == "http://127.0.0.1:8000"
    assert str(settings.clickup_api_url) == "https://api.clickup.com/api"
    assert settings.scrumy_encryption_keys == ()


def test_dotenv_is_read_and_the_environment_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    first, second = new_key(), new_key()
    Path(".env").write_text(
        "# local settings\n"
        f"SCRUMY_ENCRYPTION_KEYS={first}, {second}\n"
        "APP_BASE_URL=https://tasks.example.com/\n"
        'NOTION_CLIENT_ID="abc"\nNOTION_CLIENT_SECRET=secret_from_dotenv\n'
        "CLICKUP_API_URL=http://127.0.0.1:9001/api\n"
    )
    monkeypatch.setenv("APP_BASE_URL", "https://scrumy.example.org")
    settings = load_settings()
    assert [k.get_secret_value() for k in settings.scrumy_encryption_keys] == [first, second]
    assert settings.base_url == "https://scrumy.example.org"
    assert settings.notion_client_id == "abc"
    assert str(settings.clickup_api_url) == "http://127.0.0.1:9001/api"


@pytest.mark.parametrize(
    ("value", "expected"),
    [("24h", timedelta(hours=24)), ("90m", timedelta(minutes=90)), ("2d", timedelta(days=2)),
     ("3600", timedelta(hours=1)), (" 45 M ", timedelta(minutes=45))],
)  # fmt: skip
def test_the_review_reminder_delay_reads_as_a_duration(
    monkeypatch: pytest.MonkeyPatch, value: str, expected: timedelta
) -> None:
    assert load_settings().scrumy_review_remind_after == timedelta(hours=24)
    monkeypatch.setenv("SCRUMY_REVIEW_REMIND_AFTER", value)
    assert load_settings().scrumy_review_remind_after == expected


def test_postgres_urls_are_normalised_to_asyncpg(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgres://scrumy:pw@db.internal:5432/scrumy")
    settings = load_settings()
    assert settings.database_url == "postgresql+asyncpg://scrumy:pw@db.internal:5432/scrumy"
    assert settings.database_display == "postgresql+asyncpg://scrumy:***@db.internal:5432/scrumy"
    assert not settings.is_sqlite


def test_blank_values_mean_not_set(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "")
    monkeypatch.setenv("SCRUMY_ENCRYPTION_KEYS", " ")
    settings = load_settings()
    assert settings.database_url == DEFAULT_DATABASE_URL


@pytest.mark.parametrize(
    ("variable", "value", "expected"),
    [
        ("DATABASE_URL", "mysql://root@localhost/scrumy", "DATABASE_URL: unknown scheme 'mysql'"),
        ("DATABASE_URL", "not a url at all", "DATABASE_URL: not a database URL"),
        ("SCRUMY_ENCRYPTION_KEYS", "hunter2-not-fernet", "SCRUMY_ENCRYPTION_KEYS: key 1 is not"),
        ("APP_BASE_URL", "ftp//nope", "APP_BASE_URL:"),
        ("PORT", "eighty", "PORT:"),
        ("PORT", "70000", "PORT:"),
        ("SLACK_BOT_TOKEN", "xoxp-123-user-token", "SLACK_BOT_TOKEN: expected a bot token"),
        ("SLACK_APP_TOKEN", "xoxb-wrong-kind", "SLACK_APP_TOKEN: expected an app-level token"),
        ("CLICKUP_CLIENT_ID", "123", "CLICKUP_CLIENT_SECRET is missing"),
        ("NOTION_CLIENT_SECRET", "secret_abcdefghijkl", "NOTION_CLIENT_ID is missing"),
        ("LOG_LEVEL", "chatty", "LOG_LEVEL:"),
        ("SCRUMY_REVIEW_REMIND_AFTER", "tomorrow", "SCRUMY_REVIEW_REMIND_AFTER: expected a dur"),
        ("SCRUMY_REVIEW_REMIND_AFTER", "30s", "SCRUMY_REVIEW_REMIND_AFTER: expected between"),
        ("SCRUMY_REVIEW_REMIND_AFTER", "31d", "SCRUMY_REVIEW_REMIND_AFTER: expected between"),
        ("NOTION_WEBHOOK_VERIFICATION_TOKEN", "secret_x", "NOTION_WEBHOOK_VERIFICATION_TOKEN: too"),
        ("STATUS_POLL_SECONDS", "5", "STATUS_POLL_SECONDS:"),
        ("STATUS_POLL_BATCH", "0", "STATUS_POLL_BATCH:"),
        ("STATUS_POLL_ENABLED", "maybe", "STATUS_POLL_ENABLED:"),
    ],
)
def test_a_bad_value_is_one_line_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, expected: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(SettingsError) as raised:
        load_settings()
    message = str(raised.value)
    assert expected in message
    assert "\n" not in message
    assert value not in message  # values may be secrets: never echoed


def test_a_second_key_that_is_not_fernet_is_named_by_position(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SCRUMY_ENCRYPTION_KEYS", f"{new_key()},oops")
    with pytest.raises(SettingsError, match="key 2 is not a Fernet key"):
        load_settings()


def test_several_problems_are_reported_on_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "oracle://x")
    monkeypatch.setenv("PORT", "x")
    with pytest.raises(SettingsError) as raised:
        load_settings()
    assert "DATABASE_URL" in str(raised.value) and "PORT" in str(raised.value)
    assert "\n" not in str(raised.value)


@pytest.mark.parametrize(
    "line", ["this line is broken", "NAME='unterminated", "=value-without-a-name"]
)
def test_a_broken_dotenv_line_is_reported_with_its_number(line: str) -> None:
    Path(".env").write_text(f"APP_BASE_URL=https://ok.example\n{line}\nPORT=8080\n")
    with pytest.raises(SettingsError, match=r"^\.env line 2: cannot parse it") as raised:
        load_settings()
    assert line not in str(raised.value)


def test_a_dotenv_that_is_not_text_is_refused() -> None:
    Path(".env").write_bytes(b"DATABASE_URL=\xff\xfe\n")
    with pytest.raises(SettingsError, match="not UTF-8"):
        load_settings()


@pytest.mark.parametrize(
    "url", ["http://tasks.example.com", "http://10.0.0.5:8000", "http://scrumy.internal/"]
)
def test_plain_http_on_a_public_host_is_refused_in_one_line(
    monkeypatch: pytest.MonkeyPatch, url: str
) -> None:
    monkeypatch.setenv("APP_BASE_URL", url)
    with pytest.raises(SettingsError) as refused:
        load_settings(None)
    message = str(refused.value)
    assert message.startswith("APP_BASE_URL: plain http is allowed only for localhost")
    assert "\n" not in message


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8000",
        "http://localhost:8000",
        "http://[::1]:8000",
        "http://tasks.localhost",
        "https://tasks.example.com",
    ],
)
def test_plain_http_is_fine_on_this_machine(monkeypatch: pytest.MonkeyPatch, url: str) -> None:
    monkeypatch.setenv("APP_BASE_URL", url)
    assert load_settings(None).base_url == url.rstrip("/")


def test_the_status_poll_and_notions_webhook_token(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = load_settings()
    assert settings.status_poll_enabled and settings.status_poll_seconds == 300
    assert settings.notion_webhook_verification_token is None
    monkeypatch.setenv("STATUS_POLL_ENABLED", "false")
    monkeypatch.setenv("STATUS_POLL_SECONDS", "60")
    monkeypatch.setenv("NOTION_WEBHOOK_VERIFICATION_TOKEN", " secret_abcdefghijklmnop ")
    settings = load_settings()
    assert not settings.status_poll_enabled and settings.status_poll_seconds == 60
    token = settings.notion_webhook_verification_token
    assert token is not None and token.get_secret_value() == "secret_abcdefghijklmnop"
    assert "secret_" not in repr(settings)
