"""Industry benchmarks over simulated clients: only opted-in clients are pooled, no client or visitor id comes
out, cells with fewer than the required clients are suppressed, and the noise is consistent and stated."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from core.errors import InvalidInput
from core.layout import StorageLayout
from core.settings import Settings
from core.tenants import Client, Tenants
from strategy.industry import SESSION_CAP, client_contribution, industry_benchmarks
from strategy.sessions import client_sessions
from tracking.compactor import compact_all
from tracking.spend import read_spend
from xmo.simulator.cli import run_simulation

HomeAt = Callable[[Path], AbstractContextManager[Settings]]  # the home_at fixture (tests/conftest.py)

POOLED = ("alpha7q", "bravo3k", "charl9z")
OUTSIDER = "delta5x"  # has traffic, did not opt in
EMPTY = "echo2w"  # opted in, no traffic yet
START = date(2026, 4, 6)


@dataclass(frozen=True)
class Home:
    settings: Settings
    tenants: Tenants
    cache: dict[str, pd.DataFrame] = field(default_factory=dict)

    def sessions(self, client: Client) -> pd.DataFrame:
        """The client's sessions from the lake, built once per module (as the server's cache does)."""
        if client.id not in self.cache:
            self.cache[client.id] = client_sessions(self.settings, client)
        return self.cache[client.id]


@pytest.fixture(scope="module")
def home(home_at: HomeAt, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Home]:
    path = tmp_path_factory.mktemp("industry") / "xmo-home"
    with home_at(path) as settings:
        tenants = Tenants.from_settings(settings)
        for seed, client_id in enumerate((*POOLED, OUTSIDER), start=1):
            tenants.create_client(client_id, [f"{client_id}.example"], client_id=client_id)
            run_simulation(settings, client_id, days=3, visitors_per_day=120 * seed, seed=seed, start=START)
        tenants.create_client(EMPTY, [f"{EMPTY}.example"], client_id=EMPTY, benchmarks_opt_in=True)
        for client_id in POOLED:
            tenants.update_client(client_id, benchmarks_opt_in=True)
        compact_all(settings)
        yield Home(settings, tenants)


def _contributions(home: Home, ids: tuple[str, ...], by: str) -> pd.DataFrame:
    layout = StorageLayout.from_settings(home.settings)
    parts = []
    for client_id in ids:
        sessions = home.sessions(home.tenants.get_client(client_id))
        parts.append(client_contribution(sessions, read_spend(layout, client_id), by).assign(client=client_id))
    return pd.concat(parts, ignore_index=True)


def test_only_opted_in_clients_are_pooled_and_no_id_comes_out(home: Home) -> None:
    result = industry_benchmarks(home.settings, by="channel", load_sessions=home.sessions)
    cells = result.cells.set_index("channel")
    expected = _contributions(home, POOLED, "channel")
    assert len(cells) >= 3, "the simulated clients share several channels"
    sums = expected.groupby("cell")[["visitors", "converted_visitors", "sessions", "conversions"]].sum()
    for channel, row in cells.iterrows():
        assert row[["visitors", "converted_visitors", "sessions", "conversions"]].tolist() == sums.loc[channel].tolist()
        assert row["conversion_rate"] == pytest.approx(row["converted_visitors"] / row["visitors"])
        low, high = row["conversion_rate_low"], row["conversion_rate_high"]
        assert low <= row["conversion_rate"] <= high
    with_outsider = _contributions(home, (*POOLED, OUTSIDER), "channel").groupby("cell")["visitors"].sum()
    assert (cells["visitors"] != with_outsider.reindex(cells.index)).all(), "the outsider would change every cell"
    text = json.dumps(result.to_dict())
    assert not [cid for cid in (*POOLED, OUTSIDER, EMPTY) if cid in text]
    assert "cmp-" not in text and "visitor" not in result.cells.columns


def test_cpa_pools_the_spend_of_clients_that_report_it(home: Home) -> None:
    result = industry_benchmarks(home.settings, by="channel", load_sessions=home.sessions)
    contributions = _contributions(home, POOLED, "channel")
    with_cpa = result.cells.dropna(subset=["cpa"])
    assert not with_cpa.empty, "the simulator buys traffic on some channels"
    for _, row in with_cpa.iterrows():
        mine = contributions[(contributions["cell"] == row["channel"]) & contributions["spend"].notna()]
        assert len(mine) >= 3
        assert row["cpa"] == pytest.approx(mine["spend"].sum() / mine["spend_conversions"].sum())
        assert row["cpa_low"] <= row["cpa"]
    assert (
        result.cells.set_index("channel").loc["direct", "cpa"] != result.cells.set_index("channel").loc["direct", "cpa"]
    )


def test_a_cell_of_two_clients_is_suppressed(home: Home) -> None:
    """Take the email visitors of one pooled client away: the email cell then pools two clients and is withheld."""
    full = industry_benchmarks(home.settings, by="channel", load_sessions=home.sessions)
    assert "email" in set(full.cells["channel"])

    def without_email_for_charlie(client: Client) -> pd.DataFrame:
        sessions = home.sessions(client)
        if client.id != "charl9z":
            return sessions
        is_email = sessions["utm_medium"].fillna("").str.lower().isin({"email", "newsletter"})
        return sessions[~sessions["visitor_id"].isin(sessions.loc[is_email, "visitor_id"])]

    contributions = _contributions(home, POOLED, "channel")
    assert contributions[contributions["cell"] == "email"]["client"].nunique() == 3
    reduced = industry_benchmarks(home.settings, by="channel", load_sessions=without_email_for_charlie)
    assert "email" not in set(reduced.cells["channel"])
    assert reduced.pooled.suppressed == full.pooled.suppressed + 1
    assert "email" not in json.dumps(reduced.to_dict()["cells"])


def test_thresholds_and_devices(home: Home) -> None:
    devices = industry_benchmarks(home.settings, by="device", load_sessions=home.sessions)
    assert set(devices.cells["device"]) <= {"desktop", "mobile", "tablet", "unknown"}
    assert "cpa" not in devices.cells.columns
    assert devices.to_dict()["thresholds"] == {"min_visitors": 10, "min_clients": 3, "max_two_client_share": 0.9}
    strict = industry_benchmarks(home.settings, by="device", min_clients=4, load_sessions=home.sessions)
    assert strict.cells.empty and strict.pooled.suppressed == len(devices.cells) + devices.pooled.suppressed
    huge = industry_benchmarks(home.settings, by="device", min_visitors=10_000_000, load_sessions=home.sessions)
    assert huge.cells.empty
    for bad in (
        {"min_visitors": 5},
        {"min_clients": 2},
        {"by": "campaign"},
        {"epsilon": 0.0},
        {"epsilon": float("inf")},
    ):
        with pytest.raises(InvalidInput):
            industry_benchmarks(home.settings, **bad)  # type: ignore[arg-type]


def test_noise_is_stated_consistent_and_keeps_the_published_cells(home: Home) -> None:
    exact = industry_benchmarks(home.settings, by="channel", load_sessions=home.sessions)
    first = industry_benchmarks(home.settings, by="channel", epsilon=1.0, load_sessions=home.sessions)
    again = industry_benchmarks(home.settings, by="channel", epsilon=1.0, load_sessions=home.sessions)
    assert first.to_dict() == again.to_dict(), "asking again gets the same noise: nothing to average away"
    data = first.to_dict()
    assert data["epsilon"] == 1.0
    assert data["noise_scales"] == {
        "visitors": 5.0,
        "converted_visitors": 5.0,
        "sessions": 5.0 * SESSION_CAP,
        "conversions": 5.0 * SESSION_CAP,
        "spend_conversions": 5.0 * SESSION_CAP,
    }
    assert list(first.cells["channel"]) == list(exact.cells["channel"])
    assert not first.cells[["visitors", "sessions"]].equals(exact.cells[["visitors", "sessions"]])
    assert (first.cells["converted_visitors"] <= first.cells["visitors"]).all()
    seeded = industry_benchmarks(
        home.settings, by="channel", epsilon=1.0, rng=np.random.default_rng(3), load_sessions=home.sessions
    )
    assert seeded.to_dict() != first.to_dict()


def test_each_visitor_counts_once_in_the_cell_of_their_first_session() -> None:
    times = pd.date_range("2026-04-06", periods=30, freq="h", tz="UTC")
    sessions = pd.DataFrame(
        {
            "visitor_id": ["heavy"] * 25 + ["light"] * 5,
            "started_at": list(times[:25]) + list(times[:5]),
            "device_class": ["mobile"] + ["desktop"] * 24 + ["desktop", "mobile", "mobile", "mobile", "mobile"],
            "converted": [False] * 24 + [True] + [False, True, True, False, False],
        }
    ).sample(frac=1, random_state=1)
    cells = client_contribution(sessions, None, "device").set_index("cell")
    assert cells.loc["mobile"].tolist() == [1, 0, SESSION_CAP, 0], "the heavy visitor's 25th session is not counted"
    assert cells.loc["desktop"].tolist() == [1, 1, 5, 2]


def test_spend_on_a_channel_that_brought_nobody_still_counts() -> None:
    sessions = pd.DataFrame(
        {
            "visitor_id": ["a", "b"],
            "started_at": pd.to_datetime(["2026-04-06 10:00", "2026-04-06 11:00"], utc=True),
            "utm_source": ["google", None],
            "utm_medium": ["cpc", None],
            "referrer_host": [None, None],
            "campaign_id": ["brand", None],
            "converted": [True, False],
        }
    )
    spend = pd.DataFrame(
        {
            "date": [date(2026, 4, 6)] * 3,
            "campaign_id": ["brand", "news", "tv"],
            "channel": [None, "email", "tv"],
            "spend": [30.0, 50.0, 900.0],
        }
    )
    cells = client_contribution(sessions, spend, "channel").set_index("cell")
    assert cells.loc["search", ["visitors", "conversions", "spend", "spend_conversions"]].tolist() == [1, 1, 30.0, 1]
    assert cells.loc["email", ["visitors", "spend", "spend_conversions"]].tolist() == [0, 50.0, 0]
    assert np.isnan(cells.loc["direct", "spend"]) and "tv" not in cells.index, "untracked channels have no cell"
