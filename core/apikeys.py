"""API keys: random tokens shown once, stored as SHA-256 hashes, compared in constant time."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from enum import StrEnum

KEY_RANDOM_BYTES = 24  # 192 bits


class KeyKind(StrEnum):
    """What a key may do."""

    SITE = "site"  # public, embedded in pages: may only send hits for its client
    API = "api"  # server-side: reports, scores, recommendations for its client
    ADMIN = "admin"  # operator: create and purge clients


def new_key(kind: KeyKind) -> str:
    """A fresh key such as ``xmo_api_…``; the prefix tells humans and scanners what it is."""
    return f"xmo_{kind.value}_{secrets.token_urlsafe(KEY_RANDOM_BYTES)}"


def hash_key(key: str) -> str:
    """The stored form of a key (keys carry 192 random bits, so a plain SHA-256 cannot be reversed)."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def display_prefix(key: str) -> str:
    """The first characters of a key, safe to show in listings and logs."""
    parts = key.split("_", 2)
    if len(parts) != 3:
        return "…"
    return f"{parts[0]}_{parts[1]}_{parts[2][:4]}…"


def hashes_match(stored_hash: str, presented_key: str) -> bool:
    """Constant-time comparison of a stored hash with the hash of a presented key."""
    return hmac.compare_digest(stored_hash.encode(), hash_key(presented_key).encode())


def kind_of(key: str) -> KeyKind | None:
    """The kind a key's prefix claims, or None for text that is not an xmo key."""
    parts = key.split("_", 2)
    if len(parts) != 3 or parts[0] != "xmo":
        return None
    try:
        return KeyKind(parts[1])
    except ValueError:
        return None
