"""``xmo recommend budget`` on a small simulated client: table, JSON, plot, targets; errors are one line."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path

import pytest
from rich.console import Console

from core.settings import Settings, get_settings
from core.tenants import Tenants
from tracking.compactor import compact_all
from xmo import console
from xmo.cli import main
from xmo.output import print_table
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
    assert "Budget 900 per week (attributed, conversions; the total given)" in out
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
        (("--ladder", "1000,abc"), "numbers separated by commas"),
        (("--ladder", "100000"), "contradicts the bounds"),
    ],
)
def test_bad_input_is_one_line_on_stderr(
    home: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, args: tuple[str, ...], message: str
) -> None:
    code, out, err = run(capsys, home, monkeypatch, "recommend", "budget", "sim", *args)
    assert code == 1 and out == ""
    assert err.startswith("xmo: ") and err.count("\n") == 1 and message in err


def test_usage_errors(home: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    code, _, err = run(capsys, home, monkeypatch, "recommend", "budget", "sim", "--json", "--format", "csv")
    assert code == 2 and "disagree" in err
    code, _, err = run(capsys, home, monkeypatch, "recommend", "budget", "sim", "--ladder", "--target-cpa", "5")
    assert code == 2 and "--ladder" in err
    code, _, err = run(capsys, home, monkeypatch, "recommend", "budget", "sim", "1000,2000")
    assert code == 2 and "totals go with --ladder" in err
    code, _, err = run(capsys, home, monkeypatch, "recommend", "budget", "sim", "--total", "900", "--mode", "tv")
    assert code == 2 and "--mode" in err
    code, _, err = run(capsys, home, monkeypatch, "recommend", "budget", "nobody", "--total", "900")
    assert code != 0 and "nobody" in err


def test_today_by_default_with_one_baseline_and_bound_marks(
    home: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(console.out, "_width", 200)
    code, out, err = run(capsys, home, monkeypatch, "recommend", "budget", "sim", "--json")
    assert code == 0, err
    today = json.loads(out)
    assert today["total_source"] == "today" and today["total"] == pytest.approx(today["current_total"])
    assert not any("Lowering" in s for s in today["sentences"])
    code, out, err = run(capsys, home, monkeypatch, "recommend", "budget", "sim", "--total", str(today["total"] * 2))
    assert code == 0, err
    assert "today's split at this total" in out and "today's total" not in out.splitlines()[0]
    assert out.count(" ▲ ") >= len(today["campaigns"]), "every campaign sits at the upper bound at twice today's total"
    assert "▲ at the upper bound (--max-ratio)" in out
    assert "raise --max-ratio" in out and "max_ratio" not in out.replace("--max-ratio", "")


def test_csv_and_long_ids_at_80_columns(
    home: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from xmo.commands.recommend_budget import budget_table

    code, out, err = run(capsys, home, monkeypatch, "recommend", "budget", "sim", "--format", "csv")
    assert code == 0, err
    rows = list(csv.DictReader(io.StringIO(out)))
    assert rows and {"campaign_id", "todays_split_at_this_total", "recommended_spend", "at_bound"} <= set(rows[0])
    code, out, err = run(capsys, home, monkeypatch, "recommend", "budget", "sim", "--json")
    plan = json.loads(out)
    long_id = "cmp-" + "very-long-campaign-name-" * 3 + "2026"
    plan["campaigns"][0]["campaign_id"] = long_id
    narrow = Console(width=80, file=io.StringIO(), force_terminal=False)
    print_table(budget_table(plan), narrow)
    assert long_id in narrow.file.getvalue(), "campaign ids are never cut"  # type: ignore[attr-defined]


def test_ladder(home: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    code, out, err = run(capsys, home, monkeypatch, "recommend", "budget", "sim", "--ladder", "--json")
    assert code == 0, err
    ladder = json.loads(out)
    assert len(ladder["rows"]) == 6
    today = ladder["current_total"]
    code, out, err = run(
        capsys, home, monkeypatch, "recommend", "budget", "sim", "--ladder", f"{today:.0f},{2 * today:.0f}"
    )
    assert code == 0, err
    assert "What each total buys" in out and "(today)" in out and "marginal" in out
    assert err.count("extrapolated") <= 1, "one warning for the ladder, not one per campaign and total"
    code, out, err = run(capsys, home, monkeypatch, "recommend", "budget", "sim", "--ladder", "--format", "csv")
    assert code == 0, err
    assert out.splitlines()[0].startswith("total,expected_outcome,expected_outcome_low,expected_outcome_high")
    assert len(out.splitlines()) == 7
