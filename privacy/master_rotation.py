"""Rotating the master key without losing data: every client key is re-wrapped, none is changed.

With the master key in ``XMO_HOME/master.key`` (the embedded default) one call does it all: wrap each client key
under a new master key as well, replace ``master.key`` atomically, drop the old wraps. With ``XMO_MASTER_KEY``
from the environment, xmo cannot change the environment: the first call adds the wraps and returns the new key
(shown once); the operator deploys it, then ``finish_master_rotation`` drops the old wraps. Run it while no
other xmo process creates clients (a key created under the old master key meanwhile would miss its new wrap;
``finish_master_rotation`` names any such key instead of dropping anything from it).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from core import audit
from core.database import get_engine
from core.errors import Conflict
from core.files import atomic_write
from core.layout import StorageLayout
from core.settings import Settings
from privacy.keyvault import KeyVault, KeyVaultError
from privacy.masterkey import MASTER_KEY_BYTES, encode_key, load_master_key


@dataclass(frozen=True)
class MasterRotation:
    """What a rotation did."""

    keys_rewrapped: int
    finished: bool  # the old wraps are gone
    new_master_key: str | None = None  # only when XMO_MASTER_KEY must be replaced by the operator (shown once)


def _record(settings: Settings, actor: str, action: str, keys: int) -> None:
    with get_engine(settings).begin() as connection:
        audit.record(connection, actor=actor, action=action, client_id=None, details={"client_keys": keys})


def rotate_master_key(settings: Settings, *, actor: str) -> MasterRotation:
    """Wrap every client key under a fresh master key; finish at once when the key lives in ``master.key``."""
    layout = StorageLayout.from_settings(settings).ensure()
    old_vault = KeyVault(layout.keys_dir, load_master_key(settings))
    new_key = secrets.token_bytes(MASTER_KEY_BYTES)
    clients = old_vault.client_ids()
    for client_id in clients:
        old_vault.add_wrap(client_id, new_key)
    if settings.master_key is not None:
        _record(settings, actor, "key.rotate.master.started", len(clients))
        return MasterRotation(len(clients), finished=False, new_master_key=encode_key(new_key))
    atomic_write(layout.master_key_file, (encode_key(new_key) + "\n").encode())
    new_vault = KeyVault(layout.keys_dir, new_key)
    for client_id in clients:
        new_vault.drop_other_wraps(client_id)
    _record(settings, actor, "key.rotate.master", len(clients))
    return MasterRotation(len(clients), finished=True)


def finish_master_rotation(settings: Settings, *, actor: str) -> MasterRotation:
    """Drop the wraps under any other master key than the one configured now (after the operator deployed it).

    Refuses (``Conflict``) and changes nothing when some client key does not open with the current master key.
    """
    vault = KeyVault.from_settings(settings)
    clients = vault.client_ids()
    unreadable, older = [], []
    for client_id in clients:
        try:
            vault.client_key(client_id)
        except KeyVaultError:
            unreadable.append(client_id)
            continue
        if vault.has_newer_wrap(client_id):
            older.append(client_id)
    if unreadable:
        raise Conflict(
            f"the keys of {', '.join(unreadable)} do not open with the configured master key; "
            "is XMO_MASTER_KEY the new key? nothing was changed"
        )
    if older:
        raise Conflict(
            "the configured master key is the old one (the keys hold a newer wrap): set XMO_MASTER_KEY to the "
            "new key first; nothing was changed"
        )
    dropped = sum(vault.drop_other_wraps(client_id) for client_id in clients)
    _record(settings, actor, "key.rotate.master.finish", dropped)
    return MasterRotation(dropped, finished=True)
