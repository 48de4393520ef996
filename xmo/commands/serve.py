"""``xmo serve``: the API, pixel and dashboard under uvicorn."""

from __future__ import annotations

from typing import Annotated

import typer
import uvicorn

from xmo.commands.common import load_settings


def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="TCP port.")] = 8000,
    workers: Annotated[int, typer.Option(min=1, max=64, help="Worker processes.")] = 1,
    forwarded_allow_ips: Annotated[
        str, typer.Option(help="Proxies whose X-Forwarded-For/-Proto are trusted (comma-separated).")
    ] = "127.0.0.1",
) -> None:
    """Serve the collection endpoints and the API until interrupted."""
    load_settings()  # fail early, with one line, on a bad environment
    uvicorn.run(
        "serving.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        proxy_headers=True,
        forwarded_allow_ips=forwarded_allow_ips,
        access_log=False,  # access lines would carry query strings and addresses: personal data
        log_level="warning",
        server_header=False,
    )


def register(app: typer.Typer) -> None:
    """Add ``xmo serve`` to the app."""
    app.command("serve")(serve)
