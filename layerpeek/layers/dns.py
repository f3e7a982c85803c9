"""Domain Name System messages: RFC 1035 (AAAA: RFC 3596, SRV: RFC 2782, OPT: RFC 6891).

                                1  1  1  1  1  1
  0  1  2  3  4  5  6  7  8  9  0  1  2  3  4  5
+--+--+--+--+--+--+--+--+--+--+--+--+--+--+--+--+
|                      ID                       |
+--+--+--+--+--+--+--+--+--+--+--+--+--+--+--+--+
|QR|   Opcode  |AA|TC|RD|RA| Z|AD|CD|   RCODE   |
+--+--+--+--+--+--+--+--+--+--+--+--+--+--+--+--+
|                    QDCOUNT                    |
|                    ANCOUNT                    |
|                    NSCOUNT                    |
|                    ARCOUNT                    |
+--+--+--+--+--+--+--+--+--+--+--+--+--+--+--+--+
  then the question, answer, authority and additional sections

mDNS (udp/5353) and LLMNR (udp/5355) use the same wire format and decode here.

Rules, taken from dnspython's wire parser because they make hostile input safe:

* A compression pointer must point strictly before the start of the name
  that holds it, and each further pointer strictly before the previous target
  (https://www.rfc-editor.org/rfc/rfc1035#section-4.1.4 only says "prior
  occurrence").  Offsets then only decrease, so no loop is possible.  A name
  may also follow at most :data:`MAX_POINTERS` pointers: a legal name of 255
  bytes never needs more, and without the cap a chain of pointers to pointers
  would cost time quadratic in the message size.
* A name is at most 255 bytes on the wire (root label included), a label at
  most 63: the length bytes 0x40-0xBF (label types 0b01 and 0b10, RFC 6891
  §5) are invalid.
* Record data must be consumed exactly by its rdlength for every type we
  decode (an A record is 4 bytes, a CNAME exactly one name); anything else is
  invalid.  Unknown types are kept as raw bytes and never raise.

A message cut or damaged part-way keeps every question and record read so far
(``complete=False``) and is followed by a Malformed marker, instead of losing
the whole message as dpkt does (its issue #498).  Bytes running out count as
truncation only when the capture ends there; when the datagram (or the TCP
length prefix) ended first, the message is inconsistent, not cut.
"""

from __future__ import annotations

import socket
import struct
from collections.abc import Sized
from dataclasses import dataclass, field
from enum import IntEnum
from typing import ClassVar

from layerpeek.dissect import Decoded, Dissector
from layerpeek.errors import DecodeError, Invalid, Short
from layerpeek.packet import Layer, Malformed
from layerpeek.wire import enum_name

_HEADER = struct.Struct("!HHHHHH")
_QTAIL = struct.Struct("!HH")
_RRTAIL = struct.Struct("!HHIH")
_U16 = struct.Struct("!H")
_OPTION = struct.Struct("!HH")
_SOA = struct.Struct("!IIIII")
_SRV = struct.Struct("!HHH")

#: Longest name on the wire, length bytes and root label included (RFC 1035 §3.1).
MAX_NAME_LEN = 255
#: Most compression pointers one name may follow (see the module docstring).
MAX_POINTERS = 128

#: Names already read in one message, by the offset they start at: their labels,
#: wire length (root byte included), pointers followed, and the offset just past
#: the last byte they read (a cached name is used only within the same bounds).
#: A hostile message can make every record's name point to the previous record's, so that
#: each name walks a chain of up to MAX_POINTERS pointers: 64 kB of records then
#: costs ~500 000 steps.  With the cache a pointer to a name read before costs
#: one lookup, and the limits (length, pointer count) are still checked in full.
NameCache = dict[int, tuple[tuple[str, ...], int, int, int]]

#: Label bytes shown as themselves; every other byte is escaped (``\.``, ``\\``, ``\032``).
_PLAIN = bytes(b for b in range(33, 127) if b not in (0x2E, 0x5C))


class RRType(IntEnum):
    """Resource record (and query) types, IANA "Resource Record (RR) TYPEs"."""

    A = 1
    NS = 2
    CNAME = 5
    SOA = 6
    NULL = 10
    WKS = 11
    PTR = 12
    HINFO = 13
    MX = 15
    TXT = 16
    RP = 17
    SIG = 24
    KEY = 25
    AAAA = 28
    LOC = 29
    SRV = 33
    NAPTR = 35
    CERT = 37
    DNAME = 39
    OPT = 41
    APL = 42
    DS = 43
    SSHFP = 44
    IPSECKEY = 45
    RRSIG = 46
    NSEC = 47
    DNSKEY = 48
    DHCID = 49
    NSEC3 = 50
    NSEC3PARAM = 51
    TLSA = 52
    CDS = 59
    CDNSKEY = 60
    OPENPGPKEY = 61
    SVCB = 64
    HTTPS = 65
    SPF = 99
    TKEY = 249
    TSIG = 250
    IXFR = 251
    AXFR = 252
    ANY = 255
    URI = 256
    CAA = 257


class RRClass(IntEnum):
    """Classes.  mDNS sets bit 15 (unicast-response / cache-flush): shown as a raw value."""

    IN = 1
    CH = 3
    HS = 4
    NONE = 254
    ANY = 255


class Opcode(IntEnum):
    QUERY = 0
    IQUERY = 1
    STATUS = 2
    NOTIFY = 4
    UPDATE = 5
    DSO = 6


class Rcode(IntEnum):
    """Header RCODEs (4 bits; EDNS extends them through :attr:`DNSOPT.extended_rcode`)."""

    NOERROR = 0
    FORMERR = 1
    SERVFAIL = 2
    NXDOMAIN = 3
    NOTIMP = 4
    REFUSED = 5
    YXDOMAIN = 6
    YXRRSET = 7
    NXRRSET = 8
    NOTAUTH = 9
    NOTZONE = 10
    DSOTYPENI = 11


@dataclass(slots=True)
class DNSMX:
    """MX data (RFC 1035 §3.3.9)."""

    preference: int
    exchange: str


@dataclass(slots=True)
class DNSSOA:
    """SOA data (RFC 1035 §3.3.13); the five timers are seconds except ``serial``."""

    mname: str
    rname: str
    serial: int
    refresh: int
    retry: int
    expire: int
    minimum: int


@dataclass(slots=True)
class DNSSRV:
    """SRV data (RFC 2782)."""

    priority: int
    weight: int
    port: int
    target: str


@dataclass(slots=True)
class DNSOPT:
    """EDNS(0) OPT pseudo-record data (RFC 6891 §6.1.3).

    The record's class field carries the sender's UDP payload size and its TTL
    field carries the extended RCODE, the EDNS version and the DO bit.
    """

    udp_payload_size: int
    extended_rcode: int  #: upper 8 bits of the 12-bit RCODE
    version: int
    dnssec_ok: bool
    options: tuple[tuple[int, bytes], ...] = ()  #: (option code, option data)


#: A record's decoded data: addresses and names as ``str``, TXT as a tuple of
#: strings, the structured types as dataclasses, unknown types as raw bytes.
RecordData = str | tuple[str, ...] | DNSMX | DNSSOA | DNSSRV | DNSOPT | bytes


@dataclass(slots=True)
class DNSQuestion:
    """One entry of the question section."""

    json_names: ClassVar[dict[str, str]] = {"rclass": "class"}
    name: str
    type: int
    rclass: int  #: "class" on the wire; mDNS uses bit 15 as the unicast-response flag

    def __str__(self) -> str:
        return f"{enum_name(RRType, self.type)} {self.name}"


@dataclass(slots=True)
class DNSRecord:
    """One resource record (answer, authority or additional)."""

    json_names: ClassVar[dict[str, str]] = {"rclass": "class"}
    name: str
    type: int
    rclass: int  #: for OPT: the UDP payload size (see :class:`DNSOPT`)
    ttl: int  #: seconds; for OPT: extended RCODE, version and flags
    data: RecordData = field(default=b"")

    def __str__(self) -> str:
        return f"{self.name} {enum_name(RRType, self.type)} {data_text(self.data)}"


@dataclass(slots=True)
class DNS(Layer):
    """A DNS message (also mDNS and LLMNR)."""

    name: ClassVar[str] = "dns"
    short: ClassVar[str] = "dns"
    id: int
    qr: bool  #: False: query, True: response
    opcode: int  #: :class:`Opcode`
    aa: bool
    tc: bool
    rd: bool
    ra: bool
    z: bool
    ad: bool
    cd: bool
    rcode: int  #: :class:`Rcode` (the header's 4 bits)
    questions: tuple[DNSQuestion, ...] = ()
    answers: tuple[DNSRecord, ...] = ()
    authorities: tuple[DNSRecord, ...] = ()
    additionals: tuple[DNSRecord, ...] = ()
    complete: bool = True  #: False when the message was cut or damaged part-way

    @property
    def edns(self) -> DNSOPT | None:
        """The OPT pseudo-record's data, if the message carries one."""
        for record in self.additionals:
            if isinstance(record.data, DNSOPT):
                return record.data
        return None

    def summary(self) -> str:
        """``query 0x1a2b A example.com`` or
        ``response 0x1a2b A example.com → 93.184.216.34 (NOERROR)``."""
        text = f"{'response' if self.qr else 'query'} 0x{self.id:04x}"
        if self.opcode:
            text += f" {enum_name(Opcode, self.opcode)}"
        if self.questions:
            text += " " + _first(
                [f"{enum_name(RRType, q.type)} {q.name}" for q in self.questions]
            )
        if self.qr:
            asked = self.questions[0].type if self.questions else -1
            shown = [
                data_text(r.data) if r.type == asked else f"{enum_name(RRType, r.type)} "
                f"{data_text(r.data)}"
                for r in self.answers
            ]
            if shown:
                text += " → " + _first(shown)
            text += f" ({enum_name(Rcode, self.rcode)})"
        return text


def _first(items: list[str], n: int = 4) -> str:
    return ", ".join(items[:n]) + (f", … ({len(items)} in all)" if len(items) > n else "")


def data_text(data: RecordData) -> str:
    """Record data as one line of text (zone-file-like, for summaries)."""
    if isinstance(data, str):
        return data
    if isinstance(data, bytes):
        return data.hex() if len(data) <= 32 else data[:32].hex() + "…"
    if isinstance(data, tuple):
        return " ".join('"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"' for s in data)
    if isinstance(data, DNSMX):
        return f"{data.preference} {data.exchange}"
    if isinstance(data, DNSSRV):
        return f"{data.priority} {data.weight} {data.port} {data.target}"
    if isinstance(data, DNSSOA):
        return (
            f"{data.mname} {data.rname} {data.serial} {data.refresh} {data.retry} "
            f"{data.expire} {data.minimum}"
        )
    return f"udp={data.udp_payload_size} version={data.version}" + (
        " do" if data.dnssec_ok else ""
    )


def _label_text(raw: bytes) -> str:
    """One label as text: printable ASCII kept, ``.`` and ``\\`` escaped with a
    backslash, every other byte as ``\\DDD`` (RFC 1035 §5.1, dnspython's form)."""
    if not raw.translate(None, _PLAIN):
        return raw.decode("ascii")
    out = []
    for b in raw:
        if b == 0x2E or b == 0x5C:
            out.append("\\" + chr(b))
        elif 33 <= b <= 126:
            out.append(chr(b))
        else:
            out.append(f"\\{b:03d}")
    return "".join(out)


def read_name(
    buf: bytes, pos: int, base: int, end: int, cache: NameCache | None = None
) -> tuple[str, int]:
    """Read a possibly compressed name at ``pos``; return it and the offset after it.

    ``base`` is where the message starts (pointer offsets count from it) and
    ``end`` where the bytes we may read stop.  The root name is ``"."``; any
    other name has no trailing dot (``"example.com"``).  Raises
    :class:`Short` when the bytes run out and :class:`Invalid` for the rule
    breaks listed in the module docstring.  ``cache`` (one dict per message)
    remembers names by offset so that pointer chains are walked once.
    """
    first = pos
    labels: list[str] = []
    wire_len = 1  # the root label's length byte
    after = -1  # where the caller resumes: just past the first pointer, if any
    limit = pos  # a pointer must land strictly before this
    pointers = 0
    reach = pos  # just past the furthest byte read
    while True:
        if pos >= end:
            raise Short("name runs past the end of the data", pos)
        length = buf[pos]
        if length == 0:
            if pos >= reach:
                reach = pos + 1
            break
        if length < 0x40:
            label_end = pos + 1 + length
            if label_end > reach:
                reach = label_end
            wire_len += 1 + length
            if wire_len > MAX_NAME_LEN:
                raise Invalid(f"name longer than {MAX_NAME_LEN} bytes", pos)
            if label_end > end:
                raise Short(f"label of {length} bytes runs past the end of the data", pos)
            labels.append(_label_text(buf[pos + 1 : label_end]))
            pos = label_end
            continue
        if length < 0xC0:
            raise Invalid(
                f"label length byte 0x{length:02x}: label type 0b{length >> 6:02b} "
                "(a label is at most 63 bytes)",
                pos,
            )
        if pos + 1 >= end:
            raise Short("compression pointer cut", pos)
        target = base + (((length & 0x3F) << 8) | buf[pos + 1])
        if target >= limit:
            raise Invalid(
                f"compression pointer to offset {target - base} does not point before "
                f"offset {limit - base}",
                pos,
            )
        pointers += 1
        if pointers > MAX_POINTERS:
            raise Invalid(f"more than {MAX_POINTERS} compression pointers in one name", pos)
        if after < 0:
            after = pos + 2
        if pos + 2 > reach:
            reach = pos + 2
        known = cache.get(target) if cache is not None else None
        if known is not None and known[3] <= end:
            more, more_len, more_pointers, more_reach = known
            if more_reach > reach:
                reach = more_reach
            # A limit crossed inside the cached name is reported at its start,
            # which (like the walk's deeper position) lies before this name.
            wire_len += more_len - 1  # its root byte was counted already
            if wire_len > MAX_NAME_LEN:
                raise Invalid(f"name longer than {MAX_NAME_LEN} bytes", target)
            pointers += more_pointers
            if pointers > MAX_POINTERS:
                raise Invalid(
                    f"more than {MAX_POINTERS} compression pointers in one name", target
                )
            labels.extend(more)
            break
        limit = pos = target
    if cache is not None:
        cache[first] = (tuple(labels), wire_len, pointers, reach)
    return ".".join(labels) if labels else ".", (after if after >= 0 else pos + 1)


def _name_exactly(
    buf: bytes, pos: int, base: int, end: int, what: str, cache: NameCache | None = None
) -> str:
    name, after = read_name(buf, pos, base, end, cache)
    if after != end:
        raise Invalid(f"{what}: {end - after} bytes left after the name", after)
    return name


def _rdata(
    buf: bytes, base: int, rtype: int, rclass: int, ttl: int, start: int, end: int,
    cache: NameCache | None = None,
) -> RecordData:
    """Decode one record's data, ``buf[start:end]`` (exactly rdlength bytes)."""
    size = end - start
    if rtype == 1:
        if size != 4:
            raise Invalid(f"A data of {size} bytes (must be 4)", start)
        return socket.inet_ntop(socket.AF_INET, buf[start:end])
    if rtype == 28:
        if size != 16:
            raise Invalid(f"AAAA data of {size} bytes (must be 16)", start)
        return socket.inet_ntop(socket.AF_INET6, buf[start:end])
    if rtype == 5 or rtype == 2 or rtype == 12 or rtype == 39:  # CNAME NS PTR DNAME
        return _name_exactly(buf, start, base, end, enum_name(RRType, rtype) + " data", cache)
    if rtype == 16:  # TXT: one or more <character-string>s
        strings: list[str] = []
        pos = start
        while pos < end:
            n = buf[pos]
            if pos + 1 + n > end:
                raise Invalid(f"TXT string of {n} bytes overruns the data", pos)
            strings.append(buf[pos + 1 : pos + 1 + n].decode("utf-8", "backslashreplace"))
            pos += 1 + n
        return tuple(strings)
    if rtype == 15:
        if size < 3:
            raise Invalid(f"MX data of {size} bytes (at least 3)", start)
        return DNSMX(
            _U16.unpack_from(buf, start)[0],
            _name_exactly(buf, start + 2, base, end, "MX data", cache),
        )
    if rtype == 33:
        if size < 7:
            raise Invalid(f"SRV data of {size} bytes (at least 7)", start)
        priority, weight, port = _SRV.unpack_from(buf, start)
        name = _name_exactly(buf, start + 6, base, end, "SRV data", cache)
        return DNSSRV(priority, weight, port, name)
    if rtype == 6:
        mname, pos = read_name(buf, start, base, end, cache)
        rname, pos = read_name(buf, pos, base, end, cache)
        if end - pos != 20:
            raise Invalid(f"SOA data: {end - pos} bytes after the names (must be 20)", pos)
        return DNSSOA(mname, rname, *_SOA.unpack_from(buf, pos))
    if rtype == 41:
        options: list[tuple[int, bytes]] = []
        pos = start
        while pos < end:
            if pos + 4 > end:
                raise Invalid(f"OPT data: {end - pos} stray bytes after the options", pos)
            code, length = _OPTION.unpack_from(buf, pos)
            if pos + 4 + length > end:
                raise Invalid(f"OPT option {code} of {length} bytes overruns the data", pos)
            options.append((code, buf[pos + 4 : pos + 4 + length]))
            pos += 4 + length
        return DNSOPT(rclass, ttl >> 24, (ttl >> 16) & 0xFF, bool(ttl & 0x8000), tuple(options))
    return buf[start:end]


def decode_message(buf: bytes, start: int, end: int, *, cut: bool | None = None) -> Decoded:
    """Decode the DNS message in ``buf[start:end]``.

    ``cut`` says whether running out of bytes means the capture was cut
    (truncation) rather than the message being inconsistent; by default it is
    true when ``end`` is the end of the captured frame.
    """
    if cut is None:
        cut = end >= len(buf)
    if end - start < 12:
        reason = f"dns: need 12 bytes, have {max(end - start, 0)}"
        raise Short(reason, start) if cut else Invalid(reason, start)
    ident, flags, qdcount, ancount, nscount, arcount = _HEADER.unpack_from(buf, start)
    questions: list[DNSQuestion] = []
    sections: tuple[list[DNSRecord], list[DNSRecord], list[DNSRecord]] = ([], [], [])
    pos = start + 12
    # where a problem is, for the reason's path: the section, and the entry
    # being read is the one after those already kept
    label = "questions"
    current: Sized = questions
    entry = pos  # where the question or record being read starts
    problem: DecodeError | None = None
    names: NameCache = {}
    try:
        for _ in range(qdcount):
            entry = pos
            qname, pos = read_name(buf, pos, start, end, names)
            if pos + 4 > end:
                raise Short(f"type and class need 4 bytes, have {end - pos}", pos)
            qtype, qclass = _QTAIL.unpack_from(buf, pos)
            pos += 4
            questions.append(DNSQuestion(qname, qtype, qclass))
        for section, section_label, count in zip(
            sections, ("answers", "authorities", "additionals"), (ancount, nscount, arcount),
            strict=True,
        ):
            label, current = section_label, section
            for _ in range(count):
                entry = pos
                rname, pos = read_name(buf, pos, start, end, names)
                if pos + 10 > end:
                    raise Short(f"record header needs 10 bytes, have {end - pos}", pos)
                rtype, rclass, ttl, rdlength = _RRTAIL.unpack_from(buf, pos)
                pos += 10
                rdata_end = pos + rdlength
                if rdata_end > end:
                    raise Short(f"rdlength {rdlength} but {end - pos} bytes left", pos)
                try:
                    data = _rdata(buf, start, rtype, rclass, ttl, pos, rdata_end, names)
                except Short as e:  # the rdata is all there: a name ran past rdlength
                    raise Invalid(f"{e.reason} (past its rdlength)", e.offset) from None
                section.append(DNSRecord(rname, rtype, rclass, ttl, data))
                pos = rdata_end
    except DecodeError as e:
        problem = e
    layer = DNS(
        ident,
        bool(flags & 0x8000),
        (flags >> 11) & 0xF,
        bool(flags & 0x0400),
        bool(flags & 0x0200),
        bool(flags & 0x0100),
        bool(flags & 0x0080),
        bool(flags & 0x0040),
        bool(flags & 0x0020),
        bool(flags & 0x0010),
        flags & 0xF,
        tuple(questions),
        tuple(sections[0]),
        tuple(sections[1]),
        tuple(sections[2]),
        problem is None,
    )
    if problem is None:
        return layer, None
    reason = f"dns.{label}[{len(current)}]: {problem.reason}"
    at = entry if problem.offset is None else problem.offset
    if at < entry:
        # Found by following a compression pointer back into earlier bytes.  The
        # marker starts at the entry that could not be read, so the layer's span
        # still covers everything it decoded; the reason says where the bad byte is.
        reason += f" (at message offset {at - start})"
        at = entry
    if problem.truncated and not cut:
        reason += " (the message ends there)"
    return layer, Malformed("dns", reason, at, problem.truncated and cut, buf[at:end])


def decode(buf: bytes, start: int, end: int) -> Decoded:
    """DNS over UDP: the datagram is one message."""
    return decode_message(buf, start, end)


def decode_tcp(buf: bytes, start: int, end: int) -> Decoded:
    """DNS over TCP: a two-byte length, then the message (RFC 1035 §4.2.2).

    A segment holding only part of the message decodes what is there, marked
    ``complete=False`` and followed by a truncation marker; whole messages,
    and further messages sharing a segment, come from stream reassembly.
    """
    if end - start < 2:
        raise Short(f"dns: TCP length prefix needs 2 bytes, have {max(end - start, 0)}", start)
    length = _U16.unpack_from(buf, start)[0]
    if length < 12:
        raise Invalid(f"dns: TCP length prefix {length} < 12 (a DNS header)", start)
    msg_end = start + 2 + length
    if msg_end <= end:
        return decode_message(buf, start + 2, msg_end, cut=False)
    layer, after = decode_message(buf, start + 2, end, cut=True)
    assert isinstance(layer, DNS)
    layer.complete = False
    if after is None:
        after = Malformed(
            "dns",
            f"message of {length} bytes continues past this segment "
            f"({end - start - 2} present)",
            end,
            True,
            b"",
        )
    return layer, after


DISSECTOR = Dissector("dns", decode)
TCP_DISSECTOR = Dissector("dns", decode_tcp)
