"""Master key rotation keeps every client key (so pseudonyms stay the same), survives a crash at any step,
and leaves the old master key useless; with XMO_MASTER_KEY the operator finishes it after deploying the new key."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from core import audit
from core.database import get_engine
from core.errors import Conflict
from core.layout import StorageLayout
from core.settings import Settings, get_settings
from privacy.keyvault import KeyVault, KeyVaultError
from privacy.master_rotation import finish_master_rotation, rotate_master_key
from privacy.masterkey import encode_key, load_master_key
from privacy.pseudonyms import IdentifierKind, pseudonymize
from xmo.cli import main

CLIENTS = ("alpha", "bravo", "charlie")


def _pseudonyms(vault: KeyVault) -> dict[str, str]:
    return {
        c: pseudonymize(vault.derived_key(c, "pseudonym"), IdentifierKind.EMAIL, "ann@example.org") for c in CLIENTS
    }


def test_rotation_with_master_key_file_keeps_client_keys(settings: Settings) -> None:
    layout = StorageLayout.from_settings(settings)
    old_master = load_master_key(settings)
    before = _pseudonyms(KeyVault(layout.keys_dir, old_master))

    result = rotate_master_key(settings, actor=audit.CLI_ACTOR)

    new_master = load_master_key(settings)
    assert result.finished and result.keys_rewrapped == 3 and result.new_master_key is None
    assert new_master != old_master
    assert _pseudonyms(KeyVault(layout.keys_dir, new_master)) == before
    with pytest.raises(KeyVaultError):
        KeyVault(layout.keys_dir, old_master).client_key("alpha")
    assert all(len(json.loads((layout.keys_dir / f"{c}.key").read_text())["wraps"]) == 1 for c in CLIENTS)
    assert encode_key(old_master) not in (layout.master_key_file.read_text())
    [entry] = [e for e in audit.entries(get_engine(settings)) if e.action.startswith("key.rotate.master")]
    assert entry.details == {"client_keys": 3}


def test_a_crash_before_the_switch_leaves_the_old_master_key_working(settings: Settings) -> None:
    layout = StorageLayout.from_settings(settings)
    old_vault = KeyVault(layout.keys_dir, load_master_key(settings))
    before = _pseudonyms(old_vault)
    old_vault.add_wrap("alpha", b"\x01" * 32)  # the rotation died after re-wrapping one key
    assert _pseudonyms(KeyVault(layout.keys_dir, load_master_key(settings))) == before
    rotate_master_key(settings, actor=audit.CLI_ACTOR)  # run again: finishes with another new key
    assert _pseudonyms(KeyVault(layout.keys_dir, load_master_key(settings))) == before
    with pytest.raises(KeyVaultError):
        KeyVault(layout.keys_dir, b"\x01" * 32).client_key("alpha")


def test_rotation_with_master_key_from_the_environment(xmo_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    old = encode_key(b"\x07" * 32)
    settings = Settings(home=xmo_home, master_key=old)
    before = _pseudonyms(KeyVault.from_settings(settings))
    result = rotate_master_key(settings, actor=audit.CLI_ACTOR)
    assert not result.finished and result.new_master_key
    assert _pseudonyms(KeyVault.from_settings(settings)) == before, "the old key works until the switch"
    with pytest.raises(Conflict, match="the configured master key is the old one"):
        finish_master_rotation(settings, actor=audit.CLI_ACTOR)
    switched = Settings(home=xmo_home, master_key=result.new_master_key)
    assert finish_master_rotation(switched, actor=audit.CLI_ACTOR).keys_rewrapped == 3
    assert _pseudonyms(KeyVault.from_settings(switched)) == before
    with pytest.raises(KeyVaultError):
        KeyVault.from_settings(settings).client_key("bravo")


def test_cli_rotates_and_finishing_with_a_wrong_key_is_refused(
    settings: Settings, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    KeyVault.from_settings(settings).client_key("alpha")
    assert main(["keys", "rotate-master", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == {"keys_rewrapped": 1, "finished": True, "new_master_key": None}
    monkeypatch.setenv("XMO_MASTER_KEY", encode_key(b"\x09" * 32))
    get_settings.cache_clear()
    assert main(["keys", "rotate-master", "--finish"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("xmo: the keys of alpha do not open with the configured master key") and err.count("\n") == 1


def test_destroying_a_client_key_makes_its_pseudonyms_unlinkable(settings: Settings) -> None:
    """Crypto-shredding: after the key is gone, a leaked backup's pseudonym cannot be matched to an e-mail."""
    vault = KeyVault.from_settings(settings)
    leaked = pseudonymize(vault.derived_key("alpha", "pseudonym"), IdentifierKind.EMAIL, "ann@example.org")
    assert vault.destroy("alpha")
    again = pseudonymize(vault.derived_key("alpha", "pseudonym"), IdentifierKind.EMAIL, "ann@example.org")
    assert again != leaked, "a client re-created under the same id gets a new key"
