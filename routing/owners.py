"""Who owns a task (SPEC "What a person sees", 2).

The owner is the assignee when the assignee is a member of the Slack workspace — matched by
Slack user id, else by e-mail — otherwise the meeting's owner. An assignee known only by name
(or by an e-mail nobody in the workspace has) is kept on the task as text.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from routing.errors import UnknownOwner
from routing.inputs import OwnerRef, PersonRef


class Directory(Protocol):
    """The people of a Slack workspace (the Slack app implements it with users.* calls)."""

    async def is_member(self, team_id: str, user_id: str) -> bool:
        """True when `user_id` is an active (not deleted) member of the workspace."""
        ...

    async def user_by_email(self, team_id: str, email: str) -> str | None:
        """The Slack user id of the active member with this e-mail, if any."""
        ...

    async def time_zone(self, team_id: str, user_id: str) -> str | None:
        """The member's IANA time zone (Slack's `tz`), None when unknown."""
        ...


@dataclass(frozen=True)
class TaskOwner:
    user_id: str  # Slack user id of the owner
    assignee_name: str | None  # the assignee as said, when it is not the owner
    assignee_email: str | None
    reason: str


async def resolve_person(
    directory: Directory, team_id: str, person: OwnerRef, *, field: str
) -> str:
    """The Slack user id of someone who must be in the workspace, or `UnknownOwner`."""
    if person.slack_user_id and await directory.is_member(team_id, person.slack_user_id):
        return person.slack_user_id
    if person.email:
        found = await directory.user_by_email(team_id, str(person.email))
        if found:
            return found
    named = person.slack_user_id or str(person.email)
    raise UnknownOwner(field, f"{named} is not a member of this Slack workspace")


async def resolve_owner(
    directory: Directory, team_id: str, assignee: PersonRef | None, meeting_owner_id: str
) -> TaskOwner:
    """The owner of one action item, given the already resolved meeting owner."""
    if assignee is None:
        return TaskOwner(meeting_owner_id, None, None, "no assignee: the meeting owner's task")
    email = str(assignee.email) if assignee.email else None
    if assignee.slack_user_id and await directory.is_member(team_id, assignee.slack_user_id):
        return TaskOwner(assignee.slack_user_id, None, email, "the assignee")
    if email:
        found = await directory.user_by_email(team_id, email)
        if found:
            return TaskOwner(found, None, email, "the assignee, found by e-mail")
    label = assignee.name or email or assignee.slack_user_id
    return TaskOwner(
        meeting_owner_id,
        assignee.name or email or assignee.slack_user_id,
        email,
        f"{label} is not in this Slack workspace: the meeting owner's task",
    )
