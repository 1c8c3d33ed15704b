"""A person's connection as the views show it: its status, and the buttons that connect,
reconnect or disconnect it (the Home tab, direct messages)."""

from __future__ import annotations

from bot.views import actions
from bot.views.blocks import Block, button, confirm
from primitives.enums import ProviderName
from routing.connections import AuthStatus, ConnectionStatus


def connection_of(auth: AuthStatus, tool: ProviderName) -> ConnectionStatus:
    return auth.clickup if tool is ProviderName.CLICKUP else auth.notion


def disconnect_button(tool: ProviderName) -> Block:
    action = actions.disconnect(tool)
    return button(
        "Disconnect",
        action_id=action.action_id,
        value=action.value,
        style="danger",
        confirmation=confirm(
            f"Disconnect {tool.label}?",
            f"Your tasks will wait until you connect {tool.label} again.",
            "Disconnect",
        ),
    )


def link_button(tool: ProviderName, url: str, text: str | None = None) -> Block:
    """A button opening a person's own connect link in their browser."""
    return button(
        text or f"Connect {tool.label}", action_id=actions.open_link(tool), url=url,
        style="primary",
    )  # fmt: skip


def connect_button(tool: ProviderName, text: str | None = None) -> Block:
    action = actions.connect(tool)
    return button(
        text or f"Connect {tool.label}", action_id=action.action_id, value=action.value,
        style="primary",
    )  # fmt: skip
