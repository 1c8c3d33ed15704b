"""Liveness, readiness and the Prometheus metrics."""

from __future__ import annotations

import dataclasses

import httpx
import pytest
from sqlalchemy import event, text

from primitives.enums import ProviderName
from sandbox.faults import FaultKind
from scrumy.settings import load_settings
from sidecar.app import create_sidecar
from sidecar.metrics import COUNTS_LIFETIME
from storage.engine import create_engine
from tests.sidecar.harness import ANA, TEAM, Harness
from tests.sidecar.test_connect import connect


async def test_healthz_and_readyz(harness: Harness, browser: httpx.AsyncClient) -> None:
    assert (await browser.get("/healthz")).json() == {"status": "ok"}
    ready = await browser.get("/readyz")
    assert ready.status_code == 200 and ready.json() == {"status": "ready"}

    async with harness.sessions() as session, session.begin():
        await session.execute(text("UPDATE alembic_version SET version_num = '0005'"))
    behind = await browser.get("/readyz")
    assert behind.status_code == 503
    assert "scrumy db upgrade" in behind.json()["problems"]["migrations"]

    # A newer release migrated it while this process runs (a rolling upgrade): still ready,
    # and saying this process is the one to replace.
    async with harness.sessions() as session, session.begin():
        await session.execute(text("UPDATE alembic_version SET version_num = '0099_newer'"))
    ahead = await browser.get("/readyz")
    assert ahead.status_code == 200 and ahead.json()["status"] == "ready"
    assert "replace this process" in ahead.json()["note"]


async def test_readyz_says_when_the_database_is_unreachable(harness: Harness) -> None:
    gone = create_engine("postgresql+asyncpg://scrumy:secret-pw@127.0.0.1:9/nowhere")
    app = create_sidecar(dataclasses.replace(harness.deps, engine=gone))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://x") as c:
        answer = await c.get("/readyz")
    await gone.dispose()
    assert answer.status_code == 503
    assert answer.json() == {"status": "not ready", "problems": {"database": "unreachable"}}
    assert "secret-pw" not in answer.text


async def test_metrics_count_tasks_dispatches_and_provider_errors(
    harness: Harness, browser: httpx.AsyncClient
) -> None:
    for title in ("One", "Two", "Three"):
        await harness.utility.create_task(ANA, {"title": title}, team_id=TEAM)
    before = (await browser.get("/metrics")).text
    assert 'scrumy_tasks{state="pending_auth"} 3.0' in before
    assert 'scrumy_tasks{state="created"} 0.0' in before

    harness.clickup_world.faults.add(FaultKind.RATE_LIMIT, method="POST", path="/task", times=1)
    await connect(harness, browser, ANA, ProviderName.CLICKUP)
    await harness.worker.run_once()
    harness.clock.advance(120)
    await harness.worker.run_once()

    answer = await browser.get("/metrics")
    assert answer.headers["content-type"].startswith("text/plain")
    after = answer.text
    assert 'scrumy_tasks{state="created"} 3.0' in after
    assert 'scrumy_tasks{state="pending_auth"} 0.0' in after
    assert 'scrumy_dispatch_seconds_count{outcome="created",provider="clickup"} 3.0' in after
    assert 'scrumy_dispatch_seconds_count{outcome="retrying",provider="clickup"} 1.0' in after
    assert 'scrumy_provider_errors_total{kind="rate_limited",provider="clickup"} 1.0' in after
    assert "scrumy_slack_ack_seconds_count 0.0" in after


async def test_openapi_document(browser: httpx.AsyncClient) -> None:
    document = (await browser.get("/openapi.json")).json()
    assert document["openapi"] == "3.1.0"
    assert set(document["paths"]) == {
        "/api/meetings",
        "/api/tasks",
        "/api/tasks/{task_id}",
        "/api/users/{team_id}/{user_id}/status",
        "/api/users/{team_id}/{user_id}/preferences",
    }
    schemas = document["components"]["schemas"]
    assert {"MeetingIn", "TaskRequest", "TaskOut", "ErrorBody"} <= set(schemas)
    assert schemas["ActionItem"]["properties"]["title"]["maxLength"] == 10_000


async def test_a_scrape_is_cheap_however_often_it_comes(
    harness: Harness, browser: httpx.AsyncClient
) -> None:
    """One count of the tasks table per `COUNTS_LIFETIME`, not one per scrape."""
    counted: list[str] = []

    def watch(_conn: object, _cursor: object, statement: str, *_: object) -> None:
        if "GROUP BY" in statement.upper():
            counted.append(statement)

    engine = harness.deps.engine.sync_engine
    event.listen(engine, "before_cursor_execute", watch)
    try:
        await harness.utility.create_task(ANA, {"title": "One"}, team_id=TEAM)
        for _ in range(20):
            answer = await browser.get("/metrics")
            assert 'scrumy_tasks{state="pending_auth"} 1.0' in answer.text
        assert len(counted) == 1
        await harness.utility.create_task(ANA, {"title": "Two"}, team_id=TEAM)
        harness.clock.advance(COUNTS_LIFETIME)
        answer = await browser.get("/metrics")
        assert 'scrumy_tasks{state="pending_auth"} 2.0' in answer.text
        assert len(counted) == 2
    finally:
        event.remove(engine, "before_cursor_execute", watch)


async def test_metrics_can_require_a_bearer_token(harness: Harness) -> None:
    app = create_sidecar(dataclasses.replace(harness.deps, metrics_token="scrape-7c1e"))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://x") as c:
        missing = await c.get("/metrics")
        wrong = await c.get("/metrics", headers={"Authorization": "Bearer scrape-0000"})
        right = await c.get("/metrics", headers={"Authorization": "Bearer scrape-7c1e"})
        health = await c.get("/healthz")
    assert missing.status_code == wrong.status_code == 401
    assert missing.headers["www-authenticate"].startswith("Bearer")
    assert "scrumy_tasks" not in missing.text
    assert right.status_code == 200 and "scrumy_tasks" in right.text
    assert health.status_code == 200  # only /metrics is guarded


async def test_the_metrics_token_is_a_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("METRICS_TOKEN", "scrape-7c1e")
    settings = load_settings(None)
    assert settings.metrics_token is not None
    assert settings.metrics_token.get_secret_value() == "scrape-7c1e"
    assert "scrape-7c1e" not in repr(settings)
