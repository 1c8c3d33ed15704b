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
ack), once the other requests waiting for their ack have theirs (`ListenerDeps.acks`), and
every error a person can cause reads as one short sentence saying what to do
(`bot.listeners.replies`).
"""

from __future__ import annotations

from slack_bolt.async_app import AsyncApp
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.response import BoltResponse

from bot.background import AckGate
from bot.listeners import actions, commands, home, options, review, shortcuts
from bot.listeners.deps import ListenerDeps

__all__ = ["ListenerDeps", "register_listeners"]


def register_listeners(app: AsyncApp, deps: ListenerDeps) -> None:
    """Add every listener of Scrumy Tasks to `app`, and count the requests it has not answered
    yet (`deps.acks`), over HTTP and Socket Mode alike."""
    _count_acks(app, deps.acks)
    commands.register(app, deps)
    actions.register(app, deps)
    home.register(app, deps)
    shortcuts.register(app, deps)
    review.register(app, deps)
    options.register(app, deps)


def _count_acks(app: AsyncApp, acks: AckGate) -> None:
    """Count every request from its dispatch to its answer. Both Bolt's HTTP handler and its
    Socket Mode handler call `app.async_dispatch`, which returns once the listener acked; a
    Bolt middleware cannot count this (its `next()` only marks the chain to go on: the listener
    runs after every middleware has returned)."""
    dispatch = app.async_dispatch

    async def counted(request: AsyncBoltRequest) -> BoltResponse:
        acks.arrived()
        try:
            return await dispatch(request)
        finally:
            acks.answered()

    setattr(app, "async_dispatch", counted)  # noqa: B010 (the instance's, not the class's)
