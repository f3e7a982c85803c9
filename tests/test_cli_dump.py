"""``layerpeek dump``: the listing, its options, and the CLI's promises.

Most tests call ``main([...])`` in-process with captures built by the test
(``builders.pcap_bytes``); the pipe and stdin behaviour needs a real process
and uses ``python -m layerpeek``.  The public captures beside the checkout
(``../shared/captures/public``) are listed too when present, and their packet
counts are checked against the counts tshark gave in their MANIFEST.md.
"""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from builders import eth, ipv4_tcp, ipv4_udp, ipv6, pcap_bytes, tcp, udp
from conftest import PUBLIC, ROOT, public_captures

from layerpeek.cli import COMMAND_MODULES, main
from layerpeek.commands import common

ANSI = re.compile(r"\x1b\[")


def http_request() -> bytes:
    head = b"GET /d03.json HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n\r\n"
    return eth(ipv4_tcp(tcp(head, sport=51234, dport=8080, flags="PA", seq=101, ack=5001),
                        src="127.0.0.1", dst="127.0.0.1"))


def conversation() -> list[bytes]:
    """Five frames of different shapes: TCP handshake, HTTP, UDP, IPv6."""
    return [
        eth(ipv4_tcp(tcp(sport=51234, dport=8080, flags="S", seq=100))),
        eth(ipv4_tcp(tcp(sport=8080, dport=51234, flags="SA", seq=5000, ack=101),
                     src="10.0.0.2", dst="10.0.0.1"), src="02:00:00:00:00:02",
            dst="02:00:00:00:00:01"),
        http_request(),
        eth(ipv4_udp(udp(b"hello", sport=40000, dport=9999))),
        eth(ipv6(tcp(sport=40000, dport=80, flags="S"), src="::1", dst="::1")),
    ]


@pytest.fixture
def pcap(tmp_path: Path) -> Path:
    path = tmp_path / "five.pcap"
    path.write_bytes(pcap_bytes(conversation()))
    return path


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def run_process(*argv: str, stdin: bytes | None = None,
                env: dict[str, str] | None = None) -> subprocess.CompletedProcess[bytes]:
    full_env = {**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}
    return subprocess.run([sys.executable, "-m", "layerpeek", *argv], input=stdin,
                          capture_output=True, env=full_env, timeout=120, check=False)


#: Where a file's packet count differs from MANIFEST.md's "packets" column, and why.
COUNT_EXCEPTIONS = {
    # tshark lists the 3 pcapng Custom Blocks as frames too (11); they carry no packet.
    "pcapng_be_multisection.pcapng": 8,
}


def manifest_counts() -> dict[str, int]:
    """Packets per public capture as tshark read them (MANIFEST.md's "packets" column)."""
    manifest = PUBLIC / "MANIFEST.md"
    if not manifest.exists():
        return {}
    counts = {}
    for line in manifest.read_text(encoding="utf-8").splitlines():
        cells = [c.strip() for c in line.split("|")]
        if len(cells) > 7 and cells[1].startswith("`") and cells[6].isdigit():
            counts[cells[1].strip("`")] = int(cells[6])
    return {**counts, **{k: v for k, v in COUNT_EXCEPTIONS.items() if k in counts}}


# --------------------------------------------------------------------------- default listing


class TestDefaultListing:
    def test_prints_one_line_per_packet_numbered_from_one(
        self, capsys: pytest.CaptureFixture[str], pcap: Path
    ) -> None:
        code, out, err = run(capsys, "dump", str(pcap))
        lines = out.splitlines()
        assert code == 0 and err == ""
        assert len(lines) == 5
        assert [line.split()[0] for line in lines] == ["#1", "#2", "#3", "#4", "#5"]

    def test_time_is_relative_to_the_first_packet_with_six_decimals(
        self, capsys: pytest.CaptureFixture[str], pcap: Path
    ) -> None:
        _, out, _ = run(capsys, "dump", str(pcap))
        times = [line.split()[1] for line in out.splitlines()]
        assert times == ["0.000000", "0.001000", "0.002000", "0.003000", "0.004000"]

    def test_line_shows_path_endpoints_and_key_facts(
        self, capsys: pytest.CaptureFixture[str], pcap: Path
    ) -> None:
        _, out, _ = run(capsys, "dump", str(pcap))
        lines = out.splitlines()
        assert lines[2].startswith(
            "#3 0.002000 eth:ipv4:tcp:http 127.0.0.1:51234 → 127.0.0.1:8080 GET /d03.json"
        )
        assert lines[0].startswith("#1 0.000000 eth:ipv4:tcp 10.0.0.1:51234 → 10.0.0.2:8080 ")
        assert lines[4].startswith("#5 0.004000 eth:ipv6:tcp [::1]:40000 → [::1]:80 ")

    def test_no_colour_codes_when_stdout_is_not_a_terminal(
        self, capsys: pytest.CaptureFixture[str], pcap: Path
    ) -> None:
        _, out, _ = run(capsys, "dump", str(pcap))
        assert not ANSI.search(out)

    def test_count_stops_after_n_packets(
        self, capsys: pytest.CaptureFixture[str], pcap: Path
    ) -> None:
        code, out, _ = run(capsys, "dump", "-c", "2", str(pcap))
        assert code == 0
        assert [line.split()[0] for line in out.splitlines()] == ["#1", "#2"]

    def test_r_is_an_alias_of_the_file_argument(
        self, capsys: pytest.CaptureFixture[str], pcap: Path
    ) -> None:
        _, positional, _ = run(capsys, "dump", str(pcap))
        code, aliased, _ = run(capsys, "dump", "-r", str(pcap))
        assert code == 0 and aliased == positional


class TestProblemsShownInline:
    def test_malformed_packet_is_marked_on_its_line_and_exit_is_zero(
        self, capsys: pytest.CaptureFixture[str], tmp_path: Path
    ) -> None:
        bad = eth(ipv4_tcp(tcp(data_offset_words=4)))  # TCP data offset 16 bytes < 20
        path = tmp_path / "bad.pcap"
        path.write_bytes(pcap_bytes([conversation()[0], bad]))
        code, out, _ = run(capsys, "dump", str(path))
        lines = out.splitlines()
        assert code == 0
        assert "[Malformed" not in lines[0]
        assert re.search(r"\[Malformed tcp: .*\]$", lines[1])

    def test_frame_cut_by_the_snaplen_is_marked_truncated(
        self, capsys: pytest.CaptureFixture[str], tmp_path: Path
    ) -> None:
        full = http_request()
        path = tmp_path / "cut.pcap"
        path.write_bytes(pcap_bytes([full[:40]], wire_lens=[len(full)]))
        code, out, _ = run(capsys, "dump", str(path))
        assert code == 0
        assert re.search(r"\[Truncated tcp: .*\]$", out.strip())

    def test_file_cut_mid_record_lists_whole_records_then_warns(
        self, capsys: pytest.CaptureFixture[str], tmp_path: Path
    ) -> None:
        data = pcap_bytes(conversation())
        path = tmp_path / "cut-file.pcap"
        path.write_bytes(data[:-10])  # the last record loses its last 10 bytes
        code, out, err = run(capsys, "dump", str(path))
        assert code == 0
        assert len(out.splitlines()) == 4
        # The warnings, then the run's problem summary (layerpeek/commands/problems.py).
        head, found, summary = err.partition("layerpeek: problems: 1 file problem\n")
        warnings = head.splitlines()
        assert warnings and all(w.startswith("layerpeek: warning: ") for w in warnings)
        assert str(path) in warnings[0]
        assert found and summary.startswith("  file ")


    def test_the_summary_counts_only_packets_with_problems(
        self, capsys: pytest.CaptureFixture[str], public: Callable[[str], Path]
    ) -> None:
        # 159 packets, none damaged, and stream gaps: no packet has a problem
        # of its own, so none is counted as having one (issue 15).
        code, _out, err = run(capsys, "dump", str(public("pcapng_comments_2if_snaplen.pcapng")))
        assert code == 0
        head = next(line for line in err.splitlines() if line.startswith("layerpeek: problems"))
        assert head.startswith("layerpeek: problems: ") and "stream gaps" in head
        assert "159" not in head


class TestFileErrors:
    def test_not_a_capture_is_one_line_on_stderr_and_exit_1(
        self, capsys: pytest.CaptureFixture[str], tmp_path: Path
    ) -> None:
        path = tmp_path / "x.txt"
        path.write_text("hello, this is text and not a capture file\n")
        code, out, err = run(capsys, "dump", str(path))
        assert code == 1 and out == ""
        assert len(err.splitlines()) == 1
        assert err.startswith(f"layerpeek: {path}: ")
        assert "pcap" in err and "Traceback" not in err

    def test_missing_file_is_one_line_and_exit_1(
        self, capsys: pytest.CaptureFixture[str], tmp_path: Path
    ) -> None:
        path = tmp_path / "nope.pcap"
        code, _, err = run(capsys, "dump", str(path))
        assert code == 1
        assert err == f"layerpeek: {path}: No such file or directory\n"

    def test_directory_is_one_line_and_exit_1(
        self, capsys: pytest.CaptureFixture[str], tmp_path: Path
    ) -> None:
        code, _, err = run(capsys, "dump", str(tmp_path))
        assert code == 1 and len(err.splitlines()) == 1

    def test_empty_file_is_not_a_capture(
        self, capsys: pytest.CaptureFixture[str], tmp_path: Path
    ) -> None:
        path = tmp_path / "empty.pcap"
        path.write_bytes(b"")
        code, _, err = run(capsys, "dump", str(path))
        assert code == 1 and len(err.splitlines()) == 1


class TestUsage:
    @pytest.mark.parametrize(
        "argv",
        [
            ["dump"],
            ["dump", "a.pcap", "-r", "b.pcap"],
            ["dump", "-c", "0", "a.pcap"],
            ["dump", "-c", "many", "a.pcap"],
            ["dump", "--json", "-V", "a.pcap"],
            ["dump", "--json", "-x", "a.pcap"],
            ["dump", "--no-such-option", "a.pcap"],
            ["no-such-command"],
            [],
        ],
    )
    def test_usage_errors_exit_2(self, capsys: pytest.CaptureFixture[str], argv: list[str]) -> None:
        code, out, err = run(capsys, *argv)
        assert code == 2
        assert out == "" and "usage:" in err

    def test_version(self, capsys: pytest.CaptureFixture[str]) -> None:
        import layerpeek
        from layerpeek.columnar import _compiled

        code, out, _ = run(capsys, "--version")
        version, status = out.strip().splitlines()
        assert code == 0 and version == f"layerpeek {layerpeek.__version__}"
        assert status.startswith("compiled loops (layerpeek._speedups): ")
        assert ("built and used" in status) == _compiled.ENABLED

    def test_version_says_when_the_pure_python_path_runs(
        self, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv("LAYERPEEK_PURE_PYTHON", "1")
        code, out, _ = run(capsys, "--version")
        assert code == 0
        assert out.strip().splitlines()[1] in (
            "compiled loops (layerpeek._speedups): built, off (LAYERPEEK_PURE_PYTHON is set)",
            "compiled loops (layerpeek._speedups): not built; the pure-Python path runs",
        )

    def test_help_lists_every_command_and_the_exit_codes(
        self, capsys: pytest.CaptureFixture[str]
    ) -> None:
        code, out, _ = run(capsys, "--help")
        assert code == 0
        for name in COMMAND_MODULES:
            assert name in out
        assert "exit codes:" in out and "130" in out

    def test_help_does_not_load_the_renderers(self) -> None:
        # `layerpeek --help` builds every command's parser; renderers load only in run().
        code = ("import sys; from layerpeek.cli import build_parser; build_parser(); "
                "print(sorted(m for m in sys.modules if m.startswith('layerpeek.render')))")
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        result = subprocess.run([sys.executable, "-c", code], capture_output=True, env=env,
                                timeout=60, check=True)
        assert result.stdout.strip() == b"[]"

    def test_ctrl_c_exits_130_quietly(
        self, capsys: pytest.CaptureFixture[str], pcap: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        from layerpeek.commands import dump

        def interrupted(*args: object) -> None:
            raise KeyboardInterrupt

        monkeypatch.setattr(dump, "_lines", interrupted)
        monkeypatch.setattr(dump, "_lines_flows", interrupted)
        code, _, err = run(capsys, "dump", str(pcap))
        assert code == 130 and err == ""


# --------------------------------------------------------------------------- -V, -x, --json


class TestTreeAndHex:
    def test_verbose_tree_names_every_layer_of_every_packet(
        self, capsys: pytest.CaptureFixture[str], pcap: Path
    ) -> None:
        import layerpeek
        from layerpeek.render.text import layer_title

        code, out, _ = run(capsys, "dump", "-V", str(pcap))
        assert code == 0
        blocks = out.rstrip("\n").split("\n\n")
        packets = list(layerpeek.read(pcap))
        assert len(blocks) == len(packets)
        for block, packet in zip(blocks, packets, strict=True):
            assert block.startswith(f"Frame {packet.index}: ")
            for layer in packet.layers:
                assert layer_title(layer) in block

    def test_layers_is_a_long_name_for_verbose(
        self, capsys: pytest.CaptureFixture[str], pcap: Path
    ) -> None:
        _, verbose, _ = run(capsys, "dump", "-V", str(pcap))
        _, layers, _ = run(capsys, "dump", "--layers", str(pcap))
        assert layers == verbose

    def test_hex_dump_marks_each_layer_boundary(
        self, capsys: pytest.CaptureFixture[str], pcap: Path
    ) -> None:
        code, out, _ = run(capsys, "dump", "-x", "-c", "3", str(pcap))
        assert code == 0
        block = out.rstrip("\n").split("\n\n")[2]
        assert block.splitlines()[0].startswith("#3 ")
        separators = [line for line in block.splitlines() if line.startswith("-- ")]
        assert [s.split(":")[0] for s in separators] == ["-- eth", "-- ipv4", "-- tcp", "-- http"]
        assert "-- tcp: Transmission Control Protocol, bytes 34–54 (20 bytes)" in separators

    def test_verbose_and_hex_together(
        self, capsys: pytest.CaptureFixture[str], pcap: Path
    ) -> None:
        _, out, _ = run(capsys, "dump", "-V", "-x", "-c", "1", str(pcap))
        assert out.startswith("Frame 1: ") and "\n-- eth: Ethernet II, bytes 0–14 (14 bytes)" in out


class TestJSONLines:
    def test_one_object_per_packet_in_the_documented_shape(
        self, capsys: pytest.CaptureFixture[str], pcap: Path
    ) -> None:
        code, out, _ = run(capsys, "dump", "--json", str(pcap))
        records = [json.loads(line) for line in out.splitlines()]
        assert code == 0 and len(records) == 5
        assert [r["index"] for r in records] == [1, 2, 3, 4, 5]
        third = records[2]
        assert third["protocols"] == "eth:ipv4:tcp:http"
        assert third["link_type"] == 1 and third["interface"] == 0
        assert [layer["layer"] for layer in third["layers"]] == ["ethernet", "ipv4", "tcp", "http"]
        assert third["layers"][3]["method"] == "GET"
        assert third["layers"][3]["target"] == "/d03.json"

    def test_records_validate_against_the_schema(
        self, capsys: pytest.CaptureFixture[str], pcap: Path
    ) -> None:
        jsonschema = pytest.importorskip("jsonschema")
        schema = json.loads((ROOT / "layerpeek" / "schema" / "packet.schema.json").read_text())
        validator = jsonschema.Draft202012Validator(
            schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
        )
        _, out, _ = run(capsys, "dump", "--json", str(pcap))
        for line in out.splitlines():
            validator.validate(json.loads(line))

    def test_count_applies_to_json(self, capsys: pytest.CaptureFixture[str], pcap: Path) -> None:
        _, out, _ = run(capsys, "dump", "--json", "-c", "1", str(pcap))
        assert len(out.splitlines()) == 1


# --------------------------------------------------------------------------- colour


class FakeTTY(io.StringIO):
    def isatty(self) -> bool:
        return True


class TestColour:
    def test_colour_on_a_terminal(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.delenv("NO_COLOR", raising=False)
        monkeypatch.setenv("TERM", "xterm-256color")
        assert common.use_color(FakeTTY())

    def test_never_with_no_color(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("NO_COLOR", "1")
        monkeypatch.setenv("TERM", "xterm-256color")
        assert not common.use_color(FakeTTY())

    def test_empty_no_color_does_not_count_as_set(self, monkeypatch: pytest.MonkeyPatch) -> None:
        # https://no-color.org: "when present and not an empty string".
        monkeypatch.setenv("NO_COLOR", "")
        monkeypatch.setenv("TERM", "xterm-256color")
        assert common.use_color(FakeTTY())

    def test_never_on_a_dumb_terminal(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.delenv("NO_COLOR", raising=False)
        monkeypatch.setenv("TERM", "dumb")
        assert not common.use_color(FakeTTY())

    def test_never_into_a_file_or_pipe(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.delenv("NO_COLOR", raising=False)
        assert not common.use_color(io.StringIO())

    def test_dump_colours_a_terminal_unless_no_color(
        self, monkeypatch: pytest.MonkeyPatch, pcap: Path
    ) -> None:
        monkeypatch.delenv("NO_COLOR", raising=False)
        monkeypatch.setenv("TERM", "xterm")
        tty = FakeTTY()
        monkeypatch.setattr(sys, "stdout", tty)
        assert main(["dump", str(pcap)]) == 0
        assert ANSI.search(tty.getvalue())

        monkeypatch.setenv("NO_COLOR", "1")
        plain = FakeTTY()
        monkeypatch.setattr(sys, "stdout", plain)
        assert main(["dump", str(pcap)]) == 0
        assert plain.getvalue() and not ANSI.search(plain.getvalue())


# --------------------------------------------------------------------------- real processes


class TestProcess:
    def test_reads_the_capture_from_stdin_with_dash(self, pcap: Path) -> None:
        from_file = run_process("dump", str(pcap))
        from_stdin = run_process("dump", "-", stdin=pcap.read_bytes())
        assert from_stdin.returncode == 0, from_stdin.stderr
        assert from_stdin.stdout == from_file.stdout
        assert len(from_stdin.stdout.splitlines()) == 5

    def test_stdin_that_is_not_a_capture_names_stdin(self) -> None:
        result = run_process("dump", "-", stdin=b"not a capture at all")
        assert result.returncode == 1
        assert result.stderr.decode().startswith("layerpeek: <stdin>: ")
        assert len(result.stderr.splitlines()) == 1

    def test_closing_the_pipe_early_is_quiet_and_exits_0(self, tmp_path: Path) -> None:
        path = tmp_path / "many.pcap"
        path.write_bytes(pcap_bytes(conversation() * 4000))  # ~1.6 MB of text: fills any pipe
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        proc = subprocess.Popen([sys.executable, "-m", "layerpeek", "dump", str(path)],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
        assert proc.stdout is not None and proc.stderr is not None
        first = proc.stdout.readline()  # like `| head -1`
        proc.stdout.close()
        err = proc.stderr.read()
        code = proc.wait(timeout=120)
        proc.stderr.close()
        assert first.startswith(b"#1 ")
        assert err == b""
        assert code == 0

    def test_shell_pipe_into_head(self, pcap: Path, tmp_path: Path) -> None:
        if sys.platform == "win32":
            pytest.skip("needs a POSIX shell")
        big = tmp_path / "big.pcap"
        big.write_bytes(pcap_bytes(conversation() * 4000))
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        result = subprocess.run(
            f'set -o pipefail; "{sys.executable}" -m layerpeek dump "{big}" | head -1',
            shell=True, executable="/bin/bash", capture_output=True, env=env, timeout=120,
            check=False,
        )
        assert result.returncode == 0
        assert result.stdout.startswith(b"#1 ") and len(result.stdout.splitlines()) == 1
        assert result.stderr == b""

    def test_stdout_that_cannot_encode_the_arrow_gets_escapes_not_a_traceback(
        self, pcap: Path
    ) -> None:
        result = run_process("dump", str(pcap), env={"PYTHONIOENCODING": "ascii"})
        assert result.returncode == 0 and result.stderr == b""
        assert b"10.0.0.1:51234 \\u2192 10.0.0.2:8080" in result.stdout

    def test_no_colour_in_a_pipe_even_with_a_colour_terminal(self, pcap: Path) -> None:
        result = run_process("dump", str(pcap), env={"TERM": "xterm-256color"})
        assert result.returncode == 0 and b"\x1b[" not in result.stdout


# --------------------------------------------------------------------------- public captures

PUBLIC_CAPTURES = public_captures()


@pytest.mark.skipif(not PUBLIC_CAPTURES, reason="../shared/captures/public is absent")
@pytest.mark.parametrize("path", PUBLIC_CAPTURES, ids=[p.name for p in PUBLIC_CAPTURES])
def test_public_capture_lists_one_line_per_record(
    capsys: pytest.CaptureFixture[str], path: Path
) -> None:
    expected = manifest_counts().get(path.name)
    code, out, err = run(capsys, "dump", str(path))
    lines = out.splitlines()
    assert code == 0
    if expected is not None:
        assert len(lines) == expected
    assert [line.split(" ", 1)[0] for line in lines] == [f"#{i}" for i in range(1, len(lines) + 1)]
    assert "Traceback" not in err


def test_public_truncated_file_warns_after_listing(
    capsys: pytest.CaptureFixture[str], public: object
) -> None:
    path = public("truncated_file_dns.pcap")  # type: ignore[operator]
    code, out, err = run(capsys, "dump", str(path))
    assert code == 0 and out
    assert err.startswith("layerpeek: warning: ")


def test_public_http_capture_shows_request_and_response(
    capsys: pytest.CaptureFixture[str], public: object
) -> None:
    path = public("http_get_fin.pcap")  # type: ignore[operator]
    _, out, _ = run(capsys, "dump", str(path))
    http = [line for line in out.splitlines() if ":http " in line]
    assert any(" GET " in line for line in http)
    assert any(" 200" in line for line in http)
