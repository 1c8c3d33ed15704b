"""The manifests Slack apps are created from agree with the code and with each other."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from bot.app import BOT_SCOPES, EVENTS_PATH, REDIRECT_PATH

ROOT = Path(__file__).resolve().parents[2]


def _manifest(name: str) -> dict[str, Any]:
    loaded = yaml.safe_load((ROOT / name).read_text())
    assert isinstance(loaded, dict)
    return loaded


def test_the_manifest_asks_for_exactly_the_scopes_the_app_installs_with() -> None:
    for name in ("manifest.yml", "manifest.socket.yml"):
        assert sorted(_manifest(name)["oauth_config"]["scopes"]["bot"]) == sorted(BOT_SCOPES)


def test_every_http_url_of_the_manifest_is_a_path_the_app_serves() -> None:
    manifest = _manifest("manifest.yml")
    base = "https://scrumy.example.com"
    settings = manifest["settings"]
    urls = [
        settings["event_subscriptions"]["request_url"],
        settings["interactivity"]["request_url"],
        settings["interactivity"]["message_menu_options_url"],
        *(command["url"] for command in manifest["features"]["slash_commands"]),
    ]
    assert {url.removeprefix(base) for url in urls} == {EVENTS_PATH}
    redirects = {url.removeprefix(base) for url in manifest["oauth_config"]["redirect_urls"]}
    assert redirects == {REDIRECT_PATH, "/auth/slack/callback"}
    assert settings["socket_mode_enabled"] is False


def test_the_socket_mode_variant_offers_the_same_features_without_urls() -> None:
    http, socket = _manifest("manifest.yml"), _manifest("manifest.socket.yml")
    assert socket["settings"]["socket_mode_enabled"] is True
    assert "request_url" not in socket["settings"]["event_subscriptions"]
    assert "request_url" not in socket["settings"]["interactivity"]
    assert all("url" not in c for c in socket["features"]["slash_commands"])
    for part in ("app_home", "shortcuts"):
        assert socket["features"][part] == http["features"][part]
    commands = [c["command"] for c in socket["features"]["slash_commands"]]
    assert commands == [c["command"] for c in http["features"]["slash_commands"]]
    assert (
        socket["settings"]["event_subscriptions"]["bot_events"]
        == http["settings"]["event_subscriptions"]["bot_events"]
    )
    description = http["display_information"]["long_description"]
    assert 174 <= len(description) <= 4000  # Slack refuses a manifest outside these
