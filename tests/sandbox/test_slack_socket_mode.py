"""Socket Mode in the Slack emulator, spoken to by a bare WebSocket client (aiohttp) over a
real socket: the one-time URL from apps.connections.open, hello, envelopes and acks, late acks,
disconnects."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from sandbox.server import bind_socket, serve_apps, socket_url
from sandbox.slack import SlackSandbox, create_slack_emulator
from sandbox.slack_requests import app_home_opened, event_callback, slash_command
from sandbox.slack_socket import AckTimeout, socket_payload
from tests.emulators import SLACK_TEAM
from tests.fakes import FakeClock

APP_TOKEN = "xapp-1-A0SCRUMY-socket-test"


@pytest.fixture
async def slack_url(slack_world: SlackSandbox, clock: FakeClock) -> AsyncIterator[str]:
    slack_world.installs.add_app_token(APP_TOKEN)
    sock = bind_socket()
    async with serve_apps((create_slack_emulator(slack_world, clock=clock), sock)):
        yield socket_url(sock)


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as client:
        yield client


async def open_url(session: aiohttp.ClientSession, slack_url: str) -> str:
    headers = {"Authorization": f"Bearer {APP_TOKEN}"}
    async with session.post(f"{slack_url}/api/apps.connections.open", headers=headers) as answer:
        body = await answer.json()
    assert body["ok"], body
    return str(body["url"])


@contextlib.asynccontextmanager
async def connected(
    session: aiohttp.ClientSession, slack_url: str
) -> AsyncIterator[tuple[aiohttp.ClientWebSocketResponse, dict[str, Any]]]:
    """A connection and the hello it was greeted with."""
    async with session.ws_connect(await open_url(session, slack_url)) as ws:
        hello = json.loads(await ws.receive_str(timeout=3))
        yield ws, hello


async def next_json(ws: aiohttp.ClientWebSocketResponse) -> dict[str, Any]:
    message: dict[str, Any] = json.loads(await ws.receive_str(timeout=3))
    return message


async def test_the_url_is_the_emulators_own_and_greets_with_hello(
    slack_world: SlackSandbox, slack_url: str, session: aiohttp.ClientSession
) -> None:
    url = await open_url(session, slack_url)
    assert url.startswith(slack_url.replace("http://", "ws://") + "/link/?ticket=")
    async with session.ws_connect(url) as ws:
        hello = await next_json(ws)
        assert hello["type"] == "hello" and hello["num_connections"] == 1
        assert hello["connection_info"] == {"app_id": "A0SCRUMY"}
        assert set(hello["debug_info"]) == {
            "host", "started", "build_number", "approximate_connection_time",
        }  # fmt: skip
        async with connected(session, slack_url) as (_, second):
            assert second["num_connections"] == 2
        await slack_world.socket.wait_for_close(2)
    await slack_world.socket.wait_for_close(1)
    assert [c.number for c in slack_world.socket.connections] == [1, 2]


async def test_a_url_serves_once_and_only_when_issued(
    slack_world: SlackSandbox, slack_url: str, session: aiohttp.ClientSession
) -> None:
    url = await open_url(session, slack_url)
    async with session.ws_connect(url) as ws:
        assert (await next_json(ws))["type"] == "hello"
    base = slack_url.replace("http://", "ws://")
    for refused in (url, f"{base}/link/?ticket=made-up&app_id=A0SCRUMY", f"{base}/link/"):
        with pytest.raises(aiohttp.WSServerHandshakeError) as error:
            await session.ws_connect(refused)
        assert error.value.status == 403
    assert slack_world.socket.refused == 3


async def test_each_envelope_waits_for_its_ack(
    slack_world: SlackSandbox, slack_url: str, session: aiohttp.ClientSession
) -> None:
    async with connected(session, slack_url) as (ws, _):
        command = slash_command("/tasks", "list", team_id=SLACK_TEAM, user_id="U0ANA",
                                channel_id="C0GENERAL", trigger_id="1.2.3")  # fmt: skip
        kind, payload = socket_payload(command)
        assert kind == "slash_commands" and payload["command"] == "/tasks"
        delivery = asyncio.create_task(slack_world.socket.deliver(kind, payload))
        envelope = await next_json(ws)
        assert envelope["type"] == "slash_commands" and envelope["payload"] == payload
        assert envelope["accepts_response_payload"] is True
        await ws.send_str(json.dumps({"envelope_id": envelope["envelope_id"],
                                      "payload": {"text": "Your tasks"}}))  # fmt: skip
        assert await delivery == {"text": "Your tasks"}

        kind, payload = socket_payload(
            event_callback(app_home_opened("U0ANA", "D0ANA"), team_id=SLACK_TEAM)
        )
        assert kind == "events_api"
        delivery = asyncio.create_task(slack_world.socket.deliver(kind, payload))
        event = await next_json(ws)
        assert event["accepts_response_payload"] is False
        assert (event["retry_attempt"], event["retry_reason"]) == (0, "")
        await ws.send_str(json.dumps({"envelope_id": event["envelope_id"]}))
        assert await delivery is None

    acks = slack_world.socket.acks
    assert [(a.kind, a.connection, a.late) for a in acks] == [
        ("slash_commands", 1, False), ("events_api", 1, False),
    ]  # fmt: skip
    assert all(0 <= a.seconds < 3 for a in acks)
    assert [e["envelope_id"] for e in slack_world.socket.envelopes] == [
        envelope["envelope_id"], event["envelope_id"],
    ]  # fmt: skip


async def test_an_ack_too_late_is_kept_as_late(
    slack_world: SlackSandbox, slack_url: str, session: aiohttp.ClientSession
) -> None:
    socket = slack_world.socket
    async with connected(session, slack_url) as (ws, _):
        delivery = asyncio.create_task(socket.deliver("interactive", {"type": "block_actions"},
                                                      within=0.2))  # fmt: skip
        late = await next_json(ws)
        with pytest.raises(AckTimeout):
            await delivery
        await ws.send_str(json.dumps({"envelope_id": late["envelope_id"]}))
        await ws.send_str(json.dumps({"envelope_id": "nobody-sent-this"}))
        # Replies are read in order: once the next envelope is acked, the late one was seen.
        delivery = asyncio.create_task(socket.deliver("events_api", {"type": "event_callback"}))
        await ws.send_str(json.dumps({"envelope_id": (await next_json(ws))["envelope_id"]}))
        assert await delivery is None
    assert [(a.kind, a.late) for a in socket.acks] == [
        ("interactive", True), ("events_api", False),
    ]  # fmt: skip
    assert socket.stray == [{"envelope_id": "nobody-sent-this"}]
    with pytest.raises(AckTimeout, match="no open connection"):
        await socket.deliver("events_api", {}, within=0.05)
    with pytest.raises(ValueError, match="unknown envelope type"):
        await socket.deliver("hello", {})


async def test_a_refresh_moves_envelopes_to_the_next_connection(
    slack_world: SlackSandbox, slack_url: str, session: aiohttp.ClientSession
) -> None:
    socket = slack_world.socket
    async with connected(session, slack_url) as (old, _):
        assert await socket.disconnect("refresh_requested") == 1
        told = await next_json(old)
        assert told == {"type": "disconnect", "reason": "refresh_requested",
                        "debug_info": {"host": "applink-sandbox-1"}}  # fmt: skip
        # The old connection is still open but gets nothing more; the next envelope waits for
        # a new one.
        delivery = asyncio.create_task(socket.deliver("events_api", {"type": "event_callback"}))
        async with connected(session, slack_url) as (new, hello):
            assert hello["num_connections"] == 2
            envelope = await next_json(new)
            await new.send_str(json.dumps({"envelope_id": envelope["envelope_id"]}))
            assert await delivery is None
    assert [a.connection for a in socket.acks] == [2]


async def test_link_disabled_closes_the_connection(
    slack_world: SlackSandbox, slack_url: str, session: aiohttp.ClientSession
) -> None:
    async with connected(session, slack_url) as (ws, _):
        assert await slack_world.socket.disconnect("link_disabled") == 1
        assert (await next_json(ws))["reason"] == "link_disabled"
        closing = await ws.receive(timeout=3)
        assert closing.type in {aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED}
    await slack_world.socket.wait_for_close(1)
    with pytest.raises(ValueError, match="unknown disconnect reason"):
        await slack_world.socket.disconnect("tired")
