"""No token reaches a log line, whoever logs it and however."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from primitives.enums import ProviderName
from routing.notify import LogNotifier
from scrumy.logs import configure_logging, redact
from storage.engine import create_engine, session_factory
from storage.migrate import upgrade
from tests.fakes import FakeClock
from tests.wiring import TEAM, wire

SECRETS = [
    "pk_61681706_Q0Z8L5XH1YAJ4TPW9R6FUK7C3MNB2DEV",  # ClickUp personal token
    "61681706_dc747044a6fd2a2f3e0a6ee3b5b8d9c0d21f2c85",  # ClickUp OAuth token
    "secret_Jr8BPS3fj9nYqTqPD5cXkcfvN2u1qVZ2eIbW6xk4m1H",  # Notion, legacy prefix
    "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",  # Notion, current prefix
    "xoxb-17653672481-19874698323-pdFZKVeTuE8sk7oOcBrzbqgy",  # Slack bot
    "xoxp-17653672481-19874698323-19874698324-a1b2c3d4e5f6",  # Slack user
    "xapp-1-A0123456789-1234567890123-abcdef0123456789",  # Slack app-level
    "sct_VGhpcyBpcyBhIHRlc3Qga2V5IGZvciBTY3J1bXk",  # our API key
]


@pytest.fixture
def log_stream() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    configure_logging("DEBUG", stream=stream)
    yield stream
    root.handlers[:] = saved[0]
    root.setLevel(saved[1])


@pytest.mark.parametrize("secret", SECRETS)
def test_tokens_never_reach_a_log_line(log_stream: io.StringIO, secret: str) -> None:
    log = logging.getLogger("providers.example")
    log.info("token %s used", secret)
    log.warning(f"inline {secret} in an f-string")
    log.error("request failed", extra={"ignored": secret})
    log.info("headers: %s", {"Authorization": f"Bearer {secret}"})
    log.info("payload %r", {"access_token": secret, "refresh_token": secret})
    try:
        raise RuntimeError(f"exchange failed for {secret}")
    except RuntimeError:
        log.exception("boom")
    output = log_stream.getvalue()
    assert secret not in output
    assert output.count("[redacted]") >= 6
    assert "exchange failed for" in output  # the message itself survives


@pytest.mark.parametrize(
    ("text", "kept"),
    [
        ("Authorization: Bearer abc.def-ghi_jkl", "Authorization"),
        ("Authorization: Basic Y2xpZW50OnNlY3JldA==", "Authorization"),
        ("POST /oauth/token?client_id=1&client_secret=s3cr3tvalue&code=c0de42", "client_id=1"),
        ('{"access_token": "tok_123456", "workspace_name": "Acme"}', "Acme"),
        ("GET /auth/clickup/callback?code=abc123&state=xyz789", "/auth/clickup/callback"),
        ("GET /auth/notion/initiate?t=eyJ0ZWFtIjoiVDEifQ.sig", "/auth/notion/initiate"),
        ("stored gAAAAABnZXRfcmVhbF9jaXBoZXJ0ZXh0X2hlcmVfMTIzNDU2Nzg5MA==", "stored"),
    ],
)
def test_redact_hides_credentials_and_keeps_context(text: str, kept: str) -> None:
    redacted = redact(text)
    assert "[redacted]" in redacted
    assert kept in redacted
    for secret in ("abc.def-ghi_jkl", "Y2xpZW50", "s3cr3tvalue", "c0de42", "tok_123456",
                   "abc123", "xyz789", "eyJ0ZWFt", "gAAAAABnZXRf"):  # fmt: skip
        assert secret not in redacted


def test_ordinary_text_is_left_alone() -> None:
    text = 'ClickUp said {"err": "Team not authorized", "ECODE": "OAUTH_023"} for list 901'
    assert redact(text) == text


def test_httpx_request_lines_are_redacted(log_stream: io.StringIO) -> None:
    logging.getLogger("httpx").warning(
        "HTTP Request: POST https://api.clickup.com/api/v2/oauth/token"
        '?client_secret=abcdefgh&code=xyz "HTTP/1.1 200 OK"'
    )
    assert "abcdefgh" not in log_stream.getvalue()
    assert "xyz" not in log_stream.getvalue()


async def test_debug_logging_never_writes_sql_parameters_or_rows(
    log_stream: io.StringIO, tmp_path: Path
) -> None:
    """Task text and e-mail addresses are the people's; LOG_LEVEL=DEBUG must not copy them
    into the log (SQLAlchemy logs statements and rows, aiosqlite every call's arguments)."""
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'logged.db'}")
    try:
        await upgrade(engine)
        wiring = wire(session_factory(engine), FakeClock())
        await wiring.utility.create_task(
            "U1",
            {
                "title": "Confidential HR follow-up with Dana",
                "assignee": {"email": "dana.private@acme.example"},
            },
            team_id=TEAM,
        )
        await wiring.utility.get_auth_status("U1", team_id=TEAM)
        await wiring.utility.task_counts()
    finally:
        await engine.dispose()
    logged = log_stream.getvalue()
    assert "Confidential HR follow-up" not in logged
    assert "dana.private@acme.example" not in logged
    assert logging.getLogger("sqlalchemy.engine").getEffectiveLevel() >= logging.WARNING
    assert logging.getLogger("aiosqlite").getEffectiveLevel() >= logging.WARNING


async def test_the_log_notifier_tells_of_every_connect_and_replace(
    log_stream: io.StringIO,
) -> None:
    notifier = LogNotifier()
    await notifier.connection_changed(
        "T1", "U1", ProviderName.CLICKUP, "Acme (ana@acme.example)", replaced=False
    )
    await notifier.connection_changed("T1", "U1", ProviderName.NOTION, None, replaced=True)
    lines = log_stream.getvalue().splitlines()
    assert "U1 connected ClickUp (Acme (ana@acme.example)) in T1" in lines[-2]
    assert "U1 replaced their connection to Notion (unnamed account) in T1" in lines[-1]
    assert "/tasks disconnect notion" in lines[-1]


async def test_the_log_notifier_tells_of_a_flush_by_count(log_stream: io.StringIO) -> None:
    await LogNotifier().tasks_flushed("T1", "U1", ["tsk_1", "tsk_2"])
    assert "2 waiting task(s) of U1 were queued" in log_stream.getvalue()
