"""Settings, read once at start-up from the environment and `.env`.

Every variable of SPEC "Configuration" lives here. A missing or malformed value never produces a
traceback: `load_settings` raises `SettingsError` whose text is one line naming the variable and
what is expected — and never the value, which may be a secret.
"""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from typing import Annotated

from cryptography.fernet import Fernet
from dotenv.parser import parse_stream
from pydantic import AnyHttpUrl, Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///./scrumy.db"
_DURATION = re.compile(r"(?P<amount>\d{1,9})\s*(?P<unit>[smhd])?")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
REMIND_AFTER_LEAST, REMIND_AFTER_MOST = timedelta(minutes=1), timedelta(days=30)

# Drivers we run on, and the friendlier spellings people paste from their hosting provider.
_URL_DRIVERS = {
    "sqlite+aiosqlite": "sqlite+aiosqlite",
    "sqlite": "sqlite+aiosqlite",
    "postgresql+asyncpg": "postgresql+asyncpg",
    "postgresql": "postgresql+asyncpg",
    "postgres": "postgresql+asyncpg",
}


def _is_local(host: str) -> bool:
    host = host.strip("[]").lower()
    return (
        host in ("localhost", "::1")
        or host.endswith(".localhost")
        or (host.startswith("127.") and host.replace(".", "").isdigit())
    )


class SettingsError(Exception):
    """A setting is missing or malformed; `str(error)` is one line for the person starting us."""


class Settings(BaseSettings):
    """The configuration of one Scrumy Tasks process."""

    model_config = SettingsConfigDict(
        env_file=None,
        env_file_encoding="utf-8",
        env_ignore_empty=True,
        extra="ignore",
        case_sensitive=False,
        frozen=True,
    )

    database_url: str = DEFAULT_DATABASE_URL
    # How long one database statement (or SQLite's wait for its writer) may take before the
    # caller gives up and reports the database as unreachable.
    database_timeout_seconds: float = Field(default=30.0, gt=0, le=600)
    app_base_url: AnyHttpUrl = AnyHttpUrl("http://127.0.0.1:8000")
    port: int | None = Field(default=None, ge=1, le=65535)
    log_level: str = "INFO"

    slack_signing_secret: SecretStr | None = None
    slack_bot_token: SecretStr | None = None
    slack_client_id: str | None = None
    slack_client_secret: SecretStr | None = None
    slack_app_token: SecretStr | None = None

    clickup_client_id: str | None = None
    clickup_client_secret: SecretStr | None = None
    notion_client_id: str | None = None
    notion_client_secret: SecretStr | None = None

    # How long a review (`routing.review`) waits before its owner is reminded, once: "24h",
    # "90m", "2d", "45s" or plain seconds; from one minute to 30 days.
    scrumy_review_remind_after: timedelta = timedelta(hours=24)

    # The verification token of the Notion integration's webhook subscription (one per
    # integration): the key of every event's `X-Notion-Signature`. Notion sends it once, to
    # `/webhooks/notion`, when the subscription is made; `scrumy notion-webhook-token` shows
    # it. Unset: Notion's events are refused (the poll below still keeps the lines true).
    notion_webhook_verification_token: SecretStr | None = None

    # The poll of created tasks that are still open in their tool, for where no webhook can
    # reach us (docs/routing.md, "Status from the tools"): a pass every STATUS_POLL_SECONDS,
    # of at most STATUS_POLL_BATCH tasks per tool, the least recently checked first.
    status_poll_enabled: bool = True
    status_poll_seconds: float = Field(default=300.0, ge=30, le=86_400)
    status_poll_batch: int = Field(default=20, ge=1, le=500)

    # When set, `/metrics` answers only `Authorization: Bearer <METRICS_TOKEN>`.
    metrics_token: SecretStr | None = None

    # Newest first: the first key encrypts, every key decrypts.
    scrumy_encryption_keys: Annotated[tuple[SecretStr, ...], NoDecode] = ()

    slack_api_url: AnyHttpUrl = AnyHttpUrl("https://slack.com/api/")
    # Where Sign in with Slack's authorize page lives (`/openid/connect/authorize` under it).
    slack_auth_url: AnyHttpUrl = AnyHttpUrl("https://slack.com")
    clickup_api_url: AnyHttpUrl = AnyHttpUrl("https://api.clickup.com/api")
    clickup_auth_url: AnyHttpUrl = AnyHttpUrl("https://app.clickup.com/api")
    notion_api_url: AnyHttpUrl = AnyHttpUrl("https://api.notion.com")

    @field_validator("database_url")
    @classmethod
    def _normalise_database_url(cls, value: str) -> str:
        try:
            url = make_url(value.strip())
        except ArgumentError:
            raise ValueError(
                "not a database URL; expected sqlite+aiosqlite:///path.db or "
                "postgresql+asyncpg://user@host:port/db"
            ) from None
        driver = _URL_DRIVERS.get(url.drivername)
        if driver is None:
            raise ValueError(
                f"unknown scheme {url.drivername!r}; expected sqlite+aiosqlite:// or "
                "postgresql+asyncpg://"
            )
        return url.set(drivername=driver).render_as_string(hide_password=False)

    @field_validator("scrumy_review_remind_after", mode="before")
    @classmethod
    def _parse_duration(cls, value: object) -> object:
        if isinstance(value, timedelta):
            return value
        found = _DURATION.fullmatch(str(value).strip().lower())
        if found is None:
            raise ValueError("expected a duration such as 24h, 90m, 2d or 3600 (seconds)")
        amount, unit = int(found["amount"]), found["unit"] or "s"
        return timedelta(seconds=amount * _UNIT_SECONDS[unit])

    @field_validator("scrumy_review_remind_after")
    @classmethod
    def _check_remind_after(cls, value: timedelta) -> timedelta:
        if not REMIND_AFTER_LEAST <= value <= REMIND_AFTER_MOST:
            raise ValueError("expected between 1m and 30d")
        return value

    @field_validator("scrumy_encryption_keys", mode="before")
    @classmethod
    def _split_keys(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(part.strip() for part in value.split(",") if part.strip())
        return value

    @field_validator("scrumy_encryption_keys")
    @classmethod
    def _check_fernet_keys(cls, keys: tuple[SecretStr, ...]) -> tuple[SecretStr, ...]:
        for position, key in enumerate(keys, start=1):
            try:
                Fernet(key.get_secret_value())
            except ValueError:
                raise ValueError(
                    f"key {position} is not a Fernet key (32 url-safe base64-encoded bytes); "
                    "make one with `scrumy keys new`"
                ) from None
        return keys

    @field_validator("app_base_url")
    @classmethod
    def _https_unless_local(cls, url: AnyHttpUrl) -> AnyHttpUrl:
        # Connect links, OAuth redirects and the browser cookie travel over this address: in
        # plain http anyone on the way could read a code or a cookie.
        if url.scheme == "http" and not _is_local(url.host or ""):
            raise ValueError(
                f"plain http is allowed only for localhost; use https://{url.host}… for a "
                "public address"
            )
        return url

    @field_validator("notion_webhook_verification_token")
    @classmethod
    def _check_notion_webhook_token(cls, value: SecretStr | None) -> SecretStr | None:
        # Notion's verification tokens look like `secret_…` (developers.notion.com/reference/
        # webhooks); a short value is a paste gone wrong, and a weak HMAC key.
        if value is not None and len(value.get_secret_value().strip()) < 16:
            raise ValueError(
                "too short to be Notion's verification token (secret_…); copy it from "
                "`scrumy notion-webhook-token`"
            )
        return SecretStr(value.get_secret_value().strip()) if value is not None else None

    @field_validator("log_level")
    @classmethod
    def _check_log_level(cls, value: str) -> str:
        level = value.strip().upper()
        if level not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
            raise ValueError("expected one of DEBUG, INFO, WARNING, ERROR")
        return level

    @field_validator("slack_bot_token")
    @classmethod
    def _check_bot_token(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not value.get_secret_value().startswith("xoxb-"):
            raise ValueError("expected a bot token starting with xoxb-")
        return value

    @field_validator("slack_app_token")
    @classmethod
    def _check_app_token(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not value.get_secret_value().startswith("xapp-"):
            raise ValueError("expected an app-level token starting with xapp-")
        return value

    @model_validator(mode="after")
    def _pairs_are_complete(self) -> Settings:
        for ident, secret in (
            ("clickup_client_id", "clickup_client_secret"),
            ("notion_client_id", "notion_client_secret"),
            ("slack_client_id", "slack_client_secret"),
        ):
            has_id = getattr(self, ident) is not None
            has_secret = getattr(self, secret) is not None
            if has_id != has_secret:
                missing = secret if has_id else ident
                raise ValueError(f"{missing.upper()} is missing (set both or neither)")
        return self

    # --- derived values ---------------------------------------------------------------------

    @property
    def database(self) -> URL:
        return make_url(self.database_url)

    @property
    def is_sqlite(self) -> bool:
        return self.database.drivername.startswith("sqlite")

    @property
    def uses_default_database(self) -> bool:
        return self.database_url == DEFAULT_DATABASE_URL

    @property
    def database_display(self) -> str:
        """The database URL with any password hidden, for messages."""
        return self.database.render_as_string(hide_password=True)

    @property
    def base_url(self) -> str:
        """APP_BASE_URL without a trailing slash."""
        return str(self.app_base_url).rstrip("/")


def read_env_file(path: Path) -> dict[str, str]:
    """Read a `.env` file strictly: a line that is not `NAME=value` is an error.

    python-dotenv alone only warns and skips such lines, which would silently start us with a
    setting missing.
    """
    values: dict[str, str] = {}
    with path.open(encoding="utf-8") as stream:
        for binding in parse_stream(stream):
            if binding.error:
                line = binding.original.line
                raise SettingsError(
                    f"{path.name} line {line}: cannot parse it; expected NAME=value "
                    "(quote values that contain spaces or #)"
                )
            if binding.key is not None and binding.value is not None:
                values[binding.key] = binding.value
    return values


def _variable_for(location: tuple[int | str, ...]) -> str:
    return str(location[0]).upper() if location else "settings"


def load_settings(env_file: Path | None = Path(".env")) -> Settings:
    """Build the settings from the environment and `.env` (when present); the environment wins."""
    dotenv: Path | None = None
    if env_file is not None and env_file.is_file():
        try:
            read_env_file(env_file)  # strict check first: pydantic-settings would skip bad lines
        except UnicodeDecodeError:
            raise SettingsError(f"{env_file.name}: not UTF-8 text") from None
        dotenv = env_file
    try:
        return Settings(_env_file=dotenv)
    except ValidationError as error:
        problems = []
        for item in error.errors(include_input=False, include_url=False):
            message = str(item["msg"]).removeprefix("Value error, ")
            if item["loc"]:
                problems.append(f"{_variable_for(item['loc'])}: {message}")
            else:
                problems.append(message)
        raise SettingsError("; ".join(problems)) from None
