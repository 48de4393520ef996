"""How client systems read visitor holdouts: the cached index, ``/v1/holdout`` and the pixel's header."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from core.layout import StorageLayout
from core.settings import Settings
from core.tenants import NewClient, Tenants
from privacy.keyvault import KeyVault
from serving.holdout_index import HoldoutIndex
from strategy.experiments.holdout import HOLDOUT_KEY_PURPOSE, holdout_position
from tracking.experiments import Experiment, replace_experiment, store_new_experiment

SHARE = 0.5


def _holdout(client_id: str, start: date, channel: str = "email") -> Experiment:
    return Experiment(
        experiment_id=f"holdout-{channel}-{start:%Y%m%d}",
        client_id=client_id,
        type="holdout",
        channel=channel,
        campaign_id=None,
        kpi="conversions",
        action="pause",
        start_date=start,
        end_date=start + timedelta(days=27),
        weeks=4,
        lift=0.1,
        level=0.9,
        treatment_regions=(),
        control_regions=(),
        holdout_share=SHARE,
        spend_change=None,
        design={"units": 1000},
        status="running",
        created_at=datetime.now(UTC),
    )


def _visitors(key: bytes, experiment_id: str) -> tuple[str, str]:
    """A visitor id held out of the experiment and one that is not."""
    ids = [f"{i:032x}" for i in range(1, 64)]
    held = [v for v in ids if holdout_position(key, experiment_id, v) < SHARE]
    kept = [v for v in ids if holdout_position(key, experiment_id, v) >= SHARE]
    return held[0], kept[0]


def test_index_caches_and_looks_again_after_the_refresh(settings: Settings) -> None:
    tenants = Tenants.from_settings(settings)
    acme = tenants.create_client("Acme", ["acme.example.com"])
    layout = StorageLayout.from_settings(settings)
    now = [0.0]
    index = HoldoutIndex(settings, refresh_s=30, clock=lambda: now[0])
    today = date(2026, 3, 10)
    assert index.flags(acme.client.id, "a" * 32, today) == [] and index.key(acme.client.id) is None
    experiment = store_new_experiment(
        layout, tenants.engine, acme.client.id, _holdout(acme.client.id, date(2026, 3, 2)), actor="test"
    )
    key = KeyVault.from_settings(settings).derived_key(acme.client.id, HOLDOUT_KEY_PURPOSE)
    held, kept = _visitors(key, experiment.experiment_id)
    assert index.flags(acme.client.id, held, today) == []  # cached empty until the refresh
    now[0] = 31.0
    assert index.flags(acme.client.id, held, today) == [experiment.experiment_id]
    assert index.flags(acme.client.id, kept, today) == []
    assert index.flags(acme.client.id, held, date(2026, 3, 1)) == []  # before its start
    assert [e.experiment_id for e in index.running(acme.client.id, today)] == [experiment.experiment_id]
    stopped = replace(experiment, status="stopped", stopped_at=datetime.now(UTC), stop_date=today)
    replace_experiment(layout, tenants.engine, acme.client.id, stopped, actor="test", action="stop")
    now[0] = 62.0
    assert index.flags(acme.client.id, held, today) == []
    assert index.running(acme.client.id, today) == []


@pytest.fixture
def clients(settings: Settings) -> tuple[NewClient, NewClient, Experiment]:
    tenants = Tenants.from_settings(settings)
    acme = tenants.create_client("Acme", ["acme.example.com"])
    other = tenants.create_client("Other", ["other.example.com"])
    today = datetime.now(UTC).date()
    experiment = store_new_experiment(
        StorageLayout.from_settings(settings),
        tenants.engine,
        acme.client.id,
        _holdout(acme.client.id, today - timedelta(days=3)),
        actor="test",
    )
    return acme, other, experiment


def test_lookup_api_and_pixel_header(
    serve: Any, settings: Settings, clients: tuple[NewClient, NewClient, Experiment]
) -> None:
    acme, other, experiment = clients
    key = KeyVault.from_settings(settings).derived_key(acme.client.id, HOLDOUT_KEY_PURPOSE)
    held, kept = _visitors(key, experiment.experiment_id)
    auth = {"Authorization": f"Bearer {acme.api_key}"}
    with serve(settings, timeout=30) as http:
        one = http.get("/v1/holdout", params={"visitor_id": held}, headers=auth)
        assert one.status_code == 200, one.text
        body = one.json()
        assert body["day"] == datetime.now(UTC).date().isoformat()
        assert body["experiments"] == [
            {"experiment_id": experiment.experiment_id, "channel": "email", "holdout_share": SHARE}
        ]
        assert body["visitors"] == [{"visitor_id": held, "holdout": [experiment.experiment_id]}]
        batch = http.post("/v1/holdout", json={"visitor_ids": [kept, held]}, headers=auth)
        assert batch.status_code == 200, batch.text
        assert batch.json()["visitors"] == [
            {"visitor_id": kept, "holdout": []},
            {"visitor_id": held, "holdout": [experiment.experiment_id]},
        ]
        theirs = http.post(
            "/v1/holdout", json={"visitor_ids": [held]}, headers={"Authorization": f"Bearer {other.api_key}"}
        )
        assert theirs.json() == {
            "day": body["day"],
            "experiments": [],
            "visitors": [{"visitor_id": held, "holdout": []}],
        }

        for response, fragment in (
            (http.get("/v1/holdout", params={"visitor_id": "not an id!"}, headers=auth), "not an xmo visitor id"),
            (http.post("/v1/holdout", json={"visitor_ids": [held, 7]}, headers=auth), "visitor_ids[1] = 7"),
            (http.post("/v1/holdout", json={"visitor_ids": [held] * 10_001}, headers=auth), "at most 10,000"),
            (http.post("/v1/holdout", json=[held], headers=auth), "visitor_ids"),
        ):
            assert response.status_code == 400, response.text
            assert fragment in response.json()["error"]["message"]
        assert http.get("/v1/holdout", params={"visitor_id": held}).status_code == 401

        pixel = {"k": acme.site_key, "send_image": "0"}
        flagged = http.get("/t.gif", params=pixel, headers={"Cookie": f"xmo_id={held}"})
        assert flagged.status_code == 204 and flagged.headers["x-xmo-holdout"] == experiment.experiment_id
        plain = http.get("/t.gif", params=pixel, headers={"Cookie": f"xmo_id={kept}"})
        assert plain.status_code == 204 and "x-xmo-holdout" not in plain.headers
        elsewhere = http.get("/t.gif", params={"k": other.site_key}, headers={"Cookie": f"xmo_id={held}"})
        assert elsewhere.status_code == 200 and "x-xmo-holdout" not in elsewhere.headers
