"""The end of the story: the table of what became of each item, and the checks that every item
ended where the story expects it and that nothing was created twice in ClickUp or Notion.

The table is read from the app's database (what the app believes) and checked against the
emulators (what really exists there).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from sqlalchemy import select

from demo.stack import Stack
from demo.world import Worlds, name_of
from primitives.enums import ProviderName, RemoteStatus, TaskState
from routing.outbox import shown_reason
from storage.models import Meeting, Task

COLUMNS = ("item", "owner", "state", "tool", "list/database", "link", "reason")
FIRST_FOUND = re.compile(r"the first (?:list|database) found")
REMARK = re.compile(r"\(([^()]*)\)$")
FOOTNOTE = "* the first one found: its owner has not chosen a default in the Home tab yet"


@dataclass(frozen=True)
class Expected:
    """Where the story expects an item to end."""

    owner: str  # Slack user id
    state: TaskState
    tool: ProviderName | None
    destination: str | None = None  # the list's or database's name, when the story fixes it
    remote: RemoteStatus | None = None  # where the tool last said it is (done there, …)


@dataclass(frozen=True)
class Row:
    item: str
    title: str
    owner: str
    state: TaskState
    tool: ProviderName | None
    destination: str | None
    url: str | None
    reason: str | None
    remote_status: RemoteStatus | None = None

    @property
    def first_found(self) -> bool:
        """Whether the list or database is only the first one found (no default chosen)."""
        return bool(self.reason and FIRST_FOUND.search(self.reason))

    def cells(self) -> tuple[str, ...]:
        """The row's cells. The reason is shortened to why the tool was chosen: where in it
        is the list/database column (starred when it was only the first one found), and a
        closing remark in parentheses is kept."""
        reason = " ".join((self.reason or "").split())
        remark = REMARK.search(reason)
        reason = reason.split("; ")[0] + (f" ({remark[1]})" if remark else "")
        destination = (self.destination or "-") + (" *" if self.first_found else "")
        state = self.state.value
        if self.remote_status is not None and self.remote_status is not RemoteStatus.OPEN:
            state += f", {self.remote_status.value} in {_tool(self.tool)}"
        return (
            f"{self.item} {self.title}", name_of(self.owner), state,
            self.tool.label if self.tool else "-", destination, self.url or "-", reason or "-",
        )  # fmt: skip


async def meeting_tasks(stack: Stack, team_id: str, meeting_id: str) -> list[Task]:
    """The tasks of one meeting (its id as the AI service gave it), in the meeting's order."""
    query = (
        select(Task)
        .join(Meeting, Task.meeting_id == Meeting.id)
        .where(Meeting.team_id == team_id, Meeting.external_id == meeting_id)
        .order_by(Task.position, Task.id)
    )
    async with stack.services.storage.sessions() as session:
        return list((await session.scalars(query)).all())


async def final_rows(stack: Stack, team_id: str, meeting_id: str) -> list[Row]:
    """What became of each item of the meeting."""
    return [_row(task) for task in await meeting_tasks(stack, team_id, meeting_id)]


def _row(task: Task) -> Row:
    return Row(
        item=task.item_id or task.id, title=task.title, owner=task.owner_user_id,
        state=task.state, tool=task.provider, destination=task.destination_name,
        url=task.provider_task_url, reason=shown_reason(task), remote_status=task.remote_status,
    )  # fmt: skip


def table(rows: Sequence[Row]) -> list[str]:
    """The rows as a plain-text table, one line each, under a header."""
    cells = [COLUMNS, *(row.cells() for row in rows)]
    widths = [max(len(line[i]) for line in cells) for i in range(len(COLUMNS))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)) for line in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    if any(row.first_found for row in rows):
        lines.append(FOOTNOTE)
    return [line.rstrip() for line in lines]


def problems(rows: Sequence[Row], expected: Mapping[str, Expected], worlds: Worlds) -> list[str]:
    """What ended otherwise than the story expects, or exists twice in a tool (empty: all
    good)."""
    found: list[str] = []
    by_item = {row.item: row for row in rows}
    for item, want in expected.items():
        row = by_item.get(item)
        if row is None:
            found.append(f"item {item}: no task")
            continue
        got = (row.owner, row.state, row.tool)
        if got != (want.owner, want.state, want.tool):
            found.append(
                f"item {item} ({row.title}): {name_of(row.owner)}, {row.state.value}, "
                f"{_tool(row.tool)}; expected {name_of(want.owner)}, {want.state.value}, "
                f"{_tool(want.tool)}"
            )
        elif want.destination is not None and row.destination != want.destination:
            found.append(
                f"item {item} ({row.title}): in {row.destination}; expected {want.destination}"
            )
        elif row.remote_status is not want.remote:
            shown = row.remote_status.value if row.remote_status else "nothing"
            wanted = want.remote.value if want.remote else "nothing"
            found.append(
                f"item {item} ({row.title}): {_tool(row.tool)} says {shown}; expected {wanted}"
            )
        if row.state is TaskState.CREATED and not row.url:
            found.append(f"item {item} ({row.title}): created without a link")
    for item in by_item.keys() - expected.keys():
        found.append(f"item {item}: a task the story did not expect")
    found.extend(_duplicates(rows, worlds))
    return found


def _tool(tool: ProviderName | None) -> str:
    return tool.label if tool else "no tool"


def _duplicates(rows: Sequence[Row], worlds: Worlds) -> list[str]:
    """Each created task exists exactly once in its tool, and the tools hold nothing else."""
    found = []
    in_tools = {
        ProviderName.CLICKUP: [t["url"] for t in worlds.clickup.tasks.values()],
        ProviderName.NOTION: [p["url"] for p in worlds.notion.pages.values()],
    }
    for tool, urls in in_tools.items():
        ours = sorted(r.url or "" for r in rows if r.tool is tool and r.state is TaskState.CREATED)
        if sorted(urls) != ours:
            found.append(
                f"{tool.label} holds {len(urls)} task(s) for {len(ours)} created: "
                "something was created twice or lost"
            )
    return found


def counts(worlds: Worlds) -> str:
    """How many tasks each tool holds, and how many create requests each answered."""
    clickup, notion = worlds.clickup, worlds.notion
    clickup_posts = sum(n for key, n in clickup.requests.items() if key.endswith("/task")
                        and key.startswith("POST"))  # fmt: skip
    notion_posts = notion.requests["POST /v1/pages"]
    return (
        f"ClickUp holds {len(clickup.tasks)} task(s) ({clickup_posts} create requests), "
        f"Notion {len(notion.pages)} page(s) ({notion_posts} create requests)"
    )
