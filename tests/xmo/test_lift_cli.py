"""``xmo lift import|list|delete``: summaries, ``--format table|csv|json``, one-line errors that store nothing, and
deletions that need ``--yes``."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from core.layout import StorageLayout
from core.settings import Settings
from tracking.lift import LIST_COLUMNS, read_lift
from xmo.cli import main

SPEND = "date,channel,spend\n" + "".join(f"2026-01-{d:02d},tv,100\n2026-01-{d:02d},search,20\n" for d in range(1, 32))
KPI = "date,revenue\n" + "".join(f"2026-01-{d:02d},1000\n" for d in range(1, 32))
TESTS = (
    "test,channel,start,end,kpi,incremental_kpi,standard_error,method,note\n"
    "tv-jan,tv,2026-01-05,2026-01-18,revenue,2800,350,geo,two regions dark\n"
    ",search,2026-01-10,2026-01-12,revenue,,,,\n"
)


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture
def client(xmo_home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> str:
    code, _, err = run(capsys, "client", "create", "Acme", "--domain", "acme.example.com")
    assert code == 0, err
    for kind, text in (("spend", SPEND), ("kpi", KPI)):
        path = tmp_path / f"{kind}.csv"
        path.write_text(text)
        code, _, err = run(capsys, kind, "import", "acme", str(path))
        assert code == 0, err
    return "acme"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "lift.csv"
    path.write_text(text)
    return path


def test_import_then_list_in_every_format(client: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = TESTS.replace("revenue,,,,", "revenue,30,12,,")
    code, out, err = run(capsys, "lift", "import", client, str(write(tmp_path, text)))
    assert code == 0, err
    assert out.strip() == ("stored 2 lift test(s) of search, tv (2 new, 0 replaced): tv-jan, search-20260110-20260112")
    assert "mapped columns: test → test_id, start → start_date, end → end_date" in err
    code, out, _ = run(capsys, "lift", "list", client, "--format", "json")
    tests = json.loads(out)["tests"]
    assert [(t["test_id"], t["roi"], t["spend"]) for t in tests] == [
        ("search-20260110-20260112", 0.5, 60.0),
        ("tv-jan", 2.0, 1400.0),
    ]
    code, out, _ = run(capsys, "lift", "list", client, "--format", "csv", "--channel", "TV")
    rows = list(csv.DictReader(io.StringIO(out)))
    assert list(rows[0]) == list(LIST_COLUMNS) and [(r["test_id"], r["note"]) for r in rows] == [
        ("tv-jan", "two regions dark")
    ]
    code, out, _ = run(capsys, "lift", "list", client)
    assert code == 0 and "tv-jan" in out and "2,800.00" in out and "2.000" in out and "0.250" in out


def test_errors_are_one_line_and_store_nothing(
    client: str, settings: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(capsys, "lift", "import", client, str(write(tmp_path, TESTS)))
    assert code == 1
    assert err.strip() == ("xmo: row 2: give the result as incremental_kpi or roi, not neither")
    late = "channel,start,end,kpi,roi,se\ntv,2026-01-20,2026-02-10,revenue,1,0.5\n"
    code, _, err = run(capsys, "lift", "import", client, str(write(tmp_path, late)))
    assert code == 1 and err.strip() == (
        "xmo: row 1 (tv-20260120-20260210): the test window 2026-01-20 to 2026-02-10 is outside the stored spend "
        "of tv (2026-01-01 to 2026-01-31)"
    )
    code, _, err = run(capsys, "lift", "import", "nobody", str(write(tmp_path, late)))
    assert code == 1 and "nobody" in err and len(err.strip().splitlines()) == 1
    assert read_lift(StorageLayout.from_settings(settings), client).empty
    code, out, _ = run(capsys, "lift", "list", client)
    assert code == 0 and "no lift tests stored for acme" in out


def test_delete_needs_yes(client: str, settings: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = "test_id,channel,start,end,kpi,roi,se\na,tv,2026-01-01,2026-01-07,revenue,1,0.5\n"
    assert run(capsys, "lift", "import", client, str(write(tmp_path, text)))[0] == 0
    code, _, err = run(capsys, "lift", "delete", client, "--since", "2026-01-07")
    assert code == 1 and "deleting 1 lift test(s) of acme (a) cannot be undone; add --yes" in err
    code, out, _ = run(capsys, "lift", "delete", client, "--test-id", "a", "--dry-run", "--json")
    assert json.loads(out) == {"client_id": "acme", "dry_run": True, "tests": 1, "test_ids": ["a"], "remaining": 0}
    code, out, _ = run(capsys, "lift", "delete", client, "--all", "--yes")
    assert code == 0 and out.strip() == "deleted 1 lift test(s) of acme (a); 0 test(s) stay stored"
    assert read_lift(StorageLayout.from_settings(settings), client).empty


def test_lift_is_in_the_data_in_panel(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "--help")
    assert code == 0
    panel = out[out.index("Data in") : out.index("Models")]
    assert "lift" in panel
