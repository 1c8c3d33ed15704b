"""The database itself forbids duplicates, on SQLite and PostgreSQL alike."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError, StatementError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from primitives.enums import Priority, ProviderName, RoutingMode, TaskState
from primitives.ids import new_id
from storage.models import Meeting, ProviderCatalog, Task, UserAuthToken

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def token(**overrides: object) -> UserAuthToken:
    values: dict[str, object] = {
        "id": new_id("con"),
        "team_id": "T1",
        "user_id": "U1",
        "provider": "clickup",
        "encrypted_access_token": "x",
        "created_at": NOW,
        "updated_at": NOW,
    }
    values.update(overrides)
    return UserAuthToken(**values)


def meeting(**overrides: object) -> Meeting:
    values: dict[str, object] = {
        "id": new_id("mtg"),
        "team_id": "T1",
        "external_id": "m-1",
        "title": "Planning",
        "created_at": NOW,
        "updated_at": NOW,
    }
    values.update(overrides)
    return Meeting(**values)


def task(**overrides: object) -> Task:
    values: dict[str, object] = {
        "id": new_id("tsk"),
        "team_id": "T1",
        "marker": new_id("mk"),
        "owner_user_id": "U1",
        "title": "Write the report",
        "state": "queued",
        "created_at": NOW,
        "updated_at": NOW,
    }
    values.update(overrides)
    return Task(**values)


async def insert_twice(
    sessions: async_sessionmaker[AsyncSession], first: object, second: object
) -> None:
    async with sessions() as session, session.begin():
        session.add(first)
    with pytest.raises(IntegrityError):
        async with sessions() as session, session.begin():
            session.add(second)


async def test_one_token_row_per_person_and_tool(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    await insert_twice(sessions, token(), token())
    # Another tool, another person or another team is fine.
    async with sessions() as session, session.begin():
        session.add_all([token(provider="notion"), token(user_id="U2"), token(team_id="T2")])
    async with sessions() as session:
        assert len((await session.scalars(select(UserAuthToken))).all()) == 4


async def test_one_meeting_per_team_and_meeting_id(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    await insert_twice(sessions, meeting(), meeting())
    async with sessions() as session, session.begin():
        session.add(meeting(team_id="T2"))


async def test_one_task_per_team_meeting_and_item(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    parent = meeting()
    async with sessions() as session, session.begin():
        session.add(parent)
    await insert_twice(
        sessions, task(meeting_id=parent.id, item_id="a1"), task(meeting_id=parent.id, item_id="a1")
    )
    async with sessions() as session, session.begin():
        session.add(task(meeting_id=parent.id, item_id="a2"))


async def test_one_task_per_team_and_idempotency_key(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    await insert_twice(sessions, task(idempotency_key="k-1"), task(idempotency_key="k-1"))
    async with sessions() as session, session.begin():
        # The same key in another team is another request; tasks without a key never collide.
        session.add_all([task(idempotency_key="k-1", team_id="T2"), task(), task()])


async def test_markers_are_unique(sessions: async_sessionmaker[AsyncSession]) -> None:
    await insert_twice(sessions, task(marker="mk_same"), task(marker="mk_same"))


async def test_one_catalog_per_connection(sessions: async_sessionmaker[AsyncSession]) -> None:
    def catalog() -> ProviderCatalog:
        return ProviderCatalog(
            id=new_id("cat"), team_id="T1", user_id="U1", provider="notion", data={}, fetched_at=NOW
        )

    await insert_twice(sessions, catalog(), catalog())


async def test_unknown_state_and_provider_are_refused(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    # By the typed column, before the database sees it …
    with pytest.raises(StatementError, match="'lost' is not a valid TaskState"):
        async with sessions() as session, session.begin():
            session.add(task(state="lost"))
    with pytest.raises(StatementError, match="'trello' is not a valid ProviderName"):
        async with sessions() as session, session.begin():
            session.add(token(provider="trello"))
    # … and by the database's own CHECK constraints, for whatever writes around the models.
    row = task()
    async with sessions() as session, session.begin():
        session.add(row)
    for statement in (
        "UPDATE tasks SET state = 'lost'",
        "UPDATE tasks SET provider = 'trello'",
        "UPDATE tasks SET priority = 'someday'",
        "UPDATE tasks SET routing_mode = 'random'",
    ):
        with pytest.raises(IntegrityError):
            async with sessions() as session, session.begin():
                await session.execute(text(statement))


async def test_enum_columns_read_back_as_the_shared_enums(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    row = task(state=TaskState.RETRYING, provider=ProviderName.NOTION, priority=Priority.URGENT)
    async with sessions() as session, session.begin():
        session.add(row)
    async with sessions() as session:
        stored = await session.get(Task, row.id)
        raw = (await session.execute(text("SELECT state, provider, priority FROM tasks"))).one()
    assert stored is not None
    assert type(stored.state) is TaskState and stored.state is TaskState.RETRYING
    assert stored.provider is ProviderName.NOTION and stored.priority is Priority.URGENT
    assert stored.routing_mode is RoutingMode.SMART  # the column's default
    assert tuple(raw) == ("retrying", "notion", "urgent")  # stored as the enums' values


async def test_the_migrated_check_constraints_allow_every_enum_value(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    """With the refusals above, the database's allowed values are exactly the shared enums': a
    state or tool cannot be added to the code without a migration (nor the other way round)."""
    row = task()
    async with sessions() as session, session.begin():
        session.add(row)
    for column, enum in (
        ("state", TaskState),
        ("provider", ProviderName),
        ("priority", Priority),
        ("routing_mode", RoutingMode),
    ):
        for member in enum:
            async with sessions() as session, session.begin():
                await session.execute(
                    text(f"UPDATE tasks SET {column} = :value"), {"value": member.value}
                )


async def test_timestamps_are_timezone_aware_utc(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    paris = timezone(timedelta(hours=1))
    row = task(
        next_attempt_at=datetime(2026, 3, 1, 13, 30, tzinfo=paris), due_date=date(2026, 3, 9)
    )
    async with sessions() as session, session.begin():
        session.add(row)
    async with sessions() as session:
        stored = await session.get(Task, row.id)
        assert stored is not None
        assert stored.next_attempt_at == datetime(2026, 3, 1, 12, 30, tzinfo=UTC)
        assert stored.next_attempt_at.utcoffset() == timedelta(0)
        assert stored.created_at.tzinfo is not None
        assert stored.due_date == date(2026, 3, 9)


async def test_a_naive_timestamp_is_refused(sessions: async_sessionmaker[AsyncSession]) -> None:
    with pytest.raises(StatementError, match="naive datetime"):
        async with sessions() as session, session.begin():
            session.add(task(next_attempt_at=datetime(2026, 3, 1, 12, 0)))


async def test_deleting_a_meeting_deletes_its_tasks(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    parent = meeting()
    async with sessions() as session, session.begin():
        session.add(parent)
        await session.flush()
        session.add(task(meeting_id=parent.id, item_id="a1"))
    async with sessions() as session, session.begin():
        await session.execute(text("DELETE FROM meetings"))
    async with sessions() as session:
        assert (await session.scalars(select(Task))).all() == []
