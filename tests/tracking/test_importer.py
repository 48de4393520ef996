"""Importing historical events: CSV and Parquet through the edge, stable keyed ids, retention, chunks, errors."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from core import audit
from core.database import get_engine
from core.layout import StorageLayout
from core.settings import Settings
from core.tenants import Tenants
from privacy.keyvault import KeyVault
from tracking.compactor import compact_all
from tracking.importer import ImportFormat, import_events, parse_timestamps
from tracking.lake import event_files
from tracking.spool import Spool
from xmo.cli import main

NOW = datetime.now(UTC).replace(microsecond=0)
COOKIE = "a1b2c3d4e5f60718293a4b5c6d7e8f90"
RAW_IP = "203.0.113.129"
RAW_UA = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36"
)


@pytest.fixture
def client_id(settings: Settings) -> str:
    Tenants.from_settings(settings).create_client("Old Shop", ["shop.example.com"], retention_days=90)
    return "old-shop"


def rows(n: int = 3, **overrides: Any) -> list[dict[str, Any]]:
    base = [
        {
            "timestamp": (NOW - timedelta(days=10, minutes=i)).isoformat(),
            "session_id": f"ga-session-{i % 2}",
            "event_type": "pageview",
            "url": f"https://shop.example.com/p/{i}?utm_source=mail&utm_campaign=spring&token=Secret{i}",
            "ip": RAW_IP,
            "user_agent": RAW_UA,
        }
        for i in range(n)
    ]
    return [{**row, **overrides} for row in base]


def write_csv(path: Path, records: list[dict[str, Any]]) -> Path:
    pd.DataFrame(records).to_csv(path, index=False)
    return path


def spooled(settings: Settings) -> pd.DataFrame:
    spool = Spool.from_settings(settings)
    try:
        batches = spool.read(0, 2**62)
    finally:
        spool.close()
    return pa.concat_tables([b.events for b in batches]).to_pandas() if batches else pd.DataFrame()


def expected_visitor(settings: Settings, client_id: str, kind: str, value: str) -> str:
    key = KeyVault.from_settings(settings).derived_key(client_id, "import")
    return hmac.new(key, f"{kind}:{value}".encode(), hashlib.sha256).hexdigest()[:32]


def test_csv_rows_pass_the_edge_and_reach_the_lake(settings: Settings, client_id: str, tmp_path: Path) -> None:
    records = [
        *rows(2),
        {**rows(1)[0], "session_id": None, "visitor_id": COOKIE, "event_type": "Goal", "value": "12.5"},
    ]
    report = import_events(settings, client_id, write_csv(tmp_path / "old.csv", records))
    assert (report.rows_read, report.accepted, dict(report.dropped), report.complete) == (3, 3, {}, True)
    assert report.format is ImportFormat.CSV
    compact_all(settings)
    files = event_files(StorageLayout.from_settings(settings), client_id)
    lake = pa.concat_tables([pq.read_table(f) for f in files]).to_pandas()
    assert set(lake["source"]) == {"import"}
    assert set(lake["ip_prefix"]) == {"203.0.113.0"} and set(lake["browser_family"]) == {"Chrome"}
    assert set(lake["utm_campaign"]) == {"spring"} and not lake["url"].str.contains("token").any()
    goal = lake[lake["event_type"] == "goal"].iloc[0]
    assert goal["visitor_id"] == COOKIE and goal["value"] == 12.5, "cookie-format visitor ids are kept"
    sessions = set(lake.loc[lake["event_type"] == "pageview", "visitor_id"])
    assert sessions == {expected_visitor(settings, client_id, "session", "ga-session-0")} | {
        expected_visitor(settings, client_id, "session", "ga-session-1")
    }
    stored = b"".join(p.read_bytes() for p in settings.home.rglob("*") if p.is_file())
    for raw in (RAW_IP, RAW_UA, "ga-session-0", "Secret0"):
        assert raw.encode() not in stored


def test_parquet_with_typed_columns(settings: Settings, client_id: str, tmp_path: Path) -> None:
    when = [NOW - timedelta(days=1, hours=i) for i in range(4)]
    table = pa.table(
        {
            "Timestamp": pa.array(when, pa.timestamp("ms", tz="UTC")),
            "visitor_id": pa.array([12345, 12345, 777, None], pa.int64()),  # another tracker's numeric ids
            "session_id": ["s-a", "s-a", "s-b", "s-c"],
            "event_type": ["pageview", "click", "goal", "pageview"],
            "value": pa.array([None, None, 30.0, None], pa.float64()),
            "event_id": ["e-1", "e 2 has spaces", None, None],
            "unrelated": [1, 2, 3, 4],
        }
    )
    path = tmp_path / "export.pq"
    pq.write_table(table, path)
    report = import_events(settings, client_id, path)
    assert report.format is ImportFormat.PARQUET and report.accepted == 4 and report.ignored_columns == ("unrelated",)
    events = spooled(settings).set_index("event_id")
    assert "e-1" in events.index, "valid event ids are kept"
    assert "e 2 has spaces" not in events.index and all(i.startswith("imp-") for i in events.index if i != "e-1")
    assert events.loc["e-1", "visitor_id"] == expected_visitor(settings, client_id, "visitor", "12345")
    assert events["visitor_id"].iloc[3] == expected_visitor(settings, client_id, "session", "s-c")
    assert sorted(events["ts"]) == sorted(pd.Timestamp(t) for t in when)


def test_ids_are_stable_across_imports(settings: Settings, client_id: str, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "a.csv", rows(4))
    first = import_events(settings, client_id, path)
    second = import_events(settings, client_id, path)
    assert first.accepted == second.accepted == 4
    events = spooled(settings)
    assert len(events) == 8 and events["event_id"].nunique() == 4, "a re-import repeats the same event ids"
    other = write_csv(tmp_path / "b.csv", rows(1, timestamp=(NOW - timedelta(days=2)).isoformat()))
    import_events(settings, client_id, other)
    visitors = spooled(settings)["visitor_id"]
    assert visitors.nunique() == 2, "session ids map to the same visitor ids in every file"
    key_of_other_client = Tenants.from_settings(settings).create_client("New", ["new.example.com"]).client.id
    import_events(settings, key_of_other_client, other)
    latest = spooled(settings)
    assert latest.loc[latest["client_id"] == key_of_other_client, "visitor_id"].iloc[0] not in set(visitors)


def test_retention_and_bad_rows_are_counted_not_fatal(settings: Settings, client_id: str, tmp_path: Path) -> None:
    records = [
        *rows(2),
        rows(1, timestamp=(NOW - timedelta(days=91)).isoformat())[0],  # retention is 90 days
        rows(1, timestamp=str(int((NOW - timedelta(days=400)).timestamp() * 1000)))[0],
        rows(1, timestamp="not a time")[0],
        rows(1, timestamp=(NOW + timedelta(days=3)).isoformat())[0],
        rows(1, event_type="purchase")[0],
        rows(1, value="twelve")[0],
        rows(1, session_id=None)[0],
        rows(1, user_agent="Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)")[0],
    ]
    report = import_events(settings, client_id, write_csv(tmp_path / "mixed.csv", records))
    assert report.rows_read == 10 and report.accepted == 2
    assert dict(report.dropped) == {
        "too_old": 2,
        "invalid_timestamp": 2,
        "invalid_event_type": 1,
        "invalid_value": 1,
        "invalid_visitor_id": 1,
        "bot": 1,
    }
    assert len(spooled(settings)) == 2
    entry = audit.entries(get_engine(settings), client_id)[-1]
    assert entry.action == "events.import" and entry.details["rows_read"] == 10
    assert entry.details["dropped"]["too_old"] == 2 and entry.details["accepted"] == 2
    assert "mixed.csv" not in json.dumps(entry.details) and RAW_IP not in json.dumps(entry.details)


def test_big_files_are_read_in_chunks(settings: Settings, client_id: str, tmp_path: Path) -> None:
    records = rows(2_500)
    csv_path = write_csv(tmp_path / "big.csv", records)
    parquet_path = tmp_path / "big.parquet"
    pq.write_table(pa.Table.from_pylist(records), parquet_path, row_group_size=2_500)
    seen: list[int] = []
    csv_report = import_events(
        settings, client_id, csv_path, chunk_rows=1_000, on_chunk=lambda r: seen.append(r.rows_read)
    )
    assert seen == [1_000, 2_000, 2_500] and csv_report.chunks == 3 and csv_report.accepted == 2_500
    parquet_report = import_events(settings, client_id, parquet_path, chunk_rows=1_000)
    assert parquet_report.chunks == 3 and parquet_report.accepted == 2_500, "row groups larger than a chunk are split"
    events = spooled(settings)
    assert len(events) == 5_000 and events["event_id"].nunique() == 2_500


def test_parse_timestamps_reads_the_usual_exports() -> None:
    text = pd.Series(["2026-01-31T12:00:00+01:00", "2026-01-31 11:00:00", "1769857200000", "", None, "soon"])
    parsed = parse_timestamps(text)
    expected = pd.Timestamp("2026-01-31T11:00:00Z")
    assert list(parsed[:3]) == [expected] * 3, "a zone is honoured, a missing zone means UTC, digits are epoch ms"
    assert parsed[3:].isna().all()
    assert parse_timestamps(pd.Series([1769857200000]))[0] == expected


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["events", "old-shop", "{dir}/missing.csv"], "no such file"),
        (["events", "old-shop", "{dir}/events.json"], "cannot tell the format"),
        (["events", "old-shop", "{dir}/events.csv", "--format", "xlsx"], "unknown format 'xlsx'"),
        (["events", "nobody", "{dir}/events.csv"], "unknown client 'nobody'"),
        (["events", "old-shop", "{dir}/columns.csv"], "missing required columns: timestamp, visitor_id or session_id"),
        (["events", "old-shop", "{dir}/empty.csv"], "empty"),
        (["events", "old-shop", "{dir}/events.csv", "--format", "parquet"], "cannot read events.csv as parquet"),
    ],
)
def test_bad_input_is_one_line_on_stderr(
    settings: Settings,
    client_id: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    args: list[str],
    message: str,
) -> None:
    write_csv(tmp_path / "events.csv", rows(1))
    (tmp_path / "events.json").write_text("[]")
    (tmp_path / "empty.csv").write_text("")
    write_csv(tmp_path / "columns.csv", [{"when": "2026-01-01", "event_type": "pageview"}])
    code = main(["import", *(a.format(dir=tmp_path) for a in args)])
    captured = capsys.readouterr()
    assert code != 0 and captured.out == ""
    assert captured.err.startswith("xmo: ") and captured.err.count("\n") == 1, captured.err
    assert message in captured.err
    assert Spool.from_settings(settings).pending_events() == 0


def test_cli_prints_a_summary(
    settings: Settings, client_id: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_csv(tmp_path / "events.csv", [*rows(2), rows(1, event_type="nope")[0]])
    assert main(["import", "events", client_id, str(path), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["rows_read"] == 3 and summary["accepted"] == 2 and summary["dropped"] == {"invalid_event_type": 1}
    assert main(["import", "events", client_id, str(path)]) == 0
    assert capsys.readouterr().out.strip() == "read 3 rows: accepted 2, dropped 1 (invalid_event_type 1)"


def test_history_past_the_retention_says_so_and_fails(
    settings: Settings, client_id: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Everything older than the client's 90 days: no 'the events are in the spool', a way out, a non-zero exit."""
    old = [{**row, "timestamp": (NOW - timedelta(days=400)).isoformat()} for row in rows(3)]
    path = write_csv(tmp_path / "old.csv", old)
    assert main(["import", "events", client_id, str(path)]) == 1
    captured = capsys.readouterr()
    assert captured.out.strip() == "read 3 rows: accepted 0, dropped 3 (too_old 3)"
    assert "retention of 90 days" in captured.err and "xmo client update old-shop --retention-days" in captured.err
    assert "no event was accepted" in captured.err and "in the spool" not in captured.err
    assert main(["import", "events", client_id, str(write_csv(tmp_path / "mixed.csv", [*old, *rows(1)]))]) == 0
    assert "retention of 90 days" in capsys.readouterr().err, "a partial import explains its drops too"
