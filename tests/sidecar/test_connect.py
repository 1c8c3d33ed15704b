"""The connect flow end to end over HTTP: link → initiate → the emulator's consent → callback.

Each security test names the protection it checks; removing that protection makes it fail.
"""

from __future__ import annotations

import base64
import dataclasses
import html
import json
import logging
import re
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from sqlalchemy import select

from primitives.enums import ProviderName, TaskState
from sandbox.faults import FaultKind
from sidecar.app import create_sidecar
from sidecar.links import LinkSigner
from sidecar.oauth import BROWSER_COOKIE, SECURE_BROWSER_COOKIE
from storage.api_keys import ApiKeyStore
from storage.engine import create_engine, session_factory
from storage.models import OAuthState, Task, UserAuthToken
from storage.oauth_states import OAuthStateStore
from tests.fakes import FakeClock
from tests.sidecar.harness import (
    ANA,
    BO,
    CLICKUP_SECRET,
    NOTION_SECRET,
    TEAM,
    Harness,
    browser_client,
    running_sidecar,
)

CLICKUP = ProviderName.CLICKUP
NOTION = ProviderName.NOTION


def _path(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}" if parts.query else parts.path


def confirmation_form(page: httpx.Response) -> tuple[str, dict[str, str]]:
    """Where a confirmation page's button posts, and what."""
    action = re.search(r'<form class="actions" method="post" action="([^"]+)"', page.text)
    fields = re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', page.text)
    assert action is not None, page.text
    return html.unescape(action[1]), {k: html.unescape(v) for k, v in fields}


async def initiate(browser: httpx.AsyncClient, link: str) -> httpx.Response:
    """Open the link and, on the confirmation page ("Connect ClickUp to @ana in Acme?"), press
    its button: the answer sends the browser to the tool's consent page (or is a refusal)."""
    page = await browser.get(_path(link))
    if page.status_code != 200:
        return page
    action, fields = confirmation_form(page)
    return await browser.post(action, data=fields)


async def consent(harness: Harness, location: str, decision: str = "approve") -> str:
    """Press a button on the emulator's consent page; returns where it sends the browser."""
    parts = urlsplit(location)
    form = {k: v[0] for k, v in parse_qs(parts.query).items()}
    page = await harness.http.get(location)
    assert page.status_code == 200 and "<form" in page.text
    answer = await harness.http.post(
        f"{parts.scheme}://{parts.netloc}{parts.path}", data={**form, "decision": decision}
    )
    assert answer.status_code == 302
    return answer.headers["location"]


async def connect(
    harness: Harness, browser: httpx.AsyncClient, user: str, provider: ProviderName
) -> tuple[str, httpx.Response]:
    """The whole flow for `user`; (the callback URL used, the page it showed), once the
    waiting tasks it queues in the background are queued."""
    started = await initiate(browser, harness.link(user, provider))
    assert started.status_code == 303
    callback = await consent(harness, started.headers["location"])
    page = await browser.get(_path(callback))
    await harness.utility.settle_flushes()
    return callback, page


async def connections(harness: Harness) -> list[UserAuthToken]:
    async with harness.sessions() as session:
        return list((await session.scalars(select(UserAuthToken))).all())


# --- the happy path ---------------------------------------------------------------------------


async def test_connecting_clickup_creates_the_waiting_tasks(
    harness: Harness, browser: httpx.AsyncClient
) -> None:
    for title in ("Draft the release notes", "Book the venue", "Send the summary"):
        waiting = await harness.utility.create_task(ANA, {"title": title}, team_id=TEAM)
        assert waiting.status is TaskState.PENDING_AUTH
        assert waiting.connect_urls[CLICKUP].startswith("http://127.0.0.1:8000/auth/clickup/")

    _, page = await connect(harness, browser, ANA, CLICKUP)

    assert page.status_code == 200
    assert "ClickUp is connected to Acme." in page.text
    assert "3 waiting tasks are being created." in page.text
    assert 'href="slack://open?team=T0ACME"' in page.text
    assert page.headers["content-security-policy"].startswith("default-src 'none'")
    assert page.headers["referrer-policy"] == "no-referrer"
    [row] = await connections(harness)
    assert (row.team_id, row.user_id, row.provider, row.workspace_name) == (
        TEAM, ANA, "clickup", "Acme",
    )  # fmt: skip
    [token] = harness.clickup_world.tokens
    assert token not in row.encrypted_access_token
    assert harness.vault.decrypt(row.encrypted_access_token) == token

    assert await harness.worker.run_once() == 3
    async with harness.sessions() as session:
        states = {t.state for t in (await session.scalars(select(Task))).all()}
    assert states == {TaskState.CREATED.value}
    assert len(harness.clickup_world.tasks) == 3


async def test_the_initiate_redirect_and_cookie(
    harness: Harness, browser: httpx.AsyncClient
) -> None:
    opened = await browser.get(_path(harness.link(ANA, NOTION)))
    assert opened.status_code == 200  # the confirmation page
    cookie = opened.headers["set-cookie"]
    started = await initiate(browser, harness.link(ANA, NOTION))
    assert started.status_code == 303
    target = urlsplit(started.headers["location"])
    query = parse_qs(target.query)
    assert f"{target.scheme}://{target.netloc}" == harness.notion_url
    assert target.path == "/v1/oauth/authorize"
    assert query["redirect_uri"] == ["http://127.0.0.1:8000/auth/notion/callback"]
    state = query["state"][0]
    assert len(base64.urlsafe_b64decode(state + "==")) >= 16  # >= 128 bits
    assert f"{BROWSER_COOKIE}=" in cookie
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Path=/auth/" in cookie
    assert "Secure" not in cookie  # http base URL; see the https test below
    async with harness.sessions() as session:
        [row] = (
            await session.scalars(select(OAuthState).where(OAuthState.step == "provider"))
        ).all()
    # Only hashes are stored, with a 10-minute expiry, for the person the link names.
    assert state not in (row.state_hash, row.browser_hash)
    assert browser.cookies[BROWSER_COOKIE] not in (row.state_hash, row.browser_hash)
    assert (row.user_id, row.team_id, row.provider) == (ANA, TEAM, "notion")
    assert (row.expires_at - row.created_at).total_seconds() == 600


async def test_notion_flow_and_two_tools_in_two_tabs(
    harness: Harness, browser: httpx.AsyncClient
) -> None:
    # Both flows started before either finishes: one browser cookie serves both.
    clickup_start = await initiate(browser, harness.link(ANA, CLICKUP))
    notion_start = await initiate(browser, harness.link(ANA, NOTION))
    notion_page = await browser.get(_path(await consent(harness, notion_start.headers["location"])))
    clickup_page = await browser.get(
        _path(await consent(harness, clickup_start.headers["location"]))
    )
    assert notion_page.status_code == clickup_page.status_code == 200
    assert "Notion is connected" in notion_page.text
    assert "New tasks of yours from meetings will be created in ClickUp." in clickup_page.text
    status = await harness.utility.get_auth_status(ANA, team_id=TEAM)
    assert status.clickup.connected and status.notion.connected


# --- consent denied, provider errors ------------------------------------------------------------


async def test_pressing_cancel_connects_nothing(
    harness: Harness, browser: httpx.AsyncClient
) -> None:
    started = await initiate(browser, harness.link(ANA, CLICKUP))
    callback = await consent(harness, started.headers["location"], decision="deny")
    page = await browser.get(_path(callback))
    assert page.status_code == 200
    assert "You did not connect ClickUp" in page.text
    assert "/tasks connect clickup" in page.text
    assert await connections(harness) == []
    # The state is spent: the same URL cannot be turned into a connection later.
    again = await browser.get(_path(callback))
    assert again.status_code == 409


async def test_a_code_the_provider_refuses_shows_the_provider_error_page(
    harness: Harness, browser: httpx.AsyncClient
) -> None:
    started = await initiate(browser, harness.link(ANA, CLICKUP))
    callback = await consent(harness, started.headers["location"])
    forged = callback.replace("code=", "code=x")
    page = await browser.get(_path(forged))
    assert page.status_code == 502
    assert "ClickUp did not complete the connection" in page.text
    # A refused code does not go away by waiting: the person starts again.
    assert "start again with a fresh link" in page.text and "Wait a minute" not in page.text
    assert await connections(harness) == []


async def test_a_tool_in_trouble_during_the_exchange_asks_to_wait_a_minute(
    harness: Harness, browser: httpx.AsyncClient
) -> None:
    started = await initiate(browser, harness.link(ANA, CLICKUP))
    callback = await consent(harness, started.headers["location"])
    # After the code exchange ClickUp keeps failing to say who signed in.
    harness.clickup_world.faults.add(
        FaultKind.SERVER_ERROR, method="GET", path="/v2/user", times=None
    )
    page = await browser.get(_path(callback))
    assert page.status_code == 502
    assert "ClickUp may be having trouble right now" in page.text
    assert "Wait a minute" in page.text
    assert "ClickUp had a problem (HTTP 500); try again in a minute" in page.text
    assert await connections(harness) == []


async def test_a_refused_sign_in_code_says_connect_again_and_blames_no_list(
    harness: Harness, browser: httpx.AsyncClient
) -> None:
    started = await initiate(browser, harness.link(ANA, CLICKUP))
    state = parse_qs(urlsplit(started.headers["location"]).query)["state"][0]
    page = await browser.get(
        "/auth/clickup/callback", params={"state": state, "code": "a-code-clickup-never-issued"}
    )
    assert page.status_code == 502
    assert "ClickUp refused the sign-in code; connect ClickUp again" in page.text
    assert "list" not in page.text.lower()
    assert await connections(harness) == []


# --- state: forged, replayed, expired, another person's, another browser -------------------------


async def test_a_replayed_callback_is_refused(harness: Harness, browser: httpx.AsyncClient) -> None:
    callback, first = await connect(harness, browser, ANA, CLICKUP)
    assert first.status_code == 200
    replay = await browser.get(_path(callback))
    assert replay.status_code == 409
    assert "already used" in replay.text
    assert len(harness.clickup_world.tokens) == 1  # the code was not exchanged twice


async def test_a_forged_state_is_refused(harness: Harness, browser: httpx.AsyncClient) -> None:
    started = await initiate(browser, harness.link(ANA, CLICKUP))
    callback = await consent(harness, started.headers["location"])
    state = parse_qs(urlsplit(callback).query)["state"][0]
    forged = callback.replace(f"state={state}", "state=" + "A" * len(state))
    page = await browser.get(_path(forged))
    assert page.status_code == 400
    assert "could not match this page" in page.text
    missing = await browser.get("/auth/clickup/callback?code=abc")
    assert missing.status_code == 400
    assert await connections(harness) == []


async def test_an_expired_state_is_refused(harness: Harness, browser: httpx.AsyncClient) -> None:
    started = await initiate(browser, harness.link(ANA, CLICKUP))
    callback = await consent(harness, started.headers["location"])
    harness.clock.advance(10 * 60 + 1)
    page = await browser.get(_path(callback))
    assert page.status_code == 410
    assert "took too long" in page.text
    assert await connections(harness) == []


async def test_a_state_from_another_browser_is_refused(harness: Harness) -> None:
    """Login CSRF: Bo starts a flow, then sends Ana the callback URL with his code."""
    async with (
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=harness.app), base_url=harness.base_url
        ) as bo_browser,
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=harness.app), base_url=harness.base_url
        ) as ana_browser,
    ):
        started = await initiate(bo_browser, harness.link(BO, CLICKUP))
        bo_callback = await consent(harness, started.headers["location"])
        await initiate(ana_browser, harness.link(ANA, CLICKUP))  # Ana has a cookie of her own

        page = await ana_browser.get(_path(bo_callback))
        assert page.status_code == 403
        assert "finish in the browser where you started" in page.text

        no_cookie = await httpx.AsyncClient(
            transport=httpx.ASGITransport(app=harness.app), base_url=harness.base_url
        ).get(_path(bo_callback))
        assert no_cookie.status_code == 403
        assert await connections(harness) == []

        # Bo, in his own browser, still finishes: refusals do not burn his state.
        mine = await bo_browser.get(_path(bo_callback))
        assert mine.status_code == 200
        [row] = await connections(harness)
        assert row.user_id == BO


async def test_a_state_is_for_one_tool_only(harness: Harness, browser: httpx.AsyncClient) -> None:
    started = await initiate(browser, harness.link(ANA, CLICKUP))
    callback = await consent(harness, started.headers["location"])
    crossed = _path(callback).replace("/auth/clickup/", "/auth/notion/")
    page = await browser.get(crossed)
    assert page.status_code == 400
    assert await connections(harness) == []


# --- link tokens --------------------------------------------------------------------------------


def _tampered(link: str, **changes: str) -> str:
    token = parse_qs(urlsplit(link).query)["t"][0]
    body, mac = token.split(".")
    payload = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    payload.update(changes)
    new_body = base64.urlsafe_b64encode(json.dumps(payload).encode()).rstrip(b"=").decode()
    return link.replace(token, f"{new_body}.{mac}")


async def test_a_tampered_link_is_refused(harness: Harness, browser: httpx.AsyncClient) -> None:
    link = harness.link(ANA, CLICKUP)
    for bad in (
        _tampered(link, u=BO),  # someone else's account
        _tampered(link, e="4102444800"),  # a longer life
        link[:-4],  # cut off when copied
        link.split("?")[0] + "?t=",
        link.split("?")[0],
        link.split("?")[0] + "?t=" + "a" * 5000,
    ):
        page = await initiate(browser, bad)
        assert page.status_code == 400, bad
        assert "This connect link is not valid" in page.text
    async with harness.sessions() as session:
        assert (await session.scalars(select(OAuthState))).all() == []


async def test_a_link_from_another_deployment_is_refused(
    harness: Harness, browser: httpx.AsyncClient
) -> None:
    stranger = LinkSigner([b"k" * 32], base_url=harness.base_url, clock=harness.clock)
    page = await initiate(browser, stranger.url_for(team_id=TEAM, user_id=ANA, provider=CLICKUP))
    assert page.status_code == 400


async def test_a_link_for_the_other_tool_is_refused(
    harness: Harness, browser: httpx.AsyncClient
) -> None:
    link = harness.link(ANA, NOTION).replace("/auth/notion/", "/auth/clickup/")
    page = await initiate(browser, link)
    assert page.status_code == 400


async def test_an_expired_link_says_so(harness: Harness, browser: httpx.AsyncClient) -> None:
    link = harness.link(ANA, CLICKUP)
    harness.clock.advance(15 * 60)
    page = await initiate(browser, link)
    assert page.status_code == 410
    assert "This connect link has expired" in page.text
    assert "/tasks connect clickup" in page.text
    assert 'href="slack://open?team=T0ACME"' in page.text


async def test_unknown_tools_are_not_found(harness: Harness, browser: httpx.AsyncClient) -> None:
    for path in ("/auth/jira/initiate?t=x", "/auth/JIRA/callback?state=x", "/auth/%00/initiate"):
        page = await browser.get(path)
        assert page.status_code == 404
        assert "There is nothing here" in page.text
    api_style = await browser.get("/nothing-here")
    assert api_style.status_code == 404
    assert api_style.json()["error"]["code"] == "not_found"


# --- what is reflected, what leaks ----------------------------------------------------------------


async def test_redirects_never_come_from_the_request(
    harness: Harness, browser: httpx.AsyncClient
) -> None:
    evil = "https://evil.example/steal"
    link = harness.link(ANA, CLICKUP) + f"&redirect_uri={evil}&next={evil}&return_to={evil}"
    started = await initiate(browser, link)
    location = started.headers["location"]
    assert location.startswith(harness.clickup_url + "/api?")
    assert parse_qs(urlsplit(location).query)["redirect_uri"] == [
        "http://127.0.0.1:8000/auth/clickup/callback"
    ]
    assert "evil" not in location
    callback = await consent(harness, location)
    page = await browser.get(_path(callback) + f"&next={evil}&redirect_uri={evil}")
    assert page.status_code == 200
    assert "evil" not in page.text and "location" not in page.headers


SCRIPT = '<script>alert("x")</script><img src=x onerror=alert(1)>'


async def test_reflected_text_is_escaped(harness: Harness, browser: httpx.AsyncClient) -> None:
    harness.clickup_world.teams["9001"]["name"] = f"Acme {SCRIPT}"
    started = await initiate(browser, harness.link(ANA, CLICKUP))
    state = parse_qs(urlsplit(started.headers["location"]).query)["state"][0]
    failed = await browser.get(
        "/auth/clickup/callback",
        params={"state": state, "error": "server_error", "error_description": SCRIPT},
    )
    assert failed.status_code == 502
    assert "&lt;script&gt;" in failed.text
    assert "<script" not in failed.text and "<img" not in failed.text

    _, page = await connect(harness, browser, ANA, CLICKUP)
    assert page.status_code == 200
    assert "Acme &lt;script&gt;" in page.text
    assert "<script" not in page.text and "<img" not in page.text


async def test_no_token_or_secret_in_any_page_or_log_line(
    harness: Harness, browser: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    seen: list[str] = []
    for provider in (CLICKUP, NOTION):
        started = await initiate(browser, harness.link(ANA, provider))
        callback = await consent(harness, started.headers["location"])
        page = await browser.get(_path(callback))
        replay = await browser.get(_path(callback))
        seen += [page.text, str(page.headers), replay.text, str(started.headers)]
    secrets = [
        *harness.clickup_world.tokens,
        *harness.notion_world.tokens,
        *harness.notion_world.refresh_tokens,
        CLICKUP_SECRET,
        NOTION_SECRET,
    ]
    assert len(secrets) == 5
    logged = "\n".join(record.getMessage() for record in caplog.records)
    for secret in secrets:
        assert secret not in logged
        for text in seen:
            assert secret not in text


async def test_old_states_are_purged(harness: Harness, browser: httpx.AsyncClient) -> None:
    await initiate(browser, harness.link(ANA, CLICKUP))
    harness.clock.advance(10 * 60 + 24 * 3600 + 1)  # expired for over a day
    await initiate(browser, harness.link(ANA, NOTION))
    async with harness.sessions() as session:
        left = (await session.scalars(select(OAuthState))).all()
    assert {row.provider for row in left} == {"notion"}  # its confirm and consent steps


async def test_the_cookie_is_secure_behind_https(database_url: str, clock: FakeClock) -> None:
    base = "https://tasks.example.com"
    async with (
        running_sidecar(database_url, clock, base) as harness,
        browser_client(harness) as browser,
    ):
        opened = await browser.get(_path(harness.link(ANA, CLICKUP)))
        started = await initiate(browser, harness.link(ANA, CLICKUP))
    assert started.status_code == 303
    # The __Host- prefix: the browser keeps it only when Secure, for Path=/, with no Domain,
    # so no sibling subdomain can plant or overwrite it.
    cookie = opened.headers["set-cookie"]
    assert cookie.startswith(f"{SECURE_BROWSER_COOKIE}=")
    assert "Secure" in cookie and "Path=/;" in cookie and "Domain" not in cookie
    redirect = parse_qs(urlsplit(started.headers["location"]).query)["redirect_uri"]
    assert redirect == ["https://tasks.example.com/auth/clickup/callback"]


async def test_our_own_failure_shows_a_page_not_a_stack_trace(
    harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    """The database goes away mid-flight: a page for the person, JSON for the API, a log
    line with the traceback for us."""
    gone = create_engine("postgresql+asyncpg://scrumy@127.0.0.1:9/nowhere")
    sessions = session_factory(gone)
    app = create_sidecar(
        dataclasses.replace(
            harness.deps, oauth_states=OAuthStateStore(sessions), api_keys=ApiKeyStore(sessions)
        )
    )
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url=harness.base_url) as client:
        page = await client.get(_path(harness.link(ANA, CLICKUP)))
        api = await client.get("/api/tasks/tsk_x", headers={"Authorization": "Bearer sct_x"})
    await gone.dispose()
    assert page.status_code == 500
    assert "Something went wrong on our side" in page.text
    assert "Traceback" not in page.text and "asyncpg" not in page.text
    assert api.status_code == 500
    assert api.json() == {
        "error": {"code": "internal_error", "message": "something went wrong on our side"}
    }
    assert api.headers["x-content-type-options"] == "nosniff"
    assert any(record.exc_info for record in caplog.records)


async def test_a_tool_without_an_oauth_app_says_so(harness: Harness) -> None:
    only_clickup = {CLICKUP: harness.deps.providers[CLICKUP]}
    app = create_sidecar(dataclasses.replace(harness.deps, providers=only_clickup))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url=harness.base_url
    ) as browser:
        page = await initiate(browser, harness.link(ANA, NOTION))
        callback = await browser.get("/auth/notion/callback?state=x&code=y")
    assert page.status_code == callback.status_code == 404
    assert "Notion is not set up here" in page.text
    async with harness.sessions() as session:
        assert (await session.scalars(select(OAuthState))).all() == []


async def test_a_rate_limited_sign_in_never_says_it_retries(
    harness: Harness, browser: httpx.AsyncClient
) -> None:
    """Nothing retries a code exchange: the page says to try again, not "retrying shortly"."""
    started = await initiate(browser, harness.link(ANA, CLICKUP))
    callback = await consent(harness, started.headers["location"])
    # ClickUp answers 429 to the reads of the sign-in (who signed in, which workspaces).
    harness.clickup_world.faults.add(
        FaultKind.RATE_LIMIT, method="GET", path="/v2/user", times=None
    )
    page = await browser.get(_path(callback))
    assert page.status_code == 502
    assert "retrying" not in page.text.lower() and "shortly" not in page.text
    assert "ClickUp is rate limiting us; try again in a minute" in page.text
    assert "Wait a minute" in page.text
    assert await connections(harness) == []
