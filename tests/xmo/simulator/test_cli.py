"""``xmo simulate``: spool, spend and truth from one command; bad input is a clear error."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest
import typer
from typer.testing import CliRunner

from core.errors import InvalidInput, NotFound
from core.layout import StorageLayout
from core.settings import Settings
from core.tenants import Tenants
from tracking.spend import read_spend
from tracking.spool import Spool
from xmo.simulator.cli import register, run_simulation
from xmo.simulator.truth import load_truth


@pytest.fixture
def shop(settings: Settings) -> str:
    Tenants.from_settings(settings).create_client("Shop", ["*.shop.example.com"], client_id="shop")
    return "shop"


def test_simulation_fills_the_spool_and_stores_spend_and_truth(settings: Settings, shop: str, tmp_path: Path) -> None:
    outcome = run_simulation(settings, shop, days=5, visitors_per_day=60, seed=4, truth_out=tmp_path / "truth")
    assert outcome.spool is not None and outcome.http is None
    assert outcome.traffic.domain == "www.shop.example.com"
    assert Spool.from_settings(settings).pending_events() == outcome.spool.accepted > 0
    spend = read_spend(StorageLayout(settings.home), shop)
    assert outcome.spend_rows == len(spend) == 5 * len(outcome.world.campaigns)
    expected = outcome.traffic.spend.sort_values(["date", "campaign_id"]).reset_index(drop=True)
    assert spend["spend"].round(2).tolist() == expected["spend"].round(2).tolist()
    assert load_truth(tmp_path / "truth").world == outcome.world
    assert outcome.world.start + timedelta(days=5) == datetime.now(UTC).date(), "ends yesterday by default"
    summary = outcome.to_dict()
    assert summary["sessions"] == len(outcome.traffic.sessions) and summary["spool"]["accepted"] > 0


def test_spend_is_replaced_not_doubled_on_a_rerun(settings: Settings, shop: str) -> None:
    run_simulation(settings, shop, days=3, visitors_per_day=20, seed=1)
    again = run_simulation(settings, shop, days=3, visitors_per_day=20, seed=2)
    spend = read_spend(StorageLayout(settings.home), shop)
    assert len(spend) == 3 * len(again.world.campaigns)
    assert spend["spend"].sum() == pytest.approx(again.traffic.spend["spend"].sum())


@pytest.mark.parametrize(
    ("arguments", "error", "message"),
    [
        ({"client_id": "nobody"}, NotFound, "unknown client 'nobody'"),
        ({"days": 0}, InvalidInput, "--days must be at least 1"),
        ({"visitors_per_day": 0}, InvalidInput, "--visitors-per-day must be at least 1"),
        ({"via": "http://127.0.0.1:9"}, InvalidInput, "site key and API key"),
        ({"via": "not a url", "site_key": "s", "api_key": "a"}, InvalidInput, "invalid URL"),
        ({"start": datetime.now(UTC).date()}, InvalidInput, "in the future"),
        ({"client_id": "Bad Id"}, InvalidInput, "invalid client id"),
    ],
)
def test_bad_input_is_a_clear_error(
    settings: Settings, shop: str, arguments: dict[str, object], error: type[Exception], message: str
) -> None:
    options: dict[str, object] = {"client_id": shop, "days": 3, "visitors_per_day": 10, "seed": 1, **arguments}
    client_id = options.pop("client_id")
    with pytest.raises(error, match=message):
        run_simulation(settings, str(client_id), **options)  # type: ignore[arg-type]


def test_command_prints_a_summary_or_json(settings: Settings, shop: str) -> None:
    app = typer.Typer()
    register(app)
    app.command("noop")(lambda: None)  # a second command, so "simulate" is a sub-command as in `xmo`
    runner = CliRunner()
    result = runner.invoke(app, ["simulate", shop, "--days", "2", "--visitors-per-day", "30", "--seed", "5", "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["client_id"] == shop and summary["days"] == 2 and summary["spool"]["received"] == summary["hits"]
    assert pd.Timestamp(summary["start"]) < pd.Timestamp.now()
    result = runner.invoke(app, ["simulate", shop, "--days", "2", "--visitors-per-day", "30"])
    assert result.exit_code == 0 and "sessions" in result.stdout and "xmo compact" in result.stdout
    failed = runner.invoke(app, ["simulate", shop, "--days", "0"])
    assert isinstance(failed.exception, InvalidInput)
