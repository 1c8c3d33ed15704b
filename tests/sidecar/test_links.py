"""Connect link tokens: signed, short-lived, for one person and one tool, across key rotation."""

from __future__ import annotations

import base64

import pytest

from primitives.enums import ProviderName
from sidecar.links import SIGNING_PURPOSE, LinkProblem, LinkRefused, LinkSigner
from storage.vault import TokenVault, new_key
from tests.fakes import FakeClock

BASE = "https://tasks.example.com"


def signer(vault: TokenVault, clock: FakeClock) -> LinkSigner:
    return LinkSigner(vault.derived_keys(SIGNING_PURPOSE), base_url=BASE, clock=clock)


def test_a_link_names_its_person_and_expires(clock: FakeClock) -> None:
    links = signer(TokenVault([new_key()]), clock)
    url = links.url_for(team_id="T1", user_id="U1", provider=ProviderName.NOTION)
    assert url.startswith(f"{BASE}/auth/notion/initiate?t=")
    token = links.token_for(team_id="T1", user_id="U1", provider=ProviderName.NOTION)
    claims = links.verify(token, provider=ProviderName.NOTION)
    assert (claims.team_id, claims.user_id, claims.provider) == ("T1", "U1", ProviderName.NOTION)
    clock.advance(15 * 60 - 1)
    links.verify(token, provider=ProviderName.NOTION)
    clock.advance(1)
    with pytest.raises(LinkRefused) as expired:
        links.verify(token, provider=ProviderName.NOTION)
    assert expired.value.problem is LinkProblem.EXPIRED
    with pytest.raises(LinkRefused) as other:
        links.verify(token, provider=ProviderName.CLICKUP)
    assert other.value.problem is LinkProblem.OTHER_PROVIDER


def test_links_survive_a_key_rotation_but_not_a_removed_key(clock: FakeClock) -> None:
    old, new = new_key(), new_key()
    before = signer(TokenVault([old]), clock)
    token = before.token_for(team_id="T1", user_id="U1", provider=ProviderName.CLICKUP)
    rotated = signer(TokenVault([new, old]), clock)
    rotated.verify(token, provider=ProviderName.CLICKUP)  # signed with the old key: still valid
    fresh = rotated.token_for(team_id="T1", user_id="U1", provider=ProviderName.CLICKUP)
    with pytest.raises(LinkRefused):
        before.verify(fresh, provider=ProviderName.CLICKUP)  # the old process lacks the new key
    dropped = signer(TokenVault([new]), clock)
    with pytest.raises(LinkRefused) as refused:
        dropped.verify(token, provider=ProviderName.CLICKUP)
    assert refused.value.problem is LinkProblem.INVALID


def test_the_signing_key_is_not_the_encryption_key(clock: FakeClock) -> None:
    key = new_key()
    vault = TokenVault([key])
    [derived] = vault.derived_keys(SIGNING_PURPOSE)
    assert len(derived) == 32
    assert derived != vault.derived_keys("another purpose")[0]

    assert derived not in base64.urlsafe_b64decode(key)


@pytest.mark.parametrize("token", ["", ".", "a.b.c", "!!!.???", "eyJ0IjoiVDEifQ.AAAA", "x" * 2000])
def test_garbage_is_invalid(clock: FakeClock, token: str) -> None:
    links = signer(TokenVault([new_key()]), clock)
    with pytest.raises(LinkRefused) as refused:
        links.verify(token, provider=ProviderName.CLICKUP)
    assert refused.value.problem is LinkProblem.INVALID


@pytest.mark.parametrize("token", ["é.x", "ü" * 10 + ".abc", "abc.\u0661\u0662", "a\x00.b"])
def test_a_token_that_is_not_ascii_is_invalid_not_an_error(token: str) -> None:
    signer = LinkSigner([b"k" * 32], base_url="http://x", clock=FakeClock())
    with pytest.raises(LinkRefused) as refused:
        signer.verify(token, provider=ProviderName.CLICKUP)
    assert refused.value.problem is LinkProblem.INVALID


def test_two_links_made_at_once_are_different() -> None:
    signer = LinkSigner([b"k" * 32], base_url="http://x", clock=FakeClock())
    first, second = (
        signer.token_for(team_id="T1", user_id="U1", provider=ProviderName.CLICKUP)
        for _ in range(2)
    )
    assert first != second  # each is spent by its own connection
