"""`scrumy demo --serve` in a browser, as the person it leaves "Your turn" for clicks through it.

The demo runs as a person runs it (a subprocess; the pages it lists are read from its output),
then Debian's Chromium (Playwright) opens #general as Eli: his item in "Your turn" waits with
"Connect ClickUp"; he clicks it, follows the private link it gives him through Sign in with
Slack and ClickUp's consent, and the item turns into a link on the open page, without a
reload. Dana, on #general as herself, clicks "Notion" on hers and it becomes a Notion link.
Ctrl-C then stops the demo, exit 0. The pictures (the channel, an App Home) go to the test's
output folder, or to SCRUMY_SCREENSHOT_DIR (`make screenshots`).
"""

from __future__ import annotations

import asyncio
import re
import signal
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.async_api import Browser, Locator, Page, expect

from tests.browsers import DESKTOP

STARTED = 60.0  # seconds for the story to end and the pages to be listed (it takes ~7)
STOPPED = 20.0  # seconds for Ctrl-C to stop everything
ARRIVES = 15_000  # ms for what the app and the worker do after a click to reach the page


@dataclass(frozen=True)
class Pages:
    """The addresses `scrumy demo --serve` lists."""

    channel_as_eli: str
    channel_as_dana: str
    homes: dict[str, str]  # first name -> their App Home
    clickup: str  # the emulated ClickUp (its origin)
    notion: str  # the emulated Notion (its origin)
    slack: str  # the emulated Slack (its origin)
    app: str  # Scrumy Tasks (its origin)


def pages_listed(output: str) -> Pages:
    listed = output.rpartition("Everything keeps running. Open:")[2]
    found = dict(re.findall(r"^  (\S.*?)  +(http://127\.0\.0\.1:\d+\S*)", listed, flags=re.M))

    def origin(url: str) -> str:
        return re.sub(r"^(http://[^/]+).*$", r"\1", url)

    homes = {what.split("'")[0]: url for what, url in found.items() if "App Home" in what}
    return Pages(
        channel_as_eli=found["#general, as Eli (you)"],
        channel_as_dana=found["#general, as Dana"],
        homes=homes,
        clickup=origin(found["ClickUp's tasks"]),
        notion=origin(found["Notion's pages"]),
        slack=origin(found["#general, as Eli (you)"]),
        app=origin(found["Scrumy Tasks"]),
    )


@dataclass
class Demo:
    process: asyncio.subprocess.Process
    output: list[str]
    pages: Pages


@pytest.fixture
async def demo(tmp_path: Path) -> AsyncIterator[Demo]:
    """`scrumy demo --serve`, once it lists its pages; killed if the test did not stop it."""
    with (tmp_path / "demo.err").open("w") as errors:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "scrumy", "demo", "--serve",
            stdout=asyncio.subprocess.PIPE, stderr=errors,
        )  # fmt: skip
        assert process.stdout is not None
        output: list[str] = []

        async def until_listed() -> None:
            assert process.stdout is not None
            while line := (await process.stdout.readline()).decode():
                output.append(line)
                if line.startswith("Ctrl-C stops it"):
                    return
            raise AssertionError("the demo ended before listing its pages:\n" + "".join(output))

        try:
            await asyncio.wait_for(until_listed(), STARTED)
            yield Demo(process, output, pages_listed("".join(output)))
        finally:
            if process.returncode is None:
                process.kill()
                await process.wait()


@pytest.fixture
def browser(chromium_browser: Browser) -> Browser:
    return chromium_browser


def your_turn(page: Page) -> Locator:
    """The "Your turn" meeting message on a channel page."""
    return page.locator("#live .msg", has=page.get_by_role("heading", name="Your turn"))


async def test_eli_connects_clickup_and_dana_picks_notion_in_the_browser_then_ctrl_c_stops_it(
    demo: Demo, browser: Browser, shots: Path
) -> None:
    pages = demo.pages
    context = await browser.new_context(viewport=DESKTOP)  # type: ignore[arg-type]

    # #general as Eli: the story's meeting, every item a link, and "Your turn" below it.
    page = await context.new_page()
    await page.goto(pages.channel_as_eli)
    await expect(page.locator("#live")).to_contain_text("Launch sync")
    await expect(page.locator("#live")).to_contain_text("8 created")
    message = your_turn(page)
    eli_item = message.locator('[data-block="item:1"]')
    await expect(eli_item).to_contain_text("Waiting for a connection")
    await expect(eli_item).to_contain_text("@Eli")

    # Eli clicks "Connect ClickUp" on his item: a message only he sees, with his own link.
    await message.locator('button[data-action^="connect:clickup:"]').click()
    link = page.locator(".ephemeral a.btn", has_text="Connect ClickUp")
    await expect(link).to_be_visible(timeout=ARRIVES)
    assert (await link.get_attribute("href") or "").startswith(f"{pages.app}/")

    # It opens in a new tab: Sign in with Slack (as Eli), ClickUp's consent, back to the app.
    async with context.expect_page() as opened:
        await link.click()
    tab = await opened.value
    await tab.wait_for_url(f"{pages.slack}/openid/**")
    await tab.get_by_role("button", name="Continue as Eli Park").click()
    await tab.wait_for_url(f"{pages.clickup}/**")
    await tab.get_by_role("button", name="Connect Workspace").click()
    await tab.wait_for_url(f"{pages.app}/auth/clickup/callback*")
    await expect(tab.locator("h1")).to_have_text("ClickUp is connected to Acme.")
    await tab.close()

    # The channel page follows without a reload: Eli's item is now a link to its ClickUp row;
    # Dana's still waits for her choice.
    task = eli_item.locator(f'a[href^="{pages.clickup}/web/#task-"]')
    await expect(task).to_be_visible(timeout=ARRIVES)
    await expect(task).to_have_text("Connect a tool and watch this become a task")
    await expect(eli_item).to_contain_text("Created")
    await expect(message).to_contain_text("1 created · 1 to choose")
    await expect(message.locator('button[data-action^="choose:notion:"]')).to_be_visible()
    await page.screenshot(path=shots / "demo-channel.png", full_page=True)

    # #general as Dana: she clicks "Notion" on her item and it becomes a link to its page.
    as_dana = await context.new_page()
    await as_dana.goto(pages.channel_as_dana)
    hers = your_turn(as_dana)
    await hers.locator('button[data-action^="choose:notion:"]').click()
    dana_item = hers.locator('[data-block="item:2"]')
    chosen = dana_item.locator(f'a[href^="{pages.notion}/web/#page-"]')
    await expect(chosen).to_be_visible(timeout=ARRIVES)
    await expect(chosen).to_have_text("Pick ClickUp or Notion for this one")
    await expect(hers).to_contain_text("2 created")
    # Eli's page, untouched since, shows it too.
    theirs = message.locator(f'[data-block="item:2"] a[href^="{pages.notion}/web/#page-"]')
    await expect(theirs).to_be_visible(timeout=ARRIVES)

    # Eli's App Home: opening it asks the app to publish it; his new task is there.
    await page.goto(pages.homes["Eli"])
    await expect(page.locator("#live")).to_contain_text("Recent tasks", timeout=ARRIVES)
    await expect(page.locator(f'#live a[href^="{pages.clickup}/web/#task-"]')).to_be_visible()
    await page.screenshot(path=shots / "demo-home.png", full_page=True)
    await context.close()

    # Ctrl-C stops everything, in order: exit 0.
    demo.process.send_signal(signal.SIGINT)
    assert demo.process.stdout is not None
    rest = await asyncio.wait_for(demo.process.stdout.read(), STOPPED)
    assert await asyncio.wait_for(demo.process.wait(), STOPPED) == 0
    assert rest.decode().strip().endswith("stopping")
