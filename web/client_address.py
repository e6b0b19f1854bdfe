"""Who is asking: the client's address as the throttles key it.

Behind a reverse proxy every request comes from the proxy's address, so a
throttle keyed on it would count all clients as one (and one attacker could
lock everybody out). The proxy names the client in ``X-Forwarded-For``, but
any client can send that header too. So it is believed only from the
proxies listed in ``server.trusted_proxies``: the client is the rightmost
address of the chain that is not one of them, which is the last hop a
trusted proxy vouches for. From anybody else the header is ignored.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_networks(values: Iterable[str]) -> tuple[Network, ...]:
    """Addresses or CIDR blocks (``10.0.0.0/8``); raises ValueError for anything else."""
    return tuple(ipaddress.ip_network(v.strip(), strict=False) for v in values)


class ClientAddress:
    __slots__ = ("_trusted",)

    def __init__(self, trusted: tuple[Network, ...]) -> None:
        self._trusted = trusted

    def _is_trusted(self, address: str) -> bool:
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(ip in network for network in self._trusted)

    def of(self, peer: str | None, forwarded_for: Iterable[str]) -> str:
        """The client's address for a request from ``peer`` carrying these ``X-Forwarded-For`` values."""
        client = peer or "unknown"
        if not self._trusted or not self._is_trusted(client):
            return client
        hops = [hop.strip() for value in forwarded_for for hop in value.split(",")]
        for hop in reversed(hops):
            try:
                ipaddress.ip_address(hop)
            except ValueError:
                break  # garbage the trusted proxy passed on: stop at the last hop it vouched for
            client = hop
            if not self._is_trusted(hop):
                break
        return client
