"""The pages a person opens while `scrumy demo --serve` keeps everything running.

Where the emulators have their browser view (`sandbox/slack_web.py`: the Slack channel and each
person's App Home drawn from the app's Block Kit, with buttons that send the app really signed
requests; `sandbox/tools_web.py`: the tasks in ClickUp and Notion), the Slack emulator is told
where the app listens (`world.app_requests`) and to send a created task's link to its row on
the ClickUp or Notion page (`world.web_links`), and those pages are listed. Without it, the
ClickUp and Notion emulators' state pages are (the Slack emulator has none).

The view is looked up when `--serve` starts rather than imported, so the demo runs with or
without it.
"""

from __future__ import annotations

import importlib
from typing import Any

from demo import world
from demo.stack import Stack
from demo.world import ANA, PEOPLE


def _browser_view() -> tuple[Any, Any] | None:
    """The modules of the emulators' browser view, when this checkout has them."""
    try:
        return (
            importlib.import_module("sandbox.slack_web"),
            importlib.import_module("sandbox.tools_web"),
        )
    except ModuleNotFoundError:
        return None


def open_pages(stack: Stack) -> list[tuple[str, str]]:
    """(what, address) of each page to open; the Slack view is wired to the app first."""
    urls = stack.urls
    pages = [("Scrumy Tasks", f"{urls.app}/healthz  (also /metrics, /openapi.json)")]
    view = _browser_view()
    if view is None:
        return [
            *pages,
            ("ClickUp (emulated)", f"{urls.clickup}/_sandbox/state"),
            ("Notion (emulated)", f"{urls.notion}/_sandbox/state"),
        ]
    slack_web, tools_web = view
    # Any: the world's browser-view fields come with the view (typed again once it is merged).
    slack: Any = stack.worlds.slack
    slack.app_requests = slack_web.AppRequests(
        url=f"{urls.app}/slack/events", signing_secret=world.SLACK_SIGNING_SECRET
    )
    slack.web_links = tools_web.tool_links(urls.clickup, urls.notion)
    channel = f"{urls.slack}/web/channel/{world.CHANNEL}"
    return [
        *pages,
        ("#general, as Ana", f"{channel}?as={ANA.slack_id}"),
        *((f"{p.first_name}'s App Home", f"{urls.slack}/web/home/{p.slack_id}") for p in PEOPLE),
        ("ClickUp (emulated)", f"{urls.clickup}/web/"),
        ("Notion (emulated)", f"{urls.notion}/web/"),
    ]
