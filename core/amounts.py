"""Amounts as people read them: whole units when large, three significant digits when small.

Budgets of a few units a day (a small advertiser's campaign, a media-mix data set in thousands) must not print as
``0`` or ``-0``: below 100 an amount keeps three significant digits (``84.3``, ``5.50``, ``0.319``).
"""

from __future__ import annotations

import math

WHOLE_FROM = 100.0  # from here on, amounts print as whole units


def _decimals(size: float) -> int:
    """Decimals that keep three significant digits of ``size`` (0 from :data:`WHOLE_FROM` on)."""
    if size >= WHOLE_FROM or size == 0:
        return 0
    decimals = max(0, 2 - math.floor(math.log10(size)))
    return 0 if round(size, decimals) >= WHOLE_FROM else decimals  # 99.96 reads 100, not 100.0


def amount(value: float) -> str:
    """``1,325``, ``84.3``, ``5.50``, ``0.319``, ``0``; ``–`` for a missing or infinite value."""
    if value is None or not math.isfinite(value):
        return "–"
    return f"{value:,.{_decimals(abs(value))}f}"


def signed_amount(value: float) -> str:
    """:func:`amount` with its sign: ``+1,325``, ``-0.319``, ``+0``."""
    if value is None or not math.isfinite(value):
        return "–"
    return f"{value:+,.{_decimals(abs(value))}f}"
