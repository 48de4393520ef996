"""Facts about other processes on this machine."""

from __future__ import annotations

import os


def process_is_alive(pid: int) -> bool:
    """Whether a process with this id runs (one of another user's counts as running)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
