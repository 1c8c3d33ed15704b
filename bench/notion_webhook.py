"""What Notion waits for: the work `POST /webhooks/notion` does before it answers.

The receiver (`routing.notion_updates.NotionStatusUpdates.receive`, built as `scrumy serve`
builds it) checks the signature, reads the event and stores it in the inbox; reading the page
and applying its status happen after the answer, so they are not timed here. For each backend
(a fresh SQLite file, a throwaway PostgreSQL database), EVENTS distinct signed
`page.properties_updated` events one after the other, then the same events again (Notion's
retries and duplicates: recognised, answered 200), then as many forged ones (401, nothing
stored). p50 / p99 / max per kind, in milliseconds.

Run: `.venv/bin/python bench/notion_webhook.py [--events N] [--backends sqlite,postgresql]`
(PostgreSQL: `BENCH_POSTGRES_URL`, default the test database of this machine).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import time
import uuid

from throwaway_db import migrated_database

from primitives.clock import SystemClock
from routing.notify import LogNotifier
from routing.notion_updates import NotionStatusUpdates
from routing.remote_status import RemoteStatuses
from routing.status_reads import StatusReader
from sandbox.notion_webhooks import notion_signature
from storage.engine import create_engine, session_factory
from storage.vault import TokenVault, new_key
from storage.webhook_inbox import WebhookInbox
from storage.webhook_verifications import WebhookVerifications

KEY = "secret_bench-notion-webhook-verification-token"


def event(n: int) -> bytes:
    return json.dumps({
        "id": str(uuid.uuid4()), "timestamp": f"2026-11-26T01:{n // 60 % 60:02d}:{n % 60:02d}.000Z",
        "workspace_id": "ws-acme", "workspace_name": "Acme",
        "subscription_id": str(uuid.uuid4()), "integration_id": str(uuid.uuid4()),
        "authors": [{"id": "u-ana", "type": "person"}], "attempt_number": 1,
        "api_version": "2025-09-03", "type": "page.properties_updated",
        "entity": {"id": str(uuid.uuid4()), "type": "page"},
        "data": {"parent": {"id": "db-1", "type": "database"}, "updated_properties": ["Stat"]},
    }).encode()  # fmt: skip


def summary(kind: str, times: list[float], statuses: set[int]) -> str:
    ms = sorted(t * 1000 for t in times)
    p99 = ms[min(len(ms) - 1, int(len(ms) * 0.99))]
    return (
        f"  {kind:<10} n={len(ms):<5} p50 {statistics.median(ms):6.2f} ms  p99 {p99:6.2f} ms  "
        f"max {ms[-1]:6.2f} ms  answered {sorted(statuses)}"
    )


async def run(backend: str, events: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        async with migrated_database(backend, folder) as url:
            engine = create_engine(url)
            try:
                sessions = session_factory(engine)
                clock = SystemClock()
                vault = TokenVault([new_key()])
                updates = NotionStatusUpdates(
                    key=KEY, sessions=sessions, clock=clock,
                    inbox=WebhookInbox(sessions, clock),
                    verifications=WebhookVerifications(sessions, vault, clock),
                    reader=StatusReader(sessions=sessions, vault=vault, clock=clock, providers={}),
                    statuses=RemoteStatuses(sessions=sessions, notifier=LogNotifier(),
                                            clock=clock),
                )  # fmt: skip
                bodies = [event(n) for n in range(events)]
                print(f"{backend}:")
                for kind, key in (("new", KEY), ("again", KEY), ("forged", "secret_a-guess")):
                    times: list[float] = []
                    statuses: set[int] = set()
                    for body in bodies:
                        headers = {"x-notion-signature": notion_signature(key, body)}
                        started = time.perf_counter()
                        receipt = await updates.receive(body, headers)
                        times.append(time.perf_counter() - started)
                        statuses.add(receipt.status)
                    print(summary(kind, times, statuses))
            finally:
                await engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--events", type=int, default=1000)
    parser.add_argument("--backends", default="sqlite,postgresql")
    args = parser.parse_args()
    for backend in args.backends.split(","):
        asyncio.run(run(backend.strip(), args.events))


if __name__ == "__main__":
    main()
