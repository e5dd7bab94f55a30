"""Rules for admin-supplied upstream base URLs: well-formed, http(s), never a metadata address.

`is_forbidden_address` is the one refused set, used at admin time (on the URL's host) and at
connect time (on every address the host resolves to). It covers every cloud's metadata service
(AWS, GCP and Azure 169.254.169.254 and fd00:ec2::254, Alibaba 100.100.100.200, Oracle
192.0.0.192, ECS 169.254.170.2), all of link-local, and a host written in any form a resolver
accepts for them: decimal (`2852039166`), hex (`0xa9fea9fe`), octal (`0251.0376.0251.0376`),
short forms (`169.254.43518`), fullwidth or circled digits (NFKC), and IPv6 forms that carry an
IPv4 address (mapped `::ffff:`, compatible `::`, NAT64 `64:ff9b::`, 6to4, Teredo).
"""

from __future__ import annotations

import ipaddress
import re
import socket
import unicodedata
from urllib.parse import urlsplit

Address = ipaddress.IPv4Address | ipaddress.IPv6Address

_FORBIDDEN_NETWORKS = (
    ipaddress.ip_network("169.254.0.0/16"),  # link-local: AWS/GCP/Azure metadata, ECS tasks
    ipaddress.ip_network("100.100.100.200/32"),  # Alibaba Cloud metadata
    ipaddress.ip_network("192.0.0.192/32"),  # Oracle Cloud metadata
    ipaddress.ip_network("fe80::/10"),
    ipaddress.ip_network("fd00:ec2::254/128"),  # AWS metadata over IPv6
)
_FORBIDDEN_HOSTS = frozenset({"metadata.google.internal", "metadata", "metadata.goog"})
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_LEGACY_IPV4 = re.compile(r"[0-9a-fx.]+")  # what inet_aton may read as an address
_DNS_LABEL = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?", re.IGNORECASE)


class UpstreamUrlError(ValueError):
    """The URL cannot be used as an upstream origin."""


def parse_address(host: str) -> Address | None:
    """The IP address a host names in any form a resolver reads as a literal, or None."""
    name = unicodedata.normalize("NFKC", host).strip("[]").lower().rstrip(".")
    try:
        return ipaddress.ip_address(name)
    except ValueError:
        pass
    if _LEGACY_IPV4.fullmatch(name) and any(c.isdigit() for c in name):
        try:
            return ipaddress.IPv4Address(socket.inet_aton(name))  # parsing only, no lookup
        except OSError:
            return None
    return None


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address.teredo is not None:
        return address.teredo[1]
    if address in _NAT64 or int(address) >> 32 == 0:  # NAT64 or IPv4-compatible
        value = int(address) & 0xFFFFFFFF
        return ipaddress.IPv4Address(value) if value > 1 else None  # not :: or ::1
    return None


def is_forbidden_address(host: str) -> bool:
    """True for cloud metadata and link-local addresses, given as a name or a literal IP."""
    name = unicodedata.normalize("NFKC", host).strip("[]").lower().rstrip(".")
    if name in _FORBIDDEN_HOSTS:
        return True
    address = parse_address(name)
    if address is None:
        return False
    candidates: list[Address] = [address]
    if isinstance(address, ipaddress.IPv6Address):
        embedded = _embedded_ipv4(address)
        if embedded is not None:
            candidates.append(embedded)
    return any(a in network for a in candidates for network in _FORBIDDEN_NETWORKS)


def is_dns_label(value: str) -> bool:
    """True for one DNS label: letters, digits and inner hyphens, 1 to 63 characters."""
    return bool(_DNS_LABEL.fullmatch(value))


def validate_upstream_url(url: str) -> str:
    """Return the URL without a trailing slash, or raise UpstreamUrlError saying what is wrong."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UpstreamUrlError("must be an absolute http or https URL")
    if parts.query or parts.fragment:
        raise UpstreamUrlError("must not carry a query string or fragment")
    if parts.username or parts.password:
        raise UpstreamUrlError("must not carry credentials")
    if is_forbidden_address(parts.hostname):
        raise UpstreamUrlError("metadata and link-local addresses are not allowed upstreams")
    if not parts.hostname.isascii():
        raise UpstreamUrlError("the host must be ASCII: write an international name as xn--...")
    try:
        _ = parts.port
    except ValueError as exc:
        raise UpstreamUrlError("has an invalid port") from exc
    return url.strip().rstrip("/")
