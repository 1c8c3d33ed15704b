"""Building the database engine, once, at start-up."""

from __future__ import annotations

from typing import Any

from sqlalchemy import event, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)


class DatabaseUnavailable(Exception):
    """The database cannot be reached or used; `str(error)` is one line for a person."""


def create_engine(url: str | URL, *, pool_size: int = 10) -> AsyncEngine:
    """An async engine for SQLite (aiosqlite) or PostgreSQL (asyncpg)."""
    url = make_url(url)
    if url.get_backend_name() == "sqlite":
        engine = create_async_engine(url, connect_args={"timeout": 30})
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    return create_async_engine(url, pool_size=pool_size, pool_pre_ping=True)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets readers run beside the single writer; foreign keys are off by default in SQLite.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


def describe(engine: AsyncEngine) -> str:
    """The engine's URL with the password hidden."""
    return engine.url.render_as_string(hide_password=True)


async def check_connection(engine: AsyncEngine) -> None:
    """Open a connection and run `SELECT 1`; raise `DatabaseUnavailable` with one clear line."""
    try:
        async with engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
    except (OSError, SQLAlchemyError, TimeoutError) as error:
        raise DatabaseUnavailable(
            f"cannot reach the database at {describe(engine)}: {_reason(error)}"
        ) from None
    except Exception as error:  # asyncpg raises its own tree, not wrapped on connect
        if type(error).__module__.startswith("asyncpg"):
            raise DatabaseUnavailable(
                f"cannot reach the database at {describe(engine)}: {_reason(error)}"
            ) from None
        raise


def _reason(error: BaseException) -> str:
    if isinstance(error, DBAPIError) and error.orig is not None:
        error = error.orig
    text_ = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    return text_[:200]
