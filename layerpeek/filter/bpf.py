"""Capture filters (tcpdump syntax) applied to frames read from a file.

``layerpeek dump x.pcap 'tcp port 80'`` must select exactly what
``tcpdump -r x.pcap 'tcp port 80'`` does.  The only way to be exact is to use
tcpdump's own compiler, so the expression is compiled by libpcap
(:func:`layerpeek.capture.live.compile_filter`, the same call live capture
uses) into a classic BPF program, and the program is run here, on each
frame's captured bytes, by :func:`run`: a small interpreter of the classic
BPF instruction set as libpcap's ``bpf_filter()`` defines it (loads past the
captured bytes and division by zero reject the packet; ``len`` is the
length on the wire).

A program is compiled once per link type met in the capture (a pcapng file
may mix interfaces), with libpcap's DLT number for it.
"""

from __future__ import annotations

import sys
from collections.abc import Callable

from layerpeek.filter.errors import FilterError
from layerpeek.layers.null import Null
from layerpeek.packet import Packet

Instruction = tuple[int, int, int, int]  #: (code, jt, jf, k), as ``struct bpf_insn``

#: pcap LINKTYPE_* values whose libpcap DLT_* number differs (on Linux).
_LINKTYPE_TO_DLT = {100: 11, 101: 12, 102: 15, 103: 16}

#: Loads at or above this offset are Linux socket-filter extensions, which a
#: file has no kernel to answer; libpcap never emits them for a dead handle.
_ANCILLARY = 0xFFFFF000
_MASK = 0xFFFFFFFF
#: AF_INET6 on NetBSD/OpenBSD, FreeBSD and macOS.
_BSD_INET6 = frozenset((24, 28, 30))


class LibpcapMissing(FilterError):
    """libpcap, which compiles capture filters, is not installed."""


def validate(program: tuple[Instruction, ...]) -> None:
    """Refuse programs this interpreter cannot run faithfully (as the kernel would)."""
    n = len(program)
    if n == 0:
        raise FilterError("empty BPF program")
    for pc, (code, jt, jf, k) in enumerate(program):
        cls = code & 0x07
        if cls in (0x00, 0x01) and code & 0xE0 in (0x20, 0x40) and k >= _ANCILLARY:
            raise FilterError("this capture filter needs kernel data a file does not have")
        scratch = cls in (0x02, 0x03) or (cls in (0x00, 0x01) and code & 0xE0 == 0x60)
        if scratch and k >= 16:
            raise FilterError(f"BPF program uses scratch memory slot {k} (only 0-15 exist)")
        if cls == 0x05:
            targets = (pc + 1 + k,) if code & 0xF0 == 0x00 else (pc + 1 + jt, pc + 1 + jf)
            if any(t >= n for t in targets):
                raise FilterError(f"BPF program jumps past its end at instruction {pc}")
    if program[-1][0] & 0x07 != 0x06:
        raise FilterError("BPF program does not end with a return")


def run(program: tuple[Instruction, ...], data: bytes, wire_len: int) -> int:
    """Run ``program`` over one frame; the return value (0 rejects the frame).

    ``data`` is what the capture holds, ``wire_len`` the original length.
    The program must have passed :func:`validate`.
    """
    a = 0
    x = 0
    mem = [0] * 16
    size = len(data)
    pc = 0
    while True:
        code, jt, jf, k = program[pc]
        pc += 1
        cls = code & 0x07
        if cls == 0x00 or cls == 0x01:  # LD / LDX
            mode = code & 0xE0
            if mode == 0x00:  # IMM
                value = k
            elif mode == 0x80:  # LEN
                value = wire_len
            elif mode == 0x60:  # MEM
                value = mem[k]
            elif mode == 0xA0:  # MSH: 4 * (P[k] & 0xf), the IPv4 header length idiom
                if k >= size:
                    return 0
                value = (data[k] & 0x0F) << 2
            else:  # ABS or IND
                off = k if mode == 0x20 else (x + k) & _MASK
                width = {0x00: 4, 0x08: 2, 0x10: 1}.get(code & 0x18)
                if width is None or off + width > size:
                    return 0
                value = int.from_bytes(data[off : off + width], "big")
            if cls == 0x00:
                a = value
            else:
                x = value
        elif cls == 0x02:  # ST
            mem[k] = a
        elif cls == 0x03:  # STX
            mem[k] = x
        elif cls == 0x04:  # ALU
            op = code & 0xF0
            operand = x if code & 0x08 else k
            if op == 0x00:
                a = (a + operand) & _MASK
            elif op == 0x10:
                a = (a - operand) & _MASK
            elif op == 0x20:
                a = (a * operand) & _MASK
            elif op == 0x30:
                if operand == 0:
                    return 0
                a //= operand
            elif op == 0x90:
                if operand == 0:
                    return 0
                a %= operand
            elif op == 0x40:
                a |= operand
            elif op == 0x50:
                a &= operand
            elif op == 0xA0:
                a ^= operand
            elif op == 0x60:
                a = (a << operand) & _MASK if operand < 32 else 0
            elif op == 0x70:
                a = a >> operand if operand < 32 else 0
            elif op == 0x80:
                a = -a & _MASK
            else:
                return 0
        elif cls == 0x05:  # JMP
            op = code & 0xF0
            if op == 0x00:
                pc += k
                continue
            operand = x if code & 0x08 else k
            if op == 0x10:
                taken = a == operand
            elif op == 0x20:
                taken = a > operand
            elif op == 0x30:
                taken = a >= operand
            elif op == 0x40:
                taken = bool(a & operand)
            else:
                return 0
            pc += jt if taken else jf
        elif cls == 0x06:  # RET
            src = code & 0x18
            return k if src == 0x00 else (x if src == 0x08 else a)
        else:  # MISC
            if code & 0xF8 == 0x00:
                x = a
            else:
                a = x


def _null_host_order(packet: Packet) -> bytes:
    """A BSD loopback frame with its address family in this machine's byte order.

    LINKTYPE_NULL stores the family in the byte order of the machine that
    wrote the file, and libpcap compiles the comparison for *this* machine's
    order, swapping it when the file was written the other way round.  A
    dead libpcap handle cannot know the file, so the frame is brought to
    host order instead, using the family the decoder already resolved.

    The dead handle also compiles ``ip6`` for Linux's AF_INET6 (10) only,
    where tcpdump reading a file accepts the BSDs' values (24, 28, 30), so
    those are mapped to 10.
    """
    null = packet.get(Null)
    if null is None:
        return packet.data
    family = 10 if null.family in _BSD_INET6 else null.family
    return family.to_bytes(4, sys.byteorder) + packet.data[4:]


Runner = Callable[[bytes, int], int]  #: (captured bytes, wire length) → the program's verdict


def native_runner(program: tuple[Instruction, ...]) -> Runner | None:
    """``program`` run by libpcap's own ``bpf_filter()``, or None without libpcap.

    The C interpreter is what tcpdump runs, and a ctypes call costs a fraction
    of interpreting a typical program in Python; :func:`run` stays as the
    fallback and as the reference the tests hold both to.
    """
    import ctypes

    from layerpeek.capture.live import load_libpcap

    lib = load_libpcap()
    if lib is None or not hasattr(lib, "bpf_filter"):
        return None

    class Insn(ctypes.Structure):
        _fields_ = (
            ("code", ctypes.c_ushort),
            ("jt", ctypes.c_ubyte),
            ("jf", ctypes.c_ubyte),
            ("k", ctypes.c_uint32),
        )

    insns = (Insn * len(program))(*(Insn(*insn) for insn in program))
    bpf_filter = lib.bpf_filter
    bpf_filter.argtypes = (ctypes.POINTER(Insn), ctypes.c_char_p, ctypes.c_uint, ctypes.c_uint)
    bpf_filter.restype = ctypes.c_uint

    def runner(data: bytes, wire_len: int) -> int:
        return int(bpf_filter(insns, data, wire_len, len(data)))

    return runner


def python_runner(program: tuple[Instruction, ...]) -> Runner:
    """``program`` run by :func:`run`, the pure-Python interpreter."""
    return lambda data, wire_len: run(program, data, wire_len)


class CaptureFilter:
    """A tcpdump filter expression, callable on packets read from a file.

    The expression is compiled at once for Ethernet, so a bad expression is
    reported before the capture is read.  An expression only some link types
    support (``inbound`` needs Linux cooked capture) is accepted when one of
    the common ones takes it, and fails on the first frame it cannot apply
    to, as tcpdump fails on such a file.  Raises :class:`FilterError` with
    libpcap's message.
    """

    __slots__ = ("_programs", "_runners", "expression", "native")

    def __init__(self, expression: str, *, native: bool = True) -> None:
        self.expression = expression
        self.native = native  #: run programs with libpcap's bpf_filter() when it is there
        self._programs: dict[int, tuple[Instruction, ...]] = {}
        self._runners: dict[int, Runner] = {}
        first: FilterError | None = None
        for linktype in (1, 113, 101):  # Ethernet, Linux cooked, raw IP
            try:
                self._program(linktype)
                return
            except FilterError as e:
                first = first or e
        if first is not None:
            raise first

    def _program(self, linktype: int) -> tuple[Instruction, ...]:
        program = self._programs.get(linktype)
        if program is None:
            from layerpeek.capture.live import CaptureFilterError, compile_filter

            dlt = _LINKTYPE_TO_DLT.get(linktype, linktype)
            try:
                program = compile_filter(self.expression, dlt=dlt)
            except CaptureFilterError as e:
                # compile_filter says so in words when libpcap cannot be loaded at all
                kind = LibpcapMissing if "libpcap, which was not found" in str(e) else FilterError
                raise kind(str(e)) from None
            validate(program)
            self._programs[linktype] = program
        return program

    def _runner(self, linktype: int) -> Runner:
        runner = self._runners.get(linktype)
        if runner is None:
            program = self._program(linktype)
            runner = (native_runner(program) if self.native else None) or python_runner(program)
            self._runners[linktype] = runner
        return runner

    def __call__(self, packet: Packet) -> bool:
        data = packet.data
        linktype = packet.linktype
        if linktype == 0 and len(data) >= 4:
            data = _null_host_order(packet)
        runner = self._runners.get(linktype) or self._runner(linktype)
        return runner(data, packet.wire_len) != 0

    def __repr__(self) -> str:
        return f"CaptureFilter({self.expression!r})"
