"""Dask (``layerpeek.columnar.read_captures``): many captures, or one split one, as one process.

Everything runs on Dask's local schedulers (synchronous and threads), so no
cluster is needed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("pyarrow")
dask = pytest.importorskip("dask")
pytest.importorskip("dask.dataframe")

import pandas as pd  # noqa: E402
from conftest import CAPTURES  # noqa: E402

import layerpeek  # noqa: E402
from layerpeek.columnar import COLUMNS, table  # noqa: E402
from layerpeek.columnar.dask import (  # noqa: E402
    CONVERSATION_COLUMNS,
    conversation_table,
    conversations,
    expand_paths,
    read_captures,
    to_pandas,
)

FILES = ["http_keepalive.pcap", "dns_query.pcap", "tcp_loss_reorder.pcap", "http_sll2_any.pcap"]


def single_process(path: Path, columns: list[str] | None = None) -> pd.DataFrame:
    """What one process computes for one file: its table, with the capture column."""
    wanted = columns or [*COLUMNS, "community_id"]
    frame = to_pandas(table(path, wanted))
    frame.insert(0, "capture", pd.Series([str(path)] * len(frame), dtype=pd.StringDtype("pyarrow")))
    return frame


def computed(frame: Any, scheduler: str = "sync") -> pd.DataFrame:
    return frame.compute(scheduler=scheduler).reset_index(drop=True)


@pytest.mark.parametrize("scheduler", ["sync", "threads"])
def test_several_files_give_each_files_table_in_order(capture: Any, scheduler: str) -> None:
    paths = [capture(name) for name in FILES]
    ddf = read_captures([str(p) for p in paths])
    assert ddf.npartitions == len(paths)
    want = pd.concat([single_process(p) for p in paths], ignore_index=True)
    pd.testing.assert_frame_equal(computed(ddf, scheduler), want)


@pytest.mark.parametrize("scheduler", ["sync", "threads"])
def test_one_split_file_gives_the_single_process_table(capture: Any, scheduler: str) -> None:
    path = capture("tcp_loss_reorder.pcap")
    ddf = read_captures(path, parts=4)
    assert ddf.npartitions == 4
    pd.testing.assert_frame_equal(computed(ddf, scheduler), single_process(path))


def test_a_glob_reads_every_matching_file_in_name_order(capture: Any) -> None:
    capture("http_keepalive.pcap")
    ddf = read_captures(str(CAPTURES / "http_*.pcap"), columns=["frame"])
    names = sorted(str(p) for p in CAPTURES.glob("http_*.pcap"))
    got = computed(ddf)
    assert list(got["capture"].unique()) == names
    assert len(got) == sum(table(n, ["frame"]).num_rows for n in names)


def test_columns_can_be_chosen(capture: Any) -> None:
    path = capture("dns_query.pcap")
    ddf = read_captures(path, columns=["frame", "protocols"])
    assert list(ddf.columns) == ["capture", "frame", "protocols"]
    pd.testing.assert_frame_equal(computed(ddf), single_process(path, ["frame", "protocols"]))


def test_conversations_of_a_split_file_equal_the_single_process_ones(capture: Any) -> None:
    """TCP state spans chunks: each connection's packets meet again in the group-by."""
    path = capture("tcp_loss_reorder.pcap")
    ddf = read_captures(path, parts=5)
    per_partition = ddf.map_partitions(lambda f: f["community_id"].drop_duplicates()).compute(
        scheduler="sync"
    )
    assert per_partition.duplicated().any()  # a flow really is cut across chunks
    got = conversations(ddf)
    want = conversation_table(table(path, [*COLUMNS, "community_id"]))
    pd.testing.assert_frame_equal(got, want)
    assert list(got.columns) == list(CONVERSATION_COLUMNS)


def test_conversations_agree_with_the_flow_tracker(capture: Any) -> None:
    from layerpeek.flows import conversations as tracked

    path = capture("http_keepalive.pcap")
    rows = conversations(read_captures(path, parts=3))
    flows = tracked(path)
    assert len(rows) == len(flows) == 1
    assert int(rows["packets"].iloc[0]) == flows[0].to_dict()["packets"]
    # tcp_len counts payload on the wire, as the tracker's byte counts do
    assert int(rows["payload_bytes"].iloc[0]) == flows[0].bytes_client + flows[0].bytes_server
    assert rows["state"].iloc[0] == "closed"
    assert int(rows["syn"].iloc[0]) == 1 and int(rows["synack"].iloc[0]) == 1


def test_conversations_over_several_files_on_threads(capture: Any) -> None:
    paths = [str(capture(name)) for name in FILES]
    with dask.config.set(scheduler="threads"):
        got = conversations(read_captures(paths, parts=2))
    singles = pd.concat([single_process(Path(p)) for p in paths], ignore_index=True)
    want = conversation_table(singles)
    pd.testing.assert_frame_equal(got, want)
    assert set(got["ip_proto"]) == {6, 17}
    assert got.loc[got["ip_proto"] == 17, "state"].isna().all()


def test_missing_files_are_an_error_not_an_empty_frame(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="no capture matches"):
        read_captures(str(tmp_path / "*.pcap"))
    with pytest.raises(FileNotFoundError, match="no such file"):
        read_captures(str(tmp_path / "absent.pcap"))
    with pytest.raises(FileNotFoundError, match="no capture files"):
        expand_paths([])


@pytest.mark.parametrize("name", ["http_get_post.pcap", "tcp_3040_greeting.pcapng"])
def test_a_damaged_file_is_read_as_far_as_it_goes_with_a_warning(
    capture: Any, tmp_path: Path, name: str
) -> None:
    cut = tmp_path / f"cut-{name}"
    cut.write_bytes(capture(name).read_bytes()[:-40])
    with layerpeek.open_capture(cut) as reader:
        frames = sum(1 for _ in reader)
        (expected,) = reader.problems
    with pytest.warns(layerpeek.CaptureProblemWarning) as caught:
        frame = read_captures(cut, parts=2)
    assert [str(w.message) for w in caught] == [f"{cut}: {expected}"]
    assert len(frame.compute(scheduler="synchronous")) == frames
