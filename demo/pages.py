"""The pages a person opens while `scrumy demo --serve` keeps everything running.

The emulators' browser view (`sandbox/slack_web.py`: the Slack channel and each person's App
Home drawn from the app's Block Kit, with buttons, menus and `/tasks` that send the app really
signed requests; `sandbox/tools_web.py`: the tasks in ClickUp and Notion) is wired to the app
here: the Slack emulator is told where the app listens (`world.app_requests`, with the app's
signing secret) and to send a created task's link to its row on the ClickUp or Notion page
(`world.web_links`).
"""

from __future__ import annotations

from demo import world
from demo.stack import Stack
from demo.world import DANA, ELI, PEOPLE
from sandbox.slack_web import AppRequests
from sandbox.tools_web import tool_links


def open_pages(stack: Stack) -> list[tuple[str, str]]:
    """Wire the Slack view to the app; (what, address) of each page to open."""
    urls = stack.urls
    slack = stack.worlds.slack
    slack.app_requests = AppRequests(
        url=f"{urls.app}/slack/events", signing_secret=world.SLACK_SIGNING_SECRET
    )
    slack.web_links = tool_links(urls.clickup, urls.notion)
    channel = f"{urls.slack}/web/channel/{world.CHANNEL}"
    return [
        ("#general, as Eli (you)", f"{channel}?as={ELI.slack_id}  (Connect ClickUp or Notion)"),
        ("#general, as Dana", f"{channel}?as={DANA.slack_id}  (pick a tool)"),
        *((f"{p.first_name}'s App Home", f"{urls.slack}/web/home/{p.slack_id}") for p in PEOPLE),
        ("ClickUp's tasks", f"{urls.clickup}/web/"),
        ("Notion's pages", f"{urls.notion}/web/"),
        ("Scrumy Tasks", f"{urls.app}/healthz  (also /metrics, /openapi.json)"),
    ]
