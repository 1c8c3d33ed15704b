"""Opaque ids for our rows."""

from __future__ import annotations

import secrets


def new_id(prefix: str) -> str:
    """An opaque, unguessable id such as `tsk_3q1v…`; the prefix tells a reader what it names."""
    return f"{prefix}_{secrets.token_urlsafe(15)}"
