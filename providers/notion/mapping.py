"""A `TaskDraft` as a Notion page in a data source, mapped by the data source's schema.

- the one `title` property gets the title;
- priority goes to a select/status property whose name contains "priority", set to the option
  whose name matches (case-insensitive; "medium" also matches "normal", "urgent" also
  "critical"/"highest"); no matching option → left empty;
- due goes to a date property named like due/deadline, else the only date property;
- the assignee goes to a people property named like assignee/owner/assigned, else the only
  people property, when the e-mail matches a workspace member;
- the first block is one short paragraph, "Created by Scrumy Tasks from <meeting> · <marker>",
  so that one read of a page's first child block (`page_size=1`) tells whether the page is
  ours, however long the page is;
- the description becomes paragraph blocks, each text item at most 2,000 characters, at most
  100 items per block; a footer (the link back, the assignee by name) comes last.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from primitives.enums import Priority
from providers.base import Destination, DestinationField, Member, TaskDraft

TEXT_LIMIT = 2000
ITEMS_PER_BLOCK = 100
BLOCKS_PER_REQUEST = 100
MEETING_IN_HEADER = 200  # characters of the meeting's title kept in the first block

_PRIORITY_NAMES = {
    Priority.URGENT: ("urgent", "critical", "highest", "p0"),
    Priority.HIGH: ("high", "p1"),
    Priority.MEDIUM: ("medium", "normal", "p2"),
    Priority.LOW: ("low", "lowest", "p3"),
}


def _field(
    fields: Sequence[DestinationField], types: tuple[str, ...], hints: tuple[str, ...]
) -> DestinationField | None:
    candidates = [f for f in fields if f.type in types]
    for hint in hints:
        for candidate in candidates:
            if hint in candidate.name.casefold():
                return candidate
    return candidates[0] if len(candidates) == 1 else None


def _rich_text(text: str) -> list[dict[str, Any]]:
    return [
        {"type": "text", "text": {"content": text[i : i + TEXT_LIMIT]}}
        for i in range(0, len(text), TEXT_LIMIT)
    ]


def paragraphs(text: str) -> list[dict[str, Any]]:
    """Paragraph blocks for `text`: one per paragraph, long ones split to fit Notion's limits."""
    blocks = []
    for paragraph in (p.strip() for p in text.split("\n\n")):
        if not paragraph:
            continue
        items = _rich_text(paragraph)
        for i in range(0, len(items), ITEMS_PER_BLOCK):
            blocks.append(
                {
                    "object": "block",
                    "type": "paragraph",
                    "paragraph": {"rich_text": items[i : i + ITEMS_PER_BLOCK]},
                }
            )
    return blocks


def header(draft: TaskDraft) -> dict[str, Any]:
    """The first block of every page we create: where it came from, and our marker.

    One paragraph whatever the meeting's title (its whitespace folded, cut to
    MEETING_IN_HEADER characters), so the marker is always in the page's first block.
    """
    meeting = " ".join((draft.meeting_title or "").split())[:MEETING_IN_HEADER] or "a meeting"
    text = f"Created by Scrumy Tasks from {meeting} · {draft.marker}"
    return {"object": "block", "type": "paragraph", "paragraph": {"rich_text": _rich_text(text)}}


def _due(due: date | datetime) -> dict[str, Any]:
    return {"date": {"start": due.isoformat()}}


def page_body(
    draft: TaskDraft, destination: Destination, members: Sequence[Member]
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The create-page body (with the first 100 blocks) and the blocks left to append."""
    fields = destination.fields
    title = next((f for f in fields if f.type == "title"), None)
    properties: dict[str, Any] = {
        (title.name if title else "title"): {"title": _rich_text(" ".join(draft.title.split()))}
    }
    if draft.priority is not None:
        target = _field(fields, ("select", "status"), ("priority",))
        if target is not None and "priority" in target.name.casefold():
            names = _PRIORITY_NAMES[draft.priority]
            option = next((o for o in target.options if o.casefold() in names), None)
            if option is not None:
                properties[target.name] = {target.type: {"name": option}}
    if draft.due is not None:
        target = _field(fields, ("date",), ("due", "deadline", "date"))
        if target is not None:
            properties[target.name] = _due(draft.due)
    assigned = False
    if draft.assignee_email:
        target = _field(fields, ("people",), ("assignee", "assigned", "owner"))
        wanted = draft.assignee_email.casefold()
        member = next((m for m in members if (m.email or "").casefold() == wanted), None)
        if target is not None and member is not None:
            properties[target.name] = {"people": [{"object": "user", "id": member.id}]}
            assigned = True
    footer = [draft.backlink_url] if draft.backlink_url else []
    if not assigned and (draft.assignee_name or draft.assignee_email):
        footer.append(
            f"Assignee named in the meeting: {draft.assignee_name or draft.assignee_email}"
        )
    blocks = [header(draft), *paragraphs(draft.description), *paragraphs("\n\n".join(footer))]
    return (
        {"parent": {"data_source_id": destination.id}, "properties": properties},
        blocks,
    )
