"""Batch analysis on a real Ray: the command line on a local Ray, a two-node cluster, and a killed worker.

The clips are rendered figures (tests/test_pipeline.render_clip); every batch result is compared with
`analyze` run on the same clip on as many cores as a batch worker gets (one), file by file. The annotated
video is compared frame by frame, because x264 does not give the same bytes twice for the same frames.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import asdict
from pathlib import Path

import av
import numpy as np
import pytest
import ray
from ray.cluster_utils import Cluster

from har_core.batch import BatchOptions, plan_workers, run_batch
from har_core.batch_inputs import batch_inputs
from har_core.batch_table import FAILED, SKIPPED, read_batch_table, summarize_batch
from har_core.cli import main
from har_core.jobs import default_model_id
from har_core.outputs import OUTPUT_FILES
from har_core.pipeline import AnalysisSettings, analyze
from har_core.store import RUNS_DIR_ENV, RunStatus, RunStore, cache_key, content_hash
from tests.media import write_random
from tests.test_pipeline import FPS, render_clip

# Names the batch gives them: file stems, made unique in input order (folders are searched in sorted order).
CLIPS = {"c0": ("c0.mp4", 40, 0), "long": ("long.mp4", 120, 1), "c0-2": ("sub/c0.mp4", 40, 2)}


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder of three rendered clips (two share a file name) and a file that is not a video."""
    folder = tmp_path_factory.mktemp("videos")
    for path, frames, seed in CLIPS.values():
        (folder / path).parent.mkdir(exist_ok=True)
        render_clip(folder / path, seconds=frames / FPS, seed=seed)
    write_random(folder / "bad.mp4")
    return folder


@pytest.fixture(scope="module")
def reference(inputs: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`analyze` on each clip, one core, the results under the names the batch uses."""
    out = tmp_path_factory.mktemp("reference")
    for name, (path, _, _) in CLIPS.items():
        analyze(inputs / path, out / name, cpus=1)
    return out


def decoded(path: Path) -> np.ndarray:
    with av.open(str(path)) as container:
        return np.stack([frame.to_ndarray(format="rgb24") for frame in container.decode(video=0)])


def assert_same_result(folder: Path, expected: Path) -> None:
    """The four files analyze writes, with the same contents (the run's timings aside)."""
    assert sorted(entry.name for entry in folder.iterdir()) == sorted(OUTPUT_FILES)
    for name in ("frames.csv", "keypoints.csv"):
        assert (folder / name).read_bytes() == (expected / name).read_bytes(), name
    summary, wanted = (json.loads((path / "summary.json").read_text()) for path in (folder, expected))
    summary.pop("timings_s"), wanted.pop("timings_s")
    assert summary == wanted
    frames, wanted_frames = decoded(folder / "annotated.mp4"), decoded(expected / "annotated.mp4")
    assert frames.shape == wanted_frames.shape
    assert np.abs(frames.astype(np.int16) - wanted_frames).mean() < 0.5


def test_cli_batch_on_local_ray_matches_analyze_then_skips_everything(
        inputs: Path, reference: Path, tmp_path: Path, capsys: pytest.CaptureFixture,
        monkeypatch: pytest.MonkeyPatch) -> None:
    assert not ray.is_initialized()
    monkeypatch.setenv(RUNS_DIR_ENV, str(tmp_path / "store"))
    out = tmp_path / "batch"
    command = ["batch", str(inputs), "--out", str(out), "--store", "--name", "gym"]  # default: a video per core
    assert main(command) == 0
    captured = capsys.readouterr()
    assert not ray.is_initialized()  # the local Ray it started is stopped again
    assert "videos: 4/4" in captured.err and "frames/s" in captured.err
    assert "3 analysed, 0 skipped (already analysed), 1 failed, of 4 videos" in captured.out
    for name in CLIPS:
        assert_same_result(out / name, reference / name)
    assert sorted(entry.name for entry in out.iterdir() if not entry.name.startswith(".")) == sorted(
        [*CLIPS, "batch.csv"])

    table = read_batch_table(out / "batch.csv").set_index("name")
    assert table.loc["bad", "status"] == FAILED
    assert table.loc["bad", "error"].startswith("Not a video file")
    for name, (_, frames, _) in CLIPS.items():
        summary = json.loads((out / name / "summary.json").read_text())
        assert table.loc[name, "status"] == "done"
        assert table.loc[name, "frames"] == frames
        assert table.loc[name, "people"] == len(summary["people"]) == 1
        assert table.loc[name, "s_WAVING_1HAND"] > 0 and table.loc[name, "analysis_s"] > 0

    store = RunStore(tmp_path / "store", recover=False)
    runs = store.list_runs()
    assert sorted(run.name for run in runs) == ["c0.mp4", "c0.mp4", "long.mp4"]
    assert {(run.status, run.batch) for run in runs} == {(RunStatus.DONE, "gym")}
    assert store.list_batches() == ["gym"]
    # keyed as the Analyze page keys the same clip, so opening it there reuses the batch's result
    dashboard_key = cache_key(content_hash(inputs / "long.mp4"), asdict(AnalysisSettings()), default_model_id())
    assert store.find_by_key(dashboard_key).name == "long.mp4"
    assert summarize_batch(read_batch_table(store.batch_table("gym"))).failed == 1

    written = {name: (out / name / "annotated.mp4").stat().st_mtime_ns for name in CLIPS}
    assert main(command) == 0
    again = read_batch_table(out / "batch.csv").set_index("name")
    assert {name: again.loc[name, "status"] for name in CLIPS} == dict.fromkeys(CLIPS, SKIPPED)
    assert again.loc["bad", "status"] == FAILED
    assert {name: (out / name / "annotated.mp4").stat().st_mtime_ns for name in CLIPS} == written
    assert len(store.list_runs()) == 3  # the same results are not recorded twice
    assert "0 analysed, 3 skipped (already analysed), 1 failed, of 4 videos" in capsys.readouterr().out


def test_nothing_analysable_exits_2_with_the_count(inputs: Path, tmp_path: Path,
                                                   capsys: pytest.CaptureFixture) -> None:
    code = main(["batch", str(inputs / "bad.mp4"), str(tmp_path / "missing.mp4"), "--out", str(tmp_path / "b")])
    assert code == 2
    assert capsys.readouterr().err.strip().splitlines()[-1] == "error: no video could be analysed (2 failed)."
    table = read_batch_table(tmp_path / "b" / "batch.csv")
    assert list(table["error"])[1] == f"No such file or folder: {tmp_path / 'missing.mp4'}."


def test_unreachable_cluster_is_one_line_at_once(inputs: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # free, and nothing listens on it once closed
    code = main(["batch", str(inputs / "c0.mp4"), "--out", str(tmp_path / "b"), "--address", f"127.0.0.1:{port}"])
    assert code == 2
    last = capsys.readouterr().err.splitlines()[-1]
    assert last.startswith(f"error: Nothing answers at 127.0.0.1:{port} (Connection refused)")


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    """Two Ray nodes of one core each, in this machine, shared by the tests below."""
    nodes = Cluster(initialize_head=True, head_node_args={"num_cpus": 1})
    nodes.add_node(num_cpus=1)
    ray.init(address=nodes.address, include_dashboard=False, log_to_driver=False)
    nodes.wait_for_nodes()
    yield nodes
    ray.shutdown()
    nodes.shutdown()


def test_batch_runs_across_two_nodes(inputs: Path, reference: Path, cluster: Cluster, tmp_path: Path) -> None:
    result = run_batch([inputs / "c0.mp4", inputs / "sub"], tmp_path / "out", options=BatchOptions(workers=2))
    assert (result.workers, result.cpus_per_video) == (2, 1)
    assert len(result.nodes) == 2
    for name in ("c0", "c0-2"):
        assert_same_result(tmp_path / "out" / name, reference / name)


def analysing_workers() -> set[int]:
    """Ray worker processes executing an analysis task now (Ray titles them after the task they run)."""
    found = set()
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and (entry / "cmdline").read_bytes().startswith(b"ray::_analyze_task"):
                found.add(int(entry.name))
        except OSError:
            continue
    return found


def kill_first_worker_after(seconds: float, killed: list[int], stop: threading.Event) -> None:
    """SIGKILL the first worker seen analysing for `seconds` (so it is inside a video, not starting one)."""
    seen: dict[int, float] = {}
    while not stop.wait(0.1):
        now = time.monotonic()
        for pid in analysing_workers():
            if now - seen.setdefault(pid, now) >= seconds:
                os.kill(pid, signal.SIGKILL)
                killed.append(pid)
                return


def test_worker_killed_mid_video_is_retried(inputs: Path, reference: Path, cluster: Cluster, tmp_path: Path) -> None:
    killed: list[int] = []
    stop = threading.Event()
    killer = threading.Thread(target=kill_first_worker_after, args=(0.5, killed, stop))
    killer.start()
    try:  # one worker: the long video runs first, and is usually the one killed
        result = run_batch([inputs / "long.mp4", inputs / "c0.mp4"], tmp_path / "out", options=BatchOptions(workers=1))
    finally:
        stop.set()
        killer.join()
    assert killed, "no worker was seen analysing for half a second"
    assert [(row.name, row.status) for row in result.rows] == [("long", "done"), ("c0", "done")]
    # The videos are analysed in order. Those whose results came from the killed worker finished before the kill;
    # the one it was inside (long, or c0 when long took under half a second) came from the task Ray ran again.
    on_killed_worker = [name for name in ("long", "c0") if result.placements[name][1] == killed[0]]
    assert on_killed_worker in ([], ["long"])
    for name in ("long", "c0"):
        assert_same_result(tmp_path / "out" / name, reference / name)


def test_inputs_expand_folders_and_patterns_once_each_with_unique_names(inputs: Path) -> None:
    found = batch_inputs([str(inputs / "*.mp4"), str(inputs / "sub"), str(inputs / "c0.mp4"), str(inputs / "x*.mov")])
    assert [(item.video.relative_to(inputs).as_posix() if not item.missing else item.missing, item.name)
            for item in found] == [("bad.mp4", "bad"), ("c0.mp4", "c0"), ("long.mp4", "long"),
                                   ("sub/c0.mp4", "c0-2"), (f"No video matches {inputs / 'x*.mov'}.", "x*")]


@pytest.mark.parametrize(("requested", "nodes", "videos", "expected"), [
    (None, [2], 8, (2, 1)),          # this machine: a video per core
    (None, [16, 16], 100, (32, 1)),  # two 16-core nodes: all 32 cores busy
    (1, [2], 8, (1, 2)),             # --workers 1 on 2 cores: both cores for the one video
    (3, [8], 8, (3, 2)),             # --workers 3 on 8 cores: 2 each (never more than all the cores)
    (1, [4, 4], 8, (1, 4)),          # a video never gets more than one node's cores
    (None, [16], 3, (3, 5)),         # never more workers than videos; the cores are shared out among them
    (None, [2], 1, (1, 2)),          # one video on this machine gets both cores
])
def test_plan_workers_splits_cores_without_oversubscribing(requested: int | None, nodes: list[int], videos: int,
                                                           expected: tuple[int, int]) -> None:
    workers, cpus = plan_workers(requested, nodes, videos)
    assert (workers, cpus) == expected
    assert workers * cpus <= sum(nodes)
