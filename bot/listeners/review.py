"""The Edit modal of an item under review (`routing.review`):

    edit:<task> button   the owner's click opens the modal filled with the item as it is
                         (`views.open` while the click's trigger lives); anyone else, or a
                         click on an item no longer under review, is told why privately
    view_submission      checked before the answer: the fields' errors, an item no longer
                         under review, a list or database that is not the owner's — each shown
                         on its field; else the item is saved (still under review: Create
                         sends it) and the modal closes

The owner's Create / Dismiss / Create all are buttons like any (`bot.listeners.actions`). The
modal's project menu is the "Create task" modal's (`task:project_menu`): the same options
listener answers it with the owner's own lists and databases.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from slack_bolt.async_app import AsyncApp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.views.actions import UnknownAction, Verb, parse_action
from bot.views.mrkdwn import mention
from bot.views.review import EDIT_MODAL_ID, edit_modal, read_edit
from bot.views.task_modal import DESCRIPTION, PROJECT, TITLE, earliest_due
from primitives.enums import TaskState
from routing.errors import InvalidInput, RoutingError

if TYPE_CHECKING:
    from bot.listeners.deps import ListenerDeps

log = logging.getLogger(__name__)

NOT_UNDER_REVIEW = "This item is no longer under review: it was created or dismissed."
FIELD_BLOCKS = {"title": TITLE, "description": DESCRIPTION}


def _who(body: dict[str, Any]) -> tuple[str, str]:
    user = body.get("user") or {}
    team = body.get("team") or {}
    return str(team.get("id") or user.get("team_id") or ""), str(user.get("id") or "")


async def open_edit(
    client: AsyncWebClient, deps: ListenerDeps, body: dict[str, Any], element: dict[str, Any]
) -> str | None:
    """Open the Edit modal for the owner; otherwise the sentence to tell the clicker."""
    try:
        action = parse_action(str(element.get("action_id") or ""), element.get("value"))
    except UnknownAction:
        return "That button is out of date; open the Home tab or type `/tasks pending`."
    if action.verb is not Verb.EDIT or action.task_id is None:
        return "That button is out of date; open the Home tab or type `/tasks pending`."
    team_id, user_id = _who(body)
    try:
        item = await deps.utility.review_item(action.task_id, team_id=team_id)
        if item is None:
            return "That task no longer exists."
        if item.owner_user_id != user_id:
            return f"Only {mention(item.owner_user_id)} can edit this task."
        if item.state is not TaskState.REVIEW:
            return NOT_UNDER_REVIEW
        await client.views_open(trigger_id=str(body.get("trigger_id") or ""), view=edit_modal(item))
    except SlackApiError as error:
        code = error.response.get("error")
        if code == "exchanged_trigger_id":
            return None  # Slack delivered the click again: its first delivery opened the form
        log.warning("could not open the review's edit modal: %s", code)
        return "The edit form could not open in time; click Edit again."
    except Exception:
        log.exception("the review's edit modal of %s failed", user_id)
        return "Something went wrong on our side; try again in a minute."
    return None


def register(app: AsyncApp, deps: ListenerDeps) -> None:
    """The Edit modal's submission."""

    async def submitted(ack: Any, body: dict[str, Any]) -> None:
        view = body.get("view") or {}
        task_id = str(view.get("private_metadata") or "")
        team_id, user_id = _who(body)
        errors = await _save(deps, view, task_id, team_id=team_id, user_id=user_id)
        if errors:
            await ack(response_action="errors", errors=errors)
        else:
            await ack()

    app.view_submission(EDIT_MODAL_ID)(submitted)


async def _save(
    deps: ListenerDeps, view: dict[str, Any], task_id: str, *, team_id: str, user_id: str
) -> dict[str, str]:
    """Save the edit; the errors to show on the modal's fields (none: it closes)."""
    try:
        item = await deps.utility.review_item(task_id, team_id=team_id) if task_id else None
        if item is None or item.owner_user_id != user_id:
            return {TITLE: "Only the item's owner can edit it."}
        checked = read_edit(view, earliest=earliest_due(deps.clock.now()), original_due=item.due)
        if isinstance(checked, dict):
            return checked
        if item.state is not TaskState.REVIEW:
            return {TITLE: NOT_UNDER_REVIEW}
        result = await deps.utility.edit_reviewed(task_id, user_id=user_id, change=checked)
    except InvalidInput as error:
        return {FIELD_BLOCKS.get(error.field or "", PROJECT): error.message[:150]}
    except RoutingError as error:
        return {TITLE: error.message[:150]}
    except Exception:
        log.exception("an edit of a reviewed item by %s could not be saved", user_id)
        return {TITLE: "Something went wrong on our side; try again in a minute."}
    if result.status is not TaskState.REVIEW:
        return {TITLE: NOT_UNDER_REVIEW}
    return {}
