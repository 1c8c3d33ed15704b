"""Fault injection shared by the emulators: a test (or another process, over HTTP) switches on
latency, 5xx, 429, a revoked token, or "created but the response was lost" for matching requests.

A fault matches by HTTP method and a path substring; it fires for the next `times` matching
requests (None: every one), each with `probability` drawn from a seeded RNG, so a chaos run is
repeatable.

A server error answers 500 unless it names another `status` (503 for an outage, 529 for
Notion's overload, …), in the tool's own error shape and with the tool's code for that status
(or `code`); with `seconds` it says `Retry-After`, as a tool does when it is down for a moment:

    world.faults.add("server_error", method="POST", path="/v1/pages", status=503, seconds=1)
"""

from __future__ import annotations

import math
import random
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from primitives.clock import Clock


class FaultKind(StrEnum):
    LATENCY = "latency"  # delay the answer by `seconds`, then answer normally
    SERVER_ERROR = "server_error"  # 500 (or `status`) without doing anything
    BAD_GATEWAY_HTML = "bad_gateway_html"  # a proxy's HTML 502 page, nothing done
    RATE_LIMIT = "rate_limit"  # 429 with the tool's headers
    REVOKED = "revoked"  # the token is refused as revoked
    LOST_RESPONSE = "lost_response"  # do the work, then answer 502 as if the response was lost
    # Webhook deliveries (method "WEBHOOK", path: the event's name; sandbox.clickup_webhooks):
    WEBHOOK_DUPLICATE = "webhook_duplicate"  # the delivery is sent twice
    WEBHOOK_OUT_OF_ORDER = "webhook_out_of_order"  # held back, sent after the next one
    WEBHOOK_BAD_SIGNATURE = "webhook_bad_signature"  # a forged copy is sent first
    WEBHOOK_DOWN = "webhook_down"  # the attempt fails as if the receiver did not answer


@dataclass
class Fault:
    kind: FaultKind
    method: str | None = None
    path: str = ""
    times: int | None = 1
    probability: float = 1.0
    seconds: float = 0.0  # latency: the delay; rate_limit, server_error: the Retry-After
    code: str | None = None  # the error code to answer with, where the tool has several
    status: int = 500  # server_error: the status answered (500, 502, 503, 504, 529 …)

    def __post_init__(self) -> None:
        if not 500 <= self.status <= 599:
            raise ValueError(f"a server error's status is 5xx, not {self.status}")

    def matches(self, method: str, path: str) -> bool:
        if self.times is not None and self.times <= 0:
            return False
        return (self.method is None or self.method.upper() == method) and self.path in path

    def retry_after(self) -> dict[str, str]:
        """The `Retry-After` header of an answer that says how long to stay away (`seconds`,
        in whole seconds), or none."""
        return {"Retry-After": str(math.ceil(self.seconds))} if self.seconds > 0 else {}


def fired_of(fired: list[Fault], kind: FaultKind) -> Fault | None:
    """The first of the faults that fired for a request that is of `kind`."""
    return next((fault for fault in fired if fault.kind is kind), None)


@dataclass
class FaultBook:
    """The faults switched on for one emulator."""

    seed: int = 0
    faults: list[Fault] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)

    def add(self, kind: FaultKind | str, **options: Any) -> Fault:
        fault = Fault(FaultKind(kind), **options)
        self.faults.append(fault)
        return fault

    def clear(self) -> None:
        self.faults.clear()

    def reseed(self, seed: int) -> None:
        self.seed = seed
        self._rng = random.Random(seed)

    def draw(self, method: str, path: str) -> list[Fault]:
        """The faults that fire for this request (each consumes one of its `times`)."""
        fired = []
        for fault in self.faults:
            if not fault.matches(method, path):
                continue
            if fault.probability < 1.0 and self._rng.random() >= fault.probability:
                continue
            if fault.times is not None:
                fault.times -= 1
            fired.append(fault)
        return fired

    def describe(self) -> list[dict[str, Any]]:
        return [asdict(fault) for fault in self.faults]


@dataclass
class Network:
    """How long a request takes to reach the emulator, and its answer to come back: each way
    drawn from [low, high] seconds by a seeded generator, slept on the emulator's clock. Zero
    by default (in process, answers are immediate); with a spread, requests sent one after the
    other overlap and arrive out of step, as they do over a real network."""

    low: float = 0.0
    high: float = 0.0
    seed: int = 0

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)

    def delay(self) -> float:
        return self._rng.uniform(self.low, self.high) if self.high > 0 else 0.0

    async def carry(self, clock: Clock, answer: Callable[[], Awaitable[Response]]) -> Response:
        """One call over this network: there, answered, and back, slept on `clock`."""
        way = self.delay()
        if way:
            await clock.sleep(way)
        response = await answer()
        back = self.delay()
        if back:
            await clock.sleep(back)
        return response


def fault_control_route(book: FaultBook) -> Route:
    """`POST /_sandbox/faults` adds a fault (JSON: the `Fault` fields, plus `seed`),
    `DELETE /_sandbox/faults` clears them: how another process switches faults."""

    async def control(request: Request) -> Response:
        if request.method == "DELETE":
            book.clear()
        else:
            body = await request.json()
            if "seed" in body:
                book.reseed(int(body.pop("seed")))
            book.add(**body)
        return JSONResponse({"faults": book.describe()})

    return Route("/_sandbox/faults", control, methods=["POST", "DELETE"])
