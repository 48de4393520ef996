"""A collector killed with SIGKILL mid-load loses no acknowledged hit, and stores none twice, though clients retry
hits before the kill (so one compaction range holds both copies) and everything after the restart."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

import httpx
import pyarrow.parquet as pq
import pytest

from core.layout import StorageLayout
from core.settings import Settings
from core.tenants import Tenants
from tracking.compactor import compact_all
from tracking.lake import event_files
from xmo.server_process import ServerProcess, free_port

pytestmark = pytest.mark.slow
HITS = 1500


async def _send(url: str, site_key: str, ids: list[str], acked: list[str], stop: threading.Event) -> None:
    queue: asyncio.Queue[str] = asyncio.Queue()
    for number, event_id in enumerate(ids):
        queue.put_nowait(event_id)
        if number % 3 == 2:  # a client that did not hear back sends the hit before last again
            queue.put_nowait(ids[number - 1])

    async def lane() -> None:
        async with httpx.AsyncClient(base_url=url, timeout=5.0) as http:
            while not stop.is_set() and not queue.empty():
                event_id = queue.get_nowait()
                params = {"k": site_key, "eid": event_id, "url": "https://shop.example.com/p", "send_image": "0"}
                try:
                    response = await http.get("/t.gif", params=params, headers={"Cookie": "xmo_id=" + "c" * 32})
                except httpx.TransportError:
                    continue  # not acknowledged: the client would retry
                if response.status_code == 204:
                    acked.append(event_id)

    await asyncio.gather(*(lane() for _ in range(16)))


def test_sigkill_mid_load_loses_no_acknowledged_hit(settings: Settings, tmp_path: Path) -> None:
    site_key = Tenants.from_settings(settings).create_client("Crash", ["shop.example.com"]).site_key
    first_ids = [f"first-{i}" for i in range(HITS)]
    acked: list[str] = []
    server = ServerProcess(settings.home, port=free_port(), log_file=tmp_path / "server.log").start()
    stop = threading.Event()
    sender = threading.Thread(target=lambda: asyncio.run(_send(server.url, site_key, first_ids, acked, stop)))
    sender.start()
    while len(set(acked)) < HITS // 3 and sender.is_alive():
        threading.Event().wait(0.01)
    server.kill()  # mid-load: requests are in flight and batches are being written
    stop.set()
    sender.join(timeout=60)
    assert HITS // 3 <= len(set(acked)) < HITS, "the kill happened while hits were still being sent"
    assert len(acked) > len(set(acked)), "some hits were acknowledged twice (retried) before the kill"

    # a retry of everything after restart: acknowledged hits come again, and must not be doubled
    retried: list[str] = []
    with ServerProcess(settings.home, port=free_port(), log_file=tmp_path / "server2.log") as again:
        asyncio.run(_send(again.url, site_key, first_ids, retried, threading.Event()))
    assert set(retried) == set(first_ids)

    compact_all(settings)
    stored = [
        i
        for f in event_files(StorageLayout.from_settings(settings), "crash")
        for i in pq.read_table(f, columns=["event_id"]).column("event_id").to_pylist()
    ]
    assert set(acked) <= set(stored), "every acknowledged hit is in the lake"
    assert len(stored) == len(set(stored)) == HITS, "and each hit exactly once"
