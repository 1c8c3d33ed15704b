"""The throwaway databases the benches run on: a PostgreSQL database of their own, or a SQLite
file in a folder they own, dropped or deleted with it.

    postgres_database()                      an empty PostgreSQL database, dropped afterwards
    migrated_database(backend, folder, ...)  either kind, at the newest migration

`BENCH_POSTGRES_URL` names the server (default: the test database of this machine).
"""

from __future__ import annotations

import os
import secrets
from collections.abc import AsyncIterator, Sequence
from contextlib import AsyncExitStack, asynccontextmanager

from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from storage.engine import create_engine
from storage.migrate import upgrade

POSTGRES = os.environ.get("BENCH_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test")


@asynccontextmanager
async def postgres_database(prefix: str = "scrumy_bench") -> AsyncIterator[str]:
    """An empty database of its own on the PostgreSQL server; dropped afterwards (forcibly:
    a killed worker may still hold a connection)."""
    name = f"{prefix}_{secrets.token_hex(4)}"
    admin = create_async_engine(POSTGRES, isolation_level="AUTOCOMMIT")
    try:
        async with admin.connect() as connection:
            await connection.execute(text(f'CREATE DATABASE "{name}"'))
        try:
            yield make_url(POSTGRES).set(database=name).render_as_string(hide_password=False)
        finally:
            async with admin.connect() as connection:
                await connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        await admin.dispose()


@asynccontextmanager
async def migrated_database(
    backend: str, folder: str, *, name: str = "bench", after: Sequence[str] = ()
) -> AsyncIterator[str]:
    """A database at head: `{folder}/{name}.db` for "sqlite", else `postgres_database()`;
    `after` are statements run once it is migrated (a bench's own triggers)."""
    async with AsyncExitStack() as stack:
        if backend == "sqlite":
            url = f"sqlite+aiosqlite:///{folder}/{name}.db"
        else:
            url = await stack.enter_async_context(postgres_database())
        engine = create_engine(url)
        try:
            await upgrade(engine)
            if after:
                async with engine.begin() as connection:
                    for statement in after:
                        await connection.execute(text(statement))
        finally:
            await engine.dispose()
        yield url
