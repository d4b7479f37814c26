"""国密 cryptography behind one small interface: SM3, HMAC-SM3, SM4-GCM and SM2.

No view, model or command calls a crypto library directly; they call these functions, so
that production can swap the software implementation for a certified 服务器密码机 (GB/T
37092 二级) without touching the callers (see README, 等保/密评).

- SM3, HMAC-SM3 and SM4-GCM come from pyca ``cryptography`` (its bundled OpenSSL; not
  ``hashlib.new("sm3")``, which depends on the system OpenSSL build).
- SM2 comes from ``tongsuopy`` (pyca has no SM2 curve). It signs SM3(Z || M) with the
  standard default signer ID 1234567812345678 and DER signatures.

Keys come from the configuration (the environment). Each purpose has its own key: the audit
chain (AUDIT_HMAC_KEY), the field keyring (FIELD_KEYRING) and the seal key pair
(SEAL_PRIVATE_KEY / SEAL_KEY_FILE). The development defaults are refused in production.
"""

from __future__ import annotations

import base64
import hmac as std_hmac
import json
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives import hmac as crypto_hmac
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

# Development defaults: known to everyone, hence refused in production (check_production).
DEV_AUDIT_HMAC_KEY = "dev-only-audit-hmac-key-not-for-production"
DEV_FIELD_KEYRING = json.dumps(
    {"active": "dev1", "keys": {"dev1": "00112233445566778899aabbccddeeff"}}
)
FIELD_PREFIX = "sm4gcm"
IV_BYTES = 12
TAG_BYTES = 16


class CryptoError(Exception):
    """A value that does not decrypt or verify, or a key that is missing or invalid."""


def check_production(config: dict[str, Any]) -> list[str]:
    """The crypto settings a production start must refuse (Chinese messages)."""
    problems = []
    key = str(config.get("AUDIT_HMAC_KEY") or "")
    if key == DEV_AUDIT_HMAC_KEY or len(key) < 32:
        problems.append("生产环境必须设置 AUDIT_HMAC_KEY（至少 32 个字符的随机值）")
    ring = str(config.get("FIELD_KEYRING") or "")
    if not ring or ring == DEV_FIELD_KEYRING:
        problems.append("生产环境必须设置 FIELD_KEYRING（SM4 字段加密密钥环 JSON）")
    if not config.get("SEAL_PRIVATE_KEY") and not Path(str(config.get("SEAL_KEY_FILE"))).is_file():
        problems.append("生产环境必须设置 SEAL_PRIVATE_KEY 或提供 SEAL_KEY_FILE（SM2 签章私钥）")
    return problems


def _config() -> Any:
    from flask import current_app

    return current_app.config


# --- SM3 and HMAC-SM3 ------------------------------------------------------------------------


def sm3(data: bytes) -> bytes:
    digest = hashes.Hash(hashes.SM3())
    digest.update(data)
    return digest.finalize()


def hmac_sm3(key: bytes, data: bytes) -> bytes:
    mac = crypto_hmac.HMAC(key, hashes.SM3())
    mac.update(data)
    return mac.finalize()


def audit_key() -> bytes:
    return str(_config().get("AUDIT_HMAC_KEY") or DEV_AUDIT_HMAC_KEY).encode()


def constant_time_equal(a: str, b: str) -> bool:
    return std_hmac.compare_digest(a.encode(), b.encode())


# --- SM4-GCM field encryption ----------------------------------------------------------------


@dataclass(frozen=True)
class Keyring:
    active: str
    keys: dict[str, bytes]


_KEYRINGS: dict[str, Keyring] = {}


def parse_keyring(text: str) -> Keyring:
    """FIELD_KEYRING: {"active": "k2", "keys": {"k1": "<32 hex>", "k2": "<32 hex>"}}."""
    cached = _KEYRINGS.get(text)
    if cached is not None:
        return cached
    try:
        data = json.loads(text)
        keys = {str(kid): bytes.fromhex(str(hexkey)) for kid, hexkey in data["keys"].items()}
        active = str(data["active"])
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise CryptoError(f"FIELD_KEYRING 格式无效：{exc}") from None
    if active not in keys:
        raise CryptoError("FIELD_KEYRING 的 active 密钥不在 keys 中")
    for kid, key in keys.items():
        if len(key) != 16:
            raise CryptoError(f"FIELD_KEYRING 的密钥 {kid} 不是 128 位（32 个十六进制字符）")
        if ":" in kid:
            raise CryptoError(f"FIELD_KEYRING 的密钥标识 {kid} 不能含冒号")
    ring = Keyring(active, keys)
    _KEYRINGS[text] = ring
    return ring


def keyring() -> Keyring:
    return parse_keyring(str(_config().get("FIELD_KEYRING") or DEV_FIELD_KEYRING))


def sm4_gcm_encrypt(key: bytes, plaintext: bytes, aad: bytes) -> tuple[bytes, bytes]:
    iv = secrets.token_bytes(IV_BYTES)
    encryptor = Cipher(algorithms.SM4(key), modes.GCM(iv)).encryptor()
    encryptor.authenticate_additional_data(aad)
    body = encryptor.update(plaintext) + encryptor.finalize()
    return iv, body + encryptor.tag


def sm4_gcm_decrypt(key: bytes, iv: bytes, sealed: bytes, aad: bytes) -> bytes:
    body, tag = sealed[:-TAG_BYTES], sealed[-TAG_BYTES:]
    decryptor = Cipher(algorithms.SM4(key), modes.GCM(iv, tag)).decryptor()
    decryptor.authenticate_additional_data(aad)
    try:
        return decryptor.update(body) + decryptor.finalize()
    except InvalidTag:
        raise CryptoError("密文校验失败（被篡改、密钥不符或挪用到其他字段）") from None


def encrypt_field(value: str, context: str, ring: Keyring | None = None) -> str:
    """``sm4gcm:<key id>:<base64(iv || ciphertext || tag)>``; the AAD binds the value to
    its column (``context``) and key id, so a value moved to another column does not open."""
    ring = ring or keyring()
    kid = ring.active
    iv, sealed = sm4_gcm_encrypt(ring.keys[kid], value.encode(), _aad(context, kid))
    return f"{FIELD_PREFIX}:{kid}:{base64.b64encode(iv + sealed).decode()}"


def field_key_id(stored: str) -> str | None:
    if not stored.startswith(FIELD_PREFIX + ":"):
        return None
    return stored.split(":", 2)[1]


def decrypt_field(stored: str, context: str, ring: Keyring | None = None) -> str:
    kid = field_key_id(stored)
    if kid is None:
        raise CryptoError("不是加密字段")
    ring = ring or keyring()
    key = ring.keys.get(kid)
    if key is None:
        raise CryptoError(f"密钥 {kid} 不在密钥环中")
    raw = base64.b64decode(stored.split(":", 2)[2])
    return sm4_gcm_decrypt(key, raw[:IV_BYTES], raw[IV_BYTES:], _aad(context, kid)).decode()


def _aad(context: str, kid: str) -> bytes:
    return f"{context}.{kid}".encode()


# --- SM2 signatures --------------------------------------------------------------------------

SIGNER_ID = b"1234567812345678"  # the GB/T 35276 default, which tongsuopy uses


def _sm2() -> Any:
    from tongsuopy.crypto import hashes as ts_hashes
    from tongsuopy.crypto import serialization
    from tongsuopy.crypto.asymciphers import ec

    return ts_hashes, serialization, ec


def generate_sm2_pem() -> str:
    _hashes, serialization, ec = _sm2()
    key = ec.generate_private_key(ec.SM2())
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


_SEAL_KEYS: dict[str, Any] = {}


def seal_private_key() -> Any:
    """The SM2 seal key: SEAL_PRIVATE_KEY (PEM) from the environment, else the PEM file
    SEAL_KEY_FILE, generated there on first use outside production."""
    config = _config()
    pem = str(config.get("SEAL_PRIVATE_KEY") or "")
    if not pem:
        path = Path(str(config["SEAL_KEY_FILE"]))
        if not path.is_file():
            if config.get("ENV_NAME") == "production":
                raise CryptoError("缺少 SM2 签章私钥（SEAL_PRIVATE_KEY 或 SEAL_KEY_FILE）")
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(generate_sm2_pem(), encoding="ascii")
            path.chmod(0o600)
        pem = path.read_text(encoding="ascii")
    key = _SEAL_KEYS.get(pem)
    if key is None:
        _hashes, serialization, _ec = _sm2()
        key = serialization.load_pem_private_key(pem.encode(), password=None)
        _SEAL_KEYS[pem] = key
    return key


def public_pem(private_key: Any) -> str:
    _hashes, serialization, _ec = _sm2()
    return (
        private_key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


def key_id(private_key: Any) -> str:
    """The public key's SM3 fingerprint (first 16 hex digits) names the key pair."""
    return sm3(public_pem(private_key).encode()).hex()[:16]


def sm2_sign(private_key: Any, data: bytes) -> bytes:
    ts_hashes, _serialization, ec = _sm2()
    return bytes(private_key.sign(data, ec.ECDSA(ts_hashes.SM3())))


def sm2_verify(public_key: Any, data: bytes, signature: bytes) -> bool:
    from tongsuopy.crypto.exceptions import InvalidSignature

    ts_hashes, _serialization, ec = _sm2()
    try:
        public_key.verify(signature, data, ec.ECDSA(ts_hashes.SM3()))
    except (InvalidSignature, ValueError):
        return False
    return True


def keyring_dev_key() -> str:
    """The development keyring's key (hex), for a rotation away from it."""
    return str(json.loads(DEV_FIELD_KEYRING)["keys"]["dev1"])
