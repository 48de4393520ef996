"""A second ``xmo demo`` on the same home reuses a finished demo (naming today's champion) or refuses clearly; it
never corrupts data. The stage timings print one stage a line."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.settings import Settings
from models.registry import configure_mlflow, conversion_model_name
from xmo.cli import main
from xmo.commands.demo import print_stage_times
from xmo.demo import (
    DEMO_CLIENT_ID,
    DemoOptions,
    DemoRefused,
    DemoSummary,
    create_demo_client,
    fresh_keys,
    prepare_home,
    save_summary,
)


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


def _register_versions(settings: Settings, roc_aucs: list[float]) -> None:
    """Versions 1..n of the demo model, each with a run holding its test ROC AUC (no training: only the registry)."""
    client = configure_mlflow(settings)
    experiment = client.create_experiment("demo-versions")
    name = conversion_model_name(DEMO_CLIENT_ID)
    client.create_registered_model(name)
    for auc in roc_aucs:
        run = client.create_run(experiment)
        client.log_metric(run.info.run_id, "test_roc_auc", auc)
        client.log_param(run.info.run_id, "dataset_id", "no-such-set")
        client.create_model_version(name, (settings.home / "nowhere").as_uri(), run_id=run.info.run_id)


def test_a_reused_demo_names_the_champion_of_today(settings: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    name = conversion_model_name(DEMO_CLIENT_ID)
    saved = DemoSummary(client_id=DEMO_CLIENT_ID, days=30, seed=7, model_name=name, model_version="1")
    saved.metrics, saved.dataset_rows = {"roc_auc": 0.61}, 5000
    save_summary(settings, saved)
    _register_versions(settings, [0.61, 0.66])
    client = configure_mlflow(settings)
    client.set_registered_model_alias(name, "champion", "2")  # promoted after the demo ran

    assert main(["demo", "--no-serve"]) == 0
    out = capsys.readouterr().out
    assert f"Model {name} v2 (champion): test ROC AUC 0.660" in out, out
    assert "v1" not in out

    client.delete_registered_model_alias(name, "champion")
    assert main(["demo", "--no-serve"]) == 0
    assert f"Model {name} has no champion now (see `xmo models {DEMO_CLIENT_ID}`)" in capsys.readouterr().out


def test_stage_times_are_one_stage_a_line(capsys: pytest.CaptureFixture[str]) -> None:
    stages = {"sending hits to the pixel over HTTP": 137.2, "importing daily spend": 0.4, "x" * 90: 3.0}
    print_stage_times(stages)
    lines = capsys.readouterr().err.splitlines()
    assert lines[0] == "stages:" and len(lines) == 1 + len(stages)
    for line, (stage, seconds) in zip(lines[1:], stages.items(), strict=True):
        assert line.strip().startswith(stage) and line.endswith(f"{seconds:.0f} s"), line
