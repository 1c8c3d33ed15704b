"""Menus that ask for options as the person types: the Home tab's default list and database,
and the task modal's project. Each answer: the person's own catalog, at most 100 options,
filtered by what was typed, within Slack's 3 seconds whatever the tool, never an error."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import select, update

from bot.views.options import NO_CHOICE
from primitives.enums import ProviderName
from routing.catalogs import CatalogCache
from routing.destinations import MEMORY_SECONDS
from sandbox.faults import FaultKind
from storage.models import ProviderCatalog
from tests.bot.harness import SlackHarness, slack_harness
from tests.bot.interactions import (
    RealTimeClock,
    answer_of,
    connect_clickup,
    connect_notion,
    home_menu,
    open_modal,
    option_texts,
    option_values,
    options_problems,
    project_menu,
)
from tests.fakes import FakeClock
from tests.sidecar.harness import TEAM

CLICKUP, NOTION = ProviderName.CLICKUP, ProviderName.NOTION


@pytest.fixture
async def slack(database_url: str, clock: FakeClock) -> AsyncIterator[SlackHarness]:
    async with slack_harness(database_url, clock) as harness:
        yield harness


async def ask(slack: SlackHarness, payload: object) -> dict[str, object]:
    answer = answer_of(await slack.send(payload))  # type: ignore[arg-type]
    assert not options_problems(answer), options_problems(answer)
    return answer


def many_lists(slack: SlackHarness, count: int) -> None:
    """`count` more ClickUp lists in Acme's Engineering space, with names that stress Slack."""
    for n in range(count):
        name = f"Sprint {n:03d} <&> *ops* 🚀" if n % 2 else f"Team list {n:03d}"
        slack.h.clickup_world.add_list(f"9{n:05d}", name, space_id="s1")
    slack.h.clickup_world.add_list("9long", "L" * 300, space_id="s1")


# --- the Home tab's menus --------------------------------------------------------------------


async def test_the_home_menu_offers_the_persons_lists_filtered(slack: SlackHarness) -> None:
    await connect_clickup(slack, "U0ANA")
    everything = await ask(slack, home_menu(CLICKUP, ""))
    assert sorted(option_values(everything)) == ["l1", "l2", "l3"]
    assert "Marketing / Q3 / Website Redesign" in option_texts(everything)
    typed = await ask(slack, home_menu(CLICKUP, "web"))
    assert option_values(typed) == ["l2"]
    assert await ask(slack, home_menu(CLICKUP, "nothing like it")) == {"options": []}


async def test_the_notion_menu_offers_databases(slack: SlackHarness) -> None:
    await connect_notion(slack, "U0ANA")
    answer = await ask(slack, home_menu(NOTION, "road"))
    assert option_values(answer) == ["ds-roadmap"]


async def test_a_tool_not_connected_says_so_in_one_option(slack: SlackHarness) -> None:
    answer = await ask(slack, home_menu(NOTION, ""))
    assert option_values(answer) == [NO_CHOICE]
    assert option_texts(answer) == ["Connect Notion first"]


async def test_500_lists_are_cut_to_100_and_typing_narrows_them(slack: SlackHarness) -> None:
    many_lists(slack, 500)
    await connect_clickup(slack, "U0ANA")
    answer = await ask(slack, home_menu(CLICKUP, ""))
    assert len(option_values(answer)) == 100
    typed = await ask(slack, home_menu(CLICKUP, "sprint 42"))
    assert option_texts(typed)[0].startswith("Engineering / Sprint 421")
    assert all("sprint 42" in t.casefold() for t in option_texts(typed))
    assert len(option_values(typed)) == 5  # 421, 423, 425, 427, 429
    long = await ask(slack, home_menu(CLICKUP, "LLLL"))
    (text,) = option_texts(long)
    assert len(text) == 75 and text.endswith("…")


# --- the task modal's project menu -----------------------------------------------------------


async def test_the_project_menu_groups_both_tools_within_100(slack: SlackHarness) -> None:
    many_lists(slack, 500)
    await connect_clickup(slack, "U0ANA")
    await connect_notion(slack, "U0ANA")
    view = await open_modal(slack, "Plan")
    answer = await ask(slack, project_menu(view, ""))
    groups = answer["option_groups"]
    assert isinstance(groups, list)
    assert [g["label"]["text"] for g in groups] == ["ClickUp lists", "Notion databases"]
    assert [len(g["options"]) for g in groups] == [98, 2]  # the rest of 100 to ClickUp
    assert {o["value"] for o in groups[1]["options"]} == {"notion:ds-roadmap", "notion:ds-notes"}
    typed = await ask(slack, project_menu(view, "backlog"))
    assert option_values(typed) == ["clickup:l1"]


async def test_the_project_menu_without_connections_explains(slack: SlackHarness) -> None:
    view = await open_modal(slack, "Plan")
    answer = await ask(slack, project_menu(view, ""))
    assert option_values(answer) == [NO_CHOICE]
    assert option_texts(answer) == ["Connect ClickUp or Notion first: /tasks connect"]


# --- a slow or failing tool ------------------------------------------------------------------


async def test_an_old_catalog_answers_at_once_and_is_read_again(
    slack: SlackHarness, clock: FakeClock
) -> None:
    await connect_clickup(slack, "U0ANA")
    slack.h.clickup_world.add_list("l9", "Fresh list", space_id="s1")
    clock.advance(31 * 60)  # past the catalog's 30 minutes
    reads_before = slack.h.clickup_world.requests["GET /api/v2/team"]
    answer = await ask(slack, home_menu(CLICKUP, "fresh"))
    assert answer == {"options": []}  # the old catalog, answered without waiting
    await slack.h.utility.settle_catalog_reads()
    assert slack.h.clickup_world.requests["GET /api/v2/team"] == reads_before + 1
    assert option_values(await ask(slack, home_menu(CLICKUP, "fresh"))) == ["l9"]


async def test_a_failing_tool_leaves_the_menu_a_placeholder_and_a_pause(
    slack: SlackHarness, clock: FakeClock
) -> None:
    await connect_clickup(slack, "U0ANA")
    await CatalogCache(slack.h.sessions, slack.h.clock).forget(
        team_id=TEAM, user_id="U0ANA", provider=CLICKUP
    )
    slack.h.clickup_world.faults.add(FaultKind.SERVER_ERROR, times=None)
    reads = slack.h.clickup_world.requests
    answer = await ask(slack, home_menu(CLICKUP, ""))
    assert option_values(answer) == [NO_CHOICE]
    await slack.h.utility.settle_catalog_reads()
    asked = reads["GET /api/v2/team"]
    assert asked >= 1
    # Every keystroke asks for options: the tool that just failed is left alone a while.
    for query in ("b", "ba", "bac"):
        assert option_values(await ask(slack, home_menu(CLICKUP, query))) == [NO_CHOICE]
    assert reads["GET /api/v2/team"] == asked
    slack.h.clickup_world.faults.clear()
    clock.advance(31)
    assert option_values(await ask(slack, home_menu(CLICKUP, "back"))) == ["l1"]


async def test_a_slow_tool_is_waited_for_1_5_seconds_then_fills_the_cache(
    database_url: str,
) -> None:
    async with slack_harness(database_url, RealTimeClock()) as slack:
        await connect_clickup(slack, "U0ANA")
        await CatalogCache(slack.h.sessions, slack.h.clock).forget(
            team_id=TEAM, user_id="U0ANA", provider=CLICKUP
        )
        slack.h.clickup_world.faults.add(FaultKind.LATENCY, method="GET", seconds=3.0)
        started = time.perf_counter()
        answer = await ask(slack, home_menu(CLICKUP, ""))
        took = time.perf_counter() - started
        assert 1.4 <= took < 2.0, took
        assert option_texts(answer) == ["Still reading your ClickUp lists… type again"]
        await slack.h.utility.settle_catalog_reads()  # the read went on: ~1 s more
        started = time.perf_counter()
        answer = await ask(slack, home_menu(CLICKUP, ""))
        assert time.perf_counter() - started < 0.5
        assert sorted(option_values(answer)) == ["l1", "l2", "l3"]


async def test_one_read_per_person_however_fast_they_type(database_url: str) -> None:
    async with slack_harness(database_url, RealTimeClock()) as slack:
        await connect_clickup(slack, "U0ANA")
        await CatalogCache(slack.h.sessions, slack.h.clock).forget(
            team_id=TEAM, user_id="U0ANA", provider=CLICKUP
        )
        slack.h.clickup_world.faults.add(FaultKind.LATENCY, method="GET", seconds=2.5)
        teams_before = slack.h.clickup_world.requests["GET /api/v2/team"]
        answers = await asyncio.gather(
            *(ask(slack, home_menu(CLICKUP, query)) for query in ("b", "ba", "bac", "back"))
        )
        assert all(option_values(a) == [NO_CHOICE] for a in answers)
        await slack.h.utility.settle_catalog_reads()
        assert slack.h.clickup_world.requests["GET /api/v2/team"] == teams_before + 1


# --- typing: the next keystrokes from memory --------------------------------------------------


async def rename_stored_list(slack: SlackHarness, list_id: str, name: str) -> None:
    """Rename a list in the stored catalog behind this process's back, as another process
    storing a fresher catalog would."""

    async with slack.h.sessions() as session, session.begin():
        row = await session.scalar(
            select(ProviderCatalog).where(ProviderCatalog.user_id == "U0ANA")
        )
        assert row is not None
        data = dict(row.data)
        data["destinations"] = [
            {**d, "name": name} if d["id"] == list_id else d for d in data["destinations"]
        ]
        await session.execute(
            update(ProviderCatalog).where(ProviderCatalog.id == row.id).values(data=data)
        )


async def test_keystrokes_are_answered_from_memory_for_a_few_seconds(
    slack: SlackHarness, clock: FakeClock
) -> None:
    await connect_clickup(slack, "U0ANA")
    assert option_values(await ask(slack, home_menu(CLICKUP, "web"))) == ["l2"]
    await rename_stored_list(slack, "l2", "Renamed elsewhere")
    # Within MEMORY_SECONDS the menu answers from the catalog it read: no query, no parsing.
    assert option_values(await ask(slack, home_menu(CLICKUP, "web"))) == ["l2"]
    assert option_values(await ask(slack, home_menu(CLICKUP, "renamed"))) == []
    clock.advance(MEMORY_SECONDS + 1)
    assert option_values(await ask(slack, home_menu(CLICKUP, "renamed"))) == ["l2"]


async def test_a_catalog_stored_by_this_process_is_read_afresh_at_once(
    slack: SlackHarness,
) -> None:
    await connect_clickup(slack, "U0ANA")
    assert option_values(await ask(slack, home_menu(CLICKUP, "backlog"))) == ["l1"]
    slack.h.clickup_world.add_list("l9", "Backlog two", space_id="s1")
    await connect_clickup(slack, "U0ANA")  # a reconnect reads and stores the catalog again
    assert sorted(option_values(await ask(slack, home_menu(CLICKUP, "backlog")))) == ["l1", "l9"]
