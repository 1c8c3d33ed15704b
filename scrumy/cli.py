"""The `scrumy` command line.

Every failure a person can cause (a bad setting, an unreachable database, a schema from a newer
release, a bad key) ends as one line on stderr and a non-zero exit, never a traceback.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Awaitable, Callable, Coroutine
from datetime import timedelta
from importlib.metadata import EntryPoint, entry_points
from typing import Any, TypeVar

import click
from pydantic import AnyHttpUrl

from primitives.clock import SystemClock
from primitives.enums import ProviderName
from routing.dispatch import SendTiming
from routing.worker import WorkerConfig
from scrumy.checks import run_checks
from scrumy.logs import configure_logging, redact
from scrumy.services import running_services
from scrumy.settings import Settings, SettingsError, load_settings
from scrumy.startup import StartupError, Storage, open_storage
from scrumy.web import serve as serve_http
from scrumy.web import worker_notifier
from storage.api_keys import create_api_key, list_api_keys, revoke_api_key
from storage.engine import DatabaseUnavailable, check_connection, create_engine, describe
from storage.migrate import SchemaMismatch, ensure_current, migration_state, upgrade_to_head
from storage.rotation import audit_encryption, rotate_keys
from storage.vault import VaultError, new_key
from storage.webhook_verifications import WebhookVerifications

T = TypeVar("T")

# Errors a person can cause and fix; each carries a one-line message.
PERSON_ERRORS = (SettingsError, StartupError, DatabaseUnavailable, SchemaMismatch, VaultError)

log = logging.getLogger("scrumy.cli")

# Commands that other installed packages add to `scrumy` (`scrumy demo` from `demo/`): each
# entry point of this group names a click command. They are loaded only when asked for, and
# the product never imports them.
PLUGIN_GROUP = "scrumy.commands"


def plugin_commands() -> dict[str, EntryPoint]:
    """The installed plugins' commands, by name."""
    return {point.name: point for point in entry_points(group=PLUGIN_GROUP)}


class ScrumyGroup(click.Group):
    """Turns the errors a person can fix into one line, and any other into one line too; adds
    the commands of the `scrumy.commands` entry points."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *plugin_commands()})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        command = super().get_command(ctx, cmd_name)
        if command is not None:
            return command
        point = plugin_commands().get(cmd_name)
        if point is None:
            return None
        loaded = point.load()
        if not isinstance(loaded, click.Command):
            raise click.ClickException(
                f"{PLUGIN_GROUP} entry point {cmd_name} ({point.value}) is not a click command"
            )
        return loaded

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except PERSON_ERRORS as error:
            raise click.ClickException(redact(str(error))) from None
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except Exception as error:
            log.debug("unexpected error", exc_info=True)
            raise click.ClickException(
                f"unexpected {type(error).__name__}: {redact(str(error))[:300]} "
                "(set LOG_LEVEL=DEBUG to see where)"
            ) from None


def _run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


def _settings() -> Settings:
    settings = load_settings()
    logging.getLogger().setLevel(settings.log_level)
    return settings


async def _with_storage(
    settings: Settings, action: Callable[[Storage], Awaitable[T]], *, migrate: bool = True
) -> T:
    storage = await open_storage(settings, migrate=migrate)
    try:
        return await action(storage)
    finally:
        await storage.close()


@click.group(cls=ScrumyGroup)
@click.version_option(package_name="scrumy-tasks")
def cli() -> None:
    """Scrumy Tasks: meeting action items become ClickUp and Notion tasks for their owners."""
    configure_logging()


# --- db ---------------------------------------------------------------------------------------


@cli.group()
def db() -> None:
    """The database schema."""


@db.command("upgrade")
def db_upgrade() -> None:
    """Apply every pending migration (run before starting a new release on PostgreSQL)."""
    settings = _settings()

    async def run() -> tuple[str | None, str]:
        engine = create_engine(settings.database_url)
        try:
            await check_connection(engine)
            state = await migration_state(engine)
            if not state.known:  # made by a newer release: refused with its one line
                await ensure_current(engine, auto_upgrade=True)
            return await upgrade_to_head(engine), state.head
        finally:
            await engine.dispose()

    before, head = _run(run())
    if before == head:
        click.echo(f"{settings.database_display}: already at migration {head}")
    else:
        click.echo(f"{settings.database_display}: upgraded from {before or 'empty'} to {head}")


@db.command("current")
def db_current() -> None:
    """Show the database's migration and the newest one this code has."""
    settings = _settings()

    async def run() -> str:
        engine = create_engine(settings.database_url)
        try:
            await check_connection(engine)
            state = await migration_state(engine)
        finally:
            await engine.dispose()
        status = "current" if state.is_current else "behind" if state.known else "ahead"
        return (
            f"{describe(engine)}: at {state.current or 'nothing'}, newest {state.head} ({status})"
        )

    click.echo(_run(run()))


# --- keys -------------------------------------------------------------------------------------


@cli.group()
def keys() -> None:
    """Encryption keys for stored tokens."""


@keys.command("new")
def keys_new() -> None:
    """Print a fresh encryption key (put it first in SCRUMY_ENCRYPTION_KEYS)."""
    click.echo(new_key())


@keys.command("rotate")
@click.option("--batch-size", default=200, show_default=True, type=click.IntRange(1, 10_000))
def keys_rotate(batch_size: int) -> None:
    """Re-encrypt every stored token with the newest key; safe while the app runs.

    Roll the new key out first (SCRUMY_ENCRYPTION_KEYS=new,old on every process), run this,
    then drop the old key.
    """
    settings = _settings()

    async def run(storage: Storage) -> None:
        report = await rotate_keys(storage.sessions, storage.vault, batch_size=batch_size)
        audit = await audit_encryption(storage.sessions, storage.vault)
        tables = ", ".join(f"{name} {count}" for name, count in report.by_table.items())
        click.echo(
            f"re-encrypted {report.rotated} value(s) ({tables}); "
            f"{report.already_current} already on the newest key"
        )
        if audit.stale or audit.unreadable:
            raise click.ClickException(
                f"{audit.stale} value(s) are still on an older key and {audit.unreadable} cannot "
                "be read; make sure every process runs with the new key first, then run again"
            )
        click.echo(f"all {audit.total} stored value(s) are on the newest key")

    _run(_with_storage(settings, run))


# --- api keys ---------------------------------------------------------------------------------


@cli.group("api-key")
def api_key() -> None:
    """Keys the AI service uses on the HTTP API (one team each)."""


@api_key.command("create")
@click.option("--team", "team_id", required=True, help="Slack team (workspace) id, e.g. T0123.")
@click.option("--name", default="api key", show_default=True, help="What the key is for.")
def api_key_create(team_id: str, name: str) -> None:
    """Create a key and print it once; only its hash is stored."""
    settings = _settings()
    clock = SystemClock()

    async def run(storage: Storage) -> None:
        async with storage.sessions() as session, session.begin():
            issued = await create_api_key(session, team_id=team_id, name=name, now=clock.now())
        click.echo(issued.secret)
        click.echo(
            f"created {issued.id} for team {team_id} ({name}); this is the only time the key "
            "is shown",
            err=True,
        )

    _run(_with_storage(settings, run))


@api_key.command("list")
@click.option("--team", "team_id", default=None, help="Only this team's keys.")
def api_key_list(team_id: str | None) -> None:
    """List keys (never their secrets)."""
    settings = _settings()

    async def run(storage: Storage) -> None:
        async with storage.sessions() as session:
            rows = await list_api_keys(session, team_id=team_id)
        if not rows:
            click.echo("no API keys")
        for row in rows:
            status = f"revoked {row.revoked_at:%Y-%m-%d}" if row.revoked_at else "active"
            used = f"last used {row.last_used_at:%Y-%m-%d %H:%M}" if row.last_used_at else "unused"
            click.echo(
                f"{row.id}  team {row.team_id}  {row.prefix}…  {row.name}  "
                f"created {row.created_at:%Y-%m-%d}  {used}  {status}"
            )

    _run(_with_storage(settings, run))


@api_key.command("revoke")
@click.argument("key_id")
def api_key_revoke(key_id: str) -> None:
    """Revoke a key by its id (from `scrumy api-key list`); it stops working at once."""
    settings = _settings()
    clock = SystemClock()

    async def run(storage: Storage) -> bool:
        async with storage.sessions() as session, session.begin():
            return await revoke_api_key(session, key_id, now=clock.now())

    if not _run(_with_storage(settings, run)):
        raise click.ClickException(f"no active API key with id {key_id}")
    click.echo(f"revoked {key_id}")


# --- worker ---------------------------------------------------------------------------------


@cli.command("notion-webhook-token")
def notion_webhook_token() -> None:
    """Print the verification token Notion last sent to /webhooks/notion (for Notion's Verify
    dialog and NOTION_WEBHOOK_VERIFICATION_TOKEN)."""
    settings = _settings()
    clock = SystemClock()

    async def run(storage: Storage) -> None:
        newest = await WebhookVerifications(storage.sessions, storage.vault, clock).newest(
            ProviderName.NOTION
        )
        if newest is None:
            raise click.ClickException(
                "Notion has sent no verification token yet: create the webhook subscription in "
                f"the integration's Webhooks tab with the URL {settings.base_url}/webhooks/notion"
            )
        token, received_at = newest
        click.echo(token)
        click.echo(f"received {received_at:%Y-%m-%d %H:%M} UTC", err=True)

    _run(_with_storage(settings, run))


@cli.command("worker")
@click.option("--concurrency", default=8, show_default=True, type=click.IntRange(1, 256))
@click.option("--lease-seconds", default=60.0, show_default=True, type=click.FloatRange(1))
@click.option("--poll-seconds", default=5.0, show_default=True, type=click.FloatRange(0.05))
@click.option("--base-backoff", default=2.0, show_default=True, type=click.FloatRange(0.01))
@click.option(
    "--batch-size",
    default=20,
    show_default=True,
    type=click.IntRange(1, 1000),
    help="Tasks claimed at once; their leases are renewed until each is done.",
)
@click.option(
    "--send-timeout",
    default=20.0,
    show_default=True,
    type=click.FloatRange(0.1),
    help="Seconds a create request may take before it is abandoned.",
)
@click.option(
    "--landing-margin",
    default=5.0,
    show_default=True,
    type=click.FloatRange(0),
    help="Seconds after that before a task it created is sure to be listed.",
)
def worker(
    concurrency: int,
    lease_seconds: float,
    poll_seconds: float,
    base_backoff: float,
    batch_size: int,
    send_timeout: float,
    landing_margin: float,
) -> None:
    """Run the dispatch worker alone (beside `scrumy serve --no-worker`) until stopped."""
    settings = _settings()

    async def run() -> None:
        async with running_services(settings) as services:
            config = WorkerConfig(
                concurrency=concurrency, lease=timedelta(seconds=lease_seconds),
                poll_seconds=poll_seconds, base_backoff=base_backoff, batch_size=batch_size,
                send=SendTiming(timeout=send_timeout, margin=landing_margin),
            )  # fmt: skip
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            for signum in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(signum, stop.set)
            notifier = await worker_notifier(settings, services)
            log.info("worker started on %s", settings.database_display)
            # Connect flushes a process did not live to finish (routing.flush) are run here.
            sweeping = asyncio.create_task(services.connect_flush().keep_sweeping(stop))
            # So are the reminders of reviews left alone (routing.review).
            reminding = asyncio.create_task(services.reviews().keep_reminding(stop))
            # Tasks' statuses at the tools: the poll, and Notion events left unprocessed.
            following = asyncio.create_task(services.follow_statuses(stop))
            try:
                await services.worker(config).run(services.signal, stop)
            finally:
                stop.set()
                await sweeping
                await reminding
                await following
                if notifier is not None:
                    await notifier.aclose()
            log.info("worker stopped")

    _run(run())


# --- serve ------------------------------------------------------------------------------------


def _local_address(settings: Settings, host: str, port: int | None) -> Settings:
    """Without APP_BASE_URL, links and redirect URIs point at this server itself."""
    if "app_base_url" in settings.model_fields_set:
        return settings
    shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host  # noqa: S104
    port = port or settings.port or 8000
    return settings.model_copy(update={"app_base_url": AnyHttpUrl(f"http://{shown}:{port}")})


def _serving(command: Callable[..., None]) -> Callable[..., None]:
    """The options `serve` and `socket` share."""
    for option in reversed(
        (
            click.option("--host", default="127.0.0.1", show_default=True,
                         help="Interface to listen on."),
            click.option("--port", type=click.IntRange(1, 65535),
                         help="Port (default: PORT, else 8000)."),
            click.option("--no-worker", is_flag=True,
                         help="Run no dispatch worker (see `scrumy worker`)."),
        )
    ):  # fmt: skip
        command = option(command)
    return command


def _serve(host: str, port: int | None, no_worker: bool, *, socket_mode: bool) -> None:
    settings = _local_address(_settings(), host, port)

    async def run() -> None:
        async with running_services(settings) as services:
            await serve_http(
                settings, services, host=host, port=port or settings.port or 8000,
                worker_config=None if no_worker else WorkerConfig(), socket_mode=socket_mode,
            )  # fmt: skip

    _run(run())


@cli.command("serve")
@_serving
def serve(host: str, port: int | None, no_worker: bool) -> None:
    """Serve the connect pages, the task API, health and metrics, with the worker."""
    _serve(host, port, no_worker, socket_mode=False)


@cli.command("socket")
@_serving
def socket(host: str, port: int | None, no_worker: bool) -> None:
    """Reach Slack over Socket Mode (SLACK_APP_TOKEN); serve the connect pages and the API."""
    _serve(host, port, no_worker, socket_mode=True)


# --- check ------------------------------------------------------------------------------------


@cli.command("check")
def check() -> None:
    """Validate the settings and reach the database; say what is OK and what is not."""
    ok = _run(run_checks(click.echo))
    if not ok:
        raise SystemExit(1)


def main() -> None:
    """Entry point of the `scrumy` console script."""
    cli(prog_name="scrumy")
