"""Training sets: contents, anonymity, per-dataset salt, time split, manifest, storage and errors."""

from __future__ import annotations

import hashlib
import json
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow.parquet as pq
import pytest
from sqlalchemy import update

from core.database import get_engine
from core.errors import InvalidInput, NotFound, NotReady
from core.layout import StorageLayout
from core.schema import clients
from core.settings import Settings
from features import dataset as dataset_module
from features.anonymize import DATASET_COLUMNS
from features.dataset import DATASET_ID_PATTERN, build_dataset, list_datasets, load_dataset
from features.definitions import FEATURE_NAMES, feature_definitions_hash
from features.sessions import build_sessions

CLIENT = "shop"  # the client of the ``lake`` fixture
TIMEZONE = "Europe/Berlin"


def _planted_lake(lake: Any) -> set[str]:
    """60 sessions over five days, full of identifiers; returns every identifying string it planted."""
    planted: set[str] = set()
    rows = []
    for i in range(60):
        visitor = f"plantedvisitor{i % 20:04d}zq"  # visitors return
        session_start = i * 120 + (i % 3) * 7
        ip_prefix, email, member = f"198.51.{i}.0", f"emailpseudonym{i:04d}" * 2, f"memberpseudonym{i:04d}" * 2
        url = f"https://shop.example/private/landing-{i:04d}?utm_source=x"
        referrer = f"https://referrer.example/secret-page-{i:04d}"
        hits = [
            lake.hit(
                visitor,
                session_start,
                url=url,
                path=f"/private/landing-{i:04d}",
                referrer=referrer,
                referrer_host="referrer.example",
                ip_prefix=ip_prefix,
                email_pseudonym=email,
                member_pseudonym=member,
                consent=True,
                utm_source="google",
                utm_medium="cpc",
                campaign_id=f"c-{i % 4}",
            )
        ]
        hits.append(lake.hit(visitor, session_start + 2, event_type="click", ip_prefix=ip_prefix))
        if i % 4 == 0:
            hits.append(lake.hit(visitor, session_start + 3, event_type="goal", goal="purchase", value=10.0 + i))
        rows += hits
        planted |= {
            visitor,
            *(f"{visitor}:{n}" for n in (1, 2, 3)),
            ip_prefix,
            email,
            member,
            url,
            referrer,
            f"/private/landing-{i:04d}",
            *(h["event_id"] for h in hits),
        }
    lake.write(rows)
    return planted


def _decoded_text(path: Path) -> str:
    """Every value, column name and metadata entry of a Parquet file, as text."""
    table = pq.read_table(path)
    parts = [str(table.schema), str(table.schema.metadata)]
    for column in table.columns:  # to_pylist decodes dictionaries
        parts.extend(str(value) for value in column.to_pylist())
    return "\n".join(parts)


def test_build_and_load_round_trip_with_a_complete_manifest(settings: Settings, lake: Any) -> None:
    _planted_lake(lake)
    manifest = build_dataset(settings, CLIENT, timezone=TIMEZONE)
    folder = StorageLayout.from_settings(settings).client_datasets_dir(CLIENT) / manifest.dataset_id
    loaded = load_dataset(settings, CLIENT)

    assert loaded.manifest == manifest
    assert loaded.path == folder
    assert sorted(p.name for p in folder.iterdir()) == ["data", "manifest.json", "privacy_report.json"]
    assert [f.path for f in manifest.data_files] == ["data/part-00000.parquet"]
    assert DATASET_ID_PATTERN.fullmatch(manifest.dataset_id)
    frame = loaded.frame
    assert tuple(frame.columns) == DATASET_COLUMNS
    assert frame["converted"].dtype == "int64" and set(frame["converted"]) == {0, 1}
    assert frame["conversion_value"].dtype == "float64"
    assert frame["session_date"].dtype == "datetime64[ms]"
    assert (frame["session_date"] == frame["session_date"].dt.normalize()).all()
    assert frame["row_key"].str.fullmatch(r"[0-9a-f]{64}").all() and frame["row_key"].is_unique

    on_disk = json.loads((folder / "manifest.json").read_text())
    for data_file in manifest.data_files:
        assert data_file.sha256 == hashlib.sha256((folder / data_file.path).read_bytes()).hexdigest()
    assert sum(f.rows for f in manifest.data_files) == len(loaded.frame)
    assert on_disk["data_sha256"] == dataset_module.data_digest(list(manifest.data_files))
    assert on_disk == json.loads(manifest.to_json())
    assert manifest.client_id == CLIENT and manifest.engine == "duckdb" and manifest.timezone == TIMEZONE
    assert manifest.session_timeout_minutes == settings.session_timeout_minutes
    assert manifest.row_counts == {"train": 42, "valid": 9, "test": 9}
    assert frame["converted"].sum() == 15
    for split in ("train", "valid", "test"):
        part = frame[frame["split"] == split]
        assert len(part) == manifest.row_counts[split]
        assert manifest.label_rates[split] == pytest.approx(part["converted"].mean())
    assert manifest.feature_definitions_hash == feature_definitions_hash()
    assert [f.name for f in manifest.features] == list(FEATURE_NAMES)
    assert {f.kind for f in manifest.features} == {"numeric", "categorical"}
    assert manifest.label_columns == ("converted", "conversion_value")
    assert manifest.code_version.package_version == "0.1.0"
    assert manifest.source_partitions == tuple(
        f"lake/events/client_id={CLIENT}/date=2024-03-0{d}/part-test-0000.parquet" for d in range(4, 10)
    )
    assert (manifest.time_range_start, manifest.time_range_end) == (
        "2024-03-04T09:00:00+00:00",
        "2024-03-09T08:00:00+00:00",
    )
    assert (manifest.first_session_date, manifest.last_session_date) == ("2024-03-04", "2024-03-09")


def test_time_split_puts_the_oldest_sessions_in_train(settings: Settings, layout: StorageLayout, lake: Any) -> None:
    _planted_lake(lake)
    manifest = build_dataset(settings, CLIENT, timezone=TIMEZONE)
    frame = load_dataset(settings, CLIENT).frame
    assert manifest.valid_start is not None and manifest.test_start is not None
    valid_start, test_start = pd.Timestamp(manifest.valid_start), pd.Timestamp(manifest.test_start)
    assert valid_start < test_start

    starts = build_sessions(layout, CLIENT)["started_at"]
    assert manifest.row_counts["train"] == (starts < valid_start).sum()
    assert manifest.row_counts["test"] == (starts >= test_start).sum()
    days = {split: frame.loc[frame["split"] == split, "session_date"] for split in ("train", "valid", "test")}
    assert days["train"].max() <= days["valid"].min()
    assert days["valid"].max() <= days["test"].min()
    assert frame["split"].cat.codes.is_monotonic_increasing  # stored train, then valid, then test


def test_the_training_set_holds_no_identifiers(settings: Settings, lake: Any) -> None:
    planted = _planted_lake(lake)
    manifest = build_dataset(settings, CLIENT, timezone=TIMEZONE)
    folder = StorageLayout.from_settings(settings).client_datasets_dir(CLIENT) / manifest.dataset_id
    files = sorted(p for p in folder.rglob("*") if p.is_file())
    assert len(files) == 3
    texts = {p.name: _decoded_text(p) if p.suffix == ".parquet" else p.read_text() for p in files}
    for needle in planted:
        for name, text in texts.items():
            assert needle not in text, f"{needle!r} found in {name}"
        for path in files:
            assert needle.encode() not in path.read_bytes(), f"{needle!r} found in the bytes of {path.name}"
    frame = load_dataset(settings, CLIENT).frame
    assert not {
        "visitor_id",
        "session_id",
        "ip_prefix",
        "url",
        "path",
        "referrer",
        "referrer_host",
        "landing_path",
        "email_pseudonym",
        "member_pseudonym",
        "started_at",
        "ended_at",
        "event_id",
    } & set(frame.columns)
    timestamps = [c for c in frame.columns if pd.api.types.is_datetime64_any_dtype(frame[c])]
    assert timestamps == ["session_date"]


def test_each_training_set_has_its_own_salt(settings: Settings, lake: Any) -> None:
    _planted_lake(lake)
    first = build_dataset(settings, CLIENT, timezone=TIMEZONE)
    second = build_dataset(settings, CLIENT, timezone=TIMEZONE)
    a = load_dataset(settings, CLIENT, first.dataset_id).frame
    b = load_dataset(settings, CLIENT, second.dataset_id).frame

    assert first.dataset_id < second.dataset_id
    assert not set(a["row_key"]) & set(b["row_key"])  # cannot be joined on a session
    features = [*FEATURE_NAMES, "converted", "conversion_value", "session_date", "split"]
    key = ["session_date", "split", "hour", "duration_s", "prev_sessions", "converted"]
    pd.testing.assert_frame_equal(
        a[features].sort_values(key).reset_index(drop=True), b[features].sort_values(key).reset_index(drop=True)
    )
    assert first.data_sha256 != second.data_sha256
    assert [m.dataset_id for m in list_datasets(settings, CLIENT)] == [second.dataset_id, first.dataset_id]
    assert load_dataset(settings, CLIENT).manifest == second  # the newest by default


def test_since_and_until_limit_the_sessions(settings: Settings, lake: Any) -> None:
    _planted_lake(lake)
    manifest = build_dataset(settings, CLIENT, timezone=TIMEZONE, since=date(2024, 3, 5), until=date(2024, 3, 6))
    frame = load_dataset(settings, CLIENT).frame

    assert (manifest.since, manifest.until) == ("2024-03-05", "2024-03-06")
    assert frame["session_date"].min() == pd.Timestamp("2024-03-05")
    assert frame["session_date"].max() == pd.Timestamp("2024-03-06")
    assert sum(manifest.row_counts.values()) == 24
    assert not any("date=2024-03-09" in p for p in manifest.source_partitions)  # beyond until + 2 days
    assert frame["prev_sessions"].max() >= 1  # history from before `since` is kept


def test_the_clients_time_zone_comes_from_the_registry(settings: Settings, lake: Any) -> None:
    with get_engine(settings).begin() as connection:  # the ``lake`` fixture registered the client in UTC
        connection.execute(update(clients).where(clients.c.id == CLIENT).values(timezone="America/New_York"))
    lake.write([lake.hit(minutes=0), lake.hit(lake.visitor_b, minutes=5)])  # 09:00 UTC = 04:00 in New York

    assert build_dataset(settings, CLIENT, valid_fraction=0, test_fraction=0, k=2).timezone == "America/New_York"
    assert load_dataset(settings, CLIENT).frame["hour"].tolist() == [4.0, 4.0]
    with pytest.raises(NotFound, match="unknown client 'nobody'"):
        build_dataset(settings, "nobody")


def test_bad_input_is_refused_with_clear_messages(settings: Settings, lake: Any) -> None:
    with pytest.raises(NotReady, match=r"no events for client 'shop' in the lake; run `xmo simulate"):
        build_dataset(settings, CLIENT, timezone="UTC")
    with pytest.raises(InvalidInput, match="after until"):
        build_dataset(settings, CLIENT, timezone="UTC", since=date(2024, 3, 5), until=date(2024, 3, 4))
    with pytest.raises(InvalidInput, match="nothing would be left to train on"):
        build_dataset(settings, CLIENT, timezone="UTC", valid_fraction=0.5, test_fraction=0.5)
    with pytest.raises(InvalidInput, match="invalid client id"):
        build_dataset(settings, "../escape", timezone="UTC")
    lake.write([lake.hit(minutes=0)])
    with pytest.raises(NotReady, match="no sessions of client 'shop' started between 2030-01-01"):
        build_dataset(settings, CLIENT, timezone="UTC", since=date(2030, 1, 1))
    with pytest.raises(NotReady, match="no training set for client 'shop'"):
        load_dataset(settings, CLIENT)
    with pytest.raises(NotFound, match="no training set '20240101T000000000000Z-abcdef'"):
        load_dataset(settings, CLIENT, "20240101T000000000000Z-abcdef")
    with pytest.raises(InvalidInput, match="invalid dataset id"):
        load_dataset(settings, CLIENT, "../../etc")
    assert list_datasets(settings, CLIENT) == []


def test_a_damaged_data_file_is_detected(settings: Settings, lake: Any) -> None:
    lake.write([lake.hit(minutes=0), lake.hit(minutes=90)])
    manifest = build_dataset(settings, CLIENT, timezone="UTC", valid_fraction=0, test_fraction=0, k=2)
    folder = StorageLayout.from_settings(settings).client_datasets_dir(CLIENT) / manifest.dataset_id
    data = folder / manifest.data_files[0].path
    data.write_bytes(data.read_bytes()[:-1] + b"X")

    with pytest.raises(NotReady, match="damaged"):
        load_dataset(settings, CLIENT)


def test_a_failed_write_leaves_nothing_behind(settings: Settings, lake: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    lake.write([lake.hit(minutes=0), lake.hit(minutes=90)])

    def broken_write(*args: Any, **kwargs: Any) -> None:
        raise OSError("disk full")

    monkeypatch.setattr("features.dataset.pq.write_table", broken_write)
    with pytest.raises(OSError, match="disk full"):
        build_dataset(settings, CLIENT, timezone="UTC", k=2)
    folder = StorageLayout.from_settings(settings).client_datasets_dir(CLIENT)
    assert list(folder.iterdir()) == []


def test_dataset_ids_sort_by_creation_time() -> None:
    earlier = dataset_module.new_dataset_id(pd.Timestamp("2024-05-01T10:11:12.000001Z").to_pydatetime())
    later = dataset_module.new_dataset_id(pd.Timestamp("2024-05-01T10:11:12.000002Z").to_pydatetime())
    assert earlier.startswith("20240501T101112000001Z-")
    assert earlier < later
    assert DATASET_ID_PATTERN.fullmatch(earlier)


def test_session_timeout_setting_is_used(settings: Settings, lake: Any) -> None:
    lake.write([lake.hit(minutes=0), lake.hit(minutes=20)])
    short = Settings(home=settings.home, session_timeout_minutes=10)
    options = {"timezone": "UTC", "valid_fraction": 0, "test_fraction": 0, "k": 2}
    assert build_dataset(short, CLIENT, **options).row_counts["train"] == 2
    # With the default 30 minutes there is one session, too few to be 2-anonymous: nothing is written.
    with pytest.raises(NotReady, match=r"all 1 sessions of client 'shop' were suppressed .*k = 2"):
        build_dataset(settings, CLIENT, **options)
    assert timedelta(minutes=settings.session_timeout_minutes) == timedelta(minutes=30)


def test_row_keys_are_the_standard_hmac_of_the_session_id() -> None:
    import hmac

    from features.anonymize import row_keys

    ids = pd.Series(["visitorA:1", "visitorB:12", "visitör:3"], index=[7, 8, 9])
    for salt in (b"s" * 16, bytes(range(32)), bytes(range(100))):  # short, usual, longer than a SHA-256 block
        keys = row_keys(ids, salt)
        assert keys.index.tolist() == [7, 8, 9]
        assert keys.tolist() == [hmac.new(salt, i.encode(), hashlib.sha256).hexdigest() for i in ids]
    with pytest.raises(ValueError, match="at least 16 random bytes"):
        row_keys(ids, b"short")
