"""``xmo retention apply``: a dry run that counts, a run that deletes and audits, one client, one-line errors."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from sqlalchemy import update

from core import audit
from core.database import get_engine
from core.layout import StorageLayout
from core.schema import clients
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
def lake(xmo_home: Path, settings: Settings, capsys: pytest.CaptureFixture[str]) -> StorageLayout:
    """acme and other with three days of April 2026; acme's retention then cut so that all of it expires."""
    for name in ("Acme", "Other"):
        code, _, err = run(capsys, "client", "create", name, "--domain", f"{name.lower()}.example")
        assert code == 0, err
        run_simulation(settings, name.lower(), days=3, visitors_per_day=20, seed=4, start=date(2026, 4, 6))
    compact_all(settings)
    days = (datetime.now(UTC).date() - date(2026, 4, 9)).days  # the newest partition is dated 2026-04-08
    with get_engine(settings).begin() as connection:
        connection.execute(update(clients).where(clients.c.id == "acme").values(retention_days=days))
    return StorageLayout.from_settings(settings)


def test_dry_run_then_apply(lake: StorageLayout, settings: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    acme, other = count_events(lake, "acme"), count_events(lake, "other")
    code, out, err = run(capsys, "retention", "apply", "--dry-run", "--json")
    assert code == 0, err
    report = json.loads(out)
    assert report["dry_run"] is True and report["total"] == acme > 0
    assert {c["client_id"]: c["deleted"] for c in report["clients"]} == {"acme": {"lake": acme}, "other": {"lake": 0}}
    assert count_events(lake, "acme") == acme  # nothing deleted

    code, out, err = run(capsys, "retention", "apply")
    assert code == 0, err
    assert f"deleted {acme:,} item(s) past retention for 2 client(s)" in out and "acme" in out
    assert (count_events(lake, "acme"), count_events(lake, "other")) == (0, other)
    (entry,) = [e for e in audit.entries(get_engine(settings)) if e.action == "retention.apply"]
    assert (entry.actor, entry.client_id, entry.details["deleted"]) == (audit.CLI_ACTOR, "acme", {"lake": acme})

    code, out, _ = run(capsys, "retention", "apply", "--client", "other", "--json")
    assert code == 0 and [c["client_id"] for c in json.loads(out)["clients"]] == ["other"]


def test_errors_are_one_line(lake: StorageLayout, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "retention", "apply", "--client", "nobody")
    assert code == 1 and err.strip() == "xmo: unknown client 'nobody' (see `xmo client list`)"
    code, _, err = run(capsys, "retention", "apply", "--client", "Bad Id")
    assert code == 1 and len(err.strip().splitlines()) == 1
    code, _, err = run(capsys, "retention", "apply", "--everything")
    assert code == 2 and "--everything" in err
