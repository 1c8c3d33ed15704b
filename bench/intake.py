"""How long storing one meeting takes, in process (no HTTP): `IntegrationUtility.process_meeting`.

A fresh SQLite file, 200 people, meetings of 10 items each owned by a different person, nobody
connected (every task waits in `pending_auth`, the common case right after a meeting). Prints
the mean time per meeting over MEETINGS meetings, after one warm-up meeting.
Run: `make bench` (or `.venv/bin/python bench/intake.py`).
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from collections.abc import Collection

from results import Figure, record

from primitives.clock import SystemClock
from routing.catalogs import CatalogCache
from routing.notify import LogNotifier
from routing.owners import Lookups, Membership
from routing.utility import IntegrationUtility
from storage.engine import create_engine, session_factory
from storage.migrate import upgrade
from storage.vault import TokenVault, new_key

PEOPLE = 200
ITEMS = 10
MEETINGS = 200


class Workspace:
    """Everyone is a member; person N has the address personN@bench.example."""

    async def serves(self, team_id: str) -> bool:
        return True

    async def look_up(
        self, team_id: str, *, user_ids: Collection[str] = (), emails: Collection[str] = ()
    ) -> Lookups:
        by_id = {u: Membership(u) for u in user_ids}
        by_email = {e.casefold(): Membership(await self.user_by_email(team_id, e)) for e in emails}
        return Lookups(by_id=by_id, by_email=by_email)

    async def is_member(self, team_id: str, user_id: str) -> bool:
        return True

    async def user_by_email(self, team_id: str, email: str) -> str | None:
        return f"U{int(email.removeprefix('person').split('@')[0]):05d}"

    async def time_zone(self, team_id: str, user_id: str) -> str | None:
        return "America/New_York"


async def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        engine = create_engine(f"sqlite+aiosqlite:///{folder}/intake.db")
        await upgrade(engine)
        sessions = session_factory(engine)
        clock = SystemClock()
        utility = IntegrationUtility(
            sessions=sessions, vault=TokenVault([new_key()]), clock=clock, providers={},
            catalogs=CatalogCache(sessions, clock), directory=Workspace(), notifier=LogNotifier(),
        )  # fmt: skip

        async def meeting(n: int) -> None:
            items = [
                {"id": f"i{i}", "title": f"Item {i}",
                 "assignee": {"email": f"person{(n + i) % PEOPLE}@bench.example"}}
                for i in range(ITEMS)
            ]  # fmt: skip
            await utility.process_meeting(
                {"meeting_id": f"m{n}", "title": "Stand-up", "team_id": "T0BENCH",
                 "channel_id": "C0BENCH", "owner": {"slack_user_id": "U00000"},
                 "action_items": items}
            )  # fmt: skip

        await meeting(-1)
        started = time.perf_counter()
        for n in range(MEETINGS):
            await meeting(n)
        elapsed = time.perf_counter() - started
        await engine.dispose()
    per_meeting = elapsed / MEETINGS * 1000
    rate = MEETINGS * ITEMS / elapsed
    print(
        f"process_meeting, {ITEMS} items, SQLite, in process: "
        f"{per_meeting:.1f} ms a meeting ({rate:.0f} items/s)"
    )
    record(
        "intake", title="Storing a meeting, in process",
        measured=f"`IntegrationUtility.process_meeting`, {MEETINGS} meetings of {ITEMS} items, "
        "SQLite file, nobody connected",
        figures=[Figure("time to store a meeting of 10 items", f"{per_meeting:.1f} ms "
                        f"({rate:,.0f} items/s)")],
        seconds=elapsed,
    )  # fmt: skip


if __name__ == "__main__":
    asyncio.run(main())
