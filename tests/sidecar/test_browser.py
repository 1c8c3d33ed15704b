"""A person connecting ClickUp and Notion in a real browser (Debian's Chromium via Playwright).

The app and both emulators run on 127.0.0.1; the browser follows the link from Slack, sees the
emulator's consent page, presses its buttons, and lands on our pages. Screenshots go to the
test's output folder, or to SCRUMY_SCREENSHOT_DIR (`make screenshots` refreshes the ones in
docs/screenshots/).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, Page, async_playwright

from primitives.enums import ProviderName, TaskState
from tests.fakes import FakeClock
from tests.sidecar.harness import ANA, TEAM, Harness, served_sidecar

CHROMIUM = Path(os.environ.get("SCRUMY_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1100, "height": 760}


@pytest.fixture(scope="module")
def chromium() -> Path:
    if not CHROMIUM.exists() and not shutil.which("chromium"):
        message = f"Chromium is not installed at {CHROMIUM} (apt-get install -y chromium)"
        if os.environ.get("CI"):
            pytest.fail(message + "; CI must have it", pytrace=False)
        pytest.skip(message)
    return CHROMIUM


@pytest.fixture
def shots(tmp_path: Path) -> Path:
    folder = Path(os.environ.get("SCRUMY_SCREENSHOT_DIR") or tmp_path / "screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture
async def live(database_url: str, clock: FakeClock) -> AsyncIterator[Harness]:
    async with served_sidecar(database_url, clock) as harness:
        yield harness


@pytest.fixture
async def browser(chromium: Path) -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=str(chromium), args=CHROMIUM_FLAGS
        )
        try:
            yield browser
        finally:
            await browser.close()


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
    await page.goto(live.link(ANA, ProviderName.CLICKUP))
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

    status = await live.utility.get_auth_status(ANA, team_id=TEAM)
    assert status.clickup.connected and status.clickup.workspace == "Acme"
    await live.worker.run_once()
    created = [t for t in live.notifier.changes if t.state is TaskState.CREATED]
    assert len(created) == 2


async def test_cancelling_on_notion_on_a_phone(
    live: Harness, browser: Browser, shots: Path
) -> None:
    page = await new_page(browser, PHONE)
    await page.goto(live.link(ANA, ProviderName.NOTION))
    assert page.url.startswith(live.notion_url)
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
