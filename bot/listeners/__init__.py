"""The Slack app's listeners, one module per entry point, each with a `register(app, deps)`.

    register_listeners(app, ListenerDeps(utility, tools, links, clock)) adds them all:

- `commands` — `/tasks connect|disconnect|status|pending|help`;
- `actions` — the buttons of every surface (connect, disconnect, choose, retry, dismiss, and
  a review's create, edit, create all);
- `home` — the App Home tab and its menus;
- `shortcuts` — the "Create task" message shortcut and its form;
- `review` — the Edit modal of an item under review (its buttons are `actions`');
- `options` — the menus that search a person's lists and databases as they type.

Every listener acknowledges Slack first and does the work after (Bolt answers Slack at the
ack), and every error a person can cause reads as one short sentence saying what to do
(`bot.listeners.replies`).
"""

from __future__ import annotations

from slack_bolt.async_app import AsyncApp

from bot.listeners import actions, commands, home, options, review, shortcuts
from bot.listeners.deps import ListenerDeps

__all__ = ["ListenerDeps", "register_listeners"]


def register_listeners(app: AsyncApp, deps: ListenerDeps) -> None:
    """Add every listener of Scrumy Tasks to `app`."""
    commands.register(app, deps)
    actions.register(app, deps)
    home.register(app, deps)
    shortcuts.register(app, deps)
    review.register(app, deps)
    options.register(app, deps)
