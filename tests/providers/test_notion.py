"""The Notion client against the Notion emulator (in process, through httpx)."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta, timezone
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
import respx

from primitives.enums import Priority, ProviderName
from providers.base import (
    AuthRevoked,
    Credentials,
    Destination,
    Lookup,
    Permanent,
    RateLimited,
    TaskDraft,
    Transient,
)
from providers.notion import NotionProvider
from providers.ratelimit import ConnectionRateLimiter
from sandbox.faults import FaultKind
from sandbox.notion import NotionSandbox
from tests.emulators import NOTION_CLIENT_ID, NOTION_REDIRECT, NOTION_URL
from tests.fakes import FakeClock


@pytest.fixture
def credentials(notion_world: NotionSandbox) -> Credentials:
    return Credentials("con_n", notion_world.issue_tokens("u-ana")[0], "ws-acme")


async def catalog_destination(
    notion: NotionProvider, credentials: Credentials, name: str
) -> Destination:
    catalog = await notion.fetch_catalog(credentials)
    return next(d for d in catalog.destinations if d.name == name)


def draft(**overrides: object) -> TaskDraft:
    values: dict[str, object] = {"title": "Write the spec", "marker": "scrumy:mk_n1"}
    values.update(overrides)
    return TaskDraft(**values)  # type: ignore[arg-type]


async def test_oauth_consent_exchange_refresh_and_revoke(
    notion: NotionProvider, notion_world: NotionSandbox, http: httpx.AsyncClient
) -> None:
    url = notion.authorize_url(state="st", redirect_uri=NOTION_REDIRECT)
    query = parse_qs(urlsplit(url).query)
    assert query["response_type"] == ["code"] and query["owner"] == ["user"]
    page = await http.get(url)
    assert "Allow access" in page.text
    form = {
        "client_id": NOTION_CLIENT_ID,
        "redirect_uri": NOTION_REDIRECT,
        "state": "st",
        "decision": "approve",
    }
    approved = await http.post(url.split("?")[0], data=form)
    code = parse_qs(urlsplit(approved.headers["location"]).query)["code"][0]
    account = await notion.exchange_code(code=code, redirect_uri=NOTION_REDIRECT)
    assert account.workspace is not None and account.workspace.name == "Acme"
    assert account.account_email == "ana@acme.example"
    assert account.tokens.refresh_token is not None
    with pytest.raises(Permanent):
        await notion.exchange_code(code=code, redirect_uri=NOTION_REDIRECT)  # one time only
    fresh = await notion.refresh(account.tokens.refresh_token)
    assert fresh.access_token != account.tokens.access_token
    with pytest.raises(AuthRevoked):  # the old refresh token died on use
        await notion.refresh(account.tokens.refresh_token)
    assert await notion.revoke(fresh.access_token)
    with pytest.raises(AuthRevoked):
        await notion.fetch_catalog(Credentials("c", fresh.access_token))


async def test_the_consent_page_grants_the_user_logged_in_there(
    notion: NotionProvider, notion_world: NotionSandbox, http: httpx.AsyncClient
) -> None:
    notion_world.consent_user_id = "u-bo"  # Bo's browser; Ana is the workspace's first user
    url = notion.authorize_url(state="st", redirect_uri=NOTION_REDIRECT)
    form = {"client_id": NOTION_CLIENT_ID, "redirect_uri": NOTION_REDIRECT, "state": "st",
            "decision": "approve"}  # fmt: skip
    approved = await http.post(url.split("?")[0], data=form)
    code = parse_qs(urlsplit(approved.headers["location"]).query)["code"][0]
    account = await notion.exchange_code(code=code, redirect_uri=NOTION_REDIRECT)
    assert account.account_email == "bo@acme.example"


async def test_two_concurrent_refreshers_only_one_wins(
    notion: NotionProvider, notion_world: NotionSandbox
) -> None:
    _, refresh = notion_world.issue_tokens("u-ana")
    results = await asyncio.gather(
        notion.refresh(refresh), notion.refresh(refresh), return_exceptions=True
    )
    assert sum(isinstance(r, AuthRevoked) for r in results) == 1


async def test_catalog_has_every_data_source_with_its_schema_and_the_people(
    notion: NotionProvider, notion_world: NotionSandbox, credentials: Credentials
) -> None:
    for n in range(105):  # more than a page of search results
        notion_world.add_data_source(f"ds-{n}", f"Extra {n}", {"Name": {"type": "title"}})
    catalog = await notion.fetch_catalog(credentials)
    assert len(catalog.destinations) == 107
    roadmap = next(d for d in catalog.destinations if d.name == "Product Roadmap")
    assert {f.name: f.type for f in roadmap.fields}["Priority"] == "select"
    assert catalog.member_by_email("bo@acme.example") is not None
    assert all(m.id != "bot-1" for m in catalog.members)


@pytest.mark.parametrize(
    ("due", "expected"),
    [
        (date(2026, 3, 9), "2026-03-09"),
        (datetime(2026, 3, 9, 17, 0, tzinfo=UTC), "2026-03-09T17:00:00+00:00"),
        (
            datetime(2026, 3, 9, 9, 30, tzinfo=timezone(timedelta(hours=-8))),
            "2026-03-09T09:30:00-08:00",
        ),
    ],
)
async def test_creation_is_one_call_mapped_by_the_schema(
    notion: NotionProvider, notion_world: NotionSandbox, credentials: Credentials,
    due: date | datetime, expected: str,
) -> None:  # fmt: skip
    roadmap = await catalog_destination(notion, credentials, "Product Roadmap")
    catalog = await notion.fetch_catalog(credentials)
    before = sum(notion_world.requests.values())
    created = await notion.create_task(
        credentials, roadmap,
        draft(title="Écrire la spec 📝", description="Why.\n\nHow.", priority=Priority.MEDIUM,
              due=due, assignee_email="bo@acme.example", meeting_title="Planning"),
        catalog.members,
    )  # fmt: skip
    assert sum(notion_world.requests.values()) - before == 1
    page = notion_world.pages[created.task_id]
    props = page["properties"]
    assert props["Name"]["title"][0]["text"]["content"] == "Écrire la spec 📝"
    assert props["Priority"] == {"select": {"name": "Normal"}}
    assert props["Due"] == {"date": {"start": expected}}
    assert props["Assignee"]["people"][0]["id"] == "u-bo"
    assert notion_world.pages_with_marker("scrumy:mk_n1") == [page]


async def test_another_schema_and_missing_fields(
    notion: NotionProvider, notion_world: NotionSandbox, credentials: Credentials
) -> None:
    notes = await catalog_destination(notion, credentials, "Meeting Notes")
    created = await notion.create_task(
        credentials,
        notes,
        draft(priority=Priority.URGENT, due=date(2026, 1, 2), assignee_name="Dana"),
    )
    page = notion_world.pages[created.task_id]
    assert set(page["properties"]) == {"Task", "Deadline"}  # no priority or people property
    assert notion_world.pages_with_marker("scrumy:mk_n1") == [page]
    texts = [i["text"]["content"] for b in page["children"] for i in b["paragraph"]["rich_text"]]
    assert any("Dana" in text for text in texts)


async def test_a_very_long_description_is_chunked_and_appended(
    notion: NotionProvider, notion_world: NotionSandbox, credentials: Credentials
) -> None:
    notes = await catalog_destination(notion, credentials, "Meeting Notes")
    text = "\n\n".join(f"Paragraph {n} " + "x" * 4500 for n in range(150))
    created = await notion.create_task(credentials, notes, draft(description=text))
    page = notion_world.pages[created.task_id]
    assert len(page["children"]) == 151  # the line with our marker, then 150 paragraphs
    assert notion_world.count("PATCH", "/v1/blocks") == 1
    assert all(
        len(item["text"]["content"]) <= 2000
        for block in page["children"] for item in block["paragraph"]["rich_text"]
    )  # fmt: skip


@pytest.mark.parametrize(
    ("kind", "error"),
    [(FaultKind.REVOKED, AuthRevoked), (FaultKind.RATE_LIMIT, RateLimited),
     (FaultKind.SERVER_ERROR, Transient), (FaultKind.BAD_GATEWAY_HTML, Transient),
     (FaultKind.LOST_RESPONSE, Transient)],
)  # fmt: skip
async def test_each_fault_is_its_error_class(
    notion: NotionProvider, notion_world: NotionSandbox, credentials: Credentials,
    kind: FaultKind, error: type[Exception],
) -> None:  # fmt: skip
    notes = await catalog_destination(notion, credentials, "Meeting Notes")
    notion_world.faults.add(kind, method="POST", path="/v1/pages")
    with pytest.raises(error) as raised:
        await notion.create_task(credentials, notes, draft())
    assert credentials.access_token not in str(raised.value)


async def test_an_outage_is_a_503_with_notions_code_and_retry_after(
    notion: NotionProvider, notion_world: NotionSandbox, credentials: Credentials
) -> None:
    notes = await catalog_destination(notion, credentials, "Meeting Notes")
    notion_world.faults.add(
        FaultKind.SERVER_ERROR, method="POST", path="/v1/pages", status=503, seconds=4
    )
    with pytest.raises(Transient) as raised:
        await notion.create_task(credentials, notes, draft())
    assert (raised.value.code, raised.value.retry_after) == ("service_unavailable", 4)
    assert "HTTP 503" in str(raised.value) and not notion_world.pages
    created = await notion.create_task(credentials, notes, draft())  # once only
    assert created.task_id in notion_world.pages
    with pytest.raises(ValueError, match="5xx"):
        notion_world.faults.add(FaultKind.SERVER_ERROR, status=200)


async def test_a_lost_response_is_found_by_marker(
    notion: NotionProvider, notion_world: NotionSandbox, credentials: Credentials, clock: FakeClock
) -> None:
    notes = await catalog_destination(notion, credentials, "Meeting Notes")
    notion_world.faults.add(FaultKind.LOST_RESPONSE, method="POST", path="/v1/pages")
    sent = clock.now()
    with pytest.raises(Transient):
        await notion.create_task(credentials, notes, draft(marker="scrumy:mk_lost"))
    window = (sent, clock.now() + timedelta(seconds=30))
    found = await notion.find_tasks(
        credentials, notes,
        [Lookup("scrumy:mk_lost", "Write the spec", *window),
         Lookup("scrumy:mk_x", "Write the spec", *window)],
    )  # fmt: skip
    assert list(found) == ["scrumy:mk_lost"]
    assert (
        found["scrumy:mk_lost"].task_id == notion_world.pages_with_marker("scrumy:mk_lost")[0]["id"]
    )


async def test_an_unshared_database_and_bad_values_are_permanent(
    notion: NotionProvider, credentials: Credentials
) -> None:
    gone = Destination(ProviderName.NOTION, "ds-gone", "Gone", "ws-acme")
    with pytest.raises(Permanent, match="share it with Scrumy Tasks"):
        await notion.create_task(credentials, gone, draft())
    wrong = Destination(ProviderName.NOTION, "ds-notes", "Meeting Notes", "ws-acme")  # no schema
    with pytest.raises(Permanent, match="Notion refused the page"):
        await notion.create_task(credentials, wrong, draft())


async def test_the_emulator_enforces_notions_limits(
    notion: NotionProvider,
    notion_world: NotionSandbox,
    credentials: Credentials,
    http: httpx.AsyncClient,
) -> None:
    base = f"{NOTION_URL}/v1"
    headers = {
        "Authorization": f"Bearer {credentials.access_token}",
        "Notion-Version": "2025-09-03",
    }
    long_text = {"type": "text", "text": {"content": "x" * 2001}}
    cases = [
        {"parent": {"data_source_id": "ds-notes"}, "properties": {"Task": {"title": [long_text]}}},
        {"parent": {"data_source_id": "ds-notes"}, "properties": {"Nope": {"title": []}}},
        {"parent": {"data_source_id": "ds-notes"}, "properties": {"Task": {"title": []}},
         "children": [{"type": "paragraph", "paragraph": {"rich_text": []}}] * 101},
        {"parent": {"data_source_id": "ds-roadmap"},
         "properties": {"Name": {"title": []}, "Status": {"status": {"name": "Imaginary"}}}},
    ]  # fmt: skip
    for body in cases:
        answer = await http.post(f"{base}/pages", json=body, headers=headers)
        assert answer.status_code == 400 and answer.json()["code"] == "validation_error"
    missing = await http.post(
        f"{base}/search", json={}, headers={"Authorization": headers["Authorization"]}
    )
    assert missing.json()["code"] == "missing_version"


async def test_the_budget_is_three_a_second_with_retry_after(
    notion: NotionProvider, notion_world: NotionSandbox, credentials: Credentials,
    clock: FakeClock, http: httpx.AsyncClient,
) -> None:  # fmt: skip
    notion_world.burst = 2
    notes = await catalog_destination(notion, credentials, "Meeting Notes")
    # The budget is per token, and a new token starts with a full one: two pages, then a 429
    # for a client that does not keep Notion's pace...
    unpaced = NotionProvider(
        http, api_url=NOTION_URL, client_id=NOTION_CLIENT_ID, client_secret="s",
        limiter=ConnectionRateLimiter(clock, rate=100, burst=100), clock=clock,
    )  # fmt: skip
    fresh = Credentials("con_fresh", notion_world.issue_tokens("u-ana")[0], "ws-acme")
    await unpaced.create_task(fresh, notes, draft())
    await unpaced.create_task(fresh, notes, draft())
    with pytest.raises(RateLimited) as raised:
        await unpaced.create_task(fresh, notes, draft())
    assert raised.value.retry_after >= 1
    # ...and none for ours, which keeps under three a second from a burst of two.
    paced = Credentials("con_paced", notion_world.issue_tokens("u-ana")[0], "ws-acme")
    for _ in range(6):
        await notion.create_task(paced, notes, draft())
    assert clock.slept and all(pause >= 1 / 3 for pause in clock.slept[-4:])


@respx.mock
async def test_garbage_is_always_a_provider_error(clock: FakeClock) -> None:
    async with httpx.AsyncClient() as http:
        client = NotionProvider(
            http, api_url="https://notion.test", client_id="c", client_secret="s",
            limiter=ConnectionRateLimiter(clock, rate=10, burst=10), clock=clock,
        )  # fmt: skip
        creds = Credentials("c", "ntn_abcdefghijklmnop")
        target = Destination(ProviderName.NOTION, "ds", "DS", "w")
        route = respx.post("https://notion.test/v1/pages")
        for response, error in (
            (httpx.Response(200, text="<html>"), Transient),
            (httpx.Response(200, json={"object": "page"}), Transient),
            (httpx.Response(502, text="<html>Bad gateway</html>"), Transient),
            (httpx.Response(529, json={"object": "error", "code": "service_overload"}), Transient),
            (httpx.Response(409, json={"object": "error", "code": "conflict_error"}), Transient),
            (
                httpx.Response(
                    400, json={"object": "error", "code": "validation_error", "message": "bad"}
                ),
                Permanent,
            ),
        ):
            route.mock(return_value=response)
            with pytest.raises(error):
                await client.create_task(creds, target, draft())
        refresh = respx.post("https://notion.test/v1/oauth/token")
        refresh.mock(return_value=httpx.Response(400, json={"error": "invalid_grant"}))
        with pytest.raises(AuthRevoked):
            await client.refresh("nrt_old")


@pytest.mark.parametrize("user_information", ["none", "without_email"])
async def test_the_catalog_loads_without_the_user_information_capability(
    notion: NotionProvider, notion_world: NotionSandbox, credentials: Credentials,
    user_information: str,
) -> None:  # fmt: skip
    notion_world.user_information = user_information
    catalog = await notion.fetch_catalog(credentials)
    assert {d.name for d in catalog.destinations} == {"Product Roadmap", "Meeting Notes"}
    assert catalog.member_by_email("bo@acme.example") is None
    assert "Read user information including email addresses" in (catalog.members_note or "")
    roadmap = catalog.destinations[0]
    created = await notion.create_task(
        credentials, roadmap, draft(assignee_email="bo@acme.example", assignee_name="Bo"),
        catalog.members,
    )  # fmt: skip
    page = notion_world.pages[created.task_id]
    assert "Assignee" not in page["properties"]
    assert "Assignee named in the meeting: Bo" in str(page["children"])


async def test_with_user_information_there_is_no_note(
    notion: NotionProvider, credentials: Credentials
) -> None:
    assert (await notion.fetch_catalog(credentials)).members_note is None
