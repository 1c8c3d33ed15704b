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
    POST /web/say                      what the person typed: "/tasks …" is a slash command
                                       (its answer shown to them alone), else a message
    POST /web/home/{user}/opened       → the `app_home_opened` event

What the pages send reaches the app through `sandbox.slack_app_requests` (`AppRequests`,
importable from here too; `PageActions`): only what the app sent can be pressed, and each
request is really signed. A button's `url` opens in a new tab and its click is sent too.
"""

from __future__ import annotations

from datetime import UTC, datetime
from html import escape
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlencode

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from primitives.clock import Clock
from sandbox.slack_app_requests import AppRequests, PageActions
from sandbox.slack_render import Names, render_blocks
from sandbox.web_page import page, static_routes

if TYPE_CHECKING:
    from sandbox.slack import SlackSandbox

__all__ = ["AppRequests", "SlackWeb", "slack_web_routes"]


def _ts_key(ts: str) -> tuple[int, int]:
    seconds, _, serial = ts.partition(".")
    return int(seconds or 0), int(serial or 0)


def _when(ts: str) -> str:
    return datetime.fromtimestamp(_ts_key(ts)[0], tz=UTC).strftime("%H:%M")


class SlackWeb:
    """The pages of one world, drawn as HTML from what the emulator holds."""

    def __init__(self, world: SlackSandbox) -> None:
        self.world = world

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

    def app_name(self, team_id: str) -> str:
        """The app's name in a workspace: its bot user's, as Slack shows it."""
        bot = self.world.users.get(self.world.bot_of(team_id)[1])
        return str(bot["real_name"]) if bot is not None else "Scrumy Tasks"

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
                             f"{escape(self.app_name(team_id))} (app)</a>")  # fmt: skip
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
        title = f"{self.app_name(channel.team_id)} (app)" if channel.is_im else f"# {channel.name}"
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
        user = self.world.users.get(user_id)
        app = escape(self.app_name(str(user["team_id"])) if user is not None else "Scrumy Tasks")
        head = (
            f'<header class="top"><h1>{app} · Home</h1><div class="sub">'
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


def slack_web_routes(world: SlackSandbox, clock: Clock) -> list[Route]:
    """The browser view's routes (see the module's docstring); `create_slack_emulator` mounts
    them."""
    web = SlackWeb(world)
    actions = PageActions(world, clock)

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
        composer = (
            f'<form class="composer" data-channel="{escape(channel_id)}">'
            f'<input name="text" autocomplete="off" aria-label="Message" '
            f'placeholder="Message #{escape(found.name)}, or /tasks help"></form>'
        )
        return page(
            f"#{found.name}", web.channel_body(channel_id, viewer), live=live, viewer=viewer,
            side=web.side(found.team_id, viewer, channel_id), footer=composer,
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
        return JSONResponse(await actions.act(await body_of(request)))

    async def options(request: Request) -> Response:
        return JSONResponse(await actions.options(await body_of(request)))

    async def say(request: Request) -> Response:
        return JSONResponse(await actions.say(await body_of(request)))

    async def opened(request: Request) -> Response:
        return JSONResponse(await actions.home_opened(request.path_params["user_id"]))

    return [
        Route("/web/", index, methods=["GET"]),
        Route("/web/channel/{channel_id}", channel, methods=["GET"]),
        Route("/web/home/{user_id}", home, methods=["GET"]),
        Route("/web/live/channel/{channel_id}", live_channel, methods=["GET"]),
        Route("/web/live/home/{user_id}", live_home, methods=["GET"]),
        Route("/web/act", act, methods=["POST"]),
        Route("/web/options", options, methods=["POST"]),
        Route("/web/say", say, methods=["POST"]),
        Route("/web/home/{user_id}/opened", opened, methods=["POST"]),
        *static_routes(),
    ]
