"""``xmo recommend budget --mode media-mix`` with the registered model: forward plans, controls files, the ladder."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path

import pandas as pd
import pytest

from core.layout import StorageLayout
from core.settings import Settings, get_settings
from core.tenants import Tenants
from tracking.kpi import import_kpi_file
from tracking.spend import import_spend_file
from training.mmm import fit_mmm
from xmo import console
from xmo.cli import main

HomeAt = Callable[[Path], AbstractContextManager[Settings]]  # the home_at fixture (tests/conftest.py)
DATA = Path(__file__).parents[1] / "tracking" / "data"
WEEKS = pd.date_range("2025-12-29", periods=13, freq="7D")  # the quarter after the fixture pair's last week


@pytest.fixture(scope="module")
def home(home_at: HomeAt, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    path = tmp_path_factory.mktemp("budget-forward") / "xmo-home"
    with home_at(path) as settings:
        Tenants.from_settings(settings).create_client("Shop", ["shop.example"], client_id="shop")
        layout = StorageLayout.from_settings(settings)
        import_kpi_file(layout, "shop", DATA / "weekly_kpi.csv")
        import_spend_file(layout, "shop", DATA / "weekly_spend.csv")
        fit_mmm(settings, "shop", n_draws=5, select_families=False)
        yield path


def run(
    capsys: pytest.CaptureFixture[str], home: Path, monkeypatch: pytest.MonkeyPatch, *args: str
) -> tuple[int, str, str]:
    monkeypatch.setenv("XMO_HOME", str(home))
    monkeypatch.setattr(console.out, "_width", 240)  # wide enough for the forecast's column header
    get_settings.cache_clear()
    code = main(["recommend", "budget", "shop", "--mode", "media-mix", "--period", "quarter", *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def controls_file(path: Path, weeks: pd.DatetimeIndex = WEEKS, events: object = 0, drop: str | None = None) -> Path:
    """A controls file of the fixture's three controls, one row per week."""
    frame = pd.DataFrame(
        {"date": weeks.strftime("%Y-%m-%d"), "competitor_sales_B": 5e6, "events": events, "newsletter": 2e4}
    )
    frame.drop(columns=[drop] if drop else []).to_csv(path, index=False)
    return path


def test_a_quarter_planned_with_the_registered_model_and_a_controls_file(
    home: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    code, out, err = run(capsys, home, monkeypatch)
    assert code == 0, err
    assert "Next quarter from 2025-12-29 at " in out and "controls carried forward from the same weeks" in out
    assert "(media-mix model version 1)" in out and "fitting one" not in err
    path = controls_file(tmp_path / "controls.csv")
    code, out, err = run(capsys, home, monkeypatch, "--controls", str(path), "--json")
    assert code == 0, err
    plan = json.loads(out)
    forecast = plan["forecast"]
    assert plan["model_version"] == "1" and forecast["controls_source"] == "file"
    assert (forecast["start"], forecast["end"], forecast["n_periods"]) == ("2025-12-29", "2026-03-29", 13)
    assert forecast["spend"] == pytest.approx(plan["total"])
    low, high = forecast["interval"]
    assert low < high and len(forecast["per_period"]) == 13
    events = controls_file(tmp_path / "events.csv", events=1)
    code, out, err = run(capsys, home, monkeypatch, "--controls", str(events), "--json")
    assert code == 0, err
    assert json.loads(out)["forecast"]["baseline"] != pytest.approx(forecast["baseline"]), "the file's controls count"


def test_the_ladder_forecasts_each_total(
    home: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    code, out, err = run(capsys, home, monkeypatch, "--start", "2026-04-06", "--ladder", "--json")
    assert code == 0, err
    ladder = json.loads(out)
    assert ladder["forecast"]["start"] == "2026-04-06" and ladder["model_version"] == "1"
    assert all(r["forecast_interval"][0] <= r["forecast_interval"][1] for r in ladder["rows"])
    code, out, err = run(capsys, home, monkeypatch, "--start", "2026-04-06", "--ladder")
    assert code == 0, err
    assert "revenue 2026-04-06 – 2026-07-05" in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--start", "2025-12-01"), "start 2025-12-01 is not after the data"),
        (("--controls", "short"), "no row for the week of 2026-03-23"),
        (("--controls", "text"), "is not a number"),
        (("--controls", "column"), "no column 'newsletter'"),
    ],
)
def test_bad_plans_are_one_line_on_stderr(
    home: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    args: tuple[str, ...],
    message: str,
) -> None:
    path = tmp_path / "controls.csv"
    if args == ("--controls", "short"):
        args = ("--controls", str(controls_file(path, WEEKS[:-1])))
    elif args == ("--controls", "text"):
        args = ("--controls", str(controls_file(path, events=["no", *[0] * 12])))
    elif args == ("--controls", "column"):
        args = ("--controls", str(controls_file(path, drop="newsletter")))
    code, out, err = run(capsys, home, monkeypatch, *args)
    assert code == 1 and out == ""
    assert err.startswith("xmo: ") and err.count("\n") == 1 and message in err
