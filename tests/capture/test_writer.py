"""Writers: what is written reads back identical."""

from __future__ import annotations

import io

from builders import eth, ipv4_tcp, tcp

from layerpeek.capture import open_capture
from layerpeek.capture.frame import RawFrame
from layerpeek.capture.writer import PcapngWriter, PcapWriter

FRAMES = [
    RawFrame(1_700_000_000_123_456_789 + i, 100 + i, eth(ipv4_tcp(tcp(b"z" * i))), 1)
    for i in range(4)
]


def test_pcap_round_trip_keeps_nanoseconds_and_lengths() -> None:
    buf = io.BytesIO()
    w = PcapWriter(buf, linktype=1)
    for f in FRAMES:
        w.write(f)
    back = list(open_capture(io.BytesIO(buf.getvalue())))
    assert [(f.ts_ns, f.wire_len, f.data) for f in back] == [
        (f.ts_ns, f.wire_len, f.data) for f in FRAMES
    ]


def test_pcapng_round_trip_keeps_interfaces_names_and_link_types() -> None:
    buf = io.BytesIO()
    w = PcapngWriter(buf)
    lo = w.add_interface(1, name="lo")
    raw = w.add_interface(101, name="tun0")
    w.write(FRAMES[0], lo)
    w.write(RawFrame(5, 3, b"\x45\x00\x00", 101), raw)
    a, b = list(open_capture(io.BytesIO(buf.getvalue())))
    assert (a.ts_ns, a.data, a.interface_name, a.linktype) == (
        FRAMES[0].ts_ns,
        FRAMES[0].data,
        "lo",
        1,
    )
    assert (b.ts_ns, b.data, b.interface_name, b.linktype, b.interface) == (
        5,
        b"\x45\x00\x00",
        "tun0",
        101,
        1,
    )
