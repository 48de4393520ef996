"""Per-client keys, wrapped (AES-256-GCM) by the master key and kept under ``XMO_HOME/keys``.

Destroying a client's key file makes every pseudonym and signature made with it meaningless
(crypto-shredding). Derived sub-keys keep the uses apart: pseudonyms, link signatures, encryption.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import threading
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from core.errors import XmoError
from core.files import create_exclusive
from core.layout import StorageLayout, check_client_id
from core.masterkey import load_master_key
from core.settings import Settings

CLIENT_KEY_BYTES = 32
_FORMAT = "xmo-wrapped-key-v1"


class KeyVaultError(XmoError):
    """A key file is unreadable with this master key."""

    code = "key_vault"
    http_status = 500


class KeyVault:
    """Creates, unwraps and destroys per-client keys; caches unwrapped keys in memory only."""

    def __init__(self, keys_dir: Path, master_key: bytes) -> None:
        self.keys_dir = keys_dir
        self._aead = AESGCM(master_key)
        self._cache: dict[str, bytes] = {}
        self._lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: Settings) -> KeyVault:
        """The vault under ``settings.home`` with the configured master key."""
        layout = StorageLayout.from_settings(settings).ensure()
        return cls(layout.keys_dir, load_master_key(settings))

    def _path(self, client_id: str) -> Path:
        return self.keys_dir / f"{check_client_id(client_id)}.key"

    def _wrap(self, client_id: str, key: bytes) -> bytes:
        nonce = secrets.token_bytes(12)
        sealed = self._aead.encrypt(nonce, key, client_id.encode())
        return json.dumps(
            {"format": _FORMAT, "client_id": client_id, "nonce": nonce.hex(), "sealed": sealed.hex()}
        ).encode()

    def _unwrap(self, client_id: str, blob: bytes) -> bytes:
        try:
            data = json.loads(blob)
            return self._aead.decrypt(bytes.fromhex(data["nonce"]), bytes.fromhex(data["sealed"]), client_id.encode())
        except (InvalidTag, ValueError, KeyError) as exc:
            raise KeyVaultError(f"key of client {client_id!r} cannot be unwrapped with this master key") from exc

    def client_key(self, client_id: str) -> bytes:
        """The client's root key, created on first use (safe against concurrent creators)."""
        with self._lock:
            cached = self._cache.get(client_id)
        if cached is not None:
            return cached
        path = self._path(client_id)
        if not path.exists():
            create_exclusive(path, self._wrap(client_id, secrets.token_bytes(CLIENT_KEY_BYTES)))
        key = self._unwrap(client_id, path.read_bytes())
        with self._lock:
            self._cache[client_id] = key
        return key

    def derived_key(self, client_id: str, purpose: str) -> bytes:
        """A sub-key for one purpose (``pseudonym``, ``link``, …), so one use never leaks into another."""
        return hmac.new(self.client_key(client_id), f"xmo:{purpose}".encode(), hashlib.sha256).digest()

    def has_key(self, client_id: str) -> bool:
        """Whether the client's key exists."""
        return self._path(client_id).exists()

    def destroy(self, client_id: str) -> bool:
        """Delete the client's key (crypto-shredding); True if there was one."""
        with self._lock:
            self._cache.pop(client_id, None)
        path = self._path(client_id)
        existed = path.exists()
        path.unlink(missing_ok=True)
        return existed
