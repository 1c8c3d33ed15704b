"""The Notion emulator's pages as a person edits them, and its webhook subscription: the
handshake, signed events, aggregation, retries, and the faults."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from sandbox.notion import NotionSandbox, create_notion_emulator
from sandbox.notion_webhooks import MAX_ATTEMPTS, RETRY_DELAYS, NotionWebhookSender
from tests.emulators import NOTION_URL, in_process_client
from tests.fakes import FakeClock

HOOK = "http://subscriber.test/webhooks/notion"
TOKEN = "secret_subscriber-verification-token-1"
DONE = {"Status": {"status": {"name": "Done"}}}


class Subscriber:
    """Our side, stood in for: it keeps every request and answers `status`."""

    def __init__(self) -> None:
        self.status = 200
        self.received: list[tuple[dict[str, str], bytes]] = []

    def app(self) -> Starlette:
        async def receive(request: Request) -> Response:
            self.received.append((dict(request.headers), await request.body()))
            return Response(status_code=self.status)

        return Starlette(routes=[Route("/webhooks/notion", receive, methods=["POST"])])

    def events(self) -> list[dict[str, Any]]:
        return [json.loads(body) for _, body in self.received]


@pytest.fixture
def subscriber() -> Subscriber:
    return Subscriber()


@pytest.fixture
async def sender(
    notion_world: NotionSandbox, subscriber: Subscriber, clock: FakeClock
) -> AsyncIterator[NotionWebhookSender]:
    async with in_process_client({"http://subscriber.test": subscriber.app()}) as client:
        yield NotionWebhookSender(notion_world.webhooks, client, clock)


@pytest.fixture
async def api(notion_world: NotionSandbox, clock: FakeClock) -> AsyncIterator[httpx.AsyncClient]:
    access, _ = notion_world.issue_tokens("u-ana")
    app = create_notion_emulator(notion_world, clock=clock)
    async with in_process_client({NOTION_URL: app}) as client:
        client.headers.update({"Authorization": f"Bearer {access}",
                               "Notion-Version": "2025-09-03"})  # fmt: skip
        yield client


def a_page(world: NotionSandbox, clock: FakeClock) -> str:
    page = world.store_page("ds-roadmap", {"Name": {"title": [{"text": {"content": "Ship"}}]}},
                            [], created=clock.now())  # fmt: skip
    return str(page["id"])


def verified(world: NotionSandbox) -> None:
    world.webhooks.subscribe(HOOK, token=TOKEN)
    world.webhooks.handshake_owed = False
    assert world.webhooks.verify(TOKEN)


async def test_the_handshake_comes_first_unsigned_and_no_event_before_verification(
    notion_world: NotionSandbox,
    sender: NotionWebhookSender,
    subscriber: Subscriber,
    clock: FakeClock,
) -> None:
    token = notion_world.webhooks.subscribe(HOOK)
    page_id = a_page(notion_world, clock)
    notion_world.edit_page(page_id, now=clock.now(), properties=DONE)  # not verified: owed none
    [handshake] = await sender.deliver_due()
    assert handshake.kind == "verification" and handshake.status == 200
    headers, body = subscriber.received[0]
    assert json.loads(body) == {"verification_token": token}
    assert "x-notion-signature" not in headers
    assert await sender.deliver_due() == []  # sent once
    assert not notion_world.webhooks.verify("secret_not-the-token")
    assert notion_world.webhooks.verify(token)


async def test_events_are_signed_say_what_changed_but_not_the_values(
    notion_world: NotionSandbox,
    sender: NotionWebhookSender,
    subscriber: Subscriber,
    clock: FakeClock,
) -> None:
    verified(notion_world)
    page_id = a_page(notion_world, clock)
    notion_world.edit_page(page_id, now=clock.now(), properties=DONE)
    notion_world.edit_page(page_id, now=clock.now(), in_trash=True)
    sent = await sender.deliver_due()
    assert [d.kind for d in sent] == ["page.properties_updated", "page.deleted"]
    for headers, body in subscriber.received:
        expected = "sha256=" + hmac.new(TOKEN.encode(), body, hashlib.sha256).hexdigest()
        assert headers["x-notion-signature"] == expected
    updated, deleted = subscriber.events()
    assert updated["entity"] == {"id": page_id, "type": "page"}
    assert updated["data"]["updated_properties"] == ["Stat"]  # the property's id, no value
    assert "Done" not in json.dumps(updated)
    assert updated["attempt_number"] == 1 and updated["workspace_id"] == "ws-acme"
    assert deleted["type"] == "page.deleted" and updated["id"] != deleted["id"]


async def test_edits_within_a_minute_are_combined_into_one_later_event(
    notion_world: NotionSandbox,
    sender: NotionWebhookSender,
    subscriber: Subscriber,
    clock: FakeClock,
) -> None:
    verified(notion_world)
    page_id = a_page(notion_world, clock)
    notion_world.edit_page(page_id, now=clock.now(), properties=DONE)  # the first: at once
    assert len(await sender.deliver_due()) == 1
    for name in ("In progress", "Done"):  # two more edits, ten seconds apart
        clock.advance(10)
        status = {"Status": {"status": {"name": name}}}
        notion_world.edit_page(page_id, now=clock.now(), properties=status)
        assert await sender.deliver_due() == []  # held for the window
    clock.advance(40)
    [combined] = await sender.deliver_due()
    assert combined.kind == "page.properties_updated"
    assert subscriber.events()[-1]["timestamp"] == "2026-01-15T09:00:20.000Z"  # the latest edit


async def test_a_subscriber_that_is_down_gets_retries_then_the_event_is_dropped(
    notion_world: NotionSandbox,
    sender: NotionWebhookSender,
    subscriber: Subscriber,
    clock: FakeClock,
) -> None:
    verified(notion_world)
    notion_world.edit_page(a_page(notion_world, clock), now=clock.now(), properties=DONE)
    subscriber.status = 503
    attempts = []
    for delay in (0.0, *RETRY_DELAYS):
        clock.advance(delay)
        [sent] = await sender.deliver_due()
        attempts.append((sent.attempt, sent.status))
        assert await sender.deliver_due() == []  # not again before its time
    assert attempts == [(n, 503) for n in range(1, MAX_ATTEMPTS + 1)]
    assert [e["attempt_number"] for e in subscriber.events()] == list(range(1, MAX_ATTEMPTS + 1))
    assert len(notion_world.webhooks.dropped) == 1 and notion_world.webhooks.pending == []


async def test_faults_duplicate_reorder_and_bad_signature(
    notion_world: NotionSandbox,
    sender: NotionWebhookSender,
    subscriber: Subscriber,
    clock: FakeClock,
) -> None:
    verified(notion_world)
    first, second = a_page(notion_world, clock), a_page(notion_world, clock)
    notion_world.edit_page(first, now=clock.now(), properties=DONE)
    clock.advance(1)
    notion_world.edit_page(second, now=clock.now(), properties=DONE)
    notion_world.webhooks.fault("reorder")
    notion_world.webhooks.fault("duplicate")
    sent = await sender.deliver_due()
    assert [e["entity"]["id"] for e in subscriber.events()] == [second, second, first]
    assert sent[0].event_id == sent[1].event_id

    notion_world.edit_page(first, now=clock.now(), in_trash=True)
    notion_world.webhooks.fault("bad_signature")
    [bad] = await sender.deliver_due()
    headers, body = subscriber.received[-1]
    right = "sha256=" + hmac.new(TOKEN.encode(), body, hashlib.sha256).hexdigest()
    assert not bad.signed_right and headers["x-notion-signature"] != right
    with pytest.raises(ValueError, match="unknown webhook fault"):
        notion_world.webhooks.fault("lost")


async def test_pages_are_read_and_edited_over_the_api_as_notion_checks_them(
    notion_world: NotionSandbox, api: httpx.AsyncClient, clock: FakeClock
) -> None:
    page_id = a_page(notion_world, clock)
    url = f"{NOTION_URL}/v1/pages/{page_id}"
    page = (await api.get(url)).json()
    # A page never given a status shows its To-do group's first option, with its id.
    assert page["properties"]["Status"]["status"]["name"] == "Not started"
    assert page["in_trash"] is False and page["last_edited_time"].endswith("Z")
    source = (await api.get(f"{NOTION_URL}/v1/data_sources/ds-roadmap")).json()
    groups = {
        g["name"]: g["option_ids"] for g in source["properties"]["Status"]["status"]["groups"]
    }
    assert list(groups) == ["To-do", "In progress", "Complete"]
    done = (await api.patch(url, json={"properties": DONE})).json()
    assert done["properties"]["Status"]["status"]["id"] in groups["Complete"]

    unknown = await api.patch(url, json={"properties": {"Status": {"status": {"name": "Nope"}}}})
    assert (unknown.status_code, unknown.json()["code"]) == (400, "validation_error")
    assert (await api.patch(url, json={"in_trash": True})).json()["in_trash"] is True
    refused = await api.patch(url, json={"properties": DONE})  # Notion: unarchive first
    assert refused.status_code == 400 and "archived" in refused.json()["message"]
    assert (await api.patch(url, json={"archived": False})).json()["in_trash"] is False
    missing = await api.get(f"{NOTION_URL}/v1/pages/00000000-0000-0000-0000-000000000000")
    assert (missing.status_code, missing.json()["code"]) == (404, "object_not_found")


async def test_a_checkbox_must_be_a_boolean(notion_world: NotionSandbox, clock: FakeClock) -> None:
    notion_world.add_data_source("ds-todo", "To do", {"Name": {"type": "title"},
                                                      "Done": {"type": "checkbox"}})  # fmt: skip
    page = notion_world.store_page("ds-todo", {"Name": {"title": [{"text": {"content": "x"}}]}},
                                   [], created=clock.now())  # fmt: skip
    with pytest.raises(ValueError, match="checkbox should be a boolean"):
        notion_world.edit_page(
            page["id"], now=clock.now(), properties={"Done": {"checkbox": "yes"}}
        )
    notion_world.edit_page(page["id"], now=clock.now(), properties={"Done": {"checkbox": True}})
    assert page["properties"]["Done"] == {"checkbox": True}


async def test_the_web_pages_mark_done_button_edits_the_page_as_a_person_would(
    notion_world: NotionSandbox, api: httpx.AsyncClient, clock: FakeClock
) -> None:
    verified(notion_world)
    page_id = a_page(notion_world, clock)
    listing = (await api.get(f"{NOTION_URL}/web/live")).json()["html"]
    assert f'id="done-{page_id}"' in listing
    done = await api.post(f"{NOTION_URL}/web/pages/{page_id}/done")
    assert done.status_code == 303
    assert notion_world.pages[page_id]["properties"]["Status"] == {"status": {"name": "Done"}}
    [owed] = notion_world.webhooks.pending
    assert owed.kind == "page.properties_updated" and owed.page_id == page_id
    again = await api.post(f"{NOTION_URL}/web/pages/{page_id}/done")
    assert again.status_code == 303 and len(notion_world.webhooks.pending) == 1  # no change
    missing = await api.post(f"{NOTION_URL}/web/pages/nope/done")
    assert missing.status_code == 404


async def test_another_process_drives_the_subscription_over_http(
    notion_world: NotionSandbox, subscriber: Subscriber, clock: FakeClock
) -> None:
    async with in_process_client({"http://subscriber.test": subscriber.app()}) as to_subscriber:
        app = create_notion_emulator(notion_world, clock=clock, webhook_http=to_subscriber)
        async with in_process_client({NOTION_URL: app}) as control:
            hooks = f"{NOTION_URL}/_sandbox/webhooks"
            state = (await control.post(hooks, json={"url": HOOK, "token": TOKEN})).json()
            assert (state["url"], state["verified"], state["handshake_owed"]) == (HOOK, False, True)
            [handshake] = (await control.post(f"{hooks}/deliver")).json()["sent"]
            assert (handshake["kind"], handshake["status"]) == ("verification", 200)
            refused = await control.post(hooks, json={"verify": "secret_wrong-guess"})
            assert refused.status_code == 400
            assert (await control.post(hooks, json={"verify": TOKEN})).json()["verified"]
            bad = await control.post(hooks, json={"fault": "lost"})
            assert bad.status_code == 400 and "unknown webhook fault" in bad.json()["error"]
            await control.post(hooks, json={"fault": "duplicate"})
            notion_world.edit_page(a_page(notion_world, clock), now=clock.now(), properties=DONE)
            sent = (await control.post(f"{hooks}/deliver")).json()["sent"]
            assert [(d["kind"], d["status"]) for d in sent] == [
                ("page.properties_updated", 200)
            ] * 2
            state = (await control.get(hooks)).json()
            assert state["pending"] == 0 and len(state["deliveries"]) == 3
