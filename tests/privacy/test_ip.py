from __future__ import annotations

import pytest

from privacy.ip import truncate_ip


@pytest.mark.parametrize(
    ("address", "v4", "v6", "expected"),
    [
        ("192.0.2.77", 24, 48, "192.0.2.0"),
        ("198.51.100.255", 16, 48, "198.51.0.0"),
        ("2001:db8:abcd:12:1:2:3:4", 24, 48, "2001:db8:abcd::"),
        ("2001:db8:abcd:12::1", 24, 32, "2001:db8::"),
        ("::ffff:203.0.113.9", 24, 48, "203.0.113.0"),
        (" 203.0.113.9 ", 24, 48, "203.0.113.0"),
        ("not-an-ip", 24, 48, None),
        ("", 24, 48, None),
        (None, 24, 48, None),
    ],
)
def test_truncate_ip(address: str | None, v4: int, v6: int, expected: str | None) -> None:
    assert truncate_ip(address, v4, v6) == expected
