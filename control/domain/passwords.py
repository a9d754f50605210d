"""SIP and admin passwords the control plane makes."""

from __future__ import annotations

import secrets
import string

PASSWORD_ALPHABET = string.ascii_letters + string.digits + "-_"
_PASSWORD_CLASSES = tuple(
    frozenset(cls) for cls in (string.ascii_uppercase, string.ascii_lowercase, string.digits, "-_")
)


def new_password(length: int = 20) -> str:
    """A random password every vendor takes: letters, digits, ``-`` and ``_`` only, which
    every phone's config syntax takes, from at least 3 of the 4 classes (upper, lower,
    digit, symbol), as Cisco MPP requires of an admin password (8-127 characters)."""
    if not 8 <= length <= 127:
        raise ValueError("a password is 8 to 127 characters")
    while True:
        # URL-safe base64 of random bytes: each character is 6 random bits, uniform over
        # exactly PASSWORD_ALPHABET, and 20 times faster than choosing one at a time.
        password = secrets.token_urlsafe(length)[:length]
        chars = set(password)  # sets: a 100,000-row import makes as many passwords
        if sum(not chars.isdisjoint(cls) for cls in _PASSWORD_CLASSES) >= 3:
            return password
