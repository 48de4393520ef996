"""The background jobs: compaction and retention run in a process of their own that ``xmo serve`` supervises
(restarted when killed, gone when the server goes), never in a request worker."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path

import httpx
import pytest
from sqlalchemy import update

from core import audit
from core.layout import StorageLayout
from core.maintenance_status import read_status
from core.processes import process_is_alive
from core.schema import clients
from core.settings import Settings
from core.tenants import Tenants
from tracking.compactor import compact_all
from tracking.lake import count_events, partition_dir
from xmo.maintenance import MaintenanceLoop, service_jobs
from xmo.server_process import ServerProcess, free_port
from xmo.simulator.cli import run_simulation


def _wait_for(condition: Callable[[], object], timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        time.sleep(0.05)


def test_the_loop_applies_retention_on_its_schedule_and_reports_each_run(settings: Settings) -> None:
    tenants = Tenants.from_settings(settings)
    tenants.create_client("Gamma", ["gamma.example"], client_id="gamma")
    run_simulation(settings, "gamma", days=2, visitors_per_day=20, seed=3, start=date(2026, 4, 6))
    compact_all(settings)
    layout = StorageLayout.from_settings(settings)
    assert count_events(layout, "gamma") > 0
    days = (datetime.now(UTC).date() - date(2026, 4, 9)).days  # every partition (2026-04-06 … 08) expires
    with tenants.engine.begin() as connection:
        connection.execute(update(clients).where(clients.c.id == "gamma").values(retention_days=days))
    stale = partition_dir(layout, "gamma", "2026-04-06") / ".part-x.parquet.999999.tmp"  # a killed writer's
    stale.write_bytes(b"half a file")

    loop = MaintenanceLoop(settings, service_jobs(settings.model_copy(update={"retention_interval_s": 0.2})))
    runner = threading.Thread(target=loop.run)
    runner.start()
    try:
        _wait_for(lambda: count_events(layout, "gamma") == 0 and not stale.exists())
        _wait_for(lambda: (read_status(layout) or {}).get("jobs", {}).get("retention", {}).get("runs", 0) >= 1)
    finally:
        loop.stop.set()
        runner.join(timeout=30)
    assert not runner.is_alive(), "the loop stops when asked"
    (entry,) = [e for e in audit.entries(tenants.engine) if e.action == "retention.apply"]
    assert (entry.actor, entry.client_id) == ("scheduler", "gamma")
    status = read_status(layout)
    assert status is not None and status["pid"] == os.getpid() and status["running"]
    assert status["jobs"]["retention"]["last_error"] is None
    assert status["jobs"]["retention"]["last_result"]["deleted"] > 0
    assert "compaction" not in status["jobs"], "the settings fixture turns compaction off"


def test_xmo_serve_compacts_in_a_supervised_process_that_comes_back_when_killed(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    site_key = Tenants.from_settings(settings).create_client("Soak", ["shop.example.com"]).site_key
    layout = StorageLayout.from_settings(settings)
    monkeypatch.setenv("XMO_COMPACT_INTERVAL_S", "0.3")
    server = ServerProcess(settings.home, port=free_port(), log_file=tmp_path / "server.log").start()
    try:
        with httpx.Client(base_url=server.url, timeout=10) as http:
            for number in range(20):
                params = {"k": site_key, "eid": f"h{number}", "url": "https://shop.example.com/", "send_image": "0"}
                assert http.get("/t.gif", params=params, headers={"Cookie": "xmo_id=" + "d" * 32}).status_code == 204
            _wait_for(lambda: count_events(layout, "soak") == 20)  # nobody here compacted: the background did

            first = read_status(layout)
            assert first is not None and first["running"]
            assert server.process is not None and first["pid"] != server.process.pid
            assert first["jobs"]["compaction"]["runs"] >= 1 and first["jobs"]["compaction"]["last_error"] is None
            ready = http.get("/readyz").json()["checks"]
            assert ready["background_jobs"]["pid"] == first["pid"] and ready["spool_pending_events"] == 0

            os.kill(first["pid"], signal.SIGKILL)
            _wait_for(lambda: (read_status(layout) or {}).get("pid") not in (None, first["pid"]))
            again = read_status(layout)
            assert again is not None and again["running"], "the supervisor started it again"
            params = {"k": site_key, "eid": "after", "url": "https://shop.example.com/", "send_image": "0"}
            assert http.get("/t.gif", params=params).status_code == 204
            _wait_for(lambda: count_events(layout, "soak") == 21)
    finally:
        server.stop()
    _wait_for(lambda: not process_is_alive(again["pid"]), timeout_s=15)
    assert read_status(layout) is not None and not read_status(layout)["running"], "it stops with the server"

    killed = ServerProcess(settings.home, port=free_port(), log_file=tmp_path / "server2.log").start()
    _wait_for(lambda: (read_status(layout) or {}).get("pid") not in (None, again["pid"]))
    orphan = read_status(layout)
    assert orphan is not None and orphan["running"]
    killed.kill()  # SIGKILL: no chance to stop its child
    _wait_for(lambda: not process_is_alive(orphan["pid"]), timeout_s=15)  # the kernel told it (PR_SET_PDEATHSIG)
