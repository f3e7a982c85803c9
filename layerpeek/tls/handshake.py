"""TLS handshake messages and hello extensions: typed records and pure parsers.

RFC 8446 §4 (TLS 1.3) and RFC 5246 §7.4 (TLS 1.2).  Every message starts
with the same four bytes::

     0      1      2      3
    +------+------+------+------+---------------------------+
    | type |      length (24 bits)      |  body (length bytes) |
    +------+------+------+------+---------------------------+

:func:`parse_message` turns one whole message (header included) into its
dataclass.  Parsers read a body with a bounds-checked :class:`Cursor`; a
body that does not add up raises the project's :class:`~layerpeek.errors.Short`
or :class:`~layerpeek.errors.Invalid`, which :func:`parse_message` turns into
an :class:`OtherHandshake` carrying the reason (the raw bytes are kept), so
a damaged message is a value, never an exception.  The hellos are decoded
as far as they go: extensions read before a damaged one are kept, and the
hello's ``problem`` says where it stopped.

Some messages changed shape in TLS 1.3 (Certificate, CertificateRequest,
NewSessionTicket).  Outside a session the decoder cannot know the version,
so it takes ``tls13`` from the caller: the per-packet layer only ever sees
these messages in the clear, which means TLS 1.2 or older; the connection
state machine (:mod:`layerpeek.tls.connection`) knows after the ServerHello.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import ClassVar, TypeVar

from layerpeek.errors import DecodeError, Invalid, Short
from layerpeek.tls import names
from layerpeek.tls.certificates import X509Certificate, parse_certificate

E = TypeVar("E")

#: The ServerHello.random of a HelloRetryRequest (RFC 8446 §4.1.3): SHA-256 of "HelloRetryRequest".
HRR_RANDOM = bytes.fromhex("cf21ad74e59a6111be1d8c021e65b891c2a211167abb8c5e079e09e2c8a8339c")


class Cursor:
    """A bounds-checked reader over ``buf[pos:end]`` (positions are absolute)."""

    __slots__ = ("buf", "end", "pos", "what")

    def __init__(self, buf: bytes, pos: int, end: int, what: str) -> None:
        self.buf = buf
        self.pos = pos
        self.end = end
        self.what = what

    def left(self) -> int:
        return self.end - self.pos

    def _need(self, n: int, name: str) -> None:
        if self.end - self.pos < n:
            raise Short(f"{self.what} {name}: need {n} bytes, have {self.end - self.pos}",
                        self.pos)

    def u8(self, name: str) -> int:
        self._need(1, name)
        value = self.buf[self.pos]
        self.pos += 1
        return value

    def u16(self, name: str) -> int:
        self._need(2, name)
        value = int.from_bytes(self.buf[self.pos : self.pos + 2], "big")
        self.pos += 2
        return value

    def u24(self, name: str) -> int:
        self._need(3, name)
        value = int.from_bytes(self.buf[self.pos : self.pos + 3], "big")
        self.pos += 3
        return value

    def u32(self, name: str) -> int:
        self._need(4, name)
        value = int.from_bytes(self.buf[self.pos : self.pos + 4], "big")
        self.pos += 4
        return value

    def take(self, n: int, name: str) -> bytes:
        self._need(n, name)
        value = self.buf[self.pos : self.pos + n]
        self.pos += n
        return value

    def vector(self, size_bytes: int, name: str) -> bytes:
        """A vector with a 1-, 2- or 3-byte length prefix."""
        length = (self.u8, self.u16, self.u24)[size_bytes - 1](f"{name} length")
        if length > self.end - self.pos:
            raise Invalid(
                f"{self.what} {name}: length {length} > {self.end - self.pos} bytes left",
                self.pos - size_bytes,
            )
        return self.take(length, name)

    def sub(self, size_bytes: int, name: str) -> Cursor:
        """A cursor over the next length-prefixed vector (and skip past it here)."""
        start = self.pos + size_bytes
        data_len = len(self.vector(size_bytes, name))
        return Cursor(self.buf, start, start + data_len, f"{self.what} {name}")

    def u16_list(self, size_bytes: int, name: str) -> tuple[int, ...]:
        inner = self.sub(size_bytes, name)
        if inner.left() % 2:
            raise Invalid(f"{inner.what}: odd length {inner.left()}", inner.pos)
        return tuple(inner.u16(name) for _ in range(inner.left() // 2))

    def done(self) -> None:
        if self.pos != self.end:
            raise Invalid(f"{self.what}: {self.end - self.pos} bytes left over", self.pos)


# --------------------------------------------------------------------------- extensions


@dataclass(slots=True)
class ServerName:
    """server_name (RFC 6066 §3): the host names the client asks for (SNI)."""

    type: int
    names: tuple[str, ...]  #: host_name entries, ASCII (latin-1 for odd bytes)


@dataclass(slots=True)
class ALPN:
    """application_layer_protocol_negotiation (RFC 7301): ``h2``, ``http/1.1``…"""

    type: int
    protocols: tuple[str, ...]


@dataclass(slots=True)
class SupportedVersions:
    """supported_versions (RFC 8446 §4.2.1): a list in a ClientHello, one in a ServerHello."""

    type: int
    versions: tuple[int, ...]


@dataclass(slots=True)
class SupportedGroups:
    """supported_groups (RFC 8446 §4.2.7; "elliptic_curves" in RFC 4492)."""

    type: int
    groups: tuple[int, ...]


@dataclass(slots=True)
class ECPointFormats:
    """ec_point_formats (RFC 8422 §5.1.2)."""

    type: int
    formats: tuple[int, ...]


@dataclass(slots=True)
class SignatureAlgorithms:
    """signature_algorithms or signature_algorithms_cert (RFC 8446 §4.2.3)."""

    type: int
    schemes: tuple[int, ...]


@dataclass(slots=True)
class KeyShareEntry:
    group: int
    key_exchange: bytes = field(repr=False)


@dataclass(slots=True)
class KeyShare:
    """key_share (RFC 8446 §4.2.8): offered shares, the chosen one, or (HRR) a group."""

    type: int
    entries: tuple[KeyShareEntry, ...]
    selected_group: int | None = None  #: HelloRetryRequest only


@dataclass(slots=True)
class PSKKeyExchangeModes:
    """psk_key_exchange_modes (RFC 8446 §4.2.9)."""

    type: int
    modes: tuple[int, ...]


@dataclass(slots=True)
class PSKIdentity:
    identity: bytes = field(repr=False)
    obfuscated_ticket_age: int = 0


@dataclass(slots=True)
class PreSharedKey:
    """pre_shared_key (RFC 8446 §4.2.11): identities and binders, or the server's pick."""

    type: int
    identities: tuple[PSKIdentity, ...]
    binders: tuple[bytes, ...]
    selected_identity: int | None = None  #: ServerHello only


@dataclass(slots=True)
class EarlyData:
    """early_data (RFC 8446 §4.2.10): empty in hellos; a size in NewSessionTicket."""

    type: int
    max_early_data_size: int | None = None


#: QUIC transport parameters (RFC 9000 §18.2, RFC 9221, RFC 9368): id → name.
TRANSPORT_PARAMETER_NAMES: dict[int, str] = {
    0x00: "original_destination_connection_id", 0x01: "max_idle_timeout",
    0x02: "stateless_reset_token", 0x03: "max_udp_payload_size", 0x04: "initial_max_data",
    0x05: "initial_max_stream_data_bidi_local", 0x06: "initial_max_stream_data_bidi_remote",
    0x07: "initial_max_stream_data_uni", 0x08: "initial_max_streams_bidi",
    0x09: "initial_max_streams_uni", 0x0A: "ack_delay_exponent", 0x0B: "max_ack_delay",
    0x0C: "disable_active_migration", 0x0D: "preferred_address",
    0x0E: "active_connection_id_limit", 0x0F: "initial_source_connection_id",
    0x10: "retry_source_connection_id", 0x11: "version_information",
    0x20: "max_datagram_frame_size", 0x2AB2: "grease_quic_bit", 0xFF04DE1B: "min_ack_delay",
}  # fmt: skip
#: Those whose value is one variable-length integer.
_INTEGER_PARAMETERS = frozenset(
    {0x01, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0A, 0x0B, 0x0E, 0x20, 0xFF04DE1B})


@dataclass(slots=True)
class TransportParameter:
    """One QUIC transport parameter: an integer, or bytes (connection ids, tokens)."""

    id: int
    name: str  #: RFC 9000's name; ``GREASE`` for a reserved id (31 * N + 27)
    value: int | bytes


def transport_parameter_name(pid: int) -> str:
    known = TRANSPORT_PARAMETER_NAMES.get(pid)
    if known is not None:
        return known
    return "GREASE" if pid % 31 == 27 else f"0x{pid:x}"


@dataclass(slots=True)
class TransportParameters:
    """quic_transport_parameters (RFC 9001 §8.2): what each QUIC endpoint allows."""

    type: int
    parameters: tuple[TransportParameter, ...]

    def get(self, name: str) -> int | bytes | None:
        for p in self.parameters:
            if p.name == name:
                return p.value
        return None


def _quic_varint(c: Cursor, name: str) -> int:
    first = c.u8(name)
    value = first & 0x3F
    for _ in range((1 << (first >> 6)) - 1):
        value = (value << 8) | c.u8(name)
    return value


@dataclass(slots=True)
class RawExtension:
    """An extension kept as bytes: encrypted_client_hello, unknown codes, the rest."""

    type: int
    data: bytes = field(repr=False)


Extension = (
    ServerName | ALPN | SupportedVersions | SupportedGroups | ECPointFormats |
    SignatureAlgorithms | KeyShare | PSKKeyExchangeModes | PreSharedKey | EarlyData |
    TransportParameters | RawExtension
)


def _latin1(raw: bytes) -> str:
    return raw.decode("latin-1")


def _server_name(c: Cursor, ext_type: int, where: int) -> Extension:
    if not c.left():  # a ServerHello/EncryptedExtensions acknowledges SNI with an empty one
        return ServerName(ext_type, ())
    inner = c.sub(2, "server_name_list")
    hosts: list[str] = []
    while inner.left():
        kind = inner.u8("name_type")
        name = inner.vector(2, "host_name")
        if kind == 0:
            hosts.append(_latin1(name))
    return ServerName(ext_type, tuple(hosts))


def _alpn(c: Cursor, ext_type: int, where: int) -> Extension:
    inner = c.sub(2, "protocol_name_list")
    protocols: list[str] = []
    while inner.left():
        protocols.append(_latin1(inner.vector(1, "protocol_name")))
    return ALPN(ext_type, tuple(protocols))


def _supported_versions(c: Cursor, ext_type: int, where: int) -> Extension:
    if where == 1:
        inner = c.sub(1, "versions")
        if inner.left() % 2:
            raise Invalid(f"{inner.what}: odd length", inner.pos)
        return SupportedVersions(ext_type, tuple(inner.u16("version")
                                                 for _ in range(inner.left() // 2)))
    return SupportedVersions(ext_type, (c.u16("selected_version"),))


def _supported_groups(c: Cursor, ext_type: int, where: int) -> Extension:
    return SupportedGroups(ext_type, c.u16_list(2, "named_group_list"))


def _ec_point_formats(c: Cursor, ext_type: int, where: int) -> Extension:
    return ECPointFormats(ext_type, tuple(c.vector(1, "ec_point_format_list")))


def _signature_algorithms(c: Cursor, ext_type: int, where: int) -> Extension:
    return SignatureAlgorithms(ext_type, c.u16_list(2, "supported_signature_algorithms"))


def _key_share(c: Cursor, ext_type: int, where: int) -> Extension:
    if where == names.HandshakeType.hello_retry_request:
        return KeyShare(ext_type, (), c.u16("selected_group"))
    if where == 2:
        group = c.u16("group")
        return KeyShare(ext_type, (KeyShareEntry(group, c.vector(2, "key_exchange")),))
    inner = c.sub(2, "client_shares")
    entries: list[KeyShareEntry] = []
    while inner.left():
        group = inner.u16("group")
        entries.append(KeyShareEntry(group, inner.vector(2, "key_exchange")))
    return KeyShare(ext_type, tuple(entries))


def _psk_modes(c: Cursor, ext_type: int, where: int) -> Extension:
    return PSKKeyExchangeModes(ext_type, tuple(c.vector(1, "ke_modes")))


def _pre_shared_key(c: Cursor, ext_type: int, where: int) -> Extension:
    if where != 1:
        return PreSharedKey(ext_type, (), (), c.u16("selected_identity"))
    ids = c.sub(2, "identities")
    identities: list[PSKIdentity] = []
    while ids.left():
        identity = ids.vector(2, "identity")
        identities.append(PSKIdentity(identity, ids.u32("obfuscated_ticket_age")))
    bs = c.sub(2, "binders")
    binders: list[bytes] = []
    while bs.left():
        binders.append(bs.vector(1, "binder"))
    return PreSharedKey(ext_type, tuple(identities), tuple(binders))


def _early_data(c: Cursor, ext_type: int, where: int) -> Extension:
    if where == names.HandshakeType.new_session_ticket:
        return EarlyData(ext_type, c.u32("max_early_data_size"))
    return EarlyData(ext_type)


def _transport_parameters(c: Cursor, ext_type: int, where: int) -> Extension:
    params: list[TransportParameter] = []
    while c.left():
        pid = _quic_varint(c, "transport parameter id")
        value = c.take(_quic_varint(c, "transport parameter length"), "transport parameter")
        if pid in _INTEGER_PARAMETERS and value:
            inner = Cursor(value, 0, len(value), f"transport parameter 0x{pid:x}")
            number = _quic_varint(inner, "value")
            inner.done()
            params.append(TransportParameter(pid, transport_parameter_name(pid), number))
        else:
            params.append(TransportParameter(pid, transport_parameter_name(pid), value))
    return TransportParameters(ext_type, tuple(params))


ExtensionParser = Callable[[Cursor, int, int], Extension]

#: Extension type → parser.  The rest are kept as :class:`RawExtension`
#: (encrypted_client_hello on purpose: its payload is encrypted).
EXTENSION_PARSERS: dict[int, ExtensionParser] = {
    0: _server_name,
    16: _alpn,
    43: _supported_versions,
    10: _supported_groups,
    11: _ec_point_formats,
    13: _signature_algorithms,
    50: _signature_algorithms,
    51: _key_share,
    45: _psk_modes,
    41: _pre_shared_key,
    42: _early_data,
    57: _transport_parameters,  # quic_transport_parameters (RFC 9001 §8.2)
}


def parse_extensions(c: Cursor, where: int) -> tuple[tuple[Extension, ...], str | None]:
    """The extension block at ``c`` (with its 2-byte length), as far as it goes.

    ``where`` is the handshake type the block belongs to (the same code
    means different things in a ClientHello and a ServerHello).  Returns the
    extensions read and, if one was damaged, why reading stopped (the
    damaged one is kept raw when its own length was sound).
    """
    if not c.left():
        return (), None  # no extension block at all (SSL 3.0 / old clients)
    try:
        block = c.sub(2, "extensions")
    except DecodeError as e:
        return (), e.reason
    out: list[Extension] = []
    while block.left():
        try:
            ext_type = block.u16("extension type")
            start = block.pos + 2
            data = block.vector(2, f"extension {names.extension_name(ext_type)}")
        except DecodeError as e:
            return tuple(out), e.reason
        parser = EXTENSION_PARSERS.get(ext_type)
        if parser is None:
            out.append(RawExtension(ext_type, data))
            continue
        inner = Cursor(c.buf, start, start + len(data),
                       f"extension {names.extension_name(ext_type)}")
        try:
            ext = parser(inner, ext_type, where)
            inner.done()
        except DecodeError as e:
            out.append(RawExtension(ext_type, data))
            return tuple(out), e.reason
        out.append(ext)
    return tuple(out), None


def find(extensions: tuple[Extension, ...], kind: type[E]) -> E | None:
    """The first extension of class ``kind``, or None."""
    for ext in extensions:
        if isinstance(ext, kind):
            return ext
    return None


# --------------------------------------------------------------------------- messages


@dataclass(slots=True)
class ClientHello:
    """The client's offer (RFC 8446 §4.1.2)."""

    kind: ClassVar[str] = "ClientHello"
    handshake_type: int
    length: int  #: body length from the handshake header
    version: int  #: legacy_version (0x0303 also for TLS 1.3: see supported_versions)
    random: bytes
    session_id: bytes
    cipher_suites: tuple[int, ...]
    compression_methods: tuple[int, ...]
    extensions: tuple[Extension, ...]
    problem: str | None = None  #: why decoding stopped early (the rest is kept)

    @property
    def server_name(self) -> str | None:
        ext = find(self.extensions, ServerName)
        return ext.names[0] if ext is not None and ext.names else None

    @property
    def alpn(self) -> tuple[str, ...]:
        ext = find(self.extensions, ALPN)
        return ext.protocols if ext is not None else ()

    @property
    def supported_versions(self) -> tuple[int, ...]:
        ext = find(self.extensions, SupportedVersions)
        return ext.versions if ext is not None else ()

    def summary(self) -> str:
        parts = ["ClientHello"]
        if self.server_name:
            parts.append(f"SNI={self.server_name}")
        if self.alpn:
            parts.append(f"ALPN={','.join(self.alpn)}")
        return " ".join(parts)


@dataclass(slots=True)
class ServerHello:
    """The server's choice (RFC 8446 §4.1.3); a HelloRetryRequest has the HRR random."""

    kind: ClassVar[str] = "ServerHello"
    handshake_type: int
    length: int
    version: int  #: legacy_version
    random: bytes
    session_id: bytes
    cipher_suite: int
    compression_method: int
    extensions: tuple[Extension, ...]
    retry_request: bool = False  #: a HelloRetryRequest (RFC 8446 §4.1.4)
    problem: str | None = None

    @property
    def negotiated_version(self) -> int:
        """supported_versions' choice when present (TLS 1.3), else legacy_version."""
        ext = find(self.extensions, SupportedVersions)
        return ext.versions[0] if ext is not None and ext.versions else self.version

    @property
    def alpn(self) -> str | None:
        ext = find(self.extensions, ALPN)
        return ext.protocols[0] if ext is not None and ext.protocols else None

    def summary(self) -> str:
        name = "HelloRetryRequest" if self.retry_request else "ServerHello"
        text = (f"{name} {names.version_name(self.negotiated_version)} "
                f"{names.cipher_suite_name(self.cipher_suite)}")
        return f"{text} ALPN={self.alpn}" if self.alpn else text


@dataclass(slots=True)
class Certificate:
    """The sender's certificate chain, leaf first (RFC 8446 §4.4.2, RFC 5246 §7.4.2)."""

    kind: ClassVar[str] = "Certificate"
    handshake_type: int
    length: int
    certificates: tuple[X509Certificate, ...]
    request_context: bytes | None = None  #: TLS 1.3 only
    problem: str | None = None

    def summary(self) -> str:
        if self.certificates and self.certificates[0].subject:
            return f"Certificate ({len(self.certificates)}) {self.certificates[0].subject}"
        return f"Certificate ({len(self.certificates)})"


@dataclass(slots=True)
class ServerKeyExchange:
    """The server's (EC)DHE share and its signature (RFC 8422 §5.4, RFC 5246 §7.4.3).

    Decoded as ECDHE over a named curve when it reads as one; otherwise
    (DHE, PSK, RSA export) only the raw body is kept in ``data``.
    """

    kind: ClassVar[str] = "ServerKeyExchange"
    handshake_type: int
    length: int
    named_group: int | None
    public_key: bytes = field(repr=False)
    signature_scheme: int | None
    signature: bytes = field(repr=False)
    data: bytes = field(repr=False)

    def summary(self) -> str:
        if self.named_group is not None:
            return f"ServerKeyExchange {names.group_name(self.named_group)}"
        return "ServerKeyExchange"


@dataclass(slots=True)
class CertificateRequest:
    """The server asks for a client certificate (RFC 5246 §7.4.4, RFC 8446 §4.3.2)."""

    kind: ClassVar[str] = "CertificateRequest"
    handshake_type: int
    length: int
    certificate_types: tuple[int, ...]
    signature_algorithms: tuple[int, ...]
    authorities: tuple[bytes, ...]  #: DER distinguished names (TLS 1.2)
    request_context: bytes | None = None  #: TLS 1.3
    extensions: tuple[Extension, ...] = ()  #: TLS 1.3

    def summary(self) -> str:
        return "CertificateRequest"


@dataclass(slots=True)
class ServerHelloDone:
    kind: ClassVar[str] = "ServerHelloDone"
    handshake_type: int
    length: int

    def summary(self) -> str:
        return "ServerHelloDone"


@dataclass(slots=True)
class ClientKeyExchange:
    """The client's share: an ECDHE/DHE public value or an RSA-encrypted premaster secret."""

    kind: ClassVar[str] = "ClientKeyExchange"
    handshake_type: int
    length: int
    exchange_keys: bytes = field(repr=False)  #: the body, length prefix included

    def summary(self) -> str:
        return "ClientKeyExchange"


@dataclass(slots=True)
class Finished:
    kind: ClassVar[str] = "Finished"
    handshake_type: int
    length: int
    verify_data: bytes = field(repr=False)

    def summary(self) -> str:
        return "Finished"


@dataclass(slots=True)
class NewSessionTicket:
    """A ticket for resumption (RFC 5077 §3.3; RFC 8446 §4.6.1 adds age_add, nonce, extensions)."""

    kind: ClassVar[str] = "NewSessionTicket"
    handshake_type: int
    length: int
    lifetime: int  #: seconds
    ticket: bytes = field(repr=False)
    age_add: int | None = None  #: TLS 1.3
    nonce: bytes | None = None  #: TLS 1.3
    extensions: tuple[Extension, ...] = ()

    def summary(self) -> str:
        return "NewSessionTicket"


@dataclass(slots=True)
class EncryptedExtensions:
    """TLS 1.3's first encrypted server message: the extensions not needed for keys."""

    kind: ClassVar[str] = "EncryptedExtensions"
    handshake_type: int
    length: int
    extensions: tuple[Extension, ...]

    def summary(self) -> str:
        ext = find(self.extensions, ALPN)
        if ext is not None and ext.protocols:
            return f"EncryptedExtensions ALPN={ext.protocols[0]}"
        return "EncryptedExtensions"


@dataclass(slots=True)
class CertificateVerify:
    kind: ClassVar[str] = "CertificateVerify"
    handshake_type: int
    length: int
    signature_scheme: int
    signature: bytes = field(repr=False)

    def summary(self) -> str:
        return f"CertificateVerify {names.signature_scheme_name(self.signature_scheme)}"


@dataclass(slots=True)
class KeyUpdate:
    """TLS 1.3 key update (RFC 8446 §4.6.3): the sender's keys change after this."""

    kind: ClassVar[str] = "KeyUpdate"
    handshake_type: int
    length: int
    request_update: int  #: 0 update_not_requested, 1 update_requested

    def summary(self) -> str:
        return "KeyUpdate" + (" (update requested)" if self.request_update else "")


@dataclass(slots=True)
class OtherHandshake:
    """A message kept as bytes: a type without a decoder here, or a body that did not parse."""

    kind: ClassVar[str] = "Handshake"
    handshake_type: int
    length: int
    data: bytes = field(repr=False)
    problem: str | None = None

    def summary(self) -> str:
        return names.message_name(self.handshake_type)


HandshakeMessage = (
    ClientHello | ServerHello | Certificate | ServerKeyExchange | CertificateRequest |
    ServerHelloDone | ClientKeyExchange | Finished | NewSessionTicket | EncryptedExtensions |
    CertificateVerify | KeyUpdate | OtherHandshake
)


def _client_hello(c: Cursor, length: int) -> ClientHello:
    version = c.u16("legacy_version")
    random = c.take(32, "random")
    session_id = c.vector(1, "session_id")
    suites = c.u16_list(2, "cipher_suites")
    compression = tuple(c.vector(1, "compression_methods"))
    extensions, problem = parse_extensions(c, 1)
    if problem is None and c.left():
        problem = f"{c.left()} bytes after the extensions"
    return ClientHello(1, length, version, random, session_id, suites, compression, extensions,
                       problem)


def _server_hello(c: Cursor, length: int) -> ServerHello:
    version = c.u16("legacy_version")
    random = c.take(32, "random")
    session_id = c.vector(1, "session_id")
    suite = c.u16("cipher_suite")
    compression = c.u8("compression_method")
    hrr = random == HRR_RANDOM
    where = names.HandshakeType.hello_retry_request if hrr else 2
    extensions, problem = parse_extensions(c, where)
    if problem is None and c.left():
        problem = f"{c.left()} bytes after the extensions"
    return ServerHello(2, length, version, random, session_id, suite, compression, extensions,
                       hrr, problem)


def _certificate(c: Cursor, length: int, tls13: bool) -> Certificate:
    context = c.vector(1, "certificate_request_context") if tls13 else None
    chain = c.sub(3, "certificate_list")
    certs: list[X509Certificate] = []
    problem: str | None = None
    try:
        while chain.left():
            der = chain.vector(3, "cert_data")
            certs.append(parse_certificate(der))
            if tls13:
                chain.vector(2, "extensions")
    except DecodeError as e:
        problem = e.reason
    return Certificate(11, length, tuple(certs), context, problem)


def _server_key_exchange(c: Cursor, length: int, tls13: bool) -> ServerKeyExchange:
    start = c.pos
    data = c.buf[start : c.end]
    try:
        if c.u8("curve_type") != 3:  # named_curve
            raise Invalid("not a named curve")
        group = c.u16("named_curve")
        public = c.vector(1, "public")
        scheme: int | None = None
        if c.left() >= 4:
            # TLS 1.2 puts the SignatureAndHashAlgorithm first; TLS 1.0/1.1 do
            # not: if the two bytes then a length add up exactly, it is 1.2.
            maybe = int.from_bytes(c.buf[c.pos + 2 : c.pos + 4], "big")
            if maybe == c.left() - 4:
                scheme = c.u16("signature_algorithm")
        signature = c.vector(2, "signature") if c.left() else b""
        c.done()
        return ServerKeyExchange(12, length, group, public, scheme, signature, data)
    except DecodeError:
        return ServerKeyExchange(12, length, None, b"", None, b"", data)


def _certificate_request(c: Cursor, length: int, tls13: bool) -> CertificateRequest:
    if tls13:
        context = c.vector(1, "certificate_request_context")
        extensions, problem = parse_extensions(c, 13)
        if problem is not None:
            raise Invalid(problem)
        sig = find(extensions, SignatureAlgorithms)
        return CertificateRequest(13, length, (), sig.schemes if sig else (), (), context,
                                  extensions)
    types = tuple(c.vector(1, "certificate_types"))
    schemes = c.u16_list(2, "supported_signature_algorithms") if c.left() > 2 else ()
    cas = c.sub(2, "certificate_authorities")
    authorities: list[bytes] = []
    while cas.left():
        authorities.append(cas.vector(2, "distinguished_name"))
    return CertificateRequest(13, length, types, schemes, tuple(authorities))


def _new_session_ticket(c: Cursor, length: int, tls13: bool) -> NewSessionTicket:
    lifetime = c.u32("ticket_lifetime")
    if not tls13:
        return NewSessionTicket(4, length, lifetime, c.vector(2, "ticket"))
    age_add = c.u32("ticket_age_add")
    nonce = c.vector(1, "ticket_nonce")
    ticket = c.vector(2, "ticket")
    extensions, problem = parse_extensions(c, 4)
    if problem is not None:
        raise Invalid(problem)
    return NewSessionTicket(4, length, lifetime, ticket, age_add, nonce, extensions)


def _encrypted_extensions(c: Cursor, length: int) -> EncryptedExtensions:
    extensions, problem = parse_extensions(c, 8)
    if problem is not None:
        raise Invalid(problem)
    return EncryptedExtensions(8, length, extensions)


def parse_message(buf: bytes, start: int, end: int, *, tls13: bool = False) -> HandshakeMessage:
    """One whole handshake message ``buf[start:end]`` (4-byte header included).

    Never raises for damaged input: a body that does not parse comes back
    as an :class:`OtherHandshake` with ``problem`` set and the bytes kept.
    """
    msg_type = buf[start]
    length = int.from_bytes(buf[start + 1 : start + 4], "big")
    body = start + 4
    c = Cursor(buf, body, end, names.message_name(msg_type))
    try:
        if msg_type == 1:
            return _client_hello(c, length)
        if msg_type == 2:
            return _server_hello(c, length)
        if msg_type == 11:
            return _certificate(c, length, tls13)
        if msg_type == 12:
            return _server_key_exchange(c, length, tls13)
        if msg_type == 13:
            return _certificate_request(c, length, tls13)
        if msg_type == 14:
            c.done()
            return ServerHelloDone(14, length)
        if msg_type == 16:
            return ClientKeyExchange(16, length, buf[body:end])
        if msg_type == 20:
            return Finished(20, length, buf[body:end])
        if msg_type == 4:
            msg: HandshakeMessage = _new_session_ticket(c, length, tls13)
            return msg
        if msg_type == 8:
            return _encrypted_extensions(c, length)
        if msg_type == 15:
            scheme = c.u16("algorithm")
            sig = c.vector(2, "signature")
            c.done()
            return CertificateVerify(15, length, scheme, sig)
        if msg_type == 24:
            request = c.u8("request_update")
            c.done()
            return KeyUpdate(24, length, request)
    except DecodeError as e:
        return OtherHandshake(msg_type, length, buf[body:end], e.reason)
    return OtherHandshake(msg_type, length, buf[body:end])

