"""Raw IP link types: the frame *is* the IP packet, with no link header.

=====  ===============================================================
  101  LINKTYPE_RAW (the portable value)
   12  DLT_RAW as written by OpenBSD and some older libpcaps
   14  DLT_RAW on BSD/OS
  228  LINKTYPE_IPV4: IPv4 only
  229  LINKTYPE_IPV6: IPv6 only
=====  ===============================================================

There is no layer of its own: :func:`decode` peeks at the version nibble and
calls :func:`layerpeek.layers.ipv4.decode` or :func:`layerpeek.layers.ipv6.decode`
directly, so the chain starts with ``ipv4``/``ipv6`` as it does after Ethernet.

A decoder is not told which link type selected it, so :data:`DISSECTOR`
accepts either version for all five codes.  For 228 and 229 the IP decoders
themselves are the strict choice (a wrong version is then reported as
invalid, as Wireshark does): :func:`dissector_for` gives the dissector each
link type should be wired to.
"""

from __future__ import annotations

from layerpeek.dissect import Decoded, Dissector
from layerpeek.errors import Invalid, Short
from layerpeek.layers import ipv4, ipv6

#: The link types whose frames start with an IP header.
LINKTYPES = (101, 12, 14, 228, 229)


def decode(buf: bytes, start: int, end: int) -> Decoded:
    if start >= end:
        raise Short("raw ip: need 1 byte, have 0", start)
    version = buf[start] >> 4
    if version == 4:
        return ipv4.decode(buf, start, end)
    if version == 6:
        return ipv6.decode(buf, start, end)
    raise Invalid(f"raw ip: version {version} is neither 4 nor 6", start)


#: Either IP version, chosen by the version nibble.
DISSECTOR = Dissector("ip", decode)

#: Link types that allow only one IP version.
_ONLY = {228: ipv4.DISSECTOR, 229: ipv6.DISSECTOR}


def dissector_for(linktype: int) -> Dissector:
    """The dissector for one of :data:`LINKTYPES`: strict for 228/229, else by nibble."""
    return _ONLY.get(linktype, DISSECTOR)
