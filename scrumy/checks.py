"""`scrumy check`: what is configured, what is reachable, and what is not."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.scopes import REQUIRED_BOT_SCOPES, ScopeCheckFailed, granted_scopes
from bot.slack_api import SlackWebApi
from bot.slack_client import slack_web_client
from primitives.clock import SystemClock
from primitives.enums import ProviderName
from providers.base import ProviderError
from providers.notion import NotionProvider, notion_limiter
from routing.owner_context import credentials_of
from scrumy.settings import Settings, SettingsError, load_settings
from scrumy.startup import StartupError, build_vault
from storage.connections import decrypt_connection
from storage.engine import DatabaseUnavailable, check_connection, create_engine, session_factory
from storage.migrate import SchemaMismatch, ensure_current
from storage.models import UserAuthToken
from storage.rotation import audit_encryption
from storage.vault import TokenVault, VaultError

CHECK_TIMEOUT = 10  # seconds for each outbound call: `scrumy check` should answer quickly

# Connections probed for the Notion capabilities they lack: enough to see a pattern, few enough
# to keep `scrumy check` quick on a big installation.
NOTION_CONNECTIONS_PROBED = 20


class Status(StrEnum):
    OK = "ok"
    OFF = "off"  # not configured; fine unless you need it
    WARN = "warn"  # works, with something missing (docs/setup.md says what)
    FAIL = "FAIL"


@dataclass(frozen=True)
class CheckResult:
    name: str
    status: Status
    detail: str

    def line(self) -> str:
        return f"{self.status.value:<5} {self.name:<12} {self.detail}"


def _integration_checks(settings: Settings) -> list[CheckResult]:
    results = []
    slack_modes = []
    if settings.slack_bot_token:
        slack_modes.append("one workspace (SLACK_BOT_TOKEN)")
    if settings.slack_client_id:
        slack_modes.append("installable (SLACK_CLIENT_ID/SECRET)")
    if settings.slack_app_token:
        slack_modes.append("Socket Mode (SLACK_APP_TOKEN)")
    if slack_modes and settings.slack_signing_secret is None and not settings.slack_app_token:
        results.append(
            CheckResult(
                "slack",
                Status.FAIL,
                "SLACK_SIGNING_SECRET: not set; Slack requests cannot be verified",
            )
        )
    elif slack_modes:
        results.append(CheckResult("slack", Status.OK, ", ".join(slack_modes)))
    else:
        results.append(
            CheckResult(
                "slack",
                Status.OFF,
                "not configured (set SLACK_SIGNING_SECRET and "
                "SLACK_BOT_TOKEN, or SLACK_CLIENT_ID/SLACK_CLIENT_SECRET)",
            )
        )
    for label, client_id, api_url in (
        ("clickup", settings.clickup_client_id, settings.clickup_api_url),
        ("notion", settings.notion_client_id, settings.notion_api_url),
    ):
        if client_id:
            results.append(CheckResult(label, Status.OK, f"OAuth app configured, API {api_url}"))
        else:
            results.append(
                CheckResult(
                    label,
                    Status.OFF,
                    f"not configured ({label.upper()}_CLIENT_ID/"
                    f"{label.upper()}_CLIENT_SECRET); people cannot connect {label}",
                )
            )
    if settings.notion_client_id:
        results.append(_notion_webhook(settings))
    results.append(
        CheckResult(
            "status poll",
            Status.OK if settings.status_poll_enabled else Status.OFF,
            f"every {settings.status_poll_seconds:g} s, up to {settings.status_poll_batch} "
            "tasks per tool"
            if settings.status_poll_enabled
            else "off (STATUS_POLL_ENABLED=false): statuses come from webhooks alone",
        )
    )
    return results


def _notion_webhook(settings: Settings) -> CheckResult:
    if settings.notion_webhook_verification_token is None:
        return CheckResult(
            "notion hook",
            Status.WARN,
            "NOTION_WEBHOOK_VERIFICATION_TOKEN: not set; Notion's events are refused and pages "
            "done in Notion show only through the status poll (docs/setup.md, Notion webhooks)",
        )
    return CheckResult(
        "notion hook", Status.OK, f"events verified at {settings.base_url}/webhooks/notion"
    )


async def _slack_scopes(settings: Settings) -> CheckResult | None:
    """The scopes the bot token lacks (SLACK_BOT_TOKEN only: an installation's token is
    checked when it is installed)."""
    if settings.slack_bot_token is None:
        return None
    # As `scrumy serve` makes it (scrumy.web.slack_web_api): SlackWebApi waits out a 429.
    client = slack_web_client(
        str(settings.slack_api_url), timeout=CHECK_TIMEOUT, rate_limit_retries=0
    )
    api = SlackWebApi(client, clock=SystemClock())
    try:
        granted = await granted_scopes(api, token=settings.slack_bot_token.get_secret_value())
    except ScopeCheckFailed as error:
        return CheckResult("slack scopes", Status.FAIL, str(error))
    missing = [scope for scope in REQUIRED_BOT_SCOPES if scope not in granted]
    if not missing:
        return CheckResult("slack scopes", Status.OK, ", ".join(REQUIRED_BOT_SCOPES))
    said = "; ".join(f"{scope} ({REQUIRED_BOT_SCOPES[scope]})" for scope in missing)
    return CheckResult(
        "slack scopes", Status.FAIL, f"the bot token lacks {said}; see docs/setup.md"
    )


async def _notion_capabilities(
    settings: Settings,
    sessions: async_sessionmaker[AsyncSession],
    vault: TokenVault,
    http: httpx.AsyncClient,
) -> CheckResult | None:
    """Capabilities the Notion integration lacks, as its connections show them."""
    if not (settings.notion_client_id and settings.notion_client_secret):
        return None
    async with sessions() as session:
        rows = (
            await session.scalars(
                select(UserAuthToken)
                .where(
                    UserAuthToken.provider == ProviderName.NOTION,
                    UserAuthToken.needs_reconnect.is_(False),
                )
                .limit(NOTION_CONNECTIONS_PROBED)
            )
        ).all()
    if not rows:
        return None
    clock = SystemClock()
    notion = NotionProvider(
        http, api_url=str(settings.notion_api_url), client_id=settings.notion_client_id,
        client_secret=settings.notion_client_secret.get_secret_value(),
        limiter=notion_limiter(clock), clock=clock,
    )  # fmt: skip
    lacking: dict[str, int] = {}
    for row in rows:
        try:
            missing = await notion.missing_capabilities(
                credentials_of(decrypt_connection(row, vault))
            )
        except (ProviderError, VaultError):
            continue  # a broken connection says nothing about the integration's settings
        for capability in missing:
            lacking[capability] = lacking.get(capability, 0) + 1
    if not lacking:
        return CheckResult("notion caps", Status.OK, f"{len(rows)} connection(s) probed")
    said = "; ".join(
        f"“{capability}” lacking on {n} of {len(rows)} connection(s)"
        for capability, n in lacking.items()
    )
    return CheckResult(
        "notion caps", Status.WARN,
        f"{said}: assignees are not matched; give the integration that capability "
        "(docs/setup.md)",
    )  # fmt: skip


async def run_checks(echo: Callable[[str], None], *, http: httpx.AsyncClient | None = None) -> bool:
    """Print one line per check; True when nothing failed. `http` reaches Notion (a client of
    its own when not given); Slack is reached through `slack_sdk` at SLACK_API_URL."""
    async with contextlib.AsyncExitStack() as stack:
        if http is None:
            http = await stack.enter_async_context(httpx.AsyncClient(timeout=CHECK_TIMEOUT))
        return await _run_checks(echo, http)


async def _run_checks(echo: Callable[[str], None], http: httpx.AsyncClient) -> bool:
    try:
        settings = load_settings()
    except SettingsError as error:
        echo(CheckResult("settings", Status.FAIL, str(error)).line())
        return False
    results = [CheckResult("settings", Status.OK, f"loaded; public URL {settings.base_url}")]

    vault = None
    try:
        vault = build_vault(settings)
        results.append(CheckResult("keys", Status.OK, f"{vault.key_count} encryption key(s)"))
    except (StartupError, VaultError) as error:
        results.append(CheckResult("keys", Status.FAIL, str(error)))

    engine = create_engine(settings.database_url)
    try:
        await check_connection(engine)
        results.append(CheckResult("database", Status.OK, f"{settings.database_display} reachable"))
        state = await ensure_current(engine, auto_upgrade=settings.is_sqlite)
        results.append(CheckResult("migrations", Status.OK, f"at {state.head} (newest)"))
        if vault is not None:
            audit = await audit_encryption(session_factory(engine), vault)
            if audit.unreadable:
                results.append(
                    CheckResult(
                        "tokens",
                        Status.FAIL,
                        f"{audit.unreadable} of {audit.total} stored token(s) cannot be decrypted "
                        "with the configured keys",
                    )
                )
            else:
                older = (
                    f", {audit.stale} on an older key (run `scrumy keys rotate`)"
                    if (audit.stale)
                    else ""
                )
                results.append(
                    CheckResult(
                        "tokens", Status.OK, f"{audit.total} stored token(s) readable{older}"
                    )
                )
                notion = await _notion_capabilities(settings, session_factory(engine), vault, http)
                if notion is not None:
                    results.append(notion)
    except (DatabaseUnavailable, SchemaMismatch) as error:
        name = "database" if isinstance(error, DatabaseUnavailable) else "migrations"
        results.append(CheckResult(name, Status.FAIL, str(error)))
    finally:
        await engine.dispose()

    results.extend(_integration_checks(settings))
    scopes = await _slack_scopes(settings)
    if scopes is not None:
        results.append(scopes)
    for result in results:
        echo(result.line())
    return all(result.status is not Status.FAIL for result in results)
