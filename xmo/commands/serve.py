"""``xmo serve``: the API, pixel and dashboard under uvicorn, with the background jobs beside it."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import sys
import threading
from pathlib import Path
from typing import Annotated, Any

import typer
import uvicorn

from core.errors import InvalidInput
from core.layout import StorageLayout
from core.settings import Settings
from serving.http_protocol import H11_MAX_HEAD_BYTES, PROTOCOL
from xmo.commands.common import load_settings
from xmo.supervisor import Supervisor, die_with_parent, event_setter


def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="TCP port.")] = 8000,
    workers: Annotated[int, typer.Option(min=1, max=64, help="Worker processes.")] = 1,
    forwarded_allow_ips: Annotated[
        str | None,
        typer.Option(help="Proxies whose X-Forwarded-For/-Proto are trusted (default: XMO_FORWARDED_ALLOW_IPS)."),
    ] = None,
    worker_of: Annotated[int | None, typer.Option(hidden=True, help="Run as one worker of this xmo serve.")] = None,
) -> None:
    """Serve the collection endpoints and the API until interrupted.

    Several workers each listen on a socket of their own (SO_REUSEPORT), so the kernel spreads connections
    evenly; compaction and retention run in one more process (`xmo maintain`), never in a worker.
    """
    settings = load_settings()  # fail early, with one line, on a bad environment
    options = _uvicorn_options(settings, forwarded_allow_ips)
    if worker_of is not None:
        _serve_as_worker(host, port, worker_of, options)
        return
    if workers > 1:
        _refuse_a_taken_port(host, port)
    background = _start_background_jobs(settings)
    try:
        if workers == 1:
            uvicorn.run("serving.app:create_app", host=host, port=port, **options)
        else:
            _share_metrics_between_workers(StorageLayout.from_settings(settings).ensure().runtime_dir)
            _run_workers(host, port, workers, forwarded_allow_ips)
    finally:
        if background is not None:
            background.stop()


def _uvicorn_options(settings: Settings, forwarded_allow_ips: str | None) -> dict[str, Any]:
    return {
        "factory": True,
        "proxy_headers": True,
        "forwarded_allow_ips": forwarded_allow_ips or settings.forwarded_allow_ips,
        "access_log": False,  # access lines would carry query strings and addresses: personal data
        "log_level": "warning",
        "server_header": False,
        "http": PROTOCOL,  # uvicorn's own parser, with the JSON error body for requests it refuses
        "h11_max_incomplete_event_size": H11_MAX_HEAD_BYTES,
    }


def _start_background_jobs(settings: Settings) -> Supervisor | None:
    """``xmo maintain`` in a supervised process of its own, so no request worker compacts (None when all are off)."""
    from xmo.maintenance import service_jobs

    if not service_jobs(settings):
        return None
    argv = [sys.executable, "-m", "xmo", "maintain", "--parent-pid", str(os.getpid())]
    return Supervisor("background jobs (xmo maintain)", argv).start()


def _run_workers(host: str, port: int, workers: int, forwarded_allow_ips: str | None) -> None:
    """Supervise ``workers`` worker processes until SIGINT or SIGTERM; a worker that dies is started again.

    With one shared listening socket the first worker to wake accepts every waiting connection, so under
    keep-alive load one worker did nearly all the work while the other idled.
    """
    argv = [sys.executable, "-m", "xmo", "serve", "--host", host, "--port", str(port), "--worker-of", str(os.getpid())]
    if forwarded_allow_ips:
        argv += ["--forwarded-allow-ips", forwarded_allow_ips]
    stopping = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, event_setter(stopping))
    supervisors = [Supervisor(f"worker {number}", argv).start() for number in range(1, workers + 1)]
    try:
        while not stopping.wait(0.5):
            pass
    finally:
        for supervisor in supervisors:  # all at once: each worker drains its connections meanwhile
            supervisor.terminate()
        for supervisor in supervisors:
            supervisor.stop()


def _serve_as_worker(host: str, port: int, parent_pid: int, options: dict[str, Any]) -> None:
    """One worker: its own SO_REUSEPORT socket, gone when its ``xmo serve`` is."""
    die_with_parent()
    if os.getppid() != parent_pid:
        return
    family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    listener = socket.socket(family, kind, proto)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    listener.bind(address)
    config = uvicorn.Config("serving.app:create_app", host=host, port=port, **options)
    uvicorn.Server(config).run(sockets=[listener])


def _refuse_a_taken_port(host: str, port: int) -> None:
    """Workers share the port with SO_REUSEPORT, which would also share it with another such server: check first."""
    family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    with socket.socket(family, kind, proto) as probe:
        try:
            probe.bind(address)
        except OSError as exc:
            raise InvalidInput(f"cannot listen on {host}:{port}: {exc.strerror}") from exc


def _share_metrics_between_workers(runtime_dir: Path) -> None:
    """Give the workers a fresh folder for Prometheus' multiprocess counters (inherited through the env)."""
    folder = runtime_dir / "prometheus" / str(os.getpid())
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True, mode=0o700)
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(folder)


def register(app: typer.Typer) -> None:
    """Add ``xmo serve`` to the app."""
    app.command("serve")(serve)
