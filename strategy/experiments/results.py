"""What designing and reading an experiment returns: :class:`DesignRequest`, :class:`Design`, :class:`Analysis`.

Shared by the three kinds of test (geo, time, holdout), the service, the CLI, the API and the dashboard, so each
answers with the same fields. Everything here is aggregates: no visitor or session identifier.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from datetime import date
from typing import Any

from core.errors import InvalidInput

EXPERIMENT_TYPES: tuple[str, ...] = ("geo", "time", "holdout")
ACTIONS: tuple[str, ...] = ("raise", "pause")
METRICS: tuple[str, ...] = ("conversions", "revenue")
MIN_HOLDOUT_SHARE, MAX_HOLDOUT_SHARE = 0.01, 0.5
MAX_WEEKS = 26
DEFAULT_LEVEL = 0.9


def _finite(value: float | None) -> float | None:
    return None if value is None or not math.isfinite(value) else float(value)


@dataclass(frozen=True)
class DesignRequest:
    """What a marketer asks for at ``xmo experiment design`` (and ``start``).

    ``kpi``: ``conversions`` or ``revenue`` (tracked by xmo) or, for a time test, a stored KPI column; ``None``
    lets the design choose (revenue when the client's goals carry value, else conversions; a time test takes the
    media-mix KPI column when one is stored). ``action``: what the marketer does to the channel in the treated
    group — ``raise`` its spend (geo default) or ``pause`` it (time default; a holdout always withholds it).
    ``spend_change``: the planned change of the channel's spend over the test (negative for a cut), used for ROI.
    """

    type: str
    channel: str
    campaign_id: str | None = None
    kpi: str | None = None
    lift: float = 0.1
    weeks: int = 4
    start: date | None = None
    holdout_share: float = 0.1
    action: str | None = None
    spend_change: float | None = None
    exclude_regions: tuple[str, ...] = ()
    level: float = DEFAULT_LEVEL
    seed: int = 0
    note: str | None = None

    def checked(self) -> DesignRequest:
        """This request, or ``InvalidInput`` naming the first bad field."""
        if self.type not in EXPERIMENT_TYPES:
            raise InvalidInput(f"type must be one of {', '.join(EXPERIMENT_TYPES)}; got {self.type!r}")
        if not self.channel or not self.channel.strip():
            raise InvalidInput("channel is required (the channel whose spend the test changes)")
        if isinstance(self.weeks, bool) or not isinstance(self.weeks, int) or not 1 <= self.weeks <= MAX_WEEKS:
            raise InvalidInput(f"weeks must be a whole number from 1 to {MAX_WEEKS}; got {self.weeks!r}")
        if not isinstance(self.lift, (int, float)) or not math.isfinite(self.lift) or not 0 < abs(self.lift) <= 5:
            raise InvalidInput(
                f"lift must be a relative change such as 0.1 for +10 % (0 < |lift| ≤ 5); got {self.lift!r}"
            )
        if self.type == "holdout" and not MIN_HOLDOUT_SHARE <= self.holdout_share <= MAX_HOLDOUT_SHARE:
            raise InvalidInput(
                f"holdout share must lie between {MIN_HOLDOUT_SHARE:.0%} and {MAX_HOLDOUT_SHARE:.0%}; "
                f"got {self.holdout_share:.1%}"
            )
        if self.action is not None and self.action not in ACTIONS:
            raise InvalidInput(f"action must be one of {', '.join(ACTIONS)}; got {self.action!r}")
        if self.type == "holdout" and self.action == "raise":
            raise InvalidInput("a holdout withholds the channel from its holdout visitors; action must be pause")
        if self.spend_change is not None and not math.isfinite(self.spend_change):
            raise InvalidInput(f"spend_change must be a finite amount; got {self.spend_change!r}")
        if not 0 < self.level < 1:
            raise InvalidInput(f"level must lie between 0 and 1 (e.g. 0.9); got {self.level!r}")
        return self

    @property
    def chosen_action(self) -> str:
        """The action, with the kind's default (geo: raise; time and holdout: pause)."""
        return self.action or ("raise" if self.type == "geo" else "pause")


@dataclass(frozen=True)
class Design:
    """A test's plan and its power, from simulation on the client's own history.

    ``groups``: geo — ``{"treatment": [...regions], "control": [...]}``; holdout — ``{"holdout_share": [..]}`` is
    not used, the share is ``holdout_share``; time — ``{"test_weeks": [iso dates of the planned weeks]}``.
    ``group_shares``: each group's share of the KPI in the history. ``minimum_detectable_lift``: the relative
    lift detected with 80 % power; ``power``: the chance of detecting ``lift``; ``false_positive_rate``: how often
    placebo tests on the history (no change made) called an effect, at ``level``.
    """

    type: str
    channel: str
    campaign_id: str | None
    kpi: str
    action: str
    start: date
    end: date
    weeks: int
    lift: float
    level: float
    power: float
    minimum_detectable_lift: float
    false_positive_rate: float | None
    n_simulations: int
    history_start: date
    history_end: date
    expected_kpi: float  # the tested group's KPI expected over the test without any change
    groups: dict[str, list[str]] = field(default_factory=dict)
    group_shares: dict[str, float] = field(default_factory=dict)
    holdout_share: float | None = None
    units: int | None = None  # holdout: visitors expected in the test; geo: regions
    method: str = ""
    notes: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (ISO dates, lists, no NaN)."""
        out = asdict(self)
        for key in ("start", "end", "history_start", "history_end"):
            out[key] = getattr(self, key).isoformat()
        out["false_positive_rate"] = _finite(self.false_positive_rate)
        out["notes"], out["warnings"] = list(self.notes), list(self.warnings)
        return out


@dataclass(frozen=True)
class MetricEstimate:
    """The incremental effect of the test on one metric, summed over the tested group and the test's days."""

    metric: str  # conversions, revenue, or a KPI column
    incremental: float
    low: float
    high: float
    standard_error: float
    actual: float  # the tested group's metric over the test
    counterfactual: float  # what it would have been without the change
    relative_lift: float | None
    always_valid_low: float | None = None  # holdout: interval valid at every daily look
    always_valid_high: float | None = None
    raw_low: float | None = None  # holdout: without CUPED
    raw_high: float | None = None
    variance_reduction: float | None = None  # holdout: CUPED's cut of the estimate's variance

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (no NaN)."""
        return {k: (_finite(v) if isinstance(v, float) else v) for k, v in asdict(self).items()}


def roi_range(
    estimate: MetricEstimate | None, spend_change: float | None
) -> tuple[float | None, float | None, float | None]:
    """``(roi, low, high)``: the incremental KPI per unit of spend change and its interval (the interval's ends
    divided by the change, in order); all ``None`` without an estimate or a spend change."""
    if estimate is None or not spend_change:
        return None, None, None
    low, high = sorted((estimate.low / spend_change, estimate.high / spend_change))
    return estimate.incremental / spend_change, low, high


@dataclass(frozen=True)
class Analysis:
    """A read of a running or finished test; ``interim`` when read before its planned end."""

    experiment_id: str
    type: str
    channel: str
    kpi: str
    level: float
    start: date
    end: date  # the last day read (≤ the planned end)
    planned_end: date
    interim: bool
    metrics: dict[str, MetricEstimate]
    spend_change: float | None
    roi: float | None  # incremental KPI (``kpi``'s metric) per unit of spend change
    roi_low: float | None
    roi_high: float | None
    placebo_false_positive_rate: float | None  # geo and time: fake tests on the history
    n_placebos: int | None
    sample_ratio: dict[str, Any] | None  # holdout: expected and observed holdout share, p-value, ok
    method: str
    notes: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (ISO dates, no NaN)."""
        return {
            "experiment_id": self.experiment_id,
            "type": self.type,
            "channel": self.channel,
            "kpi": self.kpi,
            "level": self.level,
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "planned_end": self.planned_end.isoformat(),
            "interim": self.interim,
            "metrics": {name: m.to_dict() for name, m in self.metrics.items()},
            "spend_change": _finite(self.spend_change),
            "roi": _finite(self.roi),
            "roi_low": _finite(self.roi_low),
            "roi_high": _finite(self.roi_high),
            "placebo_false_positive_rate": _finite(self.placebo_false_positive_rate),
            "n_placebos": self.n_placebos,
            "sample_ratio": self.sample_ratio,
            "method": self.method,
            "notes": list(self.notes),
            "warnings": list(self.warnings),
        }
