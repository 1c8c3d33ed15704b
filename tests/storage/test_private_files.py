"""The default SQLite database holds tokens (encrypted) and people's tasks and e-mail
addresses: its files are the owner's only, like the local key file beside it."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from sqlalchemy import text

from scrumy.settings import load_settings
from scrumy.startup import open_storage
from storage.engine import create_engine
from storage.vault import LOCAL_KEY_FILE


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


async def test_the_default_sqlite_file_is_created_0600_like_the_key() -> None:
    old = os.umask(0o022)  # a usual umask, which would leave a new file world-readable
    try:
        storage = await open_storage(load_settings(None))  # ./scrumy.db, the default
        try:
            async with storage.sessions() as session, session.begin():
                await session.execute(text("SELECT count(*) FROM tasks"))
        finally:
            await storage.close()
    finally:
        os.umask(old)
    database = Path("scrumy.db")
    assert _mode(database) == 0o600
    assert _mode(Path(LOCAL_KEY_FILE)) == 0o600
    for companion in (Path("scrumy.db-wal"), Path("scrumy.db-shm")):
        if companion.exists():  # SQLite gives them the database file's mode
            assert _mode(companion) & 0o077 == 0


async def test_an_existing_file_is_left_as_it_is(tmp_path: Path) -> None:
    path = tmp_path / "kept.db"
    path.touch(mode=0o640)
    engine = create_engine(f"sqlite+aiosqlite:///{path}")
    await engine.dispose()
    assert _mode(path) == 0o640  # the operator's choice; we only create new files private
