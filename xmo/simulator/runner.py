"""Feeding simulated hits through the edge into the spool, in chunks, with counts and timings."""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from tracking.collector import Collector
from tracking.edge import DropReason
from xmo.simulator.traffic import DEFAULT_DOMAIN, Traffic, simulate
from xmo.simulator.world import World

DEFAULT_CHUNK_HITS = 500_000


@dataclass(frozen=True)
class SimulationReport:
    """What one simulation sent through the edge, what it kept, and how long each part took."""

    client_id: str
    sessions: int
    received: int
    accepted: int
    dropped: dict[str, int] = field(default_factory=dict)
    chunks: int = 0
    generate_s: float = 0.0  # sessions and hit arrays
    build_s: float = 0.0  # raw-hit DataFrames
    ingest_s: float = 0.0  # edge steps and spool append (Collector.ingest)

    @property
    def wall_s(self) -> float:
        """Generation, building and ingestion together."""
        return self.generate_s + self.build_s + self.ingest_s

    @property
    def hits_per_s(self) -> float:
        """Hits received per second of wall time."""
        return self.received / self.wall_s if self.wall_s > 0 else 0.0

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready view."""
        return {
            "client_id": self.client_id,
            "sessions": self.sessions,
            "received": self.received,
            "accepted": self.accepted,
            "dropped": dict(self.dropped),
            "chunks": self.chunks,
            "generate_s": round(self.generate_s, 3),
            "build_s": round(self.build_s, 3),
            "ingest_s": round(self.ingest_s, 3),
            "wall_s": round(self.wall_s, 3),
        }


def ingest_traffic(
    traffic: Traffic, collector: Collector, chunk_hits: int = DEFAULT_CHUNK_HITS, *, generate_s: float = 0.0
) -> SimulationReport:
    """Send every hit of ``traffic`` through ``collector.ingest`` in chunks of at most ``chunk_hits``.

    When this returns, every accepted event is durable in the spool.
    """
    if chunk_hits < 1:
        raise ValueError("chunk_hits must be positive")
    received = accepted = chunks = 0
    drops: Counter[DropReason] = Counter()
    build_s = ingest_s = 0.0
    for start in range(0, traffic.n_hits, chunk_hits):
        t0 = time.perf_counter()
        frame = traffic.hit_frame(start, start + chunk_hits)
        t1 = time.perf_counter()
        result = collector.ingest(frame)
        t2 = time.perf_counter()
        build_s += t1 - t0
        ingest_s += t2 - t1
        received += result.received
        accepted += result.accepted
        drops.update(result.drops)
        chunks += 1
    return SimulationReport(
        client_id=traffic.client_id,
        sessions=len(traffic.sessions),
        received=received,
        accepted=accepted,
        dropped={reason.value: n for reason, n in sorted(drops.items())},
        chunks=chunks,
        generate_s=generate_s,
        build_s=build_s,
        ingest_s=ingest_s,
    )


def simulate_into_spool(
    world: World,
    collector: Collector,
    client_id: str,
    chunk_hits: int = DEFAULT_CHUNK_HITS,
    *,
    domain: str = DEFAULT_DOMAIN,
) -> SimulationReport:
    """Simulate ``world`` for ``client_id`` and feed its hits through the edge into the spool."""
    t0 = time.perf_counter()
    traffic = simulate(world, client_id=client_id, domain=domain)
    return ingest_traffic(traffic, collector, chunk_hits, generate_s=time.perf_counter() - t0)
