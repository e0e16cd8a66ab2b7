"""SQL reads and writes of API keys; only the sha256 of a secret is ever stored.

Why a fast hash and not bcrypt/argon2: those are slow on purpose to protect
low-entropy, human-chosen passwords from guessing. A key secret here is 32
random bytes (``secrets.token_urlsafe(32)``, 256 bits), so even a leaked hash
cannot be brute-forced, and a fast hash lets every request find its key by one
indexed lookup on ``secret_hash`` instead of a deliberately slow comparison.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Sequence
from datetime import datetime, timedelta, timezone

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from ..errors import KeyExists, KeyNotFound
from .models import ApiKey, utcnow

SECRET_PREFIX = "vdx_"
"""Marks a vecdex secret (secret scanners and people recognise it); not part of the randomness."""
PREFIX_CHARS = 12
"""``vdx_`` and 8 random characters: shown by ``keys list``; reveals 48 of the secret's 256 bits."""
TOUCH_EVERY = timedelta(seconds=60)
"""``last_used_at`` is written at most this often per key, so serving requests does not mean writing rows."""


def new_secret() -> str:
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def secret_hash(secret: str) -> str:
    """Hex sha256 of the secret: what the row stores and what a request is looked up by."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def insert_key(session: Session, name: str, scope: str, collections: Sequence[str] | None) -> tuple[ApiKey, str]:
    """A new key row and its secret (returned here once, never stored)."""
    if session.scalar(select(ApiKey.id).where(ApiKey.name == name)) is not None:
        raise KeyExists(f"an API key named {name!r} already exists (revoked keys keep their names)", field="name")
    secret = new_secret()
    key = ApiKey(
        name=name,
        scope=scope,
        secret_hash=secret_hash(secret),
        prefix=secret[:PREFIX_CHARS],
        collections=list(collections) if collections is not None else None,
    )
    session.add(key)
    session.flush()
    return key, secret


def list_keys(session: Session) -> list[ApiKey]:
    return list(session.scalars(select(ApiKey).order_by(ApiKey.name)))


def get_key(session: Session, name: str) -> ApiKey:
    key = session.scalar(select(ApiKey).where(ApiKey.name == name))
    if key is None:
        raise KeyNotFound(f"no API key named {name!r}", field="name")
    return key


def revoke_key(session: Session, name: str) -> ApiKey:
    """Mark the key revoked (idempotent: a second revoke keeps the first time)."""
    key = get_key(session, name)
    if key.revoked_at is None:
        key.revoked_at = utcnow()
        session.flush()
    return key


def find_by_secret(session: Session, secret: str) -> ApiKey | None:
    """The key whose secret this is (revoked or not), by one indexed SELECT; None for an unknown secret."""
    digest = secret_hash(secret)
    key = session.scalar(select(ApiKey).where(ApiKey.secret_hash == digest))
    # The index found it by equality; compare again in constant time so no code path compares secrets early-out.
    if key is None or not hmac.compare_digest(key.secret_hash, digest):
        return None
    return key


def touch(session: Session, key: ApiKey, now: datetime | None = None) -> bool:
    """Record use, at most once per ``TOUCH_EVERY`` (the row read says when it was last written).

    Returns whether it wrote (the caller then commits; a request that wrote nothing needs no commit).
    """
    now = now or utcnow()
    last = key.last_used_at
    if last is not None and last.tzinfo is None:  # SQLite keeps no offset; stored values are UTC
        last = last.replace(tzinfo=timezone.utc)
    if last is not None and now - last < TOUCH_EVERY:
        return False
    session.execute(update(ApiKey).where(ApiKey.id == key.id).values(last_used_at=now))
    key.last_used_at = now
    return True
