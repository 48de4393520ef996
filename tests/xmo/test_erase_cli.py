"""``xmo erase`` and ``xmo subject-export``: counts per store, exactly one person's data, one-line refusals that
change nothing, and raw identifiers from the command line reach no file under XMO_HOME."""

from __future__ import annotations

import json
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from core import audit
from core.database import get_engine
from core.layout import StorageLayout
from core.settings import Settings
from core.tenants import Tenants
from tracking.collector import Collector
from tracking.compactor import compact_all
from tracking.lake import event_files
from xmo.cli import main

ANN, BOB = "ann0visitor0000000000000000000a", "bob0visitor0000000000000000000b"
EMAIL, MEMBER = "planted.person@example.org", "planted-member-90210"


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _hits(visitor: str, n: int, prefix: str, **extra: Any) -> list[dict[str, Any]]:
    now = datetime.now(UTC)
    return [
        {
            "client_id": "acme",
            "event_type": "pageview",
            "visitor_id": visitor,
            "event_id": f"{prefix}-{i}",
            "ts": now - timedelta(days=1, hours=i),
            "url": f"https://acme.example/p/{i}",
            "consent": True,
            **extra,
        }
        for i in range(n)
    ]


@pytest.fixture
def acme(settings: Settings, capsys: pytest.CaptureFixture[str]) -> Settings:
    """Client acme (collecting pseudonyms) with Ann and Bob in the lake and Ann once in the spool; client zeta."""
    for args in (("Acme", "--id", "acme", "--collect-pii"), ("Zeta", "--id", "zeta")):
        code, _, err = run(capsys, "client", "create", args[0], "--domain", f"{args[2]}.example", *args[1:])
        assert code == 0, err
    collector = Collector.from_settings(settings, Tenants.from_settings(settings))
    collector.ingest(_hits(ANN, 3, "ann") + _hits(BOB, 2, "bob"))
    collector.ingest(_hits(ANN, 2, "ann-id", email=EMAIL, member_id=MEMBER))
    compact_all(settings)
    collector.ingest(_hits(ANN, 1, "ann-late"))
    collector.spool.close()
    return settings


def lake(settings: Settings) -> pa.Table:
    files = event_files(StorageLayout.from_settings(settings), "acme")
    return pa.concat_tables(pq.ParquetFile(f).read() for f in files)


def home_bytes(settings: Settings) -> dict[Path, bytes]:
    return {p: p.read_bytes() for p in sorted(settings.home.rglob("*")) if p.is_file() and "lake" in p.parts}


def test_erase_prints_counts_and_removes_exactly_that_visitor(acme: Settings, capsys: pytest.CaptureFixture) -> None:
    before = lake(acme)
    code, out, err = run(capsys, "erase", "acme", "--visitor", ANN)
    assert code == 0, err
    assert out.splitlines() == [
        "erased the data subject of client acme:",
        "  spooled events                    1",
        "  stale training sets               0",
        "  lake events                       5",
    ]
    after = lake(acme)
    assert set(after["visitor_id"].to_pylist()) == {BOB}
    kept = before.filter(pc.equal(before["visitor_id"], BOB))
    assert after.sort_by("event_id").equals(kept.sort_by("event_id"))
    [entry] = [e for e in audit.entries(get_engine(acme)) if e.action == "subject.erase"]
    assert entry.actor == audit.CLI_ACTOR and entry.details["counts"]["lake events"] == 5

    code, out, err = run(capsys, "erase", "acme", "--visitor", ANN, "--json")
    assert code == 1 and out == "" and err.count("\n") == 1 and "already erased" in err


def test_erase_by_email_and_member_leaves_no_raw_value_under_xmo_home(
    acme: Settings, capsys: pytest.CaptureFixture
) -> None:
    code, out, err = run(capsys, "erase", "acme", "--email", EMAIL.upper(), "--member", MEMBER, "--json")
    assert code == 0, err
    report = json.loads(out)
    assert report["counts"]["lake events"] == 2
    assert report["identifiers"] == {"visitor_ids": 0, "email_pseudonyms": 1, "member_pseudonyms": 1}
    assert EMAIL not in out.lower() + err.lower() and MEMBER not in out + err
    for path in acme.home.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            for planted in (EMAIL.encode(), EMAIL.upper().encode(), MEMBER.encode()):
                assert planted not in data, f"{planted!r} reached {path}"
    assert lake(acme)["email_pseudonym"].null_count == lake(acme).num_rows


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("erase", "acme"), "at least one visitor id"),
        (("erase", "acme", "--email", "  "), "empty e-mail address"),
        (("erase", "acme", "--visitor", "not a cookie id"), "malformed visitor id"),
        (("erase", "nobody", "--visitor", ANN), "unknown client 'nobody'"),
        (("erase", "zeta", "--visitor", ANN), "holds no data of this person"),
        (("erase", "acme", "--visitor", "nobody0visitor000000000000000000"), "holds no data of this person"),
        (("erase", "../etc", "--visitor", ANN), "invalid client id"),
    ],
)
def test_refusals_are_one_line_and_change_nothing(
    acme: Settings, capsys: pytest.CaptureFixture, args: tuple[str, ...], message: str
) -> None:
    before = home_bytes(acme)
    code, out, err = run(capsys, *args)
    assert code == 1 and out == ""
    assert err.startswith("xmo: ") and err.count("\n") == 1 and message in err, err
    assert "not a cookie id" not in err
    assert home_bytes(acme) == before
    assert not [e for e in audit.entries(get_engine(acme)) if e.action.startswith("subject.")]


def test_subject_export_writes_the_persons_records_to_a_private_json_file(
    acme: Settings, capsys: pytest.CaptureFixture, tmp_path: Path
) -> None:
    target = tmp_path / "ann.json"
    code, out, err = run(capsys, "subject-export", "acme", "--visitor", ANN, "--out", str(target))
    assert code == 0, err
    assert "wrote 1 spooled events, 5 lake events" in out
    document = json.loads(target.read_text())
    assert document["client_id"] == "acme" and document["counts"] == {"spooled events": 1, "lake events": 5}
    rows = [row for records in document["records"].values() for row in records]
    assert {r["visitor_id"] for r in rows} == {ANN} and BOB not in target.read_text()
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert [e.action for e in audit.entries(get_engine(acme)) if e.action.startswith("subject.")] == ["subject.export"]

    code, _, err = run(capsys, "subject-export", "acme", "--visitor", ANN, "--out", str(target))
    assert code == 1 and "exists already" in err
    code, _, err = run(capsys, "subject-export", "acme", "--visitor", BOB, "--out", str(tmp_path / "no" / "x.json"))
    assert code == 1 and "does not exist" in err
