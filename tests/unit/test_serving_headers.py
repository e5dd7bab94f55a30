"""The request-header parser of the proxy's worker answers exactly as gevent's own parser does."""

from __future__ import annotations

import io

import pytest
from gevent.pywsgi import headers_factory
from hypothesis import given, settings
from hypothesis import strategies as st

from app.serving import parse_request_headers


def _view(message) -> tuple:
    return (message.status, list(message.items()), list(message.headers), message.get("content-length"),
            message.typeheader, [type(d).__name__ for d in getattr(message, "defects", [])])  # fmt: skip


def _both(block: bytes) -> tuple[tuple, tuple]:
    expected = headers_factory(io.BytesIO(block))
    got = parse_request_headers(io.BytesIO(block))
    return _view(got), _view(expected)


@pytest.mark.parametrize("block", [
    b"Host: a\r\nContent-Type: application/json\r\nContent-Length: 12\r\n\r\nbody",
    b"Host:a\r\nX-Empty:\r\nX-Spaces:  \t padded  \r\n\r\n",
    b"Host: a\nAccept: */*\n\n",  # bare newlines
    b"Host: a\r\nX-Folded: one\r\n two\r\n\r\n",  # obsolete line folding
    b"Host: a\r\nnot a header line\r\nX-After: b\r\n\r\n",
    b"Host: a\r\n : no name\r\n\r\n",
    b"From someone\r\nHost: a\r\n\r\n",
    b"Host: a\r\nX-Late: b",  # the connection ended inside the headers
    b"Host: a\r\nX-Cr: a\rb\r\n\r\n",
    b"Host: a\r\nX-Latin: caf\xe9\r\n\r\n",
    b"\r\n",
    b"",
    b"Host: a\r\nX-Long: " + b"v" * 70_000 + b"\r\n\r\n",
])  # fmt: skip
def test_known_blocks_parse_as_gevent_parses_them(block: bytes) -> None:
    got, expected = _both(block)
    assert got == expected


_LINE = st.one_of(
    st.binary(max_size=40).map(lambda b: b + b"\r\n"),
    st.tuples(st.text("Ab-_:! \t", min_size=0, max_size=8), st.binary(max_size=20)).map(
        lambda t: t[0].encode() + b":" + t[1] + b"\r\n"
    ),
    st.sampled_from(
        [b"X: \x0b\r\n", b"X: a\x85b\r\n", b"X: a\x0cb\r\n", b"X: a\x1cb\r\n", b" folded\r\n"]
    ),
)


@settings(max_examples=400)
@given(st.lists(_LINE, max_size=8), st.sampled_from([b"\r\n", b"\n", b""]))
def test_any_block_parses_as_gevent_parses_it(lines: list[bytes], end: bytes) -> None:
    got, expected = _both(b"".join(lines) + end)
    assert got == expected
