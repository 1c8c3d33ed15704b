"""The task API: keys scoped to a team, SPEC shapes, idempotency, and 4xx for every bad input."""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import AsyncIterator, Collection
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from bot.directory import SingleWorkspace, SlackDirectory
from primitives.enums import ProviderName
from routing.errors import DirectoryUnavailable
from routing.owners import Lookups
from sandbox.server import serve_app
from sandbox.slack import SlackSandbox, create_slack_emulator, seed_demo_slack
from sidecar.app import create_sidecar
from storage.api_keys import revoke_api_key
from storage.models import ApiKey, Task
from tests.emulators import slack_api
from tests.meetings import item, meeting
from tests.sidecar.harness import ANA, BO, EVE, OTHER_TEAM, TEAM, Harness
from tests.sidecar.test_connect import connect
from tests.wiring import wire


@pytest.fixture
async def api(harness: Harness) -> AsyncIterator[httpx.AsyncClient]:
    key = await harness.api_key(TEAM)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=harness.app),
        base_url=harness.base_url,
        headers={"Authorization": f"Bearer {key}"},
    ) as client:
        yield client


def planning(**fields: Any) -> dict[str, Any]:
    """Ana's sprint planning in the harness's workspace: an item for Bo, an urgent one."""
    return meeting(
        item(1, title="Write the launch post", assignee={"slack_user_id": BO}),
        item(2, title="Book the venue", priority="urgent", due_date="2026-02-01"),
        **{"title": "Sprint planning", "team_id": TEAM, "channel_id": "C0PLAN",
           "owner": {"email": "ana@acme.example"}, **fields},
    )  # fmt: skip


def task(title: str = "Review the budget", **overrides: Any) -> dict[str, Any]:
    return {"team_id": TEAM, "user": {"slack_user_id": ANA}, "task": {"title": title}, **overrides}


def error_of(response: httpx.Response) -> dict[str, Any]:
    body = response.json()
    assert set(body) == {"error"}
    assert {"code", "message"} <= set(body["error"])
    return dict(body["error"])


async def task_count(harness: Harness) -> int:
    async with harness.sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(Task)) or 0)


# --- keys -------------------------------------------------------------------------------------


async def test_calls_without_a_valid_key_are_refused(
    harness: Harness, api: httpx.AsyncClient
) -> None:
    anonymous = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=harness.app), base_url=harness.base_url
    )
    for headers in (
        {},
        {"Authorization": "Basic dXNlcjpwYXNz"},
        {"Authorization": "Bearer "},
        {"Authorization": "Bearer sct_not-a-real-key"},
        {"Authorization": "Bearer something-else"},
    ):
        answer = await anonymous.post("/api/meetings", json=planning(), headers=headers)
        assert answer.status_code == 401, headers
        assert error_of(answer)["code"] == "unauthorized"
        assert answer.headers["www-authenticate"].startswith("Bearer")
    assert await task_count(harness) == 0


async def test_a_revoked_key_stops_working(harness: Harness, api: httpx.AsyncClient) -> None:
    assert (await api.get(f"/api/users/{TEAM}/{ANA}/status")).status_code == 200
    async with harness.sessions() as session, session.begin():
        key = await session.scalar(select(ApiKey))
        assert key is not None and key.last_used_at is not None
        assert await revoke_api_key(session, key.id, now=harness.clock.now())
    answer = await api.get(f"/api/users/{TEAM}/{ANA}/status")
    assert answer.status_code == 401
    assert "revoked" in error_of(answer)["message"]


async def test_a_key_reads_and_writes_only_its_own_team(
    harness: Harness, api: httpx.AsyncClient
) -> None:
    ours = (await api.post("/api/tasks", json=task())).json()
    other_key = await harness.api_key(OTHER_TEAM)
    other = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=harness.app),
        base_url=harness.base_url,
        headers={"Authorization": f"Bearer {other_key}"},
    )
    assert (await other.get(f"/api/tasks/{ours['task_id']}")).status_code == 404
    for answer in (
        await other.post("/api/meetings", json=planning()),
        await other.post("/api/tasks", json=task()),
        await other.get(f"/api/users/{TEAM}/{ANA}/status"),
        await other.get(f"/api/users/{TEAM}/{ANA}/preferences"),
        await other.put(f"/api/users/{TEAM}/{ANA}/preferences", json={"routing_mode": "default"}),
    ):
        assert answer.status_code == 403
        assert error_of(answer)["code"] == "wrong_team"
    assert await task_count(harness) == 1
    # Its own team works.
    own = await other.post(
        "/api/tasks", json={**task(), "team_id": OTHER_TEAM, "user": {"slack_user_id": EVE}}
    )
    assert own.status_code == 202


# --- meetings and tasks -------------------------------------------------------------------------


async def test_posting_a_meeting_stores_one_task_per_item_once(
    harness: Harness, api: httpx.AsyncClient
) -> None:
    first = await api.post("/api/meetings", json=planning())
    assert first.status_code == 202
    body = first.json()
    assert body["meeting_id"] == "m-1" and body["duplicate"] is False
    items = {answer["item_id"]: answer for answer in body["items"]}
    assert items["a1"]["owner_user_id"] == BO and items["a2"]["owner_user_id"] == ANA
    for answer in items.values():
        assert answer["status"] == "pending_auth"
        assert set(answer["connect_urls"]) == {"clickup", "notion"}
    again = await api.post("/api/meetings", json=planning())
    assert again.status_code == 202 and again.json()["duplicate"] is True
    assert [i["task_id"] for i in again.json()["items"]] == [i["task_id"] for i in body["items"]]
    assert await task_count(harness) == 2


async def test_the_connect_url_of_a_waiting_task_starts_the_flow(
    harness: Harness, api: httpx.AsyncClient
) -> None:
    answer = (await api.post("/api/tasks", json=task())).json()
    assert answer["status"] == "pending_auth"
    link = answer["connect_urls"]["notion"]
    opened = await api.get(link.removeprefix(harness.base_url))
    # The person first confirms who the link is for; then the consent page of Notion.
    assert opened.status_code == 200
    assert "Connect Notion to @Ana in Acme?" in opened.text
    state = re.search(r'name="state" value="([^"]+)"', opened.text)
    assert state is not None
    started = await api.post("/auth/notion/confirm", data={"state": state[1]})
    assert started.status_code == 303
    assert started.headers["location"].startswith(harness.notion_url)


async def test_idempotency_key_same_body_same_answer_other_body_refused(
    harness: Harness, api: httpx.AsyncClient
) -> None:
    headers = {"Idempotency-Key": "ai-run-77/item-3"}
    first = await api.post("/api/tasks", json=task(), headers=headers)
    second = await api.post("/api/tasks", json=task(), headers=headers)
    assert first.status_code == second.status_code == 202
    # The same task; its connect links are made afresh for each answer (a link is spent by
    # the connection made with it, so two answers never share one).
    same, again = first.json(), second.json()
    assert same.pop("connect_urls").keys() == again.pop("connect_urls").keys()
    assert same == again
    other = await api.post("/api/tasks", json=task("Something else"), headers=headers)
    assert other.status_code == 422
    assert error_of(other)["code"] == "idempotency_key_reused"
    assert await task_count(harness) == 1
    for bad in (b"", b"x" * 256, b"with space", "é".encode()):
        answer = await api.post("/api/tasks", json=task(), headers={b"Idempotency-Key": bad})
        assert answer.status_code == 422, bad
        assert error_of(answer)["field"] == "Idempotency-Key"
    without = await api.post("/api/tasks", json=task())
    assert without.json()["task_id"] != first.json()["task_id"]


async def test_reading_a_task_and_a_status(harness: Harness, api: httpx.AsyncClient) -> None:
    created = (await api.post("/api/tasks", json=task(priority="urgent"))).json()
    answer = await api.get(f"/api/tasks/{created['task_id']}")
    assert answer.status_code == 200
    assert answer.json()["title"] == "Review the budget"
    assert (await api.get("/api/tasks/tsk_missing")).status_code == 404
    bad = await api.get("/api/tasks/..%2F..%2Fetc")
    assert bad.status_code in (404, 422)

    status = await api.get(f"/api/users/{TEAM}/{ANA}/status")
    assert status.json() == {
        "clickup": {"connected": False, "needs_reconnect": False, "workspace": None},
        "notion": {"connected": False, "needs_reconnect": False, "workspace": None},
        "pending_tasks_count": 1,
        "can_create_tasks": False,
    }
    wrong = await api.get(f"/api/users/{TEAM}/not-a-user/status")
    assert wrong.status_code == 422 and error_of(wrong)["field"] == "user_id"


async def test_preferences_choose_from_the_persons_own_lists(
    harness: Harness, api: httpx.AsyncClient
) -> None:
    url = f"/api/users/{TEAM}/{ANA}/preferences"
    assert (await api.get(url)).json() == {
        "routing_mode": "smart",
        "default_provider": None,
        "default_clickup_list": None,
        "default_notion_database": None,
        "review_first": False,
    }
    refused = await api.put(url, json={"routing_mode": "default", "default_clickup_list_id": "l2"})
    assert refused.status_code == 422
    assert error_of(refused) == {
        "code": "invalid_input",
        "message": "connect ClickUp first",
        "field": "default_clickup_list_id",
    }
    assert (await api.get(url)).json()["routing_mode"] == "smart"  # nothing changed

    browser = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=harness.app), base_url=harness.base_url
    )
    await connect(harness, browser, ANA, ProviderName.CLICKUP)
    chosen = await api.put(
        url,
        json={
            "routing_mode": "default",
            "default_provider": "clickup",
            "default_clickup_list_id": "l2",
        },
    )
    assert chosen.status_code == 200
    assert chosen.json()["default_clickup_list"] == {
        "id": "l2",
        "name": "Marketing / Q3 / Website Redesign",
    }
    assert chosen.json()["routing_mode"] == "default"
    for body in (
        {"default_clickup_list_id": "l-not-mine"},
        {"routing_mode": "sometimes"},
        {"unknown_field": 1},
        {"default_provider": "jira"},
    ):
        answer = await api.put(url, json=body)
        assert answer.status_code == 422, body
    status = await api.get(f"/api/users/{TEAM}/{ANA}/status")
    assert status.json()["clickup"] == {
        "connected": True,
        "needs_reconnect": False,
        "workspace": "Acme",
    }
    [token] = harness.clickup_world.tokens
    assert token not in status.text and token not in chosen.text


async def test_a_person_who_reviews_first_gets_review_in_the_meetings_answer(
    harness: Harness, api: httpx.AsyncClient
) -> None:
    url = f"/api/users/{TEAM}/{ANA}/preferences"
    for wrong in ({"review_first": "yes"}, {"review_first": 1}, {"review_first": None}):
        answer = await api.put(url, json=wrong)
        assert (answer.status_code, wrong) == (200 if wrong["review_first"] is None else 422, wrong)
    turned = await api.put(url, json={"review_first": True})
    assert turned.status_code == 200 and turned.json()["review_first"] is True
    posted = await api.post("/api/meetings", json=planning())
    assert posted.status_code == 202
    statuses = [item["status"] for item in posted.json()["items"]]
    assert statuses == ["pending_auth", "review"]  # Bo's is not held: only Ana reviews first
    assert await harness.worker.run_once() == 0  # nothing is sent before Ana says so
    assert harness.clickup_world.tasks == {}
    off = await api.put(url, json={"review_first": False})
    assert off.json()["review_first"] is False


# --- bad input ------------------------------------------------------------------------------------


async def test_bad_bodies_get_a_clear_4xx(harness: Harness, api: httpx.AsyncClient) -> None:
    cases: list[tuple[httpx.Response, int, str]] = [
        (await api.post("/api/meetings", content=b"{not json"), 415, "unsupported_media_type"),
        (
            await api.post(
                "/api/meetings", content=b"{not json", headers={"Content-Type": "application/json"}
            ),
            400,
            "invalid_json",
        ),
        (await api.post("/api/meetings", json=[1, 2]), 422, "invalid_input"),
        (await api.post("/api/meetings", json=planning(team_id="acme")), 422, "invalid_input"),
        (
            await api.post(
                "/api/meetings", json=planning(action_items=[{"title": "x", "priority": "asap"}])
            ),
            422,
            "invalid_input",
        ),
        (
            await api.post("/api/meetings", json=planning(owner={"email": "nobody@acme.example"})),
            422,
            "unknown_user",
        ),
        (await api.post("/api/tasks", json=task(routing="whenever")), 422, "invalid_input"),
        (await api.get("/api/meetings"), 405, "method_not_allowed"),
        (
            await api.post(
                "/api/tasks",
                content=b"[" * 100_000 + b"]" * 100_000,
                headers={"Content-Type": "application/json"},
            ),
            400,
            "invalid_json",
        ),
        (
            await api.post(
                "/api/tasks", content=b"\xff\xfe", headers={"Content-Type": "application/json"}
            ),
            400,
            "invalid_json",
        ),
    ]
    for answer, status, code in cases:
        assert answer.status_code == status, answer.text
        assert error_of(answer)["code"] == code
    priority = await api.post(
        "/api/meetings", json=planning(action_items=[{"title": "x", "priority": "asap"}])
    )
    assert error_of(priority)["field"] == "action_items.0.priority"
    assert await task_count(harness) == 0


async def test_a_body_over_one_mebibyte_is_413(harness: Harness, api: httpx.AsyncClient) -> None:
    big = planning(summary="x" * (1024 * 1024))
    declared = await api.post("/api/meetings", json=big)
    assert declared.status_code == 413
    assert error_of(declared)["code"] == "body_too_large"

    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: counted while reading
        payload = json.dumps(big).encode()
        for start in range(0, len(payload), 64 * 1024):
            yield payload[start : start + 64 * 1024]

    streamed = await api.post(
        "/api/meetings", content=chunks(), headers={"Content-Type": "application/json"}
    )
    assert streamed.status_code == 413
    assert await task_count(harness) == 0


class _SlackDown:
    async def serves(self, team_id: str) -> bool:
        return True

    async def look_up(
        self, team_id: str, *, user_ids: Collection[str] = (), emails: Collection[str] = ()
    ) -> Lookups:
        raise DirectoryUnavailable("Slack is rate limiting us", retry_after=7)

    async def is_member(self, team_id: str, user_id: str) -> bool:
        raise DirectoryUnavailable("Slack is rate limiting us", retry_after=7)

    async def user_by_email(self, team_id: str, email: str) -> str | None:
        raise DirectoryUnavailable("Slack is rate limiting us", retry_after=7)

    async def time_zone(self, team_id: str, user_id: str) -> str | None:
        raise DirectoryUnavailable("Slack is rate limiting us", retry_after=7)


async def test_when_slack_cannot_say_who_is_who_the_answer_is_503(harness: Harness) -> None:
    deps = harness.deps
    utility = wire(
        harness.sessions, harness.clock, deps.providers, directory=_SlackDown(),
        notifier=harness.notifier, vault=harness.vault, connect_links=deps.links,
    ).utility  # fmt: skip
    app = create_sidecar(dataclasses.replace(deps, utility=utility))
    key = await harness.api_key(TEAM)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url=harness.base_url,
        headers={"Authorization": f"Bearer {key}"},
    ) as api:  # fmt: skip
        answer = await api.post("/api/meetings", json=planning())
    assert answer.status_code == 503
    assert answer.headers["retry-after"] == "7"
    assert error_of(answer)["code"] == "slack_unavailable"
    assert await task_count(harness) == 0


async def test_last_use_is_recorded_to_the_minute(harness: Harness, api: httpx.AsyncClient) -> None:
    async def last_used() -> object:
        async with harness.sessions() as session:
            key = await session.scalar(select(ApiKey))
            assert key is not None
            return key.last_used_at

    await api.get(f"/api/users/{TEAM}/{ANA}/status")
    first = await last_used()
    assert first == harness.clock.now()
    harness.clock.advance(30)
    await api.get(f"/api/users/{TEAM}/{ANA}/status")
    assert await last_used() == first
    harness.clock.advance(30)
    await api.get(f"/api/users/{TEAM}/{ANA}/status")
    assert await last_used() == harness.clock.now()


async def test_one_bot_token_serves_its_own_workspace_only(harness: Harness) -> None:
    """With SLACK_BOT_TOKEN the token's workspace is the only one: a key made for another is
    refused on every call, and nobody is looked up in the token's workspace on its behalf."""
    world = SlackSandbox()
    seed_demo_slack(world, team_id=TEAM, bot_token="xoxb-acme")
    world.add_workspace("T0PARTNER", "xoxb-partner")
    world.share_channel(TEAM, "T0PARTNER")
    world.add_user("T0PARTNER", "U0PAT", "Pat Vendor", "pat@partner.example")
    deps = harness.deps
    async with serve_app(create_slack_emulator(world, clock=harness.clock)) as slack_url:
        directory = SlackDirectory(
            slack_api(slack_url, harness.clock), tokens=SingleWorkspace("xoxb-acme", TEAM),
            clock=harness.clock,
        )  # fmt: skip
        utility = wire(
            harness.sessions, harness.clock, deps.providers, directory=directory,
            notifier=harness.notifier, vault=harness.vault, connect_links=deps.links,
        ).utility  # fmt: skip
        app = create_sidecar(dataclasses.replace(deps, utility=utility))
        transport = httpx.ASGITransport(app=app)
        other_key = await harness.api_key(OTHER_TEAM)
        async with httpx.AsyncClient(
            transport=transport, base_url=harness.base_url,
            headers={"Authorization": f"Bearer {other_key}"},
        ) as other:  # fmt: skip
            eve = {"slack_user_id": EVE}
            for answer in (
                await other.post("/api/meetings", json=planning(team_id=OTHER_TEAM, owner=eve)),
                await other.post("/api/tasks", json={**task(), "team_id": OTHER_TEAM, "user": eve}),
                await other.get(f"/api/users/{OTHER_TEAM}/{EVE}/status"),
                await other.get("/api/tasks/tsk_x"),
            ):
                assert answer.status_code == 403
                assert error_of(answer) == {
                    "code": "team_not_served", "field": "team_id",
                    "message": f"Scrumy Tasks is not installed in the Slack workspace {OTHER_TEAM}",
                }  # fmt: skip
        assert sum(world.requests.values()) == 0
        # The token's own workspace is served; a Slack Connect guest is not its member.
        own_key = await harness.api_key(TEAM)
        async with httpx.AsyncClient(
            transport=transport, base_url=harness.base_url,
            headers={"Authorization": f"Bearer {own_key}"},
        ) as own:  # fmt: skip
            posted = await own.post(
                "/api/meetings",
                json=planning(action_items=[{"title": "Send the contract",
                                             "assignee": {"email": "pat@partner.example"}}]),
            )  # fmt: skip
        assert posted.status_code == 202, posted.text
        (only,) = posted.json()["items"]
        assert only["owner_user_id"] == ANA  # the meeting owner's task, and it says why
        assert only["reason"] == (
            "pat@partner.example is in another Slack workspace or organisation (Slack Connect), "
            "so the task is the meeting owner's; waiting for the owner to connect ClickUp or "
            "Notion"
        )
        async with harness.sessions() as session:
            stored = await session.get(Task, only["task_id"])
        assert stored is not None and stored.assignee_email == "pat@partner.example"


async def test_path_parameters_are_matched_whole(harness: Harness, api: httpx.AsyncClient) -> None:
    for path in (
        f"/api/users/{TEAM}/U0ANA%0A/status",  # `$` alone lets a final newline through
        f"/api/users/{TEAM}%0A/U0ANA/status",
        f"/api/users/{TEAM}/U0ANA%0A/preferences",
        "/api/tasks/tsk_x%0A",
    ):
        answer = await api.get(path)
        assert answer.status_code == 422, path
        assert answer.json()["error"]["code"] == "invalid_input"
    bad_key = await api.post("/api/tasks", json=task(), headers={"Idempotency-Key": "k\n"})
    assert bad_key.status_code == 422


async def test_json_answers_are_never_sniffed(harness: Harness, api: httpx.AsyncClient) -> None:
    for answer in (
        await api.get(f"/api/users/{TEAM}/{ANA}/status"),
        await api.get("/api/tasks/tsk_missing"),
        await api.get("/healthz"),
        await api.get("/openapi.json"),
        await api.get("/nothing-here"),
    ):
        assert answer.headers["x-content-type-options"] == "nosniff", answer.url
    assert len(answer.headers.get_list("x-content-type-options")) == 1
