"""The compactor's index of stored event ids: names every file that holds an id, reads a file once, notices a
rewritten file, and stays within its bound."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa

from tracking.event_index import StoredEventIds
from tracking.lake import write_parquet_atomically


def _file(folder: Path, name: str, ids: list[str]) -> Path:
    path = folder / name
    write_parquet_atomically(pa.table({"event_id": ids}), path)
    return path


def test_it_names_the_files_that_hold_an_id_and_reads_each_once(tmp_path: Path) -> None:
    index = StoredEventIds()
    a = _file(tmp_path, "a.parquet", [f"a{i}" for i in range(1000)])
    b = _file(tmp_path, "b.parquet", [f"b{i}" for i in range(1000)])
    index.remember(b, [f"b{i}" for i in range(1000)])  # written by this compactor: never read back
    assert list(index.files_that_may_hold([tmp_path], ["a5", "zz"], skip="none")) == [a]
    assert list(index.files_that_may_hold([tmp_path], ["b999"], skip="none")) == [b]
    assert list(index.files_that_may_hold([tmp_path], ["b999"], skip="b.parquet")) == []
    assert list(index.files_that_may_hold([tmp_path], [f"new{i}" for i in range(500)], skip="none")) == []
    assert index.files_read == 1, "a.parquet once; b.parquet was remembered when written"


def test_a_rewritten_file_is_read_again(tmp_path: Path) -> None:
    index = StoredEventIds()
    path = _file(tmp_path, "a.parquet", ["x", "y"])
    assert list(index.files_that_may_hold([tmp_path], ["y"], skip="")) == [path]
    _file(tmp_path, "a.parquet", ["x"])  # an erasure rewrote it without y
    assert list(index.files_that_may_hold([tmp_path], ["y"], skip="")) == []
    assert index.files_read == 2


def test_memory_is_bounded_and_forgotten_folders_are_read_again(tmp_path: Path) -> None:
    index = StoredEventIds(max_ids=1500)
    folders = [tmp_path / f"date=2026-11-2{n}" for n in range(3)]
    paths = [_file(folder, "a.parquet", [f"{n}-{i}" for i in range(1000)]) for n, folder in enumerate(folders)]
    for n, path in enumerate(paths):
        assert list(index.files_that_may_hold([folders[n]], [f"{n}-7"], skip="")) == [path]
    assert sum(folder.size for folder in index._folders.values()) <= 1500
    assert list(index.files_that_may_hold([folders[0]], ["0-7"], skip="")) == [paths[0]]
    assert index.files_read == 4, "the first folder was forgotten and read again"


def test_a_new_file_beside_indexed_ones_is_found_whoever_wrote_it(tmp_path: Path) -> None:
    index = StoredEventIds()
    own = _file(tmp_path, "own.parquet", ["a", "b"])
    index.remember(own, ["a", "b"])
    assert list(index.files_that_may_hold([tmp_path], ["b"], skip="")) == [own]
    other = _file(tmp_path, "other.parquet", ["c"])  # another compactor (xmo compact) wrote it meanwhile
    assert list(index.files_that_may_hold([tmp_path], ["c", "a"], skip="")) == [other, own]
    other.unlink()  # retention or a purge removed it
    assert list(index.files_that_may_hold([tmp_path], ["c"], skip="")) == []
