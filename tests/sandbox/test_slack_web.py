"""The emulated Slack, ClickUp and Notion in a browser (`sandbox.slack_web`,
`sandbox.tools_web`).

First without a browser: Block Kit drawn as HTML, and a click on the page arriving at an app as
a really signed `block_actions` for the person the page is viewed as. Then the whole story in
Debian's Chromium (Playwright), with the app as `scrumy serve` builds it on a real socket and
its Slack notifier on: a meeting arrives, its item waits with "Connect ClickUp", the owner
clicks, follows the private link through Sign in with Slack and ClickUp's consent, the worker
runs, and the item turns into a link on the open page without a reload. Screenshots go to the
test's output folder, or to SCRUMY_SCREENSHOT_DIR (`make screenshots`).
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest
from playwright.async_api import Browser, expect
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from sandbox.clickup import ClickUpSandbox, create_clickup_emulator, seed_demo_clickup
from sandbox.notion import NotionSandbox, create_notion_emulator, seed_demo_notion
from sandbox.server import bind_socket, serve_apps, socket_url
from sandbox.slack import SlackSandbox, create_slack_emulator, seed_demo_slack
from sandbox.slack_render import mrkdwn, render_blocks
from sandbox.slack_requests import sign_request
from sandbox.slack_web import AppRequests
from sandbox.tools_web import tool_links
from tests.browsers import DESKTOP
from tests.fakes import FakeClock
from tests.sidecar.harness import SIGNING_SECRET, TEAM, Harness, _sidecar, _worlds

ANA, BO = "U0ANA", "U0BO"
GENERAL = "C0GENERAL"
SLACK = "http://slack.test"
NAMES = {ANA: "Ana", BO: "Bo"}


def names(user_id: str) -> str:
    return NAMES.get(user_id, user_id)


# --- Block Kit as HTML ------------------------------------------------------------------------


def test_mrkdwn_as_html() -> None:
    html = mrkdwn(
        "*Standup* _today_ `code` ~gone~ <https://x.example/a_b|the *docs*> <@U0ANA> "
        "&lt;b&gt; &amp; :white_check_mark: <!date^1700000000^{date}|Tue 14 Nov>\n&gt; quoted",
        names,
    )
    assert "<b>Standup</b>" in html and "<i>today</i>" in html
    assert "<code>code</code>" in html and "<s>gone</s>" in html
    # The link's URL is left alone by the styles; its label is shown as written.
    assert '<a href="https://x.example/a_b" target="_blank" rel="noopener">the *docs*</a>' in html
    assert '<span class="mention">@Ana</span>' in html
    assert "&lt;b&gt; &amp;" in html  # Slack's escapes stay text, never markup
    assert "✅" in html and "Tue 14 Nov" in html
    assert "<blockquote>quoted</blockquote>" in html
    assert "<script" not in mrkdwn("<script>alert(1)</script>", names)


def test_blocks_as_html() -> None:
    blocks = [
        {"type": "header", "text": {"type": "plain_text", "text": "Standup <1>"}},
        {"type": "section", "block_id": "s1", "text": {"type": "mrkdwn", "text": "*one*"},
         "accessory": {"type": "button", "action_id": "go", "style": "danger",
                       "text": {"type": "plain_text", "text": "Go"}}},
        {"type": "divider"},
        {"type": "context", "elements": [{"type": "mrkdwn", "text": "_small_"}]},
        {"type": "actions", "block_id": "a1", "elements": [
            {"type": "button", "action_id": "ok", "style": "primary", "value": "1",
             "text": {"type": "plain_text", "text": "OK"}},
            {"type": "button", "action_id": "link:clickup", "url": "http://app.test/c?t=1&x=2",
             "text": {"type": "plain_text", "text": "Open"}},
            {"type": "static_select", "action_id": "mode",
             "placeholder": {"type": "plain_text", "text": "Pick"},
             "initial_option": {"text": {"type": "plain_text", "text": "B"}, "value": "b"},
             "options": [{"text": {"type": "plain_text", "text": "A"}, "value": "a"},
                         {"text": {"type": "plain_text", "text": "B"}, "value": "b"}]},
        ]},
        {"type": "rich_text", "elements": []},
    ]  # fmt: skip
    html = render_blocks(blocks, names)
    assert "<h3>Standup &lt;1&gt;</h3>" in html
    assert '<button type="button" class="btn danger" data-action="go">Go</button>' in html
    assert '<button type="button" class="btn primary" data-action="ok">OK</button>' in html
    assert 'href="http://app.test/c?t=1&amp;x=2" target="_blank"' in html
    assert '<option value="b" selected>B</option>' in html
    assert 'data-block="a1"' in html and "<hr>" in html
    assert "[rich_text block]" in html  # not drawn, but named


# --- clicks reach the app, signed -------------------------------------------------------------


class RecordingApp:
    """An app at its Request URL: checks each request's signature and keeps its payload."""

    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []
        self.app = Starlette(routes=[Route("/slack/events", self.events, methods=["POST"])])

    async def events(self, request: Request) -> Response:
        body = await request.body()
        stamp = int(request.headers["X-Slack-Request-Timestamp"])
        expected = sign_request(SIGNING_SECRET, body, stamp)["X-Slack-Signature"]
        if request.headers["X-Slack-Signature"] != expected:
            return Response(status_code=401)
        form = parse_qs(body.decode())
        if request.headers["content-type"].startswith("application/json"):
            self.received.append(json.loads(body))
        elif "payload" in form:
            self.received.append(json.loads(form["payload"][0]))
        else:  # a slash command
            self.received.append({"type": "command", **{k: v[0] for k, v in form.items()}})
            said = {"type": "mrkdwn", "text": "*ClickUp*: not connected"}
            answer = {"response_type": "ephemeral", "text": "Your connections",
                      "blocks": [{"type": "section", "text": said}]}  # fmt: skip
            return JSONResponse(answer)
        if self.received[-1]["type"] == "block_suggestion":
            option = {"text": {"type": "plain_text", "text": "Backlog"}, "value": "l1"}
            return JSONResponse({"options": [option]})
        return Response(status_code=200)


BUTTONS: list[dict[str, Any]] = [
    {"type": "section", "block_id": "row1", "text": {"type": "mrkdwn", "text": "Ship it"}},
    {"type": "actions", "block_id": "act1", "elements": [
        {"type": "button", "action_id": "connect:clickup:t1", "value": "t1",
         "text": {"type": "plain_text", "text": "Connect ClickUp"}}]},
]  # fmt: skip
HOME: list[dict[str, Any]] = [
    {"type": "section", "block_id": "home:mode", "text": {"type": "mrkdwn", "text": "Routing"},
     "accessory": {"type": "static_select", "action_id": "home:routing_mode",
                   "options": [{"text": {"type": "plain_text", "text": "Smart"}, "value": "smart"},
                               {"text": {"type": "plain_text", "text": "Ask"},
                                "value": "user_choice"}]}},
    {"type": "section", "block_id": "home:list", "text": {"type": "mrkdwn", "text": "List"},
     "accessory": {"type": "external_select", "action_id": "home:default_destination:clickup",
                   "placeholder": {"type": "plain_text", "text": "Pick"}}},
]  # fmt: skip


@pytest.fixture
async def web(clock: FakeClock) -> AsyncIterator[tuple[SlackSandbox, RecordingApp, Any]]:
    world = SlackSandbox()
    seed_demo_slack(world, team_id=TEAM, bot_token="xoxb-acme")
    recorder = RecordingApp()
    world.app_requests = AppRequests(
        url="http://app.test/slack/events", signing_secret=SIGNING_SECRET,
        transport=httpx.ASGITransport(app=recorder.app),
    )  # fmt: skip
    emulator = create_slack_emulator(world, clock=clock)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=emulator), base_url=SLACK
    ) as client:
        yield world, recorder, client


def bot_message(world: SlackSandbox, blocks: list[dict[str, Any]]) -> str:
    ts = world.next_ts(datetime(2026, 1, 15, 9, tzinfo=UTC))
    world.messages[GENERAL].append({"type": "message", "user": "U0SCRUMYBOT", "bot_id": "B0SCRUMY",
                                    "text": "meeting", "blocks": blocks, "ts": ts})  # fmt: skip
    return ts


async def test_a_click_in_the_channel_page_is_a_signed_block_actions_for_the_viewer(
    web: tuple[SlackSandbox, RecordingApp, httpx.AsyncClient],
) -> None:
    world, recorder, client = web
    ts = bot_message(world, BUTTONS)
    world.ephemerals[BO].append({"channel": GENERAL, "ts": "1768467600.000900",
                                 "text": "Only Bo", "blocks": BUTTONS})  # fmt: skip
    index = await client.get("/web/")
    assert f'href="/web/channel/{GENERAL}?as=U0ANA">#general</a>' in index.text
    assert f'href="/web/home/{ANA}">Ana Lima</a>' in index.text
    page = await client.get(f"/web/channel/{GENERAL}", params={"as": ANA})
    assert page.status_code == 200
    assert "Connect ClickUp" in page.text and "viewing as Ana Lima" in page.text
    assert "Only visible to you" not in page.text  # Bo's ephemeral is his alone
    as_bo = (await client.get(f"/web/live/channel/{GENERAL}", params={"as": BO})).json()
    assert "Only visible to you" in as_bo["html"]
    assert as_bo["html"].count("Connect ClickUp") == 2

    click = {"user": ANA, "where": "message", "channel": GENERAL, "ts": ts,
             "block_id": "act1", "action_id": "connect:clickup:t1"}  # fmt: skip
    answer = (await client.post("/web/act", json=click)).json()
    assert answer == {"ok": True}
    (payload,) = recorder.received
    assert payload["type"] == "block_actions" and payload["user"]["id"] == ANA
    assert payload["team"]["id"] == TEAM and payload["channel"]["id"] == GENERAL
    assert payload["container"] == {"type": "message", "message_ts": ts,
                                    "channel_id": GENERAL, "is_ephemeral": False}  # fmt: skip
    (action,) = payload["actions"]
    assert (action["action_id"], action["block_id"], action["value"]) == (
        "connect:clickup:t1", "act1", "t1")  # fmt: skip
    assert payload["trigger_id"] in world.triggers  # views.open would take it

    # Bo's click in his ephemeral message is marked so.
    mine = {**click, "user": BO, "where": "ephemeral", "ts": "1768467600.000900"}
    assert (await client.post("/web/act", json=mine)).json() == {"ok": True}
    assert recorder.received[-1]["container"]["is_ephemeral"] is True

    # Only what the app sent can be pressed: another action id sends nothing.
    forged = {**click, "action_id": "dismiss:t1"}
    refused = (await client.post("/web/act", json=forged)).json()
    assert not refused["ok"] and "no element dismiss:t1" in refused["error"]
    assert len(recorder.received) == 2
    assert [s["status"] for s in world.app_requests.sent] == [200, 200]  # type: ignore[union-attr]


async def test_the_home_page_opens_the_home_tab_and_its_menus_answer(
    web: tuple[SlackSandbox, RecordingApp, httpx.AsyncClient],
) -> None:
    world, recorder, client = web
    page = await client.get(f"/web/home/{ANA}")
    assert "has not published this Home tab yet" in page.text
    assert (await client.post(f"/web/home/{ANA}/opened")).json() == {"ok": True}
    (event,) = recorder.received
    assert event["type"] == "event_callback"
    assert (event["event"]["type"], event["event"]["user"]) == ("app_home_opened", ANA)

    world.home_views[ANA] = {"id": "V0HOME", "type": "home", "blocks": HOME, "hash": "h"}
    live = (await client.get(f"/web/live/home/{ANA}")).json()["html"]
    assert '<option value="smart">Smart</option>' in live and "data-external" in live
    chosen = {"user": ANA, "where": "home", "block_id": "home:mode",
              "action_id": "home:routing_mode", "selected": {"value": "user_choice"}}  # fmt: skip
    assert (await client.post("/web/act", json=chosen)).json() == {"ok": True}
    payload = recorder.received[-1]
    assert payload["view"]["id"] == "V0HOME" and payload["container"]["type"] == "view"
    assert payload["actions"][0]["selected_option"]["value"] == "user_choice"

    where = {"user": ANA, "where": "home", "block_id": "home:list",
             "action_id": "home:default_destination:clickup"}  # fmt: skip
    options = (await client.post("/web/options", json=where)).json()
    assert options == {"ok": True, "options": [{"value": "l1", "text": "Backlog"}]}
    assert recorder.received[-1]["type"] == "block_suggestion"


async def test_replies_under_their_parent_and_a_persons_own_ephemeral_in_the_thread(
    web: tuple[SlackSandbox, RecordingApp, httpx.AsyncClient],
) -> None:
    world, _, client = web
    parent = bot_message(world, BUTTONS)
    world.messages[GENERAL].append({"type": "message", "user": BO, "text": "On it <@U0ANA>",
                                    "ts": "1768467601.000001", "thread_ts": parent})  # fmt: skip
    world.ephemerals[ANA].append({"channel": GENERAL, "ts": "1768467602.000001",
                                  "thread_ts": parent, "text": "_Just for Ana_"})  # fmt: skip
    html = (await client.get(f"/web/live/channel/{GENERAL}", params={"as": ANA})).json()["html"]
    thread = html[html.index('<div class="thread">') :]
    assert thread.startswith('<div class="thread"><div class="count">2 replies</div>')
    assert "Bo Chen" in thread and '<span class="mention">@Ana</span>' in thread
    assert "<i>Just for Ana</i>" in thread and "Only visible to you" in thread
    assert html.index("Connect ClickUp") < html.index("2 replies")


def test_a_button_url_that_is_not_a_web_address_is_no_link() -> None:
    element = {"type": "button", "action_id": "x", "url": "javascript:alert(1)",
               "text": {"type": "plain_text", "text": "X"}}  # fmt: skip
    assert "href" not in render_blocks([{"type": "actions", "elements": [element]}], names)


async def test_a_slash_command_typed_in_the_channel_is_answered_to_the_person_alone(
    web: tuple[SlackSandbox, RecordingApp, httpx.AsyncClient],
) -> None:
    world, recorder, client = web
    typed = {"user": ANA, "channel": GENERAL, "text": "/tasks status"}
    assert (await client.post("/web/say", json=typed)).json() == {"ok": True}
    (command,) = recorder.received
    assert (command["command"], command["text"], command["user_id"]) == ("/tasks", "status", ANA)
    assert command["channel_id"] == GENERAL and command["trigger_id"] in world.triggers
    (note,) = world.ephemerals[ANA]
    assert note["channel"] == GENERAL and note["text"] == "Your connections"
    mine = (await client.get(f"/web/live/channel/{GENERAL}", params={"as": ANA})).json()["html"]
    assert "<b>ClickUp</b>: not connected" in mine
    theirs = (await client.get(f"/web/live/channel/{GENERAL}", params={"as": BO})).json()
    assert "not connected" not in theirs["html"]

    # Anything else is the person's message, for everyone.
    hello = {"user": BO, "channel": GENERAL, "text": "Morning <all> & *you*"}
    assert (await client.post("/web/say", json=hello)).json() == {"ok": True}
    shown = (await client.get(f"/web/live/channel/{GENERAL}", params={"as": ANA})).json()
    assert "Bo Chen" in shown["html"] and "Morning &lt;all&gt; &amp; <b>you</b>" in shown["html"]
    assert len(recorder.received) == 1


async def test_without_an_app_a_click_says_so(clock: FakeClock) -> None:
    world = SlackSandbox()
    seed_demo_slack(world, team_id=TEAM, bot_token="xoxb-acme")
    ts = bot_message(world, BUTTONS)
    transport = httpx.ASGITransport(app=create_slack_emulator(world, clock=clock))
    async with httpx.AsyncClient(transport=transport, base_url=SLACK) as client:
        click = {"user": ANA, "where": "message", "channel": GENERAL, "ts": ts,
                 "block_id": "act1", "action_id": "connect:clickup:t1"}  # fmt: skip
        answer = (await client.post("/web/act", json=click)).json()
    assert answer == {"ok": False, "error": "no app to send to: set world.app_requests"}


async def test_the_clickup_and_notion_pages_list_what_was_created(clock: FakeClock) -> None:
    clickup = ClickUpSandbox()
    seed_demo_clickup(clickup, client_id="c", client_secret="s", redirect_uri="http://a.test/")
    clickup.store_task("l2", "Book the <venue>", markdown="", creator_id=101,
                       created_ms=1_768_467_600_000, priority=1, due=1_768_953_600_000,
                       assignees=[102])  # fmt: skip
    notion = NotionSandbox()
    seed_demo_notion(notion, client_id="n", client_secret="s", redirect_uri="http://a.test/")
    notion.store_page("ds-roadmap", {
        "Name": {"title": [{"text": {"content": "Draft the roadmap"}}]},
        "Priority": {"select": {"name": "High"}}, "Due": {"date": {"start": "2026-01-20"}},
        "Assignee": {"people": [{"id": "u-ana"}]},
    }, [], created=datetime(2026, 1, 15, 9, tzinfo=UTC))  # fmt: skip
    for app, wanted in (
        (create_clickup_emulator(clickup, clock=clock),
         ["Book the &lt;venue&gt;", "Marketing / Q3 / Website Redesign", "Bo Chen",
          "Wed 21 Jan 2026", "Urgent", "to do"]),
        (create_notion_emulator(notion, clock=clock),
         ["Draft the roadmap", "Product Roadmap", "Ana Lima", "2026-01-20", "High"]),
    ):  # fmt: skip
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                     base_url="http://tool.test") as client:  # fmt: skip
            page = await client.get("/web/")
            live = (await client.get("/web/live")).json()["html"]
            script = await client.get("/web/static/web.js")
        assert page.status_code == 200 and script.status_code == 200
        for text in wanted:
            assert text in page.text and text in live


# --- the whole story in a browser -------------------------------------------------------------


@pytest.fixture
def browser(chromium_browser: Browser) -> Browser:
    return chromium_browser


@contextlib.asynccontextmanager
async def served_app_and_slack(database_url: str, clock: FakeClock) -> AsyncIterator[Harness]:
    """The app as `scrumy serve` builds it (its Slack notifier on, Sign in with Slack
    configured) and the three emulators, each on its own socket of 127.0.0.1; the Slack
    emulator sends what a person does on its pages to the app's /slack/events, signed."""
    socks = app_sock, clickup_sock, notion_sock, slack_sock = tuple(bind_socket() for _ in "abcd")
    base_url, clickup_url, notion_url, slack_url = map(socket_url, socks)
    worlds = clickup_world, notion_world, slack_world = _worlds(base_url)
    slack_world.app_requests = AppRequests(
        url=f"{base_url}/slack/events", signing_secret=SIGNING_SECRET
    )
    slack_world.web_links = tool_links(clickup_url, notion_url)
    async with (
        httpx.AsyncClient(timeout=10) as http,
        serve_apps(  # first: start-up asks Slack which workspace the bot token serves
            (create_clickup_emulator(clickup_world, clock=clock), clickup_sock),
            (create_notion_emulator(notion_world, clock=clock), notion_sock),
            (create_slack_emulator(slack_world, clock=clock), slack_sock),
        ),
        _sidecar(
            database_url,
            clock,
            base_url,
            http,
            worlds,
            (clickup_url, notion_url, slack_url),
            True,
            "told",
        ) as h,  # fmt: skip
        serve_apps((h.app, app_sock)),
    ):
        yield h


async def test_the_owner_connects_clickup_from_the_channel_page_and_the_item_becomes_a_link(
    database_url: str, clock: FakeClock, browser: Browser, shots: Path, backend: str
) -> None:
    if backend != "sqlite":
        pytest.skip("one backend is enough for the browser")  # the flow is the same
    async with served_app_and_slack(database_url, clock) as h:
        assert h.told is not None
        key = await h.api_key()
        meeting = {
            "meeting_id": "standup-1", "title": "Thursday standup", "summary": "What we agreed",
            "team_id": TEAM, "channel_id": GENERAL, "owner": {"slack_user_id": ANA},
            "action_items": [
                {"id": "a1", "title": "Write the <release> notes & docs",
                 "due_date": "2026-01-20", "priority": "high"},
                {"id": "b1", "title": "Book the venue for the offsite",
                 "assignee": {"slack_user_id": BO}, "priority": "urgent"},
            ],
        }  # fmt: skip
        async with httpx.AsyncClient(base_url=h.base_url, timeout=10) as api:
            answer = await api.post(
                "/api/meetings", json=meeting, headers={"Authorization": f"Bearer {key}"}
            )
        assert answer.status_code == 202, answer.text
        await h.told.idle()

        context = await browser.new_context(viewport=DESKTOP)  # type: ignore[arg-type]
        page = await context.new_page()
        await page.goto(f"{h.slack_url}/web/channel/{GENERAL}?as={ANA}")
        live = page.locator("#live")
        await expect(live).to_contain_text("Thursday standup")
        await expect(live).to_contain_text("Write the <release> notes & docs")
        await expect(live).to_contain_text("Waiting for a connection")

        # Ana, the owner, clicks Connect ClickUp: a private message with her own link.
        (anas,) = [i["task_id"] for i in answer.json()["items"] if i["item_id"] == "a1"]
        await live.locator(f'button[data-action="connect:clickup:{anas}"]').click()
        link = page.locator(".ephemeral a.btn", has_text="Connect ClickUp")
        await expect(link).to_be_visible()
        assert h.slack_world.app_requests.sent == [  # type: ignore[union-attr]
            {"kind": "block_actions", "status": 200, "detail": ""}]  # fmt: skip

        # It opens in a new tab: Sign in with Slack (as Ana), ClickUp's consent, back.
        h.slack_world.openid.signed_in = ANA
        async with context.expect_page() as opened:
            await link.click()
        tab = await opened.value
        await tab.wait_for_url(f"{h.slack_url}/openid/**")
        await tab.get_by_role("button", name="Continue as Ana Lima").click()
        await tab.wait_for_url(f"{h.clickup_url}/**")
        await tab.get_by_role("button", name="Connect Workspace").click()
        await tab.wait_for_url(f"{h.base_url}/auth/clickup/callback*")
        assert (await tab.inner_text("h1")).strip() == "ClickUp is connected to Acme."

        await h.utility.settle_flushes()  # the flush runs after the page answered
        while await h.worker.run_once():
            pass
        await h.told.idle()
        (task,) = h.clickup_world.tasks.values()
        # The open page follows, without a reload: Ana's item is now its link; Bo's still
        # waits for him to connect.
        here = f"{h.clickup_url}/web/#task-{task['id']}"  # the emulated ClickUp's row
        await expect(live.locator(f'a[href="{here}"]')).to_be_visible()
        await expect(live).to_contain_text("1 created")
        await expect(live).to_contain_text("1 waiting for a connection")
        await page.screenshot(path=shots / "slack-channel.png", full_page=True)

        # Ana's Home: opening it asks the app to publish it.
        await page.goto(f"{h.slack_url}/web/home/{ANA}")
        await expect(live).to_contain_text("Recent tasks")
        await expect(live.locator(f'a[href="{here}"]')).to_be_visible()
        mode = live.locator('select[data-action="home:routing_mode"]')
        await expect(mode).to_have_value("smart")
        # A menu choice is a block_actions with the option; the app publishes the tab again.
        await mode.select_option("user_choice")
        # Drawn again from the view the app published: the menu's initial option moved.
        await expect(mode.locator("option[selected]")).to_have_attribute("value", "user_choice")
        # The list menu asks the app for Ana's lists as it opens; the one chosen is kept.
        lists = live.locator('select[data-action="home:default_destination:clickup"]')
        await lists.focus()
        backlog = lists.locator("option", has_text="Backlog")
        await expect(backlog).to_have_count(1)
        label = await backlog.inner_text()
        await lists.select_option(await backlog.get_attribute("value"))
        await expect(lists.locator("option[selected]")).to_have_text(label)
        assert [s["kind"] for s in h.slack_world.app_requests.sent] == [  # type: ignore[union-attr]
            "block_actions", "block_actions", "app_home_opened", "block_actions",
            "block_suggestion", "block_actions"]  # fmt: skip
        await page.screenshot(path=shots / "slack-home.png", full_page=True)

        # The task's link opens the emulated ClickUp on its row.
        async with context.expect_page() as clicked:
            await live.locator(f'a[href="{here}"]').click()
        clickup = await clicked.value
        row = clickup.locator(f"#task-{task['id']}")
        await expect(row).to_contain_text("Write the <release> notes & docs")
        await expect(row).to_contain_text("Backlog")
        await expect(row).to_contain_text("High")
        await clickup.screenshot(path=shots / "clickup-tasks.png", full_page=True)

        # Typed in the channel, /tasks status is answered to Ana alone.
        await page.goto(f"{h.slack_url}/web/channel/{GENERAL}?as={ANA}")
        await page.get_by_role("textbox", name="Message").fill("/tasks status")
        await page.keyboard.press("Enter")
        await expect(live.locator(".ephemeral")).to_have_count(2)
        await expect(live.locator(".ephemeral").last).to_contain_text("ClickUp: connected (Acme)")
        await context.close()
