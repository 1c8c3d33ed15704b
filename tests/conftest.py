"""Shared fixtures: a clean environment per test, the clock, databases and the emulators."""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import shutil
import sqlite3
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from providers.clickup import ClickUpProvider, clickup_limiter
from providers.notion import NotionProvider, notion_limiter
from sandbox.clickup import ClickUpSandbox, create_clickup_emulator
from sandbox.notion import NotionSandbox, create_notion_emulator
from sandbox.server import serve_app
from sandbox.slack import SlackSandbox, create_slack_emulator
from storage.engine import create_engine, session_factory
from storage.migrate import head_revision, upgrade
from storage.models import Base
from tests.emulators import (
    CLICKUP_CLIENT_ID,
    CLICKUP_CLIENT_SECRET,
    CLICKUP_URL,
    NOTION_CLIENT_ID,
    NOTION_CLIENT_SECRET,
    NOTION_URL,
    SLACK_URL,
    demo_clickup,
    demo_notion,
    demo_slack,
    in_process_client,
)
from tests.fakes import FakeClock

pytest_plugins = ("tests.browsers",)

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
    "SLACK_AUTH_URL",
    "METRICS_TOKEN",
    "CLICKUP_API_URL",
    "CLICKUP_AUTH_URL",
    "NOTION_API_URL",
    "LOG_LEVEL",
)


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in SETTINGS_ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


# --- databases ------------------------------------------------------------------------------
# Every storage test runs twice: on a fresh SQLite file and on PostgreSQL. SQLite is migrated
# once per run into a template file that each test gets a copy of. PostgreSQL gets one database
# per test run (scrumy_test_<random>), migrated once and emptied after each test, so two runs
# on one server never see each other's rows.

DEFAULT_TEST_DATABASE_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
BACKENDS = ("sqlite", "postgresql")


def _postgres_base_url() -> URL:
    return make_url(os.environ.get("TEST_DATABASE_URL") or DEFAULT_TEST_DATABASE_URL)


async def _admin(statement: str) -> None:
    engine = create_async_engine(_postgres_base_url(), isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as connection:
            await connection.execute(text(statement))
    finally:
        await engine.dispose()


def _unavailable(reason: str) -> None:
    message = f"PostgreSQL at {_postgres_base_url().render_as_string()} is unreachable: {reason}"
    if os.environ.get("CI"):
        pytest.fail(message + " (CI is set: PostgreSQL is required)", pytrace=False)
    pytest.skip(message)


class PostgresDatabases:
    """Creates throw-away databases on the test server and drops them at the end of the run."""

    def __init__(self) -> None:
        self.run_id = secrets.token_hex(4)
        self.created: list[str] = []
        self.failure: str | None = None

    def create(self, label: str) -> str:
        if self.failure:
            _unavailable(self.failure)
        name = f"scrumy_test_{self.run_id}_{label}_{len(self.created)}"
        try:
            asyncio.run(_admin(f'CREATE DATABASE "{name}"'))
        except (OSError, SQLAlchemyError) as error:
            self.failure = str(error).splitlines()[0]
            _unavailable(self.failure)
        self.created.append(name)
        return _postgres_base_url().set(database=name).render_as_string(hide_password=False)

    def drop_all(self) -> None:
        for name in self.created:
            with contextlib.suppress(OSError, SQLAlchemyError):
                asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(scope="session")
def postgres_databases() -> Iterator[PostgresDatabases]:
    databases = PostgresDatabases()
    yield databases
    databases.drop_all()


@pytest.fixture(scope="session")
def migrated_postgres_url(postgres_databases: PostgresDatabases) -> str:
    url = postgres_databases.create("main")

    async def migrate() -> None:
        engine = create_engine(url)
        try:
            await upgrade(engine)
        finally:
            await engine.dispose()

    asyncio.run(migrate())
    return url


@pytest.fixture(scope="session")
def migrated_sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file at head, made once per run; tests get copies (`shutil.copyfile`)."""
    path = tmp_path_factory.mktemp("sqlite-template") / "scrumy.db"

    async def migrate() -> None:
        engine = create_engine(f"sqlite+aiosqlite:///{path}")
        try:
            await upgrade(engine)
        finally:
            await engine.dispose()

    asyncio.run(migrate())
    # Fold the write-ahead log into the file, so the file alone is the whole database; every
    # connection of the app turns WAL on again.
    with contextlib.closing(sqlite3.connect(path)) as connection:
        connection.execute("PRAGMA journal_mode=DELETE")
    return path


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def empty_database_url(backend: str, tmp_path: Path, postgres_databases: PostgresDatabases) -> str:
    """A database with nothing in it, not even migrations."""
    if backend == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}"
    return postgres_databases.create("empty")


@pytest.fixture
def database_target(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    # Sync on purpose: creating either template runs its own event loop.
    if backend == "sqlite":
        copy = tmp_path / "scrumy.db"
        shutil.copyfile(request.getfixturevalue("migrated_sqlite_template"), copy)
        return f"sqlite+aiosqlite:///{copy}"
    return str(request.getfixturevalue("migrated_postgres_url"))


@pytest.fixture
async def database_url(backend: str, database_target: str) -> AsyncIterator[str]:
    """A migrated database with no rows in it."""
    if backend == "sqlite":
        yield database_target  # a copy of the template: nothing to empty afterwards
        return
    engine = create_engine(database_target)
    try:
        yield database_target
        async with engine.begin() as connection:
            tables = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
            await connection.execute(text(f"TRUNCATE {tables} CASCADE"))
            # A test may have moved the schema version; the next one needs it at head.
            await connection.execute(
                text("UPDATE alembic_version SET version_num = :head"),
                {"head": head_revision()},
            )
    finally:
        await engine.dispose()


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(database_url)
    yield engine
    await engine.dispose()


@pytest.fixture
def sessions(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return session_factory(engine)


def pytest_report_header(config: pytest.Config) -> str:
    url = _postgres_base_url().render_as_string(hide_password=True)
    return f"storage tests run on: sqlite (temp files) and postgresql ({url}, a database per run)"


def _backend_of(nodeid: str) -> str | None:
    if "[" not in nodeid:
        return None
    ids = nodeid.rsplit("[", 1)[1].rstrip("]").split("-")
    return next((backend for backend in BACKENDS if backend in ids), None)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Say how many storage tests ran on each database, so a skipped backend cannot hide."""
    counts: dict[str, dict[str, int]] = {backend: {} for backend in BACKENDS}
    for outcome in ("passed", "failed", "skipped", "error"):
        for report in terminalreporter.stats.get(outcome, []):
            backend = _backend_of(getattr(report, "nodeid", ""))
            if backend is not None and getattr(report, "when", "call") in ("call", "setup"):
                if outcome == "passed" and report.when != "call":
                    continue
                counts[backend][outcome] = counts[backend].get(outcome, 0) + 1
    parts = []
    for backend, by_outcome in counts.items():
        summary = ", ".join(f"{n} {outcome}" for outcome, n in sorted(by_outcome.items()))
        parts.append(f"{backend}: {summary or 'none ran'}")
    terminalreporter.write_line("storage tests by database — " + "; ".join(parts))


# --- the emulators, in process ---------------------------------------------------------------
# Each test gets fresh worlds and one client (`http`) that reaches them all in process; a test
# module changes a world by overriding its fixture (e.g. `notion_world` with a bigger burst).


@pytest.fixture
def clickup_world() -> ClickUpSandbox:
    return demo_clickup()


@pytest.fixture
def notion_world() -> NotionSandbox:
    return demo_notion()


@pytest.fixture
def slack_world() -> SlackSandbox:
    return demo_slack()


@pytest.fixture
async def http(
    clickup_world: ClickUpSandbox,
    notion_world: NotionSandbox,
    slack_world: SlackSandbox,
    clock: FakeClock,
) -> AsyncIterator[httpx.AsyncClient]:
    """ClickUp at CLICKUP_URL, Notion at NOTION_URL, Slack at SLACK_URL, all on `clock`."""
    async with in_process_client(
        {
            CLICKUP_URL: create_clickup_emulator(clickup_world, clock=clock),
            NOTION_URL: create_notion_emulator(notion_world, clock=clock),
            SLACK_URL: create_slack_emulator(slack_world, clock=clock),
        }
    ) as client:
        yield client


@pytest.fixture
async def slack_served(slack_world: SlackSandbox, clock: FakeClock) -> AsyncIterator[str]:
    """The Slack emulator (`slack_world`, on `clock`) served by uvicorn on 127.0.0.1: its base
    URL. The Slack Web API is called through slack_sdk's aiohttp client, which cannot reach
    `http`'s in-process transport; `http` reaches this URL too, over the socket."""
    async with serve_app(create_slack_emulator(slack_world, clock=clock)) as url:
        yield url


@pytest.fixture
def clickup(http: httpx.AsyncClient, clock: FakeClock) -> ClickUpProvider:
    return ClickUpProvider(
        http,
        api_url=f"{CLICKUP_URL}/api",
        auth_url=f"{CLICKUP_URL}/api",
        client_id=CLICKUP_CLIENT_ID,
        client_secret=CLICKUP_CLIENT_SECRET,
        limiter=clickup_limiter(clock),
        clock=clock,
    )


@pytest.fixture
def notion(http: httpx.AsyncClient, clock: FakeClock) -> NotionProvider:
    return NotionProvider(
        http,
        api_url=NOTION_URL,
        client_id=NOTION_CLIENT_ID,
        client_secret=NOTION_CLIENT_SECRET,
        limiter=notion_limiter(clock),
        clock=clock,
    )
