"""The people of a Slack workspace, read from the Slack Web API (`routing.owners.Directory`).

Who is a member: an active (not deleted, not a bot) user whose `team_id` is the workspace's
(or, on Enterprise Grid, whose `enterprise_user.teams` names it). A Slack Connect user of
another organisation — another `team_id`, or `is_stranger` — is not, and the answer says so.

What a lookup costs (docs/routing.md, "What finding owners costs"):

- each distinct Slack id and e-mail is asked once, and its answer is kept for `CACHE_LIFETIME`
  in a cache of at most `CACHE_SIZE` answers;
- up to `SWEEP_THRESHOLD` people not in the cache are asked one by one (`users.info`,
  `users.lookupByEmail`), `CONCURRENCY` at a time, within Slack's tiers (`bot.slack_api`);
- more than that, and the workspace's member list is read instead (`users.list`, `PAGE`
  people a call, Tier 2), once per `CACHE_LIFETIME` and workspace, shared by every meeting;
  a list too long for Slack's budget is read over several requests (each refused with a 503
  and `Retry-After` goes on where the last stopped); past `MAX_ROSTER_PAGES` pages, whoever
  the list did not reach is asked one by one.

A scope the Slack app was not granted (`missing_scope`) is logged for the operator and makes
the person unknown with a reason saying which scope; for `CACHE_LIFETIME` nobody else is asked
what that scope would tell. A 429 is waited out (`bot.slack_api`).

The bot token comes from `SLACK_BOT_TOKEN` (one workspace: the token's own, from `auth.test`
at start-up — `SingleWorkspace`) or from the stored installation of each workspace. A
workspace without a token is `TeamNotServed`: nobody is looked up in another workspace.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Collection, Iterable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from bot.scopes import REQUIRED_BOT_SCOPES
from bot.slack_api import SlackRefused, SlackWebApi
from primitives.clock import Clock
from routing.errors import DirectoryUnavailable, TeamNotServed
from routing.owners import NOT_A_MEMBER, Lookups, Membership

log = logging.getLogger(__name__)

CACHE_LIFETIME = timedelta(minutes=5)
CACHE_SIZE = 10_000
SWEEP_THRESHOLD = 20
CONCURRENCY = 8
PAGE = 200  # Slack's advice for users.list pages
MAX_ROSTER_PAGES = 50
MAX_ROSTERS = 16

TokenSource = Callable[[str], Awaitable[str | None]]

OTHER_ORGANISATION = "is in another Slack workspace or organisation (Slack Connect)"
NOT_VISIBLE = "is hidden from the Slack app by their organisation (user_not_visible)"


def missing_scope_reason(scope: str) -> str:
    return f"could not be checked: the Slack app lacks the {scope} scope"


class SingleWorkspace:
    """The token source of a `SLACK_BOT_TOKEN` install: its own workspace, and no other."""

    def __init__(self, token: str, team_id: str) -> None:
        self._token = token
        self.team_id = team_id

    async def __call__(self, team_id: str) -> str | None:
        return self._token if team_id == self.team_id else None


async def team_of_token(api: SlackWebApi, *, token: str) -> str:
    """The workspace a bot token belongs to (`auth.test`); `DirectoryUnavailable` if refused.

    A scope the directory needs and the token lacks (Slack lists them in `X-OAuth-Scopes`) is
    logged for the operator here, at start-up, before anyone's task depends on it.
    """
    try:
        answer = await api.call(token, "auth.test", {})
    except SlackRefused as refused:
        raise DirectoryUnavailable(f"auth.test answered {refused.error}") from None
    team_id = answer.body.get("team_id")
    if not isinstance(team_id, str) or not team_id:
        raise DirectoryUnavailable("Slack's auth.test named no team")
    for scope, without in REQUIRED_BOT_SCOPES.items():
        if answer.scopes is not None and scope not in answer.scopes:
            log.error(
                "the Slack app lacks the %s scope in workspace %s: %s; add it to the app and "
                "reinstall it", scope, team_id, without,
            )  # fmt: skip
    return team_id


def membership(team_id: str, user: object) -> Membership:
    """What a Slack user object says of its membership of `team_id`."""
    if not isinstance(user, dict) or user.get("deleted") or user.get("is_bot"):
        return NOT_A_MEMBER
    if user.get("is_stranger"):
        return Membership(None, OTHER_ORGANISATION)
    home = user.get("team_id")
    grid = user.get("enterprise_user")
    teams = grid.get("teams") if isinstance(grid, dict) else None
    if home is not None and home != team_id and not (isinstance(teams, list) and team_id in teams):
        return Membership(None, OTHER_ORGANISATION)
    zone = user.get("tz")
    return Membership(str(user["id"]), time_zone=zone if isinstance(zone, str) and zone else None)


@dataclass
class _Roster:
    """A workspace's member list, read page by page with `users.list`."""

    started: float
    by_id: dict[str, Membership] = field(default_factory=dict)
    by_email: dict[str, Membership] = field(default_factory=dict)
    cursor: str = ""
    pages: int = 0
    complete: bool = False
    emails: bool = True  # False when the token may not read e-mails (no users:read.email)
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    @property
    def finished(self) -> bool:
        return self.complete or self.pages >= MAX_ROSTER_PAGES


class SlackDirectory:
    """`routing.owners.Directory` over the Slack Web API (`api`, which paces every call and
    bounds every wait); see the module docstring."""

    def __init__(self, api: SlackWebApi, *, tokens: TokenSource, clock: Clock) -> None:
        self._api = api
        self._tokens = tokens
        self._clock = clock
        self._cache: OrderedDict[tuple[str, str, str], tuple[float, Membership]] = OrderedDict()
        self._rosters: OrderedDict[str, _Roster] = OrderedDict()
        self._warned: set[tuple[str, str]] = set()
        # (workspace, scope) -> when Slack said the token lacks it: not asked again for a while.
        self._lacking: dict[tuple[str, str], float] = {}

    async def serves(self, team_id: str) -> bool:
        return await self._tokens(team_id) is not None

    async def is_member(self, team_id: str, user_id: str) -> bool:
        return (await self.look_up(team_id, user_ids=[user_id])).of_id(user_id).user_id is not None

    async def user_by_email(self, team_id: str, email: str) -> str | None:
        return (await self.look_up(team_id, emails=[email])).of_email(email).user_id

    async def time_zone(self, team_id: str, user_id: str) -> str | None:
        """The member's time zone (`tz`): kept from the answer that found them as an owner, so
        it usually costs no call."""
        return (await self.look_up(team_id, user_ids=[user_id])).of_id(user_id).time_zone

    async def look_up(
        self, team_id: str, *, user_ids: Collection[str] = (), emails: Collection[str] = ()
    ) -> Lookups:
        token = await self._tokens(team_id)
        if token is None:
            raise TeamNotServed(team_id)
        wanted = {("id", u) for u in user_ids} | {("email", e.casefold()) for e in emails}
        found: dict[tuple[str, str], Membership] = {}
        for kind, value in wanted:
            hit = self._cached(team_id, kind, value)
            if hit is not None:
                found[(kind, value)] = hit
        missing = wanted - found.keys()
        if len(missing) > SWEEP_THRESHOLD:
            found.update(await self._from_roster(team_id, token, missing))
            missing -= found.keys()
        found.update(await self._one_by_one(team_id, token, missing))
        return Lookups(
            by_id={v: m for (k, v), m in found.items() if k == "id"},
            by_email={v: m for (k, v), m in found.items() if k == "email"},
        )

    # --- the cache ------------------------------------------------------------------------

    def _cached(self, team_id: str, kind: str, value: str) -> Membership | None:
        key = (team_id, kind, value)
        hit = self._cache.get(key)
        if hit is None:
            return None
        if self._clock.monotonic() - hit[0] >= CACHE_LIFETIME.total_seconds():
            del self._cache[key]
            return None
        return hit[1]

    def _keep(self, team_id: str, kind: str, value: str, answer: Membership) -> None:
        keys = [(team_id, kind, value)]
        if kind == "email" and answer.user_id is not None:
            keys.append((team_id, "id", answer.user_id))  # found by e-mail: known by id too
        for key in keys:
            self._cache[key] = (self._clock.monotonic(), answer)
            self._cache.move_to_end(key)
        while len(self._cache) > CACHE_SIZE:
            self._cache.popitem(last=False)

    # --- one by one -----------------------------------------------------------------------

    async def _one_by_one(
        self, team_id: str, token: str, wanted: Iterable[tuple[str, str]]
    ) -> dict[tuple[str, str], Membership]:
        gate = asyncio.Semaphore(CONCURRENCY)

        async def ask(kind: str, value: str) -> Membership:
            async with gate:
                scope = "users:read" if kind == "id" else "users:read.email"
                if self._lacks(team_id, scope):
                    return Membership(None, missing_scope_reason(scope))
                answer = await self._ask(team_id, token, kind, value)
            self._keep(team_id, kind, value, answer)
            return answer

        keys = sorted(wanted)
        answers = await asyncio.gather(*(ask(kind, value) for kind, value in keys))
        return dict(zip(keys, answers, strict=True))

    async def _ask(self, team_id: str, token: str, kind: str, value: str) -> Membership:
        method, params = (
            ("users.info", {"user": value}) if kind == "id"
            else ("users.lookupByEmail", {"email": value})
        )  # fmt: skip
        try:
            answer = await self._api.call(token, method, params)
        except SlackRefused as refused:
            return self._refused(team_id, refused)
        return membership(team_id, answer.body.get("user"))

    def _lacks(self, team_id: str, scope: str) -> bool:
        learnt = self._lacking.get((team_id, scope))
        return learnt is not None and (
            self._clock.monotonic() - learnt < CACHE_LIFETIME.total_seconds()
        )

    def _refused(self, team_id: str, refused: SlackRefused) -> Membership:
        if refused.error in ("user_not_found", "users_not_found"):
            return NOT_A_MEMBER
        if refused.error == "user_not_visible":
            return Membership(None, NOT_VISIBLE)
        if refused.error == "missing_scope":
            scope = refused.needed or "users:read"
            self._lacking[(team_id, scope)] = self._clock.monotonic()
            if (team_id, scope) not in self._warned:
                self._warned.add((team_id, scope))
                log.error(
                    "Slack refused %s in workspace %s: the Slack app lacks the %s scope "
                    "(granted: %s); add it to the app and reinstall it — until then people "
                    "cannot be found %s",
                    refused.method, team_id, scope, refused.provided or "none",
                    "by e-mail" if scope == "users:read.email" else "at all",
                )  # fmt: skip
            return Membership(None, missing_scope_reason(scope))
        raise DirectoryUnavailable(f"Slack refused {refused.method}: {refused.error}")

    # --- the member list ------------------------------------------------------------------

    async def _from_roster(
        self, team_id: str, token: str, wanted: set[tuple[str, str]]
    ) -> dict[tuple[str, str], Membership]:
        roster = self._rosters.get(team_id)
        now = self._clock.monotonic()
        if roster is None or now - roster.started >= CACHE_LIFETIME.total_seconds():
            roster = _Roster(started=now)
            self._rosters[team_id] = roster
            self._rosters.move_to_end(team_id)
            while len(self._rosters) > MAX_ROSTERS:
                self._rosters.popitem(last=False)
        async with roster.lock:  # one sweep per workspace, however many meetings wait on it
            try:
                await self._read_roster(team_id, token, roster)
            except SlackRefused as refused:
                if refused.error != "missing_scope":
                    raise DirectoryUnavailable(
                        f"Slack refused {refused.method}: {refused.error}"
                    ) from None
                self._refused(team_id, refused)
                return {}  # asked one by one, each answered with the reason
        found: dict[tuple[str, str], Membership] = {}
        for kind, value in wanted:
            index = roster.by_id if kind == "id" else roster.by_email
            if value in index:
                found[(kind, value)] = index[value]
            elif roster.complete and (kind == "id" or roster.emails):
                found[(kind, value)] = NOT_A_MEMBER
        for (kind, value), answer in found.items():
            self._keep(team_id, kind, value, answer)
        return found

    async def _read_roster(self, team_id: str, token: str, roster: _Roster) -> None:
        while not roster.finished:
            params = {"limit": str(PAGE)}
            if roster.cursor:
                params["cursor"] = roster.cursor
            answer = await self._api.call(token, "users.list", params)
            if answer.scopes is not None and "users:read.email" not in answer.scopes:
                roster.emails = False
                self._lacking[(team_id, "users:read.email")] = self._clock.monotonic()
            members = answer.body.get("members")
            for user in members if isinstance(members, list) else []:
                if not isinstance(user, dict) or "id" not in user:
                    continue
                found = membership(team_id, user)
                roster.by_id[str(user["id"])] = found
                profile = user.get("profile")
                email = profile.get("email") if isinstance(profile, dict) else None
                # An address shared by a member and someone else names the member.
                if (
                    isinstance(email, str) and email and roster.emails
                    and (found.user_id or email.casefold() not in roster.by_email)
                ):  # fmt: skip
                    roster.by_email[email.casefold()] = found
            roster.pages += 1
            metadata: Any = answer.body.get("response_metadata") or {}
            roster.cursor = str(metadata.get("next_cursor") or "")
            roster.complete = not roster.cursor
