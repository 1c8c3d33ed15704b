"""The ClickUp emulator's webhooks: registration, health, and signed deliveries with faults.

Endpoints (mounted by `sandbox.clickup.create_clickup_emulator`, behind its auth, rate limits
and faults):

    POST   /api/v2/team/{team_id}/webhook   {endpoint, events}  → {id, webhook: {…, secret}}
    GET    /api/v2/team/{team_id}/webhook   the caller's own webhooks in that workspace
    PUT    /api/v2/webhook/{webhook_id}     {endpoint?, events?, status?: "active"}
    DELETE /api/v2/webhook/{webhook_id}
    PUT    /api/v2/task/{task_id}           {status}: a status of the task's list, by name
    DELETE /api/v2/task/{task_id}

As ClickUp documents it (developer.clickup.com/docs/webhooks, /webhooksignature,
/webhookhealth, /webhooktaskpayloads): a webhook belongs to the user whose token made it and
`GET` lists only theirs; the same configuration twice is refused ("Webhook configuration
already exists", seen in n8n-io/n8n#17400; the ECODE is ours). Every delivery is a POST of
`{webhook_id, event, task_id, history_items}` (`taskDeleted` has no history items) signed
with `X-Signature`, the hex HMAC-SHA256 of the raw body under the webhook's `secret`. Health:
an unsuccessful answer (or none) marks the webhook `failing`; each event is tried
`ATTEMPTS_PER_EVENT` times, then dropped and `fail_count` incremented; a success makes it
`active` again with `fail_count` 0 (dropped events are not resent); 410 suspends it at once,
and so does a `fail_count` of `suspend_after` (100 at ClickUp; lower it in tests). A
suspended webhook is sent nothing.

Statuses have a `type` — `open`, `custom`, `done`, `closed` — and a name; a list has the
workspace's default statuses (`DEFAULT_STATUSES`) unless seeded with its own.

Deliveries (`sandbox.clickup_deliveries`) are queued when the event happens and sent by
`deliver(client)`, in order, one attempt each per call (a failed one stays queued for the next
call); with `auto_deliver` set (the demo), a delivery round runs by itself after each event,
and again every `retry_seconds` while something is queued. Faults are drawn for method
`WEBHOOK` and the event's name as path, as for any request:

    world.faults.add("webhook_duplicate", method="WEBHOOK", path="taskStatusUpdated")
    webhook_duplicate       the delivery is sent twice
    webhook_out_of_order    the delivery is held back and sent after the next one
    webhook_bad_signature   a forged copy (its status changed, signed with another secret) is
                            sent first; it counts for nothing at ClickUp
    webhook_down            the attempt fails as if our endpoint did not answer
"""

from __future__ import annotations

import json
import secrets
import uuid
from typing import TYPE_CHECKING, Any

import httpx
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from primitives.clock import Clock
from sandbox.clickup_deliveries import QueuedDelivery, WebhookSender

if TYPE_CHECKING:
    from sandbox.clickup import ClickUpSandbox

EVENTS = frozenset(
    {
        "taskCreated", "taskUpdated", "taskDeleted", "taskPriorityUpdated", "taskStatusUpdated",
        "taskAssigneeUpdated", "taskDueDateUpdated", "taskTagUpdated", "taskMoved",
        "taskCommentPosted", "taskCommentUpdated", "taskTimeEstimateUpdated",
        "taskTimeTrackedUpdated", "listCreated", "listUpdated", "listDeleted", "folderCreated",
        "folderUpdated", "folderDeleted", "spaceCreated", "spaceUpdated", "spaceDeleted",
        "goalCreated", "goalUpdated", "goalDeleted", "keyResultCreated", "keyResultUpdated",
        "keyResultDeleted",
    }
)  # fmt: skip
DEFAULT_STATUSES = (
    {"status": "to do", "color": "#d3d3d3", "type": "open", "orderindex": 0},
    {"status": "in progress", "color": "#4194f6", "type": "custom", "orderindex": 1},
    {"status": "done", "color": "#6bc950", "type": "done", "orderindex": 2},
    {"status": "complete", "color": "#6bc950", "type": "closed", "orderindex": 3},
)


def statuses_of(world: ClickUpSandbox, list_id: str) -> list[dict[str, Any]]:
    found = world.lists.get(list_id, {})
    return list(found.get("statuses") or DEFAULT_STATUSES)


def _error(status: int, err: str, code: str) -> Response:
    return JSONResponse({"err": err, "ECODE": code}, status_code=status)


async def _object(request: Request) -> dict[str, Any] | None:
    try:
        body = await request.json()
    except ValueError:
        return None
    return body if isinstance(body, dict) else None


class ClickUpWebhookApi:
    """The handlers of the endpoints above, over one world and clock."""

    def __init__(self, world: ClickUpSandbox, clock: Clock) -> None:
        self.world = world
        self.book = world.webhook_book
        self.clock = clock
        self.sender = WebhookSender(self.book, world.faults, clock)

    # --- registration -----------------------------------------------------------------------

    async def team_webhooks(self, request: Request, grant: dict[str, Any]) -> Response:
        team_id = request.path_params["team_id"]
        if team_id not in grant["team_ids"]:
            return _error(401, "Team(s) not authorized", "OAUTH_023")
        if request.method == "GET":
            mine = [
                self.book.json_of(w)
                for w in self.book.webhooks.values()
                if w["team_id"] == team_id and w["userid"] == grant["user_id"]
            ]
            return JSONResponse({"webhooks": mine})
        body = await _object(request)
        if body is None:
            return _error(400, "Body must be a JSON object", "INPUT_001")
        endpoint, events = body.get("endpoint"), body.get("events")
        if not isinstance(endpoint, str) or not endpoint.startswith(("http://", "https://")):
            return _error(400, "Endpoint invalid", "WEBHOOK_001")
        if (
            not isinstance(events, list)
            or not events
            or any(not isinstance(e, str) or (e != "*" and e not in EVENTS) for e in events)
        ):
            return _error(400, "Events invalid", "WEBHOOK_002")
        for other in self.book.webhooks.values():
            same = (other["team_id"], other["userid"], other["endpoint"], sorted(other["events"]))
            if same == (team_id, grant["user_id"], endpoint, sorted(events)):
                return _error(400, "Webhook configuration already exists", "WEBHOOK_003")
        webhook_id = str(uuid.uuid4())
        webhook = {
            "id": webhook_id,
            "userid": grant["user_id"],
            "team_id": team_id,
            "endpoint": endpoint,
            "client_id": secrets.token_hex(8).upper(),
            "events": list(events),
            "task_id": body.get("task_id"),
            "list_id": body.get("list_id"),
            "folder_id": body.get("folder_id"),
            "space_id": body.get("space_id"),
            "health": {"status": "active", "fail_count": 0},
            "secret": secrets.token_hex(32).upper(),
        }
        self.book.webhooks[webhook_id] = webhook
        return JSONResponse({"id": webhook_id, "webhook": self.book.json_of(webhook)})

    def _own(self, request: Request, grant: dict[str, Any]) -> dict[str, Any] | Response:
        webhook = self.book.webhooks.get(request.path_params["webhook_id"])
        if webhook is None:
            return _error(404, "Webhook not found", "WEBHOOK_004")
        if webhook["userid"] != grant["user_id"] or webhook["team_id"] not in grant["team_ids"]:
            return _error(401, "Team(s) not authorized", "OAUTH_023")
        return webhook

    async def one_webhook(self, request: Request, grant: dict[str, Any]) -> Response:
        webhook = self._own(request, grant)
        if isinstance(webhook, Response):
            return webhook
        if request.method == "DELETE":
            del self.book.webhooks[webhook["id"]]
            self.book.queue = [d for d in self.book.queue if d.webhook_id != webhook["id"]]
            return JSONResponse({})
        body = await _object(request)
        if body is None:
            return _error(400, "Body must be a JSON object", "INPUT_001")
        if isinstance(body.get("endpoint"), str):
            webhook["endpoint"] = body["endpoint"]
        if isinstance(body.get("events"), list) and body["events"]:
            webhook["events"] = list(body["events"])
        if body.get("status") == "active":
            webhook["health"] = {"status": "active", "fail_count": 0}
        return JSONResponse({"id": webhook["id"], "webhook": self.book.json_of(webhook)})

    # --- tasks changing ---------------------------------------------------------------------

    async def one_task(self, request: Request, grant: dict[str, Any]) -> Response:
        task = self.world.tasks.get(request.path_params["task_id"])
        if task is None:
            return _error(404, "Task not found", "ITEM_013")
        if self.world.team_of_list(task["list"]["id"]) not in grant["team_ids"]:
            return _error(401, "Team(s) not authorized", "OAUTH_023")
        if request.method == "GET":
            return JSONResponse(task)
        if request.method == "DELETE":
            self.delete_task(task["id"], user_id=grant["user_id"])
            return Response(status_code=204)
        body = await _object(request)
        if body is None:
            return _error(400, "Body must be a JSON object", "INPUT_001")
        status = body.get("status")
        if status is not None:
            if not isinstance(status, str) or self._status(task, status) is None:
                return _error(400, "Status does not exist", "CRTSK_002")
            self.set_status(task["id"], status, user_id=grant["user_id"])
        return JSONResponse(self.world.tasks[task["id"]])

    def _status(self, task: dict[str, Any], name: str) -> dict[str, Any] | None:
        wanted = name.strip().lower()  # ClickUp keeps status names in lower case
        found = (s for s in statuses_of(self.world, task["list"]["id"]) if s["status"] == wanted)
        return next(found, None)

    def set_status(self, task_id: str, name: str, *, user_id: int | None = None) -> bool:
        """Move a task to the status named `name` of its list, as a person would in ClickUp,
        and queue `taskStatusUpdated`; False (nothing happens) when it is already there."""
        task = self.world.tasks[task_id]
        after = self._status(task, name)
        if after is None:
            raise ValueError(f"no status {name!r} in list {task['list']['id']}")
        before = task["status"]
        if before["status"] == after["status"]:
            return False
        now_ms = int(self.clock.now().timestamp() * 1000)
        task["status"] = dict(after)
        task["date_updated"] = str(now_ms)
        if after["type"] in ("done", "closed"):
            task["date_closed"] = str(now_ms)
        who = self.world.users.get(user_id or 0) or {"id": user_id}
        item = {
            "id": self.book.next_history_id(),
            "type": 1,
            "date": str(now_ms),
            "field": "status",
            "parent_id": task["list"]["id"],
            "data": {"status_type": after["type"]},
            "source": None,
            "user": who,
            "before": dict(before),
            "after": dict(after),
        }
        self._emit(task, "taskStatusUpdated", [item])
        return True

    def finish(self, task_id: str) -> bool:
        """Mark the task done, as a person would: its list's first status of type `done`, else
        its `closed` one (the web page's button); False when it already is."""
        statuses = statuses_of(self.world, self.world.tasks[task_id]["list"]["id"])
        done = [s for s in statuses if s["type"] == "done"] or [
            s for s in statuses if s["type"] == "closed"
        ]
        return self.set_status(task_id, done[0]["status"])

    def delete_task(self, task_id: str, *, user_id: int | None = None) -> None:
        """Delete a task and queue `taskDeleted` (ClickUp sends it without history items)."""
        task = self.world.tasks.pop(task_id)
        self._emit(task, "taskDeleted", None)

    def _emit(self, task: dict[str, Any], event: str, history: list[dict[str, Any]] | None) -> None:
        team_id = self.world.team_of_list(task["list"]["id"])
        for webhook in self.book.webhooks.values():
            if webhook["team_id"] != team_id or webhook["health"]["status"] == "suspended":
                continue
            if "*" not in webhook["events"] and event not in webhook["events"]:
                continue
            if not _in_location(webhook, task):
                continue
            payload: dict[str, Any] = {"event": event, "task_id": task["id"]}
            if history is not None:
                payload["history_items"] = history
            payload["webhook_id"] = webhook["id"]
            body = json.dumps(payload, separators=(",", ":")).encode()
            self.sender.queue(QueuedDelivery(webhook["id"], event, body))
        self.sender.sent_queued()

    async def deliver(self, client: httpx.AsyncClient) -> int:
        """One attempt at every queued delivery (`sandbox.clickup_deliveries`)."""
        return await self.sender.deliver(client)


def _in_location(webhook: dict[str, Any], task: dict[str, Any]) -> bool:
    for key, where in (
        ("task_id", task["id"]),
        ("list_id", task["list"]["id"]),
        ("folder_id", task["folder"]["id"]),
        ("space_id", task["space"]["id"]),
    ):
        if webhook.get(key) not in (None, "") and str(webhook[key]) != str(where):
            return False
    return True
