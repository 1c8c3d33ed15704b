"""The ClickUp and Notion emulators in a browser: the tasks and pages they hold, live.

    clickup_web_routes(world)   GET /web/ on the ClickUp emulator: every task with its
                                list (space / folder / list), assignees, due, priority, status,
                                and (given `mark_done`) a "Mark done" button: POST
                                /web/tasks/{id}/done moves it to its list's done status, which
                                sends the webhooks as a change in ClickUp would
    notion_web_routes(world)    GET /web/ on the Notion emulator: every page with its data
                                source, assignee, due, priority and status, and (given
                                `mark_done`) a "Mark done" button: POST /web/pages/{id}/done
                                sets its status to the Complete group, which owes the webhook
                                subscription its event as an edit in Notion would

Both poll `GET /web/live` (`{"html": …}`) every second, as the Slack pages do
(`sandbox.web_page`). Each row has an anchor: `#task-<id>` (the id of ClickUp's
`https://app.clickup.com/t/<id>`), `#page-<id without dashes>` (Notion's
`https://www.notion.so/<id>`), so a link can be pointed at the row: `tool_links(clickup_url,
notion_url)` gives the prefixes for the Slack view's `world.web_links`.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from html import escape
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from sandbox.web_page import page, static_routes

if TYPE_CHECKING:
    from sandbox.clickup import ClickUpSandbox
    from sandbox.notion import NotionSandbox

CLICKUP_TASK = "https://app.clickup.com/t/"
NOTION_PAGE = "https://www.notion.so/"
COLUMNS = ("Task", "Where", "Assignee", "Due", "Priority", "Status", "Created")


def tool_links(clickup_url: str | None = None, notion_url: str | None = None) -> dict[str, str]:
    """Where a task's ClickUp or Notion address goes instead: its row on the emulator's page
    (the emulators' base URLs, no trailing slash)."""
    links = {}
    if clickup_url:
        links[CLICKUP_TASK] = f"{clickup_url}/web/#task-"
    if notion_url:
        links[NOTION_PAGE] = f"{notion_url}/web/#page-"
    return links


def _table(rows: list[tuple[str, list[str]]], empty: str) -> str:
    if not rows:
        return f'<p class="empty">{escape(empty)}</p>'
    head = "".join(f"<th>{c}</th>" for c in COLUMNS)
    body = "".join(
        f'<tr id="{escape(anchor)}">' + "".join(f"<td>{cell}</td>" for cell in cells) + "</tr>"
        for anchor, cells in rows
    )
    return f'<table class="tasks"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def _routes(title: str, body: Callable[[], str]) -> list[Route]:
    async def index(request: Request) -> Response:
        return page(title, body(), live="/web/live")

    async def live(request: Request) -> Response:
        return JSONResponse({"html": body()})

    return [
        Route("/web/", index, methods=["GET"]),
        Route("/web/live", live, methods=["GET"]),
        *static_routes(),
    ]


def _header(title: str, count: int, noun: str) -> str:
    plural = noun if count == 1 else noun + "s"
    return (
        f'<header class="top"><h1>{escape(title)}</h1>'
        f'<div class="sub">{count} {plural}, newest first</div></header>'
    )


def clickup_body(world: ClickUpSandbox, *, buttons: bool = False) -> str:
    zone = ZoneInfo(world.time_zone)

    def where(task: dict[str, Any]) -> str:
        found = world.lists.get(task["list"]["id"], {})
        space = world.spaces.get(str(found.get("space_id")), {}).get("name", "")
        folder = world.folders.get(str(found.get("folder_id")), {}).get("name")
        path = [space, folder, found.get("name", task["list"]["id"])]
        return " / ".join(escape(str(p)) for p in path if p)

    def due(task: dict[str, Any]) -> str:
        if not task.get("due_date"):
            return ""
        moment = datetime.fromtimestamp(int(task["due_date"]) / 1000, tz=zone)
        shape = "%a %d %b %Y %H:%M" if task.get("due_date_time") else "%a %d %b %Y"
        return escape(moment.strftime(shape))

    rows = []
    for task in sorted(world.tasks.values(), key=lambda t: -int(t["date_created"])):
        created = datetime.fromtimestamp(int(task["date_created"]) / 1000, tz=UTC)
        priority = (task.get("priority") or {}).get("priority", "")
        cells = [
            f"<b>{escape(task['name'])}</b><br><small>{escape(task['url'])}</small>",
            where(task),
            ", ".join(escape(str(a.get("username", a.get("id")))) for a in task["assignees"]),
            due(task),
            escape(str(priority).capitalize()),
            escape(str(task["status"]["status"])) + _done_button(task, buttons),
            created.strftime("%d %b %H:%M UTC"),
        ]
        rows.append((f"task-{task['id']}", cells))
    return _header("ClickUp (emulated)", len(rows), "task") + _table(rows, "No tasks yet.")


def _done_button(task: dict[str, Any], shown: bool) -> str:
    if not shown or task["status"].get("type") in ("done", "closed"):
        return ""
    return _mark_done_form(f"/web/tasks/{task['id']}/done", str(task["id"]))


def _mark_done_form(action: str, item_id: str) -> str:
    return (
        f'<form method="post" action="{escape(action)}" class="inline">'
        f'<button type="submit" id="done-{escape(item_id)}">Mark done</button></form>'
    )


def _mark_done_route(
    path: str,
    mark_done: Callable[[str], bool],
    *,
    known: Callable[[str], bool],
    missing: Callable[[], Response],
    anchor: Callable[[str], str],
) -> Route:
    """POST `path` (with `{id}`): `mark_done` the item, then back to its row."""

    async def done(request: Request) -> Response:
        item_id = request.path_params["id"]
        if not known(item_id):
            return missing()
        mark_done(item_id)
        return RedirectResponse(f"/web/#{anchor(item_id)}", status_code=303)

    return Route(path, done, methods=["POST"])


def clickup_web_routes(
    world: ClickUpSandbox, *, mark_done: Callable[[str], bool] | None = None
) -> list[Route]:
    """The ClickUp emulator's page of tasks; `create_clickup_emulator` mounts it, with
    `mark_done` (a task id → whether it changed) behind each task's "Mark done" button."""
    routes = _routes("ClickUp (emulated)", lambda: clickup_body(world, buttons=bool(mark_done)))
    if mark_done is not None:
        routes.append(
            _mark_done_route(
                "/web/tasks/{id}/done", mark_done, known=lambda i: i in world.tasks,
                missing=lambda: JSONResponse({"err": "Task not found", "ECODE": "ITEM_013"}, 404),
                anchor=lambda i: f"task-{i}",
            )
        )  # fmt: skip
    return routes


def _plain(items: Any) -> str:
    return "".join(
        str(i.get("plain_text") or (i.get("text") or {}).get("content", ""))
        for i in items or []
        if isinstance(i, dict)
    )


def notion_body(world: NotionSandbox, *, buttons: bool = False) -> str:
    def value(page_: dict[str, Any], kinds: tuple[str, ...]) -> str:
        schema = world.data_sources.get(page_["parent"], {}).get("properties", {})
        shown = []
        for name, spec in schema.items():
            kind = spec.get("type")
            given = (page_["properties"].get(name) or {}).get(kind)
            if kind not in kinds or given is None:
                continue
            if kind in ("title", "rich_text"):
                shown.append(escape(_plain(given)))
            elif kind == "date":
                shown.append(escape(str(given.get("start", ""))))
            elif kind == "people":
                people = [world.users.get(str(p.get("id")), {}).get("name", p.get("id"))
                          for p in given]  # fmt: skip
                shown.append(escape(", ".join(str(p) for p in people)))
            elif kind in ("select", "status"):
                shown.append(escape(str(given.get("name", ""))))
        return ", ".join(s for s in shown if s)

    rows = []
    for found in sorted(world.pages.values(), key=lambda p: p["created"], reverse=True):
        source = world.data_sources.get(found["parent"], {})
        cells = [
            f"<b>{value(found, ('title',))}</b><br><small>{escape(found['url'])}</small>",
            escape(str(source.get("title", found["parent"]))),
            value(found, ("people",)),
            value(found, ("date",)),
            value(found, ("select",)),
            value(found, ("status",)) + _page_button(found, buttons),
            found["created"].astimezone(UTC).strftime("%d %b %H:%M UTC"),
        ]
        rows.append((f"page-{found['id'].replace('-', '')}", cells))
    return _header("Notion (emulated)", len(rows), "page") + _table(rows, "No pages yet.")


def _page_button(page_: dict[str, Any], shown: bool) -> str:
    if not shown or page_.get("in_trash"):
        return ""
    return _mark_done_form(f"/web/pages/{page_['id']}/done", str(page_["id"]))


def notion_web_routes(
    world: NotionSandbox, *, mark_done: Callable[[str], bool] | None = None
) -> list[Route]:
    """The Notion emulator's page of pages; `create_notion_emulator` mounts it, with
    `mark_done` (a page id → whether it changed) behind each page's "Mark done" button."""
    routes = _routes("Notion (emulated)", lambda: notion_body(world, buttons=bool(mark_done)))
    if mark_done is not None:
        missing = {"object": "error", "status": 404, "code": "object_not_found"}
        routes.append(
            _mark_done_route(
                "/web/pages/{id}/done", mark_done, known=lambda i: i in world.pages,
                missing=lambda: JSONResponse(missing, 404),
                anchor=lambda i: f"page-{i.replace('-', '')}",
            )
        )  # fmt: skip
    return routes
