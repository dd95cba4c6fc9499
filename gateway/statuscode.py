"""The status code of a submission: the secret that, with the registration number, shows its answer.

A registration number is predictable (gateway prefix, date, daily ordinal, check digit), so it only says that a
submission exists and its status. Each submission also gets a code of :data:`BITS` random bits, printed on the
receipt and inside its QR code, written in Crockford's base32 (digits and capitals without I, L, O and U, so
nothing on it can be mistaken for another character) in groups of five: ``7KQ2M-9XD4H-RTB3N``. Typing is
forgiving: case, spaces and dashes do not matter, and I/L are read as 1, O as 0 (Crockford's decoding rules,
https://www.crockford.com/base32.html).

Only a hash of (number, code) is kept, on the gateway and at the central (docs/protocol.md, "Status codes").
Standard library only: the lowest layer, shared by the store, the kiosk and, through the sync protocol, the
central.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford's base32
LENGTH = 15  # characters
BITS = LENGTH * 5  # 75 bits of randomness
GROUP = 5
HASH_RE = re.compile(r"[0-9a-f]{64}\Z")
_READ_AS = str.maketrans({"I": "1", "L": "1", "O": "0"})
_DROP = re.compile(r"[\s\-_.]")


def new_code() -> str:
    """A fresh code: :data:`LENGTH` characters of :data:`ALPHABET` from the system's CSPRNG, ungrouped."""
    return "".join(secrets.choice(ALPHABET) for _ in range(LENGTH))


def derived_code(secret: bytes, key: str) -> str:
    """The code of the submission filed under idempotency ``key``: :data:`LENGTH` characters taken from
    HMAC-SHA256(``secret``, key), so that a repeat of the same form (a double tap, a resend after a slow answer)
    shows the same code without the code ever being stored. As unguessable as :func:`new_code` for whoever
    lacks ``secret`` (the kiosk's own key), whether or not they saw the form's key."""
    digest = int.from_bytes(
        hmac.new(secret, b"anjungan-status-code\n" + key.encode(), "sha256").digest(), "big"
    )
    return "".join(ALPHABET[(digest >> (5 * i)) & 31] for i in range(LENGTH))


def grouped(code: str) -> str:
    """The code as printed and shown: groups of five joined by dashes (``7KQ2M-9XD4H-RTB3N``)."""
    return "-".join(code[i : i + GROUP] for i in range(0, len(code), GROUP))


def normalise(text: str | None) -> str | None:
    """The code a person typed, in canonical form, or None when it cannot be one (wrong length or letters)."""
    if not text or len(text) > 64:
        return None
    code = _DROP.sub("", text).upper().translate(_READ_AS)
    if len(code) != LENGTH or any(ch not in ALPHABET for ch in code):
        return None
    return code


def access_hash(number: str, code: str) -> str:
    """Lowercase hex SHA-256 of ``"anjungan-status-v1\\n<number>\\n<code>"`` (code canonical, ungrouped).

    With 75 random bits in the code an unsalted fast hash is safe to keep; the number in the input binds the
    hash to one submission. Raises ValueError for a code that is not canonical.
    """
    canonical = normalise(code)
    if canonical is None or canonical != code:
        raise ValueError("not a canonical status code")
    return hashlib.sha256(f"anjungan-status-v1\n{number}\n{code}".encode()).hexdigest()


def matches(number: str, typed: str | None, stored_hash: str | None) -> bool:
    """Whether ``typed`` is the code of submission ``number`` whose stored hash is ``stored_hash``.

    Compared in constant time; False for a missing hash (a submission made before codes existed), a missing
    or malformed code.
    """
    code = normalise(typed)
    if code is None or not stored_hash or not HASH_RE.match(stored_hash):
        return False
    return hmac.compare_digest(access_hash(number, code), stored_hash)
