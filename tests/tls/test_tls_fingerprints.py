"""JA3/JA3S and JA4/JA4S: the published examples, and tshark's JA3 on our captures.

The examples are the ones their authors publish: the Salesforce JA3 README
(two JA3 strings and their MD5) and JA3S example string; FoxIO's
technical_details/JA4.md (a Chrome-like hello: ``t13d1516h2_8daaf6152771_e5627efa2ab1``)
and JA4S.md (``t120400_c030_4e8089b08790``).  Hellos are built field by field
from those documents' lists, so what is checked is the whole path from a typed
hello to the fingerprint.
"""

from __future__ import annotations

import shutil
import subprocess

import pytest
from conftest import CAPTURES

import layerpeek
from layerpeek.layers.tls import TLS
from layerpeek.tls import handshake as hs
from layerpeek.tls.fingerprints import ja3, ja3s, ja4, ja4s


def client_hello(version: int, ciphers: list[int], extensions: list[hs.Extension]
                 ) -> hs.ClientHello:
    return hs.ClientHello(1, 0, version, bytes(32), b"", tuple(ciphers), (0,), tuple(extensions))


def server_hello(version: int, cipher: int, extensions: list[hs.Extension]) -> hs.ServerHello:
    return hs.ServerHello(2, 0, version, bytes(32), b"", cipher, 0, tuple(extensions))


def raw(ext_type: int) -> hs.RawExtension:
    return hs.RawExtension(ext_type, b"")


def test_ja3_readme_examples() -> None:
    hello = client_hello(769, [47, 53, 5, 10, 49161, 49162, 49171, 49172, 50, 56, 19, 4], [
        hs.ServerName(0, ("example.com",)), hs.SupportedGroups(10, (23, 24, 25)),
        hs.ECPointFormats(11, (0,))])
    fp = ja3(hello)
    assert fp.text == "769,47-53-5-10-49161-49162-49171-49172-50-56-19-4,0-10-11,23-24-25,0"
    assert fp.hash == "ada70206e40642a3e4461f35503241d5"
    bare = ja3(client_hello(769, [4, 5, 10, 9, 100, 98, 3, 6, 19, 18, 99], []))
    assert bare.text == "769,4-5-10-9-100-98-3-6-19-18-99,,,"
    assert bare.hash == "de350869b8c85de67a350c8d186f11e6"


def test_ja3s_readme_example() -> None:
    hello = server_hello(769, 47, [raw(65281), raw(0), raw(11), raw(35), raw(5), raw(16)])
    fp = ja3s(hello)
    assert fp.text == "769,47,65281-0-11-35-5-16"
    assert fp.hash == "836ce314215654b5b1f85f97c73e506f"


def test_grease_is_left_out_everywhere() -> None:
    hello = client_hello(771, [0x0A0A, 4865], [raw(0x1A1A), hs.SupportedGroups(10, (0x2A2A, 29))])
    assert ja3(hello).text == "771,4865,10,29,"
    assert ja4(hello).hash.startswith("t12i0101")


#: FoxIO JA4.md's example hello, in wire order.
JA4_CIPHERS = [0x1301, 0x1302, 0x1303, 0xC02B, 0xC02F, 0xC02C, 0xC030, 0xCCA9, 0xCCA8, 0xC013,
               0xC014, 0x009C, 0x009D, 0x002F, 0x0035]
JA4_EXTENSIONS = [0x001B, 0x0000, 0x0033, 0x0010, 0x4469, 0x0017, 0x002D, 0x000D, 0x0005, 0x0023,
                  0x0012, 0x002B, 0xFF01, 0x000B, 0x000A, 0x0015]
JA4_SIGS = (0x0403, 0x0804, 0x0401, 0x0503, 0x0805, 0x0501, 0x0806, 0x0601)


def ja4_example() -> hs.ClientHello:
    exts: list[hs.Extension] = []
    for t in JA4_EXTENSIONS:
        if t == 0x0000:
            exts.append(hs.ServerName(0, ("example.com",)))
        elif t == 0x0010:
            exts.append(hs.ALPN(16, ("h2", "http/1.1")))
        elif t == 0x002B:
            exts.append(hs.SupportedVersions(43, (0x0A0A, 0x0304, 0x0303)))
        elif t == 0x000D:
            exts.append(hs.SignatureAlgorithms(13, JA4_SIGS))
        else:
            exts.append(raw(t))
    return client_hello(0x0303, [0x0A0A, *JA4_CIPHERS], [raw(0x0A0A), *exts])


def test_ja4_foxio_example() -> None:
    fp = ja4(ja4_example())
    assert fp.hash == "t13d1516h2_8daaf6152771_e5627efa2ab1"
    assert fp.text == (
        "t13d1516h2_002f,0035,009c,009d,1301,1302,1303,c013,c014,c02b,c02c,c02f,c030,cca8,"
        "cca9_0005,000a,000b,000d,0012,0015,0017,001b,0023,002b,002d,0033,4469,ff01_0403,"
        "0804,0401,0503,0805,0501,0806,0601")


def test_ja4_without_signature_algorithms_has_no_underscore_part() -> None:
    hello = ja4_example()
    no_sigs = hs.ClientHello(1, 0, hello.version, hello.random, b"", hello.cipher_suites, (0,),
                             (*tuple(e for e in hello.extensions if e.type != 13), raw(13)))
    assert ja4(no_sigs).hash.endswith("_6d807ffa2a79")  # JA4.md: "…,4469,ff01 = 6d807ffa2a79"


@pytest.mark.parametrize(("value", "expected"), [
    (None, "00"), (b"h2", "h2"), (b"http/1.1", "h1"), (b"x", "xx"), (b"\xab", "ab"),
    (b"\xab\xcd", "ad"), (b"\x30\xab", "3b"), (b"\x30\x31\xab\xcd", "3d"),
    (b"\x30\xab\xcd\x31", "01"),
])
def test_ja4_alpn_characters_follow_the_spec_examples(value: bytes | None, expected: str) -> None:
    exts: list[hs.Extension] = [] if value is None else [
        hs.ALPN(16, (value.decode("latin-1"),))]
    assert ja4(client_hello(0x0303, [0x1301], exts)).hash[8:10] == expected


def test_ja4_with_no_ciphers_or_extensions_uses_zeros() -> None:
    assert ja4(client_hello(0x0301, [], [])).hash == "t10i000000_000000000000_000000000000"


def test_ja4s_foxio_example() -> None:
    hello = server_hello(0x0303, 0xC030, [raw(0x0005), raw(0x0017), raw(0xFF01), raw(0x0000)])
    fp = ja4s(hello)
    assert fp.hash == "t120400_c030_4e8089b08790"
    assert fp.text == "t120400_c030_0005,0017,ff01,0000"


TSHARK = shutil.which("tshark")


@pytest.mark.skipif(TSHARK is None, reason="tshark is not installed")
@pytest.mark.parametrize("name", ["tls13_http11.pcap", "tls12_http11.pcap", "tls_resumed.pcap",
                                  "https_h2.pcap", "tls13_keyupdate.pcap",
                                  "tls13_hrr.pcap", "tls12_resumed.pcap",
                                  "https_page_load.pcap"])
def test_ja3_and_ja3s_match_tshark_on_every_hello(name: str) -> None:
    assert TSHARK is not None
    out = subprocess.run(
        [TSHARK, "-n", "-r", str(CAPTURES / name), "-Y", "tls.handshake.type == 1 or "
         "tls.handshake.type == 2", "-T", "fields", "-e", "frame.number", "-e",
         "tls.handshake.ja3_full", "-e", "tls.handshake.ja3", "-e", "tls.handshake.ja3s_full",
         "-e", "tls.handshake.ja3s"], capture_output=True, text=True, check=True).stdout
    theirs = {int(r[0]): r[1:] for r in (line.split("\t") for line in out.splitlines())}
    mine: dict[int, list[str]] = {}
    for packet in layerpeek.read(CAPTURES / name):
        layer = packet.get(TLS)
        if layer is None:
            continue
        for msg in layer.messages():
            if isinstance(msg, hs.ClientHello):
                fp = ja3(msg)
                mine[packet.index] = [fp.text, fp.hash, "", ""]
            elif isinstance(msg, hs.ServerHello):
                fp = ja3s(msg)
                mine[packet.index] = ["", "", fp.text, fp.hash]
    assert mine == theirs and mine
