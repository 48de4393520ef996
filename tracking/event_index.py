"""Which lake files may hold an event id: hashes of each partition's ids, kept between compaction passes.

Compaction looks for every incoming event id in the files of its day and the neighbouring days. Reading those
files on every pass made a pass cost grow with the day's events and files: under steady load the compactor
spent nine tenths of its time there and fell behind. The index reads a file's ids once (again only when the
file changes) and keeps, per partition folder, one sorted array of 64-bit hashes (8 bytes an id) with the file
each came from, so a range is looked up with one binary search per folder; only the files it names are read to
confirm. A folder whose modification time is unchanged is not listed again; a listed file whose inode, size and
modification time are unchanged is not read again. Memory is bounded: the least recently used folders are
forgotten.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq

DEFAULT_MAX_IDS = 16_000_000  # ~200 MB with the owner of each hash
RACY_NS = 100_000_000  # file system times move in ticks of a few milliseconds
Version = tuple[int, int, int]  # inode, size, modification time: what tells a rewritten file from the one indexed


def _hashes(event_ids: Iterable[str], count: int) -> np.ndarray:
    """Sorted hashes of ids (Python's string hash: stable within this process, which is all the index lives)."""
    return np.sort(np.fromiter(map(hash, event_ids), dtype=np.int64, count=count))


def _version(path: Path) -> Version:
    stat = path.stat()
    return stat.st_ino, stat.st_size, stat.st_mtime_ns


@dataclass
class _Folder:
    """The indexed files of one partition folder and their hashes, merged into one sorted array."""

    stamp: int = -1  # the folder's modification time when last listed
    files: dict[str, tuple[Version, np.ndarray]] = field(default_factory=dict)
    names: list[str] = field(default_factory=list)  # owners index into this
    merged: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.int64))
    owners: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.int32))
    stale: bool = False  # a file went or changed: merged must be built again

    @property
    def size(self) -> int:
        return int(self.merged.size)

    def add(self, name: str, version: Version, hashes: np.ndarray) -> None:
        if name in self.files:
            self.stale = True
        self.files[name] = (version, hashes)
        if not self.stale:  # insert the new sorted hashes where they belong: one copy, no sort of the whole
            self.names.append(name)
            at = np.searchsorted(self.merged, hashes)
            self.merged = np.insert(self.merged, at, hashes)
            self.owners = np.insert(self.owners, at, np.int32(len(self.names) - 1))

    def drop(self, name: str) -> None:
        if self.files.pop(name, None) is not None:
            self.stale = True

    def rebuild(self) -> None:
        self.names = list(self.files)
        arrays = [self.files[name][1] for name in self.names]
        values = np.concatenate(arrays) if arrays else np.empty(0, dtype=np.int64)
        owners = np.repeat(np.arange(len(arrays), dtype=np.int32), [a.size for a in arrays])
        order = np.argsort(values, kind="stable")
        self.merged, self.owners, self.stale = values[order], owners[order], False


class StoredEventIds:
    """An in-memory index of the event ids in lake files (see the module docstring)."""

    def __init__(self, max_ids: int = DEFAULT_MAX_IDS) -> None:
        self.max_ids = max_ids
        self._folders: OrderedDict[Path, _Folder] = OrderedDict()
        self.files_read = 0  # how many times a file's ids had to be read (for tests and benchmarks)

    def remember(self, path: Path, event_ids: list[str]) -> None:
        """Note the ids of a file this compactor just wrote, so the next look at its folder need not read it."""
        folder = self._folders.setdefault(path.parent, _Folder())
        folder.add(path.name, _version(path), _hashes(event_ids, len(event_ids)))
        self._bound()

    def files_that_may_hold(self, folders: Iterable[Path], event_ids: list[str], skip: str) -> Iterator[Path]:
        """The Parquet files in ``folders`` (the file named ``skip`` aside) that may hold one of ``event_ids``."""
        wanted = np.fromiter(map(hash, event_ids), dtype=np.int64, count=len(event_ids))
        for path in folders:
            folder = self._refreshed(path)
            if folder.size == 0:
                continue
            left = np.searchsorted(folder.merged, wanted, side="left")
            right = np.searchsorted(folder.merged, wanted, side="right")
            found = right > left
            owners = {
                int(o) for start, end in zip(left[found], right[found], strict=True) for o in folder.owners[start:end]
            }
            for name in sorted(folder.names[o] for o in owners):
                if name != skip:
                    yield path / name

    def _refreshed(self, path: Path) -> _Folder:
        folder = self._folders.get(path)
        if folder is None:
            folder = self._folders[path] = _Folder()
        self._folders.move_to_end(path)
        stamp = path.stat().st_mtime_ns
        if stamp != folder.stamp:
            present = {p.name: p for p in path.glob("*.parquet")}
            for name in [n for n in folder.files if n not in present]:
                folder.drop(name)
            for name, file in sorted(present.items()):
                version = _version(file)
                known = folder.files.get(name)
                if known is None or known[0] != version:
                    column = pq.read_table(file, columns=["event_id"]).column("event_id")
                    self.files_read += 1
                    folder.add(name, version, _hashes(column.to_pylist(), len(column)))
            # A change in the same clock tick leaves the time as it was (git's "racy" timestamps): trust only a
            # time old enough that any later change must move it.
            folder.stamp = stamp if time.time_ns() - stamp > RACY_NS else -1
        if folder.stale:
            folder.rebuild()
        self._bound()
        return folder

    def _bound(self) -> None:
        while sum(f.size for f in self._folders.values()) > self.max_ids and len(self._folders) > 1:
            self._folders.popitem(last=False)
