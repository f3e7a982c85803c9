"""The documented JSON shape: ``layerpeek/schema/packet.schema.json``.

Every packet of every capture (ours in ``captures/`` and the public ones beside
the checkout) must validate, every layer id we emit must be one the schema
documents, and the schema itself must really pin the documented keys (a
packet missing one is rejected).
"""

from __future__ import annotations

import copy
import json
import struct
from pathlib import Path
from typing import Any

import pytest
from builders import eth, ipv4, ipv4_tcp, ipv4_udp, ipv6, mac, tcp, udp
from conftest import ROOT, own_captures, public_captures

import layerpeek
from layerpeek.render.json import packet_to_dict, packet_to_json

jsonschema = pytest.importorskip("jsonschema")

SCHEMA_PATH = ROOT / "layerpeek" / "schema" / "packet.schema.json"
CAPTURES = own_captures() + public_captures()

#: The keys the issue documents for each layer id (they must be "required").
DOCUMENTED = {
    "ethernet": {"src", "dst", "type"},
    "ipv4": {"version", "header_len", "tos", "total_len", "id", "flags", "fragment_offset", "ttl",
             "protocol", "checksum", "src", "dst", "options"},
    "ipv6": {"traffic_class", "flow_label", "payload_len", "next_header", "hop_limit", "src",
             "dst"},
    "tcp": {"src_port", "dst_port", "seq", "ack", "header_len", "flags", "window", "checksum",
            "urgent_pointer", "options"},
    "udp": {"src_port", "dst_port", "length", "checksum"},
    "dns": {"id", "qr", "opcode", "rcode", "questions", "answers", "authorities", "additionals"},
    "http": {"kind", "method", "target", "version", "status", "reason", "headers"},
    "tls": {"records"},
    "quic": {"packets"},
    "http2": {"magic", "frames", "pending", "problem"},
    "malformed": {"protocol", "reason", "offset", "truncated"},
    "vlan": {"pcp", "dei", "vid", "type"},
    "gre": {"flags", "version", "protocol", "checksum", "key", "sequence"},
    "vxlan": {"flags", "gpe", "next_protocol", "vni"},
    "geneve": {"version", "options_len", "oam", "critical", "protocol", "vni", "options"},
    "mpls": {"label", "tc", "bottom", "ttl"},
    "llc": {"dsap", "ssap", "control", "oui", "pid"},
    "ppp": {"address", "control", "protocol"},
    "chdlc": {"address", "control", "protocol"},
    "pppoe": {"version", "type", "code", "session_id", "length", "tags"},
    "gtp": {"version", "message_type", "length", "teid", "sequence", "extensions"},
    "teredo": {"origin_port", "origin_address"},
    "ayiya": {"opcode", "next_header", "identity"},
    "erspan": {"version", "vlan", "session_id"},
    "nflog": {"family", "version", "resource_id", "prefix", "tlvs"},
    "ipnet": {"version", "family", "htype", "length", "ifindex"},
    "ipoib": {"type"},
    "fddi": {"frame_control", "dst", "src"},
    "fr": {"dlci", "control", "nlpid"},
    "pktap": {"length", "dlt", "ifname", "pid", "comm"},
    "unknown_link": {"linktype"},
    "radiotap": {"version", "length", "present", "tsft", "flags", "rate", "channel_freq",
                 "antenna_signal"},
    "wlan": {"type", "subtype", "flags", "duration", "addr1", "addr2", "addr3", "sequence",
             "addr4", "qos"},
    "sll": {"packet_type", "arphrd_type", "addr_len", "addr", "protocol"},
    "sll2": {"protocol", "interface_index", "arphrd_type", "packet_type", "addr_len", "addr"},
    "null": {"family"},
    "arp": {"hardware_type", "protocol_type", "hardware_len", "protocol_len", "opcode",
            "sender_mac", "sender_ip", "target_mac", "target_ip"},
    "icmp": {"type", "code", "checksum"},
    "icmpv6": {"type", "code", "checksum"},
    "data": {"data"},
}


@pytest.fixture(scope="module")
def schema() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    return loaded


@pytest.fixture(scope="module")
def validator(schema: dict[str, Any]) -> Any:
    cls = jsonschema.Draft202012Validator
    return cls(schema, format_checker=cls.FORMAT_CHECKER)


def test_schema_is_a_valid_draft_2020_12_schema(schema: dict[str, Any]) -> None:
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    jsonschema.Draft202012Validator.check_schema(schema)


@pytest.mark.parametrize("layer_id", sorted(DOCUMENTED))
def test_documented_keys_are_required_for_each_layer(
    schema: dict[str, Any], layer_id: str
) -> None:
    definition = schema["$defs"][layer_id]
    assert DOCUMENTED[layer_id] <= set(definition["required"])
    assert definition.get("additionalProperties", True) is not False


# --------------------------------------------------------------------------- built frames


def built_frames() -> dict[str, tuple[bytes, int]]:
    """One frame per layer kind we can build here, with its link type."""
    question = b"\x07example\x03com\x00" + struct.pack("!HH", 1, 1)
    answer = b"\xc0\x0c" + struct.pack("!HHIH", 1, 1, 300, 4) + bytes([93, 184, 216, 34])
    dns_response = struct.pack("!HHHHHH", 0x1234, 0x8180, 1, 1, 0, 0) + question + answer
    http_response = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
    arp = struct.pack("!HHBBH6s4s6s4s", 1, 0x0800, 6, 4, 1, mac("02:00:00:00:00:01"),
                      bytes([10, 0, 0, 1]), bytes(6), bytes([10, 0, 0, 2]))
    icmp_echo = struct.pack("!BBHHH", 8, 0, 0, 1, 1) + b"ping"
    inner = ipv4_tcp(tcp(sport=1, dport=2, flags="S"))
    vlan = struct.pack("!HH", (5 << 13) | 42, 0x0800) + inner
    null = struct.pack("<I", 2) + inner
    vxlan = udp(struct.pack("!II", 0x08 << 24, 42 << 8) + eth(inner), sport=5, dport=4789)
    geneve = udp(struct.pack("!BBHI", 2, 0, 0x6558, 7 << 8) + struct.pack("!HBB", 0x0102, 0x80, 1)
                 + b"data" + eth(inner), sport=5, dport=6081)
    gre = struct.pack("!HHII", 0xB000, 0x0800, 0x1234, 9) + inner
    mpls = struct.pack("!II", 16 << 12 | 64, 17 << 12 | 0x100 | 64) + inner
    snap = bytes.fromhex("aaaa03000000 0800") + inner
    pppoe = struct.pack("!BBHH", 0x11, 0, 1, len(inner) + 2) + b"\x00\x21" + inner
    padi = struct.pack("!BBHH", 0x11, 9, 0, 8) + struct.pack("!HH", 0x0103, 4) + b"uniq"
    gtp = struct.pack("!BBHIHBB", 0x32, 0xFF, len(inner) + 4, 0x1234, 1, 0, 0) + inner
    teredo = struct.pack("!HH4s", 0, 1, bytes(4)) + ipv6(udp(b"", sport=1, dport=2),
                                                         next_header=17)
    ayiya = struct.pack("!BBBBI", 0x41, 0x52, 0x21, 4, 0) + bytes(36) + inner
    erspan = (struct.pack("!HHI", 0x1000, 0x22EB, 1)
              + struct.pack("!IIHH", (2 << 28) | 7, 1, 42, 0) + eth(inner))
    return {
        "tcp": (eth(ipv4_tcp(tcp(flags="S", options=bytes.fromhex("020405b4")))), 1),
        "http": (eth(ipv4_tcp(tcp(http_response, sport=80, dport=40000, flags="PA"))), 1),
        "dns": (eth(ipv4_udp(udp(dns_response, sport=53, dport=40000))), 1),
        "ipv6": (eth(ipv6(udp(b"x", sport=1, dport=9), next_header=17)), 1),
        "arp": (eth(arp, ethertype=0x0806), 1),
        "icmp": (eth(ipv4(icmp_echo, proto=1)), 1),
        "vlan": (eth(vlan, ethertype=0x8100), 1),
        "vxlan": (eth(ipv4_udp(vxlan)), 1),
        "geneve": (eth(ipv4_udp(geneve)), 1),
        "gre": (eth(ipv4(gre, proto=47)), 1),
        "mpls": (eth(mpls, ethertype=0x8847), 1),
        "llc": (eth(snap, ethertype=len(snap)), 1),
        "pppoe session": (eth(pppoe, ethertype=0x8864), 1),
        "pppoe discovery": (eth(padi, ethertype=0x8863), 1),
        "ppp": (b"\xff\x03\x00\x21" + inner, 9),
        "chdlc": (b"\x0f\x00\x08\x00" + inner, 104),
        "gtp": (eth(ipv4_udp(udp(gtp, sport=2152, dport=2152))), 1),
        "teredo": (eth(ipv4_udp(udp(teredo, sport=3544, dport=9))), 1),
        "ayiya": (eth(ipv4_udp(udp(ayiya, sport=5072, dport=5072))), 1),
        "erspan": (eth(ipv4(erspan, proto=47)), 1),
        "nflog": (struct.pack("!BBH", 2, 0, 1) + struct.pack("<HH", 8, 10) + b"pfx\0"
                  + struct.pack("<HH", 4 + len(inner), 9) + inner, 239),
        "ipnet": (struct.pack("!BBHIIIII", 2, 2, 1, len(inner), 3, 0, 0, 0) + inner, 226),
        "ipoib": (bytes(40) + struct.pack("!HH", 0x0800, 0) + inner, 242),
        "fddi": (b"\x50" + bytes(12) + bytes.fromhex("aaaa03000000 0800") + inner, 10),
        "fr": (b"\x18\x41\x03\xcc" + inner, 107),
        "pktap": (struct.pack("<III24sIIII", 73, 1, 101, b"en0", 0, 2, 0, 0)
                  + struct.pack("<i17s", 7, b"curl") + inner, 258),
        "unknown link type": (b"\x01\x02", 147),
        "radiotap": (struct.pack("<BBHIBB", 0, 0, 10, 0x06, 0x10, 12) + b"\x08\x01\x2c\x00"
                     + bytes(18) + b"\x10\x00" + bytes.fromhex("aaaa03000000 0800") + inner, 127),
        "null": (null, 0),
        "raw": (inner, 101),
        "unknown ethertype": (eth(b"\x00" * 46, ethertype=0x88B5), 1),
        "truncated": (eth(ipv4_tcp(tcp()))[:30], 1),
        "malformed": (eth(ipv4_tcp(tcp(data_offset_words=3))), 1),
        "empty": (b"", 1),
    }


@pytest.mark.parametrize("name", sorted(built_frames()))
def test_built_frames_validate(validator: Any, name: str) -> None:
    frame, linktype = built_frames()[name]
    packet = layerpeek.decode(frame, linktype)
    validator.validate(json.loads(packet_to_json(packet)))


def test_validation_really_checks_documented_keys(validator: Any) -> None:
    frame, _ = built_frames()["tcp"]
    good = packet_to_dict(layerpeek.decode(frame))
    validator.validate(good)

    missing_seq = copy.deepcopy(good)
    del missing_seq["layers"][2]["seq"]
    assert not validator.is_valid(missing_seq)

    bad_mac = copy.deepcopy(good)
    bad_mac["layers"][0]["src"] = "020000000001"
    assert not validator.is_valid(bad_mac)

    bad_ip = copy.deepcopy(good)
    bad_ip["layers"][1]["src"] = "10.0.0.999"
    assert not validator.is_valid(bad_ip)

    no_index = copy.deepcopy(good)
    del no_index["index"]
    assert not validator.is_valid(no_index)


def test_additional_fields_and_unknown_layers_are_allowed(validator: Any) -> None:
    frame, _ = built_frames()["tcp"]
    record = packet_to_dict(layerpeek.decode(frame))
    record["layers"][2]["a_future_field"] = 1
    record["layers"].append({"layer": "myproto", "anything": [1, 2]})
    record["a_future_key"] = "x"
    validator.validate(record)


# --------------------------------------------------------------------------- every capture


@pytest.mark.skipif(not CAPTURES, reason="no captures in captures/ or ../shared/captures/public")
@pytest.mark.parametrize("path", CAPTURES, ids=[p.name for p in CAPTURES])
def test_every_packet_of_every_capture_validates(
    validator: Any, schema: dict[str, Any], path: Path
) -> None:
    known = {name for name in schema["$defs"] if name in DOCUMENTED}
    with layerpeek.read(path) as reader:
        count = 0
        for packet in reader:
            record = json.loads(packet_to_json(packet))
            errors = sorted(validator.iter_errors(record), key=lambda e: list(e.path))
            assert not errors, f"{path.name} #{packet.index}: {errors[0].message} at " \
                               f"{list(errors[0].absolute_path)}"
            emitted = {layer["layer"] for layer in record["layers"]}
            assert emitted <= known, f"{path.name} #{packet.index}: undocumented {emitted - known}"
            count += 1
    assert count > 0


H2_CAPTURES = sorted(p for p in own_captures() if p.name.startswith("http2_"))


@pytest.mark.skipif(not H2_CAPTURES, reason="no HTTP/2 captures in captures/")
@pytest.mark.parametrize("path", H2_CAPTURES, ids=[p.name for p in H2_CAPTURES])
def test_dump_json_of_http2_captures_validates(validator: Any, path: Path) -> None:
    """The http2 layer exists only after the conversation stage: check ``dump --json``."""
    from layerpeek.commands.dump import _annotated

    with layerpeek.read(path) as reader:
        records = [json.loads(packet_to_json(p, info))
                   for p, info in _annotated(iter(reader), flows=True, defrag=True)]
    for record in records:
        errors = list(validator.iter_errors(record))
        assert not errors, f"{path.name} #{record['index']}: {errors[0].message}"
    frames = [f for r in records for layer in r["layers"] if layer["layer"] == "http2"
              for f in layer["frames"]]
    assert any(f.get("headers") for f in frames) and all("stream_id" in f for f in frames)
