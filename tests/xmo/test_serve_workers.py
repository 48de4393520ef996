"""``xmo serve --workers N``: each worker listens on a socket of its own (SO_REUSEPORT), so new connections reach
every worker; a killed worker comes back; stopping the server ends them all; a taken port is refused."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psutil
import pytest

from core.settings import Settings
from core.tenants import Tenants
from xmo.server_process import ServerProcess, free_port


def _workers(server: ServerProcess) -> list[psutil.Process]:
    assert server.process is not None
    workers = []
    for child in psutil.Process(server.process.pid).children():
        try:
            if "--worker-of" in child.cmdline():
                workers.append(child)
        except psutil.Error:  # one that died and is not reaped yet
            continue
    return workers


def _wait_for(condition: object, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


def _all_answer(url: str, workers: int) -> None:
    """Every worker is listening: the readiness counters of that many distinct processes answer."""
    seen: set[int] = set()

    def enough() -> bool:
        with httpx.Client(base_url=url, timeout=5, headers={"Connection": "close"}) as http:
            seen.add(int(http.get("/readyz").json()["checks"]["process"]))
        return len(seen) >= workers

    _wait_for(enough)


@pytest.mark.slow
def test_new_connections_reach_every_worker_and_a_killed_one_comes_back(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    site_key = Tenants.from_settings(settings).create_client("Many", ["shop.example.com"]).site_key
    monkeypatch.setenv("XMO_COMPACT_INTERVAL_S", "0")
    monkeypatch.setenv("XMO_RETENTION_INTERVAL_S", "0")
    with ServerProcess(settings.home, port=free_port(), log_file=tmp_path / "server.log", workers=2) as server:
        _wait_for(lambda: len(_workers(server)) == 2)
        _all_answer(server.url, 2)
        accepted: dict[int, int] = {}
        for number in range(60):  # fresh connections, as many browsers would open
            params = {"k": site_key, "eid": f"w{number}", "url": "https://shop.example.com/", "send_image": "0"}
            with httpx.Client(base_url=server.url, timeout=5, headers={"Connection": "close"}) as http:
                assert http.get("/t.gif", params=params).status_code == 204
        for _ in range(40):
            with httpx.Client(base_url=server.url, timeout=5, headers={"Connection": "close"}) as http:
                checks = http.get("/readyz").json()["checks"]
                accepted[int(checks["process"])] = checks["ingest"]["accepted"]
        assert len(accepted) == 2 and all(count > 0 for count in accepted.values()), accepted
        assert sum(accepted.values()) == 60

        victim = _workers(server)[0].pid
        os.kill(victim, signal.SIGKILL)
        _wait_for(lambda: len(_workers(server)) == 2 and victim not in {p.pid for p in _workers(server)})
        _all_answer(server.url, 2)
        workers = _workers(server)
    for worker in workers:
        _wait_for(lambda worker=worker: _gone(worker), 20)


def _gone(process: psutil.Process) -> bool:
    try:
        return process.status() == psutil.STATUS_ZOMBIE
    except psutil.Error:
        return True


def test_several_workers_refuse_a_port_that_is_taken(xmo_home: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "-m", "xmo", "serve", "--port", str(port), "--workers", "2"],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
            env={**os.environ, "XMO_HOME": str(xmo_home)},
        )
    assert result.returncode != 0
    assert f"cannot listen on 127.0.0.1:{port}" in result.stderr and len(result.stderr.strip().splitlines()) == 1
