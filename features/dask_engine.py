"""The Dask engine: sessionization and training-set steps partition by partition on a Dask cluster.

The lake is read as a Dask dataframe (one or more partitions per Parquet file), shuffled by visitor so
each visitor's events meet in one partition, and sessionized there by the pandas kernel of
``features.sessions_pandas`` — the same rules as the DuckDB query. Nothing collects the lake into one
process: only small summaries (counts per hour, per quasi-identifier combination, per split) come back.

``dask_client`` joins a running scheduler (``--dask-scheduler tcp://host:8786``) or starts a ``LocalCluster``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import dask
import dask.dataframe as dd
import pandas as pd
from dask.distributed import Client, LocalCluster

from core.errors import InvalidInput, NotReady
from features.session_rules import EVENT_COLUMNS_READ, InputQuality, SessionOptions
from features.sessions import empty_sessions
from features.sessions_pandas import sessionize_events, usable_events

T = TypeVar("T")
DEFAULT_LOCAL_WORKERS = 2


class DaskPartitions:
    """A Dask dataframe seen through ``features.partitions.Partitions``."""

    def __init__(self, frame: dd.DataFrame) -> None:
        self.frame = frame

    def map(self, function: Callable[..., pd.DataFrame], *args: Any) -> DaskPartitions:
        meta = function(self.frame._meta, *args)
        return DaskPartitions(self.frame.map_partitions(function, *args, meta=meta))

    def collect(self, function: Callable[[pd.DataFrame], T]) -> list[T]:
        parts = [dask.delayed(function)(part) for part in self.frame.to_delayed()]
        results: tuple[list[T]] = dask.compute(parts)
        return list(results[0])

    def collect_numbered(self, function: Callable[[pd.DataFrame, int], T]) -> list[T]:
        parts = [dask.delayed(function)(part, number) for number, part in enumerate(self.frame.to_delayed())]
        results: tuple[list[T]] = dask.compute(parts)
        return list(results[0])

    def shuffle(self, column: str) -> DaskPartitions:
        """Rows spread over the partitions by a hash of ``column``."""
        return DaskPartitions(self.frame.shuffle(on=column))

    def persist(self) -> DaskPartitions:
        """Computed once and kept in the workers' memory for the steps that follow."""
        return DaskPartitions(self.frame.persist())


@contextmanager
def dask_client(scheduler: str | None = None, *, workers: int = DEFAULT_LOCAL_WORKERS) -> Iterator[Client]:
    """A client of the cluster at ``scheduler``, or of a fresh ``LocalCluster`` (``workers`` processes)."""
    if scheduler:
        try:
            client = Client(scheduler, timeout="10s", set_as_default=True)
        except (OSError, TimeoutError) as exc:
            raise NotReady(f"cannot reach the Dask scheduler at {scheduler}: {exc}") from exc
        except ValueError as exc:
            raise InvalidInput(f"invalid Dask scheduler address {scheduler!r}: use e.g. tcp://host:8786") from exc
        with client:
            yield client
        return
    with (
        LocalCluster(
            n_workers=workers,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address="127.0.0.1:0",
            silence_logs=40,
        ) as cluster,
        Client(cluster, set_as_default=True) as client,
    ):
        yield client


def _raw_quality(events: pd.DataFrame, options: SessionOptions) -> InputQuality:
    """Counts a partition of raw events contributes before the shuffle (reads, invalid, future)."""
    _, quality = usable_events(events, options)
    return InputQuality(
        events_read=quality.events_read, invalid_events=quality.invalid_events, future_events=quality.future_events
    )


def _sessions_of_partition(events: pd.DataFrame, options: SessionOptions) -> pd.DataFrame:
    return sessionize_events(events, options)


def dask_sessions(files: list[Path], client_id: str, options: SessionOptions) -> tuple[DaskPartitions, InputQuality]:
    """Every session of the client's events in ``files`` (persisted on the cluster), and the input counts."""
    raw = dd.read_parquet([str(f) for f in files], columns=list(EVENT_COLUMNS_READ), dataset={"partitioning": None})
    raw = raw[raw["client_id"] == client_id]
    shuffled = raw.shuffle(on="visitor_id")
    sessions = DaskPartitions(shuffled.map_partitions(_sessions_of_partition, options, meta=empty_sessions())).persist()
    raw_counts = DaskPartitions(raw).collect(lambda part: _raw_quality(part, options))
    used = sum(sessions.collect(lambda part: int(part["events"].sum())))
    quality = sum(raw_counts, InputQuality())
    usable = quality.events_read - quality.invalid_events - quality.future_events
    quality = InputQuality(
        events_read=quality.events_read,
        invalid_events=quality.invalid_events,
        future_events=quality.future_events,
        duplicate_events=usable - used,
        events_used=used,
    )
    return sessions, quality
