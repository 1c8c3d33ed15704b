"""`Provider.task_status` against the emulators: Notion's status groups and "Done" checkbox,
the trash, a page gone; ClickUp's status types; and a poll's read that waits for no budget."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from primitives.enums import RemoteStatus
from providers.base import Credentials, RateLimited
from providers.clickup import ClickUpProvider
from providers.notion import NotionProvider
from providers.ratelimit import ConnectionRateLimiter
from sandbox.clickup import ClickUpSandbox
from sandbox.notion import NotionSandbox
from tests.fakes import FakeClock

TITLE = {"Name": {"title": [{"text": {"content": "Ship it"}}]}}


@pytest.fixture
def credentials(notion_world: NotionSandbox) -> Credentials:
    return Credentials("con_n", notion_world.issue_tokens("u-ana")[0], "ws-acme")


def page(
    world: NotionSandbox, clock: FakeClock, source: str = "ds-roadmap", **values: object
) -> str:
    return str(world.store_page(source, {**TITLE, **values}, [], created=clock.now())["id"])


async def test_notion_maps_the_status_group_not_the_options_name(
    notion: NotionProvider, notion_world: NotionSandbox, credentials: Credentials, clock: FakeClock
) -> None:
    notion_world.add_data_source("ds-ship", "Shipping", {
        "Name": {"type": "title"},
        # The priority as a status (as our mapping may write it) is not the task's status.
        "Priority status": {"type": "status", "options": ["P0", "Done-ish"],
                            "groups": {"To-do": ["P0"], "Complete": ["Done-ish"]}},
        "Stage": {"type": "status", "options": ["Idea", "Done", "Shipped"],
                  "groups": {"To-do": ["Idea"], "In progress": ["Done"], "Complete": ["Shipped"]}},
    })  # fmt: skip
    first = page(
        notion_world, clock, "ds-ship", **{"Priority status": {"status": {"name": "Done-ish"}}}
    )
    second = page(notion_world, clock, "ds-ship", Stage={"status": {"name": "Done"}})
    clock.advance(30)
    assert (await notion.task_status(credentials, first)).status is RemoteStatus.OPEN  # Idea
    # "Done" sits in the In progress group here: open, whatever its name says.
    assert (await notion.task_status(credentials, second)).status is RemoteStatus.OPEN
    notion_world.edit_page(
        second, now=clock.now(), properties={"Stage": {"status": {"name": "Shipped"}}}
    )
    read = await notion.task_status(credentials, second)
    assert read.status is RemoteStatus.DONE
    # The schema's groups were read once for the three reads (cached per data source).
    assert notion_world.count("GET", "/v1/data_sources/ds-ship") == 1
    # Whole minutes: the state read holds from the end of the edit's minute, or the read.
    assert read.edited_at == clock.now()


async def test_notion_reads_a_done_checkbox_the_trash_and_a_page_gone(
    notion: NotionProvider, notion_world: NotionSandbox, credentials: Credentials, clock: FakeClock
) -> None:
    notion_world.add_data_source("ds-todo", "To do", {
        "Name": {"type": "title"}, "Done": {"type": "checkbox"}})  # fmt: skip
    notion_world.add_data_source("ds-plain", "Plain", {"Name": {"type": "title"}})
    todo = page(notion_world, clock, "ds-todo")
    plain = page(notion_world, clock, "ds-plain")
    assert (await notion.task_status(credentials, todo)).status is RemoteStatus.OPEN
    notion_world.edit_page(todo, now=clock.now(), properties={"Done": {"checkbox": True}})
    assert (await notion.task_status(credentials, todo)).status is RemoteStatus.DONE
    assert (await notion.task_status(credentials, plain)).status is None  # no way to say
    notion_world.edit_page(plain, now=clock.now(), in_trash=True)
    assert (await notion.task_status(credentials, plain)).status is RemoteStatus.DELETED
    del notion_world.pages[todo]  # deleted for good (or no longer shared): 404
    gone = await notion.task_status(credentials, todo)
    assert (gone.status, gone.edited_at) == (RemoteStatus.DELETED, None)
    assert notion_world.count("GET", "/v1/data_sources/") == 0  # no status property: no schema


async def test_clickup_maps_the_status_type(
    clickup: ClickUpProvider, clickup_world: ClickUpSandbox, clock: FakeClock
) -> None:
    token = clickup_world.issue_token(101, ["9001"])
    credentials = Credentials("con_c", token, "9001")
    created_ms = int(clock.now().timestamp() * 1000)
    task = clickup_world.store_task(
        "l1", "Ship it", markdown="", creator_id=101, created_ms=created_ms
    )
    read = await clickup.task_status(credentials, task["id"])
    assert (read.status, read.edited_at) == (RemoteStatus.OPEN, clock.now())
    for kind, expected in (("custom", RemoteStatus.OPEN), ("done", RemoteStatus.DONE),
                           ("closed", RemoteStatus.CLOSED)):  # fmt: skip
        task["status"] = {"status": f"a {kind} one", "type": kind}
        task["date_updated"] = str(created_ms + 5_000)
        read = await clickup.task_status(credentials, task["id"])
        assert read.status is expected
        assert read.edited_at == datetime.fromtimestamp((created_ms + 5_000) / 1000, UTC)


async def test_a_polls_read_goes_out_only_on_an_idle_budget(
    notion: NotionProvider, notion_world: NotionSandbox, credentials: Credentials, clock: FakeClock
) -> None:
    page_id = page(notion_world, clock)
    await notion.task_status(credentials, page_id)  # the bucket is short of full after it
    with pytest.raises(RateLimited):
        await notion.task_status(credentials, page_id, spare_only=True)
    assert notion_world.count("GET", "/v1/pages/") == 1  # nothing was sent
    clock.advance(1)
    await notion.task_status(credentials, page_id, spare_only=True)
    assert notion_world.count("GET", "/v1/pages/") == 2


def test_a_hold_is_not_idle(clock: FakeClock) -> None:
    limiter = ConnectionRateLimiter(clock, rate=2.0, burst=2.0)
    assert limiter.idle("c")
    limiter.hold("c", 5)  # a 429's Retry-After
    assert not limiter.idle("c")
    clock.advance(5)
    assert not limiter.idle("c")  # the bucket starts again from empty
    clock.advance(1)
    assert limiter.idle("c")


async def test_idle_follows_requests_and_windows(clock: FakeClock) -> None:
    limiter = ConnectionRateLimiter(clock, rate=2.0, burst=2.0)
    ticket = await limiter.acquire("c")
    assert not limiter.idle("c")  # in flight
    limiter.release("c", ticket)
    assert not limiter.idle("c")  # the bucket is one short
    clock.advance(0.5)
    assert limiter.idle("c")
    now = clock.now().timestamp()
    ticket = await limiter.acquire("c")
    limiter.note_window("c", ticket, limit=100, remaining=40, reset=now + 30, now=now)
    limiter.release("c", ticket)
    clock.advance(1)
    assert not limiter.idle("c")  # less than half of ClickUp's window left
    clock.advance(timedelta(seconds=31).total_seconds())
    assert limiter.idle("c")  # a new window
