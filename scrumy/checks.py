"""`scrumy check`: what is configured, what is reachable, and what is not."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from scrumy.settings import Settings, SettingsError, load_settings
from scrumy.startup import StartupError, build_vault
from storage.engine import DatabaseUnavailable, check_connection, create_engine, session_factory
from storage.migrate import SchemaMismatch, ensure_current
from storage.rotation import audit_encryption
from storage.vault import VaultError


class Status(StrEnum):
    OK = "ok"
    OFF = "off"  # not configured; fine unless you need it
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
    return results


async def run_checks(echo: Callable[[str], None]) -> bool:
    """Print one line per check; True when nothing failed."""
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
    except (DatabaseUnavailable, SchemaMismatch) as error:
        name = "database" if isinstance(error, DatabaseUnavailable) else "migrations"
        results.append(CheckResult(name, Status.FAIL, str(error)))
    finally:
        await engine.dispose()

    results.extend(_integration_checks(settings))
    for result in results:
        echo(result.line())
    return all(result.status is not Status.FAIL for result in results)
