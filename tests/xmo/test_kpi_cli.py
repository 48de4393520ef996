"""``xmo kpi import`` and ``xmo kpi show``: summaries, warnings, one-line errors, and nothing stored on error."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from core.layout import StorageLayout
from core.settings import Settings
from tracking.kpi import read_kpi
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
    path = tmp_path / "kpi.csv"
    path.write_text("date,revenue,conversions\n2026-01-01,1000,10\n2026-01-03,1500,\n")
    code, out, err = run(capsys, "kpi", "import", client, str(path))
    assert code == 0, err
    assert out.strip() == (
        "stored 2 KPI rows (revenue, conversions) from 2026-01-01 to 2026-01-03: 2 new dates, 0 updated"
    )
    assert "1 empty cell(s)" in err and "1 day(s) between 2026-01-01 and 2026-01-03" in err
    code, out, err = run(capsys, "kpi", "import", client, str(path), "--json")
    assert code == 0 and json.loads(out)["updated"] == 2
    code, out, _ = run(capsys, "kpi", "show", client, "--json")
    columns = {c["column"]: c for c in json.loads(out)["columns"]}
    assert columns["revenue"]["total"] == 2500.0 and columns["conversions"]["days"] == 1
    code, out, _ = run(capsys, "kpi", "show", client)
    assert code == 0 and "revenue" in out and "2,500.00" in out


def test_errors_are_one_line_and_store_nothing(
    client: str, settings: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "kpi.csv"
    path.write_text("date,revenue\n2026-01-01,10\n2026-01-01,11\n")
    code, out, err = run(capsys, "kpi", "import", client, str(path))
    assert code == 1 and out == ""
    assert err == "xmo: rows 1 and 2 repeat the date 2026-01-01: one row per date\n"
    assert read_kpi(StorageLayout.from_settings(settings), client).empty
    code, out, _ = run(capsys, "kpi", "show", client)
    assert code == 0 and out.strip() == "no KPIs stored for acme; import some with `xmo kpi import acme FILE`"


def test_delete_asks_for_yes_counts_and_deletes(
    client: str, settings: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "kpi.csv"
    path.write_text("date,revenue\n2026-01-01,100\n2026-01-02,200\n2026-01-03,300\n")
    assert run(capsys, "kpi", "import", client, str(path))[0] == 0
    layout = StorageLayout.from_settings(settings)
    code, out, err = run(capsys, "kpi", "delete", client, "--since", "2026-01-02")
    refusal = (
        "xmo: deleting 2 KPI row(s) of acme from 2026-01-02 to 2026-01-03 cannot be undone; "
        "add --yes to confirm (or --dry-run to only count)\n"
    )
    assert code == 1 and out == "" and err == refusal
    code, out, _ = run(capsys, "kpi", "delete", client, "--since", "2026-01-02", "--dry-run", "--json")
    preview = json.loads(out)
    assert code == 0 and (preview["rows"], preview["dry_run"]) == (2, True) and len(read_kpi(layout, client)) == 3
    code, out, _ = run(capsys, "kpi", "delete", client, "--since", "2026-01-02", "--until", "2026-01-02", "--yes")
    assert code == 0
    assert out.strip() == "deleted 1 KPI row(s) of acme from 2026-01-02 to 2026-01-02; 2 date(s) stay stored"
    assert len(read_kpi(layout, client)) == 2
    for args, message in [
        ((), "xmo: say which KPI dates to delete"),
        (("--all", "--since", "2026-01-01"), "xmo: say which KPI dates to delete"),
        (("--since", "2026-01-03", "--until", "2026-01-01"), "xmo: since (2026-01-03) is after until (2026-01-01)"),
        (("--until", "2025-12-31", "--yes"), "xmo: client 'acme' has no stored KPI row until 2025-12-31"),
    ]:
        code, _, err = run(capsys, "kpi", "delete", client, *args)
        assert code == 1 and err.startswith(message) and len(err.splitlines()) == 1, (args, err)
    assert len(read_kpi(layout, client)) == 2


def test_kpi_import_maps_a_report_date_and_named_columns(
    client: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    export = tmp_path / "ga4.csv"
    export.write_text("Date,Umsatz\n20260105,10\n20260106,12\n")
    code, out, err = run(capsys, "kpi", "import", client, str(export), "--map", "Umsatz=revenue", "--json")
    assert code == 0, err
    assert json.loads(out)["mapped_columns"] == {"umsatz": "revenue"} and json.loads(out)["columns"] == ["revenue"]
    assert "mapped columns: umsatz → revenue" in err
    code, _, err = run(capsys, "kpi", "import", client, str(export), "--map", "Umsatz")
    assert code == 1 and "give FILE_COLUMN=COLUMN" in err and err.count("\n") == 1


def test_a_weekly_file_says_its_grain_and_a_given_cadence_is_checked(
    client: str, settings: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    weekly = Path(__file__).parents[1] / "tracking" / "data" / "weekly_kpi.csv"
    code, out, err = run(capsys, "kpi", "import", client, str(weekly), "--json")
    assert code == 0, err
    assert err == "weekly rows (weeks starting Monday), 2022-01-03 to 2025-12-22, 208 weeks\n"
    assert json.loads(out)["grain"]["cadence"] == "week" and json.loads(out)["grain"]["periods"] == 208
    code, out, _ = run(capsys, "kpi", "show", client, "--json")
    assert json.loads(out)["cadence"] == "week"
    path = tmp_path / "kpi.csv"
    path.write_text("date,revenue\n2022-01-03,1\n2022-01-10,2\n2022-01-12,3\n")
    code, out, err = run(capsys, "kpi", "import", client, str(path), "--cadence", "week")
    assert code == 1 and out == ""
    assert (
        err.startswith("xmo: the cadence is week, but the dates fall on more than one weekday") and "2022-01-12" in err
    )
    code, _, err = run(capsys, "kpi", "import", client, str(path), "--cadence", "month")
    assert (code, err) == (1, "xmo: unknown cadence 'month': use day or week\n")
    assert len(read_kpi(StorageLayout.from_settings(settings), client)) == 208
