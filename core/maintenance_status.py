"""What the background-jobs process (compaction, retention) last did: written by it, read by ``/readyz``."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from core.files import atomic_write
from core.layout import StorageLayout
from core.processes import process_is_alive

STATUS_FILE = "maintenance.json"


@dataclass
class JobStatus:
    """The last run of one job."""

    runs: int = 0
    last_started_at: float | None = None  # epoch seconds
    last_finished_at: float | None = None
    last_duration_s: float | None = None
    last_result: dict[str, Any] = field(default_factory=dict)  # counts only: no personal data
    last_error: str | None = None  # the exception's type name


@dataclass
class MaintenanceStatus:
    """The process and its jobs."""

    pid: int
    started_at: float
    jobs: dict[str, JobStatus] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def status_path(layout: StorageLayout) -> Path:
    """Where the status lives (beside the locks of running processes)."""
    return layout.runtime_dir / STATUS_FILE


def write_status(layout: StorageLayout, status: MaintenanceStatus) -> None:
    """Replace the status file atomically."""
    atomic_write(status_path(layout), json.dumps(status.to_dict()).encode())


def read_status(layout: StorageLayout) -> dict[str, Any] | None:
    """The last status written, with ``running`` (whether its process is alive); None when there is none."""
    try:
        status: dict[str, Any] = json.loads(status_path(layout).read_bytes())
    except (FileNotFoundError, ValueError):
        return None
    status["running"] = process_is_alive(int(status.get("pid", 0)))
    return status
