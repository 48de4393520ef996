"""``xmo report`` and the job behind it on a simulated client: tables for people, JSON for machines, date
ranges, planned splits, and one-line errors for bad input or a client without data."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from datetime import date, timedelta
from pathlib import Path

import pandas as pd
import pytest

from core.errors import InvalidInput, NotReady
from core.settings import Settings
from core.tenants import Client, Tenants
from strategy.report import effectiveness_report
from strategy.sessions import client_sessions
from tests.xmo.long_ids import PREFIX, Planted, ids_in, lengthened
from xmo import console
from xmo.cli import main
from xmo.commands.report import history_notes
from xmo.simulator.cli import run_simulation

HomeAt = Callable[[Path], AbstractContextManager[Settings]]  # the home_at fixture (tests/conftest.py)

CLIENT = "sim"
START = date(2026, 3, 2)
DAYS = 7


@pytest.fixture(scope="module")
def home(home_at: HomeAt, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    """A home with client ``sim`` (a week of simulated traffic and spend) and client ``fresh`` (nothing)."""
    path = tmp_path_factory.mktemp("report") / "xmo-home"
    with home_at(path) as settings:
        tenants = Tenants.from_settings(settings)
        tenants.create_client("Sim", ["sim.example"], client_id=CLIENT)
        tenants.create_client("Fresh", ["fresh.example"], client_id="fresh")
        run_simulation(settings, CLIENT, days=DAYS, visitors_per_day=200, seed=21, start=START)
        from tracking.compactor import compact_all

        compact_all(settings)
        yield settings


def sim_client(settings: Settings) -> Client:
    return Tenants.from_settings(settings).get_client(CLIENT)


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_table_for_people(home: Settings, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(console.out, "_width", 300)  # a wide terminal: rich would shorten cells to fit 80 columns
    code, out, err = run(capsys, "report", CLIENT)
    assert code == 0, err
    assert f"{CLIENT}: effectiveness by campaign" in out
    assert "cmp-search-brand" in out and "CPA (95% range)" in out and "Comparisons" in out
    assert "not enough data yet (≈" in out  # a week of a small site: no confident calls
    assert "Benjamini-Hochberg" in out  # the decision rule is spelled out
    assert "false-alarm risk" in out and "safe to check daily" in out  # plain words, then what they mean
    assert " CI" not in out and "q (" not in out and "always-valid lift " not in out.split("Comparisons")[1][:2000]
    code, out, err = run(capsys, "report", CLIENT, "--table", "groups")
    assert code == 0 and "effectiveness by campaign" in out and "Comparisons" not in out


def test_history_cut_is_said_in_plain_words(
    home: Settings, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The simulated returning visitors' history cuts the comparisons' noise (CUPED): JSON and plain words."""
    monkeypatch.setattr(console.out, "_width", 300)
    code, out, err = run(capsys, "report", CLIENT, "--by", "creative", "--json")
    assert code == 0, err
    comparisons = json.loads(out)["comparisons"]
    assert all(-1 < c["variance_reduction"] < 1 for c in comparisons)
    cuts = {c["family"]: c["variance_reduction"] for c in comparisons if c["is_reference"]}
    family, best = max(cuts.items(), key=lambda cut: cut[1])
    assert best >= 0.005
    code, out, err = run(capsys, "report", CLIENT, "--by", "creative")
    assert code == 0, err
    assert "history before each session (their earlier visits and conversions) cut the noise" in out
    assert "so fewer sessions are needed" in out and f"  {family}: noise cut by {best:.0%}\n" in out
    plain = {"is_reference": True, "family": "creatives of campaign x", "variance_reduction": 0.0}
    assert history_notes([plain]) == []  # no history, nothing to say


@pytest.mark.parametrize("width", [80, 200])
def test_tables_never_cut_long_ids(
    home: Settings, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, width: int
) -> None:
    """Creative ids that share a long prefix stay whole (and so distinct) at 80 and at 200 columns."""
    import strategy.report

    planted = lengthened(effectiveness_report(home, sim_client(home), by="creative").to_dict())
    monkeypatch.setattr(strategy.report, "effectiveness_report", lambda *args, **kwargs: Planted(planted))
    monkeypatch.setattr(console.out, "_width", width)
    code, out, err = run(capsys, "report", CLIENT, "--by", "creative")
    assert code == 0, err
    ids = ids_in(planted["rows"]) | ids_in(planted["comparisons"])
    assert len(ids) > 10 and all(PREFIX in i for i in ids)
    assert ids <= set(out.split()), ids - set(out.split())  # each id whole, as one word of the output
    assert "…" not in out


def test_csv_of_either_table(home: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "report", CLIENT, "--by", "creative", "--json")
    report = json.loads(out)
    code, out, err = run(capsys, "report", CLIENT, "--by", "creative", "--format", "csv")
    assert code == 0, err
    groups = list(csv.DictReader(io.StringIO(out)))
    assert [(r["campaign_id"], r["creative_id"]) for r in groups] == [
        (r["campaign_id"] or "", r["creative_id"] or "") for r in report["rows"]
    ]
    assert list(groups[0])[:5] == ["campaign_id", "creative_id", "sessions", "conversions", "conversion_rate"]
    assert {"conversion_rate_low", "cpa_high", "roas"} <= set(groups[0])
    assert sum(int(r["sessions"]) for r in groups) == report["totals"]["sessions"]
    code, out, err = run(capsys, "report", CLIENT, "--format", "CSV", "--table", "comparisons")
    assert code == 0, err
    comparisons = list(csv.DictReader(io.StringIO(out)))
    assert comparisons and {"group", "arm", "lift_low", "always_valid_lift_high", "q_value", "verdict"} <= set(
        comparisons[0]
    )
    code, out, err = run(capsys, "report", CLIENT, "--format", "json")
    assert code == 0 and json.loads(out)["by"] == "campaign"


def test_json_per_grouping(home: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    sessions = client_sessions(home, sim_client(home))
    for by, key in (("campaign", "campaign_id"), ("creative", "creative_id"), ("channel", "channel")):
        code, out, err = run(capsys, "report", CLIENT, "--by", by, "--json")
        assert code == 0, err
        report = json.loads(out)
        assert report["client_id"] == CLIENT and report["by"] == by
        assert (report["since"], report["until"]) == (START.isoformat(), (START + timedelta(DAYS - 1)).isoformat())
        assert sum(r["sessions"] for r in report["rows"]) == len(sessions) == report["totals"]["sessions"]
        assert all(key in r for r in report["rows"])
        assert {"rows", "comparisons", "sample_ratio_checks", "warnings", "decision_rule"} <= set(report)
    code, out, _ = run(capsys, "report", CLIENT, "--by", "segment", "--json")
    segments = json.loads(out)["rows"]
    assert {r["segment"] for r in segments} == {"device", "visitor", "region"}
    visitors = {r["segment_value"]: r["sessions"] for r in segments if r["segment"] == "visitor"}
    assert visitors["new"] == int((sessions["prev_sessions"] == 0).sum())
    campaign_report = effectiveness_report(home, sim_client(home)).to_dict()
    paid = [r for r in campaign_report["rows"] if r["campaign_id"] is not None]
    assert paid and all(r["spend"] is not None and r["spend"] > 0 for r in paid)  # the simulated spend


def test_date_range_is_inclusive_in_utc_days(home: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    sessions = client_sessions(home, sim_client(home))
    days = pd.to_datetime(sessions["started_at"], utc=True).dt.date
    first, second = START + timedelta(1), START + timedelta(2)
    code, out, err = run(capsys, "report", CLIENT, "--since", str(first), "--until", str(second), "--json")
    assert code == 0, err
    report = json.loads(out)
    assert (report["since"], report["until"]) == (str(first), str(second))
    assert report["totals"]["sessions"] == int(((days >= first) & (days <= second)).sum()) > 0
    only_spend = effectiveness_report(home, sim_client(home), since=first, until=first).to_dict()
    whole = effectiveness_report(home, sim_client(home)).to_dict()
    assert 0 < only_spend["totals"]["spend"] < whole["totals"]["spend"]  # spend is cut to the period too


def test_job_uses_the_given_session_loader(home: Settings) -> None:
    sessions = client_sessions(home, sim_client(home))
    calls: list[str] = []

    def loader(client: Client) -> pd.DataFrame:
        calls.append(client.id)
        return sessions.head(50)

    report = effectiveness_report(home, sim_client(home), by="channel", load_sessions=loader)
    assert calls == [CLIENT] and report.to_dict()["totals"]["sessions"] == 50


def test_planned_split(
    home: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(console.out, "_width", 300)
    plan = tmp_path / "plan.json"
    creatives = {f"cr-search-brand-{c}": 1 / 3 for c in "abc"}
    plan.write_text(json.dumps({"cmp-search-brand": creatives}), encoding="utf-8")
    code, out, err = run(capsys, "report", CLIENT, "--planned-split", str(plan), "--json")
    assert code == 0, err
    (check,) = json.loads(out)["sample_ratio_checks"]
    assert check["campaign_id"] == "cmp-search-brand" and set(check["observed_sessions"]) == set(creatives)
    assert sum(check["observed_sessions"].values()) > 0 and 0 <= check["p_value"] <= 1
    skewed = tmp_path / "skewed.json"
    shares = {"cr-search-brand-a": 0.98, "cr-search-brand-b": 0.01, "cr-search-brand-c": 0.01}
    skewed.write_text(json.dumps({"cmp-search-brand": shares}), encoding="utf-8")
    code, out, err = run(capsys, "report", CLIENT, "--planned-split", str(skewed))
    assert code == 0 and "sample ratio mismatch" in out
    assert "warning: sample ratio mismatch in campaign 'cmp-search-brand'" in " ".join(err.split())


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["--since", "2026-03-05", "--until", "2026-03-03"], 1, "since (2026-03-05) is after until (2026-03-03)"),
        (["--by", "week"], 2, "--by"),
        (["--since", "03/05/2026"], 2, "--since"),
        (["--since", "2020-01-01", "--until", "2020-01-31"], 1, "no sessions for client 'sim' from 2020-01-01"),
        (["--planned-split", "/no/such/plan.json"], 2, "does not exist"),
        (["--format", "xml"], 2, "--format"),
        (["--json", "--format", "csv"], 2, "--json and --format csv disagree"),
        (["--json", "--table", "groups"], 2, "leave --table out"),
    ],
)
def test_bad_input_is_one_line(
    home: Settings, capsys: pytest.CaptureFixture[str], args: list[str], code: int, message: str
) -> None:
    status, out, err = run(capsys, "report", CLIENT, *args)
    assert status == code and out == ""
    assert err.startswith("xmo: ") and err.count("\n") == 1 and message in err, err


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "is not valid JSON"),
        ("[1, 2]", "a planned split must be an object"),
        ('{"cmp-search-brand": {"cr-search-brand-a": 1}}', "need an object with two creatives or more"),
        ('{"cmp-search-brand": {"cr-search-brand-a": 1, "cr-search-brand-b": "half"}}', "must be a positive number"),
    ],
)
def test_malformed_planned_split_file(
    home: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str, message: str
) -> None:
    plan = tmp_path / "plan.json"
    plan.write_text(content, encoding="utf-8")
    status, out, err = run(capsys, "report", CLIENT, "--planned-split", str(plan))
    assert status == 1 and out == "" and err.count("\n") == 1 and message in err, err


def test_clients_without_data(home: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    status, _, err = run(capsys, "report", "fresh")
    assert status == 1 and "no sessions for client 'fresh'" in err
    status, _, err = run(capsys, "report", "nobody")
    assert status == 1 and "nobody" in err
    fresh = Tenants.from_settings(home).get_client("fresh")
    with pytest.raises(NotReady):
        effectiveness_report(home, fresh)
    with pytest.raises(InvalidInput, match="unknown grouping"):
        effectiveness_report(home, sim_client(home), by="week")
