"""DNS (RFC 1035, 3596, 2782, 6891): sections, typed record data, name compression
rules, partial decoding, and DNS over TCP."""

from __future__ import annotations

import struct

import pytest
from builders import eth, ipv4, ipv4_tcp, ipv4_udp, tcp, udp

from layerpeek.errors import Invalid, Short
from layerpeek.layers import dns
from layerpeek.layers.dns import (
    DNS,
    DNSMX,
    DNSOPT,
    DNSSOA,
    DNSSRV,
    DNSQuestion,
    DNSRecord,
    read_name,
)
from layerpeek.layers.ipv4 import IPv4
from layerpeek.layers.tcp import TCP
from layerpeek.layers.udp import UDP
from layerpeek.packet import Layer, Malformed, Packet
from layerpeek.reader import decode
from layerpeek.render.json import to_dict

#: linktype_ipv4_dns.pcap frame 1 (PcapPlusPlus linktype_ipv4.pcap, LINKTYPE_IPV4 = 228).
QUERY = bytes.fromhex(
    "4500003c21cf0000801100000a0000010a00008a"  # IPv4 10.0.0.1 → 10.0.0.138
    "e3090035002814c4"  # UDP 58121 → 53, length 40
    "6305"  # id
    "0100"  # flags: query, opcode 0, RD
    "0001 0000 0000 0000"  # one question, no records
    "03777777 04796e6574 02636f 02696c 00"  # www.ynet.co.il
    "0001 0001"  # type A, class IN
)

#: linktype_ipv4_dns.pcap frame 2: the answer, a CNAME chain whose names are compressed
#: with pointers into earlier record data (a pointer chain: c054 → … c043).
RESPONSE = bytes.fromhex(
    "4500009600004000401125cd0a00008a0a000001"  # IPv4 10.0.0.138 → 10.0.0.1
    "0035e30900825455"  # UDP 53 → 58121, length 130
    "6305"  # id
    "8180"  # flags: response, RD, RA, NOERROR
    "0001 0003 0000 0000"  # 1 question, 3 answers
    # message offset 12: the question
    "03777777 04796e6574 02636f 02696c 00 0001 0001"  # www.ynet.co.il A IN
    # offset 32: answer 0
    "c00c"  # name: pointer to offset 12 (www.ynet.co.il)
    "0005 0001 00000069 001c"  # CNAME IN, TTL 105, rdlength 28
    # offset 44: www.ynet.co.il.edgekey.net, uncompressed; "net" is at offset 67
    "03777777 04796e6574 02636f 02696c 07656467656b6579 036e6574 00"
    # offset 72: answer 1
    "c02c"  # name: pointer to offset 44 (answer 0's data)
    "0005 0001 00003586 0016"  # CNAME IN, TTL 13702, rdlength 22
    # offset 84: e12476.b.akamaiedge + pointer to offset 67 ("net")
    "06653132343736 0162 0a616b616d616965646765 c043"
    # offset 106: answer 2
    "c054"  # name: pointer to offset 84, whose labels end in a pointer to 67
    "0001 0001 00000012 0004"  # A IN, TTL 18, rdlength 4
    "17dd8f75"  # 23.221.143.117
)
DNS_AT = 28  # where the message starts in QUERY and RESPONSE

#: dns_mixed_a_aaaa_cname_mdns.pcap frame 20 (PcapPlusPlus DnsPackets.pcap), from the
#: DNS header on: NXDOMAIN with the root zone's SOA in the authority section.
NXDOMAIN = bytes.fromhex(
    "0b61 8183 0001 0000 0001 0000"  # id, flags: response RD RA NXDOMAIN; 1 question, 1 authority
    "04 77706164 04 484f4d45 00 0001 0001"  # wpad.HOME A IN
    "00"  # name: the root
    "0006 0001 00000a26 0040"  # SOA IN, TTL 2598, rdlength 64
    "01 61 0c 726f6f742d73657276657273 03 6e6574 00"  # mname a.root-servers.net
    "05 6e73746c64 0c 766572697369676e2d677273 03 636f6d 00"  # rname nstld.verisign-grs.com
    "780cbe6c 00000708 00000384 00093a80 00015180"  # serial, refresh, retry, expire, minimum
)

#: dns_multi_interface.pcapng frame 1 (zeek pcapng-multi-interface.pcapng), from the DNS
#: header on: an A query carrying an EDNS(0) OPT record with a cookie option.
EDNS_QUERY = bytes.fromhex(
    "4fe8 0120 0001 0000 0000 0001"  # id, flags: RD and AD; 1 question, 1 additional
    "03777777 056170706c65 03636f6d 00 0001 0001"  # www.apple.com A IN
    "00"  # name: the root
    "0029"  # type OPT
    "04d0"  # "class": UDP payload size 1232
    "00000000"  # "TTL": extended RCODE 0, version 0, DO clear
    "000c"  # rdlength 12
    "000a 0008 53d4fe03d5bc8577"  # option 10 (COOKIE), 8 bytes
)


# --------------------------------------------------------------------------- builders


def name(*labels: str | bytes) -> bytes:
    out = b""
    for label in labels:
        raw = label.encode() if isinstance(label, str) else label
        out += bytes([len(raw)]) + raw
    return out + b"\x00"


def pointer(offset: int) -> bytes:
    return struct.pack("!H", 0xC000 | offset)


def question(qname: bytes, qtype: int = 1, qclass: int = 1) -> bytes:
    return qname + struct.pack("!HH", qtype, qclass)


def rr(rname: bytes, rtype: int, rdata: bytes, rclass: int = 1, ttl: int = 300) -> bytes:
    return rname + struct.pack("!HHIH", rtype, rclass, ttl, len(rdata)) + rdata


def message(
    *,
    ident: int = 0x1A2B,
    flags: int = 0x8180,
    qd: tuple[bytes, ...] = (),
    an: tuple[bytes, ...] = (),
    ns: tuple[bytes, ...] = (),
    ar: tuple[bytes, ...] = (),
    counts: tuple[int, int, int, int] | None = None,
) -> bytes:
    qdc, anc, nsc, arc = counts or (len(qd), len(an), len(ns), len(ar))
    return struct.pack("!HHHHHH", ident, flags, qdc, anc, nsc, arc) + b"".join(qd + an + ns + ar)


def parse(msg: bytes) -> tuple[DNS, Malformed | None]:
    layer, after = dns.decode(msg, 0, len(msg))
    assert isinstance(layer, DNS)
    assert after is None or isinstance(after, Malformed)
    return layer, after


def whole(msg: bytes) -> DNS:
    layer, after = parse(msg)
    assert after is None, after
    assert layer.complete
    return layer


def answer_data(rtype: int, rdata: bytes) -> object:
    """Decode one answer of type ``rtype`` (after an example.com question)."""
    q = name("example", "com")
    layer = whole(message(qd=(question(q, rtype),), an=(rr(pointer(12), rtype, rdata),)))
    return layer.answers[0].data


def types(packet: Packet) -> list[type[Layer]]:
    return [type(layer) for layer in packet.layers]


# --------------------------------------------------------------------------- real messages


class TestRealMessages:
    def test_query_header_flags_and_question(self) -> None:
        layer, after = dns.decode(QUERY, DNS_AT, len(QUERY))
        assert after is None
        assert layer == DNS(
            0x6305, False, 0, False, False, True, False, False, False, False, 0,
            (DNSQuestion("www.ynet.co.il", 1, 1),),
        )

    def test_query_summary(self) -> None:
        layer, _ = dns.decode(QUERY, DNS_AT, len(QUERY))
        assert layer.summary() == "query 0x6305 A www.ynet.co.il"

    def test_response_names_follow_pointers_into_earlier_record_data(self) -> None:
        layer, after = dns.decode(RESPONSE, DNS_AT, len(RESPONSE))
        assert after is None
        assert isinstance(layer, DNS)
        assert (layer.qr, layer.rd, layer.ra, layer.rcode) == (True, True, True, 0)
        assert layer.answers == (
            DNSRecord("www.ynet.co.il", 5, 1, 105, "www.ynet.co.il.edgekey.net"),
            DNSRecord("www.ynet.co.il.edgekey.net", 5, 1, 13702, "e12476.b.akamaiedge.net"),
            DNSRecord("e12476.b.akamaiedge.net", 1, 1, 18, "23.221.143.117"),
        )

    def test_response_summary_lists_answers_and_rcode(self) -> None:
        layer, _ = dns.decode(RESPONSE, DNS_AT, len(RESPONSE))
        assert layer.summary() == (
            "response 0x6305 A www.ynet.co.il → CNAME www.ynet.co.il.edgekey.net, "
            "CNAME e12476.b.akamaiedge.net, 23.221.143.117 (NOERROR)"
        )

    def test_chain_over_raw_ipv4(self) -> None:
        packet = decode(RESPONSE, linktype=228)
        assert types(packet) == [IPv4, UDP, DNS]
        assert packet.spans[-1] == (DNS_AT, len(RESPONSE))

    def test_nxdomain_with_soa_in_the_authority_section(self) -> None:
        layer = whole(NXDOMAIN)
        assert layer.rcode == 3
        assert layer.answers == ()
        assert layer.authorities == (
            DNSRecord(
                ".", 6, 1, 2598,
                DNSSOA("a.root-servers.net", "nstld.verisign-grs.com", 2014101100, 1800, 900,
                       604800, 86400),
            ),
        )
        assert layer.summary() == "response 0x0b61 A wpad.HOME (NXDOMAIN)"

    def test_edns_opt_record_reads_its_class_and_ttl_as_edns_fields(self) -> None:
        layer = whole(EDNS_QUERY)
        assert (layer.rd, layer.ad) == (True, True)
        opt = DNSOPT(1232, 0, 0, False, ((10, bytes.fromhex("53d4fe03d5bc8577")),))
        assert layer.additionals == (DNSRecord(".", 41, 1232, 0, opt),)
        assert layer.edns == opt

    def test_message_without_edns_has_none(self) -> None:
        assert whole(NXDOMAIN).edns is None


# --------------------------------------------------------------------------- record data


class TestRecordData:
    def test_a_and_aaaa_are_address_text(self) -> None:
        assert answer_data(1, bytes([93, 184, 216, 34])) == "93.184.216.34"
        assert answer_data(28, bytes.fromhex("20010db8" + "0" * 23 + "1")) == "2001:db8::1"

    @pytest.mark.parametrize("rtype", [2, 5, 12, 39])  # NS CNAME PTR DNAME
    def test_name_types_give_the_name(self, rtype: int) -> None:
        assert answer_data(rtype, name("ns1", "example", "net")) == "ns1.example.net"

    def test_compressed_name_in_record_data(self) -> None:
        assert answer_data(5, b"\x03www" + pointer(12)) == "www.example.com"

    def test_mx(self) -> None:
        assert answer_data(15, b"\x00\x0a" + name("mail", "example", "com")) == DNSMX(
            10, "mail.example.com"
        )

    def test_srv(self) -> None:
        rdata = struct.pack("!HHH", 10, 60, 5060) + name("sip", "example", "com")
        assert answer_data(33, rdata) == DNSSRV(10, 60, 5060, "sip.example.com")

    def test_soa(self) -> None:
        rdata = name("ns") + name("admin") + struct.pack("!IIIII", 1, 2, 3, 4, 5)
        assert answer_data(6, rdata) == DNSSOA("ns", "admin", 1, 2, 3, 4, 5)

    def test_txt_is_a_tuple_of_strings_decoded_as_utf8(self) -> None:
        rdata = b"\x05hello" + b"\x00" + b"\x06caf\xc3\xa9!" + b"\x02\xff\xfe"
        assert answer_data(16, rdata) == ("hello", "", "café!", "\\xff\\xfe")

    def test_opt_unpacks_extended_rcode_version_and_do_bit(self) -> None:
        msg = message(ar=(rr(name(), 41, b"", rclass=4096, ttl=0x01_00_8000),))
        assert whole(msg).additionals[0].data == DNSOPT(4096, 1, 0, True, ())

    def test_unknown_type_keeps_raw_bytes(self) -> None:
        assert answer_data(47, b"\xc0\x0c\x00\x01\x40") == b"\xc0\x0c\x00\x01\x40"  # NSEC
        assert answer_data(65280, b"") == b""

    @pytest.mark.parametrize(
        ("rtype", "rdata", "reason"),
        [
            (1, b"\x01\x02\x03\x04\x05", "A data of 5 bytes (must be 4)"),
            (1, b"\x01\x02\x03", "A data of 3 bytes (must be 4)"),
            (28, bytes(15), "AAAA data of 15 bytes (must be 16)"),
            (5, name("a", "b") + b"\x00", "CNAME data: 1 bytes left after the name"),
            (15, b"\x00\x01", "MX data of 2 bytes (at least 3)"),
            (33, b"\x00\x01\x00\x02\x00\x03", "SRV data of 6 bytes (at least 7)"),
            (6, name("ns") + name("admin") + bytes(19), "SOA data: 19 bytes after the names"),
            (16, b"\x05abc", "TXT string of 5 bytes overruns the data"),
            (41, b"\x00\x0a\x00", "OPT data: 3 stray bytes after the options"),
            (41, b"\x00\x0a\x00\x09abc", "OPT option 10 of 9 bytes overruns the data"),
        ],
    )
    def test_record_data_must_be_consumed_exactly(
        self, rtype: int, rdata: bytes, reason: str
    ) -> None:
        q = name("example", "com")
        layer, after = parse(message(qd=(question(q),), an=(rr(pointer(12), rtype, rdata),)))
        assert layer.answers == ()
        assert layer.questions == (DNSQuestion("example.com", 1, 1),)
        assert not layer.complete
        assert isinstance(after, Malformed)
        assert not after.truncated
        assert after.reason.startswith(f"dns.answers[0]: {reason}")

    def test_name_running_past_rdlength_is_invalid_not_truncated(self) -> None:
        q = name("example", "com")
        rdata = b"\x05abc"  # a 5-byte label in 4 bytes of data
        _, after = parse(
            message(qd=(question(q),), an=(rr(pointer(12), 5, rdata),)) + b"more bytes"
        )
        assert isinstance(after, Malformed)
        assert not after.truncated
        assert "past its rdlength" in after.reason


# --------------------------------------------------------------------------- names


class TestNames:
    def test_root_name_is_a_single_dot(self) -> None:
        assert read_name(b"\x00", 0, 0, 1) == (".", 1)

    def test_names_have_no_trailing_dot(self) -> None:
        assert read_name(name("example", "com"), 0, 0, 13) == ("example.com", 13)

    def test_read_name_resumes_after_the_first_pointer(self) -> None:
        buf = name("com") + b"\x07example" + pointer(0) + b"tail"
        assert read_name(buf, 5, 0, len(buf)) == ("example.com", 5 + 8 + 2)

    @pytest.mark.parametrize(
        ("label", "text"),
        [
            (b"a b", "a\\032b"),  # space
            (b"a.b", "a\\.b"),  # a dot inside a label
            (b"a\\b", "a\\\\b"),  # backslash
            (b"\x00\x7f\xff", "\\000\\127\\255"),
            (b"under_score-dash", "under_score-dash"),
        ],
    )
    def test_label_bytes_that_are_not_printable_are_escaped(
        self, label: bytes, text: str
    ) -> None:
        assert read_name(name(label, "local"), 0, 0, 100)[0] == f"{text}.local"

    def test_a_63_byte_label_is_allowed(self) -> None:
        assert read_name(name("x" * 63), 0, 0, 65)[0] == "x" * 63

    @pytest.mark.parametrize("length_byte", [0x40, 0x7F, 0x80, 0xBF])
    def test_label_length_over_63_is_invalid(self, length_byte: int) -> None:
        buf = bytes([length_byte]) + bytes(200)
        with pytest.raises(Invalid) as info:
            read_name(buf, 0, 0, len(buf))
        assert "a label is at most 63 bytes" in info.value.reason

    def test_name_of_255_bytes_is_allowed(self) -> None:
        wire = name("a" * 63, "b" * 63, "c" * 63, "d" * 61)
        assert len(wire) == 255
        assert read_name(wire, 0, 0, len(wire))[1] == 255

    def test_name_longer_than_255_bytes_is_invalid(self) -> None:
        wire = name("a" * 63, "b" * 63, "c" * 63, "d" * 62)
        with pytest.raises(Invalid) as info:
            read_name(wire, 0, 0, len(wire))
        assert info.value.reason == "name longer than 255 bytes"

    def test_name_made_too_long_through_pointers_is_invalid(self) -> None:
        long = name("a" * 63, "b" * 63, "c" * 63)  # 193 bytes
        buf = long + b"\x3f" + b"d" * 63 + pointer(0)  # 64 more bytes, then the long name
        with pytest.raises(Invalid):
            read_name(buf, len(long), 0, len(buf))

    def test_pointer_to_itself_is_a_loop(self) -> None:
        buf = b"\x00" * 12 + pointer(12)
        with pytest.raises(Invalid) as info:
            read_name(buf, 12, 0, len(buf))
        assert info.value.reason == (
            "compression pointer to offset 12 does not point before offset 12"
        )

    def test_forward_pointer_is_invalid(self) -> None:
        buf = pointer(4) + b"\x00\x00" + name("example")
        with pytest.raises(Invalid):
            read_name(buf, 0, 0, len(buf))

    def test_two_pointers_pointing_at_each_other_cannot_loop(self) -> None:
        """Offset 2 points back to 0 (allowed), 0 points on to 2 (not before 0)."""
        buf = pointer(2) + pointer(0)
        with pytest.raises(Invalid) as info:
            read_name(buf, 2, 0, len(buf))
        assert "to offset 2 does not point before offset 0" in info.value.reason

    def test_pointer_into_a_name_that_itself_ends_in_a_pointer(self) -> None:
        buf = name("com") + b"\x07example" + pointer(0) + b"\x03www" + pointer(5)
        assert read_name(buf, 15, 0, len(buf)) == ("www.example.com", len(buf))

    @pytest.mark.parametrize(("hops", "ok"), [(128, True), (129, False)])
    def test_at_most_128_pointers_per_name(self, hops: int, ok: bool) -> None:
        # a root label at 0, then pointers each pointing at the one before it
        buf = b"\x00" + b"".join(pointer(0 if i == 0 else 1 + 2 * (i - 1)) for i in range(hops))
        start = 1 + 2 * (hops - 1)  # the last pointer: following it takes `hops` pointers
        if ok:
            assert read_name(buf, start, 0, len(buf)) == (".", start + 2)
        else:
            with pytest.raises(Invalid) as info:
                read_name(buf, start, 0, len(buf))
            assert info.value.reason == "more than 128 compression pointers in one name"

    def test_pointers_count_from_the_message_start(self) -> None:
        buf = b"JUNK" + name("example") + pointer(0)  # message starts at 4
        assert read_name(buf, 13, 4, len(buf)) == ("example", 15)

    @pytest.mark.parametrize(
        "buf", [b"", b"\x03ab", b"\x03abc", b"\xc0", b"\x01a\x01"], ids=repr
    )
    def test_running_out_of_bytes_is_short(self, buf: bytes) -> None:
        with pytest.raises(Short):
            read_name(b"\x00" + buf, 1, 0, len(buf) + 1)


# --------------------------------------------------------------------------- partial messages


class TestPartialMessages:
    def test_message_cut_in_the_answers_keeps_the_question_and_earlier_answers(self) -> None:
        cut = RESPONSE[: DNS_AT + 90]  # inside answer 1's data
        layer, after = dns.decode(cut, DNS_AT, len(cut))
        assert isinstance(layer, DNS)
        assert not layer.complete
        assert layer.questions == (DNSQuestion("www.ynet.co.il", 1, 1),)
        assert [r.data for r in layer.answers] == ["www.ynet.co.il.edgekey.net"]
        assert isinstance(after, Malformed)
        assert after.truncated
        assert after.reason == "dns.answers[1]: rdlength 22 but 6 bytes left"
        assert after.offset == DNS_AT + 84  # where answer 1's data starts
        assert after.data == cut[DNS_AT + 84 :]

    def test_the_driver_puts_the_marker_after_the_partial_layer(self) -> None:
        packet = decode(RESPONSE[: DNS_AT + 90], linktype=228)
        assert types(packet) == [IPv4, UDP, DNS, Malformed]
        assert packet.spans[2:] == ((DNS_AT, DNS_AT + 84), (DNS_AT + 84, DNS_AT + 90))
        assert packet.truncated

    def test_damage_in_the_additional_section_keeps_every_answer(self) -> None:
        q = name("example", "com")
        msg = message(
            qd=(question(q),),
            an=(rr(pointer(12), 1, b"\x01\x02\x03\x04"),),
            ar=(rr(pointer(99), 1, b"\x01\x02\x03\x04"),),  # forward pointer
        )
        layer, after = parse(msg)
        assert [r.data for r in layer.answers] == ["1.2.3.4"]
        assert layer.additionals == ()
        assert isinstance(after, Malformed)
        assert not after.truncated
        assert after.reason.startswith("dns.additionals[0]: compression pointer to offset 99")

    def test_damaged_question_names_its_index(self) -> None:
        msg = message(qd=(question(name("ok")), b"\x80xx"))
        layer, after = parse(msg)
        assert layer.questions == (DNSQuestion("ok", 1, 1),)
        assert isinstance(after, Malformed)
        assert after.reason.startswith("dns.questions[1]: label length byte 0x80")

    def test_counts_beyond_a_complete_datagram_are_invalid_not_truncated(self) -> None:
        """With bytes captured after the datagram, running out is the message's fault."""
        msg = message(qd=(question(name("a")),), counts=(1, 5, 0, 0))
        buf = msg + bytes(10)  # Ethernet padding after the UDP datagram
        _, after = dns.decode(buf, 0, len(msg))
        assert isinstance(after, Malformed)
        assert not after.truncated
        assert after.reason == (
            "dns.answers[0]: name runs past the end of the data (the message ends there)"
        )

    def test_header_shorter_than_twelve_bytes_is_truncated(self) -> None:
        packet = decode(QUERY[: DNS_AT + 11], linktype=228)
        assert types(packet) == [IPv4, UDP, Malformed]
        marker = packet.layers[-1]
        assert isinstance(marker, Malformed)
        assert (marker.protocol, marker.truncated) == ("dns", True)
        assert marker.reason.endswith("need 12 bytes, have 11")

    @pytest.mark.parametrize(
        "frame", [pytest.param(QUERY, id="query"), pytest.param(RESPONSE, id="response")]
    )
    def test_every_cut_gives_a_prefix_of_the_chain_ending_in_truncation(
        self, frame: bytes
    ) -> None:
        full = types(decode(frame, linktype=228))
        for n in range(len(frame)):
            packet = decode(frame[:n], linktype=228)
            got = types(packet)
            last = packet.layers[-1] if packet.layers else None
            if isinstance(last, Malformed):
                assert last.truncated, (n, last)
                assert got[:-1] == full[: len(got) - 1], n
            else:
                assert got == full[: len(got)], n
            layer = packet.get(DNS)
            if layer is not None and n < len(frame):
                assert not layer.complete, n

    def test_no_cut_loses_the_question_once_it_was_captured(self) -> None:
        question_end = DNS_AT + 32
        for n in range(question_end, len(RESPONSE)):
            layer = decode(RESPONSE[:n], linktype=228).get(DNS)
            assert layer is not None
            assert layer.questions == (DNSQuestion("www.ynet.co.il", 1, 1),), n


# --------------------------------------------------------------------------- DNS over TCP


def over_tcp(msg: bytes, *, length: int | None = None) -> bytes:
    return struct.pack("!H", len(msg) if length is None else length) + msg


class TestOverTCP:
    def test_whole_message_after_its_length_prefix(self) -> None:
        msg = RESPONSE[DNS_AT:]
        seg = over_tcp(msg)
        layer, after = dns.decode_tcp(seg, 0, len(seg))
        assert after is None
        assert layer == dns.decode(msg, 0, len(msg))[0]

    def test_segment_holding_part_of_the_message_decodes_what_is_there(self) -> None:
        seg = over_tcp(RESPONSE[DNS_AT:])[:70]  # the question and answer 0's header
        layer, after = dns.decode_tcp(seg, 0, len(seg))
        assert isinstance(layer, DNS)
        assert not layer.complete
        assert layer.questions == (DNSQuestion("www.ynet.co.il", 1, 1),)
        assert isinstance(after, Malformed)
        assert after.truncated

    def test_segment_ending_between_records_still_says_the_message_continues(self) -> None:
        msg = RESPONSE[DNS_AT:]
        seg = over_tcp(msg)[: 2 + 32]  # header and question only; three answers to come
        layer, after = dns.decode_tcp(seg, 0, len(seg))
        assert isinstance(layer, DNS)
        assert not layer.complete
        assert isinstance(after, Malformed)
        assert after.truncated
        assert after.offset == len(seg)

    def test_all_records_present_but_length_says_more(self) -> None:
        msg = QUERY[DNS_AT:]
        seg = over_tcp(msg, length=len(msg) + 100)
        layer, after = dns.decode_tcp(seg, 0, len(seg))
        assert isinstance(layer, DNS)
        assert layer.questions == (DNSQuestion("www.ynet.co.il", 1, 1),)
        assert not layer.complete
        assert isinstance(after, Malformed)
        assert after.reason == "message of 132 bytes continues past this segment (32 present)"
        assert (after.offset, after.truncated, after.data) == (len(seg), True, b"")

    def test_message_inconsistent_with_its_length_prefix_is_invalid(self) -> None:
        msg = message(qd=(question(name("a")),), counts=(2, 0, 0, 0))
        seg = over_tcp(msg) + b"next message"
        _, after = dns.decode_tcp(seg, 0, len(seg))
        assert isinstance(after, Malformed)
        assert not after.truncated

    def test_one_byte_segment_is_short(self) -> None:
        with pytest.raises(Short):
            dns.decode_tcp(b"\x00", 0, 1)

    def test_length_prefix_below_a_header_is_invalid(self) -> None:
        with pytest.raises(Invalid):
            dns.decode_tcp(b"\x00\x05hello", 0, 7)

    def test_port_53_over_tcp_uses_the_length_prefix(self) -> None:
        seg = tcp(over_tcp(QUERY[DNS_AT:]), sport=40000, dport=53, flags="PA")
        packet = decode(eth(ipv4_tcp(seg)))
        assert types(packet)[-2:] == [TCP, DNS]
        assert packet[DNS].questions == (DNSQuestion("www.ynet.co.il", 1, 1),)


# --------------------------------------------------------------------------- wiring, text, JSON


class TestWiringAndText:
    @pytest.mark.parametrize("port", [53, 5353, 5355])
    def test_dns_mdns_and_llmnr_ports(self, port: int) -> None:
        datagram = udp(QUERY[DNS_AT:], sport=port, dport=port)
        assert types(decode(eth(ipv4_udp(datagram))))[-1] is DNS

    def test_mdns_class_keeps_the_unicast_response_bit(self) -> None:
        msg = message(ident=0, flags=0, qd=(question(name("printer", "local"), 255, 0x8001),))
        layer = whole(msg)
        assert layer.questions == (DNSQuestion("printer.local", 255, 0x8001),)
        assert layer.summary() == "query 0x0000 ANY printer.local"

    def test_response_summary_without_questions(self) -> None:
        host = rr(name("host", "local"), 1, b"\x0a\x00\x00\x02")
        msg = message(ident=0, flags=0x8400, an=(host,))
        assert whole(msg).summary() == "response 0x0000 → A 10.0.0.2 (NOERROR)"

    def test_summary_shortens_long_answer_lists(self) -> None:
        q = name("example", "com")
        answers = tuple(rr(pointer(12), 1, bytes([10, 0, 0, i])) for i in range(6))
        text = whole(message(qd=(question(q),), an=answers)).summary()
        assert text == (
            "response 0x1a2b A example.com → 10.0.0.0, 10.0.0.1, 10.0.0.2, 10.0.0.3, "
            "… (6 in all) (NOERROR)"
        )

    def test_summary_names_a_non_query_opcode_and_unknown_codes(self) -> None:
        msg = message(flags=(4 << 11) | 0x8000 | 0xF, qd=(question(name("x"), 999),))
        assert whole(msg).summary() == "response 0x1a2b NOTIFY 0x03e7 x (0x0f)"

    def test_json_uses_class_for_rclass(self) -> None:
        layer = whole(NXDOMAIN)
        out = to_dict(layer)
        assert out["questions"] == [{"name": "wpad.HOME", "type": 1, "class": 1}]
        assert out["authorities"][0]["class"] == 1
        assert out["authorities"][0]["data"]["serial"] == 2014101100

    def test_flags_are_booleans_and_codes_are_ints(self) -> None:
        layer = whole(message(flags=0xFFFF))
        assert (layer.qr, layer.aa, layer.tc, layer.rd, layer.ra) == (True,) * 5
        assert (layer.z, layer.ad, layer.cd) == (True, True, True)
        assert (layer.opcode, layer.rcode) == (15, 15)


def test_dns_in_a_non_first_ipv4_fragment_is_not_decoded() -> None:
    frame = eth(ipv4(udp(QUERY[DNS_AT:]), proto=17, flags=0, frag_offset=8))
    assert DNS not in decode(frame)


def test_damage_found_through_a_pointer_is_marked_at_the_entry_that_points() -> None:
    """The bad label byte sits inside answer 0's data; answer 1's name points at it.
    The marker starts at answer 1, so the DNS layer's span covers answer 0."""
    q = name("example", "com")
    bad = b"\x01a\x80"  # in unknown-type data nothing reads it... until a name points here
    first = rr(pointer(12), 65280, bad)
    where = 12 + len(question(q)) + 12  # answer 0's data: after its 2-byte name and 10 bytes
    msg = message(qd=(question(q),), an=(first, rr(pointer(where), 1, b"\x01\x02\x03\x04")))
    layer, after = parse(msg)
    assert [r.data for r in layer.answers] == [bad]
    assert isinstance(after, Malformed)
    answer1 = 12 + len(question(q)) + len(first)
    assert after.offset == answer1
    assert after.reason == (
        f"dns.answers[1]: label length byte 0x80: label type 0b10 (a label is at most 63 "
        f"bytes) (at message offset {where + 2})"
    )
