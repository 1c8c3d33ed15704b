"""A `TaskDraft` as a ClickUp create-task body (POST /list/{id}/task)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from primitives.enums import Priority
from providers.base import Destination, Member, TaskDraft

PRIORITY = {Priority.URGENT: 1, Priority.HIGH: 2, Priority.MEDIUM: 3, Priority.LOW: 4}
NAME_LIMIT = 1024  # our own bound; ClickUp documents none, and the routing layer cuts at 200


# A date-only due with no time zone to go by is sent at this hour UTC. ClickUp keeps a
# date-only due as 04:00 in the workspace's time zone on whichever calendar day the instant we
# send falls on there, so the instant must fall on the intended day in that zone. Offsets in
# use run from UTC-12 to UTC+14 — 26 hours — so no single instant fits every zone; 10:00 UTC
# falls on the day from UTC-10 to UTC+13:59, missing only UTC-11 and UTC-12 (American Samoa,
# Niue, Midway; Baker Island is uninhabited) and UTC+14 (Kiribati's Line Islands). Noon UTC
# would fit UTC-12 to UTC+11:59 and so put every date a day late in New Zealand, Fiji, Tonga
# and Samoa. (Midnight UTC, what we sent before, put it a day early everywhere west of UTC.)
FALLBACK_HOUR_UTC = 10
# With the owner's time zone, noon there: on the intended day for any workspace zone less
# than twelve hours from the owner's, and never in a daylight-saving gap (those are at night).
LOCAL_HOUR = 12


def date_only_instant(due: date, time_zone: str | None) -> datetime:
    """The instant to send for a date-only due so that ClickUp keeps it on `due` (see above):
    noon in `time_zone` (an IANA name, the owner's from Slack) when it is known, else 10:00
    UTC."""
    if time_zone:
        try:
            return datetime.combine(due, time(LOCAL_HOUR), tzinfo=ZoneInfo(time_zone))
        except (ZoneInfoNotFoundError, ValueError):
            pass  # a name this machine's time-zone database does not know: the safe instant
    return datetime.combine(due, time(FALLBACK_HOUR_UTC), tzinfo=UTC)


def due_fields(due: date | datetime | None, time_zone: str | None = None) -> dict[str, Any]:
    """ClickUp wants milliseconds; `due_date_time` says whether the time of day counts."""
    if due is None:
        return {}
    if isinstance(due, datetime):
        instant = due if due.tzinfo else due.replace(tzinfo=UTC)
        return {"due_date": int(instant.timestamp() * 1000), "due_date_time": True}
    instant = date_only_instant(due, time_zone)
    return {"due_date": int(instant.timestamp() * 1000), "due_date_time": False}


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
        **due_fields(draft.due, draft.time_zone),
    }
    if draft.priority is not None:
        body["priority"] = PRIORITY[draft.priority]
    if assignees:
        body["assignees"] = assignees[:1]
    return body
