"""``xmo export``: the client's data into a new folder (JSON or a summary line), third-party exports only with
a recipient and a legal basis, and one-line refusals that write nothing."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from core import audit
from core.database import get_engine
from core.settings import Settings
from tracking.compactor import compact_all
from xmo.cli import main
from xmo.simulator.cli import run_simulation


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture
def client(xmo_home: Path, settings: Settings, capsys: pytest.CaptureFixture[str]) -> str:
    for name in ("Acme", "Other"):
        code, _, err = run(capsys, "client", "create", name, "--domain", f"{name.lower()}.example")
        assert code == 0, err
        run_simulation(settings, name.lower(), days=2, visitors_per_day=30, seed=len(name), start=date(2026, 4, 6))
    compact_all(settings)
    return "acme"


def exports(settings: Settings) -> list[audit.AuditEntry]:
    return [e for e in audit.entries(get_engine(settings)) if e.action.startswith("export.")]


def test_export_own_data(client: str, settings: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out_dir = tmp_path / "acme"
    code, out, err = run(
        capsys, "export", client, "--out", str(out_dir), "--what", "events", "--what", "sessions", "--json"
    )
    assert code == 0, err
    report = json.loads(out)
    assert report["client_id"] == "acme" and report["recipient"] is None
    assert list(report["parts"]) == ["events", "sessions"] and report["parts"]["events"]["records"] > 0
    events = pq.read_table(out_dir / "events")
    assert events.num_rows == report["parts"]["events"]["records"]
    assert set(events.column("client_id").to_pylist()) == {"acme"}
    assert sorted(p.name for p in out_dir.iterdir()) == ["README.md", "events", "manifest.json", "sessions"]

    code, out, err = run(capsys, "export", client, "--out", str(tmp_path / "all"))
    assert code == 0, err
    assert out.startswith("exported ") and "events" in out and "0 model versions" in out
    assert [(e.action, e.actor) for e in exports(settings)] == [("export.client", audit.CLI_ACTOR)] * 2


def test_third_party_export(
    client: str, settings: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out_dir = tmp_path / "partner"
    code, _, err = run(capsys, "export", client, "--out", str(out_dir), "--recipient", "Partner GmbH")
    assert code == 1 and "legal basis" in err and len(err.strip().splitlines()) == 1
    code, _, err = run(capsys, "export", client, "--out", str(out_dir), "--legal-basis", "NDA")
    assert code == 1 and "recipient" in err
    code, _, err = run(capsys, "export", client, "--out", str(out_dir), "--recipient", "", "--legal-basis", "NDA")
    assert code == 1 and "must not be empty" in err
    assert not out_dir.exists() and exports(settings) == []

    code, out, err = run(
        capsys, "export", client, "--out", str(out_dir), "--what", "events",
        "--recipient", "Partner GmbH", "--legal-basis", "NDA of 2026-03-01",
    )  # fmt: skip
    assert code == 0, err
    assert "disclosed to Partner GmbH (legal basis: NDA of 2026-03-01)" in out
    (entry,) = exports(settings)
    assert entry.action == "export.third_party"
    assert (entry.details["recipient"], entry.details["legal_basis"]) == ("Partner GmbH", "NDA of 2026-03-01")


def test_refusals_write_nothing(
    client: str, settings: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "notes.txt").write_text("keep")
    code, _, err = run(capsys, "export", client, "--out", str(busy))
    assert code == 1 and "not an empty folder" in err
    assert [p.name for p in busy.iterdir()] == ["notes.txt"]
    code, _, err = run(capsys, "export", "nobody", "--out", str(tmp_path / "x"))
    assert code == 1 and "unknown client 'nobody'" in err
    code, _, err = run(capsys, "export", client, "--out", str(tmp_path / "x"), "--what", "everything")
    assert code == 1 and "choose from events, sessions, datasets, models" in err
    code, _, err = run(capsys, "export", client)
    assert code == 2 and "--out" in err
    assert not (tmp_path / "x").exists() and exports(settings) == []
