"""Views in the Slack emulator: `views.publish` (the App Home), `views.open` and `views.update`
(modals), as Slack answers them. None needs a scope.

- `view` is a JSON string (form) or an object (JSON body); a view Slack would refuse — over 100
  blocks, a title over 24 characters, any Block Kit fault — is `invalid_arguments` with
  `response_metadata.messages` naming each fault under `/view` (views answer
  `invalid_arguments` where messages answer `invalid_blocks`).
- `views.publish` needs a `user_id` of the workspace (`invalid_arguments`, "invalid
  `user_id`") and a `home` view; `not_enabled` when the app has no Home tab
  (`world.home_tab_enabled`); a `hash` that is not the published view's is `hash_conflict`.
- `views.open` needs a `trigger_id` the emulator issued (`world.issue_trigger`), used once
  (`exchanged_trigger_id`) within three seconds of its payload on the emulator's clock
  (`expired_trigger_id`); an unknown one is `invalid_trigger_id`.
- `views.update` finds the view by `view_id` or `external_id` (`not_found`) and honours `hash`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from sandbox.slack_blocks import view_errors

if TYPE_CHECKING:
    from sandbox.slack import Call, SlackSandbox

TRIGGER_LIFETIME = timedelta(seconds=3)
TRIGGER_SHAPE = re.compile(r"^\d+\.\d+\.[0-9a-f]+$")


def _invalid(*messages: str) -> dict[str, Any]:
    return {"ok": False, "error": "invalid_arguments",
            "response_metadata": {"messages": list(messages)}}  # fmt: skip


def _view_of(call: Call, kind: str) -> dict[str, Any]:
    """The view argument, checked; the refusal carries `"ok": False`."""
    view = call.values.get("view")
    if isinstance(view, str):
        try:
            view = json.loads(view)
        except ValueError:
            return _invalid("[ERROR] invalid `view` [json-pointer:/view]")
    errors = view_errors(view)
    if not errors and isinstance(view, dict) and view.get("type") != kind:
        errors = [f"[ERROR] must be {kind} [json-pointer:/view/type]"]
    return _invalid(*errors) if errors else {"ok": True, "view": view}


def _stored(world: SlackSandbox, call: Call, view: dict[str, Any], view_id: str) -> dict[str, Any]:
    bot_id = world.bot_of(call.team_id)[1]
    world._serial += 1
    return {
        "id": view_id, "team_id": call.team_id, "type": view["type"],
        "title": view.get("title"), "submit": view.get("submit"), "close": view.get("close"),
        "blocks": view["blocks"], "private_metadata": view.get("private_metadata", ""),
        "callback_id": view.get("callback_id", ""), "external_id": view.get("external_id", ""),
        "state": {"values": {}}, "hash": f"{int(call.now.timestamp())}.{world._serial:08x}",
        "clear_on_close": bool(view.get("clear_on_close", False)),
        "notify_on_close": bool(view.get("notify_on_close", False)),
        "root_view_id": view_id, "previous_view_id": None, "app_id": "A0SCRUMY",
        "bot_id": bot_id,
    }  # fmt: skip


def _new_id(world: SlackSandbox) -> str:
    world._serial += 1
    return f"V{world._serial:09d}"


def publish(world: SlackSandbox, call: Call) -> dict[str, Any]:
    user_id = str(call.values.get("user_id") or "")
    user = world.users.get(user_id)
    if user is None or user["team_id"] != call.team_id:
        return _invalid("invalid `user_id`")
    checked = _view_of(call, "home")
    if not checked["ok"]:
        return checked
    if not world.home_tab_enabled:
        return {"ok": False, "error": "not_enabled"}
    current = world.home_views.get(user_id)
    wanted_hash = call.values.get("hash")
    if wanted_hash and current is not None and current["hash"] != wanted_hash:
        return {"ok": False, "error": "hash_conflict"}
    view_id = current["id"] if current is not None else _new_id(world)
    stored = _stored(world, call, checked["view"], view_id)
    world.home_views[user_id] = stored
    return {"ok": True, "view": stored}


def open_view(world: SlackSandbox, call: Call) -> dict[str, Any]:
    trigger_id = str(
        call.values.get("trigger_id") or call.values.get("interactivity_pointer") or ""
    )
    if not trigger_id:
        return _invalid("invalid `trigger_id`")
    checked = _view_of(call, "modal")
    if not checked["ok"]:
        return checked
    if not TRIGGER_SHAPE.match(trigger_id):
        return {"ok": False, "error": "invalid_trigger_id"}
    issued = world.triggers.get(trigger_id)
    if issued is None:
        return {"ok": False, "error": "invalid_trigger_id"}
    user_id, when = issued
    if when + TRIGGER_LIFETIME < call.now:
        return {"ok": False, "error": "expired_trigger_id"}
    if trigger_id in world.triggers_used:
        return {"ok": False, "error": "exchanged_trigger_id"}
    world.triggers_used.add(trigger_id)
    stored = _stored(world, call, checked["view"], _new_id(world))
    world.views[stored["id"]] = {**stored, "user": user_id}
    return {"ok": True, "view": stored}


def update_view(world: SlackSandbox, call: Call) -> dict[str, Any]:
    view_id = str(call.values.get("view_id") or "")
    external_id = str(call.values.get("external_id") or "")
    if not view_id and not external_id:
        return _invalid("either `view_id` or `external_id` is required")
    current = world.views.get(view_id) if view_id else next(
        (v for v in world.views.values() if external_id and v["external_id"] == external_id), None
    )  # fmt: skip
    if current is None or current["team_id"] != call.team_id:
        return {"ok": False, "error": "not_found"}
    checked = _view_of(call, "modal")
    if not checked["ok"]:
        return checked
    wanted_hash = call.values.get("hash")
    if wanted_hash and current["hash"] != wanted_hash:
        return {"ok": False, "error": "hash_conflict"}
    stored = _stored(world, call, checked["view"], current["id"])
    world.views[current["id"]] = {**stored, "user": current["user"]}
    return {"ok": True, "view": stored}


VIEW_METHODS: dict[str, Callable[[SlackSandbox, Call], dict[str, Any]]] = {
    "views.publish": publish,
    "views.open": open_view,
    "views.update": update_view,
}
