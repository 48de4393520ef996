"""IP truncation: the only form of an address that may go past the edge."""

from __future__ import annotations

import ipaddress
from functools import lru_cache


@lru_cache(maxsize=65536)
def truncate_ip(address: str | None, v4_prefix: int = 24, v6_prefix: int = 48) -> str | None:
    """The network address of ``address`` at the given prefix length (``192.0.2.77`` → ``192.0.2.0``).

    IPv4-mapped IPv6 addresses are treated as IPv4. Returns None for anything that is not an address.
    """
    if not address:
        return None
    try:
        ip = ipaddress.ip_address(address.strip())
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    prefix = v4_prefix if ip.version == 4 else v6_prefix
    return str(ipaddress.ip_network(f"{ip}/{prefix}", strict=False).network_address)
