"""One TLS connection, sans-IO: stream bytes in, handshake, alerts and plaintext out.

Theory of operation
===================

:class:`TLSConnection` is fed each direction's reassembled TCP stream
(``feed(direction, data, frames, ts_ns)``, in order, as the TCP tracker
delivers it) and returns :mod:`layerpeek.tls.events`.  Per direction it keeps

* a :class:`~layerpeek.tls.records.RecordBuffer` that cuts the stream into
  whole records, and a :class:`~layerpeek.tls.records.HandshakeBuffer` that
  joins handshake messages split across records;
* whether that direction's records are now encrypted, and the
  :class:`~layerpeek.tls.decrypt.RecordKeys` that open them (None when the
  keys are not known: then sizes are still told, content is not);
* the keys it will switch to next, and its plaintext offset.

When each direction starts encrypting, and with which secret:

============  =======================================  ===========================
version       starts encrypting                        switches keys
============  =======================================  ===========================
TLS 1.2       after its own ChangeCipherSpec           never (one epoch)
              (keys: key block from CLIENT_RANDOM)
TLS 1.3       right after the ServerHello, both ways   after its own Finished:
              (keys: *_HANDSHAKE_TRAFFIC_SECRET)       *_TRAFFIC_SECRET_0; after
              (a ChangeCipherSpec is only a no-op)     each KeyUpdate: the next
============  =======================================  ===========================

The client is whoever sent the ClientHello (a connection picked up
mid-stream may have its TCP roles guessed the wrong way round).  Nothing
raises: secrets missing from the key log, a record that fails
authentication, a gap in the stream or a capture that ends inside a record
each become one :class:`~layerpeek.tls.events.TLSProblem`, and that
direction goes on telling record sizes only.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from layerpeek.tls import handshake, keylog
from layerpeek.tls.certificates import X509Certificate
from layerpeek.tls.decrypt import (
    TLS12_SUITES,
    TLS13_SUITES,
    CryptoMissing,
    DecryptFailed,
    RecordKeys,
    tls12_keys,
    unsupported,
)
from layerpeek.tls.events import (
    DecryptedData,
    Frames,
    TLSAlert,
    TLSApplicationData,
    TLSChangeCipherSpec,
    TLSEvent,
    TLSHandshake,
    TLSProblem,
)
from layerpeek.tls.handshake import (
    ClientHello,
    Finished,
    HandshakeMessage,
    KeyUpdate,
    ServerHello,
)
from layerpeek.tls.keylog import KeyLog
from layerpeek.tls.names import version_name
from layerpeek.tls.records import (
    EncryptedHandshake,
    HandshakeBuffer,
    RawRecord,
    RecordBuffer,
    parse_alert,
)

#: What :attr:`TLSConnection.decryption` says, in plain words.
NOT_ATTEMPTED = "no key log given"


@dataclass(slots=True, eq=False)
class _Direction:
    records: RecordBuffer = field(default_factory=RecordBuffer)
    handshake: HandshakeBuffer = field(default_factory=HandshakeBuffer)
    encrypted: bool = False
    keys: RecordKeys | None = None
    next_keys: RecordKeys | None = None
    offset: int = 0  #: plaintext application-data bytes delivered so far
    stopped: str | None = None  #: why this direction is no longer read


class TLSConnection:
    """The TLS state of one TCP conversation; see the module docstring."""

    def __init__(self, conversation: int, keys: KeyLog | None = None) -> None:
        self.conversation = conversation
        self.keylog = keys
        self._dirs = {"client": _Direction(), "server": _Direction()}
        self.client_side = "client"  #: the direction that sent the ClientHello
        self.client_hello: ClientHello | None = None
        self.server_hello: ServerHello | None = None
        self.retry_requested = False  #: a HelloRetryRequest was seen
        self.certificates: tuple[X509Certificate, ...] = ()
        self.tls13 = False
        #: plain words: "decrypted", "no key log given", "keys missing from the key log", …
        self.decryption = NOT_ATTEMPTED if keys is None else "waiting for the handshake"
        self.problems: list[TLSProblem] = []
        self.handshake_done: dict[str, bool] = {"client": False, "server": False}
        self.alerts: list[TLSAlert] = []
        self.bytes_sent = {"client": 0, "server": 0}  #: application data, ciphertext bytes
        self.plaintext_sent = {"client": 0, "server": 0}

    # -- facts for summaries ----------------------------------------------------

    @property
    def version(self) -> int | None:
        return None if self.server_hello is None else self.server_hello.negotiated_version

    @property
    def cipher_suite(self) -> int | None:
        return None if self.server_hello is None else self.server_hello.cipher_suite

    @property
    def server_name(self) -> str | None:
        return None if self.client_hello is None else self.client_hello.server_name

    @property
    def alpn(self) -> str | None:
        """The negotiated application protocol (from ServerHello or EncryptedExtensions)."""
        return self._alpn

    _alpn: str | None = None

    @property
    def resumed(self) -> bool:
        """An abbreviated handshake: TLS 1.2 session id echoed, or TLS 1.3 PSK accepted."""
        ch, sh = self.client_hello, self.server_hello
        if ch is None or sh is None:
            return False
        if self.tls13:
            return handshake.find(sh.extensions, handshake.PreSharedKey) is not None
        return bool(sh.session_id) and sh.session_id == ch.session_id

    # -- input ------------------------------------------------------------------

    def _role(self, direction: str) -> str:
        """'client' or 'server' as TLS sees it (who sent the ClientHello)."""
        if self.client_side == "client":
            return direction
        return "server" if direction == "client" else "client"

    def _problem(self, direction: str | None, kind: str, reason: str, frames: Frames = (),
                 ts_ns: int = 0) -> TLSProblem:
        p = TLSProblem(self.conversation, direction, kind, reason, frames, ts_ns)
        self.problems.append(p)
        return p

    def feed(self, direction: str, data: bytes, frames: Frames = (), ts_ns: int = 0
             ) -> list[TLSEvent]:
        """Bytes of ``direction``'s stream, in order; the events they complete."""
        d = self._dirs[direction]
        if d.stopped is not None:
            return []
        out: list[TLSEvent] = []
        for record in d.records.feed(data, frames, ts_ns):
            self._record(direction, d, record, out)
            if d.stopped is not None:
                return out
        if d.records.bad is not None:
            d.stopped = d.records.bad
            out.append(self._problem(direction, "not-tls", d.records.bad, frames, ts_ns))
        return out

    def gap(self, direction: str, length: int, reason: str = "", ts_ns: int = 0
            ) -> list[TLSEvent]:
        """``length`` bytes of ``direction`` were never captured: records can no longer be cut."""
        d = self._dirs[direction]
        if d.stopped is not None:
            return []
        d.stopped = "stream gap"
        why = f" ({reason})" if reason else ""
        return [self._problem(direction, "gap",
                              f"{length} bytes of the {direction}'s stream were not captured"
                              f"{why}: its later records are not read", (), ts_ns)]

    def close(self) -> list[TLSEvent]:
        """The connection ended: say so if a record was cut by the end of the capture."""
        out: list[TLSEvent] = []
        for direction, d in self._dirs.items():
            if d.stopped is None and d.records.buffered:
                out.append(self._problem(
                    direction, "truncated",
                    f"the {direction}'s stream ends inside a TLS record "
                    f"({d.records.buffered} bytes of it captured)"))
            if d.stopped is None and d.handshake.pending:
                out.append(self._problem(
                    direction, "truncated",
                    f"the {direction}'s stream ends inside a handshake message"))
        return out

    # -- records ------------------------------------------------------------------

    def _record(self, direction: str, d: _Direction, rec: RawRecord,
                out: list[TLSEvent]) -> None:
        ctype = rec.content_type
        if ctype == 20:
            out.append(TLSChangeCipherSpec(self.conversation, direction, rec.frames, rec.ts_ns))
            # TLS 1.2 switches here; a ChangeCipherSpec before any ServerHello is
            # TLS 1.3's middlebox-compatibility one (after a HelloRetryRequest)
            if not self.tls13 and self.server_hello is not None and not d.encrypted:
                d.encrypted = True
                d.keys, d.next_keys = d.next_keys, None
            return
        plain = rec.fragment
        decrypted = False
        # TLS 1.3 protected records always say application_data (RFC 8446 §5.2): an
        # alert or handshake record after the ServerHello is in the clear (a client
        # rejecting the certificate may alert before it has switched keys).
        if d.encrypted and (ctype == 23 or not self.tls13):
            if d.keys is None:
                self._opaque(direction, rec, out)
                return
            try:
                ctype, plain = d.keys.open(ctype, rec.version, rec.fragment)
            except DecryptFailed as e:
                if self._early_data(direction, d):
                    out.append(TLSApplicationData(self.conversation, direction,
                                                  len(rec.fragment), False, rec.frames,
                                                  rec.ts_ns))
                    return
                d.keys = None
                self.decryption = "failed: a record did not authenticate"
                out.append(self._problem(
                    direction, "auth-failed",
                    f"the {direction}'s record at stream offset {rec.offset} did not decrypt "
                    f"({e}): the key log's secrets do not belong to this session, or are "
                    f"incomplete", rec.frames, rec.ts_ns))
                self._opaque(direction, rec, out)
                return
            decrypted = True
        elif ctype == 23 and direction == self._client_dir() and self.server_hello is None:
            # TLS 1.3 0-RTT data before the ServerHello: encrypted with the early
            # secret, which layerpeek does not use.
            out.append(TLSApplicationData(self.conversation, direction, len(rec.fragment),
                                          False, rec.frames, rec.ts_ns))
            return
        if ctype == 22:
            for raw, frames in d.handshake.feed(plain, rec.frames):
                msg = handshake.parse_message(raw, 0, len(raw), tls13=self.tls13)
                out.append(TLSHandshake(self.conversation, direction, msg, decrypted, frames,
                                        rec.ts_ns))
                bad = getattr(msg, "problem", None)
                if bad is not None and not isinstance(msg, handshake.Certificate):
                    out.append(self._problem(direction, "malformed",
                                             f"{msg.kind}: {bad}", frames, rec.ts_ns))
                self._message(direction, d, msg, out, rec)
        elif ctype == 21:
            alert = TLSAlert(self.conversation, direction, parse_alert(plain), decrypted,
                             rec.frames, rec.ts_ns)
            self.alerts.append(alert)
            out.append(alert)
        elif ctype == 23:
            self.bytes_sent[direction] += len(rec.fragment)
            out.append(TLSApplicationData(self.conversation, direction, len(rec.fragment),
                                          decrypted, rec.frames, rec.ts_ns))
            if decrypted and plain:
                self.plaintext_sent[direction] += len(plain)
                out.append(DecryptedData(self.conversation, direction, d.offset, plain,
                                         rec.frames, rec.ts_ns))
                d.offset += len(plain)

    def _client_dir(self) -> str:
        return self.client_side

    def _early_data(self, direction: str, d: _Direction) -> bool:
        """TLS 1.3: a client record that fails under the handshake keys while early
        data was offered is 0-RTT data the server did not accept (RFC 8446 §4.2.10)."""
        ch = self.client_hello
        return (self.tls13 and direction == self._client_dir()
                and not self.handshake_done[self._role(direction)]
                and ch is not None and handshake.find(ch.extensions, handshake.EarlyData)
                is not None)

    def _opaque(self, direction: str, rec: RawRecord, out: list[TLSEvent]) -> None:
        """An encrypted record whose keys are not known: tell its kind and size."""
        if rec.content_type == 23:
            self.bytes_sent[direction] += len(rec.fragment)
            out.append(TLSApplicationData(self.conversation, direction, len(rec.fragment),
                                          False, rec.frames, rec.ts_ns))
        elif rec.content_type == 21:
            alert = TLSAlert(self.conversation, direction, parse_alert(rec.fragment), False,
                             rec.frames, rec.ts_ns)
            self.alerts.append(alert)
            out.append(alert)
        elif rec.content_type == 22:
            out.append(TLSHandshake(self.conversation, direction,
                                    EncryptedHandshake(len(rec.fragment)), False,
                                    rec.frames, rec.ts_ns))

    # -- handshake messages -------------------------------------------------------------

    def _message(self, direction: str, d: _Direction, msg: HandshakeMessage,
                 out: list[TLSEvent], rec: RawRecord) -> None:
        if isinstance(msg, ClientHello):
            if self.client_hello is None:
                self.client_hello = msg
                self.client_side = direction
        elif isinstance(msg, ServerHello):
            if msg.retry_request:
                self.retry_requested = True
                return
            if self.server_hello is None:
                self.server_hello = msg
                self._alpn = msg.alpn
                self._server_hello(out, rec)
        elif isinstance(msg, handshake.EncryptedExtensions):
            ext = handshake.find(msg.extensions, handshake.ALPN)
            if ext is not None and ext.protocols:
                self._alpn = ext.protocols[0]
        elif isinstance(msg, handshake.Certificate):
            if self._role(direction) == "server" and not self.certificates:
                self.certificates = msg.certificates
        elif isinstance(msg, Finished):
            role = self._role(direction)
            self.handshake_done[role] = True
            if self.tls13:
                d.keys, d.next_keys = d.next_keys, None
                if d.keys is None and self.decryption == "decrypted":
                    out.append(self._problem(
                        direction, "no-keys",
                        f"the key log has the handshake secrets but not the {role}'s "
                        f"application traffic secret ({role.upper()}_TRAFFIC_SECRET_0)",
                        rec.frames, rec.ts_ns))
        elif isinstance(msg, KeyUpdate) and self.tls13 and d.keys is not None:
            d.keys = d.keys.updated()

    def _server_hello(self, out: list[TLSEvent], rec: RawRecord) -> None:
        sh = self.server_hello
        ch = self.client_hello
        assert sh is not None
        version = sh.negotiated_version
        self.tls13 = version == 0x0304
        client = self._dirs[self.client_side]
        server = self._dirs["server" if self.client_side == "client" else "client"]
        if self.tls13:
            client.encrypted = server.encrypted = True
        if self.keylog is None:
            return
        if ch is None:
            self.decryption = "not decrypted: the ClientHello was not captured"
            out.append(self._problem(None, "no-keys", self.decryption, rec.frames, rec.ts_ns))
            return
        random = ch.random
        try:
            if self.tls13:
                self._tls13_keys(client, server, random, out, rec)
            elif version in (0x0303,):
                self._tls12_keys(client, server, random, out, rec)
            else:
                self.decryption = f"not decrypted: {version_name(version)} is not supported"
                out.append(self._problem(None, "unsupported", self.decryption, rec.frames,
                                         rec.ts_ns))
        except CryptoMissing:
            self.decryption = ("not decrypted: install layerpeek[tls] (the cryptography "
                               "package) to decrypt")
            out.append(self._problem(None, "unsupported", self.decryption, rec.frames,
                                     rec.ts_ns))

    def _missing(self, random: bytes, what: str, out: list[TLSEvent], rec: RawRecord) -> None:
        self.decryption = "keys missing from the key log"
        out.append(self._problem(
            None, "no-keys",
            f"no {what} for this session (client random {random.hex()[:16]}…) in the key log: "
            f"its content stays encrypted", rec.frames, rec.ts_ns))

    def _tls13_keys(self, client: _Direction, server: _Direction, random: bytes,
                    out: list[TLSEvent], rec: RawRecord) -> None:
        sh = self.server_hello
        assert sh is not None and self.keylog is not None
        suite = TLS13_SUITES.get(sh.cipher_suite)
        if suite is None:
            self.decryption = f"not decrypted: {unsupported(sh.cipher_suite, True)}"
            out.append(self._problem(None, "unsupported", self.decryption, rec.frames,
                                     rec.ts_ns))
            return
        log = self.keylog
        chs = log.get(keylog.CLIENT_HANDSHAKE, random)
        shs = log.get(keylog.SERVER_HANDSHAKE, random)
        if chs is None or shs is None:
            self._missing(random, "TLS 1.3 handshake traffic secrets", out, rec)
            return
        client.keys = RecordKeys.tls13_from_secret(suite, chs)
        server.keys = RecordKeys.tls13_from_secret(suite, shs)
        cts = log.get(keylog.CLIENT_TRAFFIC_0, random)
        sts = log.get(keylog.SERVER_TRAFFIC_0, random)
        client.next_keys = None if cts is None else RecordKeys.tls13_from_secret(suite, cts)
        server.next_keys = None if sts is None else RecordKeys.tls13_from_secret(suite, sts)
        self.decryption = "decrypted"

    def _tls12_keys(self, client: _Direction, server: _Direction, random: bytes,
                    out: list[TLSEvent], rec: RawRecord) -> None:
        sh, ch = self.server_hello, self.client_hello
        assert sh is not None and ch is not None and self.keylog is not None
        suite = TLS12_SUITES.get(sh.cipher_suite)
        if suite is None:
            self.decryption = f"not decrypted: {unsupported(sh.cipher_suite, False)}"
            out.append(self._problem(None, "unsupported", self.decryption, rec.frames,
                                     rec.ts_ns))
            return
        master = self.keylog.get(keylog.TLS12, random)
        if master is None:
            self._missing(random, "CLIENT_RANDOM master secret", out, rec)
            return
        etm = suite.cipher == "aes-cbc" and all(
            any(e.type == 22 for e in hello.extensions) for hello in (ch, sh))
        client.next_keys, server.next_keys = tls12_keys(suite, master, random, sh.random, etm)
        self.decryption = "decrypted"

