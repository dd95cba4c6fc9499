"""Gateway secrets sealed with a master key kept outside the database (standard library only).

The central must know each gateway's secret to check its HMAC signatures, so a one-way hash will not do. The
secret is encrypted instead: a keystream of HMAC-SHA256(enc_key, nonce || counter) blocks XORed with the secret,
then HMAC-SHA256(mac_key, nonce || ciphertext) as a tag (encrypt-then-MAC). Both keys derive from the master key.
A copy of the database alone reveals no secret; the master key lives in a file beside it or in
``ANJUNGAN_CENTRAL_SERVER_KEY`` (see :mod:`sync.central.settings`).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from pathlib import Path

from gateway import private
from gateway.errors import AnjunganError

_PREFIX = "v1:"
_NONCE = 16
_TAG = 32


class SealError(AnjunganError):
    """A sealed secret cannot be opened (wrong master key, or the stored value was altered)."""


def load_master_key(path: Path | None, key: str = "", *, create: bool = True) -> bytes:
    """The master key: ``key`` when given (the setting ``key``), else the file ``path``.

    A missing file is created (0600, its new folders 0700, whatever the umask) only when ``create`` is true:
    the caller passes False when the database already holds secrets sealed with some key, so that a
    mistyped path never silently replaces the key they need. Raises AnjunganError when there is no key, the
    file is missing and may not be created, or it is empty.
    """
    text = key.strip()
    if text:
        return hashlib.sha256(text.encode()).digest()
    if path is None:
        raise AnjunganError(
            "no master key: set ANJUNGAN_CENTRAL_SERVER_KEY or ANJUNGAN_CENTRAL_SERVER_KEY_FILE"
        )
    if not path.exists():
        if not create:
            raise AnjunganError(
                f"the master key file {path} is missing, and the database holds gateways' secrets sealed with a "
                "master key: restore the file, or set ANJUNGAN_CENTRAL_SERVER_KEY_FILE to where it is"
            )
        private.write_text(path, secrets.token_hex(32) + "\n")
    text = path.read_text().strip()
    if not text:
        raise AnjunganError(f"the master key file {path} is empty")
    return hashlib.sha256(text.encode()).digest()


def _keys(master: bytes) -> tuple[bytes, bytes]:
    return (
        hmac.new(master, b"anjungan secret encryption", hashlib.sha256).digest(),
        hmac.new(master, b"anjungan secret authentication", hashlib.sha256).digest(),
    )


def _keystream(key: bytes, nonce: bytes, length: int) -> bytes:
    blocks = (length + 31) // 32
    stream = b"".join(
        hmac.new(key, nonce + i.to_bytes(4, "big"), hashlib.sha256).digest() for i in range(blocks)
    )
    return stream[:length]


def seal(master: bytes, secret: str) -> str:
    enc_key, mac_key = _keys(master)
    nonce = secrets.token_bytes(_NONCE)
    plain = secret.encode()
    cipher = bytes(a ^ b for a, b in zip(plain, _keystream(enc_key, nonce, len(plain)), strict=True))
    tag = hmac.new(mac_key, nonce + cipher, hashlib.sha256).digest()
    return _PREFIX + base64.urlsafe_b64encode(nonce + cipher + tag).decode()


def unseal(master: bytes, sealed: str) -> str:
    if not sealed.startswith(_PREFIX):
        raise SealError("unknown sealing format")
    try:
        raw = base64.urlsafe_b64decode(sealed[len(_PREFIX) :])
    except ValueError as err:
        raise SealError("the sealed secret is not base64") from err
    if len(raw) < _NONCE + _TAG:
        raise SealError("the sealed secret is too short")
    nonce, cipher, tag = raw[:_NONCE], raw[_NONCE:-_TAG], raw[-_TAG:]
    enc_key, mac_key = _keys(master)
    if not hmac.compare_digest(tag, hmac.new(mac_key, nonce + cipher, hashlib.sha256).digest()):
        raise SealError("the sealed secret does not open with this master key")
    plain = bytes(a ^ b for a, b in zip(cipher, _keystream(enc_key, nonce, len(cipher)), strict=True))
    return plain.decode()
