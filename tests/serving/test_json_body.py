"""The shared parser of hand-read JSON bodies: hostile nesting and numbers are a ``MalformedBody`` (400) with a
message, never a ``RecursionError``, an ``OverflowError`` later on, or a value a 64-bit column wraps around."""

from __future__ import annotations

import pytest

from serving.json_body import MAX_DEPTH, MAX_INTEGER, MalformedBody, parse_json


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (f'{{"impressions": {2**70}}}', "integer out of range, 1180591620717411303424: integers must fit in 64 bits"),
        (f"[{MAX_INTEGER + 1}]", "integer out of range, 9223372036854775808"),
        (f"[{-MAX_INTEGER - 2}]", "integer out of range, -9223372036854775809"),
        ("[" + "9" * 4000 + "]", "integer out of range, one of 4,000 digits"),
        ("[" + "9" * 5000 + "]", "integer out of range, one of 5,000 digits"),  # past Python's 4,300-digit limit
        ("[1e400]", "number out of range, 1e400"),
        ("[NaN]", "NaN is not a JSON number"),
        ("[-Infinity]", "-Infinity is not a JSON number"),
        (nested(100_000), f"deeper than {MAX_DEPTH} levels"),  # the C parser's recursion limit
        ("[" * 100_000, f"deeper than {MAX_DEPTH} levels"),
        (nested(MAX_DEPTH + 1), f"deeper than {MAX_DEPTH} levels"),  # below the recursion limit: counted
        ('{"rows": [' + nested(MAX_DEPTH) + "]}", f"deeper than {MAX_DEPTH} levels"),
        ('{"rows": [', "not valid JSON: Expecting value at line 1 column 11"),
        (b"\xff[]", "not valid UTF-8"),
    ],
)
def test_hostile_bodies_are_malformed_with_a_message(body: str | bytes, message: str) -> None:
    with pytest.raises(MalformedBody) as caught:
        parse_json(body)
    assert caught.value.http_status == 400 and caught.value.code == "invalid_json"
    assert message in str(caught.value)
    assert len(str(caught.value)) < 200  # a 4,000-digit number is described, not echoed


def test_values_at_the_limits_are_kept_exactly() -> None:
    deepest: list[object] = []
    for _ in range(MAX_DEPTH - 1):
        deepest = [deepest]
    assert parse_json(nested(MAX_DEPTH)) == deepest
    assert parse_json(f"[{MAX_INTEGER}, {-MAX_INTEGER - 1}, 1.5e308, -0, 0.1]") == [
        MAX_INTEGER,
        -MAX_INTEGER - 1,
        1.5e308,
        0,
        0.1,
    ]
    assert parse_json(b'{"rows": [{"date": "2026-01-01", "spend": 1}]}') == {
        "rows": [{"date": "2026-01-01", "spend": 1}]
    }
