"""The request-header parser of the proxy's worker answers exactly as gevent's own parser does,
except for the blocks it refuses (app/framing.py): folded lines, control characters, and
ambiguous body framing."""

from __future__ import annotations

import io

import pytest
from gevent.pywsgi import headers_factory
from hypothesis import given, settings
from hypothesis import strategies as st

from app.framing import BadFraming
from app.serving import parse_request_headers


def _view(message) -> tuple:
    return (message.status, list(message.items()), list(message.headers), message.get("content-length"),
            message.typeheader, [type(d).__name__ for d in getattr(message, "defects", [])])  # fmt: skip


def _both(block: bytes) -> tuple[tuple, tuple]:
    expected = headers_factory(io.BytesIO(block))
    try:
        got = parse_request_headers(io.BytesIO(block))
    except BadFraming:
        assert _refusable(block), block
        return ("refused",), ("refused",)
    return _view(got), _view(expected)


def _refusable(block: bytes) -> bool:
    """What the framing rules may refuse: a folded line, a control character other than a tab
    inside a line, or a block that names the body's length."""
    lines = block.split(b"\n")
    folded = any(line[:1] in (b" ", b"\t") for line in lines)
    control = any(c < 32 and c != 9 or c == 127 for line in lines for c in line.rstrip(b"\r"))
    framing = b"content-length" in block.lower() or b"transfer-encoding" in block.lower()
    return folded or control or framing or b"\r" in block.replace(b"\r\n", b"")


@pytest.mark.parametrize("block", [
    b"Host: a\r\nX-Folded: one\r\n two\r\n\r\n",
    b"Host: a\r\n : no name\r\n\r\n",
    b"Host: a\r\nX-Cr: a\rb\r\n\r\n",
    b"Host: a\r\nX-Nul: a\x00b\r\n\r\n",
    b"Host: a\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n",
])  # fmt: skip
def test_blocks_that_break_the_framing_rules_are_refused(block: bytes) -> None:
    with pytest.raises(BadFraming):
        parse_request_headers(io.BytesIO(block))


@pytest.mark.parametrize("block", [
    b"Host: a\r\nContent-Type: application/json\r\nContent-Length: 12\r\n\r\nbody",
    b"Host:a\r\nX-Empty:\r\nX-Spaces:  \t padded  \r\n\r\n",
    b"Host: a\nAccept: */*\n\n",  # bare newlines
    b"Host: a\r\nnot a header line\r\nX-After: b\r\n\r\n",
    b"From someone\r\nHost: a\r\n\r\n",
    b"Host: a\r\nX-Late: b",  # the connection ended inside the headers
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
