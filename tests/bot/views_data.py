"""Tasks as the routing layer reports them, for the views' tests to build in one line."""

from __future__ import annotations

from typing import Any

from primitives.enums import ProviderName, TaskState
from routing.results import TaskResult

REASONS = {
    TaskState.PENDING_AUTH: "waiting for you to connect ClickUp or Notion",
    TaskState.AWAITING_CHOICE: "you asked to choose the tool for each task",
    TaskState.QUEUED: "smart: project Website matches your ClickUp list Website",
    TaskState.IN_FLIGHT: "being sent to ClickUp",
    TaskState.RETRYING: "ClickUp had a problem (503); retrying in 30 s",
    TaskState.FAILED: "ClickUp refused the task: the list Website is archived",
    TaskState.DISMISSED: "dismissed by its owner",
}


def task(n: int, state: TaskState = TaskState.PENDING_AUTH, **fields: Any) -> TaskResult:
    """Task `tsk_<n>` of item `a<n>`, titled "Action <n>", owned by U1, in `state`."""
    created = state is TaskState.CREATED
    values: dict[str, Any] = {
        "item_id": f"a{n}",
        "task_id": f"tsk_{n}",
        "status": state,
        "provider": ProviderName.CLICKUP if created or state is TaskState.QUEUED else None,
        "url": f"https://app.clickup.com/t/{n}" if created else None,
        "reason": None if created else REASONS.get(state),
        "owner_user_id": "U1",
        "title": f"Action {n}",
    }
    values.update(fields)
    return TaskResult(**values)
