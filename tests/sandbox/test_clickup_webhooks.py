"""The ClickUp emulator's webhooks, as ClickUp documents them: registration per user, signed
deliveries, health (failing, dropped events, suspended), and the faults tests inject."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from sandbox.clickup import ClickUpSandbox, create_clickup_emulator
from sandbox.clickup_webhooks import ClickUpWebhookApi
from sandbox.server import bind_socket, socket_url
from tests.emulators import CLICKUP_URL
from tests.fakes import FakeClock

API = f"{CLICKUP_URL}/api/v2"
RECEIVER = "http://receiver.test/hooks"


class Receiver:
    """Our endpoint as the emulator sees it: answers `status`, keeps what it got."""

    def __init__(self) -> None:
        self.status = 200
        self.got: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.got.append(request)
        return httpx.Response(self.status)

    def bodies(self) -> list[dict[str, Any]]:
        return [json.loads(r.content) for r in self.got]


@pytest.fixture
def receiver() -> Receiver:
    return Receiver()


@pytest.fixture
async def api(clickup_world: ClickUpSandbox, clock: FakeClock) -> AsyncIterator[httpx.AsyncClient]:
    app = create_clickup_emulator(clickup_world, clock=clock)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app)) as client:
        yield client


@pytest.fixture
async def sender(receiver: Receiver) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=httpx.MockTransport(receiver)) as client:
        yield client


def auth(world: ClickUpSandbox, user_id: int = 101) -> dict[str, str]:
    return {"Authorization": f"Bearer {world.issue_token(user_id, ['9001'])}"}


async def register(api: httpx.AsyncClient, headers: dict[str, str], **body: Any) -> dict[str, Any]:
    answer = await api.post(
        f"{API}/team/9001/webhook",
        json={"endpoint": RECEIVER, "events": ["taskStatusUpdated", "taskDeleted"], **body},
        headers=headers,
    )
    assert answer.status_code == 200, answer.text
    webhook: dict[str, Any] = answer.json()["webhook"]
    return webhook


def task_in(world: ClickUpSandbox, list_id: str = "l1") -> str:
    return str(
        world.store_task(list_id, "Ship it", markdown="", creator_id=101, created_ms=1)["id"]
    )


async def test_a_webhook_is_its_users_own_and_one_configuration_is_made_once(
    api: httpx.AsyncClient, clickup_world: ClickUpSandbox
) -> None:
    ana, bo = auth(clickup_world, 101), auth(clickup_world, 102)
    webhook = await register(api, ana)
    assert webhook["health"] == {"status": "active", "fail_count": 0}
    assert len(webhook["secret"]) == 64
    again = await api.post(
        f"{API}/team/9001/webhook", headers=ana,
        json={"endpoint": RECEIVER, "events": ["taskDeleted", "taskStatusUpdated"]},
    )  # fmt: skip
    assert (again.status_code, again.json()["err"]) == (400, "Webhook configuration already exists")
    bad = await api.post(
        f"{API}/team/9001/webhook", headers=ana, json={"endpoint": RECEIVER, "events": ["nope"]}
    )
    assert bad.status_code == 400
    foreign = await api.post(
        f"{API}/team/4242/webhook", headers=ana, json={"endpoint": RECEIVER, "events": ["*"]}
    )
    assert foreign.status_code == 401
    # Bo sees none of Ana's webhooks and cannot remove them.
    assert (await api.get(f"{API}/team/9001/webhook", headers=bo)).json() == {"webhooks": []}
    assert (await api.delete(f"{API}/webhook/{webhook['id']}", headers=bo)).status_code == 401
    [listed] = (await api.get(f"{API}/team/9001/webhook", headers=ana)).json()["webhooks"]
    assert listed["id"] == webhook["id"]
    assert (await api.delete(f"{API}/webhook/{webhook['id']}", headers=ana)).status_code == 200
    assert (await api.delete(f"{API}/webhook/{webhook['id']}", headers=ana)).status_code == 404


async def test_a_status_change_is_delivered_signed_with_its_type(
    api: httpx.AsyncClient,
    clickup_world: ClickUpSandbox,
    receiver: Receiver,
    sender: httpx.AsyncClient,
    clock: FakeClock,
) -> None:
    clickup_world.add_list("l9", "Shipping", space_id="s1", statuses=[
        {"status": "backlog", "color": "#000", "type": "open", "orderindex": 0},
        {"status": "shipped", "color": "#0f0", "type": "done", "orderindex": 1},
    ])  # fmt: skip
    headers = auth(clickup_world)
    webhook = await register(api, headers)
    task_id = task_in(clickup_world, "l9")
    refused = await api.put(f"{API}/task/{task_id}", json={"status": "done"}, headers=headers)
    assert refused.status_code == 400  # not a status of this list
    moved = await api.put(f"{API}/task/{task_id}", json={"status": "Shipped"}, headers=headers)
    assert moved.json()["status"]["status"] == "shipped"
    tool = ClickUpWebhookApi(clickup_world, clock)
    assert await tool.deliver(sender) == 1

    [request] = receiver.got
    expected = hmac.new(webhook["secret"].encode(), request.content, hashlib.sha256).hexdigest()
    assert request.headers["x-signature"] == expected
    [body] = receiver.bodies()
    assert (body["webhook_id"], body["event"], body["task_id"]) == (
        webhook["id"], "taskStatusUpdated", task_id,
    )  # fmt: skip
    [history] = body["history_items"]
    assert history["before"]["type"] == "open" and history["after"]["type"] == "done"
    assert history["date"] == str(int(clock.now().timestamp() * 1000))

    assert (await api.delete(f"{API}/task/{task_id}", headers=headers)).status_code == 204
    await tool.deliver(sender)
    deleted = receiver.bodies()[-1]
    assert deleted["event"] == "taskDeleted" and "history_items" not in deleted


async def test_failing_then_dropped_then_suspended_as_clickup_documents(
    api: httpx.AsyncClient,
    clickup_world: ClickUpSandbox,
    receiver: Receiver,
    sender: httpx.AsyncClient,
    clock: FakeClock,
) -> None:
    clickup_world.webhook_book.suspend_after = 2
    headers = auth(clickup_world)
    webhook = await register(api, headers)
    tool = ClickUpWebhookApi(clickup_world, clock)
    receiver.status = 500
    tool.set_status(task_in(clickup_world), "done")
    for _ in range(4):
        await tool.deliver(sender)
    stored = clickup_world.webhook_book.webhooks[webhook["id"]]
    assert stored["health"] == {"status": "failing", "fail_count": 0}
    await tool.deliver(sender)  # the fifth attempt: the event is dropped
    assert stored["health"] == {"status": "failing", "fail_count": 1}
    assert clickup_world.webhook_book.queue == [] and len(receiver.got) == 5

    receiver.status = 200  # recovered: active again, the dropped event is not resent
    tool.set_status(task_in(clickup_world), "done")
    assert await tool.deliver(sender) == 1
    assert stored["health"] == {"status": "active", "fail_count": 0}

    receiver.status = 503
    for task in (task_in(clickup_world), task_in(clickup_world)):
        tool.set_status(task, "done")
    for _ in range(5):
        await tool.deliver(sender)
    assert stored["health"]["status"] == "suspended"
    sent = len(receiver.got)
    tool.set_status(task_in(clickup_world), "done")
    await tool.deliver(sender)
    assert len(receiver.got) == sent  # a suspended webhook is sent nothing
    reactivated = await api.put(
        f"{API}/webhook/{webhook['id']}", json={"status": "active"}, headers=headers
    )
    assert reactivated.json()["webhook"]["health"] == {"status": "active", "fail_count": 0}


async def test_410_suspends_at_once_and_an_unreachable_receiver_counts_as_failing(
    api: httpx.AsyncClient,
    clickup_world: ClickUpSandbox,
    receiver: Receiver,
    sender: httpx.AsyncClient,
    clock: FakeClock,
) -> None:
    headers = auth(clickup_world)
    gone = await register(api, headers)
    receiver.status = 410
    tool = ClickUpWebhookApi(clickup_world, clock)
    tool.set_status(task_in(clickup_world), "done")
    await tool.deliver(sender)
    assert clickup_world.webhook_book.webhooks[gone["id"]]["health"]["status"] == "suspended"

    closed = bind_socket()
    url = socket_url(closed)
    closed.close()  # nothing listens there: we are down
    down = await register(api, headers, endpoint=f"{url}/webhooks/clickup")
    tool.set_status(task_in(clickup_world), "done")
    async with httpx.AsyncClient() as network:
        assert await tool.deliver(network) == 0
    assert clickup_world.webhook_book.webhooks[down["id"]]["health"]["status"] == "failing"
    assert clickup_world.webhook_book.log[-1]["status"] is None


async def test_faults_duplicate_reorder_forge_and_drop_deliveries(
    api: httpx.AsyncClient,
    clickup_world: ClickUpSandbox,
    receiver: Receiver,
    sender: httpx.AsyncClient,
    clock: FakeClock,
) -> None:
    await register(api, auth(clickup_world))
    tool = ClickUpWebhookApi(clickup_world, clock)
    faults = clickup_world.faults
    faults.add("webhook_duplicate", method="WEBHOOK", path="taskStatusUpdated")
    faults.add("webhook_out_of_order", method="WEBHOOK", path="taskStatusUpdated")
    first, second = task_in(clickup_world), task_in(clickup_world)
    tool.set_status(first, "done")
    tool.set_status(second, "done")
    await tool.deliver(sender)
    assert [b["task_id"] for b in receiver.bodies()] == [second, first, first]

    faults.add("webhook_bad_signature", method="WEBHOOK")
    third = task_in(clickup_world)
    tool.set_status(third, "in progress")
    await tool.deliver(sender)
    forged, real = receiver.got[-2:]
    assert json.loads(forged.content)["history_items"][0]["after"]["type"] == "closed"
    assert forged.headers["x-signature"] != real.headers["x-signature"]
    assert [e["forged"] for e in clickup_world.webhook_book.log[-2:]] == [True, False]

    faults.add("webhook_down", method="WEBHOOK")
    tool.set_status(third, "done")
    sent = len(receiver.got)
    assert await tool.deliver(sender) == 0 and len(receiver.got) == sent
    assert await tool.deliver(sender) == 1  # retried


async def test_the_web_page_marks_a_task_done(
    api: httpx.AsyncClient, clickup_world: ClickUpSandbox
) -> None:
    await register(api, auth(clickup_world))
    task_id = task_in(clickup_world)
    page = await api.get(f"{CLICKUP_URL}/web/")
    assert f'id="done-{task_id}"' in page.text and "Mark done" in page.text
    done = await api.post(f"{CLICKUP_URL}/web/tasks/{task_id}/done")
    assert (done.status_code, done.headers["location"]) == (303, f"/web/#task-{task_id}")
    assert clickup_world.tasks[task_id]["status"]["type"] == "done"
    assert [d.event for d in clickup_world.webhook_book.queue] == ["taskStatusUpdated"]
    assert f'id="done-{task_id}"' not in (await api.get(f"{CLICKUP_URL}/web/")).text
    assert (await api.post(f"{CLICKUP_URL}/web/tasks/nope/done")).status_code == 404
