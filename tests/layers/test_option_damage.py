"""One convention for damaged options, whatever the protocol (``layerpeek/dissect.py``).

TCP, IPv4, IPv6 (Hop-by-Hop/Destination options) and ICMPv6 (NDP) each read
an option list.  When one option cannot be read, every one of them keeps its
layer with the options before it, and the marker that follows names the
field, starts at the damaged option's first byte (so the layer's span ends
after the last whole option), holds the rest of the frame, and is truncated
only when the capture ends inside the option.
"""

from __future__ import annotations

import struct

import pytest
from builders import eth, ipv4, ipv4_tcp, ipv6, tcp, udp

from layerpeek.layers.icmpv6 import ICMPv6
from layerpeek.layers.ipv4 import NOP as IPv4NOP
from layerpeek.layers.ipv4 import IPv4
from layerpeek.layers.ipv6 import IPv6
from layerpeek.layers.tcp import NOP, TCP
from layerpeek.packet import Layer, Malformed
from layerpeek.reader import decode

UDP = udp(b"x", dport=9)


def neighbor_solicitation(options: bytes, payload_len: int | None = None) -> bytes:
    body = struct.pack("!BBH", 135, 0, 0) + bytes(4) + bytes(16) + options
    return eth(ipv6(body, next_header=58, hop_limit=255, payload_len=payload_len))


# (frame, link type, the layer holding the list, the options it keeps, the damaged
#  option's offset, the reason's field path)
CASES = {
    "tcp": (
        eth(ipv4_tcp(tcp(b"data", options=b"\x01\x02\x00\x00"))),  # NOP, then MSS of length 0
        1, TCP, (NOP(),), 14 + 20 + 21, "tcp.options[1].length",
    ),
    "ipv4": (
        eth(ipv4(UDP, proto=17, options=b"\x01\x94\x01\x00")),  # NOP, router alert of length 1
        1, IPv4, (IPv4NOP(),), 14 + 21, "ipv4.options[1].length",
    ),
    "ipv6": (  # Hop-by-Hop: Pad1, then an option whose 9 data bytes run past the header
        ipv6(bytes([17, 0, 0, 1, 9, 0, 0, 0]) + UDP, next_header=0),
        229, IPv6, None, 40 + 3, "ipv6.extensions[0].options[1].length",
    ),
    "icmpv6": (  # a source link-layer address option of length 0
        neighbor_solicitation(bytes([1, 0]) + bytes(6)),
        1, ICMPv6, (), 14 + 40 + 24, "icmpv6.options[0].length",
    ),
}  # fmt: skip


@pytest.mark.parametrize("protocol", list(CASES))
def test_a_damaged_option_is_reported_alike(protocol: str) -> None:
    frame, linktype, kind, kept, offset, path = CASES[protocol]
    packet = decode(frame, linktype)
    layer: Layer | None = packet.get(kind)
    assert layer is not None  # the header is kept
    if kept is not None:
        options = layer.body.options if isinstance(layer, ICMPv6) else layer.options  # type: ignore[attr-defined]
        assert options == kept  # with the options before the damaged one
    marker = packet.layers[-1]
    assert isinstance(marker, Malformed)
    assert marker.protocol == protocol
    assert marker.reason.startswith(path + " ") or marker.reason.startswith(path + ":")
    assert marker.offset == offset  # the damaged option's first byte
    assert not marker.truncated  # the bytes are there: the length is wrong
    assert marker.data == frame[offset:]
    assert packet.span_of(kind) is not None and packet.span_of(kind)[1] == offset  # type: ignore[index]


@pytest.mark.parametrize("protocol", ["tcp", "ipv4"])
def test_a_length_below_two_says_so_in_the_same_words(protocol: str) -> None:
    frame, linktype, *_ = CASES[protocol]
    marker = decode(frame, linktype).layers[-1]
    assert isinstance(marker, Malformed)
    assert marker.reason.endswith((".length 0 < 2", ".length 1 < 2"))


def test_only_a_capture_ending_inside_the_option_is_truncation() -> None:
    whole = neighbor_solicitation(bytes([1, 1]) + bytes(6))
    cut = decode(whole[:-3]).layers[-1]  # the snaplen stops inside the option
    assert isinstance(cut, Malformed) and cut.truncated
    assert cut.reason == "icmpv6.options[0]: need 8 bytes, have 5"
    # The IPv6 payload length ends the message inside the option, but bytes were
    # captured after it: nothing was cut, the option's length is wrong.
    ended = neighbor_solicitation(bytes([1, 1]) + bytes(6), payload_len=8 + 16 + 5)
    marker = decode(ended).layers[-1]
    assert isinstance(marker, Malformed) and not marker.truncated
    assert marker.reason == "icmpv6.options[0].length 1 overflows the message (5 bytes left)"
    assert marker.offset == 14 + 40 + 24
