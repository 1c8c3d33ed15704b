"""`scrumy serve` as a person runs it: a real process, a real port, stopped with SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from sandbox.server import free_port
from storage.vault import new_key


def _wait_until_up(client: httpx.Client, process: subprocess.Popen[str]) -> httpx.Response:
    """Poll /healthz while the process starts (migrations, then uvicorn binds)."""
    for _ in range(400):
        try:
            return client.get("/healthz")
        except httpx.TransportError:
            if process.poll() is not None:
                break
            time.sleep(0.05)
    process.kill()
    output, _ = process.communicate()
    raise AssertionError(f"scrumy serve did not come up:\n{output}")


def test_serve_answers_and_stops_cleanly(tmp_path: Path) -> None:
    port = free_port()
    env = {
        **os.environ,
        "SLACK_BOT_TOKEN": "xoxb-serve-test",
        "CLICKUP_CLIENT_ID": "cu-id",
        "CLICKUP_CLIENT_SECRET": "cu-secret-value",
        "SCRUMY_ENCRYPTION_KEYS": new_key(),
        "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'serve.db'}",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "scrumy", "serve", "--port", str(port)],
        cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        base = f"http://127.0.0.1:{port}"
        with httpx.Client(base_url=base, timeout=2) as client:
            answer = _wait_until_up(client, process)
            assert answer.json() == {"status": "ok"}
            assert client.get("/readyz").json() == {"status": "ready"}
            spec = client.get("/openapi.json").json()
            assert spec["servers"] == [{"url": base}]  # no APP_BASE_URL: its own address
            page = client.get("/auth/clickup/initiate", params={"t": "forged"})
            assert page.status_code == 400 and "not valid" in page.text
            refused = client.post("/api/tasks", json={})
            assert refused.status_code == 401
    finally:
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=20)
    assert process.returncode == 0, output
    assert "serving on http://127.0.0.1" in output
    assert "cu-secret-value" not in output and "xoxb-serve-test" not in output
