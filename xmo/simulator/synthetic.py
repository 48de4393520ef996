"""Synthetic identifiers: random ids, and personal data from reserved ranges only.

Email addresses end in ``@example.com`` (RFC 2606), IP addresses come from the documentation networks
192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24 (RFC 5737) and 2001:db8::/32 (RFC 3849), member ids look like
``M0001234``. Nothing generated here can belong to a real person or host.
"""

from __future__ import annotations

import ipaddress
import re

import numpy as np
import numpy.typing as npt

from xmo.simulator.catalog import EMAIL_DOMAIN, IPV4_NETWORKS, IPV6_PREFIX

ObjectArray = npt.NDArray[np.object_]

RESERVED_NETWORKS = tuple(
    ipaddress.ip_network(n) for n in ("192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24", "2001:db8::/32")
)
EMAIL_PATTERN = re.compile(r"^[a-z0-9.+-]+@example\.com$")
MEMBER_ID_PATTERN = re.compile(r"^M\d{7}$")
MEMBER_ID_SPACE = 10_000_000
_MEMBER_STRIDE = 7_368_787  # coprime with MEMBER_ID_SPACE: index -> id is a permutation


def hex_ids(raw: npt.NDArray[np.uint8]) -> ObjectArray:
    """32-character lower-case hex strings of an ``(n, 16)`` byte array, as a Python-string object array."""
    raw = np.ascontiguousarray(raw, dtype=np.uint8)
    if raw.size == 0:
        return np.empty(0, dtype=object)
    text = np.frombuffer(raw.tobytes().hex().encode("ascii"), dtype="S32")
    return text.astype("U32").astype(object)


def random_id_bytes(rng: np.random.Generator, n: int) -> npt.NDArray[np.uint8]:
    """``n`` random 128-bit ids as an ``(n, 16)`` byte array."""
    return np.frombuffer(rng.bytes(16 * n), dtype=np.uint8).reshape(n, 16)


def ip_pool(rng: np.random.Generator, ipv6_addresses: int = 2048) -> tuple[ObjectArray, int]:
    """Every host address of the three IPv4 documentation networks, then random 2001:db8:: addresses.

    Returns the pool and the number of IPv4 addresses at its start.
    """
    v4 = [f"{net}.{host}" for net in IPV4_NETWORKS for host in range(1, 255)]
    groups = rng.integers(0, 0x10000, size=(ipv6_addresses, 3))
    v6 = [f"{IPV6_PREFIX}:{a:x}:{b:x}::{c:x}" for a, b, c in groups.tolist()]
    pool = np.empty(len(v4) + len(v6), dtype=object)
    pool[:] = v4 + v6
    return pool, len(v4)


def emails(rng: np.random.Generator, n: int) -> ObjectArray:
    """``n`` addresses like ``runner.3fa2c07d91be@example.com`` (48 random bits each)."""
    locals_ = rng.integers(0, 1 << 48, size=n, dtype=np.int64)
    out = np.empty(n, dtype=object)
    out[:] = [f"runner.{x:012x}@{EMAIL_DOMAIN}" for x in locals_.tolist()]
    return out


def member_ids(indices: npt.NDArray[np.int64], offset: int) -> ObjectArray:
    """Member ids ``M`` + 7 digits, distinct for distinct indices below ten million."""
    numbers = (indices.astype(np.int64) * _MEMBER_STRIDE + offset) % MEMBER_ID_SPACE
    out = np.empty(len(numbers), dtype=object)
    out[:] = [f"M{x:07d}" for x in numbers.tolist()]
    return out


def is_reserved_ip(text: str) -> bool:
    """Whether an address lies in a documentation network."""
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return False
    return any(address in network for network in RESERVED_NETWORKS)
