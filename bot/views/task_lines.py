"""One task as a person sees it in Slack: its state, title, owner, due date, priority, and the
link once created or the reason it waits; and the buttons that act on it.

The meeting message, the Home tab and `/tasks pending` all show tasks this way. Each part is
escaped and cut on its own (`bot.views.mrkdwn`) so a line stays under 1,400 characters whatever
the title or reason (title ≤ 300, link ≤ 400, reason ≤ 400 once escaped): well within a
section's 3,000, and a meeting message of 23 items within Slack's 40,000 a message.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

from bot.views import actions
from bot.views.blocks import Block, button, confirm
from bot.views.mrkdwn import due_text, fit, link, mention, one_line
from primitives.enums import Priority, ProviderName, RemoteStatus, TaskState
from routing.results import TaskResult

S = TaskState
TITLE_LIMIT = 300
REASON_LIMIT = 400
NAME_LIMIT = 80


@dataclass(frozen=True)
class StateLook:
    emoji: str
    word: str  # on the task's line: "Waiting for a connection"
    counted: str  # in a meeting's counts: "2 waiting for a connection"


LOOKS: dict[TaskState, StateLook] = {
    S.CREATED: StateLook(":white_check_mark:", "Created", "created"),
    S.QUEUED: StateLook(":hourglass_flowing_sand:", "Queued", "queued"),
    S.IN_FLIGHT: StateLook(":arrows_counterclockwise:", "Being created", "being created"),
    S.RETRYING: StateLook(":repeat:", "Retrying", "retrying"),
    S.PENDING_AUTH: StateLook(
        ":electric_plug:", "Waiting for a connection", "waiting for a connection"
    ),
    S.AWAITING_CHOICE: StateLook(":point_right:", "Choose a tool", "to choose"),
    S.REVIEW: StateLook(":eyes:", "Waiting for review", "waiting for review"),
    S.FAILED: StateLook(":x:", "Failed", "failed"),
    S.DISMISSED: StateLook(":no_entry_sign:", "Dismissed", "dismissed"),
}  # fmt: skip
# What a person may dismiss: anything not yet created or being sent (routing.actions).
DISMISSABLE = frozenset(
    {S.PENDING_AUTH, S.AWAITING_CHOICE, S.REVIEW, S.QUEUED, S.RETRYING, S.FAILED}
)


# What a created task's line adds once its tool said it is finished there ("· ✓ done in
# ClickUp"); an open task (or one never heard of) adds nothing.
REMOTE_WORDS = {
    RemoteStatus.DONE: "✓ done in {tool}",
    RemoteStatus.CLOSED: "closed in {tool}",
    RemoteStatus.DELETED: "deleted in {tool}",
}


def remote_text(task: TaskResult) -> str | None:
    """ "✓ done in ClickUp", "closed in Notion", "deleted in ClickUp", or None."""
    if task.status is not S.CREATED or task.remote_status is None or task.provider is None:
        return None
    words = REMOTE_WORDS.get(task.remote_status)
    return words.format(tool=task.provider.label) if words else None


def look(state: TaskState) -> StateLook:
    """How `state` is shown; a state this version does not know shows its own name."""
    found = LOOKS.get(state)
    if found is not None:
        return found
    word = str(state).replace("_", " ")
    return StateLook(":grey_question:", word.capitalize(), word)


@dataclass(frozen=True)
class TaskDetails:
    """What a task's line shows besides its `TaskResult`: when it is due, how urgent it is, and
    the assignee's name when the assignee is not in Slack (the task is then the meeting
    owner's)."""

    due: date | datetime | None = None
    priority: Priority | None = None
    assignee_name: str | None = None


def task_line(
    task: TaskResult, details: TaskDetails | None = None, *, show_owner: bool = True
) -> str:
    """The task's `mrkdwn` line: state and title (a link once created), then who, when and how
    urgent, then the reason it waits or failed."""
    shown = look(task.status)
    title = one_line(task.title) or "(untitled)"
    if task.status is S.CREATED:
        where = f" in {task.provider.label}" if task.provider else ""
        remote = remote_text(task)
        if task.remote_status is RemoteStatus.DELETED:  # its link leads nowhere now
            shown_title = f"~{fit(title, TITLE_LIMIT)}~"
        else:
            shown_title = link(task.url, title, TITLE_LIMIT)
        head = f"{shown.emoji} *{shown.word}*{where} · {shown_title}"
        if remote:
            head += f" · {remote}"
    else:
        head = f"{shown.emoji} *{shown.word}* · {fit(title, TITLE_LIMIT)}"
    facts: list[str] = []
    if show_owner:
        facts.append(mention(task.owner_user_id))
    if details is not None:
        if details.assignee_name:
            facts.append(f"for {fit(one_line(details.assignee_name), NAME_LIMIT)}")
        if details.due is not None:
            facts.append(f"due {due_text(details.due)}")
        if details.priority is not None:
            facts.append(f"priority {details.priority.value}")
    lines = [head]
    if facts:
        lines.append(" · ".join(facts))
    if task.status is S.REVIEW:
        # Said with the owner's name, which a stored reason cannot hold (it is escaped).
        lines.append(f"waiting for {mention(task.owner_user_id)} to review")
    elif task.status is not S.CREATED and task.reason:
        lines.append(fit(one_line(task.reason), REASON_LIMIT))
    return "\n".join(lines)


def unique_tasks(tasks: Sequence[TaskResult]) -> list[TaskResult]:
    """`tasks` in their order, each task once (a task's buttons must appear once a message)."""
    seen: set[str] = set()
    kept = []
    for task in tasks:
        if task.task_id not in seen:
            seen.add(task.task_id)
            kept.append(task)
    return kept


def meeting_buttons(task: TaskResult, tools: Sequence[ProviderName]) -> list[Block]:
    """A meeting item's buttons: connect while it waits for a connection, pick a tool while it
    waits for its owner's choice, none otherwise."""
    if not actions.TASK_ID.match(task.task_id):
        return []
    if task.status is S.PENDING_AUTH:
        return [
            _button(f"Connect {tool.label}", actions.connect(tool, task.task_id)) for tool in tools
        ]
    if task.status is S.AWAITING_CHOICE:
        return [_button(tool.label, actions.choose(tool, task.task_id)) for tool in tools]
    return []


def owner_buttons(task: TaskResult, tools: Sequence[ProviderName]) -> list[Block]:
    """The owner's own buttons (Home tab, `/tasks pending`): the meeting's, plus retry for a
    failed task and dismiss for any not yet created."""
    if not actions.TASK_ID.match(task.task_id):
        return []
    found = meeting_buttons(task, tools)
    if task.status is S.FAILED:
        found.append(_button("Retry", actions.retry(task.task_id), primary=True))
    if task.status is S.REVIEW:
        return [*found, *review_buttons(task)]
    if task.status in DISMISSABLE:
        found.append(_dismiss_button(task.task_id))
    return found


def review_buttons(task: TaskResult) -> list[Block]:
    """Create / Edit / Dismiss, while the task waits for its owner's review."""
    if task.status is not S.REVIEW or not actions.TASK_ID.match(task.task_id):
        return []
    return [
        _button("Create", actions.create(task.task_id), primary=True),
        _button("Edit", actions.edit(task.task_id)),
        _dismiss_button(task.task_id),
    ]


def _dismiss_button(task_id: str) -> Block:
    return button(
        "Dismiss",
        action_id=actions.dismiss(task_id).action_id,
        value=task_id,
        confirmation=confirm(
            "Dismiss this task?", "It will not be created. This cannot be undone.", "Dismiss"
        ),
    )


def _button(text: str, action: actions.Action, *, primary: bool = False) -> Block:
    return button(
        text,
        action_id=action.action_id,
        value=action.value,
        style="primary" if primary else None,
    )
