"""The Slack app's listeners, one module per entry point, each with a `register(app, deps)`.

    register_listeners(app, ListenerDeps(utility, tools, links, clock)) adds them all:

- `commands` — `/tasks connect|disconnect|status|pending|help`;
- `actions` — the buttons of every surface (connect, disconnect, choose, retry, dismiss);
- `home` — the App Home tab and its menus;
- `shortcuts` — the "Create task" message shortcut and its form;
- `options` — the menus that search a person's lists and databases as they type.

Every listener acknowledges Slack first and does the work after (Bolt answers Slack at the
ack), once the other requests waiting for their ack have theirs (`ListenerDeps.acks`), and
every error a person can cause reads as one short sentence saying what to do
(`bot.listeners.replies`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from slack_bolt.async_app import AsyncApp

from bot.listeners import actions, commands, home, options, shortcuts
from bot.listeners.deps import ListenerDeps

__all__ = ["ListenerDeps", "register_listeners"]


def register_listeners(app: AsyncApp, deps: ListenerDeps) -> None:
    """Add every listener of Scrumy Tasks to `app`, and the middleware counting the requests
    not yet answered (`deps.acks`), over HTTP and Socket Mode alike."""

    async def count_acks(next: Callable[[], Awaitable[None]]) -> None:  # Bolt passes it by name
        deps.acks.arrived()
        try:
            await next()  # returns once the listener acked (Bolt answers then)
        finally:
            deps.acks.answered()

    app.middleware(count_acks)
    commands.register(app, deps)
    actions.register(app, deps)
    home.register(app, deps)
    shortcuts.register(app, deps)
    options.register(app, deps)
