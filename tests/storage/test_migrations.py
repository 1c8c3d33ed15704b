"""Migrations create exactly what the models describe, and start-up reads where a database is."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from storage.engine import create_engine
from storage.migrate import SchemaMismatch, ensure_current, head_revision, migration_state, upgrade
from storage.models import Base


async def test_models_and_migrations_agree(engine: AsyncEngine) -> None:
    def diff(connection: Connection) -> list[object]:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return list(compare_metadata(context, Base.metadata))

    async with engine.connect() as connection:
        assert await connection.run_sync(diff) == []


async def test_an_empty_database_is_upgraded_to_head(empty_database_url: str) -> None:
    engine = create_engine(empty_database_url)
    try:
        state = await migration_state(engine)
        assert state.is_empty and state.known and not state.is_current
        await upgrade(engine)
        state = await migration_state(engine)
        assert state.is_current and state.current == head_revision()
        await upgrade(engine)  # a second run changes nothing
        assert (await migration_state(engine)).is_current
    finally:
        await engine.dispose()


async def test_a_database_behind_is_refused_without_auto_upgrade(empty_database_url: str) -> None:
    engine = create_engine(empty_database_url)
    try:
        with pytest.raises(SchemaMismatch, match=r"run `scrumy db upgrade`"):
            await ensure_current(engine, auto_upgrade=False)
        state = await ensure_current(engine, auto_upgrade=True)
        assert state.is_current
    finally:
        await engine.dispose()


async def test_a_database_from_a_newer_release_is_refused_and_left_alone(
    engine: AsyncEngine,
) -> None:
    async with engine.begin() as connection:
        await connection.execute(text("UPDATE alembic_version SET version_num = '9999_future'"))
        await connection.execute(
            text(
                "INSERT INTO meetings (id, team_id, external_id, title, created_at, updated_at) "
                "VALUES ('m1', 'T1', 'x', 'kept', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
            )
        )
    for auto_upgrade in (False, True):
        with pytest.raises(SchemaMismatch, match="9999_future") as raised:
            await ensure_current(engine, auto_upgrade=auto_upgrade)
        assert "\n" not in str(raised.value)
    async with engine.connect() as connection:
        version = await connection.scalar(text("SELECT version_num FROM alembic_version"))
        titles = (await connection.execute(text("SELECT title FROM meetings"))).scalars().all()
    assert version == "9999_future"
    assert titles == ["kept"]


MIGRATE_AT_START = """
import asyncio, sys
from storage.engine import create_engine
from storage.migrate import ensure_current

async def main() -> None:
    engine = create_engine(sys.argv[1])
    try:
        await ensure_current(engine, auto_upgrade=True)
    finally:
        await engine.dispose()

asyncio.run(main())
"""


async def test_processes_starting_together_on_a_fresh_database_migrate_it_once(
    empty_database_url: str, tmp_path: Path
) -> None:
    """Each round: three processes start at once on an empty database; none may crash."""
    root = Path(__file__).parents[2]
    for round_ in range(2):
        url = empty_database_url
        if url.startswith("sqlite"):
            url = f"sqlite+aiosqlite:///{tmp_path / f'fresh-{round_}.db'}"
        elif round_:
            break  # one fresh PostgreSQL database is what the fixture gives
        processes = [
            await asyncio.create_subprocess_exec(
                sys.executable,
                "-c",
                MIGRATE_AT_START,
                url,
                cwd=root,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
            )
            for _ in range(3)
        ]
        for process in processes:
            _, err = await process.communicate()
            assert process.returncode == 0, err.decode(errors="replace")[-2000:]
        engine = create_engine(url)
        try:
            assert (await migration_state(engine)).is_current
        finally:
            await engine.dispose()
