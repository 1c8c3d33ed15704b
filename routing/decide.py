"""Where a task goes, and why (SPEC "Routing"). Pure: no I/O, no clock.

    decide_route(item, preferences, catalogs) -> RoutingDecision

`catalogs` holds the destinations of each tool the owner has a working connection to; an
empty mapping means nothing is connected. The decision names the state the task starts in,
the provider and destination when it can be sent, and a reason a person can read.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from primitives.enums import Priority, ProviderName, RoutingMode, TaskState
from providers.base import Destination
from routing.matching import best_match

LONG_DESCRIPTION = 500  # characters; longer descriptions go to Notion under `smart`


@dataclass(frozen=True)
class RoutableItem:
    """What routing looks at in an action item."""

    title: str
    description: str = ""
    priority: Priority | None = None
    project_name: str | None = None


@dataclass(frozen=True)
class RoutingPreferences:
    """An owner's choices (integration_preferences), with the defaults SPEC gives."""

    mode: RoutingMode = RoutingMode.SMART
    default_provider: ProviderName | None = None
    default_destinations: Mapping[ProviderName, str] = field(default_factory=dict)
    # A meeting's items wait in `review` for the owner to create them (`routing.review`).
    review_first: bool = False


@dataclass(frozen=True)
class RoutingDecision:
    state: TaskState  # queued, awaiting_choice, pending_auth or failed (review: intake's)
    provider: ProviderName | None
    destination: Destination | None
    reason: str


def _default_provider(preferences: RoutingPreferences) -> ProviderName:
    return preferences.default_provider or ProviderName.CLICKUP


def _pick_destination(
    provider: ProviderName,
    destinations: Sequence[Destination],
    preferences: RoutingPreferences,
    why: str,
) -> RoutingDecision:
    """The owner's default destination for `provider`, else the first one, saying so."""
    kind = provider.destination_kind
    chosen_id = preferences.default_destinations.get(provider)
    if chosen_id is not None:
        for destination in destinations:
            if destination.id == chosen_id:
                return RoutingDecision(
                    TaskState.QUEUED,
                    provider,
                    destination,
                    f"{why}; your default {kind} {destination.display_name}",
                )
    if not destinations:
        return RoutingDecision(
            TaskState.FAILED,
            provider,
            None,
            f"{why}, but your {provider.label} has no {kind} Scrumy Tasks can reach; "
            f"create or share one, then retry",
        )
    first = destinations[0]
    gone = " (your default is gone)" if chosen_id is not None else ""
    return RoutingDecision(
        TaskState.QUEUED,
        provider,
        first,
        f"{why}; the first {kind} found, {first.display_name}{gone} — "
        f"choose a default {kind} in the Home tab",
    )


def decide_route(
    item: RoutableItem,
    preferences: RoutingPreferences,
    catalogs: Mapping[ProviderName, Sequence[Destination]],
) -> RoutingDecision:
    """Apply SPEC "Routing": first match wins, and the reason says which rule matched."""
    connected = [p for p in ProviderName if p in catalogs]
    if not connected:
        return RoutingDecision(
            TaskState.PENDING_AUTH, None, None, "waiting for the owner to connect ClickUp or Notion"
        )

    default = _default_provider(preferences)
    # The default tool's destinations first, so a tie in matching goes to it.
    ordered = sorted(connected, key=lambda p: p is not default)
    match = best_match(item.project_name, [d for p in ordered for d in catalogs[p]])

    if len(connected) == 1:
        (only,) = connected
        why = f"{only.label} is the only tool you connected"
        if match is not None:
            return RoutingDecision(
                TaskState.QUEUED,
                only,
                match.destination,
                f"{why}; project “{item.project_name}” matches {only.destination_kind} "
                f"{match.destination.display_name}",
            )
        return _pick_destination(only, catalogs[only], preferences, why)

    if preferences.mode is RoutingMode.USER_CHOICE:
        return RoutingDecision(
            TaskState.AWAITING_CHOICE, None, None, "you asked to choose the tool for each task"
        )
    if preferences.mode is RoutingMode.DEFAULT:
        return _pick_destination(
            default, catalogs[default], preferences, f"your default tool is {default.label}"
        )

    if match is not None:
        provider = match.destination.provider
        return RoutingDecision(
            TaskState.QUEUED,
            provider,
            match.destination,
            f"project “{item.project_name}” matches {provider.label} {provider.destination_kind} "
            f"{match.destination.display_name}",
        )
    if item.priority is Priority.URGENT:
        clickup = ProviderName.CLICKUP
        return _pick_destination(clickup, catalogs[clickup], preferences, "urgent → ClickUp")
    if len(item.description) > LONG_DESCRIPTION:
        notion = ProviderName.NOTION
        return _pick_destination(
            notion,
            catalogs[notion],
            preferences,
            f"long description ({len(item.description)} characters) → Notion",
        )
    why = (
        f"your default tool, {default.label}"
        if preferences.default_provider
        else "ClickUp, as no default tool is set"
    )
    return _pick_destination(default, catalogs[default], preferences, why)


def route_key(item: RoutableItem) -> tuple[str | None, bool, int]:
    """Everything `decide_route` looks at in `item`: two items with equal keys are routed
    alike, with the same reason, so many tasks can be decided once (the connect flush).

    Kept beside `decide_route` so the two change together: the project name, whether it is
    urgent, and the description's length when it is long (the reason names it).
    """
    length = len(item.description)
    long = length if length > LONG_DESCRIPTION else 0
    return item.project_name, item.priority is Priority.URGENT, long


def decide_for_choice(
    provider: ProviderName,
    item: RoutableItem,
    preferences: RoutingPreferences,
    destinations: Sequence[Destination],
) -> RoutingDecision:
    """The owner picked `provider` for an awaiting_choice task: find the destination."""
    match = best_match(item.project_name, destinations)
    if match is not None:
        return RoutingDecision(
            TaskState.QUEUED,
            provider,
            match.destination,
            f"you chose {provider.label}; project “{item.project_name}” matches "
            f"{match.destination.display_name}",
        )
    return _pick_destination(provider, destinations, preferences, f"you chose {provider.label}")
