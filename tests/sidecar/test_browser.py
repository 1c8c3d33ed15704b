"""A person connecting ClickUp and Notion in a real browser (Debian's Chromium via Playwright).

The app and both emulators run on 127.0.0.1; the browser follows the link from Slack, sees the
emulator's consent page, presses its buttons, and lands on our pages. Screenshots go to the
test's output folder, or to SCRUMY_SCREENSHOT_DIR (`make screenshots` refreshes the ones in
docs/screenshots/).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, Page

from primitives.enums import ProviderName, TaskState
from tests.browsers import DESKTOP, PHONE
from tests.fakes import FakeClock
from tests.sidecar.harness import ANA, BO, CAROL, TEAM, Harness, served_sidecar


@pytest.fixture
async def live(database_url: str, clock: FakeClock) -> AsyncIterator[Harness]:
    async with served_sidecar(database_url, clock) as harness:
        yield harness


@pytest.fixture
def browser(chromium_browser: Browser) -> Browser:
    return chromium_browser


async def new_page(browser: Browser, viewport: dict[str, int] = DESKTOP) -> Page:
    context = await browser.new_context(viewport=viewport)  # type: ignore[arg-type]
    return await context.new_page()


async def heading(page: Page) -> str:
    return (await page.inner_text("h1")).strip()


async def test_connecting_clickup_in_a_browser(
    live: Harness, browser: Browser, shots: Path, backend: str
) -> None:
    for title in ("Draft the release notes", "Book the venue"):
        await live.utility.create_task(ANA, {"title": title}, team_id=TEAM)
    page = await new_page(browser)
    link = live.link(ANA, ProviderName.CLICKUP)
    await page.goto(link)
    # No Slack OAuth app here: our page names whom the link is for, and asks.
    assert await heading(page) == "Connect ClickUp to @Ana in Acme?"
    await page.screenshot(path=shots / "confirm-clickup.png")
    await page.get_by_role("button", name="Yes, connect ClickUp").click()
    await page.wait_for_url(f"{live.clickup_url}/**")
    assert page.url.startswith(live.clickup_url)  # the emulator's consent page
    assert await heading(page) == "Connect Workspaces"
    assert "Acme" in await page.inner_text("body")
    await page.screenshot(path=shots / "consent-clickup.png")

    await page.get_by_role("button", name="Connect Workspace").click()
    await page.wait_for_url(f"{live.base_url}/auth/clickup/callback*")
    assert await heading(page) == "ClickUp is connected to Acme."
    body = await page.inner_text("body")
    assert "2 waiting tasks are being created." in body
    assert "Back to Slack" in body
    assert await page.get_attribute("a.button.primary", "href") == f"slack://open?team={TEAM}"
    # The stylesheet loaded under the page's CSP: the primary button is filled.
    color = await page.eval_on_selector(
        "a.button.primary", "e => getComputedStyle(e).backgroundColor"
    )
    assert color not in ("rgba(0, 0, 0, 0)", "transparent")
    await page.screenshot(path=shots / "connected.png")

    # Reloading the callback does not connect twice: it says the attempt was used.
    await page.reload()
    assert await heading(page) == "This connection attempt was already used"
    await page.screenshot(path=shots / "already-used.png")

    # The link made this connection: opened again, it says how to get a new one.
    response = await page.goto(link)
    assert response is not None and response.status == 410
    assert await heading(page) == "This connect link was already used"
    assert "/tasks connect clickup" in await page.inner_text("body")
    await page.screenshot(path=shots / "link-spent.png")

    status = await live.utility.get_auth_status(ANA, team_id=TEAM)
    assert status.clickup.connected and status.clickup.workspace == "Acme"
    [told] = live.notifier.connections
    assert (told.user_id, told.provider, told.replaced) == (ANA, ProviderName.CLICKUP, False)
    await live.utility.settle_flushes()
    await live.worker.run_once()
    created = [t for t in live.notifier.changes if t.state is TaskState.CREATED]
    assert len(created) == 2


async def test_cancelling_on_notion_on_a_phone(
    live: Harness, browser: Browser, shots: Path
) -> None:
    page = await new_page(browser, PHONE)
    await page.goto(live.link(ANA, ProviderName.NOTION))
    await page.get_by_role("button", name="Yes, connect Notion").click()
    await page.wait_for_url(f"{live.notion_url}/**")
    await page.get_by_role("button", name="Cancel").click()
    await page.wait_for_url(f"{live.base_url}/auth/notion/callback*")
    assert await heading(page) == "You did not connect Notion"
    assert "/tasks connect notion" in await page.inner_text("body")
    # Fits a phone: nothing wider than the screen.
    width = await page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"]
    await page.screenshot(path=shots / "denied-phone.png", full_page=True)
    status = await live.utility.get_auth_status(ANA, team_id=TEAM)
    assert not status.notion.connected


async def test_an_expired_link_in_a_browser(live: Harness, browser: Browser, shots: Path) -> None:
    link = live.link(ANA, ProviderName.CLICKUP)
    live.clock.advance(16 * 60)
    page = await new_page(browser, PHONE)
    response = await page.goto(link)
    assert response is not None and response.status == 410
    assert page.url.startswith(live.base_url)  # never sent to ClickUp
    assert await heading(page) == "This connect link has expired"
    assert "/tasks connect clickup" in await page.inner_text("body")
    await page.screenshot(path=shots / "link-expired-phone.png", full_page=True)


# --- the link opened by someone else ----------------------------------------------------------


@pytest.fixture
async def live_sign_in(database_url: str, clock: FakeClock) -> AsyncIterator[Harness]:
    """The app with a Slack OAuth app configured: Sign in with Slack before any consent."""
    async with served_sidecar(database_url, clock, sign_in=True) as harness:
        yield harness


async def test_bobs_link_opened_by_carol_signed_in_to_slack_connects_nothing(
    live_sign_in: Harness, browser: Browser, shots: Path
) -> None:
    live = live_sign_in
    link = live.link(BO, ProviderName.CLICKUP)
    live.slack_world.openid.signed_in = CAROL  # the browser is signed in to Slack as Carol
    page = await new_page(browser)
    await page.goto(link)
    assert page.url.startswith(live.slack_url)  # Sign in with Slack comes first
    assert await heading(page) == "Sign in to Acme"
    await page.get_by_role("button", name="Continue as Carol Diaz").click()
    await page.wait_for_url(f"{live.base_url}/auth/slack/callback*")
    assert await heading(page) == "This connect link was made for someone else"
    body = await page.inner_text("body")
    assert "for @Bo in Acme, but you signed in to Slack as Carol Diaz" in body
    assert "Nothing was connected." in body
    await page.screenshot(path=shots / "wrong-person.png")
    assert live.clickup_world.requests["GET /api"] == 0  # never sent to ClickUp's consent
    status = await live.utility.get_auth_status(BO, team_id=TEAM)
    assert not status.clickup.connected
    assert live.notifier.connections == []

    # Bo himself, signed in as Bo, connects with the same link (a refusal does not spend it).
    live.slack_world.openid.signed_in = BO
    bob = await new_page(browser)
    await bob.goto(link)
    await bob.get_by_role("button", name="Continue as Bo Chen").click()
    await bob.wait_for_url(f"{live.clickup_url}/**")
    await bob.get_by_role("button", name="Connect Workspace").click()
    await bob.wait_for_url(f"{live.base_url}/auth/clickup/callback*")
    assert await heading(bob) == "ClickUp is connected to Acme."
    status = await live.utility.get_auth_status(BO, team_id=TEAM)
    assert status.clickup.connected
    [told] = live.notifier.connections
    assert (told.team_id, told.user_id, told.replaced) == (TEAM, BO, False)


async def test_bobs_link_opened_by_carol_without_sign_in_names_bob_and_needs_his_click(
    live: Harness, browser: Browser
) -> None:
    """No Slack OAuth app: the page names Bo, so Carol sees it is not hers; nothing happens
    until the button is pressed on our page, and another site cannot press it."""
    link = live.link(BO, ProviderName.CLICKUP)
    page = await new_page(browser)
    await page.goto(link)
    assert await heading(page) == "Connect ClickUp to @Bo in Acme?"
    body = await page.inner_text("body")
    assert "This link was made in Slack for @Bo in Acme. Continue only if that is you" in body
    assert "If this is not you, close this tab: nothing has been connected." in body
    state = await page.get_attribute("input[name=state]", "value")
    assert state is not None

    # Another site posts the button's form from the same browser: refused (no SameSite=Lax
    # cookie on a cross-site POST, and an Origin that is not ours).
    attack = (
        f'<form method="post" action="{live.base_url}/auth/clickup/confirm">'
        f'<input name="state" value="{state}"><button>go</button></form>'
    )
    # The other site, served by the browser itself (no network): http://elsewhere.test/.
    await page.route(
        "http://elsewhere.test/**",
        lambda route: route.fulfill(body=attack, content_type="text/html"),
    )
    await page.goto("http://elsewhere.test/")
    async with page.expect_navigation() as navigation:
        await page.get_by_role("button", name="go").click()
    refused = await navigation.value
    assert refused is not None and refused.status == 403
    assert await heading(page) == "We could not match this page to a connect request"
    assert live.clickup_world.requests["GET /api"] == 0
    status = await live.utility.get_auth_status(BO, team_id=TEAM)
    assert not status.clickup.connected
    assert live.notifier.connections == []
