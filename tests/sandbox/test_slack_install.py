"""Installs in the Slack emulator: the OAuth v2 code exchange (one-time codes, the redirect URI,
token rotation) and Socket Mode's apps.connections.open."""

from __future__ import annotations

import re

import httpx

from sandbox.slack import SlackSandbox
from tests.emulators import SLACK_URL
from tests.fakes import FakeClock
from tests.sandbox.slack_calls import slack

ACCESS = f"{SLACK_URL}/api/oauth.v2.access"
REDIRECT = "http://127.0.0.1:8000/slack/oauth_redirect"


async def exchange(http: httpx.AsyncClient, **form: str) -> dict[str, object]:
    fields = {"client_id": "app-id", "client_secret": "app-secret", **form}
    body: dict[str, object] = (await http.post(ACCESS, data=fields)).json()
    return body


async def test_a_code_installs_the_bot_once(
    slack_world: SlackSandbox, http: httpx.AsyncClient, clock: FakeClock
) -> None:
    slack_world.installs.add_app("app-id", "app-secret", REDIRECT,
                                 scopes={"chat:write", "commands", "im:write"})  # fmt: skip
    slack_world.add_workspace("T0NEW", "xoxb-placeholder", "New Co")
    code = slack_world.installs.issue_code("app-id", "T0NEW", "U0NEWBIE", at=clock.now(),
                                           redirect_uri=REDIRECT)  # fmt: skip
    body = await exchange(http, code=code, redirect_uri=REDIRECT)
    assert body["ok"] and body["token_type"] == "bot"
    assert body["team"] == {"id": "T0NEW", "name": "New Co"}
    assert body["scope"] == "chat:write,commands,im:write"
    assert body["bot_user_id"] == "U0SCRUMYBOT" and body["authed_user"] == {"id": "U0NEWBIE"}
    assert "refresh_token" not in body and "expires_in" not in body
    token = str(body["access_token"])
    assert slack_world.bot_tokens[token] == "T0NEW"
    who = (await slack(http, "auth.test", token=token)).json()
    assert who["team_id"] == "T0NEW"
    assert (await exchange(http, code=code, redirect_uri=REDIRECT))["error"] == "invalid_code"


async def test_what_the_exchange_refuses(
    slack_world: SlackSandbox, http: httpx.AsyncClient, clock: FakeClock
) -> None:
    slack_world.installs.add_app("app-id", "app-secret", REDIRECT)

    def code() -> str:
        return slack_world.installs.issue_code("app-id", "T0ACME", "U0ANA", at=clock.now(),
                                               redirect_uri=REDIRECT)  # fmt: skip

    assert (await exchange(http, client_id="who", code=code()))["error"] == "invalid_client_id"
    assert (await exchange(http, client_secret="guess", code=code()))["error"] == (
        "bad_client_secret"
    )
    assert (await exchange(http, code=code(), redirect_uri="http://evil.example/cb"))[
        "error"
    ] == "bad_redirect_uri"
    stale = code()
    clock.advance(601)
    assert (await exchange(http, code=stale, redirect_uri=REDIRECT))["error"] == "invalid_code"
    assert (await exchange(http, code="made-up"))["error"] == "invalid_code"
    assert (await exchange(http, grant_type="password"))["error"] == "invalid_grant_type"
    # HTTP Basic client authentication, as Slack prefers it.
    basic = await http.post(ACCESS, data={"code": code(), "redirect_uri": REDIRECT},
                            auth=("app-id", "app-secret"))  # fmt: skip
    assert basic.json()["ok"]


async def test_token_rotation(
    slack_world: SlackSandbox, http: httpx.AsyncClient, clock: FakeClock
) -> None:
    slack_world.installs.add_app("app-id", "app-secret", REDIRECT, token_rotation=True)
    code = slack_world.installs.issue_code("app-id", "T0ACME", "U0ANA", at=clock.now())
    body = await exchange(http, code=code)
    token = str(body["access_token"])
    assert token.startswith("xoxe.xoxb-") and body["expires_in"] == 43200
    assert str(body["refresh_token"]).startswith("xoxe-")
    assert (await slack(http, "auth.test", token=token)).json()["ok"]
    clock.advance(43200)
    assert (await slack(http, "auth.test", token=token)).json()["error"] == "token_expired"
    fresh = await exchange(
        http, grant_type="refresh_token", refresh_token=str(body["refresh_token"])
    )
    assert fresh["ok"] and fresh["access_token"] != token
    assert (await slack(http, "auth.test", token=str(fresh["access_token"]))).json()["ok"]
    assert (await exchange(http, grant_type="refresh_token", refresh_token="xoxe-1-nope"))[
        "error"
    ] == "invalid_refresh_token"


async def test_socket_mode_url_needs_an_app_level_token(
    slack_world: SlackSandbox, http: httpx.AsyncClient
) -> None:
    url = f"{SLACK_URL}/api/apps.connections.open"
    slack_world.installs.add_app_token("xapp-1-good")
    slack_world.installs.add_app_token("xapp-1-narrow", scopes=set())
    opened = (await http.post(url, headers={"Authorization": "Bearer xapp-1-good"})).json()
    # The emulator's own WebSocket (ws:// over plain HTTP; Slack's is wss://), one-time ticket.
    assert opened["ok"] and opened["url"].startswith("ws://slack.test/link/?ticket=")
    assert opened["url"].endswith("&app_id=A0SCRUMY")
    assert slack_world.installs.socket_urls == [opened["url"]]

    async def error(**options: object) -> str:
        return str((await http.post(url, **options)).json()["error"])  # type: ignore[arg-type]

    assert await error(data={"token": "xapp-1-good"}) == "missing_args"  # not as a form field
    assert await error(headers={"Authorization": "Bearer xoxb-acme-bot"}) == (
        "not_allowed_token_type"
    )
    assert await error(headers={"Authorization": "Bearer xapp-1-unknown"}) == "invalid_auth"
    assert await error(headers={"Authorization": "Bearer xapp-1-narrow"}) == "missing_scope"
    got = await http.get(url, headers={"Authorization": "Bearer xapp-1-good"})
    assert got.json()["error"] == "insecure_request"


AUTHORIZE = f"{SLACK_URL}/oauth/v2/authorize"


def form_of(page: str) -> dict[str, str]:
    """The hidden fields of the consent page's form."""
    return dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', page))


async def test_the_consent_page_names_the_app_the_workspace_and_the_scopes(
    slack_world: SlackSandbox, http: httpx.AsyncClient
) -> None:
    slack_world.installs.add_app("app-id", "app-secret", REDIRECT, name="Scrumy Tasks",
                                 scopes={"chat:write", "commands", "im:write"})  # fmt: skip
    asked = {"client_id": "app-id", "scope": "chat:write,commands", "state": "s-1",
             "redirect_uri": REDIRECT, "team": "T0ACME"}  # fmt: skip
    page = await http.get(AUTHORIZE, params=asked)
    assert page.status_code == 200
    assert "Scrumy Tasks is requesting permission to access the Acme Slack workspace" in page.text
    assert "<li>chat:write</li><li>commands</li>" in page.text and "im:write" not in page.text
    fields = form_of(page.text)
    assert fields["state"] == "s-1" and fields["team_id"] == "T0ACME"

    allowed = await http.post(AUTHORIZE, data={**fields, "user_id": "U0ANA", "decision": "allow"})
    assert allowed.status_code == 302
    back = httpx.URL(allowed.headers["location"])
    assert str(back.copy_with(query=None)) == REDIRECT
    assert back.params["state"] == "s-1"
    body = await exchange(http, code=back.params["code"], redirect_uri=REDIRECT)
    assert body["ok"] and body["scope"] == "chat:write,commands"  # what the page asked for
    assert body["team"] == {"id": "T0ACME", "name": "Acme"}
    assert body["authed_user"] == {"id": "U0ANA"}

    # "Cancel": back to the app with access_denied and the state, no code.
    denied = await http.post(AUTHORIZE, data={**fields, "user_id": "U0ANA", "decision": "deny"})
    assert denied.status_code == 302
    assert httpx.URL(denied.headers["location"]).params == httpx.QueryParams(
        {"error": "access_denied", "state": "s-1"}
    )
    # A test may say where and who in the query instead of the form.
    quick = await http.post(AUTHORIZE, params={**asked, "user": "U0BO"})
    assert "code" in httpx.URL(quick.headers["location"]).params


async def test_the_consent_page_refuses_with_an_error_page_not_a_redirect(
    slack_world: SlackSandbox, http: httpx.AsyncClient
) -> None:
    slack_world.installs.add_app("app-id", "app-secret", REDIRECT)
    asked = {"client_id": "app-id", "scope": "chat:write", "state": "s", "redirect_uri": REDIRECT}
    for wrong, message in [
        ({"client_id": "who"}, "Invalid client_id parameter"),
        ({"redirect_uri": "http://evil.example/cb"}, "redirect_uri did not match"),
        ({"scope": "chat:write,admin"}, "Invalid permissions requested"),
        ({"scope": ""}, "Invalid permissions requested"),
    ]:
        for method in ("GET", "POST"):
            query = {**asked, **wrong, "team": "T0ACME", "user": "U0ANA"}
            answer = await http.request(method, AUTHORIZE, params=query)
            assert answer.status_code == 400 and message in answer.text
            assert "location" not in answer.headers
    # No redirect_uri: Slack uses the app's first one; the page offers the known workspaces.
    page = await http.get(AUTHORIZE, params={"client_id": "app-id", "scope": "chat:write"})
    assert page.status_code == 200 and '<option value="T0ACME">Acme</option>' in page.text
    nobody = await http.post(AUTHORIZE, data={"client_id": "app-id", "scope": "chat:write"})
    assert nobody.status_code == 400
    fields = {"client_id": "app-id", "scope": "chat:write", "team_id": "T0ACME", "user_id": "U0ANA"}
    allowed = await http.post(AUTHORIZE, data=fields)
    assert allowed.headers["location"].startswith(REDIRECT + "?code=")
