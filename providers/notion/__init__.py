"""Notion (API version 2025-09-03, data sources): OAuth with rotating refresh tokens,
data sources as destinations, pages mapped by each data source's schema."""

from providers.notion.client import NotionProvider, notion_limiter

__all__ = ["NotionProvider", "notion_limiter"]
