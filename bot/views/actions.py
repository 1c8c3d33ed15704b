"""Every action id our views put on buttons and menus, and how a listener reads one back.

A task's button carries the task in its action id and its value, so each is unique in its
message and a listener knows the task without a lookup:

    connect:<tool>[:<task id>]   Connect ClickUp / Notion (from a task waiting, or the Home tab)
    disconnect:<tool>            forget a connection ("Not you?", the Home tab)
    choose:<tool>:<task id>      the owner picks a tool for an "ask me" task
    retry:<task id>              queue a failed task again
    dismiss:<task id>            the owner does not want the task
    create:<task id>             the owner creates an item under review
    edit:<task id>               the owner opens the Edit modal of an item under review
    create_all:<meeting id>      the owner creates every item of theirs under review there

Menus of the Home tab have fixed ids (`ROUTING_MODE`, `DEFAULT_TOOL`, `DEFAULT_DESTINATION`,
`REVIEW_FIRST`).
A button that opens a personal connect link (`open_link(tool)`: `link:<tool>`) only opens it
in the browser; Slack still tells the app of the click, which is acknowledged and nothing more
(`OPEN_LINK`).
Bolt listeners register on `PATTERNS[verb]` and call `parse_action(action_id, value)`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from primitives.enums import ProviderName, RoutingMode


class Verb(StrEnum):
    CONNECT = "connect"
    DISCONNECT = "disconnect"
    CHOOSE = "choose"
    RETRY = "retry"
    DISMISS = "dismiss"
    CREATE = "create"
    EDIT = "edit"
    CREATE_ALL = "create_all"


ROUTING_MODE = "home:routing_mode"
DEFAULT_TOOL = "home:default_tool"
REVIEW_FIRST = "home:review_first"
DEFAULT_DESTINATION = {
    ProviderName.CLICKUP: "home:default_destination:clickup",
    ProviderName.NOTION: "home:default_destination:notion",
}

_TOOL = "|".join(p.value for p in ProviderName)
OPEN_LINK = re.compile(rf"^link:(?:{_TOOL})$")
_TASK = r"[A-Za-z0-9_-]{1,64}"
TASK_ID = re.compile(rf"^{_TASK}$")

PATTERNS: dict[Verb, re.Pattern[str]] = {
    Verb.CONNECT: re.compile(rf"^connect:(?P<tool>{_TOOL})(?::(?P<task>{_TASK}))?$"),
    Verb.DISCONNECT: re.compile(rf"^disconnect:(?P<tool>{_TOOL})$"),
    Verb.CHOOSE: re.compile(rf"^choose:(?P<tool>{_TOOL}):(?P<task>{_TASK})$"),
    Verb.RETRY: re.compile(rf"^retry:(?P<task>{_TASK})$"),
    Verb.DISMISS: re.compile(rf"^dismiss:(?P<task>{_TASK})$"),
    Verb.CREATE: re.compile(rf"^create:(?P<task>{_TASK})$"),
    Verb.EDIT: re.compile(rf"^edit:(?P<task>{_TASK})$"),
    # A meeting's id in the task's place: the ids share one alphabet.
    Verb.CREATE_ALL: re.compile(rf"^create_all:(?P<task>{_TASK})$"),
}


class UnknownAction(ValueError):
    """An action id or value none of our views makes (tampered with, or from an old version)."""


@dataclass(frozen=True)
class Action:
    """What a click asks for: the verb, and the tool and task it names (when it names them)."""

    verb: Verb
    tool: ProviderName | None = None
    task_id: str | None = None

    @property
    def action_id(self) -> str:
        parts = [self.verb.value]
        if self.tool is not None:
            parts.append(self.tool.value)
        if self.task_id is not None:
            parts.append(self.task_id)
        return ":".join(parts)

    @property
    def value(self) -> str:
        """The button's value: the task id, or the tool for a connection's buttons."""
        if self.task_id is not None:
            return self.task_id
        return self.tool.value if self.tool is not None else self.verb.value


def connect(tool: ProviderName, task_id: str | None = None) -> Action:
    return _checked(Action(Verb.CONNECT, tool, task_id))


def disconnect(tool: ProviderName) -> Action:
    return _checked(Action(Verb.DISCONNECT, tool))


def choose(tool: ProviderName, task_id: str) -> Action:
    return _checked(Action(Verb.CHOOSE, tool, task_id))


def retry(task_id: str) -> Action:
    return _checked(Action(Verb.RETRY, None, task_id))


def dismiss(task_id: str) -> Action:
    return _checked(Action(Verb.DISMISS, None, task_id))


def create(task_id: str) -> Action:
    return _checked(Action(Verb.CREATE, None, task_id))


def edit(task_id: str) -> Action:
    return _checked(Action(Verb.EDIT, None, task_id))


def create_all(meeting_id: str) -> Action:
    """Every item of the clicker's under review in the meeting (`task_id` holds its id)."""
    return _checked(Action(Verb.CREATE_ALL, None, meeting_id))


def open_link(tool: ProviderName) -> str:
    """The action id of a button that opens `tool`'s personal connect link."""
    return f"link:{tool.value}"


def _checked(action: Action) -> Action:
    if action.task_id is not None and not TASK_ID.match(action.task_id):
        raise UnknownAction(f"not a task id: {action.task_id[:64]!r}")
    return action


def parse_action(action_id: str, value: str | None = None) -> Action:
    """The action a button's `action_id` (and `value`, when given) stands for.

    The value must agree with the action id — a payload whose two halves disagree was not made
    by us, and `UnknownAction` is raised rather than guessing which half to trust.
    """
    verb_name = action_id.split(":", 1)[0]
    try:
        verb = Verb(verb_name)
    except ValueError:
        raise UnknownAction(f"unknown action: {action_id[:64]!r}") from None
    found = PATTERNS[verb].match(action_id)
    if found is None:
        raise UnknownAction(f"malformed {verb.value} action: {action_id[:64]!r}")
    groups = found.groupdict()
    tool = ProviderName(groups["tool"]) if groups.get("tool") else None
    action = Action(verb, tool, groups.get("task"))
    if value is not None and value != action.value:
        raise UnknownAction(f"the value of {action.action_id!r} does not match it")
    return action


def parse_routing_mode(value: str) -> RoutingMode:
    """The routing mode chosen in the Home tab's menu."""
    try:
        return RoutingMode(value)
    except ValueError:
        raise UnknownAction(f"unknown routing mode: {value[:64]!r}") from None


def parse_review_first(value: str) -> bool:
    """The Home tab's review menu: "on" (review first) or "off" (create at once)."""
    if value not in ("on", "off"):
        raise UnknownAction(f"unknown review choice: {value[:64]!r}")
    return value == "on"


def parse_tool(value: str) -> ProviderName:
    """The tool chosen in the Home tab's default-tool menu."""
    try:
        return ProviderName(value)
    except ValueError:
        raise UnknownAction(f"unknown tool: {value[:64]!r}") from None


def destination_menu_tool(action_id: str) -> ProviderName:
    """Which tool's list (database) menu an options request or a selection came from."""
    for tool, menu in DEFAULT_DESTINATION.items():
        if menu == action_id:
            return tool
    raise UnknownAction(f"not a destination menu: {action_id[:64]!r}")
