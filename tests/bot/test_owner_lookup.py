"""A meeting's owners found through the Slack directory and emulator (served on a socket, as
slack_sdk needs): what the largest costs."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.directory import PAGE, SingleWorkspace, SlackDirectory
from routing.inputs import PersonRef
from routing.owners import resolve_owners
from sandbox.slack import SlackSandbox
from tests.emulators import SLACK_BOT_TOKEN, SLACK_TEAM, slack_api
from tests.fakes import FakeClock
from tests.meetings import item, meeting
from tests.wiring import wire

PEOPLE = 1_200


def slack_directory(slack_url: str, clock: FakeClock) -> SlackDirectory:
    return SlackDirectory(
        slack_api(slack_url, clock), tokens=SingleWorkspace(SLACK_BOT_TOKEN, SLACK_TEAM),
        clock=clock,
    )  # fmt: skip


async def test_a_thousand_distinct_assignees_cost_a_few_calls_within_slacks_tiers(
    sessions: async_sessionmaker[AsyncSession],
    slack_world: SlackSandbox,
    clock: FakeClock,
    slack_served: str,
) -> None:
    for n in range(PEOPLE):
        slack_world.add_user(SLACK_TEAM, f"U1{n:05d}", f"Person {n}", f"p{n}@acme.example")
    items = [
        item(n, assignee={"email": f"p{n}@acme.example"} if n % 2 else
             {"slack_user_id": f"U9{n:05d}", "email": f"guest{n}@partner.example"})
        for n in range(1_000)
    ]  # fmt: skip
    utility = wire(sessions, clock, directory=slack_directory(slack_served, clock)).utility
    result = await utility.process_meeting(
        meeting(*items, team_id=SLACK_TEAM, owner={"slack_user_id": "U0ANA"})
    )
    owners = [r.owner_user_id for r in result.items]
    assert owners[1::2] == [f"U1{n:05d}" for n in range(1, 1_000, 2)]
    assert set(owners[0::2]) == {"U0ANA"}  # outsiders: the meeting owner's
    listed = len(slack_world.users)
    # The meeting owner (users.info) and the member list (users.list), read once.
    assert dict(slack_world.requests) == {"users.info": 1, "users.list": -(-listed // PAGE)}
    assert sum(slack_world.rate_limited.values()) == 0
    assert clock.slept == []


async def test_each_distinct_assignee_is_asked_once_and_the_reason_is_kept(
    slack_world: SlackSandbox, clock: FakeClock, slack_served: str
) -> None:
    slack_world.add_workspace("T0PARTNER", "xoxb-partner")
    slack_world.share_channel(SLACK_TEAM, "T0PARTNER")
    slack_world.add_user("T0PARTNER", "U0PAT", "Pat Vendor", "pat@partner.example")
    bo = PersonRef(email="BO@acme.example")
    pat = PersonRef(slack_user_id="U0PAT", name="Pat")
    owners = await resolve_owners(
        slack_directory(slack_served, clock), SLACK_TEAM, [bo, pat, bo, None, pat, bo], "U0ANA"
    )
    assert [o.user_id for o in owners] == ["U0BO", "U0ANA", "U0BO", "U0ANA", "U0ANA", "U0BO"]
    assert owners[1].reason == (
        "Pat is in another Slack workspace or organisation (Slack Connect): "
        "the meeting owner's task"
    )
    assert dict(slack_world.requests) == {"users.info": 1, "users.lookupByEmail": 1}
