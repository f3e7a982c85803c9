"""The DNS wire parser (``layers/dns.py`` ``decode_message``) on any input.

* any bytes: a DNS layer (possibly partial) and at most a marker, or the
  parser's own ``Short``/``Invalid`` for fewer than 12 bytes; never a crash;
* the result depends only on the message's bytes, not on where the message
  sits in the buffer (compression pointers count from the message start);
* cutting a message keeps every question and record before the cut;
* a name compressed with pointers decodes to the same text as written out.
"""

from __future__ import annotations

import dataclasses
import re
import struct
from unittest.mock import patch

from hypothesis import given
from hypothesis import strategies as st

import layerpeek
from layerpeek.errors import DecodeError
from layerpeek.layers import dns as dns_module
from layerpeek.layers.dns import DNS, decode_message
from layerpeek.layers.tcp import TCP
from layerpeek.packet import Malformed

from .frames import PROPERTY, real_frames


def dns_payloads() -> list[bytes]:
    """The DNS messages of the project's captures (without TCP's length prefix)."""
    out = []
    for data, linktype in real_frames():
        packet = layerpeek.decode(data, linktype)
        if DNS in packet and packet.malformed is None:
            span = packet.span_of(DNS)
            assert span is not None
            skip = 2 if TCP in packet else 0
            out.append(data[span[0] + skip : span[1]])
    assert out, "captures/ holds DNS traffic (dns_query.pcap)"
    return out


MESSAGES = dns_payloads()


@st.composite
def messages(draw: st.DrawFn) -> bytes:
    """Real DNS messages, mutated, or arbitrary bytes under a plausible header."""
    kind = draw(st.sampled_from(("real", "mutated", "header")))
    if kind == "header":
        counts = draw(st.tuples(*[st.integers(0, 4)] * 4))
        return struct.pack("!HH4H", 1, 0x0100, *counts) + draw(st.binary(max_size=200))
    msg = bytearray(draw(st.sampled_from(MESSAGES)))
    if kind == "mutated":
        for _ in range(draw(st.integers(1, 4))):
            pos = draw(st.integers(0, len(msg) - 1))
            msg[pos] = draw(st.sampled_from((0x00, 0x3F, 0x40, 0xC0, 0xFF, msg[pos] ^ 0x01)))
    return bytes(msg)


@st.composite
def chains(draw: st.DrawFn) -> bytes:
    """Records whose names point at earlier records' names, some through rdata names,
    chains long and short, names long and short: the name cache's hard cases."""
    label = draw(st.binary(min_size=1, max_size=63).filter(lambda b: b.isalnum()))
    msg = bytearray(struct.pack("!HHHHHH", 1, 0x8180, 1, 0, 0, 0))
    msg += bytes([len(label)]) + label + b"\x00\x00\x01\x00\x01"
    starts = [12]
    # Chains right at MAX_POINTERS (128) and past it, and random pointer webs.
    count = draw(st.sampled_from((1, 2, 30, 127, 128, 129, 160)))
    chain = draw(st.booleans())
    for _ in range(count):
        here = len(msg)
        target = starts[-1] if chain else draw(st.sampled_from(starts))
        extra = draw(st.sampled_from((b"", b"", b"\x01x", bytes([len(label)]) + label)))
        msg += extra + struct.pack("!H", 0xC000 | target)
        if draw(st.booleans()):  # a CNAME whose data is itself a pointer chain
            rdata = struct.pack("!H", 0xC000 | draw(st.sampled_from(starts)))
            msg += struct.pack("!HHIH", 5, 1, 60, len(rdata)) + rdata
        else:
            msg += struct.pack("!HHIH", 1, 1, 60, 4) + b"\x7f\x00\x00\x01"
        starts.append(here)
    msg[6:8] = struct.pack("!H", count)
    return bytes(msg)


def check_result(result: tuple[object, object], start: int, end: int) -> DNS:
    layer, after = result
    assert isinstance(layer, DNS)
    assert after is None or isinstance(after, Malformed)
    assert layer.complete == (after is None)
    if isinstance(after, Malformed):
        assert start <= after.offset <= end and after.reason.startswith("dns.")
    return layer


@PROPERTY
@given(msg=st.one_of(messages(), st.binary(max_size=300)), cut=st.booleans())
def test_any_bytes_give_a_dns_layer_or_the_parsers_own_signal(msg: bytes, cut: bool) -> None:
    try:
        result = decode_message(msg, 0, len(msg), cut=cut)
    except DecodeError:
        assert len(msg) < 12
        return
    check_result(result, 0, len(msg))


@PROPERTY
@given(
    msg=messages(), before=st.binary(max_size=40), after=st.binary(max_size=40),
    cut=st.booleans(),
)
def test_the_result_does_not_depend_on_where_the_message_sits(
    msg: bytes, before: bytes, after: bytes, cut: bool
) -> None:
    alone_layer, alone_after = decode_message(msg, 0, len(msg), cut=cut)
    buf = before + msg + after
    layer, marker = decode_message(buf, len(before), len(before) + len(msg), cut=cut)
    assert layer == alone_layer
    if alone_after is None:
        assert marker is None
    else:
        assert isinstance(alone_after, Malformed) and isinstance(marker, Malformed)
        assert marker.offset == alone_after.offset + len(before)
        assert (marker.reason, marker.truncated) == (alone_after.reason, alone_after.truncated)


@PROPERTY
@given(msg=st.sampled_from(MESSAGES), data=st.data())
def test_a_cut_message_keeps_every_entry_before_the_cut(msg: bytes, data: st.DataObject) -> None:
    n = data.draw(st.integers(12, len(msg) - 1))
    full, _ = decode_message(msg, 0, len(msg))
    layer, marker = decode_message(msg[:n], 0, n)
    assert isinstance(full, DNS) and isinstance(layer, DNS)
    assert isinstance(marker, Malformed) and marker.truncated
    assert not layer.complete
    for section in ("questions", "answers", "authorities", "additionals"):
        kept, whole = getattr(layer, section), getattr(full, section)
        assert kept == whole[: len(kept)], section
    head = [f.name for f in dataclasses.fields(DNS)][:11]  # id and flags: all in the header
    assert [getattr(layer, f) for f in head] == [getattr(full, f) for f in head]


labels = st.lists(
    st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-", min_size=1, max_size=20),
    min_size=1, max_size=4,
)


def encode_name(parts: list[str]) -> bytes:
    return b"".join(bytes([len(p)]) + p.encode() for p in parts) + b"\x00"


@PROPERTY
@given(names=st.lists(labels, min_size=1, max_size=5))
def test_pointers_to_earlier_names_decode_like_the_names_written_out(
    names: list[list[str]],
) -> None:
    # One question per name; the compressed form writes each later name as a
    # pointer to the first question's name when they share its suffix.
    first = encode_name(names[0])
    header = struct.pack("!HH4H", 7, 0x0100, len(names), 0, 0, 0)
    plain = header + b"".join(encode_name(n) + b"\x00\x01\x00\x01" for n in names)
    compressed = header + first + b"\x00\x01\x00\x01"
    for n in names[1:]:
        # labels of n, then a pointer to the first name (offset 12)
        compressed += b"".join(bytes([len(p)]) + p.encode() for p in n) + b"\xc0\x0c"
        compressed += b"\x00\x01\x00\x01"
    plain_dns, _ = decode_message(plain, 0, len(plain))
    packed_dns, rest = decode_message(compressed, 0, len(compressed))
    assert rest is None and isinstance(packed_dns, DNS) and isinstance(plain_dns, DNS)
    expected = [".".join(names[0])] + [".".join(n + names[0]) for n in names[1:]]
    assert [q.name for q in packed_dns.questions] == expected
    assert [q.name for q in plain_dns.questions] == [".".join(n) for n in names]


def uncached_read_name(
    buf: bytes, pos: int, base: int, end: int, cache: object = None
) -> tuple[str, int]:
    return ORIGINAL_READ_NAME(buf, pos, base, end, None)


ORIGINAL_READ_NAME = dns_module.read_name
AT_OFFSET = re.compile(r" \(at message offset \d+\)")


@PROPERTY
@given(msg=st.one_of(messages(), chains()), cut=st.booleans())
def test_the_name_cache_changes_no_result_only_the_work(msg: bytes, cut: bool) -> None:
    # decode_message remembers names by offset so that pointer chains are
    # walked once; walking every name in full must give the same message,
    # the same marker and the same reason.
    try:
        cached = decode_message(msg, 0, len(msg), cut=cut)
    except DecodeError:
        return
    with patch.object(dns_module, "read_name", uncached_read_name):
        walked = decode_message(msg, 0, len(msg), cut=cut)
    assert cached[0] == walked[0]
    if cached[1] is None or walked[1] is None:
        assert cached[1] is walked[1]
    else:
        assert isinstance(cached[1], Malformed) and isinstance(walked[1], Malformed)
        # The walk may fail deeper in a chain, which it notes as "(at message
        # offset N)"; the cache fails at the name's own pointer.  Same failure.
        assert AT_OFFSET.sub("", cached[1].reason) == AT_OFFSET.sub("", walked[1].reason)
        assert cached[1].offset == walked[1].offset
        assert cached[1].truncated == walked[1].truncated
