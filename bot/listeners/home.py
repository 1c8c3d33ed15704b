"""The App Home tab: published when a person opens it, and again after each change they make
in it (routing mode, default tool, default list or database, and every button there).

    app_home_opened                       -> views.publish(home_view(their state))
    ROUTING_MODE / DEFAULT_TOOL menus     -> utility.set_preferences, then publish
    REVIEW_FIRST menu                     -> utility.set_preferences(review_first=…), publish
    DEFAULT_DESTINATION[tool] menus       -> utility.own_destination + set_preferences, publish

The state is read afresh for each publish: connections (with account and workspace), routing
choices, the first waiting tasks (with their total) and the latest finished ones. The options
of the destination menus are `bot.listeners.options`' (`block_suggestion`).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.listeners.deps import ListenerDeps
from bot.listeners.replies import SOMETHING_WRONG, Ack, sentence
from bot.views import actions
from bot.views.actions import UnknownAction
from bot.views.connections import connection_of
from bot.views.home import (
    MODE_LABELS,
    RECENT_SHOWN,
    REVIEW_LABELS,
    WAITING_SHOWN,
    HomeState,
    home_view,
)
from bot.views.mrkdwn import fit, one_line
from bot.views.options import NO_CHOICE
from primitives.enums import ProviderName
from routing.errors import RoutingError
from routing.results import FINISHED_STATES, WAITING_STATES

log = logging.getLogger(__name__)

OUT_OF_DATE = "That menu is out of date; open the Home tab again."


async def home_state(
    deps: ListenerDeps,
    *,
    team_id: str,
    user_id: str,
    notice: str | None = None,
    links: Mapping[ProviderName, str] | None = None,
) -> HomeState:
    """What the Home tab shows of `user_id` now."""
    utility = deps.utility
    auth = await utility.get_auth_status(user_id, team_id=team_id)
    preferences = await utility.preference_details(user_id, team_id=team_id)
    waiting = await utility.tasks_of(
        user_id, team_id=team_id, states=WAITING_STATES, limit=WAITING_SHOWN
    )
    recent = await utility.tasks_of(
        user_id, team_id=team_id, states=FINISHED_STATES, limit=RECENT_SHOWN, newest_first=True
    )
    accounts = {
        tool: account
        for tool in deps.tools
        if (account := connection_of(auth, tool).account) is not None
    }
    return HomeState(
        auth=auth, preferences=preferences, waiting=waiting.tasks, waiting_total=waiting.total,
        recent=recent.tasks, accounts=accounts, tools=tuple(deps.tools), notice=notice,
        connect_links=dict(links or {}),
    )  # fmt: skip


async def publish_home(
    client: AsyncWebClient,
    deps: ListenerDeps,
    *,
    team_id: str,
    user_id: str,
    notice: str | None = None,
    links: Mapping[ProviderName, str] | None = None,
) -> bool:
    """Publish `user_id`'s Home tab (with `notice` on top); False when it could not be."""
    try:
        state = await home_state(deps, team_id=team_id, user_id=user_id, notice=notice, links=links)
        await client.views_publish(user_id=user_id, view=home_view(state))
        return True
    except SlackApiError as error:
        log.warning("the Home tab of %s was not published: %s", user_id,
                    error.response.get("error"))  # fmt: skip
    except Exception:
        log.exception("the Home tab of %s could not be built", user_id)
    return False


def register(app: AsyncApp, deps: ListenerDeps) -> None:
    """The Home tab's event and menus."""

    async def opened(event: dict[str, Any], body: dict[str, Any], client: AsyncWebClient) -> None:
        if event.get("tab", "home") != "home":
            return  # the Messages tab
        team_id = str(body.get("team_id") or "")
        user_id = str(event.get("user") or "")
        if team_id and user_id:
            await publish_home(client, deps, team_id=team_id, user_id=user_id)

    async def menu(
        ack: Ack, body: dict[str, Any], action: dict[str, Any], client: AsyncWebClient
    ) -> None:
        await ack()
        await deps.acks.after_acks()
        team_id, user_id = _who(body)
        said = await _choose(deps, team_id, user_id, action)
        await publish_home(client, deps, team_id=team_id, user_id=user_id, notice=said)

    app.event("app_home_opened")(opened)
    for action_id in (actions.ROUTING_MODE, actions.DEFAULT_TOOL, actions.REVIEW_FIRST,
                      *actions.DEFAULT_DESTINATION.values()):  # fmt: skip
        app.action(action_id)(menu)


def _who(body: dict[str, Any]) -> tuple[str, str]:
    team = body.get("team") or {}
    user = body.get("user") or {}
    return str(team.get("id") or user.get("team_id") or ""), str(user.get("id") or "")


async def _choose(deps: ListenerDeps, team_id: str, user_id: str, action: dict[str, Any]) -> str:
    """Save what was chosen in one of the menus; the sentence saying what changed."""
    action_id = str(action.get("action_id") or "")
    value = str((action.get("selected_option") or {}).get("value") or "")
    utility = deps.utility
    try:
        if action_id == actions.ROUTING_MODE:
            mode = actions.parse_routing_mode(value)
            await utility.set_preferences(user_id, team_id=team_id, routing_mode=mode)
            return f"Routing: {MODE_LABELS[mode]}."
        if action_id == actions.REVIEW_FIRST:
            review_first = actions.parse_review_first(value)
            await utility.set_preferences(user_id, team_id=team_id, review_first=review_first)
            return f"A meeting's action items: {REVIEW_LABELS[review_first]}."
        if action_id == actions.DEFAULT_TOOL:
            tool = actions.parse_tool(value)
            if tool not in deps.tools:
                return f"{tool.label} is not offered here; choose another tool."
            await utility.set_preferences(user_id, team_id=team_id, default_provider=tool)
            return f"Your default tool is {tool.label}."
        tool = actions.destination_menu_tool(action_id)
        if value == NO_CHOICE:  # the placeholder of a menu whose catalog is still loading
            return f"Your {tool.label} {tool.destination_kind}s are still loading; try again."
        if not value:
            return OUT_OF_DATE
        chosen = await utility.own_destination(
            user_id, team_id=team_id, provider=tool, destination_id=value
        )
        if tool is ProviderName.CLICKUP:
            await utility.set_preferences(user_id, team_id=team_id, default_clickup_list=chosen)
        else:
            await utility.set_preferences(user_id, team_id=team_id, default_notion_database=chosen)
        name = fit(one_line(chosen[1]) or chosen[0], 200)
        return f"Your default {tool.label} {tool.destination_kind} is {name}."
    except UnknownAction:
        log.info("a Home menu sent what none of ours offers: %s", action_id[:64])
        return OUT_OF_DATE
    except RoutingError as error:
        return sentence(error.message)
    except Exception:
        log.exception("a Home menu change of %s failed", user_id)
        return SOMETHING_WRONG
