"""Keyed pseudonyms of personal identifiers: HMAC-SHA256 with the client's key, never the raw value."""

from __future__ import annotations

import hashlib
import hmac
import unicodedata
from enum import StrEnum

# The first-party cookie's visitor id as xmo issues and accepts it: random, never derived from an identifier (P3)
VISITOR_ID_PATTERN = r"^[A-Za-z0-9_-]{16,64}$"


class IdentifierKind(StrEnum):
    """Personal identifiers xmo may pseudonymize (with the client's request and the user's consent)."""

    EMAIL = "email"
    MEMBER = "member"


def normalize_identifier(kind: IdentifierKind, value: str) -> str:
    """Canonical form, so ``Ann@Example.com `` and ``ann@example.com`` give the same pseudonym."""
    text = unicodedata.normalize("NFKC", value).strip()
    return text.lower() if kind is IdentifierKind.EMAIL else text


def pseudonymize(key: bytes, kind: IdentifierKind, value: str) -> str:
    """The keyed pseudonym (64 hex characters) of one identifier; the kind is part of the message."""
    message = f"{kind.value}:{normalize_identifier(kind, value)}".encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()
