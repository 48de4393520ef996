"""Benchmark: the traffic simulator, 1M sessions through generation, the edge and the spool.

    .venv/bin/python benchmarks/bench_simulator.py [--sessions 1000000] [--naive-sessions 20000] [--per-hit 200]

Measures, in one run on a fresh XMO_HOME:
- vectorized: ``simulate`` (sessions + hit arrays), building raw-hit DataFrames, ``Collector.ingest`` (edge steps and
  durable spool append, split into the two) for N sessions in chunks of 500k hits; the target is < 30 s in all;
- peer 1, naive generation: the same kind of sessions and hits made by a per-session Python loop (random module,
  one dict per hit, then ``raw_frame``) on a sample, extrapolated to N; the vectorized generator on the same sample;
- peer 2, per-hit ingestion: ``Collector.ingest`` with one hit per call (what a pixel without group commit does),
  on a sample, extrapolated to the run's hits.
Prints a table, then one line of JSON with every figure.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import random
import resource
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
from machine import cpu_model
from targets import at_most

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core.database import dispose_engines
from core.settings import Settings
from core.tenants import Tenants
from tracking.collector import Collector
from tracking.edge import raw_frame
from xmo.simulator.catalog import (
    CONTENT_PAGES,
    DEVICE_CLASSES,
    FIRST_HOUR,
    GOALS,
    HOUR_WEIGHTS,
    REGIONS,
    USER_AGENTS,
)
from xmo.simulator.runner import ingest_traffic
from xmo.simulator.traffic import simulate
from xmo.simulator.world import World, build_world

TARGET_S = 30.0
DAYS = 30
SEED = 42
CLIENT = "bench-shop"
DOMAIN = "shop.example.com"


def naive_generate(world: World, n_sessions: int, seed: int) -> pd.DataFrame:
    """The same kind of traffic, one session at a time in Python: the peer that vectorization replaces."""
    rng = random.Random(seed)
    sources: list[tuple[Any, str | None, float]] = [
        (c, c.referrer, float(np.mean(c.expected_sessions()))) for c in world.campaigns
    ]
    sources += [(o, o.referrers[0] if o.referrers else None, o.daily_sessions) for o in world.organic]
    weights = [w for _, _, w in sources]
    agents = {d: [(i, a.weight) for i, a in enumerate(USER_AGENTS) if a.device_class == d] for d in DEVICE_CLASSES}
    midnight = datetime.combine(world.start, datetime.min.time(), UTC)
    beh = world.behaviour
    seen: list[dict[str, Any]] = []
    records: list[dict[str, Any]] = []
    for s in range(n_sessions):
        day = s * world.days // n_sessions
        source, referrer, _ = rng.choices(sources, weights)[0]
        creative = (
            rng.choices(source.creatives, [c.weight for c in source.creatives])[0]
            if hasattr(source, "creatives")
            else None
        )
        returning = bool(seen) and rng.random() < source.return_rate
        if returning:
            visitor = seen[rng.randrange(len(seen))]
        else:
            device = rng.choices(range(len(DEVICE_CLASSES)), source.device_mix)[0]
            ua = rng.choices(
                [i for i, _ in agents[DEVICE_CLASSES[device]]], [w for _, w in agents[DEVICE_CLASSES[device]]]
            )[0]
            visitor = {
                "id": f"{rng.getrandbits(128):032x}",
                "device": device,
                "ua": USER_AGENTS[ua].text,
                "ip": f"192.0.2.{rng.randint(1, 254)}",
                "region": rng.choices(REGIONS)[0][0],
                "consent": rng.random() < world.rates.consent,
                "optout": rng.random() < world.rates.optout,
                "gpc": rng.random() < world.rates.gpc,
                "dnt": rng.random() < world.rates.dnt,
            }
            seen.append(visitor)
        pageviews = 1
        while pageviews < beh.max_pageviews and rng.random() < source.engagement / (1 + source.engagement):
            pageviews += 1
        hour = FIRST_HOUR + rng.choices(range(len(HOUR_WEIGHTS)), HOUR_WEIGHTS)[0]
        t = midnight + timedelta(days=day, hours=hour, seconds=rng.random() * 1800)
        effect = creative.effects[visitor["device"]] if creative else 0.0
        logit = (
            beh.base_log_odds
            + source.conversion_effect
            + effect
            + beh.per_log_pageview * math.log(pageviews)
            + beh.returning * returning
        )
        converted = rng.random() < 1 / (1 + math.exp(-logit))
        base = {
            "client_id": CLIENT,
            "visitor_id": visitor["id"],
            "ip": visitor["ip"],
            "user_agent": visitor["ua"],
            "region": visitor["region"],
            "consent": visitor["consent"],
            "optout": visitor["optout"],
            "gpc": visitor["gpc"],
            "dnt": visitor["dnt"],
            "source": "simulator",
        }
        url = f"https://{DOMAIN}/?cid={source.id}&crid={creative.id}" if creative else f"https://{DOMAIN}/"
        ref = referrer
        for _ in range(pageviews):
            records.append(
                {
                    **base,
                    "event_id": f"{rng.getrandbits(128):032x}",
                    "event_type": "pageview",
                    "ts": t,
                    "url": url,
                    "referrer": ref,
                }
            )
            ref, url = url, f"https://{DOMAIN}{rng.choice(CONTENT_PAGES)}"
            t += timedelta(seconds=1 + min(rng.expovariate(1 / beh.mean_gap_s), beh.max_gap_s))
        if converted:
            goal = rng.choices(GOALS, beh.goal_mix)[0]
            records.append(
                {
                    **base,
                    "event_id": f"{rng.getrandbits(128):032x}",
                    "event_type": "goal",
                    "ts": t,
                    "url": f"https://{DOMAIN}/done",
                    "goal": goal,
                    "value": round(rng.lognormvariate(math.log(beh.order_value_median), 0.5), 2)
                    if goal == "purchase"
                    else None,
                }
            )
    return raw_frame(records)


def timed_spool(collector: Collector) -> list[float]:
    """Record the time of each spool append (the rest of ``Collector.ingest`` is the edge)."""
    spent: list[float] = []
    append = collector.spool.append

    def wrapper(*tables: pa.Table) -> int:
        started = time.perf_counter()
        try:
            return append(*tables)
        finally:
            spent.append(time.perf_counter() - started)

    collector.spool.append = wrapper  # type: ignore[method-assign]
    return spent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sessions", type=int, default=1_000_000)
    parser.add_argument("--naive-sessions", type=int, default=20_000)
    parser.add_argument("--per-hit", type=int, default=200)
    args = parser.parse_args()
    home = Path(tempfile.mkdtemp(prefix="xmo-bench-sim-"))
    os.environ["XMO_HOME"] = str(home)
    settings = Settings(home=home)
    tenants = Tenants.from_settings(settings)
    tenants.create_client("Bench Shop", [DOMAIN], client_id=CLIENT, collect_pii=True)
    collector = Collector.from_settings(settings, tenants)
    collector.ingest(simulate(build_world(1, 1, 50), CLIENT, DOMAIN).hit_frame(0, 50))  # warm caches and the key

    start = datetime.now(UTC).date() - timedelta(days=DAYS)
    world = build_world(SEED, DAYS, math.ceil(args.sessions / DAYS), start)
    spool_times = timed_spool(collector)
    t0 = time.perf_counter()
    traffic = simulate(world, CLIENT, DOMAIN)
    generate_s = time.perf_counter() - t0
    report = ingest_traffic(traffic, collector, generate_s=generate_s)
    spool_s = sum(spool_times)
    edge_s = report.ingest_s - spool_s
    sessions, hits = report.sessions, report.received

    # peer 1: per-session Python loop on a sample, and the vectorized generator on the same sample
    sample_world = build_world(SEED, DAYS, max(1, args.naive_sessions // DAYS), start)
    t0 = time.perf_counter()
    naive = naive_generate(sample_world, args.naive_sessions, SEED)
    naive_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    sample = simulate(sample_world, CLIENT, DOMAIN)
    sample_frame = sample.hits
    vector_sample_s = time.perf_counter() - t0
    naive_per_session = naive_s / args.naive_sessions
    naive_extrapolated_s = naive_per_session * sessions

    # peer 2: one hit per ingest call
    single = traffic.hit_frame(0, args.per_hit)
    t0 = time.perf_counter()
    for i in range(len(single)):
        collector.ingest(single.iloc[i : i + 1])
    per_hit_s = (time.perf_counter() - t0) / len(single)
    collector.spool.close()
    dispose_engines()

    total_s = report.wall_s
    figures: dict[str, Any] = {
        "benchmark": "simulator",
        "sessions": sessions,
        "hits": hits,
        "accepted": report.accepted,
        "dropped": report.dropped,
        "chunks": report.chunks,
        "generate_s": round(generate_s, 3),
        "build_frames_s": round(report.build_s, 3),
        "edge_s": round(edge_s, 3),
        "spool_s": round(spool_s, 3),
        "edge_and_spool_s": round(report.ingest_s, 3),
        "total_s": round(total_s, 3),
        "targets": {"total_s": at_most(round(total_s, 3), TARGET_S)},
        "hits_per_s": round(hits / total_s),
        "sessions_per_s": round(sessions / total_s),
        "naive_sample_sessions": args.naive_sessions,
        "naive_sample_hits": len(naive),
        "naive_generate_sample_s": round(naive_s, 3),
        "vectorized_generate_sample_s": round(vector_sample_s, 3),
        "vectorized_sample_hits": len(sample_frame),
        "naive_generate_extrapolated_s": round(naive_extrapolated_s, 1),
        "vectorized_generate_s": round(generate_s + report.build_s, 3),
        "generation_speedup": round(naive_extrapolated_s / (generate_s + report.build_s), 1),
        "per_hit_ingest_sample": len(single),
        "per_hit_ingest_ms": round(per_hit_s * 1000, 2),
        "per_hit_ingest_extrapolated_s": round(per_hit_s * hits, 1),
        "batched_ingest_us_per_hit": round(report.ingest_s / hits * 1e6, 2),
        "ingest_speedup": round(per_hit_s * hits / report.ingest_s, 1),
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "cpus": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "cpu": cpu_model(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "pandas": pd.__version__,
    }
    rows = [
        ("vectorized, this run", "", ""),
        ("  sessions / hits", f"{sessions:,} / {hits:,}", f"accepted {report.accepted:,}, dropped {report.dropped}"),
        ("  generate (sessions + hit arrays)", f"{generate_s:8.2f} s", ""),
        ("  build raw-hit frames", f"{report.build_s:8.2f} s", f"{report.chunks} chunks"),
        ("  edge steps", f"{edge_s:8.2f} s", f"{edge_s / hits * 1e6:.2f} µs/hit"),
        ("  spool append (durable)", f"{spool_s:8.2f} s", ""),
        ("  total", f"{total_s:8.2f} s", f"target < {TARGET_S:.0f} s: {'met' if total_s < TARGET_S else 'MISSED'}"),
        ("peer 1: per-session Python loop", "", ""),
        (f"  naive, {args.naive_sessions:,} sessions", f"{naive_s:8.2f} s", f"{len(naive):,} hits"),
        (f"  vectorized, same {args.naive_sessions:,}", f"{vector_sample_s:8.2f} s", f"{len(sample_frame):,} hits"),
        (
            f"  naive extrapolated to {sessions:,}",
            f"{naive_extrapolated_s:8.1f} s",
            f"vectorized {generate_s + report.build_s:.2f} s: {figures['generation_speedup']}× faster",
        ),
        ("peer 2: one hit per Collector.ingest", "", ""),
        (
            f"  per hit ({len(single)} hits)",
            f"{per_hit_s * 1000:8.2f} ms",
            f"batched {figures['batched_ingest_us_per_hit']} µs",
        ),
        (
            f"  extrapolated to {hits:,} hits",
            f"{per_hit_s * hits:8.0f} s",
            f"batched: {figures['ingest_speedup']}× faster",
        ),
    ]
    print(
        f"xmo simulator benchmark — {figures['cpus']} CPUs ({figures['cpu']}), Python {figures['python']}, "
        f"peak RSS {figures['peak_rss_mib']} MiB"
    )
    for label, value, note in rows:
        print(f"{label:<42} {value:>18}   {note}")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
