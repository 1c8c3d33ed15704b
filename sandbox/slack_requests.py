"""What Slack sends to an app, for tests that send really signed requests into ours.

`sign_request(signing_secret, body, timestamp)` gives the two headers Slack puts on every
request: `X-Slack-Request-Timestamp` and `X-Slack-Signature`, `v0=` and the hex HMAC-SHA256 of
`v0:{timestamp}:{body}` keyed with the app's signing secret (docs.slack.dev, "Verifying requests
from Slack"). The payload builders give the bodies with the field names Slack uses:

- `slash_command(...)` — the form of a slash command (`token`, `team_id`, `team_domain`,
  `channel_id`, `channel_name`, `user_id`, `user_name`, `command`, `text`, `api_app_id`,
  `is_enterprise_install`, `response_url`, `trigger_id`);
- `block_actions(...)`, `message_action(...)`, `view_submission(...)`, `block_suggestion(...)`
  — interaction payloads, form-encoded as one `payload=` field holding the JSON;
- `event_callback(event, ...)` with `app_home_opened(...)`, `app_uninstalled()`,
  `tokens_revoked(...)` — Events API envelopes, sent as JSON.

Each returns the body as bytes with its content type, ready for `signed(...)`.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

FORM = "application/x-www-form-urlencoded"
JSON = "application/json"
VERIFICATION_TOKEN = "legacy-verification-token"  # noqa: S105 (deprecated by Slack, still sent)


@dataclass(frozen=True)
class SlackBody:
    body: bytes
    content_type: str


def sign_request(signing_secret: str, body: bytes, timestamp: int) -> dict[str, str]:
    """The headers Slack signs a request with (v0: HMAC-SHA256 of `v0:{ts}:{body}`)."""
    base = b"v0:" + str(timestamp).encode() + b":" + body
    digest = hmac.new(signing_secret.encode(), base, hashlib.sha256).hexdigest()
    return {"X-Slack-Request-Timestamp": str(timestamp), "X-Slack-Signature": f"v0={digest}"}


def signed(signing_secret: str, payload: SlackBody, timestamp: int) -> dict[str, str]:
    """The signature headers and the content type of a payload."""
    return {**sign_request(signing_secret, payload.body, timestamp),
            "Content-Type": payload.content_type}  # fmt: skip


def _response_url(team_id: str, kind: str) -> str:
    return f"https://hooks.slack.com/{kind}/{team_id}/1234567890/response-url-secret"


def slash_command(
    command: str,
    text: str,
    *,
    team_id: str,
    user_id: str,
    channel_id: str,
    trigger_id: str,
    user_name: str = "",
    channel_name: str = "general",
    api_app_id: str = "A0SCRUMY",
) -> SlackBody:
    """A slash command as Slack posts it: a form."""
    fields = {
        "token": VERIFICATION_TOKEN, "team_id": team_id, "team_domain": team_id.lower(),
        "channel_id": channel_id, "channel_name": channel_name, "user_id": user_id,
        "user_name": user_name or user_id.lower(), "command": command, "text": text,
        "api_app_id": api_app_id, "is_enterprise_install": "false",
        "response_url": _response_url(team_id, "commands"), "trigger_id": trigger_id,
    }  # fmt: skip
    return SlackBody(urlencode(fields).encode(), FORM)


def interaction(payload: dict[str, Any]) -> SlackBody:
    """An interaction payload as Slack posts it: a form with one `payload` field of JSON."""
    return SlackBody(urlencode({"payload": json.dumps(payload)}).encode(), FORM)


def _user(team_id: str, user_id: str) -> dict[str, str]:
    return {"id": user_id, "username": user_id.lower(), "name": user_id.lower(), "team_id": team_id}


def block_actions(
    action: dict[str, Any],
    *,
    team_id: str,
    user_id: str,
    trigger_id: str,
    channel_id: str | None = None,
    message: dict[str, Any] | None = None,
    view: dict[str, Any] | None = None,
    action_ts: str = "1700000000.000100",
    api_app_id: str = "A0SCRUMY",
) -> SlackBody:
    """A click on a button or select (`action`: its `action_id`, `block_id`, `type`, `value`
    …) in a message (`channel_id`, `message`) or a view (`view`: the Home tab or a modal)."""
    payload: dict[str, Any] = {
        "type": "block_actions", "user": _user(team_id, user_id), "api_app_id": api_app_id,
        "token": VERIFICATION_TOKEN, "trigger_id": trigger_id,
        "team": {"id": team_id, "domain": team_id.lower()}, "enterprise": None,
        "is_enterprise_install": False, "state": {"values": {}},
        "actions": [{"action_ts": action_ts, **action}],
    }  # fmt: skip
    if view is not None:
        payload["container"] = {"type": "view", "view_id": view.get("id", "")}
        payload["view"] = view
    else:
        message = message or {}
        payload["container"] = {"type": "message", "message_ts": message.get("ts", ""),
                                "channel_id": channel_id, "is_ephemeral": False}  # fmt: skip
        payload["channel"] = {"id": channel_id, "name": "general"}
        payload["message"] = message
        payload["response_url"] = _response_url(team_id, "actions")
    return interaction(payload)


def message_action(
    callback_id: str,
    message: dict[str, Any],
    *,
    team_id: str,
    user_id: str,
    channel_id: str,
    trigger_id: str,
    action_ts: str = "1700000000.000200",
) -> SlackBody:
    """A message shortcut ("Create task" on a message)."""
    payload = {
        "type": "message_action", "token": VERIFICATION_TOKEN, "action_ts": action_ts,
        "team": {"id": team_id, "domain": team_id.lower()},
        "user": {"id": user_id, "name": user_id.lower()},
        "channel": {"id": channel_id, "name": "general"}, "is_enterprise_install": False,
        "enterprise": None, "callback_id": callback_id, "trigger_id": trigger_id,
        "message_ts": message.get("ts", ""), "message": {"type": "message", **message},
        "response_url": _response_url(team_id, "actions"),
    }  # fmt: skip
    return interaction(payload)


def view_submission(
    view: dict[str, Any],
    values: dict[str, dict[str, dict[str, Any]]],
    *,
    team_id: str,
    user_id: str,
    trigger_id: str,
    api_app_id: str = "A0SCRUMY",
) -> SlackBody:
    """A modal's submission: the view as opened (from `views.open`'s answer) with the
    person's input in `state.values` ({block_id: {action_id: {"type", "value" …}}})."""
    payload = {
        "type": "view_submission", "team": {"id": team_id, "domain": team_id.lower()},
        "user": _user(team_id, user_id), "api_app_id": api_app_id, "token": VERIFICATION_TOKEN,
        "trigger_id": trigger_id, "view": {**view, "state": {"values": values}},
        "response_urls": [], "is_enterprise_install": False, "enterprise": None,
    }  # fmt: skip
    return interaction(payload)


def block_suggestion(
    action_id: str,
    value: str,
    *,
    team_id: str,
    user_id: str,
    view: dict[str, Any],
    block_id: str = "",
    api_app_id: str = "A0SCRUMY",
) -> SlackBody:
    """An external menu asking for its options as the person types `value`, in a view (the
    Home tab or a modal: `view` as published or opened)."""
    payload = {
        "type": "block_suggestion", "user": _user(team_id, user_id),
        "container": {"type": "view", "view_id": view.get("id", "")},
        "api_app_id": api_app_id, "token": VERIFICATION_TOKEN, "action_id": action_id,
        "block_id": block_id, "value": value, "team": {"id": team_id, "domain": team_id.lower()},
        "enterprise": None, "is_enterprise_install": False, "view": view,
    }  # fmt: skip
    return interaction(payload)


def event_callback(
    event: dict[str, Any],
    *,
    team_id: str,
    event_id: str = "Ev0SCRUMY0001",
    event_time: int = 1_700_000_000,
    bot_user_id: str = "U0SCRUMYBOT",
    api_app_id: str = "A0SCRUMY",
) -> SlackBody:
    """An Events API delivery, as JSON."""
    envelope = {
        "token": VERIFICATION_TOKEN, "team_id": team_id, "api_app_id": api_app_id,
        "event": event, "type": "event_callback", "event_id": event_id,
        "event_time": event_time,
        "authorizations": [{"enterprise_id": None, "team_id": team_id, "user_id": bot_user_id,
                            "is_bot": True, "is_enterprise_install": False}],
        "is_ext_shared_channel": False, "event_context": f"4-{event_id}",
    }  # fmt: skip
    return SlackBody(json.dumps(envelope).encode(), JSON)


def app_home_opened(
    user_id: str, channel_id: str, *, view: dict[str, Any] | None = None, tab: str = "home"
) -> dict[str, Any]:
    """The event when a person opens the app's Home tab (`view` is the published one, if any)."""
    event: dict[str, Any] = {"type": "app_home_opened", "user": user_id, "channel": channel_id,
                             "tab": tab, "event_ts": "1700000000.000300"}  # fmt: skip
    if view is not None:
        event["view"] = view
    return event


def app_uninstalled() -> dict[str, Any]:
    """The event when the workspace removes the app."""
    return {"type": "app_uninstalled", "event_ts": "1700000000.000400"}


def tokens_revoked(*, bot: Sequence[str] = (), oauth: Sequence[str] = ()) -> dict[str, Any]:
    """The event when tokens are revoked: bot user ids under `bot`, people under `oauth`."""
    return {"type": "tokens_revoked", "tokens": {"oauth": list(oauth), "bot": list(bot)},
            "event_ts": "1700000000.000500"}  # fmt: skip


def url_verification(challenge: str) -> SlackBody:
    """The handshake Slack sends when the Request URL is saved."""
    body = {"token": VERIFICATION_TOKEN, "challenge": challenge, "type": "url_verification"}
    return SlackBody(json.dumps(body).encode(), JSON)
