"""TOTP (RFC 6238) with HMAC-SHA1, 6 digits, 30-second steps, written out here so that the
replay rule (one use per step) and the accepted drift are ours to see and test.

An authenticator app (any RFC 6238 one) shares the secret through the otpauth:// URI of
the enrolment QR code."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import struct
import time
from urllib.parse import quote, urlencode

STEP = 30
DIGITS = 6
# Steps either side of now that still count: a phone's clock off by up to 30 s.
DRIFT = 1


def new_secret() -> str:
    """160 random bits (the RFC 4226 recommendation), base32 without padding."""
    return base64.b32encode(secrets.token_bytes(20)).decode().rstrip("=")


def _key(secret: str) -> bytes:
    padded = secret.upper() + "=" * (-len(secret) % 8)
    return base64.b32decode(padded)


def hotp(key: bytes, counter: int, digits: int = DIGITS, digest: str = "sha1") -> str:
    """RFC 4226 §5.3: HMAC over the 8-byte counter, dynamic truncation, modulo 10^digits."""
    mac = hmac.new(key, struct.pack(">Q", counter), getattr(hashlib, digest)).digest()
    offset = mac[-1] & 0x0F
    value = struct.unpack(">I", mac[offset : offset + 4])[0] & 0x7FFFFFFF
    return str(value % 10**digits).zfill(digits)


def step_at(when: float | None = None) -> int:
    return int((time.time() if when is None else when) // STEP)


def code_at(secret: str, when: float | None = None) -> str:
    return hotp(_key(secret), step_at(when))


def verify(secret: str, code: str, last_step: int | None, when: float | None = None) -> int | None:
    """The step the code belongs to when it is right, within the drift, and later than
    ``last_step`` (a code already used, or an older one, is refused); else None."""
    code = code.strip().replace(" ", "")
    if len(code) != DIGITS or not code.isascii() or not code.isdigit():
        return None
    key = _key(secret)
    now = step_at(when)
    for step in range(now - DRIFT, now + DRIFT + 1):
        if last_step is not None and step <= last_step:
            continue
        if hmac.compare_digest(hotp(key, step), code):
            return step
    return None


def provisioning_uri(secret: str, account: str, issuer: str) -> str:
    label = quote(f"{issuer}:{account}")
    query = urlencode({"secret": secret, "issuer": issuer, "digits": DIGITS, "period": STEP})
    return f"otpauth://totp/{label}?{query}"


def qr_svg(uri: str) -> str:
    """The URI as an inline SVG QR code, drawn by the server (no script, no CDN)."""
    import segno

    return str(segno.make(uri, error="m").svg_inline(scale=4, border=2, dark="#000"))


# --- recovery codes --------------------------------------------------------------------------

RECOVERY_COUNT = 10


def new_recovery_codes(count: int = RECOVERY_COUNT) -> list[str]:
    """Codes like ``k4f7-2m9q``: shown once, stored only as hashes."""
    alphabet = "23456789abcdefghjkmnpqrstuvwxyz"
    codes = []
    for _ in range(count):
        raw = "".join(secrets.choice(alphabet) for _ in range(8))
        codes.append(f"{raw[:4]}-{raw[4:]}")
    return codes


def normalise_recovery(code: str) -> str:
    return code.strip().lower().replace(" ", "").replace("-", "")
