"""ClickUp API v2: OAuth, the workspace hierarchy as destinations, one-call task creation."""

from providers.clickup.client import ClickUpProvider, clickup_limiter

__all__ = ["ClickUpProvider", "clickup_limiter"]
