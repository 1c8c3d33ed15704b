"""Schema migrations (Alembic), run on our async engine.

`upgrade` brings a database to the newest revision; `migration_state` says where a database
stands, so start-up can refuse a database that is behind (PostgreSQL: run `scrumy db upgrade`)
or ahead (made by a newer Scrumy Tasks) of this code, with one line instead of a traceback.

Migrating is serialised across processes (`migration_lock`: an advisory lock on PostgreSQL, a
lock file beside the database file on SQLite), and whoever gets the lock looks at the schema
again first: two processes starting together on a fresh database migrate it once, and neither
crashes.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import os
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from storage.engine import describe

log = logging.getLogger(__name__)


class SchemaMismatch(Exception):
    """The database's schema is not the one this code expects; one line for a person."""


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(Path(__file__).parent / "migrations"))
    return config


def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    return head


@dataclass(frozen=True)
class MigrationState:
    current: str | None
    head: str
    known: bool  # False: the database carries a revision this code does not have

    @property
    def is_current(self) -> bool:
        return self.current == self.head

    @property
    def is_empty(self) -> bool:
        return self.current is None


async def migration_state(engine: AsyncEngine) -> MigrationState:
    script = ScriptDirectory.from_config(alembic_config())
    head = head_revision()

    def read(connection: Connection) -> str | None:
        return MigrationContext.configure(connection).get_current_revision()

    async with engine.connect() as connection:
        current = await connection.run_sync(read)
    known = current is None or any(rev.revision == current for rev in script.walk_revisions())
    return MigrationState(current=current, head=head, known=known)


# Any fixed 64-bit number, the same in every process of every version.
_ADVISORY_LOCK_KEY = 0x5C2_0A5C_7A5C


@contextlib.asynccontextmanager
async def migration_lock(engine: AsyncEngine) -> AsyncIterator[None]:
    """Held by one process at a time, per database, while it migrates."""
    if engine.dialect.name == "postgresql":
        async with engine.connect() as connection:
            await connection.execute(text(f"SELECT pg_advisory_lock({_ADVISORY_LOCK_KEY})"))
            await connection.commit()
            try:
                yield
            finally:
                await connection.execute(text(f"SELECT pg_advisory_unlock({_ADVISORY_LOCK_KEY})"))
                await connection.commit()
        return
    database = engine.url.database
    if engine.dialect.name != "sqlite" or not database or database == ":memory:":
        yield  # one process owns an in-memory database
        return
    descriptor = await asyncio.to_thread(_locked, f"{database}.migrate-lock")
    try:
        yield
    finally:
        os.close(descriptor)  # closing releases the lock


def _locked(path: str) -> int:
    """Open (creating, 0600) and exclusively lock `path`; blocks until the lock is ours."""
    descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(descriptor, fcntl.LOCK_EX)
    return descriptor


async def upgrade(engine: AsyncEngine, revision: str = "head") -> None:
    """Apply every migration up to `revision` in one transaction, under `migration_lock`."""
    async with migration_lock(engine):
        await _upgrade(engine, revision)


async def _upgrade(engine: AsyncEngine, revision: str) -> None:
    config = alembic_config()

    def run(connection: Connection) -> None:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)

    async with engine.begin() as connection:
        await connection.run_sync(run)


async def ensure_current(engine: AsyncEngine, *, auto_upgrade: bool) -> MigrationState:
    """Make sure the schema matches this code, upgrading only when `auto_upgrade` allows.

    Raises `SchemaMismatch` when the database is ahead of the code, or behind it and
    `auto_upgrade` is off.
    """
    state = await migration_state(engine)
    if not state.known:
        raise SchemaMismatch(
            f"the database at {describe(engine)} is at migration {state.current}, which this "
            f"version of Scrumy Tasks does not know (newest here: {state.head}); "
            "upgrade Scrumy Tasks instead of downgrading the database"
        )
    if state.is_current:
        return state
    if not auto_upgrade:
        where = "empty" if state.is_empty else f"at migration {state.current}"
        raise SchemaMismatch(
            f"the database at {describe(engine)} is {where}, this code needs {state.head}: "
            "run `scrumy db upgrade`"
        )
    await upgrade_to_head(engine)
    return await migration_state(engine)


async def upgrade_to_head(engine: AsyncEngine) -> str | None:
    """Bring the schema to this code's newest migration under `migration_lock`; the revision
    this process found the database at once it held the lock, so that of two processes
    upgrading at once only the one that did the work says it did (the other finds it done)."""
    async with migration_lock(engine):
        state = await migration_state(engine)  # another process may have done it meanwhile
        if state.is_current:
            return state.current
        await _upgrade(engine, "head")
    log.info("migrated %s from %s to %s", describe(engine), state.current or "empty", state.head)
    return state.current
