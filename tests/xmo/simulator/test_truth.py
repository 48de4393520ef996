"""The truth on disk: everything needed to judge models later, and nothing personal."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from core.errors import NotFound
from xmo.simulator.traffic import Traffic
from xmo.simulator.truth import load_truth, write_truth
from xmo.simulator.world import World


def test_truth_round_trips(tmp_path: Path, small_world: World, small_traffic: Traffic) -> None:
    path = write_truth(tmp_path / "truth", small_world, small_traffic)
    truth = load_truth(path)
    assert truth.world == small_world and truth.client_id == "sim-shop" and truth.domain == "shop.example.com"
    pd.testing.assert_frame_equal(truth.sessions, small_traffic.sessions, check_dtype=False, check_categorical=False)
    document = json.loads((path / "world.json").read_text())
    world = document["world"]
    assert world["seed"] == 11 and world["best_creatives"] == small_world.best_creatives()
    curve = world["campaigns"][0]["response"]
    assert {"adstock_decay", "half_saturation", "shape", "max_daily_sessions"} <= set(curve)
    assert set(world["rates"]) >= {"consent", "optout", "gpc", "bot"}


def test_campaign_days_pair_spend_with_expected_and_realized_sessions(
    tmp_path: Path, small_world: World, small_traffic: Traffic
) -> None:
    days = load_truth(write_truth(tmp_path / "t", small_world, small_traffic)).campaign_days
    assert len(days) == small_world.days * len(small_world.campaigns)
    assert days["sessions"].sum() == small_traffic.sessions["campaign_id"].notna().sum()
    assert np.isclose(days["spend"].sum(), small_traffic.spend["spend"].sum())
    assert days["expected_sessions"].sum() == pytest.approx(days["sessions"].sum(), rel=0.05)


def test_truth_holds_no_personal_data(tmp_path: Path, small_world: World, small_traffic: Traffic) -> None:
    path = write_truth(tmp_path / "truth", small_world, small_traffic)
    sessions = load_truth(path).sessions
    assert not {"email", "member_id", "ip"} & set(sessions.columns)
    for value in [*small_traffic.hits["email"].dropna().unique()[:20], *small_traffic.hits["ip"].unique()[:20]]:
        assert value.encode() not in (path / "world.json").read_bytes()


def test_loading_a_folder_without_truth_is_not_found(tmp_path: Path) -> None:
    with pytest.raises(NotFound, match="xmo simulate --truth-out"):
        load_truth(tmp_path)
