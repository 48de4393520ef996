"""``xmo serve``: the API, pixel and dashboard under uvicorn."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path
from typing import Annotated

import typer
import uvicorn

from core.layout import StorageLayout
from core.settings import Settings
from serving.http_protocol import H11_MAX_HEAD_BYTES, PROTOCOL
from xmo.commands.common import load_settings
from xmo.supervisor import Supervisor


def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="TCP port.")] = 8000,
    workers: Annotated[int, typer.Option(min=1, max=64, help="Worker processes.")] = 1,
    forwarded_allow_ips: Annotated[
        str | None,
        typer.Option(help="Proxies whose X-Forwarded-For/-Proto are trusted (default: XMO_FORWARDED_ALLOW_IPS)."),
    ] = None,
) -> None:
    """Serve the collection endpoints and the API until interrupted."""
    settings = load_settings()  # fail early, with one line, on a bad environment
    if workers > 1:
        _share_metrics_between_workers(StorageLayout.from_settings(settings).ensure().runtime_dir)
    background = _start_background_jobs(settings)
    try:
        _run_uvicorn(settings, host, port, workers, forwarded_allow_ips)
    finally:
        if background is not None:
            background.stop()


def _start_background_jobs(settings: Settings) -> Supervisor | None:
    """``xmo maintain`` in a supervised process of its own, so no request worker compacts (None when all are off)."""
    from xmo.maintenance import service_jobs

    if not service_jobs(settings):
        return None
    argv = [sys.executable, "-m", "xmo", "maintain", "--parent-pid", str(os.getpid())]
    return Supervisor("background jobs (xmo maintain)", argv).start()


def _run_uvicorn(settings: Settings, host: str, port: int, workers: int, forwarded_allow_ips: str | None) -> None:
    uvicorn.run(
        "serving.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        proxy_headers=True,
        forwarded_allow_ips=forwarded_allow_ips or settings.forwarded_allow_ips,
        access_log=False,  # access lines would carry query strings and addresses: personal data
        log_level="warning",
        server_header=False,
        http=PROTOCOL,  # uvicorn's own parser, with the JSON error body for requests it refuses
        h11_max_incomplete_event_size=H11_MAX_HEAD_BYTES,
    )


def _share_metrics_between_workers(runtime_dir: Path) -> None:
    """Give the workers a fresh folder for Prometheus' multiprocess counters (inherited through the env)."""
    folder = runtime_dir / "prometheus" / str(os.getpid())
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True, mode=0o700)
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(folder)


def register(app: typer.Typer) -> None:
    """Add ``xmo serve`` to the app."""
    app.command("serve")(serve)
