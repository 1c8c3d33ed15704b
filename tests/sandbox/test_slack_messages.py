"""The Slack emulator's messages: chat.postMessage, chat.update, chat.postEphemeral,
chat.getPermalink and conversations.open refuse what Slack refuses and keep what was sent."""

from __future__ import annotations

import httpx

from sandbox.slack import SlackSandbox
from tests.emulators import SLACK_TEAM
from tests.fakes import FakeClock
from tests.sandbox.slack_calls import answer, button, section, slack

BLOCKS = [section("*Standup* — 2 items"), {"type": "actions", "block_id": "item-1",
          "elements": [button("Connect ClickUp", "connect_clickup", value="1")]}]  # fmt: skip


async def test_a_message_is_posted_and_kept_with_its_blocks(
    slack_world: SlackSandbox, http: httpx.AsyncClient
) -> None:
    body = await answer(http, "chat.postMessage", channel="C0GENERAL", text="Standup",
                        blocks=BLOCKS)  # fmt: skip
    assert body["ok"] and body["channel"] == "C0GENERAL" and "warning" not in body
    kept = slack_world.messages["C0GENERAL"][-1]
    assert kept["ts"] == body["ts"] and kept["blocks"] == BLOCKS and kept["text"] == "Standup"
    assert kept["bot_id"] == "B0SCRUMY"
    # By name too, and as a form with the blocks as a JSON string (as Slack takes them).
    again = await answer(http, "chat.postMessage", channel="#general", text="x", blocks=BLOCKS,
                         form=True)  # fmt: skip
    assert again["ok"] and again["ts"] > body["ts"]
    assert [c["method"] for c in slack_world.calls] == ["chat.postMessage"] * 2


async def test_a_thread_reply_and_a_direct_message(
    slack_world: SlackSandbox, http: httpx.AsyncClient
) -> None:
    parent = await answer(http, "chat.postMessage", channel="C0GENERAL", text="Meeting")
    reply = await answer(http, "chat.postMessage", channel="C0GENERAL", text="more",
                         thread_ts=parent["ts"])  # fmt: skip
    assert reply["message"]["thread_ts"] == parent["ts"]
    lost = await answer(http, "chat.postMessage", channel="C0GENERAL", text="x",
                        thread_ts="1.000001")  # fmt: skip
    assert lost["error"] == "thread_not_found"
    # A person's id posts to the bot's direct message with them.
    dm = await answer(http, "chat.postMessage", channel="U0ANA", text="5 tasks were created")
    assert dm["ok"] and dm["channel"].startswith("D")
    opened = await answer(http, "conversations.open", users="U0ANA")
    assert opened["channel"]["id"] == dm["channel"] and opened["already_open"]
    assert slack_world.messages[dm["channel"]][0]["text"] == "5 tasks were created"


async def test_where_the_bot_may_not_post(
    slack_world: SlackSandbox, http: httpx.AsyncClient
) -> None:
    async def post(channel: str) -> str:
        return str(
            (await answer(http, "chat.postMessage", channel=channel, text="hi")).get("error")
        )

    assert await post("C0RANDOM") == "not_in_channel"  # public, the bot was never invited
    assert await post("C0SECRET") == "channel_not_found"  # private, the bot cannot see it
    assert await post("C0NOWHERE") == "channel_not_found"
    slack_world.add_workspace("T0OTHER", "xoxb-other")
    slack_world.add_channel("T0OTHER", "C0THEIRS", "theirs")
    assert await post("C0THEIRS") == "channel_not_found"  # another workspace's channel
    # chat:write.public lets the bot into public channels without joining.
    slack_world.scopes["xoxb-acme-bot"] = slack_world.scopes["xoxb-acme-bot"] | {
        "chat:write.public"
    }
    assert await post("C0RANDOM") == "None"


async def test_auth_and_scope(slack_world: SlackSandbox, http: httpx.AsyncClient) -> None:
    none = await slack(http, "chat.postMessage", token=None, channel="C0GENERAL", text="x")
    assert none.json() == {"ok": False, "error": "not_authed"}
    bad = await slack(http, "chat.postMessage", token="xoxb-nope", channel="C0GENERAL", text="x")
    assert bad.json() == {"ok": False, "error": "invalid_auth"}
    slack_world.add_workspace(SLACK_TEAM, "xoxb-readonly", scopes={"users:read"})
    refused = await slack(http, "chat.postMessage", token="xoxb-readonly", channel="C0GENERAL",
                          text="x")  # fmt: skip
    assert refused.json()["error"] == "missing_scope"
    assert refused.json()["needed"] == "chat:write"
    dm = await slack(http, "conversations.open", token="xoxb-readonly", users="U0ANA")
    assert dm.json()["needed"] == "im:write"
    # chat.getPermalink needs no scope.
    posted = await answer(http, "chat.postMessage", channel="C0GENERAL", text="x")
    link = await slack(http, "chat.getPermalink", token="xoxb-readonly", channel="C0GENERAL",
                       message_ts=posted["ts"])  # fmt: skip
    assert link.json()["ok"]


async def test_text_rules(http: httpx.AsyncClient) -> None:
    nothing = await answer(http, "chat.postMessage", channel="C0GENERAL")
    assert nothing["error"] == "no_text"
    # Blocks without a notification text are posted, with the emulator's warning.
    bare = await answer(http, "chat.postMessage", channel="C0GENERAL", blocks=BLOCKS)
    assert bare["ok"] and bare["warning"] == "missing_text_or_fallback"
    assert bare["response_metadata"]["warnings"] == ["missing_text_or_fallback"]
    broken = await answer(http, "chat.postMessage", channel="C0GENERAL", text="x",
                          blocks="[{not json", form=True)  # fmt: skip
    assert broken["error"] == "invalid_blocks_format"


async def test_update_only_the_bots_own_messages(
    slack_world: SlackSandbox, http: httpx.AsyncClient
) -> None:
    posted = await answer(http, "chat.postMessage", channel="C0GENERAL", text="v1", blocks=BLOCKS)
    updated = await answer(http, "chat.update", channel="C0GENERAL", ts=posted["ts"], text="v2")
    assert updated["ok"] and updated["text"] == "v2"
    kept = slack_world.messages["C0GENERAL"][-1]
    assert kept["text"] == "v2" and kept["blocks"] == BLOCKS  # blocks left out are kept
    assert (await answer(http, "chat.update", channel="C0GENERAL", ts="9.000009", text="x"))[
        "error"
    ] == "message_not_found"
    theirs = slack_world.store_message("C0GENERAL", "hello", user="U0ANA")
    other_app = slack_world.store_message("C0GENERAL", "hi", user="U0APP", bot_id="B0OTHER")
    for ts in (theirs, other_app):
        refused = await answer(http, "chat.update", channel="C0GENERAL", ts=ts, text="mine now")
        assert refused["error"] == "cant_update_message"
    too_many = [section(f"row {i}") for i in range(51)]
    assert (await answer(http, "chat.update", channel="C0GENERAL", ts=posted["ts"], text="x",
                         blocks=too_many))["error"] == "invalid_blocks"  # fmt: skip


async def test_ephemeral_messages_reach_members_only(
    slack_world: SlackSandbox, http: httpx.AsyncClient
) -> None:
    sent = await answer(http, "chat.postEphemeral", channel="C0GENERAL", user="U0BO",
                        text="Your connect link")  # fmt: skip
    assert sent["ok"] and sent["message_ts"]
    assert slack_world.ephemerals["U0BO"][0]["text"] == "Your connect link"
    assert slack_world.messages["C0GENERAL"] == []  # not a message of the channel
    outsider = await answer(http, "chat.postEphemeral", channel="C0GENERAL", user="U0EVE",
                            text="x")  # fmt: skip
    assert outsider["error"] == "user_not_in_channel"
    cannot = await answer(http, "chat.update", channel="C0GENERAL", ts=sent["message_ts"],
                          text="x")  # fmt: skip
    assert cannot["error"] == "message_not_found"


async def test_permalinks(http: httpx.AsyncClient) -> None:
    parent = await answer(http, "chat.postMessage", channel="C0GENERAL", text="Meeting")
    reply = await answer(http, "chat.postMessage", channel="C0GENERAL", text="more",
                         thread_ts=parent["ts"])  # fmt: skip
    link = await answer(http, "chat.getPermalink", channel="C0GENERAL", message_ts=parent["ts"])
    digits = parent["ts"].replace(".", "")
    assert link["permalink"] == f"https://t0acme.slack.com/archives/C0GENERAL/p{digits}"
    threaded = await answer(http, "chat.getPermalink", channel="C0GENERAL",
                            message_ts=reply["ts"])  # fmt: skip
    assert f"?thread_ts={parent['ts']}&cid=C0GENERAL" in threaded["permalink"]
    missing = await answer(http, "chat.getPermalink", channel="C0GENERAL", message_ts="1.2")
    assert missing["error"] == "message_not_found"
    assert (await answer(http, "chat.getPermalink", channel="C0NONE", message_ts="1.2"))[
        "error"
    ] == "channel_not_found"


async def test_conversations_open(slack_world: SlackSandbox, http: httpx.AsyncClient) -> None:
    first = await answer(http, "conversations.open", users="U0BO")
    assert first["ok"] and "already_open" not in first
    assert (await answer(http, "conversations.open", users="U0NOBODY"))["error"] == (
        "user_not_found"
    )
    assert (await answer(http, "conversations.open", users="U0GONE"))["error"] == "user_disabled"
    assert (await answer(http, "conversations.open"))["error"] == "users_list_not_supplied"
    group = await answer(http, "conversations.open", users="U0BO,U0CY")
    assert group["error"] == "missing_scope" and group["needed"] == "mpim:write"


async def test_post_message_about_one_a_second_per_channel(
    slack_world: SlackSandbox, http: httpx.AsyncClient, clock: FakeClock
) -> None:
    for _ in range(slack_world.post_burst):  # a short burst goes through
        assert (await answer(http, "chat.postMessage", channel="C0GENERAL", text="x"))["ok"]
    limited = await slack(http, "chat.postMessage", channel="C0GENERAL", text="x")
    assert limited.status_code == 429 and limited.headers["Retry-After"] == "1"
    # Another channel has its own budget; a second later this one takes one more.
    assert (await answer(http, "chat.postMessage", channel="U0ANA", text="x"))["ok"]
    clock.advance(1)
    assert (await answer(http, "chat.postMessage", channel="C0GENERAL", text="x"))["ok"]
    assert (await slack(http, "chat.postMessage", channel="C0GENERAL", text="x")).status_code == 429
    assert slack_world.rate_limited["chat.postMessage"] == 2


async def test_chat_update_is_tier_3(
    slack_world: SlackSandbox, http: httpx.AsyncClient, clock: FakeClock
) -> None:
    posted = await answer(http, "chat.postMessage", channel="C0GENERAL", text="v")
    for _ in range(50):
        assert (await slack(http, "chat.update", channel="C0GENERAL", ts=posted["ts"],
                            text="v")).status_code == 200  # fmt: skip
    limited = await slack(http, "chat.update", channel="C0GENERAL", ts=posted["ts"], text="v")
    assert limited.status_code == 429 and 0 < int(limited.headers["Retry-After"]) <= 60
    clock.advance(int(limited.headers["Retry-After"]))
    assert (await answer(http, "chat.update", channel="C0GENERAL", ts=posted["ts"], text="v"))["ok"]


async def test_ephemeral_is_tier_4(slack_world: SlackSandbox, http: httpx.AsyncClient) -> None:
    for _ in range(100):
        await slack(http, "chat.postEphemeral", channel="C0GENERAL", user="U0BO", text="x")
    limited = await slack(http, "chat.postEphemeral", channel="C0GENERAL", user="U0BO", text="x")
    assert limited.status_code == 429


async def test_conversations_open_is_tier_3(
    slack_world: SlackSandbox, http: httpx.AsyncClient
) -> None:
    for _ in range(50):
        await slack(http, "conversations.open", users="U0ANA")
    assert (await slack(http, "conversations.open", users="U0ANA")).status_code == 429


async def test_a_server_error_posts_nothing(
    slack_world: SlackSandbox, http: httpx.AsyncClient
) -> None:
    slack_world.faults.add("server_error", path="chat.postMessage")
    failed = await slack(http, "chat.postMessage", channel="C0GENERAL", text="x")
    assert failed.status_code == 500 and slack_world.messages["C0GENERAL"] == []
    assert (await answer(http, "chat.postMessage", channel="C0GENERAL", text="x"))["ok"]
