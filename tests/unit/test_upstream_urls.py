"""The refused upstream set: every cloud's metadata address, in every spelling a resolver reads,
refused when an admin names it and when a host resolves to it (checked without connecting)."""

from __future__ import annotations

import socket

import pytest

from app.domain.upstream_urls import (
    UpstreamUrlError,
    is_dns_label,
    is_forbidden_address,
    validate_upstream_url,
)
from app.errors import ProxyError
from app.proxy.upstream import VettedResolution

METADATA = [
    "169.254.169.254", "fd00:ec2::254", "100.100.100.200", "192.0.0.192", "169.254.170.2",
]  # fmt: skip


def spellings(ipv4: str) -> list[str]:
    """The forms of one IPv4 address that inet_aton, and so getaddrinfo, read as that address."""
    packed = socket.inet_aton(ipv4)
    value = int.from_bytes(packed, "big")
    octets = list(packed)
    return [
        ipv4, str(value), hex(value), f"0x{value:08X}", oct(value).replace("0o", "0"),
        ".".join(f"0{o:o}" for o in octets), ".".join(hex(o) for o in octets),
        f"{octets[0]}.{octets[1]}.{octets[2] * 256 + octets[3]}",
        f"{octets[0]}.{(octets[1] << 16) + (octets[2] << 8) + octets[3]}",
        f"::ffff:{ipv4}", f"[::ffff:{ipv4}]", f"::ffff:{value >> 16:x}:{value & 0xFFFF:x}",
        f"::{ipv4}", f"64:ff9b::{ipv4}", f"2002:{value >> 16:x}:{value & 0xFFFF:x}::1",
        f"{ipv4}.", ipv4.translate(str.maketrans("0123456789", "０１２３４５６７８９")),
    ]  # fmt: skip


@pytest.mark.parametrize("address", [a for a in METADATA if ":" not in a])
def test_every_spelling_of_an_ipv4_metadata_address_is_refused(address):
    for spelling in spellings(address):
        assert is_forbidden_address(spelling), spelling
        with pytest.raises(UpstreamUrlError):
            validate_upstream_url(f"http://{as_url_host(spelling)}/v1")


def as_url_host(spelling: str) -> str:
    bare = spelling.strip("[]")
    return f"[{bare}]" if ":" in bare else bare


def test_every_spelling_really_is_that_address_for_the_resolver():
    for spelling in spellings("169.254.169.254")[:9]:  # the IPv4 forms
        assert socket.inet_aton(spelling) == socket.inet_aton("169.254.169.254"), spelling


@pytest.mark.parametrize("address", ["fd00:ec2::254", "FD00:EC2:0:0:0:0:0:254", "fe80::1",
                                     "metadata.google.internal", "METADATA.GOOGLE.INTERNAL."])  # fmt: skip
def test_ipv6_and_named_metadata_hosts_are_refused(address):
    assert is_forbidden_address(address)


@pytest.mark.parametrize("host", ["127.0.0.1", "10.0.0.5", "api.openai.com", "::1", "2001:db8::1",
                                  "100.100.100.201", "192.0.0.193", "0xdeadbeefhost.example",
                                  "deadbeef", "1e100.net"])  # fmt: skip
def test_ordinary_hosts_are_allowed(host):
    assert not is_forbidden_address(host)


@pytest.mark.parametrize("address", METADATA)
def test_a_host_resolving_to_a_metadata_address_is_refused_before_connecting(address):
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    infos = [(family, socket.SOCK_STREAM, 6, "", (address, 443))]
    vetted = VettedResolution(lambda: infos, "innocent.example")
    with pytest.raises(ProxyError) as refused:
        vetted()
    assert refused.value.status == 502


def test_a_non_ascii_host_is_refused_at_admin_time():
    with pytest.raises(UpstreamUrlError, match="xn--"):
        validate_upstream_url("https://exämple.com/v1")


@pytest.mark.parametrize("name", ["my-resource", "a", "res0urce-1", "x" * 63])
def test_dns_labels(name):
    assert is_dns_label(name)


@pytest.mark.parametrize("name", ["evil.com/x?", "a.b", "-a", "a-", "x" * 64, "a b", "",
                                  "evil.com#", "évil", "a\u0000", "abc\n"])  # fmt: skip
def test_not_dns_labels(name):
    assert not is_dns_label(name)
