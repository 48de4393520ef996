"""One harness for the benchmarks' measured child processes: wall time, peak memory, a time and memory cap.

A child runs in its own session (so it and its workers can be killed together) and its process tree's summed RSS
is sampled; each process's own high-water mark (``VmHWM``) is kept too, since ``ru_maxrss`` would report the
parent's peak, which Linux carries through fork and exec. A child that prints one line of JSON last hands its
figures back; :func:`child_status` says in words how a run ended.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil

GB = 1e9


def high_water_mark(pid: int | str) -> int:
    """A process's peak RSS in bytes (``VmHWM``), 0 when it cannot be read; ``"self"`` for this process."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return 0


def tree_rss(root: psutil.Process, peaks: dict[int, int]) -> tuple[int, int]:
    """Summed RSS of a process and all its descendants, and how many they are; ``peaks`` keeps each one's
    high-water mark by pid."""
    total = count = 0
    try:
        processes = [root, *root.children(recursive=True)]
    except psutil.Error:
        return 0, 0
    for process in processes:
        try:
            total += process.memory_info().rss
            count += 1
        except psutil.Error:
            continue
        peaks[process.pid] = max(peaks.get(process.pid, 0), high_water_mark(process.pid))
    return total, count


def kill_tree(process: subprocess.Popen[bytes]) -> None:
    """Kill a child and everything in its session."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()


@dataclass
class WatchedRun:
    """How a measured child ran."""

    returncode: int | None
    wall_s: float
    tree_peak_bytes: int  # the largest summed RSS of the tree that a sample saw
    process_peaks: dict[int, int] = field(default_factory=dict)  # each process's own high-water mark
    processes: int = 0  # the most processes at once
    stopped: str | None = None  # why the harness stopped it (time or memory cap), else None
    stdout: list[str] = field(default_factory=list)
    stderr: list[str] = field(default_factory=list)

    @property
    def result(self) -> dict[str, Any]:
        """The JSON object on the child's last line of output, or an empty dict."""
        if self.stdout:
            with contextlib.suppress(json.JSONDecodeError):
                parsed = json.loads(self.stdout[-1])
                if isinstance(parsed, dict):
                    return parsed
        return {}


def run_watched(
    command: Sequence[str],
    *,
    env: dict[str, str] | None = None,
    timeout_s: float = float("inf"),
    memory_cap_bytes: float = float("inf"),
    cpus: set[int] | None = None,
    capture_stderr: bool = True,
    sample_s: float = 0.2,
) -> WatchedRun:
    """Run ``command``, sampling its tree's memory every ``sample_s``; stop it past a cap.

    ``cpus`` pins the child (before it imports numpy, so thread pools see that many CPUs); with
    ``capture_stderr=False`` its stderr passes through to ours (tracebacks stay visible).
    """
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        process = subprocess.Popen(
            list(command), stdout=out, stderr=err if capture_stderr else None, start_new_session=True, env=env
        )
        if cpus and hasattr(os, "sched_setaffinity"):
            with contextlib.suppress(OSError):
                os.sched_setaffinity(process.pid, cpus)
        root = psutil.Process(process.pid)
        run = WatchedRun(returncode=None, wall_s=0.0, tree_peak_bytes=0)
        try:
            while process.poll() is None:
                rss, count = tree_rss(root, run.process_peaks)
                run.tree_peak_bytes, run.processes = max(run.tree_peak_bytes, rss), max(run.processes, count)
                if rss > memory_cap_bytes:
                    run.stopped = f"out of memory (stopped above the {memory_cap_bytes / GB:.1f} GB cap)"
                elif time.perf_counter() - started > timeout_s:
                    run.stopped = f"timed out (stopped after {timeout_s:.0f} s)"
                if run.stopped:
                    kill_tree(process)
                    break
                time.sleep(sample_s)
        finally:
            if process.poll() is None:
                kill_tree(process)
        run.wall_s = time.perf_counter() - started
        run.returncode = process.returncode
        out.seek(0)
        err.seek(0)
        run.stdout = out.read().decode(errors="replace").strip().splitlines()
        run.stderr = err.read().decode(errors="replace").strip().splitlines()
    return run


def child_status(run: WatchedRun) -> str:
    """``ok``, or why not: the harness's cap, the child's own ``error``, the OOM killer, a failure."""
    result = run.result
    if run.stopped:
        return run.stopped
    if "error" in result:
        return str(result["error"])
    if run.returncode == -signal.SIGKILL:
        return "out of memory (killed by SIGKILL, likely the kernel's OOM killer)"
    if run.returncode != 0 or not result:
        if any("MemoryError" in line or "Unable to allocate" in line for line in run.stderr):
            return "out of memory (MemoryError)"
        last = next((line for line in reversed(run.stderr) if line.strip()), f"exit status {run.returncode}")
        return f"failed: {last.strip()[:200]}"
    return "ok"
