"""The world: seeded, scaled to the asked traffic, with varying spend and segment-dependent best creatives."""

from __future__ import annotations

import json
from datetime import date

import numpy as np
import pytest

from core.errors import InvalidInput
from xmo.simulator.catalog import DEVICE_CLASSES
from xmo.simulator.world import World, build_world

CHANNELS = {"search", "social", "display", "email", "affiliate"}


def test_same_arguments_same_world_other_seed_other_world() -> None:
    a = build_world(3, 30, 500, date(2026, 1, 1))
    assert a == build_world(3, 30, 500, date(2026, 1, 1))
    other = build_world(4, 30, 500, date(2026, 1, 1))
    assert other != a
    assert [c.response for c in other.campaigns] != [c.response for c in a.campaigns]


def test_the_start_date_only_moves_the_world_in_time() -> None:
    a = build_world(3, 30, 500, date(2026, 1, 1))
    b = build_world(3, 30, 500, date(2026, 3, 1))
    assert a.campaigns == b.campaigns and a.organic == b.organic and a.dates[0] != b.dates[0]


def test_campaigns_cover_every_channel_with_creatives_and_utm_tags() -> None:
    world = build_world(1, 14, 100)
    assert {c.channel for c in world.campaigns} == CHANNELS
    for campaign in world.campaigns:
        assert campaign.id.startswith("cmp-") and campaign.utm_source and campaign.utm_medium
        assert len(campaign.creatives) >= 2 and all(cr.id.startswith("cr-") for cr in campaign.creatives)
        assert sum(cr.weight for cr in campaign.creatives) == pytest.approx(1.0, abs=1e-3)
    assert {o.channel for o in world.organic} == {"direct", "referral", "organic_search"}


@pytest.mark.parametrize("visitors_per_day", [1, 40, 1000, 25_000])
def test_expected_traffic_matches_the_asked_visitors_per_day(visitors_per_day: int) -> None:
    world = build_world(5, 60, visitors_per_day)
    assert world.expected_daily_sessions() == pytest.approx(visitors_per_day, rel=0.01)


def test_spend_varies_so_response_curves_are_identifiable() -> None:
    world = build_world(2, 90, 1000)
    for campaign in world.campaigns:
        spend = np.asarray(campaign.daily_spend)
        assert len(spend) == 90 and (spend >= 0).all()
        weekly = spend[:84].reshape(12, 7).sum(axis=1)
        assert weekly.std() / weekly.mean() > 0.15, f"{campaign.id} spends about the same every week"
        assert campaign.response.max_daily_sessions > 0
        assert 0 <= campaign.response.adstock_decay < 1


def test_best_creative_differs_between_desktop_and_mobile() -> None:
    for seed in range(5):
        best = build_world(seed, 14, 100).best_creatives()
        for campaign_id, by_device in best.items():
            assert set(by_device) == set(DEVICE_CLASSES)
            assert by_device["desktop"] != by_device["mobile"], campaign_id


def test_world_survives_a_json_round_trip() -> None:
    world = build_world(9, 21, 300, date(2026, 5, 4))
    document = json.loads(json.dumps(world.to_dict()))
    assert document["best_creatives"] == world.best_creatives()
    assert World.from_dict(document) == world


@pytest.mark.parametrize(
    ("days", "visitors", "seed", "message"),
    [(0, 100, 1, "days"), (10, 0, 1, "visitors per day"), (-3, 100, 1, "days"), (10, 100, -1, "seed")],
)
def test_bad_arguments_are_invalid_input(days: int, visitors: int, seed: int, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        build_world(seed, days, visitors)
