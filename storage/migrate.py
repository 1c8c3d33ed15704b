"""Schema migrations (Alembic), run on our async engine.

`upgrade` brings a database to the newest revision; `migration_state` says where a database
stands, so start-up can refuse a database that is behind (PostgreSQL: run `scrumy db upgrade`)
or ahead (made by a newer Scrumy Tasks) of this code, with one line instead of a traceback.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
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


async def upgrade(engine: AsyncEngine, revision: str = "head") -> None:
    """Apply every migration up to `revision` in one transaction per run."""
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
    await upgrade(engine)
    log.info("migrated %s from %s to %s", describe(engine), state.current or "empty", state.head)
    return await migration_state(engine)
