"""The collector: raw hits → edge → durable spool, with counters; and group commit for live traffic."""

from __future__ import annotations

import asyncio
import threading
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import pandas as pd

from core.settings import Settings
from core.tenants import Tenants
from privacy.keyvault import KeyVault
from tracking.edge import DropReason, Edge, EdgeResult
from tracking.policies import ClientPolicies, build_edge
from tracking.spool import EncodedBatch, Spool, encode_rows

CountListener = Callable[[int, int, dict[DropReason, int]], None]


class IngestCounters:
    """Thread-safe totals of hits received, accepted and dropped by reason (for /metrics)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.received = 0
        self.accepted = 0
        self.dropped: Counter[DropReason] = Counter()
        self.listeners: list[CountListener] = []  # e.g. Prometheus counters: (received, accepted, drops)

    def add(self, result: EdgeResult) -> None:
        with self._lock:
            self.received += result.received
            self.accepted += result.accepted
            self.dropped.update(result.drops)
        for listener in self.listeners:
            listener(result.received, result.accepted, dict(result.drops))

    def count_drop(self, reason: DropReason, n: int = 1) -> None:
        """Count hits dropped before the edge (e.g. at the HTTP layer)."""
        with self._lock:
            self.received += n
            self.dropped[reason] += n
        for listener in self.listeners:
            listener(n, 0, {reason: n})

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {
                "received": self.received,
                "accepted": self.accepted,
                "dropped": {reason.value: n for reason, n in self.dropped.items()},
            }


class Collector:
    """Runs the edge over raw hits and appends what survives to the spool before returning."""

    def __init__(self, edge: Edge, spool: Spool, policies: ClientPolicies) -> None:
        self.edge = edge
        self.spool = spool
        self.policies = policies
        self.counters = IngestCounters()

    @classmethod
    def from_settings(
        cls, settings: Settings, tenants: Tenants | None = None, vault: KeyVault | None = None
    ) -> Collector:
        """A collector on this process's spool, with policies from the tenants."""
        tenants = tenants or Tenants.from_settings(settings)
        policies = ClientPolicies(tenants)
        edge = build_edge(settings, policies, vault or KeyVault.from_settings(settings))
        return cls(edge, Spool.from_settings(settings), policies)

    def ingest(self, raw: pd.DataFrame | Sequence[Mapping[str, Any]]) -> EdgeResult:
        """Edge then spool; when this returns, accepted events are durable.

        The two halves, :meth:`judge` and :meth:`store`, are what the group committer runs for the pixel (the
        edge on the event loop, the write in a thread): every hit passes the same steps whichever way it came.
        """
        result = self.judge(raw)
        self.store(result, encode_rows(result.rows))
        return result

    def judge(self, raw: pd.DataFrame | Sequence[Mapping[str, Any]]) -> EdgeResult:
        """The edge's steps over raw hits: what survives, and what was dropped and why."""
        return self.edge.process(raw)

    def store(self, result: EdgeResult, encoded: list[EncodedBatch]) -> None:
        """Append the survivors (``encoded`` by ``encode_rows``) to the spool durably, then count the batch."""
        self.spool.write(encoded)
        self.counters.add(result)

    def drop(self, reason: DropReason, n: int = 1) -> None:
        """Count hits a route dropped before the edge (``tracking.admission``), with the edge's own reasons."""
        self.counters.count_drop(reason, n)


class GroupCommitter:
    """Collects hits from concurrent requests and commits them in shared spool transactions.

    ``submit`` returns only after the hit's batch is durable (or raises if the write failed), so an
    answered request never loses its hit, while many requests share one fsync. Up to ``max_in_flight``
    batches are written at once, so the loop keeps preparing the next batch while one is being synced.
    """

    def __init__(
        self, collector: Collector, max_delay_s: float = 0.0, max_batch: int = 2000, max_in_flight: int = 2
    ) -> None:
        self.collector = collector
        self.max_delay_s = max_delay_s
        self.max_batch = max_batch
        self.max_in_flight = max_in_flight
        self._queue: list[tuple[Mapping[str, Any], asyncio.Future[None]]] = []
        self._wakeup: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None
        self._in_flight: set[asyncio.Task[None]] = set()
        self._stopping = False

    async def start(self) -> None:
        """Start the background writer on the running loop."""
        self._wakeup = asyncio.Event()
        self._task = asyncio.create_task(self._run(), name="xmo-group-commit")

    async def submit(self, hit: Mapping[str, Any]) -> None:
        """Queue one raw hit and wait until it is durable (or dropped by the edge)."""
        if self._wakeup is None:
            raise RuntimeError("GroupCommitter.start() was not awaited")
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._queue.append((hit, future))
        self._wakeup.set()
        await future

    async def _run(self) -> None:
        assert self._wakeup is not None
        while not (self._stopping and not self._queue and not self._in_flight):
            await self._wakeup.wait()
            self._wakeup.clear()
            if self.max_delay_s and len(self._queue) < self.max_batch and not self._stopping:
                await asyncio.sleep(self.max_delay_s)
            while self._queue and len(self._in_flight) < self.max_in_flight:
                batch, self._queue = self._queue[: self.max_batch], self._queue[self.max_batch :]
                task = asyncio.create_task(self._flush(batch))
                self._in_flight.add(task)
                task.add_done_callback(self._flushed)

    def _flushed(self, task: asyncio.Task[None]) -> None:
        self._in_flight.discard(task)
        if self._wakeup is not None:
            self._wakeup.set()

    async def _flush(self, batch: list[tuple[Mapping[str, Any], asyncio.Future[None]]]) -> None:
        try:
            # The edge runs here, on the loop: a thread would fight the loop for the GIL and stretch both;
            # SQLite releases the GIL while it writes and syncs, so only that goes to a thread.
            result = self.collector.judge([hit for hit, _ in batch])
            await asyncio.to_thread(self.collector.store, result, encode_rows(result.rows))
        except Exception as exc:  # the write failed: every waiting request learns it
            for _, future in batch:
                if not future.done():
                    future.set_exception(exc)
            return
        for _, future in batch:
            if not future.done():
                future.set_result(None)

    async def stop(self) -> None:
        """Write what is queued, then stop the writer."""
        self._stopping = True
        if self._task is not None and self._wakeup is not None:
            self._wakeup.set()
            await self._task
            self._task = None
