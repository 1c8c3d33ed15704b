"""The shared HTTP layer of the provider clients (providers/http.py), against the emulators.

Time is the fake clock's: every pause the layer takes is recorded in `clock.slept`, and no
test waits for real.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
import respx

from primitives.enums import ProviderName
from providers.base import (
    AuthRevoked,
    Credentials,
    Destination,
    Permanent,
    ProviderError,
    RateLimited,
    TaskDraft,
    Transient,
)
from providers.clickup import ClickUpProvider
from providers.clickup import errors as clickup_errors
from providers.http import Endpoint, ProviderHttp, requested_wait
from providers.notion import NotionProvider
from providers.notion import errors as notion_errors
from providers.ratelimit import ConnectionRateLimiter
from sandbox.clickup import ClickUpSandbox
from sandbox.faults import FaultKind
from sandbox.notion import NotionSandbox
from tests.emulators import CLICKUP_REDIRECT, CLICKUP_URL, NOTION_REDIRECT, NOTION_URL
from tests.fakes import FakeClock

SEED = 20260115
CONNECTION = "con_1"


@pytest.fixture
def limiter(clock: FakeClock) -> ConnectionRateLimiter:
    return ConnectionRateLimiter(clock, rate=100, burst=100)


@pytest.fixture
def clickup_http(
    clickup_url: str, http: httpx.AsyncClient, clock: FakeClock, limiter: ConnectionRateLimiter
) -> ProviderHttp:
    return ProviderHttp(
        http, provider=ProviderName.CLICKUP, base_url=f"{clickup_url}/api/v2",
        errors=clickup_errors.error_from_response, limiter=limiter, clock=clock,
        rng=random.Random(SEED),
    )  # fmt: skip


@pytest.fixture
def clickup_auth(clickup_world: ClickUpSandbox) -> str:
    return "Bearer " + clickup_world.issue_token(101, ["9001"])


@pytest.fixture
def credentials(clickup_world: ClickUpSandbox) -> Credentials:
    return Credentials(CONNECTION, clickup_world.issue_token(101, ["9001"]), "9001")


@pytest.fixture
def clickup_url() -> str:
    return CLICKUP_URL


@pytest.fixture
def notion_url() -> str:
    return NOTION_URL


@pytest.fixture
def notion_http(
    notion_url: str, http: httpx.AsyncClient, clock: FakeClock, limiter: ConnectionRateLimiter
) -> ProviderHttp:
    return ProviderHttp(
        http, provider=ProviderName.NOTION, base_url=f"{notion_url}/v1",
        errors=notion_errors.error_from_response, limiter=limiter, clock=clock,
        rng=random.Random(SEED), headers={"Notion-Version": "2025-09-03"},
    )  # fmt: skip


@pytest.fixture
def notion_auth(notion_world: NotionSandbox) -> str:
    return "Bearer " + notion_world.issue_tokens("u-ana")[0]


# --- reads: retried, jittered, never sooner than Retry-After ---------------------------------


async def test_a_read_is_retried_with_jittered_exponential_backoff(
    clickup_http: ProviderHttp, clickup_world: ClickUpSandbox, clickup_auth: str,
    clock: FakeClock,
) -> None:  # fmt: skip
    clickup_world.faults.add(FaultKind.SERVER_ERROR, method="GET", path="/team", times=2)
    body = await clickup_http.read("GET", "/team", authorization=clickup_auth,
                                   connection_id=CONNECTION)  # fmt: skip
    assert [team["name"] for team in body["teams"]] == ["Acme"]
    assert clickup_world.count("GET", "/api/v2/team") == 3
    # Pause n is drawn from [ceiling / 2, ceiling], the ceiling doubling from 2 s...
    first, second = clock.slept
    assert 1.0 <= first <= 2.0 and 2.0 <= second <= 4.0
    # ...by the injected generator, so a seeded run repeats exactly.
    draws = random.Random(SEED)
    assert clock.slept == [draws.uniform(1.0, 2.0), draws.uniform(2.0, 4.0)]


async def test_a_read_gives_up_after_three_attempts(
    clickup_http: ProviderHttp, clickup_world: ClickUpSandbox, clickup_auth: str,
    clock: FakeClock,
) -> None:  # fmt: skip
    clickup_world.faults.add(FaultKind.SERVER_ERROR, method="GET", path="/team", times=None)
    with pytest.raises(Transient, match=r"ClickUp had a problem \(HTTP 500\); retrying"):
        await clickup_http.read("GET", "/team", authorization=clickup_auth)
    assert clickup_world.count("GET", "/api/v2/team") == 3
    assert len(clock.slept) == 2


async def test_a_notion_429_is_waited_out_once_never_less_than_retry_after(
    notion_http: ProviderHttp, notion_world: NotionSandbox, notion_auth: str,
    clock: FakeClock, limiter: ConnectionRateLimiter,
) -> None:  # fmt: skip
    notion_world.faults.add(FaultKind.RATE_LIMIT, method="GET", path="/v1/users", seconds=7)
    body = await notion_http.read("GET", "/users", authorization=notion_auth,
                                  connection_id=CONNECTION)  # fmt: skip
    assert body["results"]
    assert notion_world.count("GET", "/v1/users") == 2
    # The jitter of a first retry is at most 2 s: Retry-After is the floor. One pause in all:
    # the connection's hold ended with it, so the retry did not wait a second time.
    assert clock.slept == [7.0]
    # No hold left; the bucket started again from empty after the 429, so the next request
    # waits for one token at the connection's pace.
    assert limiter.delay(CONNECTION) == pytest.approx(1 / 100)


async def test_a_clickup_429_is_waited_out_until_the_rate_limit_reset(
    clickup_http: ProviderHttp, clickup_world: ClickUpSandbox, clickup_auth: str,
    clock: FakeClock,
) -> None:  # fmt: skip
    # ClickUp sends no Retry-After: the window's X-RateLimit-Reset says when to come back, and
    # a second more, since the reset is in whole seconds.
    clickup_world.faults.add(FaultKind.RATE_LIMIT, method="GET", path="/team", seconds=20)
    await clickup_http.read("GET", "/team", authorization=clickup_auth, connection_id=CONNECTION)
    assert clickup_world.count("GET", "/api/v2/team") == 2
    assert clock.slept == [21.0]


async def test_a_wait_longer_than_a_minute_is_left_to_the_caller(
    notion_http: ProviderHttp, notion_world: NotionSandbox, notion_auth: str,
    clock: FakeClock, limiter: ConnectionRateLimiter,
) -> None:  # fmt: skip
    # Notion's workspace-wide limit can ask for minutes: the worker reschedules instead.
    notion_world.faults.add(FaultKind.RATE_LIMIT, method="GET", path="/v1/users", seconds=300)
    with pytest.raises(RateLimited) as raised:
        await notion_http.read("GET", "/users", authorization=notion_auth,
                               connection_id=CONNECTION)  # fmt: skip
    assert raised.value.retry_after == 300
    assert notion_world.count("GET", "/v1/users") == 1
    assert clock.slept == []
    assert limiter.delay(CONNECTION) == 300


async def test_refusals_are_not_retried(
    clickup_http: ProviderHttp, clickup_world: ClickUpSandbox, clickup_auth: str,
    clock: FakeClock,
) -> None:  # fmt: skip
    with pytest.raises(Permanent):  # a workspace the token was not given
        await clickup_http.read("GET", "/team/4242/space", authorization=clickup_auth)
    with pytest.raises(AuthRevoked):
        await clickup_http.read("GET", "/team", authorization="Bearer not-a-token")
    assert clickup_world.count("GET", "/api/v2/team") == 2
    assert clock.slept == []


# --- sends: once, and the rate limit noted in one place ---------------------------------------


async def test_a_create_is_sent_once_whatever_happens(
    clickup_http: ProviderHttp, clickup_world: ClickUpSandbox, clickup_auth: str,
    clock: FakeClock,
) -> None:  # fmt: skip
    for kind in (FaultKind.SERVER_ERROR, FaultKind.LOST_RESPONSE, FaultKind.RATE_LIMIT):
        clickup_world.faults.add(kind, method="POST", path="/task")
        with pytest.raises((Transient, RateLimited)):
            await clickup_http.send("POST", "/list/l1/task", authorization=clickup_auth,
                                    json={"name": "Ship it"})  # fmt: skip
    assert clickup_world.count("POST", "/api/v2/list/l1/task") == 3
    assert clock.slept == []
    assert len(clickup_world.tasks) == 1  # the lost response's task, found later by marker


async def test_a_429_on_a_create_holds_the_connection_for_retry_after(
    notion_http: ProviderHttp, notion_world: NotionSandbox, notion_auth: str,
    clock: FakeClock, limiter: ConnectionRateLimiter,
) -> None:  # fmt: skip
    notion_world.faults.add(FaultKind.RATE_LIMIT, method="POST", path="/v1/pages", seconds=5)
    with pytest.raises(RateLimited) as raised:
        await notion_http.send("POST", "/pages", authorization=notion_auth,
                               connection_id=CONNECTION, json={})  # fmt: skip
    assert raised.value.retry_after == 5
    assert notion_world.count("POST", "/v1/pages") == 1
    assert limiter.delay(CONNECTION) == 5
    # The next request of that connection, whatever it is, waits the hold out, once.
    await notion_http.send("GET", "/users", authorization=notion_auth, connection_id=CONNECTION)
    assert clock.slept == [5.0]


async def test_a_spent_clickup_budget_holds_the_connection_before_any_429(
    clickup_http: ProviderHttp, clickup_world: ClickUpSandbox, clickup_auth: str,
    clock: FakeClock,
) -> None:  # fmt: skip
    clickup_world.rate_limit_per_minute = 1
    await clickup_http.send("GET", "/team", authorization=clickup_auth, connection_id=CONNECTION)
    await clickup_http.send("GET", "/team", authorization=clickup_auth, connection_id=CONNECTION)
    # X-RateLimit-Remaining: 0 on the first answer: wait for the reset, and the margin.
    assert clock.slept == [61.0]
    assert clickup_world.count("GET", "/api/v2/team") == 2


# --- transport failures and what the provider asked for ---------------------------------------


@respx.mock
async def test_transport_failures_say_whether_the_request_went_out(clock: FakeClock) -> None:
    async with httpx.AsyncClient() as http:
        layer = ProviderHttp(
            http, provider=ProviderName.CLICKUP, base_url="https://clickup.test/api/v2",
            errors=clickup_errors.error_from_response,
            limiter=ConnectionRateLimiter(clock, rate=10, burst=10), clock=clock,
        )  # fmt: skip
        route = respx.post("https://clickup.test/api/v2/oauth/token")
        for failure, sent in (
            (httpx.ConnectError("refused"), False),
            (httpx.ConnectTimeout("no handshake"), False),
            (httpx.ReadTimeout("slow"), True),
            (httpx.RemoteProtocolError("cut"), True),
        ):
            route.mock(side_effect=failure)
            with pytest.raises(Transient) as raised:
                await layer.send("POST", "/oauth/token", endpoint=Endpoint.OAUTH, json={})
            assert raised.value.request_sent is sent
            # Nobody retries a sign-in but the person: the message must not promise it.
            assert raised.value.message.endswith("try again in a minute")
        assert route.call_count == 4


def test_requested_wait_reads_retry_after_and_the_rate_limit_reset() -> None:
    now = datetime(2026, 1, 15, 9, 0, tzinfo=UTC)
    at = now.timestamp()
    in_90s = format_datetime(now + timedelta(seconds=90), usegmt=True)
    reset = {"X-RateLimit-Reset": str(int(at) + 30)}
    assert requested_wait(httpx.Response(429, headers={"Retry-After": "12"}), at) == 12
    assert requested_wait(httpx.Response(503, headers={"Retry-After": in_90s}), at) == 90
    # A reset in whole seconds is waited for a second longer: it may be up to that late.
    assert requested_wait(httpx.Response(429, headers=reset), at) == 31
    spent = {**reset, "X-RateLimit-Remaining": "0"}
    assert requested_wait(httpx.Response(200, headers=spent), at) == 31
    # A reset is only a wait once the budget is spent; garbage is no wait at all.
    assert requested_wait(httpx.Response(200, headers={**reset, "X-RateLimit-Remaining": "5"}),
                          at) is None  # fmt: skip
    assert requested_wait(httpx.Response(429, headers={"Retry-After": "soon"}), at) is None
    assert requested_wait(httpx.Response(429), at) is None


# --- which endpoint failed: OAuth or API ------------------------------------------------------


@pytest.mark.parametrize(
    ("endpoint", "status", "ecode", "error", "words"),
    [
        # A refused code is about the sign-in, whatever OAUTH_0xx ClickUp picks for it.
        (Endpoint.OAUTH, 400, "OAUTH_015", Permanent,
         "ClickUp refused the sign-in code; connect ClickUp again"),
        (Endpoint.OAUTH, 401, "OAUTH_023", Permanent,
         "ClickUp refused the sign-in code; connect ClickUp again"),
        (Endpoint.OAUTH, 401, "OAUTH_025", Permanent,
         "ClickUp refused the sign-in code; connect ClickUp again"),
        (Endpoint.OAUTH, 400, "OAUTH_011", Permanent, "ask whoever runs Scrumy Tasks"),
        (Endpoint.OAUTH, 500, None, Transient, "try again in a minute"),
        # On the API only OAUTH_019/021/025/077 mean the token is gone.
        (Endpoint.API, 401, "OAUTH_025", AuthRevoked, "reconnect ClickUp"),
        (Endpoint.API, 401, "OAUTH_023", Permanent, "not in a workspace you authorized"),
        (Endpoint.API, 500, None, Transient, "retrying"),
    ],
)  # fmt: skip
def test_clickup_failures_are_worded_for_the_endpoint(
    endpoint: Endpoint, status: int, ecode: str | None, error: type[ProviderError], words: str
) -> None:
    response = httpx.Response(status, json={"err": "refused", "ECODE": ecode})
    failure = clickup_errors.error_from_response(response, endpoint=endpoint, retry_after=None)
    assert type(failure) is error
    assert words in failure.message
    if endpoint is Endpoint.OAUTH:
        assert "list" not in failure.message


async def test_a_clickup_code_it_never_issued_reads_as_a_refused_sign_in(
    clickup: ClickUpProvider, credentials: Credentials
) -> None:
    with pytest.raises(Permanent) as raised:
        await clickup.exchange_code(code="never-issued", redirect_uri=CLICKUP_REDIRECT)
    assert raised.value.message == "ClickUp refused the sign-in code; connect ClickUp again"
    assert raised.value.code == "OAUTH_015"
    # The same family of codes from the API is about the list, and says so.
    foreign = Destination(ProviderName.CLICKUP, "l999", "Elsewhere", "9001")
    with pytest.raises(Permanent, match="not in a workspace you authorized"):
        await clickup.create_task(credentials, foreign, TaskDraft("A task", "scrumy:mk_x"))


async def test_a_notion_code_it_never_issued_reads_as_a_refused_sign_in(
    notion_url: str, http: httpx.AsyncClient, clock: FakeClock, limiter: ConnectionRateLimiter
) -> None:
    notion = NotionProvider(
        http, api_url=notion_url, client_id="notion-id", client_secret="notion-secret",
        limiter=limiter, clock=clock,
    )  # fmt: skip
    with pytest.raises(Permanent) as raised:
        await notion.exchange_code(code="never-issued", redirect_uri=NOTION_REDIRECT)
    assert raised.value.message == "Notion did not accept this sign-in; connect Notion again"
    assert raised.value.code == "invalid_grant"
    wrong_app = NotionProvider(
        http, api_url=notion_url, client_id="notion-id", client_secret="not-the-secret",
        limiter=limiter, clock=clock,
    )  # fmt: skip
    with pytest.raises(Permanent, match="ask whoever runs Scrumy Tasks"):
        await wrong_app.exchange_code(code="never-issued", redirect_uri=NOTION_REDIRECT)


async def test_the_emulators_refuse_an_expired_code_as_the_real_services_do(
    clickup: ClickUpProvider, clickup_world: ClickUpSandbox, notion_url: str,
    notion_world: NotionSandbox, http: httpx.AsyncClient, clock: FakeClock,
    limiter: ConnectionRateLimiter,
) -> None:  # fmt: skip
    notion = NotionProvider(
        http, api_url=notion_url, client_id="notion-id", client_secret="notion-secret",
        limiter=limiter, clock=clock,
    )  # fmt: skip
    clickup_world.auto_approve = notion_world.auto_approve = True
    codes = []
    for provider, redirect in ((clickup, CLICKUP_REDIRECT), (notion, NOTION_REDIRECT)):
        consent = await http.get(provider.authorize_url(state="s", redirect_uri=redirect))
        codes.append(parse_qs(urlsplit(consent.headers["location"]).query)["code"][0])
    clock.advance(10 * 60 + 1)
    # ClickUp: a 4xx with an OAUTH_0xx code; Notion: 400 {"error": "invalid_grant"}.
    with pytest.raises(Permanent, match="ClickUp refused the sign-in code") as refused:
        await clickup.exchange_code(code=codes[0], redirect_uri=CLICKUP_REDIRECT)
    assert (refused.value.code or "").startswith("OAUTH_")
    with pytest.raises(Permanent, match="Notion did not accept this sign-in") as refused:
        await notion.exchange_code(code=codes[1], redirect_uri=NOTION_REDIRECT)
    assert refused.value.code == "invalid_grant"
    assert clickup_world.tokens == {} and notion_world.tokens == {}
