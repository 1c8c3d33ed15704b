"""Slack installs in many workspaces: Bolt's installation and OAuth state stores on our database,
and the whole "Add to Slack" flow through Bolt against the Slack emulator on real sockets."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import re
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from slack_bolt.adapter.starlette.async_handler import AsyncSlackRequestHandler
from slack_bolt.async_app import AsyncApp
from slack_bolt.context.async_context import AsyncBoltContext
from slack_bolt.error import BoltError
from slack_bolt.oauth.async_oauth_settings import AsyncOAuthSettings
from slack_sdk.errors import SlackApiError
from slack_sdk.oauth.installation_store.models.installation import Installation
from sqlalchemy import func, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bot.installations import (
    FOUND_KEPT,
    SlackInstallationStore,
    SlackOAuthStateStore,
    TokenRefresh,
)
from bot.listeners.install_events import register_install_events
from bot.slack_client import slack_web_client
from sandbox.server import bind_socket, serve_apps, socket_url
from sandbox.slack import SlackSandbox, create_slack_emulator
from sandbox.slack_requests import (
    SlackBody,
    app_home_opened,
    app_uninstalled,
    event_callback,
    signed,
    tokens_revoked,
)
from storage.models import SlackInstallation, SlackInstallState
from storage.vault import TokenVault, new_key
from tests.fakes import FakeClock

SIGNING_SECRET = "install-signing-secret"
CLIENT_ID, CLIENT_SECRET = "1111.2222", "install-client-secret"
SCOPES = ["chat:write", "commands", "users:read"]
HIDDEN_FIELD = re.compile(r'<input type="hidden" name="([^"]+)" value="([^"]*)">')

# slack_sdk sends the client id and secret of oauth.v2.access with aiohttp's BasicAuth, which
# this aiohttp deprecates; the warning is theirs to fix, not ours.
pytestmark = pytest.mark.filterwarnings("ignore:BasicAuth is deprecated:DeprecationWarning")


@pytest.fixture
def vault() -> TokenVault:
    return TokenVault([new_key()])


@pytest.fixture
def store(
    sessions: async_sessionmaker[AsyncSession], vault: TokenVault, clock: FakeClock
) -> SlackInstallationStore:
    return SlackInstallationStore(sessions, vault, clock)


def installation(
    team_id: str | None = "T0ACME", token: str = "xoxb-acme-1", **fields: Any
) -> Installation:
    values: dict[str, Any] = {
        "app_id": "A0SCRUMY", "team_id": team_id, "team_name": "Acme", "bot_token": token,
        "bot_id": "B0SCRUMY", "bot_user_id": "U0SCRUMYBOT", "bot_scopes": "chat:write,commands",
        "user_id": "U0ANA", "token_type": "bot", **fields,
    }  # fmt: skip
    return Installation(**values)


async def rows(sessions: async_sessionmaker[AsyncSession]) -> list[SlackInstallation]:
    async with sessions() as session:
        found = await session.scalars(select(SlackInstallation).order_by(SlackInstallation.team_id))
        return list(found.all())


# --- the installation store ---------------------------------------------------------------------


async def test_an_install_round_trips_through_bolts_models_encrypted_at_rest(
    store: SlackInstallationStore, sessions: async_sessionmaker[AsyncSession], vault: TokenVault
) -> None:
    saved = installation(bot_refresh_token="xoxe-1-refresh", bot_token_expires_in=43200)
    await store.async_save(saved)

    found = await store.async_find_installation(enterprise_id=None, team_id="T0ACME")
    assert found is not None
    assert (found.bot_token, found.bot_refresh_token) == ("xoxb-acme-1", "xoxe-1-refresh")
    assert found.bot_token_expires_at == saved.bot_token_expires_at
    assert (found.team_id, found.team_name, found.app_id, found.user_id) == (
        "T0ACME", "Acme", "A0SCRUMY", "U0ANA",
    )  # fmt: skip
    assert (found.bot_id, found.bot_user_id) == ("B0SCRUMY", "U0SCRUMYBOT")
    assert found.bot_scopes == ["chat:write", "commands"] and found.enterprise_id is None
    bot = await store.async_find_bot(enterprise_id=None, team_id="T0ACME")
    assert bot is not None and bot.bot_token == "xoxb-acme-1"
    assert bot.bot_token_expires_at == saved.bot_token_expires_at
    assert await store.bot_token("T0ACME") == "xoxb-acme-1"
    assert await store.bot_token("T0OTHER") is None
    assert await store.async_find_bot(enterprise_id=None, team_id="T0OTHER") is None
    # The person who installed finds it; someone else has no install of their own.
    assert await store.async_find_installation(enterprise_id=None, team_id="T0ACME",
                                               user_id="U0ANA")  # fmt: skip
    assert not await store.async_find_installation(enterprise_id=None, team_id="T0ACME",
                                                   user_id="U0BO")  # fmt: skip

    async with sessions() as session:
        raw = (await session.execute(text(
            "SELECT encrypted_bot_token, encrypted_bot_refresh_token FROM slack_installations"
        ))).one()  # fmt: skip
    assert "xoxb" not in raw[0] and "xoxe" not in raw[1]
    assert (vault.decrypt(raw[0]), vault.decrypt(raw[1])) == ("xoxb-acme-1", "xoxe-1-refresh")


async def test_installing_again_updates_the_row_in_place(
    store: SlackInstallationStore, sessions: async_sessionmaker[AsyncSession], clock: FakeClock
) -> None:
    await store.async_save(installation())
    [first] = await rows(sessions)
    clock.advance(3600)
    await store.async_save(installation(token="xoxb-acme-2", team_name="Acme Inc", user_id="U0BO"))
    [again] = await rows(sessions)
    assert again.id == first.id and again.created_at == first.created_at
    assert again.updated_at == clock.now() and again.team_name == "Acme Inc"
    assert again.installer_user_id == "U0BO"
    assert await store.bot_token("T0ACME") == "xoxb-acme-2"
    # Another workspace is another row, with its own token.
    await store.async_save(installation("T0BETA", "xoxb-beta-1", team_name="Beta"))
    assert [r.team_id for r in await rows(sessions)] == ["T0ACME", "T0BETA"]
    assert await store.bot_token("T0BETA") == "xoxb-beta-1"


async def test_two_saves_of_a_new_workspace_at_once_make_one_row(
    store: SlackInstallationStore, sessions: async_sessionmaker[AsyncSession]
) -> None:
    await asyncio.gather(
        store.async_save(installation(token="xoxb-a")),
        store.async_save(installation(token="xoxb-b")),
    )
    assert len(await rows(sessions)) == 1
    assert await store.bot_token("T0ACME") in {"xoxb-a", "xoxb-b"}


async def test_an_org_wide_install_serves_every_workspace_of_the_org(
    store: SlackInstallationStore,
) -> None:
    org = installation(None, "xoxb-org", enterprise_id="E0ORG", is_enterprise_install=True)
    await store.async_save(org)
    bot = await store.async_find_bot(enterprise_id="E0ORG", team_id="T0ANY",
                                     is_enterprise_install=True)  # fmt: skip
    assert bot is not None and bot.bot_token == "xoxb-org" and bot.is_enterprise_install
    assert await store.bot_token("T0ANY", enterprise_id="E0ORG") == "xoxb-org"
    assert await store.bot_token("T0ANY") is None
    assert await store.forget_workspace("T0ANY", "E0ORG", is_enterprise_install=True)
    assert await store.bot_token("T0ANY", enterprise_id="E0ORG") is None


async def test_deleting_removes_the_install(
    store: SlackInstallationStore, sessions: async_sessionmaker[AsyncSession]
) -> None:
    await store.async_save(installation())
    await store.async_save(installation("T0BETA", "xoxb-beta"))
    # A person's authorisation going changes nothing: the bot is the workspace's.
    await store.async_delete_installation(enterprise_id=None, team_id="T0ACME", user_id="U0ANA")
    assert len(await rows(sessions)) == 2
    await store.async_delete_all(enterprise_id=None, team_id="T0ACME")
    assert await store.async_find_bot(enterprise_id=None, team_id="T0ACME") is None
    assert await store.async_find_installation(enterprise_id=None, team_id="T0ACME") is None
    await store.async_delete_bot(enterprise_id=None, team_id="T0BETA")
    assert await rows(sessions) == []
    assert not await store.forget_workspace("T0BETA", None)


async def test_bolts_lookups_before_each_ack_are_answered_from_memory_for_a_few_seconds(
    store: SlackInstallationStore,
    sessions: async_sessionmaker[AsyncSession],
    vault: TokenVault,
    clock: FakeClock,
) -> None:
    await store.async_save(installation())
    found = await store.async_find_bot(enterprise_id=None, team_id="T0ACME")
    assert found is not None and found.bot_token == "xoxb-acme-1"
    # Changed behind this process's back (another process rotating the token):
    async with sessions() as session, session.begin():
        await session.execute(
            update(SlackInstallation).values(encrypted_bot_token=vault.encrypt("xoxb-2"))
        )
    kept = await store.async_find_bot(enterprise_id=None, team_id="T0ACME")
    assert kept is not None and kept.bot_token == "xoxb-acme-1"  # no query: what was found
    clock.advance(FOUND_KEPT + 1)
    fresh = await store.async_find_bot(enterprise_id=None, team_id="T0ACME")
    assert fresh is not None and fresh.bot_token == "xoxb-2"


async def test_a_save_or_an_uninstall_in_this_process_shows_at_once(
    store: SlackInstallationStore,
) -> None:
    assert await store.async_find_bot(enterprise_id=None, team_id="T0ACME") is None
    await store.async_save(installation())
    found = await store.async_find_bot(enterprise_id=None, team_id="T0ACME")
    assert found is not None
    await store.forget_workspace("T0ACME", None)
    assert await store.async_find_bot(enterprise_id=None, team_id="T0ACME") is None


async def test_an_install_without_a_bot_token_is_refused(store: SlackInstallationStore) -> None:
    with pytest.raises(BoltError):
        await store.async_save(Installation(team_id="T0ACME", user_id="U0ANA", user_token="xoxp-1"))


# --- the OAuth state store ----------------------------------------------------------------------


async def test_a_state_is_taken_once(
    sessions: async_sessionmaker[AsyncSession], clock: FakeClock
) -> None:
    states = SlackOAuthStateStore(sessions, clock)
    state = await states.async_issue()
    assert len(state) >= 43 and state != await states.async_issue()  # 256 random bits
    async with sessions() as session:
        hashes = set((await session.scalars(select(SlackInstallState.state_hash))).all())
    assert hashlib.sha256(state.encode()).hexdigest() in hashes  # only its hash is kept
    assert state not in hashes
    clock.advance(599)
    assert await states.async_consume(state) is True
    assert await states.async_consume(state) is False
    assert await states.async_consume("made-up") is False


async def test_a_state_expires_after_ten_minutes_and_is_purged(
    sessions: async_sessionmaker[AsyncSession], clock: FakeClock
) -> None:
    states = SlackOAuthStateStore(sessions, clock)
    stale = await states.async_issue()
    clock.advance(600)
    fresh = await states.async_issue()  # issuing purges the expired
    async with sessions() as session:
        assert await session.scalar(select(func.count()).select_from(SlackInstallState)) == 1
    assert await states.async_consume(stale) is False
    assert await states.async_consume(fresh) is True


# --- the whole flow: Bolt, our stores, the Slack emulator on real sockets ----------------------
# slack_sdk's AsyncWebClient speaks aiohttp, which in-process httpx transports cannot reach.


@dataclass
class InstallFlow:
    app_url: str
    slack_url: str
    browser: httpx.AsyncClient
    store: SlackInstallationStore
    homes: list[tuple[str | None, str | None]] = field(default_factory=list)  # team, bot token

    async def install(self, team_id: str, user_id: str) -> httpx.Response:
        """Press "Add to Slack" in a browser: Bolt's install path, the consent page, "Allow", and
        back to Bolt's redirect URI with the state cookie."""
        start = await self.browser.get(f"{self.app_url}/slack/install", params={"team": team_id})
        assert start.status_code == 302
        # Bolt's cookie is Secure, which a client sends only over https: send it by hand.
        cookie = start.headers["set-cookie"].split(";")[0]
        consent = await self.browser.get(start.headers["location"])
        assert consent.status_code == 200
        assert "Scrumy Tasks is requesting permission" in consent.text
        fields = dict(HIDDEN_FIELD.findall(consent.text))
        fields.update(user_id=user_id, decision="allow")
        allowed = await self.browser.post(f"{self.slack_url}/oauth/v2/authorize", data=fields)
        assert allowed.status_code == 302
        return await self.browser.get(allowed.headers["location"], headers={"Cookie": cookie})

    async def send_event(self, event: dict[str, Any], team_id: str, event_id: str) -> int:
        body: SlackBody = event_callback(event, team_id=team_id, event_id=event_id)
        # Bolt checks the signature's timestamp against the real clock (five minutes).
        headers = signed(SIGNING_SECRET, body, int(time.time()))
        url = f"{self.app_url}/slack/events"
        sent = await self.browser.post(url, content=body.body, headers=headers)
        return sent.status_code


@asynccontextmanager
async def install_flow(
    sessions: async_sessionmaker[AsyncSession],
    vault: TokenVault,
    clock: FakeClock,
    slack_world: SlackSandbox,
    *,
    token_rotation: bool = False,
) -> AsyncIterator[InstallFlow]:
    slack_sock, app_sock = bind_socket(), bind_socket()
    slack_url, app_url = socket_url(slack_sock), socket_url(app_sock)
    redirect_uri = f"{app_url}/slack/oauth_redirect"
    slack_world.installs.add_app(CLIENT_ID, CLIENT_SECRET, redirect_uri, scopes=set(SCOPES),
                                 token_rotation=token_rotation)  # fmt: skip
    store = SlackInstallationStore(sessions, vault, clock)
    settings = AsyncOAuthSettings(
        client_id=CLIENT_ID, client_secret=CLIENT_SECRET, scopes=SCOPES,
        installation_store=store, state_store=SlackOAuthStateStore(sessions, clock),
        authorization_url=f"{slack_url}/oauth/v2/authorize", install_path="/slack/install",
        redirect_uri_path="/slack/oauth_redirect", redirect_uri=redirect_uri,
        install_page_rendering_enabled=False,  # straight to Slack's consent page
    )  # fmt: skip
    bolt = AsyncApp(
        signing_secret=SIGNING_SECRET, client=slack_web_client(f"{slack_url}/api/"),
        installation_store=store,  # so Bolt refreshes tokens through this client
        oauth_settings=settings,
        process_before_response=True,  # the response waits for the listener: nothing to poll
    )  # fmt: skip
    register_install_events(bolt, store)
    async with httpx.AsyncClient(timeout=10) as browser:
        flow = InstallFlow(app_url, slack_url, browser, store)

        async def home_opened(context: AsyncBoltContext) -> None:
            flow.homes.append((context.team_id, context.bot_token))

        bolt.event("app_home_opened")(home_opened)
        handler = AsyncSlackRequestHandler(bolt)

        async def endpoint(request: Request) -> Response:
            return await handler.handle(request)

        web = Starlette(routes=[
            Route("/slack/install", endpoint, methods=["GET"]),
            Route("/slack/oauth_redirect", endpoint, methods=["GET"]),
            Route("/slack/events", endpoint, methods=["POST"]),
        ])  # fmt: skip
        emulator = create_slack_emulator(slack_world, clock=clock)
        async with serve_apps((emulator, slack_sock), (web, app_sock)):
            yield flow


async def test_installing_in_two_workspaces_then_uninstalling(
    sessions: async_sessionmaker[AsyncSession],
    vault: TokenVault,
    clock: FakeClock,
    slack_world: SlackSandbox,
) -> None:
    slack_world.add_workspace("T0BETA", "xoxb-placeholder", "Beta")
    async with install_flow(sessions, vault, clock, slack_world) as flow:
        done = await flow.install("T0ACME", "U0ANA")
        assert done.status_code == 200, done.text
        replayed = await flow.browser.get(done.url, headers=done.request.headers)
        assert replayed.status_code == 401  # the state was taken
        assert (await flow.install("T0BETA", "U0BETA")).status_code == 200

        acme, beta = await rows(sessions)
        assert (acme.team_id, acme.team_name, acme.installer_user_id) == ("T0ACME", "Acme", "U0ANA")
        assert (beta.team_id, beta.team_name, beta.installer_user_id) == (
            "T0BETA",
            "Beta",
            "U0BETA",
        )
        assert acme.bot_id == "B0SCRUMY" and acme.bot_user_id == "U0SCRUMYBOT"
        assert acme.bot_scopes == "chat:write,commands,users:read"
        tokens = {team: await flow.store.bot_token(team) for team in ("T0ACME", "T0BETA")}
        assert {slack_world.bot_tokens[str(t)] for t in tokens.values()} == {"T0ACME", "T0BETA"}
        async with sessions() as session:
            assert await session.scalar(select(func.count()).select_from(SlackInstallState)) == 0

        # Events reach each workspace with its own token.
        assert await flow.send_event(app_home_opened("U0ANA", "D0ANA"), "T0ACME", "Ev01") == 200
        assert flow.homes == [("T0ACME", tokens["T0ACME"])]

        # A person's token revoked: nothing changes; the bot's: the install is forgotten.
        people = tokens_revoked(oauth=["U0BETA"])
        assert await flow.send_event(people, "T0BETA", "Ev02") == 200
        assert len(await rows(sessions)) == 2
        bots = tokens_revoked(bot=["U0SCRUMYBOT"])
        assert await flow.send_event(bots, "T0BETA", "Ev03") == 200
        assert [r.team_id for r in await rows(sessions)] == ["T0ACME"]

        assert await flow.send_event(app_uninstalled(), "T0ACME", "Ev04") == 200
        assert await rows(sessions) == []


async def test_a_token_near_expiry_is_refreshed_on_the_next_event(
    sessions: async_sessionmaker[AsyncSession],
    vault: TokenVault,
    clock: FakeClock,
    slack_world: SlackSandbox,
) -> None:
    async with install_flow(sessions, vault, clock, slack_world, token_rotation=True) as flow:
        assert (await flow.install("T0ACME", "U0ANA")).status_code == 200
        [installed] = await rows(sessions)
        old = await flow.store.bot_token("T0ACME")
        assert old is not None and old.startswith("xoxe.xoxb-")
        assert installed.encrypted_bot_refresh_token and installed.bot_token_expires_at

        # Eleven hours and fifty minutes on, the token has ten minutes left. Bolt decides with
        # the real clock (time.time()), so the stored expiry is set on it.
        clock.advance(11 * 3600 + 50 * 60)
        async with sessions() as session, session.begin():
            soon = datetime.now(UTC) + timedelta(minutes=10)
            await session.execute(update(SlackInstallation).values(bot_token_expires_at=soon))
        assert await flow.send_event(app_home_opened("U0ANA", "D0ANA"), "T0ACME", "Ev11") == 200
        assert slack_world.requests["oauth.v2.access"] == 2  # the install, then the refresh

        [refreshed] = await rows(sessions)
        fresh = await flow.store.bot_token("T0ACME")
        assert fresh is not None and fresh != old and refreshed.id == installed.id
        assert flow.homes == [("T0ACME", fresh)]
        assert refreshed.bot_token_expires_at is not None
        assert refreshed.bot_token_expires_at > soon + timedelta(hours=11)
        assert vault.decrypt(refreshed.encrypted_bot_refresh_token or "").startswith("xoxe-1-")

        # The old token dies at its expiry; the saved one goes on working.
        clock.advance(10 * 60)
        assert await flow.send_event(app_home_opened("U0ANA", "D0ANA"), "T0ACME", "Ev12") == 200
        assert flow.homes[-1] == ("T0ACME", fresh)
        assert slack_world.requests["oauth.v2.access"] == 2
        assert not any(c["error"] == "token_expired" for c in slack_world.calls)


async def test_our_own_calls_refresh_a_token_near_expiry_too(
    sessions: async_sessionmaker[AsyncSession],
    vault: TokenVault,
    clock: FakeClock,
    slack_world: SlackSandbox,
    caplog: pytest.LogCaptureFixture,
) -> None:
    slack_world.installs.add_app(CLIENT_ID, CLIENT_SECRET, token_rotation=True)
    sock = bind_socket()
    async with serve_apps((create_slack_emulator(slack_world, clock=clock), sock)):
        client = slack_web_client(f"{socket_url(sock)}/api/")
        refresh = TokenRefresh(client, CLIENT_ID, CLIENT_SECRET)
        store = SlackInstallationStore(sessions, vault, clock, refresh=refresh)
        code = slack_world.installs.issue_code(CLIENT_ID, "T0ACME", "U0ANA", at=clock.now())
        got = await client.oauth_v2_access(
            client_id=CLIENT_ID, client_secret=CLIENT_SECRET, code=code
        )
        old, lifetime = str(got["access_token"]), int(got["expires_in"])
        await store.async_save(installation(
            token=old, bot_refresh_token=got["refresh_token"],
            bot_token_expires_at=int(clock.now().timestamp()) + lifetime,
        ))  # fmt: skip
        assert await store.bot_token("T0ACME") == old  # twelve hours left

        clock.advance(lifetime - 3600)  # one left: within the two hours before expiry
        fresh = await store.bot_token("T0ACME")
        assert fresh is not None and fresh != old
        assert await store.bot_token("T0ACME") == fresh  # saved: refreshed once
        assert slack_world.requests["oauth.v2.access"] == 2
        [row] = await rows(sessions)
        assert row.bot_token_expires_at == clock.now() + timedelta(seconds=lifetime)
        clock.advance(3600)
        assert (await client.auth_test(token=fresh))["team_id"] == "T0ACME"
        with pytest.raises(SlackApiError, match="token_expired"):
            await client.auth_test(token=old)

        # A refresh Slack refuses leaves the token as it was (and logs no token).
        dying = installation("T0BETA", "xoxe.xoxb-beta", bot_refresh_token="xoxe-1-unknown",
                             bot_token_expires_at=int(clock.now().timestamp()))  # fmt: skip
        await store.async_save(dying)
        with caplog.at_level(logging.INFO, logger="bot.installations"):
            assert await store.bot_token("T0BETA") == "xoxe.xoxb-beta"
        assert "invalid_refresh_token" in caplog.text and "xox" not in caplog.text
