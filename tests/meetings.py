"""Meetings and action items as `IntegrationUtility.process_meeting` and `POST /api/meetings`
take them (SPEC "HTTP API"), for tests to build in one line."""

from __future__ import annotations

from typing import Any


def meeting(*items: dict[str, Any], **fields: Any) -> dict[str, Any]:
    """A weekly sync of workspace T1 owned by U1, with `items` as its action items; `fields`
    replace any part of it (`owner={"email": ...}`, `team_id=...`, `meeting_id=...`)."""
    return {
        "meeting_id": "m-1",
        "title": "Weekly sync",
        "team_id": "T1",
        "channel_id": "C1",
        "owner": {"slack_user_id": "U1"},
        "action_items": list(items),
        **fields,
    }


def item(n: int, **fields: Any) -> dict[str, Any]:
    """Action item `a<n>`, titled "Action <n>"; `fields` add to it or replace those."""
    return {"id": f"a{n}", "title": f"Action {n}", **fields}
