"""The "Create task" modal of the message shortcut, its project menu, and what the person is
told once it is submitted.

    prefill(message_text, names, permalink)        -> Prefill (title, description)
    task_modal(prefill, origin)                    -> the `view` of `views.open`
    read_submission(view, earliest=date)           -> TaskForm, or {block_id: error}
    project_options(choices, query)                -> the answer to the project menu
    submitted_message(task, form, tools)           -> the direct message after submitting

The title is the message's first line as plain text (`bot.views.message_text`), cut at a word
to `TITLE_PREFILL` characters; the description is the whole message with a link back to it.
The project menu offers the person's own ClickUp lists and Notion databases as they type;
left empty, the task is routed as any task of theirs. A due day that is already over
everywhere on Earth is refused: picking a past day in a calendar is a slip, and the task would
be overdue from its first minute (the HTTP API keeps past dates: an item said in a meeting may
be late already).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from bot.views.blocks import (
    OPTION_TEXT,
    OPTION_VALUE,
    OPTIONS,
    Block,
    SlackMessage,
    action_row,
    context,
    external_select,
    option,
    plain,
    section,
    static_select,
)
from bot.views.message_text import as_plain
from bot.views.mrkdwn import cut, fit, link, one_line
from bot.views.options import destination_options, placeholder_option
from bot.views.task_lines import TaskDetails, look, meeting_buttons, task_line
from primitives.enums import Priority, ProviderName, TaskState
from routing.destinations import DestinationChoices
from routing.inputs import TITLE_LIMIT
from routing.results import TaskResult

CALLBACK_ID = "create_task"  # the message shortcut (manifest.yml)
MODAL_ID = "create_task:modal"  # the modal's callback_id
# The modal's block ids; each block's element has the action id of `ACTION_IDS`.
TITLE, DESCRIPTION, DUE, PRIORITY, PROJECT = (
    "task:title", "task:description", "task:due", "task:priority", "task:project",
)  # fmt: skip
PROJECT_MENU = "task:project_menu"  # the project menu's action_id (options are asked for it)
ACTION_IDS = {TITLE: "title", DESCRIPTION: "description", DUE: "due", PRIORITY: "priority",
              PROJECT: PROJECT_MENU}  # fmt: skip

TITLE_PREFILL = 100  # a title a list shows in full; the whole message is in the description
DESCRIPTION_LIMIT = 3000  # Slack's most for a text input
METADATA_LIMIT = 3000
PRIORITIES = (
    ("Urgent", Priority.URGENT), ("High", Priority.HIGH), ("Normal", Priority.MEDIUM),
    ("Low", Priority.LOW),
)  # fmt: skip
GROUP_LABELS = {ProviderName.CLICKUP: "ClickUp lists", ProviderName.NOTION: "Notion databases"}


@dataclass(frozen=True)
class Origin:
    """The message a task is made from (the modal's `private_metadata`)."""

    channel_id: str
    message_ts: str
    permalink: str | None = None

    def metadata(self) -> str:
        data = {"channel": self.channel_id, "ts": self.message_ts, "link": self.permalink}
        encoded = json.dumps(data, separators=(",", ":"))
        if len(encoded) > METADATA_LIMIT:  # a link of 3,000 characters is no link of Slack's
            encoded = json.dumps({"channel": self.channel_id, "ts": self.message_ts})
        return encoded

    @classmethod
    def of(cls, metadata: str | None) -> Origin | None:
        try:
            data = json.loads(metadata or "")
        except ValueError:
            return None
        if not isinstance(data, dict):
            return None
        channel, ts, permalink = data.get("channel"), data.get("ts"), data.get("link")
        if not isinstance(channel, str) or not isinstance(ts, str):
            return None
        return cls(channel, ts, permalink if isinstance(permalink, str) else None)


@dataclass(frozen=True)
class Prefill:
    title: str
    description: str


@dataclass(frozen=True)
class TaskForm:
    """What the person submitted, checked."""

    title: str
    description: str
    due: date | None
    priority: Priority | None
    project: tuple[ProviderName, str] | None  # (tool, list or database id)
    origin: Origin | None

    def item(self, project_name: str | None) -> dict[str, Any]:
        """The action item for `IntegrationUtility.create_task`."""
        return {
            "title": self.title, "description": self.description,
            "due_date": self.due.isoformat() if self.due else None,
            "priority": self.priority.value if self.priority else None,
            "project_name": project_name,
        }  # fmt: skip


def _cut_at_word(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    head = text[: limit - 1]
    if " " in head[limit // 2 :]:
        head = head.rsplit(" ", 1)[0]
    return head.rstrip(" ,.;:-") + "…"


def prefill(text: str, names: Mapping[str, str], permalink: str | None) -> Prefill:
    """The title and description a message suggests (`names`: people mentioned, by id)."""
    titled = as_plain(text, names, links=False)
    first = next((line for line in titled.splitlines() if line.strip()), "")
    title = _cut_at_word(one_line(first), TITLE_PREFILL)
    footer = f"\n\nFrom Slack: {permalink}" if permalink else ""
    body = as_plain(text, names)
    room = DESCRIPTION_LIMIT - len(footer)
    description = (cut(body, room) + footer).strip() if body else footer.strip()
    return Prefill(title, description[:DESCRIPTION_LIMIT])


def _input(
    block_id: str, label: str, element: Block, *, optional: bool = False, hint: str | None = None
) -> Block:
    block: Block = {
        "type": "input", "block_id": block_id, "label": plain(label, 2000), "element": element,
        "optional": optional,
    }  # fmt: skip
    if hint:
        block["hint"] = plain(hint, 2000)
    return block


def _text_input(action_id: str, initial: str, limit: int, *, multiline: bool = False) -> Block:
    element: Block = {"type": "plain_text_input", "action_id": action_id, "max_length": limit,
                      "multiline": multiline}  # fmt: skip
    if initial:
        element["initial_value"] = initial[:limit]
    return element


def task_fields(
    *,
    title: str,
    description: str,
    due: date | None = None,
    priority: Priority | None = None,
    project: Block | None = None,
    project_label: str = "Project",
    project_hint: str,
) -> list[Block]:
    """The form's fields, shared by this modal and the review's Edit modal: title,
    description, due day, priority and the list or database menu (`project`: the option
    chosen, if any)."""
    picker: Block = {"type": "datepicker", "action_id": ACTION_IDS[DUE],
                     "placeholder": plain("Pick a day", 150)}  # fmt: skip
    if due is not None:
        picker["initial_date"] = due.isoformat()
    priorities = [option(label, value.value) for label, value in PRIORITIES]
    chosen = next((o for o in priorities if priority and o["value"] == priority.value), None)
    menu = static_select(
        "No priority", action_id=ACTION_IDS[PRIORITY], options=priorities, initial=chosen
    )
    projects = external_select(
        "Type to find a list or database", action_id=PROJECT_MENU, initial=project
    )
    return [
        _input(TITLE, "Title", _text_input(ACTION_IDS[TITLE], title, TITLE_LIMIT)),
        _input(
            DESCRIPTION,
            "Description",
            _text_input(ACTION_IDS[DESCRIPTION], description, DESCRIPTION_LIMIT, multiline=True),
            optional=True,
        ),
        _input(DUE, "Due", picker, optional=True),
        _input(PRIORITY, "Priority", menu, optional=True),
        _input(PROJECT, project_label, projects, optional=True, hint=project_hint),
    ]


def task_modal(filled: Prefill, origin: Origin) -> dict[str, Any]:
    """The modal `views.open` shows: title, description, due day, priority, project."""
    blocks = task_fields(
        title=filled.title, description=filled.description,
        project_hint="One of your ClickUp lists or Notion databases. Left empty, the task goes "
        "where your routing choice sends it.",
    )  # fmt: skip
    return {
        "type": "modal", "callback_id": MODAL_ID, "title": plain("Create a task", 24),
        "submit": plain("Create", 24), "close": plain("Cancel", 24), "blocks": blocks,
        "private_metadata": origin.metadata(),
    }  # fmt: skip


def earliest_due(now: datetime) -> date:
    """The first day not yet over everywhere (it is still that day at UTC-12)."""
    return (now - timedelta(hours=12)).date()


def _value(values: Mapping[str, Any], block_id: str) -> dict[str, Any]:
    found = values.get(block_id, {}).get(ACTION_IDS[block_id], {})
    return found if isinstance(found, dict) else {}


def _selected(values: Mapping[str, Any], block_id: str) -> str | None:
    chosen = _value(values, block_id).get("selected_option")
    if isinstance(chosen, dict) and isinstance(chosen.get("value"), str):
        return str(chosen["value"])
    return None


def read_submission(view: Mapping[str, Any], *, earliest: date) -> TaskForm | dict[str, str]:
    """The submitted form, or the errors to show on its fields (`response_action: errors`)."""
    values = (view.get("state") or {}).get("values") or {}
    errors: dict[str, str] = {}
    title = one_line(str(_value(values, TITLE).get("value") or ""))
    if not title:
        errors[TITLE] = "Give the task a title."
    description = str(_value(values, DESCRIPTION).get("value") or "").strip()
    due: date | None = None
    picked = _value(values, DUE).get("selected_date")
    if picked:
        try:
            due = date.fromisoformat(str(picked))
        except ValueError:
            errors[DUE] = "Pick a day from the calendar."
        else:
            if due < earliest:
                errors[DUE] = "That day is over. Pick today or a later day."
    priority_value = _selected(values, PRIORITY)
    priority = Priority(priority_value) if priority_value in set(Priority) else None
    project = parse_project(_selected(values, PROJECT))
    if errors:
        return errors
    origin = Origin.of(view.get("private_metadata"))
    return TaskForm(title, description, due, priority, project, origin)


def project_value(tool: ProviderName, destination_id: str) -> str:
    return f"{tool.value}:{destination_id}"


def parse_project(value: str | None) -> tuple[ProviderName, str] | None:
    """The (tool, id) of a project menu's option; None for none or the placeholder."""
    if not value or ":" not in value:
        return None
    tool, _, destination_id = value.partition(":")
    if tool not in {p.value for p in ProviderName} or not destination_id:
        return None
    return ProviderName(tool), destination_id


@dataclass(frozen=True)
class _Prefixed:
    id: str
    display_name: str


def project_options(choices: Sequence[DestinationChoices], query: str = "") -> dict[str, Any]:
    """At most 100 options in all, grouped by tool when both have some, matching `query`;
    a single placeholder option saying why when there is nothing to choose yet."""
    found: list[tuple[ProviderName, list[dict[str, Any]]]] = []
    for choice in choices:
        prefixed = [
            _Prefixed(project_value(choice.provider, d.id), d.display_name)
            for d in choice.destinations
            if len(project_value(choice.provider, d.id)) <= OPTION_VALUE
        ]
        options = destination_options(prefixed, query)["options"]
        if options:
            found.append((choice.provider, options))
    if not found:
        return {"options": _nothing_to_choose(choices, query)}
    shares = _shares([len(options) for _, options in found], OPTIONS)
    if len(found) == 1:
        return {"options": found[0][1][: shares[0]]}
    return {
        "option_groups": [
            {
                "label": plain(GROUP_LABELS.get(tool, tool.label), OPTION_TEXT),
                "options": options[:share],
            }
            for (tool, options), share in zip(found, shares, strict=True)
        ]
    }


def _shares(sizes: Sequence[int], total: int) -> list[int]:
    """How many of each group to show: an even share each, the rest to those with more."""
    shares = [0] * len(sizes)
    left = total
    while left > 0 and any(shares[i] < sizes[i] for i in range(len(sizes))):
        for i, size in enumerate(sizes):
            if left > 0 and shares[i] < size:
                shares[i] += 1
                left -= 1
    return shares


def _nothing_to_choose(choices: Sequence[DestinationChoices], query: str) -> list[dict[str, Any]]:
    if not any(choice.connected for choice in choices):
        tools = " or ".join(choice.provider.label for choice in choices) or "a tool"
        return [placeholder_option(f"Connect {tools} first: /tasks connect")]
    if any(choice.loading for choice in choices):
        return [placeholder_option("Still reading your lists… type again in a moment")]
    if query.strip():
        return []  # Slack says "No results"
    return [placeholder_option("No lists or databases Scrumy Tasks can reach")]


def _headline(task: TaskResult, tools: Sequence[ProviderName]) -> str:
    title = f"“{fit(one_line(task.title), 150)}”"
    where = task.provider.label if task.provider else None
    match task.status:
        case TaskState.CREATED:
            return f"Created {title} in {where}" if where else f"Created {title}"
        case TaskState.QUEUED | TaskState.IN_FLIGHT | TaskState.RETRYING:
            return f"Creating {title} in {where}" if where else f"Creating {title}"
        case TaskState.PENDING_AUTH:
            wanted = " or ".join(tool.label for tool in tools) or "a tool"
            return f"{title} is waiting for you to connect {wanted}"
        case TaskState.AWAITING_CHOICE:
            return f"Choose where to create {title}"
        case TaskState.FAILED:
            return f"{title} could not be created"
        case _:
            return f"{title}: {look(task.status).word.lower()}"


def submitted_message(
    task: TaskResult,
    form: TaskForm,
    tools: Sequence[ProviderName],
    *,
    note: str | None = None,
) -> SlackMessage:
    """The direct message after a submission: where the task went, its state line, the
    buttons it needs (connect, choose), and the message it came from."""
    headline = _headline(task, tools)
    details = TaskDetails(due=form.due, priority=form.priority)
    blocks: list[Block] = [
        section(f"{headline}.", block_id="task:headline"),
        section(task_line(task, details, show_owner=False), block_id="task:line"),
    ]
    buttons = meeting_buttons(task, tools)
    if buttons:
        blocks.append(action_row(buttons, block_id="task:buttons"))
    notes = []
    if note:
        notes.append(fit(one_line(note), 500))
    if form.origin is not None and form.origin.permalink:
        notes.append(f"From {link(form.origin.permalink, 'this message', 40)}")
    if notes:
        blocks.append(context(*notes, block_id="task:origin"))
    return SlackMessage(headline, tuple(blocks))
