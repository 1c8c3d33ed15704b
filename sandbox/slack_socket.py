"""Socket Mode in the Slack emulator: the WebSocket behind `apps.connections.open`'s URL.

Slack's side of the protocol, as docs.slack.dev "Using Socket Mode" describes it and
`slack_sdk.socket_mode` speaks it:

- `apps.connections.open` (`sandbox.slack_install`) answers a URL carrying a one-time
  `ticket`. Slack's is `wss://wss.slack.com/link/?ticket=…` (docs.slack.dev); the emulator's is
  `ws://<the host it was asked on>/link/?ticket=…&app_id=…`, because over loopback there is no
  TLS (`wss://` when it was asked over https).
- `/link/` takes a ticket once. A ticket that was never issued, or was used already, is
  refused before the handshake completes (HTTP 403), and counted in `refused`.
- On connecting, the app is sent `{"type": "hello", "num_connections": n, "debug_info":
  {"host", "started", "build_number", "approximate_connection_time"}, "connection_info":
  {"app_id"}}`.
- A test pushes an envelope with `await world.socket.deliver(kind, payload)`: `kind` is
  `events_api` (`accepts_response_payload: false`, with `retry_attempt` and `retry_reason`),
  `slash_commands` or `interactive` (`accepts_response_payload: true`). It goes to the newest
  open connection and waits for the app's ack, `{"envelope_id": …, "payload": …optional}`, at
  most `within` seconds (Slack's 3 by default); it answers the ack's payload (None when the
  ack carried none) or raises `AckTimeout`. Every ack is kept in `acks` with the seconds it
  took (on the event loop's clock: the 3 seconds are real ones) and the connection it came
  on; one that comes after its deadline is kept with `late=True`, and a reply to no envelope
  in `stray`.
- `await world.socket.disconnect("refresh_requested" | "warning" | "link_disabled")` sends
  `{"type": "disconnect", "reason": …, "debug_info": {"host"}}` on every open connection.
  Those connections get no more envelopes: the app is expected to open a new one (through
  `apps.connections.open` again) and close the old one itself; `link_disabled` (Socket Mode
  turned off in the app's settings) also closes them.
- `await world.socket.wait_for_connection(n)` waits until the n-th connection is open (1 is
  the first), to see an app reconnect; `wait_for_close(n)` until it is closed;
  `wait_until(predicate)` for anything else about the connections (`refused`, …).
- `socket_payload(body)` turns a request of `sandbox.slack_requests` (a slash command's form,
  an interaction, an event callback) into the envelope type and payload Slack sends instead.

Not emulated: Slack's limit of 10 connections per app, redelivery of an envelope that was not
acked (Slack retries events; a test sees `AckTimeout` and may deliver again with
`retry_attempt`), and `debug_reconnects`.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar
from urllib.parse import parse_qsl

from starlette.routing import BaseRoute, WebSocketRoute
from starlette.websockets import WebSocket

from primitives.clock import Clock
from sandbox.slack_requests import JSON, SlackBody

ENVELOPE_KINDS = frozenset({"events_api", "slash_commands", "interactive"})
DISCONNECT_REASONS = frozenset({"refresh_requested", "warning", "link_disabled"})
ACK_SECONDS = 3.0  # Slack's limit for acknowledging an envelope
LINK_PATH = "/link/"
POLICY_VIOLATION = 1008  # a close before accepting: uvicorn answers the handshake with 403

_T = TypeVar("_T")


class AckTimeout(TimeoutError):
    """No ack for an envelope within its deadline (or no connection to send it on)."""


@dataclass(frozen=True)
class Ack:
    """The app's answer to one envelope."""

    envelope_id: str
    kind: str
    connection: int  # the connection it came on (1 is the first opened)
    payload: dict[str, Any] | None  # the response payload, None when the ack had none
    seconds: float  # from sending the envelope to its ack
    late: bool = False  # after the deliverer stopped waiting


@dataclass
class SocketConnection:
    """One WebSocket an app opened with a ticket."""

    number: int
    app_id: str
    websocket: WebSocket
    draining: bool = False  # told to disconnect: it gets no more envelopes
    closed: bool = False


@dataclass
class _Pending:
    kind: str
    sent: float
    answer: asyncio.Future[Ack]


@dataclass
class SlackSocket:
    """Tickets, connections, envelopes sent and acks received."""

    host: str = "applink-sandbox-1"  # debug_info.host
    connection_time: int = 18060  # debug_info.approximate_connection_time, seconds
    tickets: dict[str, str] = field(default_factory=dict)  # unused ticket -> app id
    connections: list[SocketConnection] = field(default_factory=list)
    envelopes: list[dict[str, Any]] = field(default_factory=list)  # every envelope sent
    acks: list[Ack] = field(default_factory=list)
    stray: list[dict[str, Any]] = field(default_factory=list)  # replies to no envelope
    refused: int = 0  # connections refused for their ticket
    _pending: dict[str, _Pending] = field(default_factory=dict)
    _overdue: dict[str, _Pending] = field(default_factory=dict)
    _changed: asyncio.Condition = field(default_factory=asyncio.Condition)

    def issue_ticket(self, app_id: str) -> str:
        """A one-time ticket for the app's next connection (apps.connections.open)."""
        ticket = secrets.token_hex(16)
        self.tickets[ticket] = app_id
        return ticket

    def open_connections(self, app_id: str | None = None) -> list[SocketConnection]:
        return [
            c for c in self.connections if not c.closed and (app_id is None or c.app_id == app_id)
        ]

    async def deliver(
        self,
        kind: str,
        payload: dict[str, Any],
        *,
        within: float = ACK_SECONDS,
        retry_attempt: int = 0,
        retry_reason: str = "",
    ) -> dict[str, Any] | None:
        """Send an envelope on the newest open connection and wait for its ack; the ack's
        payload. Waits up to `within` seconds for a connection, then as long for the ack."""
        if kind not in ENVELOPE_KINDS:
            raise ValueError(f"unknown envelope type {kind!r}")
        envelope: dict[str, Any] = {
            "envelope_id": str(uuid.uuid4()),
            "type": kind,
            "payload": payload,
            "accepts_response_payload": kind != "events_api",
        }
        if kind == "events_api":
            envelope["retry_attempt"] = retry_attempt
            envelope["retry_reason"] = retry_reason
        loop = asyncio.get_running_loop()
        envelope_id = str(envelope["envelope_id"])
        pending = _Pending(kind, 0.0, loop.create_future())
        while True:
            try:
                connection = await self.wait_until(self._live_connection, within=within)
            except TimeoutError:
                raise AckTimeout(
                    f"no open connection for a {kind} envelope in {within} s"
                ) from None
            pending.sent = loop.time()
            self._pending[envelope_id] = pending
            try:
                await connection.websocket.send_text(json.dumps(envelope))
                break
            except (RuntimeError, OSError):  # it closed under us: try the next one
                connection.closed = True
                self._pending.pop(envelope_id, None)
        self.envelopes.append(envelope)
        try:
            ack = await asyncio.wait_for(asyncio.shield(pending.answer), within)
        except TimeoutError:
            self._overdue[envelope_id] = self._pending.pop(envelope_id, pending)
            raise AckTimeout(f"no ack for {kind} envelope {envelope_id} in {within} s") from None
        return ack.payload

    async def disconnect(self, reason: str = "refresh_requested") -> int:
        """Tell every open connection to go (Slack's `disconnect` message); the number told.
        `link_disabled` closes them too."""
        if reason not in DISCONNECT_REASONS:
            raise ValueError(f"unknown disconnect reason {reason!r}")
        message = json.dumps({"type": "disconnect", "reason": reason,
                              "debug_info": {"host": self.host}})  # fmt: skip
        told = 0
        for connection in self.open_connections():
            if connection.draining:
                continue
            connection.draining = True
            try:
                await connection.websocket.send_text(message)
                if reason == "link_disabled":
                    await connection.websocket.close()
            except (RuntimeError, OSError):
                connection.closed = True
                continue
            told += 1
        await self._notify()
        return told

    async def wait_for_connection(self, number: int, *, within: float = 10.0) -> SocketConnection:
        """The `number`-th connection (1 is the first), once it is open and greeted."""

        def opened() -> SocketConnection | None:
            return self.connections[number - 1] if len(self.connections) >= number else None

        return await self.wait_until(opened, within=within, what=f"no connection number {number}")

    async def wait_for_close(self, number: int, *, within: float = 10.0) -> None:
        """Until the `number`-th connection is closed (by either side)."""
        connection = await self.wait_for_connection(number, within=within)
        await self.wait_until(lambda: connection.closed or None, within=within, what="still open")

    def _live_connection(self) -> SocketConnection | None:
        live = [c for c in self.open_connections() if not c.draining]
        return live[-1] if live else None

    async def wait_until(
        self, ready: Callable[[], _T | None], *, within: float = 10.0, what: str = "not yet"
    ) -> _T:
        """What `ready()` answers once it is truthy, asked again whenever a connection opens,
        closes, is refused or is told to go; `TimeoutError` after `within` seconds."""
        async with self._changed:
            try:
                found = await asyncio.wait_for(self._changed.wait_for(ready), within)
            except TimeoutError:
                raise TimeoutError(f"{what} after {within} s") from None
        assert found is not None
        return found

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    def _take_reply(self, connection: SocketConnection, text: str) -> None:
        try:
            reply = json.loads(text)
        except ValueError:
            reply = None
        if not isinstance(reply, dict):
            self.stray.append({"text": text})
            return
        envelope_id = str(reply.get("envelope_id", ""))
        pending = self._pending.pop(envelope_id, None)
        late = pending is None
        if pending is None:
            pending = self._overdue.pop(envelope_id, None)
        if pending is None:
            self.stray.append(reply)
            return
        payload = reply.get("payload")
        ack = Ack(
            envelope_id=envelope_id,
            kind=pending.kind,
            connection=connection.number,
            payload=payload if isinstance(payload, dict) else None,
            seconds=asyncio.get_running_loop().time() - pending.sent,
            late=late,
        )
        self.acks.append(ack)
        if not pending.answer.done():
            pending.answer.set_result(ack)

    async def serve(self, websocket: WebSocket, clock: Clock) -> None:
        """One connection: the ticket, hello, then acks until the app closes it."""
        ticket = websocket.query_params.get("ticket", "")
        app_id = self.tickets.pop(ticket, None)
        if app_id is None or websocket.query_params.get("app_id", app_id) != app_id:
            self.refused += 1
            await websocket.close(code=POLICY_VIOLATION)
            await self._notify()
            return
        await websocket.accept()
        connection = SocketConnection(len(self.connections) + 1, app_id, websocket)
        hello = {
            "type": "hello",
            "num_connections": len(self.open_connections(app_id)) + 1,
            "debug_info": {
                "host": self.host,
                "started": clock.now().strftime("%Y-%m-%d %H:%M:%S.%f")[:-3],
                "build_number": 1,
                "approximate_connection_time": self.connection_time,
            },
            "connection_info": {"app_id": app_id},
        }
        await websocket.send_text(json.dumps(hello))
        self.connections.append(connection)
        await self._notify()
        try:
            while True:
                message = await websocket.receive()
                if message["type"] == "websocket.disconnect":
                    break
                text = message.get("text")
                if text is None:
                    text = (message.get("bytes") or b"").decode("utf-8", "replace")
                self._take_reply(connection, text)
        finally:
            connection.closed = True
            await self._notify()


def socket_routes(socket: SlackSocket, clock: Clock) -> list[BaseRoute]:
    """The WebSocket endpoint apps.connections.open's URLs point at."""

    async def link(websocket: WebSocket) -> None:
        await socket.serve(websocket, clock)

    return [WebSocketRoute(LINK_PATH, link)]


def socket_payload(body: SlackBody) -> tuple[str, dict[str, Any]]:
    """What Slack would post over HTTP (a `sandbox.slack_requests` body), as the envelope type
    and payload it sends over Socket Mode instead: a command's form as an object of its
    fields, an interaction's `payload=` field as its JSON, an event callback as it is."""
    if body.content_type == JSON:
        return "events_api", dict(json.loads(body.body))
    fields = dict(parse_qsl(body.body.decode(), keep_blank_values=True))
    if "payload" in fields:
        return "interactive", dict(json.loads(fields["payload"]))
    return "slash_commands", dict(fields)
