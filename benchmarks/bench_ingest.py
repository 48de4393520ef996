"""Durable hits per second through `xmo serve` against a bare FastAPI GIF endpoint, in the same run.

Both run with 2 uvicorn workers on 127.0.0.1 and get the same load from `wrk` (64 connections; a
bounded asyncio client when wrk is missing). Afterwards every acknowledged xmo hit is looked for in the
lake. Target on 2 cores: >= 10,000 durable hits/s with p99 <= 20 ms, i.e. >= 0.8 of the bare endpoint.

    .venv/bin/python benchmarks/bench_ingest.py [--seconds 10] [--connections 64]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlencode

import httpx
from targets import at_least, at_most, target_lines

from core.layout import StorageLayout
from core.settings import Settings
from core.tenants import Tenants
from tracking.compactor import compact_all
from tracking.lake import count_events
from xmo.server_process import ServerProcess, free_port

TARGET_HITS_PER_S = 10_000
TARGET_P99_MS = 20.0
TARGET_RATIO = 0.8
USER_AGENT = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36"
VISITOR = "Cookie: xmo_id=" + "b" * 32


def _duration_ms(text: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text.strip()).groups()  # type: ignore[union-attr]
    return float(number) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}[unit]


def run_wrk(url: str, seconds: int, connections: int) -> dict[str, float]:
    """wrk's figures: requests/s, p50 and p99 latency, completed and non-2xx requests."""
    out = subprocess.run(
        [
            "wrk",
            "-t2",
            f"-c{connections}",
            f"-d{seconds}s",
            "--latency",
            "-H",
            f"User-Agent: {USER_AGENT}",
            "-H",
            VISITOR,
            url,
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    latency = dict(re.findall(r"^\s+(50|99)%\s+(\S+)$", out, re.MULTILINE))
    total = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {
        "hits_per_s": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),  # type: ignore[union-attr]
        "p50_ms": _duration_ms(latency["50"]),
        "p99_ms": _duration_ms(latency["99"]),
        "requests": total,
        "non_2xx": int(errors.group(1)) if errors else 0,
    }


def run_asyncio(url: str, seconds: int, connections: int) -> dict[str, float]:
    """The same figures from a bounded asyncio client (when wrk is not installed)."""
    latencies: list[float] = []
    failures = 0

    async def lane(deadline: float) -> None:
        nonlocal failures
        async with httpx.AsyncClient(timeout=10.0, headers={"User-Agent": USER_AGENT}) as http:
            while time.perf_counter() < deadline:
                started = time.perf_counter()
                response = await http.get(url, headers={"Cookie": VISITOR.split(": ", 1)[1]})
                latencies.append(time.perf_counter() - started)
                failures += response.status_code >= 300

    async def main() -> float:
        started = time.perf_counter()
        await asyncio.gather(*(lane(started + seconds) for _ in range(connections)))
        return time.perf_counter() - started

    wall = asyncio.run(main())
    latencies.sort()
    return {
        "hits_per_s": len(latencies) / wall,
        "p50_ms": latencies[len(latencies) // 2] * 1000,
        "p99_ms": latencies[int(len(latencies) * 0.99)] * 1000,
        "requests": len(latencies),
        "non_2xx": failures,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=64)
    args = parser.parse_args()
    load = run_wrk if shutil.which("wrk") else run_asyncio
    home = Path(tempfile.mkdtemp(prefix="xmo-bench-ingest-"))
    settings = Settings(home=home)
    site_key = Tenants.from_settings(settings).create_client("Bench", ["shop.example.com"]).site_key
    query = urlencode({"k": site_key, "url": "https://shop.example.com/p?utm_source=news&utm_medium=email"})

    bare_port = free_port()
    bare = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "bare_pixel:app",
            "--app-dir",
            str(Path(__file__).parent),
            "--port",
            str(bare_port),
            "--workers",
            "2",
            "--log-level",
            "warning",
            "--no-access-log",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_for(f"http://127.0.0.1:{bare_port}/t.gif")
        load(f"http://127.0.0.1:{bare_port}/t.gif?{query}", 2, args.connections)  # warm-up
        bare_figures = load(f"http://127.0.0.1:{bare_port}/t.gif?{query}", args.seconds, args.connections)
    finally:
        bare.terminate()
        bare.wait()

    server = ServerProcess(home, port=free_port(), log_file=home / "server.log", workers=2).start()
    try:
        warm_up = load(f"{server.url}/t.gif?{query}", 2, args.connections)  # stored too
        xmo_figures = load(f"{server.url}/t.gif?{query}", args.seconds, args.connections)
    finally:
        server.stop()
    compact_all(settings)
    stored = count_events(StorageLayout.from_settings(settings), "bench")

    ratio = xmo_figures["hits_per_s"] / bare_figures["hits_per_s"]
    print(
        f"ingest benchmark — {os.cpu_count()} CPUs, {args.connections} connections, {args.seconds} s, "
        f"load by {'wrk' if load is run_wrk else 'asyncio'}"
    )
    print(f"{'':28}{'hits/s':>10}{'p50 ms':>9}{'p99 ms':>9}{'requests':>10}{'non-2xx':>9}")
    for name, f in (("bare FastAPI GIF (peer)", bare_figures), ("xmo serve, durable", xmo_figures)):
        print(
            f"{name:28}{f['hits_per_s']:>10,.0f}{f['p50_ms']:>9.2f}{f['p99_ms']:>9.2f}"
            f"{int(f['requests']):>10,}{int(f['non_2xx']):>9,}"
        )
    # wrk counts the answers it read; a few more may have been answered as it stopped, so lake >= acknowledged
    acknowledged = sum(int(f["requests"] - f["non_2xx"]) for f in (warm_up, xmo_figures))
    missing = max(0, acknowledged - stored)
    targets = {
        "xmo_hits_per_s": at_least(round(xmo_figures["hits_per_s"]), TARGET_HITS_PER_S),
        "xmo_p99_ms": at_most(xmo_figures["p99_ms"], TARGET_P99_MS),
        "ratio_xmo_to_bare": at_least(round(ratio, 3), TARGET_RATIO),
    }
    print(*target_lines(targets), sep="\n")
    print(
        f"durability: the lake holds {stored:,} events for {acknowledged:,} acknowledged hits (warm-up "
        f"included): {missing:,} missing"
    )
    print(
        json.dumps(
            {
                "benchmark": "ingest",
                "cpus": os.cpu_count(),
                "connections": args.connections,
                "seconds": args.seconds,
                "load_generator": "wrk" if load is run_wrk else "asyncio",
                "bare_hits_per_s": round(bare_figures["hits_per_s"]),
                "bare_p50_ms": bare_figures["p50_ms"],
                "bare_p99_ms": bare_figures["p99_ms"],
                "xmo_hits_per_s": round(xmo_figures["hits_per_s"]),
                "xmo_p50_ms": xmo_figures["p50_ms"],
                "xmo_p99_ms": xmo_figures["p99_ms"],
                "xmo_acknowledged": acknowledged,
                "missing_in_lake": missing,
                "lake_events": stored,
                "ratio": round(ratio, 3),
                "targets": targets,
            }
        )
    )
    shutil.rmtree(home, ignore_errors=True)


def _wait_for(url: str, timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            httpx.get(url, timeout=1.0)
            return
        except httpx.TransportError:
            time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer")


if __name__ == "__main__":
    main()
