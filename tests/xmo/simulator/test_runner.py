"""Simulated hits through the real edge and spool: privacy signals and bots dropped with their reasons, and no
raw IP, user agent, email or member id in the spool or the lake."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote_plus

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from core.database import dispose_engines
from core.layout import StorageLayout
from core.settings import Settings, get_settings
from core.tenants import Tenants
from tracking.collector import Collector
from tracking.compactor import compact_all
from tracking.lake import event_files
from tracking.spool import Spool
from xmo.simulator.runner import SimulationReport, ingest_traffic, simulate_into_spool
from xmo.simulator.traffic import Traffic, simulate
from xmo.simulator.world import World

CLIENT = "sim-shop"
# A full address has a host octet without a leading zero; truncated prefixes end in ".0", which binary data
# after them (Arrow buffers, Parquet statistics) may follow with digits, so "(?!0\b)" would give false alarms.
IPV4 = re.compile(r"(?:192\.0\.2|198\.51\.100|203\.0\.113)\.[1-9]")
IPV6 = re.compile(r"2001:db8:[0-9a-f]{1,4}:[0-9a-f]{1,4}::[0-9a-f]{1,4}")
EMAIL = re.compile(r"@example\.com|runner\.[0-9a-f]{12}")
MEMBER = re.compile(r"\bM\d{7}\b")
AGENT = re.compile(r"Mozilla/5\.0|python-requests|curl/|Googlebot|HeadlessChrome")


@dataclass
class Ingested:
    settings: Settings
    traffic: Traffic
    report: SimulationReport
    spool_events: pd.DataFrame  # everything the spool held before compaction
    spool_bytes: bytes
    lake_events: pd.DataFrame


def _text(frame: pd.DataFrame) -> str:
    """Every string value of a frame, one per line, percent-decoded (so an escaped ``%40`` is an ``@`` again)."""
    columns = [frame[c].dropna().astype(str) for c in frame.columns if frame[c].dtype in (object, "str", "string")]
    return unquote_plus("\n".join("\n".join(c) for c in columns))


@pytest.fixture(scope="module")
def ingested(tmp_path_factory: pytest.TempPathFactory, small_world: World) -> Iterator[Ingested]:
    home = tmp_path_factory.mktemp("sim") / "xmo"
    patch = pytest.MonkeyPatch()
    patch.setenv("XMO_HOME", str(home))
    get_settings.cache_clear()
    try:
        settings = get_settings()
        tenants = Tenants.from_settings(settings)
        tenants.create_client("Sim Shop", ["shop.example.com"], client_id=CLIENT, collect_pii=True)
        collector = Collector.from_settings(settings, tenants)
        traffic = simulate(small_world, client_id=CLIENT, domain="shop.example.com")
        report = ingest_traffic(traffic, collector, chunk_hits=1500)
        collector.spool.close()
        spools = Spool.all_in(settings)
        spooled = pa.concat_tables([b.events for s in spools for b in s.read(0, 2**62)]).to_pandas()
        spool_bytes = b"".join(p.read_bytes() for p in StorageLayout(home).spool_dir.iterdir() if p.is_file())
        for spool in spools:
            spool.close()
        compact_all(settings)
        lake = pa.concat_tables([pq.read_table(p) for p in event_files(StorageLayout(home), CLIENT)]).to_pandas()
        yield Ingested(settings, traffic, report, spooled, spool_bytes, lake)
    finally:
        patch.undo()
        get_settings.cache_clear()
        dispose_engines()


def test_counts_add_up_and_drops_have_their_reasons(ingested: Ingested) -> None:
    report, traffic = ingested.report, ingested.traffic
    hits = traffic.hits
    visitors = traffic.visitors
    v = traffic.hit_arrays.visitor
    optout = visitors.optout[v]
    gpc = visitors.gpc[v] & ~optout
    bot = visitors.bot[v] & ~optout & ~gpc
    assert report.received == len(hits) and report.sessions == len(traffic.sessions)
    assert report.dropped == {"bot": int(bot.sum()), "gpc": int(gpc.sum()), "opt_out": int(optout.sum())}
    assert report.accepted == len(hits) - sum(report.dropped.values()) == len(ingested.lake_events)
    assert report.chunks == -(-len(hits) // 1500)
    kept = set(hits.loc[~(optout | gpc | bot), "event_id"])
    assert set(ingested.lake_events["event_id"]) == kept, "the simulator's own event ids reach the lake"


def test_nothing_personal_in_the_spool_or_the_lake(ingested: Ingested) -> None:
    hits = ingested.traffic.hits
    planted = {
        "ip": set(hits["ip"]),
        "user_agent": set(hits["user_agent"]),
        "email": set(hits["email"].dropna()),
        "member_id": set(hits["member_id"].dropna()),
    }
    assert all(planted.values())
    for name, frame in (("spool", ingested.spool_events), ("lake", ingested.lake_events)):
        assert not {"ip", "user_agent", "email", "member_id"} & set(frame.columns)
        text = _text(frame)
        for pattern in (IPV4, IPV6, EMAIL, MEMBER, AGENT):
            found = pattern.search(text)
            assert found is None, f"{found.group(0) if found else ''!r} in the {name}"
        values = set(frame.select_dtypes(exclude=["number", "bool", "datetime", "datetimetz"]).stack().astype(str))
        for kind, raw in planted.items():
            assert not values & raw, f"a raw {kind} in the {name}"
    on_disk = ingested.spool_bytes + b"".join(p.read_bytes() for p in ingested.settings.home.rglob("*.parquet"))
    for pattern in (IPV4, EMAIL, AGENT):
        assert not re.search(pattern.pattern.encode(), on_disk)


def test_what_the_edge_kept_is_useful(ingested: Ingested) -> None:
    lake, traffic = ingested.lake_events, ingested.traffic
    assert set(lake["device_class"]) == {"desktop", "mobile", "tablet"}
    assert lake["ip_prefix"].str.fullmatch(r"(192\.0\.2|198\.51\.100|203\.0\.113)\.0|2001:db8:[0-9a-f]{1,4}::").all()
    consenting_email = lake["email_pseudonym"].notna()
    assert consenting_email.any() and lake.loc[consenting_email, "email_pseudonym"].str.fullmatch(r"[0-9a-f]{64}").all()
    assert lake.loc[consenting_email, "consent"].all()
    landings = lake[lake["campaign_id"].notna()]
    truth = traffic.sessions.set_index("visitor_id")
    assert set(landings["campaign_id"]) <= set(truth["campaign_id"].dropna().astype(str))
    assert set(landings["creative_id"]) <= set(truth["creative_id"].dropna().astype(str))
    assert not lake["url"].str.contains("email=", regex=False).any()


def test_simulate_into_spool_reports_generation_and_ingest(
    tmp_path: Path, small_world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XMO_HOME", str(tmp_path / "home"))
    get_settings.cache_clear()
    try:
        settings = get_settings()
        tenants = Tenants.from_settings(settings)
        tenants.create_client("Other", ["other.example.com"], client_id="other")
        collector = Collector.from_settings(settings, tenants)
        report = simulate_into_spool(small_world, collector, "other", chunk_hits=100_000)
        assert report.client_id == "other" and report.chunks == 1
        assert collector.spool.pending_events() == report.accepted > 0
        assert report.generate_s > 0 and report.ingest_s > 0 and report.wall_s >= report.ingest_s
        assert set(report.to_dict()) >= {"received", "accepted", "dropped", "wall_s"}
        collector.spool.close()
    finally:
        get_settings.cache_clear()
        dispose_engines()
