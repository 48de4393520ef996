"""The master key that wraps every client key: from the environment, or generated once into XMO_HOME."""

from __future__ import annotations

import base64
import binascii
import secrets

from core.errors import InvalidInput
from core.files import create_exclusive
from core.layout import StorageLayout
from core.settings import Settings

MASTER_KEY_BYTES = 32


def _decode(text: str, origin: str) -> bytes:
    try:
        key = base64.urlsafe_b64decode(text.strip().encode() + b"=" * (-len(text.strip()) % 4))
    except (binascii.Error, ValueError) as exc:
        raise InvalidInput(f"{origin} is not valid base64") from exc
    if len(key) != MASTER_KEY_BYTES:
        raise InvalidInput(f"{origin} must decode to {MASTER_KEY_BYTES} bytes, got {len(key)}")
    return key


def encode_key(key: bytes) -> str:
    """Base64 text of a key, as ``XMO_MASTER_KEY`` expects it."""
    return base64.urlsafe_b64encode(key).decode().rstrip("=")


def load_master_key(settings: Settings) -> bytes:
    """Return the master key, creating ``master.key`` (mode 0600) on first use when none is configured."""
    if settings.master_key is not None:
        return _decode(settings.master_key.get_secret_value(), "XMO_MASTER_KEY")
    layout = StorageLayout.from_settings(settings).ensure()
    path = layout.master_key_file
    if not path.exists():
        create_exclusive(path, (encode_key(secrets.token_bytes(MASTER_KEY_BYTES)) + "\n").encode())
    return _decode(path.read_text(), str(path))
