"""One pipeline, two engines: work on a frame that is either one pandas frame or a Dask dataframe.

The training-set pipeline is written against :class:`Partitions`: ``map`` a pure pandas function over every
partition, ``collect`` a small per-partition summary (counts, minima) into a list to merge locally. With
:class:`LocalPartitions` (the DuckDB engine) there is one partition in memory; with ``DaskPartitions``
(``features.dask_engine``) the functions run on the cluster, partition by partition, and only the summaries
come back to this process.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol, TypeVar

import pandas as pd

T = TypeVar("T")


class Partitions(Protocol):
    """A frame split into partitions that pure pandas functions can run on."""

    def map(self, function: Callable[..., pd.DataFrame], *args: Any) -> Partitions:
        """``function(partition, *args)`` on every partition (lazily where the engine is lazy)."""
        ...

    def collect(self, function: Callable[[pd.DataFrame], T]) -> list[T]:
        """``function(partition)`` of every partition, brought back as a list (keep the results small)."""
        ...

    def collect_numbered(self, function: Callable[[pd.DataFrame, int], T]) -> list[T]:
        """``function(partition, number)`` of every partition (numbered from 0), as a list."""
        ...


class LocalPartitions:
    """One in-memory pandas frame as a single partition."""

    def __init__(self, frame: pd.DataFrame) -> None:
        self.frame = frame

    def map(self, function: Callable[..., pd.DataFrame], *args: Any) -> LocalPartitions:
        return LocalPartitions(function(self.frame, *args))

    def collect(self, function: Callable[[pd.DataFrame], T]) -> list[T]:
        return [function(self.frame)]

    def collect_numbered(self, function: Callable[[pd.DataFrame, int], T]) -> list[T]:
        return [function(self.frame, 0)]
