"""``/healthz``, ``/readyz`` (database, spool, model store; 503 with reasons) and ``/metrics`` over real HTTP."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from fastapi import FastAPI

from core.layout import StorageLayout
from core.maintenance_status import JobStatus, MaintenanceStatus, write_status
from core.settings import Settings
from core.tenants import NewClient, Tenants
from serving.app import create_app
from serving.routes import health
from tracking.edge import Edge, EdgeConfig, EdgePolicy, raw_frame
from tracking.spool import HOST_TAG, Spool

Live = tuple[httpx.Client, FastAPI, NewClient]


@pytest.fixture
def live(settings: Settings, live_server_factory: Any) -> Iterator[Live]:
    acme = Tenants.from_settings(settings).create_client("Acme", ["acme.example.com"])
    app = create_app(settings)
    with live_server_factory(app) as server, httpx.Client(base_url=server.url, timeout=30) as http:
        yield http, app, acme


def test_ready_when_everything_answers(live: Live) -> None:
    http, _, _ = live
    ready = http.get("/readyz")
    assert ready.status_code == 200
    checks = ready.json()["checks"]
    assert ready.json()["status"] == "ok" and "reasons" not in checks
    assert checks["database"] == "ok" and checks["spool"] == "ok" and checks["model_store"] == "ok"
    assert checks["spool_pending_events"] == 0 and checks["models"] == {}
    assert http.get("/healthz").json() == {"status": "ok", "checks": {}}


def test_ready_counts_what_ended_workers_left_in_their_spools_and_shows_the_background_jobs(
    live: Live, settings: Settings
) -> None:
    http, _, acme = live
    layout = StorageLayout.from_settings(settings)
    edge = Edge(EdgeConfig(), EdgePolicy, lambda c: b"k" * 32)
    hits = [
        {
            "client_id": acme.client.id,
            "event_type": "pageview",
            "visitor_id": "v" * 32,
            "event_id": f"x{i}",
            "ts": datetime.now(UTC),
        }
        for i in range(3)
    ]
    ended = Spool(layout.spool_dir / f"spool-{HOST_TAG}-999999.db")  # a worker that died before compaction
    ended.append(edge.process(raw_frame(hits)).events)
    ended.close()
    checks = http.get("/readyz").json()["checks"]
    assert checks["spool_pending_events"] == 3
    assert checks["background_jobs"] == "not started"

    write_status(
        layout, MaintenanceStatus(pid=os.getpid(), started_at=time.time(), jobs={"compaction": JobStatus(runs=2)})
    )
    jobs = http.get("/readyz").json()["checks"]["background_jobs"]
    assert jobs["running"] is True and jobs["pid"] == os.getpid() and jobs["jobs"]["compaction"]["runs"] == 2


def test_unreachable_database_is_503_with_the_reason(live: Live, tmp_path: Any) -> None:
    http, app, _ = live
    registry = app.state.runtime.tenants
    working = registry.engine
    registry.engine = sa.create_engine(f"sqlite:///{tmp_path / 'missing' / 'dir' / 'xmo.db'}")
    try:
        broken = http.get("/readyz")
        alive = http.get("/healthz")
    finally:
        registry.engine.dispose()
        registry.engine = working
    assert broken.status_code == 503 and broken.json()["status"] == "unavailable"
    checks = broken.json()["checks"]
    assert checks["database"].startswith("error: ") and checks["reasons"] == ["database unreachable"]
    assert "Traceback" not in broken.text and str(tmp_path) not in broken.text
    assert alive.status_code == 200, "liveness does not depend on the database"
    assert http.get("/readyz").status_code == 200


def test_a_full_disk_or_unloaded_models_are_not_ready(live: Live, monkeypatch: pytest.MonkeyPatch) -> None:
    http, app, _ = live
    monkeypatch.setattr(health, "MIN_SPOOL_FREE_BYTES", 1 << 62)
    full = http.get("/readyz")
    assert full.status_code == 503 and "free for the spool" in full.json()["checks"]["reasons"][0]
    monkeypatch.setattr(health, "MIN_SPOOL_FREE_BYTES", 0)
    app.state.models_loaded = False
    loading = http.get("/readyz")
    assert loading.status_code == 503
    assert loading.json()["checks"]["model_store"] == "loading"
    assert loading.json()["checks"]["reasons"] == ["champion models not loaded yet"]


def test_metrics_cover_requests_latencies_drops_and_model_versions(live: Live, monkeypatch: pytest.MonkeyPatch) -> None:
    http, app, acme = live
    loaded = {"acme": SimpleNamespace(name="xmo-conversion-acme", version="3")}  # as the model store reports it
    monkeypatch.setattr(app.state.runtime.models, "loaded", lambda: loaded)
    http.get("/v1/goals", headers={"Authorization": f"Bearer {acme.api_key}"})
    http.get("/t.gif", params={"k": "xmo_site_unknown"})
    text = http.get("/metrics").text
    assert 'xmo_http_requests_total{method="GET",route="/v1/goals",status="200"} 1.0' in text
    assert 'xmo_http_request_duration_seconds_count{route="/v1/goals"} 1.0' in text
    assert 'xmo_hits_dropped_total{reason="unknown_site_key"} 1.0' in text
    assert 'xmo_model_version{client_id="acme"} 3.0' in text
    assert acme.api_key not in text
