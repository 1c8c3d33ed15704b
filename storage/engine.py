"""Building the database engine, once, at start-up.

Every database call has a deadline, so a database that stops answering (a partition, a hung
server) turns into an error a caller can report and recover from, never a silent freeze:
PostgreSQL gets a connect timeout, a per-statement timeout on the client (asyncpg's
`command_timeout`) and on the server (`statement_timeout`), and a pool checkout timeout;
SQLite waits at most `busy_timeout` for its single writer.
"""

from __future__ import annotations

import asyncio
import os
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


# Seconds. A statement of ours takes milliseconds; these only bound a database that stopped.
CONNECT_TIMEOUT = 10.0
STATEMENT_TIMEOUT = 30.0
POOL_TIMEOUT = 15.0


def create_engine(
    url: str | URL, *, pool_size: int = 10, statement_timeout: float = STATEMENT_TIMEOUT
) -> AsyncEngine:
    """An async engine for SQLite (aiosqlite) or PostgreSQL (asyncpg), with deadlines.

    SQL parameters (task text, e-mail addresses) are never written into a log line or an
    error message (`hide_parameters`); a SQLite file we create is readable by its owner only
    (0600, like the local key file), and so are its WAL and shared-memory files, which SQLite
    creates with the database file's mode.
    """
    url = make_url(url)
    if url.get_backend_name() == "sqlite":
        _create_private_file(url.database)
        engine = create_async_engine(
            url, connect_args={"timeout": statement_timeout}, hide_parameters=True
        )
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    connect_args = {
        "timeout": CONNECT_TIMEOUT,
        "command_timeout": statement_timeout,
        "server_settings": {"statement_timeout": str(int(statement_timeout * 1000))},
    }
    return create_async_engine(
        url, pool_size=pool_size, pool_pre_ping=True, pool_timeout=POOL_TIMEOUT,
        connect_args=connect_args, hide_parameters=True,
    )  # fmt: skip


def unreachable(error: BaseException) -> bool:
    """Whether `error` says the database cannot be reached or did not answer in time (as
    opposed to a bug in a statement of ours)."""
    if isinstance(error, (OSError, TimeoutError, DatabaseUnavailable)):
        return True
    if isinstance(error, DBAPIError):
        if error.connection_invalidated:
            return True
        error = error.orig if error.orig is not None else error
        if isinstance(error, (OSError, TimeoutError)):
            return True
    if isinstance(error, SQLAlchemyError) and "timeout" in type(error).__name__.lower():
        return True
    module = type(error).__module__
    return module.startswith("asyncpg") and any(
        word in type(error).__name__ for word in ("Connection", "Timeout", "Cannot")
    )


def reason(error: BaseException) -> str:
    """One line saying what went wrong with the database, for the log."""
    return _reason(error)


def _create_private_file(database: str | None) -> None:
    """Create the SQLite file (empty: a valid empty database) with mode 0600 unless it exists."""
    if not database or database == ":memory:" or database.startswith("file:"):
        return
    try:
        fd = os.open(database, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return
    except OSError:
        return  # a missing folder: connecting says so, in its own words
    os.close(fd)


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
    """Open a connection and run `SELECT 1` within `CONNECT_TIMEOUT`; raise
    `DatabaseUnavailable` with one clear line."""
    try:
        async with asyncio.timeout(CONNECT_TIMEOUT), engine.connect() as connection:
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
