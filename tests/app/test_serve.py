"""`scrumy serve` as a person runs it: a real process, a real port, stopped with SIGTERM."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx

from sandbox.server import free_port, serve_app
from sandbox.slack import SlackSandbox, create_slack_emulator
from sandbox.slack_requests import app_home_opened, event_callback
from sandbox.slack_socket import socket_payload
from storage.vault import new_key


async def _wait_until_up(
    client: httpx.AsyncClient, process: subprocess.Popen[str]
) -> httpx.Response:
    """Poll /healthz while the process starts (auth.test, migrations, then uvicorn binds);
    the event loop stays free for the Slack emulator the process asks."""
    for _ in range(400):
        try:
            return await client.get("/healthz")
        except httpx.TransportError:
            if process.poll() is not None:
                break
            await asyncio.sleep(0.05)
    process.kill()
    output, _ = process.communicate()
    raise AssertionError(f"scrumy serve did not come up:\n{output}")


def _slack() -> SlackSandbox:
    world = SlackSandbox()
    world.add_workspace("T0SERVE", "xoxb-serve-test")
    return world


async def test_serve_answers_and_stops_cleanly(tmp_path: Path) -> None:
    async with serve_app(create_slack_emulator(_slack())) as slack_url:
        await _serve_and_stop(tmp_path, f"{slack_url}/api")


async def test_a_bot_token_slack_refuses_stops_start_up_with_one_line(tmp_path: Path) -> None:
    async with serve_app(create_slack_emulator(SlackSandbox())) as slack_url:
        env = {
            **os.environ, "SLACK_BOT_TOKEN": "xoxb-revoked-token",
            "SLACK_API_URL": f"{slack_url}/api", "SCRUMY_ENCRYPTION_KEYS": new_key(),
            "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'serve.db'}",
        }  # fmt: skip
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "scrumy", "serve", "--port", str(free_port()), cwd=tmp_path,
            env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
        )  # fmt: skip
        output = (await asyncio.wait_for(process.communicate(), 60))[0].decode()
    assert process.returncode != 0
    assert "SLACK_BOT_TOKEN: cannot tell which Slack workspace it belongs to" in output
    assert "invalid_auth" in output and "Traceback" not in output
    assert "xoxb-revoked-token" not in output


async def _serve_and_stop(tmp_path: Path, slack_api: str) -> None:
    port = free_port()
    env = {
        **os.environ,
        "SLACK_BOT_TOKEN": "xoxb-serve-test",
        "SLACK_SIGNING_SECRET": "serve-test-signing-secret",
        "SLACK_API_URL": slack_api,
        "CLICKUP_CLIENT_ID": "cu-id",
        "CLICKUP_CLIENT_SECRET": "cu-secret-value",
        "SCRUMY_ENCRYPTION_KEYS": new_key(),
        "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'serve.db'}",
    }
    # Popen only starts the process; the polling below awaits, so the emulator keeps answering.
    process = subprocess.Popen(  # noqa: ASYNC220
        [sys.executable, "-m", "scrumy", "serve", "--port", str(port)],
        cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        base = f"http://127.0.0.1:{port}"
        async with httpx.AsyncClient(base_url=base, timeout=2) as client:
            answer = await _wait_until_up(client, process)
            assert answer.json() == {"status": "ok"}
            assert (await client.get("/readyz")).json() == {"status": "ready"}
            spec = (await client.get("/openapi.json")).json()
            assert spec["servers"] == [{"url": base}]  # no APP_BASE_URL: its own address
            page = await client.get("/auth/clickup/initiate", params={"t": "forged"})
            assert page.status_code == 400 and "not valid" in page.text
            refused = await client.post("/api/tasks", json={})
            assert refused.status_code == 401
    finally:
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=20)
    assert process.returncode == 0, output
    assert "serving on http://127.0.0.1" in output
    assert "Slack: the bot token serves the workspace T0SERVE" in output
    assert "cu-secret-value" not in output and "xoxb-serve-test" not in output


async def test_socket_mode_reaches_slack_over_the_socket_and_serves_http(tmp_path: Path) -> None:
    """`scrumy socket`: no signing secret, an app-level token; Slack's envelopes are acked over
    the WebSocket while the connect pages and the API answer over HTTP."""
    world = _slack()
    world.installs.add_app_token("xapp-1-A0SCRUMY-serve-socket")
    async with serve_app(create_slack_emulator(world)) as slack_url:
        port = free_port()
        env = {
            **os.environ, "SLACK_BOT_TOKEN": "xoxb-serve-test",
            "SLACK_APP_TOKEN": "xapp-1-A0SCRUMY-serve-socket", "SLACK_API_URL": f"{slack_url}/api",
            "SCRUMY_ENCRYPTION_KEYS": new_key(),
            "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'socket.db'}",
        }  # fmt: skip
        process = subprocess.Popen(  # noqa: ASYNC220
            [sys.executable, "-m", "scrumy", "socket", "--port", str(port)],
            cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )  # fmt: skip
        try:
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=2) as client:
                await _wait_until_up(client, process)
                await world.socket.wait_for_connection(1, within=30)
                kind, payload = socket_payload(
                    event_callback(app_home_opened("U0ANA", "D0ANA"), team_id="T0SERVE")
                )
                await world.socket.deliver(kind, payload)
                assert (await client.post("/slack/events", content=b"{}")).status_code == 404
        finally:
            process.send_signal(signal.SIGTERM)
            output, _ = process.communicate(timeout=20)
    assert process.returncode == 0, output
    assert "with Slack over Socket Mode" in output
    assert len(world.socket.acks) == 1 and world.socket.acks[0].seconds < 3
    assert "xapp-1-A0SCRUMY-serve-socket" not in output and "xoxb-serve-test" not in output


async def test_socket_mode_with_a_token_slack_refuses_stops_with_one_line(tmp_path: Path) -> None:
    async with serve_app(create_slack_emulator(_slack())) as slack_url:
        env = {
            **os.environ, "SLACK_BOT_TOKEN": "xoxb-serve-test",
            "SLACK_APP_TOKEN": "xapp-1-never-issued", "SLACK_API_URL": f"{slack_url}/api",
            "SCRUMY_ENCRYPTION_KEYS": new_key(),
            "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'socket.db'}",
        }  # fmt: skip
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "scrumy", "socket", "--port", str(free_port()), cwd=tmp_path,
            env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
        )  # fmt: skip
        output = (await asyncio.wait_for(process.communicate(), 60))[0].decode()
    assert process.returncode != 0
    assert "SLACK_APP_TOKEN" in output and "invalid_auth" in output
    assert "Traceback" not in output and "xapp-1-never-issued" not in output
