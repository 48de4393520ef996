"""Creative recommendations on a simulated client's sessions (with the simulator's truth, without the lake):
confident picks match the world's best creatives, every segmentation works, and bad input is refused."""

from __future__ import annotations

import json
from functools import cache

import pandas as pd
import pytest

from core.errors import InvalidInput, NotFound, NotReady
from core.settings import Settings
from core.tenants import Client, Tenants
from strategy.creatives import creative_report, recommend_creatives, shrinkage_sentence
from xmo.simulator.traffic import simulate
from xmo.simulator.world import World, build_world

OLD_COLUMNS = [
    "campaign_id",
    "segment",
    "best_creative_id",
    "conversion_rate",
    "ci_low",
    "ci_high",
    "chance_to_be_best",
    "runner_up_creative_id",
    "sessions",
    "decision",
    "more_sessions_needed",
]


@cache
def world_and_sessions() -> tuple[World, pd.DataFrame]:
    """28 days of 3,000 visitors a day, as session records (what the lake would hold, bots left out)."""
    world = build_world(5, 28, 3000)
    truth = simulate(world).sessions
    truth = truth[~truth["bot"]]
    campaigns = {c.id: c for c in world.campaigns}
    campaign = truth["campaign_id"].astype(object)
    frame = pd.DataFrame(
        {
            "session_id": truth["session_id"].astype(str),
            "visitor_id": truth["visitor_id"],
            "campaign_id": campaign,
            "creative_id": truth["creative_id"].astype(object),
            "utm_source": [campaigns[c].utm_source if isinstance(c, str) else None for c in campaign],
            "utm_medium": [campaigns[c].utm_medium if isinstance(c, str) else None for c in campaign],
            "referrer_host": None,
            "device_class": truth["device_class"].astype(object),
            "region": truth["region"].astype(object),
            "prev_sessions": truth["is_returning"].astype(int),
            "converted": truth["converted"],
        }
    )
    return world, frame.reset_index(drop=True)


@pytest.fixture
def client(settings: Settings) -> Client:
    Tenants.from_settings(settings).create_client("Sim", ["sim.example"], client_id="sim")
    return Tenants.from_settings(settings).get_client("sim")


def loader(_client: Client) -> pd.DataFrame:
    return world_and_sessions()[1]


def test_confident_picks_match_the_truth_and_the_json_reads_well(settings: Settings, client: Client) -> None:
    world, _ = world_and_sessions()
    report = creative_report(settings, client, load_sessions=loader)
    truth = world.best_creatives()
    cells = report.table
    segments = cells[cells["segment"].isin(["desktop", "mobile"])]
    picks = segments[segments["decision"] == "run"]
    assert len(picks) >= 4
    assert all(truth[r["campaign_id"]][r["segment"]] == r["best_creative_id"] for r in picks.to_dict("records"))
    big = segments[segments["sessions"] >= 2000]
    right = [truth[r["campaign_id"]][r["segment"]] == r["best_creative_id"] for r in big.to_dict("records")]
    assert len(big) >= 5 and sum(right) >= 0.9 * len(right)

    data = report.to_dict()
    text = json.dumps(data)
    assert set(data) == {"client_id", "segment_by", "recommendations", "campaigns", "warnings"}
    assert data["segment_by"] == "device" and len(data["recommendations"]) == len(cells)
    cell = data["recommendations"][0]
    assert set(OLD_COLUMNS) <= set(cell) and cell["creatives"] and cell["sentences"]
    assert {"creative_id", "posterior_mean", "chance_to_be_best", "share", "action", "more_sessions_needed"} <= set(
        cell["creatives"][0]
    )
    assert len(data["campaigns"]) == len(world.campaigns)
    assert {c["verdict"] for c in data["campaigns"]} <= {
        "segment_winners",
        "overall_winner",
        "equivalent",
        "single_creative",
        "keep_testing",
    }
    differing = [
        c for c in data["campaigns"] if c["verdict"] == "segment_winners" and len(set(c["winners"].values())) > 1
    ]
    assert differing, "the simulator's best creatives differ by device"
    first = differing[0]
    for segment, creative in first["winners"].items():
        assert f"{creative} on {segment}" in first["sentence"]
    assert first["prior"]["method"] in ("marginal_likelihood", "weak")
    prior = first["prior"]
    assert (
        first["shrinkage"] == shrinkage_sentence(prior)
        and f"≈{prior['strength']:,.0f} more sessions" in (first["shrinkage"])
    )
    visitor = str(loader(client)["visitor_id"].iloc[0])
    assert visitor not in text and "visitor_id" not in text, "aggregates only (P11)"


@pytest.mark.parametrize(
    ("segment_by", "expected"),
    [("returning", {"new", "returning"}), ("channel", {"search", "social", "email"}), ("region", set())],
)
def test_other_segmentations(settings: Settings, client: Client, segment_by: str, expected: set[str]) -> None:
    report = creative_report(settings, client, load_sessions=loader, segment_by=segment_by)
    segments = set(report.table["segment"]) - {"all"}
    assert expected <= segments
    if segment_by == "region":
        assert segments == set(loader(client)["region"].dropna())
    assert report.to_dict()["segment_by"] == segment_by


def test_campaign_filter_gives_the_same_numbers(settings: Settings, client: Client) -> None:
    full = recommend_creatives(settings, client, load_sessions=loader)
    assert list(full.columns[: len(OLD_COLUMNS)]) == OLD_COLUMNS
    assert len(full.query("segment != 'all'")) > 0
    one = recommend_creatives(settings, client, "cmp-search-brand", load_sessions=loader)
    assert set(one["campaign_id"]) == {"cmp-search-brand"}
    pd.testing.assert_frame_equal(one, full[full["campaign_id"] == "cmp-search-brand"].reset_index(drop=True))


def test_bad_input(settings: Settings, client: Client) -> None:
    with pytest.raises(InvalidInput, match="unknown segment 'browser'"):
        creative_report(settings, client, load_sessions=loader, segment_by="browser")
    with pytest.raises(NotFound, match=r"cmp-nope.*known campaigns: cmp-"):
        creative_report(settings, client, "cmp-nope", load_sessions=loader)
    untagged = loader(client).assign(creative_id=None)
    with pytest.raises(NotReady, match="creative"):
        creative_report(settings, client, load_sessions=lambda _c: untagged)
    with pytest.raises(NotReady, match="no sessions"):
        creative_report(settings, client)


def test_shrinkage_sentence_in_plain_words() -> None:
    strong = shrinkage_sentence({"mean": 0.056, "strength": 329.4, "method": "marginal_likelihood"})
    assert strong == (
        "Rates are pulled toward this campaign's average (5.6%) as if every creative had ≈329 more sessions at "
        "that average: creatives with few sessions of their own look more alike than their raw numbers."
    )
    assert "a light pull" in shrinkage_sentence({"mean": 0.2, "strength": 2.0, "method": "weak"})
    assert "no campaign average" in shrinkage_sentence({"mean": None, "strength": 0.0, "method": "fixed"})
