"""Personal connect links: what a Slack message's "Connect ClickUp" button opens.

A link token is `<payload>.<mac>`, both strict unpadded base64url: the payload names the team,
the person, the tool, an expiry (15 minutes) and a random nonce (each link is its own: it is
spent by the connection made with it), and the MAC is HMAC-SHA256 over the payload with a key
derived from the encryption keys (newest signs, any verifies, so key rotation does not break
links that are still valid). The token carries no secret; it only proves that we made this link
for this person, so the OAuth state started from it is bound to them.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from urllib.parse import urlencode

from primitives.clock import Clock
from primitives.enums import ProviderName

LINK_LIFETIME = timedelta(minutes=15)
SIGNING_PURPOSE = "scrumy-tasks connect-link v1"
_MAX_TOKEN_LENGTH = 1024


class LinkProblem(StrEnum):
    INVALID = "invalid"  # malformed, tampered with, or signed with a key we do not have
    EXPIRED = "expired"
    OTHER_PROVIDER = "other_provider"  # a ClickUp link opened on the Notion path


class LinkRefused(Exception):
    def __init__(self, problem: LinkProblem, claims: LinkClaims | None = None) -> None:
        super().__init__(problem.value)
        self.problem = problem
        self.claims = claims  # set for an expired link, whose payload is authentic


@dataclass(frozen=True)
class LinkClaims:
    team_id: str
    user_id: str
    provider: ProviderName
    expires_at: datetime


def _b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


_BASE64URL = re.compile(r"[A-Za-z0-9_-]+")


def _b64decode(text: str) -> bytes:
    """Strict unpadded base64url: only its alphabet, no padding, and only the one spelling
    that encoding the bytes gives back (no stray bits in the last character), so a link has
    exactly one form (it is spent by its hash)."""
    if not _BASE64URL.fullmatch(text):
        raise ValueError("not unpadded base64url")
    data = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    if _b64encode(data) != text:
        raise ValueError("not the canonical base64url of its bytes")
    return data


class LinkSigner:
    """Makes and checks connect links; implements `routing.utility.ConnectLinks`."""

    def __init__(
        self,
        keys: Sequence[bytes],
        *,
        base_url: str,
        clock: Clock,
        lifetime: timedelta = LINK_LIFETIME,
    ) -> None:
        if not keys:
            raise ValueError("at least one signing key is needed")
        self._keys = list(keys)
        self._base_url = base_url.rstrip("/")
        self._clock = clock
        self._lifetime = lifetime

    def token_for(self, *, team_id: str, user_id: str, provider: ProviderName) -> str:
        expires = int((self._clock.now() + self._lifetime).timestamp())
        # "n": each link is its own (one is spent by its connection, not its twin made in the
        # same second).
        payload = json.dumps(
            {
                "t": team_id,
                "u": user_id,
                "p": provider.value,
                "e": expires,
                "n": _b64encode(secrets.token_bytes(9)),
            },
            separators=(",", ":"),
            sort_keys=True,
        ).encode("utf-8")
        body = _b64encode(payload)
        return f"{body}.{_b64encode(self._mac(self._keys[0], body))}"

    def url_for(self, *, team_id: str, user_id: str, provider: ProviderName) -> str:
        token = self.token_for(team_id=team_id, user_id=user_id, provider=provider)
        return f"{self._base_url}/auth/{provider.value}/initiate?{urlencode({'t': token})}"

    def verify(self, token: str, *, provider: ProviderName) -> LinkClaims:
        """The claims of an authentic, unexpired link for `provider`, or `LinkRefused`."""
        if (
            not token
            or len(token) > _MAX_TOKEN_LENGTH
            or not token.isascii()
            or token.count(".") != 1
        ):
            raise LinkRefused(LinkProblem.INVALID)
        body, mac_text = token.split(".")
        try:
            _b64decode(body)
            mac = _b64decode(mac_text)
        except (binascii.Error, ValueError):
            raise LinkRefused(LinkProblem.INVALID) from None
        if not any(hmac.compare_digest(self._mac(key, body), mac) for key in self._keys):
            raise LinkRefused(LinkProblem.INVALID)
        claims = self._claims(body)
        if claims.provider is not provider:
            raise LinkRefused(LinkProblem.OTHER_PROVIDER, claims)
        if claims.expires_at <= self._clock.now():
            raise LinkRefused(LinkProblem.EXPIRED, claims)
        return claims

    @staticmethod
    def _mac(key: bytes, body: str) -> bytes:
        return hmac.new(key, body.encode("ascii"), hashlib.sha256).digest()

    @staticmethod
    def _claims(body: str) -> LinkClaims:
        # Only reached with a valid MAC, so a failure here means our own format changed.
        try:
            data = json.loads(_b64decode(body))
            return LinkClaims(
                team_id=str(data["t"]),
                user_id=str(data["u"]),
                provider=ProviderName(data["p"]),
                expires_at=datetime.fromtimestamp(int(data["e"]), UTC),
            )
        except (ValueError, KeyError, TypeError, binascii.Error):
            raise LinkRefused(LinkProblem.INVALID) from None
