"""Write the fuzzers' seed corpus from the project's captures (re-run when they change).

    python3 tests/fuzz/make_corpus.py

Seeds are small on purpose (libFuzzer mutates short inputs much faster):

* ``decode``: one frame per distinct protocol path, behind its link-type byte;
* ``readers`` and ``flows``: the capture files under 8 kB, whole;
* ``dns``: every distinct DNS message (UDP payloads and TCP messages);
* ``http``: each direction of the HTTP conversations (reassembled), behind
  the two-byte split/direction prefix;
* plus a few frames built here for decoders the captures do not exercise
  (VLAN tags, ARP, ICMP, IPv6 extension headers, raw IP link types).

File names are content hashes, so re-running only adds what is new.
"""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

from builders import eth, ipv4, ipv4_tcp, ipv6, tcp, udp  # noqa: E402
from targets import LINKTYPES  # noqa: E402

import layerpeek  # noqa: E402
from layerpeek.layers.dns import DNS  # noqa: E402
from layerpeek.layers.tcp import TCP  # noqa: E402

CORPUS = HERE / "corpus"
SMALL = 8000


def save(target: str, data: bytes, corpus: Path = CORPUS) -> bool:
    folder = corpus / target
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / hashlib.sha1(data).hexdigest()[:16]
    if path.exists():
        return False
    path.write_bytes(data)
    return True


def built_frames() -> list[tuple[int, bytes]]:
    """(linktype, frame) for protocols and link types the captures lack."""
    dns_query = bytes.fromhex("abcd0100000100000000000003777777076578616d706c6503636f6d0000010001")
    icmp_echo = bytes.fromhex("0800f7ff00000000") + b"ping"
    arp_request = bytes.fromhex("0001080006040001020000000001c0a80001000000000000c0a80002")
    vlan_tag = bytes.fromhex("0064 0800")  # VID 100, then IPv4
    hop_by_hop = bytes([17, 0, 1, 4, 0, 0, 0, 0])  # next header UDP, PadN
    tcp_options = bytes.fromhex("020405b4 0402 080a0000000100000000 01 030307")
    return [
        (1, eth(vlan_tag + ipv4_tcp(tcp(b"GET / HTTP/1.1\r\n\r\n")), ethertype=0x8100)),
        (1, eth(arp_request, ethertype=0x0806)),
        (1, eth(ipv4(icmp_echo, proto=1))),
        (1, eth(ipv6(hop_by_hop + udp(dns_query), next_header=0))),
        (1, eth(ipv4_tcp(tcp(flags="S", options=tcp_options)))),
        (101, ipv4(udp(dns_query), proto=17)),
        (228, ipv4(udp(dns_query), proto=17)),
        (229, ipv6(udp(dns_query), next_header=17)),
        (0, b"\x02\x00\x00\x00" + ipv4(udp(dns_query), proto=17)),
    ]


def http_streams() -> list[bytes]:
    """Both directions of every HTTP capture's conversations, up to 16 kB each."""
    from layerpeek.flows.pipeline import conversations

    out = []
    for capture in sorted((ROOT / "captures").glob("http_*.pcap")):
        for conv in conversations(capture, keep_data=True):
            for prefix, stream in ((b"\x00\x10", conv.client_stream),
                                   (b"\x80\x40", conv.server_stream)):
                data = stream.data if stream is not None else b""  # type: ignore[union-attr]
                if data[:4] in (b"GET ", b"POST", b"HEAD", b"PUT ", b"HTTP"):
                    out.append(prefix + data[:16384])
    return out


def seeds() -> dict[str, list[bytes]]:
    out: dict[str, list[bytes]] = {
        "decode": [], "readers": [], "flows": [], "dns": [], "http": []
    }
    paths: dict[str, bytes] = {}
    for capture in sorted((ROOT / "captures").glob("*.pcap*")):
        raw = capture.read_bytes()
        if len(raw) < SMALL:
            out["readers"].append(raw)
            out["flows"].append(raw)
        for packet in layerpeek.read(capture):
            if packet.linktype not in LINKTYPES:
                continue
            seed = bytes([LINKTYPES.index(packet.linktype)]) + packet.data
            if packet.protocols not in paths or len(seed) < len(paths[packet.protocols]):
                paths[packet.protocols] = seed
            span = packet.span_of(DNS)
            if span is not None:
                skip = 2 if TCP in packet else 0
                out["dns"].append(b"\x01" + packet.data[span[0] + skip : span[1]])
    out["decode"] = list(paths.values())
    out["http"] = http_streams()
    for linktype, frame in built_frames():
        out["decode"].append(bytes([LINKTYPES.index(linktype)]) + frame)
    return out


def hostile() -> dict[str, list[bytes]]:
    """Issue 16's crafted inputs that crashed a target, kept under ``crashes/`` for good."""
    from hostile_inputs import capture, duplicate_fragments, oversize_datagram

    return {"flows": [capture(oversize_datagram(4)), capture(oversize_datagram(6)),
                      capture(duplicate_fragments(50))]}


def hostile_seeds() -> dict[str, list[bytes]]:
    """Small instances of each other class of issue 16, as seeds the fuzzers mutate."""
    import gzip
    import struct

    import hostile_inputs as h

    bomb = bytes(1 << 20)
    for _ in range(3):
        bomb = gzip.compress(bomb, mtime=0)
    response = (b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip, gzip, gzip\r\n"
                b"Content-Length: %d\r\n\r\n" % len(bomb) + bomb)
    over = struct.pack("<IIII", 0, 0, 262145, 262145)
    return {
        "flows": [h.capture(h.conflicting_retransmission()),
                  h.capture(h.descending_segments(64)), h.capture(h.midstream_one_byte(64)),
                  h.capture(h.terminal_attack()), h.capture(h.bad_codings()),
                  h.capture(h.dns_tcp_one_byte(200)), h.capture(h.retransmissions(8, 64))],
        "readers": [h.capture([bytes(60)]) + over],
        "http": [b"\x80\x20" + response],
    }


def main() -> int:
    for target, items in seeds().items():
        added = sum(save(target, data) for data in items)
        print(f"{target}: {added} new seeds ({len(items)} candidates)")
    for target, items in hostile().items():
        added = sum(save(target, data, HERE / "crashes") for data in items)
        print(f"{target}: {added} new hostile regression inputs")
    for target, items in hostile_seeds().items():
        added = sum(save(target, data) for data in items)
        print(f"{target}: {added} new hostile seeds")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
