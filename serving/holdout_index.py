"""Which running visitor holdouts hold a visitor out: answered per hit, so cached and cheap.

Per client the index keeps its running holdouts and its holdout key, and looks at the stored experiments at
most every ``refresh_s`` seconds: one ``stat`` of the JSON file, read again only when it changed. A client
without experiments costs a dictionary lookup between looks and a failed ``stat`` at each.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

from core.layout import StorageLayout
from core.settings import Settings
from privacy.keyvault import KeyVault
from strategy.experiments.holdout import HOLDOUT_KEY_PURPOSE, holdout_position
from tracking.experiments import FILE_NAME, Experiment, experiments_dir, read_experiments

REFRESH_S = 30.0


@dataclass(frozen=True)
class _Entry:
    checked_at: float
    mtime_ns: int | None  # None: no experiments file
    holdouts: tuple[Experiment, ...]  # status running (the day is checked at lookup)
    key: bytes | None  # derived only when there are holdouts


class HoldoutIndex:
    """The running holdouts of each client and whether a visitor is held out of them."""

    def __init__(
        self,
        settings: Settings,
        vault: KeyVault | None = None,
        *,
        refresh_s: float = REFRESH_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.layout = StorageLayout.from_settings(settings)
        self.vault = vault or KeyVault.from_settings(settings)
        self.refresh_s = refresh_s
        self.clock = clock
        self._entries: dict[str, _Entry] = {}
        self._lock = threading.Lock()

    def _entry(self, client_id: str) -> _Entry:
        now = self.clock()
        with self._lock:
            entry = self._entries.get(client_id)
        if entry is not None and now - entry.checked_at < self.refresh_s:
            return entry
        try:
            mtime_ns: int | None = (experiments_dir(self.layout, client_id) / FILE_NAME).stat().st_mtime_ns
        except FileNotFoundError:
            mtime_ns = None
        if entry is not None and entry.mtime_ns == mtime_ns:
            entry = _Entry(now, mtime_ns, entry.holdouts, entry.key)
        else:
            holdouts = tuple(
                e
                for e in (read_experiments(self.layout, client_id) if mtime_ns is not None else [])
                if e.type == "holdout" and e.status == "running" and e.holdout_share
            )
            key = self.vault.derived_key(client_id, HOLDOUT_KEY_PURPOSE) if holdouts else None
            entry = _Entry(now, mtime_ns, holdouts, key)
        with self._lock:
            self._entries[client_id] = entry
        return entry

    def running(self, client_id: str, day: date) -> list[Experiment]:
        """The client's holdouts running on ``day``."""
        return [e for e in self._entry(client_id).holdouts if e.start_date <= day <= e.last_day]

    def key(self, client_id: str) -> bytes | None:
        """The client's holdout key when it has running holdouts (else None: nothing to assign)."""
        return self._entry(client_id).key

    def flags(self, client_id: str, visitor_id: str, day: date) -> list[str]:
        """Ids of the client's holdouts running on ``day`` that hold this visitor out (usually none)."""
        entry = self._entry(client_id)
        if not entry.holdouts or entry.key is None:
            return []
        return [
            e.experiment_id
            for e in entry.holdouts
            if e.start_date <= day <= e.last_day
            and holdout_position(entry.key, e.experiment_id, visitor_id) < (e.holdout_share or 0.0)
        ]

    def forget(self, client_id: str | None = None) -> None:
        """Drop one client's cached holdouts and key (all clients' without an id)."""
        with self._lock:
            if client_id is None:
                self._entries.clear()
            else:
                self._entries.pop(client_id, None)
