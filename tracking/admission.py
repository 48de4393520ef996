"""Drop rules that need what only a route knows (who sent the hit, where an event sits in its batch).

The edge (:mod:`tracking.edge`) judges every hit on its own. Two rules need more than the hit:

* **Backdating** (pixel): a hit older than :data:`BACKDATE_LIMIT` is history, which only the client's own API
  key may send (like Matomo's ``cdt``); the route says whether the request carried it.
* **Server batches** (``POST /v1/events``): each event is judged in the order it came, so that the answer can
  name the position and the reason of every drop: timestamps more than the edge's future skew ahead or older
  than the client's retention (the edge would drop them too, without saying which), and an ``event_id``
  repeated within the batch (the retry of an event the batch already holds).

Either way a drop is a :class:`tracking.edge.DropReason`, counted by :meth:`tracking.collector.Collector.drop`
like the edge's own.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from tracking.edge import DropReason, EdgeConfig

BACKDATE_LIMIT = timedelta(hours=24)
MAX_FUTURE_SKEW = EdgeConfig.max_future_skew


def backdating_drop(event_time: datetime, now: datetime, *, may_backdate: bool) -> DropReason | None:
    """``INVALID_TIMESTAMP`` for a hit older than :data:`BACKDATE_LIMIT` sent without the client's API key."""
    if now - event_time > BACKDATE_LIMIT and not may_backdate:
        return DropReason.INVALID_TIMESTAMP
    return None


@dataclass
class BatchAdmission:
    """Judges the events of one server batch in order: their times, and event ids already seen in the batch."""

    received_at: datetime
    retention_days: int | None
    _seen_ids: set[str] = field(default_factory=set, repr=False)

    def time_drop(self, event_time: datetime | None) -> tuple[DropReason, str] | None:
        """The reason and message for an event time the edge would drop, or None (None: received now)."""
        if event_time is None:
            return None
        if event_time > self.received_at + MAX_FUTURE_SKEW:
            return DropReason.INVALID_TIMESTAMP, f"more than {MAX_FUTURE_SKEW} after it was received"
        if self.retention_days is not None and event_time < self.received_at - timedelta(days=self.retention_days):
            return DropReason.TOO_OLD, f"older than the client's retention of {self.retention_days} days"
        return None

    def repeated(self, event_id: str | None) -> bool:
        """Whether ``event_id`` came earlier in this batch (the first one is remembered, not dropped)."""
        if event_id is None:
            return False
        if event_id in self._seen_ids:
            return True
        self._seen_ids.add(event_id)
        return False
