"""The story `scrumy demo` plays, through the app's real entry points and real HTTP.

1. Ana installs Scrumy Tasks in Acme through Slack OAuth.
2. Bo connects ClickUp; Cy connects ClickUp and Notion (routing stays "smart"); Dana connects
   both and picks "ask me" in the Home tab. Ana connects nothing. Each connection is the whole
   flow: `/tasks connect` → Sign in with Slack → the tool's consent page → our callback.
3. ClickUp will answer one create with 429, Notion one with 503 and a Retry-After, as it
   answers when it is down for a moment (the emulators' faults, `sandbox.faults`).
   Bo chooses to review his meeting items first (`/tasks review on`).
4. The AI service posts the launch sync's eight action items to `POST /api/meetings`.
5. The connected owners' tasks are created; Dana's item waits for her choice; Ana's two (one
   of them for Pat, who is not in Slack) wait for her connection; Bo's two wait for his
   review: in his direct message he edits one's title and clicks "Create all".
6. Ana clicks "Connect ClickUp" on her item; Bo opens her link and is refused; Ana connects,
   and her waiting tasks are created — ClickUp loses its answer to one create (a 502 after
   the task was made), which the worker finds by its marker instead of sending it again.
7. Cy clicks "ClickUp" on Dana's item and is told only Dana can choose; Dana clicks "Notion".
8. Bo finishes "Update the pricing page" in ClickUp ("Mark done" on the emulated ClickUp's
   page); ClickUp's signed webhook reaches the app, and the item's line in the meeting message
   says "✓ done in ClickUp".
9. Cy finishes "Plan the roadmap review" in Notion ("Mark done" on the emulated Notion's page:
   its status moves to the Complete group); Notion's signed webhook event says only that the
   page changed, the app reads the page back, and the line says "✓ done in Notion".

Every item's expected end is `EXPECTED`; `demo.report` checks it.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections import Counter
from collections.abc import Sequence
from typing import Any

import httpx

from bot.views import actions
from bot.views.task_modal import TITLE
from demo import world
from demo.browser import Browser
from demo.narrate import Narrator
from demo.report import Expected, Row, final_rows, meeting_tasks
from demo.slack import SlackClient, elements
from demo.stack import Stack
from demo.steps import DemoFailure, seen, wait_for
from demo.world import ANA, BO, CY, DANA, Person, name_of
from primitives.enums import ProviderName, RemoteStatus, RoutingMode, TaskState
from sandbox.faults import Fault
from sandbox.slack_messages import open_im
from storage.api_keys import create_api_key
from storage.models import Task

CLICKUP, NOTION = ProviderName.CLICKUP, ProviderName.NOTION
CREATED = TaskState.CREATED
MEETING_ID = "launch-sync-week-48"
MENTION = re.compile(r"<@([A-Z0-9]+)>")
REVIEWED_TITLE = "Write the onboarding checklist for agencies"

LONG_NOTES = (
    "Five customers told us how they plan launches today. Write up each interview: who they "
    "are, which tools they already use, where the handoffs between product, design and "
    "marketing break down, what they would pay to fix it, and the quotes worth keeping. "
    "Then pull the patterns together in one page the whole team can read before the next "
    "planning session, with the three problems we heard most often and the open questions "
    "we still need to ask. Link the recordings and the raw notes so anyone can check a "
    "quote against what was really said."
)

MEETING: dict[str, Any] = {
    "meeting_id": MEETING_ID,
    "title": "Launch sync",
    "team_id": world.TEAM,
    "channel_id": world.CHANNEL,
    "owner": {"slack_user_id": ANA.slack_id},
    "summary": "Launch in two weeks: checkout fix first, then pricing, legal and the roadmap.",
    "participants": [
        {"name": p.name, "email": p.email, "slack_user_id": p.slack_id} for p in (ANA, BO, CY)
    ] + [{"name": "Dana Ortiz", "email": DANA.email}, {"name": "Pat Quinn (agency)"}],
    "action_items": [
        {"id": "1", "title": "Draft the launch announcement", "priority": "high",
         "due_date": "2026-12-01", "assignee": {"slack_user_id": ANA.slack_id}},
        {"id": "2", "title": "Send the signed contract to legal",
         "assignee": {"name": "Pat Quinn (agency)"}},
        {"id": "3", "title": "Update the pricing page", "due_date": "2026-11-30",
         "assignee": {"slack_user_id": BO.slack_id}},
        {"id": "4", "title": "Write the onboarding checklist",
         "assignee": {"email": BO.email}},
        {"id": "5", "title": "Fix the checkout crash on Safari", "priority": "urgent",
         "assignee": {"slack_user_id": CY.slack_id}},
        {"id": "6", "title": "Plan the roadmap review", "project_name": "product roadmap",
         "assignee": {"slack_user_id": CY.slack_id}},
        {"id": "7", "title": "Write up the customer interviews", "description": LONG_NOTES,
         "assignee": {"slack_user_id": CY.slack_id}},
        {"id": "8", "title": "Review the new design mockups",
         "assignee": {"slack_user_id": DANA.slack_id}},
    ],
}  # fmt: skip

SITUATIONS = {
    "1": "Ana, nothing connected",
    "2": "Pat, not in Slack → Ana",
    "3": "Bo, ClickUp only, reviews first",
    "4": "bo@acme.example, by e-mail only, reviews first",
    "5": "Cy, smart: urgent",
    "6": "Cy, smart: project “product roadmap”",
    "7": "Cy, smart: long description",
    "8": "Dana, ask me",
}

EXPECTED = {
    "1": Expected(ANA.slack_id, CREATED, CLICKUP),
    "2": Expected(ANA.slack_id, CREATED, CLICKUP),
    "3": Expected(BO.slack_id, CREATED, CLICKUP, remote=RemoteStatus.DONE),
    "4": Expected(BO.slack_id, CREATED, CLICKUP),
    "5": Expected(CY.slack_id, CREATED, CLICKUP),
    "6": Expected(CY.slack_id, CREATED, NOTION, "Product Roadmap", remote=RemoteStatus.DONE),
    "7": Expected(CY.slack_id, CREATED, NOTION),
    "8": Expected(DANA.slack_id, CREATED, NOTION),
}


async def post_meeting(
    stack: Stack, http: httpx.AsyncClient, meeting: dict[str, Any]
) -> dict[str, Any]:
    """What the AI service does: `POST /api/meetings` with a key made as `scrumy api-key
    create` makes one; the answer, once the meeting's message is in Slack."""
    async with stack.services.storage.sessions() as session, session.begin():
        key = await create_api_key(
            session, team_id=world.TEAM, name="AI service", now=stack.services.clock.now()
        )
    response = await http.post(
        f"{stack.urls.app}/api/meetings", json=meeting,
        headers={"Authorization": f"Bearer {key.secret}"},
    )  # fmt: skip
    if response.status_code != 202:
        raise DemoFailure(f"POST /api/meetings answered {response.status_code}")
    answer: dict[str, Any] = response.json()
    # Not posted yet (no error) is fine: the post goes on, and the end checks the message.
    if answer.get("slack", {}).get("error"):
        raise DemoFailure(f"the meeting message was not posted: {answer.get('slack')}")
    return answer


class Story:
    """The story against a running stack, told through `say`."""

    def __init__(self, stack: Stack, say: Narrator, http: httpx.AsyncClient) -> None:
        self.stack = stack
        self.say = say
        self.http = http
        self.slack = SlackClient(stack, http)
        self.watchers: list[asyncio.Task[None]] = []
        self.faults: dict[str, Fault] = {}

    async def play(self) -> list[Row]:
        urls = self.stack.urls
        self.say.say(
            f"Emulated Slack {urls.slack}, ClickUp {urls.clickup}, Notion {urls.notion}; "
            f"Scrumy Tasks {urls.app} (HTTP mode, worker on, fresh SQLite)"
        )
        await self.install()
        await self.connect_up_front()
        self.inject_faults()
        await self.post_meeting()
        # People act while the worker works: each group's tasks are announced when they land.
        self.announce(("5", "6", "7"), "Cy's 3 tasks are created")
        try:
            await self.bo_reviews()
            await self.ana_connects()
            await self.dana_chooses()
            for watcher in self.watchers:
                await watcher
        finally:
            for watcher in self.watchers:
                watcher.cancel()
        self.faults_survived()
        await self.message_shows(await final_rows(self.stack, world.TEAM, MEETING_ID))
        await self.bo_finishes_in_clickup()
        await self.cy_finishes_in_notion()
        return await final_rows(self.stack, world.TEAM, MEETING_ID)

    def announce(self, items: Sequence[str], said: str) -> None:
        """Say `said` once every one of `items` is created (in the background)."""

        async def watch() -> None:
            await self.until_created(items, said.lower())
            self.say.say(said)

        self.watchers.append(asyncio.create_task(watch()))

    # --- 1, 2: install and connect ------------------------------------------------------------

    async def install(self) -> None:
        async with Browser(self.stack, ANA) as browser:
            await browser.install_app()
        self.say.say(
            "Ana installs Scrumy Tasks in Acme: /slack/install → Slack's consent page → Allow "
            "→ /slack/oauth_redirect"
        )

    async def connect(self, person: Person, command: str) -> None:
        links = await self.slack.connect_links(person, command)
        async with Browser(self.stack, person) as browser:
            for tool, link in links.items():
                said = await browser.connect(link)
                self.say.say(
                    f"{person.first_name} connects {tool_label(tool)}: /tasks {command} → "
                    f"Sign in with Slack → {tool_label(tool)}'s consent → “{said.heading}”"
                )

    async def connect_up_front(self) -> None:
        await self.connect(BO, "connect clickup")
        await self.connect(CY, "connect")
        await self.connect(DANA, "connect")
        home = await self.slack.open_home(DANA)
        await self.slack.choose_in_home(
            DANA, home, actions.ROUTING_MODE, RoutingMode.USER_CHOICE.value
        )
        self.say.say("Dana opens the Home tab and sets her routing to “ask me”")
        said = await self.slack.command(BO, "review on")
        if "you review" not in json.dumps(said):
            raise DemoFailure(f"/tasks review on answered: {said}")
        self.say.say("Bo types /tasks review on: his meeting items will wait for his review")

    def inject_faults(self) -> None:
        self.faults["ClickUp's 429"] = self.stack.worlds.clickup.faults.add(
            "rate_limit", method="POST", path="/task", seconds=1
        )
        self.faults["Notion's 503"] = self.stack.worlds.notion.faults.add(
            "server_error", method="POST", path="/v1/pages", status=503, seconds=1
        )
        self.say.say(
            "ClickUp will answer the next create with 429, Notion with 503 (Retry-After: 1)"
        )

    # --- 4, 5: the meeting --------------------------------------------------------------------

    async def post_meeting(self) -> None:
        answer = await post_meeting(self.stack, self.http, MEETING)
        states = Counter(item["status"] for item in answer["items"])
        summary = ", ".join(f"{n} {state}" for state, n in sorted(states.items()))
        self.say.say(
            f"The AI service posts “{MEETING['title']}” ({len(answer['items'])} action items) "
            f"to POST /api/meetings → 202: {summary}"
        )
        for item in answer["items"]:
            self.say.detail(f"{item['item_id']}. {SITUATIONS[item['item_id']]}: {item['status']}")

    def faults_survived(self) -> None:
        unfired = [name for name, fault in self.faults.items() if fault.times != 0]
        if unfired:
            raise DemoFailure(f"{' and '.join(unfired)} never happened")
        clickup = self.stack.worlds.clickup.requests
        creates = sum(n for k, n in clickup.items() if k.startswith("POST") and "/task" in k)
        # The 503 reached the emulator and was counted; the creates came after it.
        notion = self.stack.worlds.notion.requests["POST /v1/pages"] - 1
        self.say.say(
            f"Faults survived: ClickUp took {creates} create requests for 5 tasks (one 429, "
            "one answer lost after the task was made — found by its marker, not sent again); "
            f"Notion answered 503 once and then {notion} creates for 3 pages"
        )

    # --- 5: Bo reviews his items -----------------------------------------------------------

    def review_message(self) -> dict[str, Any] | None:
        for message in self.slack.direct_messages(BO):
            if any(b.get("block_id") == "review:lead" for b in message.get("blocks", [])):
                return message
        return None

    async def bo_reviews(self) -> None:
        task = await self.task_id("4")
        message = await wait_for("Bo's review message", seen(self.review_message))
        channel = open_im(self.stack.worlds.slack, world.TEAM, BO.slack_id).id
        view = await self.slack.click_in_view(BO, message, f"edit:{task}", channel)
        answer = await self.slack.submit(BO, view, {TITLE: REVIEWED_TITLE})
        if answer:
            raise DemoFailure(f"Bo's edit was refused: {answer}")

        def edited() -> dict[str, Any] | None:
            shown = self.review_message()
            return shown if shown and REVIEWED_TITLE in json.dumps(shown) else None

        message = await wait_for("Bo's edit in his review message", seen(edited))
        create_all = next(
            e["action_id"] for e in elements(message["blocks"])
            if str(e.get("action_id", "")).startswith("create_all:")
        )  # fmt: skip
        await self.slack.click(BO, message, create_all)
        self.say.say(
            "Bo reviews his 2 items in his direct message (one message, updated in place): "
            f"Edit → “{REVIEWED_TITLE}”, then “Create all”"
        )
        self.announce(("3", "4"), "Bo's 2 reviewed tasks are created, the edited title with them")

    # --- 6: Ana connects ----------------------------------------------------------------------

    async def ana_connects(self) -> None:
        ana_task = await self.task_id("1")
        message = await wait_for("the meeting message", seen(self.slack.meeting_message))
        before = len(self.slack.ephemerals(ANA))
        await self.slack.click(ANA, message, f"connect:clickup:{ana_task}")
        link = await wait_for(
            "Ana's connect link", seen(lambda: self.link_in(ANA, before, CLICKUP))
        )
        self.say.say("Ana clicks “Connect ClickUp” on her item: a link only she sees")

        async with Browser(self.stack, BO) as browser:
            refused = await browser.refused(link)
        self.say.say(f"Bo opens Ana's link (she pasted it to him) and is refused: “{refused}”")

        # ClickUp will make the next task but its answer will not come back (a 502).
        self.faults["ClickUp's lost answer"] = self.stack.worlds.clickup.faults.add(
            "lost_response", method="POST", path="/task"
        )
        async with Browser(self.stack, ANA) as browser:
            said = await browser.connect(link)
        self.say.say(f"Ana opens it: Sign in with Slack → ClickUp's consent → “{said}”")
        self.announce(("1", "2"), "Ana's 2 waiting tasks are created (one of them is Pat's)")

    def said_to(self, person: Person, seen: int) -> str | None:
        """The text of the first ephemeral message `person` got after the `seen` first."""
        notes = self.slack.ephemerals(person)[seen:]
        if not notes:
            return None
        text = " ".join(str(notes[0].get("text", "")).split())
        return MENTION.sub(lambda m: f"@{name_of(m[1]).split()[0]}", text)

    def link_in(self, person: Person, seen: int, tool: ProviderName) -> str | None:
        for note in self.slack.ephemerals(person)[seen:]:
            for element in elements(note.get("blocks", [])):
                if element.get("action_id") == f"link:{tool.value}" and "url" in element:
                    return str(element["url"])
        return None

    # --- 7: Dana chooses ----------------------------------------------------------------------

    async def dana_chooses(self) -> None:
        dana_task = await self.task_id("8")
        message = await wait_for("the meeting message", seen(self.slack.meeting_message))
        before = len(self.slack.ephemerals(CY))
        await self.slack.click(CY, message, f"choose:clickup:{dana_task}")
        told = await wait_for("Cy's answer", seen(lambda: self.said_to(CY, before)))
        self.say.say(f"Cy clicks “ClickUp” on Dana's item and is told, privately: “{told}”")
        await self.slack.click(DANA, message, f"choose:notion:{dana_task}")
        self.say.say("Dana clicks “Notion” on her item in the meeting message")
        self.announce(("8",), "Dana's task is created in Notion")

    async def message_shows(self, rows: Sequence[Row]) -> None:
        """The meeting message, updated in place, links every created task."""
        links = [row.url for row in rows if row.url]

        def linked() -> bool | None:
            message = self.slack.meeting_message()
            text = json.dumps(message["blocks"]) if message else ""
            return all(link in text for link in links) or None

        await wait_for("the meeting message to link every task", seen(linked))
        updates = sum(1 for call in self.stack.worlds.slack.calls
                      if call.get("method") == "chat.update")  # fmt: skip
        self.say.say(
            f"The meeting message in #general links all {len(links)} tasks "
            f"(posted once, updated in place {updates} times)"
        )

    # --- 8: done in ClickUp ---------------------------------------------------------------------

    async def bo_finishes_in_clickup(self) -> None:
        """Bo marks item 3 done on the emulated ClickUp's page; the emulator sends its signed
        webhook to /webhooks/clickup, and the item's line in the meeting message says so."""
        task = (await self.states())["3"]
        answer = await self.http.post(
            f"{self.stack.urls.clickup}/web/tasks/{task.provider_task_id}/done"
        )
        if answer.status_code != 303:
            raise DemoFailure(f"ClickUp's Mark done answered {answer.status_code}")
        position = task.position or 3

        def line_done() -> bool | None:
            message = self.slack.meeting_message() or {}
            for block in message.get("blocks", []):
                if block.get("block_id") == f"item:{position}":
                    return "✓ done in ClickUp" in block["text"]["text"] or None
            return None

        await wait_for("the meeting message to show item 3 done in ClickUp", seen(line_done))
        self.say.say(
            f"Bo marks “{task.title}” done in ClickUp → ClickUp's signed webhook → the meeting "
            "message's line says “✓ done in ClickUp”"
        )

    # --- 9: done in Notion ----------------------------------------------------------------------

    async def cy_finishes_in_notion(self) -> None:
        """Cy marks item 6 done on the emulated Notion's page; Notion's signed event reaches
        /webhooks/notion, the app reads the page back, and the item's line says so."""
        task = (await self.states())["6"]
        answer = await self.http.post(
            f"{self.stack.urls.notion}/web/pages/{task.provider_task_id}/done"
        )
        if answer.status_code != 303:
            raise DemoFailure(f"Notion's Mark done answered {answer.status_code}")
        position = task.position or 6

        def line_done() -> bool | None:
            message = self.slack.meeting_message() or {}
            for block in message.get("blocks", []):
                if block.get("block_id") == f"item:{position}":
                    return "✓ done in Notion" in block["text"]["text"] or None
            return None

        await wait_for("the meeting message to show item 6 done in Notion", seen(line_done))
        self.say.say(
            f"Cy marks “{task.title}” done in Notion → Notion's signed webhook (which names "
            "the page, not the change) → the app reads the page back → “✓ done in Notion”"
        )

    # --- reading the app's state --------------------------------------------------------------

    async def states(self) -> dict[str, Task]:
        """The meeting's tasks now, by item."""
        tasks = await meeting_tasks(self.stack, world.TEAM, MEETING_ID)
        return {t.item_id or t.id: t for t in tasks}

    async def task_id(self, item: str) -> str:
        task = (await self.states()).get(item)
        if task is None:
            raise DemoFailure(f"item {item} has no task")
        return task.id

    async def until_created(self, items: Sequence[str], what: str, within: float = 20) -> None:
        """Wait until every one of `items` is created; fail naming those that are not."""
        last: dict[str, Task] = {}

        async def probe() -> bool | None:
            last.update(await self.states())
            return all(i in last and last[i].state is CREATED for i in items) or None

        try:
            await wait_for(what, probe, within=within)
        except DemoFailure:
            stuck = ", ".join(
                f"{i} {last[i].state.value} ({last[i].last_error or last[i].route_reason})"
                for i in items
                if i in last and last[i].state is not CREATED
            )
            raise DemoFailure(f"{what} were not all created: {stuck}") from None


def tool_label(tool: str) -> str:
    return ProviderName(tool).label
