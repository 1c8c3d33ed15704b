"""Names from outside (a ClickUp workspace, a Notion workspace, a Slack profile) made safe to
show: bidirectional controls and other invisible format or control characters are removed.

An attacker who names a workspace `Acme\\u202eeciffo` can make a page or a Slack message read
differently from what it says (the "Trojan Source" trick), and a newline or a NUL in a name can
break a log line or a message layout. Letters, digits, punctuation and emoji of every script
stay; the zero-width joiner stays so that composed emoji keep their look.
"""

from __future__ import annotations

import unicodedata

# Unicode categories removed: Cc (controls: NUL, newline, tab, ESC…), Cf (format: the bidi
# embeddings, overrides and isolates U+202A to 202E and U+2066 to 2069, the marks U+200E/200F/061C,
# zero-width space, BOM…), Co and Cn (private use, unassigned), Zl and Zp (line and paragraph
# separators).
_REMOVED = frozenset({"Cc", "Cf", "Co", "Cn", "Zl", "Zp"})
_KEPT = frozenset({"\u200d"})  # ZERO WIDTH JOINER, inside emoji sequences


def clean_name(text: str, *, limit: int = 255) -> str:
    """`text` without control, bidi and other invisible characters, its spaces collapsed, at
    most `limit` characters long."""
    kept = "".join(ch for ch in text if ch in _KEPT or unicodedata.category(ch) not in _REMOVED)
    return " ".join(kept.split())[:limit]


def clean_optional(text: str | None, *, limit: int = 255) -> str | None:
    """`clean_name` for an optional name; None (not "") when nothing is left."""
    if text is None:
        return None
    return clean_name(text, limit=limit) or None
