from __future__ import annotations

import os
import stat
import threading
from pathlib import Path

import pytest

from core.settings import Settings
from privacy.keyvault import KeyVault, KeyVaultError
from privacy.masterkey import encode_key


def test_client_key_is_created_once_wrapped_and_private(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path)
    vault = KeyVault.from_settings(settings)
    key = vault.client_key("acme")
    path = tmp_path / "keys" / "acme.key"
    assert len(key) == 32
    assert key not in path.read_bytes() and key.hex() not in path.read_text()
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert KeyVault.from_settings(settings).client_key("acme") == key, "a second process unwraps the same key"
    assert vault.client_key("other") != key


def test_derived_keys_differ_by_purpose(tmp_path: Path) -> None:
    vault = KeyVault.from_settings(Settings(home=tmp_path))
    assert vault.derived_key("acme", "pseudonym") != vault.derived_key("acme", "link")
    assert vault.derived_key("acme", "pseudonym") != vault.client_key("acme")


def test_wrong_master_key_cannot_unwrap(tmp_path: Path) -> None:
    KeyVault.from_settings(Settings(home=tmp_path, master_key=encode_key(b"1" * 32))).client_key("acme")
    other = KeyVault.from_settings(Settings(home=tmp_path, master_key=encode_key(b"2" * 32)))
    with pytest.raises(KeyVaultError):
        other.client_key("acme")


def test_destroy_is_crypto_shredding(tmp_path: Path) -> None:
    vault = KeyVault.from_settings(Settings(home=tmp_path))
    old = vault.client_key("acme")
    assert vault.destroy("acme") is True
    assert not vault.has_key("acme")
    assert vault.client_key("acme") != old, "a destroyed key never comes back"
    assert vault.destroy("nobody") is False


def test_concurrent_first_use_agrees_on_one_key(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path)
    results: list[bytes] = []
    vaults = [KeyVault.from_settings(settings) for _ in range(8)]
    threads = [threading.Thread(target=lambda v=v: results.append(v.client_key("race"))) for v in vaults]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(results)) == 1
