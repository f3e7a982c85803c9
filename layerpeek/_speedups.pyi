"""Type stubs for the optional compiled module (layerpeek/_speedups.c)."""

from typing_extensions import Buffer

def pcap_walk(
    buffer: Buffer, start: int, big_endian: bool, max_caplen: int, /
) -> tuple[bytearray, bytearray, int]: ...
def pcapng_walk(
    buffer: Buffer, start: int, big_endian: bool, max_block: int, /
) -> tuple[bytearray, bytearray, int]: ...
def copy_windows(buffer: Buffer, bases: object, width: int, /) -> bytes: ...  # bases: int64 buffer
