"""Experiments a client runs with xmo (geo tests, on/off tests, visitor holdouts): their plan, status and result.

Stored as one JSON document per client, ``lake/experiments/client_id=<id>/experiments.json``, written atomically
under a file lock and forgotten with the client (``tracking.forgetting.TablesClientStore``). Everything stored is
a plan or an aggregate: regions are time zones, never a visitor, session or address.

Two experiments of one channel whose windows share a day are refused unless both are geo tests on disjoint
treatment regions: the second would change the spend the first one measures (a test cancelled before its first
day overlaps nothing). Starting, stopping and other changes are audited (``experiment.start``,
``experiment.<action>``).
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, replace
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from core import audit
from core.errors import InvalidInput, NotFound
from core.files import atomic_write
from core.layout import StorageLayout, check_client_id
from core.locks import file_lock

STATUSES: tuple[str, ...] = ("running", "stopped")
START_ACTION = "experiment.start"
FILE_NAME = "experiments.json"
FORMAT_VERSION = 1
_DATES = ("start_date", "end_date", "stop_date")
_TIMES = ("created_at", "stopped_at")
_TUPLES = ("treatment_regions", "control_regions")


@dataclass(frozen=True)
class Experiment:
    """One experiment of a client: what was planned at its start, and (once stopped) what it found."""

    experiment_id: str  # f"{type}-{slug(channel)}-{start:%Y%m%d}", with "-2", "-3" … when taken
    client_id: str
    type: str  # geo | time | holdout
    channel: str
    campaign_id: str | None
    kpi: str  # conversions | revenue | (time tests) a stored KPI column
    action: str  # raise | pause
    start_date: date
    end_date: date  # planned last day, inclusive: start + 7 * weeks - 1
    weeks: int
    lift: float  # the relative lift the design was powered for
    level: float
    treatment_regions: tuple[str, ...]  # geo only, else ()
    control_regions: tuple[str, ...]
    holdout_share: float | None  # holdout only
    spend_change: float | None  # planned change of the channel's spend over the test (negative: a cut)
    design: dict[str, Any]  # Design.to_dict() at start
    status: str  # running | stopped
    created_at: datetime
    stopped_at: datetime | None = None
    stop_date: date | None = None  # last day of the test when stopped early (≤ end_date; start - 1: cancelled)
    result: dict[str, Any] | None = None  # Analysis.to_dict() at stop
    lift_test_id: str | None = None  # the lift-test row made from it (tracking.lift)
    note: str | None = None

    @property
    def last_day(self) -> date:
        """The last day of the test: the stop day when stopped early, else the planned end (the day before the
        start for a test cancelled before its first day)."""
        return self.stop_date or self.end_date

    @property
    def cancelled(self) -> bool:
        """Whether it was stopped before its first day (it ran no day)."""
        return self.last_day < self.start_date

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: ISO dates and times, lists for the region tuples."""
        out = asdict(self)
        for key in (*_DATES, *_TIMES):
            value = getattr(self, key)
            out[key] = value.isoformat() if value is not None else None
        for key in _TUPLES:
            out[key] = list(getattr(self, key))
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Experiment:
        """The experiment :meth:`to_dict` wrote (unknown keys ignored); ``InvalidInput`` naming a bad field."""
        names = set(cls.__dataclass_fields__)
        values: dict[str, Any] = {k: v for k, v in data.items() if k in names}
        try:
            for key in _DATES:
                values[key] = date.fromisoformat(values[key]) if values.get(key) else None
            for key in _TIMES:
                values[key] = datetime.fromisoformat(values[key]) if values.get(key) else None
            for key in _TUPLES:
                values[key] = tuple(str(region) for region in values.get(key) or ())
            return cls(**values)
        except (KeyError, TypeError, ValueError) as exc:
            raise InvalidInput(f"a stored experiment cannot be read ({data.get('experiment_id')!r}): {exc}") from exc


def experiments_root(layout: StorageLayout) -> Path:
    """The folder of every client's experiments."""
    return layout.lake_dir / "experiments"


def experiments_dir(layout: StorageLayout, client_id: str) -> Path:
    """The experiments folder of one client."""
    return experiments_root(layout) / f"client_id={check_client_id(client_id)}"


def _path(layout: StorageLayout, client_id: str) -> Path:
    return experiments_dir(layout, client_id) / FILE_NAME


@contextmanager
def _lock(layout: StorageLayout, client_id: str) -> Iterator[None]:
    with file_lock(experiments_dir(layout, client_id) / ".experiments.lock"):
        yield


def read_experiments(layout: StorageLayout, client_id: str) -> list[Experiment]:
    """The client's experiments, newest start first (then by id); ``[]`` when none."""
    path = _path(layout, client_id)
    if not path.exists():
        return []
    document = json.loads(path.read_text(encoding="utf-8"))
    experiments = [Experiment.from_dict(item) for item in document.get("experiments", [])]
    experiments.sort(key=lambda e: e.experiment_id)
    experiments.sort(key=lambda e: e.start_date, reverse=True)
    return experiments


def _write(layout: StorageLayout, client_id: str, experiments: list[Experiment]) -> None:
    """Replace the stored document (the caller holds the lock)."""
    document = {"version": FORMAT_VERSION, "experiments": [e.to_dict() for e in experiments]}
    data = json.dumps(document, indent=1, sort_keys=True, allow_nan=False).encode("utf-8")
    atomic_write(_path(layout, client_id), data)


def get_experiment(layout: StorageLayout, client_id: str, experiment_id: str) -> Experiment:
    """The stored experiment ``experiment_id``; ``NotFound`` naming it and the known ids."""
    experiments = read_experiments(layout, client_id)
    for experiment in experiments:
        if experiment.experiment_id == experiment_id:
            return experiment
    known = ", ".join(e.experiment_id for e in experiments) or "none"
    raise NotFound(f"client {client_id!r} has no experiment {experiment_id!r}; its experiments: {known}")


def slug(text: str) -> str:
    """``"Paid Social"`` → ``paid-social`` (ASCII letters, digits and dashes; ``x`` when nothing is left)."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")[:40].rstrip("-") or "x"


def new_experiment_id(existing: Iterable[str], type: str, channel: str, start: date) -> str:
    """``{type}-{slug(channel)}-{start:%Y%m%d}``, with ``-2``, ``-3`` … when that id is taken."""
    taken = set(existing)
    base = f"{type}-{slug(channel)}-{start:%Y%m%d}"
    candidate, number = base, 1
    while candidate in taken:
        number += 1
        candidate = f"{base}-{number}"
    return candidate


def _regions(regions: Iterable[str]) -> str:
    return ", ".join(regions) or "none"


def overlaps(a: Experiment, b: Experiment) -> bool:
    """Whether ``a`` and ``b`` change the same spend on a common day: same channel, windows that share a day, and
    (one is not a geo test, or their treatment regions share a region)."""
    if a.cancelled or b.cancelled or a.channel != b.channel:
        return False
    if a.start_date > b.last_day or b.start_date > a.last_day:
        return False
    if a.type != "geo" or b.type != "geo":
        return True
    return bool(set(a.treatment_regions) & set(b.treatment_regions))


def _check_overlap(new: Experiment, stored: list[Experiment]) -> None:
    for other in stored:
        if other.experiment_id != new.experiment_id and overlaps(new, other):
            shared = sorted(set(new.treatment_regions) & set(other.treatment_regions))
            where = f"; shared treatment regions: {_regions(shared)}" if shared else ""
            raise InvalidInput(
                f"experiment {new.type} of {new.channel} ({new.start_date} to {new.last_day}) overlaps stored "
                f"experiment {other.experiment_id!r} ({other.type}, {other.status}, {other.start_date} to "
                f"{other.last_day}, treatment regions: {_regions(other.treatment_regions)}){where}: the two would "
                "change the same spend on the same days; start after it ends, stop it first "
                f"(xmo experiment stop {new.client_id} {other.experiment_id}), or use other regions"
            )


def _audit(engine: Engine, client_id: str, experiment: Experiment, *, actor: str, action: str) -> None:
    details = {
        "experiment_id": experiment.experiment_id,
        "type": experiment.type,
        "channel": experiment.channel,
        "start_date": experiment.start_date.isoformat(),
        "end_date": experiment.last_day.isoformat(),
        "status": experiment.status,
    }
    with engine.begin() as connection:
        audit.record(connection, actor=actor, action=action, client_id=client_id, details=details)


def _checked(client_id: str, experiment: Experiment) -> None:
    if experiment.client_id != client_id:
        raise InvalidInput(f"experiment of client {experiment.client_id!r} given for client {client_id!r}")
    if experiment.status not in STATUSES:
        raise InvalidInput(f"status must be one of {', '.join(STATUSES)}; got {experiment.status!r}")
    first_stop = experiment.start_date - timedelta(days=1)  # cancelled before its first day
    if experiment.end_date < experiment.start_date or (
        experiment.stop_date is not None and not first_stop <= experiment.stop_date <= experiment.end_date
    ):
        raise InvalidInput(
            f"experiment {experiment.experiment_id!r}: its days are out of order (start {experiment.start_date}, "
            f"end {experiment.end_date}, stop {experiment.stop_date})"
        )


def store_new_experiment(
    layout: StorageLayout, engine: Engine, client_id: str, experiment: Experiment, *, actor: str
) -> Experiment:
    """Store ``experiment`` (with a fresh id when its id is taken meanwhile) and audit ``experiment.start``.

    ``InvalidInput``, and nothing stored, when it overlaps a stored experiment (see :func:`overlaps`).
    """
    _checked(client_id, experiment)
    with _lock(layout, client_id):
        stored = read_experiments(layout, client_id)
        ids = [e.experiment_id for e in stored]
        if experiment.experiment_id in ids:
            fresh = new_experiment_id(ids, experiment.type, experiment.channel, experiment.start_date)
            experiment = replace(experiment, experiment_id=fresh)
        _check_overlap(experiment, stored)
        _write(layout, client_id, [*stored, experiment])
    _audit(engine, client_id, experiment, actor=actor, action=START_ACTION)
    return experiment


def replace_experiment(
    layout: StorageLayout, engine: Engine, client_id: str, experiment: Experiment, *, actor: str, action: str
) -> None:
    """Replace the stored experiment of the same id (e.g. when stopped) and audit ``experiment.<action>``.

    ``NotFound`` when no experiment of that id is stored; ``InvalidInput`` when the new days overlap another.
    """
    _checked(client_id, experiment)
    if not re.fullmatch(r"[a-z][a-z0-9_]{0,30}", action):
        raise InvalidInput(f"action must be a short lower-case word such as stop; got {action!r}")
    with _lock(layout, client_id):
        stored = read_experiments(layout, client_id)
        if experiment.experiment_id not in {e.experiment_id for e in stored}:
            get_experiment(layout, client_id, experiment.experiment_id)  # raises NotFound naming the known ids
        _check_overlap(experiment, stored)
        kept = [e for e in stored if e.experiment_id != experiment.experiment_id]
        _write(layout, client_id, [*kept, experiment])
    _audit(engine, client_id, experiment, actor=actor, action=f"experiment.{action}")


def running_holdouts(layout: StorageLayout, client_id: str, day: date) -> list[Experiment]:
    """The client's holdouts running on ``day`` (status running, ``start_date`` ≤ day ≤ last day)."""
    return [
        e
        for e in read_experiments(layout, client_id)
        if e.type == "holdout" and e.status == "running" and e.start_date <= day <= e.last_day
    ]


def count_experiments(folder: Path) -> int:
    """How many experiments a client folder holds (for the forgetting store's count); 0 when unreadable."""
    try:
        document = json.loads((folder / FILE_NAME).read_text(encoding="utf-8"))
        return len(document.get("experiments", []))
    except (OSError, ValueError, AttributeError):
        return 0
