"""Prometheus metrics: hits received/accepted/dropped by reason, requests and latencies, spool, models.

With several workers (``xmo serve --workers N``), ``PROMETHEUS_MULTIPROC_DIR`` is set before they start and
``/metrics`` adds up every worker's counters; with one process the metrics live in the app's own registry.
"""

from __future__ import annotations

import os
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector

from tracking.edge import DropReason

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0)


def multiprocess_dir() -> str | None:
    """The shared folder of worker metrics, when several workers serve."""
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None


class ServiceMetrics:
    """The metrics of one service process."""

    def __init__(self) -> None:
        shared = multiprocess_dir() is not None
        self.registry = CollectorRegistry()
        own = None if shared else self.registry
        self.hits_received = Counter("xmo_hits_received", "Hits that reached the edge", registry=own)
        self.hits_accepted = Counter("xmo_hits_accepted", "Hits stored durably in the spool", registry=own)
        self.hits_dropped = Counter("xmo_hits_dropped", "Hits dropped, by reason", ["reason"], registry=own)
        self.requests = Counter("xmo_http_requests", "HTTP requests", ["route", "method", "status"], registry=own)
        self.latency = Histogram(
            "xmo_http_request_duration_seconds",
            "HTTP request latency",
            ["route"],
            buckets=LATENCY_BUCKETS,
            registry=own,
        )
        self.optouts = Counter("xmo_optout_changes", "Opt-out page actions", ["action"], registry=own)
        self._children: dict[tuple[str, str, int], tuple[Any, Any]] = {}
        self._state = CollectorRegistry()
        self.spool_pending = Gauge(
            "xmo_spool_pending_events", "Events waiting for compaction in this process's spool", registry=self._state
        )
        self.model_version = Gauge(
            "xmo_model_version", "Version of the champion model loaded, per client", ["client_id"], registry=self._state
        )

    def count_edge(self, received: int, accepted: int, drops: dict[DropReason, int]) -> None:
        """Record one edge batch."""
        self.hits_received.inc(received)
        self.hits_accepted.inc(accepted)
        for reason, n in drops.items():
            self.hits_dropped.labels(reason=reason.value).inc(n)

    def render(self, spool_pending: int, models: dict[str, str]) -> bytes:
        """The Prometheus text exposition (all workers' counters; this process's gauges)."""
        self.spool_pending.set(spool_pending)
        self.model_version.clear()
        for client_id, version in models.items():
            self.model_version.labels(client_id=client_id).set(float(version))
        folder = multiprocess_dir()
        if folder is None:
            counters = generate_latest(self.registry)
        else:
            shared = CollectorRegistry()
            MultiProcessCollector(shared, path=folder)
            counters = generate_latest(shared)
        return counters + generate_latest(self._state)

    def observe(self, route: str, method: str, status: int, seconds: float) -> None:
        """Count one HTTP request by route template, method and status, and time it."""
        key = (route, method, status)
        children = self._children.get(key)
        if children is None:  # resolving labels costs more than counting: once per combination
            children = (
                self.requests.labels(route=route, method=method, status=str(status)),
                self.latency.labels(route=route),
            )
            self._children[key] = children
        children[0].inc()
        children[1].observe(seconds)
