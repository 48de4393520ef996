"""``xmo spend import`` and ``xmo spend show``: summaries, warnings, one-line errors, and nothing stored on error."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from core.layout import StorageLayout
from core.settings import Settings
from tracking.spend import read_spend
from xmo.cli import main


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture
def client(xmo_home: Path, capsys: pytest.CaptureFixture[str]) -> str:
    code, _, err = run(capsys, "client", "create", "Acme", "--domain", "acme.example.com")
    assert code == 0, err
    return "acme"


def test_import_and_show(client: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "spend.csv"
    path.write_text(
        "date,campaign,channel,spend,clicks,currency\n2026-01-01,brand,search,100,7,EUR\n2026-01-01,,TV,900,,EUR\n"
    )
    code, out, err = run(capsys, "spend", "import", client, str(path))
    assert code == 0, err
    assert out.strip() == (
        "stored 2 spend rows for 1 campaign(s) and 1 channel(s) without campaigns (1 row(s)) from 2026-01-01 to "
        "2026-01-01 (2 new, 0 replaced), total 1,000.00"
    )
    assert "campaign(s) cannot be checked (brand)" in err and "ignored unknown column(s): currency" in err
    code, out, err = run(capsys, "spend", "import", client, str(path), "--json")
    assert code == 0, err
    report = json.loads(out)
    assert (report["inserted"], report["replaced"], report["unknown_campaigns"]) == (0, 2, ["brand"])
    code, out, _ = run(capsys, "spend", "show", client, "--json")
    shown = json.loads(out)
    assert [(c["campaign_id"], c["level"], c["spend"]) for c in shown["campaigns"]] == [
        ("brand", "campaign", 100.0),
        ("tv", "channel", 900.0),
    ]
    code, out, _ = run(capsys, "spend", "show", client)
    assert code == 0 and "brand" in out and "900.00" in out


def test_errors_are_one_line_and_store_nothing(
    client: str, settings: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "spend.csv"
    path.write_text("date,campaign,spend\n2026-01-01,brand,100\n2026-01-02,brand,-3\n")
    code, out, err = run(capsys, "spend", "import", client, str(path))
    assert code == 1 and out == ""
    assert err == "xmo: row 2, column spend: '-3' is negative\n"
    assert read_spend(StorageLayout.from_settings(settings), client).empty
    code, _, err = run(capsys, "spend", "import", client, str(path), "--format", "xlsx")
    assert code == 1 and err == "xmo: unknown format 'xlsx': use csv or parquet (--format)\n"
    code, _, err = run(capsys, "spend", "import", "nobody", str(path))
    assert code == 1 and "nobody" in err and len(err.splitlines()) == 1
    code, out, _ = run(capsys, "spend", "show", client)
    assert code == 0 and out.strip() == "no spend stored for acme: `xmo spend import acme FILE`"
