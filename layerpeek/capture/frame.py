"""The record every capture reader yields, before any decoding."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(slots=True)
class RawFrame:
    """One captured record: bytes plus the facts the file format gives about them."""

    ts_ns: int  #: capture time, integer nanoseconds since the Unix epoch
    wire_len: int  #: original length on the wire (may exceed ``len(data)``: snaplen)
    data: bytes = field(repr=False)
    linktype: int  #: LINKTYPE_* of the interface the frame was captured on
    interface: int = 0  #: interface id (pcapng IDB index within the file; 0 for pcap)
    interface_name: str | None = None  #: pcapng ``if_name``, when the file gives one
