"""Two engines, one answer: DuckDB, the pandas kernel and Dask (on a LocalCluster) give the same sessions and
the same training sets, row for row, on a simulated lake and on a lake full of bad input."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any

import pandas as pd
import pyarrow.parquet as pq
import pytest
from dask.distributed import LocalCluster

from core.errors import NotReady
from core.layout import StorageLayout
from core.settings import Settings
from core.tenants import Tenants
from features.dataset import build_dataset, load_dataset, load_privacy_report
from features.goals import GoalDefinition, GoalStore
from features.kanonymity import QUASI_IDENTIFIERS, min_group_size
from features.session_rules import SessionOptions
from features.sessions import input_quality, lake_files, sessions_from_files
from features.sessions_pandas import sessionize_events, usable_events
from tracking.compactor import compact_all
from xmo.simulator.cli import run_simulation

SIM = "sim"
OPTIONS = (
    SessionOptions(),
    SessionOptions(timezone="Europe/Berlin", split_at_midnight=True, attribution_window_days=7),
    SessionOptions(
        timeout_minutes=5,
        goals=(
            GoalDefinition.create("big-purchase", kind="purchase", match="purchase", min_value=50.0),
            GoalDefinition.create("signup", kind="registration", match="reg*"),
            GoalDefinition.create("pricing", kind="custom", event_type="pageview", path="/pricing*"),
        ),
        attribution_window_days=2,
    ),
)


@pytest.fixture(scope="module")
def cluster() -> Iterator[str]:
    """One LocalCluster (2 worker processes) for the module; tests pass its address as the scheduler."""
    with LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address="127.0.0.1:0"
    ) as local:
        yield str(local.scheduler_address)


@pytest.fixture
def simulated(settings: Settings) -> date:
    """A client ``sim`` (Europe/Berlin) with eight days of simulated traffic in the lake; returns day one."""
    Tenants.from_settings(settings).create_client("Sim", ["sim.example"], client_id=SIM, timezone="Europe/Berlin")
    outcome = run_simulation(settings, SIM, days=8, visitors_per_day=120, seed=11)
    compact_all(settings)
    return outcome.world.start


def _lake_events(settings: Settings, client_id: str) -> pd.DataFrame:
    files = lake_files(StorageLayout.from_settings(settings), client_id)
    return pd.concat([pq.read_table(f).to_pandas() for f in files], ignore_index=True)


def _sorted(frame: pd.DataFrame) -> pd.DataFrame:
    columns = [c for c in frame.columns if c != "row_key"]
    return frame[columns].sort_values(columns).reset_index(drop=True)


@pytest.mark.parametrize("options", OPTIONS, ids=["defaults", "midnight-window", "goals"])
def test_duckdb_and_the_pandas_kernel_give_the_same_sessions(
    settings: Settings, simulated: date, options: SessionOptions
) -> None:
    files = lake_files(StorageLayout.from_settings(settings), SIM)
    by_duckdb = sessions_from_files(files, SIM, options)
    by_pandas = sessionize_events(_lake_events(settings, SIM), options)

    assert len(by_duckdb) > 500 and by_duckdb["window_conversions"].sum() > 0
    pd.testing.assert_frame_equal(by_duckdb, by_pandas, check_exact=False, rtol=1e-12)
    assert input_quality(files, SIM, options) == usable_events(_lake_events(settings, SIM), options)[1]


def test_dask_duckdb_and_pandas_build_the_same_training_set(settings: Settings, simulated: date, cluster: str) -> None:
    GoalStore.from_settings(settings).add_goal(SIM, GoalDefinition.create("purchase", kind="purchase"))
    window = {"since": simulated + timedelta(days=2), "until": simulated + timedelta(days=6)}
    built = {
        engine: build_dataset(settings, SIM, engine=engine, dask_scheduler=cluster, attribution_window_days=1, **window)
        for engine in ("duckdb", "dask", "pandas")
    }
    frames = {engine: load_dataset(settings, SIM, m.dataset_id).frame for engine, m in built.items()}

    reference = _sorted(frames["duckdb"])
    assert len(reference) > 300 and reference["converted"].sum() > 0
    for engine in ("dask", "pandas"):
        pd.testing.assert_frame_equal(_sorted(frames[engine]), reference)
        manifest = built[engine]
        assert manifest.engine == engine
        for field in ("row_counts", "label_rates", "input_quality", "valid_start", "test_start", "k_anonymity"):
            assert getattr(manifest, field) == getattr(built["duckdb"], field), field
        reports = [load_privacy_report(load_dataset(settings, SIM, m.dataset_id)) for m in (manifest, built["duckdb"])]
        assert reports[0] == reports[1]
    assert len(built["dask"].data_files) > 1  # written partition by partition
    for frame in frames.values():
        assert min_group_size(frame, QUASI_IDENTIFIERS) >= 10
        assert not set(frames["duckdb"]["row_key"]) & set(frames["dask"]["row_key"])  # a salt per dataset


def test_the_engines_agree_on_bad_input(settings: Settings, lake: Any, cluster: str) -> None:
    good = [lake.hit(f"visitor{i:03d}xxxxxxxxxxxxxxxx", minutes=i * 7) for i in range(40)]
    retried = [dict(h, received_at=h["received_at"] + timedelta(seconds=5), path="/retry") for h in good[:5]]
    future = [lake.hit(minutes=1, ts=lake.t0 + timedelta(days=3), received_at=lake.t0)]  # clock ahead by 3 days
    invalid = [lake.hit(minutes=2, event_type="teleport"), dict(lake.hit(minutes=3), visitor_id="")]
    lake.write_unchecked([*good, *retried, *future, *invalid], "2024-03-04")

    built = {
        e: build_dataset(settings, lake.client_id, engine=e, dask_scheduler=cluster, k=2) for e in ("duckdb", "dask")
    }

    expected = {"events_read": 48, "invalid_events": 2, "future_events": 1, "duplicate_events": 5, "events_used": 40}
    for manifest in built.values():
        assert manifest.input_quality == expected
    frames = [load_dataset(settings, lake.client_id, m.dataset_id).frame for m in built.values()]
    pd.testing.assert_frame_equal(_sorted(frames[0]), _sorted(frames[1]))
    assert sum(built["duckdb"].row_counts.values()) == 40


def test_an_unreachable_scheduler_is_a_clear_error(settings: Settings, lake: Any) -> None:
    lake.write([lake.hit(minutes=0)])
    with pytest.raises(NotReady, match=r"cannot reach the Dask scheduler at tcp://127\.0\.0\.1:9"):
        build_dataset(settings, lake.client_id, engine="dask", dask_scheduler="tcp://127.0.0.1:9")
