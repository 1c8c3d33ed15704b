"""What a person's browser does, hop by hop over real HTTP: installing the app through Slack's
consent page, signing in with Slack, and consenting on ClickUp's or Notion's page.

Each browser keeps its own cookies (so a consent finishes only in the browser it started in)
and follows no redirect by itself: every hop is checked, and a page that is not the one a
person would see ends the demo with what it showed (`DemoFailure`).
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from types import TracebackType
from urllib.parse import parse_qs, urlsplit

import httpx

from demo import world
from demo.stack import Stack
from demo.steps import DemoFailure
from demo.world import Person, browser_signed_in

HIDDEN_FIELD = re.compile(r'<input type="hidden" name="([^"]+)" value="([^"]*)">')


def _expect(response: httpx.Response, status: int, step: str) -> httpx.Response:
    if response.status_code != status:
        text = re.sub(r"<[^>]+>", " ", response.text)
        text = " ".join(html.unescape(text).split())[:200]
        raise DemoFailure(f"{step}: expected HTTP {status}, got {response.status_code} ({text})")
    return response


def _form_of(location: str) -> tuple[str, dict[str, str]]:
    """A consent page's address without its query, and the query's fields (what its form
    posts back)."""
    parts = urlsplit(location)
    fields = {name: values[0] for name, values in parse_qs(parts.query).items()}
    return f"{parts.scheme}://{parts.netloc}{parts.path}", fields


class Browser:
    """The browser of `person`, on this machine."""

    def __init__(self, stack: Stack, person: Person) -> None:
        self.stack = stack
        self.person = person
        self.client = httpx.AsyncClient(timeout=10)

    async def __aenter__(self) -> Browser:
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        await self.client.aclose()

    async def install_app(self) -> None:
        """The "Add to Slack" button: our install page, Slack's consent page, "Allow", and back."""
        urls = self.stack.urls
        start = _expect(
            await self.client.get(f"{urls.app}/slack/install", params={"team": world.TEAM}),
            302, "/slack/install",
        )  # fmt: skip
        # Bolt's state cookie is Secure, which a browser sends only over https; over plain
        # http on 127.0.0.1 it is handed back by hand, as the browser would over https.
        cookie = start.headers["set-cookie"].split(";")[0]
        consent = _expect(await self.client.get(start.headers["location"]), 200, "Slack consent")
        fields = {k: html.unescape(v) for k, v in HIDDEN_FIELD.findall(consent.text)}
        fields.update(user_id=self.person.slack_id, decision="allow")
        allowed = _expect(
            await self.client.post(f"{urls.slack}/oauth/v2/authorize", data=fields),
            302, "Slack consent: Allow",
        )  # fmt: skip
        _expect(
            await self.client.get(allowed.headers["location"], headers={"Cookie": cookie}),
            200, "/slack/oauth_redirect",
        )  # fmt: skip

    async def sign_in_with_slack(self, link: str) -> httpx.Response:
        """Open a connect link and sign in to Slack as this person; our answer to Slack's
        redirect back (a 303 on to the tool's consent page, or a refusal)."""
        started = _expect(await self.client.get(link), 303, "opening the connect link")
        location = started.headers["location"]
        if not location.startswith(f"{self.stack.urls.slack}/openid/connect/authorize"):
            raise DemoFailure(f"the connect link did not ask Slack who this is: {location}")
        _expect(await self.client.get(location), 200, "Sign in with Slack")
        action, fields = _form_of(location)
        back = _expect(
            await self.client.post(action, data={**fields, "user": self.person.slack_id}),
            302, "Sign in with Slack: Continue",
        )  # fmt: skip
        return await self.client.get(back.headers["location"])

    async def connect(self, link: str) -> PageText:
        """The whole connect flow of `link`: Sign in with Slack, the tool's consent page,
        "Allow", our callback; what our page says first."""
        to_tool = _expect(await self.sign_in_with_slack(link), 303, "/auth/slack/callback")
        location = to_tool.headers["location"]
        browser_signed_in(self.stack.worlds, self.person)
        _expect(await self.client.get(location), 200, "the tool's consent page")
        action, fields = _form_of(location)
        consented = _expect(
            await self.client.post(action, data={**fields, "decision": "approve"}),
            302, "the tool's consent page: Allow",
        )  # fmt: skip
        page = _expect(
            await self.client.get(consented.headers["location"]), 200, "the OAuth callback"
        )
        return _headline(page.text)

    async def refused(self, link: str) -> PageText:
        """Open someone else's connect link and sign in as this person: what our page says
        (it must refuse, 403)."""
        page = _expect(await self.sign_in_with_slack(link), 403, "someone else's link")
        return _headline(page.text)


@dataclass(frozen=True)
class PageText:
    """What one of our pages says first: its heading and its first paragraph."""

    heading: str
    paragraph: str = ""

    def __str__(self) -> str:
        if not self.paragraph:
            return self.heading
        stop = "" if self.heading.endswith((".", "!", "?")) else "."
        return f"{self.heading}{stop} {self.paragraph}"


def _headline(page: str) -> PageText:
    page = page.replace('<p class="brand">Scrumy Tasks</p>', "")
    found = re.findall(r"<(h1|p)[^>]*>(.*?)</\1>", page, flags=re.S)
    words = [" ".join(html.unescape(re.sub(r"<[^>]+>", "", text)).split()) for _, text in found]
    heading, *paragraphs = [w for w in words if w] or [""]
    return PageText(heading, paragraphs[0] if paragraphs else "")
