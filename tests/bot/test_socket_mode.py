"""Socket Mode end to end: a Bolt app run by `run_socket_mode` against the Slack emulator served
on a real socket. The emulator opens the URL, delivers a command, an event and a click, asks
for a refresh; the app acks each within Slack's 3 seconds and reconnects by itself."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from slack_bolt.async_app import AsyncAck, AsyncApp

from bot.slack_client import slack_web_client
from bot.socket_mode import SocketModeError, SocketModeRefused, run_socket_mode
from sandbox.server import bind_socket, serve_apps, socket_url
from sandbox.slack import SlackSandbox, create_slack_emulator
from sandbox.slack_requests import app_home_opened, block_actions, event_callback, slash_command
from sandbox.slack_socket import socket_payload
from tests.emulators import SLACK_BOT_TOKEN, SLACK_TEAM
from tests.fakes import FakeClock

APP_TOKEN = "xapp-1-A0SCRUMY-1234-socketsecret"
ANA = "U0ANA"
STOPPED_WITHIN = 10.0  # seconds for run_socket_mode to close once told to stop


@pytest.fixture
async def api_url(slack_world: SlackSandbox, clock: FakeClock) -> AsyncIterator[str]:
    """The Slack emulator on 127.0.0.1; its Web API base URL, as SLACK_API_URL says it."""
    slack_world.installs.add_app_token(APP_TOKEN)
    sock = bind_socket()
    async with serve_apps((create_slack_emulator(slack_world, clock=clock), sock)):
        yield f"{socket_url(sock)}/api/"


@dataclass
class Heard:
    """What the listeners saw, each resolved once."""

    home_opened_by: asyncio.Future[str] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )
    clicked: asyncio.Future[str] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )


def tiny_app(api_url: str, heard: Heard) -> AsyncApp:
    """A Bolt app with one command, one event and one button; the bot token is the client's."""
    app = AsyncApp(
        client=slack_web_client(api_url, token=SLACK_BOT_TOKEN),
        signing_secret="not-checked-over-the-socket",
    )

    async def tasks(ack: AsyncAck, command: dict[str, Any]) -> None:
        await ack(text=f"Your tasks, <@{command['user_id']}>")

    async def home(event: dict[str, Any]) -> None:
        heard.home_opened_by.set_result(str(event["user"]))

    async def approve(ack: AsyncAck, body: dict[str, Any]) -> None:
        await ack()
        heard.clicked.set_result(str(body["actions"][0]["value"]))

    app.command("/tasks")(tasks)
    app.event("app_home_opened")(home)
    app.action("approve")(approve)
    return app


@contextlib.asynccontextmanager
async def running(
    app: AsyncApp,
    api_url: str,
    app_token: str = APP_TOKEN,
    on_ack: Callable[[float], None] | None = None,
) -> AsyncIterator[None]:
    stop = asyncio.Event()
    task = asyncio.create_task(
        run_socket_mode(app, app_token=app_token, api_url=api_url, stop=stop, on_ack=on_ack)
    )
    try:
        yield
    finally:
        stop.set()
        await asyncio.wait_for(task, STOPPED_WITHIN)


def command(text: str) -> tuple[str, dict[str, Any]]:
    body = slash_command("/tasks", text, team_id=SLACK_TEAM, user_id=ANA,
                         channel_id="C0GENERAL", trigger_id="1700000000.1.abc")  # fmt: skip
    return socket_payload(body)


def click(value: str) -> tuple[str, dict[str, Any]]:
    action = {"action_id": "approve", "block_id": "row-1", "type": "button", "value": value}
    body = block_actions(action, team_id=SLACK_TEAM, user_id=ANA, trigger_id="1700000000.2.abc",
                         channel_id="C0GENERAL", message={"ts": "1700000000.000100"})  # fmt: skip
    return socket_payload(body)


async def test_a_command_an_event_and_a_click_are_acked_in_time(
    slack_world: SlackSandbox, api_url: str
) -> None:
    heard = Heard()
    socket = slack_world.socket
    timed: list[float] = []
    async with running(tiny_app(api_url, heard), api_url, on_ack=timed.append):
        await socket.wait_for_connection(1)
        assert await socket.deliver(*command("list")) == {"text": f"Your tasks, <@{ANA}>"}
        event = socket_payload(event_callback(app_home_opened(ANA, "D0ANA"), team_id=SLACK_TEAM))
        assert await socket.deliver(*event) is None
        assert await socket.deliver(*click("task-7")) is None
        assert await asyncio.wait_for(heard.home_opened_by, 3) == ANA
        assert await asyncio.wait_for(heard.clicked, 3) == "task-7"
    assert [(a.kind, a.connection, a.late) for a in socket.acks] == [
        ("slash_commands", 1, False), ("events_api", 1, False), ("interactive", 1, False),
    ]  # fmt: skip
    assert all(a.seconds < 3 for a in socket.acks)
    assert len(timed) == 3 and all(0 <= seconds < 3 for seconds in timed)  # the app's own count
    # The URL came from the emulator, and so did the bot's identity (Bolt's auth.test).
    assert slack_world.requests["apps.connections.open"] == 1
    assert slack_world.requests["auth.test"] >= 1
    # Stopping closed the connection.
    await socket.wait_for_close(1)
    assert socket.refused == 0


async def test_a_refresh_reconnects_and_the_next_envelope_is_acked(
    slack_world: SlackSandbox, api_url: str
) -> None:
    socket = slack_world.socket
    async with running(tiny_app(api_url, Heard()), api_url):
        await socket.wait_for_connection(1)
        assert await socket.deliver(*command("before")) is not None
        assert await socket.disconnect("refresh_requested") == 1
        await socket.wait_for_connection(2)
        await socket.wait_for_close(1)  # the app let the old connection go itself
        assert await socket.deliver(*command("after")) == {"text": f"Your tasks, <@{ANA}>"}
    assert slack_world.requests["apps.connections.open"] == 2
    assert [(a.connection, a.late) for a in socket.acks] == [(1, False), (2, False)]
    assert all(a.seconds < 3 for a in socket.acks)
    assert socket.refused == 0


async def test_a_wrong_app_token_fails_clearly(
    slack_world: SlackSandbox, api_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    wrong = "xapp-1-A0SCRUMY-9999-notthetoken"
    caplog.set_level(logging.DEBUG)
    with pytest.raises(SocketModeRefused) as refused:
        async with running(tiny_app(api_url, Heard()), api_url, app_token=wrong):
            pass
    assert refused.value.error == "invalid_auth"
    assert "invalid_auth" in str(refused.value) and "SLACK_APP_TOKEN" in str(refused.value)
    assert wrong not in str(refused.value) and wrong not in caplog.text
    assert slack_world.socket.connections == []


async def test_a_bot_token_in_place_of_the_app_token_is_named(api_url: str) -> None:
    with pytest.raises(SocketModeRefused, match="not_allowed_token_type"):
        async with running(tiny_app(api_url, Heard()), api_url, app_token=SLACK_BOT_TOKEN):
            pass


class Spent(dict[str, str]):
    """Tickets that are spent as soon as they are issued: every connection is refused."""

    def __setitem__(self, ticket: str, app_id: str) -> None:
        pass


async def test_stopping_while_the_connection_is_refused_ends_at_once(
    slack_world: SlackSandbox, api_url: str
) -> None:
    # The SDK tries a refused connection again every ping interval (10 s), forever; stopping
    # must not wait for it.
    socket = slack_world.socket
    socket.tickets = Spent()
    async with running(tiny_app(api_url, Heard()), api_url):
        await socket.wait_until(lambda: socket.refused >= 1, within=5)
    assert socket.connections == []


async def test_no_slack_to_reach_fails_clearly() -> None:
    sock = bind_socket()
    url = f"{socket_url(sock)}/api/"
    sock.close()  # nothing listens there now
    with pytest.raises(SocketModeError, match="could not be reached"):
        async with running(tiny_app(url, Heard()), url):
            pass
