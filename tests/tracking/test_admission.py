"""Drop rules that need a route's knowledge: backdating without the API key, and server batches in order."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tracking.admission import BACKDATE_LIMIT, MAX_FUTURE_SKEW, BatchAdmission, backdating_drop
from tracking.edge import DropReason

NOW = datetime(2026, 3, 1, 12, tzinfo=UTC)


def test_history_needs_the_api_key() -> None:
    old = NOW - BACKDATE_LIMIT - timedelta(seconds=1)
    assert backdating_drop(old, NOW, may_backdate=False) is DropReason.INVALID_TIMESTAMP
    assert backdating_drop(old, NOW, may_backdate=True) is None
    assert backdating_drop(NOW - BACKDATE_LIMIT, NOW, may_backdate=False) is None


def test_a_batch_drops_times_the_edge_would_drop_and_says_why() -> None:
    admission = BatchAdmission(NOW, retention_days=30)
    assert admission.time_drop(None) is None
    assert admission.time_drop(NOW + MAX_FUTURE_SKEW) is None
    reason, message = admission.time_drop(NOW + MAX_FUTURE_SKEW + timedelta(seconds=1)) or (None, "")
    assert reason is DropReason.INVALID_TIMESTAMP and "after it was received" in message
    reason, message = admission.time_drop(NOW - timedelta(days=30, seconds=1)) or (None, "")
    assert reason is DropReason.TOO_OLD and "30 days" in message
    assert admission.time_drop(NOW - timedelta(days=30)) is None
    assert BatchAdmission(NOW, retention_days=None).time_drop(NOW - timedelta(days=3000)) is None


def test_only_the_second_copy_of_an_event_id_is_a_repeat() -> None:
    admission = BatchAdmission(NOW, retention_days=None)
    assert [admission.repeated(e) for e in ("a", None, "b", "a", None, "b", "c")] == [
        False,
        False,
        False,
        True,
        False,
        True,
        False,
    ]
