"""IP restrictions: the ``allowedIpRanges`` of an organization and of an API token.

A list is CIDR ranges, IPv4 or IPv6; empty means no restriction. The organization's
list applies to every credential of the organization (API tokens, deployment API
keys' access tokens, workload identities' access tokens); a token's own list narrows
it further, so a request must come from inside both when both are set.

Lists are parsed once, when a credential is loaded into the per-process cache; a
request then costs a dict lookup (the verdict for its address is remembered by the
cached object, which is dropped with the credential on any change).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address

MAX_RANGES = 100
# Verdicts remembered per cached credential; beyond, it starts again empty.
_VERDICTS_LIMIT = 1024
TOKEN_SETTING = "this token's allowedIpRanges"
ORGANIZATION_SETTING = "the organization's allowedIpRanges"
HINT = "send the request from an allowed address, or have the list changed"


def normalise_ranges(values: Iterable[str]) -> list[str]:
    """Each range in its canonical form (``2001:DB8::/32`` → ``2001:db8::/32``, a bare
    address → ``/32`` or ``/128``), duplicates dropped, order kept.

    Raises ValueError naming the first value that is not a range, or one with host
    bits set (``10.0.0.5/24``): that is more often a typo than a wish for the
    whole network, so it is refused with the network it would mean, not widened.
    """
    kept: dict[str, None] = {}
    for value in values:
        text = value.strip()
        try:
            network = ipaddress.ip_network(text)
        except ValueError:
            raise ValueError(_why_not(text)) from None
        kept[str(_unmapped(network))] = None
    if len(kept) > MAX_RANGES:
        raise ValueError(f"at most {MAX_RANGES} ranges")
    return list(kept)


def _unmapped(network: Network) -> Network:
    """An IPv4-mapped IPv6 range in its IPv4 form (``::ffff:10.0.0.0/104`` →
    ``10.0.0.0/8``): it names IPv4 clients, which are compared as IPv4 addresses. An
    IPv6 range wider than the mapped block (``::/0``) names IPv6 clients only."""
    if isinstance(network, ipaddress.IPv6Network) and network.prefixlen >= 96:
        mapped = network.network_address.ipv4_mapped
        if mapped is not None:
            return ipaddress.IPv4Network(f"{mapped}/{network.prefixlen - 96}")
    return network


def _why_not(text: str) -> str:
    try:
        meant = ipaddress.ip_network(text, strict=False)
    except ValueError:
        return (
            f"{text!r} is not an IPv4 or IPv6 range in CIDR notation "
            "(e.g. 203.0.113.0/24, 2001:db8::/32, or one address)"
        )
    return f"{text!r} has host bits set: write the network, {meant}"


@dataclass(frozen=True, slots=True)
class AllowedRanges:
    """The lists that apply to one credential, parsed; build it with :meth:`of`."""

    organization: tuple[Network, ...]
    credential: tuple[Network, ...]
    _verdicts: dict[str, str | None] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def of(
        cls, organization: Sequence[str] | None, credential: Sequence[str] | None = None
    ) -> AllowedRanges | None:
        """The restriction from stored lists (canonical CIDR); None when neither is set."""
        if not organization and not credential:
            return None
        return cls(_parse(organization), _parse(credential))

    def refusal(self, address: str) -> str | None:
        """None when a request from ``address`` is inside every list that is set; else
        the reason, naming the address and the setting. An address that is not an IP
        (no client address at all) is inside no range."""
        verdicts = self._verdicts
        if address in verdicts:
            return verdicts[address]
        verdict = self._judge(address)
        if len(verdicts) >= _VERDICTS_LIMIT:
            verdicts.clear()
        verdicts[address] = verdict
        return verdict

    def _judge(self, address: str) -> str | None:
        ip = _address(address)
        for networks, setting in (
            (self.credential, TOKEN_SETTING),
            (self.organization, ORGANIZATION_SETTING),
        ):
            if networks and (ip is None or not any(ip in network for network in networks)):
                return f"request from {address} is outside {setting}"
        return None


def _parse(ranges: Sequence[str] | None) -> tuple[Network, ...]:
    # Unmapped here too: lists stored before normalise_ranges unmapped them.
    return tuple(_unmapped(ipaddress.ip_network(text)) for text in ranges or ())


def _address(text: str) -> Address | None:
    try:
        ip = ipaddress.ip_address(text)
    except ValueError:
        return None
    # A dual-stack listener sees IPv4 clients as ::ffff:a.b.c.d: they are IPv4 clients,
    # inside IPv4 ranges (and ranges written in the mapped form, see _unmapped) only.
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    return ip
