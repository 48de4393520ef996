"""``xmo mmm`` on the command line, as a user runs it on a weekly KPI and spend file pair: fit, show, predict,
decompose, promote; errors are one line on stderr with a non-zero exit, MLflow's chatter never shows."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from core.settings import get_settings
from xmo.cli import main

DATA = Path(__file__).parents[1] / "tracking" / "data"
FAST = ("--draws", "5", "--no-select")
MLFLOW_CHATTER = ("INFO mlflow", "Successfully registered model", "Created version", "WARNING mlflow", "UserWarning")


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A home with client shop, its weekly KPI and spend imported and one fitted version (the champion)."""
    path = tmp_path_factory.mktemp("mmm-cli") / "xmo-home"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("XMO_HOME", str(path))
        for name in ("XMO_DATABASE_URL", "XMO_MLFLOW_TRACKING_URI", "XMO_MASTER_KEY", "XMO_OPTUNA_STORAGE"):
            patch.delenv(name, raising=False)
        get_settings.cache_clear()
        for args in (
            ["client", "create", "Shop", "--domain", "shop.example", "--id", "shop"],
            ["kpi", "import", "shop", str(DATA / "weekly_kpi.csv")],
            ["spend", "import", "shop", str(DATA / "weekly_spend.csv")],
            ["mmm", "fit", "shop", *FAST],
        ):
            assert main(args) == 0, args
        yield path
        get_settings.cache_clear()


@pytest.fixture
def shop(home: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> str:
    monkeypatch.setenv("XMO_HOME", str(home))
    get_settings.cache_clear()
    capsys.readouterr()  # the module fixture's output
    return "shop"


def test_fit_again_registers_nothing_and_says_so(shop: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "mmm", "fit", shop, *FAST)
    assert code == 0, err
    assert out.startswith("identical to the champion (xmo-mmm-shop version 1: same data and settings)")
    assert not any(line in err for line in MLFLOW_CHATTER), err


def test_show_in_table_and_json(shop: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "mmm", "show", shop)
    assert code == 0, err
    assert out.startswith("xmo-mmm-shop champion: version 1 — revenue on 208 weeks 2022-01-03 to 2025-12-22")
    assert "held out (26 periods)" in out and "champion" in out and "facebook" in out
    code, out, err = run(capsys, "mmm", "show", shop, "--json")
    summary = json.loads(out)
    assert code == 0 and summary["version"] == "1" and summary["versions"][0]["aliases"] == ["champion"]


def test_predict_formats_and_out_file(shop: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "mmm", "predict", shop, "--since", "2025-12-08", "--format", "csv")
    assert code == 0, err
    rows = list(csv.DictReader(io.StringIO(out)))
    assert [r["date"] for r in rows] == ["2025-12-08", "2025-12-15", "2025-12-22"]
    assert {r["split"] for r in rows} == {"holdout"} and float(rows[0]["lower"]) <= float(rows[0]["upper"])
    code, out, err = run(capsys, "mmm", "predict", shop, "--until", "2022-01-17", "--json")
    assert code == 0 and [r["split"] for r in json.loads(out)] == ["fit", "fit", "fit"]
    code, out, err = run(capsys, "mmm", "predict", shop, "--since", "2025-12-22")
    assert code == 0 and "2025-12-22" in out and "holdout" in out
    target = tmp_path / "predictions.csv"
    code, out, err = run(capsys, "mmm", "predict", shop, "--out", str(target))
    assert code == 0 and out == "" and "208 periods written" in err
    assert target.read_text().splitlines()[0] == "date,actual,predicted,lower,upper,split"


def test_decompose_totals_and_per_period(shop: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "mmm", "decompose", shop)
    assert code == 0, err
    assert "baseline" in out and "competitor_sales_b" in out and "tv" in out and "90% intervals" in out
    code, out, err = run(capsys, "mmm", "decompose", shop, "--format", "csv")
    parts = list(csv.DictReader(io.StringIO(out)))
    assert [p["kind"] for p in parts].count("channel") == 5 and list(parts[0]) == [
        "name",
        "kind",
        "total",
        "share",
        "low",
        "high",
    ]
    code, out, err = run(capsys, "mmm", "decompose", shop, "--format", "csv", "--per-period", "--since", "2025-12-22")
    periods = list(csv.DictReader(io.StringIO(out)))
    assert len(periods) == 1 and periods[0]["date"] == "2025-12-22" and "predicted" in periods[0]


def test_errors_are_one_line(shop: str, capsys: pytest.CaptureFixture[str]) -> None:
    cases = [
        (("mmm", "fit", shop, "--kpi", "profit", *FAST), "xmo: no KPI column 'profit'"),
        (("mmm", "fit", shop, "--holdout-days", "14", *FAST), "xmo: the KPI is weekly: use --holdout-weeks"),
        (("mmm", "fit", shop, "--holdout-weeks", "2", *FAST), "xmo: hold out 0 weeks (none) or at least 4 weeks"),
        (("mmm", "predict", shop, "--since", "2025-02-30"), "xmo: since must be a date as YYYY-MM-DD"),
        (("mmm", "show", "nobody"), "xmo: unknown client 'nobody'"),
        (("mmm", "promote", shop), "xmo: xmo-mmm-shop has no challenger"),
    ]
    for args, message in cases:
        code, out, err = run(capsys, *args)
        assert code != 0 and out == "" and err.startswith(message) and err.count("\n") == 1, (args, err)


def test_no_data_and_no_model(shop: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(capsys, "client", "create", "Empty", "--domain", "empty.example", "--id", "empty")[0] == 0
    code, _, err = run(capsys, "mmm", "fit", "empty", *FAST)
    assert code != 0 and err == "xmo: no KPI series for client 'empty'; import one with `xmo kpi import empty FILE`\n"
    code, _, err = run(capsys, "mmm", "show", "empty")
    assert code != 0 and err == "xmo: client 'empty' has no media-mix model yet; fit one with `xmo mmm fit empty`\n"


def test_a_short_daily_series_is_fitted_with_the_default_families(
    shop: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from models.mediamix_simulation import simulate_media_mix

    world = simulate_media_mix(90, 2, noise=0.05, seed=8)  # too short for the 4 folds that choose families
    frame = world.frame.assign(date=world.frame["date"].dt.date)
    frame[["date", world.kpi, *world.controls]].to_csv(tmp_path / "kpi.csv", index=False)
    spend = [frame[["date"]].assign(channel=name, spend=frame[name]) for name in world.channels]
    pd.concat(spend).to_csv(tmp_path / "spend.csv", index=False)
    for args in (
        ["client", "create", "Daily", "--domain", "daily.example", "--id", "daily"],
        ["kpi", "import", "daily", str(tmp_path / "kpi.csv")],
        ["spend", "import", "daily", str(tmp_path / "spend.csv")],
    ):
        assert run(capsys, *args)[0] == 0, args
    code, out, err = run(capsys, "mmm", "fit", "daily", "--draws", "5", "--holdout-days", "14")
    assert code == 0, err
    assert "revenue on 90 days" in out and "geometric adstock, hill saturation" in out
    assert "held out (14 periods)" in out
    assert "adstock and saturation not chosen by cross-validation (90 days are too few" in err


def test_a_challenger_goes_through_the_gate(shop: str, capsys: pytest.CaptureFixture[str]) -> None:
    """Runs last in this module: it registers a second version and moves the champion."""
    code, out, err = run(capsys, "mmm", "fit", shop, "--holdout-weeks", "20", *FAST)
    assert code == 0, err
    assert "version 2 (challenger)" in out and "against the champion (version 1)" in out and "move" in out
    assert "xmo mmm promote shop" in err
    code, out, err = run(capsys, "mmm", "promote", shop)
    assert code in (0, 3), err
    assert out.startswith("xmo-mmm-shop version 2: ") and "  - accuracy" in out and "advice" in out
    if code == 3:
        code, out, err = run(capsys, "mmm", "promote", shop, "--force")
        assert code == 0 and "promoted to champion (forced)" in out and "  - promoted anyway: --force" in out
    code, out, err = run(capsys, "mmm", "show", shop, "--json")
    versions = {v["version"]: v for v in json.loads(out)["versions"]}
    assert versions["2"]["aliases"] == ["champion"] and versions["1"]["aliases"] == ["previous-champion"]
    assert versions["2"]["promotion"] in ("promoted", "forced")


def test_mmm_is_in_the_models_panel(capsys: pytest.CaptureFixture[str]) -> None:
    from xmo.cli import PANELS

    assert "mmm" in PANELS["Models"]
    code, out, _ = run(capsys, "mmm", "--help")
    assert code == 0 and all(name in out for name in ("fit", "promote", "show", "predict", "decompose"))
