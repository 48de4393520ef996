"""Crash-safe file writes and deletes: nothing half-written or half-deleted is visible under its final name."""

from __future__ import annotations

import os
import secrets
import shutil
from pathlib import Path


def _temp_beside(path: Path) -> Path:
    return path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")


def fsync_dir(folder: Path) -> None:
    """Make a rename or unlink inside ``folder`` durable."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_temp(path: Path, data: bytes, mode: int) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _temp_beside(path)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    return tmp


def atomic_write(path: Path, data: bytes, mode: int = 0o600) -> None:
    """Replace ``path`` with ``data`` atomically and durably."""
    tmp = _write_temp(path, data, mode)
    try:
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    fsync_dir(path.parent)


def create_exclusive(path: Path, data: bytes, mode: int = 0o600) -> bool:
    """Create ``path`` holding ``data`` unless it exists; True when this call created it.

    The content is complete before the name appears, so a concurrent reader never sees a partial file.
    """
    tmp = _write_temp(path, data, mode)
    try:
        os.link(tmp, path)
    except FileExistsError:
        return False
    finally:
        tmp.unlink(missing_ok=True)
    fsync_dir(path.parent)
    return True


TOMBSTONE_PREFIX = ".purging-"


def tombstone_of(folder: Path) -> Path:
    """Where ``remove_tree`` moves ``folder`` before deleting it."""
    return folder.with_name(f"{TOMBSTONE_PREFIX}{folder.name}")


def remove_tree(folder: Path) -> None:
    """Delete ``folder``: renamed away first, so readers see all of it or none; a crash's leftovers go too."""
    tombstone = tombstone_of(folder)
    if folder.exists():
        shutil.rmtree(tombstone, ignore_errors=True)
        folder.rename(tombstone)
    shutil.rmtree(tombstone, ignore_errors=True)
