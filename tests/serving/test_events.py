"""Server-side events over real HTTP on 127.0.0.1: whole-request checks, per-event drops, durable → lake."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import httpx
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from core.apikeys import KeyKind
from core.layout import StorageLayout
from core.settings import Settings
from core.tenants import NewClient, Tenants
from privacy.keyvault import KeyVault
from serving.request_body import EVENTS_BODY_BYTES, parse_json_timestamp
from serving.routes.events import MAX_EVENTS, ServerEvent, prepare_batch
from tracking.compactor import compact_all
from tracking.events import RAW_BOOL_COLUMNS, RAW_FLOAT_COLUMNS, RAW_STRING_COLUMNS
from tracking.importer import KeyedIds
from tracking.lake import event_files
from tracking.spool import Spool

VISITOR = "3f2b9c0e8a7d4c1b9e6f5a4d3c2b1a09"
RAW_IP = "198.51.100.203"
RAW_UA = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_4) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Safari/605.1.15"
)
EMAIL = "server.side.person@example.com"


def event(**fields: Any) -> dict[str, Any]:
    return {"event_type": "pageview", "visitor_id": VISITOR, "url": "https://shop.example.com/", **fields}


@pytest.fixture
def api(settings: Settings, serve: Any) -> Iterator[tuple[httpx.Client, NewClient]]:
    created = Tenants.from_settings(settings).create_client("Server Shop", ["shop.example.com"], retention_days=30)
    with serve(settings, timeout=30) as http:
        yield http, created


def auth(created: NewClient) -> dict[str, str]:
    return {"Authorization": f"Bearer {created.site_key}"}


def error_of(response: httpx.Response) -> dict[str, str]:
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) >= {"code", "message"}, body
    return body["error"]


def lake_rows(settings: Settings, client_id: str) -> list[dict[str, Any]]:
    files = event_files(StorageLayout.from_settings(settings), client_id)
    return pa.concat_tables([pq.read_table(f) for f in files]).to_pylist() if files else []


def test_the_model_documents_every_raw_field_it_forwards() -> None:
    raw = {*RAW_STRING_COLUMNS, *RAW_BOOL_COLUMNS, *RAW_FLOAT_COLUMNS}
    forwarded = set(ServerEvent.model_fields) - {"timestamp"}
    assert forwarded <= raw, forwarded - raw
    assert raw - forwarded == {"client_id", "source"}, "the key and the route decide these, never the body"


def test_timestamps_are_iso_with_zone_or_epoch_ms() -> None:
    assert parse_json_timestamp("2026-01-31T12:00:00+01:00") == datetime(2026, 1, 31, 11, tzinfo=UTC)
    assert parse_json_timestamp(1769860800000) == datetime(2026, 1, 31, 12, tzinfo=UTC)
    assert parse_json_timestamp("1769860800000") == datetime(2026, 1, 31, 12, tzinfo=UTC)
    for bad in ("2026-01-31T12:00:00", "yesterday", True, -5, 10**16, [1]):
        with pytest.raises(ValueError):
            parse_json_timestamp(bad)


def test_only_a_site_key_may_send_events(api: tuple[httpx.Client, NewClient], settings: Settings) -> None:
    http, created = api
    body = [event()]
    missing = http.post("/v1/events", json=body)
    assert missing.status_code == 401 and error_of(missing)["code"] == "unauthorized"
    unknown = http.post("/v1/events", json=body, headers={"Authorization": "Bearer xmo_site_forged0000"})
    assert unknown.status_code == 401
    api_key = http.post("/v1/events", json=body, headers={"Authorization": f"Bearer {created.api_key}"})
    assert api_key.status_code == 403 and error_of(api_key)["code"] == "forbidden"
    admin = Tenants.from_settings(settings).rotate_key(KeyKind.ADMIN)
    assert http.post("/v1/events", json=body, headers={"Authorization": f"Bearer {admin}"}).status_code == 403
    assert Spool.from_settings(settings).pending_events() == 0


def test_mixed_batch_counts_each_event_and_stores_the_valid_ones(
    api: tuple[httpx.Client, NewClient], settings: Settings
) -> None:
    http, created = api
    now = datetime.now(UTC)
    batch: list[Any] = [
        event(  # 0: a delayed purchase with technical fields: accepted
            event_type="goal",
            event_id="order-1",
            timestamp=(now - timedelta(days=3)).isoformat(),
            goal="purchase",
            value=59.9,
            currency="EUR",
            ip=RAW_IP,
            user_agent=RAW_UA,
            email=EMAIL,
            consent=True,
        ),
        event(timestamp=int((now - timedelta(hours=1)).timestamp() * 1000)),  # 1: epoch ms: accepted
        event(visitor_id="short"),  # 2: not an xmo id: stored as its keyed hash, as an import would
        event(event_type="purchase"),  # 3
        event(timestamp="last tuesday"),  # 4
        event(value=-1),  # 5
        event(utm_source="x" * 201),  # 6
        {"visitor_id": VISITOR},  # 7: no event type
        event(visitor_id=None),  # 8
        event(shoe_size=44),  # 9: unknown field
        "not an object",  # 10
        event(timestamp=(now - timedelta(days=31)).isoformat()),  # 11: past the 30-day retention
        event(event_id="order-1"),  # 12: repeated within the batch
        event(timestamp=(now + timedelta(days=2)).isoformat()),  # 13: too far ahead
        event(gpc=True),  # 14: the visitor's browser opted out (the edge)
        event(user_agent="Googlebot/2.1 (+http://www.google.com/bot.html)"),  # 15: bot (the edge)
    ]
    response = http.post("/v1/events", json=batch, headers=auth(created))
    assert response.status_code == 202, response.text
    body = response.json()
    assert body["received"] == len(batch) and body["accepted"] == 3
    assert body["dropped"] == {
        "invalid_visitor_id": 1,
        "invalid_event_type": 2,
        "invalid_timestamp": 2,
        "invalid_value": 1,
        "invalid_field": 3,
        "too_old": 1,
        "duplicate": 1,
        "gpc": 1,
        "bot": 1,
    }
    assert body["accepted"] + sum(body["dropped"].values()) == body["received"]
    errors = {e["index"]: e for e in body["errors"]}
    assert errors[8]["reason"] == "invalid_visitor_id" and errors[8]["field"] == "visitor_id"
    assert errors[9]["reason"] == "invalid_field" and errors[9]["field"] == "shoe_size"
    assert errors[11]["reason"] == "too_old" and errors[12]["reason"] == "duplicate"
    assert errors[13]["reason"] == "invalid_timestamp" and errors[13]["field"] == "timestamp"
    assert set(errors) == {3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13}, "the edge's own drops are counted, not listed"

    # durable when answered; in the lake after compaction, as source "server", without raw values
    assert Spool.from_settings(settings).pending_events() == 3
    compact_all(settings)
    rows = sorted(lake_rows(settings, created.client.id), key=lambda r: r["ts"])
    assert [r["source"] for r in rows] == ["server", "server", "server"]
    import_key = KeyVault.from_settings(settings).derived_key(created.client.id, "import")
    assert KeyedIds(import_key).digest("visitor", "short") in {r["visitor_id"] for r in rows}, "as an import maps it"
    purchase = rows[0]
    assert purchase["event_id"] == "order-1" and purchase["visitor_id"] == VISITOR
    assert purchase["goal"] == "purchase" and purchase["value"] == 59.9 and purchase["currency"] == "EUR"
    assert purchase["ip_prefix"] == "198.51.100.0" and purchase["browser_family"] == "Safari"
    assert purchase["email_pseudonym"] is None, "the client did not enable collect_pii"
    assert abs(purchase["ts"] - (now - timedelta(days=3))) < timedelta(seconds=1)
    stored = b"".join(p.read_bytes() for p in settings.home.rglob("*") if p.is_file())
    for raw in (RAW_IP, RAW_UA, EMAIL):
        assert raw.encode() not in stored


REJECTED: dict[str, tuple[str | bytes, dict[str, str], int, str]] = {
    "1001-events": (json.dumps([event()] * (MAX_EVENTS + 1)), {}, 413, "too_large"),
    "over-1MiB": (b"[" + b" " * EVENTS_BODY_BYTES + b"]", {}, 413, "too_large"),
    "text-plain": (json.dumps([event()]), {"Content-Type": "text/plain"}, 415, "unsupported_media_type"),
    "no-content-type": (json.dumps([event()]), {"Content-Type": ""}, 415, "unsupported_media_type"),
    "latin-1": (
        json.dumps([event()]),
        {"Content-Type": "application/json; charset=latin-1"},
        415,
        "unsupported_media_type",
    ),
    "json-with-other-charset": (
        json.dumps([event()]),
        {"Content-Type": "application/json; profile=x; charset=utf-16"},
        415,
        "unsupported_media_type",
    ),
    "bad-utf8": (b'[{"event_type": "pageview", "url": "\xff\xfe"}]', {}, 400, "invalid_json"),
    "truncated-json": (b'[{"event_type": "pageview",', {}, 400, "invalid_json"),
    "nan": (b'[{"value": NaN}]', {}, 400, "invalid_json"),
    "deep-nesting": (b"[" * 100_000, {}, 400, "invalid_json"),
    "nesting-past-the-limit": (b"[" * 33 + b"]" * 33, {}, 400, "invalid_json"),  # was a 202 with one drop
    "empty": (b"", {}, 400, "invalid_json"),
    "object": (json.dumps({"events": [event()]}), {}, 422, "invalid_request"),
    "null": (b"null", {}, 422, "invalid_request"),
}


def test_rejected_requests_store_nothing(api: tuple[httpx.Client, NewClient], settings: Settings) -> None:
    http, created = api
    for case, (content, headers, status, code) in REJECTED.items():
        response = http.post(
            "/v1/events", content=content, headers={"Content-Type": "application/json", **headers, **auth(created)}
        )
        assert response.status_code == status, (case, response.text)
        assert error_of(response)["code"] == code, case
    assert Spool.from_settings(settings).pending_events() == 0
    assert http.get("/healthz").status_code == 200, "the service is still up"


def test_a_client_that_lies_about_the_length_is_cut_off(
    api: tuple[httpx.Client, NewClient], settings: Settings
) -> None:
    http, created = api

    def chunks() -> Iterator[bytes]:  # no Content-Length: chunked transfer encoding
        yield b"["
        for _ in range(20):
            yield b" " * 65_536
        yield b"]"

    response = http.post("/v1/events", content=chunks(), headers={"Content-Type": "application/json", **auth(created)})
    assert response.status_code == 413 and error_of(response)["code"] == "too_large"
    just_fits = b"[" + b" " * (EVENTS_BODY_BYTES - 200) + json.dumps(event()).encode() + b"]"
    assert len(just_fits) <= EVENTS_BODY_BYTES
    headers = {"Content-Type": "Application/JSON; Charset=UTF-8", **auth(created)}
    ok = http.post("/v1/events", content=just_fits, headers=headers)
    assert ok.status_code == 202 and ok.json()["accepted"] == 1
    assert Spool.from_settings(settings).pending_events() == 1


def test_an_empty_batch_is_fine_and_the_endpoint_is_documented(api: tuple[httpx.Client, NewClient]) -> None:
    http, created = api
    response = http.post("/v1/events", json=[], headers=auth(created))
    assert response.status_code == 202
    assert response.json() == {"received": 0, "accepted": 0, "dropped": {}, "errors": []}
    operation = http.get("/openapi.json").json()["paths"]["/v1/events"]["post"]
    body = operation["requestBody"]["content"]["application/json"]
    assert body["schema"]["maxItems"] == MAX_EVENTS
    assert body["example"][0]["event_type"] == "goal"
    assert "visitor_id" in body["schema"]["items"]["required"]
    assert body["schema"]["items"]["properties"]["event_type"]["enum"] == ["pageview", "click", "goal", "custom"]
    assert {"202", "400", "401", "403", "413", "415", "422"} <= set(operation["responses"])


# times and numbers at the limits: each bad one is its own drop, with its entry in errors ---------------------------
EXTREME_TIMESTAMPS: list[Any] = [
    "9999-12-31T23:59:59-14:00",  # year 10000 in UTC: was a 500 for the whole batch
    "0001-01-01T00:00:00+14:00",  # year 0 in UTC: likewise
    "9999-12-31T23:59:59Z",  # was dropped by the edge without an entry in errors
    "0001-01-01T00:00:00Z",
    "1969-12-31T23:59:59Z",
    "١٧٦٩٨٦٠٨٠٠٠٠٠",  # epoch ms in Arabic-Indic digits
    10**15,
    1e300,
    -1,
]
BAD_VALUES: list[Any] = ["1_000", "١٠٠٠", " 5", "nan", "Infinity", True, "0x10"]


def test_bad_timestamps_and_values_are_dropped_one_by_one(api: tuple[httpx.Client, NewClient]) -> None:
    http, created = api
    batch = [
        *(event(timestamp=ts) for ts in EXTREME_TIMESTAMPS),
        *(event(event_type="goal", value=value) for value in BAD_VALUES),
        event(event_type="goal", value="59.9"),
        event(event_type="goal", value=12),
    ]
    response = http.post("/v1/events", json=batch, headers=auth(created))
    assert response.status_code == 202, response.text
    body = response.json()
    assert body["accepted"] == 2
    assert body["dropped"] == {"invalid_timestamp": len(EXTREME_TIMESTAMPS), "invalid_value": len(BAD_VALUES)}
    reasons = {e["index"]: (e["reason"], e["field"]) for e in body["errors"]}
    assert reasons == {
        **{i: ("invalid_timestamp", "timestamp") for i in range(len(EXTREME_TIMESTAMPS))},
        **{len(EXTREME_TIMESTAMPS) + i: ("invalid_value", "value") for i in range(len(BAD_VALUES))},
    }


def test_a_number_out_of_range_drops_its_event_not_the_batch(api: tuple[httpx.Client, NewClient]) -> None:
    http, created = api
    good = json.dumps(event(event_id="kept"))
    huge_value = json.dumps(event(event_type="goal", value=2**70))
    huge_timestamp = json.dumps(event())[:-1] + ', "timestamp": ' + "9" * 4000 + "}"
    huge_float = json.dumps(event(event_type="goal"))[:-1] + ', "value": 1e999}'
    body = f"[{huge_value}, {huge_timestamp}, {good}, {huge_float}]"
    response = http.post("/v1/events", content=body, headers={"Content-Type": "application/json", **auth(created)})
    assert response.status_code == 202, response.text
    result = response.json()
    assert result["accepted"] == 1
    assert result["dropped"] == {"invalid_value": 2, "invalid_timestamp": 1}
    errors = {e["index"]: e for e in result["errors"]}
    assert {i: (e["reason"], e["field"]) for i, e in errors.items()} == {
        0: ("invalid_value", "value"),
        1: ("invalid_timestamp", "timestamp"),
        3: ("invalid_value", "value"),
    }
    assert "4,000 digits" in errors[1]["message"] and "64 bits" in errors[0]["message"]


RECEIVED = datetime(2026, 11, 20, 12, tzinfo=UTC)
_offsets = st.integers(-14 * 60, 14 * 60).map(lambda m: timezone(timedelta(minutes=m)))
_iso = st.builds(lambda d, tz: d.replace(tzinfo=tz).isoformat(), st.datetimes(), _offsets)
_limits = st.sampled_from([datetime.min, datetime.max, datetime(1970, 1, 1), RECEIVED + timedelta(days=1)])
json_timestamps: st.SearchStrategy[Any] = st.one_of(
    st.none(),
    _iso,
    st.builds(lambda d, tz: d.replace(tzinfo=tz).isoformat(), _limits, _offsets),
    st.integers(-(10**17), 10**17),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=40),
    st.text("0123456789١٢٣٤٥٦٧٨٩٠", min_size=1, max_size=16),
    st.booleans(),
    st.sampled_from(EXTREME_TIMESTAMPS),
)


@hypothesis_settings(max_examples=200, deadline=None)
@given(stamps=st.lists(json_timestamps, max_size=8))
def test_any_timestamp_is_kept_in_range_or_dropped_with_its_error(stamps: list[Any]) -> None:
    batch = prepare_batch([event(timestamp=ts) for ts in stamps], "c1", RECEIVED, retention_days=None)
    assert len(batch.hits) + sum(batch.dropped.values()) == len(stamps)
    assert set(batch.dropped) <= {"invalid_timestamp"}
    assert len(batch.errors) == sum(batch.dropped.values())
    assert all(e.reason == "invalid_timestamp" and e.field == "timestamp" for e in batch.errors)
    for hit in batch.hits:
        assert datetime(1970, 1, 1, tzinfo=UTC) <= hit["ts"] <= RECEIVED + timedelta(days=1)


def test_a_visitor_id_from_elsewhere_becomes_the_keyed_hash_an_import_gives_it() -> None:
    ids = KeyedIds(b"k" * 32)
    batch = prepare_batch(
        [event(visitor_id="ga-123"), event(visitor_id=VISITOR), event(visitor_id=123456), event(visitor_id="x" * 300)],
        "c1",
        RECEIVED,
        retention_days=None,
        visitor_ids=ids,
    )
    assert [hit["visitor_id"] for hit in batch.hits] == [
        ids.digest("visitor", "ga-123"),
        VISITOR,
        ids.digest("visitor", "123456"),
    ]
    assert batch.dropped == {"invalid_visitor_id": 1}, "a 300-character id is refused, not hashed"
