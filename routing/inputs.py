"""What the AI service, the HTTP API and Slack hand us, validated and normalised.

Normalisations (each documented in docs/routing.md):
- titles: surrounding whitespace trimmed, inner runs of whitespace collapsed; empty is
  refused; longer than `TITLE_LIMIT` characters is cut at a word with "…" and the full title
  is kept at the top of the description, so nothing said in the meeting is lost;
- priority: case-insensitive; "normal" is medium, "critical"/"highest" urgent, "lowest" low,
  "p0".."p3" urgent..low; anything else is refused naming the field;
- due dates: ISO 8601 date ("2026-03-09") or date-time; a date-time without an offset is
  read as UTC; past dates are kept (an overdue item is still an item);
- an item without an `id` gets one derived from its content, so posting the same meeting
  again maps each item to the same task.
"""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, date, datetime
from typing import Annotated, Any, TypeVar

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    field_validator,
    model_validator,
)

from primitives.enums import Priority, RoutingMode
from routing.decide import RoutableItem
from routing.errors import InvalidInput

TITLE_LIMIT = 200
DESCRIPTION_LIMIT = 50_000
MAX_ITEMS = 1_000

_PRIORITY_ALIASES = {
    "urgent": Priority.URGENT,
    "critical": Priority.URGENT,
    "highest": Priority.URGENT,
    "p0": Priority.URGENT,
    "high": Priority.HIGH,
    "p1": Priority.HIGH,
    "medium": Priority.MEDIUM,
    "normal": Priority.MEDIUM,
    "p2": Priority.MEDIUM,
    "low": Priority.LOW,
    "lowest": Priority.LOW,
    "p3": Priority.LOW,
}
_SPACES = re.compile(r"\s+")

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s.]+$")


def _check_email(value: str) -> str:
    if not _EMAIL.match(value):
        raise ValueError("expected an e-mail address")
    local, domain = value.rsplit("@", 1)
    return f"{local}@{domain.lower()}"


UserId = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^[UW][A-Z0-9]{1,30}$")]
TeamId = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^[TE][A-Z0-9]{1,30}$")]
Email = Annotated[
    str, StringConstraints(strip_whitespace=True, max_length=320), AfterValidator(_check_email)
]
ShortText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=255)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True, str_strip_whitespace=True)


class PersonRef(_Model):
    """Someone named by Slack user id, e-mail or (assignees only) just a name."""

    slack_user_id: UserId | None = None
    email: Email | None = None
    name: ShortText | None = None

    @model_validator(mode="after")
    def _named_somehow(self) -> PersonRef:
        if not (self.slack_user_id or self.email or self.name):
            raise ValueError("give slack_user_id, email or name")
        return self


class OwnerRef(PersonRef):
    """A meeting owner or task owner: must be reachable in Slack (an id or an e-mail)."""

    @model_validator(mode="after")
    def _reachable(self) -> OwnerRef:
        if not (self.slack_user_id or self.email):
            raise ValueError("give slack_user_id or email")
        return self


def normalise_title(title: str) -> tuple[str, str | None]:
    """(title to use, the full title when it had to be shortened)."""
    clean = _SPACES.sub(" ", title).strip()
    if len(clean) <= TITLE_LIMIT:
        return clean, None
    cut = clean[: TITLE_LIMIT - 1]
    if " " in cut[TITLE_LIMIT // 2 :]:
        cut = cut.rsplit(" ", 1)[0]
    return cut.rstrip(" ,.;:-") + "…", clean


class ActionItem(_Model):
    """One action item of a meeting (or the task of `POST /api/tasks`)."""

    id: (
        Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=255)]
        | None
    ) = None
    title: Annotated[str, StringConstraints(min_length=1, max_length=10_000)]
    description: Annotated[str, StringConstraints(max_length=DESCRIPTION_LIMIT)] = ""
    priority: Priority | None = None
    due_date: date | datetime | None = None
    assignee: PersonRef | None = None
    project_name: ShortText | None = None

    @field_validator("title")
    @classmethod
    def _title_has_words(cls, value: str) -> str:
        if not _SPACES.sub("", value):
            raise ValueError("must not be empty")
        return value

    @field_validator("priority", mode="before")
    @classmethod
    def _priority_aliases(cls, value: Any) -> Any:
        if value is None or isinstance(value, Priority):
            return value
        if isinstance(value, str):
            key = value.strip().casefold()
            if not key:
                return None
            if key in _PRIORITY_ALIASES:
                return _PRIORITY_ALIASES[key]
        raise ValueError("expected urgent, high, medium or low")

    @field_validator("due_date", mode="before")
    @classmethod
    def _parse_due(cls, value: Any) -> Any:
        if value is None or isinstance(value, date):
            return value
        if not isinstance(value, str):
            raise ValueError("expected an ISO 8601 date or date-time")
        text = value.strip()
        if not text:
            return None
        try:
            if len(text) == 10:
                return date.fromisoformat(text)
            parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            raise ValueError(
                "expected an ISO 8601 date (2026-03-09) or date-time (2026-03-09T17:00:00+01:00)"
            ) from None
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)

    def routable(self) -> RoutableItem:
        """What routing looks at in this item."""
        return RoutableItem(self.title, self.description, self.priority, self.project_name)

    @property
    def clean_title(self) -> str:
        return normalise_title(self.title)[0]

    @property
    def full_description(self) -> str:
        """The description, with the full title on top when the title had to be shortened."""
        _, full = normalise_title(self.title)
        if full is None:
            return self.description
        return f"{full}\n\n{self.description}".rstrip()

    def derived_id(self, occurrence: int) -> str:
        """A stable id from the content, for items the AI service sent without one."""
        who = self.assignee
        key = "\x1f".join(
            [
                self.clean_title.casefold(),
                (who.slack_user_id or who.email or who.name or "") if who else "",
                str(occurrence),
            ]
        )
        return "h-" + hashlib.sha256(key.encode("utf-8")).hexdigest()[:32]


class Participant(_Model):
    name: ShortText
    email: Email | None = None
    slack_user_id: UserId | None = None


class MeetingIn(_Model):
    """`POST /api/meetings`: a meeting's results from the AI service."""

    meeting_id: ShortText
    title: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=1000)]
    team_id: TeamId
    channel_id: Annotated[
        str, StringConstraints(strip_whitespace=True, pattern=r"^[CGD][A-Z0-9]{1,30}$")
    ]
    owner: OwnerRef
    summary: Annotated[str, StringConstraints(max_length=DESCRIPTION_LIMIT)] | None = None
    participants: list[Participant] = Field(default_factory=list, max_length=500)
    action_items: list[ActionItem] = Field(default_factory=list, max_length=MAX_ITEMS)

    def item_ids(self) -> list[str]:
        """Each item's id: its own, else one derived from its content (stable across posts)."""
        seen: dict[str, int] = {}
        ids = []
        for item in self.action_items:
            if item.id is not None:
                ids.append(item.id)
                continue
            derived = item.derived_id(0)
            seen[derived] = seen.get(derived, 0) + 1
            ids.append(item.derived_id(seen[derived] - 1))
        return ids

    @model_validator(mode="after")
    def _unique_item_ids(self) -> MeetingIn:
        given = [item.id for item in self.action_items if item.id is not None]
        if len(given) != len(set(given)):
            raise ValueError("action_items: two items have the same id")
        return self


class TaskRequest(_Model):
    """`POST /api/tasks`: one task for one person."""

    team_id: TeamId
    user: OwnerRef
    task: ActionItem
    routing: RoutingMode | None = None


M = TypeVar("M", bound=BaseModel)


def validate_input(model: type[M], data: Any) -> M:
    """`data` as `model`, or `InvalidInput` naming the first field at fault."""
    if isinstance(data, model):
        return data
    try:
        return model.model_validate(data)
    except ValidationError as error:
        first = error.errors(include_input=False, include_url=False)[0]
        where = ".".join(str(part) for part in first["loc"]) or "body"
        raise InvalidInput(where, str(first["msg"]).removeprefix("Value error, ")) from None
