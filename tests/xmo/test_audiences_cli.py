"""``xmo recommend audiences`` and the job behind it on a simulated client with a champion model: segments of
paid traffic scored by that champion, bids only on what an ad platform can target, names in words, table, CSV and
JSON, the k floor, date ranges, no visitor ids, and a clear error without a champion or without paid traffic."""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from datetime import timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from core.errors import InvalidInput, NotReady
from core.settings import Settings
from core.tenants import Client, Tenants
from features.audience_segments import paid_sessions
from features.dataset import build_dataset
from models.audiences import SEGMENT_COLUMNS as CSV_COLUMNS  # one csv row per listed segment
from models.audiences import AudienceRanker
from strategy.audiences import load_champion, recommend_audiences
from strategy.sessions import client_sessions
from tracking.compactor import compact_all
from training.train import train_conversion_model
from xmo import console
from xmo.cli import main
from xmo.simulator.cli import run_simulation

HomeAt = Callable[[Path], AbstractContextManager[Settings]]  # the home_at fixture (tests/conftest.py)

CLIENT = "sim"
TINY = {"n_estimators": 20, "learning_rate": 0.1, "early_stopping_rounds": 0}
VISITOR_ID = re.compile(r"[0-9a-f]{32}")


@pytest.fixture(scope="module")
def home(home_at: HomeAt, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    """A home with client ``sim`` (simulated traffic, a champion model) and client ``fresh`` (nothing)."""
    path = tmp_path_factory.mktemp("audiences") / "xmo-home"
    with home_at(path) as settings:
        tenants = Tenants.from_settings(settings)
        tenants.create_client("Sim", ["sim.example"], client_id=CLIENT)
        tenants.create_client("Fresh", ["fresh.example"], client_id="fresh")
        run_simulation(settings, CLIENT, days=10, visitors_per_day=200, seed=21)
        compact_all(settings)
        build_dataset(settings, CLIENT)
        train_conversion_model(settings, CLIENT, params=TINY, baselines=False)
        yield settings


def sim_client(settings: Settings) -> Client:
    return Tenants.from_settings(settings).get_client(CLIENT)


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_json_lists_segments_scored_by_the_champion(home: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "recommend", "audiences", CLIENT, "--top", "8", "--json")
    assert code == 0, err
    result = json.loads(out)
    assert result["model"] == {"name": "xmo-conversion-sim", "version": "1"} and result["k"] == 10
    segments = result["segments"]
    assert 0 < len(segments) <= 8
    rates = [s["predicted_rate"] for s in segments]
    assert rates == sorted(rates, reverse=True)
    everything = [*segments, *result["bid_up"], *result["exclude"]]
    assert all(s["sessions"] >= 10 for s in everything)
    assert {s["suggestion"] for s in result["bid_up"]} <= {"bid up"}
    assert {s["suggestion"] for s in result["exclude"]} <= {"exclude"}
    # The overall predicted rate is the champion's mean probability over the client's sessions of paid campaigns
    everyone = client_sessions(home, sim_client(home))
    sessions = everyone[paid_sessions(everyone)]
    probabilities = load_champion(home, CLIENT).scorer.predict_sessions(sessions)
    assert 0 < result["overall"]["sessions"] == len(sessions) < result["all_sessions"] == len(everyone)
    assert result["scope"] == "paid campaigns" and "sessions of paid campaigns" in result["scope_note"]
    assert result["timezone"] == sim_client(home).timezone and result["timezone"] in result["scope_note"]
    assert result["overall"]["predicted_rate"] == pytest.approx(float(np.mean(probabilities)))
    assert result["overall"]["conversions"] == int(sessions["converted"].sum())
    # Aggregates only: no visitor (or session) id leaves the job
    assert not VISITOR_ID.search(out)
    assert "visitor_id" not in out and "session_id" not in out


def test_bids_only_on_what_ad_platforms_target_in_words(home: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "recommend", "audiences", CLIENT, "--top", "500", "--json")
    assert code == 0, err
    result = json.loads(out)
    segments = result["segments"]
    for s in [*result["bid_up"], *result["exclude"]]:
        assert s["targetable"] and s["dimension"] != "visitor_type" and "direct" not in s["segment"], s
    insight = [s for s in segments if not s["targetable"]]
    assert insight and all(s["suggestion"] == "insight only" for s in insight)
    assert {s["dimension"] for s in insight} >= {"visitor_type"}
    assert {s["dimension"] for s in segments} >= {"device_class", "region", "day_of_week", "hour_of_day", "channel"}
    labels = {s["dimension"]: s["dimension_label"] for s in segments}
    assert labels["device_class"] == "device type" and labels["hour_of_day"] == "hour of day"
    regions = [s for s in segments if s["dimension"] == "region"]
    assert regions and all(s["segment"].count("/") == 1 for s in regions)  # the simulator records time zones
    assert all(s["segment_label"].startswith("time zone: ") for s in regions)  # never presented as regions
    assert any(s["segment_label"] == "time zone: Berlin (Europe)" for s in regions)
    days = {s["segment_label"] for s in segments if s["dimension"] == "day_of_week"}
    assert days and days <= {"Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"}
    assert all(
        re.fullmatch(r"\d\d:00–\d\d:00", s["segment_label"]) for s in segments if s["dimension"] == "hour_of_day"
    )


def test_table_for_people(home: Settings, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    _, as_json, _ = run(capsys, "recommend", "audiences", CLIENT, "--top", "500", "--format", "json")
    segments = json.loads(as_json)["segments"]
    for width in (80, 160):
        monkeypatch.setattr(console.out, "_width", width)
        code, out, err = run(capsys, "recommend", "audiences", CLIENT, "--top", "500")
        assert code == 0, err
        assert out.startswith("model xmo-conversion-sim v1 on ") and "sessions of paid campaigns" in out
        assert "Segments by predicted conversion rate" in out and "CI" not in out and "…" not in out
        for segment in segments:  # names never cut, however narrow (a pair may take two lines)
            assert all(name in out for name in segment["segment_label"].split(" × ")), (width, segment)
            assert segment["dimension_label"] in out
    assert "insight only" in out and "no ad platform can target or exclude" in out
    monkeypatch.setattr(console.out, "_width", 400)  # headers wrap before cells do: read it where it fits
    _, wide, _ = run(capsys, "recommend", "audiences", CLIENT, "--top", "500")
    assert "observed rate (95 % range)" in wide and "95% CI" not in wide
    assert any(s["segment_label"] in out for s in segments if " × " in s["segment_label"])  # one line when wide


def test_csv_lists_one_row_per_segment(home: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "recommend", "audiences", CLIENT, "--top", "5", "--format", "csv")
    assert code == 0, err
    rows = list(csv.DictReader(io.StringIO(out)))
    _, as_json, _ = run(capsys, "recommend", "audiences", CLIENT, "--top", "5", "--json")
    result = json.loads(as_json)
    listed = {(s["dimension"], s["segment"]) for s in [*result["segments"], *result["bid_up"], *result["exclude"]]}
    assert list(rows[0]) == list(CSV_COLUMNS) and len(rows) == len(listed)
    assert {(r["dimension"], r["segment"]) for r in rows} == listed
    assert rows[0]["segment_label"] == result["segments"][0]["segment_label"]
    code, out, err = run(capsys, "recommend", "audiences", CLIENT, "--json", "--format", "csv")
    assert code != 0 and out == "" and "disagree" in err


def test_without_a_champion_the_error_says_what_to_do(home: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "recommend", "audiences", "fresh")
    assert code == 1 and out == ""
    assert err.startswith("xmo: client 'fresh' has no champion model: train and promote a model first")
    assert len(err.splitlines()) == 1
    code, _, err = run(capsys, "recommend", "audiences", CLIENT, "--since", "yesterday")
    assert code != 0 and "YYYY-MM-DD" in err


def test_date_range_and_loader(home: Settings) -> None:
    client = sim_client(home)
    sessions = client_sessions(home, client)
    days = pd.to_datetime(sessions["started_at"], utc=True).dt.tz_convert(client.timezone).dt.date
    first = min(days)
    champion = load_champion(home, CLIENT)
    loader = lambda _client: sessions  # noqa: E731
    result = recommend_audiences(
        home, client, since=first + timedelta(days=2), until=first + timedelta(days=4), champion=champion
    )
    window = (days >= first + timedelta(days=2)) & (days <= first + timedelta(days=4))
    expected = int((window & paid_sessions(sessions)).sum())
    assert result.overall["sessions"] == expected and 0 < expected < len(sessions)
    assert result.all_sessions == int(window.sum())
    with pytest.raises(InvalidInput, match="is after until"):
        recommend_audiences(home, client, since=first + timedelta(days=3), until=first, champion=champion)
    with pytest.raises(NotReady, match="no sessions from"):
        recommend_audiences(
            home, client, load_sessions=loader, since=first - timedelta(days=30), until=first - timedelta(days=20)
        )
    half = sessions.iloc[: len(sessions) // 2]
    loaded = recommend_audiences(home, client, load_sessions=lambda _client: half, top=5, champion=champion)
    assert loaded.overall["sessions"] == paid_sessions(half).sum() and len(loaded.segments) == 5
    unpaid = sessions[~paid_sessions(sessions)]
    with pytest.raises(NotReady, match="came from a paid campaign"):
        recommend_audiences(home, client, load_sessions=lambda _client: unpaid, champion=champion)
    strict = recommend_audiences(
        home, client, load_sessions=loader, ranker=AudienceRanker(k=100_000), champion=champion
    )
    assert strict.segments == [] and strict.hidden_segments > 0
    assert any("k-anonymity" in w for w in strict.warnings)
