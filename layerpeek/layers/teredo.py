"""Teredo (RFC 4380): IPv6 in UDP, port 3544, with its optional indicators.

Before the IPv6 packet a Teredo datagram may carry an authentication
indicator (``00 01``, lengths of a client id and an authentication value,
both then present, an 8-byte nonce and a confirmation byte) and an origin
indication (``00 00``, the origin's port and IPv4 address, both obfuscated
by XOR with all ones: kept here in clear).  An IPv6 header begins with the
nibble 6, which neither indicator can, so the three are told apart by their
first bytes.  A bubble is an IPv6 header with no payload.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import ClassVar

from layerpeek.dissect import Decoded, Dissector
from layerpeek.errors import Invalid
from layerpeek.packet import Layer
from layerpeek.wire import ipv4_str, need

_ORIGIN = struct.Struct("!H4s")

#: Teredo's port.
PORT = 3544


@dataclass(slots=True)
class Teredo(Layer):
    """Teredo's indicators (each None when absent)."""

    name: ClassVar[str] = "teredo"
    short: ClassVar[str] = "teredo"
    json_formats: ClassVar[dict[str, str]] = {"origin_address": "ipv4"}
    client_id: bytes | None  #: authentication indicator
    auth_value: bytes | None
    nonce: bytes | None
    confirmation: int | None
    origin_port: int | None  #: origin indication, de-obfuscated
    origin_address: bytes | None

    def summary(self) -> str:
        if self.origin_address is not None:
            return f"origin {ipv4_str(self.origin_address)}:{self.origin_port}"
        return "auth" if self.nonce is not None else ""


def decode(buf: bytes, start: int, end: int) -> Decoded:
    at = start
    client_id = auth_value = nonce = confirmation = origin_port = origin_address = None
    need(at, end, 2, "teredo")
    if buf[at] == 0 and buf[at + 1] == 1:
        need(at, end, 4, "teredo.auth")
        id_len, auth_len = buf[at + 2], buf[at + 3]
        size = 4 + id_len + auth_len + 9
        need(at, end, size, "teredo.auth")
        client_id = buf[at + 4 : at + 4 + id_len]
        auth_value = buf[at + 4 + id_len : at + 4 + id_len + auth_len]
        nonce = buf[at + size - 9 : at + size - 1]
        confirmation = buf[at + size - 1]
        at += size
    need(at, end, 1, "teredo")
    if end - at >= 2 and buf[at] == 0 and buf[at + 1] == 0:
        need(at, end, 8, "teredo.origin")
        port, address = _ORIGIN.unpack_from(buf, at + 2)
        origin_port = port ^ 0xFFFF
        origin_address = bytes(b ^ 0xFF for b in address)
        at += 8
    need(at, end, 1, "teredo")
    if buf[at] >> 4 != 6:
        raise Invalid(f"teredo: not IPv6 (first byte {buf[at]:#04x})", at)
    layer = Teredo(client_id, auth_value, nonce, confirmation, origin_port, origin_address)
    return layer, ("ethertype", 0x86DD, at, end)


DISSECTOR = Dissector("teredo", decode, tunnel=True)
