"""Compaction: events/s and peak memory of `xmo compact` on spools shaped like live traffic, at two sizes.

Each spool holds many small batches, as a server's group commits write them under paced load (2 events each by
default: at half the maximum rate most commits carry one to three hits).
`xmo compact` runs in its own process; its peak RSS is sampled. The peer, in its own process too, is the floor of
the same job: pyarrow writing the same events, already in one in-memory table, to a dataset partitioned by client
and day (no spool to read, no duplicates to look for, no crash safety). Memory must not grow with the backlog.

Targets (issue 14): peak RSS <= 600 MB at every size, and the spool files back under 20 MB once compacted.

    .venv/bin/python benchmarks/bench_compaction.py [--sizes 100000 400000] [--batch 7]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
from machine import cpu_model, load_avg
from targets import at_most, holds, target_lines
from watched import run_watched

from core.layout import StorageLayout
from tracking.edge import Edge, EdgeConfig, EdgePolicy, event_table, raw_frame
from tracking.lake import count_events
from tracking.spool import Spool, encode_rows

TARGET_PEAK_RSS_MB = 600
TARGET_SPOOL_AFTER_MB = 20
USER_AGENT = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36"
START = datetime(2026, 11, 19, 12, tzinfo=UTC)
PEER = """
import sys, pyarrow.compute as pc, pyarrow.dataset as ds, pyarrow.ipc as ipc
table = ipc.open_file(sys.argv[1]).read_all()
table = table.append_column("date", pc.strftime(table["ts"], format="%Y-%m-%d"))
ds.write_dataset(table, sys.argv[2], format="parquet", partitioning=["client_id", "date"],
                 partitioning_flavor="hive", existing_data_behavior="overwrite_or_ignore")
"""


def template_rows(n: int) -> dict[str, list[Any]]:
    """``n`` privacy-safe events through the edge, as the group commit gets them: two clients, a few days."""
    edge = Edge(EdgeConfig(), EdgePolicy, lambda c: b"k" * 32, clock=lambda: START + timedelta(days=3))
    hits = [
        {
            "client_id": ("acme", "beta")[i % 2],
            "event_type": "pageview",
            "visitor_id": f"{i % 5000:032x}",
            "url": f"https://shop.example.com/p/{i % 300}?utm_source=news&utm_campaign=c{i % 7}",
            "user_agent": USER_AGENT,
            "ip": f"10.1.{i % 250}.3",
            "ts": START + timedelta(seconds=i * 2),
        }
        for i in range(n)
    ]
    return edge.process(raw_frame(hits)).rows


def build_spool(home: Path, events: int, batch: int, template: dict[str, list[Any]]) -> pa.Table:
    """A spool of ``events`` in group commits of ``batch`` with ids of their own, encoded as the server encodes
    them; returns all the events too."""
    layout = StorageLayout(home).ensure()
    spool = Spool(layout.spool_dir / "spool-bench-1.db")
    size = len(template["event_id"])
    tables, rows = [], []
    for number in range(events // batch):
        start = (number * batch) % (size - batch)
        part = {name: values[start : start + batch] for name, values in template.items()}
        part["event_id"] = [f"b{number}-{j}" for j in range(batch)]
        tables.append(event_table(part))
        rows.extend(encode_rows(part))
        if len(rows) >= 5000:
            spool.write(rows)
            rows = []
    spool.write(rows)
    spool.close()
    return pa.concat_tables(tables).combine_chunks()


def spool_mb(home: Path) -> float:
    return sum(p.stat().st_size for p in (home / "spool").glob("*") if p.is_file()) / 2**20


def run_measured(argv: list[str], env: dict[str, str]) -> dict[str, float]:
    """Wall time and peak RSS (sampled every 20 ms) of a command."""
    run = run_watched(argv, env=env, sample_s=0.02)
    if run.returncode:
        sys.exit(f"{argv[:4]} failed: {chr(10).join(run.stderr)[-2000:]}")
    return {"seconds": run.wall_s, "peak_rss_mb": run.tree_peak_bytes / 2**20}


def measure(size: int, batch: int, template: pa.Table) -> dict[str, Any]:
    home = Path(tempfile.mkdtemp(prefix="xmo-bench-compaction-"))
    try:
        events = build_spool(home, size, batch, template)
        before = spool_mb(home)
        table_file = home / "events.arrow"
        with pa.ipc.new_file(table_file, events.schema) as writer:
            writer.write_table(events)
        peer = run_measured([sys.executable, "-c", PEER, str(table_file), str(home / "peer")], dict(os.environ))
        xmo = run_measured([sys.executable, "-m", "xmo", "compact", "--json"], {**os.environ, "XMO_HOME": str(home)})
        layout = StorageLayout(home)
        stored = count_events(layout, "acme") + count_events(layout, "beta")
        return {
            "events": events.num_rows,
            "batches": events.num_rows // batch,
            "spool_mb_before": round(before, 1),
            "spool_mb_after": round(spool_mb(home), 2),
            "stored": stored,
            "xmo_seconds": round(xmo["seconds"], 2),
            "xmo_events_per_s": round(events.num_rows / xmo["seconds"]),
            "xmo_peak_rss_mb": round(xmo["peak_rss_mb"]),
            "peer_seconds": round(peer["seconds"], 2),
            "peer_events_per_s": round(events.num_rows / peer["seconds"]),
            "peer_peak_rss_mb": round(peer["peak_rss_mb"]),
        }
    finally:
        shutil.rmtree(home, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 400_000])
    parser.add_argument("--batch", type=int, default=2, help="Events per spooled batch (a group commit).")
    args = parser.parse_args()
    template = template_rows(20_000)
    rows = [measure(size, args.batch, template) for size in args.sizes]

    print(f"compaction benchmark — {os.cpu_count()} CPUs ({cpu_model()}), load {load_avg()}, {args.batch} per batch")
    print(
        f"{'events':>9}{'spool MB':>10}{'after':>7}  {'xmo compact':>24}  {'peer: pyarrow write_dataset':>30}"
        f"\n{'':>26}  {'events/s':>10}{'peak RSS':>14}  {'events/s':>14}{'peak RSS':>16}"
    )
    for r in rows:
        print(
            f"{r['events']:>9,}{r['spool_mb_before']:>10.1f}{r['spool_mb_after']:>7.2f}  {r['xmo_events_per_s']:>10,}"
            f"{r['xmo_peak_rss_mb']:>11,} MB  {r['peer_events_per_s']:>14,}{r['peer_peak_rss_mb']:>13,} MB"
        )
    complete = all(r["stored"] == r["events"] for r in rows)
    worst_rss = max(r["xmo_peak_rss_mb"] for r in rows)
    worst_after = max(r["spool_mb_after"] for r in rows)
    targets = {
        "every_event_stored": holds(complete),
        "peak_rss_mb": at_most(worst_rss, TARGET_PEAK_RSS_MB),
        "spool_after_mb": at_most(worst_after, TARGET_SPOOL_AFTER_MB),
    }
    print(*target_lines(targets), sep="\n")
    print(
        json.dumps(
            {
                "benchmark": "compaction",
                "cpus": os.cpu_count(),
                "load_avg": load_avg(),
                "events_per_batch": args.batch,
                "runs": rows,
                "all_stored": complete,
                "targets": targets,
            }
        )
    )


if __name__ == "__main__":
    main()
