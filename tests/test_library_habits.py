"""The library explains itself (issue 15): what a scapy or Python user tries in a REPL works,
or says in one line why not and what to do instead."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import CAPTURES, ROOT

import layerpeek
from layerpeek import TCP

PAGE = CAPTURES / "page_load.pcap"


# --------------------------------------------------------------------------- the reader


def test_a_reader_of_a_path_can_be_iterated_again() -> None:
    reader = layerpeek.read(PAGE)
    first = [p.index for p in reader]
    assert first == list(range(1, 19))
    assert [p.index for p in reader] == first


def test_a_loop_after_break_starts_over() -> None:
    reader = layerpeek.read(PAGE)
    for packet in reader:
        if packet.index == 5:
            break
    assert next(iter(reader)).index == 1


def test_a_stream_reader_says_it_is_single_use() -> None:
    reader = layerpeek.read(io.BytesIO(PAGE.read_bytes()))
    assert reader.reusable is False
    assert sum(1 for _ in reader) == 18
    with pytest.raises(RuntimeError, match="can be read once: open the capture again"):
        list(reader)


def test_len_and_indexing_are_refused_with_what_to_do() -> None:
    reader = layerpeek.read(PAGE)
    with pytest.raises(TypeError, match=r"sum\(1 for _ in reader\)"):
        len(reader)
    with pytest.raises(TypeError, match=r"packets = list\(reader\)"):
        reader[0]
    assert reader  # truthy, not an empty container
    assert len(list(reader)) == 18  # list() still works (len() is only a hint to it)


# --------------------------------------------------------------------------- a packet


@pytest.fixture
def request_packet() -> layerpeek.Packet:
    return list(layerpeek.read(PAGE))[7]  # frame 8: GET /


def test_a_packet_iterates_its_layers(request_packet: layerpeek.Packet) -> None:
    assert [layer.short for layer in request_packet] == ["eth", "ipv4", "tcp", "http"]


def test_bytes_of_a_packet_is_the_frame(request_packet: layerpeek.Packet) -> None:
    assert bytes(request_packet) == request_packet.data and len(bytes(request_packet)) == 188


def test_a_layer_by_name(request_packet: layerpeek.Packet) -> None:
    assert request_packet["tcp"] is request_packet[TCP]
    assert request_packet["IPv4"] is request_packet["ipv4"]
    assert "http" in request_packet and "dns" not in request_packet
    with pytest.raises(KeyError, match=r"has no 'dns' layer \(it has eth:ipv4:tcp:http\)"):
        request_packet["dns"]
    with pytest.raises(TypeError, match="index a packet with a layer class or name"):
        request_packet[0]  # type: ignore[call-overload]


def test_print_and_show(request_packet: layerpeek.Packet,
                        capsys: pytest.CaptureFixture[str]) -> None:
    assert str(request_packet) == (
        "#8 0.000000 eth:ipv4:tcp:http 127.0.0.1:49366 → 127.0.0.1:8080 GET / HTTP/1.1")
    request_packet.show()
    tree = capsys.readouterr().out
    assert tree.startswith("Frame 8: 188 bytes on wire")
    assert "Hypertext Transfer Protocol  GET / HTTP/1.1" in tree


def test_reprs_show_addresses(request_packet: layerpeek.Packet) -> None:
    assert "src=00:00:00:00:00:00" in repr(request_packet["eth"])
    assert "src=127.0.0.1, dst=127.0.0.1" in repr(request_packet["ipv4"])
    v6 = next(iter(layerpeek.read(CAPTURES / "tcp_3040_ipv6.pcap")))
    assert "src=::1, dst=::1" in repr(v6["ipv6"])


# --------------------------------------------------------------------------- the package


def test_readme_spellings_work_after_import_layerpeek() -> None:
    code = (
        "import layerpeek\n"
        "print(len(layerpeek.flows.conversations('captures/page_load.pcap')))\n"
        "print(callable(layerpeek.http.exchanges), callable(layerpeek.dnstx.transactions))\n"
        "print(callable(layerpeek.story.explain), callable(layerpeek.filter.compile))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                          text=True, timeout=120, check=True)
    assert done.stdout.split() == ["2", "True", "True", "True", "True"]


def test_import_layerpeek_stays_light() -> None:
    done = subprocess.run([sys.executable, "-c", "import sys, layerpeek; print(sorted(m for m "
                           "in sys.modules if m.startswith('layerpeek')))"], cwd=ROOT,
                          capture_output=True, text=True, timeout=60, check=True)
    assert done.stdout.strip() == "['layerpeek']"


@pytest.mark.parametrize("module", ["layerpeek.packet", "layerpeek.reader", "layerpeek.errors",
                                    "layerpeek.dnstx", "layerpeek.story"])
def test_public_modules_declare_their_names(module: str) -> None:
    import importlib

    mod = importlib.import_module(module)
    names = mod.__all__
    assert names and all(hasattr(mod, name) for name in names)
    assert all(not name.startswith("_") for name in names)


def test_dir_of_the_package_lists_the_subpackages() -> None:
    assert {"flows", "http", "dnstx", "story", "filter", "read", "Packet"} <= set(dir(layerpeek))


def test_paths_are_accepted_as_path_objects() -> None:
    assert sum(1 for _ in layerpeek.read(Path(PAGE))) == 18


# --------------------------------------------------------------------------- HTTP headers


def test_layer_headers_by_name_any_case(request_packet: layerpeek.Packet) -> None:
    headers = request_packet["http"].headers
    assert headers["host"] == headers["Host"] == "www.example.test:8080"
    assert headers[0] == ("Host", "www.example.test:8080")  # still the pairs, in order
    assert "ACCEPT" in headers and "Cookie" not in headers
    assert headers.keys() == ["Host", "Accept-Encoding", "User-Agent", "Accept"]
    with pytest.raises(KeyError, match="no 'Cookie' header"):
        headers["Cookie"]


def test_repeated_headers_are_kept_and_joined() -> None:
    from layerpeek.layers.http import decode

    head = (b"HTTP/1.1 200 OK\r\nSet-Cookie: a=1\r\nVary: Accept\r\nset-cookie: b=2\r\n"
            b"vary: Cookie\r\n\r\n")
    layer, _ = decode(head, 0, len(head))
    headers = layer.headers  # type: ignore[attr-defined]
    assert headers.get_all("set-cookie") == ["a=1", "b=2"]
    assert headers["Vary"] == "Accept, Cookie"
    assert len(headers) == 4


def test_message_headers_by_name_any_case() -> None:
    (first, *_) = layerpeek.http.exchanges(str(PAGE))
    assert first.response is not None
    assert first.response.headers["content-type"] == "text/html; charset=utf-8"
    assert first.request.headers["HOST"] == "www.example.test:8080"
    with pytest.raises(KeyError, match="no 'X-Nope' header"):
        first.response.headers["X-Nope"]


# --------------------------------------------------------------------------- pcapng comments


def commented_capture(tmp_path: Path) -> Path:
    import struct

    from builders import eth, ipv4_udp, udp
    from pcapng_build import block, idb, option, shb

    frame = eth(ipv4_udp(udp(b"hi", sport=1000, dport=2000)))

    def epb(units: int, comments: list[bytes]) -> bytes:
        body = struct.pack("<IIIII", 0, units >> 32, units & 0xFFFFFFFF, len(frame), len(frame))
        body += frame + b"\x00" * (-len(frame) % 4)
        if comments:
            body += b"".join(option("<", 1, c) for c in comments) + option("<", 0, b"")
        return block("<", 6, body)

    path = tmp_path / "commented.pcapng"
    path.write_bytes(shb() + idb() + epb(1, [b"first look"]) + epb(2, [])
                     + epb(3, [b"two", b"comments\x00padding"]))
    return path


def test_pcapng_comments_on_packets(tmp_path: Path) -> None:
    packets = list(layerpeek.read(commented_capture(tmp_path)))
    assert [p.comment for p in packets] == ["first look", None, "two\ncomments"]


def test_pcapng_comments_in_dump_fields_and_w(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from layerpeek.cli import main

    path = commented_capture(tmp_path)
    assert main(["dump", str(path)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].endswith(" [comment: first look]") and "comment" not in lines[1]
    assert main(["dump", "-V", "-c", "1", str(path)]) == 0
    assert "\n  [Comment: first look]\n" in capsys.readouterr().out
    assert main(["dump", str(path), "-T", "fields", "-e", "frame.comment",
                 "-Y", "frame.comment"]) == 0
    assert capsys.readouterr().out.splitlines() == ["first look", "two,comments"]
    out = tmp_path / "copy.pcapng"
    assert main(["dump", str(path), "-w", str(out)]) == 0
    assert [p.comment for p in layerpeek.read(out)] == ["first look", None, "two\ncomments"]


def test_pcapng_comments_equal_tsharks(capsys: pytest.CaptureFixture[str]) -> None:
    import shutil

    from conftest import PUBLIC

    from layerpeek.cli import main

    path = PUBLIC / "pcapng_comments_2if_snaplen.pcapng"
    tshark = shutil.which("tshark")
    if tshark is None or not path.exists():
        pytest.skip("tshark or ../shared/captures/public is absent")
    argv = ["-T", "fields", "-e", "frame.number", "-e", "frame.comment"]
    theirs = subprocess.run([tshark, "-r", str(path), *argv], capture_output=True, text=True,
                            timeout=120).stdout
    main(["dump", str(path), *argv])
    assert capsys.readouterr().out == theirs
