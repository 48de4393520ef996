"""The column forms of a scoring body, in process: JSON ``{"columns": ...}`` and Arrow IPC streams give the
features the row form gives for the same sessions, and bad columns (unknown fields, ragged, wrong types, NaN/inf,
out of bounds, too many rows, malformed or compressed Arrow) are refused with located 422 errors. Over HTTP
(scores equal to the MLflow pyfunc) see ``test_scoring_api.py``."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from fastapi.exceptions import RequestValidationError

from features.definitions import CATEGORICAL_FEATURES, EXAMPLE_SESSIONS, FEATURE_NAMES, ColumnFeatures, as_category
from features.session_schema import SCORING_COLUMNS
from serving.scoring_input import ARROW_STREAM, SessionColumns, is_arrow, read_score_body

TIMEZONE = "Europe/Berlin"


def sessions() -> list[dict[str, Any]]:
    """The example sessions plus edge cases: a session with no field, another with only a start."""
    return [dict(s) for s in EXAMPLE_SESSIONS] + [{}, {"started_at": "2026-03-29T00:30:00Z", "pageviews": 0}]


def rows_body(records: list[dict[str, Any]]) -> bytes:
    return json.dumps({"sessions": records}).encode()


def columns_body(records: list[dict[str, Any]]) -> bytes:
    names = [n for n in SCORING_COLUMNS if any(n in r for r in records)]
    return json.dumps({"columns": {n: [r.get(n) for r in records] for n in names}}).encode()


def stream(table: pa.Table, *, chunk: int | None = None, compression: str | None = None) -> bytes:
    sink = pa.BufferOutputStream()
    options = pa.ipc.IpcWriteOptions(compression=compression)
    with pa.ipc.new_stream(sink, table.schema, options=options) as writer:
        writer.write_table(table, max_chunksize=chunk)
    return bytes(sink.getvalue())


def arrow_table(records: list[dict[str, Any]], *, text: str = "string", numbers: str = "int64") -> pa.Table:
    """The records as Arrow: text as ``text`` (string, large_string, string_view or dictionary), counts as
    ``numbers``, durations as doubles, starts as zoned ``timestamp[ms]``."""
    arrays: dict[str, pa.Array] = {}
    for name in SCORING_COLUMNS:
        values = [r.get(name) for r in records]
        if name == "started_at":
            instants = [None if v is None else datetime.fromisoformat(v) for v in values]
            arrays[name] = pa.array(instants, pa.timestamp("ms", tz="UTC"))
        elif name in ("duration_s", "days_since_last_session"):
            arrays[name] = pa.array(values, pa.float64())
        elif name in ("pageviews", "clicks", "events", "visitor_session_number", "prev_sessions", "prev_conversions"):
            arrays[name] = pa.array(values, getattr(pa, numbers)())
        elif text == "dictionary":
            arrays[name] = pa.array(values, pa.string()).dictionary_encode()
        else:
            arrays[name] = pa.array(values, getattr(pa, text)())
    return pa.table(arrays)


@pytest.fixture(scope="module")
def features() -> ColumnFeatures:
    """Column features with the example sessions' categories (as a booster trained on them would know)."""
    values = {name: [s.get(name) for s in EXAMPLE_SESSIONS] for name in CATEGORICAL_FEATURES}
    values["channel"] = ["search", "social", "email", "referral", "direct"]
    categories = {name: list(as_category(pd.Series(v, dtype="object")).cat.categories) for name, v in values.items()}
    return ColumnFeatures(TIMEZONE, categories)


def matrix(features: ColumnFeatures, read: SessionColumns) -> np.ndarray:
    return features.matrix(read.columns, read.n_rows, FEATURE_NAMES)


def refusal(body: bytes, content_type: str | None = None) -> list[dict[str, Any]]:
    with pytest.raises(RequestValidationError) as caught:
        read_score_body(body, content_type)
    errors: list[dict[str, Any]] = list(caught.value.errors())
    assert errors
    return errors


def test_json_columns_read_as_the_rows_do(features: ColumnFeatures) -> None:
    records = sessions()
    rows = read_score_body(rows_body(records))
    columns = read_score_body(columns_body(records))
    assert columns.n_rows == rows.n_rows == len(records)
    assert columns.columns == rows.columns
    expected = matrix(features, rows)
    assert np.isfinite(expected).sum() > len(records)  # not all missing
    np.testing.assert_array_equal(matrix(features, columns), expected)


@pytest.mark.parametrize("text", ["string", "large_string", "string_view", "dictionary"])
@pytest.mark.parametrize("numbers", ["int64", "uint16", "float64"])
def test_arrow_gives_the_features_of_the_rows(features: ColumnFeatures, text: str, numbers: str) -> None:
    records = sessions()
    expected = matrix(features, read_score_body(rows_body(records)))
    read = read_score_body(stream(arrow_table(records, text=text, numbers=numbers), chunk=3), ARROW_STREAM)
    assert read.n_rows == len(records)
    np.testing.assert_array_equal(matrix(features, read), expected)


LAST_SUMMER_SECOND = "2026-03-29T00:59:59"  # UTC; a second later Berlin's clocks go forward
STARTS = [
    (pa.array([datetime(2026, 3, 29, 0, 59, 59, 999_999), None, datetime(1969, 12, 31, 23, 59, 59, 500_000)]), "us"),
    (pa.array([1_774_745_999_999_999_999, None, -500_000_000], pa.timestamp("ns")), "ns"),
    (pa.array([1_774_745_999, None, -1], pa.timestamp("s", tz="America/New_York")), "s zoned"),
    (pa.array(["2026-03-29T00:59:59.999999Z", None, "1969-12-31T23:59:59.5"]), "ISO strings"),
]


@pytest.mark.parametrize("starts", [s for s, _ in STARTS], ids=[i for _, i in STARTS])
def test_arrow_starts_give_the_local_hour_and_weekday_of_the_rows(features: ColumnFeatures, starts: pa.Array) -> None:
    """Instants just before the clocks go forward, and before 1970 (seconds round down, as in Python)."""
    records: list[dict[str, Any]] = [
        {"started_at": f"{LAST_SUMMER_SECOND}Z"},
        {"started_at": None},
        {"started_at": "1969-12-31T23:59:59Z"},
    ]
    expected = matrix(features, read_score_body(rows_body(records)))
    read = read_score_body(stream(pa.table({"started_at": starts})), ARROW_STREAM)
    np.testing.assert_array_equal(matrix(features, read), expected)
    hour, weekday = (expected[:, FEATURE_NAMES.index(name)] for name in ("hour", "weekday"))
    assert list(hour[[0, 2]]) == [1.0, 0.0] and list(weekday[[0, 2]]) == [6.0, 3.0] and np.isnan(hour[1])


def test_arrow_null_columns_and_any_chunking_are_missing_values(features: ColumnFeatures) -> None:
    records = sessions()
    table = arrow_table(records)
    table = table.set_column(table.schema.get_field_index("utm_term"), "utm_term", pa.nulls(len(records)))
    for record in records:
        record.pop("utm_term", None)
    expected = matrix(features, read_score_body(rows_body(records)))
    for chunk in (1, 2, None):
        read = read_score_body(stream(table, chunk=chunk), ARROW_STREAM)
        np.testing.assert_array_equal(matrix(features, read), expected)


def test_arrow_dictionaries_larger_than_the_batch_are_read_by_the_values_used(features: ColumnFeatures) -> None:
    """A dictionary may hold far more values than rows (here 40,000 per field for 3 rows)."""
    records = [{"utm_source": "google", "utm_medium": "cpc"}, {"referrer_host": "l.facebook.com"}, {}]
    expected = matrix(features, read_score_body(rows_body(records)))
    arrays = {}
    for name in ("utm_source", "utm_medium", "referrer_host"):
        dictionary = pa.array([f"{name}-{i}" for i in range(40_000)] + [r[name] for r in records if name in r])
        codes = [
            40_000 + sum(1 for r in records[:i] if name in r) if name in r else None for i, r in enumerate(records)
        ]
        arrays[name] = pa.DictionaryArray.from_arrays(pa.array(codes, pa.int32()), dictionary)
    read = read_score_body(stream(pa.table(arrays)), ARROW_STREAM)
    np.testing.assert_array_equal(matrix(features, read), expected)
    channel = expected[:, FEATURE_NAMES.index("channel")]
    assert len(set(channel.tolist())) == 3  # search, social, direct


def test_the_content_type_chooses_the_reader() -> None:
    assert is_arrow("application/vnd.apache.arrow.stream; charset=binary")
    assert is_arrow("Application/Vnd.Apache.Arrow.Stream")
    assert not is_arrow("application/json") and not is_arrow(None)
    body = stream(pa.table({"pageviews": [1]}))
    assert refusal(body, "application/json")[0]["type"] == "json_invalid"  # Arrow bytes are not JSON


BAD_COLUMNS: list[tuple[str, Any, tuple[Any, ...], str]] = [
    ("an unknown field", {"columns": {"pageviews": [1], "email": ["a@b.c"]}}, ("columns", "email"), "Extra inputs"),
    ("ragged", {"columns": {"pageviews": [1, 2], "clicks": [1]}}, ("columns", "clicks"), "equally long"),
    ("no field", {"columns": {}}, ("columns",), "at least one"),
    ("empty lists", {"columns": {"pageviews": []}}, ("columns", "pageviews"), "at least 1 value"),
    ("too many", {"columns": {"pageviews": [1] * 10_001}}, ("columns", "pageviews"), "at most 10000"),
    ("a value not a list", {"columns": {"pageviews": 3}}, ("columns", "pageviews"), "valid list"),
    ("columns not an object", {"columns": [[1]]}, ("columns",), "object"),
    ("both forms", {"columns": {"pageviews": [1]}, "sessions": [{}]}, ("sessions",), "either"),
    ("a negative count", {"columns": {"pageviews": [2, -1]}}, ("columns", "pageviews", 1), "greater than or equal"),
    ("a fractional count", {"columns": {"clicks": [1.5]}}, ("columns", "clicks", 0), "fractional"),
    ("text for a count", {"columns": {"clicks": ["many"]}}, ("columns", "clicks", 0), "valid integer"),
    ("a number as text", {"columns": {"utm_source": [7]}}, ("columns", "utm_source", 0), "valid string"),
    ("a long text", {"columns": {"device_class": ["x" * 21]}}, ("columns", "device_class", 0), "at most 20"),
    ("a bad time", {"columns": {"started_at": ["yesterday"]}}, ("columns", "started_at", 0), "datetime"),
    ("a huge number", b'{"columns": {"duration_s": [1e400]}}', ("columns", "duration_s", 0), "finite"),
]


@pytest.mark.parametrize(("problem", "payload", "loc", "message"), BAD_COLUMNS, ids=[b[0] for b in BAD_COLUMNS])
def test_bad_json_columns_are_refused_where_they_are(
    problem: str, payload: Any, loc: tuple[Any, ...], message: str
) -> None:
    errors = refusal(payload if isinstance(payload, bytes) else json.dumps(payload).encode())
    assert errors[0]["loc"] == ("body", *loc), (problem, errors)
    assert message in errors[0]["msg"], (problem, errors)


def test_nan_in_json_columns_is_not_json() -> None:
    errors = refusal(b'{"columns": {"duration_s": [NaN]}}')
    assert errors[0]["type"] == "json_invalid" and "NaN and Infinity are not numbers" in errors[0]["msg"]


def compressed(codec: str) -> bytes:
    return stream(pa.table({"pageviews": pa.array([0] * 1000)}), compression=codec)


def too_many_batches() -> bytes:
    return stream(pa.table({"pageviews": pa.array([1] * 10_001, pa.int8())}), chunk=5_000)


def bad_utf8() -> bytes:
    good = pa.array(["mobile"])
    offsets, data = good.buffers()[1], pa.py_buffer(b"\xff\xfe\xfdbile")
    broken = pa.Array.from_buffers(pa.string(), 1, [None, offsets, data])
    return stream(pa.table({"device_class": broken}))


def duplicate_names() -> bytes:
    return stream(pa.Table.from_arrays([pa.array([1]), pa.array([2])], names=["pageviews", "pageviews"]))


BAD_ARROW: list[tuple[str, Any, tuple[Any, ...], str]] = [
    ("not Arrow", lambda: b"pageviews\n1\n", (), "Arrow IPC stream"),
    ("truncated", lambda: stream(pa.table({"pageviews": [1, 2, 3]}))[:-30], (), "Arrow IPC stream"),
    ("empty", lambda: b"", (), "Arrow IPC stream"),
    ("zstd", lambda: compressed("zstd"), (), "uncompressed"),
    ("lz4", lambda: compressed("lz4"), (), "uncompressed"),
    ("over 10,000 rows", too_many_batches, (), "at most 10000 rows"),
    (
        "no rows",
        lambda: stream(pa.table({"pageviews": pa.array([], pa.int64())})),
        ("columns", "pageviews"),
        "at least 1",
    ),
    ("no columns", lambda: stream(pa.table({})), ("columns",), "at least one"),
    ("invalid UTF-8", bad_utf8, (), "Arrow IPC stream"),
    ("duplicate names", duplicate_names, ("columns", "pageviews"), "distinct"),
    ("an unknown field", lambda: stream(pa.table({"email": ["a@b.c"]})), ("columns", "email"), "Extra inputs"),
    ("booleans for a count", lambda: stream(pa.table({"clicks": [True]})), ("columns", "clicks"), "integers"),
    ("numbers for text", lambda: stream(pa.table({"region": [7]})), ("columns", "region"), "strings"),
    (
        "integer dictionary",
        lambda: stream(pa.table({"region": pa.array([7]).dictionary_encode()})),
        ("columns", "region"),
        "strings",
    ),
    (
        "dates for starts",
        lambda: stream(pa.table({"started_at": pa.array([0], pa.date32())})),
        ("columns", "started_at"),
        "timestamps",
    ),
    ("NaN", lambda: stream(pa.table({"duration_s": [1.0, float("nan")]})), ("columns", "duration_s", 1), "finite"),
    ("inf", lambda: stream(pa.table({"duration_s": [float("inf")]})), ("columns", "duration_s", 0), "finite"),
    ("a NaN count", lambda: stream(pa.table({"pageviews": [float("nan")]})), ("columns", "pageviews", 0), "finite"),
    ("a fractional count", lambda: stream(pa.table({"clicks": [0.0, 1.5]})), ("columns", "clicks", 1), "fractional"),
    (
        "a negative count",
        lambda: stream(pa.table({"prev_sessions": [3, None, -2]})),
        ("columns", "prev_sessions", 2),
        "greater than or equal",
    ),
    (
        "a huge count",
        lambda: stream(pa.table({"pageviews": pa.array([2**64 - 1], pa.uint64())})),
        ("columns", "pageviews", 0),
        "less than or equal",
    ),
    (
        "a long text",
        lambda: stream(pa.table({"device_class": [None, "x" * 21]})),
        ("columns", "device_class", 1),
        "at most 20",
    ),
    (
        "a long text, unused",
        lambda: stream(pa.table({"utm_term": ["x" * 201]})),
        ("columns", "utm_term", 0),
        "at most 200",
    ),
    (
        "a long text in a dictionary",
        lambda: stream(pa.table({"region": pa.array(["a", "b" * 65, "a"]).dictionary_encode()})),
        ("columns", "region", 1),
        "at most 64",
    ),
    (
        "a start after 9999",
        lambda: stream(pa.table({"started_at": pa.array([253_402_300_800], pa.timestamp("s"))})),
        ("columns", "started_at", 0),
        "years 1 to 9999",
    ),
    ("a bad start text", lambda: stream(pa.table({"started_at": ["soon"]})), ("columns", "started_at", 0), "datetime"),
]


@pytest.mark.parametrize(("problem", "make", "loc", "message"), BAD_ARROW, ids=[b[0] for b in BAD_ARROW])
def test_bad_arrow_is_refused_where_it_is(problem: str, make: Any, loc: tuple[Any, ...], message: str) -> None:
    errors = refusal(make(), ARROW_STREAM)
    assert errors[0]["loc"] == ("body", *loc), (problem, errors)
    assert message in errors[0]["msg"], (problem, errors)


def test_arrow_reports_the_first_bad_rows_of_every_field() -> None:
    table = pa.table({"pageviews": [-1] * 80, "clicks": [1] * 79 + [-5], "duration_s": [1.0] * 80})
    errors = refusal(stream(table), ARROW_STREAM)
    assert len(errors) == 50
    assert [e["loc"][3] for e in errors] == list(range(50))  # the first rows of the first bad field


def test_a_start_at_the_edge_of_the_calendar_is_read() -> None:
    last = datetime(9999, 12, 31, 23, 59, 59)
    read = read_score_body(stream(pa.table({"started_at": pa.array([last], pa.timestamp("s"))})), ARROW_STREAM)
    assert read.columns["started_at"][0] == np.datetime64(last - timedelta(0), "s")


def arrow_file(table: pa.Table, *, compression: str | None = None) -> bytes:
    sink = pa.BufferOutputStream()
    with pa.ipc.new_file(sink, table.schema, options=pa.ipc.IpcWriteOptions(compression=compression)) as writer:
        writer.write_table(table, max_chunksize=2)
    return bytes(sink.getvalue())


def test_an_arrow_file_reads_as_the_stream_does(features: ColumnFeatures) -> None:
    records = sessions()
    table = arrow_table(records, text="string", numbers="int64")
    from_file = read_score_body(arrow_file(table), ARROW_STREAM)
    assert from_file.n_rows == len(records)
    np.testing.assert_array_equal(
        matrix(features, from_file), matrix(features, read_score_body(stream(table), ARROW_STREAM))
    )
    compressed = refusal(arrow_file(table, compression="zstd"), ARROW_STREAM)
    assert compressed[0]["type"] == "arrow_compressed", "a file's messages are checked like a stream's"


def test_an_unknown_field_names_the_likely_one_and_the_list() -> None:
    (error,) = refusal(rows_body([{"pageview": 1}]))
    assert error["loc"] == ("body", "sessions", 0, "pageview")
    assert "did you mean 'pageviews'?" in error["msg"] and "utm_campaign" in error["msg"]
    (error,) = refusal(json.dumps({"columns": {"devise_class": ["mobile"]}}).encode())
    assert "did you mean 'device_class'?" in error["msg"]
    (error,) = refusal(rows_body([{"email": "a@b.c"}]))
    assert "'email' is not a session field" in error["msg"] and "did you mean" not in error["msg"]


def test_a_bare_session_is_told_to_wrap_it() -> None:
    (error,) = refusal(json.dumps({"pageviews": 3, "channel": "search"}).encode())
    assert error["loc"] == ("body",) and '{"sessions": [{' in error["msg"]
    (error,) = refusal(json.dumps({"session": [{"pageviews": 3}]}).encode())
    assert error["loc"] == ("body", "session") and 'did you mean "sessions"?' in error["msg"]


def test_row_ids_are_kept_apart_from_the_features_in_every_form(features: ColumnFeatures) -> None:
    """A caller's ``row_id`` (string or integer, any session may lack it) comes out as sent, in order, and never
    reaches the features: the matrix is the one of the same sessions without it."""
    records = sessions()
    ids: list[str | int | None] = ["order-1", 2**63 - 1, None, "ünïcode id", -5, "x" * 200, 0, "7"][: len(records)]
    assert len(ids) == len(records) and None in ids
    with_ids = [dict(r, row_id=i) if i is not None else dict(r) for r, i in zip(records, ids, strict=True)]
    expected = matrix(features, read_score_body(rows_body(records)))
    rows = read_score_body(rows_body(with_ids))
    columns = read_score_body(json.dumps({"columns": {"row_id": ids, "pageviews": [1] * len(ids)}}).encode())
    strings = read_score_body(
        stream(pa.table({"row_id": pa.array(["a", None, "b"]).dictionary_encode()})), ARROW_STREAM
    )
    numbers = read_score_body(stream(pa.table({"row_id": pa.array([7, None, 2**63 - 1], pa.uint64())})), ARROW_STREAM)
    assert rows.row_ids == columns.row_ids == ids
    assert strings.row_ids == ["a", None, "b"] and numbers.row_ids == [7, None, 2**63 - 1]
    assert "row_id" not in rows.columns and "row_id" not in columns.columns and strings.columns == {}
    np.testing.assert_array_equal(matrix(features, rows), expected)
    assert read_score_body(rows_body(records)).row_ids is None  # none sent: none to echo


BAD_ROW_IDS = [True, 1.5, "", "x" * 201, 2**63, [1], {"id": 1}]


@pytest.mark.parametrize("row_id", BAD_ROW_IDS, ids=[type(v).__name__ + str(len(str(v))) for v in BAD_ROW_IDS])
def test_bad_row_ids_are_refused_where_they_are(row_id: Any) -> None:
    expected = "Input should be a string of 1 to 200 characters or a 64-bit integer (a row id)"
    (row,) = refusal(rows_body([{"pageviews": 1}, {"row_id": row_id}]))
    assert row["loc"] == ("body", "sessions", 1, "row_id") and row["msg"] == expected
    (column,) = refusal(json.dumps({"columns": {"row_id": ["ok", row_id]}}).encode())
    assert column["loc"] == ("body", "columns", "row_id", 1) and column["msg"] == expected


def test_arrow_row_ids_must_be_strings_or_integers_and_a_typo_is_named() -> None:
    (wrong_type,) = refusal(stream(pa.table({"row_id": [1.5]})), ARROW_STREAM)
    assert wrong_type["loc"] == ("body", "columns", "row_id") and "strings or integers" in wrong_type["msg"]
    (too_big,) = refusal(stream(pa.table({"row_id": pa.array([1, 2**63], pa.uint64())})), ARROW_STREAM)
    assert too_big["loc"] == ("body", "columns", "row_id", 1)
    (typo,) = refusal(rows_body([{"rowid": "a"}]))
    assert "did you mean 'row_id'?" in typo["msg"]
