"""Rules for admin-supplied upstream base URLs: well-formed, http(s), never a metadata address."""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

_FORBIDDEN_NETWORKS = (
    ipaddress.ip_network("169.254.0.0/16"),
    ipaddress.ip_network("fe80::/10"),
    ipaddress.ip_network("fd00:ec2::254/128"),
)
_FORBIDDEN_HOSTS = frozenset({"metadata.google.internal", "metadata"})


class UpstreamUrlError(ValueError):
    """The URL cannot be used as an upstream origin."""


def is_forbidden_address(host: str) -> bool:
    """True for cloud metadata and link-local addresses, given as a name or a literal IP."""
    name = host.strip("[]").lower().rstrip(".")
    if name in _FORBIDDEN_HOSTS:
        return True
    try:
        address = ipaddress.ip_address(name)
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    return any(address in network for network in _FORBIDDEN_NETWORKS)


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
    try:
        _ = parts.port
    except ValueError as exc:
        raise UpstreamUrlError("has an invalid port") from exc
    return url.strip().rstrip("/")
