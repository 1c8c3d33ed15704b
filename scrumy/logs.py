"""One configured logging path, with every line passed through a redaction filter.

Tokens must never reach a log line, whatever logged them (our code, httpx's request lines,
uvicorn, a traceback). So the filter sits on the root handler, not on our loggers: it rewrites
the fully formatted message and any traceback text before a handler writes them.
"""

from __future__ import annotations

import logging
import re
import sys
from typing import TextIO

REDACTED = "[redacted]"

_PATTERNS: tuple[re.Pattern[str], ...] = (
    # Authorization headers: Bearer/Basic credentials.
    re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]{6,}"),
    # Slack bot/user/app/config tokens.
    re.compile(r"\bxox[abeposr]-[A-Za-z0-9-]{6,}"),
    re.compile(r"\bxapp-[A-Za-z0-9-]{6,}"),
    # ClickUp personal tokens (pk_<user>_<32 chars>) and OAuth access tokens (<user>_<hex>).
    re.compile(r"\bpk_[A-Za-z0-9_]{6,}"),
    re.compile(r"\b\d{3,}_[0-9a-fA-F]{20,}\b"),
    # Notion integration tokens, current and legacy prefixes, and refresh tokens.
    re.compile(r"\b(?:ntn|secret|nrt)_[A-Za-z0-9]{10,}"),
    # Our own API keys.
    re.compile(r"\bsct_[A-Za-z0-9_-]{10,}"),
    # Fernet ciphertexts and keys are secrets too.
    re.compile(r"\bgAAAAA[A-Za-z0-9_=-]{20,}"),
)

# `name=value`, `"name": "value"` and `name: value` for secret-looking field names.
_SECRET_FIELDS = re.compile(
    r"(?i)(\"?\b(?:access_token|refresh_token|client_secret|token|password|secret|"
    r"api_key|authorization|signing_secret)\b\"?\s*[=:]\s*\"?)([^\s\"&,;}]+)"
)


# OAuth codes and states in query strings (a callback URL in an access log).
_QUERY_SECRETS = re.compile(r"(?i)([?&](?:code|state|t)=)([^&\s\"']+)")


def redact(text: str) -> str:
    """Replace anything that looks like a credential in `text` with `[redacted]`."""
    for pattern in _PATTERNS:
        text = pattern.sub(REDACTED, text)
    text = _SECRET_FIELDS.sub(lambda m: m.group(1) + REDACTED, text)
    return _QUERY_SECRETS.sub(lambda m: m.group(1) + REDACTED, text)


class RedactingFilter(logging.Filter):
    """Rewrites a record's message and traceback text with `redact` (always lets it through)."""

    def __init__(self) -> None:
        super().__init__()
        self._formatter = logging.Formatter()

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except (TypeError, ValueError):
            message = f"{record.msg!r} {record.args!r}"
        record.msg = redact(message)
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = self._formatter.formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


def configure_logging(level: str = "INFO", stream: TextIO | None = None) -> logging.Handler:
    """Send every logger's records through one redacting handler on the root logger.

    Called once by the composition root. Returns the handler (tests attach to its stream).
    """
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(RedactingFilter())
    root = logging.getLogger()
    for existing in list(root.handlers):
        root.removeHandler(existing)
    root.addHandler(handler)
    root.setLevel(level)
    # httpx logs every request URL at INFO (URLs may carry codes and ids): never logged.
    logging.getLogger("httpx").setLevel(max(logging.getLevelName(level), logging.WARNING))
    # Alembic narrates every connection; `storage.migrate` logs the one line that matters.
    logging.getLogger("alembic").setLevel(logging.WARNING)
    # Never SQL with its parameters or result rows (task text, e-mail addresses), even when
    # debugging: SQLAlchemy logs statements at INFO and rows at DEBUG, aiosqlite logs every
    # call with its arguments at DEBUG. Their warnings and errors still come through.
    for name in ("sqlalchemy", "aiosqlite", "asyncpg"):
        logging.getLogger(name).setLevel(logging.WARNING)
    return handler
