"""``xmo client purge``, ``xmo privacy scan`` and ``xmo audit``: confirmation, certificates, one-line errors."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest

from core.layout import StorageLayout
from core.settings import Settings
from tracking.compactor import compact_all
from tracking.lake import count_events
from xmo.cli import main
from xmo.simulator.cli import run_simulation


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture
def client(settings: Settings, capsys: pytest.CaptureFixture[str]) -> str:
    code, _, err = run(capsys, "client", "create", "Leaving Shop", "--domain", "leaving.example")
    assert code == 0, err
    run_simulation(settings, "leaving-shop", days=2, visitors_per_day=40, seed=1, start=date(2026, 2, 2))
    compact_all(settings)
    return "leaving-shop"


def test_purge_without_yes_is_refused_and_changes_nothing(
    client: str, settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    events = count_events(StorageLayout.from_settings(settings), client)
    code, out, err = run(capsys, "client", "purge", client)
    assert code == 1 and out == ""
    assert err == f"xmo: purging {client!r} destroys all of its data for good; add --yes to confirm\n"
    assert count_events(StorageLayout.from_settings(settings), client) == events > 0
    assert [c["client_id"] for c in json.loads(run(capsys, "client", "list", "--json")[1])] == [client]


def test_purge_prints_a_certificate_and_the_scan_and_audit_agree(
    client: str, settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    events = count_events(StorageLayout.from_settings(settings), client)
    code, out, err = run(capsys, "client", "purge", client, "--yes", "--json")
    assert code == 0, err
    certificate = json.loads(out)
    assert certificate["deleted"]["lake events"] == events and certificate["actor"] == "cli"

    code, out, _ = run(capsys, "privacy", "scan", "--client", client, "--json")
    assert code == 0 and json.loads(out)["results"][0]["clean"] is True
    code, out, _ = run(capsys, "privacy", "scan")
    assert code == 0 and "leaving-shop: clean" in out

    code, out, _ = run(capsys, "audit", "--client", client, "--action", "client.purge", "--json")
    entries = json.loads(out)["entries"]
    assert code == 0 and entries[0]["action"] == "client.purge.started"
    assert entries[-1]["action"] == "client.purge" and entries[-1]["details"] == certificate

    code, out, _ = run(capsys, "client", "purge", client, "--yes")
    assert code == 0 and f"client {client}: already purged" in out and certificate["certificate_id"] in out


def test_scan_reports_a_forgotten_copy_and_exits_1(
    client: str, settings: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    layout = StorageLayout.from_settings(settings)
    backup = settings.home / "backup"
    backup.mkdir()
    first = sorted(layout.client_events_dir(client).rglob("*.parquet"))[0]
    (backup / "copy.parquet").write_bytes(first.read_bytes())
    assert run(capsys, "client", "purge", client, "--yes")[0] == 1, "the copy keeps the purge from certifying"
    code, out, _ = run(capsys, "privacy", "scan", "--client", client)
    assert code == 1 and "backup/copy.parquet" in out
    (backup / "copy.parquet").unlink()
    code, out, err = run(capsys, "client", "purge", client, "--yes")
    assert code == 0 and "resumed and finished" in out, err


def test_errors_are_one_line(settings: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "client", "purge", "nobody", "--yes")
    assert code == 1 and out == "" and err.startswith("xmo: unknown client 'nobody'") and err.count("\n") == 1
    code, _, err = run(capsys, "audit", "--since", "yesterday")
    assert code == 1 and err.startswith("xmo: --since 'yesterday' is not an ISO date") and err.count("\n") == 1
    code, _, err = run(capsys, "privacy", "scan", "--client", "Bad Id")
    assert code == 1 and err.startswith("xmo: invalid client id 'Bad Id'")
