"""Text for Slack's `mrkdwn`: what people wrote, escaped and cut to fit.

Slack reads `&`, `<` and `>` as its own control characters in `mrkdwn` (links, mentions,
dates), so every string that comes from a person or a tool goes through `escape` (or `fit`,
which also cuts it to a length measured after escaping, never inside an entity). Slack has no
escape for `*`, `_`, `~` and `` ` ``: a title such as `*urgent* fix` shows in bold, which
changes how it looks, never what it links to or whom it mentions.

`plain_text` objects (buttons, headers, options) are shown as written and need no escaping;
they are only cut (`cut`).
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime

ELLIPSIS = "…"
_ESCAPES = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}
_SLACK_ID = re.compile(r"^[UW][A-Z0-9]{1,40}$")
_MAX_URL = 400  # a ClickUp or Notion task's address is under 150


def escape(text: str) -> str:
    """`text` with Slack's three control characters escaped."""
    return "".join(_ESCAPES.get(ch, ch) for ch in text)


def cut(text: str, limit: int) -> str:
    """`text` at most `limit` characters long, ending in "…" when cut."""
    if len(text) <= limit:
        return text
    return text[: max(limit - 1, 0)].rstrip() + ELLIPSIS


def fit(text: str, limit: int) -> str:
    """`text` escaped, at most `limit` characters long once escaped, ending in "…" when cut.

    Characters are dropped whole, so an entity such as `&lt;` is never cut in half.
    """
    escaped = escape(text)
    if len(escaped) <= limit:
        return escaped
    kept: list[str] = []
    size = 0
    for ch in text:
        piece = _ESCAPES.get(ch, ch)
        if size + len(piece) > limit - 1:
            break
        kept.append(piece)
        size += len(piece)
    return "".join(kept).rstrip() + ELLIPSIS


def one_line(text: str) -> str:
    """`text` with its line breaks and runs of spaces collapsed to single spaces."""
    return " ".join(text.split())


def mention(user_id: str) -> str:
    """`<@U…>` for a Slack user id; anything else is shown as escaped text, never parsed."""
    if _SLACK_ID.match(user_id):
        return f"<@{user_id}>"
    return fit(user_id, 40)


def safe_url(url: str | None) -> str | None:
    """`url` ready to go inside `<…|…>`, or None when it is not a plain http(s) address."""
    if not url or len(url) > _MAX_URL or not url.startswith(("https://", "http://")):
        return None
    if any(ch.isspace() or ch in "|<>" for ch in url):
        return None
    return url.replace("&", "&amp;")


def link(url: str | None, label: str, limit: int) -> str:
    """`<url|label>` with the label escaped and cut; the label alone when `url` is unusable."""
    text = fit(label, limit) or escape(url or "")
    target = safe_url(url)
    return f"<{target}|{text}>" if target else text


def due_text(due: date | datetime) -> str:
    """When a task is due, as each reader sees it.

    A date is shown as written (it means that day wherever the reader is); a moment in time uses
    Slack's date formatting so each reader sees their own time zone, with a UTC fallback.
    """
    if isinstance(due, datetime):
        moment = due if due.tzinfo else due.replace(tzinfo=UTC)
        fallback = moment.astimezone(UTC).strftime("%a %d %b %Y %H:%M UTC")
        return f"<!date^{int(moment.timestamp())}^{{date_short_pretty}} {{time}}|{fallback}>"
    return due.strftime("%a %d %b %Y")
