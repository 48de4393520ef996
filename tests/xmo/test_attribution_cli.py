"""``xmo attribution`` on a small simulated client: tables, the side-by-side view, JSON and bad input."""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from core.settings import Settings
from core.tenants import Tenants
from models.attribution import MODELS
from tests.xmo.long_ids import PREFIX, Planted, ids_in, lengthened
from tracking.compactor import compact_all
from xmo import console
from xmo.cli import main
from xmo.commands.attribution import CSV_COLUMNS, credited
from xmo.simulator.cli import run_simulation

HomeAt = Callable[[Path], AbstractContextManager[Settings]]  # the home_at fixture (tests/conftest.py)
CLIENT = "sim"


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture(scope="module")
def simulated(home_at: HomeAt, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Client ``sim`` with ten days of simulated traffic (built once for the module) and client ``empty``."""
    with home_at(tmp_path_factory.mktemp("attribution") / "xmo-home") as settings:
        tenants = Tenants.from_settings(settings)
        tenants.create_client("Sim", ["sim.example"], client_id=CLIENT)
        tenants.create_client("Empty", ["empty.example"], client_id="empty")
        run_simulation(settings, CLIENT, days=10, visitors_per_day=150, seed=21)
        compact_all(settings)
        yield CLIENT


def test_json_report_credits_every_conversion(simulated: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "attribution", simulated, "--json")

    assert code == 0, err
    report = json.loads(out)
    assert report["model"] == "markov" and report["level"] == "channel" and report["lookback_days"] == 30
    assert report["converting_journeys"] > 10 and report["journeys"] > report["converting_journeys"]
    credits = report["models"]["markov"]["credits"]
    assert sum(row["conversions"] for row in credits) == pytest.approx(report["converting_journeys"])
    assert sum(row["value"] for row in credits) == pytest.approx(report["value"])
    assert {row["channel"] for row in credits} <= {
        "search",
        "social",
        "email",
        "display",
        "affiliate",
        "referral",
        "direct",
    }

    code, out, err = run(capsys, "attribution", simulated, "--model", "shapley", "--by", "campaign", "--json")
    assert code == 0, err
    campaigns = {row["campaign_id"] for row in json.loads(out)["models"]["shapley"]["credits"]}
    assert any(c.startswith("cmp-") for c in campaigns)


def test_tables_for_one_model_and_all(simulated: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "attribution", simulated, "--model", "position", "--by", "campaign")
    assert code == 0, err
    assert "Attribution: position by campaign" in out and "cmp-" in out and "converting journeys of" in out

    code, out, err = run(capsys, "attribution", simulated, "--model", "all")
    assert code == 0, err
    assert "Conversions credited by model" in out
    for model in MODELS:
        assert model in out
    assert "search" in out

    code, out, err = run(capsys, "attribution", simulated, "--model", "all", "--json")
    assert code == 0, err
    assert list(json.loads(out)["models"]) == list(MODELS)


def test_dates_narrow_the_window(simulated: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "attribution", simulated, "--model", "linear", "--json")
    everything = json.loads(out)
    since = (datetime.now(UTC).date() - timedelta(days=4)).isoformat()

    code, out, err = run(capsys, "attribution", simulated, "--model", "linear", "--since", since, "--json")

    assert code == 0, err
    recent = json.loads(out)
    assert recent["since"] == since
    assert 0 < recent["converting_journeys"] < everything["converting_journeys"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--model", "u-shaped"), "choose one of last, first, linear, position, time-decay, markov, shapley, all"),
        (("--by", "creative"), "choose one of channel, campaign"),
        (("--lookback-days", "0"), "lookback_days must be an integer of at least 1"),
        (("--since", "2024-02-30"), "since"),
        (("--since", "2030-01-02", "--until", "2030-01-01"), "is after until"),
    ],
)
def test_bad_input_is_one_line(
    simulated: str, capsys: pytest.CaptureFixture[str], args: tuple[str, ...], message: str
) -> None:
    code, out, err = run(capsys, "attribution", simulated, *args)

    assert code != 0 and out == ""
    assert message in err and err.count("\n") == 1 and "Traceback" not in err


def test_no_data_and_unknown_client(simulated: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "attribution", "empty")
    assert code == 1 and "no sessions for client 'empty'" in err
    code, _, err = run(capsys, "attribution", simulated, "--since", "2030-01-01")
    assert code == 1 and "no converting journeys for client 'sim' since 2030-01-01" in err
    code, _, err = run(capsys, "attribution", "nobody")
    assert code == 1 and "nobody" in err


def test_credited_conversions_read_as_counts() -> None:
    assert credited([233.0, 1200.0, 0.0]) == ["233", "1,200", "0"]  # whole credit (last, first touch)
    assert credited([230.072, 117.0, 0.04]) == ["230.1", "117.0", "0.0"]  # split credit: one decimal


def test_whole_credit_prints_whole_numbers(simulated: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "attribution", simulated, "--model", "last")
    assert code == 0, err
    rows = [line.split("│") for line in out.splitlines() if line.startswith("│ ")]
    assert rows and all(re.fullmatch(r"[\d,]+", row[4].strip()) for row in rows)  # "233", not "233.00"
    code, out, err = run(capsys, "attribution", simulated, "--model", "linear")
    rows = [line.split("│") for line in out.splitlines() if line.startswith("│ ")]
    assert rows and all(re.fullmatch(r"[\d,]+\.\d", row[4].strip()) for row in rows)


def test_csv_one_row_per_model_and_channel(simulated: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "attribution", simulated, "--model", "all", "--format", "csv")
    assert code == 0, err
    rows = list(csv.DictReader(io.StringIO(out)))
    assert list(rows[0]) == ["model", "channel", *CSV_COLUMNS]
    assert {row["model"] for row in rows} == set(MODELS)
    for model in MODELS:
        credits = sum(float(row["conversions"]) for row in rows if row["model"] == model)
        assert credits == pytest.approx(sum(float(row["conversions"]) for row in rows if row["model"] == "last"))
    code, out, _ = run(capsys, "attribution", simulated, "--by", "campaign", "--format", "csv")
    assert set(out.splitlines()[0].split(",")) >= {"model", "campaign_id", "value_share"}
    code, out, err = run(capsys, "attribution", simulated, "--json", "--format", "csv")
    assert code == 2 and "disagree" in err


@pytest.mark.parametrize("width", [80, 200])
def test_tables_never_cut_long_ids(
    simulated: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, width: int
) -> None:
    import strategy.attribution

    code, out, _ = run(capsys, "attribution", simulated, "--model", "all", "--by", "campaign", "--json")
    planted = lengthened(json.loads(out))
    monkeypatch.setattr(strategy.attribution, "attribution_report", lambda *args, **kwargs: Planted(planted))
    monkeypatch.setattr(console.out, "_width", width)
    for model in ("markov", "all"):  # one model's table, then every model side by side
        code, out, err = run(capsys, "attribution", simulated, "--model", model, "--by", "campaign")
        assert code == 0, err
        ids = ids_in(planted["models"])
        assert len(ids) > 5 and all(PREFIX in i for i in ids)
        assert ids <= set(out.split()), ids - set(out.split())
        assert "…" not in out
