"""The Slack emulator's Sign in with Slack is as strict as Slack: one-time codes, the exact
redirect URI, the client secret, and the nonce carried into the ID token."""

from __future__ import annotations

import base64
import json
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest

from sandbox.slack import SlackSandbox
from tests.emulators import SLACK_URL
from tests.fakes import FakeClock

CLIENT, SECRET = "111.222", "slack-secret"
REDIRECT = "http://127.0.0.1:8000/auth/slack/callback"


@pytest.fixture
def slack_world(slack_world: SlackSandbox) -> SlackSandbox:
    slack_world.openid.add_app(CLIENT, SECRET, REDIRECT)
    return slack_world


def authorize_query(**changes: str) -> dict[str, str]:
    query = {
        "response_type": "code",
        "scope": "openid profile",
        "client_id": CLIENT,
        "state": "s1",
        "nonce": "n1",
        "redirect_uri": REDIRECT,
        "team": "T0ACME",
    }
    return {**query, **changes}


async def code_for(http: httpx.AsyncClient, user: str = "U0ANA", **changes: str) -> str:
    answer = await http.post(
        f"{SLACK_URL}/openid/connect/authorize", data={**authorize_query(**changes), "user": user}
    )
    assert answer.status_code == 302
    back = urlsplit(answer.headers["location"])
    assert f"{back.scheme}://{back.netloc}{back.path}" == REDIRECT
    query = parse_qs(back.query)
    assert query["state"] == ["s1"]
    return query["code"][0]


async def exchange(http: httpx.AsyncClient, code: str, **changes: str) -> dict[str, object]:
    form = {"client_id": CLIENT, "client_secret": SECRET, "code": code, "redirect_uri": REDIRECT}
    answer = await http.post(f"{SLACK_URL}/api/openid.connect.token", data={**form, **changes})
    assert answer.status_code == 200
    return dict(answer.json())


async def test_the_consent_page_refuses_what_slack_refuses(http: httpx.AsyncClient) -> None:
    page = await http.get(f"{SLACK_URL}/openid/connect/authorize?{urlencode(authorize_query())}")
    assert page.status_code == 200
    assert "Continue as Ana Lima" in page.text and "Continue as Scrumy" not in page.text
    for bad in (
        {"redirect_uri": REDIRECT + "/x"},
        {"redirect_uri": "https://evil.example/cb"},
        {"client_id": "999.999"},
        {"response_type": "token"},
        {"scope": "profile"},
    ):
        query = urlencode(authorize_query(**bad))
        refused = await http.get(f"{SLACK_URL}/openid/connect/authorize?{query}")
        assert refused.status_code == 400, bad
        assert "location" not in refused.headers


async def test_a_code_is_exchanged_once_with_the_secret_and_the_same_redirect(
    http: httpx.AsyncClient,
) -> None:
    code = await code_for(http)
    assert (await exchange(http, code, client_secret="wrong"))["error"] == "bad_client_secret"
    assert (await exchange(http, code, client_id="999.999"))["error"] == "invalid_client_id"
    tokens = await exchange(http, code)
    assert tokens["ok"] is True and tokens["token_type"] == "Bearer"
    assert (await exchange(http, code))["error"] == "invalid_code"  # used
    other = await code_for(http)
    mismatch = await exchange(http, other, redirect_uri=REDIRECT + "?x=1")
    assert mismatch["error"] == "bad_redirect_uri"
    assert (await exchange(http, other))["error"] == "invalid_code"  # spent by that try


async def test_the_id_token_and_user_info_say_who_signed_in(http: httpx.AsyncClient) -> None:
    tokens = await exchange(http, await code_for(http, "U0BO"))
    payload = str(tokens["id_token"]).split(".")[1]
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    assert claims["iss"] == "https://slack.com" and claims["aud"] == CLIENT
    assert claims["nonce"] == "n1"
    assert claims["https://slack.com/user_id"] == "U0BO" == claims["sub"]
    assert claims["https://slack.com/team_id"] == "T0ACME"
    info = await http.get(
        f"{SLACK_URL}/api/openid.connect.userInfo",
        headers={"Authorization": f"Bearer {tokens['access_token']}"},
    )
    body = info.json()
    assert body["ok"] is True and body["https://slack.com/user_id"] == "U0BO"
    assert body["https://slack.com/team_name"] == "Acme" and body["name"] == "Bo Chen"
    stranger = await http.post(
        f"{SLACK_URL}/api/openid.connect.userInfo", headers={"Authorization": "Bearer xoxp-no"}
    )
    assert stranger.json() == {"ok": False, "error": "invalid_auth"}


async def test_a_code_expires_after_ten_minutes(http: httpx.AsyncClient, clock: FakeClock) -> None:
    code = await code_for(http)
    clock.advance(10 * 60 + 1)
    assert (await exchange(http, code))["error"] == "invalid_code"
