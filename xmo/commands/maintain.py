"""``xmo maintain``: the background jobs (compaction, retention) in this process until stopped."""

from __future__ import annotations

import os
import signal
from typing import Annotated

import typer

from core.errors import InvalidInput
from xmo.commands.common import load_settings

NICENESS = 10


def maintain(
    parent_pid: Annotated[
        int | None, typer.Option(help="Stop when this process is no longer the parent (set by `xmo serve`).")
    ] = None,
) -> None:
    """Compact the spools every XMO_COMPACT_INTERVAL_S and apply retention every XMO_RETENTION_INTERVAL_S.

    `xmo serve` runs this for you in a supervised process; run it by hand next to a server started otherwise.
    """
    from serving.logs import configure_logging
    from xmo.maintenance import MaintenanceLoop, service_jobs
    from xmo.supervisor import die_with_parent, event_setter

    if parent_pid is not None:
        die_with_parent()
        if os.getppid() != parent_pid:  # it was gone before the kernel was asked to tell
            return
    settings = load_settings()
    jobs = service_jobs(settings)
    if not jobs:
        raise InvalidInput("nothing to run: XMO_COMPACT_INTERVAL_S and XMO_RETENTION_INTERVAL_S are both 0")
    configure_logging(settings.log_format, settings.log_level)
    os.nice(NICENESS)  # throughput work: the request workers beside it come first when the CPUs are busy
    loop = MaintenanceLoop(settings, jobs, parent_pid=parent_pid)

    stop = event_setter(loop.stop)
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    loop.run()


def register(app: typer.Typer) -> None:
    """Add ``xmo maintain`` to the app."""
    app.command("maintain")(maintain)
