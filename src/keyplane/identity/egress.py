"""Requests to URLs that a tenant configured (SSO discovery, JWKS, token endpoint).

An organization owner chooses an SSO connection's issuer, so without a check the server
would fetch any URL for them: its own loopback services, the private network, the
cloud metadata address. Unless the operator allows private networks
(``KEYPLANE_SSO_ALLOW_PRIVATE_NETWORKS``), every address the host resolves to must be
public, and the connection is made to the address that was checked, so a DNS answer
that changes between the check and the connect (rebinding) cannot slip past it. TLS
still verifies the certificate against the host name.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Iterable
from typing import Any

import httpcore
import httpx

SETTING = "KEYPLANE_SSO_ALLOW_PRIVATE_NETWORKS"


def is_public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])  # drop an IPv6 zone
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


class PublicOnlyBackend(httpcore.AsyncNetworkBackend):
    """Connects only to public addresses: resolves the host, checks every address."""

    def __init__(self) -> None:
        self._backend = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        try:
            found = await asyncio.get_running_loop().getaddrinfo(
                host, port, type=socket.SOCK_STREAM
            )
        except OSError as error:
            raise httpcore.ConnectError(f"cannot resolve {host}: {error}") from None
        addresses = [str(info[4][0]) for info in found]
        refused = [address for address in addresses if not is_public(address)]
        if refused or not addresses:
            raise httpcore.ConnectError(
                f"{host} resolves to a loopback, private or link-local address "
                f"({refused[0] if refused else 'none'}): refused unless {SETTING} is set"
            )
        return await self._backend.connect_tcp(
            addresses[0], port, timeout, local_address, socket_options
        )

    async def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore.AsyncNetworkStream:
        raise httpcore.ConnectError("unix sockets are never used for tenant URLs")

    async def sleep(self, seconds: float) -> None:
        await self._backend.sleep(seconds)


def client_options(allow_private_networks: bool) -> dict[str, Any]:
    """Keyword arguments for an ``httpx.AsyncClient`` (or Authlib's) that fetches tenant
    URLs; a new transport each time, since a client closes its transport with itself."""
    if allow_private_networks:
        return {}
    transport = httpx.AsyncHTTPTransport()
    # httpx has no argument for the network backend; its pool (httpcore) has.
    transport._pool = httpcore.AsyncConnectionPool(
        ssl_context=httpx.create_ssl_context(), network_backend=PublicOnlyBackend()
    )
    return {"transport": transport}
