"""The signing helper and the payloads tests send into the app, checked against Slack's own
worked example and an HMAC computed here by hand."""

from __future__ import annotations

import hashlib
import hmac
import json
from urllib.parse import parse_qs

from sandbox.slack_requests import (
    SlackBody,
    app_home_opened,
    app_uninstalled,
    block_actions,
    event_callback,
    message_action,
    sign_request,
    signed,
    slash_command,
    tokens_revoked,
    view_submission,
)

# docs.slack.dev "Verifying requests from Slack", the worked example.
DOC_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
DOC_TIMESTAMP = 1531420618
DOC_BODY = (
    b"token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&"
    b"channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&"
    b"command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2F"
    b"commands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&"
    b"trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c"
)
DOC_SIGNATURE = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503"


def test_slacks_worked_example() -> None:
    assert sign_request(DOC_SECRET, DOC_BODY, DOC_TIMESTAMP) == {
        "X-Slack-Request-Timestamp": "1531420618",
        "X-Slack-Signature": DOC_SIGNATURE,
    }


def test_the_signature_is_v0_hmac_sha256_of_version_timestamp_and_body() -> None:
    body = '{"type":"event_callback","text":"Ünïcode & <markup>"}'.encode()
    expected = hmac.new(b"s3cret", b"v0:1700000000:" + body, hashlib.sha256).hexdigest()
    headers = sign_request("s3cret", body, 1_700_000_000)
    assert headers["X-Slack-Signature"] == f"v0={expected}"
    assert sign_request("s3cret", body + b" ", 1_700_000_000) != headers  # tampered
    assert sign_request("s3cret", body, 1_700_000_001) != headers  # another time


def form_payload(body: SlackBody) -> dict[str, object]:
    assert body.content_type == "application/x-www-form-urlencoded"
    fields = parse_qs(body.body.decode())
    assert list(fields) == ["payload"]
    payload: dict[str, object] = json.loads(fields["payload"][0])
    return payload


def test_a_slash_command_is_a_form_with_slacks_fields() -> None:
    body = slash_command("/tasks", "connect clickup", team_id="T0ACME", user_id="U0ANA",
                         channel_id="C0GENERAL", trigger_id="1.2.ab")  # fmt: skip
    fields = {k: v[0] for k, v in parse_qs(body.body.decode(), keep_blank_values=True).items()}
    assert fields["command"] == "/tasks" and fields["text"] == "connect clickup"
    assert {"token", "team_id", "team_domain", "channel_id", "channel_name", "user_id",
            "user_name", "api_app_id", "response_url", "trigger_id"} <= set(fields)  # fmt: skip
    headers = signed("secret", body, 1_700_000_000)
    assert headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert headers["X-Slack-Signature"].startswith("v0=")


def test_interaction_payloads() -> None:
    click = form_payload(block_actions(
        {"type": "button", "action_id": "choose_clickup", "block_id": "item-3", "value": "3"},
        team_id="T0ACME", user_id="U0BO", trigger_id="1.2.ab", channel_id="C0GENERAL",
        message={"ts": "1700000000.000001", "text": "Standup"},
    ))  # fmt: skip
    assert click["type"] == "block_actions"
    assert click["container"] == {"type": "message", "message_ts": "1700000000.000001",
                                  "channel_id": "C0GENERAL", "is_ephemeral": False}  # fmt: skip
    assert click["actions"][0]["action_id"] == "choose_clickup"  # type: ignore[index]
    assert click["user"]["id"] == "U0BO" and click["response_url"]  # type: ignore[index]
    shortcut = form_payload(message_action(
        "create_task", {"ts": "1700000000.000002", "text": "Ship it", "user": "U0ANA"},
        team_id="T0ACME", user_id="U0CY", channel_id="C0GENERAL", trigger_id="1.2.ab",
    ))  # fmt: skip
    assert shortcut["type"] == "message_action" and shortcut["callback_id"] == "create_task"
    assert shortcut["message_ts"] == "1700000000.000002"
    submitted = form_payload(view_submission(
        {"id": "V1", "callback_id": "create_task", "private_metadata": "C0GENERAL"},
        {"title": {"value": {"type": "plain_text_input", "value": "Ship it"}}},
        team_id="T0ACME", user_id="U0CY", trigger_id="1.2.ab",
    ))  # fmt: skip
    assert submitted["type"] == "view_submission"
    view = submitted["view"]
    assert view["state"]["values"]["title"]["value"]["value"] == "Ship it"  # type: ignore[index]


def test_event_callbacks() -> None:
    opened = event_callback(app_home_opened("U0ANA", "D0ACME0ANA"), team_id="T0ACME")
    assert opened.content_type == "application/json"
    envelope = json.loads(opened.body)
    assert envelope["type"] == "event_callback" and envelope["team_id"] == "T0ACME"
    assert envelope["event"] == {"type": "app_home_opened", "user": "U0ANA",
                                 "channel": "D0ACME0ANA", "tab": "home",
                                 "event_ts": "1700000000.000300"}  # fmt: skip
    assert envelope["event_id"] and envelope["authorizations"][0]["team_id"] == "T0ACME"
    assert app_uninstalled()["type"] == "app_uninstalled"
    revoked = tokens_revoked(bot=["U0SCRUMYBOT"])
    assert revoked["tokens"] == {"oauth": [], "bot": ["U0SCRUMYBOT"]}
