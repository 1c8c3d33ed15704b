"""Block Kit views: pure functions from the routing layer's results to Slack's JSON.

Nothing here calls Slack or reads the database; the listeners and the notifier fetch what to
show and post what these functions return. One module per thing a person sees:

- `meeting` — the meeting message and its thread continuations;
- `home` — the App Home tab;
- `options` — the answers of the Home tab's list and database menus;
- `messages` — direct messages and the `/tasks` replies;
- `actions` — every action id, shared with the listeners;
- `task_lines` — one task as a line, and its buttons (shared by all of the above);
- `connections` — a connection's status and its connect, reconnect and disconnect buttons;
- `blocks` and `mrkdwn` — Block Kit's pieces within Slack's limits, and text made safe.
"""
