"""Benchmark: a lake of 10M events → training set (``build_dataset``) with DuckDB, Dask and the pandas reference.

    .venv/bin/python benchmarks/bench_features.py [--events 10000000] [--home DIR] [--engines duckdb,dask,pandas]
                                                  [--seed 42] [--timeout 900] [--memory-cap-gb G] [--profile]

The lake is made once by the direct path of the simulator: seeded traffic (``xmo.simulator``) of a registered
client (time zone Europe/Berlin) goes through the edge in chunks of 500k hits and each chunk is written to the
lake as the compactor writes a spool range (``tracking.lake.write_events``). Days × visitors per day are scaled
to reach about ``--events`` stored events (the stored share per session is measured on a small run first).
With ``--home`` the lake is kept and reused by later runs with the same events and seed; without it the home is
a temporary folder, removed at the end.

Each engine then runs ``build_dataset`` in a fresh Python process, so every engine's memory is its own: the time
is that of ``build_dataset`` alone (no interpreter start, no imports); the peak memory is the larger of the
process's own peak RSS (``VmHWM``; ``ru_maxrss`` would report the parent's peak, which Linux carries through
fork and exec) and the peak of the summed RSS of its whole process tree, sampled every 0.2 s (Dask: the client,
the scheduler and both workers of the LocalCluster; the JSON adds the sum of each process's own peak, an upper
bound). A run that passes ``--timeout``
or ``--memory-cap-gb`` is stopped and reported as such. Target on 2 cores: DuckDB ≤ 60 s, ≥ 5× faster than
the pandas reference, peak ≤ 4 GB. Prints a table, then one line of JSON with every figure and target.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from machine import cpu_model
from watched import child_status, high_water_mark, run_watched

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

TARGET_DUCKDB_S = 60.0
TARGET_SPEEDUP = 5.0
TARGET_PEAK_GB = 4.0
DEFAULT_EVENTS = 10_000_000
DEFAULT_ENGINES = ("duckdb", "dask", "pandas")
DEFAULT_TIMEOUT_S = 900  # per engine; the pandas reference is the one that may need it
SEED = 42
DAYS = 60
CALIBRATION_VISITORS_PER_DAY = 1_000
CHUNK_HITS = 500_000  # as the simulator feeds the spool, and about what the compactor moves at once
TIMEZONE = "Europe/Berlin"
DOMAIN = "shop.example.com"
SAMPLE_S = 0.2
GB = 1e9


def bench_client_id(events: int, seed: int) -> str:
    """One client per lake size and seed, so lakes of several sizes can share one ``--home``."""
    return f"bench-{events}-s{seed}"


def marker_path(home: Path, client_id: str) -> Path:
    """Written when a lake is complete: what it holds and how long it took to make."""
    return home / f"bench-features-{client_id}.json"


# the lake -----------------------------------------------------------------------------------------------
def generate_lake(home: Path, client_id: str, events: int, seed: int) -> dict[str, Any]:
    """Simulate about ``events`` stored events for a fresh client and write them to the lake (direct path)."""
    from core.errors import NotFound
    from core.layout import StorageLayout
    from core.settings import Settings
    from core.tenants import Tenants
    from privacy.keyvault import KeyVault
    from tracking.lake import count_events, write_events
    from tracking.policies import ClientPolicies, build_edge
    from xmo.simulator.traffic import simulate
    from xmo.simulator.world import build_world

    settings = Settings(home=home)
    layout = StorageLayout.from_settings(settings).ensure()
    tenants = Tenants.from_settings(settings)
    try:
        tenants.get_client(client_id)
    except NotFound:
        tenants.create_client("Bench Shop", [DOMAIN], client_id=client_id, timezone=TIMEZONE)
    shutil.rmtree(layout.client_events_dir(client_id), ignore_errors=True)  # a run cut short leaves a partial lake
    edge = build_edge(settings, ClientPolicies(tenants), KeyVault.from_settings(settings))

    started = time.perf_counter()
    calibration = simulate(build_world(seed, DAYS, CALIBRATION_VISITORS_PER_DAY), client_id, DOMAIN)
    stored_per_session = edge.process(calibration.hits).accepted / (DAYS * CALIBRATION_VISITORS_PER_DAY)
    visitors_per_day = max(1, round(events / DAYS / stored_per_session))
    del calibration
    calibrate_s = time.perf_counter() - started

    t0 = time.perf_counter()
    traffic = simulate(build_world(seed, DAYS, visitors_per_day), client_id, DOMAIN)
    simulate_s = time.perf_counter() - t0
    frames_s = edge_s = write_s = 0.0
    received = stored = 0
    for number, first in enumerate(range(0, traffic.n_hits, CHUNK_HITS)):
        t0 = time.perf_counter()
        frame = traffic.hit_frame(first, first + CHUNK_HITS)
        t1 = time.perf_counter()
        result = edge.process(frame)
        t2 = time.perf_counter()
        write_events(layout, result.events, f"part-bench-{number:06d}")
        t3 = time.perf_counter()
        frames_s, edge_s, write_s = frames_s + t1 - t0, edge_s + t2 - t1, write_s + t3 - t2
        received += result.received
        stored += result.accepted
    sessions = len(traffic.sessions)
    del traffic
    files = sorted(layout.client_events_dir(client_id).glob("date=*/*.parquet"))
    info = {
        "client_id": client_id,
        "events_target": events,
        "seed": seed,
        "days": DAYS,
        "visitors_per_day": visitors_per_day,
        "stored_per_session_calibrated": round(stored_per_session, 4),
        "sessions_simulated": sessions,
        "hits_simulated": received,
        "lake_events": count_events(layout, client_id),
        "lake_files": len(files),
        "lake_mib": round(sum(f.stat().st_size for f in files) / 2**20, 1),
        "generation_s": round(time.perf_counter() - started, 2),
        "generation_calibrate_s": round(calibrate_s, 2),
        "generation_simulate_s": round(simulate_s, 2),
        "generation_frames_s": round(frames_s, 2),
        "generation_edge_s": round(edge_s, 2),
        "generation_write_s": round(write_s, 2),
    }
    marker_path(home, client_id).write_text(json.dumps(info, indent=2))
    return info


def existing_lake(home: Path, client_id: str) -> dict[str, Any] | None:
    """The marker of a complete lake for this client whose files are all still there, else None."""
    from core.layout import StorageLayout
    from core.settings import Settings
    from tracking.lake import count_events

    marker = marker_path(home, client_id)
    if not marker.is_file():
        return None
    info: dict[str, Any] = json.loads(marker.read_text())
    layout = StorageLayout.from_settings(Settings(home=home))
    return info if count_events(layout, client_id) == info.get("lake_events") else None


# one engine in a fresh process ------------------------------------------------------------------------------
def child(engine: str, home: Path, client_id: str, profile: bool) -> None:
    """Run ``build_dataset`` once and print one line of JSON with its figures (the parent reads the last line)."""
    from core.settings import Settings
    from features.dataset import build_dataset

    settings = Settings(home=home)
    profiler = None
    if profile:
        import cProfile

        profiler = cProfile.Profile()
    try:
        started = time.perf_counter()
        if profiler is not None:
            profiler.enable()
        manifest = build_dataset(settings, client_id, engine=engine)  # type: ignore[arg-type]
        if profiler is not None:
            profiler.disable()
        seconds = time.perf_counter() - started
    except MemoryError:
        print(json.dumps({"error": "out of memory (MemoryError)"}), flush=True)
        sys.exit(3)
    if profiler is not None:
        import io
        import pstats

        text = io.StringIO()
        stats = pstats.Stats(profiler, stream=text)
        stats.sort_stats("cumulative").print_stats(30)
        stats.sort_stats("tottime").print_stats(20)
        print(f"--- cProfile of build_dataset, engine {engine} ---\n{text.getvalue()}", flush=True)
    print(
        json.dumps(
            {
                "seconds": seconds,
                "rows": sum(manifest.row_counts.values()),
                "row_counts": manifest.row_counts,
                "events_read": manifest.input_quality["events_read"],
                "events_used": manifest.input_quality["events_used"],
                "dataset_id": manifest.dataset_id,
                "self_peak_bytes": high_water_mark("self"),
            }
        ),
        flush=True,
    )


def run_engine(
    engine: str, home: Path, client_id: str, timeout_s: float, memory_cap: int, profile: bool
) -> dict[str, Any]:
    """``build_dataset`` with ``engine`` in a fresh process, watched for time and memory."""
    command = [sys.executable, str(Path(__file__).resolve()), "--child-engine", engine]
    command += ["--home", str(home), "--child-client", client_id] + (["--profile"] * profile)
    run = run_watched(
        command, env=_child_env(home), timeout_s=timeout_s, memory_cap_bytes=memory_cap, sample_s=SAMPLE_S
    )
    figures: dict[str, Any] = {
        "engine": engine,
        "status": child_status(run),
        "tree_peak_bytes": run.tree_peak_bytes,
        "summed_process_peaks_bytes": sum(run.process_peaks.values()),
        "processes": run.processes,
        "process_wall_s": run.wall_s,
    }
    result = run.result
    if run.stdout:
        figures["profile"] = "\n".join(run.stdout[:-1]) if result else "\n".join(run.stdout)
    if figures["status"] == "ok":
        figures.update(result)
        figures["peak_bytes"] = max(run.tree_peak_bytes, int(result["self_peak_bytes"]))
    return figures


def _child_env(home: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["XMO_HOME"] = str(home)
    return env


def remove_dataset(home: Path, client_id: str, dataset_id: str) -> None:
    from core.layout import StorageLayout
    from core.settings import Settings

    folder = StorageLayout.from_settings(Settings(home=home)).client_datasets_dir(client_id)
    shutil.rmtree(folder / dataset_id, ignore_errors=True)


# report ---------------------------------------------------------------------------------------------------
def _verdict(met: bool | None) -> str:
    return "not measured" if met is None else ("met" if met else "MISSED")


def report(lake: dict[str, Any], reused: bool, runs: list[dict[str, Any]], args: argparse.Namespace) -> None:
    events = int(lake["lake_events"])
    by_engine = {r["engine"]: r for r in runs}
    pandas = by_engine.get("pandas")
    pandas_s = pandas["seconds"] if pandas and pandas["status"] == "ok" else None
    pandas_floor = args.timeout if pandas and pandas["status"].startswith("timed out") else None

    def speedup(run: dict[str, Any]) -> tuple[float | None, bool]:
        """Pandas seconds / this engine's seconds, and whether it is only a lower bound (pandas timed out)."""
        if run["status"] != "ok":
            return None, False
        if pandas_s is not None:
            return pandas_s / run["seconds"], False
        if pandas_floor is not None:
            return pandas_floor / run["seconds"], True
        return None, False

    figures: dict[str, Any] = {
        "benchmark": "features",
        "events_target": args.events,
        "lake_events": events,
        "lake_files": lake["lake_files"],
        "lake_mib": lake["lake_mib"],
        "days": lake["days"],
        "visitors_per_day": lake["visitors_per_day"],
        "sessions_simulated": lake["sessions_simulated"],
        "seed": lake["seed"],
        "timezone": TIMEZONE,
        "lake_reused": reused,
        **{k: v for k, v in lake.items() if k.startswith("generation_")},
    }
    print(
        f"features benchmark — {os.cpu_count()} CPUs ({cpu_model()}), "
        f"Python {platform.python_version()}, load average {args.load_start} at the start"
    )
    made = "reused (made" if reused else "made"
    print(
        f"lake: {events:,} events ({lake['lake_files']:,} Parquet files, {lake['lake_mib']:,.0f} MiB) of "
        f"{lake['sessions_simulated']:,} simulated sessions over {lake['days']} days "
        f"(≈{lake['visitors_per_day']:,}/day, "
        f"seed {lake['seed']}, {TIMEZONE}); {made} in {lake['generation_s']:.1f} s: simulate "
        f"{lake['generation_simulate_s']:.1f}, hit frames {lake['generation_frames_s']:.1f}, edge "
        f"{lake['generation_edge_s']:.1f}, lake write {lake['generation_write_s']:.1f}{')' if reused else ''}"
    )
    print(
        f"{'engine':<22}{'seconds':>10}{'events/s':>13}{'peak GB':>10}{'procs':>7}{'vs pandas':>12}{'rows':>12}"
        "   status"
    )
    for run in runs:
        engine = run["engine"]
        label = {"dask": "dask (LocalCluster ×2)", "pandas": "pandas (reference)"}.get(engine, engine)
        peak_gb = run.get("peak_bytes", run["tree_peak_bytes"]) / GB
        ratio, floor = speedup(run)
        figures[f"{engine}_status"] = run["status"]
        figures[f"{engine}_peak_gb"] = round(peak_gb, 3)
        figures[f"{engine}_tree_peak_gb"] = round(run["tree_peak_bytes"] / GB, 3)
        figures[f"{engine}_summed_process_peaks_gb"] = round(run["summed_process_peaks_bytes"] / GB, 3)
        figures[f"{engine}_processes"] = run["processes"]
        if run["status"] == "ok":
            figures[f"{engine}_s"] = round(run["seconds"], 2)
            figures[f"{engine}_events_per_s"] = round(events / run["seconds"])
            figures[f"{engine}_self_peak_gb"] = round(run["self_peak_bytes"] / GB, 3)
            figures[f"{engine}_rows"] = run["rows"]
            figures[f"{engine}_events_used"] = run["events_used"]
            figures[f"{engine}_startup_s"] = round(run["process_wall_s"] - run["seconds"], 2)
            seconds, rate = f"{run['seconds']:.1f}", f"{events / run['seconds']:,.0f}"
            rows = f"{run['rows']:,}"
        else:
            figures[f"{engine}_s"] = None
            seconds = f">{run['process_wall_s']:.0f}" if run["status"].startswith("timed out") else "—"
            rate, rows = "—", "—"
        if ratio is not None:
            figures[f"{engine}_speedup_vs_pandas"] = round(ratio, 2)
            figures[f"{engine}_speedup_is_lower_bound"] = floor
        shown = "—" if ratio is None else f"{'≥' if floor else ''}{ratio:.1f}×"
        print(
            f"{label:<22}{seconds:>10}{rate:>13}{peak_gb:>10.2f}{run['processes']:>7}{shown:>12}{rows:>12}   "
            f"{run['status']}"
        )
    ok_rows = {r["rows"] for r in runs if r["status"] == "ok"}
    figures["rows_match"] = len(ok_rows) <= 1

    duck = by_engine.get("duckdb")
    duck_s: float | None = duck["seconds"] if duck is not None and duck["status"] == "ok" else None
    duck_ratio, duck_floor = speedup(duck) if duck is not None else (None, False)
    # an engine that did not finish misses its targets; one that was not run leaves them unmeasured
    met_time = None if duck is None else duck_s is not None and duck_s <= TARGET_DUCKDB_S
    met_speedup = None if duck_ratio is None else duck_ratio >= TARGET_SPEEDUP
    if duck is not None and duck_s is None:
        met_speedup = False
    met_peak = None if duck is None else duck_s is not None and figures["duckdb_peak_gb"] <= TARGET_PEAK_GB
    print("targets (2 cores, 10M events):")
    shown_s = "—" if duck_s is None else f"{duck_s:.1f} s"
    print(f"  duckdb ≤ {TARGET_DUCKDB_S:.0f} s{'':14}{shown_s:>12}   {_verdict(met_time)}")
    shown_r = "—" if duck_ratio is None else f"{'≥' if duck_floor else ''}{duck_ratio:.1f}×"
    print(f"  pandas / duckdb ≥ {TARGET_SPEEDUP:.0f}×{'':7}{shown_r:>12}   {_verdict(met_speedup)}")
    shown_p = "—" if duck is None else f"{figures['duckdb_peak_gb']:.2f} GB"
    print(f"  duckdb peak ≤ {TARGET_PEAK_GB:.0f} GB{'':10}{shown_p:>12}   {_verdict(met_peak)}")
    if args.events != DEFAULT_EVENTS:
        print(f"  (the targets are for {DEFAULT_EVENTS:,} events; this run had {events:,})")
    if not figures["rows_match"]:
        print(f"  WARNING: the engines wrote different numbers of rows: {sorted(ok_rows)}")
    figures.update(
        {
            # met is None where the engine was not run (unmeasured); the targets are for target_events
            "targets": {
                "duckdb_s": {"value": duck_s, "target": TARGET_DUCKDB_S, "met": met_time},
                "speedup_vs_pandas": {"value": duck_ratio, "target": TARGET_SPEEDUP, "met": met_speedup},
                "duckdb_peak_gb": {
                    "value": figures.get("duckdb_peak_gb"),
                    "target": TARGET_PEAK_GB,
                    "met": met_peak,
                },
            },
            "target_events": DEFAULT_EVENTS,
            "timeout_s": args.timeout,
            "memory_cap_gb": round(args.memory_cap_gb, 1),
            "cpus": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
            "cpu": cpu_model(),
            "load_avg_start": args.load_start,
            "load_avg_end": [round(x, 2) for x in os.getloadavg()],
            "python": platform.python_version(),
            **_versions(),
        }
    )
    print(json.dumps(figures))


def _versions() -> dict[str, str]:
    from importlib import metadata

    found: dict[str, str] = {}
    for package in ("duckdb", "dask", "pandas", "pyarrow"):
        try:
            found[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            found[package] = "missing"
    return found


def main() -> None:
    import psutil

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=DEFAULT_EVENTS, help="events in the lake (about)")
    parser.add_argument("--home", type=Path, help="XMO_HOME to make the lake in and reuse it from (kept)")
    parser.add_argument("--engines", default=",".join(DEFAULT_ENGINES), help="comma-separated, run in this order")
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT_S, help="seconds per engine")
    parser.add_argument(
        "--memory-cap-gb",
        type=float,
        default=psutil.virtual_memory().available * 0.8 / GB,
        help="stop an engine whose process tree holds more (default: 80%% of the memory available at the start)",
    )
    parser.add_argument("--profile", action="store_true", help="cProfile build_dataset in each engine's process")
    parser.add_argument("--child-engine", help=argparse.SUPPRESS)
    parser.add_argument("--child-client", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child_engine:
        child(args.child_engine, args.home, args.child_client, args.profile)
        return
    engines = [e.strip() for e in args.engines.split(",") if e.strip()]
    unknown = sorted(set(engines) - set(DEFAULT_ENGINES))
    if unknown or not engines:
        parser.error(f"unknown engines {unknown}: use some of {','.join(DEFAULT_ENGINES)}")
    if args.events < 1000:
        parser.error("--events must be at least 1000")
    args.load_start = [round(x, 2) for x in os.getloadavg()]

    temporary = args.home is None
    home: Path = Path(tempfile.mkdtemp(prefix="xmo-bench-features-")) if temporary else args.home.resolve()
    home.mkdir(parents=True, exist_ok=True)
    os.environ["XMO_HOME"] = str(home)
    client_id = bench_client_id(args.events, args.seed)
    try:
        lake = None if temporary else existing_lake(home, client_id)
        reused = lake is not None
        if lake is None:
            print(f"making a lake of about {args.events:,} events in {home} …", flush=True)
            lake = generate_lake(home, client_id, args.events, args.seed)
            print(f"lake made in {lake['generation_s']:.1f} s: {lake['lake_events']:,} events", flush=True)
        else:
            print(f"reusing the lake of {lake['lake_events']:,} events in {home}", flush=True)
        runs = []
        for engine in engines:
            print(f"running build_dataset with {engine} (load average {os.getloadavg()[0]:.2f}) …", flush=True)
            run = run_engine(engine, home, client_id, args.timeout, int(args.memory_cap_gb * GB), args.profile)
            if run.get("dataset_id"):
                remove_dataset(home, client_id, run["dataset_id"])
            if run.get("profile"):
                print(run["profile"], flush=True)
            runs.append(run)
        report(lake, reused, runs, args)
    finally:
        if temporary:
            shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    main()
