"""Webhook secrets and signatures.

Each endpoint has a secret (``whsec_...``) shown once to its organization. A delivery
carries ``Portal-Signature: t=<unix seconds>,v1=<hex>``: the HMAC-SHA256, keyed with the
secret, of ``"<t>.<body>"``. During the grace period after a rotation a second ``v1=``
signs with the previous secret, so a receiver can switch secrets at its own pace.

Secrets are kept encrypted (Fernet, AES-128-CBC with HMAC-SHA256) under a key derived
from the app's ``SECRET_KEY`` with HKDF: the worker must recover them to sign, so they
cannot be hashed, and a copy of the database without the key does not reveal them.
Changing ``SECRET_KEY`` makes them unreadable: deliveries then fail with a message that
says to rotate each endpoint's secret.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from flask import current_app

SIGNATURE_HEADER = "Portal-Signature"
EVENT_ID_HEADER = "Portal-Event-Id"
EVENT_TYPE_HEADER = "Portal-Event-Type"
SECRET_PREFIX = "whsec_"  # noqa: S105 - the prefix of every secret, not a secret


class UnreadableSecret(ValueError):
    """The stored secret was encrypted under another SECRET_KEY."""


def new_secret() -> str:
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def _fernet(secret_key: str | None = None) -> Fernet:
    key = (secret_key or current_app.config["SECRET_KEY"]).encode()
    derived = HKDF(
        algorithm=hashes.SHA256(), length=32, salt=None, info=b"portal webhook secrets"
    ).derive(key)
    return Fernet(base64.urlsafe_b64encode(derived))


def encrypt_secret(secret: str) -> str:
    return _fernet().encrypt(secret.encode()).decode("ascii")


def decrypt_secret(stored: str) -> str:
    try:
        return _fernet().decrypt(stored.encode("ascii")).decode()
    except (InvalidToken, ValueError) as exc:
        raise UnreadableSecret(
            "the endpoint's secret cannot be read (SECRET_KEY changed?): rotate the secret"
        ) from exc


def signature(secret: str, timestamp: int, body: bytes) -> str:
    signed = str(timestamp).encode() + b"." + body
    return hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()


def signature_header(secrets_in_use: list[str], timestamp: int, body: bytes) -> str:
    """``t=...,v1=...[,v1=...]``: one ``v1`` per secret in use, the current one first."""
    parts = [f"t={timestamp}"]
    parts += [f"v1={signature(secret, timestamp, body)}" for secret in secrets_in_use]
    return ",".join(parts)


def verify(header: str, body: bytes, secret: str, now: int, tolerance: int = 300) -> bool:
    """What a receiver does (and the tests): a ``v1`` matches and ``t`` is recent."""
    fields = [part.split("=", 1) for part in header.split(",") if "=" in part]
    stamps = [value for name, value in fields if name == "t"]
    if len(stamps) != 1 or not stamps[0].isdigit() or abs(now - int(stamps[0])) > tolerance:
        return False
    expected = signature(secret, int(stamps[0]), body)
    return any(hmac.compare_digest(expected, value) for name, value in fields if name == "v1")
