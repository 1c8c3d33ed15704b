"""Connect only the person the link was made for (SPEC "Non-negotiables", first bullet).

With a Slack OAuth app, Sign in with Slack must name the link's person before any consent;
without one, a confirmation page names them and only its button, posted from our page in the
browser that opened the link, goes on. A link is spent by its connection, starting is limited
per person, replacing asks first, and the owner is told of every connect or replace.
"""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from sqlalchemy import select

from primitives.enums import ProviderName
from sidecar.oauth import START_LIMIT
from storage.models import ProviderCatalog
from tests.fakes import FakeClock
from tests.sidecar.harness import (
    ANA,
    BO,
    CAROL,
    EVE,
    SLACK_ID,
    TEAM,
    Harness,
    browser_client,
    running_sidecar,
)
from tests.sidecar.test_connect import (
    _path,
    confirmation_form,
    connections,
    consent,
    initiate,
)

CLICKUP = ProviderName.CLICKUP
NOTION = ProviderName.NOTION


@pytest.fixture
async def signed(database_url: str, clock: FakeClock) -> AsyncIterator[Harness]:
    """The app with a Slack OAuth app configured: Sign in with Slack first."""
    async with running_sidecar(database_url, clock, "http://127.0.0.1:8000", sign_in=True) as h:
        yield h


@pytest.fixture
async def signed_browser(signed: Harness) -> AsyncIterator[httpx.AsyncClient]:
    async with browser_client(signed) as client:
        yield client


async def sign_in_as(harness: Harness, location: str, user: str) -> str:
    """Press "Continue as …" on the Slack emulator's sign-in page; where Slack sends us."""
    parts = urlsplit(location)
    form = {k: v[0] for k, v in parse_qs(parts.query).items()}
    page = await harness.http.get(location)
    assert page.status_code == 200 and "Sign in to Acme" in page.text
    answer = await harness.http.post(
        f"{parts.scheme}://{parts.netloc}{parts.path}", data={**form, "user": user}
    )
    assert answer.status_code == 302, answer.text
    return str(answer.headers["location"])


async def signed_in_flow(
    harness: Harness, browser: httpx.AsyncClient, link_user: str, signed_in: str
) -> httpx.Response:
    """Open `link_user`'s ClickUp link, sign in to Slack as `signed_in`; our answer."""
    started = await browser.get(_path(harness.link(link_user, CLICKUP)))
    assert started.status_code == 303
    assert started.headers["location"].startswith(f"{harness.slack_url}/openid/connect/authorize")
    back = await sign_in_as(harness, started.headers["location"], signed_in)
    return await browser.get(_path(back))


# --- Sign in with Slack ---------------------------------------------------------------------------


async def test_sign_in_with_slack_comes_before_any_consent(
    signed: Harness, signed_browser: httpx.AsyncClient
) -> None:
    started = await signed_browser.get(_path(signed.link(ANA, CLICKUP)))
    assert started.status_code == 303
    query = parse_qs(urlsplit(started.headers["location"]).query)
    assert query["response_type"] == ["code"]
    assert query["scope"] == ["openid profile"]
    assert query["client_id"] == [SLACK_ID]
    assert query["redirect_uri"] == ["http://127.0.0.1:8000/auth/slack/callback"]
    assert query["team"] == [TEAM]
    assert len(query["state"][0]) >= 43 and len(query["nonce"][0]) == 64

    back = await sign_in_as(signed, started.headers["location"], ANA)
    to_clickup = await signed_browser.get(_path(back))
    assert to_clickup.status_code == 303
    assert to_clickup.headers["location"].startswith(signed.clickup_url)
    callback = await consent(signed, to_clickup.headers["location"])
    page = await signed_browser.get(_path(callback))
    assert page.status_code == 200 and "ClickUp is connected to Acme." in page.text
    [row] = await connections(signed)
    assert (row.team_id, row.user_id) == (TEAM, ANA)
    # The ID token carried our nonce: the emulator put in what we sent.
    assert signed.slack_world.requests["openid.connect.userInfo"] == 1


async def test_someone_else_signed_in_to_slack_connects_nothing(
    signed: Harness, signed_browser: httpx.AsyncClient
) -> None:
    page = await signed_in_flow(signed, signed_browser, BO, CAROL)
    assert page.status_code == 403
    assert "This connect link was made for someone else" in page.text
    assert "for @Bo in Acme, but you signed in to Slack as Carol Diaz" in page.text
    assert await connections(signed) == []
    assert signed.clickup_world.requests["GET /api"] == 0
    assert signed.notifier.connections == []


async def test_a_person_of_another_workspace_connects_nothing(
    signed: Harness, signed_browser: httpx.AsyncClient
) -> None:
    signed.slack_world.openid.signed_in = EVE  # signed in to Slack in Other Corp
    started = await signed_browser.get(_path(signed.link(ANA, CLICKUP)))
    location = started.headers["location"]
    form = {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}
    answer = await signed.http.post(
        f"{signed.slack_url}/openid/connect/authorize", data={**form, "user": EVE}
    )
    page = await signed_browser.get(_path(answer.headers["location"]))
    assert page.status_code == 403
    assert "you signed in to Slack as Eve Stone in Other Corp" in page.text
    assert await connections(signed) == []


async def test_the_sign_in_answer_is_one_time_and_bound_to_the_browser(
    signed: Harness, signed_browser: httpx.AsyncClient
) -> None:
    started = await signed_browser.get(_path(signed.link(ANA, CLICKUP)))
    back = await sign_in_as(signed, started.headers["location"], ANA)
    async with browser_client(signed) as other_browser:
        elsewhere = await other_browser.get(_path(back))
    assert elsewhere.status_code == 403  # another browser (no cookie)
    first = await signed_browser.get(_path(back))
    assert first.status_code == 303
    replay = await signed_browser.get(_path(back))
    assert replay.status_code == 409
    # A sign-in state is no consent state: offered to the tool's callback it is refused.
    state = parse_qs(urlsplit(back).query)["state"][0]
    crossed = await signed_browser.get(
        "/auth/clickup/callback", params={"state": state, "code": "x"}
    )
    assert crossed.status_code == 400


async def test_a_refused_slack_code_shows_why_and_connects_nothing(
    signed: Harness, signed_browser: httpx.AsyncClient
) -> None:
    started = await signed_browser.get(_path(signed.link(ANA, CLICKUP)))
    back = await sign_in_as(signed, started.headers["location"], ANA)
    forged = back.replace("code=", "code=x")
    page = await signed_browser.get(_path(forged))
    assert page.status_code == 502
    assert "Slack could not confirm who you are" in page.text
    assert "invalid_code" in page.text
    assert await connections(signed) == []


async def test_cancelling_the_slack_sign_in_connects_nothing(
    signed: Harness, signed_browser: httpx.AsyncClient
) -> None:
    started = await signed_browser.get(_path(signed.link(ANA, CLICKUP)))
    location = started.headers["location"]
    form = {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}
    answer = await signed.http.post(
        f"{signed.slack_url}/openid/connect/authorize", data={**form, "decision": "deny"}
    )
    page = await signed_browser.get(_path(answer.headers["location"]))
    assert page.status_code == 200
    assert "You did not sign in with Slack" in page.text
    assert await connections(signed) == []


# --- the confirmation page (no Slack OAuth app) ---------------------------------------------------


async def test_the_confirmation_page_names_the_person_the_workspace_and_the_tool(
    harness: Harness, browser: httpx.AsyncClient
) -> None:
    page = await browser.get(_path(harness.link(BO, NOTION)))
    assert page.status_code == 200
    assert "Connect Notion to @Bo in Acme?" in page.text
    assert "This link was made in Slack for @Bo in Acme." in page.text
    assert "form-action 'self' http://notion.test" in page.headers["content-security-policy"]
    assert harness.notion_world.requests["GET /v1/oauth/authorize"] == 0
    assert await connections(harness) == []


async def test_the_confirmation_needs_the_button_of_our_page_in_this_browser(
    harness: Harness, browser: httpx.AsyncClient
) -> None:
    page = await browser.get(_path(harness.link(BO, CLICKUP)))
    action, fields = confirmation_form(page)
    async with browser_client(harness) as other_browser:
        no_cookie = await other_browser.post(action, data=fields)
    assert no_cookie.status_code == 403  # another browser (or a cross-site POST: no cookie)
    foreign = await browser.post(action, data=fields, headers={"Origin": "https://evil.example"})
    assert foreign.status_code == 403
    wrong_step = await browser.get("/auth/clickup/callback", params={**fields, "code": "c"})
    assert wrong_step.status_code == 400  # a confirm state is no consent state
    pressed = await browser.post(action, data=fields, headers={"Origin": harness.base_url})
    assert pressed.status_code == 303
    again = await browser.post(action, data=fields)
    assert again.status_code == 409
    assert await connections(harness) == []


# --- a link is spent by its connection ------------------------------------------------------------


async def test_a_link_is_spent_by_the_connection_made_with_it(
    harness: Harness, browser: httpx.AsyncClient
) -> None:
    link = harness.link(ANA, CLICKUP)
    started = await initiate(browser, link)
    callback = await consent(harness, started.headers["location"])
    assert (await browser.get(_path(callback))).status_code == 200
    again = await browser.get(_path(link))
    assert again.status_code == 410
    assert "This connect link was already used" in again.text
    assert "/tasks connect clickup" in again.text


async def test_two_flows_from_one_link_make_one_connection(
    harness: Harness, browser: httpx.AsyncClient
) -> None:
    link = harness.link(ANA, CLICKUP)
    first = await initiate(browser, link)
    second = await initiate(browser, link)  # e.g. two tabs, before either finished
    first_callback = await consent(harness, first.headers["location"])
    second_callback = await consent(harness, second.headers["location"])
    assert (await browser.get(_path(first_callback))).status_code == 200
    late = await browser.get(_path(second_callback))
    assert late.status_code == 409
    assert "This connect link was already used" in late.text
    assert len(await connections(harness)) == 1
    assert len(harness.notifier.connections) == 1


# --- starting is limited per person ---------------------------------------------------------------


async def test_starting_is_limited_per_person(harness: Harness, browser: httpx.AsyncClient) -> None:
    for _ in range(START_LIMIT.starts):
        opened = await browser.get(_path(harness.link(ANA, CLICKUP)))
        assert opened.status_code == 200
        harness.clock.advance(1)
    refused = await browser.get(_path(harness.link(ANA, CLICKUP)))
    assert refused.status_code == 429
    wait = int(refused.headers["retry-after"])
    assert wait == START_LIMIT.window.total_seconds() - START_LIMIT.starts
    assert "Too many attempts to connect ClickUp" in refused.text
    # Someone else is not held up, and Ana may start again once the window has moved on.
    assert (await browser.get(_path(harness.link(BO, CLICKUP)))).status_code == 200
    harness.clock.advance(wait)
    assert (await browser.get(_path(harness.link(ANA, CLICKUP)))).status_code == 200


# --- replacing asks first, and the owner is told --------------------------------------------------


async def test_replacing_a_connection_asks_first_and_the_owner_is_told(
    harness: Harness, browser: httpx.AsyncClient
) -> None:
    started = await initiate(browser, harness.link(ANA, CLICKUP))
    await browser.get(_path(await consent(harness, started.headers["location"])))
    [first] = harness.notifier.connections
    assert (first.team_id, first.user_id, first.provider) == (TEAM, ANA, CLICKUP)
    assert first.replaced is False and first.account_name is not None
    assert first.account_name.startswith("Acme")

    page = await browser.get(_path(harness.link(ANA, CLICKUP)))
    assert page.status_code == 200
    assert "@Ana is already connected to ClickUp (Acme)." in page.text
    assert "Replace with another ClickUp account" in page.text
    action, fields = confirmation_form(page)
    started = await browser.post(action, data=fields)
    await browser.get(_path(await consent(harness, started.headers["location"])))
    _, second = harness.notifier.connections
    assert second.replaced is True
    assert len(await connections(harness)) == 1


async def test_with_sign_in_replacing_asks_after_slack_says_who_it_is(
    signed: Harness, signed_browser: httpx.AsyncClient
) -> None:
    page = await signed_in_flow(signed, signed_browser, ANA, ANA)
    await signed_browser.get(_path(await consent(signed, page.headers["location"])))
    page = await signed_in_flow(signed, signed_browser, ANA, ANA)
    assert page.status_code == 200
    assert "Replace your ClickUp connection?" in page.text
    assert "You are signed in to Slack as @Ana in Acme." in page.text
    action, fields = confirmation_form(page)
    started = await signed_browser.post(action, data=fields)
    assert started.status_code == 303
    await signed_browser.get(_path(await consent(signed, started.headers["location"])))
    assert [c.replaced for c in signed.notifier.connections] == [False, True]


# --- names from outside are cleaned ---------------------------------------------------------------


async def test_bidi_and_control_characters_never_reach_a_page_or_the_database(
    harness: Harness, browser: httpx.AsyncClient
) -> None:
    harness.clickup_world.teams["9001"]["name"] = "Acme\u202e\u2066evil\u2069\n\x1b[31m"
    harness.slack_world.users[ANA]["profile"]["display_name"] = "An\u202ea\u200b"
    harness.clickup_world.lists["l1"]["name"] = "Back\u202elog\u2067"
    page = await browser.get(_path(harness.link(ANA, CLICKUP)))
    assert "Connect ClickUp to @Ana in Acme?" in page.text
    action, fields = confirmation_form(page)
    started = await browser.post(action, data=fields)
    done = await browser.get(_path(await consent(harness, started.headers["location"])))
    assert "ClickUp is connected to Acmeevil[31m." in done.text
    for bad in ("\u202e", "\u2066", "\u2069", "\x1b", "\u200b"):
        assert bad not in done.text and bad not in page.text
    [row] = await connections(harness)
    assert row.workspace_name == "Acmeevil[31m"
    async with harness.sessions() as session:
        [catalog] = (await session.scalars(select(ProviderCatalog))).all()
    names = [d["name"] for d in catalog.data["destinations"]]
    assert "Backlog" in names
    assert not any(bad in json.dumps(catalog.data) for bad in ("\\u202e", "\\u2067"))


def _token_of(link: str) -> str:
    return parse_qs(urlsplit(link).query)["t"][0]


async def test_link_tokens_decode_strictly(harness: Harness, browser: httpx.AsyncClient) -> None:
    link = harness.link(ANA, CLICKUP)
    token = _token_of(link)
    body, mac = token.split(".")
    base = link.split("?")[0]
    last = mac[-1]
    # The MAC's last character carries 2 unused bits (32 bytes): another letter with the same
    # 6 leading bits decodes to the same bytes, yet is not the link we made.
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    twin = alphabet[alphabet.index(last) ^ 1]
    assert base64.urlsafe_b64decode(mac[:-1] + twin + "=") == base64.urlsafe_b64decode(mac + "=")
    padded_body = body + "=" * (-len(body) % 4)
    for bad in (
        f"{body}.{mac}=",  # padding
        f"{padded_body}.{mac}" if padded_body != body else f"{body}=.{mac}",
        f"{body}.{mac[:-1]}{twin}",  # the same bytes, spelt differently
        f"{body.replace('-', '+').replace('_', '/')}.{mac}"
        if "-" in body or "_" in body
        else f"{body}.{mac[:-1]}+",  # the standard alphabet
        f"{body}.{mac} ",
        f"{body}.é{mac}",  # not ASCII: 400, not a 500
        f"{body}\u00e9.{mac}",
    ):
        page = await browser.get(base, params={"t": bad})
        assert page.status_code == 400, bad
        assert "This connect link is not valid" in page.text
    assert (await browser.get(_path(link))).status_code == 200


async def test_a_non_ascii_link_token_is_a_400_page(
    harness: Harness, browser: httpx.AsyncClient
) -> None:
    for token in ("ü.ü", "%C3%BC.x", "\u202e.a"):
        page = await browser.get(f"/auth/clickup/initiate?t={token}")
        assert page.status_code == 400
        assert "This connect link is not valid" in page.text


async def test_the_browser_cookie_is_only_ever_one_we_made(
    harness: Harness, browser: httpx.AsyncClient
) -> None:
    chosen = "A" * 43  # looks like ours, but the browser (or an attacker) picked it
    browser.cookies.set("scrumy_connect", chosen, domain="127.0.0.1", path="/auth/")
    page = await browser.get(_path(harness.link(ANA, CLICKUP)))
    issued = page.headers["set-cookie"].split(";")[0].split("=", 1)[1]
    assert issued != chosen and len(issued) == 43
    # Ours is kept for the next flow (two tools in two tabs), while a state still uses it.
    browser.cookies.clear()
    browser.cookies.set("scrumy_connect", issued, domain="127.0.0.1", path="/auth/")
    again = await browser.get(_path(harness.link(ANA, NOTION)))
    assert again.headers["set-cookie"].split(";")[0].split("=", 1)[1] == issued


def _claims(token: str) -> dict[str, object]:
    body = token.split(".")[0]
    return dict(json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))))
