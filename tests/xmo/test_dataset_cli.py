"""``xmo dataset build|show|list``: engines, goals, windows and k on the command line; errors in one line."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from core.layout import StorageLayout
from core.settings import get_settings
from tracking.compactor import compact_all
from tracking.lake import event_files
from xmo.cli import main
from xmo.simulator.cli import run_simulation


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture
def shop(xmo_home: Path, capsys: pytest.CaptureFixture[str]) -> str:
    code, _, err = run(capsys, "client", "create", "Shop", "--domain", "shop.example", "--timezone", "Europe/Paris")
    assert code == 0, err
    settings = get_settings()
    run_simulation(settings, "shop", days=6, visitors_per_day=80, seed=5)
    compact_all(settings)
    return "shop"


def test_build_show_and_list(shop: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "goal", "add", shop, "purchase")
    assert code == 0, err
    code, out, err = run(capsys, "dataset", "build", shop, "--attribution-window", "3", "--k", "5", "--json")
    assert code == 0, err
    built = json.loads(out)
    manifest, report = built["manifest"], built["privacy_report"]
    assert manifest["attribution_window_days"] == 3 and manifest["k_anonymity"] == 5 == report["k"]
    assert [g["name"] for g in manifest["goals"]] == ["purchase"]
    assert manifest["input_quality"]["events_used"] == manifest["input_quality"]["events_read"] > 0
    assert sum(manifest["row_counts"].values()) == report["rows_out"] > 0

    code, out, err = run(capsys, "dataset", "show", shop)
    assert code == 0, err
    assert manifest["dataset_id"] in out and "sha256 verified" in out and "k = 5 holds" in out
    code, out, _ = run(capsys, "dataset", "build", shop)
    assert code == 0 and "privacy: k = 10 holds" in out and "events:" in out
    code, out, _ = run(capsys, "dataset", "list", shop, "--json")
    assert code == 0 and [d["stale"] for d in json.loads(out)] == [False, False]

    visitor = pq.read_table(event_files(StorageLayout.from_settings(get_settings()), shop)[0])["visitor_id"][0]
    code, _, err = run(capsys, "erase", shop, "--visitor", visitor.as_py())
    assert code == 0, err
    code, out, _ = run(capsys, "dataset", "list", shop, "--json")
    assert code == 0 and [d["stale"] for d in json.loads(out)] == [True, True]
    code, out, _ = run(capsys, "dataset", "list", shop)
    assert out.count("stale") == 2 and out.count("(erasure)") == 2  # the status may wrap: dataset ids are never cut


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--engine", "spark"], "unknown engine 'spark': use duckdb or dask"),
        (["--dask-scheduler", "tcp://127.0.0.1:8786"], "--dask-scheduler needs --engine dask"),
        (["--k", "1"], "k must be"),
        (["--attribution-window", "400"], "attribution window must be 0-90"),
        (["--since", "2030-01-01"], "no sessions of client 'shop' started between 2030-01-01"),
    ],
)
def test_bad_options_are_one_line_errors(
    shop: str, capsys: pytest.CaptureFixture[str], arguments: list[str], message: str
) -> None:
    code, out, err = run(capsys, "dataset", "build", shop, *arguments)
    assert code != 0 and out == ""
    assert message in err and len(err.strip().splitlines()) == 1, err
