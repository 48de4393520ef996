"""Amounts keep three significant digits below 100 and print whole above."""

from __future__ import annotations

import math

import pytest

from core.amounts import amount, signed_amount


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (1325.19, "1,325"),
        (100.0, "100"),
        (99.96, "100"),
        (9.996, "10.00"),
        (84.3, "84.3"),
        (5.5, "5.50"),
        (0.31858, "0.319"),
        (0.00093, "0.000930"),
        (0.0, "0"),
        (-12.345, "-12.3"),
        (2_500_000.4, "2,500,000"),
    ],
)
def test_amounts(value: float, text: str) -> None:
    assert amount(value) == text


def test_signed_amounts_and_missing_values() -> None:
    assert (signed_amount(0.2), signed_amount(-1500.2), signed_amount(0.0)) == ("+0.200", "-1,500", "+0")
    assert amount(math.nan) == signed_amount(math.inf) == "–"
