"""A second ``xmo demo`` on the same home reuses a finished demo or refuses clearly; it never corrupts data."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.settings import Settings
from xmo.demo import DemoOptions, DemoRefused, DemoSummary, create_demo_client, fresh_keys, prepare_home, save_summary


def test_fresh_home_starts_the_pipeline(settings: Settings) -> None:
    assert prepare_home(settings, DemoOptions()) is None


def test_finished_demo_is_reused_with_new_keys(settings: Settings) -> None:
    first = create_demo_client(settings)
    save_summary(settings, DemoSummary(client_id="demo-shop", days=30, seed=7, model_version="1"))
    reused = prepare_home(settings, DemoOptions())
    assert reused is not None and reused.model_version == "1"
    again = fresh_keys(settings)
    assert set(again) == {"site_key", "api_key", "admin_key"}
    assert all(again[k] != first[k] for k in again), "old keys are revoked, new ones shown"


def test_unfinished_or_foreign_data_is_refused_untouched(settings: Settings) -> None:
    create_demo_client(settings)  # a run that stopped before its summary
    before = sorted(p.relative_to(settings.home) for p in settings.home.rglob("*"))
    with pytest.raises(DemoRefused, match="--reset"):
        prepare_home(settings, DemoOptions())
    assert sorted(p.relative_to(settings.home) for p in settings.home.rglob("*")) == before


def test_reset_deletes_only_an_xmo_home(settings: Settings, tmp_path: Path) -> None:
    create_demo_client(settings)
    assert prepare_home(settings, DemoOptions(reset=True)) is None
    assert not settings.home.exists()
    foreign = Settings(home=tmp_path / "photos")
    foreign.home.mkdir()
    (foreign.home / "holiday.jpg").write_bytes(b"\xff\xd8")
    with pytest.raises(DemoRefused, match="did not make"):
        prepare_home(foreign, DemoOptions(reset=True))
    assert (foreign.home / "holiday.jpg").exists()
