"""``/v1/mmm`` over real HTTP: a client with weekly KPI and spend and a registered media-mix model reads its summary,
predictions (JSON and CSV), decomposition and curves; fits and promotes through the API; a client without a model
gets a 409 that says how to fit one; bad dates and bodies get JSON 4xx errors; keys see only their client's model."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import pytest

from core.layout import StorageLayout
from core.tenants import NewClient, Tenants
from serving.app import create_app
from serving.routes import mmm as mmm_routes
from tests.conftest import HomeAt, LiveServer
from tracking.kpi import import_kpi, import_kpi_file
from tracking.spend import import_spend, import_spend_file
from training.mmm import fit_mmm

DATA = Path(__file__).parents[1] / "tracking" / "data"
WEEKS = 80  # the small client's weeks: over a year, so the fit has yearly terms


@dataclass(frozen=True)
class Site:
    http: httpx.Client
    shop: NewClient  # 208 weeks of the weekly fixture pair, a registered model (version 1, champion)
    small: NewClient  # its first 80 weeks, no model yet: fitted and promoted through the API
    empty: NewClient  # no data at all


def auth(created: NewClient) -> dict[str, str]:
    return {"Authorization": f"Bearer {created.api_key}"}


def error_of(response: httpx.Response, status: int) -> dict[str, str]:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"} and {"code", "message"} <= set(body["error"]), body
    assert "Traceback" not in response.text
    return body["error"]


@pytest.fixture(scope="module")
def site(home_at: HomeAt, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    with home_at(tmp_path_factory.mktemp("mmm-routes") / "xmo-home") as settings:
        tenants = Tenants.from_settings(settings)
        shop = tenants.create_client("Shop", ["shop.example"], client_id="shop", currency="EUR")
        small = tenants.create_client("Small", ["small.example"], client_id="small")
        empty = tenants.create_client("Empty", ["empty.example"], client_id="empty")
        layout = StorageLayout.from_settings(settings)
        import_kpi_file(layout, "shop", DATA / "weekly_kpi.csv")
        import_spend_file(layout, "shop", DATA / "weekly_spend.csv")
        kpi = pd.read_csv(DATA / "weekly_kpi.csv").rename(columns={"DATE": "date"})
        spend = pd.read_csv(DATA / "weekly_spend.csv").rename(columns={"DATE": "date"})
        weeks = set(kpi["date"].head(WEEKS))
        import_kpi(layout, "small", kpi[kpi["date"].isin(weeks)].reset_index(drop=True))
        import_spend(layout, "small", spend[spend["date"].isin(weeks)].reset_index(drop=True))
        fit_mmm(settings, "shop", select_families=False, n_draws=12)
        with (
            LiveServer(create_app(settings)) as server,
            httpx.Client(base_url=server.url, timeout=120) as http,
        ):
            yield Site(http, shop, small, empty)


def test_the_summary_names_the_champion_its_fit_and_versions(site: Site) -> None:
    http = site.http
    assert error_of(http.get("/v1/mmm"), 401)["code"] == "unauthorized"
    summary = http.get("/v1/mmm", headers=auth(site.shop))
    assert summary.status_code == 200, summary.text
    s = summary.json()
    assert (s["client_id"], s["model_name"], s["version"], s["alias"]) == ("shop", "xmo-mmm-shop", "1", "champion")
    assert (s["kpi"], s["cadence"], s["period_days"], s["n_periods"]) == ("revenue", "week", 7, 208)
    assert sorted(c["channel"] for c in s["channels"]) == ["facebook", "ooh", "print", "search", "tv"]
    assert s["holdout"]["n_periods"] > 0 and s["data_changed"] is False
    assert [v["version"] for v in s["versions"]] == ["1"] and "champion" in s["versions"][0]["aliases"]


def test_predictions_cover_the_weeks_with_the_holdout_marked_and_export_as_csv(site: Site) -> None:
    http, headers = site.http, auth(site.shop)
    summary = http.get("/v1/mmm", headers=headers).json()
    answer = http.get("/v1/mmm/predictions", headers=headers)
    assert answer.status_code == 200, answer.text
    p = answer.json()
    rows = p["rows"]
    assert (p["kpi"], p["version"], p["period_days"], len(rows)) == ("revenue", "1", 7, 208)
    held = [r for r in rows if r["split"] == "holdout"]
    assert len(held) == summary["holdout"]["n_periods"] and rows[-len(held) :] == held  # the tail
    assert held[0]["date"] == summary["holdout"]["first_day"]
    assert all(r["lower"] <= r["predicted"] <= r["upper"] for r in rows)
    actual = pd.read_csv(DATA / "weekly_kpi.csv")["revenue"]
    assert [r["actual"] for r in rows] == pytest.approx(actual.tolist())

    window = http.get("/v1/mmm/predictions", params={"since": "2023-01-01", "until": "2023-03-31"}, headers=headers)
    dates = [r["date"] for r in window.json()["rows"]]
    assert len(dates) == 13 and dates[0] >= "2023-01-01" and dates[-1] <= "2023-03-31"

    exported = http.get("/v1/mmm/predictions.csv", params={"since": "2023-01-01"}, headers=headers)
    assert exported.status_code == 200 and exported.headers["content-type"].startswith("text/csv")
    assert exported.headers["content-disposition"] == 'attachment; filename="xmo-mmm-predictions-shop.csv"'
    table = list(csv.DictReader(io.StringIO(exported.text)))
    assert list(table[0]) == ["date", "actual", "predicted", "lower", "upper", "split"]
    by_date = {r["date"]: r for r in rows}
    assert len(table) == sum(1 for r in rows if r["date"] >= "2023-01-01")
    assert all(float(t["predicted"]) == pytest.approx(by_date[t["date"]]["predicted"]) for t in table)


def test_the_decomposition_adds_up_and_each_part_has_its_interval(site: Site) -> None:
    answer = site.http.get("/v1/mmm/decomposition", headers=auth(site.shop))
    assert answer.status_code == 200, answer.text
    d = answer.json()
    assert sorted(d["channels"]) == ["facebook", "ooh", "print", "search", "tv"] and d["n_periods"] == 208
    for row in d["rows"]:
        parts = row["baseline"] + sum(row["controls"].values()) + sum(row["contributions"].values())
        assert parts == pytest.approx(row["predicted"], rel=1e-6)
    assert sum(r["predicted"] for r in d["rows"]) == pytest.approx(d["predicted"])
    channel_parts = [p for p in d["parts"] if p["kind"] == "channel"]
    assert sum(p["total"] for p in channel_parts) == pytest.approx(d["media_effect"])
    assert {p["name"] for p in channel_parts} == set(d["channels"])
    for part in channel_parts:
        assert part["interval"] is None or part["interval"][0] <= part["interval"][1]
    late = site.http.get("/v1/mmm/decomposition", params={"since": "2025-01-01"}, headers=auth(site.shop)).json()
    assert late["first_day"] >= "2025-01-01" and late["n_periods"] == len(late["rows"]) < 208


def test_curves_rise_with_spend_and_carry_the_observed_weeks(site: Site) -> None:
    answer = site.http.get("/v1/mmm/curves", params={"points": 12}, headers=auth(site.shop))
    assert answer.status_code == 200, answer.text
    c = answer.json()
    assert (c["unit"], c["period_days"], c["kpi"]) == ("week", 7, "revenue")
    assert sorted(c["channels"]) == ["facebook", "ooh", "print", "search", "tv"]
    for curve in c["channels"].values():
        assert len(curve["spend"]) == len(curve["effect"]) == 12 and curve["spend"][0] == 0
        assert all(b >= a - 1e-9 for a, b in zip(curve["effect"], curve["effect"][1:], strict=False))
        assert len(curve["observed"]["spend"]) == len(curve["observed"]["date"]) == 208
        assert curve["current_spend"] >= 0
    bad = site.http.get("/v1/mmm/curves", params={"points": 1}, headers=auth(site.shop))
    assert "points" in error_of(bad, 422)["message"]


def test_bad_dates_are_json_errors(site: Site) -> None:
    headers = auth(site.shop)
    for path in ("/v1/mmm/predictions", "/v1/mmm/predictions.csv", "/v1/mmm/decomposition"):
        assert "since" in error_of(site.http.get(path, params={"since": "yesterday"}, headers=headers), 422)["message"]
        assert "until" in error_of(site.http.get(path, params={"until": "2025-13-01"}, headers=headers), 422)["message"]
        backwards = site.http.get(path, params={"since": "2025-02-01", "until": "2025-01-01"}, headers=headers)
        assert "after until" in error_of(backwards, 400)["message"]
    nothing = site.http.get("/v1/mmm/decomposition", params={"since": "2030-01-01"}, headers=headers)
    assert error_of(nothing, 400)["code"] == "invalid_input"


READS = ("/v1/mmm", "/v1/mmm/predictions", "/v1/mmm/predictions.csv", "/v1/mmm/decomposition", "/v1/mmm/curves")


def test_without_a_model_every_route_says_how_to_fit_one(site: Site) -> None:
    for path in READS:
        error = error_of(site.http.get(path, headers=auth(site.small)), 409)
        assert error["code"] == "not_ready" and "xmo mmm fit small" in error["message"], path
        assert "shop" not in site.http.get(path, headers=auth(site.empty)).text  # another client's model stays hidden
    no_data = site.http.post("/v1/mmm/fit", headers=auth(site.empty))
    assert "xmo kpi import empty" in error_of(no_data, 409)["message"]
    assert error_of(site.http.post("/v1/mmm/promote", headers=auth(site.empty)), 409)["code"] == "not_ready"


def test_bad_fit_and_promote_bodies_are_refused_before_any_work(site: Site) -> None:
    headers = auth(site.small)
    for body, field in (
        ({"holdout_periods": -1}, "holdout_periods"),
        ({"holdout_periods": "many"}, "holdout_periods"),
        ({"kpi": 5}, "kpi"),
        ({"select_families": "perhaps"}, "select_families"),
        ({"n_draws": 1}, "n_draws"),
        ({"colour": "blue"}, "colour"),
    ):
        error = error_of(site.http.post("/v1/mmm/fit", json=body, headers=headers), 422)
        assert field in error["message"], (body, error)
    assert (
        "version" in error_of(site.http.post("/v1/mmm/promote", json={"version": "x"}, headers=headers), 422)["message"]
    )
    mmm_routes._fitting.add("small")  # as while a fit of the client runs: a second one waits its turn
    try:
        busy = site.http.post("/v1/mmm/fit", json={}, headers=headers)
        assert "already running" in error_of(busy, 409)["message"]
    finally:
        mmm_routes._fitting.discard("small")
    unknown = site.http.post("/v1/mmm/fit", json={"kpi": "footfall"}, headers=headers)
    assert "footfall" in error_of(unknown, 400)["message"]
    assert error_of(site.http.get("/v1/mmm", headers=headers), 409)["code"] == "not_ready"  # nothing registered


def test_fit_then_refit_and_promote_through_the_api(site: Site) -> None:
    headers = auth(site.small)
    first = site.http.post("/v1/mmm/fit", json={"select_families": False, "n_draws": 10}, headers=headers)
    assert first.status_code == 200, first.text
    fitted = first.json()
    assert (fitted["version"], fitted["aliases"], fitted["kpi"], fitted["registered"]) == (
        "1",
        ["champion"],
        "revenue",
        True,
    )
    assert fitted["fit_report"]["n_periods"] == WEEKS and fitted["period_days"] == 7
    assert site.http.get("/v1/mmm", headers=headers).json()["version"] == "1"
    again = site.http.post("/v1/mmm/fit", json={"select_families": False, "n_draws": 10}, headers=headers).json()
    assert (again["registered"], again["identical_to"], again["version"]) == (False, "champion", "1")

    second = site.http.post(
        "/v1/mmm/fit", json={"select_families": False, "n_draws": 10, "holdout_periods": 8}, headers=headers
    )
    assert second.status_code == 200, second.text
    assert (second.json()["version"], second.json()["aliases"]) == ("2", ["challenger"])
    already = site.http.post("/v1/mmm/promote", json={"version": "1"}, headers=headers)
    assert "already the champion" in error_of(already, 400)["message"]
    missing = site.http.post("/v1/mmm/promote", json={"version": "9"}, headers=headers)
    assert error_of(missing, 404)["code"] == "not_found"
    forced = site.http.post("/v1/mmm/promote", json={"force": True}, headers=headers)
    assert forced.status_code == 200, forced.text
    decision = forced.json()
    assert (decision["challenger_version"], decision["champion_version"]) == ("2", "1")
    assert decision["promoted"] and decision["decision"] in {"promoted", "forced"} and decision["reasons"]
    summary = site.http.get("/v1/mmm", headers=headers).json()
    assert summary["version"] == "2" and [v["version"] for v in summary["versions"]] == ["2", "1"]
    assert site.http.get("/v1/mmm", headers=auth(site.shop)).json()["version"] == "1"  # the other client's


def test_the_openapi_document_describes_the_routes(site: Site) -> None:
    document: dict[str, Any] = site.http.get("/openapi.json").json()
    paths = document["paths"]
    for path in ("/v1/mmm", "/v1/mmm/fit", "/v1/mmm/promote", "/v1/mmm/predictions", "/v1/mmm/decomposition"):
        assert path in paths, path
    assert "409" in paths["/v1/mmm"]["get"]["responses"]
    body = paths["/v1/mmm/fit"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert body  # the options are documented
    assert "text/csv" in paths["/v1/mmm/predictions.csv"]["get"]["responses"]["200"]["content"]
