"""Exports: the client's own data in open formats (its rows only, never another client's), third-party
disclosures only with a recipient and a legal basis, refusals that write and audit nothing, audit entries
with counts and no personal data, and the streamed one-file form."""

from __future__ import annotations

import hashlib
import io
import json
import shutil
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

import pandas as pd
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq
import pytest

from core import audit
from core.audit import CLI_ACTOR
from core.database import get_engine
from core.errors import Conflict, InvalidInput, NotFound
from core.layout import StorageLayout
from core.settings import Settings
from core.tenants import Tenants
from features.dataset import build_dataset, list_datasets
from privacy.export import (
    OWN_ACTION,
    THIRD_PARTY_ACTION,
    Exporter,
    ExportFormat,
    TableExporter,
    discover_exporters,
    export_client,
    stream_export,
)
from tracking.compactor import compact_all
from tracking.experiments import Experiment, store_new_experiment
from tracking.kpi import read_kpi
from tracking.lake import count_events, event_files
from tracking.spend import read_spend, spend_path
from xmo.simulator.cli import run_simulation

HomeAt = Callable[[Path], AbstractContextManager[Settings]]  # the home_at fixture (tests/conftest.py)


@dataclass(frozen=True)
class Home:
    settings: Settings
    layout: StorageLayout
    alpha_visitors: frozenset[str]
    bravo_visitors: frozenset[str]


HOLDOUT = Experiment(
    experiment_id="holdout-email-20260413",
    client_id="alpha",
    type="holdout",
    channel="email",
    campaign_id=None,
    kpi="revenue",
    action="pause",
    start_date=date(2026, 4, 13),
    end_date=date(2026, 4, 19),
    weeks=1,
    lift=0.1,
    level=0.9,
    treatment_regions=(),
    control_regions=(),
    holdout_share=0.1,
    spend_change=None,
    design={"power": 0.8},
    status="running",
    created_at=datetime(2026, 4, 12, tzinfo=UTC),
)


def visitors(layout: StorageLayout, client_id: str) -> frozenset[str]:
    tables = [pq.read_table(p, columns=["visitor_id"]) for p in event_files(layout, client_id)]
    return frozenset(v for t in tables for v in t.column("visitor_id").to_pylist())


@pytest.fixture(scope="module")
def home(home_at: HomeAt, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Home]:
    """alpha: a week of traffic and a training set; bravo: three days of its own traffic."""
    path = tmp_path_factory.mktemp("export") / "xmo-home"
    with home_at(path) as settings:
        tenants = Tenants.from_settings(settings)
        tenants.create_client("Alpha", ["alpha.example"], client_id="alpha")
        tenants.create_client("Bravo", ["bravo.example"], client_id="bravo")
        run_simulation(settings, "alpha", days=7, visitors_per_day=150, seed=5, start=date(2026, 4, 6))
        run_simulation(settings, "bravo", days=3, visitors_per_day=40, seed=9, start=date(2026, 4, 6))
        compact_all(settings)
        build_dataset(settings, "alpha")
        layout = StorageLayout.from_settings(settings)
        store_new_experiment(layout, tenants.engine, "alpha", HOLDOUT, actor="test")
        alpha, bravo = visitors(layout, "alpha"), visitors(layout, "bravo")
        assert alpha and bravo and not alpha & bravo
        yield Home(settings, layout, alpha, bravo)


def entries(settings: Settings) -> list[audit.AuditEntry]:
    return [e for e in audit.entries(get_engine(settings)) if e.action.startswith("export.")]


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_the_rooms_register_their_exporters(home: Home) -> None:
    exporters = discover_exporters(home.settings)
    assert sorted(exporters) == ["datasets", "events", "experiments", "kpi", "lift", "models", "sessions", "spend"]
    assert all(isinstance(e, Exporter) for e in exporters.values())
    streamed = {n for n, e in exporters.items() if isinstance(e, TableExporter)}
    assert streamed == {"events", "sessions", "spend", "kpi", "lift"}


def test_the_clients_own_export_holds_its_data_only(home: Home, tmp_path: Path) -> None:
    before = len(entries(home.settings))
    out = tmp_path / "alpha-export"
    report = export_client(home.settings, "alpha", out, actor=CLI_ACTOR)

    events = pq.read_table(out / "events")  # the date=… folders read as a partitioned table
    assert events.num_rows == count_events(home.layout, "alpha") == report.parts["events"].records
    assert set(events.column("client_id").to_pylist()) == {"alpha"}
    assert set(events.column("visitor_id").to_pylist()) == home.alpha_visitors  # none of bravo's
    for source in event_files(home.layout, "alpha"):  # byte for byte as stored
        assert sha256(out / "events" / source.parent.name / source.name) == sha256(source)

    sessions = pq.read_table(out / "sessions" / "sessions.parquet").to_pandas()
    assert len(sessions) == report.parts["sessions"].records > 0
    assert set(sessions["visitor_id"]) <= home.alpha_visitors
    assert sessions["converted"].any()  # labelled by the sessionization features uses

    (dataset,) = list_datasets(home.settings, "alpha")
    copied = out / "datasets" / dataset.dataset_id
    assert json.loads((copied / "manifest.json").read_text())["client_id"] == "alpha"
    for data_file in dataset.data_files:
        assert sha256(copied / data_file.path) == data_file.sha256
    assert (report.parts["datasets"].records, report.parts["models"].records) == (1, 0)  # alpha has no model yet
    spend = out / "spend" / "spend.parquet"  # spend, KPIs and lift tests: one file each, as stored
    assert pq.read_table(spend).num_rows == report.parts["spend"].records == len(read_spend(home.layout, "alpha")) > 0
    assert sha256(spend) == sha256(spend_path(home.layout, "alpha"))
    assert report.parts["kpi"].records == len(read_kpi(home.layout, "alpha"))
    (stored,) = json.loads((out / "experiments" / "experiments.json").read_text())["experiments"]
    assert stored["experiment_id"] == HOLDOUT.experiment_id and report.parts["experiments"].records == 1

    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["client_id"] == "alpha" and manifest["recipient"] is None
    listed = {f["path"]: f["sha256"] for f in manifest["files"]}
    on_disk = {p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()} - {"manifest.json"}
    assert set(listed) == on_disk and all(sha256(out / p) == digest for p, digest in listed.items())
    assert "`events/`" in (out / "README.md").read_text()
    assert [p.name for p in tmp_path.iterdir()] == ["alpha-export"]  # no staging folder left

    (entry,) = entries(home.settings)[before:]
    assert (entry.action, entry.actor, entry.client_id) == (OWN_ACTION, CLI_ACTOR, "alpha")
    assert entry.details == {
        "form": "folder",
        "files": report.files,
        **{name: part.records for name, part in report.parts.items()},
    }


def test_a_third_party_export_needs_a_recipient_and_a_legal_basis(home: Home, tmp_path: Path) -> None:
    before = len(entries(home.settings))
    out = tmp_path / "partner"
    refused = [
        ({"recipient": "Partner GmbH"}, "legal basis"),
        ({"legal_basis": "NDA of 2026-03-01"}, "recipient"),
        ({"recipient": "   ", "legal_basis": "NDA"}, "recipient must not be empty"),
        ({"recipient": "Partner", "legal_basis": ""}, "legal basis must not be empty"),
        ({"recipient": "Partner\x00", "legal_basis": "NDA"}, "control characters"),
        ({"recipient": "P" * 201, "legal_basis": "NDA"}, "at most 200"),
    ]
    for arguments, fragment in refused:
        with pytest.raises(InvalidInput, match=fragment):
            export_client(home.settings, "alpha", out, ["events"], actor=CLI_ACTOR, **arguments)
        assert not out.exists()
    assert len(entries(home.settings)) == before

    report = export_client(
        home.settings,
        "alpha",
        out,
        ["sessions"],
        actor=CLI_ACTOR,
        recipient=" Partner  GmbH ",
        legal_basis="NDA of 2026-03-01",
    )
    assert list(report.parts) == ["sessions"] and not (out / "events").exists()
    assert json.loads((out / "manifest.json").read_text())["recipient"] == "Partner GmbH"
    assert "to Partner GmbH (legal basis: NDA of 2026-03-01)" in (out / "README.md").read_text()
    (entry,) = entries(home.settings)[before:]
    assert entry.action == THIRD_PARTY_ACTION
    assert entry.details == {
        "form": "folder",
        "files": 1,
        "sessions": report.parts["sessions"].records,
        "recipient": "Partner GmbH",
        "legal_basis": "NDA of 2026-03-01",
    }


def test_refusals_write_and_audit_nothing(home: Home, tmp_path: Path) -> None:
    before = len(entries(home.settings))
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "keep.txt").write_text("mine")
    with pytest.raises(Conflict, match="not an empty folder"):
        export_client(home.settings, "alpha", busy, ["events"], actor=CLI_ACTOR)
    assert [p.name for p in busy.iterdir()] == ["keep.txt"]
    a_file = tmp_path / "file"
    a_file.write_text("x")
    with pytest.raises(Conflict):
        export_client(home.settings, "alpha", a_file, ["events"], actor=CLI_ACTOR)
    with pytest.raises(InvalidInput, match=r"'logs'.*choose from events, sessions, datasets, models"):
        export_client(home.settings, "alpha", tmp_path / "new", ["events", "logs"], actor=CLI_ACTOR)
    with pytest.raises(NotFound):
        export_client(home.settings, "nobody", tmp_path / "new", actor=CLI_ACTOR)
    assert not (tmp_path / "new").exists() and len(entries(home.settings)) == before

    empty = tmp_path / "empty"
    empty.mkdir()
    report = export_client(home.settings, "bravo", empty, ["events"], actor=CLI_ACTOR)
    assert report.parts["events"].records == count_events(home.layout, "bravo")
    assert set(pq.read_table(empty / "events").column("visitor_id").to_pylist()) == home.bravo_visitors


@pytest.mark.parametrize("fmt", list(ExportFormat))
def test_the_streamed_form_is_one_readable_file(home: Home, fmt: ExportFormat) -> None:
    before = len(entries(home.settings))
    for what in ("events", "sessions"):
        stream = stream_export(home.settings, "alpha", what, fmt, actor="key:xmo_api_abc")
        data = b"".join(stream.chunks)
        assert stream.filename.startswith(f"alpha-{what}-") and stream.filename.endswith(f".{fmt.value}")
        if fmt is ExportFormat.PARQUET:
            frame = pq.read_table(io.BytesIO(data)).to_pandas()
        else:
            frame = pa_csv.read_csv(io.BytesIO(data)).to_pandas()
        assert len(frame) == stream.rows > 0
        assert set(frame["visitor_id"]) <= home.alpha_visitors
        if what == "events":
            assert stream.rows == count_events(home.layout, "alpha") and set(frame["client_id"]) == {"alpha"}
    logged = entries(home.settings)[before:]
    assert [(e.actor, e.details["what"], e.details["format"]) for e in logged] == [
        ("key:xmo_api_abc", "events", fmt.value),
        ("key:xmo_api_abc", "sessions", fmt.value),
    ]


def test_a_client_without_data_streams_an_empty_file_with_the_columns(home: Home) -> None:
    Tenants.from_settings(home.settings).create_client("Charlie", ["charlie.example"], client_id="charlie")
    stream = stream_export(home.settings, "charlie", "sessions", ExportFormat.PARQUET, actor=CLI_ACTOR)
    table = pq.read_table(io.BytesIO(b"".join(stream.chunks)))
    assert stream.rows == table.num_rows == 0 and "visitor_id" in table.column_names
    csv = b"".join(stream_export(home.settings, "charlie", "events", ExportFormat.CSV, actor=CLI_ACTOR).chunks)
    assert csv.decode().splitlines()[0].startswith('"event_id","client_id"')
    with pytest.raises(InvalidInput, match="cannot be streamed"):
        stream_export(home.settings, "alpha", "datasets", ExportFormat.CSV, actor=CLI_ACTOR)


def test_the_audit_log_holds_no_personal_data(home: Home, tmp_path: Path) -> None:
    export_client(home.settings, "alpha", tmp_path / "again", ["events", "sessions"], actor=CLI_ACTOR)
    text = json.dumps([e.details for e in entries(home.settings)])
    assert entries(home.settings)
    assert not any(v in text for v in home.alpha_visitors | home.bravo_visitors)
    sessions = pd.read_parquet(tmp_path / "again" / "sessions" / "sessions.parquet")
    assert not any(s in text for s in sessions["session_id"])


def test_an_export_that_fails_halfway_leaves_nothing(home: Home, tmp_path: Path) -> None:
    (dataset,) = list_datasets(home.settings, "alpha")
    broken = home.layout.client_datasets_dir("bravo") / dataset.dataset_id
    shutil.copytree(home.layout.client_datasets_dir("alpha") / dataset.dataset_id, broken)
    (broken / "data" / "part-99999.parquet").symlink_to(tmp_path / "gone.parquet")  # a file that cannot be read
    before = len(entries(home.settings))
    try:
        with pytest.raises(shutil.Error):
            export_client(home.settings, "bravo", tmp_path / "out", ["events", "datasets"], actor=CLI_ACTOR)
    finally:
        shutil.rmtree(broken)
    assert list(tmp_path.iterdir()) == [] and len(entries(home.settings)) == before
