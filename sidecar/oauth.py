"""Connecting ClickUp or Notion: the browser side of OAuth 2.0, after RFC 9700, behind a proof
of who opened the link.

1. `GET /auth/{provider}/initiate?t=<link token>` — the link from Slack, signed for one person
   and valid 15 minutes, refused once it made a connection (spent) and when the person started
   too many flows lately (`START_LIMIT`, a 429 with `Retry-After`). The browser gets an
   HttpOnly cookie holding a secret we made (never a value the browser brought; `__Host-` and
   Secure on https; SameSite=Lax so the redirects back still carry it). Then the person proves
   they are the one the link names:
   - with a Slack OAuth app configured, by **Sign in with Slack** (`sidecar.slack_sign_in`):
     a 303 to Slack, whose answer comes back to `GET /auth/slack/callback`; only when the
     signed-in Slack user and team are the link's does the flow go on, otherwise a page says
     whose link it is and nothing is connected;
   - without one (a single-workspace bot-token install), by a **confirmation page** naming the
     person, their workspace and the tool ("Connect ClickUp to @ada in Acme?") whose button
     posts to `POST /auth/{provider}/confirm`.
   Replacing an existing connection always asks first, on such a page.
2. The flow goes on to the tool's consent with a state of 256 random bits (only its hash is
   stored, with the person, the tool, the link and a 10-minute expiry) and our fixed redirect
   URI.
3. `GET /auth/{provider}/callback?code&state` — the state is accepted once, before it expires,
   for this tool and step, and only with the cookie of the browser that started; then the code
   is exchanged, the link is spent, the tokens are stored encrypted, the owner is told in
   Slack, the catalog is read, the person's waiting tasks are queued, and a page says what
   happened.

Every state is one-time and bound to its step and to the browser cookie, so a page's button
cannot be pressed from another site (its POST carries no SameSite=Lax cookie) nor replayed.
Nothing in a redirect comes from the request.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from primitives.clock import Clock
from primitives.enums import ProviderName
from primitives.text import clean_name
from providers.base import Provider, ProviderError, RateLimited, Transient
from routing.people import People, SlackPerson
from routing.utility import IntegrationUtility
from sidecar import pages
from sidecar.links import LINK_LIFETIME, LinkClaims, LinkProblem, LinkRefused, LinkSigner
from sidecar.slack_sign_in import SignInFailed, SlackSignIn
from storage.oauth_states import (
    STATE_LIFETIME,
    AcceptedState,
    OAuthStateStore,
    StateProblem,
    StateRefused,
    StateStep,
    digest,
    new_secret,
)

log = logging.getLogger(__name__)

BROWSER_COOKIE = "scrumy_connect"
SECURE_BROWSER_COOKIE = "__Host-scrumy_connect"  # https: Secure, Path=/, no Domain
_COOKIE_VALUE = re.compile(r"[A-Za-z0-9_-]{43}")  # what `new_secret` makes
_MAX_PARAM = 2048
# OAuth 2.0 error codes (RFC 6749 §4.1.2.1) that mean the provider is busy, not that we or
# the person did something wrong.
_PASSING_OAUTH_ERRORS = frozenset({"server_error", "temporarily_unavailable"})
SLACK_CALLBACK_PATH = "/auth/slack/callback"


@dataclass(frozen=True)
class StartLimit:
    """How many connect flows one person may start within `window`."""

    starts: int = 10
    window: timedelta = timedelta(minutes=10)


START_LIMIT = StartLimit()


class ConnectFlow:
    """The `/auth/…` routes."""

    def __init__(
        self,
        *,
        providers: Mapping[ProviderName, Provider],
        links: LinkSigner,
        states: OAuthStateStore,
        utility: IntegrationUtility,
        clock: Clock,
        base_url: str,
        people: People,
        sign_in: SlackSignIn | None = None,
        start_limit: StartLimit = START_LIMIT,
    ) -> None:
        self._providers = providers
        self._links = links
        self._states = states
        self._utility = utility
        self._clock = clock
        self._base_url = base_url.rstrip("/")
        self._people = people
        self._sign_in = sign_in
        self._limit = start_limit
        self._secure_cookie = self._base_url.startswith("https://")
        self._cookie = SECURE_BROWSER_COOKIE if self._secure_cookie else BROWSER_COOKIE
        parts = urlsplit(self._base_url)
        self._origin = f"{parts.scheme}://{parts.netloc}"

    def routes(self) -> list[Route]:
        return [
            Route(SLACK_CALLBACK_PATH, self.slack_callback, methods=["GET"]),
            Route("/auth/{provider}/initiate", self.initiate, methods=["GET"]),
            Route("/auth/{provider}/confirm", self.confirm, methods=["POST"]),
            Route("/auth/{provider}/callback", self.callback, methods=["GET"]),
        ]

    @property
    def cookie_name(self) -> str:
        return self._cookie

    def redirect_uri(self, provider: ProviderName) -> str:
        """Our callback for `provider`, exactly as registered with it (never from a request)."""
        return f"{self._base_url}/auth/{provider.value}/callback"

    @property
    def slack_redirect_uri(self) -> str:
        """Our Sign in with Slack callback, as registered with the Slack app."""
        return f"{self._base_url}{SLACK_CALLBACK_PATH}"

    def _tool(self, request: Request) -> tuple[ProviderName, Provider] | Response:
        try:
            name = ProviderName(request.path_params["provider"])
        except ValueError:
            return pages.page_response(pages.not_found(), 404)
        provider = self._providers.get(name)
        if provider is None:
            return pages.page_response(pages.not_configured(name.label), 404)
        return name, provider

    def _browser(self, request: Request) -> str | None:
        return request.cookies.get(self._cookie)

    # --- 1. initiate ------------------------------------------------------------------------------

    async def initiate(self, request: Request) -> Response:
        tool = self._tool(request)
        if isinstance(tool, Response):
            return tool
        name, provider = tool
        token = request.query_params.get("t", "")
        try:
            claims = self._links.verify(token[:_MAX_PARAM], provider=name)
        except LinkRefused as refused:
            if refused.problem is LinkProblem.EXPIRED and refused.claims is not None:
                page = pages.link_expired(name.label, name.value, refused.claims.team_id)
                return pages.page_response(page, 410)
            return pages.page_response(pages.link_invalid(name.label, name.value), 400)
        link_hash = digest(token)
        if await self._states.link_spent(link_hash):
            return pages.page_response(
                pages.link_spent(name.label, name.value, claims.team_id), 410
            )
        limited = await self._limited(name, claims)
        if limited is not None:
            return limited
        browser = await self._browser_secret(request)
        now = self._clock.now()
        if self._sign_in is not None:
            state = await self._states.issue(
                team_id=claims.team_id, user_id=claims.user_id, provider=name,
                browser_secret=browser, now=now, step=StateStep.SIGN_IN, link_hash=link_hash,
                first_step=True,
            )  # fmt: skip
            sign_in = self._sign_in.authorize_url(
                state=state, nonce=_nonce(state, browser), redirect_uri=self.slack_redirect_uri,
                team_id=claims.team_id,
            )  # fmt: skip
            response: Response = _redirect(sign_in)
        else:
            person = await self._people.describe(claims.team_id, claims.user_id)
            current = await self._current_account(claims.team_id, claims.user_id, name)
            state = await self._states.issue(
                team_id=claims.team_id, user_id=claims.user_id, provider=name,
                browser_secret=browser, now=now, step=StateStep.CONFIRM, link_hash=link_hash,
                first_step=True,
            )  # fmt: skip
            response = self._confirmation(name, provider, person, current, state, signed_in=False)
        self._set_cookie(response, browser)
        return response

    async def _limited(self, name: ProviderName, claims: LinkClaims) -> Response | None:
        """The 429 page when this person started `START_LIMIT` flows within its window."""
        now = self._clock.now()
        recent = await self._states.recent_starts(
            team_id=claims.team_id, user_id=claims.user_id, since=now - self._limit.window
        )
        if recent.count < self._limit.starts or recent.oldest is None:
            return None
        wait = max(1, math.ceil((recent.oldest + self._limit.window - now).total_seconds()))
        log.warning("%s started connecting too often; refused for %d s", claims.user_id, wait)
        page = pages.too_many_starts(name.label, name.value, math.ceil(wait / 60), claims.team_id)
        return pages.page_response(page, 429, headers={"Retry-After": str(wait)})

    async def _browser_secret(self, request: Request) -> str:
        """The browser's secret: the one we gave it (a state of ours is still bound to it), so
        ClickUp and Notion can be connected in two tabs at once; else a fresh one. A value the
        browser chose itself is never adopted."""
        browser = self._browser(request) or ""
        if _COOKIE_VALUE.fullmatch(browser) and await self._states.knows_browser(
            browser, now=self._clock.now()
        ):
            return browser
        return new_secret()

    def _set_cookie(self, response: Response, browser: str) -> None:
        response.set_cookie(
            self._cookie,
            browser,
            max_age=int(STATE_LIFETIME.total_seconds()),
            path="/" if self._secure_cookie else "/auth/",
            secure=self._secure_cookie,
            httponly=True,
            samesite="lax",
        )

    async def _current_account(
        self, team_id: str, user_id: str, provider: ProviderName
    ) -> str | None:
        """How the existing connection to `provider` is shown, None when there is none."""
        status = await self._utility.get_auth_status(user_id, team_id=team_id)
        connection = status.clickup if provider is ProviderName.CLICKUP else status.notion
        if not (connection.connected or connection.needs_reconnect):
            return None
        return clean_name(connection.workspace or "") or "an account"

    def _confirmation(
        self,
        name: ProviderName,
        provider: Provider,
        person: SlackPerson,
        current: str | None,
        state: str,
        *,
        signed_in: bool,
    ) -> Response:
        if current is not None:
            submit = f"Replace with another {name.label} account"
        else:
            submit = f"Yes, connect {name.label}"
        form = pages.Form(f"/auth/{name.value}/confirm", {"state": state}, submit)
        page = pages.confirm_connect(name.label, person, current, form, signed_in=signed_in)
        # The button's POST is answered by a redirect to the tool's consent page.
        consent = urlsplit(provider.authorize_url(state="-", redirect_uri=self.redirect_uri(name)))
        return pages.page_response(
            page, 200, form_targets=(f"{consent.scheme}://{consent.netloc}",)
        )

    async def _to_consent(
        self, name: ProviderName, provider: Provider, accepted: AcceptedState, browser: str
    ) -> Response:
        state = await self._states.issue(
            team_id=accepted.team_id, user_id=accepted.user_id, provider=name,
            browser_secret=browser, now=self._clock.now(), step=StateStep.PROVIDER,
            link_hash=accepted.link_hash,
        )  # fmt: skip
        return _redirect(provider.authorize_url(state=state, redirect_uri=self.redirect_uri(name)))

    # --- 1a. Sign in with Slack came back ---------------------------------------------------

    async def slack_callback(self, request: Request) -> Response:
        params = request.query_params
        state = params.get("state", "")
        browser = self._browser(request)
        if self._sign_in is None:
            return pages.page_response(pages.not_found(), 404)
        if not state or len(state) > _MAX_PARAM:
            return pages.page_response(pages.state_unknown("Slack", ""), 400)
        try:
            accepted = await self._states.accept(
                state=state, provider=None, browser_secret=browser, now=self._clock.now(),
                step=StateStep.SIGN_IN,
            )  # fmt: skip
        except StateRefused as refused:
            return self._refused("Slack", "", refused.problem)
        assert browser is not None  # accepted only with the browser's cookie
        name = accepted.provider
        tool = self._providers.get(name)
        if tool is None:
            return pages.page_response(pages.not_configured(name.label), 404)
        if params.get("error"):
            page = pages.sign_in_cancelled(name.label, name.value, accepted.team_id)
            return pages.page_response(page, 200 if params["error"] == "access_denied" else 502)
        code = params.get("code", "")
        if not code or len(code) > _MAX_PARAM:
            page = pages.sign_in_failed(
                name.label, name.value, "No sign-in code came back from Slack.", accepted.team_id
            )
            return pages.page_response(page, 400)
        try:
            identity = await self._sign_in.identify(
                code=code, redirect_uri=self.slack_redirect_uri, nonce=_nonce(state, browser)
            )
        except SignInFailed as failed:
            log.warning("Sign in with Slack failed for %s: %s", accepted.user_id, failed)
            page = pages.sign_in_failed(name.label, name.value, str(failed), accepted.team_id)
            return pages.page_response(page, 502)
        if (identity.team_id, identity.user_id) != (accepted.team_id, accepted.user_id):
            log.warning(
                "%s in %s opened the %s link of %s in %s: refused", identity.user_id,
                identity.team_id, name.label, accepted.user_id, accepted.team_id,
            )  # fmt: skip
            link_for = await self._people.describe(accepted.team_id, accepted.user_id)
            signed_in_as = identity.name or identity.user_id
            if identity.team_id != accepted.team_id:
                signed_in_as += f" in {identity.team_name or identity.team_id}"
            page = pages.wrong_person(name.label, name.value, link_for, signed_in_as)
            return pages.page_response(page, 403)
        if accepted.link_hash and await self._states.link_spent(accepted.link_hash):
            page = pages.link_spent(name.label, name.value, accepted.team_id)
            return pages.page_response(page, 410)
        current = await self._current_account(accepted.team_id, accepted.user_id, name)
        if current is None:
            return await self._to_consent(name, tool, accepted, browser)
        named = await self._people.describe(accepted.team_id, accepted.user_id)
        person = SlackPerson(
            accepted.team_id, accepted.user_id, named.handle or identity.name,
            named.workspace or identity.team_name,
        )  # fmt: skip
        confirm = await self._states.issue(
            team_id=accepted.team_id, user_id=accepted.user_id, provider=name,
            browser_secret=browser, now=self._clock.now(), step=StateStep.CONFIRM,
            link_hash=accepted.link_hash,
        )  # fmt: skip
        return self._confirmation(name, tool, person, current, confirm, signed_in=True)

    # --- 1b. the person pressed the confirmation button -------------------------------------

    async def confirm(self, request: Request) -> Response:
        tool = self._tool(request)
        if isinstance(tool, Response):
            return tool
        name, provider = tool
        origin = request.headers.get("origin")
        if origin is not None and origin != self._origin:
            # Browsers send Origin with every form POST (our pages make it ours); a form of
            # another site, or of a page with no origin ("null"), is not ours to follow.
            return pages.page_response(pages.state_unknown(name.label, name.value), 403)
        form = await request.form()
        state = form.get("state")
        browser = self._browser(request)
        if not isinstance(state, str) or not state or len(state) > _MAX_PARAM:
            return pages.page_response(pages.state_unknown(name.label, name.value), 400)
        try:
            accepted = await self._states.accept(
                state=state, provider=name, browser_secret=browser, now=self._clock.now(),
                step=StateStep.CONFIRM,
            )  # fmt: skip
        except StateRefused as refused:
            return self._refused(name.label, name.value, refused.problem)
        assert browser is not None  # accepted only with the browser's cookie
        if accepted.link_hash and await self._states.link_spent(accepted.link_hash):
            page = pages.link_spent(name.label, name.value, accepted.team_id)
            return pages.page_response(page, 410)
        return await self._to_consent(name, provider, accepted, browser)

    # --- 2. callback ------------------------------------------------------------------------------

    async def callback(self, request: Request) -> Response:
        tool = self._tool(request)
        if isinstance(tool, Response):
            return tool
        name, provider = tool
        params = request.query_params
        state = params.get("state", "")
        if not state or len(state) > _MAX_PARAM:
            return pages.page_response(pages.state_unknown(name.label, name.value), 400)
        try:
            accepted = await self._states.accept(
                state=state,
                provider=name,
                browser_secret=self._browser(request),
                now=self._clock.now(),
            )
        except StateRefused as refused:
            return self._refused(name.label, name.value, refused.problem)
        if params.get("error"):
            # The person pressed Cancel (access_denied) or the provider refused: the state is
            # spent either way, so this page cannot be replayed into a connection.
            if params.get("error") == "access_denied":
                page = pages.consent_denied(name.label, name.value, accepted.team_id)
                return pages.page_response(page, 200)
            said = _printable(params.get("error_description") or params.get("error", ""))
            page = pages.provider_failed(
                name.label, name.value, f"{name.label} said: {said}", accepted.team_id,
                passing=params.get("error") in _PASSING_OAUTH_ERRORS,
            )  # fmt: skip
            return pages.page_response(page, 502)
        code = params.get("code", "")
        if not code or len(code) > _MAX_PARAM:
            page = pages.provider_failed(
                name.label, name.value, f"No sign-in code came back from {name.label}.",
                accepted.team_id, passing=False,
            )  # fmt: skip
            return pages.page_response(page, 400)
        try:
            account = await provider.exchange_code(code=code, redirect_uri=self.redirect_uri(name))
        except ProviderError as error:
            log.warning("connecting %s for %s failed: %s", name.label, accepted.user_id, error)
            page = pages.provider_failed(
                name.label, name.value, error.message, accepted.team_id,
                passing=isinstance(error, Transient | RateLimited),
            )  # fmt: skip
            return pages.page_response(page, 502)
        if accepted.link_hash is not None and not await self._states.spend_link(
            link_hash=accepted.link_hash, team_id=accepted.team_id, user_id=accepted.user_id,
            expires_at=self._clock.now() + LINK_LIFETIME, now=self._clock.now(),
        ):  # fmt: skip
            # Two flows from one link finished: the first one connected, this one does not.
            page = pages.link_spent(name.label, name.value, accepted.team_id)
            return pages.page_response(page, 409)
        # The page answers once the connection is stored; its waiting tasks are queued after.
        waiting = await self._utility.connect_completed(
            team_id=accepted.team_id, user_id=accepted.user_id, account=account, background=True
        )
        log.info("%s connected %s (%d waiting tasks to queue)", accepted.user_id, name.label,
                 waiting)  # fmt: skip
        workspace = clean_name(account.workspace.name) if account.workspace else None
        return pages.page_response(
            pages.connected(name.label, workspace or None, waiting, accepted.team_id)
        )

    @staticmethod
    def _refused(label: str, slug: str, problem: StateProblem) -> Response:
        if problem is StateProblem.USED:
            return pages.page_response(pages.state_used(label, slug), 409)
        if problem is StateProblem.EXPIRED:
            return pages.page_response(pages.state_expired(label, slug), 410)
        if problem is StateProblem.OTHER_BROWSER:
            return pages.page_response(pages.other_browser(label, slug), 403)
        return pages.page_response(pages.state_unknown(label, slug), 400)


def _redirect(url: str) -> Response:
    return RedirectResponse(
        url,
        status_code=303,
        headers={"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"},
    )


def _nonce(state: str, browser: str) -> str:
    """The OpenID Connect nonce of a sign-in: tied to its state and to this browser's secret,
    so an ID token made for another sign-in or browser does not match."""
    return digest(f"nonce:{state}:{browser}")


def _printable(text: str) -> str:
    """A provider's error text, shortened and stripped of control characters (it is escaped
    again when rendered)."""
    clean = clean_name(text, limit=200)
    return clean or "an unknown error"
