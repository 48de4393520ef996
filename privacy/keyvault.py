"""Per-client keys, wrapped (AES-256-GCM) by the master key and kept under ``XMO_HOME/keys``.

Destroying a client's key file makes every pseudonym and signature made with it meaningless
(crypto-shredding). Derived sub-keys keep the uses apart: pseudonyms, link signatures, encryption.

A key file may hold the same client key wrapped by more than one master key (each wrap names its master key by
a fingerprint): rotating the master key adds a wrap under the new key to every file, switches the master key,
then drops the old wraps — at every moment each file opens with the master key in use, so a crash loses
nothing. The client keys themselves never change, so pseudonyms and signed links stay valid.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import threading
from datetime import UTC, datetime
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from core.errors import XmoError
from core.files import atomic_write, create_exclusive
from core.layout import StorageLayout, check_client_id
from core.settings import Settings
from privacy.masterkey import load_master_key

CLIENT_KEY_BYTES = 32
_FORMAT_V1 = "xmo-wrapped-key-v1"  # one wrap: {"nonce", "sealed"}
_FORMAT = "xmo-wrapped-key-v2"  # {"wraps": [{"master", "nonce", "sealed"}, ...]}


def master_fingerprint(master_key: bytes) -> str:
    """A short public name of a master key (reveals nothing of it), to tell wraps apart."""
    return hmac.new(master_key, b"xmo:master-key-fingerprint", hashlib.sha256).hexdigest()[:16]


def key_file(layout: StorageLayout, client_id: str) -> Path:
    """Where the wrapped key of a client lives."""
    return layout.keys_dir / f"{check_client_id(client_id)}.key"


class KeyVaultError(XmoError):
    """A key file is unreadable with this master key."""

    code = "key_vault"
    http_status = 500


class KeyVault:
    """Creates, unwraps and destroys per-client keys; caches unwrapped keys in memory only."""

    def __init__(self, keys_dir: Path, master_key: bytes) -> None:
        self.keys_dir = keys_dir
        self._master = master_key
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

    @staticmethod
    def _seal(master_key: bytes, client_id: str, key: bytes) -> dict[str, str]:
        nonce = secrets.token_bytes(12)
        sealed = AESGCM(master_key).encrypt(nonce, key, client_id.encode())
        return {
            "master": master_fingerprint(master_key),
            "nonce": nonce.hex(),
            "sealed": sealed.hex(),
            "wrapped_at": datetime.now(UTC).isoformat(),
        }

    @staticmethod
    def _document(client_id: str, wraps: list[dict[str, str]]) -> bytes:
        return json.dumps({"format": _FORMAT, "client_id": client_id, "wraps": wraps}).encode()

    def _wrap(self, client_id: str, key: bytes) -> bytes:
        return self._document(client_id, [self._seal(self._master, client_id, key)])

    @staticmethod
    def _wraps(blob: bytes) -> list[dict[str, str]]:
        data = json.loads(blob)
        if data.get("format") == _FORMAT_V1:
            return [{"master": "", "nonce": data["nonce"], "sealed": data["sealed"]}]
        return list(data["wraps"])

    def _unwrap(self, client_id: str, blob: bytes) -> bytes:
        try:
            wraps = self._wraps(blob)
        except (ValueError, KeyError, TypeError) as exc:
            raise KeyVaultError(f"key file of client {client_id!r} is damaged") from exc
        mine = master_fingerprint(self._master)
        for wrap in sorted(wraps, key=lambda w: w.get("master") != mine):  # this master key's wrap first
            try:
                return self._aead.decrypt(
                    bytes.fromhex(wrap["nonce"]), bytes.fromhex(wrap["sealed"]), client_id.encode()
                )
            except (InvalidTag, ValueError, KeyError):
                continue
        raise KeyVaultError(f"key of client {client_id!r} cannot be unwrapped with this master key")

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

    def client_ids(self) -> list[str]:
        """Every client with a key file."""
        return sorted(path.stem for path in self.keys_dir.glob("*.key"))

    def add_wrap(self, client_id: str, new_master: bytes) -> None:
        """Also wrap the client's key under ``new_master`` (the first step of a master key rotation)."""
        path = self._path(client_id)
        key = self._unwrap(client_id, path.read_bytes())
        fingerprint = master_fingerprint(new_master)
        wraps = [w for w in self._wraps(path.read_bytes()) if w.get("master") != fingerprint]
        atomic_write(path, self._document(client_id, [*wraps, self._seal(new_master, client_id, key)]))

    def has_newer_wrap(self, client_id: str) -> bool:
        """Whether the file holds a wrap under another master key made after this master key's wrap."""
        wraps = self._wraps(self._path(client_id).read_bytes())
        mine = master_fingerprint(self._master)
        own = max((w.get("wrapped_at", "") for w in wraps if w.get("master") == mine), default="")
        return any(w.get("master") != mine and w.get("wrapped_at", "") > own for w in wraps)

    def drop_other_wraps(self, client_id: str) -> bool:
        """Keep only the wrap under this vault's master key (the last step of a rotation); True if any went."""
        path = self._path(client_id)
        key = self._unwrap(client_id, path.read_bytes())
        mine = master_fingerprint(self._master)
        wraps = self._wraps(path.read_bytes())
        if all(w.get("master") == mine for w in wraps):
            return False
        atomic_write(path, self._document(client_id, [self._seal(self._master, client_id, key)]))
        return True

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
