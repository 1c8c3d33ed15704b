"""Who is in the workspace, asked of the Slack Web API (users.info, users.lookupByEmail)."""

from __future__ import annotations

import httpx
import pytest
import respx

from bot.directory import SlackDirectory
from routing.owners import DirectoryUnavailable
from scrumy.clock import FakeClock

API = "https://slack.test/api"


async def _token(team_id: str) -> str | None:
    return "xoxb-directory" if team_id == "T1" else None


def user(user_id: str, **extra: object) -> dict[str, object]:
    return {"ok": True, "user": {"id": user_id, "deleted": False, "is_bot": False, **extra}}


@pytest.fixture
async def directory(clock: FakeClock) -> SlackDirectory:
    return SlackDirectory(httpx.AsyncClient(), api_url=API, tokens=_token, clock=clock)


@respx.mock
async def test_members_and_emails(directory: SlackDirectory, clock: FakeClock) -> None:
    info = respx.get(f"{API}/users.info").mock(
        side_effect=lambda request: httpx.Response(
            200,
            json={
                "U1": user("U1"),
                "U2": user("U2", deleted=True),
                "B1": user("B1", is_bot=True),
            }.get(request.url.params["user"], {"ok": False, "error": "user_not_found"}),
        )
    )
    lookup = respx.get(f"{API}/users.lookupByEmail").mock(
        side_effect=lambda request: httpx.Response(
            200,
            json=user("U1")
            if request.url.params["email"] == "ana@acme.example"
            else {"ok": False, "error": "users_not_found"},
        )
    )
    assert await directory.is_member("T1", "U1")
    assert not await directory.is_member("T1", "U2")  # deactivated
    assert not await directory.is_member("T1", "B1")  # a bot
    assert not await directory.is_member("T1", "U404")
    assert await directory.user_by_email("T1", "ana@acme.example") == "U1"
    assert await directory.user_by_email("T1", "nobody@acme.example") is None
    assert info.calls[0].request.headers["authorization"] == "Bearer xoxb-directory"
    # Cached for a while: asking again costs no call; after five minutes it asks again.
    calls = len(info.calls) + len(lookup.calls)
    assert await directory.is_member("T1", "U1")
    assert await directory.user_by_email("T1", "ANA@acme.example") == "U1"
    assert len(info.calls) + len(lookup.calls) == calls
    clock.advance(301)
    assert await directory.is_member("T1", "U1")
    assert len(info.calls) + len(lookup.calls) == calls + 1


@respx.mock
async def test_slack_trouble_is_directory_unavailable(directory: SlackDirectory) -> None:
    route = respx.get(f"{API}/users.info")
    route.mock(return_value=httpx.Response(429, headers={"Retry-After": "12"}))
    with pytest.raises(DirectoryUnavailable) as limited:
        await directory.is_member("T1", "U1")
    assert limited.value.retry_after == 12
    route.mock(return_value=httpx.Response(502, text="<html>bad gateway</html>"))
    with pytest.raises(DirectoryUnavailable, match="without JSON"):
        await directory.is_member("T1", "U2")
    route.mock(return_value=httpx.Response(200, json={"ok": False, "error": "invalid_auth"}))
    with pytest.raises(DirectoryUnavailable, match="invalid_auth") as refused:
        await directory.is_member("T1", "U3")
    assert "xoxb" not in str(refused.value)
    route.mock(side_effect=httpx.ConnectError("refused"))
    with pytest.raises(DirectoryUnavailable, match="did not answer"):
        await directory.is_member("T1", "U4")
    with pytest.raises(DirectoryUnavailable, match="not installed"):
        await directory.is_member("T9", "U1")
