"""Names of pcap link types, for messages about link types layerpeek does not decode.

The numbers are the LINKTYPE_ values of the tcpdump.org link-layer header
types list (the registry pcap and pcapng files use); the names are what a
reader would search for.  Only the names live here: which link types are
*decoded* is the registry's business (:mod:`layerpeek.registry`).
"""

from __future__ import annotations

__all__ = ["NAMES", "describe"]

#: LINKTYPE_ number → a human name.
NAMES: dict[int, str] = {
    0: "BSD loopback",
    1: "Ethernet",
    3: "AX.25",
    6: "IEEE 802.5 Token Ring",
    7: "ARCNET",
    8: "SLIP",
    9: "PPP",
    10: "FDDI",
    12: "raw IP",
    14: "raw IP",
    50: "PPP in HDLC framing",
    51: "PPPoE",
    100: "ATM RFC 1483",
    101: "raw IP",
    104: "Cisco HDLC",
    105: "IEEE 802.11",
    107: "Frame Relay",
    108: "OpenBSD loopback",
    113: "Linux cooked capture (SLL)",
    114: "LocalTalk",
    117: "OpenBSD pflog",
    119: "IEEE 802.11 with Prism header",
    122: "IP over Fibre Channel",
    123: "SunATM",
    127: "IEEE 802.11 with radiotap header",
    129: "ARCNET (Linux)",
    138: "IP over IEEE 1394",
    139: "MTP2 with pseudo-header",
    140: "MTP2",
    141: "MTP3",
    142: "SCCP",
    143: "DOCSIS",
    144: "Linux IrDA",
    163: "IEEE 802.11 with AVS header",
    165: "BACnet MS/TP",
    166: "PPP (pppd)",
    169: "GPRS LLC",
    177: "Linux LAPD",
    187: "Bluetooth HCI H4",
    189: "Linux USB",
    192: "PPI",
    195: "IEEE 802.15.4 with FCS",
    197: "Endace ERF",
    201: "Bluetooth HCI H4 with pseudo-header",
    203: "LAPD",
    204: "PPP with direction",
    205: "Cisco HDLC with direction",
    220: "Linux USB (memory-mapped)",
    227: "SocketCAN",
    228: "raw IPv4",
    229: "raw IPv6",
    230: "IEEE 802.15.4 without FCS",
    231: "D-Bus",
    239: "Linux netfilter log (NFLOG)",
    240: "netANALYZER",
    247: "InfiniBand",
    248: "SCTP",
    249: "USBPcap",
    251: "Bluetooth LE link layer",
    253: "Linux netlink",
    254: "Bluetooth Linux monitor",
    256: "Bluetooth BR/EDR baseband",
    257: "Bluetooth LE link layer with pseudo-header",
    258: "Apple PKTAP",
    259: "Ethernet Passive Optical Network",
    264: "ISO 14443 (NFC)",
    272: "Nordic BLE sniffer",
    276: "Linux cooked capture v2 (SLL2)",
    283: "IEEE 802.15.4 TAP",
}

for _user in range(147, 163):  # LINKTYPE_USER0 … USER15: private use
    NAMES[_user] = f"private use (USER{_user - 147})"


def describe(linktype: int) -> str:
    """``"link type 105 (IEEE 802.11)"``; a number without a known name stays a number."""
    name = NAMES.get(linktype)
    return f"link type {linktype} ({name})" if name else f"link type {linktype}"
