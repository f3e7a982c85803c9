"""DataFrames and Arrow tables at three levels: packets, conversations, HTTP exchanges."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from builders import eth, pcap_bytes

import layerpeek
from layerpeek import notebook as lpn
from layerpeek.flows.pipeline import conversations as summaries
from layerpeek.notebook.frames import CONVERSATION_COLUMNS, HTTP_COLUMNS, PACKET_COLUMNS

pd = pytest.importorskip("pandas")
pa = pytest.importorskip("pyarrow")

CAPTURES = Path(__file__).resolve().parents[2] / "captures"


def test_packets_frame_has_one_row_per_packet_with_the_documented_columns() -> None:
    df = lpn.packets_frame(CAPTURES / "page_load.pcap")
    assert list(df.columns) == list(PACKET_COLUMNS)
    assert len(df) == 18
    assert list(df["frame"]) == list(range(1, 19))
    assert str(df["time"].dtype) == "datetime64[ns, UTC]"
    first_syn = df[df["tcp_flag_names"] == "SYN"].iloc[0]
    assert (first_syn["frame"], first_syn["seq"], first_syn["client_state"]) == (5, 0, "SYN_SENT")
    assert df["app"].tolist()[:4] == ["dns"] * 4
    assert df["src_port"].dtype == "UInt16"  # nullable: DNS and TCP rows mix, no floats
    # the Info column is dump's, with relative sequence numbers like the seq column
    assert df["info"][6] == (
        "[A] seq=1 ack=1 win=65536 (raw 64) len=0 [stream 0: ESTABLISHED/ESTABLISHED]")


def test_packets_frame_rows_match_the_packets() -> None:
    packets = list(layerpeek.read(CAPTURES / "tcp_3040_greeting.pcap"))
    df = lpn.packets_frame(packets)
    assert df["protocols"].tolist() == [p.protocols for p in packets]
    assert df["wire_len"].tolist() == [p.wire_len for p in packets]
    assert df["tcp_len"].sum() == 51 + 43 + 53


def test_without_flows_the_conversation_columns_stay_empty() -> None:
    df = lpn.packets_frame(CAPTURES / "tcp_3040_greeting.pcap", flows=False)
    assert df["seq"].isna().all() and df["stream"].isna().all()
    assert df["window"].notna().all()


def test_analysis_counts_match_the_conversation_summary() -> None:
    df = lpn.packets_frame(CAPTURES / "tcp_loss_reorder.pcap")
    counts = df.explode("analysis")["analysis"].value_counts().to_dict()
    conv = summaries(CAPTURES / "tcp_loss_reorder.pcap")[0]
    assert counts == conv.analysis


def test_conversations_frame_has_zeek_conn_log_columns() -> None:
    df = lpn.conversations_frame(CAPTURES / "page_load.pcap")
    assert list(df.columns) == list(CONVERSATION_COLUMNS)
    zeek = ["ts", "uid", "id.orig_h", "id.orig_p", "id.resp_h", "id.resp_p", "proto", "service",
            "duration", "orig_bytes", "resp_bytes", "conn_state", "missed_bytes", "history",
            "orig_pkts", "orig_ip_bytes", "resp_pkts", "resp_ip_bytes"]
    assert list(df.columns[: len(zeek)]) == zeek
    udp, tcp = df.iloc[0], df.iloc[1]
    assert (udp["proto"], udp["service"], udp["id.resp_p"]) == ("udp", "dns", 53)
    assert (tcp["proto"], tcp["service"], tcp["id.resp_p"], tcp["conn_state"]) == (
        "tcp", "http", 8080, "SF"
    )
    assert tcp["orig_pkts"] + tcp["resp_pkts"] == 14
    # 14 IPv4 packets: headers and payload, as the capture's IP total lengths add up
    packets = list(layerpeek.read(CAPTURES / "page_load.pcap"))[4:]
    assert tcp["orig_ip_bytes"] + tcp["resp_ip_bytes"] == sum(p.wire_len - 14 for p in packets)


def test_conversations_frame_agrees_with_the_flows_summaries() -> None:
    path = CAPTURES / "tcp_rst_midtransfer.pcap"
    row = lpn.conversations_frame(path).iloc[0]
    conv = summaries(path)[0].to_dict()
    assert (row["conn_state"], row["history"], row["close"]) == (
        conv["conn_state"], conv["history"], conv["close"]["kind"]
    )
    assert row["resp_bytes"] == conv["stream_bytes_server"] + conv["missed_bytes_server"]


def test_http_frame_has_one_row_per_exchange() -> None:
    df = lpn.http_frame(CAPTURES / "http_status_mix.pcap")
    assert list(df.columns) == list(HTTP_COLUMNS)
    assert df["status"].tolist() == [204, 304, 404, 200]
    assert df["method"].tolist() == ["GET", "GET", "GET", "HEAD"]
    assert df["complete"].all()
    gz = lpn.http_frame(CAPTURES / "http_gzip.pcap").iloc[0]
    assert (gz["content_encoding"], gz["response_body_decoded_len"]) == ("gzip", 3010)


def test_tables_convert_to_arrow_and_back() -> None:
    df = lpn.conversations_frame(CAPTURES / "tcp_refused.pcap")
    table = lpn.to_arrow(df)
    assert isinstance(table, pa.Table)
    assert table.num_rows == 2 and table.column_names == list(CONVERSATION_COLUMNS)
    assert table.column("conn_state").to_pylist() == ["REJ", "REJ"]
    direct = lpn.packets_arrow(CAPTURES / "tcp_refused.pcap")
    assert direct.schema.field("seq").type == pa.int64()
    assert direct.schema.field("analysis").type == pa.list_(pa.string())


def test_a_capture_without_conversations_gives_empty_frames_with_columns() -> None:
    arp_only = pcap_bytes([eth(b"\x00" * 28, ethertype=0x0806)])
    df = lpn.conversations_frame(io.BytesIO(arp_only))
    assert len(df) == 0 and list(df.columns) == list(CONVERSATION_COLUMNS)
    assert len(lpn.http_frame(io.BytesIO(arp_only))) == 0


def test_a_missing_extra_is_named_in_the_error(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib
    import types

    from layerpeek.notebook import frames

    def import_module(name: str) -> types.ModuleType:
        if name == "pyarrow":
            raise ImportError("No module named 'pyarrow'")
        return importlib.import_module(name)

    monkeypatch.setattr(frames, "importlib", types.SimpleNamespace(import_module=import_module))
    with pytest.raises(ImportError, match=r"need pyarrow: pip install 'layerpeek\[notebook\]'"):
        lpn.packets_frame(CAPTURES / "tcp_refused.pcap")


def test_a_timestamp_beyond_the_64_bit_range_becomes_not_a_time() -> None:
    import dataclasses

    from layerpeek.reader import decode

    frame = eth(b"\x00" * 28, ethertype=0x0806)
    sane = dataclasses.replace(decode(frame), index=1, ts_ns=1_700_000_000_000_000_000)
    wild = dataclasses.replace(decode(frame), index=2, ts_ns=18_446_744_073_204_126_329_000)
    df = lpn.packets_frame([sane, wild])
    assert df["time"].iloc[0] == pd.Timestamp(1_700_000_000_000_000_000, tz="UTC")
    assert df["time"].isna().tolist() == [False, True]
    assert df["rel_time"].iloc[1] > 1e12  # the offset itself is still reported


def test_every_public_capture_gives_all_three_tables(public: object) -> None:
    """Third-party captures: odd link types, bogus timestamps, cut records, damaged TCP."""
    for name in ("pcapng_comments_2if_snaplen.pcapng", "malformed_tcp.pcap",
                 "truncated_file_dns.pcap", "http_post_100continue_chunked.pcap"):
        path = public(name)  # type: ignore[operator]
        packets = list(layerpeek.read(path))
        assert len(lpn.packets_frame(path)) == len(packets)
        conns = lpn.conversations_frame(path)
        assert conns["orig_pkts"].sum() + conns["resp_pkts"].sum() <= len(packets)
        lpn.http_frame(path)
