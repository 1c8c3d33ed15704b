"""The token vault: encryption at rest for every OAuth and Slack token.

`TokenVault` wraps `MultiFernet` over SCRUMY_ENCRYPTION_KEYS, newest key first: the newest
encrypts, every key decrypts, so a new key can be rolled out before `scrumy keys rotate`
re-encrypts the stored rows and the old key is finally dropped.

For a first try on the default SQLite file with no key set, `load_or_create_local_key` makes
one key once in a 0600 file beside the database; any other database must be given keys.
"""

from __future__ import annotations

import base64
import logging
import os
import stat
from collections.abc import Sequence
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives.hashes import SHA256
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

LOCAL_KEY_FILE = Path("scrumy.key")

log = logging.getLogger(__name__)


class VaultError(Exception):
    """A ciphertext cannot be read with the configured keys, or the keys are unusable."""


class TokenVault:
    """Encrypts and decrypts tokens; never logs or includes them in errors."""

    def __init__(self, keys: Sequence[str]) -> None:
        if not keys:
            raise VaultError("no encryption key configured")
        try:
            self._fernets = [Fernet(key) for key in keys]
        except ValueError:
            raise VaultError("an encryption key is not a valid Fernet key") from None
        self._multi = MultiFernet(self._fernets)
        self._newest = self._fernets[0]
        self._raw_keys = [base64.urlsafe_b64decode(key) for key in keys]

    @property
    def key_count(self) -> int:
        return len(self._fernets)

    def derived_keys(self, purpose: str) -> list[bytes]:
        """A 32-byte key per configured key (newest first) for another use, e.g. signing.

        HKDF with `purpose` as its info keeps the derived keys independent of the encryption
        keys and of each other; rotating the encryption keys rotates these too.
        """
        return [
            HKDF(algorithm=SHA256(), length=32, salt=None, info=purpose.encode("utf-8")).derive(raw)
            for raw in self._raw_keys
        ]

    def encrypt(self, plaintext: str) -> str:
        return self._multi.encrypt(plaintext.encode("utf-8")).decode("ascii")

    def decrypt(self, ciphertext: str) -> str:
        try:
            return self._multi.decrypt(ciphertext.encode("ascii")).decode("utf-8")
        except (InvalidToken, UnicodeError):
            raise VaultError(
                "a stored token cannot be decrypted with the configured keys "
                "(was a key removed before `scrumy keys rotate` finished?)"
            ) from None

    def is_current(self, ciphertext: str) -> bool:
        """True when `ciphertext` is already encrypted with the newest key."""
        try:
            self._newest.decrypt(ciphertext.encode("ascii"))
        except (InvalidToken, UnicodeError):
            return False
        return True

    def can_decrypt(self, ciphertext: str) -> bool:
        try:
            self.decrypt(ciphertext)
        except VaultError:
            return False
        return True

    def rotate(self, ciphertext: str) -> str:
        """Re-encrypt `ciphertext` with the newest key (it must decrypt with one of the keys)."""
        try:
            return self._multi.rotate(ciphertext.encode("ascii")).decode("ascii")
        except (InvalidToken, UnicodeError):
            raise VaultError("a stored token cannot be decrypted with any configured key") from None


def new_key() -> str:
    """A fresh Fernet key, as `scrumy keys new` prints it."""
    return Fernet.generate_key().decode("ascii")


def load_or_create_local_key(path: Path = LOCAL_KEY_FILE) -> str:
    """Read the local key file, creating it (mode 0600) the first time.

    Only for the default SQLite database: the key sits beside the data it protects, which is
    fine for trying Scrumy Tasks out and is why a one-line warning says so.
    """
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        mode = stat.S_IMODE(path.stat().st_mode)
        if mode & 0o077:
            raise VaultError(
                f"{path} is readable by other users (mode {mode:o}); run `chmod 600 {path}`"
            ) from None
        key = path.read_text(encoding="ascii").strip()
        try:
            Fernet(key)
        except ValueError:
            raise VaultError(f"{path} does not hold a Fernet key") from None
        return key
    key = new_key()
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(key + "\n")
    log.warning(
        "SCRUMY_ENCRYPTION_KEYS is not set: created a local key in %s for the SQLite "
        "database; set SCRUMY_ENCRYPTION_KEYS before using any other database",
        path,
    )
    return key
