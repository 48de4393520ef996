"""The demo's files (simulated truth, summary) go with a purge of the client they describe, and only then."""

from __future__ import annotations

from datetime import date

from core.settings import Settings
from core.tenants import Tenants
from xmo.demo import SUMMARY_FILE, DemoSummary, save_summary
from xmo.simulator.cli import run_simulation
from xmo.simulator.forgetting import DemoFilesStore


def test_demo_files_are_forgotten_with_their_client_only(settings: Settings) -> None:
    Tenants.from_settings(settings).create_client("Demo", ["demo.example"], client_id="demo-shop")
    truth = settings.home / "demo" / "truth"
    run_simulation(settings, "demo-shop", days=1, visitors_per_day=20, seed=1, start=date(2026, 1, 5), truth_out=truth)
    save_summary(settings, DemoSummary(client_id="demo-shop", days=1, seed=1))
    store = DemoFilesStore(settings)

    assert store.forget_client("other-shop") == 0 and truth.exists()
    assert len(store.client_traces("demo-shop")) == 2
    assert store.forget_client("demo-shop") == 2
    assert not truth.exists() and not (settings.home / "run" / SUMMARY_FILE).exists()
    assert store.client_traces("demo-shop") == [] and store.forget_client("demo-shop") == 0
