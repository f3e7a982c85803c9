"""``layerpeek export``: a capture as a Parquet table, for pandas, DuckDB, Spark, Dask.

Three tables:

``--what packets`` (default)
    One row per frame, the columns of :func:`layerpeek.table`
    (``--columns`` picks some; ``community_id`` may be added).  The file is
    decoded chunk by chunk (:func:`layerpeek.columnar.split`), each chunk
    written as a Parquet row group, so memory stays bounded by the chunk size.
``--what conversations``
    One row per TCP/UDP conversation: the keys of ``layerpeek flows --json``.
``--what http``
    One row per HTTP exchange: the keys of ``layerpeek http --json``.

In the last two, values that are objects or lists (``handshake``,
``headers``…) are stored as JSON text, so every row has the same flat schema
whatever the traffic holds.

Progress goes to stderr for long files (over 16 MiB, or with ``--progress``):
a percentage by bytes read, redrawn in place on a terminal, else one line per
tenth.  The output is written to ``OUT.part`` and renamed when complete, so an
interrupted export never leaves a truncated file under the real name.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from layerpeek.commands import common

if TYPE_CHECKING:
    import pyarrow as pa

    from layerpeek.packet import Packet
    from layerpeek.tls.keylog import KeyLog

#: Files at least this large show progress without ``--progress``.
PROGRESS_BYTES = 16 * 1024 * 1024

DESCRIPTION = """\
Write a capture as a Parquet table: one row per packet (default), per TCP/UDP
conversation, or per HTTP exchange.

Packet columns (README: Tables, Parquet and Dask): frame ts_ns cap_len
wire_len interface link_type eth_src eth_dst eth_type ip_version ip_src ip_dst
ip_id ip_ttl ip_flags ip_proto src_port dst_port tcp_seq tcp_ack tcp_flags
tcp_window tcp_len tcp_cap_len udp_length protocols malformed, and on request
community_id.  Lengths are on the wire; the cap columns what was captured."""


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "export",
        help="write packets, conversations or HTTP exchanges as a Parquet table",
        description=DESCRIPTION,
        epilog="exit codes: 0 ok, 1 unreadable capture or output, 2 usage error",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    common.add_file_options(parser)
    parser.add_argument(
        "--parquet", metavar="OUT", required=True, help="the Parquet file to write"
    )
    parser.add_argument(
        "--what",
        choices=("packets", "conversations", "http"),
        default="packets",
        help="one row per packet (default), per conversation, or per HTTP exchange",
    )
    parser.add_argument(
        "--columns",
        metavar="LIST",
        help="packets only: comma-separated columns to write, in order (default: all)",
    )
    parser.add_argument(
        "--chunk-mb",
        type=int,
        default=64,
        metavar="N",
        help="packets only: decode N MiB of the file at a time (default 64)",
    )
    common.add_keylog_option(parser, "with --what http, HTTPS exchanges are rows too")
    show = parser.add_mutually_exclusive_group()
    show.add_argument("--progress", action="store_true", help="always show progress on stderr")
    show.add_argument("-q", "--quiet", action="store_true", help="never show progress")
    parser.set_defaults(func=run, parser=parser)


class Progress:
    """A percentage on stderr: redrawn in place on a terminal, one line per tenth elsewhere."""

    def __init__(self, label: str, total: int, enabled: bool) -> None:
        self.label = label
        self.total = max(total, 1)
        self.enabled = enabled
        self.tty = enabled and sys.stderr.isatty()
        self._last_tenth = -1
        self._last_draw = 0.0
        self._drawn = False

    def update(self, done: int, frames: int) -> None:
        if not self.enabled:
            return
        percent = min(100, done * 100 // self.total)
        if self.tty:
            now = time.monotonic()
            if now - self._last_draw < 0.2 and percent < 100:
                return
            self._last_draw = now
            sys.stderr.write(f"\r{common.PROG}: {self.label}: {percent:3d}% ({frames:,} frames)")
            sys.stderr.flush()
            self._drawn = True
        elif percent // 10 > self._last_tenth:
            self._last_tenth = percent // 10
            print(f"{common.PROG}: {self.label}: {percent}% ({frames:,} frames)", file=sys.stderr)

    def close(self) -> None:
        if self._drawn:
            sys.stderr.write("\n")
            sys.stderr.flush()


def run(args: argparse.Namespace) -> int:
    try:
        import numpy  # noqa: F401 - checked here for a clear message
        import pyarrow.parquet as pq
    except ImportError:
        raise common.CommandError(
            "export needs pyarrow and numpy: pip install 'layerpeek[table]'"
        ) from None
    path = common.capture_path(args)
    if args.chunk_mb < 1:
        args.parser.error("--chunk-mb must be at least 1")
    if args.columns is not None and args.what != "packets":
        args.parser.error("--columns applies to --what packets only")
    columns = None
    if args.columns is not None:
        from layerpeek.columnar import check_columns

        try:
            columns = check_columns([c.strip() for c in args.columns.split(",") if c.strip()])
        except ValueError as e:
            args.parser.error(f"--columns: {e}")
    size = _size(path)
    progress = Progress(
        f"export {args.what}",
        size,
        not args.quiet and (args.progress or size >= PROGRESS_BYTES),
    )
    out: str = args.parquet
    from layerpeek.commands import outfile

    outfile.check_target(out)  # absent or a regular file: never a FIFO, device or symlink
    part, handle = outfile.open_part(out)
    handle.close()  # pyarrow writes the path; the fresh empty file reserves the name
    problems: list[str] = []
    try:
        if args.what == "packets":
            rows = _packets(path, columns, args.chunk_mb * 1024 * 1024, part, progress, problems)
        else:
            records = _records(path, args.what, progress, problems, common.load_keylog(args))
            table = _flat_table(records)
            _write(lambda: pq.write_table(table, part), part)
            rows = table.num_rows
        outfile.finish(part, out)
    except BaseException:
        progress.close()
        outfile.discard(part)
        raise
    progress.close()
    for problem in problems:
        common.warn(f"{common.display_name(path)}: {problem}")
    print(f"{common.PROG}: wrote {rows:,} {_noun(args.what, rows)} to {out}", file=sys.stderr)
    return common.EXIT_OK


def _noun(what: str, rows: int) -> str:
    nouns = {"packets": "packet", "conversations": "conversation", "http": "HTTP exchange"}
    noun = nouns[what]
    return noun if rows == 1 else noun + "s"


def _size(path: str) -> int:
    if path == "-":
        return 0
    try:
        return os.path.getsize(path)
    except OSError as e:
        reason = "is a directory, not a capture file" if os.path.isdir(path) else e.strerror
        raise common.CommandError(f"{path}: {reason}") from None


def _write(action: Any, part: str) -> None:
    try:
        action()
    except OSError as e:
        raise common.CommandError(f"{part}: cannot write: {e.strerror or e}") from None


def _packets(
    path: str,
    columns: list[str] | None,
    chunk_bytes: int,
    part: str,
    progress: Progress,
    problems: list[str],
) -> int:
    """Decode chunk by chunk; each chunk is one row group of the Parquet file."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from layerpeek.columnar import SCHEMA, check_columns, split, table
    from layerpeek.errors import CaptureFormatError

    wanted = check_columns(columns)
    schema = pa.schema([SCHEMA.field(c) for c in wanted])
    try:
        if path == "-" or _is_gzip(path):
            # Neither can be mapped: read a piece at a time (bounded memory),
            # a row group per piece.
            tables: Iterator[tuple[pa.Table, int | None]] | None = _streamed(
                path, wanted, problems
            )
            chunks_done = None
        else:
            chunks_done = split(path, chunk_bytes=chunk_bytes)
            tables = None
    except CaptureFormatError as e:
        raise common.CommandError(str(e)) from None
    try:
        writer = pq.ParquetWriter(part, schema)
    except OSError as e:
        raise common.CommandError(f"{part}: cannot write: {e.strerror or e}") from None
    rows = 0
    done = 0
    try:
        if tables is not None:
            while True:
                try:
                    t, read = next(tables, (None, None))
                except CaptureFormatError as e:
                    raise common.CommandError(str(e)) from None
                if t is None:
                    break
                writer.write_table(t)
                rows += t.num_rows
                if read is not None:
                    progress.update(read, rows)
        else:
            assert chunks_done is not None
            for chunk in chunks_done:
                try:
                    t = table(chunk, wanted, problems=problems)
                except CaptureFormatError as e:
                    raise common.CommandError(str(e)) from None
                writer.write_table(t)
                rows += t.num_rows
                done += chunk.size
                progress.update(done, rows)
    except OSError as e:
        with contextlib.suppress(OSError):
            writer.close()
        raise common.CommandError(f"{part}: cannot write: {e.strerror or e}") from None
    except BaseException:
        with contextlib.suppress(OSError):
            writer.close()
        raise
    try:
        writer.close()  # the footer: a full disk can strike here too
    except OSError as e:
        raise common.CommandError(f"{part}: cannot write: {e.strerror or e}") from None
    return rows


def _streamed(
    path: str, wanted: list[str], problems: list[str]
) -> Iterator[tuple[pa.Table, int | None]]:
    """Standard input or a gzip file as tables, a piece at a time, each with the bytes
    of the file read so far (None for standard input)."""
    from layerpeek.columnar import stream_tables
    from layerpeek.errors import CaptureFormatError

    if path == "-":
        for piece in stream_tables(sys.stdin.buffer, wanted, name="<stdin>", problems=problems):
            yield piece, None
        return
    try:
        f = open(path, "rb")  # noqa: SIM115 - closed by the with below
    except OSError as e:
        raise CaptureFormatError(f"{path}: {e.strerror or e}") from None
    with f:
        for piece in stream_tables(f, wanted, name=path, problems=problems):
            yield piece, f.tell()


def _is_gzip(path: str) -> bool:
    """Whether the file at ``path`` starts as gzip does (unreadable: left to the reader)."""
    try:
        with open(path, "rb") as f:
            return f.read(2) == b"\x1f\x8b"
    except OSError:
        return False


def _counted(path: str, progress: Progress, problems: list[str]) -> Iterator[Packet]:
    """Packets of ``path``, reporting progress by the bytes their records took.

    The reader's file-level problems (a cut last record) join ``problems``.
    """
    from layerpeek.errors import CaptureFormatError

    reader = common.open_packets(path)
    done = 0
    frames = 0
    try:
        for packet in common.iter_packets(reader, path):
            done += len(packet.data) + 16
            frames += 1
            if frames % 2048 == 0:
                progress.update(done, frames)
            yield packet
        progress.update(progress.total, frames)
        problems.extend(reader.problems)
    except CaptureFormatError as e:
        raise common.CommandError(f"{common.display_name(path)}: {e}") from None
    finally:
        reader.close()


def _records(path: str, what: str, progress: Progress, problems: list[str],
             keylog: KeyLog | None = None) -> list[dict[str, Any]]:
    packets = _counted(path, progress, problems)
    if what == "conversations":
        from layerpeek.flows import conversations

        return [conv.to_dict() for conv in conversations(packets)]
    try:
        from layerpeek.http import iter_exchanges
    except ImportError:
        raise common.CommandError("--what http needs the layerpeek.http module") from None
    # Each exchange becomes its row as soon as it is paired and its bodies are
    # dropped: memory holds rows, never every body of the capture.
    rows = [((ex.first_frame, ex.stream, ex.index), ex.to_dict())
            for ex in iter_exchanges(packets, problems=problems, keylog=keylog)]
    rows.sort(key=lambda row: row[0])  # the listing's order (layerpeek.http.sort_exchanges)
    return [row for _, row in rows]


def _flat_table(records: list[dict[str, Any]]) -> pa.Table:
    """Records → a table with one column per key; objects and lists as JSON text."""
    import json

    import pyarrow as pa

    keys: dict[str, None] = {}
    for record in records:
        keys.update(dict.fromkeys(record))
    nested = {
        k for k in keys if any(isinstance(r.get(k), (dict, list, tuple)) for r in records)
    }
    columns: dict[str, list[Any]] = {}
    for key in keys:
        values = [r.get(key) for r in records]
        if key in nested:
            values = [None if v is None else json.dumps(v, separators=(",", ":")) for v in values]
        columns[key] = values
    arrays = {}
    for key, values in columns.items():
        try:
            arrays[key] = pa.array(values)
        except (pa.ArrowInvalid, pa.ArrowTypeError):  # mixed kinds: keep them as text
            arrays[key] = pa.array([None if v is None else str(v) for v in values], pa.string())
    return pa.table(arrays) if arrays else pa.table({})
