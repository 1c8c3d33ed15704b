"""A `TaskDraft` as a ClickUp create-task body (POST /list/{id}/task)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, time
from typing import Any

from primitives.enums import Priority
from providers.base import Destination, Member, TaskDraft

PRIORITY = {Priority.URGENT: 1, Priority.HIGH: 2, Priority.MEDIUM: 3, Priority.LOW: 4}
NAME_LIMIT = 1024  # our own bound; ClickUp documents none, and the routing layer cuts at 200


def due_fields(due: date | datetime | None) -> dict[str, Any]:
    """ClickUp wants milliseconds; a date-only due is that day at 00:00 UTC without a time."""
    if due is None:
        return {}
    if isinstance(due, datetime):
        instant = due if due.tzinfo else due.replace(tzinfo=UTC)
        return {"due_date": int(instant.timestamp() * 1000), "due_date_time": True}
    midnight = datetime.combine(due, time(0, 0), tzinfo=UTC)
    return {"due_date": int(midnight.timestamp() * 1000), "due_date_time": False}


def footer(draft: TaskDraft, assignee_unmatched: bool) -> str:
    lines = ["---"]
    source = f"**{draft.meeting_title}**" if draft.meeting_title else "a meeting"
    if draft.backlink_url:
        source = f"[{draft.meeting_title or 'the meeting'}]({draft.backlink_url})"
    lines.append(f"Created by Scrumy Tasks from {source}.")
    if assignee_unmatched and (draft.assignee_name or draft.assignee_email):
        lines.append(
            f"Assignee named in the meeting: {draft.assignee_name or draft.assignee_email}"
        )
    lines.append(f"`{draft.marker}`")
    return "\n".join(lines)


def task_body(
    draft: TaskDraft, destination: Destination, members: Sequence[Member]
) -> dict[str, Any]:
    wanted = (draft.assignee_email or "").casefold()
    assignees = [
        int(m.id)
        for m in members
        if wanted
        and (m.email or "").casefold() == wanted
        and m.workspace_id == destination.workspace_id
        and m.id.isdigit()
    ]
    description = draft.description.strip()
    body: dict[str, Any] = {
        "name": " ".join(draft.title.split())[:NAME_LIMIT],
        "markdown_content": "\n\n".join(
            part for part in (description, footer(draft, not assignees)) if part
        ),
        **due_fields(draft.due),
    }
    if draft.priority is not None:
        body["priority"] = PRIORITY[draft.priority]
    if assignees:
        body["assignees"] = assignees[:1]
    return body
