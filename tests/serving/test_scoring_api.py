"""``POST /v1/score`` over real HTTP: the served champion scores exactly as its MLflow pyfunc does in process,
whether the sessions come as JSON rows, JSON columns or an Arrow stream, explains with contributions that add up to
the raw log-odds, and answers bad input with clear 4xx JSON."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import httpx
import mlflow.pyfunc
import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from core.layout import StorageLayout
from core.settings import Settings
from core.tenants import NewClient, Tenants
from features.dataset import build_dataset
from features.definitions import FEATURE_NAMES, example_session_records
from features.session_schema import SCORING_COLUMNS
from features.sessions import build_sessions
from models.registry import configure_mlflow
from serving.app import create_app
from tests.conftest import LiveServer
from tracking.compactor import compact_all
from training.train import train_conversion_model
from xmo.simulator.cli import run_simulation

HomeAt = Callable[[Path], AbstractContextManager[Settings]]  # the home_at fixture (tests/conftest.py)

TINY = {"n_estimators": 20, "learning_rate": 0.1, "early_stopping_rounds": 0}
TIMEZONE = "Europe/Berlin"
PATH = "/v1/score"


class Home:
    """Client ``sim`` (Berlin time) with traffic and a champion; client ``fresh`` with neither."""

    def __init__(self, settings: Settings, sim: NewClient, fresh: NewClient, sessions: pd.DataFrame) -> None:
        self.settings, self.sim, self.fresh, self.sessions = settings, sim, fresh, sessions


@pytest.fixture(scope="module")
def home(home_at: HomeAt, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Home]:
    path = tmp_path_factory.mktemp("scoring-api") / "xmo-home"
    with home_at(path) as _settings:
        settings = Settings(home=path, compact_interval_s=0, model_reload_interval_s=0, rate_limit_per_minute=0)
        tenants = Tenants.from_settings(settings)
        sim = tenants.create_client("Sim", ["sim.example"], client_id="sim", timezone=TIMEZONE)
        fresh = tenants.create_client("Fresh", ["fresh.example"], client_id="fresh")
        run_simulation(settings, "sim", days=7, visitors_per_day=150, seed=23)
        compact_all(settings)
        build_dataset(settings, "sim")
        train_conversion_model(settings, "sim", params=TINY, baselines=False)
        sessions = build_sessions(StorageLayout.from_settings(settings), "sim", timezone=TIMEZONE)
        yield Home(settings, sim, fresh, sessions)


@pytest.fixture(scope="module")
def http(home: Home) -> Iterator[httpx.Client]:
    with LiveServer(create_app(home.settings)) as server, httpx.Client(base_url=server.url, timeout=60) as client:
        yield client


@pytest.fixture(scope="module")
def pyfunc(home: Home) -> Any:
    configure_mlflow(home.settings)
    return mlflow.pyfunc.load_model("models:/xmo-conversion-sim@champion")


def auth(created: NewClient) -> dict[str, str]:
    return {"Authorization": f"Bearer {created.api_key}"}


def records_of(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Session records as a client posts them: the scoring fields, ISO times, null where missing."""
    body = frame[list(SCORING_COLUMNS)].to_json(orient="records", date_format="iso", date_unit="us")
    records: list[dict[str, Any]] = json.loads(body)
    return records


def mlflow_input(records: list[dict[str, Any]]) -> pd.DataFrame:
    """The same records as ``mlflow models serve`` hands them to the pyfunc: zone-less UTC, float64 numbers."""
    frame = pd.DataFrame.from_records(records, columns=list(SCORING_COLUMNS))
    frame["started_at"] = pd.to_datetime(frame["started_at"], utc=True, format="ISO8601").dt.tz_localize(None)
    numbers = [c for c in SCORING_COLUMNS if pd.api.types.is_numeric_dtype(example_session_records()[c])]
    frame[numbers] = frame[numbers].astype("float64")
    return frame


def error_of(response: httpx.Response) -> dict[str, Any]:
    body = response.json()
    assert set(body) == {"error"}, body
    assert "Traceback" not in response.text
    error: dict[str, Any] = body["error"]
    return error


def test_api_scores_equal_the_mlflow_pyfunc_in_process(home: Home, http: httpx.Client, pyfunc: Any) -> None:
    records = records_of(home.sessions.head(400)) + records_of(example_session_records())
    records[1] = {k: v for k, v in records[1].items() if v is not None}  # fields left out entirely
    records[2]["device_class"] = "smart-fridge"  # never seen in training
    expected = pyfunc.predict(mlflow_input(records))["probability"].to_numpy()

    batch = http.post(PATH, json={"sessions": records}, headers=auth(home.sim))  # scored in a worker thread
    assert batch.status_code == 200, batch.text
    body = batch.json()
    assert body["model"] == {"name": "xmo-conversion-sim", "version": "1", "alias": "champion"}
    assert [set(s) for s in body["scores"]] == [{"probability"}] * len(records)
    np.testing.assert_array_equal([s["probability"] for s in body["scores"]], expected)
    assert len(set(expected.round(12))) > 20  # the sessions really differ

    for position in (0, 1, 2, len(records) - 1):  # one session per request: scored on the event loop
        single = http.post(PATH, json={"sessions": [records[position]]}, headers=auth(home.sim))
        assert single.status_code == 200, single.text
        assert single.json()["scores"][0]["probability"] == expected[position]


def columns_of(records: list[dict[str, Any]]) -> dict[str, Any]:
    """The records as ``{"columns": ...}``: every scoring field, null where a record lacks it."""
    return {"columns": {name: [r.get(name) for r in records] for name in SCORING_COLUMNS}}


def arrow_of(records: list[dict[str, Any]]) -> bytes:
    """The records as an Arrow stream, as a pandas user writes it: text as strings, numbers as doubles, starts as
    zone-less timestamps, in batches of 100."""
    frame = mlflow_input(records)
    sink = pa.BufferOutputStream()
    table = pa.Table.from_pandas(frame, preserve_index=False)
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table, max_chunksize=100)
    return bytes(sink.getvalue())


ARROW = {"Content-Type": "application/vnd.apache.arrow.stream"}


def test_columns_and_arrow_score_exactly_as_rows(home: Home, http: httpx.Client, pyfunc: Any) -> None:
    records = records_of(home.sessions.head(2_500)) + records_of(example_session_records())
    records[2]["device_class"] = "smart-fridge"  # never seen in training
    expected = pyfunc.predict(mlflow_input(records))["probability"].to_numpy()
    answers = {
        "rows": http.post(PATH, json={"sessions": records}, headers=auth(home.sim)),
        "columns": http.post(PATH, json=columns_of(records), headers=auth(home.sim)),
        "arrow": http.post(PATH, content=arrow_of(records), headers={**auth(home.sim), **ARROW}),
    }
    for form, answer in answers.items():
        assert answer.status_code == 200, (form, answer.text)
        body = answer.json()
        assert body["model"] == {"name": "xmo-conversion-sim", "version": "1", "alias": "champion"}
        assert [set(s) for s in body["scores"]] == [{"probability"}] * len(records), form
        np.testing.assert_array_equal([s["probability"] for s in body["scores"]], expected, err_msg=form)
    single = http.post(PATH, content=arrow_of(records[:1]), headers={**auth(home.sim), **ARROW})  # on the event loop
    assert single.status_code == 200 and single.json()["scores"][0]["probability"] == expected[0]
    explained = http.post(PATH, params={"explain": "true"}, json=columns_of(records[:40]), headers=auth(home.sim))
    by_rows = http.post(PATH, params={"explain": "true"}, json={"sessions": records[:40]}, headers=auth(home.sim))
    assert explained.status_code == 200 and explained.json() == by_rows.json()


def test_row_ids_come_back_beside_the_scores_in_order_and_are_never_logged(
    home: Home, http: httpx.Client, caplog: pytest.LogCaptureFixture
) -> None:
    records = records_of(home.sessions.head(60))
    plain = http.post(PATH, json={"sessions": records}, headers=auth(home.sim)).json()["scores"]
    ids: list[str | int | None] = [f"customer-key-{i}" if i % 3 else i for i in range(len(records))]
    ids[5] = None  # a session without a row id comes back with null
    with_ids = [{**r, "row_id": i} for r, i in zip(records, ids, strict=True)]
    with caplog.at_level(logging.DEBUG):
        rows = http.post(PATH, json={"sessions": with_ids}, headers=auth(home.sim))
        columns = http.post(
            PATH, json={"columns": {**columns_of(records)["columns"], "row_id": ids}}, headers=auth(home.sim)
        )
    assert rows.status_code == columns.status_code == 200, rows.text
    for answer in (rows, columns):
        scores = answer.json()["scores"]
        assert [s["row_id"] for s in scores] == ids and [list(s) for s in scores[:1]] == [["row_id", "probability"]]
        assert [s["probability"] for s in scores] == [s["probability"] for s in plain]  # not a feature
    assert any(r.name == "xmo.access" for r in caplog.records)  # the requests were logged, the ids were not
    assert "customer-key" not in caplog.text
    explained = http.post(PATH, params={"explain": "true"}, json={"sessions": with_ids[:3]}, headers=auth(home.sim))
    assert [s["row_id"] for s in explained.json()["scores"]] == ids[:3]
    assert "contributions" in explained.json()["scores"][0]
    bad = http.post(PATH, json={"sessions": [{"row_id": 1.5}]}, headers=auth(home.sim))
    assert bad.status_code == 422 and "body.sessions.0.row_id" in error_of(bad)["message"]


BAD_COLUMN_BODIES: list[tuple[str, bytes, dict[str, str], str]] = [
    ("ragged columns", b'{"columns": {"pageviews": [1, 2], "clicks": [0]}}', {}, "body.columns.clicks: Columns should"),
    ("an unknown column", b'{"columns": {"email": ["a@b.c"]}}', {}, "body.columns.email: Extra inputs"),
    ("a negative count", b'{"columns": {"pageviews": [2, -1]}}', {}, "body.columns.pageviews.1: Input should be"),
    ("rows and columns", b'{"sessions": [{}], "columns": {"pageviews": [1]}}', {}, 'either "sessions" or "columns"'),
    ("malformed Arrow", b"\xff\xff\xff\xff\x10\x00\x00\x00garbage", ARROW, "body: Input should be an Arrow IPC"),
    ("Arrow NaN", b"", ARROW, "body.columns.duration_s.0: Input should be a finite number"),
]


@pytest.mark.parametrize(
    ("problem", "body", "headers", "message"), BAD_COLUMN_BODIES, ids=[b[0] for b in BAD_COLUMN_BODIES]
)
def test_bad_columns_are_clear_4xx(
    home: Home, http: httpx.Client, problem: str, body: bytes, headers: dict[str, str], message: str
) -> None:
    if problem == "Arrow NaN":
        sink = pa.BufferOutputStream()
        table = pa.table({"duration_s": [float("nan")]})
        with pa.ipc.new_stream(sink, table.schema) as writer:
            writer.write_table(table)
        body = bytes(sink.getvalue())
    response = http.post(PATH, content=body, headers={**auth(home.sim), "Content-Type": "application/json", **headers})
    assert response.status_code == 422, (problem, response.text)
    error = error_of(response)
    assert error["code"] == "invalid_request"
    assert message in error["message"], (problem, error)


def test_explain_gives_the_largest_contributions_that_add_up_to_the_raw_log_odds(
    home: Home, http: httpx.Client, pyfunc: Any
) -> None:
    records = records_of(home.sessions.head(60))
    response = http.post(PATH, params={"explain": "true", "top": 3}, json={"sessions": records}, headers=auth(home.sim))
    assert response.status_code == 200, response.text
    scores = response.json()["scores"]
    plain = http.post(PATH, json={"sessions": records}, headers=auth(home.sim)).json()["scores"]
    assert [s["probability"] for s in scores] == [s["probability"] for s in plain]

    scorer = pyfunc.unwrap_python_model().scorer
    X = scorer.features(mlflow_input(records))
    full = scorer.contributions(X)
    raw = scorer.booster.predict(X, num_iteration=scorer.num_iteration, raw_score=True)
    for position, score in enumerate(scores):
        row = full.iloc[position]
        features = row[list(FEATURE_NAMES)]
        largest = features.abs().sort_values(ascending=False, kind="stable").index[:3]
        assert list(score["contributions"]) == list(largest)
        assert score["contributions"] == {name: features[name] for name in largest}
        assert score["bias"] == row["bias"]
        assert score["raw_log_odds"] == pytest.approx(raw[position], abs=1e-9)
        assert score["raw_log_odds"] == pytest.approx(row.sum(), abs=1e-12)
    default = http.post(PATH, params={"explain": "true"}, json={"sessions": records[:1]}, headers=auth(home.sim))
    assert len(default.json()["scores"][0]["contributions"]) == 5


BAD_BODIES: list[tuple[str, bytes, int, str]] = [
    ("malformed JSON", b'{"sessions": [{"pageviews": 1}', 422, "body: the body is not valid JSON (EOF"),
    ("NaN", b'{"sessions": [{"duration_s": NaN}]}', 422, "NaN and Infinity are not numbers"),
    ("Infinity", b'{"sessions": [{"duration_s": Infinity}]}', 422, "NaN and Infinity are not numbers"),
    ("a huge number", b'{"sessions": [{"duration_s": 1e400}]}', 422, "sessions.0.duration_s: Input should be a finite"),
    ("a negative count", b'{"sessions": [{"pageviews": 2}, {"pageviews": -1}]}', 422, "sessions.1.pageviews"),
    ("a text count", b'{"sessions": [{"pageviews": "many"}]}', 422, "sessions.0.pageviews: Input should be a valid"),
    ("a number as text", b'{"sessions": [{"utm_source": 7}]}', 422, "sessions.0.utm_source"),
    ("a bad time", b'{"sessions": [{"started_at": "yesterday"}]}', 422, "sessions.0.started_at"),
    ("an unknown field", b'{"sessions": [{"pageviews": 1}, {"email": "a@b.c"}]}', 422, "sessions.1.email: Extra"),
    ("a session that is not an object", b'{"sessions": [{"pageviews": 1}, 5]}', 422, "sessions.1"),
    ("no sessions", b'{"sessions": []}', 422, "at least 1 item"),
    ("sessions not a list", b'{"sessions": {"pageviews": 1}}', 422, "body.sessions: Input should be a valid list"),
    ("an array body", b"[]", 422, "Input should be an object"),
    ("another key", b'{"sessions": [{}], "mode": "fast"}', 422, "body.mode: Extra"),
    ("too many sessions", json.dumps({"sessions": [{}] * 10_001}).encode(), 422, "at most 10000 items"),
    ("a start outside the calendar", b'{"sessions": [{"started_at": "9999-12-31T23:59:59-01:00"}]}', 400, "years"),
]


@pytest.mark.parametrize(("problem", "body", "status", "message"), BAD_BODIES, ids=[b[0] for b in BAD_BODIES])
def test_bad_bodies_are_clear_4xx(
    home: Home, http: httpx.Client, problem: str, body: bytes, status: int, message: str
) -> None:
    headers = {**auth(home.sim), "Content-Type": "application/json"}
    response = http.post(PATH, content=body, headers=headers)
    assert response.status_code == status, (problem, response.text)
    error = error_of(response)
    assert error["code"] == ("invalid_request" if status == 422 else "invalid_input")
    assert message in error["message"], (problem, error)


def test_many_bad_sessions_report_the_first_ones_in_order(home: Home, http: httpx.Client) -> None:
    sessions = [{"pageviews": 1, "clicks": -1}] * 5 + [{"pageviews": -1, "clicks": 1}] * 200
    response = http.post(PATH, json={"sessions": sessions}, headers=auth(home.sim))
    assert response.status_code == 422
    details = error_of(response)["details"]
    assert len(details) == 50
    assert details[0]["location"] == ["body", "sessions", 0, "clicks"]
    assert [d["location"][2] for d in details] == list(range(50))
    assert details[5]["location"] == ["body", "sessions", 5, "pageviews"]


def test_explain_top_is_bounded(home: Home, http: httpx.Client) -> None:
    for top in (0, 51):
        response = http.post(
            PATH, params={"explain": "true", "top": top}, json={"sessions": [{}]}, headers=auth(home.sim)
        )
        assert response.status_code == 422 and "top" in error_of(response)["message"]


def test_scoring_needs_the_callers_own_champion(home: Home, http: httpx.Client) -> None:
    body = {"sessions": records_of(example_session_records())}
    assert http.post(PATH, json=body).status_code == 401
    assert http.post(PATH, json=body, headers={"Authorization": f"Bearer {home.sim.site_key}"}).status_code == 403
    other = http.post(PATH, json=body, headers=auth(home.fresh))  # fresh's key never reaches sim's model
    assert other.status_code == 409
    assert "xmo train fresh" in error_of(other)["message"] and "xmo-conversion-sim" not in other.text
    bad_first = http.post(PATH, json={"sessions": []}, headers=auth(home.fresh))
    assert bad_first.status_code == 422  # a bad body is reported before the missing model


def test_openapi_documents_the_request_and_response(http: httpx.Client) -> None:
    spec = http.get("/openapi.json").json()
    operation = spec["paths"][PATH]["post"]
    content = operation["requestBody"]["content"]
    rows, columns = content["application/json"]["schema"]["anyOf"]
    sessions = rows["properties"]["sessions"]
    assert rows["required"] == ["sessions"] and sessions["maxItems"] == 10_000 and sessions["minItems"] == 1
    assert set(sessions["items"]["properties"]) == {*SCORING_COLUMNS, "row_id"}
    row_id = sessions["items"]["properties"]["row_id"]
    assert "returned unchanged beside its score" in row_id["anyOf"][0]["description"]
    assert row_id["anyOf"][0]["examples"] and rows["examples"][0]["sessions"][0]["row_id"]
    assert sessions["items"]["additionalProperties"] is False and rows["examples"]
    lists = columns["properties"]["columns"]
    assert columns["required"] == ["columns"] and lists["additionalProperties"] is False
    assert set(lists["properties"]) == {*SCORING_COLUMNS, "row_id"}
    for name, values in lists["properties"].items():  # each list holds what a session's field holds
        assert (
            values["maxItems"] == 10_000 and values["items"]["anyOf"] == sessions["items"]["properties"][name]["anyOf"]
        )
    example = columns["examples"][0]["columns"]
    assert len({len(values) for values in example.values()}) == 1 and set(example) <= {*SCORING_COLUMNS, "row_id"}
    assert content["application/vnd.apache.arrow.stream"]["schema"] == {"type": "string", "format": "binary"}
    assert "Arrow" in operation["requestBody"]["description"]
    assert "$ref" not in json.dumps(content)
    response = operation["responses"]["200"]["content"]["application/json"]["schema"]
    assert response == {"$ref": "#/components/schemas/ScoreResponse"}
    score = spec["components"]["schemas"]["SessionScore"]["properties"]["row_id"]
    assert "as sent" in score["description"] and "row_id" in operation["requestBody"]["description"]
    assert {p["name"] for p in operation["parameters"]} == {"explain", "top"}
