"""What `scrumy demo --serve` leaves for the person at the browser once the story is over.

A second meeting, "Your turn", arrives in #general with two items: one for Eli, who has
connected nothing (the browser is signed in to Slack, ClickUp and Notion as Eli, so Connect →
Sign in with Slack → consent → the item turns into a link), and one for Dana, who chose "ask
me" (her ClickUp / Notion buttons, on #general viewed as Dana).
"""

from __future__ import annotations

from typing import Any

import httpx

from demo import world
from demo.narrate import Narrator
from demo.stack import Stack
from demo.story import post_meeting
from demo.world import ANA, DANA, ELI, browser_signed_in

YOUR_TURN: dict[str, Any] = {
    "meeting_id": "your-turn",
    "title": "Your turn",
    "team_id": world.TEAM,
    "channel_id": world.CHANNEL,
    "owner": {"slack_user_id": ANA.slack_id},
    "summary": "Two items left for you to finish in the browser.",
    "action_items": [
        {"id": "1", "title": "Connect a tool and watch this become a task",
         "assignee": {"slack_user_id": ELI.slack_id}},
        {"id": "2", "title": "Pick ClickUp or Notion for this one",
         "assignee": {"slack_user_id": DANA.slack_id}},
    ],
}  # fmt: skip


async def leave_your_turn(stack: Stack, http: httpx.AsyncClient, say: Narrator) -> None:
    """Post "Your turn" and sign the browser in as Eli."""
    browser_signed_in(stack.worlds, ELI)
    stack.worlds.slack.openid.signed_in = ELI.slack_id
    answer = await post_meeting(stack, http, YOUR_TURN)
    states = ", ".join(item["status"] for item in answer["items"])
    say.say(f"“Your turn” is in #general for you to finish in the browser ({states})")
