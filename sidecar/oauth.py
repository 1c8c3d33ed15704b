"""Connecting ClickUp or Notion: the browser side of OAuth 2.0, after RFC 9700.

1. `GET /auth/{provider}/initiate?t=<link token>` — the link from Slack, signed for one person
   and valid 15 minutes. We make a state of 256 random bits, store only its hash with the
   person, the tool and a 10-minute expiry, bind it to this browser with an HttpOnly cookie
   (SameSite=Lax so the provider's redirect back still carries it; Secure on https), and send
   the browser to the provider with our fixed redirect URI.
2. `GET /auth/{provider}/callback?code&state` — the state is accepted once, before it expires,
   for this tool, and only with the cookie of the browser that started; then the code is
   exchanged, the tokens are stored encrypted, the catalog is read, the person's waiting tasks
   are queued, and a page says what happened.

Nothing in a redirect comes from the request: the provider's authorize URL and our redirect URI
are fixed by configuration.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from primitives.clock import Clock
from primitives.enums import ProviderName
from providers.base import Provider, ProviderError, RateLimited, Transient
from routing.utility import IntegrationUtility
from sidecar import pages
from sidecar.links import LinkProblem, LinkRefused, LinkSigner
from storage.oauth_states import (
    STATE_LIFETIME,
    OAuthStateStore,
    StateProblem,
    StateRefused,
    new_secret,
)

log = logging.getLogger(__name__)

BROWSER_COOKIE = "scrumy_connect"
_COOKIE_VALUE = re.compile(r"^[A-Za-z0-9_-]{43}$")  # what `new_secret` makes
_MAX_PARAM = 2048
# OAuth 2.0 error codes (RFC 6749 §4.1.2.1) that mean the provider is busy, not that we or
# the person did something wrong.
_PASSING_OAUTH_ERRORS = frozenset({"server_error", "temporarily_unavailable"})


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
    ) -> None:
        self._providers = providers
        self._links = links
        self._states = states
        self._utility = utility
        self._clock = clock
        self._base_url = base_url.rstrip("/")
        self._secure_cookie = self._base_url.startswith("https://")

    def routes(self) -> list[Route]:
        return [
            Route("/auth/{provider}/initiate", self.initiate, methods=["GET"]),
            Route("/auth/{provider}/callback", self.callback, methods=["GET"]),
        ]

    def redirect_uri(self, provider: ProviderName) -> str:
        """Our callback for `provider`, exactly as registered with it (never from a request)."""
        return f"{self._base_url}/auth/{provider.value}/callback"

    def _tool(self, request: Request) -> tuple[ProviderName, Provider] | Response:
        try:
            name = ProviderName(request.path_params["provider"])
        except ValueError:
            return pages.page_response(pages.not_found(), 404)
        provider = self._providers.get(name)
        if provider is None:
            return pages.page_response(pages.not_configured(name.label), 404)
        return name, provider

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
        # One secret per browser, reused across flows, so connecting ClickUp and Notion in two
        # tabs at once works; a fresh one when the cookie is absent or not ours.
        browser = request.cookies.get(BROWSER_COOKIE, "")
        if not _COOKIE_VALUE.match(browser):
            browser = new_secret()
        state = await self._states.issue(
            team_id=claims.team_id, user_id=claims.user_id, provider=name,
            browser_secret=browser, now=self._clock.now(),
        )  # fmt: skip
        response = RedirectResponse(
            provider.authorize_url(state=state, redirect_uri=self.redirect_uri(name)),
            status_code=303,
            headers={"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"},
        )
        response.set_cookie(
            BROWSER_COOKIE,
            browser,
            max_age=int(STATE_LIFETIME.total_seconds()),
            path="/auth/",
            secure=self._secure_cookie,
            httponly=True,
            samesite="lax",
        )
        return response

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
                browser_secret=request.cookies.get(BROWSER_COOKIE),
                now=self._clock.now(),
            )
        except StateRefused as refused:
            return self._refused(name, refused.problem)
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
            waiting = await self._utility.connect_completed(
                team_id=accepted.team_id, user_id=accepted.user_id, account=account
            )
        except ProviderError as error:
            log.warning("connecting %s for %s failed: %s", name.label, accepted.user_id, error)
            page = pages.provider_failed(
                name.label, name.value, error.message, accepted.team_id,
                passing=isinstance(error, Transient | RateLimited),
            )  # fmt: skip
            return pages.page_response(page, 502)
        log.info("%s connected %s (%d waiting tasks queued)", accepted.user_id, name.label, waiting)
        workspace = account.workspace.name if account.workspace else None
        return pages.page_response(
            pages.connected(name.label, workspace, waiting, accepted.team_id)
        )

    @staticmethod
    def _refused(name: ProviderName, problem: StateProblem) -> Response:
        label, slug = name.label, name.value
        if problem is StateProblem.USED:
            return pages.page_response(pages.state_used(label, slug), 409)
        if problem is StateProblem.EXPIRED:
            return pages.page_response(pages.state_expired(label, slug), 410)
        if problem is StateProblem.OTHER_BROWSER:
            return pages.page_response(pages.other_browser(label, slug), 403)
        return pages.page_response(pages.state_unknown(label, slug), 400)


def _printable(text: str) -> str:
    """A provider's error text, shortened and stripped of control characters (it is escaped
    again when rendered)."""
    clean = "".join(ch for ch in text if ch.isprintable())
    return clean[:200] or "an unknown error"
