"""The demo's world: the people of Acme, their Slack, ClickUp and Notion, and our apps there.

The emulators' demo seeds (`seed_demo_slack`, `seed_demo_clickup`, `seed_demo_notion`) give Ana,
Bo and Cy; Dana joins them here so that four people can start in four situations (nothing
connected, ClickUp only, both tools with "smart", both with "ask me"), and Eli, who is the
person at the browser when `--serve` leaves the rest to try. Our Slack app, ClickUp
app and Notion integration are registered with redirect URIs on the app's own address, which
is only known once its port is bound.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.app import BOT_SCOPES
from sandbox.clickup import ClickUpSandbox, seed_demo_clickup
from sandbox.notion import NotionSandbox, seed_demo_notion
from sandbox.slack import SlackSandbox, seed_demo_slack

TEAM = "T0ACME"
TEAM_NAME = "Acme"
CHANNEL = "C0GENERAL"
CLICKUP_TEAM = "9001"

# Our apps, as an operator registers them with each service (throwaway values).
SLACK_CLIENT_ID = "demo-slack-app"
SLACK_CLIENT_SECRET = "demo-slack-secret-4b1f"  # noqa: S105
SLACK_SIGNING_SECRET = "demo-signing-secret-8e2a"  # noqa: S105
CLICKUP_CLIENT_ID = "demo-clickup-app"
CLICKUP_CLIENT_SECRET = "demo-clickup-secret-2c7d"  # noqa: S105
NOTION_CLIENT_ID = "demo-notion-app"
NOTION_CLIENT_SECRET = "demo-notion-secret-6a90"  # noqa: S105
# The verification token of the Notion integration's webhook subscription, as the operator
# sets it (NOTION_WEBHOOK_VERIFICATION_TOKEN) after Notion sent it to /webhooks/notion.
NOTION_WEBHOOK_TOKEN = "secret_demo-notion-webhook-verification-d41e"  # noqa: S105
# Slack's own token for the workspace in the emulator's seed; the app never sees it, it gets
# its own bot token by being installed.
SEED_BOT_TOKEN = "xoxb-acme-seed"  # noqa: S105


@dataclass(frozen=True)
class Person:
    """Someone at Acme: their Slack id, and who they are in ClickUp and Notion."""

    slack_id: str
    name: str
    email: str
    clickup_id: int
    notion_id: str

    @property
    def first_name(self) -> str:
        return self.name.split()[0]


ANA = Person("U0ANA", "Ana Lima", "ana@acme.example", 101, "u-ana")
BO = Person("U0BO", "Bo Chen", "bo@acme.example", 102, "u-bo")
CY = Person("U0CY", "Cy Roy", "cy@acme.example", 103, "u-cy")
DANA = Person("U0DANA", "Dana Ortiz", "dana@acme.example", 104, "u-dana")
# Eli has nothing to do in the story: with `--serve`, the person at the browser is Eli.
ELI = Person("U0ELI", "Eli Park", "eli@acme.example", 105, "u-eli")
PEOPLE = (ANA, BO, CY, DANA, ELI)
JOINING = (DANA, ELI)  # not in the emulators' demo seeds


def name_of(slack_id: str) -> str:
    """A person's name from their Slack id (the id itself for someone we do not know)."""
    return next((p.name for p in PEOPLE if p.slack_id == slack_id), slack_id)


@dataclass(frozen=True)
class Worlds:
    """The state of the three emulators."""

    slack: SlackSandbox
    clickup: ClickUpSandbox
    notion: NotionSandbox


def seed_worlds(app_url: str) -> Worlds:
    """The emulators' demo seeds, Dana, and our apps sending the browser back to `app_url`."""
    slack = SlackSandbox()
    seed_demo_slack(slack, team_id=TEAM, bot_token=SEED_BOT_TOKEN)
    for person in JOINING:
        slack.add_user(TEAM, person.slack_id, person.name, person.email, tz="America/New_York")
        slack.channels[CHANNEL].members.add(person.slack_id)
    slack.installs.add_app(
        SLACK_CLIENT_ID, SLACK_CLIENT_SECRET, f"{app_url}/slack/oauth_redirect",
        scopes=set(BOT_SCOPES),
    )  # fmt: skip
    slack.openid.add_app(SLACK_CLIENT_ID, SLACK_CLIENT_SECRET, f"{app_url}/auth/slack/callback")

    clickup = ClickUpSandbox()
    seed_demo_clickup(
        clickup, client_id=CLICKUP_CLIENT_ID, client_secret=CLICKUP_CLIENT_SECRET,
        redirect_uri=f"{app_url}/auth/clickup/callback",
    )  # fmt: skip
    for person in JOINING:
        clickup.add_user(person.clickup_id, person.name, person.email)
        clickup.teams[CLICKUP_TEAM]["members"].append(person.clickup_id)

    notion = NotionSandbox()
    seed_demo_notion(
        notion, client_id=NOTION_CLIENT_ID, client_secret=NOTION_CLIENT_SECRET,
        redirect_uri=f"{app_url}/auth/notion/callback",
    )  # fmt: skip
    for person in JOINING:
        notion.add_user(person.notion_id, person.name, person.email)
    return Worlds(slack=slack, clickup=clickup, notion=notion)


def browser_signed_in(worlds: Worlds, person: Person) -> None:
    """The browser at hand is signed in to ClickUp and Notion as `person`: their consent pages
    grant the person's own account."""
    worlds.clickup.consent_user_id = person.clickup_id
    worlds.notion.consent_user_id = person.notion_id
