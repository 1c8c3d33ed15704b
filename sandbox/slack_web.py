"""The Slack emulator in a browser: a workspace's channels and each person's App Home, drawn
from what the app sent (Block Kit), live, with buttons and menus that reach the app as Slack's
would — really signed requests to its Request URL.

    world.app_requests = AppRequests(url="http://127.0.0.1:8000/slack/events",
                                     signing_secret="…")   # whoever runs the app sets this
    create_slack_emulator(world) serves slack_web_routes(world, clock):

    GET  /web/                         the workspaces: channels and people
    GET  /web/channel/{id}?as=U…       a channel's messages and threads, and the ephemeral
                                       messages of the person the page is viewed as
    GET  /web/home/{user}              the person's App Home; opening it sends `app_home_opened`
    GET  /web/live/channel/{id}?as=…,  /web/live/home/{user}: {"html": …}, polled by the page
    POST /web/act                      a click or a menu choice → `block_actions` to the app
    POST /web/options                  an external menu's options → `block_suggestion`
    POST /web/home/{user}/opened       → the `app_home_opened` event

A click is looked up in what the emulator holds (the message, the ephemeral message or the
Home tab, by block id and action id), so the page can only press buttons the app really sent;
the payload is `sandbox.slack_requests.block_actions`, signed with `sign_request` at the wall
clock's time, since the app checks the signature's timestamp against its own wall clock
whatever clock the emulator keeps. What was sent, and the app's status, is in
`world.app_requests.sent`. A button's `url` opens in a new tab and its click is sent too.
"""

from __future__ import annotations

import json
import time as wall_time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from html import escape
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, quote, urlencode

import httpx
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from primitives.clock import Clock
from sandbox.slack_messages import open_im
from sandbox.slack_render import Names, render_blocks
from sandbox.slack_requests import (
    VERIFICATION_TOKEN,
    SlackBody,
    app_home_opened,
    block_actions,
    event_callback,
    interaction,
    signed,
)
from sandbox.web_page import page, static_routes

if TYPE_CHECKING:
    from sandbox.slack import SlackSandbox


@dataclass
class AppRequests:
    """Where the emulator sends what Slack sends an app: its Request URL (`…/slack/events`,
    for events, interactions and options alike) and its signing secret."""

    url: str
    signing_secret: str
    api_app_id: str = "A0SCRUMY"
    transport: httpx.AsyncBaseTransport | None = None  # tests may reach the app in process
    wall: Callable[[], float] = wall_time.time  # what the signature's timestamp is read from
    timeout: float = 10.0
    sent: list[dict[str, Any]] = field(default_factory=list)  # {"kind", "status", "detail"}

    async def send(self, kind: str, payload: SlackBody) -> httpx.Response | str:
        """POST `payload` signed; the answer, or why there was none."""
        headers = signed(self.signing_secret, payload, int(self.wall()))
        try:
            async with httpx.AsyncClient(
                transport=self.transport, timeout=self.timeout, trust_env=False
            ) as client:
                answer = await client.post(self.url, content=payload.body, headers=headers)
        except httpx.HTTPError as error:
            self.sent.append({"kind": kind, "status": None, "detail": repr(error)})
            return f"the app did not answer at {self.url}: {error!r}"
        self.sent.append({"kind": kind, "status": answer.status_code, "detail": ""})
        return answer


def _ts_key(ts: str) -> tuple[int, int]:
    seconds, _, serial = ts.partition(".")
    return int(seconds or 0), int(serial or 0)


def _when(ts: str) -> str:
    return datetime.fromtimestamp(_ts_key(ts)[0], tz=UTC).strftime("%H:%M")


def find_element(blocks: Any, block_id: str, action_id: str) -> dict[str, Any] | None:
    """The interactive element `action_id` of the block `block_id` (an actions block's
    element or a section's accessory)."""
    for block in blocks if isinstance(blocks, list) else []:
        if not isinstance(block, dict) or str(block.get("block_id", "")) != block_id:
            continue
        elements = list(block.get("elements") or [])
        if isinstance(block.get("accessory"), dict):
            elements.append(block["accessory"])
        for element in elements:
            if isinstance(element, dict) and element.get("action_id") == action_id:
                return element
    return None


def _options_of(element: dict[str, Any]) -> list[dict[str, Any]]:
    options = list(element.get("options") or [])
    for group in element.get("option_groups") or []:
        options.extend(group.get("options") or [])
    return options


class SlackWeb:
    """The pages and the requests behind them, for one world."""

    def __init__(self, world: SlackSandbox, clock: Clock) -> None:
        self.world = world
        self.clock = clock
        self._events = 0

    # --- reading the world ----------------------------------------------------------------

    def name(self, user_id: str) -> str:
        user = self.world.users.get(user_id)
        if user is None:
            return user_id
        return str(user["profile"].get("display_name") or user["real_name"])

    def link(self, url: str) -> str:
        for prefix, instead in self.world.web_links.items():
            if url.startswith(prefix):
                return instead + url[len(prefix) :]
        return url

    def full_name(self, user_id: str) -> str:
        user = self.world.users.get(user_id)
        return str(user["real_name"]) if user is not None else user_id

    def people(self, team_id: str) -> list[dict[str, Any]]:
        return [u for u in self.world.users.values()
                if u["team_id"] == team_id and not u["is_bot"] and not u["deleted"]]  # fmt: skip

    def teams(self) -> list[str]:
        found = dict.fromkeys(self.world.bot_tokens.values())
        found.update(dict.fromkeys(u["team_id"] for u in self.world.users.values()))
        return list(found)

    def viewer(self, team_id: str, wanted: str | None, members: set[str]) -> str:
        """Whom a page is viewed as: the one asked for if of the workspace, else its first
        person in the channel, else its first person."""
        people = self.people(team_id)
        ids = [u["id"] for u in people]
        if wanted in ids:
            return str(wanted)
        inside = [i for i in ids if i in members]
        return str((inside or ids or [""])[0])

    # --- drawing ----------------------------------------------------------------------------

    def side(self, team_id: str, viewer: str, here: str) -> str:
        world = self.world
        title = escape(world.team_names.get(team_id, team_id))
        query = "?" + urlencode({"as": viewer})
        links = [f'<h2>{title}</h2><a href="/web/">All workspaces</a><h4>Channels</h4>']
        for channel in world.channels.values():
            if channel.team_id != team_id or channel.is_im:
                continue
            mark = " class=here" if here == channel.id else ""
            lock = '<span class="emoji" data-plain="•">🔒</span> ' if channel.private else "# "
            links.append(f'<a{mark} href="/web/channel/{quote(channel.id)}{query}">'
                         f"{lock}{escape(channel.name)}</a>")  # fmt: skip
        links.append("<h4>Direct messages</h4>")
        for channel in world.channels.values():
            if channel.team_id == team_id and channel.im_user == viewer:
                mark = " class=here" if here == channel.id else ""
                links.append(f'<a{mark} href="/web/channel/{quote(channel.id)}{query}">'
                             "Scrumy Tasks (app)</a>")  # fmt: skip
        links.append("<h4>App Home of</h4>")
        for person in self.people(team_id):
            mark = " class=here" if here == f"home:{person['id']}" else ""
            links.append(f'<a{mark} href="/web/home/{quote(person["id"])}">'
                         f"{escape(person['real_name'])}</a>")  # fmt: skip
        if not here.startswith("home:"):
            options = "".join(
                f'<option value="{escape(p["id"])}"{" selected" if p["id"] == viewer else ""}>'
                f"{escape(p['real_name'])}</option>"
                for p in self.people(team_id)
            )
            links.append(
                '<form method="get"><label>Viewing as<br><select name="as" '
                f'onchange="this.form.submit()">{options}</select></label></form>'
            )
        return f'<nav class="side">{"".join(links)}</nav>'

    def author(self, message: dict[str, Any]) -> tuple[str, bool]:
        bot_id = message.get("bot_id")
        if bot_id:
            bot = self.world.users.get(str(bot_id))
            return (str(bot["real_name"]) if bot else "Scrumy Tasks"), True
        return self.full_name(str(message.get("user", ""))), False

    def message_html(self, message: dict[str, Any], channel_id: str, *, ephemeral: bool) -> str:
        names: Names = self.name
        channel = self.world.channels.get(channel_id)
        if ephemeral and channel is not None:  # sent by the app of the channel's workspace
            message = {**message, "bot_id": self.world.bot_of(channel.team_id)[1]}
        who, is_app = self.author(message)
        text = {"type": "mrkdwn", "text": str(message.get("text", ""))}
        shown = message.get("blocks") or [{"type": "section", "text": text}]
        body = render_blocks(shown, names, self.link)
        badge = '<span class="badge">APP</span>' if is_app else ""
        edited = '<span class="edited">(edited)</span>' if message.get("edited") else ""
        only = '<div class="only">Only visible to you</div>' if ephemeral else ""
        where = "ephemeral" if ephemeral else "message"
        ts = escape(str(message.get("ts", "")))
        classes = "msg ephemeral" if ephemeral else "msg"
        return (
            f'<div class="{classes}" data-where="{where}" data-channel="{escape(channel_id)}" '
            f'data-ts="{ts}"><div class="avatar">{escape(who[:1])}</div><div class="body">'
            f'{only}<span class="who">{escape(who)}</span>{badge}'
            f'<span class="when">{_when(str(message.get("ts", "0")))}</span>{edited}'
            f"{body}</div></div>"
        )

    def channel_body(self, channel_id: str, viewer: str) -> str:
        world = self.world
        channel = world.channels.get(channel_id)
        if channel is None:
            return '<p class="empty">No such channel.</p>'
        title = "Scrumy Tasks (app)" if channel.is_im else f"# {channel.name}"
        top: list[tuple[tuple[int, int], str, dict[str, Any], bool]] = []
        replies: dict[str, list[tuple[tuple[int, int], dict[str, Any], bool]]] = {}
        notes = [e for e in world.ephemerals.get(viewer, []) if e.get("channel") == channel_id]
        for message, ephemeral in [(m, False) for m in world.messages.get(channel_id, [])] + [
            (e, True) for e in notes
        ]:
            ts, parent = str(message.get("ts", "0")), message.get("thread_ts")
            if parent and parent != ts:
                replies.setdefault(str(parent), []).append((_ts_key(ts), message, ephemeral))
            else:
                top.append((_ts_key(ts), ts, message, ephemeral))
        parts = [
            f'<header class="top"><h1>{escape(title)}</h1><div class="sub">'
            f"{len(channel.members)} members · viewing as {escape(self.full_name(viewer))}"
            "</div></header>"
        ]
        for _, ts, message, ephemeral in sorted(top, key=lambda t: t[0]):
            parts.append(self.message_html(message, channel_id, ephemeral=ephemeral))
            thread = sorted(replies.get(ts, []), key=lambda t: t[0])
            if thread:
                said = "1 reply" if len(thread) == 1 else f"{len(thread)} replies"
                count = f'<div class="count">{said}</div>'
                inner = "".join(self.message_html(m, channel_id, ephemeral=e) for _, m, e in thread)
                parts.append(f'<div class="thread">{count}{inner}</div>')
        if len(parts) == 1:
            parts.append('<p class="empty">No messages yet.</p>')
        return "".join(parts)

    def home_body(self, user_id: str) -> str:
        view = self.world.home_views.get(user_id)
        head = (
            f'<header class="top"><h1>Scrumy Tasks · Home</h1><div class="sub">'
            f"{escape(self.full_name(user_id))}'s App Home</div></header>"
        )
        if view is None:
            return head + '<p class="empty">The app has not published this Home tab yet.</p>'
        blocks = render_blocks(view.get("blocks"), self.name, self.link)
        return f'{head}<div data-where="home" data-channel="" data-ts="">{blocks}</div>'

    def index_body(self) -> str:
        parts = ['<header class="top"><h1>Slack (emulated)</h1><div class="sub">'
                 "Every workspace of this emulator</div></header>"]  # fmt: skip
        for team_id in self.teams():
            people = self.people(team_id)
            first = people[0]["id"] if people else ""
            parts.append(f"<h2>{escape(self.world.team_names.get(team_id, team_id))}</h2><ul>")
            for channel in self.world.channels.values():
                if channel.team_id == team_id and not channel.is_im:
                    link = f"/web/channel/{quote(channel.id)}?{urlencode({'as': first})}"
                    parts.append(f'<li><a href="{link}">#{escape(channel.name)}</a></li>')
            parts.append("</ul><p>App Home of: ")
            parts.append(" · ".join(f'<a href="/web/home/{quote(p["id"])}">'
                                    f"{escape(p['real_name'])}</a>" for p in people))  # fmt: skip
            parts.append("</p>")
        return "".join(parts)

    # --- what the page sends ----------------------------------------------------------------

    def located(
        self, data: dict[str, Any], user_id: str
    ) -> tuple[dict[str, Any], str | None, dict[str, Any] | None, dict[str, Any] | None] | str:
        """(the blocks' holder, channel, message, view) a click names, or why it names none."""
        where, channel = str(data.get("where", "")), str(data.get("channel") or "")
        ts = str(data.get("ts") or "")
        if where == "home":
            view = self.world.home_views.get(user_id)
            return (view, None, None, view) if view is not None else "no Home tab published"
        if where == "ephemeral":
            found = next((e for e in self.world.ephemerals.get(user_id, [])
                          if e.get("ts") == ts and e.get("channel") == channel), None)  # fmt: skip
        else:
            found = self.world.thread_of(channel, ts)
        if found is None:
            return "no such message"
        return found, channel, found, None

    async def act(self, data: dict[str, Any]) -> dict[str, Any]:
        world = self.world
        user_id = str(data.get("user") or "")
        user = world.users.get(user_id)
        if user is None:
            return {"ok": False, "error": f"no such person: {user_id}"}
        if world.app_requests is None:
            return {"ok": False, "error": "no app to send to: set world.app_requests"}
        place = self.located(data, user_id)
        if isinstance(place, str):
            return {"ok": False, "error": place}
        holder, channel, message, view = place
        block_id, action_id = str(data.get("block_id", "")), str(data.get("action_id", ""))
        element = find_element(holder.get("blocks"), block_id, action_id)
        if element is None:
            return {"ok": False, "error": f"no element {action_id} in block {block_id}"}
        action: dict[str, Any] = {"action_id": action_id, "block_id": block_id,
                                  "type": element.get("type")}  # fmt: skip
        if element.get("type") == "button":
            action["text"] = element.get("text")
            for key in ("value", "style"):
                if key in element:
                    action[key] = element[key]
        else:
            chosen = data.get("selected") or {}
            wanted = str(chosen.get("value", ""))
            option = next((o for o in _options_of(element) if o.get("value") == wanted), None)
            if option is None and element.get("type") == "external_select" and wanted:
                text = {"type": "plain_text", "text": str(chosen.get("text", wanted))}
                option = {"text": text, "value": wanted}
            if option is None:
                return {"ok": False, "error": f"no option {wanted!r} in {action_id}"}
            action["selected_option"] = option
        wall = world.app_requests.wall()
        body = block_actions(
            action, team_id=user["team_id"], user_id=user_id,
            trigger_id=world.issue_trigger(user_id, at=self.clock.now()),
            channel_id=channel, message=message, view=view, action_ts=f"{wall:.6f}",
            api_app_id=world.app_requests.api_app_id,
        )  # fmt: skip
        if data.get("where") == "ephemeral":  # Slack marks a click in an ephemeral message
            payload = json.loads(parse_qs(body.body.decode())["payload"][0])
            payload["container"]["is_ephemeral"] = True
            body = interaction(payload)
        return self.verdict(await world.app_requests.send("block_actions", body))

    async def options(self, data: dict[str, Any]) -> dict[str, Any]:
        """An external menu's options, asked of the app as Slack asks (`block_suggestion`)."""
        world = self.world
        user_id = str(data.get("user") or "")
        user = world.users.get(user_id)
        if user is None or world.app_requests is None:
            return {"ok": False, "options": []}
        place = self.located(data, user_id)
        if isinstance(place, str):
            return {"ok": False, "error": place, "options": []}
        team_id = user["team_id"]
        payload: dict[str, Any] = {
            "type": "block_suggestion", "user": {"id": user_id, "team_id": team_id,
            "name": user["name"], "username": user["name"]},
            "team": {"id": team_id, "domain": team_id.lower()},
            "api_app_id": world.app_requests.api_app_id, "token": VERIFICATION_TOKEN,
            "action_id": str(data.get("action_id", "")), "block_id": str(data.get("block_id", "")),
            "value": str(data.get("query", "")), "enterprise": None, "is_enterprise_install": False,
        }  # fmt: skip
        view = place[3]
        if view is not None:
            payload["container"] = {"type": "view", "view_id": view.get("id", "")}
            payload["view"] = view
        else:
            payload["container"] = {"type": "message", "message_ts": place[2]["ts"] if place[2]
                                    else "", "channel_id": place[1]}  # fmt: skip
            payload["channel"] = {"id": place[1]}
        answer = await world.app_requests.send("block_suggestion", interaction(payload))
        if isinstance(answer, str) or answer.status_code != 200:
            return {"ok": False, "options": []}
        try:
            found = answer.json()
        except ValueError:
            return {"ok": False, "options": []}
        options = list(found.get("options") or [])
        for group in found.get("option_groups") or []:
            options.extend(group.get("options") or [])
        return {"ok": True, "options": [{"value": o.get("value"), "text":
                (o.get("text") or {}).get("text", o.get("value"))} for o in options]}  # fmt: skip

    async def home_opened(self, user_id: str) -> dict[str, Any]:
        world = self.world
        user = world.users.get(user_id)
        if user is None:
            return {"ok": False, "error": f"no such person: {user_id}"}
        if world.app_requests is None:
            return {"ok": False, "error": "no app to send to: set world.app_requests"}
        team_id = user["team_id"]
        self._events += 1
        event = app_home_opened(
            user_id, open_im(world, team_id, user_id).id, view=world.home_views.get(user_id)
        )
        body = event_callback(
            event, team_id=team_id, event_id=f"Ev0WEB{self._events:06d}",
            event_time=int(world.app_requests.wall()), bot_user_id=world.bot_of(team_id)[0],
            api_app_id=world.app_requests.api_app_id,
        )  # fmt: skip
        return self.verdict(await world.app_requests.send("app_home_opened", body))

    @staticmethod
    def verdict(answer: httpx.Response | str) -> dict[str, Any]:
        if isinstance(answer, str):
            return {"ok": False, "error": answer}
        if answer.status_code != 200:
            return {"ok": False, "error": f"the app answered HTTP {answer.status_code}"}
        return {"ok": True}


def slack_web_routes(world: SlackSandbox, clock: Clock) -> list[Route]:
    """The browser view's routes (see the module's docstring); `create_slack_emulator` mounts
    them."""
    web = SlackWeb(world, clock)

    async def index(request: Request) -> Response:
        return page("Slack (emulated)", web.index_body())

    async def channel(request: Request) -> Response:
        channel_id = request.path_params["channel_id"]
        found = world.channels.get(channel_id)
        if found is None:
            return HTMLResponse(f"<h1>No channel {escape(channel_id)}</h1>", 404)
        members = {found.im_user} if found.im_user else found.members
        viewer = web.viewer(found.team_id, request.query_params.get("as"), members)
        live = f"/web/live/channel/{quote(channel_id)}?{urlencode({'as': viewer})}"
        return page(
            f"#{found.name}", web.channel_body(channel_id, viewer), live=live, viewer=viewer,
            side=web.side(found.team_id, viewer, channel_id),
        )  # fmt: skip

    async def home(request: Request) -> Response:
        user_id = request.path_params["user_id"]
        user = world.users.get(user_id)
        if user is None:
            return HTMLResponse(f"<h1>No person {escape(user_id)}</h1>", 404)
        return page(
            f"Home · {user['real_name']}", web.home_body(user_id),
            live=f"/web/live/home/{quote(user_id)}", viewer=user_id,
            opened=f"/web/home/{quote(user_id)}/opened",
            side=web.side(user["team_id"], user_id, f"home:{user_id}"),
        )  # fmt: skip

    async def live_channel(request: Request) -> Response:
        viewer = request.query_params.get("as", "")
        return JSONResponse({"html": web.channel_body(request.path_params["channel_id"], viewer)})

    async def live_home(request: Request) -> Response:
        return JSONResponse({"html": web.home_body(request.path_params["user_id"])})

    async def body_of(request: Request) -> dict[str, Any]:
        try:
            data = await request.json()
        except ValueError:
            return {}
        return data if isinstance(data, dict) else {}

    async def act(request: Request) -> Response:
        return JSONResponse(await web.act(await body_of(request)))

    async def options(request: Request) -> Response:
        return JSONResponse(await web.options(await body_of(request)))

    async def opened(request: Request) -> Response:
        return JSONResponse(await web.home_opened(request.path_params["user_id"]))

    return [
        Route("/web/", index, methods=["GET"]),
        Route("/web/channel/{channel_id}", channel, methods=["GET"]),
        Route("/web/home/{user_id}", home, methods=["GET"]),
        Route("/web/live/channel/{channel_id}", live_channel, methods=["GET"]),
        Route("/web/live/home/{user_id}", live_home, methods=["GET"]),
        Route("/web/act", act, methods=["POST"]),
        Route("/web/options", options, methods=["POST"]),
        Route("/web/home/{user_id}/opened", opened, methods=["POST"]),
        *static_routes(),
    ]
