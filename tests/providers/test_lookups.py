"""Finding tasks we may have created (`find_tasks`), against both emulators in process.

What is counted is what the tool would count: requests reaching the emulator.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
import respx

from primitives.enums import ProviderName
from providers.base import Credentials, Destination, Lookup, TaskDraft, Transient
from providers.clickup import ClickUpProvider
from providers.clickup.mapping import task_body
from providers.notion import NotionProvider
from providers.notion.mapping import page_body
from providers.ratelimit import ConnectionRateLimiter
from providers.reconcile import merged_windows
from sandbox.clickup import ClickUpSandbox
from sandbox.faults import FaultKind
from sandbox.notion import NotionSandbox
from tests.emulators import NOTION_URL
from tests.fakes import FakeClock

LIST = Destination(ProviderName.CLICKUP, "l2", "Website Redesign", "9001", path=("Marketing", "Q3"))
# How routing widens a window in these tests: a little clock skew before the first send, the
# request's deadline and the same skew after it.
SKEW = timedelta(seconds=5)
DEADLINE = timedelta(seconds=25)


def window(sent: datetime) -> tuple[datetime, datetime]:
    return sent - SKEW, sent + DEADLINE + SKEW


def draft(n: int | str, **fields: object) -> TaskDraft:
    values: dict[str, object] = {"title": f"Task {n}", "marker": f"mk_{n}",
                                 "meeting_title": "Stand-up"}  # fmt: skip
    values.update(fields)
    return TaskDraft(**values)  # type: ignore[arg-type]


def total(world: ClickUpSandbox | NotionSandbox) -> int:
    return sum(world.requests.values())


# --- ClickUp ----------------------------------------------------------------------------------


@pytest.fixture
def clickup_credentials(clickup_world: ClickUpSandbox) -> Credentials:
    clickup_world.rate_limit_per_minute = 100_000
    return Credentials("con_1", clickup_world.issue_token(101, ["9001"]), "9001")


def seed_clickup(world: ClickUpSandbox, n: int, at: datetime) -> None:
    """A task of ours for another meeting item, created at `at`, stored straight in the list."""
    body = task_body(draft(f"other{n}"), LIST, [])
    world.store_task(
        "l2", body["name"], markdown=body["markdown_content"], creator_id=101,
        created_ms=int(at.timestamp() * 1000),
    )  # fmt: skip


async def test_clickup_finds_a_batch_in_a_long_list_with_few_calls(
    clickup: ClickUpProvider, clickup_world: ClickUpSandbox,
    clickup_credentials: Credentials, clock: FakeClock,
) -> None:  # fmt: skip
    """1,000 other tasks around 20 of ours (10 created a second): one call for the batch."""
    start = clock.now()
    seeded = 0
    for n in range(500):  # the 50 seconds before
        seed_clickup(clickup_world, seeded, start - timedelta(seconds=50) + n * timedelta(0, 0.1))
        seeded += 1
    lookups = []
    for n in range(20):
        sent = clock.now()
        await clickup.create_task(clickup_credentials, LIST, draft(n))
        lookups.append(Lookup(f"mk_{n}", f"Task {n}", *window(sent)))
        for _ in range(10):
            clock.advance(0.1)
            seed_clickup(clickup_world, seeded, clock.now())
            seeded += 1
    for n in range(300):  # the 30 seconds after
        seed_clickup(clickup_world, seeded, clock.now() + n * timedelta(0, 0.1))
        seeded += 1
    assert seeded == 1000
    before = total(clickup_world)
    found = await clickup.find_tasks(
        clickup_credentials,
        LIST,
        [*lookups, Lookup("mk_never", "Task 7", lookups[7].sent_after, lookups[7].landed_before)],
    )
    calls = total(clickup_world) - before
    assert set(found) == {f"mk_{n}" for n in range(20)}  # and no mk_never
    assert all(
        clickup_world.tasks[found[f"mk_{n}"].task_id]["name"] == f"Task {n}" for n in range(20)
    )
    assert calls <= 2 * len(lookups), calls
    # A window holds ~550 tasks: at most six pages of 100 for all twenty-one lookups.
    assert calls <= 6


async def test_clickup_windows_far_apart_are_listed_apart(
    clickup: ClickUpProvider, clickup_world: ClickUpSandbox,
    clickup_credentials: Credentials, clock: FakeClock,
) -> None:  # fmt: skip
    first = clock.now()
    await clickup.create_task(clickup_credentials, LIST, draft("a"))
    for n in range(1000):  # an hour of other tasks in between, never read
        clock.advance(3.6)
        seed_clickup(clickup_world, n, clock.now())
    second = clock.now() + timedelta(minutes=1)
    clock.advance(60)
    await clickup.create_task(clickup_credentials, LIST, draft("b"))
    before = clickup_world.count("GET", "/api/v2/list/l2/task")
    found = await clickup.find_tasks(
        clickup_credentials, LIST,
        [Lookup("mk_b", "Task b", *window(second)), Lookup("mk_a", "Task a", *window(first))],
    )  # fmt: skip
    assert set(found) == {"mk_a", "mk_b"}
    assert clickup_world.count("GET", "/api/v2/list/l2/task") - before == 2


async def test_clickup_looks_only_inside_the_window(
    clickup: ClickUpProvider, clickup_world: ClickUpSandbox,
    clickup_credentials: Credentials, clock: FakeClock,
) -> None:  # fmt: skip
    early = clock.now()
    clock.advance(120)
    await clickup.create_task(clickup_credentials, LIST, draft("late"))
    # Created after the window closed (`date_created_lt`) or before it opened: not ours to find.
    assert (
        await clickup.find_tasks(
            clickup_credentials, LIST, [Lookup("mk_late", "Task late", *window(early))]
        )
        == {}
    )
    assert await clickup.find_tasks(
        clickup_credentials, LIST,
        [Lookup("mk_late", "Task late", clock.now() + SKEW, clock.now() + DEADLINE)],
    ) == {}  # fmt: skip
    assert "mk_late" in await clickup.find_tasks(
        clickup_credentials, LIST, [Lookup("mk_late", "Task late", *window(clock.now()))]
    )


async def test_clickup_a_marker_is_a_whole_token(
    clickup: ClickUpProvider, clickup_world: ClickUpSandbox,
    clickup_credentials: Credentials, clock: FakeClock,
) -> None:  # fmt: skip
    await clickup.create_task(clickup_credentials, LIST, draft(12))
    assert (
        await clickup.find_tasks(
            clickup_credentials, LIST, [Lookup("mk_1", "Task 12", *window(clock.now()))]
        )
        == {}
    )


async def test_clickup_a_failing_listing_raises_instead_of_answering_not_found(
    clickup: ClickUpProvider, clickup_world: ClickUpSandbox,
    clickup_credentials: Credentials, clock: FakeClock,
) -> None:  # fmt: skip
    await clickup.create_task(clickup_credentials, LIST, draft(1))
    lookup = Lookup("mk_1", "Task 1", *window(clock.now()))
    clickup_world.faults.add(FaultKind.SERVER_ERROR, method="GET", path="/task", times=None)
    with pytest.raises(Transient):
        await clickup.find_tasks(clickup_credentials, LIST, [lookup])
    clickup_world.faults.clear()
    clickup_world.faults.add(FaultKind.BAD_GATEWAY_HTML, method="GET", path="/task", times=2)
    assert "mk_1" in await clickup.find_tasks(clickup_credentials, LIST, [lookup])  # retried


@respx.mock
async def test_clickup_a_bad_page_mid_listing_raises(clock: FakeClock) -> None:
    async with httpx.AsyncClient() as http:
        client = ClickUpProvider(
            http, api_url="https://clickup.test/api", auth_url="https://clickup.test/api",
            client_id="c", client_secret="s",
            limiter=ConnectionRateLimiter(clock, rate=100, burst=100), clock=clock,
        )  # fmt: skip
        creds = Credentials("con", "token-value-1234567890")
        full = [{"id": f"t{n}", "markdown_description": f"`mk_o{n}`"} for n in range(100)]
        lookup = Lookup("mk_1", "Task 1", *window(clock.now()))
        for second in (
            httpx.Response(200, json={"tasks": "not a list"}),
            httpx.Response(200, json={"tasks": [], "last_page": "perhaps"}),
            httpx.Response(200, text="<html>"),
            httpx.Response(503, json={"err": "down"}),
            httpx.Response(200, json={"tasks": [{"description": "mk_1"}]}),  # ours, no id
        ):
            respx.get("https://clickup.test/api/v2/list/l2/task").mock(
                side_effect=[httpx.Response(200, json={"tasks": full, "last_page": False})]
                + [second] * 3
            )
            with pytest.raises(Transient):
                await client.find_tasks(creds, LIST, [lookup])
        # Without `last_page`, a full page means more may follow: the next one is read.
        respx.get("https://clickup.test/api/v2/list/l2/task").mock(
            side_effect=[
                httpx.Response(200, json={"tasks": full}),
                httpx.Response(200, json={"tasks": [{"id": "x", "description": "mk_1"}]}),
            ]
        )
        assert (await client.find_tasks(creds, LIST, [lookup]))["mk_1"].task_id == "x"


# --- Notion -----------------------------------------------------------------------------------


@pytest.fixture
def notion_world(notion_world: NotionSandbox) -> NotionSandbox:
    notion_world.burst = 1000  # the budget is not what these tests are about
    return notion_world


@pytest.fixture
def notion_credentials(notion_world: NotionSandbox) -> Credentials:
    return Credentials("con_n", notion_world.issue_tokens("u-ana")[0], "ws-acme")


@pytest.fixture
async def notes(notion: NotionProvider, notion_credentials: Credentials) -> Destination:
    catalog = await notion.fetch_catalog(notion_credentials)
    return next(d for d in catalog.destinations if d.name == "Meeting Notes")


def seed_notion(world: NotionSandbox, notes: Destination, task: TaskDraft, at: datetime) -> None:
    body, blocks = page_body(task, notes, [])
    world.store_page(notes.id, body["properties"], blocks, created=at)


def someones_page(world: NotionSandbox, title: str, at: datetime, text: str) -> None:
    """A page a person wrote in the data source: no marker, perhaps our title."""
    block = {"object": "block", "type": "paragraph",
             "paragraph": {"rich_text": [{"type": "text", "text": {"content": text}}]}}  # fmt: skip
    world.store_page(
        "ds-notes", {"Task": {"title": [{"type": "text", "text": {"content": title}}]}}, [block],
        created=at,
    )  # fmt: skip


async def test_notion_finds_a_batch_reading_only_pages_titled_like_ours(
    notion: NotionProvider, notion_world: NotionSandbox, notion_credentials: Credentials,
    notes: Destination, clock: FakeClock,
) -> None:  # fmt: skip
    """1,000 other pages around 20 of ours; three of a person's pages share a title of ours."""
    start = clock.now()
    for n in range(600):  # the six minutes before
        seed_notion(
            notion_world, notes, draft(f"before{n}"), start - timedelta(seconds=360 - n * 0.6)
        )
    for n in range(3):
        someones_page(notion_world, "Task 4", start - timedelta(seconds=20 * n), "mk_4 is not here")
    lookups = []
    for n in range(20):
        sent = clock.now()
        await notion.create_task(notion_credentials, notes, draft(n))
        lookups.append(Lookup(f"mk_{n}", f"Task {n}", *window(sent)))
        for k in range(5):
            clock.advance(0.2)
            seed_notion(notion_world, notes, draft(f"during{n}_{k}"), clock.now())
    for n in range(297):  # the three minutes after
        seed_notion(notion_world, notes, draft(f"after{n}"), clock.now() + n * timedelta(0, 0.6))
    assert len(notion_world.pages) == 600 + 3 + 20 + 100 + 297
    before, reads = total(notion_world), notion_world.count("GET", "/v1/blocks")
    found = await notion.find_tasks(
        notion_credentials,
        notes,
        [*lookups, Lookup("mk_never", "Task 0", lookups[0].sent_after, lookups[0].landed_before)],
    )
    calls = total(notion_world) - before
    assert set(found) == {f"mk_{n}" for n in range(20)}
    assert all(found[f"mk_{n}"].task_id in {p["id"] for p in notion_world.pages_with_marker(
        f"mk_{n}")} for n in range(20))  # fmt: skip
    assert calls <= 2 * len(lookups), calls
    # One read of the first block per page titled like a lookup, ours and the person's three
    # (those created in the window): nothing else is read.
    assert notion_world.count("GET", "/v1/blocks") - reads <= 20 + 3
    assert calls - (notion_world.count("GET", "/v1/blocks") - reads) <= 5  # query pages


async def test_notion_rounds_the_window_to_whole_minutes(
    notion: NotionProvider, notion_world: NotionSandbox, notion_credentials: Credentials,
    notes: Destination, clock: FakeClock, http: httpx.AsyncClient,
) -> None:  # fmt: skip
    clock.advance(45)  # 09:00:45, kept by Notion as 09:00
    await notion.create_task(notion_credentials, notes, draft(1))
    since, until = clock.now() - timedelta(seconds=5), clock.now() + timedelta(seconds=5)
    as_sent = await http.post(
        f"{NOTION_URL}/v1/data_sources/ds-notes/query",
        headers={"Authorization": f"Bearer {notion_credentials.access_token}",
                 "Notion-Version": "2025-09-03"},
        json={"filter": {"and": [
            {"timestamp": "created_time", "created_time": {"on_or_after": since.isoformat()}},
            {"timestamp": "created_time", "created_time": {"on_or_before": until.isoformat()}},
        ]}},
    )  # fmt: skip
    assert as_sent.json()["results"] == []  # an unrounded window misses the page
    found = await notion.find_tasks(
        notion_credentials, notes, [Lookup("mk_1", "Task 1", since, until)]
    )
    assert "mk_1" in found


async def test_notion_a_long_page_is_found_with_one_read(
    notion: NotionProvider, notion_world: NotionSandbox, notion_credentials: Credentials,
    notes: Destination, clock: FakeClock,
) -> None:  # fmt: skip
    """More than 100 blocks, and the answer to the create lost: the blocks past the first 100
    were never appended. The marker is in the first block, so one read finds the page."""
    text = "\n\n".join(f"Paragraph {n}" for n in range(150))
    notion_world.faults.add(FaultKind.LOST_RESPONSE, method="POST", path="/v1/pages")
    sent = clock.now()
    with pytest.raises(Transient):
        await notion.create_task(notion_credentials, notes, draft("long", description=text))
    (page,) = notion_world.pages.values()
    assert len(page["children"]) == 100
    reads = notion_world.count("GET", "/v1/blocks")
    found = await notion.find_tasks(
        notion_credentials, notes, [Lookup("mk_long", "Task long", *window(sent))]
    )
    assert found["mk_long"].task_id == page["id"]
    assert notion_world.count("GET", "/v1/blocks") - reads == 1
    # Sent whole, the page has 152 blocks; still one read.
    sent = clock.now()
    created = await notion.create_task(notion_credentials, notes, draft("whole", description=text))
    assert len(notion_world.pages[created.task_id]["children"]) == 151
    reads = notion_world.count("GET", "/v1/blocks")
    found = await notion.find_tasks(
        notion_credentials, notes, [Lookup("mk_whole", "Task whole", *window(sent))]
    )
    assert found["mk_whole"].task_id == created.task_id
    assert notion_world.count("GET", "/v1/blocks") - reads == 1


async def test_notion_a_failing_lookup_raises_instead_of_answering_not_found(
    notion: NotionProvider, notion_world: NotionSandbox, notion_credentials: Credentials,
    notes: Destination, clock: FakeClock,
) -> None:  # fmt: skip
    await notion.create_task(notion_credentials, notes, draft(1))
    lookup = Lookup("mk_1", "Task 1", *window(clock.now()))
    for path in ("/query", "/children"):
        notion_world.faults.add(FaultKind.SERVER_ERROR, path=path, times=None)
        with pytest.raises(Transient):
            await notion.find_tasks(notion_credentials, notes, [lookup])
        notion_world.faults.clear()
    notion_world.faults.add(FaultKind.SERVER_ERROR, path="/children", times=1)
    assert "mk_1" in await notion.find_tasks(notion_credentials, notes, [lookup])  # retried


@respx.mock
async def test_notion_a_bad_answer_mid_lookup_raises(clock: FakeClock) -> None:
    async with httpx.AsyncClient() as http:
        client = NotionProvider(
            http, api_url="https://notion.test", client_id="c", client_secret="s",
            limiter=ConnectionRateLimiter(clock, rate=100, burst=100), clock=clock,
        )  # fmt: skip
        creds = Credentials("c", "ntn_abcdefghijklmnop")
        target = Destination(ProviderName.NOTION, "ds", "DS", "w")
        lookup = Lookup("mk_1", "Task 1", *window(clock.now()))
        title = {"type": "title", "title": [{"plain_text": "Task 1"}]}
        page: dict[str, Any] = {
            "id": "p1", "url": "https://notion.so/p1", "properties": {"Name": title}
        }  # fmt: skip
        first = httpx.Response(200, json={"results": [], "has_more": True, "next_cursor": "c2"})
        query = respx.post("https://notion.test/v1/data_sources/ds/query")
        for second in (
            httpx.Response(200, json={"results": "nope"}),
            httpx.Response(200, json={"results": [], "has_more": True}),  # no cursor
            httpx.Response(200, json={"results": [{"url": "u", "properties": page["properties"]}]}),
        ):
            query.mock(side_effect=[first, second])
            with pytest.raises(Transient):
                await client.find_tasks(creds, target, [lookup])
        query.mock(return_value=httpx.Response(200, json={"results": [page], "has_more": False}))
        respx.get("https://notion.test/v1/blocks/p1/children").mock(
            return_value=httpx.Response(200, json={"results": {"not": "a list"}})
        )
        with pytest.raises(Transient):
            await client.find_tasks(creds, target, [lookup])


async def test_the_notion_emulator_refuses_queries_it_cannot_answer_as_notion_would(
    notion_world: NotionSandbox, notion_credentials: Credentials, http: httpx.AsyncClient
) -> None:
    headers = {"Authorization": f"Bearer {notion_credentials.access_token}",
               "Notion-Version": "2025-09-03"}  # fmt: skip
    when = {"timestamp": "created_time", "created_time": {"after": "2026-01-01"}}
    for body in (
        {"filter": {"and": [{"or": [{"and": [when]}]}]}},  # nested three levels deep
        {"filter": {"timestamp": "created_time", "created_time": {"past_week": {}}}},
        {"filter": {"property": "Task", "title": {"equals": "x"}}},
        {"sorts": [{"property": "Task", "direction": "ascending"}]},
        {"page_size": 101},
    ):
        answer = await http.post(
            f"{NOTION_URL}/v1/data_sources/ds-notes/query", headers=headers, json=body
        )
        assert answer.status_code == 400 and answer.json()["code"] == "validation_error", body
    someones_page(notion_world, "x", datetime.fromisoformat("2026-01-15T09:00:00+00:00"), "y")
    (page_id,) = notion_world.pages
    children = f"{NOTION_URL}/v1/blocks/{page_id}/children"
    assert (await http.get(children, headers=headers, params={"page_size": 101})).status_code == 400
    one = await http.get(children, headers=headers, params={"page_size": 1})
    assert len(one.json()["results"]) == 1


def test_windows_merge_where_they_overlap_or_nearly_touch() -> None:
    at = datetime.fromisoformat("2026-01-15T09:00:00+00:00")

    def lookup(marker: str, start: float, end: float) -> Lookup:
        return Lookup(marker, marker, at + timedelta(seconds=start), at + timedelta(seconds=end))

    windows = merged_windows(
        [lookup("c", 100, 110), lookup("a", 0, 30), lookup("b", 20, 50), lookup("d", 115, 90),
         lookup("e", 3600, 3630)],
        gap=timedelta(seconds=10),
    )  # fmt: skip
    assert [(w.start - at, w.end - at, sorted(w.markers)) for w in windows] == [
        (timedelta(0), timedelta(seconds=50), ["a", "b"]),
        # d ends before it starts: read as the instant it starts, 5 s after c ends
        (timedelta(seconds=100), timedelta(seconds=115), ["c", "d"]),
        (timedelta(seconds=3600), timedelta(seconds=3630), ["e"]),
    ]
