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


def test_an_out_of_range_file_is_one_line_and_stores_nothing(
    client: str, settings: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "spend.csv"
    path.write_text("date,campaign,spend,impressions\n2026-01-01,brand,1,1180591620717411303424\n")
    code, _, err = run(capsys, "spend", "import", client, str(path))
    assert code == 1 and err == (
        "xmo: row 1, column impressions: '1180591620717411303424' is too large (at most 9,007,199,254,740,991)\n"
    )
    path.write_text("date,campaign,spend\n2026-01-01,brand,1\n0001-01-01,b,1\n")
    code, _, err = run(capsys, "spend", "import", client, str(path))
    assert code == 1 and err.startswith("xmo: row 2, column date: 0001-01-01 is outside 2000-01-01 to ")
    assert read_spend(StorageLayout.from_settings(settings), client).empty


def test_delete_asks_for_yes_counts_and_deletes(
    client: str, settings: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "spend.csv"
    path.write_text(
        "date,campaign,channel,spend\n2026-01-01,brand,search,100\n2026-01-02,brand,search,50\n2026-01-01,,TV,900\n"
    )
    assert run(capsys, "spend", "import", client, str(path))[0] == 0
    layout = StorageLayout.from_settings(settings)
    code, out, err = run(capsys, "spend", "delete", client, "--campaign", "brand")
    refusal = (
        "xmo: deleting 2 spend row(s) of acme from 2026-01-01 to 2026-01-02 (brand), total 150.00 cannot be "
        "undone; add --yes to confirm (or --dry-run to only count)\n"
    )
    assert code == 1 and out == "" and err == refusal
    code, out, _ = run(capsys, "spend", "delete", client, "--campaign", "brand", "--until", "2026-01-01", "--dry-run")
    assert code == 0 and out.startswith("would delete 1 spend row(s) of acme from 2026-01-01 to 2026-01-01 (brand)")
    assert len(read_spend(layout, client)) == 3
    code, out, _ = run(capsys, "spend", "delete", client, "--channel", "tv", "--yes", "--json")
    assert code == 0 and json.loads(out)["campaigns"] == ["tv"] and len(read_spend(layout, client)) == 2
    for args, message in [
        ((), "xmo: say which spend to delete"),
        (("--since", "2026-02-01", "--until", "2026-01-01"), "xmo: since (2026-02-01) is after until (2026-01-01)"),
        (("--since", "2026-03-01", "--yes"), "xmo: no stored spend row of client 'acme' matches: since 2026-03-01"),
        (("--since", "01/03/2026"), "xmo: Invalid value for '--since'"),
    ]:
        code, _, err = run(capsys, "spend", "delete", client, *args)
        assert code != 0 and err.startswith(message) and len(err.splitlines()) == 1, (args, err)
    code, out, _ = run(capsys, "spend", "delete", client, "--all", "--yes")
    assert code == 0 and out.startswith("deleted 2 spend row(s)") and read_spend(layout, client).empty


def test_an_ad_platform_export_is_mapped_and_says_so(
    client: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    export = tmp_path / "meta.csv"
    export.write_text("Reporting starts,Reporting ends,Campaign name,Kosten (EUR)\n2026-01-05,2026-01-05,spring,12.5\n")
    code, out, err = run(capsys, "spend", "import", client, str(export), "--map", "Kosten (EUR)=spend")
    assert code == 0 and "total 12.50" in out, err
    mapped = [line for line in err.splitlines() if line.startswith("mapped columns:")]
    assert mapped == ["mapped columns: reporting starts → date, campaign name → campaign_id, kosten (eur) → spend"]
    code, out, err = run(capsys, "spend", "import", client, str(export), "--map", "Costs=spend")
    assert code == 1 and out == "" and err.count("\n") == 1
    assert err.startswith("xmo: --map 'Costs': the file has no such column (it has: reporting starts, ")


def test_a_weekly_file_says_its_grain_and_irregular_dates_are_one_line(
    client: str, settings: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    weekly = Path(__file__).parents[1] / "tracking" / "data" / "weekly_spend.csv"
    code, out, err = run(capsys, "spend", "import", client, str(weekly))
    assert code == 0, err
    assert err == "weekly rows (weeks starting Monday), 2022-01-03 to 2025-12-22, 208 weeks\n"
    assert "stored 1,040 spend rows for 0 campaign(s) and 5 channel(s)" in out
    code, out, _ = run(capsys, "spend", "show", client, "--json")
    tv = next(c for c in json.loads(out)["campaigns"] if c["campaign_id"] == "tv")
    assert (tv["cadence"], tv["days"]) == ("week", 208 * 7)
    path = tmp_path / "monthly.csv"
    path.write_text("date,channel,spend\n2026-01-01,tv,1\n2026-02-01,tv,1\n2026-03-01,tv,1\n2026-04-01,tv,1\n")
    code, out, err = run(capsys, "spend", "import", client, str(path))
    assert code == 1 and out == "" and err.count("\n") == 1
    assert err.startswith("xmo: the dates are neither daily nor weekly") and "2026-02-01" in err
    assert len(read_spend(StorageLayout.from_settings(settings), client)) == 1040


def test_a_wide_media_mix_file_is_imported_as_spend_and_as_kpis(
    client: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], settings: Settings
) -> None:
    """The layout Robyn, PyMC-Marketing and Meridian take: the spend columns with --wide, the rest with --ignore."""
    path = tmp_path / "mmm.csv"
    path.write_text("date_week,y,x1,x2,event_1\n2024-01-01,4000,0.3,0,0\n2024-01-08,4100,0.1,0.9,1\n")
    code, out, err = run(capsys, "spend", "import", client, str(path), "--wide", "x1,x2")
    assert code == 0, err
    assert "stored 4 spend rows for 0 campaign(s) and 2 channel(s)" in out
    assert "ignored unknown column(s): y, event_1" in err
    stored = read_spend(StorageLayout.from_settings(settings), client)
    assert sorted(stored["channel"].unique()) == ["x1", "x2"] and stored["spend"].sum() == pytest.approx(1.3)
    code, out, err = run(capsys, "kpi", "import", client, str(path), "--ignore", "x1,x2")
    assert code == 0, err
    assert "stored 2 KPI rows (y, event_1)" in out
    code, out, err = run(capsys, "kpi", "import", client, str(path), "--ignore", "x3")
    assert (code, out) == (1, "") and err.startswith("xmo: --ignore: no column 'x3' in the file;")
    assert len(err.strip().splitlines()) == 1
