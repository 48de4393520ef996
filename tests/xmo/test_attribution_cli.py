"""``xmo attribution`` on a small simulated client: tables, the side-by-side view, JSON and bad input."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from core.settings import Settings
from core.tenants import Tenants
from models.attribution import MODELS
from tracking.compactor import compact_all
from xmo.cli import main
from xmo.simulator.cli import run_simulation

CLIENT = "sim"


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture
def simulated(settings: Settings) -> str:
    tenants = Tenants.from_settings(settings)
    tenants.create_client("Sim", ["sim.example"], client_id=CLIENT)
    tenants.create_client("Empty", ["empty.example"], client_id="empty")
    run_simulation(settings, CLIENT, days=10, visitors_per_day=150, seed=21)
    compact_all(settings)
    return CLIENT


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
