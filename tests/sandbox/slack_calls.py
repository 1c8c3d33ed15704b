"""Calling the Slack emulator in tests as slack_sdk calls Slack: JSON bodies or forms."""

from __future__ import annotations

import json
from typing import Any

import httpx

from tests.emulators import SLACK_BOT_TOKEN, SLACK_URL

API = f"{SLACK_URL}/api"


async def slack(
    http: httpx.AsyncClient,
    method: str,
    *,
    token: str | None = SLACK_BOT_TOKEN,
    form: bool = False,
    **args: Any,
) -> httpx.Response:
    """POST a Web API method with a bot token, as JSON (or as a form, JSON-encoding objects)."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    if form:
        data = {k: v if isinstance(v, str) else json.dumps(v) for k, v in args.items()}
        return await http.post(f"{API}/{method}", data=data, headers=headers)
    return await http.post(f"{API}/{method}", json=args, headers=headers)


async def answer(http: httpx.AsyncClient, method: str, **args: Any) -> dict[str, Any]:
    """A method's JSON answer (HTTP 200, as Slack answers errors too)."""
    response = await slack(http, method, **args)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def section(text: str, **fields: Any) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}, **fields}


def button(text: str, action_id: str, **fields: Any) -> dict[str, Any]:
    return {"type": "button", "text": {"type": "plain_text", "text": text},
            "action_id": action_id, **fields}  # fmt: skip
