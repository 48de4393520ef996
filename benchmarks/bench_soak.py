"""Soak: `xmo serve` under pixel load at half its measured maximum for minutes, with compaction on.

First the maximum is measured (wrk, 64 connections, unpaced). Then wrk sends paced pixel hits, each with its own
event id, one minute at a time (a warm-up minute that also calibrates the pace, then the soak minutes); every
acknowledged id is recorded. Meanwhile the RSS of each process (the supervisor, each worker, the background
jobs) and the spool's size are sampled. At the end the lake is read back: every acknowledged hit must be there
exactly once.

Targets (issue 14): p99 <= 20 ms in every soak minute, RSS growth <= 10 % per process from the end of the
warm-up to the last minute, and no acknowledged hit missing or stored twice.

    .venv/bin/python benchmarks/bench_soak.py [--minutes 10] [--workers 2] [--compact-interval-s 30]

Needs wrk (Debian package `wrk`).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import psutil
import pyarrow.compute as pc
import pyarrow.parquet as pq
from bench_ingest import USER_AGENT, VISITOR, run_wrk
from machine import cpu_model, load_avg
from targets import at_most, target_lines

from core.layout import StorageLayout
from core.settings import Settings
from core.tenants import Tenants
from tracking.compactor import compact_all
from tracking.lake import event_files
from xmo.server_process import ServerProcess, free_port

TARGET_P99_MS = 20.0
TARGET_RSS_GROWTH_PCT = 10.0
LUA = Path(__file__).with_name("soak.lua")
SAMPLE_EVERY_S = 2.0
SPOOL, PENDING = "spool files", "pending events"  # sampled beside the processes' RSS


def paced_minute(url: str, segment: str, connections: int, delay_ms: int, seconds: int, out: Path) -> dict[str, Any]:
    """One wrk run of paced hits; its figures, and the event ids it saw acknowledged."""
    run = subprocess.run(
        [
            "wrk",
            f"-t{connections}",
            f"-c{connections}",
            f"-d{seconds}s",
            "-H",
            f"User-Agent: {USER_AGENT}",
            "-H",
            VISITOR,
            "-s",
            str(LUA),
            url,
            "--",
            segment,
            str(delay_ms),
            str(out),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    figures: dict[str, Any] = json.loads(run.stdout.strip().splitlines()[-1])
    figures["hits_per_s"] = figures["requests"] / (figures["duration_us"] / 1e6)
    figures["p99_ms"] = figures["p99_us"] / 1000
    figures["p50_ms"] = figures["p50_us"] / 1000
    return figures


def acknowledged_ids(out: Path) -> list[str]:
    """Every event id wrk saw answered with the GIF, from the per-thread files."""
    ids: list[str] = []
    for path in sorted(out.glob("acked-*.txt")):
        _, segment, thread = path.stem.split("-")
        ids.extend(f"{segment}-{thread}-{line.strip()}" for line in path.read_text().splitlines() if line.strip())
    return ids


class Sampler:
    """Samples the RSS of the server's processes and the spool's size until stopped."""

    def __init__(self, server_pid: int, spool_dir: Path, url: str) -> None:
        self.server_pid = server_pid
        self.spool_dir = spool_dir
        self.url = url
        self.compaction_passes: dict[float, float] = {}  # when a pass finished → how long it took
        self.samples: list[tuple[float, str, float]] = []  # (time, process role, MB)
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> Sampler:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.stopping.set()
        self.thread.join()

    def _roles(self) -> dict[str, psutil.Process]:
        root = psutil.Process(self.server_pid)
        roles = {"serve (supervisor)": root}
        workers = 0
        for child in sorted(root.children(recursive=True), key=lambda p: p.pid):
            try:
                cmdline = " ".join(child.cmdline())
            except psutil.Error:
                continue
            if " maintain" in cmdline:
                roles["background jobs"] = child
            elif "--worker-of" in cmdline or "spawn_main" in cmdline:
                workers += 1
                roles[f"worker {workers}"] = child
        return roles

    def _run(self) -> None:
        while not self.stopping.is_set():
            now = time.monotonic()
            try:
                for role, process in self._roles().items():
                    self.samples.append((now, role, process.memory_info().rss / 2**20))
            except psutil.Error:
                pass
            spool = sum(p.stat().st_size for p in self.spool_dir.glob("*") if p.is_file())
            self.samples.append((now, SPOOL, spool / 2**20))
            try:
                checks = httpx.get(f"{self.url}/readyz", timeout=5).json()["checks"]
                self.samples.append((now, PENDING, float(checks["spool_pending_events"])))
                compaction = checks["background_jobs"]["jobs"]["compaction"]
                if compaction["last_finished_at"] is not None:
                    self.compaction_passes[compaction["last_finished_at"]] = compaction["last_duration_s"]
            except (httpx.HTTPError, KeyError, TypeError):
                pass
            self.stopping.wait(SAMPLE_EVERY_S)

    def peak_between(self, start: float, end: float) -> dict[str, float]:
        """The largest sample of each role between two times."""
        peaks: dict[str, float] = defaultdict(float)
        for at, role, mb in self.samples:
            if start <= at < end:
                peaks[role] = max(peaks[role], mb)
        return dict(peaks)


def stored_ids(layout: StorageLayout, client_id: str) -> list[str]:
    """The event ids of the soak's hits in the lake (the maximum's hits have ids of their own)."""
    ids: list[str] = []
    for path in event_files(layout, client_id):
        column = pq.read_table(path, columns=["event_id"]).column("event_id")
        ids.extend(column.filter(pc.starts_with(column, "m")).to_pylist())
    return ids


@dataclass
class Run:
    """One server's paced minutes (the first is the warm-up) and how fast compaction went meanwhile."""

    compact_interval_s: float
    minutes: list[dict[str, Any]] = field(default_factory=list)
    compaction_passes: list[float] = field(default_factory=list)


def paced_run(
    home: Path, query: str, workers: int, compact_interval_s: float, target_rate: float, minutes: int, minute_s: int
) -> Run:
    """Start ``xmo serve``, send ``target_rate`` paced hits for a warm-up minute and ``minutes`` more, stop it."""
    run = Run(compact_interval_s)
    os.environ["XMO_COMPACT_INTERVAL_S"] = str(compact_interval_s)
    server = ServerProcess(home, port=free_port(), log_file=home / "server.log", workers=workers).start()
    assert server.process is not None
    sampler = Sampler(server.process.pid, home / "spool", server.url).start()
    try:
        url = f"{server.url}/t.gif?{query}"
        run_wrk(url, 3, 64)  # warm the workers up; these hits carry no event id of the soak's
        connections = 32
        delay_ms = max(1, round(connections * 1000 / target_rate))
        for minute in range(minutes + 1):  # minute 0 is the warm-up, and calibrates the pace
            started = time.monotonic()
            segment = f"m{'c' if compact_interval_s else 'p'}{minute}"
            figures = paced_minute(url, segment, connections, delay_ms, minute_s, home / "acked")
            figures |= {"minute": minute, "connections": connections, "delay_ms": delay_ms}
            peaks = sampler.peak_between(started, time.monotonic())
            figures["pending_events"] = int(peaks.pop(PENDING, 0))
            figures["spool_mb"] = peaks.pop(SPOOL, 0.0)
            figures["rss_mb"] = peaks
            run.minutes.append(figures)
            if minute == 0:  # each connection waits delay + latency: scale the connections to the target rate
                connections = max(1, min(256, math.ceil(connections * target_rate / figures["hits_per_s"])))
    finally:
        sampler.stop()
        server.stop()
    run.compaction_passes = sorted(sampler.compaction_passes.values())
    return run


def print_minutes(title: str, run: Run) -> None:
    print(title)
    roles = sorted({role for m in run.minutes for role in m["rss_mb"]})
    print(
        f"{'minute':>6}{'hits/s':>9}{'p50 ms':>8}{'p99 ms':>8}{'max ms':>8}{'errors':>7}{'pending':>9}{'spool MB':>9}"
        + "".join(f"{role[:16]:>18}" for role in roles)
    )
    for m in run.minutes:
        label = "warm" if m["minute"] == 0 else str(m["minute"])
        print(
            f"{label:>6}{m['hits_per_s']:>9,.0f}{m['p50_ms']:>8.2f}{m['p99_ms']:>8.2f}{m['max_us'] / 1000:>8.1f}"
            f"{m['errors']:>7}{m['pending_events']:>9,}{m['spool_mb']:>9.0f}"
            + "".join(f"{m['rss_mb'].get(role, 0):>15.0f} MB" for role in roles)
        )


def minutes_json(run: Run) -> list[dict[str, Any]]:
    return [
        {
            "minute": m["minute"],
            "hits_per_s": round(m["hits_per_s"]),
            "p50_ms": m["p50_ms"],
            "p99_ms": m["p99_ms"],
            "max_ms": m["max_us"] / 1000,
            "errors": m["errors"],
            "pending_events": m["pending_events"],
            "spool_mb": round(m["spool_mb"], 1),
            "rss_mb": {role: round(mb, 1) for role, mb in m["rss_mb"].items()},
        }
        for m in run.minutes
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=int, default=10, help="Soak minutes after the warm-up minute.")
    parser.add_argument("--peer-minutes", type=int, default=2, help="Minutes of the same load, compaction off.")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--compact-interval-s", type=float, default=30.0)
    parser.add_argument("--max-seconds", type=int, default=15, help="Length of the maximum-throughput run.")
    parser.add_argument("--minute-s", type=int, default=60, help="Seconds per minute (shorter for a trial run).")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("bench_soak needs wrk (apt-get install wrk)")

    home = Path(tempfile.mkdtemp(prefix="xmo-bench-soak-"))
    out = home / "acked"
    out.mkdir()
    settings = Settings(home=home)
    site_key = Tenants.from_settings(settings).create_client("Soak", ["shop.example.com"]).site_key
    query = urlencode({"k": site_key, "url": "https://shop.example.com/p?utm_source=news&utm_medium=email"})
    os.environ["XMO_COMPACT_INTERVAL_S"] = "0"
    with ServerProcess(home, port=free_port(), log_file=home / "server.log", workers=args.workers) as server:
        run_wrk(f"{server.url}/t.gif?{query}", 3, 64)
        maximum = run_wrk(f"{server.url}/t.gif?{query}", args.max_seconds, 64)
    target_rate = maximum["hits_per_s"] / 2
    peer = paced_run(home, query, args.workers, 0, target_rate, args.peer_minutes, args.minute_s)
    soaked = paced_run(home, query, args.workers, args.compact_interval_s, target_rate, args.minutes, args.minute_s)
    minutes = soaked.minutes
    passes = soaked.compaction_passes
    compact_all(settings)  # what the last pass left
    acked = acknowledged_ids(out)
    stored = stored_ids(StorageLayout.from_settings(settings), "soak")
    missing = len(set(acked) - set(stored))
    duplicates = len(stored) - len(set(stored))
    unacknowledged_stored = len(set(stored) - set(acked))  # answered as wrk stopped: stored, not counted

    warm = minutes[0]["rss_mb"]
    soak = minutes[1:]
    last = soak[-1]["rss_mb"] if soak else warm
    growth = {role: round(100 * (last.get(role, 0) - warm[role]) / warm[role], 1) for role in warm if warm[role] > 0}
    print(
        f"soak benchmark — {os.cpu_count()} CPUs ({cpu_model()}), load {load_avg()}, xmo serve --workers "
        f"{args.workers}, compaction every {args.compact_interval_s:g} s, {args.minute_s} s per minute"
    )
    print(
        f"maximum: {maximum['hits_per_s']:,.0f} hits/s (p99 {maximum['p99_ms']:.1f} ms); "
        f"soak target {target_rate:,.0f} hits/s"
    )
    print_minutes(f"peer: the same load with compaction off ({args.peer_minutes} minutes after a warm-up)", peer)
    print_minutes(f"soak: compaction every {args.compact_interval_s:g} s", soaked)
    worst_p99 = max((m["p99_ms"] for m in soak), default=float("nan"))
    worst_growth = max(growth.values(), default=0.0)
    peer_p99 = max((m["p99_ms"] for m in peer.minutes[1:]), default=float("nan"))
    print(f"worst soak-minute p99 {worst_p99:.2f} ms against {peer_p99:.2f} ms with compaction off")
    if passes:
        print(
            f"compaction passes seen: {len(passes)}, median {passes[len(passes) // 2]:.1f} s, "
            f"longest {passes[-1]:.1f} s"
        )
    print(f"RSS growth from the warm-up to the last minute, per process (%): {growth}")
    print(
        f"acknowledged {len(acked):,}, stored {len(stored):,}: {missing} missing, {duplicates} stored twice, "
        f"{unacknowledged_stored} stored but answered after wrk stopped counting"
    )
    targets = {
        "worst_minute_p99_ms": at_most(worst_p99, TARGET_P99_MS),
        "rss_growth_pct": at_most(worst_growth, TARGET_RSS_GROWTH_PCT),
        "acknowledged_missing": at_most(missing, 0),
        "acknowledged_stored_twice": at_most(duplicates, 0),
    }
    print(*target_lines(targets), sep="\n")
    print(
        json.dumps(
            {
                "benchmark": "soak",
                "cpus": os.cpu_count(),
                "load_avg": load_avg(),
                "workers": args.workers,
                "compact_interval_s": args.compact_interval_s,
                "minute_s": args.minute_s,
                "max_hits_per_s": round(maximum["hits_per_s"]),
                "target_rate_hits_per_s": round(target_rate),
                "minutes": minutes_json(soaked),
                "peer_minutes": minutes_json(peer),
                "peer_worst_p99_ms": peer_p99,
                "rss_growth_pct": growth,
                "compaction_pass_s": {
                    "count": len(passes),
                    "median": passes[len(passes) // 2] if passes else None,
                    "longest": passes[-1] if passes else None,
                },
                "worst_p99_ms": worst_p99,
                "acknowledged": len(acked),
                "stored": len(stored),
                "missing": missing,
                "stored_twice": duplicates,
                "stored_unacknowledged": unacknowledged_stored,
                "targets": targets,
            }
        )
    )
    shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    main()
