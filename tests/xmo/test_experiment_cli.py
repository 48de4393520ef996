"""``xmo experiment design|start|list|analyze|audience|stop|show`` on a simulated client: plain words for people,
csv and json for machines, one-line errors that store nothing, and a stopped test listed by ``xmo lift list``."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest

from core.layout import StorageLayout
from core.settings import Settings
from core.tenants import Tenants
from strategy.experiments.results import DesignRequest
from strategy.experiments.service import start_experiment
from tracking.experiments import read_experiments
from tracking.kpi import import_kpi
from xmo.cli import main
from xmo.commands.experiments import DESIGN_COLUMNS, LIST_COLUMNS, METRIC_COLUMNS
from xmo.simulator.cli import run_simulation

HomeAt = Callable[[Path], AbstractContextManager[Settings]]  # the home_at fixture (tests/conftest.py)
CLIENT = "sim"
TODAY = datetime.now(UTC).date()  # the CLI reads up to yesterday
DAYS = 21
HOLDOUT = ("--type", "holdout", "--channel", "search", "--weeks", "1", "--share", "0.3", "--lift", "0.5")


@pytest.fixture(scope="module")
def home(home_at: HomeAt, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    """Client ``sim``: three weeks of simulated traffic and spend to yesterday, and its daily revenue as a KPI."""
    path = tmp_path_factory.mktemp("experiments") / "xmo-home"
    with home_at(path) as settings:
        Tenants.from_settings(settings).create_client("Sim", ["sim.example"], client_id=CLIENT)
        run_simulation(settings, CLIENT, days=DAYS, visitors_per_day=60, seed=5, start=TODAY - timedelta(days=DAYS))
        from tracking.compactor import compact_all

        compact_all(settings)
        days = [TODAY - timedelta(days=DAYS - i) for i in range(DAYS)]
        import_kpi(StorageLayout.from_settings(settings), CLIENT, pd.DataFrame({"date": days, "revenue": 250.0}))
        yield settings


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_design_in_words_csv_and_json(home: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "experiment", "design", CLIENT, *HOLDOUT)
    assert code == 0, err
    assert f"holdout test of search: pause it, measured in revenue\ndates: {TODAY} to" in out
    assert "holdout: 30% of visitors" in out and "chance of detecting a +50.0% lift: " in out
    assert "smallest lift it can detect (80 % chance): +" in out
    code, out, _ = run(capsys, "experiment", "design", CLIENT, *HOLDOUT, "--json")
    design = json.loads(out)
    assert (design["type"], design["channel"], design["holdout_share"], design["weeks"]) == (
        "holdout",
        "search",
        0.3,
        1,
    )
    assert 0 <= design["power"] <= 1 and design["minimum_detectable_lift"] > 0
    code, out, _ = run(capsys, "experiment", "design", CLIENT, *HOLDOUT, "--format", "csv")
    (row,) = list(csv.DictReader(io.StringIO(out)))
    assert list(row) == list(DESIGN_COLUMNS) and row["type"] == "holdout" and row["kpi"] == "revenue"
    assert read_experiments(StorageLayout.from_settings(home), CLIENT) == []  # a design stores nothing


def test_bad_input_is_one_line_and_stores_nothing(home: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    bad = [
        (("--share", "0.7"), "xmo: holdout share must lie between 1% and 50%; got 70.0%"),
        (("--weeks", "0"), "xmo: weeks must be a whole number from 1 to 26; got 0"),
        (("--type", "ab"), "xmo: type must be one of geo, time, holdout; got 'ab'"),
        (("--action", "raise"), "xmo: a holdout withholds the channel from its holdout visitors; action must be pause"),
    ]
    for options, message in bad:
        code, _, err = run(capsys, "experiment", "start", CLIENT, *HOLDOUT, *options)
        assert (code, err.strip()) == (1, message)
    code, _, err = run(capsys, "experiment", "show", CLIENT, "nope")
    assert code == 1 and err.strip() == f"xmo: client {CLIENT!r} has no experiment 'nope'; its experiments: none"
    code, _, err = run(capsys, "experiment", "list", "nobody")
    assert code == 1 and "nobody" in err and len(err.strip().splitlines()) == 1
    assert read_experiments(StorageLayout.from_settings(home), CLIENT) == []
    code, out, _ = run(capsys, "experiment", "list", CLIENT)
    assert code == 0 and "no experiments for sim" in out


def test_a_holdout_from_start_to_lift_test(home: Settings, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    start = TODAY - timedelta(days=7)
    code, _, err = run(capsys, "experiment", "start", CLIENT, *HOLDOUT, "--start", str(start))
    assert code == 1 and "a visitor holdout cannot start in the past" in err
    # started a week ago (the service as it ran then), read and stopped today from the command line
    client = Tenants.from_settings(home).get_client(CLIENT)
    request = DesignRequest(type="holdout", channel="search", weeks=1, holdout_share=0.3, lift=0.5, note="q4 test")
    started = start_experiment(home, Tenants.from_settings(home).engine, client, request, actor="cli", today=start)
    experiment_id = f"holdout-search-{start:%Y%m%d}"
    assert started.experiment_id == experiment_id and started.end_date == TODAY - timedelta(days=1)

    code, out, _ = run(capsys, "experiment", "list", CLIENT, "--format", "csv")
    (row,) = list(csv.DictReader(io.StringIO(out)))
    assert list(row) == list(LIST_COLUMNS) and (row["experiment_id"], row["status"]) == (experiment_id, "running")

    code, out, err = run(capsys, "experiment", "analyze", CLIENT, experiment_id)
    assert code == 0, err
    assert "incremental effect of the test (90% range)" in out and "revenue" in out and "sample ratio: " in out
    assert "interim" not in out  # read to its planned end
    code, out, _ = run(capsys, "experiment", "analyze", CLIENT, experiment_id, "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(out)))
    assert list(rows[0]) == list(METRIC_COLUMNS) and {r["metric"] for r in rows} == {"conversions", "revenue"}

    code, out, _ = run(capsys, "experiment", "audience", CLIENT, experiment_id)
    lines = out.splitlines()
    assert code == 0 and lines[0] == "visitor_id" and len(lines) > 10 and len(set(lines)) == len(lines)
    target = tmp_path / "holdout.csv"
    code, _, err = run(capsys, "experiment", "audience", CLIENT, experiment_id, "--out", str(target))
    assert code == 0 and target.read_text().splitlines() == lines and f"wrote {len(lines) - 1:,} holdout" in err

    code, out, err = run(capsys, "experiment", "stop", CLIENT, experiment_id)
    assert code == 0, err
    assert f"stopped experiment {experiment_id}" in out
    assert f"lift test {experiment_id} stored for the media-mix model (xmo lift list {CLIENT})" in out
    code, out, _ = run(capsys, "lift", "list", CLIENT, "--format", "json")
    (test,) = json.loads(out)["tests"]
    assert (test["test_id"], test["method"], test["channel"], test["kpi"]) == (
        experiment_id,
        "xmo_holdout",
        "search",
        "revenue",
    )
    code, out, _ = run(capsys, "experiment", "show", CLIENT, experiment_id, "--json")
    shown = json.loads(out)
    assert (shown["status"], shown["lift_test_id"], shown["note"]) == ("stopped", experiment_id, "q4 test")
    assert shown["result"]["handoff"] == {"lift_test_id": experiment_id, "reason": None}
    code, out, _ = run(capsys, "experiment", "show", CLIENT, experiment_id)
    assert code == 0 and "experiment " + experiment_id + ": stopped" in out and "sample ratio" in out
    code, _, err = run(capsys, "experiment", "stop", CLIENT, experiment_id)
    assert code == 1 and "already stopped" in err and len(err.strip().splitlines()) == 1


def test_a_test_not_begun_is_cancelled(home: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    start = TODAY + timedelta(days=7)
    social = ("--type", "holdout", "--channel", "social", "--weeks", "1", "--start", str(start))
    code, out, err = run(capsys, "experiment", "start", CLIENT, *social, "--note", "q4 test")
    assert code == 0, err
    experiment_id = f"holdout-social-{start:%Y%m%d}"
    assert out.startswith(f"started experiment {experiment_id} ({start} to {start + timedelta(days=6)})")
    assert f"xmo experiment analyze {CLIENT} {experiment_id}" in out
    code, _, err = run(capsys, "experiment", "start", CLIENT, *social)
    assert code == 1 and f"overlaps stored experiment {experiment_id!r}" in err
    code, _, err = run(capsys, "experiment", "stop", CLIENT, experiment_id)
    assert code == 1 and f"cancel it (xmo experiment cancel {CLIENT} {experiment_id})" in err
    code, out, _ = run(capsys, "experiment", "cancel", CLIENT, experiment_id)
    assert code == 0 and out.strip() == f"cancelled experiment {experiment_id} before its first day"
    code, out, _ = run(capsys, "experiment", "list", CLIENT)
    assert code == 0 and "cancelled" in out


def test_experiment_is_in_the_models_panel(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "--help")
    assert code == 0
    panel = out[out.index("Models") : out.index("Recommendations and reports")]
    assert "experiment" in panel
