"""The one parser of hand-read JSON request bodies (``/v1/events``, ``/v1/spend``, ``/v1/kpi``).

RFC 8259 (section 9) lets a parser limit nesting and the range of numbers; xmo does, so that a hostile body is
a 400 with a message instead of a ``RecursionError``, a 4,000-digit integer that overflows later, an integer
that a 64-bit column stores wrapped around, or a float that overflows to infinity. ``NaN`` and ``Infinity`` are
not JSON and are refused too.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

from serving.errors import MalformedBody

MAX_DEPTH = 32  # arrays and objects inside each other; xmo's bodies need 3
MAX_INTEGER = 2**63 - 1  # integers must fit a signed 64-bit column
_MAX_INTEGER_DIGITS = len(str(MAX_INTEGER))
_SHOWN_DIGITS = 30


class _Refused(ValueError):
    """A value the parser's hooks refuse (raised through ``json.loads`` unchanged)."""


@dataclass(frozen=True)
class OutOfRange:
    """A number no 64-bit column or float holds, kept in place of its value when the caller judges it per item."""

    message: str


def _integer_out_of_range(text: str) -> OutOfRange | None:
    digits = len(text.lstrip("-"))
    if digits <= _MAX_INTEGER_DIGITS and -MAX_INTEGER - 1 <= int(text) <= MAX_INTEGER:
        return None
    shown = text if digits <= _SHOWN_DIGITS else f"one of {digits:,} digits"
    return OutOfRange(f"an integer out of range, {shown}: integers must fit in 64 bits (±{MAX_INTEGER:,})")


def _float_out_of_range(text: str) -> OutOfRange | None:
    if not math.isinf(float(text)):
        return None
    shown = text if len(text) <= _SHOWN_DIGITS else f"one of {len(text):,} characters"
    return OutOfRange(f"a number out of range, {shown}: numbers must be below about 1.8e308")


def _refuse_integer(text: str) -> int:
    if (problem := _integer_out_of_range(text)) is not None:
        raise _Refused(f"the body has {problem.message}")
    return int(text)


def _refuse_float(text: str) -> float:
    if (problem := _float_out_of_range(text)) is not None:
        raise _Refused(f"the body has {problem.message}")
    return float(text)


def _mark_integer(text: str) -> int | OutOfRange:
    return _integer_out_of_range(text) or int(text)


def _mark_float(text: str) -> float | OutOfRange:
    return _float_out_of_range(text) or float(text)


def _constant(name: str) -> Any:
    raise _Refused(f"the body is not valid JSON: {name} is not a JSON number (send null for a missing value)")


def _deeper_than(value: Any, limit: int) -> bool:
    """Whether arrays and objects in ``value`` nest more than ``limit`` levels (iteratively: no recursion)."""
    stack: list[tuple[Any, int]] = [(value, 1)] if isinstance(value, dict | list) else []
    while stack:
        node, depth = stack.pop()
        if depth > limit:
            return True
        for child in node.values() if isinstance(node, dict) else node:
            if isinstance(child, dict | list):
                stack.append((child, depth + 1))
    return False


def parse_json(body: bytes | str, *, max_depth: int = MAX_DEPTH, mark_out_of_range: bool = False) -> Any:
    """The value of a JSON body; ``MalformedBody`` (400) for bad UTF-8, bad JSON, ``NaN``/``Infinity``, nesting
    deeper than ``max_depth``, an integer outside 64 bits or a number beyond a float's range, with a message that
    says which. With ``mark_out_of_range``, such numbers become ``OutOfRange`` in place instead (a batch whose
    items are judged one by one drops only the item that holds one)."""
    if isinstance(body, bytes):
        try:
            body = body.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise MalformedBody("the body is not valid UTF-8") from exc
    too_deep = f"the body nests arrays and objects deeper than {max_depth} levels"
    try:
        value = json.loads(
            body,
            parse_int=_mark_integer if mark_out_of_range else _refuse_integer,
            parse_float=_mark_float if mark_out_of_range else _refuse_float,
            parse_constant=_constant,
        )
    except _Refused as exc:
        raise MalformedBody(str(exc)) from None
    except json.JSONDecodeError as exc:
        raise MalformedBody(f"the body is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from exc
    except RecursionError:
        raise MalformedBody(too_deep) from None
    if _deeper_than(value, max_depth):
        raise MalformedBody(too_deep)
    return value
