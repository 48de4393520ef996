"""Small seeded worlds shared by the simulator's tests (built once per module: they are pure values)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from xmo.simulator.traffic import Traffic, simulate
from xmo.simulator.world import World, build_world


def recent_start(days: int) -> date:
    """A start date such that ``days`` days end yesterday (the edge refuses times in the future)."""
    return datetime.now(UTC).date() - timedelta(days=days)


@pytest.fixture(scope="module")
def small_world() -> World:
    """14 days, 150 sessions a day."""
    return build_world(seed=11, days=14, visitors_per_day=150, start=recent_start(14))


@pytest.fixture(scope="module")
def small_traffic(small_world: World) -> Traffic:
    return simulate(small_world, client_id="sim-shop", domain="shop.example.com")
