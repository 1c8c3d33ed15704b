"""Building what every command needs from the settings, once, at start-up."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from scrumy.settings import Settings
from storage.engine import check_connection, create_engine, session_factory
from storage.migrate import MigrationState, ensure_current, migration_state
from storage.vault import TokenVault, VaultError, load_or_create_local_key


class StartupError(Exception):
    """Start-up cannot go on; `str(error)` is one line for the person starting us."""


def build_vault(settings: Settings) -> TokenVault:
    """The vault over SCRUMY_ENCRYPTION_KEYS; a local key file only for the default SQLite."""
    keys = [key.get_secret_value() for key in settings.scrumy_encryption_keys]
    if not keys:
        if not settings.uses_default_database:
            raise StartupError(
                "SCRUMY_ENCRYPTION_KEYS: not set; it is required for any database other than "
                "the default SQLite file (make a key with `scrumy keys new`)"
            )
        keys = [load_or_create_local_key()]
    return TokenVault(keys)


@dataclass
class Storage:
    """The database engine, its session factory and the token vault."""

    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    vault: TokenVault
    migrations: MigrationState

    async def close(self) -> None:
        await self.engine.dispose()


async def open_storage(settings: Settings, *, migrate: bool = True) -> Storage:
    """Open the database and check it is usable by this code.

    SQLite (one process, embedded) is migrated automatically; PostgreSQL is served by several
    processes, so start-up only says "run `scrumy db upgrade`" when it is behind. `migrate=False`
    skips the schema check (used by `scrumy db upgrade` itself).
    """
    try:
        vault = build_vault(settings)
    except VaultError as error:
        raise StartupError(str(error)) from None
    engine = create_engine(
        settings.database_url, statement_timeout=settings.database_timeout_seconds
    )
    try:
        await check_connection(engine)
        if migrate:
            state = await ensure_current(engine, auto_upgrade=settings.is_sqlite)
        else:
            state = await migration_state(engine)
    except BaseException:
        await engine.dispose()
        raise
    return Storage(engine=engine, sessions=session_factory(engine), vault=vault, migrations=state)
