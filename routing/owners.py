"""Who owns a task (SPEC "What a person sees", 2).

The owner is the assignee when the assignee is a member of the Slack workspace — matched by
Slack user id, else by e-mail — otherwise the meeting's owner. An assignee known only by name
(or by an e-mail nobody in the workspace has) is kept on the task as text. Someone of another
organisation (Slack Connect) is not a member of this workspace.

A meeting's assignees are looked up together: each distinct Slack id once, then each distinct
e-mail once (only of those whose id did not answer), so the directory can ask Slack for them
at once or read the workspace's member list instead (`bot/directory.py`).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from routing.errors import UnknownOwner
from routing.inputs import OwnerRef, PersonRef


@dataclass(frozen=True)
class Membership:
    """What the workspace says of one Slack id or e-mail.

    `user_id` is the member's Slack id, or None when they are not a member; `reason` then says
    why when it is something a person should know (another organisation, a scope the Slack app
    lacks) rather than plainly "not in this workspace".
    """

    user_id: str | None
    reason: str | None = None
    time_zone: str | None = None  # the member's IANA time zone, when Slack tells it


NOT_A_MEMBER = Membership(None)


@dataclass(frozen=True)
class Lookups:
    """The answers for a set of Slack ids and e-mails (e-mails case-folded)."""

    by_id: Mapping[str, Membership]
    by_email: Mapping[str, Membership]

    def of_id(self, user_id: str) -> Membership:
        return self.by_id.get(user_id, NOT_A_MEMBER)

    def of_email(self, email: str) -> Membership:
        return self.by_email.get(email.casefold(), NOT_A_MEMBER)


class Directory(Protocol):
    """The people of a Slack workspace (the Slack app implements it with users.* calls)."""

    async def serves(self, team_id: str) -> bool:
        """True when the app may look people up in this workspace (it is installed there)."""
        ...

    async def look_up(
        self, team_id: str, *, user_ids: Collection[str] = (), emails: Collection[str] = ()
    ) -> Lookups:
        """Each of these Slack ids and e-mails, once; raises `TeamNotServed` for a workspace
        the app does not serve and `DirectoryUnavailable` when Slack cannot answer now."""
        ...

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
    # Why the assignee is not the owner, when Slack told more than "not a member" (another
    # organisation, hidden, a scope the app lacks): shown with the task's first reason.
    note: str | None = None


async def look_up_people(
    directory: Directory, team_id: str, people: Sequence[PersonRef | OwnerRef]
) -> Lookups:
    """Every distinct Slack id of `people`, then every distinct e-mail whose id did not answer."""
    ids = {p.slack_user_id for p in people if p.slack_user_id}
    by_id = await directory.look_up(team_id, user_ids=sorted(ids)) if ids else None
    emails: dict[str, str] = {}
    for person in people:
        if person.email and not (
            person.slack_user_id and by_id and by_id.of_id(person.slack_user_id).user_id
        ):
            emails.setdefault(str(person.email).casefold(), str(person.email))
    by_email = await directory.look_up(team_id, emails=sorted(emails.values())) if emails else None
    return Lookups(
        by_id=dict(by_id.by_id) if by_id else {},
        by_email=dict(by_email.by_email) if by_email else {},
    )


def _found(found: Lookups, person: PersonRef | OwnerRef) -> tuple[str | None, str | None]:
    """The member `person` is (by id, else by e-mail), or None and why not."""
    reason = None
    if person.slack_user_id:
        by_id = found.of_id(person.slack_user_id)
        if by_id.user_id:
            return by_id.user_id, None
        reason = by_id.reason
    if person.email:
        by_email = found.of_email(str(person.email))
        if by_email.user_id:
            return by_email.user_id, None
        reason = by_email.reason or reason
    return None, reason


async def resolve_person(
    directory: Directory, team_id: str, person: OwnerRef, *, field: str
) -> str:
    """The Slack user id of someone who must be in the workspace, or `UnknownOwner`."""
    user_id, reason = _found(await look_up_people(directory, team_id, [person]), person)
    if user_id:
        return user_id
    named = person.slack_user_id or str(person.email)
    raise UnknownOwner(field, f"{named} {reason or 'is not a member of this Slack workspace'}")


def owner_of(found: Lookups, assignee: PersonRef | None, meeting_owner_id: str) -> TaskOwner:
    """The owner of one action item, from the looked-up assignees and the meeting owner."""
    if assignee is None:
        return TaskOwner(meeting_owner_id, None, None, "no assignee: the meeting owner's task")
    email = str(assignee.email) if assignee.email else None
    if assignee.slack_user_id and found.of_id(assignee.slack_user_id).user_id:
        return TaskOwner(assignee.slack_user_id, None, email, "the assignee")
    user_id, reason = _found(found, assignee)
    if user_id:
        return TaskOwner(user_id, None, email, "the assignee, found by e-mail")
    label = assignee.name or email or assignee.slack_user_id
    return TaskOwner(
        meeting_owner_id,
        label,
        email,
        f"{label} {reason or 'is not in this Slack workspace'}: the meeting owner's task",
        note=f"{label} {reason}" if reason else None,
    )


async def resolve_owners(
    directory: Directory,
    team_id: str,
    assignees: Sequence[PersonRef | None],
    meeting_owner_id: str,
) -> list[TaskOwner]:
    """The owner of each action item; each distinct assignee is looked up once."""
    found = await look_up_people(directory, team_id, [a for a in assignees if a is not None])
    return [owner_of(found, assignee, meeting_owner_id) for assignee in assignees]


async def resolve_owner(
    directory: Directory, team_id: str, assignee: PersonRef | None, meeting_owner_id: str
) -> TaskOwner:
    """The owner of one action item, given the already resolved meeting owner."""
    return (await resolve_owners(directory, team_id, [assignee], meeting_owner_id))[0]
