"""Who is in the workspace, asked of the Slack Web API emulator as Slack answers it: scopes,
tiers, Slack Connect people, hidden people, the member list for big meetings. The emulator is
served on a socket (`slack_served`): the directory calls it through slack_sdk."""

from __future__ import annotations

import logging
from datetime import timedelta

import httpx
import pytest

from bot.directory import (
    NOT_VISIBLE,
    OTHER_ORGANISATION,
    PAGE,
    SingleWorkspace,
    SlackDirectory,
    membership,
    missing_scope_reason,
    team_of_token,
)
from bot.scopes import REQUIRED_BOT_SCOPES
from routing.errors import DirectoryUnavailable, TeamNotServed
from sandbox.faults import FaultKind
from sandbox.slack import SlackSandbox
from tests.emulators import SLACK_BOT_TOKEN, SLACK_TEAM, slack_api
from tests.fakes import FakeClock

TEAM, BOT = SLACK_TEAM, SLACK_BOT_TOKEN
PARTNER, PARTNER_BOT = "T0PARTNER", "xoxb-partner-bot"


@pytest.fixture
def slack_world(slack_world: SlackSandbox) -> SlackSandbox:
    slack_world.add_workspace("T0OTHER", "xoxb-other-bot")
    slack_world.add_user("T0OTHER", "U0EVE", "Eve Smith", "eve@other.example")
    # A partner organisation sharing a Slack Connect channel with Acme.
    slack_world.add_workspace(PARTNER, PARTNER_BOT)
    slack_world.share_channel(TEAM, PARTNER)
    slack_world.add_user(PARTNER, "U0PAT", "Pat Vendor", "pat@partner.example")
    slack_world.add_user(PARTNER, "U0VEIL", "Val Veiled", "val@partner.example", visible=False)
    slack_world.add_user("T0FAR", "U0STRANGE", "Sam Stranger", "sam@far.example", stranger=True)
    return slack_world


def directory(
    slack_url: str,
    clock: FakeClock,
    tokens: dict[str, str] | None = None,
    *,
    max_wait: timedelta = timedelta(seconds=20),
) -> SlackDirectory:
    known = {TEAM: BOT} if tokens is None else tokens

    async def token_for(team_id: str) -> str | None:
        return known.get(team_id)

    api = slack_api(slack_url, clock, max_wait=max_wait)
    return SlackDirectory(api, tokens=token_for, clock=clock)


def calls(world: SlackSandbox) -> int:
    return sum(world.requests.values())


async def test_members_and_emails(
    slack_world: SlackSandbox, clock: FakeClock, slack_served: str
) -> None:
    people = directory(slack_served, clock)
    assert await people.is_member(TEAM, "U0ANA")
    assert not await people.is_member(TEAM, "U0GONE")  # deactivated
    assert not await people.is_member(TEAM, "B0SCRUMY")  # a bot
    assert not await people.is_member(TEAM, "U0NOBODY")
    assert not await people.is_member(TEAM, "U0EVE")  # in another workspace
    assert await people.user_by_email(TEAM, "bo@acme.example") == "U0BO"
    assert await people.user_by_email(TEAM, "dee@acme.example") is None
    assert await people.user_by_email(TEAM, "eve@other.example") is None
    # Cached for a while: asking again costs no call; after five minutes it asks again.
    before = calls(slack_world)
    assert await people.is_member(TEAM, "U0ANA")
    assert await people.user_by_email(TEAM, "BO@acme.example") == "U0BO"
    assert calls(slack_world) == before
    clock.advance(301)
    assert await people.is_member(TEAM, "U0ANA")
    assert calls(slack_world) == before + 1


async def test_slack_connect_people_are_not_members(
    slack_world: SlackSandbox, clock: FakeClock, slack_served: str
) -> None:
    """Slack finds them (users.info, lookupByEmail), with their own team_id; or hides them."""
    people = directory(slack_served, clock)
    found = await people.look_up(
        TEAM, user_ids=["U0PAT", "U0VEIL", "U0STRANGE"], emails=["Pat@partner.example"]
    )
    assert found.of_id("U0PAT").user_id is None
    assert found.of_id("U0PAT").reason == OTHER_ORGANISATION
    assert found.of_email("pat@partner.example").reason == OTHER_ORGANISATION
    assert found.of_id("U0STRANGE").reason == OTHER_ORGANISATION  # is_stranger
    assert found.of_id("U0VEIL").reason == NOT_VISIBLE  # user_not_visible: no crash
    assert not await people.is_member(TEAM, "U0PAT")


async def test_a_missing_scope_makes_people_unknown_with_a_reason_and_tells_the_operator(
    slack_world: SlackSandbox,
    clock: FakeClock,
    http: httpx.AsyncClient,
    slack_served: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    slack_world.add_workspace("T0NARROW", "xoxb-narrow", scopes={"users:read", "chat:write"})
    slack_world.add_user("T0NARROW", "U0NED", "Ned Narrow", "ned@narrow.example")
    raw = await http.post(
        f"{slack_served}/api/users.lookupByEmail", data={"email": "ned@narrow.example"},
        headers={"Authorization": "Bearer xoxb-narrow"},
    )  # fmt: skip
    assert raw.json() == {
        "ok": False, "error": "missing_scope", "needed": "users:read.email",
        "provided": "chat:write,users:read",
    }  # fmt: skip
    people = directory(slack_served, clock, {"T0NARROW": "xoxb-narrow"})
    with caplog.at_level(logging.ERROR, logger="bot.directory"):
        found = await people.look_up("T0NARROW", emails=["ned@narrow.example", "x@narrow.example"])
    assert found.of_email("ned@narrow.example").user_id is None
    assert found.of_email("ned@narrow.example").reason == missing_scope_reason("users:read.email")
    assert await people.is_member("T0NARROW", "U0NED")  # users:read is granted
    # Slack said the scope is missing: the next e-mails are not asked for a while.
    asked = slack_world.requests["users.lookupByEmail"]
    found = await people.look_up("T0NARROW", emails=[f"n{n}@narrow.example" for n in range(5)])
    assert found.of_email("n4@narrow.example").reason == missing_scope_reason("users:read.email")
    assert slack_world.requests["users.lookupByEmail"] == asked
    warnings = [r.getMessage() for r in caplog.records]
    assert len(warnings) == 1  # once per workspace and scope, not per person
    assert "lacks the users:read.email scope" in warnings[0] and "reinstall" in warnings[0]
    assert "xoxb" not in warnings[0]
    # Without users:read nobody can be checked; the reason says so.
    slack_world.add_workspace("T0BARE", "xoxb-bare", scopes={"chat:write"})
    bare = directory(slack_served, clock, {"T0BARE": "xoxb-bare"})
    found = await bare.look_up("T0BARE", user_ids=["U0NED"])
    assert found.of_id("U0NED").reason == missing_scope_reason("users:read")


async def test_the_emulator_counts_each_method_by_its_tier_per_workspace(
    slack_world: SlackSandbox, clock: FakeClock, http: httpx.AsyncClient, slack_served: str
) -> None:
    async def lookup(token: str) -> httpx.Response:
        return await http.post(
            f"{slack_served}/api/users.lookupByEmail", data={"email": "ana@acme.example"},
            headers={"Authorization": f"Bearer {token}"},
        )  # fmt: skip

    assert all([(await lookup(BOT)).status_code == 200 for _ in range(50)])
    limited = await lookup(BOT)
    assert limited.status_code == 429 and limited.json()["error"] == "ratelimited"
    assert 0 < int(limited.headers["retry-after"]) <= 60
    assert (await lookup("xoxb-other-bot")).status_code == 200  # another workspace's budget
    info = await http.post(
        f"{slack_served}/api/users.info", data={"user": "U0ANA"},
        headers={"Authorization": f"Bearer {BOT}"},
    )  # fmt: skip
    assert info.status_code == 200  # users.info is Tier 4, counted apart
    clock.advance(int(limited.headers["retry-after"]))
    assert (await lookup(BOT)).status_code == 200


async def test_the_directory_keeps_within_tier_3_and_never_waits_past_its_bound(
    slack_world: SlackSandbox, clock: FakeClock, slack_served: str
) -> None:
    for n in range(60):
        slack_world.add_user(TEAM, f"U1{n:04d}", f"Person {n}", f"p{n}@acme.example")
    patient = directory(slack_served, clock, max_wait=timedelta(minutes=2))
    for n in range(60):  # one by one, as separate requests would ask
        assert await patient.user_by_email(TEAM, f"p{n}@acme.example") == f"U1{n:04d}"
    assert slack_world.rate_limited["users.lookupByEmail"] == 0
    assert 55 <= sum(clock.slept) <= 65  # the 51st waited for the first to leave the minute
    clock.advance(600)
    hurried = directory(slack_served, clock)  # waits 20 s at most; past that, 503 Retry-After
    for n in range(50):
        await hurried.user_by_email(TEAM, f"p{n}@acme.example")
    with pytest.raises(DirectoryUnavailable) as busy:
        await hurried.user_by_email(TEAM, "p59@acme.example")
    assert busy.value.retry_after is not None and 20 < busy.value.retry_after <= 60
    assert slack_world.rate_limited["users.lookupByEmail"] == 0


async def test_a_429_is_waited_out_and_slack_trouble_is_directory_unavailable(
    slack_world: SlackSandbox, clock: FakeClock, slack_served: str
) -> None:
    people = directory(slack_served, clock, {TEAM: BOT, "T0BAD": "xoxb-revoked"})
    slack_world.faults.add(FaultKind.RATE_LIMIT, seconds=12)  # another process spent it
    assert await people.is_member(TEAM, "U0ANA")
    assert clock.slept == [12]
    slack_world.faults.add(FaultKind.RATE_LIMIT, seconds=45)  # longer than a request may wait
    with pytest.raises(DirectoryUnavailable) as limited:
        await people.is_member(TEAM, "U0BO")
    assert limited.value.retry_after == 45
    slack_world.faults.add(FaultKind.BAD_GATEWAY_HTML)  # once: a read is tried again
    assert await people.is_member(TEAM, "U0CY")
    slack_world.faults.add(FaultKind.BAD_GATEWAY_HTML, times=2)
    with pytest.raises(DirectoryUnavailable, match="without JSON"):
        await people.user_by_email(TEAM, "cy@acme.example")
    with pytest.raises(DirectoryUnavailable, match="invalid_auth") as refused:
        await people.is_member("T0BAD", "U0ANA")
    assert "xoxb" not in str(refused.value)
    # Slack unreachable: DirectoryUnavailable too (tests/bot/test_slack_api.py, without the
    # real pause slack_web_client's connection retry would take here).


async def test_a_workspace_without_our_token_is_not_served_and_nobody_is_asked(
    slack_world: SlackSandbox, clock: FakeClock, slack_served: str
) -> None:
    people = SlackDirectory(
        slack_api(slack_served, clock), tokens=SingleWorkspace(BOT, TEAM), clock=clock
    )
    assert await people.serves(TEAM)
    assert not await people.serves("T0OTHER")
    with pytest.raises(TeamNotServed, match="not installed in the Slack workspace T0OTHER"):
        await people.is_member("T0OTHER", "U0ANA")
    with pytest.raises(TeamNotServed):
        await people.user_by_email("T0OTHER", "ana@acme.example")
    assert calls(slack_world) == 0


async def test_many_people_are_read_from_the_member_list_once(
    slack_world: SlackSandbox, clock: FakeClock, slack_served: str
) -> None:
    for n in range(450):
        slack_world.add_user(TEAM, f"U1{n:04d}", f"Person {n}", f"p{n}@acme.example")
    people = directory(slack_served, clock)
    emails = [f"p{n}@acme.example" for n in range(0, 450, 10)] + ["nobody@acme.example"]
    ids = ["U0ANA", "U0GONE", "U0PAT", "U0NOBODY"] + [f"U1{n:04d}" for n in range(30)]
    found = await people.look_up(TEAM, user_ids=ids, emails=[*emails, "pat@partner.example"])
    listed = len([u for u in slack_world.users.values() if u["team_id"] in (TEAM, PARTNER)])
    pages = -(-listed // PAGE)
    assert dict(slack_world.requests) == {"users.list": pages}
    assert found.of_email("p440@acme.example").user_id == "U10440"
    assert found.of_email("nobody@acme.example").user_id is None
    assert found.of_email("pat@partner.example").reason == OTHER_ORGANISATION
    assert found.of_id("U0ANA").user_id == "U0ANA"
    assert found.of_id("U0GONE").user_id is None
    assert found.of_id("U0PAT").reason == OTHER_ORGANISATION
    assert found.of_id("U0NOBODY").user_id is None
    # Every answer is kept: the same people again cost nothing; after the cache's lifetime the
    # list is read again.
    await people.look_up(TEAM, user_ids=ids, emails=emails)
    assert dict(slack_world.requests) == {"users.list": pages}
    clock.advance(301)
    await people.look_up(TEAM, user_ids=ids, emails=emails)
    assert dict(slack_world.requests) == {"users.list": 2 * pages}


async def test_a_member_list_without_emails_leaves_emails_to_lookups(
    slack_world: SlackSandbox, clock: FakeClock, slack_served: str
) -> None:
    slack_world.add_workspace("T0NARROW", "xoxb-narrow", scopes={"users:read"})
    for n in range(30):
        slack_world.add_user("T0NARROW", f"U1{n:04d}", f"Person {n}", f"p{n}@narrow.example")
    people = directory(slack_served, clock, {"T0NARROW": "xoxb-narrow"})
    emails = [f"p{n}@narrow.example" for n in range(30)]
    found = await people.look_up("T0NARROW", emails=emails)
    assert all(found.of_email(e).reason == missing_scope_reason("users:read.email") for e in emails)
    # The list's X-OAuth-Scopes said so: no e-mail is asked one by one, in vain.
    assert dict(slack_world.requests) == {"users.list": 1}


async def test_a_member_list_too_long_for_one_minute_goes_on_where_it_stopped(
    slack_world: SlackSandbox, clock: FakeClock, slack_served: str
) -> None:
    for n in range(PAGE * 24):
        slack_world.add_user(TEAM, f"U1{n:05d}", f"Person {n}", f"p{n}@acme.example")
    people = directory(slack_served, clock)
    emails = [f"p{n}@acme.example" for n in range(0, PAGE * 24, 100)]
    with pytest.raises(DirectoryUnavailable) as busy:
        await people.look_up(TEAM, emails=emails)
    assert slack_world.requests["users.list"] == 20  # Tier 2's minute, and no 429
    assert busy.value.retry_after is not None and busy.value.retry_after <= 60
    clock.advance(busy.value.retry_after)
    found = await people.look_up(TEAM, emails=emails)
    assert found.of_email(f"p{PAGE * 23}@acme.example").user_id == f"U1{PAGE * 23:05d}"
    assert slack_world.requests["users.list"] == 25  # the remaining pages only
    assert sum(slack_world.rate_limited.values()) == 0


async def test_start_up_names_the_tokens_workspace_and_any_scope_it_lacks(
    slack_world: SlackSandbox,
    clock: FakeClock,
    slack_served: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    api = slack_api(slack_served, clock)
    assert await team_of_token(api, token=BOT) == TEAM
    assert caplog.records == []
    granted = set(REQUIRED_BOT_SCOPES) - {"users:read.email"}
    slack_world.add_workspace("T0NARROW", "xoxb-narrow", scopes=granted)
    with caplog.at_level(logging.ERROR, logger="bot.directory"):
        assert await team_of_token(api, token="xoxb-narrow")
    (line,) = [r.getMessage() for r in caplog.records]
    assert "lacks the users:read.email scope in workspace T0NARROW" in line
    with pytest.raises(DirectoryUnavailable, match=r"auth\.test answered invalid_auth"):
        await team_of_token(api, token="xoxb-unknown")


def test_who_counts_as_a_member() -> None:
    person = {"id": "U1", "team_id": TEAM, "deleted": False, "is_bot": False}
    assert membership(TEAM, person).user_id == "U1"
    assert membership(TEAM, {**person, "deleted": True}).user_id is None
    assert membership(TEAM, {**person, "is_bot": True}).user_id is None
    assert membership(TEAM, {**person, "team_id": PARTNER}).reason == OTHER_ORGANISATION
    assert membership(TEAM, {**person, "is_stranger": True}).reason == OTHER_ORGANISATION
    # Enterprise Grid: a member of several workspaces of the organisation, ours among them.
    grid = {**person, "team_id": "E0ORG", "enterprise_user": {"teams": ["T0HQ", TEAM]}}
    assert membership(TEAM, grid).user_id == "U1"
    assert membership("T0ELSE", grid).reason == OTHER_ORGANISATION


async def test_time_zones_come_with_the_answers_that_found_the_owner(
    slack_world: SlackSandbox, clock: FakeClock, slack_served: str
) -> None:
    people = directory(slack_served, clock)
    assert await people.is_member(TEAM, "U0ANA")
    assert await people.user_by_email(TEAM, "bo@acme.example") == "U0BO"
    calls = sum(slack_world.requests.values())
    assert await people.time_zone(TEAM, "U0ANA") == "America/Los_Angeles"
    assert await people.time_zone(TEAM, "U0BO") == "Europe/Berlin"
    assert sum(slack_world.requests.values()) == calls  # kept from those answers
    assert await people.time_zone(TEAM, "U0CY") == "Pacific/Auckland"  # asked: users.info
    assert sum(slack_world.requests.values()) == calls + 1
    assert await people.time_zone(TEAM, "U0NOBODY") is None
