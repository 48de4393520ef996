"""``xmo recommend budget`` on a small simulated client: table, JSON, plot, targets; errors are one line."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path

import pytest

from core.settings import Settings, get_settings
from core.tenants import Tenants
from tracking.compactor import compact_all
from xmo.cli import main
from xmo.simulator.cli import run_simulation

HomeAt = Callable[[Path], AbstractContextManager[Settings]]  # the home_at fixture (tests/conftest.py)


@pytest.fixture(scope="module")
def home(home_at: HomeAt, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    path = tmp_path_factory.mktemp("budget-cli") / "xmo-home"
    with home_at(path) as settings:
        Tenants.from_settings(settings).create_client("Sim", ["sim.example"], client_id="sim")
        run_simulation(settings, "sim", days=21, visitors_per_day=300, seed=21)
        compact_all(settings)
        yield path


def run(
    capsys: pytest.CaptureFixture[str], home: Path, monkeypatch: pytest.MonkeyPatch, *args: str
) -> tuple[int, str, str]:
    monkeypatch.setenv("XMO_HOME", str(home))
    get_settings.cache_clear()
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_json_plan_and_plot(
    home: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    plot = tmp_path / "curves.png"
    code, out, err = run(
        capsys, home, monkeypatch, "recommend", "budget", "sim", "--total", "900", "--json", "--plot", str(plot)
    )
    assert code == 0, err
    data = json.loads(out)
    assert data["total"] == pytest.approx(900) and data["period"] == "week" and data["mode"] == "attributed"
    assert sum(c["recommended_spend"] for c in data["campaigns"]) == pytest.approx(900, rel=1e-6)
    assert data["sentences"][0].startswith("Move ")
    assert plot.read_bytes().startswith(b"\x89PNG")


def test_table_with_sentences(home: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    code, out, err = run(capsys, home, monkeypatch, "recommend", "budget", "sim", "--total", "900", "--period", "week")
    assert code == 0, err
    assert "Budget 900 per week (attributed, conversions)" in out
    assert "cmp-" in out and "marginal" in out
    assert "Expected conversions a week with 900:" in out
    assert "from 21 days of data" in out


def test_targets(home: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    code, out, err = run(capsys, home, monkeypatch, "recommend", "budget", "sim", "--target-cpa", "1000000", "--json")
    assert code == 0, err
    data = json.loads(out)
    assert data["target"] == {
        "kind": "cpa",
        "value": 1e6,
        "basis": "average",
        "achieved_average": pytest.approx(data["total"] / data["expected_outcome_recommended"]),
    }
    assert data["total"] == pytest.approx(2 * data["current_total"])
    code, out, err = run(
        capsys,
        home,
        monkeypatch,
        "recommend",
        "budget",
        "sim",
        "--target-roas",
        "0.5",
        "--outcome",
        "value",
        "--fit-on",
        "outcome",
        "--target-basis",
        "marginal",
        "--json",
    )
    assert code == 0, err
    data = json.loads(out)
    assert data["outcome"] == "value" and data["fit"]["fit_on"] == "outcome" and data["target"]["basis"] == "marginal"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--total", "100000"), "contradicts the bounds"),
        (("--target-cpa", "0.01"), "best achievable"),
        (("--target-roas", "2", "--outcome", "conversions"), "needs --outcome value"),
        (("--total", "900", "--target-cpa", "5", "--target-roas", "2"), "not both"),
        (("--total", "900", "--min-ratio", "1.5", "--max-ratio", "1.2"), "cannot be above"),
    ],
)
def test_bad_input_is_one_line_on_stderr(
    home: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, args: tuple[str, ...], message: str
) -> None:
    code, out, err = run(capsys, home, monkeypatch, "recommend", "budget", "sim", *args)
    assert code == 1 and out == ""
    assert err.startswith("xmo: ") and err.count("\n") == 1 and message in err


def test_usage_errors(home: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    code, _, err = run(capsys, home, monkeypatch, "recommend", "budget", "sim")
    assert code == 2 and "--total" in err
    code, _, err = run(capsys, home, monkeypatch, "recommend", "budget", "sim", "--total", "900", "--mode", "tv")
    assert code == 2 and "--mode" in err
    code, _, err = run(capsys, home, monkeypatch, "recommend", "budget", "nobody", "--total", "900")
    assert code != 0 and "nobody" in err
