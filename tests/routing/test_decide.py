"""SPEC "Routing", rule by rule, and as properties over any item and any catalog."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from hypothesis import given
from hypothesis import strategies as st

from primitives.enums import Priority, ProviderName, RoutingMode, TaskState
from providers.base import Destination
from routing.decide import (
    LONG_DESCRIPTION,
    RoutableItem,
    RoutingDecision,
    RoutingPreferences,
    decide_for_choice,
    decide_route,
    route_key,
)
from routing.matching import is_match

CLICKUP, NOTION = ProviderName.CLICKUP, ProviderName.NOTION

BACKLOG = Destination(CLICKUP, "L1", "Backlog", "W1", path=("Engineering",))
WEBSITE = Destination(CLICKUP, "L2", "Website Redesign", "W1", path=("Marketing", "Q3"))
MEETING_NOTES = Destination(NOTION, "D1", "Meeting Notes", "N1")
ROADMAP = Destination(NOTION, "D2", "Product Roadmap", "N1")

BOTH: Mapping[ProviderName, Sequence[Destination]] = {
    CLICKUP: (BACKLOG, WEBSITE),
    NOTION: (MEETING_NOTES, ROADMAP),
}
SMART = RoutingPreferences()


def decide(
    item: RoutableItem,
    preferences: RoutingPreferences = SMART,
    catalogs: Mapping[ProviderName, Sequence[Destination]] = BOTH,
) -> RoutingDecision:
    return decide_route(item, preferences, catalogs)


def test_nothing_connected_waits_for_a_connection() -> None:
    decision = decide(RoutableItem("Ship it"), catalogs={})
    assert decision.state is TaskState.PENDING_AUTH
    assert decision.provider is None and decision.destination is None


def test_one_tool_connected_gets_everything() -> None:
    only_notion = {NOTION: (MEETING_NOTES, ROADMAP)}
    for item in (RoutableItem("x", priority=Priority.URGENT), RoutableItem("y")):
        for mode in RoutingMode:
            decision = decide(item, RoutingPreferences(mode=mode), only_notion)
            assert decision.provider is NOTION and decision.state is TaskState.QUEUED
            assert "only tool you connected" in decision.reason


def test_smart_project_match_picks_the_tool_and_the_destination() -> None:
    decision = decide(RoutableItem("Fix nav", project_name="website-redesign"))
    assert (decision.provider, decision.destination) == (CLICKUP, WEBSITE)
    assert "matches ClickUp list Marketing / Q3 / Website Redesign" in decision.reason
    # The project wins over urgency and length.
    decision = decide(
        RoutableItem("Plan", "x" * 900, Priority.URGENT, project_name="Product Roadmap")
    )
    assert (decision.provider, decision.destination) == (NOTION, ROADMAP)


def test_smart_urgent_goes_to_clickup() -> None:
    decision = decide(RoutableItem("Outage follow-up", "y" * 900, Priority.URGENT))
    assert decision.provider is CLICKUP and decision.reason.startswith("urgent → ClickUp")


def test_smart_long_description_goes_to_notion() -> None:
    decision = decide(RoutableItem("Write spec", "z" * (LONG_DESCRIPTION + 1)))
    assert decision.provider is NOTION and "long description (501 characters)" in decision.reason
    assert decide(RoutableItem("Short", "z" * LONG_DESCRIPTION)).provider is CLICKUP


def test_smart_otherwise_the_default_tool_or_clickup() -> None:
    assert decide(RoutableItem("a")).provider is CLICKUP
    assert "no default tool" in decide(RoutableItem("a")).reason
    prefers_notion = RoutingPreferences(default_provider=NOTION)
    decision = decide(RoutableItem("a"), prefers_notion)
    assert decision.provider is NOTION and "your default tool, Notion" in decision.reason


def test_default_mode_ignores_the_smart_rules() -> None:
    prefs = RoutingPreferences(mode=RoutingMode.DEFAULT, default_provider=NOTION)
    decision = decide(RoutableItem("a", priority=Priority.URGENT, project_name="Backlog"), prefs)
    assert decision.provider is NOTION


def test_user_choice_asks_when_both_are_connected() -> None:
    decision = decide(RoutableItem("a"), RoutingPreferences(mode=RoutingMode.USER_CHOICE))
    assert decision.state is TaskState.AWAITING_CHOICE and decision.provider is None


def test_the_destination_is_the_default_else_the_first_saying_so() -> None:
    prefs = RoutingPreferences(default_destinations={CLICKUP: "L2"})
    decision = decide(RoutableItem("a"), prefs)
    assert decision.destination == WEBSITE and "your default list" in decision.reason
    decision = decide(RoutableItem("a"))
    assert decision.destination == BACKLOG
    assert "the first list found" in decision.reason and "Home tab" in decision.reason
    gone = RoutingPreferences(default_destinations={CLICKUP: "deleted"})
    assert "your default is gone" in decide(RoutableItem("a"), gone).reason


def test_a_tool_without_destinations_fails_with_a_reason() -> None:
    decision = decide(RoutableItem("a"), catalogs={CLICKUP: ()})
    assert decision.state is TaskState.FAILED
    assert "no list Scrumy Tasks can reach" in decision.reason


def test_a_choice_uses_the_project_match_then_the_default() -> None:
    item = RoutableItem("a", project_name="roadmap product")
    assert decide_for_choice(NOTION, item, SMART, BOTH[NOTION]).destination == ROADMAP
    assert decide_for_choice(CLICKUP, item, SMART, BOTH[CLICKUP]).destination == BACKLOG


# --- properties -------------------------------------------------------------------------------

words = st.text(alphabet=st.characters(categories=("L", "N", "Zs", "P")), max_size=40)
destinations = st.builds(
    Destination,
    provider=st.just(CLICKUP),
    id=st.uuids().map(str),
    name=words,
    workspace_id=st.just("W"),
)
notion_destinations = destinations.map(lambda d: Destination(NOTION, d.id, d.name, d.workspace_id))
items = st.builds(
    RoutableItem,
    title=words,
    description=st.text(max_size=1200),
    priority=st.none() | st.sampled_from(Priority),
    project_name=st.none() | words,
)
preferences = st.builds(
    RoutingPreferences,
    mode=st.sampled_from(RoutingMode),
    default_provider=st.none() | st.sampled_from(ProviderName),
)
catalogs = st.fixed_dictionaries(
    {},
    optional={
        CLICKUP: st.lists(destinations, max_size=4).map(tuple),
        NOTION: st.lists(notion_destinations, max_size=4).map(tuple),
    },
)


@given(items, preferences, catalogs)
def test_every_decision_is_coherent(
    item: RoutableItem,
    prefs: RoutingPreferences,
    cats: Mapping[ProviderName, Sequence[Destination]],
) -> None:
    decision = decide_route(item, prefs, cats)
    assert decision.reason
    if not cats:
        assert decision.state is TaskState.PENDING_AUTH
        return
    if decision.state is TaskState.AWAITING_CHOICE:
        assert len(cats) == 2 and prefs.mode is RoutingMode.USER_CHOICE
        return
    provider = decision.provider
    assert provider is not None and provider in cats
    if decision.state is TaskState.QUEUED:
        assert decision.destination in cats[provider]
    else:
        assert decision.state is TaskState.FAILED and not cats[provider]
    if len(cats) == 1:
        assert decision.provider is next(iter(cats))


@given(items, catalogs)
def test_smart_rules_in_order(
    item: RoutableItem, cats: Mapping[ProviderName, Sequence[Destination]]
) -> None:
    if len(cats) != 2:
        return
    decision = decide_route(item, SMART, cats)
    everything = [d for p in (CLICKUP, NOTION) for d in cats[p]]
    matched = item.project_name is not None and any(
        is_match(item.project_name, d.name) for d in everything
    )
    if matched:
        assert decision.destination is not None
        assert "matches" in decision.reason
    elif "matches" not in decision.reason:  # a path-only match is still a match
        if item.priority is Priority.URGENT:
            assert decision.provider is CLICKUP
        elif len(item.description) > LONG_DESCRIPTION:
            assert decision.provider is NOTION
        else:
            assert decision.provider is CLICKUP


@given(items, st.data(), preferences, catalogs)
def test_items_with_equal_route_keys_are_routed_alike(
    item: RoutableItem,
    data: st.DataObject,
    preferences: RoutingPreferences,
    catalogs: Mapping[ProviderName, Sequence[Destination]],
) -> None:
    # Another item with the same key: any title, a description of the same length when that
    # is long (else any short one), another non-urgent priority when not urgent.
    length = len(item.description)
    description = (
        data.draw(st.text(min_size=length, max_size=length))
        if length > LONG_DESCRIPTION
        else data.draw(st.text(max_size=LONG_DESCRIPTION))
    )
    priority = (
        item.priority
        if item.priority is Priority.URGENT
        else data.draw(st.sampled_from([None, Priority.HIGH, Priority.MEDIUM, Priority.LOW]))
    )
    other = RoutableItem(data.draw(words), description, priority, item.project_name)
    assert route_key(other) == route_key(item)
    assert decide_route(other, preferences, catalogs) == decide_route(item, preferences, catalogs)
